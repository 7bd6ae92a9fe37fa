//! End-to-end tests of `inetmon monitor`: the real eBPF programs in real
//! network namespaces. Each test makes its own pair of namespaces A and B
//! joined by a veth pair (`veth-a` 10.220.0.1 — `veth-b` 10.220.0.2), runs
//! the monitor inside B, and sends traffic from A. Privileged tests skip
//! without root, except under `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{
    inetmon, inetmon_run, lines_of, require_privileged, run, start_monitor, tshark_fields, veth,
    wait_for, wait_for_line, Bg, Netns,
};

const A: &str = "10.220.0.1";
const B: &str = "10.220.0.2";

/// Namespaces A and B with the veth pair, and a scratch directory.
struct Lab {
    a: Netns,
    b: Netns,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let a = Netns::new();
        let b = Netns::new();
        veth(
            &a,
            "veth-a",
            &[&format!("{A}/24")],
            &b,
            "veth-b",
            &[&format!("{B}/24")],
            1500,
        );
        Lab {
            a,
            b,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `inetmon monitor ARGS --netns own` in B (drops of B only:
    /// other tests' namespaces drop packets too); returns once it is
    /// attached.
    fn monitor(&self, args: &[&str]) -> (Bg, PathBuf, PathBuf) {
        let out = self.path("monitor.out");
        let err = self.path("monitor.err");
        let mut args = args.to_vec();
        args.extend_from_slice(&["--netns", "own"]);
        let bg = start_monitor(
            &mut self.b.cmd(inetmon()),
            &args,
            &out,
            &err,
            Duration::from_secs(60),
        );
        (bg, out, err)
    }

    /// Runs a Python snippet in A (raw sockets, exact datagram counts).
    fn py_a(&self, code: &str) {
        let r = run(
            self.a.cmd("python3").args(["-c", code]),
            Duration::from_secs(60),
        );
        assert_eq!(r.code, Some(0), "python failed: {}", r.stderr);
    }
}

fn lines_with(path: &Path, needle: &str) -> Vec<String> {
    lines_of(path)
        .into_iter()
        .filter(|l| l.contains(needle))
        .collect()
}

/// Sends traffic from A with `send` and waits for a drop line with
/// `reason`; checks the interface and the connection summary.
fn expect_drop(lab: &Lab, extra: &[&str], send: &dyn Fn(&Lab), reason: &str, summary: &str) {
    let mut args = vec!["--type", "drop"];
    args.extend_from_slice(extra);
    let (mut bg, out, err) = lab.monitor(&args);
    send(lab);
    let needle = format!("xx drop ({reason}) interface veth-b, location ");
    let lines = wait_for_line(&out, &needle, Duration::from_secs(60), &err);
    let line = lines.iter().find(|l| l.contains(&needle)).unwrap();
    assert!(line.starts_with("CPU "), "{line}");
    assert!(line.ends_with(&format!(": {summary}")), "{line}");
    // The location is symbolised from /proc/kallsyms (`function+0xoff`).
    let loc = line.split("location ").nth(1).unwrap();
    assert!(
        loc.contains("+0x") && !loc.starts_with("0x"),
        "unsymbolised location: {line}"
    );
    assert_eq!(
        bg.stop(),
        Some(0),
        "{}",
        std::fs::read_to_string(&err).unwrap()
    );
}

#[test]
fn nft_drop_rule_is_netfilter_drop() {
    if !require_privileged("nft_drop_rule_is_netfilter_drop", &["nft", "python3"]) {
        return;
    }
    let lab = Lab::new();
    lab.b.nft(
        "table inet t {\n chain input {\n  type filter hook input priority 0;\n  udp dport 9999 drop\n }\n}\n",
    );
    expect_drop(
        &lab,
        &[],
        &|lab| {
            lab.py_a(&format!(
                "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('{A}', 40001)); s.sendto(b'x', ('{B}', 9999))"
            ));
        },
        "NETFILTER_DROP",
        &format!("{A}:40001 -> {B}:9999 udp"),
    );
}

#[test]
fn udp_to_closed_port_is_no_socket() {
    if !require_privileged("udp_to_closed_port_is_no_socket", &["python3"]) {
        return;
    }
    let lab = Lab::new();
    expect_drop(
        &lab,
        &["--reason", "NO_SOCKET"],
        &|lab| {
            lab.py_a(&format!(
                "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('{A}', 40002)); s.sendto(b'x', ('{B}', 9))"
            ));
        },
        "NO_SOCKET",
        &format!("{A}:40002 -> {B}:9 udp"),
    );
}

#[test]
fn tcp_with_bad_checksum_is_tcp_csum() {
    if !require_privileged("tcp_with_bad_checksum_is_tcp_csum", &["python3"]) {
        return;
    }
    let lab = Lab::new();
    expect_drop(
        &lab,
        &["--proto", "tcp"],
        &|lab| {
            // A SYN with checksum 0xdead from a raw socket.
            lab.py_a(&format!(
                "import socket, struct; s=socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP); s.sendto(struct.pack('!HHIIBBHHH', 40003, 8080, 1, 0, 5 << 4, 0x02, 65535, 0xdead, 0), ('{B}', 0))"
            ));
        },
        "TCP_CSUM",
        &format!("{A}:40003 -> {B}:8080 tcp SYN"),
    );
}

#[test]
fn packet_to_unconfigured_address_is_ip_inaddrerrors() {
    if !require_privileged(
        "packet_to_unconfigured_address_is_ip_inaddrerrors",
        &["python3"],
    ) {
        return;
    }
    let lab = Lab::new();
    // A sends to 10.220.0.99 at B's MAC; B has no such address and does not
    // forward.
    let mac = lab
        .b
        .sh("cat /sys/class/net/veth-b/address")
        .trim()
        .to_owned();
    lab.a
        .sh(&format!("ip neigh add 10.220.0.99 lladdr {mac} dev veth-a"));
    expect_drop(
        &lab,
        &["--ip", "10.220.0.99"],
        &|lab| {
            lab.py_a(
                "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('10.220.0.1', 40004)); s.sendto(b'x', ('10.220.0.99', 7))",
            );
        },
        "IP_INADDRERRORS",
        "10.220.0.1:40004 -> 10.220.0.99:7 udp",
    );
}

#[test]
fn json_drop_has_reason_and_interface() {
    if !require_privileged("json_drop_has_reason_and_interface", &["python3"]) {
        return;
    }
    let lab = Lab::new();
    let (mut bg, out, err) = lab.monitor(&["-j", "--port", "9"]);
    lab.py_a(&format!(
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('{B}', 9))"
    ));
    let lines = wait_for_line(&out, "NO_SOCKET", Duration::from_secs(60), &err);
    bg.stop();
    let line = lines.iter().find(|l| l.contains("NO_SOCKET")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["kind"], "drop");
    assert_eq!(v["source"], "datapath");
    assert_eq!(v["reason_name"], "NO_SOCKET", "{line}");
    assert_eq!(v["ifname"], "veth-b", "{line}");
    assert_eq!(v["dport"], 9, "{line}");
}

/// Waits until `path` has `n` lines containing `needle`.
fn wait_count(path: &Path, needle: &str, n: usize, err: &Path) -> Vec<String> {
    wait_for(Duration::from_secs(60), || {
        let l = lines_with(path, needle);
        (l.len() >= n).then_some(l)
    })
    .unwrap_or_else(|| {
        panic!(
            "fewer than {n} lines with {needle:?}:\n{}\n--- stderr:\n{}",
            std::fs::read_to_string(path).unwrap_or_default(),
            std::fs::read_to_string(err).unwrap_or_default()
        )
    })
}

#[test]
fn traces_on_veth_match_pings_both_ways() {
    if !require_privileged("traces_on_veth_match_pings_both_ways", &["ping"]) {
        return;
    }
    let lab = Lab::new();
    let (mut bg, out, err) =
        lab.monitor(&["--type", "trace", "--iface", "veth-b", "--proto", "icmp"]);
    lab.a.sh(&format!("ping -c 3 -i 0.2 -W 2 {B} > /dev/null"));
    let req = format!("<- network interface veth-b: {A} -> {B} icmp EchoRequest");
    let rep = format!("-> network interface veth-b: {B} -> {A} icmp EchoReply");
    wait_count(&out, &rep, 3, &err);
    assert_eq!(bg.stop(), Some(0));
    let all = lines_of(&out);
    assert_eq!(lines_with(&out, &req).len(), 3, "{all:#?}");
    assert_eq!(lines_with(&out, &rep).len(), 3, "{all:#?}");
    // --proto icmp in the kernel and in user space: nothing else.
    assert_eq!(all.len(), 6, "{all:#?}");
}

#[test]
fn traces_on_the_sending_side_match_too() {
    if !require_privileged("traces_on_the_sending_side_match_too", &["ping"]) {
        return;
    }
    // The monitor in B traces veth-b; here the pings go B -> A, so egress
    // carries the requests and ingress the replies.
    let lab = Lab::new();
    let (mut bg, out, err) = lab.monitor(&["--iface", "veth-b", "--ip", A, "--proto", "icmp"]);
    lab.b.sh(&format!("ping -c 2 -i 0.2 -W 2 {A} > /dev/null"));
    let req = format!("-> network interface veth-b: {B} -> {A} icmp EchoRequest");
    let rep = format!("<- network interface veth-b: {A} -> {B} icmp EchoReply");
    wait_count(&out, &rep, 2, &err);
    assert_eq!(bg.stop(), Some(0));
    assert_eq!(lines_with(&out, &req).len(), 2, "{:#?}", lines_of(&out));
    assert_eq!(lines_with(&out, &rep).len(), 2, "{:#?}", lines_of(&out));
}

#[test]
fn traces_sampled_one_in_ten_report_about_a_tenth() {
    if !require_privileged(
        "traces_sampled_one_in_ten_report_about_a_tenth",
        &["nft", "python3"],
    ) {
        return;
    }
    // 5000 datagrams into a drop rule, traced 1:10 on veth-b: the kernel's
    // countdown draws gaps uniformly from [1, 19], so about 500 are
    // reported (standard deviation ≈ 12; the bounds are > 10 sigma wide).
    let lab = Lab::new();
    lab.b.nft(
        "table inet t {\n chain input {\n  type filter hook input priority 0;\n  udp dport 9999 counter drop\n }\n}\n",
    );
    let (mut bg, out, err) = lab.monitor(&[
        "--type", "trace", "--iface", "veth-b", "--sample", "10", "--proto", "udp", "--port",
        "9999",
    ]);
    lab.py_a(&format!(
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(5000): s.sendto(b'x', ('{B}', 9999))"
    ));
    let needle = format!("<- network interface veth-b: {A}");
    wait_count(&out, &needle, 350, &err);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bg.stop(), Some(0));
    let n = lines_with(&out, &needle).len();
    assert!((350..=650).contains(&n), "{n} of 5000 sampled at 1:10");
}

