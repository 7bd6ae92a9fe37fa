//! Privileged end-to-end tests of `inetmon sockets`: the binary watches a
//! helper process (by `--pid`) that runs in its own network namespace and
//! performs a refused TCP connect and a UDP send; the test checks the AHAFS
//! blocks, the line format and the JSON output.
//!
//! Skipped unless root, except under `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

mod common;

use std::time::Duration;

use common::Netns;

/// Root (BPF and network namespaces), or skip.
fn privileged() -> bool {
    common::require_privileged("inetmon sockets", &["ip", "python3"])
}

const SCRIPT: &str = "import socket,sys
sys.stdin.readline()
s=socket.socket()
try:
    s.connect(('127.0.0.1', 1))
except ConnectionRefusedError:
    pass
s.close()
u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b'x', ('127.0.0.1', 9))
u.close()
sys.stdin.readline()
";

/// Runs the helper under `inetmon sockets <args>` and returns the output.
fn run(args: &[&str], events: usize) -> (String, u32) {
    run_as(&[], args, events)
}

/// [`run`] with the monitor started as `PREFIX… inetmon <args>` (a
/// prefix naming the namespace as `{ns}`), e.g. `ip netns exec {ns}`; `args`
/// start with `sockets` when the prefix is not empty.
fn run_as(prefix: &[&str], args: &[&str], events: usize) -> (String, u32) {
    let ns = Netns::new();
    let mut helper = Command::new("ip")
        .args(["netns", "exec", ns.name(), "/usr/bin/python3", "-c", SCRIPT])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // `ip netns exec` execs python in place, so the pid is python's.
    let pid = helper.id();
    let bin = env!("CARGO_BIN_EXE_inetmon");
    let mut cmd = match prefix.split_first() {
        None => {
            let mut c = Command::new(bin);
            c.arg("sockets");
            c
        }
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest.iter().map(|a| a.replace("{ns}", ns.name())))
                .arg(bin);
            c
        }
    };
    let mut mon: Child = cmd
        .args(args)
        .args([
            "--pid",
            &pid.to_string(),
            "--count",
            &events.to_string(),
            "--duration",
            "120",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(mon.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(line, "inetmon sockets: attached\n");
    // The helper stays alive until the monitor is done, so that /proc
    // still has its command line (info level 3).
    let mut stdin = helper.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    let mut out = String::new();
    mon.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(mon.wait().unwrap().success());
    drop(stdin);
    assert!(helper.wait().unwrap().success());
    (out, pid)
}

#[test]
fn ahafs_blocks_for_refused_connect_and_udp_dynamic_bind() {
    if !privileged() {
        return;
    }
    // create, connected, close; create, dynbind, close: one streamConnect
    // block per connect (the outcome), as AHAFS has one PRU_CONNECT.
    let (out, pid) = run(&["--format", "ahafs"], 6);
    let blocks: Vec<&str> = out.split_inclusive("END_EVENT_INFO\n").collect();
    assert_eq!(blocks.len(), 6, "{out}");
    let mons: Vec<&str> = blocks
        .iter()
        .map(|b| {
            b.lines()
                .next()
                .unwrap()
                .trim_start_matches("AHAFS event: /aha/net/inetsock.monFactory/")
        })
        .collect();
    assert_eq!(
        mons,
        [
            "streamCreate.mon",
            "streamConnect.mon",
            "streamClose.mon",
            "dgramCreate.mon",
            "dgramBind.mon",
            "dgramClose.mon"
        ]
    );
    let lines = |i: usize| -> Vec<&str> { blocks[i].lines().collect() };
    let create = lines(0);
    assert_eq!(
        create[1],
        "---------------------------------------------------"
    );
    assert_eq!(create[2], "BEGIN_EVENT_INFO");
    assert!(create[3].starts_with("Time : "));
    assert_eq!(create[4], "Sequence Num: 1");
    assert_eq!(
        &create[5..],
        [
            "RC_FROM_EVPROD=0",
            "BEGIN_EVPROD_INFO",
            "PROG_NAME=python3",
            "SO_FAMILY=2",
            "SO_TYPE=1",
            "SO_PROTO=6",
            "SO_UID=0",
            &format!("SO_PID={pid}"),
            "END_EVPROD_INFO",
            "END_EVENT_INFO",
        ]
    );
    let outcome = lines(1);
    assert_eq!(outcome[4], "Sequence Num: 1");
    assert_eq!(outcome[5], "RC_FROM_EVPROD=111");
    assert_eq!(
        &outcome[13..16],
        ["SO_FADDR=127.0.0.1", "SO_FPORT=1", "SO_LADDR=127.0.0.1"]
    );
    // The port the kernel assigned, kept after the refusal; the close
    // has the same ends.
    let lport = outcome[16].strip_prefix("SO_LPORT=").unwrap();
    assert_ne!(lport, "0", "{out}");
    let close = lines(2);
    assert_eq!(
        &close[13..17],
        [
            "SO_LADDR=127.0.0.1",
            &format!("SO_LPORT={lport}"),
            "SO_FADDR=127.0.0.1",
            "SO_FPORT=1"
        ],
        "{out}"
    );
    let dynbind = lines(4);
    assert_eq!(dynbind[9], "SO_TYPE=2");
    assert_eq!(dynbind[13], "SO_LADDR=0.0.0.0");
    assert!(
        dynbind[14]
            .strip_prefix("SO_LPORT=")
            .unwrap()
            .parse::<u16>()
            .unwrap()
            > 0
    );
    assert_eq!(dynbind[15], "END_EVPROD_INFO");
}

/// One JSON record per line of `out`.
fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `op` of each record, separated by spaces.
fn ops(v: &[serde_json::Value]) -> String {
    let ops: Vec<&str> = v.iter().map(|e| e["op"].as_str().unwrap()).collect();
    ops.join(" ")
}

#[test]
fn json_and_line_formats() {
    if !privileged() {
        return;
    }
    let (out, pid) = run(&["--format", "json", "--info-level", "3"], 7);
    let v = json_lines(&out);
    assert_eq!(
        ops(&v),
        "create connect connected close create dynbind close"
    );
    assert_eq!(v[2]["error"], "ECONNREFUSED");
    assert_eq!(v[2]["attribution"], "owner");
    assert_eq!(v[2]["cookie"], v[1]["cookie"]);
    assert_eq!(v[0]["pid"], pid);
    assert_eq!(v[0]["kind"], "sock");
    assert!(v[0]["cmdline"].as_str().unwrap().contains("python3 -c"));
    let (out, _) = run(&["--watch", "streamConnect"], 2);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].contains(" connect ") && lines[0].contains("-> 127.0.0.1:1 ok"));
    assert!(
        lines[1].contains(" connected ")
            && lines[1].contains("ECONNREFUSED")
            && lines[1].contains(" owner")
    );
}

