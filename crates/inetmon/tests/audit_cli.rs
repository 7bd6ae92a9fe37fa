//! `inetmon audit` and `inetmon journal` on a journal written by the
//! library with real socket events from the kernel: scripted connects
//! (established, refused, unreachable) and server starts (listen ok on
//! IPv4 and IPv6, UDP bound to a fixed port, `EADDRINUSE`, `EACCES` as uid
//! 65534) give exactly the expected audit lines.
//!
//! Privileged (BPF, network namespaces): skipped with a reason unless root,
//! failing instead under `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use inetmon_core::event::{Event, SockEvent, SockOp};
use inetmon_io::journal::{Journal, JournalConfig, SyncMode};
use inetmon_io::sockets::{KernelFilters, SocketsProducer};

use common::{
    can_run, inetmon_run, ip_here, is_root, new_netns, start_sockets as start, wait_for_line, Bg,
};

/// Every event of `netns` until none came for 300 ms.
fn collect(p: &mut SocketsProducer, netns: u32) -> Vec<Event> {
    let mut evs = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_millis(300) {
        let n = p
            .poll(Duration::from_millis(20), &mut |e| {
                if matches!(&e, Event::Sock(s) if s.netns == netns) {
                    evs.push(e);
                }
            })
            .unwrap();
        if n > 0 {
            last = Instant::now();
        }
    }
    evs
}

