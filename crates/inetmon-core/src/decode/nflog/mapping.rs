//! From an [`NflogPacket`] to the event model's [`PacketLog`].
//!
//! # Mapping rules
//!
//! - **Interface and direction.** With only an input device the packet is
//!   `IN` on it; with only an output device, `OUT` on it. With both (a
//!   forwarded packet) the hook decides: prerouting (0), input (1) and forward
//!   (2) give `IN` on the input device; output (3) and postrouting (4) give
//!   `OUT` on the output device. With neither, the direction is unknown and
//!   the interface is `-`. Names come from the caller's ifindex lookup; when
//!   it has no name the interface prints as `if<N>` (for example `if7`).
//! - **Rule, group, action from the prefix.** A prefix of the form
//!   `[S]<act> @<group>:<rule> [token…]` (see [`parse_prefix`]) gives the
//!   action (`p` pass, `b` block, `L` log, `n` no match), the group name and
//!   rule number (`-1` means none); `S` sets the short flag; tokens `K-S`,
//!   `K-F`, `body`, `log-tag=N` and `nat-tag=S` set the matching flags and
//!   tags. Trailing spaces and NULs are ignored (nft appends a space to
//!   `log prefix "…"` strings that users often end with one). Any other prefix,
//!   an unknown token, or no prefix gives the **default**: group = the NFLOG
//!   group number as a name (`@5:-1`), no rule (`-1`), action `L`.
//! - **Keep state.** Besides the `K-S` token, a pass rule logging a packet
//!   whose `NFULA_CT_INFO` is `IP_CT_NEW` gets `K-S`: that rule is part of a
//!   `ct state new accept`, which is how nftables keeps state.
//! - **Family** from the payload's IP version: 2 for IPv4, 10 for IPv6 (Linux
//!   numbers); otherwise the `nfgenmsg` family.
//! - **Header length** is [`crate::dissect::ipf_header_len`] of the payload;
//!   the packet is the payload as copied.
//! - **Log body.** NFLOG copies whole packets up to the group's copy range, so
//!   `LOG_BODY` is set whenever the payload holds bytes past the header
//!   length (and always with the `body` token); `ipmon -b` then prints them.
//! - **Short.** `SHORT` (IP Filter's `FI_SHORT`) is set when the transport
//!   header is shorter than its minimum (TCP 20, UDP 8, ICMP/ICMPv6 4 bytes),
//!   either by the length the IP header claims or in the bytes copied.
//!   Non-first fragments are never short.
//! - **Original length.** When the IP header's total length exceeds the bytes
//!   copied, it is the original length (`NflogInfo::orig_len`).
//! - **Time.** `NFULA_TIMESTAMP` when present, else the caller's
//!   `header.time` (normally the time the datagram was read).
//! - The NFLOG metadata goes to [`NflogInfo`], the prefix as lossy UTF-8.

use crate::dissect::{proto, IpView};
use crate::event::{
    Action, Direction, Header, NflogInfo, PacketFlags, PacketLog, RuleGroup, SharedStr, Source,
    Timestamp,
};

use super::{LineAttrs, NflogPacket, NflogTimestamp, IP_CT_NEW};

/// The rule facts encoded in a log prefix (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRule {
    /// The action letter.
    pub action: Action,
    /// The rule group.
    pub group: RuleGroup,
    /// The rule number; `None` for `-1`.
    pub rule: Option<u32>,
    /// `PacketFlags` bits set by the prefix (`S`, `K-S`, `K-F`, `body`).
    pub flags: u32,
    /// `log-tag=N`, 0 when absent.
    pub log_tag: u32,
    /// `nat-tag=S`, empty when absent.
    pub nat_tag: String,
}

