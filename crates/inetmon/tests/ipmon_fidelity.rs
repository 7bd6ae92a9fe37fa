//! `ipmon` prints what the kernel saw: on live NFLOG in the order and with
//! the times it saw it (issue 9 item 9); `-C` lines with `type = nat` /
//! `type = state` match conntrack's NAT and state records (issue 9 item 12).

mod common;

use std::fs;
use std::time::Duration;

use common::{ipmon_with_conf, nat_triple, require_privileged, wait_for_line, Bg, Netns};

/// `HH:MM:SS.uuuuuu` of an ipmon line (after the date) as microseconds of
/// the day.
fn micros_of(line: &str) -> Option<u64> {
    let time = line.split_whitespace().nth(1)?;
    let (hms, us) = time.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    Some(((h * 60 + m) * 60 + s) * 1_000_000 + us.parse::<u64>().ok()?)
}

/// A TCP handshake logged at the output and the input hooks: the kernel
/// gives output-hook packets no timestamp, and they used to be stamped when
/// read, later than the input packets logged after them. Now no line's time
/// is later than that of a line after it (in log order, which is the order
/// printed).
#[test]
fn nflog_times_never_go_backwards_in_log_order() {
    if !require_privileged(
        "nflog_times_never_go_backwards_in_log_order",
        &["nft", "python3"],
    ) {
        return;
    }
    let ns = Netns::new();
    ns.nft(
        r#"table inet t {
  chain output { type filter hook output priority 0; tcp dport 7100 log prefix "o" group 7; tcp sport 7100 log prefix "o" group 7; }
  chain input { type filter hook input priority 0; tcp dport 7100 log prefix "i" group 7; tcp sport 7100 log prefix "i" group 7; }
}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = dir.path().join("err");
    let mut mon = ns.spawn_inetmon(&["ipmon", "-f", "nflog:7", out.to_str().unwrap()], &err);
    common::wait_for(Duration::from_secs(60), || {
        ns.sh("cat /proc/net/netfilter/nfnetlink_log")
            .lines()
            .any(|l| l.split_whitespace().next() == Some("7"))
            .then_some(())
    })
    .expect("ipmon never bound group 7");
    // Ten connections: handshake, a few bytes each way, close.
    ns.sh("python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", 7100)); s.listen(16)
