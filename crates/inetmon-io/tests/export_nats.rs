//! The NATS JetStream exporter against a real `nats-server -js` started by
//! the test: every journal record is stored once and read back by the
//! collector; a server stopped and restarted mid-stream still gives every
//! record exactly once (counted by message id, and by the stream's own
//! message count); records that retention deleted before they were
//! acknowledged are counted, reported to the hook and published as a
//! `Lost` event; a restarted exporter resumes from its saved position.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;
#[path = "common/nats.rs"]
mod nats_server;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inetmon_core::event::{Event, Lost};
use inetmon_io::export::nats::{
    CollectConfig, Collector, Delivered, ExportCounters, NatsExporter, LOST_RETENTION,
};
use inetmon_io::export::NatsExportConfig;
use inetmon_io::journal::{Journal, JournalConfig, Record, SyncMode};
use nats_server::{have_nats_server, now_secs, sock_event, NatsServer};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn can_run() -> bool {
    common::can_run(have_nats_server(), "nats-server is not installed")
}

fn export_cfg(url: &str, stream: &str, host: &str) -> NatsExportConfig {
    let mut c = NatsExportConfig::new(url);
    c.stream = stream.to_owned();
    c.host = host.to_owned();
    c.window = 100;
    c
}

fn journal_cfg() -> JournalConfig {
    JournalConfig {
        sync: SyncMode::Never,
        ..JournalConfig::default()
    }
}

/// Appends `n` socket events with header sequence numbers from `first`.
fn append(j: &mut Journal, first: u64, n: u64, secs: i64) {
    let batch: Vec<Event> = (first..first + n)
        .map(|s| sock_event(s, secs, 1000, 443))
        .collect();
    j.append(&batch).unwrap();
}

fn wait_position(c: &ExportCounters, seq: u64, what: &str) {
    let ok = common::wait_for(Duration::from_secs(60), || {
        (c.position.load(Ordering::Relaxed) >= seq).then_some(())
    });
    assert!(
        ok.is_some(),
        "{what}: position {} never reached {seq} (last error: {:?})",
        c.position.load(Ordering::Relaxed),
        c.last_error()
    );
}

/// Every message of `stream` (an ephemeral consumer from the start): stops
/// `quiet` after the last message once at least `want` arrived.
fn collect_all(
    rt: &tokio::runtime::Runtime,
    url: &str,
    stream: &str,
    want: usize,
) -> Vec<Delivered> {
    rt.block_on(async {
        let mut c = Collector::open(&CollectConfig {
            url: url.to_owned(),
            stream: stream.to_owned(),
            all: true,
            ..CollectConfig::default()
        })
        .await
        .unwrap();
        let mut out = Vec::new();
        loop {
            let quiet = if out.len() >= want {
                Duration::from_millis(700)
            } else {
                Duration::from_secs(60)
            };
            match tokio::time::timeout(quiet, c.next()).await {
                Ok(Some(m)) => out.push(m.unwrap()),
                Ok(None) | Err(_) => break,
            }
        }
        out
    })
}

/// The stream's own message count.
fn stream_messages(rt: &tokio::runtime::Runtime, url: &str, stream: &str) -> u64 {
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut s = js.get_stream(stream).await.unwrap();
        s.info().await.unwrap().state.messages
    })
}

/// How many messages each message id has.
fn by_id(msgs: &[Delivered]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for d in msgs {
        *m.entry(d.id.clone().expect("every message has an id"))
            .or_insert(0) += 1;
    }
    m
}

/// What each test starts from: a temporary directory holding a running
/// NATS server's store and the journal's state directory `state`.
struct Scene {
    /// Kept so that the directory lives as long as the test.
    _dir: tempfile::TempDir,
    server: NatsServer,
    state: std::path::PathBuf,
}

/// A new [`Scene`], or `None` when the test skips (no nats-server).
fn scene() -> Option<Scene> {
    if !can_run() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let state = dir.path().join("state");
    Some(Scene {
        _dir: dir,
        server,
        state,
    })
}

#[test]
fn every_record_is_stored_once_and_collected() {
    let Some(sc) = scene() else {
        return;
    };
    let t = now_secs();
    // 1000 events, an unclean stop (a gap record, seq 1001), 500 more.
    let mut j = Journal::open(&sc.state, journal_cfg()).unwrap();
    append(&mut j, 1, 1000, t);
    drop(j);
    let mut j = Journal::open(&sc.state, journal_cfg()).unwrap();
    assert!(j.gap().is_some());
    append(&mut j, 1001, 500, t);
    j.close().unwrap();

    let rt = runtime();
    let exporter = NatsExporter::new(export_cfg(&sc.server.url(), "T1", "host-a"), &sc.state);
    let counters = exporter.counters();
    let handle = exporter.spawn(rt.handle());
    wait_position(&counters, 1501, "export");
    handle.stop_blocking();
    assert_eq!(counters.acked.load(Ordering::Relaxed), 1501);
    assert_eq!(counters.lost.load(Ordering::Relaxed), 0);
    assert_eq!(counters.lag(), 0);

    assert_eq!(stream_messages(&rt, &sc.server.url(), "T1"), 1501);
    let msgs = collect_all(&rt, &sc.server.url(), "T1", 1501);
    assert_eq!(msgs.len(), 1501, "collected");
    let ids = by_id(&msgs);
    assert_eq!(ids.len(), 1501);
    for seq in 1..=1501u64 {
        assert_eq!(ids.get(&format!("host-a:{seq}")), Some(&1), "record {seq}");
    }
    let mut gaps = 0;
    for d in &msgs {
        assert_eq!(d.host, "host-a");
        match d.item.as_ref().unwrap() {
            Record::Gap { seq, .. } => {
                gaps += 1;
                assert_eq!(*seq, 1001);
            }
            Record::Event { seq, event } => {
                // The journal sequence is in the id, the event as stored.
                let header_seq = if *seq > 1001 { *seq - 1 } else { *seq };
                assert_eq!(**event, sock_event(header_seq, t, 1000, 443));
            }
        }
    }
    assert_eq!(gaps, 1);
    // The position survives the exporter.
    let pos = std::fs::read_to_string(sc.state.join("export-nats-T1.position")).unwrap();
    assert!(
        pos.starts_with("v1 ") && pos.ends_with(" 1501\n"),
        "{pos:?}"
    );
}

