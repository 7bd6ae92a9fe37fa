//! The SQLite journal: batches, queries with filters, gap records after an
//! unclean stop, one writer at a time, retention, verify, and a real
//! `kill -9` of a child process writing with `sync = "always"`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use inetmon_core::event::{
    Attribution, Event, EventKind, Header, LossStage, Lost, Malformed, SockEvent, SockOp, SockTask,
    Source, Timestamp,
};
use inetmon_io::journal::{
    Filter, Journal, JournalConfig, JournalError, JournalThread, Reader, Record, SyncMode,
};

fn sock(seq: u64, secs: i64, uid: u32, comm: &str, port: u16) -> Event {
    Event::Sock(Box::new(SockEvent {
        header: Header {
            time: Timestamp { secs, nanos: 7 },
            source: Source::Sockets,
            seq,
        },
        op: SockOp::Connected,
        task: SockTask {
            pid: 100 + uid,
            tid: 100 + uid,
            uid,
            gid: uid,
            comm: comm.into(),
        },
        attribution: Attribution::Process,
        family: 2,
        sock_type: 1,
        protocol: 6,
        local: Some(("10.0.0.1".parse().unwrap(), 40_000)),
        foreign: Some((format!("10.0.0.{}", 2 + seq % 2).parse().unwrap(), port)),
        mapped: false,
        cgroup_id: 1,
        netns: 2,
        cookie: seq,
        errno: 0,
        initiator: None,
        existing: false,
        process: None,
    }))
}

fn lost(secs: i64) -> Event {
    Event::Lost(Lost {
        header: Header {
            time: Timestamp { secs, nanos: 0 },
            source: Source::Sockets,
            seq: 1,
        },
        stage: LossStage::Kernel,
        count: 3,
        kinds: vec![EventKind::Sock],
        seq_range: None,
        breakdown: vec![("connect", 3)],
    })
}

fn cfg(sync: SyncMode) -> JournalConfig {
    JournalConfig {
        sync,
        ..JournalConfig::default()
    }
}

fn all(dir: &Path, f: &Filter) -> Vec<Record> {
    let mut v = Vec::new();
    Reader::open(dir)
        .unwrap()
        .query(f, |r| {
            v.push(r);
            true
        })
        .unwrap();
    v
}

fn seqs(recs: &[Record]) -> Vec<u64> {
    recs.iter().map(Record::seq).collect()
}

#[test]
fn batches_and_filters() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("state");
    let mut j = Journal::open(&dir, cfg(SyncMode::Never)).unwrap();
    assert_eq!(j.gap(), None);
    let c = j
        .append(&[
            sock(1, 1000, 0, "curl", 443),
            sock(2, 1001, 1000, "wget", 80),
        ])
        .unwrap()
        .unwrap();
    assert_eq!((c.first, c.last), (1, 2));
    assert_eq!(j.append(&[]).unwrap(), None);
    let mal = Event::Malformed(Malformed {
        header: Header {
            time: Timestamp {
                secs: 1003,
                nanos: 0,
            },
            source: Source::Stdin,
            seq: 1,
        },
        offset: 4,
        skipped: 2,
        reason: "x".into(),
    });
    let c = j
        .append(&[lost(1002), mal.clone(), sock(3, 1004, 1000, "curl", 443)])
        .unwrap()
        .unwrap();
    assert_eq!((c.first, c.last), (3, 5));
    j.close().unwrap();

    let every = all(&dir, &Filter::default());
    assert_eq!(seqs(&every), [1, 2, 3, 4, 5]);
    let Record::Event { event, .. } = &every[3] else {
        panic!()
    };
    assert_eq!(**event, mal);
    let q = |f: Filter| seqs(&all(&dir, &f));
    let t = |secs| Some(Timestamp { secs, nanos: 7 });
    assert_eq!(
        q(Filter {
            since: t(1001),
            until: t(1003),
            ..Filter::default()
        }),
        [2, 3, 4]
    );
    assert_eq!(
        q(Filter {
            kinds: vec![EventKind::Lost],
            ..Filter::default()
        }),
        [3]
    );
    assert_eq!(
        q(Filter {
            uid: Some(1000),
            ..Filter::default()
        }),
        [2, 5]
    );
    assert_eq!(
        q(Filter {
            comm: Some("curl".into()),
            ..Filter::default()
        }),
        [1, 5]
    );
    assert_eq!(
        q(Filter {
            ip: Some("10.0.0.3".parse().unwrap()),
            ..Filter::default()
        }),
        [1, 5]
    );
    assert_eq!(
        q(Filter {
            ip: Some("10.0.0.1".parse().unwrap()),
            ..Filter::default()
        }),
        [1, 2, 5]
    );
    assert_eq!(
        q(Filter {
            port: Some(80),
            ..Filter::default()
        }),
        [2]
    );
    assert_eq!(
        q(Filter {
            port: Some(40_000),
            uid: Some(0),
            ..Filter::default()
        }),
        [1]
    );
    let v = Reader::open(&dir).unwrap().verify().unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.records, v.first_seq, v.last_seq, v.gaps), (5, 1, 5, 0));
    assert!(!v.writer_open);
}

