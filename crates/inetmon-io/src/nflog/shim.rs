//! Interim stand-ins for `inetmon_core::decode::nflog` (branch `decoders`,
//! not merged yet), with the same names and signatures, so that switching to
//! core is a change of one `use` line. Only what the live source needs:
//! config-message builders, a minimal packet-message walk, and a minimal
//! mapping to [`PacketLog`]. Delete this file when core's module lands.

use inetmon_core::event::{
    Action, Direction, Header, NflogInfo, PacketFlags, PacketLog, RuleGroup, Timestamp,
};

use crate::netlink::{messages, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_REQUEST};

/// NFLOG configuration messages (mirrors core's `nflog::config`).
pub(crate) mod config {
    use super::*;

    pub(crate) const F_SEQ: u16 = 0x1;
    pub(crate) const F_SEQ_GLOBAL: u16 = 0x2;
    pub(crate) const F_CONNTRACK: u16 = 0x4;
    const CMD_BIND: u8 = 1;
    const CMD_PF_BIND: u8 = 3;
    const CMD_PF_UNBIND: u8 = 4;

    fn msg(family: u8, group: u16, seq: u32, kind: u16, value: &[u8]) -> Vec<u8> {
        let attr_len = 4 + value.len();
        let len = NLMSG_HDRLEN + 4 + ((attr_len + 3) & !3);
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(&u32::try_from(len).unwrap_or(0).to_ne_bytes());
        v.extend_from_slice(&0x0401u16.to_ne_bytes()); // ULOG << 8 | CONFIG
        v.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&[family, 0]);
        v.extend_from_slice(&group.to_be_bytes());
        v.extend_from_slice(&u16::try_from(attr_len).unwrap_or(0).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(value);
        v.resize(len, 0);
        v
    }

    pub(crate) fn bind(group: u16, seq: u32) -> Vec<u8> {
        msg(0, group, seq, 1, &[CMD_BIND])
    }
    pub(crate) fn pf_bind(family: u8, seq: u32) -> Vec<u8> {
        msg(family, 0, seq, 1, &[CMD_PF_BIND])
    }
    pub(crate) fn pf_unbind(family: u8, seq: u32) -> Vec<u8> {
        msg(family, 0, seq, 1, &[CMD_PF_UNBIND])
    }
    pub(crate) fn copy_packet(group: u16, range: u32, seq: u32) -> Vec<u8> {
        let r = range.to_be_bytes();
        msg(0, group, seq, 2, &[r[0], r[1], r[2], r[3], 2, 0])
    }
    pub(crate) fn flags(group: u16, flags: u16, seq: u32) -> Vec<u8> {
        msg(0, group, seq, 6, &flags.to_be_bytes())
    }
    pub(crate) fn nlbufsiz(group: u16, bytes: u32, seq: u32) -> Vec<u8> {
        msg(0, group, seq, 3, &bytes.to_be_bytes())
    }
    pub(crate) fn qthresh(group: u16, packets: u32, seq: u32) -> Vec<u8> {
        msg(0, group, seq, 5, &packets.to_be_bytes())
    }
    pub(crate) fn timeout(group: u16, centiseconds: u32, seq: u32) -> Vec<u8> {
        msg(0, group, seq, 4, &centiseconds.to_be_bytes())
    }
}

/// A decoded NFLOG packet message (the subset of core's `NflogPacket`).
#[derive(Debug, Default)]
pub(crate) struct NflogPacket<'a> {
    pub(crate) family: u8,
    pub(crate) group: u16,
    pub(crate) hw_protocol: Option<u16>,
    pub(crate) hook: Option<u8>,
    pub(crate) timestamp: Option<(u64, u64)>,
    pub(crate) ifindex_in: Option<u32>,
    pub(crate) ifindex_out: Option<u32>,
    pub(crate) payload: Option<&'a [u8]>,
    pub(crate) prefix: Option<&'a [u8]>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) seq: Option<u32>,
    pub(crate) seq_global: Option<u32>,
    pub(crate) mark: Option<u32>,
}

/// Why a message could not be decoded.
#[derive(Debug)]
pub(crate) struct NflogError(pub(crate) String);

