//! `ipmon -X` for NFLOG packets: the NFLOG message's header and each of its
//! attributes, named, then in the `-X` hex-dump layout (IP Filter dumps the
//! raw `iplog_t` + `ipflog_t`; an NFLOG packet's raw record is the netlink
//! message).
//!
//! ```text
//! nlmsghdr+nfgenmsg len 20: nlmsg_len 140, type 0x0400, flags 0x0000, seq 0, pid 0, family 2, version 0, res_id 6
//! 8c 00 00 00 00 04 00 00 00 00 00 00 00 00 00 00        ................
//! 02 00 00 06                                            ....
//! NFULA_PACKET_HDR (1) len 8
//! 08 00 01 00 08 00 01 00                                ........
//! NFULA_PREFIX (10) len 6
//! 06 00 0a 00 78 00                                      ....x.
//! …
//! ```
//!
//! Live NFLOG ([`crate::event::Source::Nflog`]) records start with the
//! 16-byte `nlmsghdr` (host byte order) and the 4-byte `nfgenmsg`; a
//! `LINKTYPE_NFLOG` pcap record starts with the 4-byte `nflog_hdr` (the
//! same layout as `nfgenmsg`), its TLV headers read little-endian. Each
//! attribute block is its `nla_len` bytes: the 4-byte TLV header and the
//! value, without the alignment padding. Nested attributes (`NFULA_CT`,
//! `NFULA_VLAN`) are dumped whole. A framing error ends the walk with a
//! line naming it, and the bytes left are dumped as they are.

use super::hexdump::dump;
use super::{Rendered, LOG_INFO};
use crate::decode::netlink::{align4, HeaderOrder, NLA_F_NESTED, NLA_TYPE_MASK};

/// The `NFULA_*` name of attribute type `t`.
fn attr_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "NFULA_PACKET_HDR",
        2 => "NFULA_MARK",
        3 => "NFULA_TIMESTAMP",
        4 => "NFULA_IFINDEX_INDEV",
        5 => "NFULA_IFINDEX_OUTDEV",
        6 => "NFULA_IFINDEX_PHYSINDEV",
        7 => "NFULA_IFINDEX_PHYSOUTDEV",
        8 => "NFULA_HWADDR",
        9 => "NFULA_PAYLOAD",
        10 => "NFULA_PREFIX",
        11 => "NFULA_UID",
        12 => "NFULA_SEQ",
        13 => "NFULA_SEQ_GLOBAL",
        14 => "NFULA_GID",
        15 => "NFULA_HWTYPE",
        16 => "NFULA_HWHEADER",
        17 => "NFULA_HWLEN",
        18 => "NFULA_CT",
        19 => "NFULA_CT_INFO",
        20 => "NFULA_VLAN",
        21 => "NFULA_L2HDR",
        _ => return None,
    })
}

fn text(out: &mut Rendered, s: &str) {
    let start = out.begin();
    out.text.extend_from_slice(s.as_bytes());
    out.text.push(b'\n');
    out.end(start, LOG_INFO);
}

fn u16_at(b: &[u8], at: usize, order: HeaderOrder) -> Option<u16> {
    let x: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(match order {
        HeaderOrder::Native => u16::from_ne_bytes(x),
        HeaderOrder::Little => u16::from_le_bytes(x),
        HeaderOrder::Big => u16::from_be_bytes(x),
    })
}

