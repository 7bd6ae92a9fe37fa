//! The conntrack source against the real kernel, in a private network
//! namespace, with a DNAT rule so that NAT events appear.

mod common;

use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::Netns;
use inetmon_core::event::{Event, NatAction, NatType, Source, StateType};
use inetmon_io::conntrack::{ConntrackConfig, ConntrackSource};
use inetmon_io::pipeline::Pipeline;
use inetmon_io::shutdown::Shutdown;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[test]
fn new_and_destroy_with_nat() {
    if !(common::can_run(common::is_root(), "needs root (netns, nft, ctnetlink)")
        && common::can_run(common::have("conntrack"), "conntrack tool is not installed"))
    {
        return;
    }
    let ns = Netns::new("ct");
    ns.nft(
        "table ip nat {
           chain out { type nat hook output priority -100; udp dport 8080 dnat to 127.0.0.1:9; }
         }
         table inet f {
           chain out { type filter hook output priority 0; ct state new counter; }
         }",
    );
    let pipe = Pipeline::new(1024);
    let shutdown = Shutdown::new().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let sd = shutdown.clone();
    let handle = ns.spawn(move || {
        let cfg = ConntrackConfig {
            enable_acct: true,
            ..ConntrackConfig::default()
        };
        let src = ConntrackSource::open(cfg).unwrap();
        let producer = pipe.producer(Source::Conntrack);
        let rx = pipe.close();
        ready_tx.send(rx).unwrap();
        src.run(producer, &sd).unwrap();
    });
    let rx = ready_rx.recv_timeout(Duration::from_secs(60)).unwrap();

    // Traffic inside the namespace: UDP to 8080 (DNATed to 9), and a TCP
    // connection to a listener.
    let tcp_port = ns
        .spawn(move || {
            let u = UdpSocket::bind("127.0.0.1:40000").unwrap();
            u.send_to(b"hello", "127.0.0.1:8080").unwrap();
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let _c = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let _a = l.accept().unwrap();
            port
        })
        .join()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    ns.exec(&["conntrack", "-F"]);

    let mut events = Vec::new();
    let end = Instant::now() + Duration::from_secs(60);
    let done = |ev: &[Event]| {
        ev.iter()
            .filter(|e| matches!(e, Event::State(s) if s.state_type == StateType::Expire))
            .count()
            >= 2
    };
    while !done(&events) && Instant::now() < end {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(200)) {
            events.push(e);
        }
    }
    shutdown.trigger();
    handle.join().unwrap();

    let nats: Vec<_> = events
        .iter()
        .filter_map(|e| if let Event::Nat(n) = e { Some(n) } else { None })
        .collect();
    assert_eq!(nats.len(), 2, "{events:#?}");
    for (n, action) in nats.iter().zip([NatAction::New, NatAction::Expire]) {
        assert_eq!(n.action, action);
        assert_eq!(n.nat_type, NatType::Rdr);
        assert_eq!(n.protocol, 17);
        assert_eq!(n.orig_src, (LO, 40000));
        assert_eq!(n.orig_dst, (LO, 8080));
        assert_eq!(n.new_dst, (LO, 9));
        assert_eq!(n.new_src, (LO, 40000));
    }
    // Counters (nf_conntrack_acct) on the DESTROY: one packet of 5 bytes + 28.
    assert_eq!(nats[1].packets.map(|p| p[0]), Some(1));
    assert_eq!(nats[1].bytes.map(|b| b[0]), Some(33));
    let states: Vec<_> = events
        .iter()
        .filter_map(|e| {
            if let Event::State(s) = e {
                Some(s)
            } else {
                None
            }
        })
        .collect();
    let find = |t: StateType, proto: u8| {
        states
            .iter()
            .filter(|s| s.state_type == t && s.protocol == proto)
            .count()
    };
    assert_eq!(find(StateType::New, 17), 1);
    assert_eq!(find(StateType::Expire, 17), 1);
    assert_eq!(find(StateType::New, 6), 1);
    assert_eq!(find(StateType::Expire, 6), 1);
    let tcp = states.iter().find(|s| s.protocol == 6).unwrap();
    assert_eq!(tcp.ports.1, tcp_port);
    // Times come from the kernel's conntrack timestamps: close to now.
    let now = inetmon_io::pipeline::now().secs;
    assert!(events
        .iter()
        .all(|e| (now - e.header().time.secs).abs() < 60));
    // Sequence numbers are dense from 1.
    let seqs: Vec<u64> = events.iter().map(|e| e.header().seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
}
