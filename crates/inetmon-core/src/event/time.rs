//! Timestamps.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A wall-clock time: seconds and nanoseconds since the Unix epoch, UTC.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before it).
    pub secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

impl Timestamp {
    /// A timestamp from seconds and microseconds; out-of-range microseconds
    /// are carried into the seconds.
    #[must_use]
    pub fn from_micros(secs: i64, micros: i64) -> Self {
        Self::from_nanos_parts(secs, micros.saturating_mul(1000))
    }

    /// A timestamp from seconds and nanoseconds; out-of-range nanoseconds are
    /// carried into the seconds.
    #[must_use]
    pub fn from_nanos_parts(secs: i64, nanos: i64) -> Self {
        let carry = nanos.div_euclid(1_000_000_000);
        let nanos = nanos.rem_euclid(1_000_000_000);
        Timestamp {
            secs: secs.saturating_add(carry),
            // rem_euclid keeps it in 0..1e9, which fits u32.
            nanos: u32::try_from(nanos).unwrap_or(0),
        }
    }

    /// Microseconds within the second.
    #[must_use]
    pub fn micros(self) -> u32 {
        self.nanos / 1000
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs, self.nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_out_of_range_parts() {
        assert_eq!(
            Timestamp::from_micros(1, 1_500_000),
            Timestamp {
                secs: 2,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            Timestamp::from_nanos_parts(1, -1),
            Timestamp {
                secs: 0,
                nanos: 999_999_999
            }
        );
    }
}
