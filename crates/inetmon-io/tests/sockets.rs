//! Privileged end-to-end tests of the eBPF socket-event producer.
//!
//! Each test moves its own thread into a fresh network namespace (so its
//! sockets are isolated; loopback brought up), loads and attaches its own
//! copy of the programs, performs known socket operations, and asserts the
//! exact events of that namespace: operation, socket (by cookie), pid, uid,
//! comm, addresses, ports, result, attribution and order.
//!
//! Skipped (with a printed reason) unless root, except under
//! `INETMON_REQUIRE_PRIVILEGED=1`, where they fail instead.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use inetmon_core::event::{Attribution, Event, Initiator, Monitor, SockEvent, SockOp};
use inetmon_core::sock_filter::watch_set;
use inetmon_io::sockets::{KernelFilters, SocketsProducer};

use common::{ip_here, new_netns, privileged, start_sockets as start, tid};

/// Reads events until none arrived for `quiet`; returns those of `netns`
/// and the number of events reported lost other than by skipped runs.
fn collect(p: &mut SocketsProducer, netns: u32, quiet: Duration) -> (Vec<SockEvent>, u64) {
    let mut evs = Vec::new();
    let mut lost = 0;
    let mut last = Instant::now();
    let skipped_before = p.skipped_total();
    while last.elapsed() < quiet {
        let n = p
            .poll(Duration::from_millis(20), &mut |e| match e {
                Event::Sock(s) if s.netns == netns => evs.push(*s),
                Event::Lost(l) => lost += l.count,
                _ => {}
            })
            .unwrap();
        if n > 0 {
            last = Instant::now();
        }
    }
    p.check_lost(&mut |e| {
        if let Event::Lost(l) = e {
            lost += l.count;
        }
    });
    // Tracepoint runs the kernel skipped (nested in another BPF program on
    // the same CPU) are reported as loss too, but they are counted for the
    // whole machine, filters or not: on a busy machine a few may fall in
    // this window. Only the rest (reserve failures) must be 0 here.
    let skipped = p.skipped_total() - skipped_before;
    (evs, lost - skipped)
}

/// The current thread's name as the kernel's 16-byte comm.
fn my_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .unwrap()
        .trim_end()
        .to_string()
}

fn me() -> u32 {
    std::process::id()
}

/// Names sockets by their cookie in order of first appearance: A, B, C, …
fn label(evs: &[SockEvent]) -> Vec<(char, SockOp, u32, Option<Initiator>, Attribution)> {
    let mut names: HashMap<u64, char> = HashMap::new();
    evs.iter()
        .map(|e| {
            let n = names.len();
            let c = *names
                .entry(e.cookie)
                .or_insert((b'A' + u8::try_from(n).unwrap()) as char);
            (c, e.op, e.errno, e.initiator, e.attribution)
        })
        .collect()
}

/// One line per event of [`label`]: `A Create`, then ` errno=N` when the
/// operation failed, ` local`/` peer` for who initiated a disconnect, and
/// ` @owner` when the event is attributed to the socket's owner rather
/// than to the process that ran (` @unknown` when to neither).
fn labels(evs: &[SockEvent]) -> Vec<String> {
    label(evs)
        .into_iter()
        .map(|(c, op, errno, initiator, attribution)| {
            let mut s = format!("{c} {op:?}");
            if errno != 0 {
                s += &format!(" errno={errno}");
            }
            if let Some(i) = initiator {
                s += &format!(" {}", i.as_str());
            }
            if attribution != Attribution::Process {
                s += &format!(" @{}", attribution.as_str());
            }
            s
        })
        .collect()
}

/// Asserts the labelled events of `evs`, written as in [`labels`] and
/// separated by commas: `"A Create, A Bind errno=98, A Close"`.
#[track_caller]
fn assert_labels(evs: &[SockEvent], want: &str) {
    let want: Vec<&str> = want.split(',').map(str::trim).collect();
    assert_eq!(labels(evs), want, "{evs:#?}");
}

/// A fresh network namespace for the calling thread and a producer that
/// reports the sockets of this process.
fn start_mine() -> (u32, SocketsProducer) {
    let netns = new_netns();
    let p = start(KernelFilters {
        pid: Some(me()),
        ..KernelFilters::default()
    });
    (netns, p)
}

/// The events of `netns` until none arrived for 300 ms; none may be lost.
#[track_caller]
fn events(p: &mut SocketsProducer, netns: u32) -> Vec<SockEvent> {
    let (evs, lost) = collect(p, netns, Duration::from_millis(300));
    assert_eq!(lost, 0);
    evs
}

/// A TCP listener on 127.0.0.1 and its port.
fn listen_lo() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// TCP states of `TCP_INFO`'s `tcpi_state`.
const TCP_CLOSE: u8 = 7;
const TCP_CLOSE_WAIT: u8 = 8;

/// Waits (up to 60 s) until the TCP socket `fd` is in `state`: the peer's
/// FIN (`TCP_CLOSE_WAIT`) or reset (`TCP_CLOSE`) has been processed. On
/// loopback that usually happens within the sender's syscall, but on a
/// loaded machine the kernel may leave it to ksoftirqd, later than any
/// fixed pause.
#[track_caller]
fn wait_tcp_state(fd: &impl AsRawFd, state: u8) {
    let get = || {
        // SAFETY: tcp_info is plain data; getsockopt fills at most `len`.
        unsafe {
            let mut info: libc::tcp_info = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
            let rc = libc::getsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&raw mut info).cast(),
                &raw mut len,
            );
            assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
            info.tcpi_state
        }
    };
    let reached = common::wait_for(Duration::from_secs(60), || (get() == state).then_some(()));
    assert!(
        reached.is_some(),
        "TCP state {} never became {state}",
        get()
    );
}