/// Parses a prefix of the form `[S]<act> @<group>:<rule> [token…]`.
///
/// `<act>` is one of `p b L n`; `<group>` is a non-empty name without `:`
/// (`-1` means no group); `<rule>` is a decimal number or `-1`; tokens are
/// `K-S`, `K-F`, `body`, `log-tag=N`, `nat-tag=S`. Returns `None` when the
/// prefix is anything else.
///
/// ```
/// use inetmon_core::decode::nflog::parse_prefix;
/// use inetmon_core::event::{Action, RuleGroup};
/// let r = parse_prefix("b @web:3 K-S ").unwrap();
/// assert_eq!((r.action, r.group, r.rule), (Action::Block, RuleGroup::Named("web".into()), Some(3)));
/// ```
#[must_use]
pub fn parse_prefix(prefix: &str) -> Option<PrefixRule> {
    let mut words = prefix.trim_end_matches([' ', '\0']).split(' ');
    let act = words.next()?;
    let (short, act) = match act.strip_prefix('S') {
        Some(rest) if !rest.is_empty() => (true, rest),
        _ => (false, act),
    };
    let action = match act {
        "p" => Action::Pass,
        "b" => Action::Block,
        "L" => Action::Log,
        "n" => Action::NoMatch,
        _ => return None,
    };
    let (group, rule) = words.next()?.strip_prefix('@')?.split_once(':')?;
    if group.is_empty() {
        return None;
    }
    let group = if group == "-1" {
        RuleGroup::None
    } else {
        RuleGroup::Named(group.into())
    };
    let rule = if rule == "-1" {
        None
    } else {
        Some(parse_decimal(rule)?)
    };
    let mut r = PrefixRule {
        action,
        group,
        rule,
        flags: if short { PacketFlags::SHORT } else { 0 },
        log_tag: 0,
        nat_tag: String::new(),
    };
    for w in words {
        match w {
            "K-S" => r.flags |= PacketFlags::KEEP_STATE,
            "K-F" => r.flags |= PacketFlags::KEEP_FRAG,
            "body" => r.flags |= PacketFlags::LOG_BODY,
            _ => {
                if let Some(n) = w.strip_prefix("log-tag=") {
                    r.log_tag = parse_decimal(n)?;
                } else if let Some(s) = w.strip_prefix("nat-tag=") {
                    r.nat_tag = s.to_owned();
                } else {
                    return None;
                }
            }
        }
    }
    Some(r)
}

/// `prefix` followed by the decimal digits of `n`, as `format!("{prefix}{n}")`
/// gives, without the formatting machinery (this runs once or twice per
/// packet).
fn prefixed_decimal(prefix: &str, n: u32) -> String {
    let mut b = itoa::Buffer::new();
    let digits = b.format(n);
    let mut s = String::with_capacity(prefix.len() + digits.len());
    s.push_str(prefix);
    s.push_str(digits);
    s
}

fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// How many distinct prefixes [`NameCache`] remembers.
const PREFIX_SLOTS: usize = 8;

/// Names remembered between packets by [`to_packet_log_cached`], so that the
/// interface, group and prefix of a packet that repeats the previous one's
/// share its strings instead of allocating new ones (and the prefix is not
/// parsed again).
#[derive(Debug, Clone, Default)]
pub struct NameCache {
    /// The last interface name, for either the ifindex of the `if<N>`
    /// fallback (`Some(n)`) or a name `ifname` gave (`None`).
    interface: Option<(Option<u32>, SharedStr)>,
    /// Recent raw prefix bytes, their text and what they parsed to: up to
    /// [`PREFIX_SLOTS`], replaced round-robin (rule sets log with a handful
    /// of prefixes, interleaved).
    prefixes: Vec<(Vec<u8>, SharedStr, Option<PrefixRule>)>,
    /// The slot of `prefixes` to replace next when it is full.
    next_slot: usize,
    /// The last default group (the NFLOG group number as a name).
    default_group: Option<(u16, SharedStr)>,
}

