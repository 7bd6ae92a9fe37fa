//! End-to-end tests of `inetmon monitor --type trace` on a device without a
//! link-layer header: a tun device (`IFF_TUN | IFF_NO_PI`) that the test
//! creates itself in a fresh network namespace and keeps the file
//! descriptor of. Packets the test writes into the fd arrive on `tun0` from
//! the network (ingress); datagrams sent from a socket in the namespace to
//! an address routed via `tun0` leave to the network (egress) and are read
//! back from the fd. Privileged: skips without root, except under
//! `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use common::{
    craft, lines_of, require_privileged, tshark_fields, udp_cmd, wait_for_line, Bg, Netns,
};

const LOCAL: [u8; 4] = [10, 221, 0, 1];
const PEER: [u8; 4] = [10, 221, 0, 2];
/// Routed via tun0: egress traffic goes here.
const ROUTED: &str = "10.221.1.5";
const LOCAL6: [u8; 16] = [0xfd, 0, 0x02, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const PEER6: [u8; 16] = [0xfd, 0, 0x02, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Creates tun device `name` inside `ns` and returns its non-blocking fd.
fn open_tun(ns: &Netns, name: &str) -> File {
    let f = ns.open_tun(name);
    // SAFETY: fcntl on our own fd.
    unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    f
}

/// IPv4 + UDP (checksum 0: none) from PEER to LOCAL.
fn udp4(sport: u16, dport: u16) -> Vec<u8> {
    let udp = craft::udp(sport, dport, b"inetmon-l3");
    craft::ipv4(PEER, LOCAL, 17, udp, None)
}

/// IPv6 + UDP (with its mandatory checksum) from PEER6 to LOCAL6.
fn udp6(sport: u16, dport: u16) -> Vec<u8> {
    let udp = craft::udp(sport, dport, b"inetmon-l3");
    craft::ipv6(PEER6, LOCAL6, 17, udp, 6)
}

/// Reads whatever the kernel queued on the tun fd.
fn drain(tun: &mut File) -> usize {
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while tun.read(&mut buf).is_ok() {
        n += 1;
    }
    n
}

fn monitor(ns: &Netns, dir: &Path, tag: &str, args: &[&str]) -> (Bg, std::path::PathBuf) {
    let (bg, out, _) = ns.monitor(dir, tag, args);
    (bg, out)
}

#[test]
fn traces_on_tun_start_at_the_ip_header() {
    if !require_privileged(
        "traces_on_tun_start_at_the_ip_header",
        &["tshark", "python3"],
    ) {
        return;
    }
    let ns = Netns::new();
    let mut tun = open_tun(&ns, "tun0");
    ns.sh(
        "ip link set tun0 up && ip addr add 10.221.0.1 peer 10.221.0.2 dev tun0 && \
         ip -6 addr add fd00:221::1/64 dev tun0 nodad && ip route add 10.221.1.0/24 dev tun0",
    );
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("tun.pcapng");
    let pcap_s = pcap.to_str().unwrap();
    let raw = dir.path().join("tun-raw.pcapng");
    let raw_s = raw.to_str().unwrap();
    // One monitor with the in-kernel port filter and --write, one in JSON
    // without it: the second proves the filtered packets were on the wire.
    let (mut filtered, out) = monitor(
        &ns,
        dir.path(),
        "port",
        &[
            "--type", "trace", "--iface", "tun0", "--port", "7000", "--write", pcap_s,
        ],
    );
    let (mut all, json) = monitor(
        &ns,
        dir.path(),
        "json",
        &[
            "--type",
            "trace",
            "--iface",
            "tun0",
            "--proto",
            "udp",
            "-j",
            "--write",
            raw_s,
            "--write-linktype",
            "raw",
        ],
    );
    for p in [
        udp4(5000, 7000),
        udp4(5000, 7001),
        udp6(5000, 7000),
        udp6(5000, 7001),
    ] {
        tun.write_all(&p).unwrap();
    }
    ns.sh(&udp_cmd(ROUTED, 7000, 5001, "out"));
    ns.sh(&udp_cmd(ROUTED, 7001, 5002, "out"));
    let err = dir.path().join("port.err");
    let eg = format!("-> network interface tun0: 10.221.0.1:5001 -> {ROUTED}:7000 udp");
    wait_for_line(&out, &eg, Duration::from_secs(60), &err);
    wait_for_line(&json, "7001", Duration::from_secs(60), &err);
    std::thread::sleep(Duration::from_millis(300));
    assert!(drain(&mut tun) >= 2, "egress datagrams not queued on tun0");
    assert_eq!(filtered.stop(), Some(0));
    assert_eq!(all.stop(), Some(0));

    let lines = lines_of(&out);
    let want = [
        "<- network interface tun0: 10.221.0.2:5000 -> 10.221.0.1:7000 udp".to_owned(),
        "<- network interface tun0: [fd00:221::2]:5000 -> [fd00:221::1]:7000 udp".to_owned(),
        eg,
    ];
    for w in &want {
        assert_eq!(
            lines.iter().filter(|l| l.ends_with(w.as_str())).count(),
            1,
            "{w}: {lines:#?}"
        );
    }
    assert_eq!(lines.len(), 3, "--port 7000 in the kernel: {lines:#?}");

    // JSON: the layer is the network header; the 7001 datagrams are there.
    let js = lines_of(&json);
    assert!(
        js.iter()
            .filter(|l| l.contains("\"dport\":700"))
            .all(|l| l.contains("\"layer\":\"network\"")),
        "{js:#?}"
    );
    for port in ["\"dport\":7000", "\"dport\":7001"] {
        assert_eq!(
            js.iter().filter(|l| l.contains(port)).count(),
            3,
            "{port}: {js:#?}"
        );
    }

    // The pcapng file: tshark sees the same packets with their addresses.
    let fields = tshark_fields(
        pcap_s,
        &[],
        &[
            "frame.interface_name",
            "ip.src",
            "ipv6.src",
            "udp.dstport",
            "frame.comment",
        ],
    );
    let mut pkts: Vec<&str> = fields.lines().collect();
    pkts.sort_unstable();
    assert_eq!(
        pkts,
        [
            "tun0\t\tfd00:221::2\t7000\ttrace from-network",
            "tun0\t10.221.0.1\t\t7000\ttrace to-network",
            "tun0\t10.221.0.2\t\t7000\ttrace from-network",
        ],
        "{fields}"
    );

    // --write-linktype raw: LINKTYPE_RAW, no Ethernet layer in tshark.
    let fields = tshark_fields(raw_s, &["-Y", "udp"], &["frame.protocols", "udp.dstport"]);
    // Up to the UDP layer (payload heuristics vary by port).
    let mut pkts: Vec<String> = fields
        .lines()
        .map(|l| {
            let (protos, port) = l.split_once('\t').unwrap_or((l, ""));
            let upto = protos.split(":udp").next().unwrap_or(protos);
            format!("{upto}:udp\t{port}")
        })
        .collect();
    pkts.sort_unstable();
    assert_eq!(
        pkts,
        [
            "raw:ip:udp\t7000",
            "raw:ip:udp\t7000",
            "raw:ip:udp\t7001",
            "raw:ip:udp\t7001",
            "raw:ipv6:udp\t7000",
            "raw:ipv6:udp\t7001",
        ],
        "{fields}"
    );
}
