//! A small BTF (BPF Type Format) reader: enough to walk every type of a
//! kernel's `/sys/kernel/btf/vmlinux` (or a module's split BTF) and read its
//! enums, so that drop-reason names come from the running kernel and never
//! from a compiled-in table (the numbers are renumbered between kernels).
//!
//! Layout (`include/uapi/linux/btf.h`): a header `{magic u16 = 0xeB9F,
//! version u8, flags u8, hdr_len u32, type_off u32, type_len u32, str_off
//! u32, str_len u32}`, then the type and string sections at offsets counted
//! from the end of the header. Each type is `{name_off u32, info u32,
//! size_or_type u32}` (`info`: vlen in bits 0–15, kind in bits 24–28,
//! kind_flag in bit 31) followed by kind-specific data. The byte order is the
//! producer's; the magic tells which.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::event::DropReason;

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;

/// Why BTF could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BtfError {
    /// The data ends before a structure that must be there.
    #[error(
        "BTF truncated: {what} needs {needed} bytes at offset {offset}, only {available} there"
    )]
    Len {
        /// What was being read.
        what: &'static str,
        /// Offset of the structure in the blob.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes present from `offset`.
        available: usize,
    },
    /// The first two bytes are not the BTF magic in either byte order.
    #[error("not BTF: magic {got:#06x}, expected 0xeb9f")]
    BadMagic {
        /// The magic as read little-endian.
        got: u16,
    },
    /// A header field is inconsistent.
    #[error("bad BTF header: {0}")]
    BadHeader(&'static str),
    /// A type has a kind this reader does not know, so its size (and every
    /// later type) cannot be found.
    #[error("unknown BTF kind {kind} for type id {id} at offset {offset}")]
    UnknownKind {
        /// The kind number.
        kind: u8,
        /// The type id (counted from 1, or from the base's count + 1).
        id: u32,
        /// Offset of the type in the blob.
        offset: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        }
    }
}

/// One enumerator: its name and value (64-bit to cover `ENUM64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumerator {
    /// The enumerator's name.
    pub name: String,
    /// Its value; signed enums are sign-extended.
    pub value: i64,
}

/// An enum type found in BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumType {
    /// The enum's tag name (`skb_drop_reason`); empty for anonymous enums.
    pub name: String,
    /// The enumerators in declaration order.
    pub values: Vec<Enumerator>,
}

/// Parsed BTF: the enums (the only types this crate needs) and the counts a
/// split BTF built on top of it needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Btf {
    enums: Vec<EnumType>,
    type_count: u32,
    strings: Vec<u8>,
}

impl Btf {
    /// Parses a complete (base) BTF blob such as `/sys/kernel/btf/vmlinux`.
    ///
    /// # Errors
    /// [`BtfError`] when the blob is truncated or malformed.
    pub fn parse(data: &[u8]) -> Result<Self, BtfError> {
        Self::parse_inner(data, None)
    }

    /// Parses split BTF (a module's `/sys/kernel/btf/<module>`), whose type
    /// ids and string offsets continue from `base`.
    ///
    /// # Errors
    /// [`BtfError`] when the blob is truncated or malformed.
    pub fn parse_split(data: &[u8], base: &Btf) -> Result<Self, BtfError> {
        Self::parse_inner(data, Some(base))
    }

    /// The enums, in type-id order.
    #[must_use]
    pub fn enums(&self) -> &[EnumType] {
        &self.enums
    }

    /// The first enum named `name`.
    #[must_use]
    pub fn find_enum(&self, name: &str) -> Option<&EnumType> {
        self.enums.iter().find(|e| e.name == name)
    }

    /// Number of types (the last type id), including a base's types.
    #[must_use]
    pub fn type_count(&self) -> u32 {
        self.type_count
    }

