//! Real datapath records (see `tests/data/README.md`) through the decoder,
//! the BTF reason table, the monitor formatter and the pcapng writer.

// The fixture was captured on a little-endian host; records are in host order.
#![cfg(target_endian = "little")]

use std::process::Command;

use inetmon_core::btf::DropReasonTable;
use inetmon_core::decode::datapath::{decode, DatapathRecord, Enrich};
use inetmon_core::event::{Event, Header, Source, Timestamp};
use inetmon_core::format::monitor::{MonitorFormatter, MonitorOptions, Verbosity};
use inetmon_core::format::pcapng::PcapngWriter;

const RECORDS: &[u8] = include_bytes!("data/datapath-records.bin");
const REASONS: &[u8] = include_bytes!("data/drop-reasons-6.18.btf");

fn frames() -> Vec<&'static [u8]> {
    let mut out = Vec::new();
    let mut rest = RECORDS;
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        let (rec, tail) = tail.split_at(len);
        out.push(rec);
        rest = tail;
    }
    out
}

fn events() -> Vec<Event> {
    let reasons = DropReasonTable::from_btf(REASONS, &[]).unwrap();
    let names = |_, i: u32| (i == 2).then(|| "veth-b".to_owned());
    let enrich = Enrich {
        reasons: Some(&reasons),
        symbols: None,
        ifname: &names,
    };
    frames()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let rec = decode(f).unwrap_or_else(|e| panic!("record {i}: {e}"));
            let time = Timestamp {
                secs: 1_763_700_000,
                nanos: 0,
            };
            let seq = u64::try_from(i).unwrap() + 1;
            rec.to_event(
                Header {
                    time,
                    source: Source::Datapath,
                    seq,
                },
                &enrich,
            )
        })
        .collect()
}

#[test]
fn all_records_decode() {
    let frames = frames();
    assert_eq!(frames.len(), 41);
    let drops = frames
        .iter()
        .filter(|f| matches!(decode(f), Ok(DatapathRecord::Drop(..))))
        .count();
    assert_eq!(drops, 8);
}

#[test]
fn expected_drops_and_traces() {
    let f = MonitorFormatter::new(MonitorOptions::default());
    let text: Vec<String> = events().iter().map(|e| f.format(e)).collect();
    let count = |needle: &str| text.iter().filter(|l| l.contains(needle)).count();
    // UDP to a closed port, IPv4 and IPv6: NO_SOCKET.
    assert_eq!(count("xx drop (NO_SOCKET) interface veth-b, location 0xffffffff820490cc: 10.200.0.1:50101 -> 10.200.0.2:9 udp\n"), 1, "{text:#?}");
    assert_eq!(count("xx drop (NO_SOCKET) interface veth-b, location 0xffffffff82109b01: [fd00:200::1]:48579 -> [fd00:200::2]:9 udp\n"), 1);
    // TCP SYN into the nft drop rule, and its retransmission: NETFILTER_DROP.
    assert_eq!(count("xx drop (NETFILTER_DROP) interface veth-b, location 0xffffffff81f657b8: 10.200.0.1:57788 -> 10.200.0.2:9999 tcp SYN\n"), 2);
    // A SYN with a bad checksum: TCP_CSUM.
    assert_eq!(count("xx drop (TCP_CSUM) interface veth-b, location 0xffffffff82035bd1: 10.200.0.1:40000 -> 10.200.0.2:8080 tcp SYN\n"), 1);
    // A packet for an address B does not have: IP_INADDRERRORS.
    assert_eq!(count("xx drop (IP_INADDRERRORS) interface veth-b, location 0xffffffff81fefd34: 10.200.0.1 -> 10.200.0.99 icmp EchoRequest\n"), 1);
    assert_eq!(count("xx drop (IP_INNOROUTES)"), 2);
    // Traces of the pings, both directions, and of the ICMP errors.
    assert_eq!(
        count("<- network interface veth-b: 10.200.0.1 -> 10.200.0.2 icmp EchoRequest\n"),
        2
    );
    assert_eq!(
        count("-> network interface veth-b: 10.200.0.2 -> 10.200.0.1 icmp EchoReply\n"),
        2
    );
    assert_eq!(count("-> network interface veth-b: 10.200.0.2 -> 10.200.0.1 icmp DestinationUnreachable(Port)\n"), 1);
    assert_eq!(count("ARP\n"), 4);
    // Every record formats at every verbosity.
    for v in [Verbosity::Debug, Verbosity::Verbose] {
        let f = MonitorFormatter::new(MonitorOptions {
            verbosity: v,
            hex: true,
        });
        for e in events() {
            assert!(!f.format(&e).is_empty());
        }
    }
}

