//! Privileged end-to-end tests of the AHAFS file interface: a real FUSE
//! mount in a temporary directory, real socket events from the eBPF
//! producer (in a fresh network namespace), and real consumers — a C
//! program written from the AIX documentation's usage pattern (compiled
//! here with `cc`; `read` and `select` variants) and Python ones
//! (`select.poll`).
//!
//! Skipped (with a printed reason) unless root, except under
//! `INETMON_REQUIRE_PRIVILEGED=1`, where they fail instead.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use inetmon_core::event::{Event, Monitor, SockEvent};
use inetmon_core::format::ahafs::{AhafsFormatter, InfoLevel};
use inetmon_io::aha::AhaFs;
use inetmon_io::sockets::{KernelFilters, SocketsConfig, SocketsProducer};
use jiff::tz::TimeZone;

use common::{new_netns, privileged};

fn me() -> u32 {
    std::process::id()
}

fn my_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .unwrap()
        .trim_end()
        .to_string()
}

fn producer() -> SocketsProducer {
    SocketsProducer::start(&SocketsConfig {
        filters: KernelFilters {
            pid: Some(me()),
            ..KernelFilters::default()
        },
        ..SocketsConfig::default()
    })
    .unwrap()
}

/// Moves events of `netns` from the producer to `aha` until none came for
/// `quiet`; returns them.
fn pump(p: &mut SocketsProducer, aha: &AhaFs, netns: u32, quiet: Duration) -> Vec<SockEvent> {
    let mut evs = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        let n = p
            .poll(Duration::from_millis(20), &mut |e| {
                if let Event::Sock(s) = e {
                    if s.netns == netns {
                        aha.publish(&s);
                        evs.push(*s);
                    }
                }
            })
            .unwrap();
        if n > 0 {
            last = Instant::now();
        }
    }
    evs
}

fn factory(dir: &Path) -> PathBuf {
    dir.join("net/inetsock.monFactory")
}

/// Compiles the C consumer into `dir`.
fn c_consumer(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aha/consumer.c");
    let bin = dir.join("consumer");
    let out = Command::new("cc")
        .args(["-Wall", "-Werror", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/aha")
        .join(name)
}

/// The file system mounted (times in UTC) on a new directory `dir/aha`.
fn mount_aha(dir: &Path) -> (PathBuf, AhaFs) {
    let mnt = dir.join("aha");
    std::fs::create_dir(&mnt).unwrap();
    let aha = AhaFs::mount(&mnt, TimeZone::UTC).unwrap();
    (mnt, aha)
}

/// Starts a consumer and waits for its "armed" line.
fn spawn_armed(cmd: &mut Command) -> (Child, BufReader<ChildStdout>) {
    spawn_saying(cmd, &["armed\n"])
}

/// Starts a consumer and waits until its first lines were `first`.
fn spawn_saying(cmd: &mut Command, first: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    for want in first {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, *want);
    }
    (child, out)
}

/// Waits (up to 60 s) until each process sleeps in the kernel (state `S`
/// with a wait channel): a consumer past its "armed" line then waits in
/// read, select or poll. (A fixed pause was not always enough on a loaded
/// machine.)
fn wait_blocked(pids: &[u32]) {
    for pid in pids {
        let blocked = common::wait_for(Duration::from_secs(60), || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).ok()?;
            (state == 'S' && !wchan.is_empty() && wchan != "0").then_some(())
        });
        assert!(blocked.is_some(), "consumer {pid} never blocked");
    }
}

