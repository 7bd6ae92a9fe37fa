//! The records of the datapath programs (`datapath.bpf.c`): `#[repr(C)]`
//! mirrors of `bpf/datapath.h`, and its constants. Host byte order.
//!
//! A ring-buffer record is the header of its type ([`DpDrop`] or
//! [`DpTrace`], both starting with [`DpCommon`]) followed by `cap_len`
//! packet bytes at `hdr_len`; the reservation may be longer. `version`
//! changes when a field changes meaning; new fields are appended and
//! `hdr_len` grows, so an older reader still finds the packet.

use core::mem::{offset_of, size_of};

/// `INETMON_DP_VERSION`: the record version in [`DpCommon::version`].
pub const VERSION: u8 = 1;
/// `INETMON_DP_MAX_CAP`: the largest configurable capture length.
pub const MAX_CAP: u32 = 256;
/// `INETMON_DP_DROP`: [`DpCommon::kind`] of a drop record.
pub const TYPE_DROP: u8 = 1;
/// `INETMON_DP_TRACE`: [`DpCommon::kind`] of a trace record.
pub const TYPE_TRACE: u8 = 2;
/// `INETMON_DP_LAYER_NONE`: no packet bytes captured.
pub const LAYER_NONE: u8 = 0;
/// `INETMON_DP_LAYER_ETHERNET`: the capture starts at the MAC header.
pub const LAYER_ETHERNET: u8 = 1;
/// `INETMON_DP_LAYER_NETWORK`: the capture starts at the IP header.
pub const LAYER_NETWORK: u8 = 2;
/// `INETMON_DP_F_PROCESS`: pid/tid/comm are the task that dropped it
/// (drops) or the socket's owner (stack traces).
pub const FLAG_PROCESS: u8 = 0x01;
/// `INETMON_DP_FROM_NETWORK`: trace at tc ingress.
pub const FROM_NETWORK: u8 = 1;
/// `INETMON_DP_TO_NETWORK`: trace at tc egress.
pub const TO_NETWORK: u8 = 2;
/// `INETMON_DP_FROM_STACK`: trace at cgroup_skb egress (a local socket sent it).
pub const FROM_STACK: u8 = 3;
/// `INETMON_DP_TO_STACK`: trace at cgroup_skb ingress (delivered to a local socket).
pub const TO_STACK: u8 = 4;

/// `struct inetmon_dp_common`: the start of every record.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DpCommon {
    /// Record type ([`TYPE_DROP`], [`TYPE_TRACE`]); `type` in C.
    pub kind: u8,
    /// Record version ([`VERSION`]).
    pub version: u8,
    /// Bytes before the packet data.
    pub hdr_len: u16,
    /// CPU.
    pub cpu: u32,
    /// `bpf_ktime_get_boot_ns()`.
    pub ktime_ns: u64,
    /// Interface index.
    pub ifindex: u32,
    /// Packet length (`skb->len`, plus the MAC header when captured from it).
    pub orig_len: u32,
    /// Captured bytes after the header.
    pub cap_len: u16,
    /// Ethertype, host order.
    pub protocol: u16,
    /// `LAYER_*`.
    pub layer: u8,
    /// `FLAG_*` bits.
    pub flags: u8,
    /// Zero.
    pub reserved: u16,
    /// Network namespace inode.
    pub netns: u32,
    /// `skb->mark`.
    pub mark: u32,
}

/// `struct inetmon_dp_drop`: a packet the kernel freed with a drop reason.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DpDrop {
    /// Common header.
    pub common: DpCommon,
    /// Raw `enum skb_drop_reason` (subsystem in bits 16–31).
    pub reason: u32,
    /// Thread group id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Zero.
    pub reserved: u32,
    /// Kernel address of the drop (the tracepoint's location).
    pub location: u64,
    /// Task comm, NUL-padded.
    pub comm: [u8; 16],
}

/// `struct inetmon_dp_trace`: a packet seen by a tc classifier or a
/// cgroup_skb program.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DpTrace {
    /// Common header.
    pub common: DpCommon,
    /// Observation point ([`FROM_NETWORK`], [`TO_NETWORK`], [`FROM_STACK`],
    /// [`TO_STACK`]).
    pub point: u8,
    /// Zero.
    pub reserved: [u8; 3],
    /// 1 in N packets reported.
    pub sample_rate: u32,
    /// Stack points: the socket owner's thread group id (valid with
    /// [`FLAG_PROCESS`]).
    pub pid: u32,
    /// Stack points: the owner's thread id.
    pub tid: u32,
    /// Stack points: the socket's cookie (0: no socket).
    pub sock_cookie: u64,
    /// Stack points: the owner's comm, NUL-padded.
    pub comm: [u8; 16],
}