#[test]
fn write_pcapng_opens_in_tshark_with_comments() {
    if !require_privileged(
        "write_pcapng_opens_in_tshark_with_comments",
        &["tshark", "ping", "python3"],
    ) {
        return;
    }
    let lab = Lab::new();
    let pcap = lab.path("out.pcapng");
    let pcap_s = pcap.to_str().unwrap();
    let (mut bg, out, err) = lab.monitor(&[
        "--type", "capture", "--iface", "veth-b", "--ip", A, "--write", pcap_s,
    ]);
    lab.a.sh(&format!("ping -c 2 -i 0.2 -W 2 {B} > /dev/null"));
    lab.py_a(&format!(
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('{B}', 9))"
    ));
    wait_for_line(&out, "xx drop (NO_SOCKET)", Duration::from_secs(60), &err);
    // The port-unreachable reply goes out after the drop; give it a moment.
    wait_for_line(
        &out,
        "DestinationUnreachable",
        Duration::from_secs(60),
        &err,
    );
    assert_eq!(bg.stop(), Some(0));
    let text = lines_of(&out);
    let fields = tshark_fields(
        pcap_s,
        &[],
        &["frame.interface_name", "frame.comment", "_ws.col.Protocol"],
    );
    let pkts: Vec<&str> = fields.lines().collect();
    assert_eq!(
        pkts.len(),
        text.len(),
        "tshark:\n{fields}\nmonitor:\n{text:#?}"
    );
    assert!(pkts.iter().all(|p| p.starts_with("veth-b\t")), "{fields}");
    let with = |c: &str| pkts.iter().filter(|p| p.contains(c)).count();
    assert_eq!(
        with("trace from-network"),
        lines_with(&out, "<- network").len()
    );
    assert_eq!(
        with("trace to-network"),
        lines_with(&out, "-> network").len()
    );
    assert_eq!(with("drop NO_SOCKET at __udp4_lib_rcv"), 1, "{fields}");
    // 2 requests + 2 replies + the UDP datagram + the ICMP error, and the drop.
    assert!(pkts.len() >= 7, "{fields}");
}

