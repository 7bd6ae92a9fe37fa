//! The one TCP-flag table: each bit with the letter ipmon prints and the
//! name `inetmon monitor` prints.

/// FIN.
pub const FIN: u16 = 0x001;
/// SYN.
pub const SYN: u16 = 0x002;
/// RST.
pub const RST: u16 = 0x004;
/// PSH.
pub const PSH: u16 = 0x008;
/// ACK.
pub const ACK: u16 = 0x010;
/// URG.
pub const URG: u16 = 0x020;
/// ECE.
pub const ECE: u16 = 0x040;
/// CWR.
pub const CWR: u16 = 0x080;
/// NS (the bit before the eight flag bits of byte 13).
pub const NS: u16 = 0x100;

/// A TCP flag bit, its letter and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFlag {
    /// The bit in the 9-bit flag field.
    pub bit: u16,
    /// ipmon's letter (`tcpfl[]`); NS has none and prints `N` nowhere.
    pub letter: u8,
    /// The upper-case name.
    pub name: &'static str,
}

/// Every flag, in header order (FIN first).
pub const FLAGS: [TcpFlag; 9] = [
    flag(FIN, b'F', "FIN"),
    flag(SYN, b'S', "SYN"),
    flag(RST, b'R', "RST"),
    flag(PSH, b'P', "PSH"),
    flag(ACK, b'A', "ACK"),
    flag(URG, b'U', "URG"),
    flag(ECE, b'E', "ECE"),
    flag(CWR, b'C', "CWR"),
    flag(NS, b'N', "NS"),
];

const fn flag(bit: u16, letter: u8, name: &'static str) -> TcpFlag {
    TcpFlag { bit, letter, name }
}

/// The eight flags of byte 13 in ipmon's print order (`tcpfl[]`:
/// A R S F U P E C), as (bit in byte 13, letter), taken from [`FLAGS`].
pub const IPMON_ORDER: [(u8, u8); 8] = [
    ipmon(4),
    ipmon(2),
    ipmon(1),
    ipmon(0),
    ipmon(5),
    ipmon(3),
    ipmon(6),
    ipmon(7),
];

const fn ipmon(i: usize) -> (u8, u8) {
    let f = FLAGS[i];
    (f.bit as u8, f.letter)
}

/// Appends the letters of the flags set in `f` (byte 13 of the TCP
/// header), in ipmon's order.
#[inline]
pub fn push_ipmon_letters(f: u8, out: &mut Vec<u8>) {
    for (bit, letter) in IPMON_ORDER {
        if f & bit != 0 {
            out.push(letter);
        }
    }
}

/// The names of the flags set in `flags`, in header order.
pub fn names(flags: u16) -> impl Iterator<Item = &'static str> {
    FLAGS
        .iter()
        .filter(move |f| flags & f.bit != 0)
        .map(|f| f.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipmon_order_and_names() {
        let letters = |f| {
            let mut v = Vec::new();
            push_ipmon_letters(f, &mut v);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(letters(0x12), "AS");
        assert_eq!(letters(0xff), "ARSFUPEC");
        assert_eq!(
            names(0x1ff).collect::<Vec<_>>().join(","),
            "FIN,SYN,RST,PSH,ACK,URG,ECE,CWR,NS"
        );
    }
}
