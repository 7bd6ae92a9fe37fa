//! ICMP and ICMPv6 type/code names as IP Filter 5.1 `ipmon` prints them
//! (`icmpname()`/`icmpname6()`), with their lookup quirks.
//!
//! The C tables are searched first by index (entry `i` is used if its value
//! is `i`) and then linearly by value, and a code above the value of the
//! table's last entry is never looked up. The tables contain duplicates and
//! mislabelled entries, so:
//! - ICMP `unreach` codes 8 and 10 print numerically (the names "isolated"
//!   and "host_prohib" sit under the values 0 and 9);
//! - ICMPv6 130 (`groupmemberquery`) uses the node-information subject
//!   table, so code 0 prints `groupmemberquery/ipv6`;
//! - ICMPv6 139/140 print `whoareyourequest`/`whoareyoureply` (first match)
//!   and their codes numerically;
//! - ICMPv6 type 0 has an entry without a name: `icmpv6type(0)/…`.
//!
//! Where C reads past the end of a table (index lookups with large values),
//! this port simply skips the index step; the linear search gives the same
//! answer whenever the stray read does not happen to match.

/// One entry: value and name (`None` for C's `NULL` names).
type Sub = (i32, Option<&'static str>);

const UNREACH: &[Sub] = &[
    (0, Some("net")),
    (1, Some("host")),
    (2, Some("protocol")),
    (3, Some("port")),
    (4, Some("needfrag")),
    (5, Some("srcfail")),
    (6, Some("net_unknown")),
    (7, Some("host_unknown")),
    (0, Some("isolated")),
    (9, Some("net_prohib")),
    (9, Some("host_prohib")),
    (11, Some("tosnet")),
    (12, Some("toshost")),
    (13, Some("admin_prohibit")),
];
const REDIRECT: &[Sub] = &[
    (0, Some("net")),
    (1, Some("host")),
    (2, Some("tosnet")),
    (3, Some("toshost")),
];
const TIMXCEED: &[Sub] = &[(0, Some("transit")), (1, Some("reassem"))];
const PARAMPROB: &[Sub] = &[
    (0, Some("errata_pointer")),
    (1, Some("optmissing")),
    (2, Some("length")),
];

const UNREACH6: &[Sub] = &[
    (0, Some("noroute")),
    (1, Some("admin")),
    (2, Some("neighbour")),
    (3, Some("address")),
    (4, Some("noport")),
];
const TIMXCEED6: &[Sub] = &[(0, Some("intransit")), (1, Some("reassem"))];
const PARAMPROB6: &[Sub] = &[
    (0, Some("header")),
    (1, Some("nextheader")),
    (2, Some("option")),
];
const QUERYSUBJECT6: &[Sub] = &[(0, Some("ipv6")), (1, Some("fqdn")), (2, Some("ipv4"))];
const NODEINFO6: &[Sub] = &[
    (0, Some("success")),
    (1, Some("refused")),
    (2, Some("unknown")),
];
const RENUMBER6: &[Sub] = &[
    (0, Some("command")),
    (1, Some("result")),
    (255, Some("seqnum_reset")),
];

/// A type entry: value, sub-table, name.
type Type = (i32, &'static [Sub], Option<&'static str>);

const TYPES4: &[Type] = &[
    (0, &[], Some("echoreply")),
    (-1, &[], None),
    (-1, &[], None),
    (3, UNREACH, Some("unreach")),
    (4, &[], Some("sourcequench")),
    (5, REDIRECT, Some("redirect")),
    (-1, &[], None),
    (-1, &[], None),
    (8, &[], Some("echo")),
    (9, &[], Some("routeradvert")),
    (10, &[], Some("routersolicit")),
    (11, TIMXCEED, Some("timxceed")),
    (12, PARAMPROB, Some("paramprob")),
    (13, &[], Some("timestamp")),
    (14, &[], Some("timestampreply")),
    (15, &[], Some("inforeq")),
    (16, &[], Some("inforeply")),
    (17, &[], Some("maskreq")),
    (18, &[], Some("maskreply")),
];

const TYPES6: &[Type] = &[
    (0, &[], None),
    (1, UNREACH6, Some("unreach")),
    (2, &[], Some("toobig")),
    (3, TIMXCEED6, Some("timxceed")),
    (4, PARAMPROB6, Some("paramprob")),
    (128, &[], Some("echo")),
    (129, &[], Some("echoreply")),
    (130, QUERYSUBJECT6, Some("groupmemberquery")),
    (131, &[], Some("groupmemberreport")),
    (132, &[], Some("groupmemberterm")),
    (133, &[], Some("routersolicit")),
    (134, &[], Some("routeradvert")),
    (135, &[], Some("neighborsolicit")),
    (136, &[], Some("neighboradvert")),
    (137, &[], Some("redirect")),
    (138, RENUMBER6, Some("routerrenumber")),
    (139, &[], Some("whoareyourequest")),
    (140, &[], Some("whoareyoureply")),
    (139, &[], Some("fqdnquery")),
    (140, &[], Some("fqdnreply")),
    (139, NODEINFO6, Some("nodeinforequest")),
    (140, &[], Some("nodeinforeply")),
    (200, &[], Some("mtraceresponse")),
    (201, &[], Some("mtracerequest")),
];

/// `find_icmptype`/`find_icmpsubtype`: index first, then linear search;
/// nothing above the last entry's value.
fn find<T>(table: &[T], val: i32, key: impl Fn(&T) -> i32) -> Option<&T> {
    let last = table.last()?;
    if val < 0 || val > key(last) {
        return None;
    }
    if let Some(e) = usize::try_from(val).ok().and_then(|i| table.get(i)) {
        if key(e) == val {
            return Some(e);
        }
    }
    table.iter().find(|e| key(e) == val)
}

/// Appends `name/code` for an ICMP (`v6 == false`) or ICMPv6 type and code.
pub(crate) fn write_name(out: &mut Vec<u8>, v6: bool, itype: u8, code: u8) {
    let types = if v6 { TYPES6 } else { TYPES4 };
    let it = find(types, i32::from(itype), |t| t.0);
    match it.and_then(|t| t.2) {
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => {
            out.extend_from_slice(if v6 { b"icmpv6type(" } else { b"icmptype(" });
            out.extend_from_slice(itoa::Buffer::new().format(itype).as_bytes());
            out.push(b')');
        }
    }
    out.push(b'/');
    let sub = it
        .and_then(|t| find(t.1, i32::from(code), |s| s.0))
        .and_then(|s| s.1);
    match sub {
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => out.extend_from_slice(itoa::Buffer::new().format(code).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(v6: bool, t: u8, c: u8) -> String {
        let mut out = Vec::new();
        write_name(&mut out, v6, t, c);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn icmp4_quirks() {
        assert_eq!(name(false, 3, 3), "unreach/port");
        assert_eq!(name(false, 3, 8), "unreach/8");
        assert_eq!(name(false, 3, 9), "unreach/net_prohib");
        assert_eq!(name(false, 3, 10), "unreach/10");
        assert_eq!(name(false, 3, 13), "unreach/admin_prohibit");
        assert_eq!(name(false, 3, 14), "unreach/14");
        assert_eq!(name(false, 8, 0), "echo/0");
        assert_eq!(name(false, 1, 0), "icmptype(1)/0");
        assert_eq!(name(false, 19, 5), "icmptype(19)/5");
        assert_eq!(name(false, 5, 3), "redirect/toshost");
        assert_eq!(name(false, 11, 1), "timxceed/reassem");
        assert_eq!(name(false, 12, 2), "paramprob/length");
        assert_eq!(name(false, 12, 3), "paramprob/3");
    }

    #[test]
    fn icmp6_quirks() {
        assert_eq!(name(true, 0, 0), "icmpv6type(0)/0");
        assert_eq!(name(true, 1, 4), "unreach/noport");
        assert_eq!(name(true, 5, 0), "icmpv6type(5)/0");
        assert_eq!(name(true, 130, 0), "groupmemberquery/ipv6");
        assert_eq!(name(true, 139, 0), "whoareyourequest/0");
        assert_eq!(name(true, 140, 1), "whoareyoureply/1");
        assert_eq!(name(true, 138, 255), "routerrenumber/seqnum_reset");
        assert_eq!(name(true, 138, 2), "routerrenumber/2");
        assert_eq!(name(true, 201, 0), "mtracerequest/0");
        assert_eq!(name(true, 202, 0), "icmpv6type(202)/0");
        assert_eq!(name(true, 128, 0), "echo/0");
    }
}