/// `--watch dgramBind`: only the helper's UDP dynamic bind on its first
/// send comes out (the sendmsg hooks stay attached for it); the TCP
/// operations and the UDP create/close never leave the kernel.
#[test]
fn watch_dgram_bind_reports_only_the_dynamic_bind() {
    if !privileged() {
        return;
    }
    let (out, pid) = run(&["--watch", "dgramBind", "--format", "json"], 1);
    let v = json_lines(&out);
    assert_eq!(v.len(), 1, "{out}");
    assert_eq!(v[0]["op"], "dynbind");
    assert_eq!(v[0]["pid"], pid);
}

/// SIGTERM while the output is blocked (a reader that never reads): the
/// programs are detached and the process exits within a second, and what
/// could not be written is counted in the summary (status 2). The same for
/// `inetmon sockets` and `inetmon monitor --type sock`.
#[test]
fn sigterm_ends_sockets_and_monitor_within_a_second_while_output_is_blocked() {
    if !privileged() {
        return;
    }
    for args in [&["sockets"][..], &["monitor", "--type", "sock"]] {
        let dir = tempfile::tempdir().unwrap();
        let err = dir.path().join("err.txt");
        let (took, code) = common::sigterm_with_stuck_output(
            Command::new(env!("CARGO_BIN_EXE_inetmon")).args(args),
            &err,
            || {
                common::wait_for(Duration::from_secs(120), || {
                    std::fs::read_to_string(&err)
                        .unwrap_or_default()
                        .contains("attached")
                        .then_some(())
                })
                .unwrap();
                common::loopback_connections(3000);
            },
        );
        let stderr = std::fs::read_to_string(&err).unwrap();
        assert!(
            took <= common::SIGTERM_EXIT_LIMIT,
            "{args:?} took {took:?}: {stderr}"
        );
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("events could not be written") && stderr.contains("events lost"),
            "{args:?}: {stderr}"
        );
    }
}

