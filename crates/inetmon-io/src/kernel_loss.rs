//! Loss that an eBPF producer learns from the kernel, turned into in-band
//! [`Event::Lost`] events: ring-buffer reservation failures (counted by the
//! programs themselves) and program runs the kernel skipped because they
//! would have nested in another BPF run on the same CPU (the programs'
//! `recursion_misses`). Both the socket-event and the datapath producers
//! account their loss here.

use crate::bpf::progstats::Delta;
use inetmon_core::event::{
    Event, EventKind, Header, LossStage, Lost, Source, Timestamp, LOST_SKIPPED_RUNS,
};

/// Running totals of one producer's kernel-side loss.
#[derive(Debug, Clone)]
pub struct KernelLoss {
    source: Source,
    kinds: Vec<EventKind>,
    misses: Delta,
    lost_total: u64,
    skipped_total: u64,
}

impl KernelLoss {
    /// Loss of `kinds` events from `source`; `misses_at_start` is what the
    /// programs' recursion-miss counter said when they were attached (runs
    /// skipped before that are not ours to report).
    #[must_use]
    pub fn new(source: Source, kinds: Vec<EventKind>, misses_at_start: u64) -> Self {
        KernelLoss {
            source,
            kinds,
            misses: Delta::new(misses_at_start),
            lost_total: 0,
            skipped_total: 0,
        }
    }

    /// Adds new reservation failures, given as `(label, count)` parts (the
    /// operation for socket events, `ring_full` when unknown), and the
    /// current cumulative recursion-miss counter (`None` when it could not
    /// be read), and returns one [`Event::Lost`] for the growth, numbered
    /// with the producer's `seq`, or `None` when nothing was lost. Its
    /// [`Lost::breakdown`] lists the non-zero parts, then the skipped runs.
    pub fn account(
        &mut self,
        reserve_failures: &[(&'static str, u64)],
        misses: Option<u64>,
        time: Timestamp,
        seq: &mut u64,
    ) -> Option<Event> {
        let skipped = misses.map_or(0, |m| self.misses.update(m));
        self.skipped_total = self.skipped_total.saturating_add(skipped);
        let mut breakdown: Vec<(&'static str, u64)> = reserve_failures
            .iter()
            .copied()
            .filter(|&(_, n)| n > 0)
            .collect();
        if skipped > 0 {
            breakdown.push((LOST_SKIPPED_RUNS, skipped));
        }
        let count = breakdown
            .iter()
            .fold(0u64, |sum, &(_, n)| sum.saturating_add(n));
        self.lost_total = self.lost_total.saturating_add(count);
        if count == 0 {
            return None;
        }
        *seq = seq.wrapping_add(1);
        Some(Event::Lost(Lost {
            header: Header {
                time,
                source: self.source.clone(),
                seq: *seq,
            },
            stage: LossStage::Kernel,
            count,
            kinds: self.kinds.clone(),
            seq_range: None,
            breakdown,
        }))
    }

    /// [`KernelLoss::account`], with the event (if any) handed to `out`;
    /// returns how many were handed (0 or 1). What both producers' loss
    /// checks end with.
    pub fn report(
        &mut self,
        reserve_failures: &[(&'static str, u64)],
        misses: Option<u64>,
        time: Timestamp,
        seq: &mut u64,
        out: &mut dyn FnMut(Event),
    ) -> usize {
        match self.account(reserve_failures, misses, time, seq) {
            Some(ev) => {
                out(ev);
                1
            }
            None => 0,
        }
    }

    /// Events lost in the kernel since the start, as accounted so far.
    #[must_use]
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// The part of [`KernelLoss::lost_total`] that is skipped program runs.
    /// The kernel counts them per program for every task, filters or not,
    /// so this part is an upper bound.
    #[must_use]
    pub fn skipped_total(&self) -> u64 {
        self.skipped_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_and_misses_become_one_kernel_lost_event() {
        let mut loss = KernelLoss::new(Source::Datapath, vec![EventKind::Drop], 100);
        let mut seq = 0;
        let parts = [("ring_full", 2)];
        let Some(Event::Lost(l)) = loss.account(&parts, Some(130), Timestamp::default(), &mut seq)
        else {
            panic!("no Lost event");
        };
        assert_eq!(l.count, 32);
        assert_eq!(l.stage, LossStage::Kernel);
        assert_eq!(l.kinds, vec![EventKind::Drop]);
        assert_eq!(l.header.source, Source::Datapath);
        assert_eq!(l.header.seq, 1);
        assert_eq!(l.breakdown, vec![("ring_full", 2), ("skipped_runs", 30)]);
        assert!(loss
            .account(&[("connect", 0)], Some(130), Timestamp::default(), &mut seq)
            .is_none());
        assert!(loss
            .account(&[], None, Timestamp::default(), &mut seq)
            .is_none());
        assert_eq!(seq, 1);
        assert_eq!((loss.lost_total(), loss.skipped_total()), (32, 30));
    }
}
