//! End-to-end tests of overlay dissection in `inetmon monitor`: a VXLAN
//! (UDP 4789) or Geneve (UDP 6081) link between two network namespaces A
//! and B (underlay: veth `ua` 10.231.0.1 — `ub` 10.231.0.2; overlay
//! 192.168.231.1 — .2), ping and a UDP datagram through it, traced on the
//! underlay device in A. The monitor's lines, its JSON and the pcapng it
//! writes of the same packets are checked against tshark's decode of that
//! pcapng: outer and inner addresses, ports, ICMP type and VNI. Privileged:
//! skips without root, except under `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    inetmon, lines_of, require_privileged, run, start_monitor, tshark_fields, veth, Netns,
};

/// The connection line tshark's decode of one frame gives, in the
/// monitor's grammar: the inner packet, then `[tunnel <outer> kind]`.
/// Fields are those `tshark_frames` asks for, every occurrence joined by
/// `,` (outer first, inner second, an ICMP error's quoted packet third).
fn expected_line(f: &[&str], kind: &str) -> String {
    let occ = |i: usize, n: usize| f[i].split(',').nth(n).unwrap_or("").to_owned();
    let (esrc, edst, src, dst, sport, dport, itype, icode, arp) = (0, 1, 2, 3, 4, 5, 6, 7, 8);
    let inner = if !f[arp].is_empty() {
        format!("{} -> {} ARP", occ(esrc, 1), occ(edst, 1))
    } else if !f[itype].is_empty() {
        let name = match (f[itype], f[icode]) {
            ("8", _) => "EchoRequest".to_owned(),
            ("0", _) => "EchoReply".to_owned(),
            ("3", "3") => "DestinationUnreachable(Port)".to_owned(),
            (t, c) => format!("type {t} code {c}"),
        };
        format!("{} -> {} icmp {name}", occ(src, 1), occ(dst, 1))
    } else {
        format!(
            "{}:{} -> {}:{} udp",
            occ(src, 1),
            occ(sport, 1),
            occ(dst, 1),
            occ(dport, 1)
        )
    };
    format!(
        "{inner} [tunnel {}:{} -> {}:{} {kind}]",
        occ(src, 0),
        occ(sport, 0),
        occ(dst, 0),
        occ(dport, 0)
    )
}

