//! Helpers that the integration tests of both `inetmon-io` and `inetmon`
//! need: the skip-or-fail rule for privileged tests, polling, and a fresh
//! network namespace for the calling thread with the socket-event programs
//! loaded. One copy: `crates/inetmon/tests` includes this file by path.

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

/// Whether we are root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `setpriv` arguments that run the command after them as nobody: uid and
/// gid 65534, no supplementary groups.
pub const AS_NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

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

/// Runs `ip ARGS` inside the calling thread's network namespace.
pub fn ip_here(args: &str) {
    let ns = format!("--net=/proc/{}/task/{}/ns/net", std::process::id(), tid());
    let st = Command::new("nsenter")
        .arg(ns)
        .arg("ip")
        .args(args.split(' '))
        .status()
        .unwrap();
    assert!(st.success(), "ip {args}");
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
