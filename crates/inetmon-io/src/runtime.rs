//! The one tokio runtime of the process, for the network side (NATS
//! export, and the other network components of the daemon): created on
//! first use, after the daemon has started (never before a fork), with two
//! worker threads named `inetmon-net`. The capture side stays on plain
//! threads (see ARCHITECTURE.md); components take a
//! [`tokio::runtime::Handle`] from here.

use std::sync::OnceLock;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// A handle on the process's network runtime, starting it on first use.
///
/// # Errors
/// When the runtime's threads cannot be started.
pub fn handle() -> std::io::Result<tokio::runtime::Handle> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("inetmon-net")
        .enable_all()
        .build()?;
    // Another thread may have won the race: its runtime is kept, ours
    // dropped.
    let _ = RUNTIME.set(rt);
    RUNTIME
        .get()
        .map(|rt| rt.handle().clone())
        .ok_or_else(|| std::io::Error::other("the network runtime did not start"))
}
