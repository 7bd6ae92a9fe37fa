//! Writing events as IP Filter binary log records (`ipmon -B`), so that any
//! event — from `/dev/ipl`, NFLOG or conntrack — can be replayed with
//! `ipmon -f`. [`super::IplogDecoder`] reads the records back into equal
//! events (apart from the fields the format does not have: see
//! [`encode`]).

use std::net::IpAddr;

use super::layout::{self as l, IPFLOG_SIZE, IPLOG_SIZE, IPSLOG_SIZE, NATLOG_SIZE};
use crate::event::{
    Direction, Event, EventKind, Header, NatAction, NatLog, NatType, PacketLog, RuleGroup,
    StateLog, StateType,
};

/// Why an event cannot be written as an `iplog_t` record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Only packet, NAT and state events have an IP Filter record type.
    #[error("{kind} events have no IP Filter log record")]
    Unsupported {
        /// The kind of the event.
        kind: EventKind,
    },
}

/// Appends `event` as one record with sequence number `seqnum` and returns
/// the record's size.
///
/// Lossy where the format is narrower than the event: `fl_hlen` is capped
/// at 255 and the packet at 255 + 65535 bytes; interface and group names at
/// 16 bytes, the NAT tag at 20; times at microseconds; NFLOG metadata,
/// conntrack ids and `raw_header` are not written (the decoder fills
/// `raw_header` with the record's own header bytes); a NAT event's
/// addresses take the family of its original source. Pass the event's own
/// `ipf_seq` to reproduce an IP Filter record exactly.
///
/// # Errors
/// [`EncodeError::Unsupported`] for events other than packet, NAT and state.
pub fn encode(event: &Event, seqnum: u32, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
    let start = out.len();
    match Record::of(event)? {
        Record::Packet(p) => packet(p, seqnum, out),
        Record::Nat(n) => nat(n, seqnum, out),
        Record::State(s) => state(s, seqnum, out),
    }
    Ok(out.len() - start)
}