/// The rest of a consumer's output, after it exits (bounded wait).
fn finish(mut child: Child, mut out: BufReader<ChildStdout>) -> String {
    let end = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("consumer did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut s = String::new();
    out.read_to_string(&mut s).unwrap();
    assert!(child.wait().unwrap().success(), "consumer failed: {s}");
    s
}

/// Replaces the `Time : …` lines (wall clock) with a fixed one.
fn untime(s: &str) -> String {
    s.lines()
        .map(|l| {
            if l.starts_with("Time : ") {
                "Time : T"
            } else {
                l
            }
        })
        .fold(String::new(), |mut acc, l| {
            acc.push_str(l);
            acc.push('\n');
            acc
        })
}

fn head(mon: &str, seq: u64) -> String {
    format!("AHAFS event: /aha/net/inetsock.monFactory/{mon}.mon\n---------------------------------------------------\nBEGIN_EVENT_INFO\nTime : T\nSequence Num: {seq}\nRC_FROM_EVPROD=0\n")
}

/// Two TCP listeners on 127.0.0.1 in a fresh namespace; three consumers of
/// three monitor files: C `read` (streamCreate, INFO_LVL=2), C `select`
/// (streamListen, INFO_LVL=2) and Python `poll` (streamBind, INFO_LVL=1),
/// each `NOTIFY_CNT=2` so each ends with end of file after exactly the
/// blocks of the two sockets.
#[test]
fn c_and_python_consumers_get_real_socket_events() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = c_consumer(dir.path());
    let netns = new_netns();
    let mut p = producer();
    let (mnt, aha) = mount_aha(dir.path());
    let fac = factory(&mnt);
    let names: Vec<String> = std::fs::read_dir(&fac)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(names.contains(&"streamClose.mon".to_string()));

    let (c_read, c_read_out) = spawn_armed(
        Command::new(&bin)
            .arg(fac.join("streamCreate.mon"))
            .arg("CHANGED=YES;WAIT_TYPE=WAIT_IN_READ;INFO_LVL=2;NOTIFY_CNT=2")
            .arg("read"),
    );
    let (c_sel, c_sel_out) = spawn_armed(
        Command::new(&bin)
            .arg(fac.join("streamListen.mon"))
            .arg("CHANGED=YES;WAIT_TYPE=WAIT_IN_SELECT;INFO_LVL=2;NOTIFY_CNT=2")
            .arg("select"),
    );
    let (py, py_out) = spawn_armed(
        Command::new("python3")
            .arg(script("consumer.py"))
            .arg(fac.join("streamBind.mon"))
            .arg("CHANGED=YES;WAIT_TYPE=WAIT_IN_SELECT;INFO_LVL=1;NOTIFY_CNT=2"),
    );
    assert_eq!(aha.stats().open, 3);
    // Let the consumers block in read/select/poll first.
    wait_blocked(&[c_read.id(), c_sel.id(), py.id()]);

    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let ports = [
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    ];
    let evs = pump(&mut p, &aha, netns, Duration::from_millis(300));
    assert!(evs.len() >= 6, "{evs:?}");

    let comm = my_comm();
    let pid = me();
    let common = format!(
        "BEGIN_EVPROD_INFO\nPROG_NAME={comm}\nSO_FAMILY=2\nSO_TYPE=1\nSO_PROTO=6\nSO_UID=0\nSO_PID={pid}\n"
    );
    let want_create: String = (1..=2)
        .map(|q| {
            format!(
                "{}{common}END_EVPROD_INFO\nEND_EVENT_INFO\n",
                head("streamCreate", q)
            )
        })
        .chain(["EOF\n".to_string()])
        .collect();
    assert_eq!(untime(&finish(c_read, c_read_out)), want_create);

    let want_listen: String = (1..=2)
        .map(|q| {
            format!(
                "{}{common}SO_LADDR=127.0.0.1\nSO_LPORT={}\nEND_EVPROD_INFO\nEND_EVENT_INFO\n",
                head("streamListen", q),
                ports[q as usize - 1]
            )
        })
        .chain(["EOF\n".to_string()])
        .collect();
    assert_eq!(untime(&finish(c_sel, c_sel_out)), want_listen);

    let want_bind: String = (1..=2)
        .map(|q| format!("{}END_EVENT_INFO\n", head("streamBind", q)))
        .chain(["EOF\n".to_string()])
        .collect();
    assert_eq!(untime(&finish(py, py_out)), want_bind);
    drop((a, b));
    assert_eq!(aha.stats().lost, 0);
    drop(aha);
    // Unmounted: the factory directory is gone.
    assert!(!fac.exists());
}

