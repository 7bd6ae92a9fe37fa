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
use std::path::Path;
use std::time::{Duration, Instant};

use inetmon_core::event::{Event, SockEvent, SockOp};
use inetmon_io::journal::{Journal, JournalConfig, SyncMode};
use inetmon_io::sockets::{KernelFilters, SocketsConfig, SocketsProducer};

use common::{can_run, inetmon_run, is_root};

/// Moves the calling thread into a new network namespace with `lo` up;
/// returns its inode.
fn new_netns() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: unshare affects only this thread's network namespace.
    assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
    let tid = std::fs::read_link("/proc/thread-self")
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    ip_here(&tid, "link set lo up");
    ip_here(&tid, "route add unreachable 10.98.0.0/24");
    u32::try_from(std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino()).unwrap()
}

fn ip_here(tid: &str, args: &str) {
    let ns = format!("--net=/proc/{}/task/{tid}/ns/net", std::process::id());
    let st = std::process::Command::new("nsenter")
        .arg(ns)
        .arg("ip")
        .args(args.split(' '))
        .status()
        .unwrap();
    assert!(st.success(), "ip {args}");
}

fn start(filters: KernelFilters) -> SocketsProducer {
    SocketsProducer::start(&SocketsConfig {
        filters,
        ..SocketsConfig::default()
    })
    .unwrap()
}

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

fn dk_time(ev: &SockEvent) -> String {
    jiff::Timestamp::new(ev.header.time.secs, 0)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%b %-d %H:%M:%S")
        .to_string()
}

/// The time of the first event matching `op`, `errno` and `port`.
fn when(evs: &[Event], op: SockOp, errno: u32, port: u16) -> String {
    evs.iter()
        .find_map(|e| match e {
            Event::Sock(s)
                if s.op == op
                    && s.errno == errno
                    && (s.local.is_some_and(|l| l.1 == port)
                        || s.foreign.is_some_and(|f| f.1 == port)) =>
            {
                Some(dk_time(s))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {op:?} errno {errno} port {port} in {evs:#?}"))
}

#[test]
fn audit_lines_from_real_socket_events() {
    if !can_run(is_root(), "needs root for BPF and network namespaces") {
        return;
    }
    let netns = new_netns();
    let mut mine = start(KernelFilters {
        pid: Some(std::process::id()),
        ..KernelFilters::default()
    });
    let mut nobody = start(KernelFilters {
        uid: Some(65534),
        ..KernelFilters::default()
    });

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    let c = TcpStream::connect(("127.0.0.1", p)).unwrap();
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
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3", "-c"])
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
    let want = [
        format!(
            "{} SERVER: (0, 0) \"tcp!127.0.0.1!{p}\" Started by UID 0",
            when(&evs, Listen, 0, p)
        ),
        format!(
            "{} CONNECTION: (0, 0) \"tcp!127.0.0.1!{p}\" Started by UID 0",
            when(&evs, Connected, 0, p)
        ),
        format!(
            "{} CONNECTION: (0, 0) \"tcp!127.0.0.1!1\" Failed by UID 0",
            when(&evs, Connected, 111, 1)
        ),
        format!(
            "{} CONNECTION: (0, 0) \"tcp!10.98.0.7!80\" Failed by UID 0",
            when(&evs, Connected, 113, 80)
        ),
        format!(
            "{} SERVER: (0, 0) \"tcp!127.0.0.1!{p}\" Failed by UID 0",
            when(&evs, Bind, 98, p)
        ),
        format!(
            "{} SERVER: (0, 0) \"tcp!*!8080\" Started by UID 0",
            when(&evs, Listen, 0, 8080)
        ),
        format!(
            "{} SERVER: (0, 0) \"tcp!::1!8443\" Started by UID 0",
            when(&evs, Listen, 0, 8443)
        ),
        format!(
            "{} CONNECTION: (0, 0) \"tcp!::1!8443\" Started by UID 0",
            when(&evs, Connected, 0, 8443)
        ),
        format!(
            "{} SERVER: (0, 0) \"udp!*!5353\" Started by UID 0",
            when(&evs, Bind, 0, 5353)
        ),
        format!(
            "{} SERVER: (0, 0) \"tcp!127.0.0.1!80\" Failed by UID 65534",
            when(&evs, Bind, 13, 80)
        ),
    ];
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
    // The daemon itself runs now: tests/daemon.rs.
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
