//! NATS JetStream export: the rate at which a journal backlog is exported
//! to a local `nats-server -js` (every record acknowledged, 0 lost, the
//! stream's own count checked), and the latency from an event appended to
//! the journal to `inetmon collect`'s consumer receiving it.
//!
//! ```text
//! cargo bench -p inetmon-io --bench export_nats
//! EXPORT_BENCH_EVENTS=200000 EXPORT_BENCH_WINDOWS=100,1000,4096 \
//!   EXPORT_BENCH_LAT_EVENTS=5000 EXPORT_BENCH_LAT_RATE=1000 \
//!   cargo bench -p inetmon-io --bench export_nats
//! ```
//!
//! Rate: per window, a journal of `EXPORT_BENCH_EVENTS` socket events is
//! written first (the backlog after an outage), then exported; prints wall
//! time, events/s, CPU µs per event of the exporter's process and of
//! nats-server. Latency: events appended one at a time at
//! `EXPORT_BENCH_LAT_RATE`/s (journal `sync = "interval"`), each stamped
//! with the wall clock when appended; an ordered consumer (as `collect`
//! uses) in the same process takes the difference when it receives it.
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/nats.rs"]
mod nats_server;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use inetmon_core::event::{Event, Timestamp};
use inetmon_io::export::nats::{CollectConfig, Collector, NatsExporter};
use inetmon_io::export::NatsExportConfig;
use inetmon_io::journal::{Journal, JournalConfig, Record, SyncMode};
use nats_server::{now_secs, sock_event, NatsServer};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) of this process.
fn self_cpu() -> f64 {
    pid_cpu(std::process::id())
}

/// CPU seconds of process `pid` (utime + stime from /proc).
fn pid_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// The process's network runtime, as the daemon runs the exporter on.
fn runtime() -> tokio::runtime::Handle {
    inetmon_io::runtime::handle().unwrap()
}

fn stream_count(rt: &tokio::runtime::Handle, url: &str, stream: &str) -> u64 {
    rt.block_on(async {
        let c = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(c);
        js.get_stream(stream)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages
    })
}

fn rate(window: usize, events: u64) {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let state = dir.path().join("state");
    let mut j = Journal::open(&state, JournalConfig::with_sync(SyncMode::Never)).unwrap();
    let t = now_secs();
    let mut seq = 1;
    while seq <= events {
        let n = 5000.min(events - seq + 1);
        let batch: Vec<Event> = (seq..seq + n)
            .map(|s| sock_event(s, t, 1000, 443))
            .collect();
        j.append(&batch).unwrap();
        seq += n;
    }
    j.close().unwrap();
    let rt = runtime();
    let mut cfg = NatsExportConfig::new(server.url());
    cfg.stream = "BENCH".into();
    cfg.host = "bench".into();
    cfg.window = window;
    let exporter = NatsExporter::new(cfg, &state);
    let counters = exporter.counters();
    let (cpu0, scpu0) = (self_cpu(), pid_cpu(server.pid().unwrap()));
    let start = Instant::now();
    let handle = exporter.spawn(&rt);
    while counters.position.load(Ordering::Relaxed) < events {
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "stuck: {:?}",
            counters.last_error()
        );
    }
    let secs = start.elapsed().as_secs_f64();
    let (cpu, scpu) = (self_cpu() - cpu0, pid_cpu(server.pid().unwrap()) - scpu0);
    handle.stop_blocking();
    let stored = stream_count(&rt, &server.url(), "BENCH");
    let lost = counters.lost.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    println!(
        "rate window={window} events={events} wall={secs:.2}s events/s={:.0} exporter_cpu_us/event={:.2} server_cpu_us/event={:.2} stored={stored} lost={lost} errors={errors}",
        events as f64 / secs,
        cpu * 1e6 / events as f64,
        scpu * 1e6 / events as f64,
    );
    assert_eq!(stored, events, "every event stored once");
    assert_eq!(lost, 0);
}

fn latency(events: u64, per_sec: u64) {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let state = dir.path().join("state");
    let mut j = Journal::open(&state, JournalConfig::default()).unwrap();
    let rt = runtime();
    let mut cfg = NatsExportConfig::new(server.url());
    cfg.stream = "LAT".into();
    cfg.host = "bench".into();
    let handle = NatsExporter::new(cfg, &state).spawn(&rt);
    // The stream exists once the exporter connected.
    std::thread::sleep(Duration::from_millis(500));
    let url = server.url();
    let consumer = rt.spawn(async move {
        let mut c = Collector::open(&CollectConfig {
            url,
            stream: "LAT".into(),
            ..CollectConfig::default()
        })
        .await
        .unwrap();
        let mut lat = Vec::new();
        while (lat.len() as u64) < events {
            let Ok(Some(Ok(d))) = tokio::time::timeout(Duration::from_secs(30), c.next()).await
            else {
                break;
            };
            if let Ok(Record::Event { event, .. }) = &d.item {
                let now = Timestamp::from_nanos_parts(0, wall_ns());
                let t = event.header().time;
                lat.push(
                    (now.secs - t.secs) * 1_000_000_000 + i64::from(now.nanos) - i64::from(t.nanos),
                );
            }
        }
        lat
    });
    std::thread::sleep(Duration::from_millis(300));
    let gap = Duration::from_secs_f64(1.0 / per_sec as f64);
    let start = Instant::now();
    for s in 1..=events {
        let mut ev = sock_event(s, 0, 1000, 443);
        ev.header_mut().time = Timestamp::from_nanos_parts(0, wall_ns());
        j.append(&[ev]).unwrap();
        j.tick().unwrap();
        let due = start + gap * u32::try_from(s).unwrap();
        if let Some(d) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    let mut lat = rt.block_on(consumer).unwrap();
    handle.stop_blocking();
    j.close().unwrap();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1e6
    };
    println!(
        "latency events={} rate={per_sec}/s received={} p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
        events,
        lat.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
}

fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn main() {
    if !nats_server::have_nats_server() {
        println!("skipped: nats-server is not installed (scripts/setup.sh)");
        return;
    }
    let events: u64 = env("EXPORT_BENCH_EVENTS", 200_000);
    let windows: String = env("EXPORT_BENCH_WINDOWS", "100,1000,4096".to_owned());
    for w in windows.split(',').filter_map(|w| w.trim().parse().ok()) {
        rate(w, events);
    }
    latency(
        env("EXPORT_BENCH_LAT_EVENTS", 5000),
        env("EXPORT_BENCH_LAT_RATE", 1000),
    );
}