#[test]
fn unclean_stop_leaves_a_gap_record_clean_close_does_not() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("s");
    let mut j = Journal::open(&dir, cfg(SyncMode::Interval)).unwrap();
    j.append(&[sock(1, 1000, 0, "a", 1)]).unwrap();
    drop(j); // no close: an unclean stop
    let j = Journal::open(&dir, cfg(SyncMode::Interval)).unwrap();
    let gap = j.gap().expect("gap after an unclean stop");
    assert!(gap.from <= gap.to);
    j.close().unwrap();
    let j = Journal::open(&dir, cfg(SyncMode::Interval)).unwrap();
    assert_eq!(j.gap(), None);
    j.close().unwrap();
    let recs = all(&dir, &Filter::default());
    assert_eq!(seqs(&recs), [1, 2]);
    assert!(matches!(recs[1], Record::Gap { gap: g, .. } if g == gap));
    // A kind filter leaves gaps out unless asked for.
    let f = Filter {
        kinds: vec![EventKind::Sock],
        ..Filter::default()
    };
    assert_eq!(seqs(&all(&dir, &f)), [1]);
    assert_eq!(seqs(&all(&dir, &Filter { gaps: true, ..f })), [1, 2]);
}

#[test]
fn one_writer_at_a_time() {
    let d = tempfile::tempdir().unwrap();
    let j = Journal::open(d.path(), cfg(SyncMode::Never)).unwrap();
    let e = Journal::open(d.path(), cfg(SyncMode::Never)).unwrap_err();
    assert!(matches!(e, JournalError::Locked { .. }), "{e}");
    assert!(e.to_string().contains("in use by another writer"), "{e}");
    j.close().unwrap();
    Journal::open(d.path(), cfg(SyncMode::Never))
        .unwrap()
        .close()
        .unwrap();
}

#[test]
fn unsafe_state_dirs_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let e = Journal::open(&link, cfg(SyncMode::Never)).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = Journal::open(&real, cfg(SyncMode::Never)).unwrap_err();
    assert!(e.to_string().contains("writable by group or others"), "{e}");
    let e = Reader::open(&d.path().join("none")).unwrap_err();
    assert!(e.to_string().contains("none"), "{e}");
    let e = Reader::open(d.path()).unwrap_err();
    assert!(e.to_string().contains("no journal here"), "{e}");
}

