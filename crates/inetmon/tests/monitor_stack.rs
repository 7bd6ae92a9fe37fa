//! End-to-end tests of `inetmon monitor --stack`: the from-stack/to-stack
//! trace points (cgroup skb programs on the cgroup v2 root) name the
//! process that owns each packet's socket. A server and a client, each a
//! real process with its own comm, talk TCP on `lo` inside a network
//! namespace the test makes; the monitor runs in the host namespace (the
//! cgroup hooks see every namespace). Privileged: skips without root,
//! except under `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

use common::{inetmon, lines_of, require_privileged, start_monitor, wait_for, Bg, Netns};

/// The server: renames itself, listens on 127.0.0.1:`port`, says so in
/// `ready`, accepts one connection, reads, answers, closes.
fn server_script(ready: &str, port: u16) -> String {
    format!(
        "import socket\n\
         open('/proc/self/comm', 'w').write('inetmon-server')\n\
         l = socket.socket(); l.bind(('127.0.0.1', {port})); l.listen()\n\
         open('{ready}', 'w').close()\n\
         s, _ = l.accept(); s.recv(10); s.send(b'pong'); s.close()\n"
    )
}

/// The client: renames itself, prints its pid, connects to 127.0.0.1:ARGV1,
/// sends, reads.
const CLIENT: &str = "import os, socket, sys\n\
     open('/proc/self/comm', 'w').write('inetmon-client')\n\
     print(os.getpid(), flush=True)\n\
     c = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); c.send(b'ping'); c.recv(10); c.close()\n";

#[test]
fn stack_points_name_the_sending_and_receiving_process() {
    if !require_privileged(
        "stack_points_name_the_sending_and_receiving_process",
        &["python3"],
    ) {
        return;
    }
    let ns = Netns::new();
    let inode = std::fs::metadata(format!("/var/run/netns/{}", ns.name()))
        .unwrap()
        .ino();
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("text"), dir.path().join("text.err"));
    let (jout, jerr) = (dir.path().join("json"), dir.path().join("json.err"));
    // The monitor sees every namespace: a port of our own, so that no
    // other test's connection shows up among ours.
    let lease = common::lease_port();
    let lport = lease.port;
    let port = lport.to_string();
    let timeout = Duration::from_secs(60);
    let mut text = start_monitor(
        &mut Command::new(inetmon()),
        &["--stack", "--port", &port],
        &out,
        &err,
        timeout,
    );
    let mut json = start_monitor(
        &mut Command::new(inetmon()),
        &["--stack", "--port", &port, "-j"],
        &jout,
        &jerr,
        timeout,
    );

    let ready = dir.path().join("ready");
    let mut server = Bg::spawn(
        ns.cmd("python3")
            .args(["-c", &server_script(ready.to_str().unwrap(), lport)]),
        &dir.path().join("server.err"),
    );
    let server_pid = server.pid();
    wait_for(timeout, || ready.exists().then_some(())).expect("server listening");
    let client = ns
        .cmd("python3")
        .args(["-c", CLIENT, &port])
        .output()
        .unwrap();
    assert!(client.status.success(), "{client:?}");
    let client_pid: u32 = String::from_utf8_lossy(&client.stdout)
        .trim()
        .parse()
        .unwrap();
    // The server exits by itself once it has answered; SIGTERM here would
    // race its last `close()` (CI once saw it killed, not exited).
    let exit = wait_for(timeout, || server.try_wait()).expect("server exits");
    assert_eq!(
        exit,
        Some(0),
        "{:?}",
        lines_of(&dir.path().join("server.err"))
    );

    let client_syn =
        format!("<- stack interface lo, pid {client_pid} (inetmon-client): 127.0.0.1:");
    let server_syn =
        format!("-> stack interface lo, pid {server_pid} (inetmon-server): 127.0.0.1:");
    let synack = format!(
        "<- stack interface lo, pid {server_pid} (inetmon-server): 127.0.0.1:{lport} -> 127.0.0.1:"
    );
    let wanted = |lines: &[String]| {
        let has =
            |prefix: &str, end: &str| lines.iter().any(|l| l.contains(prefix) && l.ends_with(end));
        has(&client_syn, &format!(":{lport} tcp SYN"))
            && has(&server_syn, &format!(":{lport} tcp SYN"))
            && has(&synack, " tcp SYN, ACK")
    };
    wait_for(timeout, || wanted(&lines_of(&out)).then_some(()))
        .unwrap_or_else(|| panic!("monitor lines:\n{:#?}", lines_of(&out)));
    // The JSON of the client's SYN: owner, namespace, socket cookie.
    let syn = wait_for(timeout, || {
        lines_of(&jout).iter().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["point"] == "from-stack" && v["dport"] == lport && v["pid"] == client_pid)
                .then_some(v)
        })
    })
    .unwrap_or_else(|| panic!("monitor JSON:\n{:#?}", lines_of(&jout)));
    assert_eq!(text.stop(), Some(0));
    assert_eq!(json.stop(), Some(0));
    assert_eq!(syn["comm"], "inetmon-client");
    assert_eq!(syn["tid"], client_pid, "single-threaded client");
    assert_eq!(syn["netns"], inode, "{syn}");
    assert!(syn["sock_cookie"].as_u64().is_some_and(|c| c != 0), "{syn}");
    assert!(
        syn["summary"]
            .as_str()
            .is_some_and(|s| s.ends_with(&format!(":{lport} tcp SYN"))),
        "{syn}"
    );
    // Every line of the connection names one of the two processes.
    for l in lines_of(&out) {
        assert!(
            l.contains(&format!("pid {client_pid} (inetmon-client)"))
                || l.contains(&format!("pid {server_pid} (inetmon-server)")),
            "{l}"
        );
    }
}

/// `--stack` is a trace source: refused with kinds that do not trace.
#[test]
fn stack_needs_traces() {
    let r = common::inetmon_run(&["monitor", "--stack", "--type", "drop"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(
        r.stderr_lines(),
        ["inetmon: --stack traces packets: use it with --type trace (or without --type)"]
    );
}
