//! The daemon's client hub served by a test harness: a real socket-event
//! producer (eBPF) feeding a consumer whose one sink is the hub, and real
//! clients on the unix socket, some of them separate processes running
//! as uid 65534.
//!
//! - 50 clients and one that does not read during a connection storm:
//!   the producer loses nothing, every client's events plus the losses
//!   reported to it equal what the hub saw, and the stalled client gets
//!   a `Lost` event (client_queue) once it reads again.
//! - Permissions: a member of group `inetmon` (uid 65534 with it as a
//!   supplementary group) is welcomed; a non-member cannot open the
//!   socket, and when the socket is opened to everyone, the daemon's
//!   `SO_PEERCRED` check refuses it with a clear line and logs it.
//! - Another protocol version gets the one clear line naming both.
//! - The socket is created safely (no links, stale sockets only).
//!
//! Privileged parts skip unless root, except under
//! `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use inetmon_core::event::{Event, EventKind, LossStage, LOST_CLIENT_QUEUE};
use inetmon_core::protocol::{
    version_mismatch, Collects, FilterSpec, RefusalCode, Request, SockFilterSpec, PROTOCOL_VERSION,
};
use inetmon_io::clients::socket::{self, Access};
use inetmon_io::clients::{ClientError, Hub, HubConfig, HubStats, RemoteSource};
use inetmon_io::consumer::{Consumer, Plan, Producers, Rendered, Sink, Stage, Verdict};
use inetmon_io::pipeline::{MetricsSnapshot, Pipeline};
use inetmon_io::shutdown::Shutdown;
use inetmon_io::sockets::KernelFilters;

use common::{new_netns, privileged, start_sockets};

/// The storm's server port (kernel filter of the harness's producer): a
/// port of this process's own ([`common::lease_port`]), as the producer
/// sees every namespace and another test run may storm at the same time.
/// A child client ([`as_child_client`]) is given its parent's.
fn port() -> u16 {
    static LEASE: std::sync::OnceLock<common::PortLease> = std::sync::OnceLock::new();
    if let Some(p) = std::env::var("INETMON_TEST_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        return p;
    }
    LEASE.get_or_init(common::lease_port).port
}

/// Connections of the storm (7 events each with the port filter).
const CONNECTIONS: u32 = 1000;

/// A socket path in a fresh root-owned directory under `/run` (uid 65534
/// must be able to reach it; a temporary directory is `0700`).
fn socket_path(tag: &str) -> PathBuf {
    PathBuf::from(format!(
        "/run/inetmon-t-{}-{tag}/inetmon.sock",
        std::process::id()
    ))
}

/// What the harness's stage saw.
#[derive(Default)]
struct Seen {
    sock: AtomicU64,
    kernel_lost: AtomicU64,
    notices: Mutex<Vec<String>>,
}

/// Shows every event (the hub is the only sink) and counts.
struct PassAll(Arc<Seen>);

impl Stage for PassAll {
    fn render(&mut self, ev: &mut Event, _out: &mut Rendered) -> Verdict {
        match ev {
            Event::Sock(_) => {
                self.0.sock.fetch_add(1, Ordering::Relaxed);
            }
            Event::Lost(l) => {
                self.0.kernel_lost.fetch_add(l.count, Ordering::Relaxed);
            }
            _ => {}
        }
        Verdict::Show
    }

    fn notice(&mut self, text: &str) {
        self.0.notices.lock().unwrap().push(text.to_owned());
    }
}

/// A hub served by a consumer fed by the socket-event programs.
struct Served {
    shutdown: Shutdown,
    thread: Option<JoinHandle<Vec<MetricsSnapshot>>>,
    socket: PathBuf,
    stats: Arc<HubStats>,
    seen: Arc<Seen>,
}