#[test]
fn retention_by_age_and_size() {
    let d = tempfile::tempdir().unwrap();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let mut j = Journal::open(
        d.path(),
        JournalConfig {
            max_age: Some(Duration::from_secs(3600)),
            ..cfg(SyncMode::Never)
        },
    )
    .unwrap();
    j.append(&[
        sock(1, now - 7200, 0, "old", 1),
        sock(2, now - 10, 0, "new", 1),
    ])
    .unwrap();
    assert_eq!(j.retain().unwrap(), 1);
    j.close().unwrap();
    assert_eq!(seqs(&all(d.path(), &Filter::default())), [2]);

    let d = tempfile::tempdir().unwrap();
    let max = 256 * 1024;
    let mut j = Journal::open(
        d.path(),
        JournalConfig {
            max_size: Some(max),
            ..cfg(SyncMode::Never)
        },
    )
    .unwrap();
    let mut seq = 0;
    for _ in 0..20 {
        let batch: Vec<Event> = (0..200)
            .map(|_| {
                seq += 1;
                sock(seq, now, 0, "storm", 443)
            })
            .collect();
        j.append(&batch).unwrap();
        j.retain().unwrap();
    }
    j.close().unwrap();
    let size = std::fs::metadata(d.path().join("journal.sqlite"))
        .unwrap()
        .len();

    assert!(size <= max + 64 * 1024, "file {size} bytes, limit {max}");
    let v = Reader::open(d.path()).unwrap().verify().unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.last_seq, 4000);
    assert!(v.first_seq > 1 && v.records < 4000, "{v:?}");
}

#[test]
fn verify_reports_damaged_records() {
    let d = tempfile::tempdir().unwrap();
    let mut j = Journal::open(d.path(), cfg(SyncMode::Never)).unwrap();
    j.append(&[
        sock(1, 1, 0, "a", 1),
        sock(2, 2, 0, "a", 1),
        sock(3, 3, 0, "a", 1),
    ])
    .unwrap();
    j.close().unwrap();
    let rw = rusqlite::Connection::open(d.path().join("journal.sqlite")).unwrap();
    rw.execute("UPDATE events SET event = '{\"sock\":1}' WHERE seq = 2", [])
        .unwrap();
    rw.execute("UPDATE events SET kind = 'nat' WHERE seq = 3", [])
        .unwrap();
    rw.execute("DELETE FROM events WHERE seq = 1", []).unwrap();
    rw.execute("INSERT INTO events(seq, time_ns, kind, event) SELECT 9, time_ns, kind, event FROM events WHERE seq = 3", []).unwrap();
    drop(rw);
    let v = Reader::open(d.path()).unwrap().verify().unwrap();
    assert!(!v.ok());
    let text = v.problems.join("\n");
    assert!(text.contains("not contiguous"), "{text}");
    assert!(text.contains("record 2:"), "{text}");
    assert!(text.contains("kind column says nat"), "{text}");
}

