//! Paths opened for writing by a root `inetmon` (`-P` pid file, `-B` binary
//! log, the text output file, `monitor --write`) are never followed through
//! a symbolic link that another user planted, never created in a directory
//! that others can write to without the sticky bit or that another user
//! owns, and get modes no wider than 0644.
//!
//! The other user is real: uid 65534 (`nobody`) plants the links, in a
//! world-writable sticky directory (like `/tmp`) and in a world-writable
//! directory without the sticky bit. These tests need root.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::*;

const FIXTURE: &str = "nflog-real-small.pcap";
const NOBODY: u32 = 65534;
/// Makes the private pid files of concurrent tests distinct.
static PID_SEQ: AtomicU32 = AtomicU32::new(0);

/// A root-owned file the attacker wants overwritten, in a private
/// directory, and a shared directory where the attacker can write.
struct Scene {
    _dir: tempfile::TempDir,
    /// Root's own directory, for `-C` files.
    scratch: PathBuf,
    victim: PathBuf,
    shared: PathBuf,
}

const PRECIOUS: &str = "precious root data\n";

impl Scene {
    fn new(shared_mode: u32) -> Scene {
        let dir = tempfile::tempdir().unwrap();
        // The temporary directory is 0700; the attacker must reach `shared`.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let victim_dir = dir.path().join("private");
        fs::create_dir(&victim_dir).unwrap();
        let victim = victim_dir.join("victim");
        fs::write(&victim, PRECIOUS).unwrap();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(shared_mode)).unwrap();
        Scene {
            scratch: victim_dir.clone(),
            _dir: dir,
            victim,
            shared,
        }
    }

    /// Runs `prog args` as uid/gid 65534.
    fn as_nobody(&self, prog: &str, args: &[&str]) {
        let r = run(
            Command::new(prog).args(args).uid(NOBODY).gid(NOBODY),
            Duration::from_secs(60),
        );
        assert_eq!(r.code, Some(0), "{prog} {args:?} as nobody: {r:?}");
    }

    /// The attacker plants `shared/name` → the victim.
    fn plant_link(&self, name: &str) -> PathBuf {
        let link = self.shared.join(name);
        self.as_nobody(
            "ln",
            &["-s", self.victim.to_str().unwrap(), link.to_str().unwrap()],
        );
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
        link
    }

    fn assert_victim_untouched(&self) {
        assert_eq!(fs::read_to_string(&self.victim).unwrap(), PRECIOUS);
    }
}

/// The ways a root `inetmon` opens `path` for writing, each a full command
/// line. The live path is taken by giving a pid file (in a private
/// directory); the file source ends the run. `-C` files are written in the
/// private directory `scratch`.
fn writers(path: &Path, scratch: &Path) -> Vec<Vec<String>> {
    let f = data(FIXTURE).to_str().unwrap().to_owned();
    let p = path.to_str().unwrap().to_owned();
    let conf = |scheme: &str| {
        let c = scratch.join(format!("{}.conf", PID_SEQ.fetch_add(1, Ordering::Relaxed)));
        fs::write(
            &c,
            format!("match {{ protocol = udp ; }} do {{ file(\"{scheme}://{p}\") ; }} ;\n"),
        )
        .unwrap();
        c.to_str().unwrap().to_owned()
    };
    let (text_conf, raw_conf) = (conf("file"), conf("raw"));
    let pid = std::env::temp_dir()
        .join(format!(
            "inetmon-paths-{}-{}.pid",
            std::process::id(),
            PID_SEQ.fetch_add(1, Ordering::Relaxed)
        ))
        .to_str()
        .unwrap()
        .to_owned();
    let s = |v: &[&str]| v.iter().map(|&a| a.to_owned()).collect::<Vec<_>>();
    vec![
        // The text output file: the offline path and the live path.
        s(&["ipmon", "-f", &f, &p]),
        s(&["ipmon", "-f", &f, "-P", &pid, &p]),
        // -B: offline and live.
        s(&["ipmon", "-f", &f, "-B", &p, "/dev/null"]),
        s(&["ipmon", "-f", &f, "-P", &pid, "-B", &p, "/dev/null"]),
        // -P.
        s(&["ipmon", "-f", &f, "-P", &p, "/dev/null"]),
        // -C file("file://…") and file("raw://…") actions.
        s(&["ipmon", "-C", &text_conf, "-f", &f, "/dev/null"]),
        s(&["ipmon", "-C", &raw_conf, "-f", &f, "/dev/null"]),
        // monitor's pcapng file (drops of a port of this process's own
        // only: unfiltered, another test's flood of drops anywhere on the
        // machine made it lose events, status 2).
        s(&[
            "monitor",
            "--write",
            &p,
            "--duration",
            "1",
            "--port",
            &quiet_port(),
        ]),
    ]
}

