//! The ring-buffer record of the socket-event programs: a `#[repr(C)]`
//! mirror of `struct inetmon_sock_rec` in `bpf/inetmon_sock.h`, and its
//! constants. Native byte order: the record never leaves the host.

use core::mem::{offset_of, size_of};

/// `INETMON_SOCK_VERSION`: the record layout version in [`SockRec::version`].
pub const VERSION: u8 = 2;

/// `INETMON_OP_MAX`: number of per-CPU loss counters (indexed by operation).
pub const OP_MAX: usize = 16;

/// `INETMON_OP_CREATE`: a socket was created.
pub const OP_CREATE: u8 = 1;
/// `INETMON_OP_BIND`: an explicit bind.
pub const OP_BIND: u8 = 2;
/// `INETMON_OP_DYNBIND`: a port given by the kernel (UDP first send or connect).
pub const OP_DYNBIND: u8 = 3;
/// `INETMON_OP_LISTEN`: listen.
pub const OP_LISTEN: u8 = 4;
/// `INETMON_OP_ACCEPT`: accept.
pub const OP_ACCEPT: u8 = 5;
/// `INETMON_OP_CONNECT`: the connect attempt.
pub const OP_CONNECT: u8 = 6;
/// `INETMON_OP_CONNECTED`: the connect outcome: result 0 or -errno.
pub const OP_CONNECTED: u8 = 7;
/// `INETMON_OP_DISCONNECT`: an established connection ended.
pub const OP_DISCONNECT: u8 = 8;
/// `INETMON_OP_CLOSE`: the socket was released.
pub const OP_CLOSE: u8 = 9;
/// `INETMON_OP_ABORT`: the socket was released with an abortive close,
/// one that sends RST (`SO_LINGER` 0, or unread data): AHAFS `PRU_ABORT`.
pub const OP_ABORT: u8 = 10;
/// `INETMON_OP_SEGMENT`: a TCP control segment (SYN, FIN or RST) of an
/// audited connection (one this host connected), sent or received; only
/// from the `seg_ingress`/`seg_egress` programs, attached when asked for.
pub const OP_SEGMENT: u8 = 11;

/// `INETMON_ATTR_UNKNOWN`: no task could be attributed.
pub const ATTR_UNKNOWN: u8 = 0;
/// `INETMON_ATTR_PROCESS`: the task is the caller's context.
pub const ATTR_PROCESS: u8 = 1;
/// `INETMON_ATTR_OWNER`: the task is the socket's recorded owner.
pub const ATTR_OWNER: u8 = 2;

/// `INETMON_INIT_NONE`: neither a disconnect nor a segment.
pub const INIT_NONE: u8 = 0;
/// `INETMON_INIT_LOCAL`: this end disconnected (a segment: sent).
pub const INIT_LOCAL: u8 = 1;
/// `INETMON_INIT_PEER`: the peer disconnected (a segment: received).
pub const INIT_PEER: u8 = 2;

/// `INETMON_F_FD`: bit of [`SockRec::flags`]: [`SockRec::fd`] holds the
/// process's file descriptor.
pub const F_FD: u8 = 1;

/// The record as the BPF programs write it (`struct inetmon_sock_rec`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SockRec {
    /// `CLOCK_MONOTONIC` nanoseconds (`bpf_ktime_get_ns`).
    pub ts_ns: u64,
    /// Socket cookie; 0 when the kernel has none yet.
    pub cookie: u64,
    /// cgroup v2 id of the attributed task.
    pub cgroup_id: u64,
    /// Network namespace inode.
    pub netns: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// 0 or a negative errno.
    pub result: i32,
    /// Address family (`AF_INET`, `AF_INET6`).
    pub family: u16,
    /// Socket type (`SOCK_STREAM`, `SOCK_DGRAM`); `type` in C.
    pub sock_type: u16,
    /// IP protocol (6, 17).
    pub protocol: u16,
    /// Local port, host order.
    pub lport: u16,
    /// Foreign port, host order.
    pub fport: u16,
    /// Operation (`INETMON_OP_*`, [`OP_CREATE`] …).
    pub op: u8,
    /// Attribution (`INETMON_ATTR_*`).
    pub attribution: u8,
    /// Disconnect initiator, or a segment's sender (`INETMON_INIT_*`).
    pub initiator: u8,
    /// `INETMON_F_*` bits ([`F_FD`]).
    pub flags: u8,
    /// [`VERSION`].
    pub version: u8,
    /// A segment's TCP flags byte; 0 otherwise.
    pub tcp_flags: u8,
    /// Local address, network order; IPv4 in the first 4 bytes.
    pub laddr: [u8; 16],
    /// Foreign address, network order; IPv4 in the first 4 bytes.
    pub faddr: [u8; 16],
    /// Task name, NUL padded.
    pub comm: [u8; 16],
    /// The process's file descriptor of the socket, when `flags` has
    /// [`F_FD`].
    pub fd: i32,
    /// Index of the interface the socket uses (a segment: the one it was
    /// seen on), in the socket's network namespace; 0 when none is known.
    pub ifindex: u32,
    /// A segment's sequence and acknowledgement numbers, network order.
    pub seq_ack: [u8; 8],
}