/// `TIME KIND: (Intf, Chan)` of the first event matching `op`, `errno`
/// and `port`, from the event's time, interface and fd.
fn when(evs: &[Event], kind: &str, op: SockOp, errno: u32, port: u16) -> String {
    let s: &SockEvent = evs
        .iter()
        .find_map(|e| match e {
            Event::Sock(s)
                if s.op == op
                    && s.errno == errno
                    && (s.local.is_some_and(|l| l.1 == port)
                        || s.foreign.is_some_and(|f| f.1 == port)) =>
            {
                Some(&**s)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {op:?} errno {errno} port {port} in {evs:#?}"));
    format!(
        "{} {kind}: ({}, {})",
        common::dkaudit::dk_time(s.header.time.secs),
        s.link.ifindex,
        s.link.fd.unwrap_or(0)
    )
}

/// Waits until `inetmon audit --follow` said on `err` that it follows.
fn until_following(err: &Path) {
    wait_for_line(
        err,
        "inetmon audit: following",
        Duration::from_secs(120),
        err,
    );
}

/// `inetmon audit --follow EXTRA… --state-dir STATE` (TZ=UTC) in the
/// background, once it follows.
fn follow_audit(extra: &[&str], state: &Path, out: &Path, err: &Path) -> Bg {
    let audit = Bg::spawn_to(
        Command::new(common::inetmon())
            .args(["audit", "--follow"])
            .args(extra)
            .arg("--state-dir")
            .arg(state)
            .env("TZ", "UTC"),
        out,
        err,
    );
    until_following(err);
    audit
}

#[test]
fn audit_lines_from_real_socket_events() {
    if !can_run(is_root(), "needs root for BPF and network namespaces") {
        return;
    }
    let netns = new_netns();
    ip_here("route add unreachable 10.98.0.0/24");
    let mut mine = start(KernelFilters {
        pid: Some(std::process::id()),
        ..KernelFilters::default()
    });
    let mut nobody = start(KernelFilters {
        uid: Some(65534),
        ..KernelFilters::default()
    });

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let l_fd = l.as_raw_fd();
    let p = l.local_addr().unwrap().port();
    let c = TcpStream::connect(("127.0.0.1", p)).unwrap();
    let c_fd = c.as_raw_fd();
    let (s, _) = l.accept().unwrap();
    let refused = TcpStream::connect(("127.0.0.1", 1)).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::ECONNREFUSED));
    let unreachable = TcpStream::connect(("10.98.0.7", 80)).unwrap_err();
    assert_eq!(unreachable.raw_os_error(), Some(libc::EHOSTUNREACH));
    let in_use = TcpListener::bind(("127.0.0.1", p)).unwrap_err();
    assert_eq!(in_use.raw_os_error(), Some(libc::EADDRINUSE));
    let any = TcpListener::bind("0.0.0.0:8080").unwrap();
    let v6 = TcpListener::bind("[::1]:8443").unwrap();
    let c6 = TcpStream::connect(SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], 8443))).unwrap();
    let udp = UdpSocket::bind("0.0.0.0:5353").unwrap();
    drop((c, s, any, v6, c6, udp, l));
    let mut evs = collect(&mut mine, netns);

    let out = std::process::Command::new("setpriv")
        .args(common::AS_NOBODY)
        .args(["/usr/bin/python3", "-c"])
        .arg("import socket,sys\ns=socket.socket()\ntry:\n s.bind(('127.0.0.1', 80))\nexcept PermissionError:\n sys.exit(7)")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    evs.extend(collect(&mut nobody, netns));

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut j = Journal::open(
        &state,
        JournalConfig {
            sync: SyncMode::Always,
            ..JournalConfig::default()
        },
    )
    .unwrap();
    for chunk in evs.chunks(5) {
        j.append(chunk).unwrap();
    }
    j.close().unwrap();

    use SockOp::{Bind, Connected, Listen};
    // The line of the event `op` with `errno` at `port`: a CONNECTION
    // record for a connect, a SERVER record for a bind or listen, with the
    // event's time, interface and fd; then the dial and `Started` (errno 0)
    // or `Failed`, by `uid`.
    let line = |op, errno, port, dial: &str, uid: u32| {
        let kind = if op == Connected {
            "CONNECTION"
        } else {
            "SERVER"
        };
        let verdict = if errno == 0 { "Started" } else { "Failed" };
        let when = when(&evs, kind, op, errno, port);
        format!("{when} \"{dial}\" {verdict} by UID {uid}")
    };
    let lo_p = format!("tcp!127.0.0.1!{p}");
    let want = [
        line(Listen, 0, p, &lo_p, 0),
        line(Connected, 0, p, &lo_p, 0),
        line(Connected, 111, 1, "tcp!127.0.0.1!1", 0),
        line(Connected, 113, 80, "tcp!10.98.0.7!80", 0),
        line(Bind, 98, p, &lo_p, 0),
        line(Listen, 0, 8080, "tcp!*!8080", 0),
        line(Listen, 0, 8443, "tcp!::1!8443", 0),
        line(Connected, 0, 8443, "tcp!::1!8443", 0),
        line(Bind, 0, 5353, "udp!*!5353", 0),
        line(Bind, 13, 80, "tcp!127.0.0.1!80", 65534),
    ];
    // The fds the test used; its loopback connection went over `lo` (1),
    // a listening socket has no interface.
    assert!(
        want[0].contains(&format!("SERVER: (0, {l_fd})")),
        "{}",
        want[0]
    );
    assert!(
        want[1].contains(&format!("CONNECTION: (1, {c_fd})")),
        "{}",
        want[1]
    );
    let st = state.to_str().unwrap();
    let r = inetmon_run(&["audit", "--state-dir", st]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), want, "{}", r.stdout);

    let r = inetmon_run(&[
        "audit",
        "--state-dir",
        st,
        "--result",
        "failed",
        "--uid",
        "65534",
    ]);
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), [want[9].as_str()]);
    let r = inetmon_run(&["audit", "--state-dir", st, "--result", "started"]);
    assert_eq!(r.stdout.lines().count(), 6, "{}", r.stdout);
    let r = inetmon_run(&["audit", "--state-dir", st, "-j"]);
    let first: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["record"], "server");
    assert_eq!(first["dial"], format!("tcp!127.0.0.1!{p}"));
    assert_eq!(first["result"], "started");
    assert_eq!(first["uid"], 0);
    assert_eq!(r.stdout.lines().count(), 10);

    check_journal_commands(&state, &evs, p);
}

