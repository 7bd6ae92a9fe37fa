//! One AHAFS subscription: the state of one open `.mon` file.
//!
//! A subscription starts *unarmed* (no specification yet: events are not
//! collected). Writing a valid [`Spec`] arms it (writing another replaces
//! the specification and empties the buffer). While armed, every event of
//! its monitor is formatted at its `INFO_LVL` into a bounded buffer of
//! `BUF_SIZE` bytes, with its own sequence numbers. When the buffer is
//! full the oldest blocks are dropped (the buffer wraps, as AHAFS's does)
//! and counted; the next read then starts with an overflow block:
//!
//! ```text
//! AHAFS event: /aha/net/inetsock.monFactory/streamCreate.mon
//! ---------------------------------------------------
//! BEGIN_EVENT_INFO
//! BUF_WRAP
//! LOST_EVENTS=17
//! END_EVENT_INFO
//! ```
//!
//! The lost events' sequence numbers are missing from the blocks that
//! follow, so the gap is visible twice. With `NOTIFY_CNT=n`, the
//! subscription takes `n` events and then, once they are read, reports end
//! of file.

use std::collections::VecDeque;

use jiff::tz::TimeZone;

use super::spec::{NotifyCount, Spec, SpecError};
use crate::event::{Monitor, SockEvent};
use crate::format::ahafs::AhafsFormatter;

/// What [`Subscription::offer`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Not this subscription's monitor, not armed, or `NOTIFY_CNT` reached.
    Ignored,
    /// Buffered.
    Queued,
    /// Buffered, after dropping this many older blocks to make room.
    Wrapped(u64),
}

/// The state of one open monitor file.
#[derive(Debug)]
pub struct Subscription {
    monitor: Monitor,
    tz: TimeZone,
    armed: Option<(Spec, AhafsFormatter)>,
    blocks: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Rest of a block a short read did not take.
    partial: Vec<u8>,
    lost_unreported: u64,
    lost_total: u64,
    taken: u64,
}

impl Subscription {
    /// An unarmed subscription to `monitor`, printing times in `tz`.
    #[must_use]
    pub fn new(monitor: Monitor, tz: TimeZone) -> Self {
        Subscription {
            monitor,
            tz,
            armed: None,
            blocks: VecDeque::new(),
            bytes: 0,
            partial: Vec::new(),
            lost_unreported: 0,
            lost_total: 0,
            taken: 0,
        }
    }

    /// The monitor this file watches.
    #[must_use]
    pub fn monitor(&self) -> Monitor {
        self.monitor
    }

    /// The specification in force, if any.
    #[must_use]
    pub fn spec(&self) -> Option<&Spec> {
        self.armed.as_ref().map(|(s, _)| s)
    }

    /// Parses and installs a specification (see [`Spec::parse`]).
    ///
    /// # Errors
    /// The [`SpecError`]; the subscription is unchanged then.
    pub fn write_spec(&mut self, bytes: &[u8]) -> Result<(), SpecError> {
        let spec = Spec::parse(bytes)?;
        let fmt = AhafsFormatter::new(spec.info_lvl, self.tz.clone());
        self.armed = Some((spec, fmt));
        self.blocks.clear();
        self.bytes = 0;
        self.partial.clear();
        self.lost_unreported = 0;
        self.taken = 0;
        Ok(())
    }

    /// Offers one event: buffered when it is this monitor's and the
    /// subscription is armed and still wants events.
    pub fn offer(&mut self, ev: &SockEvent) -> Offer {
        if ev.monitor() != Some(self.monitor) || self.notify_done() {
            return Offer::Ignored;
        }
        let Some((spec, fmt)) = self.armed.as_mut() else {
            return Offer::Ignored;
        };
        let mut block = Vec::with_capacity(400);
        // Writing into a Vec cannot fail; the monitor matched above.
        if !matches!(fmt.write(ev, &mut block), Ok(true)) {
            return Offer::Ignored;
        }
        let cap = spec.buf_size;
        self.taken = self.taken.saturating_add(1);
        let mut dropped = 0u64;
        while !self.blocks.is_empty() && self.bytes + block.len() > cap {
            if let Some(old) = self.blocks.pop_front() {
                self.bytes -= old.len();
                dropped += 1;
            }
        }
        self.bytes += block.len();
        self.blocks.push_back(block);
        self.lost_unreported += dropped;
        self.lost_total += dropped;
        if dropped == 0 {
            Offer::Queued
        } else {
            Offer::Wrapped(dropped)
        }
    }

