//! Which trace program an interface needs: tc hands the classifier the
//! packet from the link-layer header on Ethernet devices, but from the IP
//! header on devices without one (tun, wireguard, ipip, sit, ppp, raw-IP
//! modems). The device type (`ARPHRD_*`) tells them apart; it is read with
//! the `SIOCGIFHWADDR` ioctl, which answers for the caller's network
//! namespace (unlike `/sys/class/net`, which shows the namespace sysfs was
//! mounted in).

use std::ffi::CString;
use std::io;

/// `ARPHRD_ETHER`.
pub const ARPHRD_ETHER: u16 = 1;
/// `ARPHRD_PPP`.
pub const ARPHRD_PPP: u16 = 512;
/// `ARPHRD_RAWIP` (qmi_wwan and other raw-IP modems).
pub const ARPHRD_RAWIP: u16 = 519;
/// `ARPHRD_TUNNEL` (ipip).
pub const ARPHRD_TUNNEL: u16 = 768;
/// `ARPHRD_TUNNEL6` (ip6tnl).
pub const ARPHRD_TUNNEL6: u16 = 769;
/// `ARPHRD_LOOPBACK` (`lo`, which has Ethernet header operations).
pub const ARPHRD_LOOPBACK: u16 = 772;
/// `ARPHRD_SIT`.
pub const ARPHRD_SIT: u16 = 776;
/// `ARPHRD_NONE` (tun, wireguard).
pub const ARPHRD_NONE: u16 = 0xfffe;

/// What the first captured byte of a trace is on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// An Ethernet header (`tc_ingress` / `tc_egress`).
    Ethernet,
    /// The IPv4 or IPv6 header (`tc_ingress_l3` / `tc_egress_l3`).
    Network,
}

impl LinkKind {
    /// The kind for an `ARPHRD_*` device type, or `None` for types whose
    /// layout at tc is not known to be one of the two (GRE, which may have
    /// header operations, InfiniBand, CAN, …).
    #[must_use]
    pub fn from_arphrd(t: u16) -> Option<LinkKind> {
        match t {
            ARPHRD_ETHER | ARPHRD_LOOPBACK => Some(LinkKind::Ethernet),
            ARPHRD_NONE | ARPHRD_RAWIP | ARPHRD_PPP | ARPHRD_TUNNEL | ARPHRD_TUNNEL6
            | ARPHRD_SIT => Some(LinkKind::Network),
            _ => None,
        }
    }
}

/// The `ARPHRD_*` type of interface `iface` in the caller's network
/// namespace.
///
/// # Errors
/// The ioctl's error (`ENODEV` when there is no such interface), or
/// `InvalidInput` for a name that is too long or contains NUL.
pub fn device_type(iface: &str) -> io::Result<u16> {
    let name = CString::new(iface).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let bytes = name.as_bytes_with_nul();
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if bytes.len() > req.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name longer than IFNAMSIZ",
        ));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = libc::c_char::from_ne_bytes([*s]);
    }
    // SAFETY: socket takes no pointers.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is an open socket; req is a valid ifreq the kernel fills.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut req) };
    let err = io::Error::last_os_error();
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(err);
    }
    // SAFETY: SIOCGIFHWADDR fills the ifru_hwaddr member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_hwaddr }.sa_family)
}

/// The [`LinkKind`] of `iface`.
///
/// # Errors
/// A message naming the interface when it does not exist or its device
/// type is not supported for traces.
pub fn link_kind(iface: &str) -> Result<LinkKind, String> {
    let t = device_type(iface).map_err(|e| format!("interface {iface}: {e}"))?;
    LinkKind::from_arphrd(t).ok_or_else(|| {
        format!(
            "interface {iface} has device type {t} (ARPHRD_*): traces support Ethernet \
             (1, loopback 772) and devices without a link-layer header (none 65534, \
             rawip 519, ppp 512, ipip 768, ip6tnl 769, sit 776)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_ethernet() {
        // `lo` exists in every network namespace.
        assert_eq!(device_type("lo").unwrap(), ARPHRD_LOOPBACK);
        assert_eq!(link_kind("lo").unwrap(), LinkKind::Ethernet);
    }

    #[test]
    fn missing_and_bad_names_are_errors() {
        let e = link_kind("inetmon-nope0").unwrap_err();
        assert!(e.starts_with("interface inetmon-nope0: "), "{e}");
        assert!(device_type("a-name-much-longer-than-ifnamsiz").is_err());
        assert!(device_type("a\0b").is_err());
    }

    #[test]
    fn kinds_by_type() {
        assert_eq!(
            LinkKind::from_arphrd(ARPHRD_ETHER),
            Some(LinkKind::Ethernet)
        );
        for t in [
            ARPHRD_NONE,
            ARPHRD_RAWIP,
            ARPHRD_PPP,
            ARPHRD_TUNNEL,
            ARPHRD_TUNNEL6,
            ARPHRD_SIT,
        ] {
            assert_eq!(LinkKind::from_arphrd(t), Some(LinkKind::Network), "{t}");
        }
        assert_eq!(LinkKind::from_arphrd(778), None); // ARPHRD_IPGRE
        assert_eq!(LinkKind::from_arphrd(32), None); // ARPHRD_INFINIBAND
    }
}
