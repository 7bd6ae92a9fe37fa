use std::net::{IpAddr, Ipv4Addr};

use inetmon_core::event::{
    DropEvent, DropReason, Event, Header, LossStage, Lost, SockEvent, SockOp, Source, Timestamp,
};

use super::*;

/// A socket event of `op` by pid 42 (`curl`), 127.0.0.1:40000 → :80.
pub(crate) fn sock(op: SockOp, cookie: u64, errno: u32) -> Event {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut ev = SockEvent {
        op,
        local: Some((lo, 40000)),
        foreign: Some((lo, 80)),
        cookie,
        netns: 1,
        errno,
        ..SockEvent::sample()
    };
    ev.header.time = now();
    (ev.task.pid, ev.task.tid, ev.task.uid, ev.task.gid) = (42, 42, 1000, 1000);
    Event::Sock(Box::new(ev))
}

/// A drop with reason `name` (code `code`) of a UDP packet 10.0.0.1:41022
/// → 10.0.0.2:8080.
pub(crate) fn drop_event(code: u32, name: &str) -> Event {
    let mut ev = DropEvent {
        reason: DropReason {
            code,
            subsystem: None,
            name: Some(name.into()),
        },
        netns: 1,
        ..DropEvent::sample()
    };
    ev.header.time = now();
    Event::Drop(Box::new(ev))
}

/// `count` events lost by the socket producer at `stage`.
pub(crate) fn lost(stage: LossStage, count: u64) -> Event {
    Event::Lost(Lost {
        header: Header {
            time: Timestamp::default(),
            source: Source::Sockets,
            seq: 1,
        },
        stage,
        count,
        kinds: Vec::new(),
        seq_range: None,
        breakdown: vec![("connect", count)],
    })
}

fn line_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn counts_events_drops_and_losses_once_flushed() {
    let m = Metrics::new();
    let mut sink = m.sink();
    let out = Rendered::default();
    for ev in [
        sock(SockOp::Connect, 1, 0),
        sock(SockOp::Connected, 1, 0),
        sock(SockOp::Connected, 2, 111),
        drop_event(2, "NO_SOCKET"),
        drop_event(2, "NO_SOCKET"),
        drop_event(6, "NETFILTER_DROP"),
        lost(LossStage::Kernel, 5),
        lost(LossStage::Kernel, 2),
    ] {
        assert_eq!(sink.deliver(Some(&ev), &out).unwrap(), Delivery::Passed);
    }
    assert_eq!(
        line_value(&m.encode(), "inetmon_drops_total{reason=\"NO_SOCKET\"}"),
        Some(0.0),
        "published only per batch"
    );
    sink.flush().unwrap();
    let text = m.encode();
    let v = |p: &str| line_value(&text, p);
    assert_eq!(
        v("inetmon_events_total{kind=\"sock\",op=\"connected\"}"),
        Some(2.0)
    );
    assert_eq!(
        v("inetmon_events_total{kind=\"sock\",op=\"connect\"}"),
        Some(1.0)
    );
    assert_eq!(
        v("inetmon_events_total{kind=\"drop\",op=\"none\"}"),
        Some(3.0)
    );
    assert_eq!(
        v("inetmon_events_total{kind=\"lost\",op=\"none\"}"),
        Some(2.0)
    );
    assert_eq!(v("inetmon_drops_total{reason=\"NO_SOCKET\"}"), Some(2.0));
    assert_eq!(
        v("inetmon_drops_total{reason=\"NETFILTER_DROP\"}"),
        Some(1.0)
    );
    assert_eq!(
        v("inetmon_lost_events_total{source=\"sockets\",stage=\"kernel\"}"),
        Some(7.0)
    );
    assert_eq!(v("inetmon_batch_delay_seconds_count"), Some(1.0));
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[test]
fn components_add_their_own_metrics_once() {
    let m = Metrics::new();
    let g = m.gauge("clients", "Connected clients").unwrap();
    g.set(3);
    let lag = m.gauge_seconds("export_lag", "Export lag").unwrap();
    lag.set(1.5);
    assert_eq!(
        m.gauge("clients", "again").unwrap_err(),
        MetricsError::Duplicate("clients".into())
    );
    assert_eq!(
        m.counter("events", "taken by the stream").unwrap_err(),
        MetricsError::Duplicate("events".into())
    );
    assert!(matches!(
        m.gauge("Bad-Name", ""),
        Err(MetricsError::Name(_))
    ));
    let text = m.encode();
    assert_eq!(line_value(&text, "inetmon_clients "), Some(3.0));
    assert_eq!(line_value(&text, "inetmon_export_lag_seconds "), Some(1.5));
}

#[test]
fn classic_text_names_counters_by_their_total_series() {
    let m = Metrics::new();
    let mut sink = m.sink();
    sink.deliver(Some(&drop_event(2, "NO_SOCKET")), &Rendered::default())
        .unwrap();
    sink.flush().unwrap();
    let om = m.encode();
    assert!(
        om.contains(
            "# HELP inetmon_drops Kernel packet drops by reason.\n# TYPE inetmon_drops counter\n"
        ),
        "{om}"
    );
    let classic = m.encode_prometheus();
    assert!(classic.contains("# HELP inetmon_drops_total Kernel packet drops by reason.\n# TYPE inetmon_drops_total counter\ninetmon_drops_total{reason=\"NO_SOCKET\"} 1\n"), "{classic}");
    assert!(
        classic.contains("# TYPE inetmon_batch_delay_seconds histogram\n"),
        "{classic}"
    );
    assert!(
        !classic.contains("# EOF") && !classic.contains("# UNIT"),
        "{classic}"
    );
}

#[test]
fn gauges_and_counters_read_when_scraped() {
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
    let m = Metrics::new();
    let clients = Arc::new(AtomicI64::new(1));
    let seen = Arc::clone(&clients);
    m.gauge_fn("clients", "Connected clients", move || {
        seen.load(Ordering::Relaxed)
    })
    .unwrap();
    let lost = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&lost);
    m.counter_fn("client_lost_events", "Lost at client queues", move || {
        seen.load(Ordering::Relaxed)
    })
    .unwrap();
    assert_eq!(
        m.gauge_fn("clients", "again", || 0).unwrap_err(),
        MetricsError::Duplicate("clients".into())
    );
    let text = m.encode();
    assert_eq!(line_value(&text, "inetmon_clients "), Some(1.0));
    assert!(text.contains("# TYPE inetmon_clients gauge\n"), "{text}");
    assert_eq!(
        line_value(&text, "inetmon_client_lost_events_total "),
        Some(0.0)
    );
    // Current at each scrape, with nothing to publish them.
    clients.store(3, Ordering::Relaxed);
    lost.store(7, Ordering::Relaxed);
    let text = m.encode();
    assert_eq!(line_value(&text, "inetmon_clients "), Some(3.0));
    assert_eq!(
        line_value(&text, "inetmon_client_lost_events_total "),
        Some(7.0)
    );
    let classic = m.encode_prometheus();
    assert!(
        classic.contains(
            "# TYPE inetmon_client_lost_events_total counter\ninetmon_client_lost_events_total 7\n"
        ),
        "{classic}"
    );
}
