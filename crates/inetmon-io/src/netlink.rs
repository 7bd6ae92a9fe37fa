//! A `NETLINK_NETFILTER` socket: multicast groups, a large receive buffer,
//! batched non-blocking reads with a shutdown [`Waker`], `ENOBUFS` reported
//! as [`NetlinkError::Overrun`], and configuration requests checked against
//! their ACK.
//!
//! Datagrams are split into messages, and ACKs read, by `inetmon-core`'s
//! netlink walker; this module only does the system calls.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use inetmon_core::decode::netlink::messages;

/// `NFNLGRP_CONNTRACK_NEW`: conntrack entries created.
pub const NFNLGRP_CONNTRACK_NEW: u32 = 1;
/// `NFNLGRP_CONNTRACK_UPDATE`: conntrack entries changed.
pub const NFNLGRP_CONNTRACK_UPDATE: u32 = 2;
/// `NFNLGRP_CONNTRACK_DESTROY`: conntrack entries removed.
pub const NFNLGRP_CONNTRACK_DESTROY: u32 = 3;

/// Default receive buffer asked for with `SO_RCVBUFFORCE`: 16 MiB.
pub const DEFAULT_RCVBUF: usize = 16 << 20;

/// `NLM_F_REQUEST`
pub const NLM_F_REQUEST: u16 = 1;
/// `NLM_F_ACK`
pub const NLM_F_ACK: u16 = 4;

/// Errors of the netlink socket.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// A system call failed.
    #[error("netlink {what}")]
    Sys {
        /// Which call.
        what: &'static str,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// The kernel dropped messages because our receive buffer was full
    /// (`ENOBUFS`). The socket stays usable.
    #[error("netlink receive buffer overrun: the kernel dropped messages")]
    Overrun,
    /// The kernel rejected a request.
    #[error("netlink request rejected: {0}")]
    Nack(io::Error),
    /// No ACK arrived in time.
    #[error("netlink request got no answer within {0:?}")]
    NoAck(Duration),
}

fn last_os(what: &'static str) -> NetlinkError {
    NetlinkError::Sys {
        what,
        source: io::Error::last_os_error(),
    }
}

/// A fd that wakes a thread blocked in [`wait_readable`] (an
/// `eventfd`), so that shutdown needs no timeout polling.
#[derive(Debug)]
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    /// A new waker.
    ///
    /// # Errors
    /// When `eventfd` fails.
    pub fn new() -> io::Result<Arc<Waker>> {
        // SAFETY: eventfd takes no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that we own.
        Ok(Arc::new(Waker {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        }))
    }

    /// Wakes every waiter (the wake stays pending until drained).
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64. A failure (counter
        // overflow) still leaves the fd readable, which is all we need.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// The fd to poll for readability.
    #[must_use]
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// What [`wait_readable`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// The socket has data (or an error) to read.
    pub socket: bool,
    /// The waker was woken.
    pub woken: bool,
}

/// Waits until `fd` is readable, the waker is woken, or `timeout` passes.
///
/// # Errors
/// When `poll` fails (other than `EINTR`, which returns nothing ready).
pub fn wait_readable(
    fd: RawFd,
    waker: &Waker,
    timeout: Option<Duration>,
) -> Result<Ready, NetlinkError> {
    let mut fds = [
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: waker.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
    // SAFETY: fds is a valid array of 2 pollfd.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(Ready {
                socket: false,
                woken: false,
            });
        }
        return Err(NetlinkError::Sys {
            what: "poll",
            source: e,
        });
    }
    let [s, w] = fds;
    Ok(Ready {
        socket: s.revents != 0,
        woken: w.revents != 0,
    })
}

/// Reusable buffers for [`NetlinkSocket::recv_batch`].
#[derive(Debug)]
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    truncated: Vec<bool>,
    filled: usize,
}

impl RecvBatch {
    /// `count` buffers of `size` bytes each (at least one of 4 KiB).
    #[must_use]
    pub fn new(count: usize, size: usize) -> Self {
        let count = count.max(1);
        RecvBatch {
            bufs: vec![vec![0; size.max(4096)]; count],
            lens: vec![0; count],
            truncated: vec![false; count],
            filled: 0,
        }
    }

    /// The datagrams of the last read, with whether each was truncated
    /// (larger than a buffer).
    pub fn datagrams(&self) -> impl Iterator<Item = (&[u8], bool)> {
        self.bufs
            .iter()
            .zip(self.lens.iter())
            .zip(self.truncated.iter())
            .take(self.filled)
            .map(|((b, l), t)| (b.get(..*l).unwrap_or(b), *t))
    }
}

