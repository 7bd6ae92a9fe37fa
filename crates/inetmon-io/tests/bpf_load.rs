//! The loaders of `inetmon_io::bpf` against the real kernel: the committed
//! objects load, attach and report. Privileged tests skip unless root,
//! except under `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use inetmon_core::decode::sock::{decode_record, RECORD_LEN};
use inetmon_core::event::SockOp;
use inetmon_io::bpf::datapath::{lost_total, DatapathPrograms, KernelConfig, MAX_SNAPLEN};
use inetmon_io::bpf::sockets::{lost_totals, Filters, SockPrograms, DEFAULT_RING_BYTES};
use inetmon_io::bpf::{cgroup2_root, progstats, LoadError};

use common::{new_netns, privileged, tid};

/// A TCP connection on 127.0.0.1 from this thread: listen, connect,
/// accept, one byte, close; returns the listening port.
fn loopback_exchange() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    c.write_all(b"x").unwrap();
    drop((c, s, l));
    port
}

fn load_sockets() -> SockPrograms {
    let filters = Filters {
        pid: Some(std::process::id()),
        ..Filters::default()
    };
    SockPrograms::load(&filters, DEFAULT_RING_BYTES, &cgroup2_root().unwrap()).unwrap()
}

#[test]
fn sockets_load_attach_and_report_a_tcp_connection() {
    if !privileged() {
        return;
    }
    let mut progs = load_sockets();
    assert_eq!(progs.attached(), inetmon_bpf::watch::PROGRAMS);
    let mut rb = progs.take_ring_buf().unwrap();
    let lost = progs.take_lost().unwrap();

    let port = loopback_exchange();

    let mut ops = Vec::new();
    while let Some(item) = rb.next() {
        assert_eq!(item.len(), RECORD_LEN);
        let ev = decode_record(&item, 0, 0).unwrap();
        let ours = |end: Option<(std::net::IpAddr, u16)>| end.is_some_and(|(_, p)| p == port);
        if ours(ev.local) || ours(ev.foreign) || ev.op == SockOp::Create {
            ops.push(ev.op);
        }
    }
    // create×2, bind, listen, connected, accept, close at least.
    for want in [
        SockOp::Create,
        SockOp::Bind,
        SockOp::Listen,
        SockOp::Accept,
        SockOp::Connect,
        SockOp::Connected,
        SockOp::Close,
    ] {
        assert!(ops.contains(&want), "{want:?} missing from {ops:?}");
    }
    assert_eq!(lost_totals(&lost).unwrap().iter().sum::<u64>(), 0);
}

/// `recursion_misses` is readable for every tracepoint program (the value
/// depends on what else runs on the machine, so only that it reads), and a
/// descriptor that is not a program is refused rather than read as 0.
#[test]
fn sockets_recursion_misses_are_readable() {
    if !privileged() {
        return;
    }
    let progs = load_sockets();
    let first = progs.recursion_misses().unwrap();
    let second = progs.recursion_misses().unwrap();
    assert!(
        second >= first,
        "the counter went back: {first} then {second}"
    );
    let f = std::fs::File::open("/proc/self/status").unwrap();
    let err = progstats::recursion_misses(std::os::fd::AsFd::as_fd(&f)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
}

/// Loading twice in one process works, and so does loading again after
/// dropping: the loaders keep no process-wide state.
#[test]
fn sockets_load_twice_and_again() {
    if !privileged() {
        return;
    }
    let a = load_sockets();
    let b = load_sockets();
    drop((a, b));
    let mut c = load_sockets();
    c.take_ring_buf().unwrap();
    assert!(matches!(
        c.take_ring_buf(),
        Err(LoadError::Map { name: "events", .. })
    ));
}

#[test]
fn datapath_loads_the_drop_tracepoint() {
    if !privileged() {
        return;
    }
    let mut progs = DatapathPrograms::load(&KernelConfig::default()).unwrap();
    let _ring = progs.take_ring_buf().unwrap();
    let lost = progs.take_lost().unwrap();
    let _counts = progs.take_drop_counts().unwrap();
    assert_eq!(lost_total(&lost).unwrap(), 0);
    progs.recursion_misses().unwrap();
}

/// The stack-point programs (cgroup_skb) and the owner hooks load and
/// attach on the cgroup v2 root, and a TCP connection this thread makes
/// afterwards is traced at from-stack and to-stack with this thread as
/// the owner of both ends (the connecting socket: created and connected
/// here; the accepted one: cloned from the listener made here), in this
/// thread's namespace, with the socket's cookie.
#[test]
fn datapath_stack_points_name_the_owner() {
    use inetmon_bpf::record::datapath::{FLAG_PROCESS, FROM_STACK, TO_STACK};
    use inetmon_core::decode::datapath::{decode, DatapathRecord};

    if !privileged() {
        return;
    }
    let netns = new_netns();
    let cfg = KernelConfig {
        drops: false,
        stack: true,
        ..KernelConfig::default()
    };
    let mut progs = DatapathPrograms::load(&cfg).unwrap();
    let mut rb = progs.take_ring_buf().unwrap();
    let lost = progs.take_lost().unwrap();

    let port = loopback_exchange();

    let (pid, me) = (std::process::id(), tid());
    let mut comm = [0u8; 16];
    let name = std::fs::read(format!("/proc/self/task/{me}/comm")).unwrap();
    let name = name.strip_suffix(b"\n").unwrap_or(&name);
    comm[..name.len()].copy_from_slice(name);
    let mut seen = Vec::new();
    while let Some(item) = rb.next() {
        let Ok(DatapathRecord::Trace(t, data)) = decode(&item) else {
            continue;
        };
        // Ours: TCP on 127.0.0.1 with our port at either end.
        let ports = data.get(20..24).map(|p| {
            (
                u16::from_be_bytes([p[0], p[1]]),
                u16::from_be_bytes([p[2], p[3]]),
            )
        });
        let ours = data.first() == Some(&0x45)
            && data.get(9) == Some(&6)
            && ports.is_some_and(|(a, b)| a == port || b == port);
        if !ours {
            continue;
        }
        assert!(t.point == FROM_STACK || t.point == TO_STACK, "{t:?}");
        assert_ne!(t.common.flags & FLAG_PROCESS, 0, "no owner: {t:?}");
        assert_eq!((t.pid, t.tid, t.comm), (pid, me, comm), "{t:?}");
        assert_eq!(t.common.netns, netns);
        assert_ne!(t.sock_cookie, 0);
        seen.push(t.point);
    }
    // SYN, SYN-ACK, ACK, data, FINs: each sent (from-stack) and received
    // (to-stack) once.
    assert!(seen.contains(&FROM_STACK), "{seen:?}");
    assert!(seen.contains(&TO_STACK), "{seen:?}");
    assert_eq!(lost_total(&lost).unwrap(), 0);
}

/// Out-of-range settings are refused before anything is loaded (no
/// privilege needed).
#[test]
fn datapath_config_is_checked_first() {
    for cfg in [
        KernelConfig {
            snaplen: 0,
            ..KernelConfig::default()
        },
        KernelConfig {
            snaplen: MAX_SNAPLEN + 1,
            ..KernelConfig::default()
        },
        KernelConfig {
            ring_bytes: 5000,
            ..KernelConfig::default()
        },
    ] {
        let err = DatapathPrograms::load(&cfg).unwrap_err();
        assert!(matches!(err, LoadError::Config(_)), "{err}");
    }
}
