//! Journal insert throughput and disk bytes per event at the scale of the
//! 100k-connection storm (8 socket events per connection ≈ 800k events).
//!
//! ```text
//! cargo bench -p inetmon-io --bench journal
//! JOURNAL_BENCH_EVENTS=800000 JOURNAL_BENCH_BATCH=1000 \
//!   JOURNAL_BENCH_MODES=interval,always JOURNAL_BENCH_EXTRA_INDEXES=uid,comm,laddr,faddr \
//!   cargo bench -p inetmon-io --bench journal
//! ```
//!
//! `JOURNAL_BENCH_EXTRA_INDEXES` adds secondary indexes on those columns
//! before writing, to measure what each would cost. Prints one line per
//! mode: events, seconds, events/s, bytes per event (database + WAL after a
//! clean close).
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use inetmon_core::event::{
    Attribution, Event, Header, SockEvent, SockOp, SockTask, Source, Timestamp,
};
use inetmon_io::journal::{Journal, JournalConfig, SyncMode};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The events of connection `n`, as the storm makes them: the client's
/// create, connect, connected, disconnect, close and the server's accept,
/// disconnect, close.
fn connection(n: u64, seq: &mut u64, out: &mut Vec<Event>) {
    let ops = [
        SockOp::Create,
        SockOp::Connect,
        SockOp::Connected,
        SockOp::Accept,
        SockOp::Disconnect,
        SockOp::Close,
        SockOp::Disconnect,
        SockOp::Close,
    ];
    let cport = u16::try_from(10_000 + n % 50_000).unwrap();
    for op in ops {
        *seq += 1;
        let t = 1_791_555_414_000_000_000 + i64::try_from(*seq).unwrap() * 7_000;
        out.push(Event::Sock(Box::new(SockEvent {
            header: Header {
                time: Timestamp::from_nanos_parts(0, t),
                source: Source::Sockets,
                seq: *seq,
            },
            op,
            task: SockTask {
                pid: 4242,
                tid: 4242,
                uid: 1000,
                gid: 1000,
                comm: "storm".into(),
            },
            attribution: Attribution::Process,
            family: 2,
            sock_type: 1,
            protocol: 6,
            local: Some(("10.0.0.1".parse().unwrap(), cport)),
            foreign: (op != SockOp::Create).then(|| ("10.0.0.2".parse().unwrap(), 443)),
            mapped: false,
            cgroup_id: 1234,
            netns: 4_026_531_840,
            cookie: 1_000_000 + n,
            errno: 0,
            initiator: None,
            existing: false,
            process: None,
            link: Default::default(),
        })));
    }
}

fn run(mode: SyncMode, events: u64, batch: usize, extra: &[String]) {
    let dir = tempfile::Builder::new()
        .prefix("journal-bench")
        .tempdir_in(std::env::var("JOURNAL_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()))
        .unwrap();
    let cfg = JournalConfig {
        sync: mode,
        sync_interval: Duration::from_millis(1000),
        ..JournalConfig::default()
    };
    Journal::open(dir.path(), cfg.clone())
        .unwrap()
        .close()
        .unwrap();
    if !extra.is_empty() {
        let c = rusqlite::Connection::open(dir.path().join("journal.sqlite")).unwrap();
        for col in extra {
            c.execute_batch(&format!("CREATE INDEX events_{col} ON events({col})"))
                .unwrap();
        }
    }
    let mut j = Journal::open(dir.path(), cfg).unwrap();
    let mut seq = 0;
    let mut buf = Vec::with_capacity(batch + 8);
    let mut n = 0u64;
    let mut written = 0u64;
    let start = Instant::now();
    let cpu0 = cpu_time();
    while written < events {
        connection(n, &mut seq, &mut buf);
        n += 1;
        if buf.len() >= batch {
            j.append(&buf).unwrap();
            written += buf.len() as u64;
            buf.clear();
            j.tick().unwrap();
        }
    }
    j.append(&buf).unwrap();
    written += buf.len() as u64;
    j.close().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_time() - cpu0;
    let bytes: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "journal {:8} batch {batch:5} extra-indexes [{}]: {written} events in {secs:.2} s = {:.0} events/s; CPU {cpu:.2} s = {:.2} us/event ({:.0} events per CPU-second); {:.1} bytes/event",
        mode.as_str(),
        extra.join(","),
        written as f64 / secs,
        cpu * 1e6 / written as f64,
        written as f64 / cpu,
        bytes as f64 / written as f64
    );
}

/// CPU time of this process (user + system), seconds: the machine is
/// shared, so wall time alone says little.
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &raw mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let events = env("JOURNAL_BENCH_EVENTS", 800_000u64);
    let batch = env("JOURNAL_BENCH_BATCH", 1000usize);
    let modes: String = env("JOURNAL_BENCH_MODES", "interval,always".to_owned());
    let extra: Vec<String> = std::env::var("JOURNAL_BENCH_EXTRA_INDEXES")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for m in modes.split(',') {
        let mode = match m {
            "always" => SyncMode::Always,
            "never" => SyncMode::Never,
            _ => SyncMode::Interval,
        };
        run(mode, events, batch, &extra);
    }
}
