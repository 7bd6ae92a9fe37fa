//! End-to-end tests of `inetmon monitor --type drop` on devices without an
//! Ethernet capture (issue 9 item 2): `lo` and a tun device, each in a
//! namespace of the test's own (the root namespace's `lo` carries other
//! processes' traffic). Drops there happen after the IP header was pulled
//! (`skb->data` at the transport header), so the capture must start at the
//! network header the kernel recorded: addresses and ports on the line and
//! in JSON, the in-kernel `--port` filter at the right offset, and valid IP
//! headers in the pcapng file. Privileged: skips without root, except under
//! `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{craft, lines_of, require_privileged, run, tshark_fields, wait_for_line, Bg, Netns};

/// Starts `inetmon monitor ARGS --netns own` inside `ns`.
fn monitor(ns: &Netns, dir: &Path, tag: &str, args: &[&str]) -> (Bg, PathBuf, PathBuf) {
    let mut args = args.to_vec();
    args.extend_from_slice(&["--netns", "own"]);
    ns.monitor(dir, tag, &args)
}

fn py(ns: &Netns, code: &str) {
    let r = run(
        ns.cmd("python3").args(["-c", code]),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "python failed: {}", r.stderr);
}

/// tshark's view of `pcap`: one `ip.src ipv6.src udp.dstport tcp.dstport
/// frame.comment` line per packet with a valid IP header (malformed or
/// non-IP frames are counted apart).
fn tshark_ip(pcap: &str) -> (Vec<String>, Vec<String>) {
    let fields = tshark_fields(
        pcap,
        // The payload as data: no port-based guess at an application.
        &["-d", "udp.port==7777,data"],
        &[
            "ip.src",
            "ipv6.src",
            "udp.dstport",
            "tcp.dstport",
            "_ws.malformed",
            "_ws.expert.group",
            "frame.protocols",
        ],
    );
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for l in fields.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        let valid_ip = (!f[0].is_empty() || !f[1].is_empty()) && f[4].is_empty();
        let malformed = f.get(5).is_some_and(|g| g.contains("Malformed"));
        if valid_ip && !malformed {
            good.push(f[..4].join("\t"));
        } else {
            bad.push(l.to_owned());
        }
    }
    good.sort_unstable();
    (good, bad)
}

/// The two monitors of a test in its namespace: drops to port 7777 only
/// (the in-kernel `--port` filter), as text lines and written to a pcapng
/// file; and every drop, in JSON.
struct Monitors {
    filtered: Bg,
    out: PathBuf,
    err: PathBuf,
    all: Bg,
    json: PathBuf,
    pcap: PathBuf,
    _dir: tempfile::TempDir,
}

impl Monitors {
    fn start(ns: &Netns, dev: &str) -> Monitors {
        let dir = tempfile::tempdir().unwrap();
        let pcap = dir.path().join(format!("{dev}.pcapng"));
        let (filtered, out, err) = monitor(
            ns,
            dir.path(),
            "port",
            &[
                "--type",
                "drop",
                "--port",
                "7777",
                "--write",
                pcap.to_str().unwrap(),
            ],
        );
        let (all, json, _) = monitor(ns, dir.path(), "json", &["--type", "drop", "-j"]);
        Monitors {
            filtered,
            out,
            err,
            all,
            json,
            pcap,
            _dir: dir,
        }
    }

    /// Waits until the filtered monitor printed each of `want` and the JSON
    /// one a line containing `json_marker`; stops both (each exits 0).
    /// Each of `want` was printed once, as a drop for want of a socket on
    /// `dev`, and nothing else was. Returns the text lines and the JSON
    /// records.
    fn finish(
        &mut self,
        want: &[&str],
        json_marker: &str,
        dev: &str,
    ) -> (Vec<String>, Vec<serde_json::Value>) {
        for w in want {
            wait_for_line(&self.out, w, Duration::from_secs(60), &self.err);
        }
        wait_for_line(&self.json, json_marker, Duration::from_secs(60), &self.err);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(self.filtered.stop(), Some(0));
        assert_eq!(self.all.stop(), Some(0));
        let lines = lines_of(&self.out);
        let drop = format!("xx drop (NO_SOCKET) interface {dev}, location ");
        for w in want {
            let hits: Vec<&String> = lines.iter().filter(|l| l.contains(w)).collect();
            assert_eq!(hits.len(), 1, "{w}: {lines:#?}");
            assert!(hits[0].contains(&drop), "{}", hits[0]);
        }
        assert_eq!(
            lines.len(),
            want.len(),
            "--port 7777 in the kernel: {lines:#?}"
        );
        let js = lines_of(&self.json)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines, js)
    }

    /// The pcapng file holds exactly the packets `want` (in [`tshark_ip`]'s
    /// sorted form), all with valid IP headers.
    fn assert_pcap(&self, want: &[&str]) {
        let (good, bad) = tshark_ip(self.pcap.to_str().unwrap());
        assert_eq!(good, want, "{bad:#?}");
        assert!(bad.is_empty(), "{bad:#?}");
    }
}

