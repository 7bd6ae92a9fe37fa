//! Batches through the pipeline: order, the capacity counted in events,
//! and loss counted exactly when a batch is cut. (Spent events going back
//! to their producer: `nflog_live::spent_packets_are_reused`.)

use inetmon_core::event::{Event, EventKind, LossStage, Malformed, Source};
use inetmon_io::pipeline::{now, Pipeline, Sent, MAX_BATCH};

/// An event that says `offset`, numbered by `p`.
fn malformed(p: &mut inetmon_io::pipeline::Producer, offset: u64) -> Event {
    let (header, skipped, reason) = (p.header(now()), 0, String::new());
    let m = Malformed {
        header,
        offset,
        skipped,
        reason,
    };
    Event::Malformed(m)
}

fn offset(ev: &Event) -> u64 {
    match ev {
        Event::Malformed(m) => m.offset,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn pushed_events_arrive_in_order_with_single_sends() {
    let pipe = Pipeline::new(64);
    let mut p = pipe.producer(Source::Nflog(1));
    let rx = pipe.close();
    for i in 0..3 {
        let e = malformed(&mut p, i);
        p.push(e).unwrap();
    }
    // A single send goes after what was pushed before it.
    let e = malformed(&mut p, 3);
    assert_eq!(p.send(e), Ok(Sent::Queued));
    for i in 4..6 {
        let e = malformed(&mut p, i);
        p.push(e).unwrap();
    }
    // Nothing pushed is visible until the batch is sent.
    let got: Vec<u64> = (0..4).map(|_| offset(&rx.recv().unwrap())).collect();
    assert_eq!(got, [0, 1, 2, 3]);
    assert!(rx.is_empty());
    p.send_batch().unwrap();
    assert!(!rx.is_empty());
    drop(p);
    let rest: Vec<u64> = rx.iter().map(|e| offset(&e)).collect();
    assert_eq!(rest, [4, 5]);
}

#[test]
fn a_full_batch_goes_by_itself() {
    let pipe = Pipeline::new(4 * MAX_BATCH);
    let mut p = pipe.producer(Source::Nflog(1));
    let rx = pipe.close();
    for i in 0..MAX_BATCH as u64 {
        let e = malformed(&mut p, i);
        p.push(e).unwrap();
    }
    assert_eq!(offset(&rx.try_recv().unwrap()), 0);
}

#[test]
fn a_batch_that_does_not_fit_is_cut_and_the_rest_reported() {
    let pipe = Pipeline::new(5);
    let metrics = pipe.metrics();
    let mut p = pipe.producer(Source::Nflog(2));
    let rx = pipe.close();
    let e = malformed(&mut p, 0);
    assert_eq!(p.send(e), Ok(Sent::Queued));
    for i in 1..=10 {
        let e = malformed(&mut p, i);
        p.push(e).unwrap();
    }
    p.send_batch().unwrap();
    // Four fit beside the first; six were cut.
    assert_eq!(p.pending_lost(), 6);
    assert_eq!(metrics.snapshot()[0].lost_channel, 6);
    let got: Vec<u64> = (0..5).map(|_| offset(&rx.recv().unwrap())).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    // Room again: the loss report goes before the next batch.
    let e = malformed(&mut p, 11);
    p.push(e).unwrap();
    p.send_batch().unwrap();
    let Event::Lost(lost) = rx.recv().unwrap() else {
        panic!("expected Lost first")
    };
    assert_eq!(
        (lost.stage, lost.count, lost.kinds.as_slice()),
        (LossStage::Channel, 6, &[EventKind::Malformed][..])
    );
    assert_eq!(offset(&rx.recv().unwrap()), 11);
}

#[test]
fn the_capacity_counts_events_not_batches() {
    let pipe = Pipeline::new(8);
    let mut p = pipe.producer(Source::Nflog(2));
    let rx = pipe.close();
    for round in 0..2u64 {
        for i in 0..4 {
            let e = malformed(&mut p, round * 4 + i);
            p.push(e).unwrap();
        }
        p.send_batch().unwrap();
    }
    // Eight events in two batches: full.
    let e = malformed(&mut p, 8);
    assert_eq!(p.send(e), Ok(Sent::Dropped));
    // Reading the first batch frees its four places.
    assert_eq!(offset(&rx.recv().unwrap()), 0);
    let e = malformed(&mut p, 9);
    assert_eq!(p.send(e), Ok(Sent::Queued));
}