/// Waits (up to 60 s) until `n` bytes wait in the receive queue of `fd`.
#[track_caller]
fn wait_unread(fd: &impl AsRawFd, n: i32) {
    let get = || {
        let mut queued: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &raw mut queued) };
        assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
        queued
    };
    let reached = common::wait_for(Duration::from_secs(60), || (get() >= n).then_some(()));
    assert!(reached.is_some(), "{} bytes queued, not {n}", get());
}

/// A connection to `l` at `to` whose client sends two bytes the server
/// reads (a close with data unread would be an abort), then closes first;
/// the server closes once it has the client's FIN. Returns the client's
/// address.
fn client_closes_first(l: &TcpListener, to: SocketAddr) -> SocketAddr {
    let mut c = TcpStream::connect(to).unwrap();
    let client = c.local_addr().unwrap();
    let (mut s, _) = l.accept().unwrap();
    c.write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    std::io::Read::read_exact(&mut s, &mut buf).unwrap();
    drop(c);
    wait_tcp_state(&s, TCP_CLOSE_WAIT);
    drop(s);
    client
}

use Attribution::{Owner as O, Process as P};
use SockOp::*;

/// TCP listener + client + accepted socket; the client closes first.
fn tcp_roundtrip(listen: &str, connect_to: impl Fn(u16) -> SocketAddr) -> (Vec<SockEvent>, u16) {
    let (netns, mut p) = start_mine();
    let l = TcpListener::bind(listen).unwrap();
    let port = l.local_addr().unwrap().port();
    client_closes_first(&l, connect_to(port));
    drop(l);
    (events(&mut p, netns), port)
}

fn check_tcp_roundtrip(evs: &[SockEvent], port: u16, addr: IpAddr, mapped: bool) {
    assert_labels(
        evs,
        "A Create, A Bind, A Listen, B Create, B Connect, B Connected @owner, C Accept, \
         B Disconnect local, B Close, C Disconnect peer @owner, C Close, A Close",
    );
    let comm = my_comm();
    for e in evs {
        assert_eq!((e.task.pid, e.task.uid, e.task.gid), (me(), 0, 0), "{e:?}");
        assert_eq!(e.task.tid, tid(), "{e:?}");
        assert_eq!(e.task.comm, comm);
        assert_eq!(e.sock_type, 1);
        assert_eq!(e.protocol, 6);
        assert_ne!(e.cookie, 0);
        if e.op != Create && e.op != Connect {
            assert_eq!(e.mapped, mapped, "{e:?}");
        }
    }
    let listen_end = Some((addr, port));
    assert_eq!(evs[1].local.map(|l| l.1), Some(port));
    assert_eq!(evs[2].local.map(|l| l.1), Some(port));
    assert_eq!(evs[4].foreign, listen_end, "connect attempt's foreign end");
    let client = evs[5].local.unwrap();
    assert_eq!(client.0, addr);
    assert_ne!(client.1, 0);
    assert_eq!(evs[5].foreign, listen_end);
    assert_eq!(evs[6].local, listen_end);
    assert_eq!(evs[6].foreign, Some(client));
    assert_eq!(evs[7].local, Some(client));
    assert_eq!(evs[9].local, listen_end);
    assert_eq!(evs[9].foreign, Some(client));
}

#[test]
fn tcp_ipv4_server_and_client() {
    if !privileged() {
        return;
    }
    let (evs, port) = tcp_roundtrip("127.0.0.1:0", |p| SocketAddr::from(([127, 0, 0, 1], p)));
    check_tcp_roundtrip(&evs, port, "127.0.0.1".parse().unwrap(), false);
    assert!(evs.iter().all(|e| e.family == 2));
}

#[test]
fn tcp_ipv6_server_and_client() {
    if !privileged() {
        return;
    }
    let (evs, port) = tcp_roundtrip("[::1]:0", |p| format!("[::1]:{p}").parse().unwrap());
    check_tcp_roundtrip(&evs, port, "::1".parse().unwrap(), false);
    assert!(evs.iter().all(|e| e.family == 10));
}

#[test]
fn tcp_v4_mapped_shown_as_ipv4() {
    if !privileged() {
        return;
    }
    let (evs, port) = tcp_roundtrip("[::]:0", |p| {
        format!("[::ffff:127.0.0.1]:{p}").parse().unwrap()
    });
    // The listener is bound to [::], the rest is mapped 127.0.0.1.
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let mut fixed = evs.clone();
    for e in &mut fixed[1..3] {
        assert_eq!(e.local, Some(("::".parse().unwrap(), port)));
        e.local = Some((lo, port));
        e.mapped = true;
    }
    fixed[11].local = Some((lo, port));
    fixed[11].mapped = true;
    check_tcp_roundtrip(&fixed, port, lo, true);
    assert!(
        evs[4].mapped,
        "connect attempt to ::ffff:127.0.0.1 is mapped"
    );
}

