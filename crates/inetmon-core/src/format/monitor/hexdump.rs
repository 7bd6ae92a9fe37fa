//! A `hexdump -C`-style dump (the same text as Go's `hex.Dump`, which the
//! Cilium monitor prints): an 8-digit offset, 16 bytes in two groups of
//! eight, and the printable characters between bars.

use std::fmt::Write as _;

/// The dump of `data`, one line per 16 bytes, each ending in `\n`; empty
/// for no data.
#[must_use]
pub fn hex_dump(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(16) * 79);
    for (i, chunk) in data.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
            if j == 7 {
                out.push(' ');
            }
        }
        out.push(' ');
        out.push('|');
        for &b in chunk {
            out.push(if (0x20..=0x7e).contains(&b) {
                char::from(b)
            } else {
                '.'
            });
        }
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::PKT_TCP_SYN;
    use super::*;

    /// monitor-vectors V8: the dump of PKT_TCP_SYN, byte for byte.
    #[test]
    fn v8_hex_dump() {
        let expected = "\
00000000  02 33 45 67 89 ab 01 23  45 67 89 ab 08 00 45 00  |.3Eg...#Eg....E.|
00000010  00 28 00 01 00 00 40 06  6a bc 01 02 03 04 05 06  |.(....@.j.......|
00000020  07 08 00 50 01 bb 00 00  00 00 00 00 00 00 50 02  |...P..........P.|
00000030  20 00 7d c4 00 00                                 | .}...|
";
        assert_eq!(hex_dump(&PKT_TCP_SYN), expected);
        assert_eq!(hex_dump(&[]), "");
        assert_eq!(
            hex_dump(&[0x41; 8]),
            "00000000  41 41 41 41 41 41 41 41                           |AAAAAAAA|\n"
        );
    }
}