fn u32_ne(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

/// Appends the `-X` dump of an NFLOG record: `netlink` for a live message
/// (`nlmsghdr` first), else a `LINKTYPE_NFLOG` record. Nothing for an
/// empty record.
pub(crate) fn dump_nflog(out: &mut Rendered, raw: &[u8], netlink: bool) {
    if raw.is_empty() {
        return;
    }
    let (hlen, order) = if netlink {
        (20, HeaderOrder::Native)
    } else {
        (4, HeaderOrder::Little)
    };
    let Some((head, mut rest)) = raw.split_at_checked(hlen) else {
        text(
            out,
            &format!("short NFLOG header: {} bytes of {hlen}", raw.len()),
        );
        dump(out, raw);
        return;
    };
    let gen = head.get(hlen - 4..).unwrap_or_default();
    let (family, version, res_id) = match gen {
        [f, v, r0, r1] => (*f, *v, u16::from_be_bytes([*r0, *r1])),
        _ => (0, 0, 0),
    };
    let gen_text = format!("family {family}, version {version}, res_id {res_id}");
    if netlink {
        text(
            out,
            &format!(
                "nlmsghdr+nfgenmsg len 20: nlmsg_len {}, type {:#06x}, flags {:#06x}, seq {}, pid {}, {gen_text}",
                u32_ne(head, 0),
                u16_at(head, 4, HeaderOrder::Native).unwrap_or(0),
                u16_at(head, 6, HeaderOrder::Native).unwrap_or(0),
                u32_ne(head, 8),
                u32_ne(head, 12),
            ),
        );
    } else {
        text(out, &format!("nflog_hdr len 4: {gen_text}"));
    }
    dump(out, head);
    let mut offset = hlen;
    while !rest.is_empty() {
        let (Some(len), Some(ty)) = (u16_at(rest, 0, order), u16_at(rest, 2, order)) else {
            text(
                out,
                &format!(
                    "offset {offset}: attribute header needs 4 bytes, {} left",
                    rest.len()
                ),
            );
            dump(out, rest);
            return;
        };
        let n = usize::from(len);
        let Some(tlv) = rest.get(..n).filter(|_| n >= 4) else {
            text(
                out,
                &format!(
                    "offset {offset}: attribute length {len} does not fit the {} bytes left",
                    rest.len()
                ),
            );
            dump(out, rest);
            return;
        };
        let kind = ty & NLA_TYPE_MASK;
        let nested = if ty & NLA_F_NESTED != 0 {
            ", nested"
        } else {
            ""
        };
        let name = attr_name(kind).map_or_else(|| "attribute".to_owned(), str::to_owned);
        text(out, &format!("{name} ({kind}) len {len}{nested}"));
        dump(out, tlv);
        let step = align4(n).min(rest.len());
        rest = rest.get(step..).unwrap_or_default();
        offset += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::netlink::NlMsgBuilder;

    fn run(raw: &[u8], netlink: bool) -> String {
        let mut r = Rendered::default();
        dump_nflog(&mut r, raw, netlink);
        assert_eq!(
            r.lines.len(),
            String::from_utf8_lossy(&r.text).lines().count()
        );
        String::from_utf8(r.text).unwrap()
    }

    /// A live NFLOG message: group 6, IPv4, hook 1, prefix "x", a 4-byte
    /// payload.
    fn live() -> Vec<u8> {
        let mut b = NlMsgBuilder::new(0x0400, 0, 0);
        b.nfgenmsg(2, 0, 6)
            .attr(1, &[0x08, 0x00, 1, 0])
            .attr(10, b"x\0")
            .attr(9, &[0x45, 0, 0, 20]);
        b.finish()
    }

    #[test]
    fn live_message_golden() {
        let m = live();
        let len = m.len();
        assert_eq!(len, 44);
        let mut expect = format!(
            "nlmsghdr+nfgenmsg len 20: nlmsg_len {len}, type 0x0400, flags 0x0000, seq 0, pid 0, family 2, version 0, res_id 6\n"
        );
        let le = cfg!(target_endian = "little");
        expect.push_str(if le {
            "2c 00 00 00 00 04 00 00 00 00 00 00 00 00 00 00        ,...............\n"
        } else {
            "00 00 00 2c 04 00 00 00 00 00 00 00 00 00 00 00        ...,............\n"
        });
        expect.push_str("02 00 00 06                                            ....\n");
        if le {
            expect.push_str(concat!(
                "NFULA_PACKET_HDR (1) len 8\n",
                "08 00 01 00 08 00 01 00                                ........\n",
                "NFULA_PREFIX (10) len 6\n",
                "06 00 0a 00 78 00                                      ....x.\n",
                "NFULA_PAYLOAD (9) len 8\n",
                "08 00 09 00 45 00 00 14                                ....E...\n",
            ));
            assert_eq!(run(&m, true), expect);
        } else {
            assert!(run(&m, true).starts_with(&expect));
        }
    }

    /// A `LINKTYPE_NFLOG` record: `nflog_hdr`, little-endian TLVs.
    #[test]
    fn pcap_record_golden() {
        let rec = [
            2, 0, 0, 7, // family 2, version 0, group 7
            6, 0, 10, 0, b'a', 0, 0, 0, // prefix "a", padded
            5, 0, 0x12, 0x80, 9, 0, 0, 0, // type 18 | NESTED
        ];
        assert_eq!(
            run(&rec, false),
            concat!(
                "nflog_hdr len 4: family 2, version 0, res_id 7\n",
                "02 00 00 07                                            ....\n",
                "NFULA_PREFIX (10) len 6\n",
                "06 00 0a 00 61 00                                      ....a.\n",
                "NFULA_CT (18) len 5, nested\n",
                "05 00 12 80 09                                         .....\n",
            )
        );
    }

    #[test]
    fn damaged_records_say_where_and_dump_the_rest() {
        assert_eq!(
            run(&[2, 0], false),
            "short NFLOG header: 2 bytes of 4\n02 00                                                  ..\n"
        );
        assert_eq!(
            run(&[2, 0, 0, 7, 40, 0, 1, 0, 1, 2], false),
            concat!(
                "nflog_hdr len 4: family 2, version 0, res_id 7\n",
                "02 00 00 07                                            ....\n",
                "offset 4: attribute length 40 does not fit the 6 bytes left\n",
                "28 00 01 00 01 02                                      (.....\n",
            )
        );
        assert_eq!(
            run(&[2, 0, 0, 7, 1, 0], false),
            concat!(
                "nflog_hdr len 4: family 2, version 0, res_id 7\n",
                "02 00 00 07                                            ....\n",
                "offset 4: attribute header needs 4 bytes, 2 left\n",
                "01 00                                                  ..\n",
            )
        );
        // Every cut of a live message formats without panicking.
        let m = live();
        for n in 0..m.len() {
            let _ = run(&m[..n], true);
        }
    }
}