/// A connection whose handshake completed before the monitor attached is
/// accepted after: the child socket has no cookie at accept (nothing of
/// the monitor ran for it yet), so the acceptor is recorded by socket
/// address (`owners_nocookie`), and the peer's close is still attributed
/// to it. (Another BPF program on the machine may have given the socket a
/// cookie meanwhile; then the cookie-indexed owners path is taken, with
/// the same events.)
#[test]
fn connection_completed_before_attach_is_attributed_to_its_acceptor() {
    if !privileged() {
        return;
    }
    let netns = new_netns();
    let (l, port) = listen_lo();
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let client = c.local_addr().unwrap().port();
    let mut p = start(KernelFilters {
        pid: Some(me()),
        ..KernelFilters::default()
    });
    let (s, _) = l.accept().unwrap();
    drop(c);
    wait_tcp_state(&s, TCP_CLOSE_WAIT);
    drop(s);
    drop(l);
    let evs = events(&mut p, netns);
    let accepted = |e: &&SockEvent| {
        e.local.map(|l| l.1) == Some(port) && e.foreign.map(|f| f.1) == Some(client)
    };
    let got: Vec<_> = evs
        .iter()
        .filter(accepted)
        .map(|e| (e.op, e.initiator, e.attribution))
        .collect();
    assert_eq!(
        got,
        vec![
            (Accept, None, P),
            (Disconnect, Some(Initiator::Peer), O),
            (Close, None, P),
        ],
        "{evs:#?}"
    );
    for e in evs.iter().filter(accepted) {
        assert_eq!((e.task.pid, e.task.tid), (me(), tid()), "{e:?}");
        assert_eq!(e.task.comm, my_comm());
    }
}

#[test]
fn refused_connect_reports_attempt_and_outcome() {
    if !privileged() {
        return;
    }
    let (netns, mut p) = start_mine();
    let err = TcpStream::connect(("127.0.0.1", 1)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    let evs = events(&mut p, netns);
    assert_labels(
        &evs,
        "A Create, A Connect, A Connected errno=111 @owner, A Close",
    );
    assert_eq!(evs[1].foreign, Some(("127.0.0.1".parse().unwrap(), 1)));
    assert_eq!(evs[2].task.pid, me());
    // The outcome and the close keep the ends the kernel had assigned
    // (inet_put_port() zeroed skc_num before either ran).
    assert_outcome_and_close_keep_ends(&evs, 2, "127.0.0.1", ("127.0.0.1", 1));
}

/// The failed connect's outcome `evs[outcome]` and the close that follows
/// it both have a local end on `local_ip` with a port, the same one, and
/// the foreign end `foreign`.
#[track_caller]
fn assert_outcome_and_close_keep_ends(
    evs: &[SockEvent],
    outcome: usize,
    local_ip: &str,
    foreign: (&str, u16),
) {
    let foreign = Some((foreign.0.parse().unwrap(), foreign.1));
    let local = evs[outcome].local.unwrap();
    assert_eq!(local.0, local_ip.parse::<IpAddr>().unwrap(), "{evs:#?}");
    assert_ne!(local.1, 0, "{evs:#?}");
    assert_eq!(evs[outcome].foreign, foreign, "{evs:#?}");
    assert_eq!(evs[outcome + 1].local, Some(local), "{evs:#?}");
    assert_eq!(evs[outcome + 1].foreign, foreign, "{evs:#?}");
}

#[test]
fn bind_conflict_reports_eaddrinuse() {
    if !privileged() {
        return;
    }
    let (netns, mut p) = start_mine();
    let (l, port) = listen_lo();
    let err = TcpListener::bind(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
    drop(l);
    let evs = events(&mut p, netns);
    assert_labels(
        &evs,
        "A Create, A Bind, A Listen, B Create, B Bind errno=98, B Close, A Close",
    );
    assert_eq!(evs[4].local, Some(("127.0.0.1".parse().unwrap(), port)));
}

#[test]
fn privileged_port_bind_as_nobody_reports_eacces() {
    if !privileged() {
        return;
    }
    let netns = new_netns();
    let mut p = start(KernelFilters {
        uid: Some(65534),
        ..KernelFilters::default()
    });
    let out = std::process::Command::new("setpriv")
        .args(common::AS_NOBODY)
        .args(["/usr/bin/python3", "-c"])
        .arg(
            "import socket,sys\ns=socket.socket()\ntry:\n s.bind(('127.0.0.1', 80))\nexcept PermissionError:\n sys.exit(7)",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let evs = events(&mut p, netns);
    assert_labels(&evs, "A Create, A Bind errno=13, A Close");
    for e in &evs {
        assert_eq!(
            (e.task.uid, e.task.gid, e.task.comm.as_str()),
            (65534, 65534, "python3")
        );
    }
    assert_eq!(evs[1].local, Some(("127.0.0.1".parse().unwrap(), 80)));
}

fn udp_socket(family: i32) -> i32 {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM, 0) };
    assert!(fd >= 0);
    fd
}

fn sockaddr_v4(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    }
}

const SIN_LEN: libc::socklen_t = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

/// Two unbound UDP sockets that get their ports dynamically on the way to
/// 127.0.0.1:`port`: the first by the first of its `sends` datagrams, the
/// second by a connect.
fn dynamic_binds(port: u16, sends: usize) {
    let a = sockaddr_v4(port);
    let sa = (&raw const a).cast::<libc::sockaddr>();
    // SAFETY: our own fds, and a sockaddr that outlives the calls.
    unsafe {
        let s1 = udp_socket(libc::AF_INET);
        for _ in 0..sends {
            assert_eq!(libc::sendto(s1, b"x".as_ptr().cast(), 1, 0, sa, SIN_LEN), 1);
        }
        libc::close(s1);
        let s2 = udp_socket(libc::AF_INET);
        assert_eq!(libc::connect(s2, sa, SIN_LEN), 0);
        libc::close(s2);
    }
}

