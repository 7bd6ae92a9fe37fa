//! Waiting for one file descriptor to become readable.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// Waits up to `ms` milliseconds (`-1`: forever) for `fd` or `wake` (a
/// shutdown waker's eventfd) to become readable. A signal interrupting the
/// wait is not an error: the caller reads (or finds nothing) and comes
/// back.
///
/// # Errors
/// The `poll(2)` error, other than `EINTR`.
pub(crate) fn wait_either_ms(fd: BorrowedFd<'_>, wake: Option<RawFd>, ms: i32) -> io::Result<()> {
    let pfd = |fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let mut fds = [pfd(fd.as_raw_fd()), pfd(wake.unwrap_or(-1))];
    let n = if wake.is_some() { 2 } else { 1 };
    // SAFETY: `n` valid pollfds for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), n, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}
