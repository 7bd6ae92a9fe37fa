//! Names of ICMP, ICMPv6, IGMP and VRRP message types, in the style of the
//! Cilium monitor's connection summaries (`EchoRequest`,
//! `DestinationUnreachable(Host)`, `IGMPv2 Membership Report`).

/// `Type(Code)` for types with named codes, `Type` for the others,
/// `Type(Code: N)` for an unnamed code, and `T(C)` for an unknown type.
pub(crate) fn icmp_type_code(v6: bool, t: u8, c: u8) -> String {
    let (name, codes): (Option<&str>, &[&str]) = if v6 { icmp6(t) } else { icmp4(t) };
    match name {
        None => format!("{t}({c})"),
        Some(n) if codes.is_empty() => n.to_owned(),
        Some(n) => match codes.get(usize::from(c)) {
            Some(cn) => format!("{n}({cn})"),
            None => format!("{n}(Code: {c})"),
        },
    }
}

fn icmp4(t: u8) -> (Option<&'static str>, &'static [&'static str]) {
    match t {
        0 => (Some("EchoReply"), &[]),
        3 => (
            Some("DestinationUnreachable"),
            &[
                "Net",
                "Host",
                "Protocol",
                "Port",
                "FragmentationNeeded",
                "SourceRoutingFailed",
                "NetUnknown",
                "HostUnknown",
                "SourceIsolated",
                "NetAdminProhibited",
                "HostAdminProhibited",
                "NetTOS",
                "HostTOS",
                "CommAdminProhibited",
                "HostPrecedence",
                "PrecedenceCutoff",
            ],
        ),
        4 => (Some("SourceQuench"), &[]),
        5 => (Some("Redirect"), &["Net", "Host", "TOS+Net", "TOS+Host"]),
        8 => (Some("EchoRequest"), &[]),
        9 => (Some("RouterAdvertisement"), &[]),
        10 => (Some("RouterSolicitation"), &[]),
        11 => (
            Some("TimeExceeded"),
            &["TTLExceeded", "FragmentReassemblyTimeExceeded"],
        ),
        12 => (
            Some("ParameterProblem"),
            &["PointerIndicatesError", "MissingOption", "BadLength"],
        ),
        13 => (Some("TimestampRequest"), &[]),
        14 => (Some("TimestampReply"), &[]),
        15 => (Some("InfoRequest"), &[]),
        16 => (Some("InfoReply"), &[]),
        17 => (Some("AddressMaskRequest"), &[]),
        18 => (Some("AddressMaskReply"), &[]),
        _ => (None, &[]),
    }
}

fn icmp6(t: u8) -> (Option<&'static str>, &'static [&'static str]) {
    match t {
        1 => (
            Some("DestinationUnreachable"),
            &[
                "NoRouteToDst",
                "AdminProhibited",
                "BeyondScopeOfSrc",
                "AddressUnreachable",
                "PortUnreachable",
                "SrcAddressFailedPolicy",
                "RejectRouteToDst",
            ],
        ),
        2 => (Some("PacketTooBig"), &[]),
        3 => (
            Some("TimeExceeded"),
            &["HopLimitExceeded", "FragmentReassemblyTimeExceeded"],
        ),
        4 => (
            Some("ParameterProblem"),
            &[
                "ErroneousHeaderField",
                "UnrecognizedNextHeader",
                "UnrecognizedIPv6Option",
            ],
        ),
        128 => (Some("EchoRequest"), &[]),
        129 => (Some("EchoReply"), &[]),
        130 => (Some("MLDv1MulticastListenerQuery"), &[]),
        131 => (Some("MLDv1MulticastListenerReport"), &[]),
        132 => (Some("MLDv1MulticastListenerDone"), &[]),
        133 => (Some("RouterSolicitation"), &[]),
        134 => (Some("RouterAdvertisement"), &[]),
        135 => (Some("NeighborSolicitation"), &[]),
        136 => (Some("NeighborAdvertisement"), &[]),
        137 => (Some("Redirect"), &[]),
        143 => (Some("MLDv2MulticastListenerReport"), &[]),
        _ => (None, &[]),
    }
}

/// IGMP message type name.
pub(crate) fn igmp_type(t: u8) -> String {
    match t {
        0x11 => "IGMP Membership Query".into(),
        0x12 => "IGMPv1 Membership Report".into(),
        0x16 => "IGMPv2 Membership Report".into(),
        0x17 => "IGMPv2 Leave Group".into(),
        0x22 => "IGMPv3 Membership Report".into(),
        other => format!("IGMP type {other:#04x}"),
    }
}

/// Whether an IGMP message of this type carries a group address in its
/// fixed header.
pub(crate) fn igmp_has_group(t: u8) -> bool {
    t != 0x22
}

/// VRRP message type name.
pub(crate) fn vrrp_type(version: u8, t: u8) -> String {
    match t {
        1 => format!("VRRPv{version} Advertisement"),
        other => format!("VRRPv{version} Type {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_names() {
        assert_eq!(icmp_type_code(false, 3, 1), "DestinationUnreachable(Host)");
        assert_eq!(icmp_type_code(false, 8, 0), "EchoRequest");
        assert_eq!(
            icmp_type_code(false, 3, 99),
            "DestinationUnreachable(Code: 99)"
        );
        assert_eq!(icmp_type_code(false, 99, 2), "99(2)");
        assert_eq!(icmp_type_code(true, 128, 0), "EchoRequest");
        assert_eq!(
            icmp_type_code(true, 1, 4),
            "DestinationUnreachable(PortUnreachable)"
        );
        assert_eq!(igmp_type(0x16), "IGMPv2 Membership Report");
        assert_eq!(vrrp_type(2, 1), "VRRPv2 Advertisement");
    }
}
