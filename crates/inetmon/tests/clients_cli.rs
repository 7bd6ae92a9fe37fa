//! Privileged end-to-end tests of client mode: a real `inetmon daemon`
//! (its own socket and journal), `inetmon sockets` / `ipmon` as its
//! clients, real workloads in network namespaces.
//!
//! - `inetmon sockets` through the daemon prints what `inetmon sockets
//!   --local` prints for the same workload, both watching at once (line
//!   and JSON formats; the timestamps are compared apart, see below).
//! - 50 clients and a stopped one (SIGSTOP) under a connection storm: no
//!   producer loss; the stopped client, resumed, reports its own loss.
//! - uid 65534 with `inetmon` as a supplementary group watches without
//!   root; without the group it is refused in one line; a client of
//!   another protocol version gets the line naming both versions; a
//!   non-root client asking for an NFLOG group the daemon does not read
//!   gets that in one line.
//!
//! Skipped unless root, except under `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{lines_of, wait_for, wait_for_line, Bg, Daemon, Netns};

fn privileged() -> bool {
    common::require_privileged("client mode", &["ip", "python3", "setpriv", "groupadd"])
}

/// `n` loopback connections to `port` (connect, accept, close both), a
/// listener bound and closed around them.
///
/// The daemon sees the socket events of every namespace: each test's port
/// is its own [`common::lease_port`] (below the kernel's ephemeral range,
/// and unique among the test processes running at once), so that no other
/// connection on the machine adds events to what the tests count.
fn storm_script(port: u16, n: u32) -> String {
    format!(
        "import socket
l=socket.socket(); l.bind(('127.0.0.1',{port})); l.listen(128)
for i in range({n}):
    c=socket.create_connection(('127.0.0.1',{port})); s,_=l.accept(); c.close(); s.close()
l.close()
u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1',{port})); u.close()
"
    )
}