impl NameCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        NameCache::default()
    }

    /// The interface name of `ifindex` (`ifname`'s, else `if<N>`, or `-`
    /// without an index). `ifname` may give an owned `String` or a
    /// [`SharedStr`] it keeps (the live reader's, which then costs no
    /// allocation per packet).
    fn interface<N: AsRef<str> + Into<SharedStr>>(
        &mut self,
        ifindex: Option<u32>,
        ifname: &dyn Fn(u32) -> Option<N>,
    ) -> &SharedStr {
        let (key, name) = match ifindex {
            None => (None, None),
            Some(n) => match ifname(n) {
                Some(name) => (None, Some(name)),
                None => (Some(n), None),
            },
        };
        let hit = match (&self.interface, &name) {
            (Some((k, s)), Some(name)) => k.is_none() && s.as_str() == name.as_ref(),
            (Some((k, s)), None) => *k == key && (key.is_some() || s.as_str() == "-"),
            (None, _) => false,
        };
        if !hit {
            let s = match (name, key) {
                (Some(name), _) => name.into(),
                (None, Some(n)) => SharedStr::from(prefixed_decimal("if", n)),
                (None, None) => SharedStr::from("-"),
            };
            self.interface = Some((key, s));
        }
        match &self.interface {
            Some((_, s)) => s,
            None => blank(),
        }
    }

    /// The slot of `prefixes` holding `raw`, parsed and added if new.
    fn prefix(&mut self, raw: &[u8]) -> usize {
        if let Some(i) = self
            .prefixes
            .iter()
            .position(|(k, _, _)| k.as_slice() == raw)
        {
            return i;
        }
        let text = String::from_utf8_lossy(raw);
        let rule = parse_prefix(&text);
        let entry = (raw.to_vec(), SharedStr::from(text.as_ref()), rule);
        if self.prefixes.len() < PREFIX_SLOTS {
            self.prefixes.push(entry);
            self.prefixes.len() - 1
        } else {
            let i = self.next_slot % PREFIX_SLOTS;
            if let Some(slot) = self.prefixes.get_mut(i) {
                *slot = entry;
            }
            self.next_slot = (i + 1) % PREFIX_SLOTS;
            i
        }
    }
}

/// For slots that were just filled and so are never empty: a function rather
/// than a panic (the core never panics), giving a name that cannot be
/// mistaken for a real one.
#[cold]
fn blank() -> &'static SharedStr {
    static BLANK: std::sync::OnceLock<SharedStr> = std::sync::OnceLock::new();
    BLANK.get_or_init(|| SharedStr::from("?"))
}

/// The default group name (the NFLOG group number), from `slot` when it
/// holds the same group.
fn default_group(slot: &mut Option<(u16, SharedStr)>, group: u16) -> &SharedStr {
    if !matches!(slot, Some((g, _)) if *g == group) {
        *slot = Some((
            group,
            SharedStr::from(prefixed_decimal("", u32::from(group))),
        ));
    }
    match slot {
        Some((_, s)) => s,
        None => blank(),
    }
}

/// Makes `dst` the same string as `src`, leaving it alone (no reference
/// count traffic) when it already is.
fn share(dst: &mut SharedStr, src: &SharedStr) {
    if !SharedStr::ptr_eq(dst, src) {
        *dst = src.clone();
    }
}

/// Maps a decoded NFLOG packet onto a [`PacketLog`] following the rules in
/// the module docs. `header.time` is replaced by the packet's own timestamp
/// when it has one; `ifname` turns an interface index into a name (the I/O
/// crate supplies it; return `None` when unknown).
#[must_use]
pub fn to_packet_log(
    pkt: &NflogPacket<'_>,
    header: Header,
    ifname: &dyn Fn(u32) -> Option<String>,
) -> PacketLog {
    to_packet_log_cached(pkt, header, ifname, &mut NameCache::new())
}

/// [`to_packet_log`] for a stream of packets: names equal to the previous
/// packet's are shared through `cache` rather than allocated again. The
/// result is the same as [`to_packet_log`]'s.
#[must_use]
pub fn to_packet_log_cached(
    pkt: &NflogPacket<'_>,
    header: Header,
    ifname: &dyn Fn(u32) -> Option<String>,
    cache: &mut NameCache,
) -> PacketLog {
    packet_log(pkt, header, ifname, cache, Vec::new())
}

