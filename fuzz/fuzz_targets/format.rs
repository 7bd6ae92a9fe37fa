//! Decodes arbitrary bytes as a pcap/pcapng file and formats every event as
//! ipmon text, JSON and monitor lines, with the options picked by the last
//! byte, so the formatters see hostile packets too.
#![no_main]

use inetmon_core::decode::pcap::PcapDecoder;
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::Source;
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered, TimeZone};
use inetmon_core::format::json::{JsonOptions, JsonWriter};
use inetmon_core::format::monitor::{MonitorFormatter, MonitorOptions, Verbosity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let o = data.last().copied().unwrap_or(0);
    let bit = |n: u8| o & (1 << n) != 0;
    let ipmon = IpmonOptions {
        resolve: false,
        numeric_ports: bit(0),
        verbose: bit(1),
        hex_packet: bit(2),
        hex_header: bit(3),
        hex_body: bit(4),
        syslog_mode: bit(5),
    };
    let mut ipf = IpmonFormatter::new(ipmon, TimeZone::UTC);
    let mut json = JsonWriter::with_options(JsonOptions {
        packet_bytes: bit(6),
    });
    let verbosity = [Verbosity::Info, Verbosity::Debug, Verbosity::Verbose][usize::from(o % 3)];
    let mon = MonitorFormatter::new(MonitorOptions {
        verbosity,
        hex: bit(7),
    });
    let mut out = Rendered::default();
    let mut d = PcapDecoder::new(Source::Stdin);
    d.feed(data);
    let mut events = Vec::new();
    while let Some(e) = d.next_event() {
        events.push(e);
    }
    while let Some(e) = d.finish() {
        events.push(e);
    }
    for e in &events {
        ipf.format(e, &mut out);
        let _ = json.format(e);
        let _ = mon.format(e);
    }
});
