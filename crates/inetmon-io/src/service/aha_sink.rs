//! `[aha] mountpoint`: the AHAFS file interface fed from the daemon's
//! event stream (every socket event it collects, after the user-space
//! `[sockets.filters]`).

use std::collections::HashMap;

use inetmon_core::event::{Event, ProcessInfo};

use super::Log;
use crate::aha::AhaFs;
use crate::consumer::{Delivery, Rendered, Sink};
use crate::sink::SinkError;
use crate::sockets::procinfo::process_info;

/// Most processes whose `/proc` details are cached for `INFO_LVL=3`.
const PROC_CACHE: usize = 4096;

/// Publishes socket events to the mounted AHAFS files (unmounted when the
/// sink is dropped).
pub struct AhaSink {
    aha: AhaFs,
    procs: HashMap<u32, ProcessInfo>,
    log: Log,
}

impl std::fmt::Debug for AhaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AhaSink")
            .field("aha", &self.aha)
            .finish_non_exhaustive()
    }
}

impl AhaSink {
    /// Publishes to `aha`; says on `log` at the end how many event blocks
    /// full consumer buffers dropped.
    #[must_use]
    pub fn new(aha: AhaFs, log: Log) -> Self {
        AhaSink {
            aha,
            procs: HashMap::new(),
            log,
        }
    }

    /// Command line and parent pid of `pid` (for `INFO_LVL=3` readers),
    /// cached so that events after the process exited still carry them.
    fn process(&mut self, pid: u32) -> ProcessInfo {
        if let Some(p) = self.procs.get(&pid) {
            return p.clone();
        }
        if self.procs.len() >= PROC_CACHE {
            self.procs.clear();
        }
        let p = process_info(pid);
        if !p.cmdline.is_empty() {
            self.procs.insert(pid, p.clone());
        }
        p
    }
}

impl Sink for AhaSink {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        if let Some(Event::Sock(s)) = ev {
            if s.process.is_none() && s.task.pid != 0 {
                let mut copy = (**s).clone();
                copy.process = Some(self.process(copy.task.pid));
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