/// The group `inetmon`'s gid, created when missing (before the daemon
/// starts: it looks the group up then).
fn inetmon_gid() -> u32 {
    let lookup = || {
        let out = Command::new("getent")
            .args(["group", "inetmon"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .split(':')
            .nth(2)?
            .trim()
            .parse()
            .ok()
    };
    if lookup().is_none() {
        common::must(Command::new("groupadd").args(["--system", "inetmon"]));
    }
    lookup().unwrap()
}

/// Waits until every stderr file says `attached`.
fn wait_attached(errs: &[std::path::PathBuf]) {
    for e in errs {
        // Loading BPF programs on a loaded machine can take a while.
        wait_for_line(e, "attached", Duration::from_secs(120), e);
    }
}

/// A line-format socket line without its `YYYY-MM-DD HH:MM:SS.uuuuuu `
/// time, and that time in microseconds of the day.
fn split_line_time(line: &str) -> (String, i64) {
    let (date, rest) = line.split_at(27);
    let hms = &date[11..26];
    let us = hms[0..2].parse::<i64>().unwrap() * 3_600_000_000
        + hms[3..5].parse::<i64>().unwrap() * 60_000_000
        + hms[6..8].parse::<i64>().unwrap() * 1_000_000
        + hms[9..15].parse::<i64>().unwrap();
    (rest.to_owned(), us)
}

/// A JSON socket line without `time` and `seq`, and its time in ns.
fn split_json_time(line: &str) -> (serde_json::Value, i64) {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    let o = v.as_object_mut().unwrap();
    let t = o.remove("time").unwrap();
    o.remove("seq");
    let t = t.as_str().unwrap();
    // `…THH:MM:SS.nnnnnnnnnZ`
    let hms = &t[11..29];
    let ns = hms[0..2].parse::<i64>().unwrap() * 3_600_000_000_000
        + hms[3..5].parse::<i64>().unwrap() * 60_000_000_000
        + hms[6..8].parse::<i64>().unwrap() * 1_000_000_000
        + hms[9..18].parse::<i64>().unwrap();
    (v, ns)
}

#[test]
fn sockets_through_the_daemon_print_what_local_prints() {
    if !privileged() {
        return;
    }
    let lease = common::lease_port();
    let d = Daemon::start(
        "same",
        &format!("[sockets.filters]\nport = {}\n", lease.port),
    );
    let port = &lease.port.to_string();
    let mut runs = Vec::new();
    for (name, extra) in [
        ("remote-line", &[][..]),
        ("local-line", &["--local"][..]),
        ("remote-json", &["--format", "json"][..]),
        ("local-json", &["--local", "--format", "json"][..]),
    ] {
        let (out, err) = (
            d.file(&format!("{name}.out")),
            d.file(&format!("{name}.err")),
        );
        let mut c = d.client(&["sockets", "--port", port]);
        c.args(extra);
        runs.push((Bg::spawn_to(&mut c, &out, &err), out, err));
    }
    let errs: Vec<_> = runs.iter().map(|r| r.2.clone()).collect();
    wait_attached(&errs);
    assert!(lines_of(&errs[0])[0].starts_with("inetmon sockets: attached (through the daemon at "));
    assert_eq!(lines_of(&errs[1])[0], "inetmon sockets: attached");
    let ns = Netns::new();
    common::must(
        ns.cmd("/usr/bin/python3")
            .args(["-c", &storm_script(lease.port, 20)]),
    );
    // 20 connections × 7 events with a port, listener bind/listen/close,
    // UDP bind/close.
    let want = 20 * 7 + 3 + 2;
    for (_, out, _) in &runs {
        wait_for(Duration::from_secs(90), || {
            (lines_of(out).len() >= want).then_some(())
        });
    }
    std::thread::sleep(Duration::from_millis(300));
    for (bg, _, _) in &mut runs {
        assert_eq!(bg.stop(), Some(0));
    }
    let text: Vec<Vec<String>> = runs.iter().map(|r| lines_of(&r.1)).collect();
    assert_eq!(text[0].len(), want, "{:#?}", text[0]);
    // Line format: identical apart from the time, which each process
    // derives from the kernel's monotonic clock with its own estimate of
    // where that clock's zero is on the wall clock, re-taken every second.
    // Quiet, the estimates agree within a microsecond; but CI saw them
    // 52 µs apart on a loaded VM whose wall clock is adjusted against the
    // monotonic one between the two processes' estimates. A millisecond
    // still catches a wrong clock or a wrong unit.
    const TOLERANCE_US: i64 = 1_000;
    let (remote, local): (Vec<_>, Vec<_>) = (
        text[0].iter().map(|l| split_line_time(l)).collect(),
        text[1].iter().map(|l| split_line_time(l)).collect(),
    );
    for (r, l) in remote.iter().zip(&local) {
        assert_eq!(r.0, l.0);
        assert!((r.1 - l.1).abs() <= TOLERANCE_US, "{} vs {}", r.1, l.1);
    }
    assert_eq!(remote.len(), local.len());
    // JSON: identical apart from the time (as above) and `seq`, which
    // numbers what each producer saw: the daemon's sees every socket
    // event, the local one only those its in-kernel --port filter passes.
    assert_eq!(text[2].len(), want);
    assert_eq!(text[2].len(), text[3].len());
    for (r, l) in text[2].iter().zip(&text[3]) {
        let (r, l) = (split_json_time(r), split_json_time(l));
        assert_eq!(r.0, l.0);
        assert!(
            (r.1 - l.1).abs() <= TOLERANCE_US * 1_000,
            "{} vs {}",
            r.1,
            l.1
        );
    }
}

#[test]
fn fifty_clients_and_a_stopped_one_under_a_storm() {
    if !privileged() {
        return;
    }
    let lease = common::lease_port();
    let port = lease.port;
    let d = Daemon::start("fanout", &format!("[sockets.filters]\nport = {port}\n"));
    let connections = 2000;
    let mut clients = Vec::new();
    for i in 0..51 {
        let (out, err) = (d.file(&format!("c{i}.out")), d.file(&format!("c{i}.err")));
        let mut c = d.client(&["sockets", "--port", &port.to_string(), "--format", "json"]);
        clients.push((Bg::spawn_to(&mut c, &out, &err), out, err));
    }
    let errs: Vec<_> = clients.iter().map(|r| r.2.clone()).collect();
    wait_attached(&errs);
    let stopped = clients.pop().unwrap();
    common::must(Command::new("kill").args(["-STOP", &stopped.0.pid().to_string()]));
    let ns = Netns::new();
    // A loaded machine may take a while for 2000 connections in Python.
    let r = common::run(
        ns.cmd("/usr/bin/python3")
            .args(["-c", &storm_script(port, connections)]),
        Duration::from_secs(180),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let want = connections as usize * 7 + 3 + 2;
    let count = |p: &std::path::Path| {
        lines_of(p)
            .iter()
            .filter(|l| l.contains("\"kind\":\"sock\""))
            .count()
    };
    for (_, out, _) in &clients {
        wait_for(Duration::from_secs(60), || {
            (count(out) >= want).then_some(())
        });
    }
    common::must(Command::new("kill").args(["-CONT", &stopped.0.pid().to_string()]));
    // Its queue drains, then its loss report comes.
    let lost_line = |p: &std::path::Path| {
        lines_of(p)
            .into_iter()
            .filter(|l| l.contains("\"kind\":\"lost\""))
            .collect::<Vec<_>>()
    };
    wait_for(Duration::from_secs(60), || {
        (!lost_line(&stopped.1).is_empty()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let mut stopped = stopped;
    let code = stopped.0.stop();
    let mut others_lost = 0;
    for (bg, out, _) in &mut clients {
        bg.stop();
        let lost = lost_line(out);
        // Producer loss (kernel ring, pipeline) would reach every client
        // as a lost event of the sockets source: there is none.
        for l in &lost {
            assert!(l.contains("\"source\":\"pipeline\""), "{l}");
            assert!(l.contains("client_queue"), "{l}");
        }
        others_lost += lost.len();
        if lost.is_empty() {
            assert_eq!(count(out), want, "{}", out.display());
        }
    }
    let lost = lost_line(&stopped.1);
    let n: usize = lost
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["source"], "pipeline", "{l}");
            assert_eq!(v["stage"], "sink", "{l}");
            usize::try_from(v["count"].as_u64().unwrap()).unwrap()
        })
        .sum();
    println!(
        "stopped client: {} events + {n} reported lost of {want}; {others_lost} loss reports among the 50 others",
        count(&stopped.1)
    );
    assert!(n > 0);
    assert_eq!(count(&stopped.1) + n, want);
    // Lost events make the exit status 2.
    assert_eq!(code, Some(2));
    let log = std::fs::read_to_string(&d.log).unwrap();
    assert!(!log.contains("lost"), "{log}");
}

/// Runs `inetmon ARGS` as uid/gid 65534 with `groups` (comma-separated
/// gids, or empty for none) as its supplementary groups.
fn as_nobody(d: &Daemon, groups: &str, args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534"]);
    if groups.is_empty() {
        c.arg("--clear-groups");
    } else {
        c.arg(format!("--groups={groups}"));
    }
    c.arg(common::inetmon())
        .args(args)
        .env("INETMON_SOCKET", &d.socket)
        .env("TZ", "UTC");
    c
}

#[test]
fn a_member_of_group_inetmon_watches_without_root_others_are_refused() {
    if !privileged() {
        return;
    }
    let gid = inetmon_gid();
    let lease = common::lease_port();
    let port = lease.port.to_string();
    let d = Daemon::start("perm", &format!("[sockets.filters]\nport = {port}\n"));
    let (out, err) = (d.file("member.out"), d.file("member.err"));
    let mut member = Bg::spawn_to(
        &mut as_nobody(
            &d,
            &gid.to_string(),
            &["sockets", "--port", &port, "--count", "3"],
        ),
        &out,
        &err,
    );
    wait_attached(std::slice::from_ref(&err));
    let ns = Netns::new();
    common::must(
        ns.cmd("/usr/bin/python3")
            .args(["-c", &storm_script(lease.port, 1)]),
    );
    assert!(
        wait_for(Duration::from_secs(60), || member.try_wait()).is_some(),
        "the member's client did not stop after --count 3"
    );
    let lines = lines_of(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].contains(" bind ") && lines[1].contains(" listen "),
        "{lines:?}"
    );

    // Not in the group: the socket's mode refuses the connection.
    let r = common::run(
        &mut as_nobody(&d, "", &["sockets", "--count", "1"]),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        format!(
            "inetmon: {}: permission denied: only root and members of group inetmon may watch through the daemon\n",
            d.socket.display()
        )
    );

    // Another protocol version: one clear line naming both.
    let py = format!(
        "import socket,struct,sys
s=socket.socket(socket.AF_UNIX); s.connect('{}')
b=b'INMN'+struct.pack('>H',2)+b'{{}}'
s.sendall(struct.pack('>I',len(b)+1)+b'\\x01'+b)
n=struct.unpack('>I',s.recv(4))[0]; f=b''
while len(f)<n: f+=s.recv(n-len(f))
sys.stdout.write('%d %d %s' % (f[0], f[1], f[2:].decode()))
",
        d.socket.display()
    );
    let r = common::run(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534"])
            .arg(format!("--groups={gid}"))
            .args(["/usr/bin/python3", "-c", &py]),
        Duration::from_secs(60),
    );
    assert_eq!(
        r.stdout,
        "3 1 protocol version mismatch: this client speaks inetmon client protocol version 2, the daemon speaks version 1 (use an inetmon of the daemon's version, or --local)"
    );

    // A non-root member asking for what the daemon does not collect.
    let r = common::run(
        &mut as_nobody(&d, &gid.to_string(), &["ipmon", "-f", "nflog:7"]),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        "inetmon: the daemon refused: the daemon does not collect packet events (it collects: sock)\n"
    );
    // The daemon logs refusals between events (at its next flush).
    wait_for_line(
        &d.log,
        "client refused (uid 65534 pid ",
        Duration::from_secs(60),
        &d.log,
    );
}

/// A SIGHUP that changes the daemon's configuration restarts its
/// producers but not its clients' connections: a client watching socket
/// events goes on printing them after the reload, and one watching
/// conntrack state events, which the new configuration no longer
/// collects, ends with the daemon's reason.
#[test]
fn clients_stay_connected_across_a_reload() {
    if !privileged() {
        return;
    }
    let lease = common::lease_port();
    let port = lease.port;
    let port_s = port.to_string();
    let sockets = format!("[sockets.filters]\nport = {port}\n");
    let d = Daemon::start("reload", &format!("{sockets}[conntrack]\nenabled = true\n"));
    let mut runs = Vec::new();
    for (name, args) in [
        ("sockets", &["sockets", "--port", &port_s][..]),
        ("state", &["monitor", "--type", "state"][..]),
    ] {
        let (out, err) = (
            d.file(&format!("{name}.out")),
            d.file(&format!("{name}.err")),
        );
        runs.push((Bg::spawn_to(&mut d.client(args), &out, &err), out, err));
    }
    let errs: Vec<_> = runs.iter().map(|r| r.2.clone()).collect();
    wait_attached(&errs);
    assert!(
        lines_of(&errs[1])[0].contains("through the daemon"),
        "{:?}",
        lines_of(&errs[1])
    );

    // The same without conntrack.
    d.reload(&format!("{sockets}[conntrack]\nenabled = false\n"), 2);
    let (mut sock, mut state) = (runs.remove(0), runs.remove(0));
    let ended = wait_for(Duration::from_secs(60), || state.0.try_wait());
    assert_eq!(ended, Some(Some(1)), "{:?}", lines_of(&state.2));
    let why = lines_of(&state.2).join("\n");
    assert!(
        why.contains("the daemon refused: the daemon does not collect state events"),
        "{why}"
    );

    // The socket client is still there and sees what happens now.
    assert_eq!(
        sock.0.try_wait(),
        None::<Option<i32>>,
        "{:?}",
        lines_of(&sock.2)
    );
    let ns = Netns::new();
    common::must(
        ns.cmd("/usr/bin/python3")
            .args(["-c", &storm_script(port, 3)]),
    );
    let want = 3 * 7 + 3 + 2;
    wait_for(Duration::from_secs(60), || {
        (lines_of(&sock.1).len() >= want).then_some(())
    })
    .unwrap_or_else(|| panic!("{:#?}\n{:?}", lines_of(&sock.1), lines_of(&sock.2)));
    assert_eq!(sock.0.stop(), Some(0), "{:?}", lines_of(&sock.2));
    assert_eq!(lines_of(&sock.1).len(), want, "{:#?}", lines_of(&sock.1));
}