/// [`to_packet_log_cached`] into a [`PacketLog`] that is no longer needed
/// (`reuse`), in place: its box, packet buffer and the names it already
/// shares with this packet are kept, so a packet that repeats the previous
/// one's names costs no allocation and no reference-count traffic. The
/// header gets `time` (unless the packet has a timestamp), `source` and
/// sequence number 0, for the caller to number. `ifname` gives shared
/// names, so that naming a packet costs no allocation. The result equals
/// `Box::new(to_packet_log(pkt, header, ifname))` for that header.
#[must_use]
pub fn to_packet_log_reusing(
    pkt: &NflogPacket<'_>,
    time: Timestamp,
    source: &Source,
    ifname: &dyn Fn(u32) -> Option<SharedStr>,
    cache: &mut NameCache,
    reuse: Option<Box<PacketLog>>,
) -> Box<PacketLog> {
    let Some(mut p) = reuse else {
        let header = Header {
            time,
            source: source.clone(),
            seq: 0,
        };
        return Box::new(packet_log(pkt, header, ifname, cache, Vec::new()));
    };
    p.header.time = time;
    p.header.seq = 0;
    if p.header.source != *source {
        p.header.source = source.clone();
    }
    let (direction, ifindex) = direction_of(pkt);
    share(&mut p.interface, cache.interface(ifindex, ifname));
    p.direction = direction;
    p.count = 1;
    p.reason = None;
    p.log_level = None;
    p.ipf_seq = None;
    p.raw_header.clear();
    fill(&mut p, pkt, cache);
    p
}

/// The mapping, with the packet bytes copied into `buf` (cleared first).
fn packet_log<N: AsRef<str> + Into<SharedStr>>(
    pkt: &NflogPacket<'_>,
    header: Header,
    ifname: &dyn Fn(u32) -> Option<N>,
    cache: &mut NameCache,
    buf: Vec<u8>,
) -> PacketLog {
    let (direction, ifindex) = direction_of(pkt);
    let mut p = PacketLog {
        header,
        count: 1,
        interface: cache.interface(ifindex, ifname).clone(),
        direction,
        group: RuleGroup::None,
        rule: None,
        action: Action::Log,
        flags: PacketFlags(0),
        log_tag: 0,
        nat_tag: String::new(),
        reason: None,
        log_level: None,
        family: 0,
        header_len: 0,
        packet: buf,
        ipf_seq: None,
        nflog: None,
        raw_header: Vec::new(),
    };
    fill(&mut p, pkt, cache);
    p
}

/// Direction and the index of the interface to name (module docs).
fn direction_of(pkt: &NflogPacket<'_>) -> (Option<Direction>, Option<u32>) {
    direction_from(pkt.ifindex_in, pkt.ifindex_out, pkt.hook)
}

/// [`direction_of`] from the three attributes it reads.
fn direction_from(
    ifindex_in: Option<u32>,
    ifindex_out: Option<u32>,
    hook: Option<u8>,
) -> (Option<Direction>, Option<u32>) {
    match (ifindex_in, ifindex_out) {
        (Some(i), None) => (Some(Direction::In), Some(i)),
        (None, Some(o)) => (Some(Direction::Out), Some(o)),
        (Some(i), Some(o)) => match hook {
            Some(3 | 4) => (Some(Direction::Out), Some(o)),
            _ => (Some(Direction::In), Some(i)),
        },
        (None, None) => (None, None),
    }
}

