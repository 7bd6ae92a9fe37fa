//! Protocol, service and host names, and the address text forms ipmon prints.
//!
//! - [`ProtocolNames`]: protocol number → name, parsed from `/etc/protocols`
//!   text with IP Filter's rules (the *first* name for a number wins, number
//!   0 is always `ip`), or a small builtin table.
//! - [`ServiceNames`]: TCP/UDP port → service name, parsed from
//!   `/etc/services` text (the *last* entry for a port wins, as ipmon's
//!   `init_tabs` overwrites earlier ones).
//! - [`HostResolver`]: reverse lookup for `-n`; [`NumericHosts`] never
//!   resolves.
//! - [`write_ipv4`], [`write_ipv6`]: dotted quad and BIND-style `inet_ntop`
//!   text (IPv4-compatible addresses print as `::1.2.3.4`, which Rust's
//!   `Ipv6Addr` Display does not do).
//!
//! Reading the files is the I/O crate's job; everything here works on text.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Reverse lookup of host names, for `ipmon -n`.
///
/// Implementations must not block for long: the Linux side answers from a
/// cache and resolves in the background, returning `None` (print the number)
/// when the answer is not there in time.
pub trait HostResolver {
    /// The name of `addr`, if one is known.
    fn host_name(&self, addr: IpAddr) -> Option<String>;
}

/// A resolver that never knows a name: numeric output.
#[derive(Debug, Clone, Copy, Default)]
pub struct NumericHosts;

impl HostResolver for NumericHosts {
    fn host_name(&self, _addr: IpAddr) -> Option<String> {
        None
    }
}

/// Shared resolvers resolve too, so one cache can serve several formatters.
impl<T: HostResolver + ?Sized> HostResolver for std::sync::Arc<T> {
    fn host_name(&self, addr: IpAddr) -> Option<String> {
        (**self).host_name(addr)
    }
}

/// Borrowed resolvers resolve too (for `Box::new(&resolver)`).
impl<T: HostResolver + ?Sized> HostResolver for &T {
    fn host_name(&self, addr: IpAddr) -> Option<String> {
        (**self).host_name(addr)
    }
}

/// IP Filter's hard-coded test address: `254.220.186.152` always prints as
/// [`TEST_HOST_DOTS_NAME`], with or without `-n` (libipf `hostname()`).
pub const TEST_HOST_DOTS: Ipv4Addr = Ipv4Addr::new(254, 220, 186, 152);

/// The name printed for [`TEST_HOST_DOTS`].
pub const TEST_HOST_DOTS_NAME: &str = "test.host.dots";

/// Protocol number → name, as ipmon's `getlocalproto()` sees it.
#[derive(Debug, Clone)]
pub struct ProtocolNames {
    names: Vec<Option<Box<str>>>,
}

impl ProtocolNames {
    /// Parses `/etc/protocols` text: `name number [aliases…] [# comment]`.
    /// The first name seen for a number wins; numbers outside 0..=255 and
    /// malformed lines are skipped; number 0 is forced to `ip` (IP Filter 5.1
    /// `init_tabs`).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut names: Vec<Option<Box<str>>> = vec![None; 256];
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let (Some(name), Some(num)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(num) = num.parse::<u8>() else {
                continue;
            };
            if let Some(slot) = names.get_mut(usize::from(num)) {
                if slot.is_none() {
                    *slot = Some(name.into());
                }
            }
        }
        if let Some(slot) = names.get_mut(0) {
            *slot = Some("ip".into());
        }
        ProtocolNames { names }
    }

    /// The builtin table, for systems without `/etc/protocols`.
    #[must_use]
    pub fn builtin() -> Self {
        let mut names: Vec<Option<Box<str>>> = vec![None; 256];
        for p in crate::dissect::proto::PROTOCOLS {
            if let Some(slot) = names.get_mut(usize::from(p.number)) {
                *slot = Some(p.keyword.into());
            }
        }
        ProtocolNames { names }
    }

    /// The name of protocol `p`, if the table has one.
    #[must_use]
    pub fn name(&self, p: u8) -> Option<&str> {
        self.names.get(usize::from(p)).and_then(|n| n.as_deref())
    }
}