    fn parse_inner(data: &[u8], base: Option<&Btf>) -> Result<Self, BtfError> {
        let hdr = take(data, 0, HEADER_LEN, "header")?;
        let order = match [hdr[0], hdr[1]] {
            m if u16::from_le_bytes(m) == MAGIC => Order::Little,
            m if u16::from_be_bytes(m) == MAGIC => Order::Big,
            m => {
                return Err(BtfError::BadMagic {
                    got: u16::from_le_bytes(m),
                })
            }
        };
        if hdr[2] != 1 {
            return Err(BtfError::BadHeader("version is not 1"));
        }
        let field = |at: usize| order.u32([hdr[at], hdr[at + 1], hdr[at + 2], hdr[at + 3]]);
        let hdr_len = to_usize(field(4));
        if hdr_len < HEADER_LEN {
            return Err(BtfError::BadHeader("hdr_len below 24"));
        }
        let (type_off, type_len) = (to_usize(field(8)), to_usize(field(12)));
        let (str_off, str_len) = (to_usize(field(16)), to_usize(field(20)));
        let types_at = hdr_len
            .checked_add(type_off)
            .ok_or(BtfError::BadHeader("type section offset overflows"))?;
        let strs_at = hdr_len
            .checked_add(str_off)
            .ok_or(BtfError::BadHeader("string section offset overflows"))?;
        let types = take(data, types_at, type_len, "type section")?;
        let strings = take(data, strs_at, str_len, "string section")?;
        if base.is_none() && strings.first().is_some_and(|&b| b != 0) {
            return Err(BtfError::BadHeader(
                "string section does not start with NUL",
            ));
        }

        let (first_id, base_str_len, base_strings) = match base {
            Some(b) => (
                b.type_count + 1,
                b.strings.len(),
                Some(b.strings.as_slice()),
            ),
            None => (1, 0, None),
        };
        let names = Names {
            own: strings,
            base: base_strings,
            base_len: base_str_len,
        };
        let mut btf = Btf {
            enums: Vec::new(),
            type_count: first_id - 1,
            strings: match base {
                Some(b) => {
                    let mut all = b.strings.clone();
                    all.extend_from_slice(strings);
                    all
                }
                None => strings.to_vec(),
            },
        };
        let mut pos = 0usize;
        let mut id = first_id;
        while pos < types.len() {
            let at = types_at + pos;
            let t = take(types, pos, 12, "type").map_err(|e| shift(e, types_at))?;
            let name_off = order.u32([t[0], t[1], t[2], t[3]]);
            let info = order.u32([t[4], t[5], t[6], t[7]]);
            let vlen = to_usize(info & 0xffff);
            let kind = u8::try_from((info >> 24) & 0x1f).unwrap_or(u8::MAX);
            let signed = info >> 31 == 1;
            let extra = match kind {
                2 | 7..=12 | 16 | 18 => 0,
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 => vlen * 12,
                6 | 13 => vlen * 8,
                19 => vlen * 12,
                _ => {
                    return Err(BtfError::UnknownKind {
                        kind,
                        id,
                        offset: at,
                    })
                }
            };
            let body_at = pos + 12;
            let body = take(types, body_at, extra, "type data").map_err(|e| shift(e, types_at))?;
            if kind == 6 || kind == 19 {
                let step = if kind == 6 { 8 } else { 12 };
                let mut values = Vec::with_capacity(vlen);
                for chunk in body.chunks_exact(step) {
                    let word =
                        |i: usize| order.u32([chunk[i], chunk[i + 1], chunk[i + 2], chunk[i + 3]]);
                    let value = if kind == 6 {
                        let v = word(4);
                        if signed {
                            i64::from(v.cast_signed())
                        } else {
                            i64::from(v)
                        }
                    } else {
                        (u64::from(word(8)) << 32 | u64::from(word(4))).cast_signed()
                    };
                    values.push(Enumerator {
                        name: names.get(word(0)),
                        value,
                    });
                }
                btf.enums.push(EnumType {
                    name: names.get(name_off),
                    values,
                });
            }
            pos = body_at + extra;
            id = id.saturating_add(1);
        }
        btf.type_count = id - 1;
        Ok(btf)
    }
}

