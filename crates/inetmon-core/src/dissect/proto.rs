//! IP protocol numbers and the one protocol-name table.
//!
//! Every name inetmon prints for or accepts as an IP protocol comes from
//! [`PROTOCOLS`]: the IANA keyword (as Linux distributions spell it in
//! `/etc/protocols`, the builtin table of [`crate::names::ProtocolNames`]),
//! whether JSON output names it, and the short name `inetmon monitor`
//! prints and its `--proto` filter accepts.

/// IPv6 hop-by-hop options.
pub const HOPOPTS: u8 = 0;
/// ICMP.
pub const ICMP: u8 = 1;
/// IGMP.
pub const IGMP: u8 = 2;
/// TCP.
pub const TCP: u8 = 6;
/// UDP.
pub const UDP: u8 = 17;
/// IPv6 routing header.
pub const ROUTING: u8 = 43;
/// IPv6 fragment header.
pub const FRAGMENT: u8 = 44;
/// Authentication header.
pub const AH: u8 = 51;
/// ICMPv6.
pub const ICMPV6: u8 = 58;
/// IPv6 destination options.
pub const DSTOPTS: u8 = 60;
/// VRRP.
pub const VRRP: u8 = 112;
/// IPv6 mobility header.
pub const MOBILITY: u8 = 135;

/// One row of [`PROTOCOLS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// The IP protocol number.
    pub number: u8,
    /// The IANA keyword (`/etc/protocols` spelling).
    pub keyword: &'static str,
    /// Whether JSON output's `protocol_name` names it (the common
    /// protocols; the others print `null`, as they always have).
    pub common: bool,
    /// The name `inetmon monitor` prints and `--proto` accepts, for the
    /// protocols it dissects or commonly sees.
    pub short: Option<&'static str>,
    /// Further names `--proto` accepts.
    pub aliases: &'static [&'static str],
}

const fn row(number: u8, keyword: &'static str) -> Protocol {
    Protocol {
        number,
        keyword,
        common: false,
        short: None,
        aliases: &[],
    }
}

const fn common(number: u8, keyword: &'static str) -> Protocol {
    Protocol {
        common: true,
        ..row(number, keyword)
    }
}

const fn short(
    number: u8,
    keyword: &'static str,
    short: &'static str,
    aliases: &'static [&'static str],
) -> Protocol {
    Protocol {
        short: Some(short),
        aliases,
        ..common(number, keyword)
    }
}

/// The protocol table, by number.
pub const PROTOCOLS: &[Protocol] = &[
    common(0, "ip"),
    short(1, "icmp", "icmp", &["icmpv4"]),
    short(2, "igmp", "igmp", &[]),
    row(3, "ggp"),
    common(4, "ipencap"),
    row(5, "st"),
    short(6, "tcp", "tcp", &[]),
    row(8, "egp"),
    row(9, "igp"),
    row(12, "pup"),
    short(17, "udp", "udp", &[]),
    row(20, "hmp"),
    row(22, "xns-idp"),
    row(27, "rdp"),
    row(29, "iso-tp4"),
    row(33, "dccp"),
    row(36, "xtp"),
    row(37, "ddp"),
    row(38, "idpr-cmtp"),
    common(41, "ipv6"),
    common(43, "ipv6-route"),
    common(44, "ipv6-frag"),
    row(45, "idrp"),
    row(46, "rsvp"),
    short(47, "gre", "gre", &[]),
    short(50, "esp", "esp", &[]),
    short(51, "ah", "ah", &[]),
    row(57, "skip"),
    short(58, "ipv6-icmp", "icmpv6", &["icmp6"]),
    common(59, "ipv6-nonxt"),
    common(60, "ipv6-opts"),
    row(73, "rspf"),
    row(81, "vmtp"),
    row(88, "eigrp"),
    common(89, "ospf"),
    row(93, "ax.25"),
    row(94, "ipip"),
    row(97, "etherip"),
    row(98, "encap"),
    common(103, "pim"),
    row(108, "ipcomp"),
    short(112, "vrrp", "vrrp", &[]),
    row(115, "l2tp"),
    row(124, "isis"),
    short(132, "sctp", "sctp", &[]),
    row(133, "fc"),
    row(135, "mobility-header"),
    common(136, "udplite"),
    row(137, "mpls-in-ip"),
    row(138, "manet"),
    row(139, "hip"),
    row(140, "shim6"),
    row(141, "wesp"),
    row(142, "rohc"),
    row(143, "ethernet"),
];

/// For each protocol number, its index in [`PROTOCOLS`] plus one (0: none).
const INDEX: [u8; 256] = {
    let mut idx = [0u8; 256];
    let mut i = 0;
    while i < PROTOCOLS.len() {
        idx[PROTOCOLS[i].number as usize] = (i + 1) as u8;
        i += 1;
    }
    idx
};

/// The table row of protocol `n`.
#[must_use]
pub fn lookup(n: u8) -> Option<&'static Protocol> {
    let i = INDEX[usize::from(n)];
    PROTOCOLS.get(usize::from(i).checked_sub(1)?)
}

/// The IANA keyword JSON output gives protocol `n`, for the common ones.
#[must_use]
pub fn json_name(n: u8) -> Option<&'static str> {
    lookup(n).filter(|p| p.common).map(|p| p.keyword)
}

/// The protocol a `--proto` name means (short name, keyword or alias of
/// the protocols that have a short name; ASCII case ignored).
#[must_use]
pub fn by_short_name(name: &str) -> Option<u8> {
    PROTOCOLS
        .iter()
        .filter(|p| p.short.is_some())
        .find(|p| {
            p.short.is_some_and(|s| s.eq_ignore_ascii_case(name))
                || p.keyword.eq_ignore_ascii_case(name)
                || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
        .map(|p| p.number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_indexed() {
        for w in PROTOCOLS.windows(2) {
            assert!(w[0].number < w[1].number);
        }
        for p in PROTOCOLS {
            assert_eq!(lookup(p.number), Some(p));
        }
        assert_eq!(lookup(7), None);
        assert_eq!(json_name(58), Some("ipv6-icmp"));
        assert_eq!(json_name(3), None);
        assert_eq!(by_short_name("ICMPv6"), Some(58));
        assert_eq!(by_short_name("icmp6"), Some(58));
        assert_eq!(by_short_name("ipv6-icmp"), Some(58));
        assert_eq!(by_short_name("ospf"), None);
    }
}
