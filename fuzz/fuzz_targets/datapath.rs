//! Datapath ring-buffer records must decode or fail, never panic; a record
//! that decodes is formatted as monitor text (every verbosity, so the
//! packet view, overlay tunnels included, and the layer lines run) and JSON.
#![no_main]

use inetmon_core::decode::datapath::{decode, Enrich};
use inetmon_core::event::{Header, Source, Timestamp};
use inetmon_core::format::json::JsonWriter;
use inetmon_core::format::monitor::{MonitorFormatter, MonitorOptions, Verbosity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = decode(data) else {
        return;
    };
    let no_names = |_: u32, _: u32| None;
    let enrich = Enrich {
        reasons: None,
        symbols: None,
        ifname: &no_names,
    };
    let header = Header {
        time: Timestamp::default(),
        source: Source::Datapath,
        seq: 1,
    };
    let ev = rec.to_event(header, &enrich);
    for verbosity in [Verbosity::Info, Verbosity::Debug, Verbosity::Verbose] {
        let mon = MonitorFormatter::new(MonitorOptions { verbosity, hex: true });
        let _ = mon.format(&ev);
    }
    let _ = JsonWriter::new().format(&ev);
});