impl Default for ProtocolNames {
    fn default() -> Self {
        Self::builtin()
    }
}

/// TCP and UDP port → service name, as ipmon's `portlocalname()` sees it.
#[derive(Debug, Clone, Default)]
pub struct ServiceNames {
    tcp: HashMap<u16, Box<str>>,
    udp: HashMap<u16, Box<str>>,
}

/// A few well-known services, used when no `/etc/services` text is given.
const BUILTIN_SERVICES: &[(u16, &str)] = &[
    (20, "ftp-data"),
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (25, "smtp"),
    (53, "domain"),
    (80, "http"),
    (110, "pop3"),
    (123, "ntp"),
    (143, "imap2"),
    (443, "https"),
];

impl ServiceNames {
    /// Parses `/etc/services` text: `name port/proto [aliases…] [# comment]`.
    /// Only `tcp` and `udp` entries are kept; the last entry for a port wins.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut s = ServiceNames::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let (Some(name), Some(pp)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let table = match proto {
                "tcp" => &mut s.tcp,
                "udp" => &mut s.udp,
                _ => continue,
            };
            table.insert(port, name.into());
        }
        s
    }

    /// The builtin table (both TCP and UDP), for systems without
    /// `/etc/services`.
    #[must_use]
    pub fn builtin() -> Self {
        let mut s = ServiceNames::default();
        for &(port, name) in BUILTIN_SERVICES {
            s.tcp.insert(port, name.into());
            s.udp.insert(port, name.into());
        }
        s
    }

    /// The service name of `port` for the protocol *named* `proto`: ipmon
    /// compares the protocol's name with `"tcp"` and `"udp"`, so any other
    /// name has no services.
    #[must_use]
    pub fn name(&self, proto: &str, port: u16) -> Option<&str> {
        match proto {
            "tcp" => self.tcp.get(&port).map(|n| &**n),
            "udp" => self.udp.get(&port).map(|n| &**n),
            _ => None,
        }
    }
}

/// The decimal digits of every byte value, left-aligned, with their count
/// in the last byte: `DIGITS[7] = *b"7\0\0\x01"`, `DIGITS[255] = *b"255\x03"`.
static DIGITS: [[u8; 4]; 256] = {
    let mut t = [[0u8; 4]; 256];
    let mut v = 0;
    while v < 256 {
        let b = v as u8;
        t[v] = if b >= 100 {
            [b'0' + b / 100, b'0' + (b / 10) % 10, b'0' + b % 10, 3]
        } else if b >= 10 {
            [b'0' + b / 10, b'0' + b % 10, 0, 2]
        } else {
            [b'0' + b, 0, 0, 1]
        };
        v += 1;
    }
    t
};

/// Appends the dotted-quad text of `a` (`inet_ntoa`).
pub fn write_ipv4(out: &mut Vec<u8>, a: [u8; 4]) {
    // Built on the stack from a digit table and appended at once: one
    // capacity check and no divisions (this runs twice per packet line).
    // Each octet writes 4 bytes (digits, then a dot over the padding) and
    // advances by its length plus one.
    let mut buf = [0u8; 19];
    let mut n = 0;
    for v in a {
        let [d0, d1, d2, len] = DIGITS[usize::from(v)];
        if let Some(dst) = buf.get_mut(n..n + 4) {
            dst.copy_from_slice(&[d0, d1, d2, b'.']);
            if let Some(dot) = dst.get_mut(usize::from(len)) {
                *dot = b'.';
            }
        }
        n += usize::from(len) + 1;
    }
    push_prefix(out, &buf, n - 1);
}

/// Appends the first `len` bytes of `block`: the whole fixed-size block is
/// copied (a few register moves, no `memcpy` call for a length known only at
/// run time) and the vector is cut back to `len` of them.
pub(crate) fn push_prefix<const N: usize>(out: &mut Vec<u8>, block: &[u8; N], len: usize) {
    let keep = out.len() + len.min(N);
    out.extend_from_slice(block);
    out.truncate(keep);
}