/// `inetmon journal query` prints what was stored, with filters;
/// `inetmon journal verify` passes.
fn check_journal_commands(state: &Path, evs: &[Event], p: u16) {
    let st = state.to_str().unwrap();
    let r = inetmon_run(&["journal", "verify", "--state-dir", st]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.trim_end().ends_with(": ok"), "{}", r.stdout);
    let r = inetmon_run(&["journal", "query", "--state-dir", st]);
    assert_eq!(r.stdout.lines().count(), evs.len(), "{}", r.stdout);
    let r = inetmon_run(&[
        "journal",
        "query",
        "--state-dir",
        st,
        "--port",
        &p.to_string(),
        "-j",
    ]);
    let want = evs
        .iter()
        .filter(|e| {
            let Event::Sock(s) = e else { return false };
            s.local.is_some_and(|l| l.1 == p) || s.foreign.is_some_and(|f| f.1 == p)
        })
        .count();
    assert!(want >= 5);
    assert_eq!(r.stdout.lines().count(), want, "{}", r.stdout);
    for line in r.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["kind"], "sock");
    }
    let r = inetmon_run(&[
        "journal",
        "query",
        "--state-dir",
        st,
        "--uid",
        "65534",
        "--kind",
        "sock",
    ]);
    assert_eq!(
        r.stdout.lines().count(),
        3,
        "create, bind, close: {}",
        r.stdout
    );
    assert!(r.stdout.contains(" bind "), "{}", r.stdout);
    let r = inetmon_run(&["journal", "query", "--state-dir", st, "--kind", "bogus"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn daemon_check_config() {
    let packaged = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/inetmon.toml");
    let packaged = packaged.to_str().unwrap();
    let r = inetmon_run(&["daemon", "--check-config", "--config", packaged]);
    assert_eq!(
        (r.code, r.stdout.trim_end()),
        (Some(0), format!("{packaged}: ok").as_str())
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[journal]\nsync = \"always\"\nmax_sise = \"1G\"\n").unwrap();
    let r = inetmon_run(&[
        "daemon",
        "--check-config",
        "--config",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("unknown field `max_sise`"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("bad.toml"), "{}", r.stderr);
    let r = inetmon_run(&[
        "daemon",
        "--check-config",
        "--config",
        "/nonexistent/inetmon.toml",
    ]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // (The runtime exists now: `inetmon daemon` runs; tests/daemon.rs
    // covers it, with state directories of its own, never the packaged
    // /var/lib/inetmon.)
}

#[test]
fn journal_misuse_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let none = dir.path().join("none");
    for args in [
        vec!["journal", "verify", "--state-dir", none.to_str().unwrap()],
        vec![
            "journal",
            "query",
            "--state-dir",
            dir.path().to_str().unwrap(),
        ],
        vec!["audit", "--since", "yesterday"],
        vec!["audit", "--result", "maybe"],
        vec!["journal", "query", "--ip", "10.0.0.300"],
    ] {
        let r = inetmon_run(&args);
        assert_eq!(r.code, Some(1), "{args:?}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
    }
}

/// The server of [`follow_live_lines_and_segments`]: listens on
/// `ARGV[1]:8080`, prints its fd, takes one connection and closes it at
/// once. (The server closes first: a FIN the client received after its
/// own close() would meet a TIME_WAIT socket, which no cgroup hook sees.)
const SERVER_PY: &str = "import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], 8080))
l.listen()
print(l.fileno(), flush=True)
c, _ = l.accept()
c.close()
";

/// The client of [`follow_live_lines_and_segments`] (`ARGV`: server,
/// blackholed address, own device, own address): a connection that is
/// established, one refused, one timed out (`TCP_USER_TIMEOUT` keeps it to
/// about a second), a listen on the device, a bind to the same port that
/// fails with `EADDRINUSE`; every socket stays open until the end, so each
/// has its own fd; prints the fds as JSON, then closes the connection
/// (which the server closed first).
const CLIENT_PY: &str = "import json, socket, sys, time
srv, far, dev, me = sys.argv[1:5]
fds, keep = {}, []
s = socket.socket(); s.connect((srv, 8080)); fds['est'] = s.fileno(); est = s
s = socket.socket(); keep.append(s)
try:
    s.connect((srv, 8081)); sys.exit('connected to a closed port')
except ConnectionRefusedError:
    fds['refused'] = s.fileno()
s = socket.socket(); keep.append(s)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 500)
try:
    s.connect((far, 80)); sys.exit('connected through a blackhole')
except TimeoutError:
    fds['timeout'] = s.fileno()
s = socket.socket(); keep.append(s)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
s.bind((me, 9090)); s.listen(); fds['listen'] = s.fileno()
s = socket.socket(); keep.append(s)
try:
    s.bind((me, 9090)); sys.exit('bound twice')
except OSError as e:
    assert e.errno == 98, e
    fds['in_use'] = s.fileno()
print(json.dumps(fds), flush=True)
assert est.recv(1) == b''
est.close()
time.sleep(0.3)
";

/// `inetmon audit --follow --messages` with no journal: its own producers
/// report, live, exactly the audit lines of scripted connects and listens
/// in two namespaces joined by a veth pair — with the uid, the fd the
/// script used (`Chan`) and the ifindex of its interface (`Intf`) — and
/// `UNIXP` lines for the segments with SYN, FIN or RST of those
/// connections, the same ones tcpdump captured on the interface, in order.
#[test]
fn follow_live_lines_and_segments() {
    if !common::require_privileged(
        "follow_live_lines_and_segments",
        &["tcpdump", "setpriv", "/usr/bin/python3"],
    ) {
        return;
    }
    use common::dkaudit::{control_segments, hex12, now_secs, untimed};
    use common::{veth, wait_for, Netns};

    let n = 150 + std::process::id() % 100;
    let (me, srv, far) = (
        format!("10.{n}.0.1"),
        format!("10.{n}.0.2"),
        format!("10.{n}.1.5"),
    );
    let client = Netns::new();
    let server = Netns::new();
    veth(
        &client,
        "va",
        &[&format!("{me}/24")],
        &server,
        "vb",
        &[&format!("{srv}/24")],
        1500,
    );
    server.sh(&format!("ip route add blackhole 10.{n}.1.0/24"));
    client.sh(&format!("ip route add 10.{n}.1.0/24 via {srv}"));
    let ifindex: u32 = client
        .sh("cat /sys/class/net/va/ifindex")
        .trim()
        .parse()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let none = dir.path().join("no-journal");
    let start = now_secs();
    let mut audit = follow_audit(&["--messages"], &none, &out, &err);
    // The same without --messages: the same lines, no UNIXP.
    let (out2, err2) = (dir.path().join("out2"), dir.path().join("err2"));
    let mut plain = follow_audit(&[], &none, &out2, &err2);
    let (cap, cap_err) = (dir.path().join("cap.pcap"), dir.path().join("tcpdump.err"));
    let mut tcpdump = Bg::spawn(
        client.cmd("tcpdump").args([
            "-i",
            "va",
            "-U",
            "-n",
            "-w",
            cap.to_str().unwrap(),
            "tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0",
        ]),
        &cap_err,
    );
    wait_for_line(&cap_err, "listening on", Duration::from_secs(60), &cap_err);

    let srv_out = dir.path().join("server.out");
    let _srv = Bg::spawn_to(
        server.cmd("/usr/bin/python3").args(["-c", SERVER_PY, &srv]),
        &srv_out,
        &dir.path().join("server.err"),
    );
    let srv_fd = wait_for_line(&srv_out, "", Duration::from_secs(60), &srv_out)[0].clone();
    let r = common::run(
        client
            .cmd("/usr/bin/python3")
            .args(["-c", CLIENT_PY, &srv, &far, "va", &me]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let fds: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let fd = |k: &str| fds[k].as_u64().unwrap();
    let r = common::run(
        client.cmd("setpriv").args(common::AS_NOBODY).args([
            "/usr/bin/python3",
            "-c",
            "import socket, sys\ns = socket.socket()\nprint(s.fileno(), flush=True)\n\
             try:\n s.bind((sys.argv[1], 80))\nexcept PermissionError:\n sys.exit(7)",
            &me,
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(7), "{r:?}");
    let nobody_fd = r.stdout.trim().to_owned();
    // Every segment has been sent. tcpdump hands packets over in blocks
    // (up to a second late), and on a loaded machine either reader may lag
    // more: wait until the capture has both FINs and at least 7 segments
    // and has stopped growing for 1.5 s; then until both monitors printed
    // their last line, and the one with --messages a line for each
    // captured segment. (A fixed 800 ms was not always enough.)
    let captured = || {
        let out = Command::new("tcpdump")
            .args(["-nn", "-r", cap.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        (out.lines().count(), out.matches("Flags [F.]").count())
    };
    let mut last = (captured(), std::time::Instant::now());
    let settled = wait_for(Duration::from_secs(120), || {
        let now = captured();
        if now != last.0 {
            last = (now, std::time::Instant::now());
        }
        (now.0 >= 7 && now.1 >= 2 && last.1.elapsed() >= Duration::from_millis(1500)).then_some(())
    });
    assert!(settled.is_some(), "capture: {:?}", captured());
    tcpdump.stop();
    let nobody_line = format!("\"tcp!{me}!80\" Failed by UID 65534");
    wait_for_line(&out, &nobody_line, Duration::from_secs(60), &err);
    wait_for_line(&out2, &nobody_line, Duration::from_secs(60), &err2);
    let heads: Vec<String> = control_segments(&cap)
        .iter()
        .map(|s| hex12(&s.head))
        .collect();
    let printed = wait_for(Duration::from_secs(60), || {
        let lines = common::lines_of(&out);
        heads
            .iter()
            .all(|h| {
                lines
                    .iter()
                    .any(|l| l.contains("UNIXP") && l.ends_with(h.as_str()))
            })
            .then_some(())
    });
    assert!(
        printed.is_some(),
        "{heads:?}: {:#?}",
        common::lines_of(&out)
    );
    // (Detaching the programs, and writing what it has of another test's
    // connection storm, takes a while on a loaded machine: 30 s was not
    // always enough.)
    audit.stop_within(Duration::from_secs(120));
    plain.stop_within(Duration::from_secs(120));
    let end = now_secs();

    let ours = [me.as_str(), srv.as_str(), far.as_str()];
    let lines: Vec<String> = common::lines_of(&out);
    let audit_lines: Vec<&str> = lines
        .iter()
        .map(|l| untimed(l, start, end))
        .filter(|l| !l.starts_with("UNIXP") && ours.iter().any(|a| l.contains(&format!("!{a}!"))))
        .collect();
    let want = [
        format!("SERVER: (0, {srv_fd}) \"tcp!{srv}!8080\" Started by UID 0"),
        format!(
            "CONNECTION: ({ifindex}, {}) \"tcp!{srv}!8080\" Started by UID 0",
            fd("est")
        ),
        format!(
            "CONNECTION: ({ifindex}, {}) \"tcp!{srv}!8081\" Failed by UID 0",
            fd("refused")
        ),
        format!(
            "CONNECTION: ({ifindex}, {}) \"tcp!{far}!80\" Failed by UID 0",
            fd("timeout")
        ),
        format!(
            "SERVER: ({ifindex}, {}) \"tcp!{me}!9090\" Started by UID 0",
            fd("listen")
        ),
        format!(
            "SERVER: (0, {}) \"tcp!{me}!9090\" Failed by UID 0",
            fd("in_use")
        ),
        format!("SERVER: (0, {nobody_fd}) \"tcp!{me}!80\" Failed by UID 65534"),
    ];
    assert_eq!(audit_lines, want, "{}", lines.join("\n"));
    let plain_lines = common::lines_of(&out2);
    assert!(!plain_lines.iter().any(|l| l.contains("UNIXP")));
    let plain_ours: Vec<&str> = plain_lines
        .iter()
        .map(|l| untimed(l, start, end))
        .filter(|l| ours.iter().any(|a| l.contains(&format!("!{a}!"))))
        .collect();
    assert_eq!(plain_ours, want);

    // UNIXP: every control segment tcpdump saw on va, as sent (=>) or
    // received (<=) by the client, with the fd of its connection.
    let segs = control_segments(&cap);
    let me_ip: std::net::Ipv4Addr = me.parse().unwrap();
    let chan = |remote: u16| match remote {
        8080 => fd("est"),
        8081 => fd("refused"),
        _ => fd("timeout"),
    };
    let want: Vec<String> = segs
        .iter()
        .map(|s| {
            let (dir, remote) = if s.src == me_ip {
                ("=>", s.ports.1)
            } else {
                ("<=", s.ports.0)
            };
            format!(
                "UNIXP: ({ifindex}, {}) {dir} {}",
                chan(remote),
                hex12(&s.head)
            )
        })
        .collect();
    let mut flags: Vec<u8> = segs.iter().map(|s| s.flags).collect();
    flags.sort_unstable();
    // SYN ×3 (and the timed-out one's retransmissions), FIN-ACK ×2,
    // SYN-ACK, RST-ACK.
    assert!(flags.len() >= 7, "{segs:?}");
    assert_eq!(flags[..3], [0x02; 3], "{segs:?}");
    assert_eq!(
        flags[flags.len() - 4..],
        [0x11, 0x11, 0x12, 0x14],
        "{segs:?}"
    );
    let heads: Vec<String> = segs.iter().map(|s| hex12(&s.head)).collect();
    let got: Vec<&str> = lines
        .iter()
        .map(|l| untimed(l, start, end))
        .filter(|l| l.starts_with("UNIXP") && heads.iter().any(|h| l.ends_with(h.as_str())))
        .collect();
    assert_eq!(got, want, "{}", lines.join("\n"));
}

/// Refused connects to `127.0.0.1:PORT` for each port in `ARGV[1:]`, one
/// socket each, kept open; prints their fds, space separated.
const REFUSED_PY: &str = "import socket, sys
keep = []
for p in sys.argv[1:]:
    s = socket.socket(); keep.append(s)
    try:
        s.connect(('127.0.0.1', int(p))); sys.exit('connected')
    except ConnectionRefusedError:
        pass
print(' '.join(str(s.fileno()) for s in keep), flush=True)
";

/// `inetmon audit --follow` through a running daemon (client mode): the
/// daemon's journal first, then the daemon's live events, each record
/// once, with the fd and interface the daemon's producer recorded.
#[test]
fn follow_through_the_daemon() {
    if !common::require_privileged("follow_through_the_daemon", &["/usr/bin/python3"]) {
        return;
    }
    use common::dkaudit::{now_secs, untimed};
    use common::{wait_for, Daemon, Netns};

    // A closed port (in a fresh namespace) of this process's own, which
    // the daemon filters in the kernel: it sees every namespace, and
    // unfiltered, other tests' sockets reached it too (another run's
    // connects in our output; on a loaded machine, a client queue that
    // overflowed: status 2). The three connects are told apart by fd.
    let lease = common::lease_port();
    let port = lease.port.to_string();
    let start = now_secs();
    let d = Daemon::start("audit", &format!("[sockets.filters]\nport = {port}\n"));
    let state = d.file("state");
    let st = state.to_str().unwrap();
    let ns = Netns::new();
    let refused = |n: usize| -> Vec<String> {
        let r = common::run(
            ns.cmd("/usr/bin/python3")
                .args(["-c", REFUSED_PY])
                .args(vec![port.as_str(); n]),
            Duration::from_secs(60),
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        r.stdout.split_whitespace().map(str::to_owned).collect()
    };
    let dial = format!("\"tcp!127.0.0.1!{port}\"");
    let dials = [dial.clone()];
    let before = refused(1);
    let old = format!("CONNECTION: (1, {}) {dial} Failed by UID 0", before[0]);
    // Journaled (in a batch) before the client starts.
    wait_for(Duration::from_secs(60), || {
        let r = inetmon_run(&["audit", "--state-dir", st]);
        r.stdout.contains(&old).then_some(())
    })
    .unwrap_or_else(|| panic!("not journaled: {old}"));

    let (out, err) = (d.file("audit.out"), d.file("audit.err"));
    let mut audit = Bg::spawn_to(
        &mut d.client(&["audit", "--follow", "--state-dir", st]),
        &out,
        &err,
    );
    until_following(&err);
    assert!(
        common::lines_of(&err)[0].starts_with("inetmon audit: following (through the daemon at "),
        "{:?}",
        common::lines_of(&err)
    );
    let after = refused(2);
    let new = [
        format!("CONNECTION: (1, {}) {dial} Failed by UID 0", after[0]),
        format!("CONNECTION: (1, {}) {dial} Failed by UID 0", after[1]),
    ];
    wait_for_line(&out, &new[1], Duration::from_secs(60), &err);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(audit.stop_within(Duration::from_secs(120)), Some(0));
    let end = now_secs();
    let lines = common::lines_of(&out);
    let ours: Vec<&str> = lines
        .iter()
        .map(|l| untimed(l, start, end))
        .filter(|l| dials.iter().any(|d| l.contains(d.as_str())))
        .collect();
    assert_eq!(ours, [old.as_str(), &new[0], &new[1]], "{lines:#?}");
}