#[test]
fn drops_on_lo_carry_addresses_and_ports() {
    if !require_privileged(
        "drops_on_lo_carry_addresses_and_ports",
        &["tshark", "python3", "ping"],
    ) {
        return;
    }
    let ns = Netns::new();
    let mut mon = Monitors::start(&ns, "lo");
    // UDP and TCP to a closed port over IPv4 and IPv6, from fixed ports.
    py(
        &ns,
        "import socket\n\
         for fam, dst in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):\n\
         \x20   u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((dst, 40001)); u.sendto(b'x', (dst, 7777))\n\
         \x20   t = socket.socket(fam, socket.SOCK_STREAM); t.bind((dst, 40002))\n\
         \x20   try: t.connect((dst, 7777))\n\
         \x20   except ConnectionRefusedError: pass\n",
    );
    // An echo reply nobody's ping socket wants: dropped in ping_rcv.
    ns.sh("ping -c 1 -W 2 127.0.0.1 > /dev/null");
    let want = [
        "127.0.0.1:40001 -> 127.0.0.1:7777 udp",
        "[::1]:40001 -> [::1]:7777 udp",
        "127.0.0.1:40002 -> 127.0.0.1:7777 tcp SYN",
        "[::1]:40002 -> [::1]:7777 tcp SYN",
    ];
    let (lines, js) = mon.finish(&want, "ping_rcv", "lo");
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("[error]") && !l.contains("[unknown]")),
        "{lines:#?}"
    );

    // JSON: addresses and ports; the ping drop decodes as ICMP.
    for (src, sport) in [
        ("127.0.0.1", 40001),
        ("::1", 40001),
        ("127.0.0.1", 40002),
        ("::1", 40002),
    ] {
        let n = js
            .iter()
            .filter(|v| v["src"] == src && v["sport"] == sport && v["dport"] == 7777)
            .count();
        assert_eq!(n, 1, "{src}:{sport}: {js:#?}");
    }
    let ping: Vec<&serde_json::Value> = js
        .iter()
        .filter(|v| {
            v["location"]
                .as_str()
                .is_some_and(|l| l.starts_with("ping_rcv"))
        })
        .collect();
    assert!(!ping.is_empty(), "{js:#?}");
    for v in &ping {
        assert_eq!(
            (v["src"].as_str(), v["dst"].as_str()),
            (Some("127.0.0.1"), Some("127.0.0.1")),
            "{v}"
        );
    }

    // The pcapng: four packets with valid IP headers.
    mon.assert_pcap(&[
        "\t::1\t\t7777",
        "\t::1\t7777\t",
        "127.0.0.1\t\t\t7777",
        "127.0.0.1\t\t7777\t",
    ]);
}

const TUN_PEER: [u8; 4] = [10, 222, 0, 2];
const TUN_LOCAL: [u8; 4] = [10, 222, 0, 1];
const TUN_PEER6: [u8; 16] = [0xfd, 0, 2, 0x22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const TUN_LOCAL6: [u8; 16] = [0xfd, 0, 2, 0x22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// IPv4 10.222.0.2 -> 10.222.0.1 carrying `l4` (protocol `proto`), with a
/// valid transport checksum at `csum_at` in `l4`.
fn ip4(proto: u8, l4: Vec<u8>, csum_at: usize) -> Vec<u8> {
    craft::ipv4(TUN_PEER, TUN_LOCAL, proto, l4, Some(csum_at))
}

/// IPv6 fd00:222::2 -> fd00:222::1 carrying `l4`.
fn ip6(proto: u8, l4: Vec<u8>, csum_at: usize) -> Vec<u8> {
    craft::ipv6(TUN_PEER6, TUN_LOCAL6, proto, l4, csum_at)
}

fn udp(sport: u16, dport: u16) -> Vec<u8> {
    craft::udp(sport, dport, b"tun!")
}

#[test]
fn drops_on_tun_carry_addresses_and_ports() {
    if !require_privileged("drops_on_tun_carry_addresses_and_ports", &["tshark"]) {
        return;
    }
    let ns = Netns::new();
    let mut tun = ns.open_tun("tun0");
    ns.sh(
        "ip link set tun0 up && ip addr add 10.222.0.1 peer 10.222.0.2 dev tun0 && \
         ip -6 addr add fd00:222::1/64 dev tun0 nodad",
    );
    let mut mon = Monitors::start(&ns, "tun0");
    for p in [
        ip4(17, udp(5000, 7777), 6),
        ip4(6, craft::tcp_syn(5001, 7777), 16),
        ip6(17, udp(5000, 7777), 6),
        ip6(6, craft::tcp_syn(5001, 7777), 16),
        ip4(17, udp(5000, 7778), 6),
    ] {
        tun.write_all(&p).unwrap();
    }
    let want = [
        "10.222.0.2:5000 -> 10.222.0.1:7777 udp",
        "10.222.0.2:5001 -> 10.222.0.1:7777 tcp SYN",
        "[fd00:222::2]:5000 -> [fd00:222::1]:7777 udp",
        "[fd00:222::2]:5001 -> [fd00:222::1]:7777 tcp SYN",
    ];
    let (_, js) = mon.finish(&want, "7778", "tun0");
    assert!(
        js.iter().any(|v| v["src"] == "10.222.0.2"
            && v["dst"] == "10.222.0.1"
            && v["sport"] == 5000
            && v["dport"] == 7778),
        "{js:#?}"
    );
    mon.assert_pcap(&[
        "\tfd00:222::2\t\t7777",
        "\tfd00:222::2\t7777\t",
        "10.222.0.2\t\t\t7777",
        "10.222.0.2\t\t7777\t",
    ]);
}
