//! `inetmon daemon` against the real kernel: start and stop with the
//! journal closed cleanly; SIGHUP with a bad file keeps the running
//! configuration (and a good one restarts with it); `kill -9` under a
//! loopback connection storm with `sync = "always"`, then a restart: every
//! event `journal query` showed before the kill is there exactly once,
//! `journal verify` passes, a `gap` record exists; the AHAFS files mounted
//! from `[aha] mountpoint`; `[drops]` counters and `per_drop` events.

mod common;
#[path = "../../inetmon-io/tests/common/nats.rs"]
mod nats_server;

use std::collections::HashMap;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{inetmon, inetmon_run, lines_of, require_privileged, udp_cmd, wait_for, Bg, Netns};

/// A state directory, a config file and the daemon's stderr in a
/// temporary directory.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(config: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let s = Setup { dir };
        s.write_config(config);
        s
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("inetmon.toml")
    }

    fn stderr(&self) -> PathBuf {
        self.dir.path().join("stderr")
    }

    /// Writes the config: `state_dir`, the clients' `socket` (its own, so
    /// that tests running at once do not share the default one, and no
    /// other test's `inetmon sockets` becomes a client of this daemon),
    /// plus `rest`.
    fn write_config(&self, rest: &str) {
        fs::write(
            self.config(),
            format!(
                "state_dir = {:?}\nsocket = {:?}\n{rest}",
                self.state().display(),
                self.dir.path().join("run/inetmon.sock").display()
            ),
        )
        .unwrap();
    }

    /// Starts the daemon and waits for its `running:` line.
    fn start(&self) -> Bg {
        self.start_cmd(Command::new(inetmon()))
    }

    /// Starts the daemon in `ns` and waits for its `running:` line.
    fn start_in(&self, ns: &Netns) -> Bg {
        self.start_cmd(ns.cmd(inetmon()))
    }

    fn start_cmd(&self, mut cmd: Command) -> Bg {
        let bg = Bg::spawn(
            cmd.args(["daemon", "--config"]).arg(self.config()),
            &self.stderr(),
        );
        self.wait_line("running:", 1);
        bg
    }

    /// Waits until `n` lines of stderr contain `needle`; returns them all.
    /// (Loading the BPF programs on a loaded machine can take a while.)
    fn wait_line(&self, needle: &str, n: usize) -> Vec<String> {
        wait_for(Duration::from_secs(120), || {
            let lines = lines_of(&self.stderr());
            (lines.iter().filter(|l| l.contains(needle)).count() >= n).then_some(lines)
        })
        .unwrap_or_else(|| {
            panic!(
                "no {n}th line containing {needle:?}; stderr:\n{}",
                fs::read_to_string(self.stderr()).unwrap_or_default()
            )
        })
    }

    /// `inetmon journal ARGS --state-dir STATE`.
    fn journal(&self, args: &[&str]) -> common::Run {
        let state = self.state();
        let mut all: Vec<&str> = vec!["journal"];
        all.extend_from_slice(args);
        all.extend(["--state-dir", state.to_str().unwrap()]);
        inetmon_run(&all)
    }
}

/// The JSON lines `journal query -j --port P` prints.
fn query_port(s: &Setup, port: u16) -> Vec<String> {
    let r = s.journal(&["query", "-j", "--port", &port.to_string()]);
    assert_eq!(r.code, Some(0), "{r:?}");
    r.stdout.lines().map(str::to_owned).collect()
}