#[test]
fn udp_create_bind_dynamic_bind_connect_close() {
    if !privileged() {
        return;
    }
    let (netns, mut p) = start_mine();
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sport = server.local_addr().unwrap().port();
    dynamic_binds(sport, 2);
    drop(server);
    let evs = events(&mut p, netns);
    assert_labels(
        &evs,
        "A Create, A Bind, B Create, B DynBind, B Close, \
         C Create, C Connect, C DynBind, C Connected, C Close, A Close",
    );
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    assert!(evs.iter().all(|e| e.protocol == 17 && e.sock_type == 2));
    assert_eq!(evs[1].local, Some((lo, sport)));
    let dyn1 = evs[3].local.unwrap();
    assert_ne!(dyn1.1, 0);
    assert_eq!(evs[4].local, Some(dyn1));
    assert_eq!(evs[6].foreign, Some((lo, sport)));
    let dyn2 = evs[7].local.unwrap();
    assert_eq!(dyn2.0, lo);
    assert_eq!(evs[8].local, Some(dyn2));
    assert_eq!(evs[8].foreign, Some((lo, sport)));
}

#[test]
fn io_uring_connect_is_seen() {
    if !privileged() {
        return;
    }
    let (netns, mut p) = start_mine();
    let (l, port) = listen_lo();
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let a = sockaddr_v4(port);
    let mut ring = io_uring::IoUring::new(4).unwrap();
    let sqe = io_uring::opcode::Connect::new(
        io_uring::types::Fd(fd),
        (&raw const a).cast::<libc::sockaddr>(),
        SIN_LEN,
    )
    .build()
    .user_data(1);
    // SAFETY: `a` outlives the submission, which completes below.
    unsafe { ring.submission().push(&sqe).unwrap() };
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!(cqe.result(), 0, "io_uring connect");
    let (s, _) = l.accept().unwrap();
    drop(s);
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    drop(l);
    let evs = events(&mut p, netns);
    let ops: Vec<_> = label(&evs)
        .into_iter()
        .map(|(c, op, e, _, _)| (c, op, e))
        .collect();
    // The socket was created before io_uring; the connect never went
    // through connect(2), yet the attempt and its outcome are reported.
    assert_eq!(
        &ops[3..6],
        &[('B', Create, 0), ('B', Connect, 0), ('B', Connected, 0)],
        "{evs:#?}"
    );
    assert_eq!(evs[4].foreign, Some(("127.0.0.1".parse().unwrap(), port)));
    assert_eq!(evs[4].task.pid, me());
    assert!(ops.contains(&('C', Accept, 0)));
    let _ = fd.as_raw_fd();
}

#[test]
fn existing_sockets_snapshot() {
    if !privileged() {
        return;
    }
    let netns = new_netns();
    let (l, port) = listen_lo();
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    let u = std::net::UdpSocket::bind("[::1]:0").unwrap();
    let uport = u.local_addr().unwrap().port();
    let mut seq = 0;
    let evs = inetmon_io::sockets::existing::existing_events(
        inetmon_io::sockets::existing::NetnsScope::Current,
        &mut || {
            seq += 1;
            seq
        },
    )
    .unwrap();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let cport = c.local_addr().unwrap().port();
    // Every event is of this process and this namespace, marked existing.
    let whose: Vec<_> = evs
        .iter()
        .map(|e| (e.task.pid, e.existing, e.netns))
        .collect();
    assert_eq!(whose, vec![(me(), true, netns); 4], "{evs:#?}");
    let mut got: Vec<_> = evs
        .iter()
        .map(|e| (e.op, e.protocol, e.local, e.foreign))
        .collect();
    got.sort_by_key(|g| format!("{g:?}"));
    let lo6: IpAddr = "::1".parse().unwrap();
    let mut want = vec![
        (Listen, 6, Some((lo, port)), None),
        (Accept, 6, Some((lo, port)), Some((lo, cport))),
        (Connected, 6, Some((lo, cport)), Some((lo, port))),
        (Bind, 17, Some((lo6, uport)), None),
    ];
    want.sort_by_key(|g| format!("{g:?}"));
    assert_eq!(got, want);
    assert!(evs
        .iter()
        .all(|e| e.cookie != 0 && e.attribution == Attribution::Process));
    drop((c, s, l, u));
}

