//! Privileged: loads the committed object, attaches every program and checks
//! that a loopback TCP connection produces records. Skips unless root, except
//! under `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use inetmon_bpf::loader::{cgroup2_root, lost_totals, Filters, SockPrograms, DEFAULT_RING_BYTES};
use inetmon_bpf::record::SIZE;

fn privileged() -> bool {
    // SAFETY-free check: root is uid 0 in /proc/self/status.
    let st = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = st
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"));
    if !root {
        assert!(
            std::env::var("INETMON_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "INETMON_REQUIRE_PRIVILEGED=1 but not root"
        );
        println!("skipped: needs root for BPF");
    }
    root
}

#[test]
fn loads_attaches_and_reports_a_tcp_connection() {
    if !privileged() {
        return;
    }
    let me = std::process::id();
    let filters = Filters {
        pid: Some(me),
        ..Filters::default()
    };
    let mut progs =
        SockPrograms::load(&filters, DEFAULT_RING_BYTES, &cgroup2_root().unwrap()).unwrap();
    let mut rb = progs.take_ring_buf().unwrap();
    let lost = progs.take_lost().unwrap();

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    c.write_all(b"x").unwrap();
    drop(c);
    drop(s);
    drop(l);

    let mut ops = Vec::new();
    while let Some(item) = rb.next() {
        assert_eq!(item.len(), SIZE);
        let op = item[58];
        let lport = u16::from_ne_bytes([item[54], item[55]]);
        let fport = u16::from_ne_bytes([item[56], item[57]]);
        if lport == port || fport == port || op == 1 {
            ops.push(op);
        }
    }
    // create×2, bind, listen, connect, connected, accept, close×3 at least.
    for want in [1u8, 2, 4, 5, 6, 7, 9] {
        assert!(ops.contains(&want), "op {want} missing from {ops:?}");
    }
    assert_eq!(lost_totals(&lost).unwrap().iter().sum::<u64>(), 0);
}
