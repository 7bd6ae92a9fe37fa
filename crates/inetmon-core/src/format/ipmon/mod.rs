//! IP Filter 5.1 `ipmon` text, byte for byte.
//!
//! The specification is `reference/ipmon.md` §1–§3 (IP Filter 5.1, as
//! shipped by FreeBSD and NetBSD). [`IpmonFormatter::format`] appends the
//! text of one event to a [`Rendered`] buffer and records each line's
//! syslog priority, so one formatter serves both the plain-text output
//! (write [`Rendered::text`] as is) and syslog mode (send each
//! [`Rendered::lines`] entry as one message).
//!
//! What each event prints:
//! - [`Event::Packet`]: the `ipf` line (§1), preceded by
//!   `missed N ipf log entries: A B` when [`crate::event::PacketLog::ipf_seq`] is not the
//!   expected one, and followed by the `-X`, `-x`/`-b` hex dumps.
//! - [`Event::Nat`], [`Event::State`]: the `NAT:`/`STATE:` lines (§2), with
//!   their own `missed` counters driven by `ipf_seq`.
//! - [`Event::Lost`]: inetmon's own loss report (not in IP Filter), at
//!   `LOG_WARNING`: `missed N ipf log entries: A B` when the lost sequence
//!   range is known (the IP Filter log decoder reports a gap in a unit's
//!   sequence numbers this way, before the record after it; the formatter
//!   then expects that record, so the line is the one ipmon prints, once) (`A` the first missing, `B` one past the last; `NAT` or
//!   `state` instead of `ipf` when all lost kinds are of that type),
//!   otherwise `lost N SOURCE log entries (STAGE)`, e.g.
//!   `lost 12 nflog:0 log entries (kernel)`.
//! - [`Event::Malformed`], [`Event::Sock`]: nothing.
//!
//! Linux adaptations and deviations from the C code:
//! - The interface name is printed as it is (FreeBSD's behaviour; Linux
//!   ipmon appends the uninitialised `fl_unit`).
//! - Both 10 (Linux) and 28 (FreeBSD) are accepted as `AF_INET6`.
//! - Bytes beyond the logged packet read as zero (C reads whatever follows);
//!   the IPv6 extension-header walk stops at the end of the logged bytes.
//! - Block reasons above 18 print as their number (C reads past its table).
//! - Hex dumps end every line with `\n` (C prints stack garbage after a dump of exactly 16 bytes).
//! - In syslog mode the `missed`/`lost` lines have no `\n`, as in C; every
//!   other message keeps its `\n`.
//!
//! # Examples
//!
//! ```
//! use inetmon_core::decode::{iplog::IplogDecoder, StreamDecoder};
//! use inetmon_core::event::Source;
//! use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered};
//!
//! // One NAT record as /dev/ipnat would return it (seqnum 1, time 0).
//! let mut rec = vec![0u8; 208];
//! rec[0..4].copy_from_slice(b"NLPI");
//! rec[4] = 1; // ipl_count
//! rec[8] = 1; // ipl_seqnum
//! rec[32] = 208; // ipl_dsize
//! rec[48..52].copy_from_slice(&[10, 1, 1, 1]); // nl_osrcip
//! rec[64..68].copy_from_slice(&[192, 0, 2, 9]); // nl_odstip
//! rec[80..84].copy_from_slice(&[203, 0, 113, 5]); // nl_nsrcip
//! rec[112..114].copy_from_slice(&1025u16.to_be_bytes()); // nl_osrcport
//! rec[114..116].copy_from_slice(&25u16.to_be_bytes()); // nl_odstport
//! rec[116..118].copy_from_slice(&40000u16.to_be_bytes()); // nl_nsrcport
//! rec[124] = 1; // nl_type: MAP
//! rec[168] = 6; // nl_p[0]: tcp
//! rec[170] = 4; // nl_v[0]
//!
//! let mut dec = IplogDecoder::new(Source::Stdin);
//! dec.feed(&rec);
//! let event = dec.next_event().unwrap();
//! let mut fmt = IpmonFormatter::new(IpmonOptions::default(), jiff::tz::TimeZone::UTC);
//! let mut out = Rendered::default();
//! fmt.format(&event, &mut out);
//! assert_eq!(
//!     String::from_utf8(out.text).unwrap(),
//!     "missed 1 NAT log entries: 0 1\n\
//!      01/01/1970 00:00:00.000000 @1 NAT:NEW-MAP 10.1.1.1,1025 <- -> 203.0.113.5,40000 [192.0.2.9,25] tcp\n"
//! );
//! assert_eq!(out.lines[1].level(), 6); // LOG_INFO
//! ```

