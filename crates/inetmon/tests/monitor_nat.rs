//! End-to-end test of `inetmon monitor --type nat,state -j` against
//! conntrack: a client, a router and a server namespace joined by veth
//! pairs, the router doing dnat (10.79.1.2:8080 → 10.79.2.2:80) and
//! masquerade out of `vrs`. One TCP connection goes through; the monitor's
//! NAT and state events must carry the tuples `conntrack -L` lists for it.
//! Privileged: skips without root, except under
//! `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::time::Duration;

use common::{inetmon, lines_of, nat_triple, require_privileged, start_monitor, wait_for, Bg};
use serde_json::Value;

/// `key=value` words of a `conntrack -L` line, in order.
fn ct_fields(line: &str) -> Vec<(&str, &str)> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect()
}

#[test]
fn nat_events_match_conntrack_through_dnat_and_masquerade() {
    if !require_privileged(
        "nat_events_match_conntrack_through_dnat_and_masquerade",
        &["nft", "nc", "conntrack"],
    ) {
        return;
    }
    let (client, router, server) = nat_triple(79);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("monitor.out");
    let err = dir.path().join("monitor.err");
    let mut mon = start_monitor(
        &mut router.cmd(inetmon()),
        &["--type", "nat,state", "-j"],
        &out,
        &err,
        Duration::from_secs(60),
    );
    let _srv = Bg::spawn(
        server.cmd("nc").args(["-l", "10.79.2.2", "80"]),
        &dir.path().join("srv.err"),
    );
    server.wait_listening(80);
    client.sh("printf hello | nc -N -w2 -p 40020 10.79.1.2 8080");
    // The entry stays (TIME_WAIT) long enough to be listed.
    let ct = router.sh("conntrack -L -o id -p tcp --orig-port-dst 8080 2>/dev/null");
    let line = ct
        .lines()
        .find(|l| l.contains("sport=40020"))
        .unwrap_or_else(|| panic!("conntrack -L: {ct}"));
    let kv = ct_fields(line);
    let get = |k: &str, n: usize| {
        kv.iter()
            .filter(|(key, _)| *key == k)
            .nth(n)
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_else(|| panic!("{k} #{n} in {line}"))
    };
    let port = |k: &str, n: usize| get(k, n).parse::<u64>().unwrap();
    // conntrack's view: original 10.79.1.1:40020 -> 10.79.1.2:8080, reply
    // from the server 10.79.2.2:80 to the router's masquerade address.
    assert_eq!(
        (get("src", 0), port("sport", 0)),
        ("10.79.1.1".to_owned(), 40020)
    );
    assert_eq!(
        (get("dst", 0), port("dport", 0)),
        ("10.79.1.2".to_owned(), 8080)
    );
    assert_eq!(
        (get("src", 1), port("sport", 1)),
        ("10.79.2.2".to_owned(), 80)
    );
    assert_eq!(get("dst", 1), "10.79.2.1");

    let nat_new = |lines: &[String]| -> Option<Value> {
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["nat_action"] == "new" && v["orig_sport"] == 40020)
    };
    let got = wait_for(Duration::from_secs(60), || nat_new(&lines_of(&out)));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(mon.stop(), Some(0));
    let lines = lines_of(&out);
    let nat = got.unwrap_or_else(|| {
        panic!(
            "no NAT new event in {lines:#?}\n{}",
            std::fs::read_to_string(&err).unwrap_or_default()
        )
    });
    // The translated tuple is the reply seen backwards: the packet leaves
    // the router from (reply dst) to (reply src).
    assert_eq!(nat["protocol"], 6, "{nat}");
    assert_eq!(nat["orig_src"], get("src", 0).as_str(), "{nat}");
    assert_eq!(nat["orig_sport"], port("sport", 0), "{nat}");
    assert_eq!(nat["orig_dst"], get("dst", 0).as_str(), "{nat}");
    assert_eq!(nat["orig_dport"], port("dport", 0), "{nat}");
    assert_eq!(nat["new_src"], get("dst", 1).as_str(), "{nat}");
    assert_eq!(nat["new_sport"], port("dport", 1), "{nat}");
    assert_eq!(nat["new_dst"], get("src", 1).as_str(), "{nat}");
    assert_eq!(nat["new_dport"], port("sport", 1), "{nat}");

    // State: the connection's NEW event has the original tuple.
    let id = port("id", 0);
    assert_eq!(nat["conntrack_id"], id, "{nat}");
    let state = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["kind"] == "state" && v["state_type"] == "new" && v["sport"] == 40020)
        .unwrap_or_else(|| panic!("no state event in {lines:#?}"));
    assert_eq!(state["conntrack_id"], id, "{state}");
    assert_eq!(state["protocol"], 6, "{state}");
    assert_eq!(state["src"], get("src", 0).as_str(), "{state}");
    assert_eq!(state["dst"], get("dst", 0).as_str(), "{state}");
    assert_eq!(state["dport"], port("dport", 0), "{state}");
}
