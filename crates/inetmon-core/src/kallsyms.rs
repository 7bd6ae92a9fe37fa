//! Kernel address symbolisation from `/proc/kallsyms` text, so that a drop's
//! `location` prints as `tcp_v4_rcv+0x1a` instead of a bare address.
//!
//! Each line is `<hex address> <type letter> <name>[\t[module]]`. Only text
//! symbols (`t`/`T`) are kept: drop locations are code addresses. When
//! `kptr_restrict` hides addresses every address reads as zero; such a table
//! is empty and [`KallSyms::is_restricted`] says why.

use std::fmt;

/// One resolved address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbolized<'a> {
    /// The function name.
    pub name: &'a str,
    /// Bytes from the start of the function.
    pub offset: u64,
    /// The module, for symbols of loadable modules.
    pub module: Option<&'a str>,
}

impl fmt::Display for Symbolized<'_> {
    /// `name+0x1a`, with ` [module]` for module symbols.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:#x}", self.name, self.offset)?;
        if let Some(m) = self.module {
            write!(f, " [{m}]")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Sym {
    addr: u64,
    name: String,
    module: Option<String>,
}

/// A sorted table of kernel text symbols.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KallSyms {
    syms: Vec<Sym>,
    zeroed: usize,
    bad_lines: usize,
}

impl KallSyms {
    /// Parses `/proc/kallsyms` text. Lines that do not parse are counted
    /// ([`KallSyms::bad_lines`]) and skipped; zero addresses are counted and
    /// skipped.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut table = KallSyms::default();
        for line in text.lines() {
            if line.trim().is_empty() {
                continue;
            }
            let (sym_part, module) = match line.split_once('\t') {
                Some((s, m)) => {
                    let m = m.trim().trim_start_matches('[').trim_end_matches(']');
                    (s, (!m.is_empty()).then(|| m.to_owned()))
                }
                None => (line, None),
            };
            let mut it = sym_part.split_ascii_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (it.next(), it.next(), it.next()) else {
                table.bad_lines += 1;
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                table.bad_lines += 1;
                continue;
            };
            if !matches!(kind, "t" | "T") {
                continue;
            }
            if addr == 0 {
                table.zeroed += 1;
                continue;
            }
            table.syms.push(Sym {
                addr,
                name: name.to_owned(),
                module,
            });
        }
        table
            .syms
            .sort_by(|a, b| a.addr.cmp(&b.addr).then_with(|| a.name.cmp(&b.name)));
        table
    }

    /// Number of text symbols kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// Whether no symbol was kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// Whether the addresses were hidden (all read as zero, as they do for
    /// unprivileged readers or with `kernel.kptr_restrict=2`).
    #[must_use]
    pub fn is_restricted(&self) -> bool {
        self.syms.is_empty() && self.zeroed > 0
    }

    /// Lines that did not parse.
    #[must_use]
    pub fn bad_lines(&self) -> usize {
        self.bad_lines
    }

    /// The function containing `addr`: the text symbol with the highest
    /// address not above it. `None` for 0, for addresses below the first
    /// symbol, and for an empty table. Among aliases at one address the
    /// alphabetically first name wins (stable output).
    #[must_use]
    pub fn symbolize(&self, addr: u64) -> Option<Symbolized<'_>> {
        if addr == 0 {
            return None;
        }
        let idx = self
            .syms
            .partition_point(|s| s.addr <= addr)
            .checked_sub(1)?;
        let at = self.syms.get(idx)?.addr;
        let first = self.syms.partition_point(|s| s.addr < at);
        let s = self.syms.get(first)?;
        Some(Symbolized {
            name: &s.name,
            offset: addr - s.addr,
            module: s.module.as_deref(),
        })
    }

    /// [`KallSyms::symbolize`] as text, `name+0x1a`.
    #[must_use]
    pub fn symbol_string(&self, addr: u64) -> Option<String> {
        self.symbolize(addr).map(|s| s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81001000 t helper
ffffffff81002000 D some_data
ffffffff81003000 T tcp_v4_rcv
garbage
zz T bad
ffffffffc0100000 t ovs_dp_process_packet\t[openvswitch]
";

    #[test]
    fn resolves_with_offsets() {
        let k = KallSyms::parse(TEXT);
        assert_eq!(k.len(), 5);
        assert_eq!(k.bad_lines(), 2);
        assert_eq!(
            k.symbol_string(0xffff_ffff_8100_301a).as_deref(),
            Some("tcp_v4_rcv+0x1a")
        );
        assert_eq!(
            k.symbol_string(0xffff_ffff_8100_0010).as_deref(),
            Some("_stext+0x10")
        );
        // Data symbols are skipped: this is still in `helper`.
        assert_eq!(
            k.symbol_string(0xffff_ffff_8100_2004).as_deref(),
            Some("helper+0x1004")
        );
        assert_eq!(
            k.symbol_string(0xffff_ffff_c010_0008).as_deref(),
            Some("ovs_dp_process_packet+0x8 [openvswitch]")
        );
        assert_eq!(k.symbolize(0x1000), None);
        assert_eq!(k.symbolize(0), None);
        assert!(!k.is_restricted());
    }

    #[test]
    fn restricted_table() {
        let k = KallSyms::parse("0000000000000000 T _text\n0000000000000000 t foo\n");
        assert!(k.is_empty());
        assert!(k.is_restricted());
        assert_eq!(k.symbolize(0xffff_ffff_8100_0000), None);
        assert!(!KallSyms::parse("").is_restricted());
    }

    #[test]
    fn never_panics() {
        for s in [
            "",
            "\n\n",
            "ffffffffffffffff T x",
            "1 T",
            "\t[m]",
            "1 t a\t",
            "1 t a\t[]",
        ] {
            let k = KallSyms::parse(s);
            let _ = k.symbolize(u64::MAX);
            let _ = k.symbolize(1);
        }
    }

    /// The running kernel's table, when readable with real addresses.
    #[test]
    fn running_kernel() {
        let Ok(text) = std::fs::read_to_string("/proc/kallsyms") else {
            eprintln!("skipping: /proc/kallsyms not readable");
            return;
        };
        let k = KallSyms::parse(&text);
        if k.is_restricted() {
            if std::env::var("INETMON_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
                panic!("/proc/kallsyms addresses are hidden (kptr_restrict)");
            }
            eprintln!("skipping: kallsyms addresses hidden (not root or kptr_restrict)");
            return;
        }
        assert_eq!(k.bad_lines(), 0);
        let line = text
            .lines()
            .find(|l| l.ends_with(" T kfree_skb_reason") || l.ends_with(" T sk_skb_reason_drop"));
        if let Some(line) = line {
            let addr = u64::from_str_radix(line.split(' ').next().unwrap(), 16).unwrap();
            let s = k.symbolize(addr + 4).unwrap();
            assert_eq!(s.offset, 4);
            assert!(line.ends_with(s.name), "{line} vs {s}");
        }
    }
}
