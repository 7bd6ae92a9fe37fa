//! `ipmon -x/-X/-b` hex dumps (`dumphex()`).
//!
//! Each line holds up to 16 bytes as `%02x`, separated by single spaces,
//! then the printable characters (0x20–0x7e, others as `.`) starting at
//! column 55. A full line is the 16 hex bytes, 8 spaces and 16 characters;
//! a short last line is padded with 3 spaces per missing byte plus 7. Every
//! line ends with `\n` (C relies on a stale buffer for an exact multiple of
//! 16 bytes, printing garbage after a 16-byte dump; this port does not).

use super::{Rendered, LOG_INFO};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends the dump of `bytes`, one [`super::Line`] per 16 bytes at
/// `LOG_INFO`; nothing for an empty slice.
pub(crate) fn dump(out: &mut Rendered, bytes: &[u8]) {
    for chunk in bytes.chunks(16) {
        let start = out.begin();
        let t = &mut out.text;
        for (i, b) in chunk.iter().enumerate() {
            t.push(HEX[usize::from(b >> 4)]);
            t.push(HEX[usize::from(b & 0xf)]);
            if i != 15 {
                t.push(b' ');
            }
        }
        if chunk.len() == 16 {
            t.extend_from_slice(b"        ");
        } else {
            for _ in chunk.len()..16 {
                t.extend_from_slice(b"   ");
            }
            t.extend_from_slice(b"       ");
        }
        t.extend(
            chunk
                .iter()
                .map(|&b| if (0x20..0x7f).contains(&b) { b } else { b'.' }),
        );
        t.push(b'\n');
        out.end(start, LOG_INFO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> String {
        let mut r = Rendered::default();
        dump(&mut r, bytes);
        String::from_utf8(r.text).unwrap()
    }

    #[test]
    fn layouts() {
        assert_eq!(run(&[]), "");
        assert_eq!(
            run(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]),
            "01 02 03 04 05 06 07 08 09 0a 0b 0d                    ............\n"
        );
        let full: Vec<u8> = (0x40..0x50).collect();
        let line = run(&full);
        assert_eq!(
            line,
            "40 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f        @ABCDEFGHIJKLMNO\n"
        );
        assert_eq!(line.find('@'), Some(55));
        let one = run(&[0x7f]);
        assert_eq!(one.find('.'), Some(55));
        let two_lines = run(&(0u8..17).collect::<Vec<_>>());
        assert_eq!(two_lines.lines().count(), 2);
        assert!(two_lines.ends_with("10                                                     .\n"));
    }
}