impl std::fmt::Display for NflogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn be32(v: &[u8]) -> Option<u32> {
    v.get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
}

fn be64(v: &[u8]) -> Option<u64> {
    v.get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
}

fn decode(payload: &[u8]) -> Result<NflogPacket<'_>, NflogError> {
    let (gen, mut rest) = payload
        .split_at_checked(4)
        .ok_or_else(|| NflogError("short nfgenmsg".into()))?;
    let mut p = NflogPacket {
        family: gen.first().copied().unwrap_or(0),
        group: gen
            .get(2..4)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]])),
        ..NflogPacket::default()
    };
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        let value = rest
            .get(4..len)
            .filter(|_| len >= 4)
            .ok_or_else(|| NflogError(format!("bad attribute length {len}")))?;
        match kind {
            1 => {
                p.hw_protocol = value.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
                p.hook = value.get(2).copied();
            }
            2 => p.mark = be32(value),
            3 => p.timestamp = be64(value).zip(value.get(8..).and_then(be64)),
            4 => p.ifindex_in = be32(value),
            5 => p.ifindex_out = be32(value),
            9 => p.payload = Some(value),
            10 => p.prefix = Some(value.split(|b| *b == 0).next().unwrap_or(value)),
            11 => p.uid = be32(value),
            12 => p.seq = be32(value),
            13 => p.seq_global = be32(value),
            14 => p.gid = be32(value),
            _ => {}
        }
        rest = rest.get((len + 3) & !3..).unwrap_or(&[]);
    }
    Ok(p)
}

/// Every NFLOG packet message in a datagram (others skipped).
pub(crate) fn packets(
    datagram: &[u8],
) -> impl Iterator<Item = Result<NflogPacket<'_>, NflogError>> {
    messages(datagram).filter_map(|m| match m {
        Err(e) => Some(Err(NflogError(e.to_string()))),
        Ok(m) if m.kind == 0x0400 => Some(decode(m.payload)),
        Ok(_) => None,
    })
}

/// A minimal mapping to [`PacketLog`] (core's does the prefix rules).
pub(crate) fn to_packet_log(
    pkt: &NflogPacket<'_>,
    mut header: Header,
    ifname: &dyn Fn(u32) -> Option<String>,
) -> PacketLog {
    if let Some((s, us)) = pkt.timestamp {
        header.time = Timestamp::from_micros(
            i64::try_from(s).unwrap_or(i64::MAX),
            i64::try_from(us).unwrap_or(0),
        );
    }
    let (direction, ifindex) = match (pkt.ifindex_in, pkt.ifindex_out) {
        (_, Some(o)) if matches!(pkt.hook, Some(3 | 4)) || pkt.ifindex_in.is_none() => {
            (Some(Direction::Out), Some(o))
        }
        (Some(i), _) => (Some(Direction::In), Some(i)),
        _ => (None, None),
    };
    let payload = pkt.payload.unwrap_or_default();
    PacketLog {
        header,
        count: 1,
        interface: ifindex.map_or_else(|| "-".into(), |n| ifname(n).unwrap_or(format!("if{n}"))),
        direction,
        group: RuleGroup::Named(pkt.group.to_string()),
        rule: None,
        action: Action::Log,
        flags: PacketFlags::default(),
        log_tag: 0,
        nat_tag: String::new(),
        reason: None,
        log_level: None,
        family: pkt.family,
        header_len: inetmon_core::dissect::ipf_header_len(payload),
        packet: payload.to_vec(),
        ipf_seq: None,
        nflog: Some(NflogInfo {
            group: pkt.group,
            prefix: String::from_utf8_lossy(pkt.prefix.unwrap_or_default()).into_owned(),
            hook: pkt.hook,
            hw_protocol: pkt.hw_protocol.unwrap_or(0),
            ifindex_in: pkt.ifindex_in,
            ifindex_out: pkt.ifindex_out,
            mark: pkt.mark,
            uid: pkt.uid,
            gid: pkt.gid,
            seq: pkt.seq,
            seq_global: pkt.seq_global,
            ct_info: None,
            orig_len: None,
        }),
        raw_header: Vec::new(),
    }
}