struct Names<'a> {
    own: &'a [u8],
    base: Option<&'a [u8]>,
    base_len: usize,
}

impl Names<'_> {
    /// The NUL-terminated string at `off`; empty if out of range.
    fn get(&self, off: u32) -> String {
        let off = to_usize(off);
        let (bytes, at) = match self.base {
            Some(b) if off < self.base_len => (b, off),
            _ => (self.own, off.saturating_sub(self.base_len)),
        };
        let rest = bytes.get(at..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned()
    }
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn take<'a>(
    data: &'a [u8],
    at: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], BtfError> {
    let err = || BtfError::Len {
        what,
        offset: at,
        needed: len,
        available: data.len().saturating_sub(at),
    };
    let end = at.checked_add(len).ok_or_else(err)?;
    data.get(at..end).ok_or_else(err)
}

fn shift(e: BtfError, by: usize) -> BtfError {
    match e {
        BtfError::Len {
            what,
            offset,
            needed,
            available,
        } => BtfError::Len {
            what,
            offset: offset.saturating_add(by),
            needed,
            available,
        },
        other => other,
    }
}

/// Prefix of core reasons in `enum skb_drop_reason`.
const REASON_PREFIX: &str = "SKB_DROP_REASON_";
/// Prefix of subsystem names in `enum skb_drop_reason_subsys`.
const SUBSYS_PREFIX: &str = "SKB_DROP_REASON_SUBSYS_";

/// The running kernel's drop reasons: `enum skb_drop_reason` (core), the
/// subsystem names of `enum skb_drop_reason_subsys`, and the reasons of every
/// subsystem enum found (`*_drop_reason` enums whose values carry a
/// subsystem in their upper 16 bits, such as `ovs_drop_reason` and
/// `mac80211_drop_reason`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DropReasonTable {
    core: BTreeMap<u32, String>,
    subsystems: BTreeMap<u16, String>,
    subsystem_reasons: BTreeMap<u32, String>,
}

impl DropReasonTable {
    /// Builds the table from BTF blobs: the base (`vmlinux`) first, then any
    /// module split BTF (modules that fail to parse are skipped, since the
    /// core table is still useful without them).
    ///
    /// # Errors
    /// [`BtfError`] when the base blob cannot be parsed.
    pub fn from_btf(vmlinux: &[u8], modules: &[&[u8]]) -> Result<Self, BtfError> {
        let base = Btf::parse(vmlinux)?;
        let mut table = Self::default();
        table.add(&base);
        for m in modules {
            if let Ok(split) = Btf::parse_split(m, &base) {
                table.add(&split);
            }
        }
        Ok(table)
    }

    /// Adds the reasons found in one parsed BTF.
    pub fn add(&mut self, btf: &Btf) {
        for e in btf.enums() {
            match e.name.as_str() {
                "skb_drop_reason" => {
                    for v in &e.values {
                        let Ok(code) = u32::try_from(v.value) else {
                            continue;
                        };
                        if code >> 16 != 0 || v.name == "SKB_DROP_REASON_MAX" {
                            continue; // SUBSYS_MASK and the end marker.
                        }
                        let name = v
                            .name
                            .strip_prefix(REASON_PREFIX)
                            .or_else(|| v.name.strip_prefix("SKB_"))
                            .unwrap_or(&v.name);
                        self.core.entry(code).or_insert_with(|| name.to_owned());
                    }
                }
                "skb_drop_reason_subsys" => {
                    for v in &e.values {
                        let Ok(id) = u16::try_from(v.value) else {
                            continue;
                        };
                        let Some(name) = v.name.strip_prefix(SUBSYS_PREFIX) else {
                            continue;
                        };
                        if name == "NUM" {
                            continue;
                        }
                        self.subsystems
                            .entry(id)
                            .or_insert_with(|| name.to_ascii_lowercase());
                    }
                }
                n if n.ends_with("_drop_reason") => {
                    for v in &e.values {
                        let Ok(code) = u32::try_from(v.value) else {
                            continue;
                        };
                        if code >> 16 == 0 || code & 0xffff == 0xffff {
                            continue;
                        }
                        self.subsystem_reasons
                            .entry(code)
                            .or_insert_with(|| v.name.clone());
                    }
                }
                _ => {}
            }
        }
    }