fn verify_ok(s: &Setup) -> String {
    let r = s.journal(&["verify"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.contains(": ok"), "{r:?}");
    r.stdout
}

/// Loopback connections to `listener` until `stop`; counts them.
fn storm(listener: TcpListener, stop: Arc<AtomicBool>, made: Arc<AtomicU64>) {
    let addr = listener.local_addr().unwrap();
    while !stop.load(Ordering::Relaxed) {
        let Ok(c) = TcpStream::connect(addr) else {
            continue;
        };
        if let Ok((s, _)) = listener.accept() {
            drop((c, s));
            made.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn connections(listener: &TcpListener, n: usize) {
    let addr = listener.local_addr().unwrap();
    for _ in 0..n {
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        drop((c, s));
    }
}

/// Socket events of the port's connections reach the journal; SIGTERM
/// stops the daemon with status 0 and the journal closed cleanly (no gap
/// at the next start).
#[test]
fn start_stop_journals_and_closes_cleanly() {
    if !require_privileged("daemon start/stop", &[]) {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let s = Setup::new(&format!(
        "[journal]\nsync = \"interval\"\n[sockets.filters]\nport = {port}\n"
    ));
    let mut d = s.start();
    connections(&l, 5);
    let got = wait_for(Duration::from_secs(60), || {
        let lines = query_port(&s, port);
        (lines.iter().filter(|l| l.contains("\"connected\"")).count() >= 5).then_some(lines)
    });
    assert!(got.is_some(), "{:?}", query_port(&s, port));
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
    let err = lines_of(&s.stderr());
    let last = err.last().unwrap();
    assert!(
        last.starts_with("inetmon daemon: stopped: ") && last.contains(" 0 lost"),
        "{err:?}"
    );
    let v = verify_ok(&s);
    assert!(v.contains("0 gap records"), "{v}");
    // Only events of the filtered port were collected.
    let r = s.journal(&["query", "-j", "--kind", "sock"]);
    for line in r.stdout.lines() {
        assert!(line.contains(&format!("_port\":{port},")), "{line}");
    }
    // A clean stop leaves no gap at the next start.
    let mut d = s.start();
    assert_eq!(d.stop(), Some(0));
    let r = s.journal(&["query", "--kind", "gap"]);
    assert_eq!(r.stdout, "", "{r:?}");
}

/// SIGHUP with a bad file: one line naming the file and the key, the
/// daemon goes on with the old configuration; with an unchanged file it
/// says so; with a changed good file it restarts with it, and the journal
/// has a `gap` record of cause `reload`.
#[test]
fn sighup_bad_config_keeps_the_old_one() {
    if !require_privileged("daemon SIGHUP", &[]) {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let good = format!("[sockets.filters]\nport = {port}\n");
    let s = Setup::new(&good);
    let mut d = s.start();
    let pid = i32::try_from(d.pid()).unwrap();
    let hup = || {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid, libc::SIGHUP) };
    };

    s.write_config(&format!("{good}[journal]\nsync = \"sometimes\"\n"));
    hup();
    let lines = s.wait_line("keeping the running configuration", 1);
    let line = lines
        .iter()
        .find(|l| l.contains("keeping the running configuration"))
        .unwrap();
    let cfg = s.config();
    assert!(
        line.starts_with(&format!(
            "inetmon daemon: reload: {}: journal.sync: unknown variant `sometimes`",
            cfg.display()
        )),
        "{line}"
    );
    // Still running, still collecting with the old configuration.
    assert_eq!(d.try_wait(), None);
    connections(&l, 3);
    assert!(
        wait_for(Duration::from_secs(60), || {
            (query_port(&s, port)
                .iter()
                .filter(|l| l.contains("\"connected\""))
                .count()
                >= 3)
                .then_some(())
        })
        .is_some(),
        "{:?}",
        lines_of(&s.stderr())
    );

    s.write_config(&good);
    hup();
    s.wait_line("no change", 1);

    // A changed, valid file: the run restarts with it.
    s.write_config(&format!("{good}[journal]\nsync = \"always\"\n"));
    hup();
    s.wait_line("restarting with the new configuration", 1);
    s.wait_line("running:", 2);
    connections(&l, 2);
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
    let r = s.journal(&["query", "-j", "--kind", "gap"]);
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
    assert!(r.stdout.contains("\"cause\":\"reload\""), "{r:?}");
    let connected = query_port(&s, port)
        .iter()
        .filter(|l| l.contains("\"connected\""))
        .count();
    assert!(connected >= 5, "{connected}");
    verify_ok(&s);
}

/// `kill -9` under a loopback connection storm with `sync = "always"`:
/// after a restart every event `journal query` showed before the kill is
/// there exactly once, `journal verify` passes and a `gap` record exists.
#[test]
fn kill_9_under_storm_loses_nothing_shown() {
    if !require_privileged("daemon kill -9", &[]) {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let s = Setup::new(&format!(
        "[journal]\nsync = \"always\"\n[sockets.filters]\nport = {port}\n"
    ));
    let mut d = s.start();
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let t = {
        let (stop, made) = (Arc::clone(&stop), Arc::clone(&made));
        std::thread::spawn(move || storm(l, stop, made))
    };
    // Let the journal fill under the storm, then read it and kill at once.
    let before = wait_for(Duration::from_secs(120), || {
        let lines = query_port(&s, port);
        (lines.len() >= 2000).then_some(lines)
    })
    .expect("the storm's events reach the journal");
    let pid = i32::try_from(d.pid()).unwrap();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(wait_for(Duration::from_secs(60), || d.try_wait()).is_some());
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    assert!(made.load(Ordering::Relaxed) > 0);

    let mut d = s.start();
    s.wait_line("gap record", 1);
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));

    let after = query_port(&s, port);
    let mut count: HashMap<&str, usize> = HashMap::new();
    for line in &after {
        *count.entry(line.as_str()).or_default() += 1;
    }
    for line in &before {
        assert_eq!(count.get(line.as_str()), Some(&1), "{line}");
    }
    verify_ok(&s);
    let gaps = s.journal(&["query", "-j", "--kind", "gap"]);
    assert_eq!(gaps.stdout.lines().count(), 1, "{gaps:?}");
    assert!(gaps.stdout.contains("\"cause\":\"unclean\""), "{gaps:?}");
}

/// `[aha] mountpoint`: the AHAFS files are mounted from the config and fed
/// from the daemon's stream (a Python consumer reads a streamListen
/// block); a reload keeps them mounted, so a consumer armed before it gets
/// its event after it; the daemon's stop unmounts them.
#[test]
fn aha_mount_from_config() {
    if !require_privileged("daemon AHAFS", &["python3"]) {
        return;
    }
    let s = Setup::new("");
    let mnt = s.dir.path().join("aha");
    fs::create_dir(&mnt).unwrap();
    // Only this test's listening thread (by its name, the task's comm):
    // other programs' sockets do not reach the consumer first.
    // (A name of this process alone: a test run going on at once has its
    // own.)
    let comm = format!("ahl-{}", std::process::id());
    let config = format!(
        "[aha]\nmountpoint = {:?}\n[sockets.filters]\ncomm = \"{comm}\"\n",
        mnt.display()
    );
    s.write_config(&config);
    let mut d = s.start();
    let fac = mnt.join("net/inetsock.monFactory");
    assert!(fac.is_dir());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../inetmon-io/tests/aha/consumer.py");
    let out = s.dir.path().join("consumer.out");
    let mut py = Bg::spawn_to(
        Command::new("python3")
            .arg(script)
            .arg(fac.join("streamListen.mon"))
            .arg("CHANGED=YES;WAIT_TYPE=WAIT_IN_SELECT;INFO_LVL=2;NOTIFY_CNT=1"),
        &out,
        &s.dir.path().join("consumer.err"),
    );
    common::wait_for_line(&out, "armed", Duration::from_secs(60), &s.stderr());
    s.write_config(&format!("{config}[journal]\nmax_age = \"7d\"\n"));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(i32::try_from(d.pid()).unwrap(), libc::SIGHUP) };
    s.wait_line("running:", 2);
    let l = std::thread::Builder::new()
        .name(comm.clone())
        .spawn(|| TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap()
        .join()
        .unwrap();
    let port = l.local_addr().unwrap().port();
    let lines = common::wait_for_line(&out, "EOF", Duration::from_secs(60), &s.stderr());
    let text = lines.join("\n");
    assert!(text.contains("streamListen"), "{text}");
    assert!(text.contains(&format!("SO_LPORT={port}")), "{text}");
    // It ends by itself after the end of file.
    assert_eq!(
        wait_for(Duration::from_secs(60), || py.try_wait()),
        Some(Some(0))
    );
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(mnt.to_str().unwrap()), "{mounts}");
}

/// Connects `n` times to a closed loopback port: each SYN is dropped by
/// the kernel with reason NO_SOCKET (and answered with a reset).
fn refused_connects(n: usize) -> u16 {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for _ in 0..n {
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }
    port
}

/// Sum of the NO_SOCKET counts on `lo` that `journal drops -j` printed.
fn no_socket_on_lo(s: &Setup) -> u64 {
    let r = s.journal(&["drops", "-j"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    r.stdout
        .lines()
        .filter(|l| l.contains("\"reason\":\"NO_SOCKET\"") && l.contains("\"interface\":\"lo\""))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["count"].as_u64().unwrap()
        })
        .sum()
}

/// `[drops]`: per-second counters by reason, location and interface
/// (counted in the kernel), and with `per_drop = true` every drop as an
/// event besides the counters.
#[test]
fn drops_counters_and_per_drop() {
    if !require_privileged("daemon drops", &[]) {
        return;
    }
    for per_drop in [false, true] {
        let s = Setup::new(&format!(
            "[sockets]\nenabled = false\n[drops]\nenabled = true\nper_drop = {per_drop}\n"
        ));
        let mut d = s.start();
        let port = refused_connects(20);
        // The counters are stored once a second.
        let n = wait_for(Duration::from_secs(60), || {
            let n = no_socket_on_lo(&s);
            (n >= 20).then_some(n)
        });
        assert!(n.is_some(), "per_drop {per_drop}: {}", no_socket_on_lo(&s));
        assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
        let r = s.journal(&["query", "-j", "--kind", "drop", "--port", &port.to_string()]);
        let events = r.stdout.lines().filter(|l| l.contains("NO_SOCKET")).count();
        if per_drop {
            assert_eq!(events, 20, "{r:?}");
        } else {
            assert_eq!(events, 0, "{r:?}");
        }
        verify_ok(&s);
    }
}

/// Retention runs while the daemon does: with `max_age = "2s"` events
/// appear, then are deleted without a restart; the journal stays sound.
#[test]
fn retention_while_running() {
    if !require_privileged("daemon retention", &[]) {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let s = Setup::new(&format!(
        "[journal]\nmax_age = \"2s\"\n[sockets.filters]\nport = {port}\n"
    ));
    let mut d = s.start();
    connections(&l, 3);
    assert!(wait_for(Duration::from_secs(60), || (!query_port(&s, port)
        .is_empty())
    .then_some(()))
    .is_some());
    assert!(
        wait_for(Duration::from_secs(60), || query_port(&s, port)
            .is_empty()
            .then_some(()))
        .is_some(),
        "{:?}",
        query_port(&s, port)
    );
    assert_eq!(d.try_wait(), None);
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
    verify_ok(&s);
}

/// `[nflog] groups` and `[conntrack] enabled`: the daemon (in a network
/// namespace) journals the packets an nftables `log group` rule logs and
/// the conntrack entries of their flows.
#[test]
fn nflog_and_conntrack() {
    let rules = "table inet t {\n chain out {\n type filter hook output priority 0;\n \
                 ct state new counter\n udp dport 5555 log group 9 accept\n }\n}\n";
    let Some(ns) = Netns::with_rules("daemon nflog/conntrack", &["nft", "python3"], rules) else {
        return;
    };
    let s = Setup::new(
        "[sockets]\nenabled = false\n[nflog]\ngroups = [9]\n[conntrack]\nenabled = true\n",
    );
    let mut d = s.start_in(&ns);
    let lines = lines_of(&s.stderr());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("running: nflog:9, conntrack;")),
        "{lines:?}"
    );
    for sport in [40001, 40002, 40003] {
        ns.sh(&udp_cmd("127.0.0.1", 5555, sport, "x"));
    }
    let count = |kind: &str| {
        let r = s.journal(&["query", "-j", "--kind", kind, "--port", "5555"]);
        assert_eq!(r.code, Some(0), "{r:?}");
        r.stdout.lines().count()
    };
    assert!(
        wait_for(Duration::from_secs(60), || (count("packet") >= 3
            && count("state") >= 3)
            .then_some(()))
        .is_some(),
        "packets {}, states {}",
        count("packet"),
        count("state")
    );
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
    assert_eq!(count("packet"), 3);
    verify_ok(&s);
}

/// The daemon refuses, in one line and with status 1, a state directory
/// that is a symbolic link (another user could plant one) or writable by
/// others, and a bad configuration file, before collecting anything.
#[test]
fn unsafe_state_dir_and_bad_config_are_one_line() {
    if !require_privileged("daemon state dir", &[]) {
        return;
    }
    let s = Setup::new("[sockets]\nenabled = false\n");
    let real = s.dir.path().join("real");
    fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, s.state()).unwrap();
    let cfg = s.config();
    let r = inetmon_run(&["daemon", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    assert!(r.stderr.contains("is a symbolic link"), "{r:?}");
    fs::remove_file(s.state()).unwrap();
    fs::create_dir(s.state()).unwrap();
    fs::set_permissions(
        s.state(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let r = inetmon_run(&["daemon", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("writable by group or others"), "{r:?}");
    s.write_config("[journal]\nsync_interval_ms = 0\n");
    let r = inetmon_run(&["daemon", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    assert!(
        r.stderr.contains("journal.sync_interval_ms: 0 is not in"),
        "{r:?}"
    );
}

/// `[metrics] listen`: the daemon's gauges, read when scraped: the
/// clients connected to its socket (one `inetmon sockets` through the
/// daemon, then none once it stopped), the journal's size on disk, the
/// events waiting for its writer; and `promtool check metrics` accepts
/// the text.
#[test]
fn metrics_gauges_of_clients_and_journal() {
    use common::web::{free_port, http_get, promtool_check};
    if !require_privileged("daemon metrics gauges", &["promtool"]) {
        return;
    }
    let port = free_port();
    let peer_port = free_port();
    let s = Setup::new(&format!(
        "[sockets.filters]\nport = {peer_port}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"
    ));
    let mut d = s.start();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let value = |text: &str, name: &str| -> Option<i64> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
    };
    let scrape = || {
        let (code, body) = http_get(addr, "/metrics");
        assert_eq!(code, 200, "{body}");
        body
    };
    let text = scrape();
    assert_eq!(value(&text, "inetmon_clients"), Some(0), "{text}");
    assert_eq!(
        value(&text, "inetmon_client_lost_events_total"),
        Some(0),
        "{text}"
    );

    // A client through the daemon's socket; some events for the journal.
    let (out, err) = (
        s.dir.path().join("client.out"),
        s.dir.path().join("client.err"),
    );
    let mut client = Bg::spawn_to(
        Command::new(inetmon())
            .args(["sockets", "--port", &peer_port.to_string()])
            .env("INETMON_SOCKET", s.dir.path().join("run/inetmon.sock")),
        &out,
        &err,
    );
    common::wait_for_line(&err, "attached", Duration::from_secs(60), &err);
    let listener = TcpListener::bind(("127.0.0.1", peer_port)).unwrap();
    connections(&listener, 5);
    let text = wait_for(Duration::from_secs(60), || {
        let text = scrape();
        (value(&text, "inetmon_clients") == Some(1)
            && value(&text, "inetmon_journal_bytes").is_some_and(|b| b > 0)
            && value(&text, "inetmon_journal_lag_events").is_some())
        .then_some(text)
    })
    .unwrap_or_else(scrape);
    assert_eq!(value(&text, "inetmon_clients"), Some(1), "{text}");
    // At least one SQLite page (the WAL may be checkpointed at any time,
    // so the files' sizes now need not be those of the scrape).
    let bytes = value(&text, "inetmon_journal_bytes").unwrap_or(0);
    assert!(bytes >= 4096, "{bytes} bytes: {text}");
    let lag = value(&text, "inetmon_journal_lag_events");
    assert!(lag.is_some_and(|n| n >= 0), "{text}");
    assert!(
        text.contains("# TYPE inetmon_clients gauge\n")
            && text.contains("# TYPE inetmon_journal_bytes gauge\n")
            && text.contains("# TYPE inetmon_journal_lag_events gauge\n")
            && text.contains("# TYPE inetmon_client_lost_events_total counter\n"),
        "{text}"
    );
    promtool_check(&text);
    // No `[export.nats]`: no export lag.
    assert!(!text.contains("inetmon_export_lag_events"), "{text}");

    // The client gone: counted out within a tick.
    assert_eq!(client.stop(), Some(0));
    let text = wait_for(Duration::from_secs(60), || {
        let text = scrape();
        (value(&text, "inetmon_clients") == Some(0)).then_some(text)
    })
    .unwrap_or_else(scrape);
    assert_eq!(value(&text, "inetmon_clients"), Some(0), "{text}");
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
}

/// The sum of every sample of counter family `name` (`name{...} v` lines).
fn counter_sum(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .map(|v| v as u64)
        .sum()
}

/// A SIGHUP with a changed configuration keeps the metrics registry: the
/// counters go on from where they were (a reset would look like a process
/// restart to Prometheus), and `[export.nats]`, unchanged, keeps its
/// exporter running (no second "connected" session: its counters too).
#[test]
fn sighup_keeps_metrics_counters_and_the_exporter() {
    use common::web::{free_port, http_get};
    if !require_privileged("daemon SIGHUP keeps metrics", &["nats-server"]) {
        return;
    }
    let nats_dir = tempfile::tempdir().unwrap();
    let server = nats_server::NatsServer::start(nats_dir.path());
    let port = free_port();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer_port = listener.local_addr().unwrap().port();
    let base = format!(
        "[sockets.filters]\nport = {peer_port}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\
         [export.nats]\nurl = \"{}\"\nhost = \"reloadtest\"\n",
        server.url()
    );
    let s = Setup::new(&base);
    let mut d = s.start();
    let pid = i32::try_from(d.pid()).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let scrape = || {
        wait_for(Duration::from_secs(10), || {
            let (code, body) = http_get(addr, "/metrics");
            (code == 200).then_some(body)
        })
        .expect("/metrics answers")
    };
    connections(&listener, 5);
    let before = wait_for(Duration::from_secs(30), || {
        let text = scrape();
        let n = counter_sum(&text, "inetmon_events_total");
        (n >= 15).then_some(n)
    })
    .unwrap_or_else(|| panic!("events never counted: {}", scrape()));

    // A changed, valid file: the run restarts with it.
    s.write_config(&format!("{base}[journal]\nsync = \"always\"\n"));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    s.wait_line("restarting with the new configuration", 1);
    s.wait_line("running:", 2);
    let after = counter_sum(&scrape(), "inetmon_events_total");
    assert!(
        after >= before,
        "inetmon_events_total went back from {before} to {after} over a reload"
    );
    connections(&listener, 2);
    wait_for(Duration::from_secs(30), || {
        (counter_sum(&scrape(), "inetmon_events_total") >= before + 6).then_some(())
    })
    .unwrap_or_else(|| panic!("events after the reload not counted: {}", scrape()));
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
    // The exporter was not restarted: one "NATS export" in the first
    // running line, and the reload's says it is kept.
    let lines = lines_of(&s.stderr());
    let running: Vec<&String> = lines.iter().filter(|l| l.contains("running:")).collect();
    assert!(
        running[1].contains("NATS export") && running[1].contains("(kept)"),
        "{lines:?}"
    );
}

/// `[metrics] listen` with `[export.nats]`: `inetmon_export_lag_events`
/// is 0 once the server acknowledged what the daemon journaled, grows
/// while the server is stopped and events keep coming, and goes back to 0
/// after the server is back.
#[test]
fn metrics_export_lag_follows_the_server() {
    use common::web::{free_port, http_get, promtool_check};
    if !require_privileged("daemon metrics export lag", &["promtool", "nats-server"]) {
        return;
    }
    let nats_dir = tempfile::tempdir().unwrap();
    let mut server = nats_server::NatsServer::start(nats_dir.path());
    let port = free_port();
    let peer_port = free_port();
    let s = Setup::new(&format!(
        "[sockets.filters]\nport = {peer_port}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\
         [export.nats]\nurl = \"{}\"\nhost = \"lagtest\"\n",
        server.url()
    ));
    let mut d = s.start();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let scrape = || {
        let (code, body) = http_get(addr, "/metrics");
        assert_eq!(code, 200, "{body}");
        body
    };
    let lag = |text: &str| -> Option<i64> {
        text.lines()
            .find_map(|l| l.strip_prefix("inetmon_export_lag_events "))
            .and_then(|v| v.parse().ok())
    };
    let wait_lag = |what: &str, ok: &dyn Fn(i64) -> bool| -> String {
        wait_for(Duration::from_secs(60), || {
            let text = scrape();
            lag(&text).is_some_and(ok).then_some(text)
        })
        .unwrap_or_else(|| panic!("{what}: {}", scrape()))
    };
    let listener = TcpListener::bind(("127.0.0.1", peer_port)).unwrap();
    connections(&listener, 3);
    let text = wait_lag("acknowledged", &|n| n == 0);
    promtool_check(&text);
    // Committed by the journal, then exported: the journal has records.
    wait_for(Duration::from_secs(60), || {
        (s.journal(&["query", "-j", "--port", &peer_port.to_string()])
            .stdout
            .lines()
            .count()
            >= 3)
            .then_some(())
    })
    .expect("events journaled");
    wait_lag("acknowledged", &|n| n == 0);

    server.stop();
    connections(&listener, 5);
    // 5 connections: at least connect, accept and close of each.
    let text = wait_lag("lag while the server is away", &|n| n >= 15);
    promtool_check(&text);

    server.restart();
    wait_lag("caught up after the restart", &|n| n == 0);
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
}

/// `[metrics] listen`: the daemon serves `/metrics` (which `promtool check
/// metrics` accepts) and the web view on one address; a headless Chromium
/// shows the drops the kernel counted (`[drops]` without `per_drop`: the
/// chart is fed by the per-second counters), the connections per process,
/// the listening socket and the audit records of two python3 peers.
#[test]
fn metrics_and_web_view_from_the_daemon() {
    use common::web::{
        chart_total, http_get, line, promtool_check, text, until, Chromedriver, Py, CLIENT, SENDER,
        SERVER,
    };
    if !require_privileged(
        "daemon metrics and web view",
        &["python3", "chromedriver", "promtool", "nft"],
    ) {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Socket events of our peers' port only (in the kernel): other tests
    // make sockets too, and the page keeps the newest 200 audit records.
    let peer_port = common::web::free_port();
    let s = Setup::new(&format!(
        "[sockets.filters]\nport = {peer_port}\n[drops]\nenabled = true\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"
    ));
    let mut d = s.start();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(
        s.wait_line(&format!("metrics and web view http://{addr}/"), 1)
            .iter()
            .any(|l| l.contains("running:")),
        "{:?}",
        lines_of(&s.stderr())
    );
    let (server_py, mut server_out) = Py::start(SERVER, &[&peer_port.to_string()]);
    let sport = line(&mut server_out);
    let (client_py, mut client_out) = Py::start(CLIENT, &[&sport]);
    assert_eq!(line(&mut client_out), "connected");
    assert_eq!(line(&mut server_out), "accepted");
    let ns = common::Netns::new();
    ns.nft("table inet webtest {\n chain input {\n  type filter hook input priority 0;\n  udp dport 9 drop\n }\n}\n");
    common::must(ns.cmd("python3").args(["-c", SENDER]));

    // Counted in the kernel, once a second: other tests' nftables drops
    // may add to ours.
    let text_of = wait_for(Duration::from_secs(60), || {
        let (code, body) = http_get(addr, "/metrics");
        assert_eq!(code, 200);
        let n: u64 = body
            .lines()
            .find_map(|l| l.strip_prefix("inetmon_drops_total{reason=\"NETFILTER_DROP\"} "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        (n >= 40).then_some(body)
    })
    .unwrap_or_else(|| http_get(addr, "/metrics").1);
    assert!(
        text_of.contains("inetmon_drops_total{reason=\"NETFILTER_DROP\"}"),
        "{text_of}"
    );
    assert!(
        text_of.contains("inetmon_events_total{kind=\"sock\",op=\"accept\"}"),
        "{text_of}"
    );
    promtool_check(&text_of);

    let (sp, cp) = (server_py.pid(), client_py.pid());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let driver = Chromedriver::start();
        let c = driver.session(profile.path()).await;
        c.goto(&format!("http://{addr}/")).await.unwrap();
        until(
            "counted drops on the chart",
            || chart_total(&c, "NETFILTER_DROP"),
            |n| *n >= 40,
        )
        .await;
        // Our peers' rows (other tests make sockets too, and a page shows
        // the newest or largest 50): filtered by the server's port.
        c.goto(&format!("http://{addr}/?port={sport}"))
            .await
            .unwrap();
        until(
            "process rows",
            || text(&c, "#processes tbody"),
            |t: &String| {
                [cp, sp].iter().all(|p| {
                    t.lines().any(|l| {
                        l.starts_with("python3\t")
                            && l.contains(&format!("\t{p}\t"))
                            && l.ends_with("\t3")
                    })
                })
            },
        )
        .await;
        common::web::until_server_and_audit(&c, &sport, sp).await;
        // Counted drops have a reason and an interface, nothing else: a
        // port filter hides them, a reason filter keeps them.
        c.goto(&format!("http://{addr}/?type=drop&reason=NETFILTER_DROP"))
            .await
            .unwrap();
        until(
            "reason filter",
            || chart_total(&c, "NETFILTER_DROP"),
            |n| *n >= 40,
        )
        .await;
        until(
            "reason filter rows",
            || text(&c, "#processes tbody"),
            |t: &String| t == "none",
        )
        .await;
        c.goto(&format!("http://{addr}/?port={sport}"))
            .await
            .unwrap();
        until(
            "port filter chart",
            || chart_total(&c, "NETFILTER_DROP"),
            |n| *n == 0,
        )
        .await;
        until(
            "port filter rows",
            || text(&c, "#processes tbody"),
            |t: &String| t.contains(&format!("\t{cp}\t")),
        )
        .await;
        c.close().await.unwrap();
    });
    drop((server_py, client_py));
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&s.stderr()));
    // The listener closed with the daemon.
    assert!(std::net::TcpStream::connect(addr).is_err());
}