/// A port nothing else uses ([`lease_port`], held until the process ends).
fn quiet_port() -> String {
    static LEASE: std::sync::OnceLock<PortLease> = std::sync::OnceLock::new();
    LEASE.get_or_init(lease_port).port.to_string()
}

fn run_inetmon(args: &[String]) -> Run {
    run(
        Command::new(inetmon()).args(args).env("TZ", "UTC"),
        Duration::from_secs(60),
    )
}

/// Exit status 1 and one line on stderr that names `path` and contains
/// `needle`.
fn assert_refused(r: &Run, args: &[String], path: &Path, needle: &str) {
    let line = r.one_error_line(&args, needle);
    assert!(
        line.contains(path.to_str().unwrap()),
        "{args:?}: the line must name {}: {line:?}",
        path.display()
    );
}

/// A symbolic link planted by another user in a sticky world-writable
/// directory (`/tmp`) is refused for every output, and its target is left
/// alone (before: `-P` truncated the target, wrote the pid into it and
/// removed the link at exit; `-B` and the output file appended to it).
#[test]
fn planted_symlink_in_sticky_dir_is_refused() {
    if !require_privileged("planted_symlink_in_sticky_dir_is_refused", &["ln"]) {
        return;
    }
    let scene = Scene::new(0o1777);
    for i in 0..writers(&scene.shared.join("x"), &scene.scratch).len() {
        let link = scene.plant_link(&format!("out{i}"));
        let args = writers(&link, &scene.scratch).swap_remove(i);
        let r = run_inetmon(&args);
        assert_refused(&r, &args, &link, "symbolic link");
        scene.assert_victim_untouched();
        assert!(
            fs::symlink_metadata(&link).is_ok_and(|m| m.is_symlink()),
            "{args:?}: the link is left in place"
        );
    }
}

/// In a world-writable directory without the sticky bit anyone can replace
/// any name at any time: nothing is created there, link or not.
#[test]
fn world_writable_dir_without_sticky_bit_is_refused() {
    if !require_privileged("world_writable_dir_without_sticky_bit_is_refused", &["ln"]) {
        return;
    }
    let scene = Scene::new(0o777);
    let link = scene.plant_link("planted");
    let plain = scene.shared.join("plain");
    for path in [&link, &plain] {
        for args in writers(path, &scene.scratch) {
            let r = run_inetmon(&args);
            assert_refused(&r, &args, path, "writable by others");
            scene.assert_victim_untouched();
            assert!(!plain.exists(), "{args:?}: nothing is created");
        }
    }
}

/// A directory (or a file) that another user owns is refused: its owner can
/// swap what is in it.
#[test]
fn paths_owned_by_another_user_are_refused() {
    if !require_privileged("paths_owned_by_another_user_are_refused", &["mkdir"]) {
        return;
    }
    let scene = Scene::new(0o1777);
    let theirs = scene.shared.join("theirs");
    scene.as_nobody("mkdir", &[theirs.to_str().unwrap()]);
    let inside = theirs.join("out.log");
    for args in writers(&inside, &scene.scratch) {
        let r = run_inetmon(&args);
        assert_refused(&r, &args, &inside, "owned by uid 65534");
        assert!(!inside.exists(), "{args:?}");
    }
    // A file the attacker created in /tmp before us (to read the log, or
    // to hard-link it elsewhere later).
    let file = scene.shared.join("pre-created.log");
    scene.as_nobody("touch", &[file.to_str().unwrap()]);
    for args in writers(&file, &scene.scratch) {
        let r = run_inetmon(&args);
        assert_refused(&r, &args, &file, "owned by uid 65534");
        assert_eq!(fs::metadata(&file).unwrap().len(), 0, "{args:?}");
    }
}

