//! Batches through the pipeline: order, the capacity counted in events,
//! and loss counted exactly when a batch is cut. (Spent events going back
//! to their producer: `nflog_live::spent_packets_are_reused`.)

use std::cell::RefCell;

use inetmon_core::decode::nflog::{to_packet_log, NflogPacket};
use inetmon_core::event::{Event, EventKind, LossStage, Malformed, Source};
use inetmon_io::consumer::{Consumer, Delivery, Plan, Producers, Rendered, Sink, Stage, Verdict};
use inetmon_io::pipeline::{now, Pipeline, Sent, MAX_BATCH};
use inetmon_io::shutdown::Shutdown;
use inetmon_io::sink::SinkError;

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

/// A stage that merges queued events saying the same offset (counting
/// them in `skipped`) and renders `OFFSET xCOUNT`.
struct MergeSame;

impl Stage for MergeSame {
    fn render(&mut self, ev: &mut Event, out: &mut Rendered) -> Verdict {
        if let Event::Malformed(m) = ev {
            out.text
                .extend_from_slice(format!("{} x{}\n", m.offset, m.skipped + 1).as_bytes());
        }
        Verdict::Show
    }

    fn absorb(&mut self, into: &mut Event, next: &Event) -> bool {
        match (into, next) {
            (Event::Malformed(a), Event::Malformed(b)) if a.offset == b.offset => {
                a.skipped += 1;
                true
            }
            _ => false,
        }
    }
}

/// Collects what it is given.
struct Collect<'a>(&'a RefCell<Vec<u8>>);

impl Sink for Collect<'_> {
    fn deliver(&mut self, _ev: Option<&Event>, out: &Rendered) -> Result<Delivery, SinkError> {
        self.0.borrow_mut().extend_from_slice(&out.text);
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The consumer works on each batch in place: every event in order, and
/// identical queued events merged into the one before them, also across
/// batches, across a batch merged whole, and across events sent alone.
#[test]
fn the_consumer_merges_queued_events_across_batches_in_order() {
    let shutdown = Shutdown::new().unwrap();
    let producers = Producers::new(shutdown, 64);
    let mut p = producers.pipeline().producer(Source::Nflog(3));
    let batches: [&[u64]; 4] = [&[1, 1, 2], &[2, 2], &[2, 3], &[4, 4]];
    for (i, batch) in batches.iter().enumerate() {
        for &o in *batch {
            let e = malformed(&mut p, o);
            p.push(e).unwrap();
        }
        p.send_batch().unwrap();
        if i == 2 {
            // Alone, between two batches.
            let e = malformed(&mut p, 3);
            assert_eq!(p.send(e), Ok(Sent::Queued));
        }
    }
    let e = malformed(&mut p, 5);
    assert_eq!(p.send(e), Ok(Sent::Queued));
    drop(p);
    let text = RefCell::new(Vec::new());
    let mut stage = MergeSame;
    let mut consumer = Consumer::new(&mut stage, vec![Box::new(Collect(&text))]);
    let ended = consumer.run(producers, &Plan::default());
    assert!(ended.output.is_ok());
    assert_eq!(consumer.report().shown, 5);
    drop(consumer);
    assert_eq!(
        String::from_utf8(text.into_inner()).unwrap(),
        "1 x2\n2 x4\n3 x2\n4 x2\n5 x1\n"
    );
}

/// A spent batch goes back to its producer whole, at once: all its packet
/// events can be overwritten before the next batch is read.
#[test]
fn a_spent_batch_goes_back_whole() {
    let pipe = Pipeline::new(64);
    let mut p = pipe.producer(Source::Nflog(4));
    let rx = pipe.close();
    let pkt = NflogPacket {
        family: 2,
        ..NflogPacket::default()
    };
    for _ in 0..3 {
        let header = p.header(now());
        let log = to_packet_log(&pkt, header, &|_| None::<String>);
        p.push(Event::Packet(Box::new(log))).unwrap();
    }
    p.send_batch().unwrap();
    assert!(p.reuse_packet().is_none());
    let batch = rx.try_recv_batch().unwrap();
    assert_eq!(batch.events.len(), 3);
    assert!(rx.is_empty());
    rx.recycle(batch);
    for _ in 0..3 {
        assert!(p.reuse_packet().is_some());
    }
    assert!(p.reuse_packet().is_none());
}