/// A `NETLINK_NETFILTER` socket, non-blocking and close-on-exec.
///
/// The socket belongs to the network namespace of the thread that created
/// it, and keeps it.
#[derive(Debug)]
pub struct NetlinkSocket {
    fd: OwnedFd,
    portid: u32,
    seq: u32,
}

fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: passes a pointer to a live i32 with its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of::<i32>() as u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn getsockopt_int(fd: RawFd, level: i32, name: i32) -> io::Result<i32> {
    let mut value: i32 = 0;
    let mut len = size_of::<i32>() as libc::socklen_t;
    // SAFETY: value and len are live and sized correctly.
    let r = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &raw mut len) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(value)
    }
}

impl NetlinkSocket {
    /// Opens and binds a `NETLINK_NETFILTER` socket (the kernel picks the
    /// port id).
    ///
    /// # Errors
    /// When `socket`, `bind` or `getsockname` fails.
    pub fn open_netfilter() -> Result<Self, NetlinkError> {
        // SAFETY: plain socket call.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(last_os("socket"));
        }
        // SAFETY: fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; all-zero is valid.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        let len = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: addr is a live sockaddr_nl of the given length.
        if unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) } < 0 {
            return Err(last_os("bind"));
        }
        let mut len = len;
        // SAFETY: as above, writable.
        if unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &raw mut len) } < 0 {
            return Err(last_os("getsockname"));
        }
        Ok(NetlinkSocket {
            fd,
            portid: addr.nl_pid,
            seq: 0,
        })
    }

    /// The port id the kernel assigned.
    #[must_use]
    pub fn portid(&self) -> u32 {
        self.portid
    }

    /// The socket's fd, for polling.
    #[must_use]
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Joins multicast group `group` (e.g. [`NFNLGRP_CONNTRACK_NEW`]).
    ///
    /// # Errors
    /// When `setsockopt(NETLINK_ADD_MEMBERSHIP)` fails (needs
    /// `CAP_NET_ADMIN` for conntrack).
    pub fn add_membership(&self, group: u32) -> Result<(), NetlinkError> {
        let g = i32::try_from(group).unwrap_or(i32::MAX);
        setsockopt_int(
            self.as_raw_fd(),
            libc::SOL_NETLINK,
            libc::NETLINK_ADD_MEMBERSHIP,
            g,
        )
        .map_err(|source| NetlinkError::Sys {
            what: "NETLINK_ADD_MEMBERSHIP",
            source,
        })
    }

    /// Sets the receive buffer to `bytes`: `SO_RCVBUFFORCE` (needs
    /// `CAP_NET_ADMIN`, ignores `rmem_max`), falling back to `SO_RCVBUF`.
    /// Returns the size the kernel reports (it doubles the request).
    ///
    /// # Errors
    /// When both calls fail.
    pub fn set_recv_buffer(&self, bytes: usize) -> Result<usize, NetlinkError> {
        let v = i32::try_from(bytes).unwrap_or(i32::MAX);
        let fd = self.as_raw_fd();
        if setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v).is_err() {
            setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, v).map_err(|source| {
                NetlinkError::Sys {
                    what: "SO_RCVBUF",
                    source,
                }
            })?;
        }
        let got = getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).map_err(|source| {
            NetlinkError::Sys {
                what: "SO_RCVBUF",
                source,
            }
        })?;
        Ok(usize::try_from(got).unwrap_or(0))
    }

    /// The next request sequence number.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends one or more complete netlink messages to the kernel.
    ///
    /// # Errors
    /// When `send` fails or is short.
    pub fn send(&self, msg: &[u8]) -> Result<(), NetlinkError> {
        // SAFETY: sockaddr_nl zeroed = the kernel (pid 0).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: msg and addr are live for the call.
        let n = unsafe {
            libc::sendto(
                self.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(last_os("send"));
        }
        if usize::try_from(n).ok() != Some(msg.len()) {
            return Err(NetlinkError::Sys {
                what: "send",
                source: io::Error::from(io::ErrorKind::WriteZero),
            });
        }
        Ok(())
    }

    /// Sends one request message with `NLM_F_REQUEST|NLM_F_ACK` and a fresh
    /// sequence number written into its header, then waits (up to 1 s) for
    /// the kernel's `NLMSG_ERROR` answer. Other messages read meanwhile are
    /// discarded, so configure before traffic is expected.
    ///
    /// # Errors
    /// [`NetlinkError::Nack`] with the kernel's errno; I/O errors;
    /// [`NetlinkError::NoAck`].
    pub fn request(&mut self, msg: &mut [u8]) -> Result<(), NetlinkError> {
        let seq = self.next_seq();
        let bad = || NetlinkError::Sys {
            what: "request",
            source: io::Error::from(io::ErrorKind::InvalidInput),
        };
        let flags = msg.get_mut(6..8).ok_or_else(bad)?;
        let f = u16::from_ne_bytes([flags[0], flags[1]]) | NLM_F_REQUEST | NLM_F_ACK;
        flags.copy_from_slice(&f.to_ne_bytes());
        msg.get_mut(8..12)
            .ok_or_else(bad)?
            .copy_from_slice(&seq.to_ne_bytes());
        self.send(msg)?;
        let timeout = Duration::from_secs(1);
        let deadline = std::time::Instant::now() + timeout;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match self.recv_one(&mut buf) {
                Ok(Some(n)) => n,
                Ok(None) => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(NetlinkError::NoAck(timeout));
                    }
                    poll_one(self.as_raw_fd(), left)?;
                    continue;
                }
                // Overruns while configuring lose only multicast messages.
                Err(NetlinkError::Overrun) => continue,
                Err(e) => return Err(e),
            };
            for m in messages(buf.get(..n).unwrap_or(&[])) {
                let Ok(m) = m else { break };
                if m.seq != seq {
                    continue;
                }
                if let Some(code) = m.error_code() {
                    return if code == 0 {
                        Ok(())
                    } else {
                        Err(NetlinkError::Nack(io::Error::from_raw_os_error(-code)))
                    };
                }
            }
        }
    }

    fn recv_one(&self, buf: &mut [u8]) -> Result<Option<usize>, NetlinkError> {
        // SAFETY: buf is live and writable for its length.
        let n = unsafe {
            libc::recv(
                self.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(None),
                Some(libc::ENOBUFS) => Err(NetlinkError::Overrun),
                _ => Err(NetlinkError::Sys {
                    what: "recv",
                    source: e,
                }),
            };
        }
        Ok(usize::try_from(n).ok())
    }

    /// Reads as many datagrams as are queued, up to the batch's size, without
    /// blocking (`recvmmsg`). Returns how many were read (0 when none).
    ///
    /// # Errors
    /// [`NetlinkError::Overrun`] when the kernel dropped messages since the
    /// last read (`ENOBUFS`; read again to go on); other errors of `recvmmsg`.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> Result<usize, NetlinkError> {
        batch.filled = 0;
        let mut iovs: Vec<libc::iovec> = batch
            .bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .map(|iov| {
                // SAFETY: msghdr is plain data; all-zero is a valid value.
                let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                h.msg_iov = iov;
                h.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: h,
                    msg_len: 0,
                }
            })
            .collect();
        let vlen = u32::try_from(hdrs.len()).unwrap_or(u32::MAX);
        // SAFETY: hdrs points at `vlen` mmsghdr whose iovecs point into the
        // batch's buffers, all alive and unaliased for the call.
        let n = unsafe {
            libc::recvmmsg(
                self.as_raw_fd(),
                hdrs.as_mut_ptr(),
                vlen,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(0),
                Some(libc::ENOBUFS) => Err(NetlinkError::Overrun),
                _ => Err(NetlinkError::Sys {
                    what: "recvmmsg",
                    source: e,
                }),
            };
        }
        let n = usize::try_from(n).unwrap_or(0);
        for (i, h) in hdrs.iter().take(n).enumerate() {
            if let (Some(l), Some(t)) = (batch.lens.get_mut(i), batch.truncated.get_mut(i)) {
                *l = h.msg_len as usize;
                *t = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            }
        }
        batch.filled = n;
        Ok(n)
    }
}

fn poll_one(fd: RawFd, timeout: Duration) -> Result<(), NetlinkError> {
    let mut p = [libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }];
    let ms = i32::try_from(timeout.as_millis())
        .unwrap_or(i32::MAX)
        .max(1);
    // SAFETY: one valid pollfd.
    if unsafe { libc::poll(p.as_mut_ptr(), 1, ms) } < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(NetlinkError::Sys {
                what: "poll",
                source: e,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waker_wakes_poll() {
        let w = Waker::new().unwrap();
        let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let r = wait_readable(a.as_raw_fd(), &w, Some(Duration::from_millis(1))).unwrap();
        assert_eq!(
            r,
            Ready {
                socket: false,
                woken: false
            }
        );
        w.wake();
        let r = wait_readable(a.as_raw_fd(), &w, None).unwrap();
        assert!(r.woken);
    }
}