/// Sets every field of `p` that the packet decides except the interface,
/// direction and the header's source and sequence number.
fn fill(p: &mut PacketLog, pkt: &NflogPacket<'_>, cache: &mut NameCache) {
    let payload = pkt.payload.unwrap_or_default();
    p.header.time = packet_time(pkt, p.header.time);
    let slot = cache.prefix(pkt.prefix.unwrap_or_default());
    let entry = cache.prefixes.get(slot);
    let flags = match entry.and_then(|(_, _, r)| r.as_ref()) {
        Some(rule) => {
            match (&mut p.group, &rule.group) {
                (RuleGroup::Named(d), RuleGroup::Named(s)) => share(d, s),
                (d, s) => *d = s.clone(),
            }
            p.rule = rule.rule;
            p.action = rule.action;
            p.log_tag = rule.log_tag;
            if p.nat_tag != rule.nat_tag {
                p.nat_tag.clone_from(&rule.nat_tag);
            }
            rule.flags
        }
        None => {
            let g = default_group(&mut cache.default_group, pkt.group);
            match &mut p.group {
                RuleGroup::Named(d) => share(d, g),
                d => *d = RuleGroup::Named(g.clone()),
            }
            p.rule = None;
            p.action = Action::Log;
            p.log_tag = 0;
            p.nat_tag.clear();
            0
        }
    };
    let facts = payload_facts(pkt, flags, p.action);
    p.flags = PacketFlags(facts.flags);
    p.family = facts.family;
    p.header_len = facts.header_len;
    p.packet.clear();
    p.packet.extend_from_slice(payload);
    let prefix = match cache.prefixes.get(slot) {
        Some((_, s, _)) => s,
        None => blank(),
    };
    match &mut p.nflog {
        Some(n) => {
            share(&mut n.prefix, prefix);
            n.group = pkt.group;
            n.hook = pkt.hook;
            n.hw_protocol = pkt.hw_protocol.unwrap_or(0);
            n.ifindex_in = pkt.ifindex_in;
            n.ifindex_out = pkt.ifindex_out;
            n.mark = pkt.mark;
            n.uid = pkt.uid;
            n.gid = pkt.gid;
            n.seq = pkt.seq;
            n.seq_global = pkt.seq_global;
            n.ct_info = pkt.ct_info;
            n.orig_len = facts.orig_len;
        }
        None => {
            p.nflog = Some(NflogInfo {
                group: pkt.group,
                prefix: prefix.clone(),
                hook: pkt.hook,
                hw_protocol: pkt.hw_protocol.unwrap_or(0),
                ifindex_in: pkt.ifindex_in,
                ifindex_out: pkt.ifindex_out,
                mark: pkt.mark,
                uid: pkt.uid,
                gid: pkt.gid,
                seq: pkt.seq,
                seq_global: pkt.seq_global,
                ct_info: pkt.ct_info,
                orig_len: facts.orig_len,
            });
        }
    }
}

/// The packet's own timestamp when it has one, else `fallback`.
fn packet_time(pkt: &NflogPacket<'_>, fallback: Timestamp) -> Timestamp {
    pkt.timestamp.map_or(fallback, micros_time)
}

/// An `NFULA_TIMESTAMP` as a [`Timestamp`].
fn micros_time(ts: NflogTimestamp) -> Timestamp {
    let secs = i64::try_from(ts.sec).unwrap_or(i64::MAX);
    let micros = i64::try_from(ts.usec).unwrap_or(i64::MAX);
    Timestamp::from_micros(secs, micros)
}

/// What the payload decides (module docs).
struct PayloadFacts {
    /// The prefix's flags with `KEEP_STATE`, `LOG_BODY` and `SHORT` added.
    flags: u32,
    family: u8,
    header_len: u16,
    orig_len: Option<u32>,
}

/// The flags, family and lengths of `pkt` whose prefix gave `flags` and
/// `action`.
fn payload_facts(pkt: &NflogPacket<'_>, mut flags: u32, action: Action) -> PayloadFacts {
    let payload = pkt.payload.unwrap_or_default();
    let ip = IpView::new(payload);
    let header_len = ip.map_or(0, |ip| ip.ipf_header_len());
    if action == Action::Pass && pkt.ct_info == Some(IP_CT_NEW) {
        flags |= PacketFlags::KEEP_STATE;
    }
    if payload.len() > usize::from(header_len) {
        flags |= PacketFlags::LOG_BODY;
    }
    let ip = ip_facts(ip, payload.len());
    if ip.short {
        flags |= PacketFlags::SHORT;
    }
    PayloadFacts {
        flags,
        family: match payload.first().map(|b| b >> 4) {
            Some(4) => 2,
            Some(6) => 10,
            _ => pkt.family,
        },
        header_len,
        orig_len: ip.orig_len,
    }
}