/// An event that has an IP Filter record type.
enum Record<'a> {
    Packet(&'a PacketLog),
    Nat(&'a NatLog),
    State(&'a StateLog),
}

impl<'a> Record<'a> {
    fn of(event: &'a Event) -> Result<Self, EncodeError> {
        match event {
            Event::Packet(p) => Ok(Record::Packet(p)),
            Event::Nat(n) => Ok(Record::Nat(n)),
            Event::State(s) => Ok(Record::State(s)),
            Event::Sock(_)
            | Event::Drop(_)
            | Event::Trace(_)
            | Event::Debug(_)
            | Event::Lost(_)
            | Event::Malformed(_) => Err(EncodeError::Unsupported { kind: event.kind() }),
        }
    }
}

/// Numbers records per unit (ipf, NAT, state) for `ipmon -B`: an event's
/// own `ipf_seq` is kept; events without one get the next number of their
/// unit, counting from 1 as the kernel does.
#[derive(Debug, Clone)]
pub struct IplogEncoder {
    next: [u32; 3],
}

impl Default for IplogEncoder {
    fn default() -> Self {
        IplogEncoder { next: [1; 3] }
    }
}

impl IplogEncoder {
    /// A numbering that starts at 1 for every unit.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `event` (see [`encode`]) and returns the record's size.
    ///
    /// # Errors
    /// [`EncodeError::Unsupported`] for events other than packet, NAT and
    /// state.
    pub fn encode(&mut self, event: &Event, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        let (unit, own, count) = match Record::of(event)? {
            Record::Packet(p) => (0, p.ipf_seq, p.count.max(1)),
            Record::Nat(n) => (1, n.ipf_seq, 1),
            Record::State(s) => (2, s.ipf_seq, 1),
        };
        let Some(next) = self.next.get_mut(unit) else {
            return Err(EncodeError::Unsupported { kind: event.kind() });
        };
        let seq = own.unwrap_or(*next);
        *next = seq.wrapping_add(count);
        encode(event, seq, out)
    }
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = out.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Writes the 48-byte `iplog_t` into `rec`.
fn iplog(rec: &mut [u8], magic: u32, count: u32, seqnum: u32, h: &Header) {
    let size = rec.len() as u64;
    put(rec, l::IPL_MAGIC_OFF, &magic.to_le_bytes());
    put(rec, l::IPL_COUNT_OFF, &count.to_le_bytes());
    put(rec, l::IPL_SEQNUM_OFF, &seqnum.to_le_bytes());
    put(rec, l::IPL_SEC_OFF, &h.time.secs.to_le_bytes());
    put(
        rec,
        l::IPL_USEC_OFF,
        &i64::from(h.time.micros()).to_le_bytes(),
    );
    put(rec, l::IPL_DSIZE_OFF, &size.to_le_bytes());
}

fn c_str(rec: &mut [u8], at: usize, len: usize, s: &str) {
    let b = s.as_bytes();
    put(rec, at, b.get(..len.min(b.len())).unwrap_or(&[]));
}

fn packet(p: &PacketLog, seqnum: u32, out: &mut Vec<u8>) {
    let hlen = p.header_len.min(255);
    let plen = p.packet.len().saturating_sub(usize::from(hlen)).min(65535);
    let pkt = p
        .packet
        .get(..(usize::from(hlen) + plen).min(p.packet.len()))
        .unwrap_or(&[]);
    let mut rec = vec![0u8; IPLOG_SIZE + IPFLOG_SIZE + pkt.len()];
    iplog(&mut rec, l::IPL_MAGIC, p.count, seqnum, &p.header);
    let f = IPLOG_SIZE;
    let rule = p.rule.map_or(u32::MAX, |r| r.wrapping_sub(1));
    put(&mut rec, f + l::FL_RULE, &rule.to_le_bytes());
    let (extra, lflags) = l::raw_from_flags(p.flags);
    let fl = l::flags_for_action(p.action) | extra;
    put(&mut rec, f + l::FL_FLAGS, &fl.to_le_bytes());
    put(&mut rec, f + l::FL_LFLAGS, &lflags.to_le_bytes());
    put(&mut rec, f + l::FL_LOGTAG, &p.log_tag.to_le_bytes());
    c_str(&mut rec, f + l::FL_NATTAG, l::IPFTAG_SIZE, &p.nat_tag);
    put(&mut rec, f + l::FL_PLEN, &(plen as u16).to_le_bytes());
    put(
        &mut rec,
        f + l::FL_LOGLEVEL,
        &p.log_level.unwrap_or(0xffff).to_le_bytes(),
    );
    match &p.group {
        RuleGroup::None => put(&mut rec, f + l::FL_GROUP, &[0xff, 0]),
        RuleGroup::Named(g) if g == "0" || g.is_empty() => {}
        RuleGroup::Named(g) => c_str(&mut rec, f + l::FL_GROUP, l::FR_GROUPLEN - 1, g),
    }
    let dir = match p.direction {
        Some(Direction::In) => 0,
        Some(Direction::Out) => 1,
        None => 0xff,
    };
    put(
        &mut rec,
        f + l::FL_HLEN,
        &[hlen as u8, dir, p.reason.unwrap_or(0), p.family],
    );
    c_str(&mut rec, f + l::FL_IFNAME, l::LIFNAMSIZ, &p.interface);
    put(&mut rec, IPLOG_SIZE + IPFLOG_SIZE, pkt);
    out.extend_from_slice(&rec);
}

fn put_addr(rec: &mut [u8], at: usize, a: &IpAddr) {
    match a {
        IpAddr::V4(v4) => put(rec, at, &v4.octets()),
        IpAddr::V6(v6) => put(rec, at, &v6.octets()),
    }
}

fn version(a: &IpAddr) -> u8 {
    if a.is_ipv4() {
        4
    } else {
        6
    }
}

fn nat(n: &NatLog, seqnum: u32, out: &mut Vec<u8>) {
    let mut rec = [0u8; IPLOG_SIZE + NATLOG_SIZE];
    iplog(&mut rec, l::IPL_MAGIC_NAT, 1, seqnum, &n.header);
    let b = IPLOG_SIZE;
    for (ip_at, port_at, ep) in [
        (l::NL_OSRCIP, l::NL_OSRCPORT, &n.orig_src),
        (l::NL_ODSTIP, l::NL_ODSTPORT, &n.orig_dst),
        (l::NL_NSRCIP, l::NL_NSRCPORT, &n.new_src),
        (l::NL_NDSTIP, l::NL_NDSTPORT, &n.new_dst),
    ] {
        put_addr(&mut rec, b + ip_at, &ep.0);
        put(&mut rec, b + port_at, &ep.1.to_be_bytes());
    }
    let action = match n.action {
        NatAction::New => 0,
        NatAction::Clone => 1,
        NatAction::Purge => 0xfffc,
        NatAction::Destroy => 0xfffd,
        NatAction::Flush => 0xfffe,
        NatAction::Expire => 0xffff,
        NatAction::Other(v) => v,
    };
    let nat_type = match n.nat_type {
        NatType::Map => 1,
        NatType::Rdr => 2,
        NatType::Bimap => 3,
        NatType::MapBlock => 4,
        NatType::Other(v) => v,
    };
    put(&mut rec, b + l::NL_ACTION, &u32::to_le_bytes(action));
    put(&mut rec, b + l::NL_TYPE, &u32::to_le_bytes(nat_type));
    put(
        &mut rec,
        b + l::NL_RULE,
        &n.rule.wrapping_sub(1).to_le_bytes(),
    );
    let pk = n.packets.unwrap_or([0; 2]);
    let by = n.bytes.unwrap_or([0; 2]);
    put(&mut rec, b + l::NL_PKTS, &pk[0].to_le_bytes());
    put(&mut rec, b + l::NL_PKTS + 8, &pk[1].to_le_bytes());
    put(&mut rec, b + l::NL_BYTES, &by[0].to_le_bytes());
    put(&mut rec, b + l::NL_BYTES + 8, &by[1].to_le_bytes());
    let v = version(&n.orig_src.0);
    put(&mut rec, b + l::NL_P, &[n.protocol, n.protocol, v, v]);
    out.extend_from_slice(&rec);
}

fn state(s: &StateLog, seqnum: u32, out: &mut Vec<u8>) {
    let mut rec = [0u8; IPLOG_SIZE + IPSLOG_SIZE];
    iplog(&mut rec, l::IPL_MAGIC_STATE, 1, seqnum, &s.header);
    let b = IPLOG_SIZE;
    for i in 0..4 {
        put(
            &mut rec,
            b + l::ISL_PKTS + 8 * i,
            &s.packets.get(i).copied().unwrap_or(0).to_le_bytes(),
        );
        put(
            &mut rec,
            b + l::ISL_BYTES + 8 * i,
            &s.bytes.get(i).copied().unwrap_or(0).to_le_bytes(),
        );
    }
    put_addr(&mut rec, b + l::ISL_SRC, &s.src);
    put_addr(&mut rec, b + l::ISL_DST, &s.dst);
    put(&mut rec, b + l::ISL_TAG, &s.tag.to_le_bytes());
    let t: u16 = match s.state_type {
        StateType::New => 0,
        StateType::Cloned => 1,
        StateType::Expire => 0xffff,
        StateType::Flush => 0xfffe,
        StateType::Intermediate => 0xfffc,
        StateType::Remove => 0xfffd,
        StateType::Killed => 0xfffb,
        StateType::Unload => 0xfff9,
        StateType::Other(v) => v as u16,
    };
    put(&mut rec, b + l::ISL_TYPE, &t.to_le_bytes());
    if l::is_icmp(s.protocol) {
        put(&mut rec, b + l::ISL_PS, &s.ports.0.to_le_bytes());
    } else {
        put(&mut rec, b + l::ISL_PS, &s.ports.0.to_be_bytes());
    }
    put(&mut rec, b + l::ISL_PS + 2, &s.ports.1.to_be_bytes());
    let v = if s.ip_version == 4 { 4 } else { 6 };
    put(&mut rec, b + l::ISL_V, &[v, s.protocol]);
    let st = s.tcp_state.unwrap_or([0; 2]);
    put(&mut rec, b + l::ISL_STATE, &st);
    out.extend_from_slice(&rec);
}
