//! Waiting for one file descriptor to become readable.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Waits up to `ms` milliseconds (`-1`: forever) for `fd` to become
/// readable. A signal interrupting the wait is not an error: the caller
/// reads (or finds nothing) and comes back.
///
/// # Errors
/// The `poll(2)` error, other than `EINTR`.
pub(crate) fn wait_readable_ms(fd: BorrowedFd<'_>, ms: i32) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}