#[test]
fn pcapng_of_real_records_opens_in_tshark() {
    let mut w = PcapngWriter::new(Vec::new(), "inetmon fixture test", 128).unwrap();
    for e in events() {
        assert!(w.write_event(&e).unwrap());
    }
    let path = std::env::temp_dir().join(format!("inetmon-fixture-{}.pcapng", std::process::id()));
    std::fs::write(&path, w.into_inner()).unwrap();
    let out = Command::new("tshark")
        .args([
            "-r",
            path.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "frame.comment",
        ])
        .output();
    let _ = std::fs::remove_file(&path);
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var("INETMON_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
                "tshark: {e}"
            );
            eprintln!("skipping: tshark not runnable: {e}");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 41);
    let n = |p: &str| text.lines().filter(|l| l.starts_with(p)).count();
    assert_eq!(n("drop NETFILTER_DROP at 0xffffffff81f657b8"), 2);
    assert_eq!(n("drop NO_SOCKET"), 2);
    assert_eq!(n("drop TCP_CSUM"), 1);
    assert_eq!(n("drop IP_INADDRERRORS"), 1);
    assert_eq!(n("trace from-network"), 18);
    assert_eq!(n("trace to-network"), 15);
}

/// The one-line output of every record, pinned as a golden file
/// (`tests/data/datapath-records.monitor.txt`).
#[test]
fn golden_info_output() {
    let f = MonitorFormatter::new(MonitorOptions::default());
    let got: String = events().iter().map(|e| f.format(e)).collect();
    if std::env::var("INETMON_BLESS").is_ok() {
        std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/datapath-records.monitor.txt"
            ),
            &got,
        )
        .unwrap();
    }
    let want = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/datapath-records.monitor.txt"
    ))
    .unwrap();
    assert_eq!(got, want);
}

#[test]
fn filters_on_real_records() {
    use inetmon_core::event::EventKind;
    use inetmon_core::monitor_filter::{parse_proto, MonitorFilter};
    let evs = events();
    let count = |f: MonitorFilter| evs.iter().filter(|e| f.matches(e)).count();
    let reason = |r: &str| MonitorFilter {
        reasons: vec![r.into()],
        ..Default::default()
    };
    assert_eq!(count(reason("NETFILTER_DROP")), 2);
    assert_eq!(count(reason("no_socket")), 2);
    assert_eq!(count(reason("TCP_CSUM")), 1);
    // UDP to port 9 (v4 and v6): the trace in, the drop; ICMP errors quote
    // the port only inside their payload, so they do not match.
    let port9 = MonitorFilter {
        ports: vec![9],
        ..Default::default()
    };
    assert_eq!(count(port9), 4);
    let drops_v6 = MonitorFilter {
        kinds: vec![EventKind::Drop],
        ips: vec!["fd00:200::/64".parse().unwrap()],
        ..Default::default()
    };
    assert_eq!(count(drops_v6), 1);
    let icmp = MonitorFilter {
        protos: vec![parse_proto("icmp").unwrap()],
        interfaces: vec!["veth-b".into()],
        ..Default::default()
    };
    assert_eq!(count(icmp), 7);
}
