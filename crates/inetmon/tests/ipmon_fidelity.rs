//! `ipmon` on live NFLOG prints what the kernel saw, in the order and with
//! the times it saw it (issue 9 item 9).

mod common;

use std::time::Duration;

use common::{require_privileged, wait_for_line, Netns};

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
    common::wait_for(Duration::from_secs(10), || {
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
    // 10 connections x at least 3 packets x 2 hooks.
    let _ = wait_for_line(&out, "-AF", Duration::from_secs(5), &err);
    std::thread::sleep(Duration::from_millis(500));
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
