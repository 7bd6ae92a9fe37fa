//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::print_stdout)]

pub mod web;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether privileged tests must run (CI sets `INETMON_REQUIRE_PRIVILEGED=1`).
pub fn required() -> bool {
    std::env::var("INETMON_REQUIRE_PRIVILEGED").is_ok_and(|v| v == "1")
}

/// `true` when the test may go on; otherwise prints why it skips, or panics
/// when privileged tests are required.
pub fn can_run(ok: bool, reason: &str) -> bool {
    if ok {
        return true;
    }
    assert!(!required(), "INETMON_REQUIRE_PRIVILEGED=1 but {reason}");
    println!("skipped: {reason}");
    false
}

/// Whether we are root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether `prog` can be run (found on PATH).
pub fn have(prog: &str) -> bool {
    Command::new(prog).arg("--version").output().is_ok()
        || Command::new(prog).arg("-v").output().is_ok()
}

/// Polls `f` every 20 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command, panicking with its stderr when it fails.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `inetmon-io-<tag>-<pid>` with `lo` up.
    pub fn new(tag: &str) -> Netns {
        let name = format!("inetmon-io-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        run("ip", &["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// Runs `args` inside the namespace.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Loads an nft ruleset inside the namespace.
    pub fn nft(&self, ruleset: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ruleset.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Path of the namespace file for `setns`.
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Moves the calling thread into the namespace.
    pub fn enter(&self) {
        enter_netns(&self.path());
    }
}

/// Moves the calling thread into the network namespace at `path` (for
/// threads that cannot borrow the [`Netns`]).
pub fn enter_netns(path: &str) {
    let f = std::fs::File::open(path).unwrap();
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Whether `path` exists.
pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// For the eBPF tests: `true` when root; otherwise prints why the test
/// skips, or panics under `INETMON_REQUIRE_PRIVILEGED=1`.
pub fn privileged() -> bool {
    can_run(is_root(), "needs root for BPF and network namespaces")
}

/// The calling thread's id.
pub fn tid() -> u32 {
    // SAFETY: gettid has no preconditions.
    u32::try_from(unsafe { libc::syscall(libc::SYS_gettid) }).expect("tid fits u32")
}

/// Moves the calling thread into a new network namespace with `lo` up and
/// returns the namespace's inode.
pub fn new_netns() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: unshare affects only this thread's network namespace.
    assert_eq!(
        unsafe { libc::unshare(libc::CLONE_NEWNET) },
        0,
        "unshare(CLONE_NEWNET)"
    );
    // SAFETY: plain socket + ioctl on a zeroed ifreq naming "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0);
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        assert_eq!(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr), 0);
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        assert_eq!(libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr), 0);
        libc::close(fd);
    }
    let ino = std::fs::metadata("/proc/thread-self/ns/net")
        .expect("own netns")
        .ino();
    u32::try_from(ino).expect("netns inode fits u32")
}

/// Loads and attaches the socket-event programs with `filters`.
pub fn start_sockets(
    filters: inetmon_io::sockets::KernelFilters,
) -> inetmon_io::sockets::SocketsProducer {
    inetmon_io::sockets::SocketsProducer::start(&inetmon_io::sockets::SocketsConfig {
        filters,
        ..inetmon_io::sockets::SocketsConfig::default()
    })
    .unwrap()
}