/// Size of [`SockRec`] in bytes.
pub const SIZE: usize = size_of::<SockRec>();

const _: () = {
    assert!(SIZE == 128);
    assert!(offset_of!(SockRec, netns) == 24);
    assert!(offset_of!(SockRec, result) == 44);
    assert!(offset_of!(SockRec, family) == 48);
    assert!(offset_of!(SockRec, op) == 58);
    assert!(offset_of!(SockRec, version) == 62);
    assert!(offset_of!(SockRec, laddr) == 64);
    assert!(offset_of!(SockRec, faddr) == 80);
    assert!(offset_of!(SockRec, comm) == 96);
    assert!(offset_of!(SockRec, fd) == 112);
    assert!(offset_of!(SockRec, ifindex) == 116);
    assert!(offset_of!(SockRec, seq_ack) == 120);
};

impl SockRec {
    /// The record's bytes, as the kernel would put them on the ring buffer
    /// (native byte order): what tests and fuzz seeds feed the decoder.
    #[must_use]
    pub fn to_bytes(self) -> Vec<u8> {
        let mut v = Vec::with_capacity(SIZE);
        for x in [self.ts_ns, self.cookie, self.cgroup_id] {
            v.extend_from_slice(&x.to_ne_bytes());
        }
        for x in [self.netns, self.pid, self.tid, self.uid, self.gid] {
            v.extend_from_slice(&x.to_ne_bytes());
        }
        v.extend_from_slice(&self.result.to_ne_bytes());
        for x in [
            self.family,
            self.sock_type,
            self.protocol,
            self.lport,
            self.fport,
        ] {
            v.extend_from_slice(&x.to_ne_bytes());
        }
        v.extend_from_slice(&[
            self.op,
            self.attribution,
            self.initiator,
            self.flags,
            self.version,
            self.tcp_flags,
        ]);
        for x in [self.laddr, self.faddr, self.comm] {
            v.extend_from_slice(&x);
        }
        v.extend_from_slice(&self.fd.to_ne_bytes());
        v.extend_from_slice(&self.ifindex.to_ne_bytes());
        v.extend_from_slice(&self.seq_ack);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field lands at its offset in [`SockRec::to_bytes`].
    #[test]
    fn to_bytes_follows_the_layout() {
        let r = SockRec {
            pid: 0x0102_0304,
            op: 7,
            version: VERSION,
            comm: [b'x'; 16],
            fd: 7,
            seq_ack: [9; 8],
            ..SockRec::default()
        };
        let b = r.to_bytes();
        assert_eq!(b.len(), SIZE);
        let pid = offset_of!(SockRec, pid);
        assert_eq!(b[pid..pid + 4], 0x0102_0304u32.to_ne_bytes());
        assert_eq!(b[offset_of!(SockRec, op)], 7);
        assert_eq!(b[offset_of!(SockRec, version)], VERSION);
        let comm = offset_of!(SockRec, comm);
        assert_eq!(b[comm..comm + 16], [b'x'; 16]);
        let fd = offset_of!(SockRec, fd);
        assert_eq!(b[fd..fd + 4], 7i32.to_ne_bytes());
        assert_eq!(b[offset_of!(SockRec, seq_ack)..], [9; 8]);
    }
}
