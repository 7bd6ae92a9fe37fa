//! Offsets and sizes of the IP Filter 5.1 LP64 structs (reference §4.2) and
//! the mapping of their flag bits onto the event model.
//!
//! Do not change these: they are the on-disk format of `ipmon -B` files and
//! of `/dev/ipl` reads.

use crate::dissect::proto;
use crate::event::{Action, PacketFlags};

/// `IPL_MAGIC` ("IPLM"): an `ipf` packet record.
pub const IPL_MAGIC: u32 = 0x4950_4c4d;
/// `IPL_MAGIC_NAT` ("IPLN"): a NAT record.
pub const IPL_MAGIC_NAT: u32 = 0x4950_4c4e;
/// `IPL_MAGIC_STATE` ("IPLS"): a state record.
pub const IPL_MAGIC_STATE: u32 = 0x4950_4c53;

/// `sizeof(iplog_t)`.
pub const IPLOG_SIZE: usize = 48;
/// `sizeof(ipflog_t)` (with `fl_unit`, as on FreeBSD and Linux).
pub const IPFLOG_SIZE: usize = 80;
/// `sizeof(natlog_t)`.
pub const NATLOG_SIZE: usize = 160;
/// `sizeof(ipslog_t)`.
pub const IPSLOG_SIZE: usize = 136;
/// The largest record accepted: headers plus the largest `fl_hlen`
/// (255) and `fl_plen` (65535).
pub const MAX_RECORD: usize = IPLOG_SIZE + IPFLOG_SIZE + 255 + 65535;

// iplog_t
pub(crate) const IPL_MAGIC_OFF: usize = 0;
pub(crate) const IPL_COUNT_OFF: usize = 4;
pub(crate) const IPL_SEQNUM_OFF: usize = 8;
pub(crate) const IPL_SEC_OFF: usize = 16;
pub(crate) const IPL_USEC_OFF: usize = 24;
pub(crate) const IPL_DSIZE_OFF: usize = 32;

// ipflog_t, relative to its start
pub(crate) const FL_RULE: usize = 4;
pub(crate) const FL_FLAGS: usize = 8;
pub(crate) const FL_LFLAGS: usize = 12;
pub(crate) const FL_LOGTAG: usize = 16;
pub(crate) const FL_NATTAG: usize = 20;
pub(crate) const IPFTAG_SIZE: usize = 20;
pub(crate) const FL_PLEN: usize = 40;
pub(crate) const FL_LOGLEVEL: usize = 42;
pub(crate) const FL_GROUP: usize = 44;
pub(crate) const FR_GROUPLEN: usize = 16;
pub(crate) const FL_HLEN: usize = 60;
pub(crate) const FL_DIR: usize = 61;
pub(crate) const FL_BREASON: usize = 62;
pub(crate) const FL_FAMILY: usize = 63;
pub(crate) const FL_IFNAME: usize = 64;
pub(crate) const LIFNAMSIZ: usize = 16;

// natlog_t
pub(crate) const NL_OSRCIP: usize = 0;
pub(crate) const NL_ODSTIP: usize = 16;
pub(crate) const NL_NSRCIP: usize = 32;
pub(crate) const NL_NDSTIP: usize = 48;
pub(crate) const NL_OSRCPORT: usize = 64;
pub(crate) const NL_ODSTPORT: usize = 66;
pub(crate) const NL_NSRCPORT: usize = 68;
pub(crate) const NL_NDSTPORT: usize = 70;
pub(crate) const NL_ACTION: usize = 72;
pub(crate) const NL_TYPE: usize = 76;
pub(crate) const NL_RULE: usize = 80;
pub(crate) const NL_PKTS: usize = 88;
pub(crate) const NL_BYTES: usize = 104;
pub(crate) const NL_P: usize = 120;
pub(crate) const NL_V: usize = 122;

// ipslog_t
pub(crate) const ISL_PKTS: usize = 0;
pub(crate) const ISL_BYTES: usize = 32;
pub(crate) const ISL_SRC: usize = 64;
pub(crate) const ISL_DST: usize = 80;
pub(crate) const ISL_TAG: usize = 96;
pub(crate) const ISL_TYPE: usize = 100;
pub(crate) const ISL_PS: usize = 102;
pub(crate) const ISL_V: usize = 106;
pub(crate) const ISL_P: usize = 107;
pub(crate) const ISL_STATE: usize = 109;

