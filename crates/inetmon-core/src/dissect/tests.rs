use super::*;

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
    ];
    p.extend_from_slice(payload);
    let len = u16::try_from(p.len()).unwrap().to_be_bytes();
    p[2..4].copy_from_slice(&len);
    p
}

#[test]
fn ipv4_transport_parts() {
    assert_eq!(ipf_header_len(&ipv4(proto::TCP, &[0; 32])), 40);
    assert_eq!(ipf_header_len(&ipv4(proto::TCP, &[0; 10])), 30);
    assert_eq!(ipf_header_len(&ipv4(proto::UDP, &[0; 20])), 28);
    assert_eq!(ipf_header_len(&ipv4(proto::ICMP, &[8; 64])), 48);
    assert_eq!(ipf_header_len(&ipv4(proto::ICMP, &[3; 64])), 56);
    assert_eq!(ipf_header_len(&ipv4(0, &[0; 8])), 20);
}

#[test]
fn non_first_fragment_is_ip_header_only() {
    let mut p = ipv4(proto::UDP, &[0; 20]);
    p[7] = 1;
    assert_eq!(ipf_header_len(&p), 20);
}

#[test]
fn garbage_never_panics() {
    for len in 0..64 {
        let v = vec![0x4f; len];
        let _ = ipf_header_len(&v);
        let v = vec![0x60; len];
        let _ = ipf_header_len(&v);
    }
}

#[test]
fn header_facts_are_lax() {
    let tcp = [
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x30, 0x39, 0, 80, 0,
        0, 0, 0, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0,
    ];
    let s = HeaderFacts::of(&tcp);
    assert_eq!(
        (s.protocol, s.sport, s.dport, s.tcp_flags, s.len),
        (Some(6), Some(12345), Some(80), Some(0x12), Some(40))
    );
    assert_eq!(s.src, Some("10.0.0.1".parse().unwrap()));
    // Cut inside the ports: the addresses are still there.
    let s = HeaderFacts::of(&tcp[..21]);
    assert_eq!(
        (s.sport, s.dport, s.dst),
        (None, None, Some("10.0.0.2".parse().unwrap()))
    );
    // Cut inside the destination address: the source is still there.
    let s = HeaderFacts::of(&tcp[..17]);
    assert_eq!((s.src.is_some(), s.dst), (true, None));
    // A later fragment has no ports.
    let mut frag = tcp;
    frag[7] = 1;
    assert_eq!(HeaderFacts::of(&frag).sport, None);
    let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 58, 64];
    v6.extend([0; 15]);
    v6.push(1);
    v6.extend([0; 15]);
    v6.push(1);
    v6.extend([128, 0, 0, 0]);
    let s = HeaderFacts::of(&v6);
    assert_eq!(
        (s.protocol, s.icmp_type, s.icmp_code, s.len),
        (Some(58), Some(128), Some(0), Some(48))
    );
    assert_eq!(HeaderFacts::of(&[]), HeaderFacts::default());
}

#[test]
fn stop_reasons_are_typed() {
    use crate::event::CaptureLayer;
    let v = PacketView::capture(&[], CaptureLayer::None, 0);
    assert_eq!(v.stop, Some(Stop::NoData));
    let v = PacketView::capture(&[0; 10], CaptureLayer::Ethernet, 0);
    assert_eq!(
        v.stop,
        Some(Stop::Truncated {
            layer: Layer::Ethernet,
            need: 14,
            got: 10
        })
    );
    assert!(v.stop.is_some_and(|s| s.is_truncation()));
    let v = PacketView::capture(&[0x45; 12], CaptureLayer::Network, 0);
    assert!(v.ip.is_none() && v.ip_view.is_some());
    assert_eq!(
        v.stop.map(|s| s.to_string()).as_deref(),
        Some("IPv4 header needs 20 bytes, got 12")
    );
    let v = PacketView::capture(&[0x41; 20], CaptureLayer::Network, 0);
    assert_eq!(v.stop, Some(Stop::Ipv4HeaderLen(4)));
    assert!(!Stop::Ipv4HeaderLen(4).is_truncation());
    let v = PacketView::capture(&[0x60; 40], CaptureLayer::Network, 0x0800);
    assert_eq!(
        v.stop,
        Some(Stop::Version {
            layer: Layer::Ipv4,
            version: 6
        })
    );
    let mut eth = [0u8; 20];
    eth[12] = 0x08;
    eth[13] = 0x06;
    let v = PacketView::capture(&eth, CaptureLayer::Ethernet, 0);
    assert_eq!((v.stop, v.eth.map(|e| e.ethertype)), (None, Some(0x0806)));
}