/// `struct inetmon_dp_drop_key`: the key of the summary-mode
/// `drop_counts` map (its value is a per-CPU `u64` count).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DpDropKey {
    /// Raw `enum skb_drop_reason`.
    pub reason: u32,
    /// Interface index (0: no device).
    pub ifindex: u32,
    /// Kernel address of the drop.
    pub location: u64,
}

const _: () = {
    assert!(size_of::<DpCommon>() == 40);
    assert!(size_of::<DpDrop>() == 80);
    assert!(size_of::<DpTrace>() == 80);
    assert!(size_of::<DpDropKey>() == 16);
    assert!(offset_of!(DpCommon, ktime_ns) == 8);
    assert!(offset_of!(DpCommon, cap_len) == 24);
    assert!(offset_of!(DpCommon, netns) == 32);
    assert!(offset_of!(DpDrop, reason) == 40);
    assert!(offset_of!(DpDrop, location) == 56);
    assert!(offset_of!(DpDrop, comm) == 64);
    assert!(offset_of!(DpTrace, point) == 40);
    assert!(offset_of!(DpTrace, sample_rate) == 44);
    assert!(offset_of!(DpTrace, pid) == 48);
    assert!(offset_of!(DpTrace, sock_cookie) == 56);
    assert!(offset_of!(DpTrace, comm) == 64);
    assert!(offset_of!(DpDropKey, location) == 8);
};

impl DpCommon {
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.kind, self.version]);
        out.extend_from_slice(&self.hdr_len.to_ne_bytes());
        out.extend_from_slice(&self.cpu.to_ne_bytes());
        out.extend_from_slice(&self.ktime_ns.to_ne_bytes());
        out.extend_from_slice(&self.ifindex.to_ne_bytes());
        out.extend_from_slice(&self.orig_len.to_ne_bytes());
        out.extend_from_slice(&self.cap_len.to_ne_bytes());
        out.extend_from_slice(&self.protocol.to_ne_bytes());
        out.extend_from_slice(&[self.layer, self.flags]);
        out.extend_from_slice(&self.reserved.to_ne_bytes());
        out.extend_from_slice(&self.netns.to_ne_bytes());
        out.extend_from_slice(&self.mark.to_ne_bytes());
    }
}

impl DpDrop {
    /// The record's bytes followed by `data`, as the program would put them
    /// on the ring buffer (native byte order): what tests feed the decoder.
    #[must_use]
    pub fn to_bytes(self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(size_of::<Self>() + data.len());
        self.common.put(&mut out);
        for w in [self.reason, self.pid, self.tid, self.reserved] {
            out.extend_from_slice(&w.to_ne_bytes());
        }
        out.extend_from_slice(&self.location.to_ne_bytes());
        out.extend_from_slice(&self.comm);
        out.extend_from_slice(data);
        out
    }
}

impl DpTrace {
    /// The record's bytes followed by `data` (see [`DpDrop::to_bytes`]).
    #[must_use]
    pub fn to_bytes(self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(size_of::<Self>() + data.len());
        self.common.put(&mut out);
        out.push(self.point);
        out.extend_from_slice(&self.reserved);
        out.extend_from_slice(&self.sample_rate.to_ne_bytes());
        out.extend_from_slice(&self.pid.to_ne_bytes());
        out.extend_from_slice(&self.tid.to_ne_bytes());
        out.extend_from_slice(&self.sock_cookie.to_ne_bytes());
        out.extend_from_slice(&self.comm);
        out.extend_from_slice(data);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoders put every header at its `offset_of!`.
    #[test]
    fn to_bytes_follows_the_layout() {
        let common = DpCommon {
            kind: TYPE_DROP,
            netns: 0x0a0b_0c0d,
            mark: 9,
            ..DpCommon::default()
        };
        let d = DpDrop {
            common,
            location: 0x1122_3344_5566_7788,
            ..DpDrop::default()
        };
        let b = d.to_bytes(&[0xee]);
        assert_eq!(b.len(), size_of::<DpDrop>() + 1);
        let at = offset_of!(DpCommon, netns);
        assert_eq!(b[at..at + 4], 0x0a0b_0c0du32.to_ne_bytes());
        let at = offset_of!(DpDrop, location);
        assert_eq!(b[at..at + 8], 0x1122_3344_5566_7788u64.to_ne_bytes());
        let t = DpTrace {
            common,
            sample_rate: 10,
            ..DpTrace::default()
        };
        let b = t.to_bytes(&[]);
        assert_eq!(b.len(), size_of::<DpTrace>());
        let at = offset_of!(DpTrace, sample_rate);
        assert_eq!(b[at..at + 4], 10u32.to_ne_bytes());
    }
}