#[test]
fn summary_counts_a_burst_of_drops() {
    if !require_privileged("summary_counts_a_burst_of_drops", &["nft", "python3"]) {
        return;
    }
    let lab = Lab::new();
    lab.b.nft(
        "table inet t {\n chain input {\n  type filter hook input priority 0;\n  udp dport 9999 counter drop\n }\n}\n",
    );
    let (mut bg, out, err) = lab.monitor(&["--summary"]);
    lab.py_a(&format!(
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(500): s.sendto(b'x', ('{B}', 9999))"
    ));
    let row = wait_for(Duration::from_secs(60), || {
        lines_of(&out).into_iter().find(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 5 && f[0] == "500" && f[2] == "NETFILTER_DROP" && f[4] == "veth-b"
        })
    });
    assert_eq!(bg.stop(), Some(0));
    let row = row.unwrap_or_else(|| {
        panic!(
            "no NETFILTER_DROP row with 500 drops:\n{}\n{}",
            std::fs::read_to_string(&out).unwrap(),
            std::fs::read_to_string(&err).unwrap()
        )
    });
    // Symbolised location (nft_do_chain or nf_hook_slow, by kernel).
    assert!(
        row.split_whitespace()
            .nth(3)
            .is_some_and(|l| l.contains("+0x")),
        "{row}"
    );
    assert!(lines_of(&out)
        .iter()
        .any(|l| l.trim_start().starts_with("COUNT")));
}

