//! SIGINT/SIGTERM as a shutdown flag and SIGHUP as a reopen flag.
//!
//! The handlers only set atomics (via `signal-hook`), so they are
//! async-signal-safe; the threads that care poll the flags: producers between
//! reads, sinks before each write batch.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The flags set by signals. Clone the `Arc`s into whichever threads need
/// them.
#[derive(Debug, Clone)]
pub struct SignalFlags {
    /// Set by SIGINT or SIGTERM: stop reading, flush and exit.
    pub shutdown: Arc<AtomicBool>,
    /// Set by SIGHUP: reopen output files (the sink clears it).
    pub reopen: Arc<AtomicBool>,
}

impl SignalFlags {
    /// Installs the handlers and returns the flags they set.
    ///
    /// # Errors
    /// When a handler cannot be registered.
    pub fn install() -> io::Result<Self> {
        let flags = SignalFlags {
            shutdown: Arc::new(AtomicBool::new(false)),
            reopen: Arc::new(AtomicBool::new(false)),
        };
        signal_hook::flag::register(SIGINT, Arc::clone(&flags.shutdown))?;
        signal_hook::flag::register(SIGTERM, Arc::clone(&flags.shutdown))?;
        signal_hook::flag::register(SIGHUP, Arc::clone(&flags.reopen))?;
        Ok(flags)
    }

    /// A new flag of its own that SIGHUP sets, for one file sink (each sink
    /// clears its flag when it reopens, so sinks must not share one).
    ///
    /// # Errors
    /// When the handler cannot be registered.
    pub fn reopen_flag(&self) -> io::Result<Arc<AtomicBool>> {
        let flag = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(SIGHUP, Arc::clone(&flag))?;
        Ok(flag)
    }

    /// Whether a shutdown was asked for.
    #[must_use]
    pub fn shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sighup_sets_reopen() {
        let flags = SignalFlags::install().unwrap();
        assert!(!flags.reopen.load(Ordering::SeqCst));
        let own = flags.reopen_flag().unwrap();
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).unwrap();
        assert!(flags.reopen.load(Ordering::SeqCst));
        assert!(own.load(Ordering::SeqCst));
        assert!(!flags.shutting_down());
    }
}