/// What an ipmon line prints of an NFLOG packet, mapped as
/// [`to_packet_log`] maps it but borrowed from the record and a
/// [`NameCache`] instead of built into a [`PacketLog`]: the file reader's
/// fast path renders lines from it without building events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NflogLine<'a> {
    /// [`PacketLog::header`]'s time.
    pub time: Timestamp,
    /// [`PacketLog::interface`].
    pub interface: &'a str,
    /// [`PacketLog::direction`].
    pub direction: Option<Direction>,
    /// [`PacketLog::group`]: `None` for [`RuleGroup::None`].
    pub group: Option<&'a str>,
    /// [`PacketLog::rule`].
    pub rule: Option<u32>,
    /// [`PacketLog::action`].
    pub action: Action,
    /// [`PacketLog::flags`] without [`PacketFlags::LOG_BODY`], which the
    /// line does not print (and whose header length is not computed here).
    pub flags: PacketFlags,
    /// [`PacketLog::log_tag`].
    pub log_tag: u32,
    /// [`PacketLog::nat_tag`].
    pub nat_tag: &'a str,
    /// [`PacketLog::family`].
    pub family: u8,
    /// [`PacketLog::packet`] (not copied).
    pub packet: &'a [u8],
}

impl NameCache {
    /// The [`NflogLine`] of the record `a` read from a file (interfaces
    /// named `if<N>`), whose record time is `time`. Equal, field for field,
    /// to what [`to_packet_log`] gives with an `ifname` that knows no names
    /// (but for [`NflogLine::flags`]' `LOG_BODY`).
    pub fn line<'a>(&'a mut self, a: &LineAttrs<'a>, time: Timestamp) -> NflogLine<'a> {
        let (direction, ifindex) = direction_from(a.ifindex_in, a.ifindex_out, a.hook);
        // Fill the caches first; then borrow from them. The interface as
        // `NameCache::interface` names it without `ifname`, without the
        // call through a `dyn Fn`.
        let hit = matches!(&self.interface,
            Some((k, s)) if *k == ifindex && (ifindex.is_some() || s.as_str() == "-"));
        if !hit {
            self.interface(ifindex, &|_| None::<SharedStr>);
        }
        let slot = self.prefix(a.prefix.unwrap_or_default());
        let rule = self.prefixes.get(slot).and_then(|(_, _, r)| r.as_ref());
        if rule.is_none() {
            default_group(&mut self.default_group, a.group);
        }
        let rule = self.prefixes.get(slot).and_then(|(_, _, r)| r.as_ref());
        let (group, number, action, mut flags, log_tag, nat_tag) = match rule {
            Some(r) => (
                match &r.group {
                    RuleGroup::None => None,
                    RuleGroup::Named(g) => Some(g.as_str()),
                },
                r.rule,
                r.action,
                r.flags & !PacketFlags::LOG_BODY,
                r.log_tag,
                r.nat_tag.as_str(),
            ),
            None => (
                Some(self.default_group.as_ref().map_or("?", |(_, g)| g.as_str())),
                None,
                Action::Log,
                0,
                0,
                "",
            ),
        };
        // `payload_facts` without the header length and original length.
        let payload = a.payload.unwrap_or_default();
        if action == Action::Pass && a.ct_info == Some(IP_CT_NEW) {
            flags |= PacketFlags::KEEP_STATE;
        }
        if ip_facts(IpView::new(payload), payload.len()).short {
            flags |= PacketFlags::SHORT;
        }
        let family = match payload.first().map(|b| b >> 4) {
            Some(4) => 2,
            Some(6) => 10,
            _ => a.family,
        };
        NflogLine {
            time: match a.timestamp {
                Some(ts) => micros_time(ts),
                None => time,
            },
            interface: self.interface.as_ref().map_or("?", |(_, s)| s.as_str()),
            direction,
            group,
            rule: number,
            action,
            flags: PacketFlags(flags),
            log_tag,
            nat_tag,
            family,
            packet: payload,
        }
    }
}

