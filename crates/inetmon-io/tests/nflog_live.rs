//! The NFLOG source against the real kernel, in a private network namespace.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::Netns;
use inetmon_core::event::{Action, Direction, Event, LossStage, Source};
use inetmon_io::nflog::{NflogConfig, NflogSource};
use inetmon_io::pipeline::Pipeline;
use inetmon_io::shutdown::Shutdown;

fn privileged() -> bool {
    common::can_run(common::is_root(), "needs root (netns, nft, NFLOG)")
        && common::can_run(common::have("nft"), "nft is not installed")
}

/// Starts the source for `groups` on a thread inside `ns`; returns the
/// pipeline's receiver, the shutdown handle and the thread.
fn start(
    ns: &Netns,
    cfg: NflogConfig,
    capacity: usize,
) -> (
    inetmon_io::pipeline::Events,
    Shutdown,
    std::thread::JoinHandle<()>,
    inetmon_io::pipeline::Metrics,
) {
    let pipe = Pipeline::new(capacity);
    let metrics = pipe.metrics();
    let shutdown = Shutdown::new().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let sd = shutdown.clone();
    let handle = ns.spawn(move || {
        let src = NflogSource::open(cfg).unwrap();
        let producers = src.producers(&pipe);
        let rx = pipe.close();
        ready_tx.send((rx, src.features())).unwrap();
        src.run(producers, &sd).unwrap();
    });
    let (rx, features) = ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(features.seq);
    (rx, shutdown, handle, metrics)
}

fn udp_in_ns(ns: &Netns, port: u16, count: usize, payload: usize) {
    ns.spawn(move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let buf = vec![0x5a; payload];
        for _ in 0..count {
            // Nobody listens: ICMP port unreachable comes back, and
            // connectionless sends ignore it.
            let _ = s.send_to(&buf, ("127.0.0.1", port));
        }
    })
    .join()
    .unwrap();
}

#[test]
fn ping_and_udp_are_logged() {
    if !privileged() {
        return;
    }
    let ns = Netns::new("nflog");
    ns.nft(
        "table inet t {
           chain out {
             type filter hook output priority 0; policy accept;
             icmp type echo-request log group 7 prefix \"b @0:1 \"
             udp dport 9999 log group 8
           }
         }",
    );
    let cfg = NflogConfig {
        groups: vec![7, 8],
        ..NflogConfig::default()
    };
    let (rx, shutdown, handle, metrics) = start(&ns, cfg, 1024);
    ns.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "1", "127.0.0.1"]);
    udp_in_ns(&ns, 9999, 5, 10);

    let mut icmp = Vec::new();
    let mut udp = Vec::new();
    let end = Instant::now() + Duration::from_secs(60);
    while (icmp.len() < 3 || udp.len() < 5) && Instant::now() < end {
        let Ok(ev) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        match ev {
            Event::Packet(p) => match p.header.source {
                Source::Nflog(7) => icmp.push(p),
                Source::Nflog(8) => udp.push(p),
                ref s => panic!("unexpected source {s}"),
            },
            other => panic!("unexpected event {other:?}"),
        }
    }
    shutdown.trigger();
    handle.join().unwrap();
    assert_eq!(icmp.len(), 3);
    assert_eq!(udp.len(), 5);
    for (i, p) in icmp.iter().enumerate() {
        assert_eq!(p.header.seq, i as u64 + 1);
        assert_eq!(p.interface, "lo");
        assert_eq!(p.direction, Some(Direction::Out));
        assert_eq!(p.packet.get(9), Some(&1), "ICMP");
        assert_eq!(&p.packet[12..20], &[127, 0, 0, 1, 127, 0, 0, 1]);
        let nf = p.nflog.as_ref().unwrap();
        assert_eq!(nf.group, 7);
        assert_eq!(nf.prefix, "b @0:1 ");
        // Core reads the ipmon rule facts from the prefix.
        assert_eq!(p.action, Action::Block);
        assert_eq!(p.rule, Some(1));
        assert_eq!(nf.seq, Some(i as u32));
        assert_eq!(nf.hook, Some(3));
    }
    for p in &udp {
        assert_eq!(p.packet.get(9), Some(&17), "UDP");
        assert_eq!(p.packet.len(), 20 + 8 + 10);
        assert_eq!(u16::from_be_bytes([p.packet[22], p.packet[23]]), 9999);
    }
    let snap = metrics.snapshot();
    let total: u64 = snap.iter().map(|s| s.decoded).sum();
    assert_eq!(total, 8);
    assert!(snap
        .iter()
        .all(|s| s.lost_kernel == 0 && s.lost_channel == 0));
}

struct FloodResult {
    sent: u64,
    packets: u64,
    lost_kernel: u64,
    lost_channel: u64,
    metrics_lost_kernel: u64,
    metrics_lost_channel: u64,
    send_secs: f64,
    recv_secs: f64,
}