/// tshark's fields of every frame of `pcap`: eth.src, eth.dst, ip.src,
/// ip.dst, udp.srcport, udp.dstport, icmp.type, icmp.code, arp.opcode,
/// then the VNI of `kind`.
fn tshark_frames(pcap: &Path, kind: &str) -> Vec<Vec<String>> {
    let vni = format!("{kind}.vni");
    let fields = tshark_fields(
        pcap.to_str().unwrap(),
        &["-E", "occurrence=a", "-E", "aggregator=,"],
        &[
            "eth.src",
            "eth.dst",
            "ip.src",
            "ip.dst",
            "udp.srcport",
            "udp.dstport",
            "icmp.type",
            "icmp.code",
            "arp.opcode",
            vni.as_str(),
        ],
    );
    fields
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Namespaces A and B without IPv6 (no neighbour discovery or MLD in the
/// tunnel: only the traffic the test sends, and ARP), joined by the
/// underlay veth pair.
fn underlay() -> (Netns, Netns) {
    let a = Netns::new();
    let b = Netns::new();
    for ns in [&a, &b] {
        ns.sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    }
    veth(
        &a,
        "ua",
        &["10.231.0.1/24"],
        &b,
        "ub",
        &["10.231.0.2/24"],
        1500,
    );
    (a, b)
}

/// Traces A's underlay device (`--port` = the tunnel port, in the kernel)
/// in text with `--write` and in JSON while `traffic` runs, waits for at
/// least `min` lines, and compares lines, JSON and tshark's decode of the
/// pcapng; each of `needles` must be in some line.
fn trace_and_compare(
    a: &Netns,
    kind: &str,
    port: u16,
    traffic: impl FnOnce(),
    min: usize,
    needles: &[&str],
) {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("out.pcapng");
    let (out, err) = (dir.path().join("text"), dir.path().join("text.err"));
    let (jout, jerr) = (dir.path().join("json"), dir.path().join("json.err"));
    let port_s = port.to_string();
    let common = ["--type", "trace", "--iface", "ua", "--port", &port_s];
    let mut text_args = common.to_vec();
    text_args.extend(["--write", pcap.to_str().unwrap()]);
    let mut json_args = common.to_vec();
    json_args.push("-j");
    let timeout = Duration::from_secs(60);
    let mut text = start_monitor(&mut a.cmd(inetmon()), &text_args, &out, &err, timeout);
    let mut json = start_monitor(&mut a.cmd(inetmon()), &json_args, &jout, &jerr, timeout);

    traffic();
    common::wait_for(timeout, || (lines_of(&out).len() >= min).then_some(()))
        .unwrap_or_else(|| panic!("monitor lines: {:#?}", lines_of(&out)));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(text.stop(), Some(0));
    assert_eq!(json.stop(), Some(0));

    let lines = lines_of(&out);
    let frames = tshark_frames(&pcap, kind);
    assert_eq!(
        frames.len(),
        lines.len(),
        "tshark {frames:#?}\nmonitor {lines:#?}"
    );
    let conns: Vec<&str> = lines
        .iter()
        .map(|l| l.splitn(3, ": ").nth(2).unwrap_or(""))
        .collect();
    let want: Vec<String> = frames
        .iter()
        .map(|f| {
            let f: Vec<&str> = f.iter().map(String::as_str).collect();
            assert!(!f[9].is_empty(), "tshark did not decode {kind}: {f:?}");
            expected_line(&f, kind)
        })
        .collect();
    assert_eq!(conns, want, "monitor (left) against tshark (right)");
    for needle in needles {
        assert!(
            conns.iter().any(|c| c.contains(needle)),
            "{needle}: {conns:#?}"
        );
    }

    // JSON: the same packets (the two monitors may see a different number
    // of ARP frames; matched by the summary), the inner flow at the top,
    // the outer flow and the VNI under `tunnel`.
    let objs: Vec<serde_json::Value> = lines_of(&jout)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (f, w) in frames.iter().zip(&want) {
        let o = objs
            .iter()
            .find(|o| o["summary"] == w.as_str())
            .unwrap_or_else(|| panic!("no JSON for {w}: {objs:#?}"));
        let t = &o["tunnel"];
        assert_eq!(t["type"], kind);
        // (tshark prints the Geneve VNI in hex, the VXLAN one in decimal.)
        let vni = match f[9].strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).unwrap(),
            None => f[9].parse().unwrap(),
        };
        assert_eq!(t["vni"], vni);
        assert_eq!(t["src"], f[2].split(',').next().unwrap());
        assert_eq!(t["dport"], u64::from(port));
        if f[8].is_empty() {
            assert_eq!(o["src"], f[2].split(',').nth(1).unwrap(), "{o}");
        }
    }
}

#[test]
fn vxlan_inner_packets_match_tshark() {
    if !require_privileged(
        "vxlan_inner_packets_match_tshark",
        &["tshark", "ping", "python3"],
    ) {
        return;
    }
    let (a, b) = underlay();
    for (ns, local, remote, over) in [
        (&a, "10.231.0.1", "10.231.0.2", "192.168.231.1/24"),
        (&b, "10.231.0.2", "10.231.0.1", "192.168.231.2/24"),
    ] {
        ns.sh(&format!(
            "ip link add ov0 type vxlan id 4242 local {local} remote {remote} dstport 4789 \
             && ip addr add {over} dev ov0 && ip link set ov0 up"
        ));
    }
    let traffic = || {
        a.sh("ping -c 2 -i 0.2 -W 2 192.168.231.2 > /dev/null");
        a.sh(&format!("python3 -c \"{SEND_UDP}\""));
    };
    // ping: 2 requests + 2 replies; the datagram and its port-unreachable;
    // ARP both ways at least once.
    let needles = [
        "icmp EchoRequest",
        "icmp EchoReply",
        "192.168.231.1:5555 -> 192.168.231.2:9999 udp",
        "icmp DestinationUnreachable(Port)",
        " ARP [tunnel ",
    ];
    trace_and_compare(&a, "vxlan", 4789, traffic, 8, &needles);
}