/// `--existing` is machine-wide: a listener in another thread's namespace,
/// and one in a namespace that only `ip netns add` holds (no process in it),
/// both come out, each with its own namespace inode, and the calling
/// thread stays in its namespace.
#[test]
fn existing_sockets_in_every_namespace() {
    if !privileged() {
        return;
    }
    let here = new_netns();
    let (l, port) = listen_lo();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let ns = new_netns();
        let l2 = TcpListener::bind("127.0.0.1:0").unwrap();
        tx.send((ns, l2.local_addr().unwrap().port())).unwrap();
        let _ = done_rx.recv();
        drop(l2);
    });
    let (there, port2) = rx.recv().unwrap();
    // A named namespace (`ip netns add`) holding a UDP socket that a
    // thread bound there before returning to its own namespace: no task is
    // in that namespace, only the bind mount and the socket keep it.
    let name = format!("inetmon-existing-{}", me());
    let st = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    assert!(st.success());
    let path = format!("/run/netns/{name}");
    let named = u32::try_from(std::fs::metadata(&path).unwrap().ino()).unwrap();
    let u = std::thread::spawn(move || {
        let back = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
        let target = std::fs::File::open(&path).unwrap();
        // SAFETY: setns on valid namespace fds; this thread only.
        assert_eq!(
            unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        let u = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::setns(back.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        u
    })
    .join()
    .unwrap();
    let uport = u.local_addr().unwrap().port();
    let mut seq = 0;
    let evs = inetmon_io::sockets::existing::existing_events(
        inetmon_io::sockets::existing::NetnsScope::All,
        &mut || {
            seq += 1;
            seq
        },
    );
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", &name])
        .status();
    let evs = evs.unwrap();
    done_tx.send(()).unwrap();
    other.join().unwrap();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let find = |ns: u32, p: u16| {
        evs.iter()
            .filter(|e| e.netns == ns && e.op == Listen && e.local == Some((lo, p)))
            .count()
    };
    assert_eq!(find(here, port), 1, "own namespace");
    assert_eq!(find(there, port2), 1, "the other thread's namespace");
    assert!(evs
        .iter()
        .filter(|e| e.netns == there)
        .all(|e| e.task.pid == me()));
    let in_named: Vec<_> = evs
        .iter()
        .filter(|e| e.netns == named)
        .map(|e| (e.op, e.protocol, e.local, e.task.pid))
        .collect();
    assert_eq!(
        in_named,
        vec![(Bind, 17, Some(("0.0.0.0".parse().unwrap(), uport)), me())]
    );
    assert!(evs.iter().all(|e| e.existing));
    // The snapshot did not move the calling thread.
    let now = std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
    assert_eq!(u32::try_from(now).unwrap(), here);
    // Sequence numbers are unique and dense.
    assert_eq!(seq, u64::try_from(evs.len()).unwrap());
    drop((l, u));
}

#[test]
fn connect_failures_unreachable_and_timeout() {
    if !privileged() {
        return;
    }
    let netns = new_netns();
    // A veth whose peer drops everything (wrong MAC): SYNs vanish.
    ip_here("link add inetmon0 type veth peer name inetmon1");
    ip_here("addr add 10.99.0.1/24 dev inetmon0");
    ip_here("link set inetmon0 up");
    ip_here("link set inetmon1 up");
    ip_here("neigh add 10.99.0.2 lladdr 02:00:00:00:00:02 dev inetmon0");
    ip_here("route add unreachable 10.98.0.0/24");
    let mut p = start(KernelFilters {
        pid: Some(me()),
        ..KernelFilters::default()
    });
    // Fails before any SYN: reported from the connect syscall's exit.
    let err = TcpStream::connect(("10.98.0.7", 80)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EHOSTUNREACH));
    // SYNs into the void: one retry, then ETIMEDOUT.
    // SAFETY: plain socket calls on our own fd and sockaddr.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let one: libc::c_int = 1;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_SYNCNT,
            (&raw const one).cast(),
            len,
        );
        let mut a = sockaddr_v4(80);
        a.sin_addr.s_addr = u32::from_ne_bytes([10, 99, 0, 2]);
        let rc = libc::connect(fd, (&raw const a).cast(), SIN_LEN);
        assert_eq!((rc, *libc::__errno_location()), (-1, libc::ETIMEDOUT));
        libc::close(fd);
    }
    let evs = events(&mut p, netns);
    assert_labels(
        &evs,
        "A Create, A Connect, A Connected errno=113, A Close, \
         B Create, B Connect, B Connected errno=110 @owner, B Close",
    );
    assert_eq!(evs[2].foreign, Some(("10.98.0.7".parse().unwrap(), 80)));
    // The closes keep the last known ends: the foreign end asked for
    // (no route: the socket never had one), and after the timeout the
    // ends the connect had (tcp_disconnect() zeroed the local address and
    // foreign port before close()).
    assert_eq!(evs[3].foreign, Some(("10.98.0.7".parse().unwrap(), 80)));
    assert_outcome_and_close_keep_ends(&evs, 6, "10.99.0.1", ("10.99.0.2", 80));
}

#[test]
fn peer_reset_and_listen_accept_errors() {
    if !privileged() {
        return;
    }
    let (netns, mut p) = start_mine();
    let (l, port) = listen_lo();
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    // The server aborts: linger 0 sends RST.
    // SAFETY: setsockopt on our own socket with a valid linger.
    unsafe {
        let lg = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        let len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const lg).cast(),
            len,
        );
    }
    drop(s);
    wait_tcp_state(&c, TCP_CLOSE);
    drop(c);
    drop(l);
    // listen() on a UDP socket and accept() on a socket that is not listening.
    // SAFETY: plain socket calls on our own fds.
    unsafe {
        let u = udp_socket(libc::AF_INET);
        assert_eq!(libc::listen(u, 1), -1);
        libc::close(u);
        let t = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert_eq!(
            libc::accept(t, std::ptr::null_mut(), std::ptr::null_mut()),
            -1
        );
        libc::close(t);
    }
    let evs = events(&mut p, netns);
    assert_labels(
        &evs,
        "A Create, A Bind, A Listen, B Create, B Connect, B Connected @owner, C Accept, \
         C Disconnect local, C Abort, B Disconnect errno=104 peer @owner, B Close, A Close, \
         D Create, D Listen errno=95, D Close, E Create, E Accept errno=22, E Close",
    );
    // The reset client keeps its ends: local port, and the server's.
    let client = evs[5].local.unwrap();
    assert_ne!(client.1, 0);
    let server = Some(("127.0.0.1".parse().unwrap(), port));
    for e in [&evs[9], &evs[10]] {
        assert_eq!((e.local, e.foreign), (Some(client), server), "{e:?}");
    }
    assert_eq!((evs[8].local, evs[8].foreign), (server, Some(client)));
}