/// Run as uid 65534 without capabilities, `inetmon sockets` says in one
/// line what it needs, before any map or program is tried.
#[test]
fn unprivileged_is_one_line_naming_the_capabilities() {
    if !privileged() {
        return;
    }
    let out = Command::new("setpriv")
        .args(common::AS_NOBODY)
        .arg("--inh-caps=-all")
        .arg(env!("CARGO_BIN_EXE_inetmon"))
        .args(["sockets", "--duration", "5"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN"),
        "{err}"
    );
    assert!(!err.contains("map"), "{err}");
    assert!(out.stdout.is_empty());
}

/// `ip netns exec NS inetmon sockets`: `ip netns exec` remounts `/sys`
/// in a private mount namespace, without the cgroup2 mount the hooks
/// attach to; inetmon mounts one privately (and detached) instead.
#[test]
fn sockets_under_ip_netns_exec() {
    if !privileged() {
        return;
    }
    let (out, pid) = run_as(
        &["ip", "netns", "exec", "{ns}"],
        &["sockets", "--format", "json"],
        6,
    );
    let v = json_lines(&out);
    assert_eq!(
        ops(&v),
        "create connect connected close create dynbind",
        "{out}"
    );
    assert!(v.iter().all(|e| e["pid"] == pid), "{out}");
}

/// `monitor --type sock` under `ip netns exec` starts too (same loader).
#[test]
fn monitor_sock_under_ip_netns_exec() {
    if !privileged() {
        return;
    }
    let ns = Netns::new();
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(env!("CARGO_BIN_EXE_inetmon"))
        .args(["monitor", "--type", "sock", "--duration", "1"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // (Exit status 2 would be loss reported on a busy machine: not ours.)
    assert_ne!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("inetmon monitor: attached\n"), "{err}");
    assert!(!err.contains("cgroup"), "{err}");
}

/// `sockets --aha DIR`: the command mounts the AHAFS files and feeds them
/// the events that pass its filters; the Python consumer reads a
/// streamListen block at `INFO_LVL=3` (which carries the command line, from
/// the shared process cache); the files are unmounted when the command
/// stops.
#[test]
fn aha_files_mounted_by_sockets() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("aha");
    std::fs::create_dir(&mnt).unwrap();
    let err = dir.path().join("sockets.err");
    // The listening thread's name, of this process alone: a test run
    // going on at once has its own.
    let comm = format!("ahl2-{}", std::process::id());
    let mut mon = common::Bg::spawn_to(
        Command::new(env!("CARGO_BIN_EXE_inetmon")).args([
            "sockets",
            "--local",
            "--comm",
            &comm,
            "--aha",
            mnt.to_str().unwrap(),
        ]),
        &dir.path().join("sockets.out"),
        &err,
    );
    let fac = mnt.join("net/inetsock.monFactory");
    assert!(
        common::wait_for(Duration::from_secs(120), || fac.is_dir().then_some(())).is_some(),
        "{:?}",
        common::lines_of(&err)
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inetmon-io/tests/aha/consumer.py");
    let out = dir.path().join("consumer.out");
    let mut py = common::Bg::spawn_to(
        Command::new("python3")
            .arg(script)
            .arg(fac.join("streamListen.mon"))
            .arg("CHANGED=YES;WAIT_TYPE=WAIT_IN_SELECT;INFO_LVL=3;NOTIFY_CNT=1"),
        &out,
        &dir.path().join("consumer.err"),
    );
    common::wait_for_line(&out, "armed", Duration::from_secs(60), &err);
    let l = std::thread::Builder::new()
        .name(comm.clone())
        .spawn(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap()
        .join()
        .unwrap();
    let port = l.local_addr().unwrap().port();
    let text = common::wait_for_line(&out, "EOF", Duration::from_secs(60), &err).join("\n");
    assert!(text.contains("streamListen"), "{text}");
    assert!(text.contains(&format!("SO_LPORT={port}")), "{text}");
    assert_eq!(
        common::wait_for(Duration::from_secs(60), || py.try_wait()),
        Some(Some(0))
    );
    assert_eq!(mon.stop(), Some(0), "{:?}", common::lines_of(&err));
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(mnt.to_str().unwrap()), "{mounts}");
}