/// UDP from port 1000 to `dport` around `payload`, in IPv4.
fn udp_to(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0x03, 0xe8];
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&[0, 0, 0, 0]);
    u.extend_from_slice(payload);
    ipv4(proto::UDP, &u)
}

/// An Ethernet frame around an IPv4 packet.
fn eth(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(ip);
    f
}

#[test]
fn overlay_headers_and_their_stops() {
    let inner = eth(&ipv4(proto::TCP, &[0; 20]));
    // VXLAN: I flag, VNI 0x123456, inner Ethernet.
    let mut vx = vec![0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0];
    vx.extend_from_slice(&inner);
    let b1 = udp_to(VXLAN_PORT, &vx);
    let p = PacketView::ip(&b1);
    let t = p.tunnel.unwrap();
    assert_eq!(
        (t.kind, t.vni, t.header_len, t.depth),
        (TunnelKind::Vxlan, 0x12_3456, 8, 1)
    );
    assert_eq!(p.stop, None);
    let i = t.inner_view();
    assert!(i.eth.is_some() && matches!(i.l4, Some(L4::Tcp { .. })));
    assert_eq!(p.innermost(), i);
    // Without the I flag: not a VXLAN header.
    vx[0] = 0;
    let b2 = udp_to(VXLAN_PORT, &vx);
    let p = PacketView::ip(&b2);
    assert_eq!((p.tunnel, p.stop), (None, Some(Stop::VxlanFlags(0))));
    // Geneve with 8 bytes of options, carrying IPv4 directly.
    let mut g = vec![0x02, 0, 0x08, 0x00, 0, 0, 7, 0];
    g.extend_from_slice(&[0xaa; 8]);
    g.extend_from_slice(&ipv4(proto::UDP, &[0; 8]));
    let b3 = udp_to(GENEVE_PORT, &g);
    let p = PacketView::ip(&b3);
    let t = p.tunnel.unwrap();
    assert_eq!(
        (t.kind, t.vni, t.header_len, t.protocol),
        (TunnelKind::Geneve, 7, 16, 0x0800)
    );
    assert!(matches!(t.inner_view().l4, Some(L4::Udp { .. })));
    // Options announced beyond the capture; a version other than 0.
    let b4 = udp_to(GENEVE_PORT, &g[..12]);
    let p = PacketView::ip(&b4);
    assert_eq!(
        p.stop,
        Some(Stop::Truncated {
            layer: Layer::Geneve,
            need: 16,
            got: 12
        })
    );
    g[0] = 0x40;
    let b5 = udp_to(GENEVE_PORT, &g);
    let p = PacketView::ip(&b5);
    assert_eq!(p.stop, Some(Stop::GeneveVersion(1)));
    // A header cut short.
    let b6 = udp_to(VXLAN_PORT, &[0x08, 0, 0]);
    let p = PacketView::ip(&b6);
    assert_eq!(
        p.stop,
        Some(Stop::Truncated {
            layer: Layer::Vxlan,
            need: 8,
            got: 3
        })
    );
    // Another port: plain UDP.
    assert_eq!(PacketView::ip(&udp_to(9999, &vx)).tunnel, None);
}

/// Tunnels inside tunnels are followed to MAX_TUNNEL_DEPTH, then stop.
#[test]
fn nested_overlays_stop_at_the_depth_limit() {
    let mut pkt = ipv4(proto::TCP, &[0; 20]);
    for _ in 0..=MAX_TUNNEL_DEPTH {
        let mut g = vec![0, 0, 0x08, 0x00, 0, 0, 1, 0];
        g.extend_from_slice(&pkt);
        pkt = udp_to(GENEVE_PORT, &g);
    }
    let mut v = PacketView::ip(&pkt);
    for _ in 0..MAX_TUNNEL_DEPTH {
        v = v.tunnel.unwrap().inner_view();
    }
    assert_eq!(v.depth, MAX_TUNNEL_DEPTH);
    assert_eq!(v.tunnel, None);
    assert_eq!(v.stop, Some(Stop::TunnelDepth(MAX_TUNNEL_DEPTH)));
}