    fn notify_done(&self) -> bool {
        match self.armed.as_ref().map(|(s, _)| s.notify_cnt) {
            Some(NotifyCount::Times(n)) => self.taken >= n,
            _ => false,
        }
    }

    /// Whether a read would return data now.
    #[must_use]
    pub fn readable(&self) -> bool {
        !self.partial.is_empty() || self.lost_unreported > 0 || !self.blocks.is_empty()
    }

    /// Whether the subscription is over (`NOTIFY_CNT` reached and all read):
    /// reads return end of file.
    #[must_use]
    pub fn finished(&self) -> bool {
        self.notify_done() && !self.readable()
    }

    /// Events dropped by overflow since the subscription was armed.
    #[must_use]
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// Takes up to `max` bytes: the overflow block first when events were
    /// lost, then whole event blocks; a block longer than `max` is returned
    /// in pieces across reads.
    pub fn take(&mut self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        if max == 0 {
            return out;
        }
        if !self.partial.is_empty() {
            let n = self.partial.len().min(max);
            out.extend(self.partial.drain(..n));
            return out;
        }
        if self.lost_unreported > 0 {
            let marker = format!(
                "AHAFS event: /aha/net/inetsock.monFactory/{}.mon\n\
                 ---------------------------------------------------\n\
                 BEGIN_EVENT_INFO\nBUF_WRAP\nLOST_EVENTS={}\nEND_EVENT_INFO\n",
                self.monitor.name(),
                self.lost_unreported
            );
            self.lost_unreported = 0;
            self.partial = marker.into_bytes();
            return self.take(max);
        }
        while let Some(front) = self.blocks.front() {
            if out.len() + front.len() > max {
                if out.is_empty() {
                    if let Some(b) = self.blocks.pop_front() {
                        self.bytes -= b.len();
                        self.partial = b;
                        return self.take(max);
                    }
                }
                break;
            }
            if let Some(b) = self.blocks.pop_front() {
                self.bytes -= b.len();
                out.extend_from_slice(&b);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{SockOp, SOCK_DGRAM, SOCK_STREAM};

    /// xmtopas (pid `pid`) doing `op` on a `sock_type` socket, without
    /// addresses.
    fn ev(op: SockOp, sock_type: u16, pid: u32) -> SockEvent {
        let mut e = SockEvent::sample();
        e.header.time.nanos = 0;
        e.op = op;
        e.task.pid = pid;
        e.task.tid = pid;
        e.task.comm = "xmtopas".into();
        e.sock_type = sock_type;
        e.local = None;
        e.foreign = None;
        e
    }

    fn block(seq: u64, pid: u32) -> String {
        format!("AHAFS event: /aha/net/inetsock.monFactory/streamCreate.mon\n---------------------------------------------------\nBEGIN_EVENT_INFO\nTime : Mon Jan 23 23:04:06 2012\nSequence Num: {seq}\nRC_FROM_EVPROD=0\nBEGIN_EVPROD_INFO\nPROG_NAME=xmtopas\nSO_FAMILY=2\nSO_TYPE=1\nSO_PROTO=6\nSO_UID=0\nSO_PID={pid}\nEND_EVPROD_INFO\nEND_EVENT_INFO\n")
    }

    fn sub(spec: &str) -> Subscription {
        let mut s = Subscription::new(Monitor::StreamCreate, TimeZone::UTC);
        s.write_spec(spec.as_bytes()).unwrap();
        s
    }

    #[test]
    fn unarmed_and_other_monitors_ignored() {
        let mut s = Subscription::new(Monitor::StreamCreate, TimeZone::UTC);
        assert_eq!(s.offer(&ev(SockOp::Create, SOCK_STREAM, 1)), Offer::Ignored);
        assert!(s.write_spec(b"CHANGED=NO").is_err());
        assert!(s.spec().is_none());
        let mut s = sub("CHANGED=YES;INFO_LVL=2");
        assert_eq!(s.offer(&ev(SockOp::Create, SOCK_DGRAM, 1)), Offer::Ignored);
        assert_eq!(s.offer(&ev(SockOp::Bind, SOCK_STREAM, 1)), Offer::Ignored);
        assert!(!s.readable());
    }

    #[test]
    fn blocks_in_order_with_own_sequence() {
        let mut s = sub("CHANGED=YES;INFO_LVL=2");
        assert_eq!(s.offer(&ev(SockOp::Create, SOCK_STREAM, 7)), Offer::Queued);
        assert_eq!(s.offer(&ev(SockOp::Create, SOCK_STREAM, 8)), Offer::Queued);
        let got = String::from_utf8(s.take(65536)).unwrap();
        assert_eq!(got, format!("{}{}", block(1, 7), block(2, 8)));
        assert!(!s.readable());
        assert!(!s.finished());
    }

    #[test]
    fn short_reads_take_whole_blocks_then_pieces() {
        let mut s = sub("CHANGED=YES;INFO_LVL=2");
        s.offer(&ev(SockOp::Create, SOCK_STREAM, 7));
        s.offer(&ev(SockOp::Create, SOCK_STREAM, 8));
        let one = block(1, 7);
        // Room for one and a half blocks: one whole block.
        assert_eq!(s.take(one.len() + 10), one.as_bytes());
        // Room for 10 bytes: the second block in pieces.
        let mut rest = Vec::new();
        while s.readable() {
            rest.extend(s.take(10));
        }
        assert_eq!(String::from_utf8(rest).unwrap(), block(2, 8));
    }

    #[test]
    fn overflow_wraps_and_is_reported_once() {
        let mut s = sub("CHANGED=YES;INFO_LVL=2;BUF_SIZE=4096");
        let len = block(1, 1).len();
        let fit = 4096 / len;
        let total = fit + 5;
        let mut wrapped = 0;
        for i in 0..total {
            if let Offer::Wrapped(n) = s.offer(&ev(SockOp::Create, SOCK_STREAM, 100)) {
                wrapped += n;
            }
            let _ = i;
        }
        assert_eq!(wrapped, 5);
        assert_eq!(s.lost_total(), 5);
        let got = String::from_utf8(s.take(1 << 20)).unwrap();
        let marker = "AHAFS event: /aha/net/inetsock.monFactory/streamCreate.mon\n---------------------------------------------------\nBEGIN_EVENT_INFO\nBUF_WRAP\nLOST_EVENTS=5\nEND_EVENT_INFO\n";
        assert_eq!(got, marker);
        let got = String::from_utf8(s.take(1 << 20)).unwrap();
        let want: String = (6..=total as u64).map(|q| block(q, 100)).collect();
        assert_eq!(got, want);
        assert!(!s.readable());
    }

    #[test]
    fn notify_count_ends_the_file() {
        let mut s = sub("CHANGED=YES;INFO_LVL=2;NOTIFY_CNT=2");
        for pid in 1..=3 {
            s.offer(&ev(SockOp::Create, SOCK_STREAM, pid));
        }
        assert!(!s.finished());
        let got = String::from_utf8(s.take(1 << 20)).unwrap();
        assert_eq!(got, format!("{}{}", block(1, 1), block(2, 2)));
        assert!(s.finished());
        assert_eq!(s.offer(&ev(SockOp::Create, SOCK_STREAM, 4)), Offer::Ignored);
    }
}