/// The child of the crash test: writes batches of 10 with `sync =
/// "always"` until killed, printing each committed range.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("INETMON_JOURNAL_CRASH_CHILD") else {
        return;
    };
    let mut j = Journal::open(Path::new(&dir), cfg(SyncMode::Always)).unwrap();
    let mut out = std::io::stdout().lock();
    let mut seq = 0u64;
    loop {
        let batch: Vec<Event> = (0..10)
            .map(|_| {
                seq += 1;
                sock(seq, 1000, 0, "crash", 443)
            })
            .collect();
        let c = j.append(&batch).unwrap().unwrap();
        writeln!(out, "committed {} {}", c.first, c.last).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_loses_nothing_committed() {
    let d = tempfile::tempdir().unwrap();
    // A first clean run, so that the crashed run appends to existing data.
    let mut j = Journal::open(d.path(), cfg(SyncMode::Always)).unwrap();
    j.append(&[sock(1, 1000, 0, "first", 443)]).unwrap();
    j.close().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("INETMON_JOURNAL_CRASH_CHILD", d.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    while printed.len() < 300 {
        let line = lines.next().expect("child stopped").unwrap();
        if let Some(rest) = line.strip_prefix("committed ") {
            let (a, b) = rest.split_once(' ').unwrap();
            printed.push((a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap()));
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-stream
    child.wait().unwrap();
    // Whatever the child committed after the last line we read is there
    // too; what it printed must be.
    let mut j = Journal::open(d.path(), cfg(SyncMode::Always)).unwrap();
    let gap = j.gap().expect("a gap record after kill -9");
    j.append(&[sock(1, 2000, 0, "after", 443)]).unwrap();
    j.close().unwrap();
    let r = Reader::open(d.path()).unwrap();
    let v = r.verify().unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.gaps, 1);
    let mut seen = std::collections::HashMap::new();
    r.query(&Filter::default(), |rec| {
        *seen.entry(rec.seq()).or_insert(0u32) += 1;
        if let Record::Event { seq, event } = &rec {
            if let Event::Sock(s) = &**event {
                if s.task.comm == "crash" {
                    // The child numbered its events from 1; the journal
                    // from 2 (after the first run's event).
                    assert_eq!(s.header.seq + 1, *seq);
                }
            }
        }
        true
    })
    .unwrap();
    for &(a, b) in &printed {
        for s in a..=b {
            assert_eq!(
                seen.get(&s),
                Some(&1),
                "committed seq {s} missing or repeated"
            );
        }
    }
    let gaps: Vec<_> = all(
        d.path(),
        &Filter {
            kinds: vec![],
            ..Filter::default()
        },
    )
    .into_iter()
    .filter(|r| matches!(r, Record::Gap { .. }))
    .collect();
    assert_eq!(gaps.len(), 1);
    assert!(matches!(gaps[0], Record::Gap { gap: g, .. } if g == gap));
    println!(
        "child printed {} batches (last seq {}), journal has {} records",
        printed.len(),
        printed.last().unwrap().1,
        v.records
    );
}

#[test]
fn writer_thread_takes_batches() {
    let d = tempfile::tempdir().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let w = JournalThread::start(d.path(), cfg(SyncMode::Interval), 4, move |c| {
        tx.send(c).unwrap();
    })
    .unwrap();
    let mut seq = 0;
    for _ in 0..10 {
        let mut batch: Vec<Event> = (0..50)
            .map(|_| {
                seq += 1;
                sock(seq, 1000, 0, "t", 1)
            })
            .collect();
        // A full queue gives the batch back: wait and resend.
        loop {
            match w.send(batch) {
                Ok(()) => break,
                Err(b) => {
                    batch = b;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    w.finish().unwrap();
    let commits: Vec<_> = rx.iter().collect();
    assert_eq!(commits.first().unwrap().first, 1);
    assert_eq!(commits.last().unwrap().last, 500);
    assert_eq!(commits.len(), 10);
    let v = Reader::open(d.path()).unwrap().verify().unwrap();
    assert!(v.ok() && !v.writer_open && v.records == 500, "{v:?}");
}

/// The daemon's journal sink in front of a writer that cannot keep up
/// (room for one batch, `sync = "always"`): batches it cannot hand over
/// are counted and journaled as one `Lost` event (stage sink) in front of
/// the next batch taken, so that the events stored plus the losses
/// journaled are exactly the events delivered.
#[test]
fn journal_sink_journals_what_the_writer_could_not_take() {
    use inetmon_io::consumer::{Rendered, Sink};
    use inetmon_io::service::JournalSink;
    use std::sync::Arc;

    let d = tempfile::tempdir().unwrap();
    let w = Arc::new(JournalThread::start(d.path(), cfg(SyncMode::Always), 1, |_| {}).unwrap());
    let mut sink = JournalSink::new(Arc::clone(&w));
    let out = Rendered::default();
    let n: u64 = 100_000;
    for seq in 1..=n {
        sink.deliver(Some(&sock(seq, 1000, 0, "t", 1)), &out)
            .unwrap();
    }
    let lost_here = sink.lost_total();
    drop(sink);
    let w = Arc::try_unwrap(w).unwrap();
    assert_eq!(w.lost(), lost_here);
    w.finish().unwrap();
    let recs = all(d.path(), &Filter::default());
    let mut stored = 0u64;
    let mut journaled_lost = 0u64;
    for r in &recs {
        match r {
            Record::Event { event, .. } => match &**event {
                Event::Lost(l) => {
                    assert_eq!(l.stage, LossStage::Sink);
                    assert_eq!(l.header.source, Source::Pipeline);
                    assert_eq!(l.kinds, vec![EventKind::Sock]);
                    journaled_lost += l.count;
                }
                _ => stored += 1,
            },
            Record::Gap { .. } => panic!("{r:?}"),
        }
    }
    assert!(lost_here > 0, "the writer kept up: nothing tested");
    assert_eq!(journaled_lost, lost_here);
    assert_eq!(stored + journaled_lost, n);
}