/// Appends the text of `a` the way BIND/glibc `inet_ntop(AF_INET6)` writes
/// it: lower-case hex words without leading zeros, the longest (first on a
/// tie) run of two or more zero words as `::`, and the last 32 bits as a
/// dotted quad for IPv4-compatible (`::a.b.c.d`) and IPv4-mapped
/// (`::ffff:a.b.c.d`) addresses.
pub fn write_ipv6(out: &mut Vec<u8>, a: &Ipv6Addr) {
    let words = a.segments();
    let octets = a.octets();
    // Longest run of zero words.
    let (mut best_base, mut best_len) = (usize::MAX, 0usize);
    let (mut cur_base, mut cur_len) = (usize::MAX, 0usize);
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            if cur_base == usize::MAX {
                cur_base = i;
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if cur_base != usize::MAX {
            if best_base == usize::MAX || cur_len > best_len {
                best_base = cur_base;
                best_len = cur_len;
            }
            cur_base = usize::MAX;
        }
    }
    if cur_base != usize::MAX && (best_base == usize::MAX || cur_len > best_len) {
        best_base = cur_base;
        best_len = cur_len;
    }
    if best_base != usize::MAX && best_len < 2 {
        best_base = usize::MAX;
    }
    let in_run = |i: usize| best_base != usize::MAX && i >= best_base && i < best_base + best_len;
    for (i, w) in words.iter().enumerate() {
        if in_run(i) {
            if i == best_base {
                out.push(b':');
            }
            continue;
        }
        if i != 0 {
            out.push(b':');
        }
        if i == 6
            && best_base == 0
            && (best_len == 6 || (best_len == 5 && words.get(5) == Some(&0xffff)))
        {
            write_ipv4(out, [octets[12], octets[13], octets[14], octets[15]]);
            return;
        }
        write_hex_u16(out, *w);
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        out.push(b':');
    }
}

fn write_hex_u16(out: &mut Vec<u8>, w: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12u16, 8, 4, 0] {
        let nib = usize::from((w >> shift) & 0xf);
        if nib != 0 || started || shift == 0 {
            started = true;
            out.push(HEX[nib]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> String {
        let mut out = Vec::new();
        write_ipv6(&mut out, &s.parse().unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn inet_ntop_bind_style() {
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(v6("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(v6("::0.0.1.2"), "::102");
        assert_eq!(v6("fe80::1:0:0:0:1"), "fe80:0:0:1::1");
        assert_eq!(v6("2001:db8::"), "2001:db8::");
        assert_eq!(v6("2001:db8:0:1:0:0:1:1"), "2001:db8:0:1::1:1");
        assert_eq!(v6("1:0:2:0:3:0:4:0"), "1:0:2:0:3:0:4:0");
        assert_eq!(v6("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
        assert_eq!(
            v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
    }

    #[test]
    fn ipv4_text() {
        let mut out = Vec::new();
        write_ipv4(&mut out, [0, 9, 10, 255]);
        assert_eq!(out, b"0.9.10.255");
    }

    #[test]
    fn ipv4_text_matches_std_for_every_octet() {
        let mut out = b"x".to_vec();
        for v in 0..=255u8 {
            let a = [v, 255 - v, v / 3, 100];
            out.truncate(1);
            write_ipv4(&mut out, a);
            let want = format!("x{}", std::net::Ipv4Addr::from(a));
            assert_eq!(out, want.as_bytes());
        }
    }

    #[test]
    fn protocols_first_wins_and_zero_is_ip() {
        let p = ProtocolNames::parse(
            "# comment\nhopopt 0 HOPOPT\ntcp 6 TCP\nTCPX 6\nudp\t17\tUDP # c\nbad x\nbig 300\n",
        );
        assert_eq!(p.name(0), Some("ip"));
        assert_eq!(p.name(6), Some("tcp"));
        assert_eq!(p.name(17), Some("udp"));
        assert_eq!(p.name(1), None);
    }

    #[test]
    fn services_last_wins_tcp_udp_only() {
        let s = ServiceNames::parse(
            "smtp 25/tcp mail\nmail2 25/tcp\ndomain 53/udp\nfoo 53/sctp\nbad 99999/tcp\n",
        );
        assert_eq!(s.name("tcp", 25), Some("mail2"));
        assert_eq!(s.name("udp", 53), Some("domain"));
        assert_eq!(s.name("tcp", 53), None);
        assert_eq!(s.name("sctp", 53), None);
    }
}