for _ in range(10):
    c = socket.create_connection((\"127.0.0.1\", 7100))
    a, _ = s.accept()
    c.sendall(b\"ping\"); a.recv(4); a.sendall(b\"pong\"); c.recv(4)
    c.close(); a.close()
'");
    // 10 connections x at least 3 packets x 2 hooks; then until no more
    // come for 500 ms.
    let count = || {
        common::lines_of(&out)
            .iter()
            .filter(|l| l.contains(" PR tcp "))
            .count()
    };
    let _ = common::wait_for(Duration::from_secs(60), || (count() >= 60).then_some(()));
    let mut last = (count(), std::time::Instant::now());
    let _ = common::wait_for(Duration::from_secs(60), || {
        let n = count();
        if n != last.0 {
            last = (n, std::time::Instant::now());
        }
        (last.1.elapsed() >= Duration::from_millis(500)).then_some(())
    });
    mon.stop();
    let lines = common::lines_of(&out);
    let packets: Vec<&String> = lines.iter().filter(|l| l.contains(" PR tcp ")).collect();
    assert!(packets.len() >= 60, "too few lines: {lines:#?}");
    assert!(
        packets.iter().any(|l| l.ends_with(" OUT")) && packets.iter().any(|l| l.ends_with(" IN")),
        "{lines:#?}"
    );
    for pair in packets.windows(2) {
        let (a, b) = (micros_of(pair[0]), micros_of(pair[1]));
        assert!(a.is_some() && b.is_some(), "{pair:#?}");
        assert!(
            a <= b,
            "time goes backwards in log order:\n{}\n{}\nall lines: {lines:#?}",
            pair[0],
            pair[1]
        );
    }
}

/// `-C` with `type = nat` and `type = state` lines, live from conntrack
/// through dnat + masquerade: the NAT and state records of the connection go
/// to those lines' files (matched on the original direction's port) and not
/// to the normal output; records of other connections are printed as usual.
#[test]
fn conf_type_nat_and_state_match_conntrack_records() {
    if !require_privileged(
        "conf_type_nat_and_state_match_conntrack_records",
        &["nft", "nc", "conntrack"],
    ) {
        return;
    }
    let (client, router, server) = nat_triple(77);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = dir.path().join("ipmon.conf");
    fs::write(
        &conf,
        format!(
            "match {{ type = nat, dstport = 8080, protocol = tcp ; }} do {{ file(\"file://{d}/nat.log\") ; }} ;\n\
             match {{ type = state, srcport = 40012, srcip = 10.77.1.0/24 ; }} do {{ file(\"file://{d}/state.log\") ; }} ;\n\
             match {{ type = nat, dstport = 9999 ; }} do {{ file(\"file://{d}/never.log\") ; }} ;\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out.txt");
    let err = dir.path().join("err.txt");
    let mut mon = router.spawn_inetmon(
        &[
            "ipmon",
            "-o",
            "NS",
            "-C",
            conf.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
        &err,
    );
    // Listening once it printed a marker: a connection attempt of the
    // router's own to a closed port on its `lo` (no line matches it). A
    // fixed pause was not always enough on a loaded machine.
    let ready = common::wait_for(Duration::from_secs(60), || {
        let _ = router.sh_any("nc -w1 127.0.0.1 9 </dev/null");
        common::lines_of(&out)
            .iter()
            .any(|l| l.contains("STATE:NEW ") && l.contains(" -> 127.0.0.1,9 PR tcp"))
            .then_some(())
    });
    assert!(
        ready.is_some(),
        "{:#?}\n{}",
        common::lines_of(&out),
        fs::read_to_string(&err).unwrap_or_default()
    );
    let _srv = Bg::spawn(
        server.cmd("nc").args(["-l", "-k", "10.77.2.2", "80"]),
        &dir.path().join("srv.err"),
    );
    server.wait_listening(80);
    client.sh("printf hello | nc -N -w2 -p 40012 10.77.1.2 8080");
    // A connection no line matches: printed as usual.
    client.sh("printf hello | nc -N -w2 -p 40013 10.77.2.2 80");
    let _ = router.sh_any("conntrack -D -p tcp");
    let nat_log = dir.path().join("nat.log");
    let state_log = dir.path().join("state.log");
    let t = Duration::from_secs(60);
    wait_for_line(&nat_log, "NAT:NEW", t, &err);
    wait_for_line(&state_log, "STATE:NEW 10.77.1.1,40012 -> ", t, &err);
    wait_for_line(&out, "STATE:NEW 10.77.1.1,40013 -> ", t, &err);
    std::thread::sleep(Duration::from_millis(500));
    mon.stop();
    let nat = common::lines_of(&nat_log);
    let state = common::lines_of(&state_log);
    let printed = common::lines_of(&out);
    let all = format!("nat.log {nat:#?}\nstate.log {state:#?}\nout {printed:#?}");
    assert!(
        nat.iter()
            .any(|l| l.contains(" @") && l.contains("NAT:NEW") && l.contains(",8080")),
        "{all}"
    );
    assert!(
        nat.iter()
            .all(|l| l.contains("NAT:") && l.contains(",40012")),
        "{all}"
    );
    assert!(
        state
            .iter()
            .any(|l| l.contains("STATE:NEW 10.77.1.1,40012 -> ")),
        "{all}"
    );
    assert!(
        state
            .iter()
            .all(|l| l.contains("STATE:") && l.contains(",40012")),
        "{all}"
    );
    // Taken: not printed. The other connection is.
    assert!(!printed.iter().any(|l| l.contains(",40012")), "{all}");
    assert!(
        printed
            .iter()
            .any(|l| l.contains("STATE:NEW 10.77.1.1,40013 -> ")),
        "{all}"
    );
    assert!(!dir.path().join("never.log").exists(), "{all}");
}

/// A packet-only condition on a `type = nat` / `type = state` line is
/// refused in one line naming the file and the line.
#[test]
fn conf_type_nat_with_packet_condition_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = common::data("nflog-real-small.pcap");
    for (line, record, cond) in [
        (
            "match { type = nat, interface = \"eth0\" ; } do { nothing ; } ;",
            "nat",
            "interface",
        ),
        (
            "match { result = block, type = state ; } do { nothing ; } ;",
            "state",
            "result",
        ),
    ] {
        let conf = dir.path().join(format!("{record}.conf"));
        let text = format!("# first\nmatch {{ type = nat ; }} do {{ nothing ; }} ;\n{line}\n");
        let r = ipmon_with_conf(&conf, &text, &fixture);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(
            r.stderr,
            format!(
                "inetmon: {}: line 3: condition {cond} does not apply to type = {record} records\n",
                conf.display()
            )
        );
    }
}

/// `-t` on a file whose first bytes are damaged finds the capture after
/// them, as reading it to its end does (it used to say "unknown format"),
/// and so does a rotated-in file with a damaged start; the damaged bytes are
/// reported.
#[test]
fn follow_finds_a_capture_after_damaged_first_bytes() {
    let bytes = fs::read(common::data("nflog-real-small.pcap")).unwrap();
    let (header, records) = common::pcap_split(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.pcap");
    let junk = vec![0x5au8; 37];
    let mut first = junk.clone();
    first.extend_from_slice(&header);
    first.extend_from_slice(&records[0]);
    fs::write(&live, &first).unwrap();
    let (mut mon, out, err) = common::follow_ipmon(dir.path(), &live);
    let t = Duration::from_secs(60);
    wait_for_line(&out, ",9 PR tcp", t, &err);
    // Rotate to another file with a damaged start.
    fs::rename(&live, dir.path().join("live.pcap.1")).unwrap();
    let mut second = vec![0xa5u8; 21];
    second.extend_from_slice(&header);
    second.extend_from_slice(&records[3]);
    fs::write(&live, &second).unwrap();
    let lines = wait_for_line(&out, ",8080 PR tcp", t, &err);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(mon.try_wait(), None, "-t must keep running");
    mon.stop();
    let stderr = fs::read_to_string(&err).unwrap();
    assert!(
        stderr.contains("offset 0\u{2013}37: 37 bytes skipped")
            && stderr.contains("offset 0\u{2013}21: 21 bytes skipped"),
        "{stderr}"
    );
}
