//! The daemon's one tokio runtime, for its network components (the
//! metrics and web-view listener; clients and exporters that are async):
//! made on first use, after any fork, and kept for the life of the
//! process (across reloads). Two worker threads (`inetmon-net`): the
//! network side is small beside the producers and the journal.

use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime's handle, made on first call.
///
/// # Errors
/// The runtime's threads could not be started.
pub fn handle() -> std::io::Result<Handle> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("inetmon-net")
        .enable_all()
        .build()?;
    // A racing caller may have set it first; either runtime works, the
    // other is dropped here (it has run nothing).
    let _ = RUNTIME.set(rt);
    RUNTIME
        .get()
        .map(|rt| rt.handle().clone())
        .ok_or_else(|| std::io::Error::other("tokio runtime"))
}
