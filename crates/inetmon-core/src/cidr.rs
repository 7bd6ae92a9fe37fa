//! [`Cidr`]: the one address prefix type, used by ipmon.conf (`src`/`dst`),
//! `inetmon monitor --ip` and `inetmon sockets --addr`.
//!
//! # The rule for IPv4-mapped IPv6 addresses
//!
//! An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) *is* the IPv4 address
//! `a.b.c.d`, on both sides:
//!
//! - a prefix written `::ffff:a.b.c.d/N` (N ≥ 96) is the IPv4 prefix
//!   `a.b.c.d/(N − 96)`, and `::ffff:a.b.c.d` alone is `a.b.c.d/32`; a mapped
//!   address with N < 96 is refused (the prefix would reach past the mapped
//!   range, so it would not mean an IPv4 prefix);
//! - an address tested with [`Cidr::contains`] is mapped back the same way.
//!
//! After that, an IPv4 prefix contains only IPv4 addresses and an IPv6
//! prefix only IPv6 ones. So `10.0.0.0/8` and `::ffff:10.0.0.0/104` are
//! the same prefix and both contain `10.1.2.3` and `::ffff:10.1.2.3`.

use std::net::IpAddr;
use std::str::FromStr;

/// An address prefix (`10.0.0.0/8`, `fd00::/64`, or one address). The host
/// bits are kept as written (they are ignored when matching).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

/// Why an address prefix is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CidrProblem {
    /// Not an IP address.
    #[error("{}", self.why())]
    Address,
    /// The length is not a number.
    #[error("{}", self.why())]
    Length,
    /// Longer than the address (32 or 128).
    #[error("{}", self.why())]
    TooLong,
    /// An IPv4-mapped address with a length below 96.
    #[error("{}", self.why())]
    MappedTooShort,
}

impl CidrProblem {
    /// The problem in a few words.
    #[must_use]
    pub fn why(self) -> &'static str {
        match self {
            CidrProblem::Address => "not an IP address",
            CidrProblem::Length => "the prefix length is not a number",
            CidrProblem::TooLong => "mask longer than the address",
            CidrProblem::MappedTooShort => "an IPv4-mapped prefix needs a length of at least 96",
        }
    }
}

/// A command-line prefix that does not parse: the text and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address or prefix {text:?}: {problem}")]
pub struct CidrError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub problem: CidrProblem,
}

impl Cidr {
    /// The prefix `addr/len`, following the module's rule for mapped
    /// addresses.
    ///
    /// # Errors
    /// [`CidrProblem::TooLong`] or [`CidrProblem::MappedTooShort`].
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, CidrProblem> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(CidrProblem::TooLong);
        }
        if let IpAddr::V6(v6) = addr {
            if let Some(v4) = v6.to_ipv4_mapped() {
                let len = len.checked_sub(96).ok_or(CidrProblem::MappedTooShort)?;
                return Ok(Cidr {
                    addr: IpAddr::V4(v4),
                    len,
                });
            }
        }
        Ok(Cidr { addr, len })
    }

    /// The one-address prefix of `addr`.
    #[must_use]
    pub fn host(addr: IpAddr) -> Self {
        let addr = canonical(addr);
        let len = if addr.is_ipv4() { 32 } else { 128 };
        Cidr { addr, len }
    }

    /// The network address, host bits as written (IPv4 for a mapped prefix).
    #[must_use]
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits (of the IPv4 form for a mapped prefix).
    #[must_use]
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether `a` is inside the prefix (an IPv4-mapped `a` as IPv4).
    #[must_use]
    pub fn contains(&self, a: IpAddr) -> bool {
        match (self.addr, canonical(a)) {
            (IpAddr::V4(n), IpAddr::V4(x)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(x) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(x)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(x) & mask
            }
            _ => false,
        }
    }
}

/// `a`, with an IPv4-mapped IPv6 address as its IPv4 address.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// `ADDR` or `ADDR/N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |problem| CidrError {
            text: s.to_owned(),
            problem,
        };
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| err(CidrProblem::Address))?;
        match p {
            None => Ok(Cidr::host(addr)),
            Some(p) => {
                let len = p.parse::<u8>().map_err(|_| err(CidrProblem::Length))?;
                Cidr::new(addr, len).map_err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }
    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forms() {
        let p = c("10.1.0.0/16");
        assert!(p.contains(a("10.1.2.3")) && !p.contains(a("10.2.0.1")));
        assert!(!p.contains(a("::1")));
        assert_eq!(c("10.1.2.3"), c("10.1.2.3/32"));
        assert!(c("::/0").contains(a("fd00::1")));
        assert!(c("0.0.0.0/0").contains(a("1.2.3.4")));
        let host = c("fd00::1/128");
        assert!(host.contains(a("fd00::1")) && !host.contains(a("fd00::2")));
        assert_eq!(c("fd00::1"), host);
        assert_eq!((p.addr(), p.prefix_len()), (a("10.1.0.0"), 16));
    }

    /// The one rule: a mapped address is its IPv4 address, in the prefix and
    /// in the address tested; otherwise families never mix.
    #[test]
    fn ipv4_mapped_rule() {
        assert_eq!(c("::ffff:10.1.0.0/112"), c("10.1.0.0/16"));
        assert_eq!(c("::ffff:10.1.2.3"), c("10.1.2.3/32"));
        for p in [c("10.1.0.0/16"), c("::ffff:10.1.0.0/112")] {
            assert!(p.contains(a("10.1.2.3")));
            assert!(p.contains(a("::ffff:10.1.2.3")));
            assert!(!p.contains(a("::ffff:10.2.2.3")));
        }
        // IPv6 prefixes hold no IPv4 address, mapped or not.
        assert!(!c("::/0").contains(a("10.1.2.3")));
        assert!(!c("::/0").contains(a("::ffff:10.1.2.3")));
        assert!(!c("0.0.0.0/0").contains(a("fd00::1")));
        assert_eq!(
            "::ffff:10.0.0.0/95".parse::<Cidr>().map_err(|e| e.problem),
            Err(CidrProblem::MappedTooShort)
        );
    }

    #[test]
    fn errors() {
        let p = |s: &str| s.parse::<Cidr>().map_err(|e| e.problem);
        assert_eq!(p("10.0.0.0/33"), Err(CidrProblem::TooLong));
        assert_eq!(p("fd00::/129"), Err(CidrProblem::TooLong));
        assert_eq!(p("x"), Err(CidrProblem::Address));
        assert_eq!(p("10.0.0.0/x"), Err(CidrProblem::Length));
        assert_eq!(
            "x/8".parse::<Cidr>().unwrap_err().to_string(),
            "invalid address or prefix \"x/8\": not an IP address"
        );
    }
}