/// A datagram 192.168.231.1:5555 -> 192.168.231.2:9999 through the overlay.
const SEND_UDP: &str = "import socket; s=socket.socket(2,2); s.bind(('192.168.231.1',5555)); s.sendto(b'x',('192.168.231.2',9999))";

/// The Geneve payloads the test sends from A to B's UDP port 6081 (see
/// `geneve_inner_packets_match_tshark`), VNI 4243, each an Ethernet frame:
/// an ICMP echo request with no options, and a UDP datagram behind an
/// 8-byte option TLV (class 0x0102, type 0x80).
fn geneve_payloads() -> Vec<Vec<u8>> {
    use common::craft;
    let (src, dst) = ([192, 168, 232, 1], [192, 168, 232, 2]);
    let mut icmp = vec![8, 0, 0, 0, 0, 7, 0, 1];
    icmp.extend_from_slice(b"ping");
    let c = craft::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let vni = (4243u32 << 8).to_be_bytes();
    let eth = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let frame = |ip: Vec<u8>| [&eth[..], &ip].concat();
    let plain = [&[0, 0, 0x65, 0x58][..], &vni].concat();
    let opt = [
        &[2, 0, 0x65, 0x58][..],
        &vni,
        &[1, 2, 0x80, 1, 0xaa, 0xbb, 0xcc, 0xdd],
    ]
    .concat();
    vec![
        [plain, frame(craft::ipv4(src, dst, 1, icmp, None))].concat(),
        [
            opt,
            frame(craft::ipv4(
                src,
                dst,
                17,
                craft::udp(5555, 9999, b"x"),
                Some(6),
            )),
        ]
        .concat(),
    ]
}

/// Sends each file given as an argument as one datagram from
/// 10.231.0.1:40000 to 10.231.0.2:6081.
const SEND_FILES: &str = "import socket, sys\n\
     s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
     s.bind(('10.231.0.1', 40000))\n\
     for f in sys.argv[1:]:\n    s.sendto(open(f, 'rb').read(), ('10.231.0.2', 6081))\n";

#[test]
fn geneve_inner_packets_match_tshark() {
    if !require_privileged(
        "geneve_inner_packets_match_tshark",
        &["tshark", "ping", "python3"],
    ) {
        return;
    }
    // This kernel is built without CONFIG_GENEVE (`ip link add … type
    // geneve`: "Unknown device type"), so the test is the Geneve sender
    // itself: real datagrams to UDP 6081 on the veth, in RFC 8926's wire
    // form, one with an option TLV (the header length changes).
    let (a, _b) = underlay();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (n, p) in geneve_payloads().iter().enumerate() {
        let f = dir.path().join(format!("geneve{n}"));
        std::fs::write(&f, p).unwrap();
        files.push(f.to_str().unwrap().to_owned());
    }
    let traffic = || {
        let r = run(
            a.cmd("python3").args(["-c", SEND_FILES]).args(&files),
            Duration::from_secs(60),
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    };
    let needles = [
        "192.168.232.1 -> 192.168.232.2 icmp EchoRequest [tunnel 10.231.0.1:40000 -> 10.231.0.2:6081 geneve]",
        "192.168.232.1:5555 -> 192.168.232.2:9999 udp [tunnel 10.231.0.1:40000 -> 10.231.0.2:6081 geneve]",
    ];
    trace_and_compare(&a, "geneve", 6081, traffic, 2, &needles);
}