    /// Number of named core reasons.
    #[must_use]
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether no core reason was found (BTF without `skb_drop_reason`:
    /// a kernel older than 5.17, or a blob of another program).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.core.is_empty()
    }

    /// The code of a core reason name (prefix stripped), e.g. for `--reason`.
    #[must_use]
    pub fn code_of(&self, name: &str) -> Option<u32> {
        let name = name.strip_prefix(REASON_PREFIX).unwrap_or(name);
        self.core
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(c, _)| *c)
    }

    /// The subsystem name for a subsystem id.
    #[must_use]
    pub fn subsystem_name(&self, id: u16) -> Option<&str> {
        self.subsystems.get(&id).map(String::as_str)
    }

    /// Resolves a raw reason code into a [`DropReason`] with names.
    #[must_use]
    pub fn resolve(&self, code: u32) -> DropReason {
        let sub = u16::try_from(code >> 16).unwrap_or(u16::MAX);
        if sub == 0 {
            return DropReason {
                code,
                subsystem: None,
                name: self.core.get(&code).cloned(),
            };
        }
        DropReason {
            code,
            subsystem: self.subsystems.get(&sub).cloned(),
            name: self.subsystem_reasons.get(&code).cloned(),
        }
    }

    /// Every core reason, by code.
    pub fn core_reasons(&self) -> impl Iterator<Item = (u32, &str)> {
        self.core.iter().map(|(c, n)| (*c, n.as_str()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test-only BTF writer (little-endian).
    #[derive(Default)]
    pub(crate) struct Builder {
        types: Vec<u8>,
        strings: Vec<u8>,
    }

    impl Builder {
        pub(crate) fn new() -> Self {
            Builder {
                types: Vec::new(),
                strings: vec![0],
            }
        }

        pub(crate) fn s(&mut self, s: &str) -> u32 {
            let off = u32::try_from(self.strings.len()).unwrap();
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }

        pub(crate) fn raw_type(
            &mut self,
            name: &str,
            kind: u32,
            vlen: u32,
            size: u32,
            extra: &[u8],
        ) {
            let n = self.s(name);
            for w in [n, kind << 24 | vlen, size] {
                self.types.extend_from_slice(&w.to_le_bytes());
            }
            self.types.extend_from_slice(extra);
        }

        pub(crate) fn int(&mut self, name: &str) {
            self.raw_type(name, 1, 0, 4, &[0, 0, 0, 32]);
        }

        pub(crate) fn enum32(&mut self, name: &str, values: &[(&str, u32)]) {
            let mut extra = Vec::new();
            for (n, v) in values {
                let off = self.s(n);
                extra.extend_from_slice(&off.to_le_bytes());
                extra.extend_from_slice(&v.to_le_bytes());
            }
            self.raw_type(name, 6, u32::try_from(values.len()).unwrap(), 4, &extra);
        }

        pub(crate) fn build(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(&MAGIC.to_le_bytes());
            out.extend_from_slice(&[1, 0]);
            let tl = u32::try_from(self.types.len()).unwrap();
            let sl = u32::try_from(self.strings.len()).unwrap();
            for w in [24u32, 0, tl, tl, sl] {
                out.extend_from_slice(&w.to_le_bytes());
            }
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strings);
            out
        }
    }

    fn sample() -> Vec<u8> {
        let mut b = Builder::new();
        b.int("int");
        b.raw_type("ptr", 2, 0, 1, &[]);
        b.raw_type("s", 4, 1, 8, &[0; 12]);
        b.raw_type("arr", 3, 0, 0, &[0; 12]);
        b.enum32(
            "skb_drop_reason",
            &[
                ("SKB_NOT_DROPPED_YET", 0),
                ("SKB_CONSUMED", 1),
                ("SKB_DROP_REASON_NOT_SPECIFIED", 2),
                ("SKB_DROP_REASON_NO_SOCKET", 3),
                ("SKB_DROP_REASON_MAX", 4),
                ("SKB_DROP_REASON_SUBSYS_MASK", 0xffff_0000),
            ],
        );
        b.enum32(
            "skb_drop_reason_subsys",
            &[
                ("SKB_DROP_REASON_SUBSYS_CORE", 0),
                ("SKB_DROP_REASON_SUBSYS_MAC80211_UNUSABLE", 1),
                ("SKB_DROP_REASON_SUBSYS_OPENVSWITCH", 3),
                ("SKB_DROP_REASON_SUBSYS_NUM", 4),
            ],
        );
        b.enum32(
            "ovs_drop_reason",
            &[
                ("OVS_DROP_LAST_ACTION", 0x0003_0001),
                ("OVS_DROP_ACTION_ERROR", 0x0003_0002),
            ],
        );
        b.enum32(
            "mac80211_drop_reason",
            &[("RX_CONTINUE", 1), ("RX_DROP_U_MIC_FAIL", 0x0001_0001)],
        );
        b.raw_type("fp", 13, 2, 0, &[0; 16]);
        b.raw_type("e64", 19, 1, 8, &[0; 12]);
        b.build()
    }

    #[test]
    fn hand_built_table() {
        let t = DropReasonTable::from_btf(&sample(), &[]).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.resolve(3).to_string(), "NO_SOCKET");
        assert_eq!(t.resolve(0).name.as_deref(), Some("NOT_DROPPED_YET"));
        assert_eq!(t.resolve(1).name.as_deref(), Some("CONSUMED"));
        assert_eq!(t.resolve(4).to_string(), "reason 4");
        assert_eq!(
            t.resolve(0x0003_0001).to_string(),
            "openvswitch/OVS_DROP_LAST_ACTION"
        );
        assert_eq!(
            t.resolve(0x0001_0001).to_string(),
            "mac80211_unusable/RX_DROP_U_MIC_FAIL"
        );
        assert_eq!(t.resolve(0x0003_0009).to_string(), "openvswitch/9");
        assert_eq!(t.resolve(0x0009_0005).to_string(), "subsys 9 reason 5");
        assert_eq!(t.code_of("no_socket"), Some(3));
        assert_eq!(t.code_of("SKB_DROP_REASON_NO_SOCKET"), Some(3));
        let btf = Btf::parse(&sample()).unwrap();
        assert_eq!(btf.type_count(), 10);
        assert_eq!(btf.enums().len(), 5);
    }

    #[test]
    fn every_truncation_errors() {
        let blob = sample();
        for n in 0..blob.len() {
            let r = Btf::parse(&blob[..n]);
            assert!(matches!(r, Err(BtfError::Len { .. })), "len {n}: {r:?}");
        }
    }

    #[test]
    fn bad_input_never_panics() {
        let blob = sample();
        for i in 0..blob.len() {
            for x in [0u8, 0xff, 0x80, 0x13] {
                let mut b = blob.clone();
                b[i] ^= x;
                let _ = Btf::parse(&b);
                let _ = DropReasonTable::from_btf(&b, &[&b]);
            }
        }
        assert_eq!(
            Btf::parse(&[0, 0, 0, 0]).unwrap_err(),
            BtfError::Len {
                what: "header",
                offset: 0,
                needed: 24,
                available: 4
            }
        );
        let mut bad = blob.clone();
        bad[0] = 0;
        assert!(matches!(Btf::parse(&bad), Err(BtfError::BadMagic { .. })));
        let mut b = Builder::new();
        b.raw_type("x", 25, 0, 0, &[]);
        assert_eq!(
            Btf::parse(&b.build()).unwrap_err(),
            BtfError::UnknownKind {
                kind: 25,
                id: 1,
                offset: 24
            }
        );
    }

    #[test]
    fn big_endian_blob() {
        // The same enum written big-endian.
        let mut strings = vec![0u8];
        strings.extend_from_slice(b"skb_drop_reason\0SKB_DROP_REASON_NO_SOCKET\0");
        let mut types = Vec::new();
        for w in [1u32, 6 << 24 | 1, 4, 17, 3] {
            types.extend_from_slice(&w.to_be_bytes());
        }
        let mut blob = MAGIC.to_be_bytes().to_vec();
        blob.extend_from_slice(&[1, 0]);
        let (tl, sl) = (
            u32::try_from(types.len()).unwrap(),
            u32::try_from(strings.len()).unwrap(),
        );
        for w in [24u32, 0, tl, tl, sl] {
            blob.extend_from_slice(&w.to_be_bytes());
        }
        blob.extend_from_slice(&types);
        blob.extend_from_slice(&strings);
        let t = DropReasonTable::from_btf(&blob, &[]).unwrap();
        assert_eq!(t.resolve(3).to_string(), "NO_SOCKET");
    }

    #[test]
    fn split_btf_continues_ids_and_strings() {
        let base_blob = sample();
        let base = Btf::parse(&base_blob).unwrap();
        // A module blob: its strings start at the base's string length.
        let mut m = Builder {
            types: Vec::new(),
            strings: Vec::new(),
        };
        let base_len = u32::try_from(base.strings.len()).unwrap();
        let name = m.s("ovs_drop_reason") + base_len;
        let v = m.s("OVS_DROP_FRAG") + base_len;
        for w in [name, 6 << 24 | 1, 4, v, 0x0003_0007] {
            m.types.extend_from_slice(&w.to_le_bytes());
        }
        let blob = m.build();
        let split = Btf::parse_split(&blob, &base).unwrap();
        assert_eq!(split.type_count(), 11);
        let t = DropReasonTable::from_btf(&base_blob, &[&blob]).unwrap();
        assert_eq!(
            t.resolve(0x0003_0007).to_string(),
            "openvswitch/OVS_DROP_FRAG"
        );
    }

    /// The running kernel's BTF, cross-checked with `bpftool btf dump file
    /// /sys/kernel/btf/vmlinux` on the development machine (6.18: NO_SOCKET 3,
    /// NETFILTER_DROP 12, TCP_CSUM 10, CPU_BACKLOG 71).
    #[test]
    fn running_kernel_vmlinux() {
        let Ok(blob) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            if std::env::var("INETMON_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
                panic!("/sys/kernel/btf/vmlinux is not readable");
            }
            eprintln!("skipping: /sys/kernel/btf/vmlinux not readable (kernel without BTF)");
            return;
        };
        let btf = Btf::parse(&blob).unwrap();
        assert!(btf.type_count() > 10_000);
        let t = DropReasonTable::from_btf(&blob, &[]).unwrap();
        // Stable across every kernel with drop reasons:
        assert_eq!(t.resolve(2).to_string(), "NOT_SPECIFIED");
        assert_eq!(t.resolve(3).to_string(), "NO_SOCKET");
        // Present, with whatever value this kernel gives them (they move):
        for name in [
            "NETFILTER_DROP",
            "TCP_CSUM",
            "PKT_TOO_SMALL",
            "CPU_BACKLOG",
            "QDISC_DROP",
        ] {
            let code = t.code_of(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(t.resolve(code).name.as_deref(), Some(name));
        }
        // The enum from BTF agrees with itself: codes are dense from 0.
        let e = btf.find_enum("skb_drop_reason").unwrap();
        let max = e
            .values
            .iter()
            .find(|v| v.name == "SKB_DROP_REASON_MAX")
            .unwrap();
        assert_eq!(i64::try_from(t.len()).unwrap(), max.value);
        assert!(btf.find_enum("skb_drop_reason_subsys").is_some());
        assert_eq!(t.subsystem_name(0), Some("core"));
    }
}
