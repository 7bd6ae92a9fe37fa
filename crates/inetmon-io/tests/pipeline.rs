//! Loss accounting of the bounded pipeline.

use inetmon_core::event::{Event, EventKind, LossStage, Malformed, Source};
use inetmon_io::pipeline::{now, Pipeline, Sent};

fn malformed(p: &mut inetmon_io::pipeline::Producer, n: u64) -> Event {
    Event::Malformed(Malformed {
        header: p.header(now()),
        offset: n,
        skipped: 0,
        reason: String::new(),
    })
}

#[test]
fn full_channel_drops_are_reported_exactly_once() {
    let pipe = Pipeline::new(4);
    let rx = pipe.receiver();
    let metrics = pipe.metrics();
    let mut p = pipe.producer(Source::Nflog(3));
    let _rx = pipe.close();
    for i in 0..4 {
        let e = malformed(&mut p, i);
        assert_eq!(p.send(e), Ok(Sent::Queued));
    }
    for i in 4..11 {
        let e = malformed(&mut p, i);
        assert_eq!(p.send(e), Ok(Sent::Dropped));
    }
    assert_eq!(p.pending_lost(), 7);
    // Still full: the Lost report cannot go yet, so this event is dropped too.
    let e = malformed(&mut p, 11);
    assert_eq!(p.send(e), Ok(Sent::Dropped));
    let got: Vec<Event> = (0..4).map(|_| rx.recv().unwrap()).collect();
    assert!(got.iter().all(|e| e.kind() == EventKind::Malformed));
    // Room now: Lost first, then the new event.
    let e = malformed(&mut p, 12);
    assert_eq!(p.send(e), Ok(Sent::Queued));
    let Event::Lost(lost) = rx.recv().unwrap() else {
        panic!("expected Lost first")
    };
    assert_eq!(lost.stage, LossStage::Channel);
    assert_eq!(lost.count, 8);
    assert_eq!(lost.kinds, vec![EventKind::Malformed]);
    assert_eq!(lost.header.source, Source::Nflog(3));
    let Event::Malformed(m) = rx.recv().unwrap() else {
        panic!("expected the event")
    };
    assert_eq!(m.offset, 12);
    // Headers are numbered when built: the 13 events got 1..=13, and the Lost
    // event (built when sent) the next number.
    assert_eq!(m.header.seq, 13);
    assert_eq!(lost.header.seq, 14);
    let snap = metrics.snapshot();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].lost_channel, 8);
}

#[test]
fn pending_loss_is_reported_at_shutdown() {
    let pipe = Pipeline::new(1);
    let mut p = pipe.producer(Source::Conntrack);
    let rx = pipe.close();
    let e = malformed(&mut p, 0);
    assert_eq!(p.send(e), Ok(Sent::Queued));
    for i in 1..=5 {
        let e = malformed(&mut p, i);
        assert_eq!(p.send(e), Ok(Sent::Dropped));
    }
    let reader = std::thread::spawn(move || rx.iter().collect::<Vec<_>>());
    drop(p);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), 2);
    let Event::Lost(lost) = &got[1] else {
        panic!("expected Lost at shutdown")
    };
    assert_eq!(lost.count, 5);
}

#[test]
fn blocking_send_loses_nothing() {
    let pipe = Pipeline::new(2);
    let mut p = pipe.producer(Source::Stdin);
    let rx = pipe.close();
    let reader = std::thread::spawn(move || rx.iter().count());
    for i in 0..1000 {
        let e = malformed(&mut p, i);
        p.send_blocking(e).unwrap();
    }
    drop(p);
    assert_eq!(reader.join().unwrap(), 1000);
}

#[test]
fn send_after_receiver_gone_is_closed() {
    let pipe = Pipeline::new(2);
    let mut p = pipe.producer(Source::Stdin);
    drop(pipe.close());
    let e = malformed(&mut p, 0);
    assert!(p.send(e).is_err());
}

#[test]
fn kernel_loss_reports_are_carried_not_counted() {
    use inetmon_core::event::Lost;
    let pipe = Pipeline::new(1);
    let mut p = pipe.producer(Source::Nflog(1));
    let rx = pipe.close();
    let e = malformed(&mut p, 0);
    assert_eq!(p.send(e), Ok(Sent::Queued));
    for (range, n) in [((5, 9), 5), ((10, 11), 2)] {
        let header = p.header(now());
        let lost = Lost {
            header,
            stage: LossStage::Kernel,
            count: n,
            kinds: vec![EventKind::Packet],
            seq_range: Some(range),
            breakdown: Vec::new(),
        };
        assert_eq!(p.send(Event::Lost(lost)), Ok(Sent::Dropped));
    }
    let e = malformed(&mut p, 1);
    assert_eq!(p.send(e), Ok(Sent::Dropped));
    assert_eq!(p.pending_lost(), 1);
    rx.recv().unwrap();
    // Room for one: the carried kernel report goes first, merged.
    assert_eq!(p.try_flush_lost(), Ok(false));
    let Event::Lost(k) = rx.recv().unwrap() else {
        panic!("expected Lost")
    };
    assert_eq!(
        (k.stage, k.count, k.seq_range),
        (LossStage::Kernel, 7, Some((5, 11)))
    );
    assert_eq!(p.try_flush_lost(), Ok(true));
    let Event::Lost(c) = rx.recv().unwrap() else {
        panic!("expected Lost")
    };
    assert_eq!((c.stage, c.count), (LossStage::Channel, 1));
}