struct IpFacts {
    short: bool,
    orig_len: Option<u32>,
}

/// Whether the transport header is short, and the original length when the
/// IP header says the packet was longer than what was copied.
fn ip_facts(ip: Option<IpView<'_>>, copied: usize) -> IpFacts {
    let Some(ip) = ip else {
        return IpFacts {
            short: false,
            orig_len: None,
        };
    };
    let hl = ip.header_len();
    let claimed = ip.claimed_len().and_then(|c| usize::try_from(c).ok());
    let orig_len = claimed
        .filter(|&c| c > copied)
        .and_then(|c| u32::try_from(c).ok());
    let min = match ip.protocol().unwrap_or(0) {
        proto::TCP => 20,
        proto::UDP => 8,
        proto::ICMP | proto::ICMPV6 => 4,
        _ => 0,
    };
    let by_claim = claimed.is_some_and(|c| c.saturating_sub(hl) < min);
    let by_copy = copied.saturating_sub(hl) < min;
    let first_fragment = !ip.is_later_fragment().unwrap_or(false);
    IpFacts {
        short: first_fragment && min > 0 && (by_claim || by_copy),
        orig_len,
    }
}

#[cfg(test)]
mod tests {
    use super::{
        prefixed_decimal, to_packet_log, to_packet_log_cached, to_packet_log_reusing, NameCache,
    };
    use crate::decode::nflog::NflogPacket;
    use crate::event::{Header, SharedStr, Source, Timestamp};

    /// A stream of packets whose names repeat, change and come back gives
    /// the same events through the cache as without it.
    #[test]
    fn cached_mapping_is_uncached_mapping() {
        let payload = [
            0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let many: Vec<String> = (0..20).map(|i| format!("p @g{}:{i}", i % 3)).collect();
        let mut prefixes: Vec<Option<&[u8]>> = vec![
            Some(b"b @web:3 K-S "),
            Some(b"b @web:3 K-S "),
            None,
            Some(b"p @-1:-1 nat-tag=x"),
            Some(b"\xff junk"),
        ];
        // More distinct prefixes than the cache has slots.
        prefixes.extend(many.iter().map(|p| Some(p.as_bytes())));
        let mut cache = NameCache::new();
        let mut reuse_cache = NameCache::new();
        let mut spare: Option<Box<crate::event::PacketLog>> = None;
        let names = |i: u32| (i == 9).then(|| "eth9".to_owned());
        let shared_names = |i: u32| names(i).map(SharedStr::from);
        for round in 0..3u16 {
            for (i, prefix) in prefixes.iter().enumerate() {
                let i = u32::try_from(i).unwrap();
                let pkt = NflogPacket {
                    family: 2,
                    group: round % 2,
                    ifindex_in: (i % 2 == 0).then_some(i + 7),
                    ifindex_out: (i == 3).then_some(9),
                    payload: Some(&payload),
                    prefix: *prefix,
                    ..NflogPacket::default()
                };
                let header = Header {
                    time: Timestamp::default(),
                    source: Source::Pcap("f".into()),
                    seq: 1,
                };
                let want = to_packet_log(&pkt, header.clone(), &names);
                assert_eq!(
                    to_packet_log_cached(&pkt, header.clone(), &names, &mut cache),
                    want
                );
                let mut got = to_packet_log_reusing(
                    &pkt,
                    header.time,
                    &header.source,
                    &shared_names,
                    &mut reuse_cache,
                    spare.take(),
                );
                got.header.seq = 1;
                assert_eq!(*got, want);
                spare = Some(got);
            }
        }
    }

    #[test]
    fn prefixed_decimal_is_format() {
        for n in [0, 1, 9, 10, 99, 100, 65_535, 1 << 20, u32::MAX] {
            assert_eq!(prefixed_decimal("if", n), format!("if{n}"));
            assert_eq!(prefixed_decimal("", n), n.to_string());
        }
    }
}