/// Consumer protocol with a real streamCreate event replayed: a malformed
/// specification fails the write with EINVAL; two subscriptions to the same
/// file are independent (own level, buffer and sequence numbers); the one
/// with the small buffer overflows and reports it first in its data.
#[test]
fn bad_spec_overflow_and_independent_subscriptions() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let netns = new_netns();
    let mut p = producer();
    let (mnt, aha) = mount_aha(dir.path());
    let fac = factory(&mnt);

    // The C consumer's refused write.
    let bin = c_consumer(dir.path());
    let out = Command::new(&bin)
        .arg(fac.join("dgramBind.mon"))
        .arg("CHANGED=YES;WAIT_TYPE=WAIT_IN_NOWHERE")
        .arg("read")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "write: EINVAL\n");

    let (mut py, py_out) = spawn_saying(
        Command::new("python3")
            .arg(script("overflow.py"))
            .arg(fac.join("streamCreate.mon")),
        &["bad: EINVAL\n", "armed\n"],
    );

    // One real event, replayed.
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let real = pump(&mut p, &aha, netns, Duration::from_millis(300));
    drop((s, l));
    let create = real
        .iter()
        .find(|e| e.monitor() == Some(Monitor::StreamCreate))
        .unwrap()
        .clone();
    let total = 40u64;
    // The pump already published the real one once.
    for _ in 1..total {
        aha.publish(&create);
    }
    let mut f2 = AhafsFormatter::new(InfoLevel::Two, TimeZone::UTC);
    let mut block2 = Vec::new();
    f2.write(&create, &mut block2).unwrap();
    let fit = 4096 / block2.len() as u64;
    let lost = total - fit;
    assert_eq!(aha.stats().lost, lost);

    py.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = untime(&finish(py, py_out));
    let text = |lvl2: bool, q: u64| {
        let mut f = AhafsFormatter::new(
            if lvl2 { InfoLevel::Two } else { InfoLevel::One },
            TimeZone::UTC,
        );
        let mut v = Vec::new();
        f.write(&create, &mut v).unwrap();
        untime(&String::from_utf8(v).unwrap())
            .replace("Sequence Num: 1\n", &format!("Sequence Num: {q}\n"))
    };
    let a: String = std::iter::once(format!("AHAFS event: /aha/net/inetsock.monFactory/streamCreate.mon\n---------------------------------------------------\nBEGIN_EVENT_INFO\nBUF_WRAP\nLOST_EVENTS={lost}\nEND_EVENT_INFO\n"))
        .chain((lost + 1..=total).map(|q| text(true, q)))
        .collect();
    let b: String = (1..=total).map(|q| text(false, q)).collect();
    let want = format!("A\n{a}B\n{b}");
    assert_eq!(out, want);
}

/// Dropping the file system while a consumer still holds a monitor file
/// open (blocked in `read`) neither waits for the consumer nor leaves the
/// mount in place; the consumer's read fails.
#[test]
fn drop_with_a_consumer_blocked_unmounts_at_once() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = c_consumer(dir.path());
    let (mnt, aha) = mount_aha(dir.path());
    let (mut c, out) = spawn_armed(
        Command::new(&bin)
            .arg(factory(&mnt).join("streamAccept.mon"))
            .arg("CHANGED=YES;WAIT_TYPE=WAIT_IN_READ")
            .arg("read"),
    );
    wait_blocked(&[c.id()]);
    let t = Instant::now();
    drop(aha);
    // At once (a loaded machine may take a few seconds for it): not
    // waiting for the blocked consumer, which never gives up by itself.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(mnt.to_str().unwrap()), "{mounts}");
    // The parked read was answered with an error.
    let end = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "consumer still blocked");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    drop(out);
}