/// Closing with data left unread resets the connection (tcp_close): an
/// abortive close, `abort`; the peer sees ECONNRESET. A close with every
/// byte read (the peer's FIN left unread) is an ordinary close.
#[test]
fn unread_data_at_close_is_an_abort() {
    if !privileged() {
        return;
    }
    let (netns, mut p) = start_mine();
    let (l, port) = listen_lo();
    // 1: the server never reads the client's bytes.
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    c.write_all(b"unread").unwrap();
    wait_unread(&s, 6);
    drop(s);
    wait_tcp_state(&c, TCP_CLOSE);
    drop(c);
    // 2: the server reads everything, the client closes first, the
    // server closes without reading the FIN.
    client_closes_first(&l, SocketAddr::from(([127, 0, 0, 1], port)));
    drop(l);
    let evs = events(&mut p, netns);
    assert_labels(
        &evs,
        "A Create, A Bind, A Listen, B Create, B Connect, B Connected @owner, C Accept, \
         C Disconnect local, C Abort, B Disconnect errno=104 peer @owner, B Close, \
         D Create, D Connect, D Connected @owner, E Accept, \
         D Disconnect local, D Close, E Disconnect peer @owner, E Close, A Close",
    );
}

#[test]
fn cgroup_filter_in_kernel() {
    if !privileged() {
        return;
    }
    let netns = new_netns();
    let root = inetmon_io::bpf::cgroup2_root().unwrap();
    let dir = root.join(format!("inetmon-sock-test-{}", me()));
    std::fs::create_dir(&dir).unwrap();
    let id = std::fs::metadata(&dir).unwrap().ino();
    let mut p = start(KernelFilters {
        cgroup: Some(id),
        ..KernelFilters::default()
    });
    // A child moves itself into the cgroup, then makes one UDP socket; the
    // test thread's own socket (outside the cgroup) must not be reported.
    let procs = dir.join("cgroup.procs");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {} && exec /usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()'",
            procs.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    drop(std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
    let (evs, lost) = collect(&mut p, netns, Duration::from_millis(300));
    std::fs::remove_dir(&dir).unwrap();
    assert_eq!(lost, 0);
    assert_labels(&evs, "A Create, A Close");
    assert!(evs
        .iter()
        .all(|e| e.cgroup_id == id && e.task.comm == "python3"));
}

fn start_watching(watch: &[Monitor]) -> SocketsProducer {
    start(KernelFilters {
        pid: Some(me()),
        watch: watch_set(Some(watch)),
        ..KernelFilters::default()
    })
}

/// `--watch streamConnect`: a full TCP connect/accept/close yields only the
/// attempt and its outcome (the producer does no user-space filtering: the
/// rest never left the kernel), with the right task and ends; neither the
/// sendmsg hooks nor the accept tracepoints are attached.
#[test]
fn watch_stream_connect_only_attaches_and_reports_connects() {
    if !privileged() {
        return;
    }
    let netns = new_netns();
    let mut p = start_watching(&[Monitor::StreamConnect]);
    let attached = p.attached_programs().to_vec();
    assert_eq!(
        attached,
        [
            "enter_connect",
            "exit_connect",
            "set_state",
            "connect4",
            "connect6"
        ]
    );
    for name in [
        "sendmsg4",
        "sendmsg6",
        "enter_accept",
        "exit_accept",
        "enter_accept4",
        "exit_accept4",
    ] {
        assert!(!attached.contains(&name), "{name} attached: {attached:?}");
    }
    let (l, port) = listen_lo();
    let client = client_closes_first(&l, SocketAddr::from(([127, 0, 0, 1], port)));
    drop(l);
    // UDP traffic too: dgramConnect is not watched, and the sends must not
    // come back as anything.
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    u.connect(("127.0.0.1", port)).unwrap();
    drop(u);
    let evs = events(&mut p, netns);
    assert_labels(&evs, "A Connect, A Connected @owner");
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let comm = my_comm();
    for e in &evs {
        assert_eq!((e.task.pid, e.task.tid), (me(), tid()), "{e:?}");
        assert_eq!(e.task.comm, comm);
        assert_eq!((e.sock_type, e.protocol, e.family), (1, 6, 2));
        assert_eq!(e.foreign, Some((lo, port)), "{e:?}");
    }
    assert_eq!(evs[1].local, Some((client.ip(), client.port())));
}

/// `--watch dgramBind`: explicit binds and dynamic binds (first send,
/// connect) are still reported, so the sendmsg hooks and the owner
/// bookkeeping stay attached; an explicitly bound socket's send is no
/// dynamic bind; nothing else is reported.
#[test]
fn watch_dgram_bind_still_reports_dynamic_bind_on_first_send() {
    if !privileged() {
        return;
    }
    let netns = new_netns();
    let mut p = start_watching(&[Monitor::DgramBind]);
    let attached = p.attached_programs().to_vec();
    for name in [
        "sendmsg4",
        "sendmsg6",
        "sock_create",
        "post_bind4",
        "connect4",
    ] {
        assert!(attached.contains(&name), "{name} missing: {attached:?}");
    }
    assert!(!attached.contains(&"set_state"), "{attached:?}");
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sport = server.local_addr().unwrap().port();
    dynamic_binds(sport, 2);
    // Explicitly bound: its send is not a dynamic bind.
    server.send_to(b"z", ("127.0.0.1", sport)).unwrap();
    drop(server);
    let evs = events(&mut p, netns);
    assert_labels(&evs, "A Bind, B DynBind, C DynBind");
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(evs[0].local, Some((lo, sport)));
    for e in &evs[1..] {
        let (_, port) = e.local.unwrap();
        assert_ne!(port, 0, "{e:?}");
        assert_eq!(e.task.pid, me());
    }
    assert!(evs.iter().all(|e| e.protocol == 17 && e.sock_type == 2));
}

/// A UDP socket bound (explicitly, or dynamically by its first send) and
/// then connected keeps its port: a later `sendto` with an address is not a
/// dynamic bind. (The connect used to re-record the socket's owner with its
/// flags cleared, forgetting that it was bound.)
#[test]
fn bound_then_connected_udp_send_is_not_a_dynamic_bind() {
    if !privileged() {
        return;
    }
    let netns = new_netns();
    let mut p = start_watching(&[Monitor::DgramBind]);
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sport = server.local_addr().unwrap().port();
    let a = sockaddr_v4(sport);
    // SAFETY: valid fds and sockaddr for the calls below.
    unsafe {
        let sa = (&raw const a).cast::<libc::sockaddr>();
        // Explicit bind, connect, sendto with an address.
        let s1 = udp_socket(libc::AF_INET);
        let any = sockaddr_v4(0);
        assert_eq!(libc::bind(s1, (&raw const any).cast(), SIN_LEN), 0);
        assert_eq!(libc::connect(s1, sa, SIN_LEN), 0);
        assert_eq!(libc::sendto(s1, b"x".as_ptr().cast(), 1, 0, sa, SIN_LEN), 1);
        libc::close(s1);
        // Dynamic bind by a send, connect, sendto again.
        let s2 = udp_socket(libc::AF_INET);
        assert_eq!(libc::sendto(s2, b"y".as_ptr().cast(), 1, 0, sa, SIN_LEN), 1);
        assert_eq!(libc::connect(s2, sa, SIN_LEN), 0);
        assert_eq!(libc::sendto(s2, b"z".as_ptr().cast(), 1, 0, sa, SIN_LEN), 1);
        libc::close(s2);
    }
    drop(server);
    let evs = events(&mut p, netns);
    assert_labels(&evs, "A Bind, B Bind, C DynBind");
}

/// Two TCP connect/accept/close (client, then server closing first), a
/// failed bind, a refused connect, an accept error, UDP explicit bind,
/// dynamic binds by send and by connect, a bound socket's send, and
/// listen() on a UDP socket (a record no monitor names).
fn mixed_workload() {
    let (l, port) = listen_lo();
    client_closes_first(&l, SocketAddr::from(([127, 0, 0, 1], port)));
    // The server closes first this time: the client's disconnect is passive.
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    drop(s);
    wait_tcp_state(&c, TCP_CLOSE_WAIT);
    drop(c);
    let err = TcpListener::bind(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
    drop(l);
    let err = TcpStream::connect(("127.0.0.1", 1)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    // SAFETY: accept(2) on our own socket that is not listening.
    unsafe {
        let t = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert_eq!(
            libc::accept(t, std::ptr::null_mut(), std::ptr::null_mut()),
            -1
        );
        libc::close(t);
    }
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    dynamic_binds(server.local_addr().unwrap().port(), 1);
    // SAFETY: listen(2) on our own UDP socket.
    unsafe {
        let u = udp_socket(libc::AF_INET);
        assert_eq!(libc::listen(u, 1), -1);
        libc::close(u);
    }
    server.send_to(b"z", server.local_addr().unwrap()).unwrap();
    drop(server);
}

/// What must agree between a run watching everything (filtered afterwards)
/// and a run watching one monitor: everything but cookie values, ports
/// and timestamps, which differ from run to run.
type Shape = (
    char,
    SockOp,
    u32,
    Option<Initiator>,
    Attribution,
    u32,
    String,
    bool,
    u16,
    Option<IpAddr>,
    Option<IpAddr>,
);

fn shape(evs: &[SockEvent]) -> Vec<Shape> {
    label(evs)
        .into_iter()
        .zip(evs)
        .map(|((c, op, errno, init, attr), e)| {
            (
                c,
                op,
                errno,
                init,
                attr,
                e.task.pid,
                e.task.comm.clone(),
                e.cookie != 0,
                e.sock_type,
                e.local.map(|l| l.0),
                e.foreign.map(|f| f.0),
            )
        })
        .collect()
}

/// For every single monitor, `--watch` with it alone reports in the kernel
/// exactly what watching everything and filtering in user space reports:
/// same operations, order, errors, initiators, attribution, task and
/// cookies present — so each monitor's bookkeeping programs are attached.
#[test]
fn every_single_watch_matches_the_user_space_filter() {
    if !privileged() {
        return;
    }
    let netns = new_netns();
    let mut p = start_watching(&Monitor::ALL);
    mixed_workload();
    let all = events(&mut p, netns);
    drop(p);
    let mut bad = Vec::new();
    for m in Monitor::ALL {
        let want: Vec<SockEvent> = all
            .iter()
            .filter(|e| e.monitor() == Some(m))
            .cloned()
            .collect();
        assert!(!want.is_empty() || m == Monitor::DgramCreate, "{m:?}");
        let netns = new_netns();
        let mut p = start_watching(&[m]);
        mixed_workload();
        let got = events(&mut p, netns);
        if shape(&got) != shape(&want) {
            bad.push(format!(
                "{}:\n got  {:?}\n want {:?}",
                m.name(),
                shape(&got),
                shape(&want)
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// listen, accept and a failing bind issued through io_uring
/// (`IORING_OP_LISTEN`/`BIND`: Linux 6.11+) never pass the syscall
/// tracepoints; their completions are reported from `io_uring_complete`.
#[test]
fn io_uring_listen_accept_and_failed_bind_are_seen() {
    use io_uring::{opcode, types, IoUring};
    if !privileged() {
        return;
    }
    let (netns, mut p) = start_mine();
    let mut ring = IoUring::new(8).unwrap();
    let mut run = |sqe: io_uring::squeue::Entry| -> i32 {
        // SAFETY: every buffer a request points to outlives the
        // submission, which completes before this returns.
        unsafe { ring.submission().push(&sqe).unwrap() };
        ring.submit_and_wait(1).unwrap();
        ring.completion().next().unwrap().result()
    };
    // SAFETY: plain socket calls on our own fds and sockaddrs.
    let (l, port) = unsafe {
        let l = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let mut a = sockaddr_v4(0);
        assert_eq!(libc::bind(l, (&raw const a).cast(), SIN_LEN), 0);
        let mut len = SIN_LEN;
        libc::getsockname(l, (&raw mut a).cast(), &raw mut len);
        (l, u16::from_be(a.sin_port))
    };
    assert_eq!(run(opcode::Listen::new(types::Fd(l), 8).build()), 0);
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let fd =
        run(opcode::Accept::new(types::Fd(l), std::ptr::null_mut(), std::ptr::null_mut()).build());
    assert!(fd >= 0, "io_uring accept: {fd}");
    // A second socket binding the listener's port: EADDRINUSE (reported
    // with the socket's own, unbound, local end: the address asked for is
    // not available to the completion).
    let b = udp_or_tcp_socket();
    let a = sockaddr_v4(port);
    let res = run(opcode::Bind::new(types::Fd(b), (&raw const a).cast(), SIN_LEN).build());
    assert_eq!(res, -libc::EADDRINUSE);
    // SAFETY: our own fds.
    unsafe {
        libc::close(b);
        libc::close(fd);
        libc::close(l);
    }
    drop(c);
    let evs = events(&mut p, netns);
    let got: Vec<_> = evs
        .iter()
        .filter(|e| matches!(e.op, Listen | Accept | Bind))
        .map(|e| (e.op, e.errno, e.local.map(|l| l.1), e.task.pid))
        .collect();
    assert_eq!(
        got,
        vec![
            (Bind, 0, Some(port), me()),
            (Listen, 0, Some(port), me()),
            (Accept, 0, Some(port), me()),
            (Bind, 98, Some(0), me()),
        ],
        "{evs:#?}"
    );
    let accept = evs.iter().find(|e| e.op == Accept).unwrap();
    assert_eq!(
        accept.foreign,
        Some(("127.0.0.1".parse().unwrap(), c_port_of(&evs, port)))
    );
}

fn udp_or_tcp_socket() -> i32 {
    // SAFETY: plain socket call.
    unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) }
}

/// The client port of the connect to `port` in `evs` (its outcome).
fn c_port_of(evs: &[SockEvent], port: u16) -> u16 {
    evs.iter()
        .find(|e| e.op == Connected && e.foreign.map(|f| f.1) == Some(port))
        .and_then(|e| e.local)
        .unwrap()
        .1
}

/// The fd and the interface in the records (`inetmon audit`'s `Chan` and
/// `Intf`): the fd the syscall named (for an accept the new one, for a
/// failed bind the one it failed on); the connect outcome and the peer's
/// disconnect, which run in softirq, with the fd of the connect or accept
/// (kept with the socket's owner); the interface of the route (`lo`, 1, in
/// the namespace), none for a listening socket; neither for the records
/// of create, close and a disconnect seen at close.
#[test]
fn fd_and_ifindex() {
    if !privileged() {
        return;
    }
    let (netns, mut p) = start_mine();
    let fd = |f: i32| Some(u32::try_from(f).unwrap());
    let (l, port) = listen_lo();
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    // SAFETY: a plain socket and bind on memory of this frame; closed below.
    let b = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(b >= 0);
    let sa = sockaddr_v4(port);
    // SAFETY: sa is a valid sockaddr_in of the size given.
    let r = unsafe { libc::bind(b, (&raw const sa).cast(), SIN_LEN) };
    assert_eq!(
        (r, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::EADDRINUSE))
    );
    let (lfd, cfd, sfd) = (fd(l.as_raw_fd()), fd(c.as_raw_fd()), fd(s.as_raw_fd()));
    drop(c);
    wait_tcp_state(&s, TCP_CLOSE_WAIT);
    drop(s);
    drop(l);
    // SAFETY: b is the socket made above, closed once.
    unsafe { libc::close(b) };
    let evs = events(&mut p, netns);
    // (op, errno, initiator, fd, ifindex)
    type Row = (SockOp, u32, Option<Initiator>, Option<u32>, u32);
    let got: Vec<Row> = evs
        .iter()
        .map(|e| (e.op, e.errno, e.initiator, e.link.fd, e.link.ifindex))
        .filter(|(op, ..)| !matches!(op, Create | Close))
        .collect();
    let want = vec![
        (Bind, 0, None, lfd, 0),
        (Listen, 0, None, lfd, 0),
        (Connect, 0, None, cfd, 0),
        (Connected, 0, None, cfd, 1),
        (Accept, 0, None, sfd, 1),
        (Bind, 98, None, fd(b), 0),
        // (The local disconnect is seen at release, which names no fd and
        // does not look the interface up.)
        (Disconnect, 0, Some(Initiator::Local), None, 0),
        (Disconnect, 0, Some(Initiator::Peer), sfd, 1),
    ];
    assert_eq!(got, want, "{evs:#?}");
    for e in evs.iter().filter(|e| matches!(e.op, Create | Close)) {
        assert_eq!(e.link.fd, None, "{e:?}");
    }
}
