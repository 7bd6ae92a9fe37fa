//! `[aha] mountpoint`: the AHAFS file interface fed from the daemon's
//! event stream (every socket event it collects, after the user-space
//! `[sockets.filters]`).

use inetmon_core::event::Event;

use super::Log;
use crate::aha::AhaFs;
use crate::consumer::{Delivery, Rendered, Sink};
use crate::sink::SinkError;
use crate::sockets::procinfo::ProcessCache;

/// Publishes socket events to the mounted AHAFS files (unmounted when the
/// sink is dropped): the daemon's `[aha] mountpoint` and `inetmon sockets
/// --aha`.
pub struct AhaSink {
    aha: AhaFs,
    procs: ProcessCache,
    log: Log,
}

crate::debug_fields::debug_fields!(AhaSink { aha, .. });

impl AhaSink {
    /// Publishes to `aha`; says on `log` at the end how many event blocks
    /// full consumer buffers dropped.
    #[must_use]
    pub fn new(aha: AhaFs, log: Log) -> Self {
        AhaSink {
            aha,
            procs: ProcessCache::default(),
            log,
        }
    }
}

impl Sink for AhaSink {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        if let Some(Event::Sock(s)) = ev {
            if s.process.is_none() && s.task.pid != 0 {
                let mut copy = (**s).clone();
                copy.process = Some(self.procs.get(copy.task.pid));
                self.aha.publish(&copy);
            } else {
                self.aha.publish(s);
            }
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

impl Drop for AhaSink {
    fn drop(&mut self) {
        let lost = self.aha.stats().lost;
        if lost > 0 {
            (self.log)(&format!(
                "AHAFS: {lost} event blocks dropped by full consumer buffers (reported to them as BUF_WRAP)"
            ));
        }
    }
}