impl Served {
    fn start(socket: &Path, change: impl FnOnce(&mut HubConfig)) -> Served {
        let _ = std::fs::remove_dir_all(socket.parent().unwrap());
        let mut cfg = HubConfig::new(
            socket.to_owned(),
            Collects {
                kinds: vec![EventKind::Sock],
                nflog_groups: vec![],
            },
        );
        change(&mut cfg);
        let hub = Hub::start(cfg).unwrap();
        let stats = hub.stats();
        let shutdown = Shutdown::new().unwrap();
        let seen = Arc::new(Seen::default());
        let producer = start_sockets(KernelFilters {
            port: Some(port()),
            ..KernelFilters::default()
        });
        let (s, c) = (shutdown.clone(), Arc::clone(&seen));
        let thread = std::thread::spawn(move || {
            let mut producers = Producers::new(s.clone(), 65_536);
            let metrics = producers.pipeline().metrics();
            let t = producer
                .spawn(producers.pipeline(), s.clone(), Vec::new())
                .unwrap();
            producers.add("socket-event", t, false);
            let mut stage = PassAll(c);
            let sinks: Vec<Box<dyn Sink>> = vec![Box::new(hub)];
            let mut consumer = Consumer::new(&mut stage, sinks);
            let ended = consumer.run(producers, &Plan::default());
            assert!(ended.output.is_ok());
            drop(consumer);
            metrics.snapshot()
        });
        Served {
            shutdown,
            thread: Some(thread),
            socket: socket.to_owned(),
            stats,
            seen,
        }
    }

    /// Stops the consumer (which drops the hub); the producers' counters.
    fn stop(mut self) -> Vec<MetricsSnapshot> {
        self.shutdown.trigger();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(self.socket.parent().unwrap());
    }
}

fn storm_request() -> Request {
    Request {
        kinds: vec![EventKind::Sock],
        nflog_groups: vec![],
        filter: FilterSpec::Sockets(SockFilterSpec {
            port: Some(port()),
            ..SockFilterSpec::default()
        }),
    }
}

/// What one client received: socket events, and losses reported to it.
#[derive(Debug, Default, Clone, Copy)]
struct Got {
    sock: u64,
    lost: u64,
    lost_reports: u64,
}