/// A directory component that is a link planted by another user is refused
/// too (it could point into `/etc/cron.d`), while root's own links
/// (`/var/run` → `/run`) are followed.
#[test]
fn planted_directory_link_is_refused() {
    if !require_privileged("planted_directory_link_is_refused", &["ln"]) {
        return;
    }
    let scene = Scene::new(0o1777);
    let victim_dir = scene.victim.parent().unwrap();
    let dlink = scene.shared.join("logs");
    scene.as_nobody(
        "ln",
        &["-s", victim_dir.to_str().unwrap(), dlink.to_str().unwrap()],
    );
    let path = dlink.join("victim");
    for args in writers(&path, &scene.scratch) {
        let r = run_inetmon(&args);
        assert_refused(&r, &args, &path, "symbolic link");
        scene.assert_victim_untouched();
    }
    // Root's own link to the same directory is fine.
    let mine = scene.shared.join("mine");
    std::os::unix::fs::symlink(victim_dir, &mine).unwrap();
    let out = mine.join("new.log");
    let r = run_inetmon(&writers(&out, &scene.scratch)[0]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(victim_dir.join("new.log").exists());
}

/// Regular paths in a sticky world-writable directory still work; files we
/// create honour the umask but are never wider than 0644; the pid file is
/// 0644 and removed at exit.
#[test]
fn new_files_honour_the_umask_but_never_exceed_0644() {
    if !require_privileged("new_files_honour_the_umask_but_never_exceed_0644", &["sh"]) {
        return;
    }
    let scene = Scene::new(0o1777);
    for (umask, want) in [("000", 0o644), ("022", 0o644), ("077", 0o600)] {
        for i in 0..writers(&scene.shared.join("x"), &scene.scratch).len() {
            let path = scene.shared.join(format!("u{umask}-{i}"));
            let args = writers(&path, &scene.scratch).swap_remove(i);
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
                .arg(inetmon())
                .args(&args);
            let r = run(&mut cmd, Duration::from_secs(60));
            assert_eq!(r.code, Some(0), "{args:?}: {r:?}");
            if args
                .windows(2)
                .any(|w| w[0] == "-P" && Path::new(&w[1]) == path)
            {
                assert!(!path.exists(), "{args:?}: the pid file is removed");
                continue;
            }
            let mode = fs::metadata(&path).unwrap().mode() & 0o7777;
            assert_eq!(mode, want, "umask {umask} {args:?}: mode {mode:o}");
        }
    }
}

/// The pid file is created 0644 whatever the umask, and removed at exit only
/// if it is still the file this process created: a file put in its place
/// (by an administrator, or by a second instance after the first one's file
/// was deleted) stays.
#[test]
fn pid_file_is_0644_and_only_our_own_file_is_removed() {
    if !require_privileged("pid_file_is_0644_and_only_our_own_file_is_removed", &["sh"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.pcap");
    fs::copy(data(FIXTURE), &live).unwrap();
    let pid = dir.path().join("ipmon.pid");
    let err = dir.path().join("err.txt");
    let mut mon = Bg::spawn(
        Command::new("sh")
            .arg("-c")
            .arg("umask 077; exec \"$0\" \"$@\"")
            .arg(inetmon())
            .args(["ipmon", "-t", "-f"])
            .arg(&live)
            .arg("-P")
            .arg(&pid)
            .arg("/dev/null"),
        &err,
    );
    let text = wait_for(Duration::from_secs(60), || {
        fs::read_to_string(&pid).ok().filter(|t| t.ends_with('\n'))
    })
    .unwrap_or_else(|| panic!("no pid file: {}", fs::read_to_string(&err).unwrap()));
    assert_eq!(text, format!("{}\n", mon.pid()));
    let mode = fs::metadata(&pid).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o644, "pid file mode {mode:o}");
    // Someone replaces the file.
    fs::remove_file(&pid).unwrap();
    fs::write(&pid, "not yours\n").unwrap();
    mon.stop();
    assert_eq!(
        fs::read_to_string(&pid).unwrap(),
        "not yours\n",
        "a pid file that is not ours must not be removed"
    );
}

/// Waits until `path` has `n` lines; panics with `stderr` after 60 s.
fn wait_for_lines(path: &Path, n: usize, stderr: &Path) -> Vec<String> {
    wait_for(Duration::from_secs(60), || {
        let lines = lines_of(path);
        (lines.len() >= n).then_some(lines)
    })
    .unwrap_or_else(|| {
        panic!(
            "{} has not {n} lines: {:?}\n--- stderr:\n{}",
            path.display(),
            lines_of(path),
            fs::read_to_string(stderr).unwrap_or_default()
        )
    })
}

/// The fixture's records, and `dir/live.pcap` holding its pcap header and
/// the first record.
fn live_pcap(dir: &Path) -> (Vec<Vec<u8>>, PathBuf) {
    let bytes = fs::read(data(FIXTURE)).unwrap();
    let (header, records) = pcap_split(&bytes);
    let live = dir.join("live.pcap");
    fs::write(&live, [header.as_slice(), &records[0]].concat()).unwrap();
    (records, live)
}

/// A SIGHUP whose reopen fails (the output path is now a directory) does
/// not end `ipmon`: it says so once on stderr, goes on writing to the file
/// it had open, and retries at the next SIGHUP (before: the process ended
/// with `open …/rot.log: Is a directory`). Needs no privilege.
#[test]
fn sighup_reopen_failure_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let (records, live) = live_pcap(dir.path());
    let out = dir.path().join("rot.log");
    let rotated = dir.path().join("rot.log.1");
    let err = dir.path().join("err.txt");
    let mut mon = Bg::spawn(
        Command::new(inetmon())
            .args(["ipmon", "-t", "-f"])
            .arg(&live)
            .arg(&out)
            .env("TZ", "UTC"),
        &err,
    );
    let append = |i: usize| append(&live, &records[i]);
    let hup = |pid: u32| signal_and_wait_taken(pid, libc::SIGHUP);
    wait_for_lines(&out, 1, &err);
    // Rotation gone wrong: the path is now a directory.
    fs::rename(&out, &rotated).unwrap();
    fs::create_dir(&out).unwrap();
    for (i, record) in [1, 2].into_iter().enumerate() {
        hup(mon.pid());
        append(record);
        wait_for_lines(&rotated, 2 + i, &err);
        assert_eq!(mon.try_wait(), None, "ipmon must keep running");
    }
    let said = fs::read_to_string(&err).unwrap();
    assert_eq!(
        said,
        format!(
            "inetmon: reopen {}: Is a directory (os error 21); still writing to the file opened \
             before, retrying at the next SIGHUP\n",
            out.display()
        ),
        "said once, naming the path"
    );
    // Fixed: the next SIGHUP reopens.
    fs::remove_dir(&out).unwrap();
    hup(mon.pid());
    append(3);
    let new = wait_for_lines(&out, 1, &err);
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(lines_of(&rotated).len(), 3);
    assert_eq!(mon.try_wait(), None, "ipmon must keep running");
    mon.stop();
    let said = fs::read_to_string(&err).unwrap();
    assert!(
        said.ends_with(&format!("inetmon: reopened {}\n", out.display())),
        "{said}"
    );
}

/// Daemonised (`-D`), standard error is `/dev/null`: the failed reopen is
/// told to syslog too (here a datagram socket standing for `/dev/log`),
/// and the daemon goes on writing to the old file.
#[test]
fn daemon_tells_a_failed_reopen_to_syslog() {
    let dir = tempfile::tempdir().unwrap();
    let (records, live) = live_pcap(dir.path());
    let out = dir.path().join("rot.log");
    let rotated = dir.path().join("rot.log.1");
    let pidfile = dir.path().join("ipmon.pid");
    let err = dir.path().join("err.txt");
    let log = std::os::unix::net::UnixDatagram::bind(dir.path().join("log.sock")).unwrap();
    log.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let r = run(
        Command::new(inetmon())
            .args(["ipmon", "-D", "-P"])
            .arg(&pidfile)
            .args(["-t", "-f"])
            .arg(&live)
            .arg(&out)
            .env("TZ", "UTC")
            .env("INETMON_SYSLOG_SOCKET", dir.path().join("log.sock")),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let pid: u32 = wait_for(Duration::from_secs(60), || {
        fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    })
    .expect("pid file");
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("kill").arg(self.0.to_string()).status();
        }
    }
    let _kill = Kill(pid);
    wait_for_lines(&out, 1, &err);
    fs::rename(&out, &rotated).unwrap();
    fs::create_dir(&out).unwrap();
    signal_and_wait_taken(pid, libc::SIGHUP);
    append(&live, &records[1]);
    wait_for_lines(&rotated, 2, &err);
    let mut buf = [0u8; 2048];
    let n = log.recv(&mut buf).expect("a syslog message");
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(
        msg.contains(&format!(
            "reopen {}: Is a directory (os error 21); still writing to the file opened before",
            out.display()
        )),
        "{msg}"
    );
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the daemon runs on"
    );
}
