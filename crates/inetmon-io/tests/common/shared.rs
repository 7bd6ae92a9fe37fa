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

/// A port number that this test process alone uses while the lease lives,
/// for traffic that programs watching every network namespace (socket
/// events, `monitor --port`, the daemon's `[sockets.filters] port`) must
/// tell apart from other tests' traffic.
///
/// Fixed ports collide when two test runs (or two tests of one binary)
/// run at once, and a port the kernel picks (bind `:0`) is only unique in
/// one namespace: another namespace may get the same number as the local
/// port of an outgoing connection. So the port comes from 20000–31999,
/// below the kernel's ephemeral range (32768–60999: no connection gets one
/// of these unless it binds it), and an exclusive `flock` on
/// `/tmp/inetmon-test-ports/PORT` makes it unique among the test processes
/// of the machine (the lock goes with the process, even killed). The port
/// is also checked free for TCP and UDP in the caller's namespace.
pub struct PortLease {
    /// The port.
    pub port: u16,
    _lock: std::fs::File,
}

/// Takes a [`PortLease`]; see there.
pub fn lease_port() -> PortLease {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const BASE: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let dir = std::path::Path::new("/tmp/inetmon-test-ports");
    std::fs::create_dir_all(dir).unwrap();
    // Different processes start at different places: fewer lock attempts.
    let start = std::process::id().wrapping_mul(7_919);
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(BASE + start.wrapping_add(n.wrapping_mul(101)) % SPAN).unwrap();
        let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
        else {
            continue;
        };
        // SAFETY: flock on a file we opened.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            continue;
        }
        let free = std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
            && std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok();
        if free {
            return PortLease { port, _lock: f };
        }
    }
    panic!("no free test port in {BASE}-{}", BASE + SPAN - 1);
}
