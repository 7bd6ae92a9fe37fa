//! Decodes arbitrary bytes as an nftables trace datagram, carries headers
//! between steps, and formats each step as monitor text and JSON; also
//! reads every message as a rule answer (`NFT_MSG_NEWRULE`, its comment).
#![no_main]
use inetmon_core::decode::netlink::messages;
use inetmon_core::decode::nftrace::rule::{rule_from_msg, udata_comment};
use inetmon_core::decode::nftrace::{traces, HeaderCarry};
use inetmon_core::event::{Event, Header, Source, Timestamp};
use inetmon_core::format::json::JsonWriter;
use inetmon_core::format::monitor::{MonitorFormatter, MonitorOptions, Verbosity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = udata_comment(data);
    for m in messages(data).flatten() {
        let _ = rule_from_msg(&m);
    }
    let mut carry = HeaderCarry::new();
    let mut json = JsonWriter::new();
    for t in traces(data).flatten() {
        let h = Header { time: Timestamp::default(), source: Source::Nftrace, seq: 0 };
        let mut ev = t.to_event(h, &|i| (i == 1).then(|| "lo".to_owned()));
        carry.apply(&mut ev);
        let ev = Event::Debug(Box::new(ev));
        for verbosity in [Verbosity::Info, Verbosity::Debug, Verbosity::Verbose] {
            let _ = MonitorFormatter::new(MonitorOptions { verbosity, hex: true }).format(&ev);
        }
        let _ = json.format(&ev);
    }
});