/// Floods NFLOG group 3 inside a fresh namespace with `count` UDP packets
/// from `senders` threads; the consumer sleeps `pause` every 1000 events.
fn flood(
    tag: &str,
    cfg: NflogConfig,
    capacity: usize,
    count: usize,
    senders: usize,
    pause: Duration,
) -> FloodResult {
    let ns = Netns::new(tag);
    ns.nft(
        "table inet t {
           chain out {
             type filter hook output priority 0; policy accept;
             udp dport 9 log group 3
           }
         }",
    );
    let (rx, shutdown, handle, metrics) = start(&ns, cfg, capacity);
    // Packets plus losses the consumer has counted so far.
    let accounted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&accounted);
    let counter = std::thread::spawn(move || {
        let (mut packets, mut lost_kernel, mut lost_channel) = (0u64, 0u64, 0u64);
        let mut first: Option<Instant> = None;
        let mut last = Instant::now();
        for (i, ev) in rx.iter().enumerate() {
            if i % 1000 == 999 && !pause.is_zero() {
                std::thread::sleep(pause);
            }
            match ev {
                Event::Packet(_) => {
                    packets += 1;
                    first.get_or_insert_with(Instant::now);
                    last = Instant::now();
                }
                Event::Lost(l) if l.stage == LossStage::Kernel => lost_kernel += l.count,
                Event::Lost(l) => lost_channel += l.count,
                other => panic!("unexpected {other:?}"),
            }
            counted.store(
                packets + lost_kernel + lost_channel,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
        (packets, lost_kernel, lost_channel, secs)
    });
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for i in 0..senders {
            let n = count / senders + usize::from(i < count % senders);
            let ns = &ns;
            s.spawn(move || udp_in_ns(ns, 9, n, 32));
        }
    });
    let send_secs = t0.elapsed().as_secs_f64();
    // A last packet after a pause: a gap before it reports trailing loss.
    std::thread::sleep(Duration::from_millis(500));
    udp_in_ns(&ns, 9, 1, 32);
    // Until the consumer has it (and the loss before it) or nothing more
    // comes for 2 s: a fixed 500 ms was not always enough on a loaded
    // machine.
    let sent = count as u64 + 1;
    let mut last = (0, Instant::now());
    while last.1.elapsed() < Duration::from_secs(2) {
        let n = accounted.load(std::sync::atomic::Ordering::Relaxed);
        if n >= sent {
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    shutdown.trigger();
    handle.join().unwrap();
    let (packets, lost_kernel, lost_channel, recv_secs) = counter.join().unwrap();
    let snap = metrics.snapshot();
    FloodResult {
        sent: count as u64 + 1,
        packets,
        lost_kernel,
        lost_channel,
        metrics_lost_kernel: snap[0].lost_kernel,
        metrics_lost_channel: snap[0].lost_channel,
        send_secs,
        recv_secs,
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Floods one group with default settings and checks that every logged
/// packet is delivered or reported lost, exactly. Prints the rate reached
/// (`INETMON_FLOOD`, `INETMON_FLOOD_SENDERS` size the run).
#[test]
#[allow(clippy::print_stdout)]
fn flood_is_delivered_or_accounted() {
    if !privileged() {
        return;
    }
    let count = env_or("INETMON_FLOOD", 50_000);
    let senders = env_or("INETMON_FLOOD_SENDERS", 1);
    let r = flood(
        "flood",
        NflogConfig {
            groups: vec![3],
            ..NflogConfig::default()
        },
        65_536,
        count,
        senders,
        Duration::ZERO,
    );
    println!(
        "NFLOG flood: sent {} in {:.3}s ({:.0}/s); delivered {} in {:.3}s; lost kernel {}, channel {}",
        r.sent,
        r.send_secs,
        count as f64 / r.send_secs,
        r.packets,
        r.recv_secs,
        r.lost_kernel,
        r.lost_channel
    );
    assert_eq!(r.metrics_lost_kernel, r.lost_kernel);
    assert_eq!(r.packets + r.lost_kernel + r.lost_channel, r.sent);
}

/// With a tiny socket buffer and a slow consumer behind a tiny channel,
/// packets are lost in the kernel and in the channel, and the `Lost` events
/// add up exactly to what is missing.
#[test]
#[allow(clippy::print_stdout)]
fn overload_losses_add_up() {
    if !privileged() {
        return;
    }
    let cfg = NflogConfig {
        groups: vec![3],
        rcvbuf: 32 * 1024,
        nlbufsiz: 16 * 1024,
        batch: 1,
        ..NflogConfig::default()
    };
    let r = flood("overload", cfg, 16, 30_000, 2, Duration::from_millis(5));
    println!(
        "NFLOG overload: sent {}; delivered {}; lost kernel {}, channel {}",
        r.sent, r.packets, r.lost_kernel, r.lost_channel
    );
    assert_eq!(r.metrics_lost_kernel, r.lost_kernel);
    assert_eq!(r.metrics_lost_channel, r.lost_channel);
    assert!(r.lost_channel > 0, "the channel should have overflowed");
    assert_eq!(r.packets + r.lost_kernel + r.lost_channel, r.sent);
}

/// A namespace whose output hook logs UDP to port 9999 to the one group of
/// `cfg`, and the source reading it (channel of 1024 events).
fn logged_udp_9999(
    tag: &str,
    cfg: NflogConfig,
) -> (
    Netns,
    inetmon_io::pipeline::Events,
    Shutdown,
    std::thread::JoinHandle<()>,
) {
    let ns = Netns::new(tag);
    ns.nft(&format!(
        "table inet t {{\n chain out {{\n type filter hook output priority 0; policy accept;\n \
         udp dport 9999 log group {}\n }}\n}}\n",
        cfg.groups[0]
    ));
    let (rx, shutdown, handle, _) = start(&ns, cfg, 1024);
    (ns, rx, shutdown, handle)
}

/// Batching does not hold a lone packet back: the kernel sends a partial
/// batch after `flush_timeout_cs` (10 ms by default) and the source hands
/// what it read to the consumer before it waits again (not at its next idle
/// wake-up, 200 ms later).
///
/// Each of 7 single packets is also received by a UDP socket on its port,
/// whose thread notes when it woke: on a loaded machine every wake-up is
/// late, and the NFLOG path's extra delay over that baseline is what is
/// measured. Its median must be under 100 ms (one scheduling delay does
/// not decide). A fixed bound on the plain latency failed under load: it
/// measured the machine, not the source.
#[test]
#[allow(clippy::print_stdout)]
fn a_lone_packet_arrives_within_100_ms() {
    if !privileged() {
        return;
    }
    let cfg = NflogConfig {
        groups: vec![5],
        ..NflogConfig::default()
    };
    assert!(
        cfg.flush_timeout_cs <= 10,
        "the kernel holds a batch ≤ 100 ms"
    );
    let (ns, rx, shutdown, handle) = logged_udp_9999("nflat", cfg);
    let path = ns.path();
    let sender = std::thread::spawn(move || {
        common::enter_netns(&path);
        let receiver = UdpSocket::bind("127.0.0.1:9999").unwrap();
        let (woke_tx, woke_rx) = std::sync::mpsc::channel();
        let woken = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..7 {
                receiver.recv(&mut buf).unwrap();
                woke_tx.send(Instant::now()).unwrap();
            }
        });
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut took = Vec::new();
        for _ in 0..7 {
            let t0 = Instant::now();
            s.send_to(&[1; 8], ("127.0.0.1", 9999)).unwrap();
            let ev = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the packet");
            let nflog = t0.elapsed();
            assert!(matches!(ev, Event::Packet(_)), "unexpected {ev:?}");
            let socket = woke_rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the datagram")
                - t0;
            took.push((nflog.saturating_sub(socket), nflog, socket));
            std::thread::sleep(Duration::from_millis(50));
        }
        woken.join().unwrap();
        took
    });
    let mut took = sender.join().unwrap();
    shutdown.trigger();
    handle.join().unwrap();
    took.sort();
    println!("NFLOG lone packet latency over a socket's (NFLOG, socket): {took:?}");
    assert!(
        took[3].0 < Duration::from_millis(100),
        "median {:?}",
        took[3]
    );
}

/// The consumer's spent packet events go back to the NFLOG reader, which
/// overwrites them: the third burst of packets arrives in the allocations
/// of the first (they return when the consumer starts on the second).
#[test]
fn spent_packets_are_reused() {
    if !privileged() {
        return;
    }
    let cfg = NflogConfig {
        groups: vec![6],
        ..NflogConfig::default()
    };
    let (ns, rx, shutdown, handle) = logged_udp_9999("nfreuse", cfg);
    let mut bursts: Vec<Vec<usize>> = Vec::new();
    for _ in 0..3 {
        udp_in_ns(&ns, 9999, 3, 8);
        let mut addrs = Vec::new();
        for _ in 0..3 {
            let ev = rx.recv_timeout(Duration::from_secs(60)).expect("a packet");
            let Event::Packet(p) = &ev else {
                panic!("unexpected {ev:?}")
            };
            addrs.push(std::ptr::from_ref::<inetmon_core::event::PacketLog>(p) as usize);
            rx.give_back(ev);
        }
        bursts.push(addrs);
    }
    shutdown.trigger();
    handle.join().unwrap();
    let mut first = bursts[0].clone();
    let mut third = bursts[2].clone();
    first.sort_unstable();
    third.sort_unstable();
    assert_eq!(first, third, "the first burst's events are reused");
}