mod hexdump;
mod icmp;
mod natstate;
mod nflog_hex;
mod packet;
mod time;

use std::net::IpAddr;

/// The time-zone type the formatter takes (jiff's), re-exported so callers
/// need no direct jiff dependency: `TimeZone::system()` for ipmon's
/// `localtime()`, `TimeZone::UTC` in tests.
pub use jiff::tz::TimeZone;

use crate::event::{Event, EventKind, Lost, Source};
use crate::names::{self, HostResolver, NumericHosts, ProtocolNames, ServiceNames};

/// syslog(3) level `LOG_EMERG`.
pub const LOG_EMERG: u16 = 0;
/// syslog(3) level `LOG_ERR`.
pub const LOG_ERR: u16 = 3;
/// syslog(3) level `LOG_WARNING`.
pub const LOG_WARNING: u16 = 4;
/// syslog(3) level `LOG_NOTICE`.
pub const LOG_NOTICE: u16 = 5;
/// syslog(3) level `LOG_INFO`.
pub const LOG_INFO: u16 = 6;

/// ipmon's command-line switches that change the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpmonOptions {
    /// `-n`: resolve IPv4 addresses to host names and ports to services.
    pub resolve: bool,
    /// `-p`: keep ports numeric even with `-n`.
    pub numeric_ports: bool,
    /// `-v`: TCP sequence, acknowledgement and window.
    pub verbose: bool,
    /// `-x`: hex dump of the logged packet (header and body).
    pub hex_packet: bool,
    /// `-X`: hex dump of the raw record header (`iplog_t` + `ipflog_t`).
    pub hex_header: bool,
    /// `-b`: hex dump of the body, for rules with `log body`.
    pub hex_body: bool,
    /// `-s`: syslog mode: no date, and `missed` lines without `\n`.
    pub syslog_mode: bool,
}

/// One output line (one syslog message) inside [`Rendered::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Start offset in [`Rendered::text`].
    pub start: usize,
    /// End offset (exclusive), including the `\n` if the line has one.
    pub end: usize,
    /// The `priority` argument ipmon passes to syslog(3): the level in the
    /// low 3 bits; facility bits (`value & !7`) only when the rule's
    /// `log level` set them, otherwise 0, meaning "the default facility".
    pub priority: u16,
}

impl Line {
    /// The syslog level (0 emerg … 7 debug).
    #[must_use]
    pub fn level(&self) -> u16 {
        self.priority & 7
    }

    /// The facility code overriding the default one, when the rule set it.
    #[must_use]
    pub fn facility(&self) -> Option<u16> {
        let f = self.priority & !7;
        (f != 0).then_some(f >> 3)
    }
}

/// Text produced by the formatter, with one [`Line`] per message.
/// Reuse it (call [`Rendered::clear`]) to avoid allocating per event.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The bytes ipmon would write, lines back to back.
    pub text: Vec<u8>,
    /// Where each message is, and its syslog priority.
    pub lines: Vec<Line>,
}

impl Rendered {
    /// Empties both buffers, keeping their capacity.
    pub fn clear(&mut self) {
        self.text.clear();
        self.lines.clear();
    }

    /// Each line's bytes with its metadata.
    pub fn iter(&self) -> impl Iterator<Item = (&Line, &[u8])> {
        self.lines
            .iter()
            .map(|l| (l, self.text.get(l.start..l.end).unwrap_or(&[])))
    }

    fn begin(&self) -> usize {
        self.text.len()
    }

    fn end(&mut self, start: usize, priority: u16) {
        self.lines.push(Line {
            start,
            end: self.text.len(),
            priority,
        });
    }
}

/// The ipmon formatter: options, name tables, a resolver, the per-type
/// `missed` counters and the per-second time cache.
pub struct IpmonFormatter {
    opts: IpmonOptions,
    protocols: ProtocolNames,
    services: ServiceNames,
    resolver: Box<dyn HostResolver + Send>,
    /// Each protocol's name (or number) as [`IpmonFormatter::write_proto`]
    /// writes it, padded to a fixed block with its length, when it fits:
    /// one append without a `memcpy` call (this runs for every line).
    proto_text: Box<[([u8; 16], u8); 256]>,
    time: time::TimePrefix,
    /// Next expected sequence number for ipf, NAT and state records; ipmon
    /// starts them at 0, so the first record of a run prints `missed`.
    expected: [u32; 3],
}