/// Reads a connected client into a pipeline of its own until `stop`;
/// what it got so far is in the returned counts.
fn read_client(src: RemoteSource, stop: &Shutdown) -> (Arc<Mutex<Got>>, JoinHandle<()>) {
    let pipeline = Pipeline::new(4096);
    let rx = pipeline.receiver();
    let t = src.spawn(&pipeline, stop.clone()).unwrap();
    drop(pipeline.close());
    let got = Arc::new(Mutex::new(Got::default()));
    let counts = Arc::clone(&got);
    let reader = std::thread::spawn(move || {
        for ev in &rx {
            let mut got = counts.lock().unwrap();
            match ev {
                Event::Sock(_) => got.sock += 1,
                Event::Lost(l) => {
                    assert_eq!(l.stage, LossStage::Sink);
                    assert_eq!(l.breakdown, vec![(LOST_CLIENT_QUEUE, l.count)]);
                    got.lost += l.count;
                    got.lost_reports += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let _ = t.join();
    });
    (got, reader)
}

/// `n` loopback connections to [`port`] in a new network namespace.
fn storm(n: u32) {
    std::thread::spawn(move || {
        new_netns();
        let l = TcpListener::bind(("127.0.0.1", port())).unwrap();
        for _ in 0..n {
            let c = TcpStream::connect(("127.0.0.1", port())).unwrap();
            let (s, _) = l.accept().unwrap();
            drop(s);
            drop(c);
        }
    })
    .join()
    .unwrap();
}

/// Waits until `count` reaches `want`, or has not grown for `quiet`
/// (the machine is shared: a debug build under load drains slowly).
fn settle(count: impl Fn() -> u64, want: u64, quiet: Duration) -> u64 {
    let mut last = count();
    let mut since = Instant::now();
    while last < want && since.elapsed() < quiet {
        std::thread::sleep(Duration::from_millis(50));
        let now = count();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    last
}

#[test]
fn fifty_clients_and_a_stalled_one_under_a_storm() {
    if !privileged() {
        return;
    }
    let path = socket_path("fanout");
    let served = Served::start(&path, |c| c.queue = 2048);
    let stop = Shutdown::new().unwrap();
    let readers: Vec<_> = (0..50)
        .map(|_| {
            read_client(
                RemoteSource::connect(&path, &storm_request()).unwrap(),
                &stop,
            )
        })
        .collect();
    // Connected and welcomed, but not read from until the storm is over:
    // what a stopped process looks like to the daemon.
    let stalled = RemoteSource::connect(&path, &storm_request()).unwrap();
    assert_eq!(stalled.welcome().queue, 2048);
    storm(CONNECTIONS);
    // Every connection's 7 events with a port, plus bind, listen and
    // close of the listener.
    let want = u64::from(CONNECTIONS) * 7 + 3;
    let seen = Arc::clone(&served.seen);
    let total = settle(
        || seen.sock.load(Ordering::Relaxed),
        want,
        Duration::from_secs(30),
    );
    let stalled = read_client(stalled, &stop);
    // The stalled client's queue drains; its loss report is queued at
    // the next flush after there is room.
    for (got, _) in readers.iter().chain([&stalled]) {
        let g = || {
            let g = got.lock().unwrap();
            g.sock + g.lost
        };
        settle(g, total, Duration::from_secs(30));
    }
    stop.trigger();
    let got: Vec<Got> = readers
        .into_iter()
        .map(|(g, t)| {
            t.join().unwrap();
            *g.lock().unwrap()
        })
        .collect();
    stalled.1.join().unwrap();
    let stalled = *stalled.0.lock().unwrap();
    let dropped = served.stats.dropped.load(Ordering::Relaxed);
    let metrics = served.stop();
    println!(
        "metrics {metrics:?}, kernel lost {}",
        served_kernel_lost(&metrics)
    );
    println!(
        "hub saw {total} socket events; stalled client got {} + lost {} in {} reports; hub dropped {dropped} in all",
        stalled.sock, stalled.lost, stalled.lost_reports
    );
    assert_eq!(total, want);
    // The producer lost nothing: no channel loss, no kernel loss.
    for m in &metrics {
        assert_eq!(m.lost_channel, 0, "{m:?}");
        assert_eq!(m.lost_kernel, 0, "{m:?}");
    }
    assert_eq!(served_kernel_lost(&metrics), 0);
    // Every client: what it got plus what it was told it lost is all.
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.sock + g.lost, total, "client {i}: {g:?}");
    }
    assert!(stalled.lost > 0, "{stalled:?}");
    assert!(stalled.lost_reports >= 1);
    assert_eq!(stalled.sock + stalled.lost, total, "{stalled:?}");
    let others_lost: u64 = got.iter().map(|g| g.lost).sum();
    assert_eq!(dropped, stalled.lost + others_lost);
}

fn served_kernel_lost(m: &[MetricsSnapshot]) -> u64 {
    m.iter().map(|s| s.lost_kernel + s.lost_channel).sum()
}

/// In a child process as uid/gid 65534 with `groups` as supplementary
/// groups: connects to `INETMON_TEST_SOCKET` and prints the outcome as
/// one line on stdout. Does nothing when not called as a child.
#[test]
fn as_child_client() {
    let Ok(path) = std::env::var("INETMON_TEST_SOCKET") else {
        return;
    };
    match RemoteSource::connect(Path::new(&path), &storm_request()) {
        Ok(src) => println!("RESULT welcomed queue={}", src.welcome().queue),
        Err(e) => println!("RESULT {e}"),
    }
}

/// Runs [`as_child_client`] in a child process as uid 65534 with
/// `groups`; its result line.
fn child_client(path: &Path, groups: &[u32]) -> String {
    let groups: Vec<nix::unistd::Gid> = groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "as_child_client",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("INETMON_TEST_SOCKET", path)
    .env("INETMON_TEST_PORT", port().to_string());
    // SAFETY: only async-signal-safe syscalls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setgroups(&groups)?;
            nix::unistd::setgid(nix::unistd::Gid::from_raw(65534))?;
            nix::unistd::setuid(nix::unistd::Uid::from_raw(65534))?;
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no result: {text} {}", String::from_utf8_lossy(&out.stderr)))
        .to_owned()
}

/// The gid of group `inetmon`, created when missing.
fn inetmon_gid() -> u32 {
    if socket::group_gid("inetmon").is_none() {
        common::run("groupadd", &["--system", "inetmon"]);
    }
    socket::group_gid("inetmon").unwrap()
}

#[test]
fn member_watches_non_member_is_refused() {
    if !privileged() {
        return;
    }
    let gid = inetmon_gid();
    let path = socket_path("perm");
    let served = Served::start(&path, |_| {});
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660);
    assert_eq!(meta.gid(), gid);
    assert_eq!(meta.uid(), 0);
    // A member through a supplementary group, not root, watches.
    assert_eq!(child_client(&path, &[gid]), "welcomed queue=8192");
    // A non-member cannot even open the socket.
    assert_eq!(
        child_client(&path, &[]),
        format!(
            "{}: permission denied: only root and members of group inetmon may watch through the daemon",
            path.display()
        )
    );
    // With the socket opened to everyone by mistake, the daemon's own
    // check still refuses, says why, and logs it.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let line = child_client(&path, &[]);
    assert!(
        line.starts_with("the daemon refused: permission denied: uid 65534 (pid ")
            && line.ends_with(
                ") is neither root nor a member of group inetmon; ask an administrator to add you to it"
            ),
        "{line}"
    );
    assert_eq!(served.stats.refused.load(Ordering::Relaxed), 1);
    let logged = common::wait_for(Duration::from_secs(60), || {
        let n = served.seen.notices.lock().unwrap();
        n.iter()
            .find(|l| l.starts_with("client refused (uid 65534 pid "))
            .cloned()
    });
    assert!(
        logged.is_some(),
        "{:?}",
        served.seen.notices.lock().unwrap()
    );
}

#[test]
fn access_rules() {
    let a = Access {
        group: Some(990),
        own_uid: 0,
    };
    let peer = |uid, gid, groups: &[u32]| socket::Peer {
        pid: 1,
        uid,
        gid,
        groups: groups.to_vec(),
    };
    assert!(a.allows(&peer(0, 0, &[])));
    assert!(a.allows(&peer(1000, 990, &[])));
    assert!(a.allows(&peer(1000, 1000, &[4, 990])));
    assert!(!a.allows(&peer(1000, 1000, &[4])));
    let none = Access {
        group: None,
        own_uid: 0,
    };
    assert!(!none.allows(&peer(1000, 990, &[990])));
    assert_eq!(
        none.refusal(&peer(1000, 1000, &[])),
        "permission denied: uid 1000 (pid 1) is not root, and group inetmon does not exist, so only root may watch"
    );
}

#[test]
fn another_version_and_uncollected_kinds_get_one_clear_line() {
    if !privileged() {
        return;
    }
    let path = socket_path("version");
    let served = Served::start(&path, |_| {});
    let e = RemoteSource::connect_as(&path, &storm_request(), PROTOCOL_VERSION + 1).unwrap_err();
    assert!(matches!(e, ClientError::Version(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        version_mismatch(PROTOCOL_VERSION + 1, PROTOCOL_VERSION)
    );
    let req = Request {
        kinds: vec![EventKind::Packet],
        nflog_groups: vec![3],
        filter: FilterSpec::None,
    };
    let e = RemoteSource::connect(&path, &req).unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Refused {
                code: RefusalCode::NotCollected,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "the daemon refused: the daemon does not collect packet events (it collects: sock)"
    );
    let bad = Request {
        filter: FilterSpec::Sockets(SockFilterSpec {
            addr: Some("10.0.0.0/99".into()),
            ..SockFilterSpec::default()
        }),
        ..storm_request()
    };
    let e = RemoteSource::connect(&path, &bad).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the daemon refused: bad filter: "),
        "{e}"
    );
    drop(served);
    // No daemon: the socket is gone with the hub.
    let e = RemoteSource::connect(&path, &storm_request()).unwrap_err();
    assert!(matches!(e, ClientError::NoDaemon { .. }), "{e:?}");
}

#[test]
fn socket_is_created_safely() {
    if !common::can_run(common::is_root(), "needs root to own /run") {
        return;
    }
    let dir = PathBuf::from(format!("/run/inetmon-t-{}-safe", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("s.sock");
    let collects = Collects::default();
    let cfg = |p: &Path| HubConfig {
        access: Access {
            group: None,
            own_uid: 0,
        },
        ..HubConfig::new(p.to_owned(), collects.clone())
    };
    // A link at the name is not followed, nor replaced.
    std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
    let e = Hub::start(cfg(&path)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: exists and is not a socket (refusing to replace it)",
            path.display()
        )
    );
    std::fs::remove_file(&path).unwrap();
    // Without the group: root only.
    let hub = Hub::start(cfg(&path)).unwrap();
    assert_eq!(
        std::fs::symlink_metadata(&path).unwrap().mode() & 0o7777,
        0o600
    );
    // A second daemon on a live socket is refused.
    let e = Hub::start(cfg(&path)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: another inetmon daemon is listening on it",
            path.display()
        )
    );
    drop(hub);
    assert!(!path.exists(), "the hub removes its socket");
    // A stale socket (its daemon killed) is replaced.
    let stale = dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    drop(Hub::start(cfg(&stale)).unwrap());
    // A directory others may write to is refused.
    let open = dir.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = Hub::start(cfg(&open.join("s.sock"))).unwrap_err();
    assert!(
        e.to_string()
            .contains("is writable by others and not sticky"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
