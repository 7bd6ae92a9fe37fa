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

/// A stage of the consumer loop for tests: shows every malformed record
/// whose offset is even, as one line `offset N`.
struct EvenOffsets;

impl inetmon_io::consumer::Stage for EvenOffsets {
    fn render(
        &mut self,
        ev: &mut Event,
        out: &mut inetmon_io::consumer::Rendered,
    ) -> inetmon_io::consumer::Verdict {
        use inetmon_io::consumer::{render_with, Verdict};
        match ev {
            Event::Malformed(m) if m.offset % 2 == 0 => {
                render_with(out, |w| {
                    std::io::Write::write_all(w, format!("offset {}\n", m.offset).as_bytes())
                })
                .unwrap();
                Verdict::Show
            }
            _ => Verdict::Drop,
        }
    }
}

/// A sink that keeps the text it gets, and takes offsets divisible by 4
/// when `take` is set.
struct Keep {
    text: std::rc::Rc<std::cell::RefCell<String>>,
    take: bool,
}

impl inetmon_io::consumer::Sink for Keep {
    fn deliver(
        &mut self,
        ev: Option<&Event>,
        out: &inetmon_io::consumer::Rendered,
    ) -> Result<inetmon_io::consumer::Delivery, inetmon_io::sink::SinkError> {
        use inetmon_io::consumer::Delivery;
        self.text
            .borrow_mut()
            .push_str(&String::from_utf8_lossy(&out.text));
        let taken = matches!(ev, Some(Event::Malformed(m)) if self.take && m.offset % 4 == 0);
        Ok(if taken {
            Delivery::Taken
        } else {
            Delivery::Passed
        })
    }

    fn flush(&mut self) -> Result<(), inetmon_io::sink::SinkError> {
        Ok(())
    }
}

/// The consumer loop: the stage filters and formats, sinks get the shown
/// events in order (a sink that takes one hides it from the next), the
/// limit stops the run, and the counts are reported.
#[test]
fn consumer_filters_formats_and_stops_at_the_limit() {
    use inetmon_io::consumer::{Consumer, Plan, Producers, Sink};
    let shutdown = inetmon_io::shutdown::Shutdown::new().unwrap();
    let producers = Producers::new(shutdown.clone(), 64);
    let mut p = producers.pipeline().producer(Source::Stdin);
    for i in 0..10 {
        let e = malformed(&mut p, i);
        p.send_blocking(e).unwrap();
    }
    drop(p);
    let first = std::rc::Rc::default();
    let second = std::rc::Rc::default();
    let sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(Keep {
            text: std::rc::Rc::clone(&first),
            take: true,
        }),
        Box::new(Keep {
            text: std::rc::Rc::clone(&second),
            take: false,
        }),
    ];
    let mut stage = EvenOffsets;
    let mut consumer = Consumer::new(&mut stage, sinks);
    let plan = Plan {
        limit: Some(4),
        ..Plan::default()
    };
    let ended = consumer.run(producers, &plan);
    assert!(ended.output.is_ok());
    assert!(ended.producers.is_empty());
    assert!(shutdown.is_set());
    assert_eq!(*first.borrow(), "offset 0\noffset 2\noffset 4\noffset 6\n");
    assert_eq!(*second.borrow(), "offset 2\noffset 6\n");
    let report = consumer.report();
    assert_eq!(report.shown, 4);
    // Events after the limit are neither shown nor counted.
    assert_eq!(report.malformed, 7);
}