// fl_flags (FR_*) and fl_lflags (FI_*) bits
pub(crate) const FR_BLOCK: u32 = 0x1;
pub(crate) const FR_PASS: u32 = 0x2;
pub(crate) const FR_LOG: u32 = 0x10;
pub(crate) const FR_LOGMASK: u32 = 0x1f;
pub(crate) const FR_KEEPFRAG: u32 = 0x200;
pub(crate) const FR_KEEPSTATE: u32 = 0x400;
pub(crate) const FR_LOGBODY: u32 = 0x1_0000;
pub(crate) const FF_LOGNOMATCH: u32 = 0x4000_0000;

/// `(FI_* bit, PacketFlags bit)` pairs.
pub(crate) const LFLAGS: [(u32, u32); 10] = [
    (0x0008, PacketFlags::SHORT),
    (0x8000, PacketFlags::LOW_TTL),
    (0x0800, PacketFlags::OOW),
    (0x0400, PacketFlags::BAD),
    (0x0010, PacketFlags::NATED),
    (0x0200, PacketFlags::BAD_NAT),
    (0x4000, PacketFlags::BAD_SRC),
    (0x0020, PacketFlags::MULTICAST),
    (0x0040, PacketFlags::BROADCAST),
    (0x0080, PacketFlags::MBCAST),
];

/// `(FR_* bit, PacketFlags bit)` pairs.
pub(crate) const RFLAGS: [(u32, u32); 3] = [
    (FR_KEEPSTATE, PacketFlags::KEEP_STATE),
    (FR_KEEPFRAG, PacketFlags::KEEP_FRAG),
    (FR_LOGBODY, PacketFlags::LOG_BODY),
];

/// The action by ipmon's precedence (reference §1.4): pass, block, log
/// only, no match, anything else. `P`/`B` cannot occur in 5.1.
pub(crate) fn action_from_flags(fl: u32) -> Action {
    if fl & 0xf == FR_PASS {
        Action::Pass
    } else if fl & 0xf == FR_BLOCK {
        Action::Block
    } else if fl & FR_LOGMASK == FR_LOG {
        Action::Log
    } else if fl & FF_LOGNOMATCH != 0 {
        Action::NoMatch
    } else {
        Action::Unknown
    }
}

/// `fl_flags` bits that give `action` back through [`action_from_flags`].
pub(crate) fn flags_for_action(a: Action) -> u32 {
    match a {
        Action::Pass => FR_PASS | FR_LOG,
        Action::Block => FR_BLOCK | FR_LOG,
        Action::Log => FR_LOG,
        Action::NoMatch => FF_LOGNOMATCH,
        Action::Unknown => 0,
    }
}

/// The event flags of raw `fl_flags`/`fl_lflags`.
pub(crate) fn flags_from_raw(fl: u32, lfl: u32) -> PacketFlags {
    let mut out = 0;
    for (raw, ours) in RFLAGS {
        if fl & raw != 0 {
            out |= ours;
        }
    }
    for (raw, ours) in LFLAGS {
        if lfl & raw != 0 {
            out |= ours;
        }
    }
    PacketFlags(out)
}

/// Raw `(fl_flags extra bits, fl_lflags)` of event flags.
pub(crate) fn raw_from_flags(f: PacketFlags) -> (u32, u32) {
    let mut fl = 0;
    let mut lfl = 0;
    for (raw, ours) in RFLAGS {
        if f.has(ours) {
            fl |= raw;
        }
    }
    for (raw, ours) in LFLAGS {
        if f.has(ours) {
            lfl |= raw;
        }
    }
    (fl, lfl)
}

/// ICMP-like protocols keep the ICMP type (host order) where ports go.
pub(crate) fn is_icmp(p: u8) -> bool {
    p == proto::ICMP || p == proto::ICMPV6
}

fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = at.checked_add(N).and_then(|end| b.get(at..end)) {
        out.copy_from_slice(src);
    }
    out
}

/// Little-endian (host order) `u16`; 0 if out of range.
pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(arr(b, at))
}
/// Little-endian (host order) `u32`; 0 if out of range.
pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(arr(b, at))
}
/// Little-endian (host order) `u64`; 0 if out of range.
pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(arr(b, at))
}
/// Little-endian (host order) `i64`; 0 if out of range.
pub(crate) fn le64i(b: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(arr(b, at))
}
/// Network-order `u16`; 0 if out of range.
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(arr(b, at))
}