impl std::fmt::Debug for IpmonFormatter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpmonFormatter")
            .field("opts", &self.opts)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

const SEQ_IPF: usize = 0;
const SEQ_NAT: usize = 1;
const SEQ_STATE: usize = 2;

impl IpmonFormatter {
    /// A formatter with the builtin name tables, no resolver and the given
    /// time zone (use [`TimeZone::system`] for ipmon's `localtime()`).
    #[must_use]
    pub fn new(opts: IpmonOptions, tz: TimeZone) -> Self {
        let protocols = ProtocolNames::builtin();
        IpmonFormatter {
            opts,
            proto_text: proto_text(&protocols),
            protocols,
            services: ServiceNames::builtin(),
            resolver: Box::new(NumericHosts),
            time: time::TimePrefix::new(tz),
            expected: [0; 3],
        }
    }

    /// Replaces the protocol and service tables (at start and on SIGHUP).
    #[must_use]
    pub fn with_tables(mut self, protocols: ProtocolNames, services: ServiceNames) -> Self {
        self.set_tables(protocols, services);
        self
    }

    /// Replaces the protocol and service tables in place.
    pub fn set_tables(&mut self, protocols: ProtocolNames, services: ServiceNames) {
        self.proto_text = proto_text(&protocols);
        self.protocols = protocols;
        self.services = services;
    }

