//! A shutdown request shared by the producer threads: a flag plus a
//! [`Waker`] so that threads blocked in `poll` return at once.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::netlink::Waker;

/// Cloneable shutdown handle. Producers check [`Shutdown::is_set`] between
/// reads and poll [`Shutdown::waker`]; they also wake up every few hundred
/// milliseconds, so a flag set from a signal handler (see
/// [`crate::signals`]) is noticed without a wake.
#[derive(Debug, Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Shutdown {
    /// A new, unset shutdown handle.
    ///
    /// # Errors
    /// When the waker's eventfd cannot be created.
    pub fn new() -> io::Result<Self> {
        Self::with_flag(Arc::new(AtomicBool::new(false)))
    }

    /// A handle around an existing flag (for example
    /// [`crate::signals::SignalFlags::shutdown`]).
    ///
    /// # Errors
    /// When the waker's eventfd cannot be created.
    pub fn with_flag(flag: Arc<AtomicBool>) -> io::Result<Self> {
        Ok(Shutdown {
            flag,
            waker: Waker::new()?,
        })
    }

    /// A new handle that SIGINT and SIGTERM set (nothing else: SIGHUP keeps
    /// its default).
    ///
    /// # Errors
    /// When a handler cannot be registered or the eventfd created.
    pub fn on_signals() -> io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&flag))?;
        }
        Self::with_flag(flag)
    }

    /// Asks every holder to stop, and wakes them.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    /// Whether shutdown was asked for.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The waker to poll together with a source's fd.
    #[must_use]
    pub fn waker(&self) -> &Waker {
        &self.waker
    }
}