#[test]
fn server_stopped_and_restarted_mid_stream_every_record_once() {
    const BATCHES: u64 = 60;
    const PER: u64 = 200;
    let Some(mut sc) = scene() else {
        return;
    };
    let t = now_secs();
    let mut j = Journal::open(&sc.state, journal_cfg()).unwrap();
    // The collector keeps writing while the server is away.
    let writer = std::thread::spawn(move || {
        for b in 0..BATCHES {
            append(&mut j, 1 + b * PER, PER, t);
            std::thread::sleep(Duration::from_millis(50));
        }
        j.close().unwrap();
    });
    let rt = runtime();
    let exporter = NatsExporter::new(export_cfg(&sc.server.url(), "T2", "host-b"), &sc.state);
    let counters = exporter.counters();
    let handle = exporter.spawn(rt.handle());
    wait_position(&counters, 2000, "before the stop");
    sc.server.stop();
    let at_stop = counters.position.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1500));
    sc.server.restart();
    writer.join().unwrap();
    let total = BATCHES * PER;
    wait_position(&counters, total, "after the restart");
    handle.stop_blocking();
    println!(
        "position at stop {at_stop}, published {}, acked {}, errors {}",
        counters.published.load(Ordering::Relaxed),
        counters.acked.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed)
    );
    assert!(at_stop < total, "the stop came mid-stream");
    assert!(
        counters.errors.load(Ordering::Relaxed) >= 1,
        "the outage was seen"
    );
    assert_eq!(counters.lost.load(Ordering::Relaxed), 0);

    assert_eq!(stream_messages(&rt, &sc.server.url(), "T2"), total);
    let msgs = collect_all(&rt, &sc.server.url(), "T2", usize::try_from(total).unwrap());
    let ids = by_id(&msgs);
    assert_eq!(msgs.len(), ids.len(), "a message id arrived twice");
    for seq in 1..=total {
        assert_eq!(ids.get(&format!("host-b:{seq}")), Some(&1), "record {seq}");
    }
}

#[test]
fn retention_before_ack_is_counted_and_reported_and_export_resumes() {
    let Some(sc) = scene() else {
        return;
    };
    let t = now_secs();
    let mut j = Journal::open(
        &sc.state,
        JournalConfig {
            max_age: Some(Duration::from_secs(86_400)),
            ..journal_cfg()
        },
    )
    .unwrap();
    append(&mut j, 1, 100, t);
    let rt = runtime();
    let exporter = NatsExporter::new(export_cfg(&sc.server.url(), "T3", "host-c"), &sc.state);
    let counters = exporter.counters();
    let handle = exporter.spawn(rt.handle());
    wait_position(&counters, 100, "first run");
    handle.stop_blocking();

    // While the exporter is stopped: 200 old events (seq 101..=300) that
    // retention deletes before anyone acknowledged them, and 50 new ones.
    append(&mut j, 101, 200, 1_000);
    append(&mut j, 301, 50, t);
    assert_eq!(j.retain().unwrap(), 200);

    let seen: Arc<Mutex<Vec<Lost>>> = Arc::default();
    let hook_seen = Arc::clone(&seen);
    let exporter = NatsExporter::new(export_cfg(&sc.server.url(), "T3", "host-c"), &sc.state)
        .on_lost(Arc::new(move |l: &Lost| {
            hook_seen.lock().unwrap().push(l.clone())
        }));
    let counters = exporter.counters();
    let handle = exporter.spawn(rt.handle());
    wait_position(&counters, 350, "second run");
    handle.stop_blocking();
    j.close().unwrap();

    assert_eq!(counters.lost.load(Ordering::Relaxed), 200);
    // Resumed from the saved position: the first 100 were not published again.
    assert_eq!(counters.published.load(Ordering::Relaxed), 51);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].count, 200);
    assert_eq!(seen[0].seq_range, Some((101, 300)));
    assert_eq!(seen[0].breakdown, vec![(LOST_RETENTION, 200)]);

    let msgs = collect_all(&rt, &sc.server.url(), "T3", 151);
    assert_eq!(msgs.len(), 151);
    let lost: Vec<&Delivered> = msgs
        .iter()
        .filter(|d| matches!(d.item, Ok(Record::Event { ref event, .. }) if matches!(**event, Event::Lost(_))))
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].id.as_deref(), Some("host-c:lost:101-300"));
    let Ok(Record::Event { event, .. }) = &lost[0].item else {
        unreachable!()
    };
    let Event::Lost(l) = &**event else {
        unreachable!()
    };
    assert_eq!((l.count, l.seq_range), (200, Some((101, 300))));
}