    /// Uses `resolver` for `-n` host names.
    #[must_use]
    pub fn with_resolver(mut self, resolver: Box<dyn HostResolver + Send>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The options in use.
    #[must_use]
    pub fn options(&self) -> IpmonOptions {
        self.opts
    }

    /// Appends the text of `event` to `out` (see the module docs for what
    /// each kind prints). Never panics, whatever the event holds.
    pub fn format(&mut self, event: &Event, out: &mut Rendered) {
        match event {
            Event::Packet(p) => {
                if let Some(seq) = p.ipf_seq {
                    self.check_seq(SEQ_IPF, seq, p.count, out);
                }
                packet::format(self, p, out);
            }
            Event::Nat(n) => {
                if let Some(seq) = n.ipf_seq {
                    self.check_seq(SEQ_NAT, seq, 1, out);
                }
                natstate::format_nat(self, n, out);
            }
            Event::State(s) => {
                if let Some(seq) = s.ipf_seq {
                    self.check_seq(SEQ_STATE, seq, 1, out);
                }
                natstate::format_state(self, s, out);
            }
            Event::Lost(l) => self.format_lost(l, out),
            Event::Sock(_)
            | Event::Drop(_)
            | Event::Trace(_)
            | Event::Debug(_)
            | Event::Malformed(_) => {}
        }
    }

    /// Appends the text of an NFLOG packet read from a file, as
    /// [`IpmonFormatter::format`] of its event would, from the borrowed
    /// [`crate::decode::nflog::NflogLine`] (the file reader's fast path, which builds no
    /// event). `false`, with nothing appended, when the options need the
    /// event (the hex dumps).
    pub fn format_nflog_line(
        &mut self,
        line: &crate::decode::nflog::NflogLine<'_>,
        out: &mut Vec<u8>,
    ) -> bool {
        packet::format_nflog(self, line, out)
    }

    /// ipmon's sequence check: a `missed` line when `seq` is not the
    /// expected one, then expect `seq + count`.
    fn check_seq(&mut self, unit: usize, seq: u32, count: u32, out: &mut Rendered) {
        let Some(expected) = self.expected.get_mut(unit) else {
            return;
        };
        let want = *expected;
        *expected = seq.wrapping_add(count);
        if seq != want {
            let what: &[u8] = match unit {
                SEQ_NAT => b"NAT",
                SEQ_STATE => b"state",
                _ => b"ipf",
            };
            self.missed_line(
                out,
                u64::from(seq.wrapping_sub(want)),
                what,
                u64::from(want),
                u64::from(seq),
            );
        }
    }

    fn missed_line(&self, out: &mut Rendered, n: u64, what: &[u8], from: u64, to: u64) {
        let start = out.begin();
        let t = &mut out.text;
        t.extend_from_slice(b"missed ");
        push_u64(t, n);
        t.push(b' ');
        t.extend_from_slice(what);
        t.extend_from_slice(b" log entries: ");
        push_u64(t, from);
        t.push(b' ');
        push_u64(t, to);
        if !self.opts.syslog_mode {
            t.push(b'\n');
        }
        out.end(start, LOG_WARNING);
    }

    fn format_lost(&mut self, l: &Lost, out: &mut Rendered) {
        let what: &[u8] = if !l.kinds.is_empty() && l.kinds.iter().all(|k| *k == EventKind::Nat) {
            b"NAT"
        } else if !l.kinds.is_empty() && l.kinds.iter().all(|k| *k == EventKind::State) {
            b"state"
        } else {
            b"ipf"
        };
        if let Some((first, last)) = l.seq_range {
            // Sequence numbers are 32-bit: the one after 4294967295 is 0.
            let next = if last == u64::from(u32::MAX) {
                0
            } else {
                last.saturating_add(1)
            };
            // The IP Filter log decoder reports a gap as `Lost` before the
            // record after it: expect that record, so that the sequence
            // check does not print the same gap again.
            if matches!(l.header.source, Source::Iplog(_) | Source::Stdin) {
                let unit = match what {
                    b"NAT" => SEQ_NAT,
                    b"state" => SEQ_STATE,
                    _ => SEQ_IPF,
                };
                if let (Some(e), Ok(n)) = (self.expected.get_mut(unit), u32::try_from(next)) {
                    *e = n;
                }
            }
            self.missed_line(out, l.count, what, first, next);
            return;
        }
        let start = out.begin();
        let t = &mut out.text;
        t.extend_from_slice(b"lost ");
        push_u64(t, l.count);
        t.push(b' ');
        t.extend_from_slice(l.header.source.to_string().as_bytes());
        t.extend_from_slice(b" log entries (");
        t.extend_from_slice(l.stage.as_str().as_bytes());
        t.push(b')');
        if !self.opts.syslog_mode {
            t.push(b'\n');
        }
        out.end(start, LOG_WARNING);
    }

    /// `DD/MM/YYYY HH:MM:SS.UUUUUU ` (no date in syslog mode).
    fn write_time(&mut self, t: &mut Vec<u8>, time: crate::event::Timestamp) {
        self.time.write(t, time.secs, !self.opts.syslog_mode);
        let us = time.micros();
        if us < 1_000_000 {
            // `.UUUUUU ` in one append, three digit pairs from a table
            // (this runs for every line).
            let [a0, a1] = pair(us / 10_000);
            let [b0, b1] = pair(us / 100 % 100);
            let [c0, c1] = pair(us % 100);
            t.extend_from_slice(&[b'.', a0, a1, b0, b1, c0, c1, b' ']);
            return;
        }
        // A timestamp whose nanoseconds are out of range: all the digits.
        t.push(b'.');
        t.extend_from_slice(itoa::Buffer::new().format(us).as_bytes());
        t.push(b' ');
    }

    /// The protocol's name, or its number (`getlocalproto`).
    fn write_proto(&self, t: &mut Vec<u8>, p: u8) {
        if let Some((text, n @ 1..)) = self.proto_text.get(usize::from(p)) {
            names::push_prefix(t, text, usize::from(*n));
            return;
        }
        match self.protocols.name(p) {
            Some(n) => t.extend_from_slice(n.as_bytes()),
            None => push_u64(t, u64::from(p)),
        }
    }

    /// `portlocalname`: a number unless `-n` without `-p`, and then the
    /// service name for protocols named `tcp`/`udp`.
    fn write_port(&self, t: &mut Vec<u8>, proto: u8, port: u16) {
        if self.opts.resolve && !self.opts.numeric_ports {
            if let Some(pname) = self.protocols.name(proto) {
                if let Some(s) = self.services.name(pname, port) {
                    t.extend_from_slice(s.as_bytes());
                    return;
                }
            }
        }
        push_u64(t, u64::from(port));
    }

    /// libipf `hostname()` for IPv4: `test.host.dots` for 254.220.186.152,
    /// the resolver's name with `-n`, else the dotted quad.
    fn write_v4(&self, t: &mut Vec<u8>, a: [u8; 4]) {
        let addr = std::net::Ipv4Addr::from(a);
        if addr == names::TEST_HOST_DOTS {
            t.extend_from_slice(names::TEST_HOST_DOTS_NAME.as_bytes());
            return;
        }
        if self.opts.resolve {
            if let Some(n) = self.resolver.host_name(IpAddr::V4(addr)) {
                if !n.is_empty() {
                    t.extend_from_slice(n.as_bytes());
                    return;
                }
            }
        }
        names::write_ipv4(t, a);
    }

    /// An address of either family; IPv6 is never resolved.
    fn write_addr(&self, t: &mut Vec<u8>, a: &IpAddr) {
        match a {
            IpAddr::V4(v4) => self.write_v4(t, v4.octets()),
            IpAddr::V6(v6) => names::write_ipv6(t, v6),
        }
    }
}

/// [`IpmonFormatter::proto_text`] for `protocols`: each name (or number)
/// up to 16 bytes; length 0 for a longer name, which is written as it is.
fn proto_text(protocols: &ProtocolNames) -> Box<[([u8; 16], u8); 256]> {
    let mut table = Box::new([([0u8; 16], 0u8); 256]);
    for (p, slot) in (0..=u8::MAX).zip(table.iter_mut()) {
        let mut text = Vec::new();
        match protocols.name(p) {
            Some(n) => text.extend_from_slice(n.as_bytes()),
            None => push_u64(&mut text, u64::from(p)),
        }
        if let (Some(dst), Ok(n)) = (slot.0.get_mut(..text.len()), u8::try_from(text.len())) {
            dst.copy_from_slice(&text);
            slot.1 = n;
        }
    }
    table
}

/// `PAIRS[v]`: the two decimal digits of `v` below 100.
static PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut v = 0;
    while v < 100 {
        t[v] = [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        v += 1;
    }
    t
};

/// The two decimal digits of `v % 100`, from [`PAIRS`].
fn pair<T: Into<u64>>(v: T) -> [u8; 2] {
    let i = usize::try_from(v.into() % 100).unwrap_or(0);
    PAIRS.get(i).copied().unwrap_or(*b"00")
}

/// Two decimal digits of `v` (below 100).
fn two_digits(v: u32) -> [u8; 2] {
    [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]
}

/// Appends the decimal text of `v`. Numbers below 100000 (ports, lengths,
/// rule numbers: most of them) are appended as one fixed-size block per
/// length, without a `memcpy` call (this runs several times per line).
fn push_u64(t: &mut Vec<u8>, v: u64) {
    match u32::try_from(v) {
        Ok(v @ 0..=9) => t.push(b'0' + v as u8),
        Ok(v @ 10..=99) => t.extend_from_slice(&two_digits(v)),
        Ok(v @ 100..=9999) => {
            let [a, b] = two_digits(v / 100);
            let [c, d] = two_digits(v % 100);
            if v < 1000 {
                t.extend_from_slice(&[b, c, d]);
            } else {
                t.extend_from_slice(&[a, b, c, d]);
            }
        }
        Ok(v @ 10_000..=99_999) => {
            let [b, c] = two_digits(v / 100 % 100);
            let [d, e] = two_digits(v % 100);
            t.extend_from_slice(&[b'0' + (v / 10_000) as u8, b, c, d, e]);
        }
        _ => t.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
    }
}

/// Appends the decimal text of a signed `v`.
fn push_i64(t: &mut Vec<u8>, v: i64) {
    t.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Timestamp;

    #[test]
    fn push_u64_is_the_decimal_text() {
        let mut t = Vec::new();
        let values = (0..=200_000u64).chain([
            999_999,
            1_000_000,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ]);
        for v in values {
            t.clear();
            t.extend_from_slice(b"x");
            push_u64(&mut t, v);
            assert_eq!(t, format!("x{v}").as_bytes());
        }
    }

    #[test]
    fn time_micros_are_zero_padded_and_out_of_range_nanos_print_all_digits() {
        let mut f = IpmonFormatter::new(IpmonOptions::default(), TimeZone::UTC);
        let cases = [
            (0, "01/01/1970 00:00:00.000000 "),
            (7_000, "01/01/1970 00:00:00.000007 "),
            (10_000, "01/01/1970 00:00:00.000010 "),
            (123_456_000, "01/01/1970 00:00:00.123456 "),
            (999_000, "01/01/1970 00:00:00.000999 "),
            (999_999_999, "01/01/1970 00:00:00.999999 "),
            (u32::MAX, "01/01/1970 00:00:00.4294967 "),
        ];
        for (nanos, want) in cases {
            let mut t = Vec::new();
            f.write_time(&mut t, Timestamp { secs: 0, nanos });
            assert_eq!(String::from_utf8_lossy(&t), want);
        }
    }
}