#[test]
fn missing_privilege_is_one_line_naming_the_capabilities() {
    if !require_privileged(
        "missing_privilege_is_one_line_naming_the_capabilities",
        &["setpriv"],
    ) {
        return;
    }
    let r = run(
        Command::new("setpriv")
            .args(common::AS_NOBODY)
            .arg("--inh-caps=-all")
            .arg(inetmon())
            .args(["monitor", "--iface", "lo"]),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    let lines = r.stderr_lines();
    assert_eq!(lines.len(), 1, "{r:?}");
    assert!(
        lines[0].contains("CAP_BPF") && lines[0].contains("CAP_NET_ADMIN"),
        "{r:?}"
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn trace_without_iface_is_a_misuse() {
    let r = inetmon_run(&["monitor", "--type", "trace"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr_lines().len(), 1, "{r:?}");
    assert!(r.stderr.contains("--iface"), "{r:?}");
}

#[test]
fn summary_with_address_filters_is_a_misuse() {
    let r = inetmon_run(&["monitor", "--summary", "--port", "53"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("--summary"), "{r:?}");
}

#[test]
fn drops_nflog_packets_and_conntrack_state_in_one_stream() {
    if !require_privileged(
        "drops_nflog_packets_and_conntrack_state_in_one_stream",
        &["nft", "python3"],
    ) {
        return;
    }
    let lab = Lab::new();
    lab.b.nft(
        "table inet t {\n chain input {\n  type filter hook input priority 0;\n  ct state new counter\n  udp dport 9999 log group 7 drop\n }\n}\n",
    );
    let (mut bg, out, err) =
        lab.monitor(&["--type", "drop,packet,state,nat", "--nflog", "7", "--ip", A]);
    lab.py_a(&format!(
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('{A}', 40005)); s.sendto(b'x', ('{B}', 9999)); t=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); t.bind(('{A}', 40006)); t.sendto(b'x', ('{B}', 9))"
    ));
    // The dropped flow is never confirmed in conntrack; the second one is
    // (and then dropped for NO_SOCKET).
    let flow = format!("{A}:40005 -> {B}:9999 udp");
    wait_for_line(&out, "<> state NEW udp", Duration::from_secs(60), &err);
    wait_for_line(&out, "-- packet (log)", Duration::from_secs(60), &err);
    wait_for_line(
        &out,
        "xx drop (NETFILTER_DROP)",
        Duration::from_secs(60),
        &err,
    );
    assert_eq!(bg.stop(), Some(0));
    let lines = lines_of(&out);
    assert!(
        lines.iter().any(
            |l| l.starts_with("-- packet (log) interface veth-b in, rule @7:")
                && l.ends_with(&flow)
        ),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("<> state NEW udp {A}:40006 -> {B}:9")),
        "{lines:#?}"
    );
}

#[test]
fn socket_events_in_the_monitor_stream() {
    if !require_privileged("socket_events_in_the_monitor_stream", &[]) {
        return;
    }
    // The socket programs hook the cgroup v2 root, which `ip netns exec`
    // hides; this one runs in the test's namespace, on loopback only.
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut bg = start_monitor(
        &mut Command::new(inetmon()),
        &["--type", "sock", "--port", &port.to_string()],
        &out,
        &err,
        Duration::from_secs(60),
    );
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (a, _) = l.accept().unwrap();
    drop(s);
    drop(a);
    let lines = wait_for_line(&out, "** sock accept", Duration::from_secs(60), &err);
    assert_eq!(bg.stop(), Some(0));
    let want = format!("-> 127.0.0.1:{port} ok cookie=");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("** sock connected  tcp4") && l.contains(&want)),
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|l| l.contains(&format!(":{port}"))),
        "{lines:#?}"
    );
}
