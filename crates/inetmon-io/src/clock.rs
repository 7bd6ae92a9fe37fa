//! Where a kernel clock's zero is on the wall clock: the offset that turns
//! the `CLOCK_MONOTONIC` / `CLOCK_BOOTTIME` nanoseconds of BPF records into
//! wall-clock times.
//!
//! Reading the two clocks one after the other is off by however long the
//! thread was preempted between the reads: on a loaded machine tens of
//! microseconds, so two processes (the daemon and a local run) printed the
//! same event at times 68 µs apart. Here a `CLOCK_REALTIME` read is
//! bracketed by two reads of the kernel clock, a few times, and the
//! narrowest bracket is used: its error is at most half its width (tens of
//! nanoseconds when not preempted).

use nix::time::{clock_gettime, ClockId};

/// Bracketed reads taken; the narrowest one wins.
const SAMPLES: usize = 8;

fn ns(clock: ClockId) -> i128 {
    clock_gettime(clock).map_or(0, |t| {
        i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec())
    })
}

/// `CLOCK_REALTIME − clock`, in nanoseconds: the wall-clock time at which
/// `clock` read zero.
#[must_use]
pub fn wall_offset_ns(clock: ClockId) -> i128 {
    let mut best: Option<(i128, i128)> = None;
    for _ in 0..SAMPLES {
        let before = ns(clock);
        let wall = ns(ClockId::CLOCK_REALTIME);
        let after = ns(clock);
        let width = after - before;
        let offset = wall - before - width / 2;
        if best.is_none_or(|(w, _)| width < w) {
            best = Some((width, offset));
        }
    }
    best.map_or(0, |(_, offset)| offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_estimates_agree_within_a_few_microseconds() {
        let a = wall_offset_ns(ClockId::CLOCK_MONOTONIC);
        let b = wall_offset_ns(ClockId::CLOCK_MONOTONIC);
        assert!((a - b).abs() < 5_000, "{a} vs {b}");
        assert!(wall_offset_ns(ClockId::CLOCK_BOOTTIME) > 0);
    }
}
