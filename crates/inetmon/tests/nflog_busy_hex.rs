//! `ipmon` on NFLOG: a group another process holds is refused in one line
//! (issue 9 item 10), and `-X` dumps the NFLOG netlink message (header and
//! every attribute) after each packet line (issue 9 item 11).

mod common;

use std::time::Duration;

use common::{require_privileged, udp_cmd, wait_for_line, Netns};

/// A second `ipmon -f nflog:5` in the same namespace exits non-zero with
/// exactly one line on standard error.
#[test]
fn busy_nflog_group_is_one_line() {
    if !require_privileged("busy_nflog_group_is_one_line", &[]) {
        return;
    }
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let err1 = dir.path().join("first.err");
    let out1 = dir.path().join("first.out");
    let mut first = ns.spawn_inetmon(&["ipmon", "-f", "nflog:5", out1.to_str().unwrap()], &err1);
    // Wait until the first one has bound the group (the kernel lists its
    // NFLOG instances, group first).
    common::wait_for(Duration::from_secs(60), || {
        ns.sh("cat /proc/net/netfilter/nfnetlink_log")
            .lines()
            .any(|l| l.split_whitespace().next() == Some("5"))
            .then_some(())
    })
    .expect("the first ipmon never bound group 5");
    assert_eq!(first.try_wait(), None, "first ipmon ended early");
    let r = common::run(
        ns.cmd(common::inetmon()).args(["ipmon", "-f", "nflog:5"]),
        Duration::from_secs(60),
    );
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.code.is_some(), "{r:?}");
    assert_eq!(
        r.stderr_lines(),
        ["inetmon: NFLOG group 5 is already bound by another process"],
        "{r:?}"
    );
    first.stop();
}

/// `ipmon -X` on live NFLOG: after the packet line, the netlink message in
/// hex: the `nlmsghdr` + `nfgenmsg` line, then one block per attribute.
#[test]
fn live_nflog_dash_x_dumps_the_message() {
    if !require_privileged("live_nflog_dash_x_dumps_the_message", &["nft"]) {
        return;
    }
    let ns = Netns::new();
    ns.nft(
        r#"table inet t {
  chain input { type filter hook input priority 0; udp dport 5555 log prefix "x" group 6; }
}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = dir.path().join("err");
    let mut mon = ns.spawn_inetmon(
        &["ipmon", "-X", "-f", "nflog:6", out.to_str().unwrap()],
        &err,
    );
    // Datagrams until one is printed (inetmon may bind the group late on a
    // loaded machine).
    let printed = common::wait_for(Duration::from_secs(60), || {
        let _ = ns.sh_any(&udp_cmd("127.0.0.1", 5555, 40555, "hi\\n"));
        std::thread::sleep(Duration::from_millis(200));
        common::lines_of(&out)
            .iter()
            .any(|l| l.starts_with("NFULA_PAYLOAD"))
            .then_some(())
    });
    assert!(
        printed.is_some(),
        "{:#?}\n{}",
        common::lines_of(&out),
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    mon.stop();
    let lines = common::lines_of(&out);
    let pkt = lines
        .iter()
        .position(|l| l.contains(",40555 -> 127.0.0.1,5555 PR udp"))
        .unwrap_or_else(|| panic!("no packet line in {lines:#?}"));
    // The header block: nlmsghdr (16 bytes) + nfgenmsg (4 bytes).
    let hdr = &lines[pkt + 1];
    assert!(hdr.starts_with("nlmsghdr+nfgenmsg len "), "{lines:#?}");
    let hex_of = |l: &str| -> Vec<u8> {
        l[..47.min(l.len())]
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    };
    let h1 = hex_of(&lines[pkt + 2]);
    let h2 = hex_of(&lines[pkt + 3]);
    assert_eq!(h1.len(), 16, "{lines:#?}");
    assert_eq!(h2.len(), 4, "{lines:#?}");
    // nlmsg_type: NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET (0).
    assert_eq!(u16::from_ne_bytes([h1[4], h1[5]]), 0x0400, "{lines:#?}");
    // nfgenmsg: AF_INET, version 0, group 6 (big-endian).
    assert_eq!(h2, [2, 0, 0, 6], "{lines:#?}");
    // Attributes follow, each named, with its TLV bytes; the prefix is
    // there as text and the payload is the IP packet.
    let block: Vec<&String> = lines[pkt + 4..]
        .iter()
        .take_while(|l| !l.contains(" PR "))
        .collect();
    let prefix = block
        .iter()
        .position(|l| l.starts_with("NFULA_PREFIX (10) len 6"))
        .unwrap_or_else(|| panic!("no prefix attribute in {block:#?}"));
    assert_eq!(
        hex_of(block[prefix + 1]),
        [6, 0, 10, 0, b'x', 0],
        "{block:#?}"
    );
    assert!(
        block
            .iter()
            .any(|l| l.starts_with("NFULA_PAYLOAD (9) len ")),
        "{block:#?}"
    );
}

/// `ipmon -X` on a `LINKTYPE_NFLOG` capture: the `nflog_hdr` and each TLV
/// after the packet line (runs anywhere).
#[test]
fn pcap_nflog_dash_x_dumps_the_record() {
    let f = common::data("nflog-real-small.pcap");
    let r = common::inetmon_run(&["ipmon", "-X", "-f", f.to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().take(9).collect();
    assert_eq!(
        lines,
        [
            "21/11/2026 07:53:10.966711 if1 @5:-1 L 127.0.0.1,49392 -> 127.0.0.1,9 PR tcp len 20 60 -S IN",
            "nflog_hdr len 4: family 2, version 0, res_id 5",
            "02 00 00 05                                            ....",
            "NFULA_PACKET_HDR (1) len 8",
            "08 00 01 00 08 00 01 00                                ........",
            "NFULA_PREFIX (10) len 9",
            "09 00 0a 00 62 6c 6b 39 00                             ....blk9.",
            "NFULA_IFINDEX_INDEV (4) len 8",
            "08 00 04 00 00 00 00 01                                ........",
        ]
    );
    // Without -X: only packet lines.
    let plain = common::inetmon_run(&["ipmon", "-f", f.to_str().unwrap()]);
    assert!(
        plain.stdout.lines().all(|l| l.contains(" PR ")),
        "{plain:?}"
    );
}

/// `ipmon -X -t` follows a `LINKTYPE_NFLOG` capture through the live
/// pipeline: the record dump is there too.
#[test]
fn followed_pcap_dash_x_dumps_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("n.pcap");
    std::fs::copy(common::data("nflog-real-small.pcap"), &copy).unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut c = std::process::Command::new(common::inetmon());
    c.args([
        "ipmon",
        "-X",
        "-t",
        "-f",
        copy.to_str().unwrap(),
        out.to_str().unwrap(),
    ])
    .env("TZ", "UTC");
    let mut bg = common::Bg::spawn(&mut c, &err);
    let lines = wait_for_line(
        &out,
        "NFULA_PREFIX (10) len 9",
        Duration::from_secs(60),
        &err,
    );
    bg.stop();
    assert_eq!(
        lines[..3],
        [
            "21/11/2026 07:53:10.966711 if1 @5:-1 L 127.0.0.1,49392 -> 127.0.0.1,9 PR tcp len 20 60 -S IN",
            "nflog_hdr len 4: family 2, version 0, res_id 5",
            "02 00 00 05                                            ....",
        ]
    );
}
