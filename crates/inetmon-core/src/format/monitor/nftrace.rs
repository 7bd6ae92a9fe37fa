//! Monitor lines of nftables trace steps (`--type debug`), in the place of
//! the Cilium monitor's `DEBUG:` messages: one line per step, saying what
//! `nft monitor trace` says (trace id, family, table, chain, rule handle,
//! verdict or policy, interfaces) plus the connection summary of the
//! packet.
//!
//! - Info: `DEBUG: trace 6d985a58 inet t input rule handle 8 (verdict jump
//!   sub), iif lo: 127.0.0.1:35898 -> 127.0.0.1:9999 udp`
//! - Debug (`-v`): adds `nfproto`, device types and the mark.
//! - Verbose (`-vv`): the separator, a header line with every field, the
//!   summary, the dissected layers (and with `--hex` the header bytes).
//!
//! The rule is named by its handle (`nft -a list ruleset` shows it) and
//! its comment when the producer found one; its full text would need nft's
//! bytecode-to-text decompiler.

use std::fmt::Write as _;

use super::{connection_line, dissect, hex_dump, line, MonitorFormatter, Verbosity, SEPARATOR};
use crate::event::{
    nfproto_name, verdict_code_name, CaptureLayer, Interface, NftTraceEvent, NftTraceType,
};

/// `inet`, or `family N` for a family without a name.
pub(crate) fn family_text(f: u8) -> String {
    nfproto_name(f).map_or_else(|| format!("family {f}"), str::to_owned)
}

/// `accept`, `drop`, or `policy N`.
pub(crate) fn policy_text(p: u32) -> String {
    i32::try_from(p)
        .ok()
        .and_then(verdict_code_name)
        .map_or_else(|| format!("policy {p}"), str::to_owned)
}

/// The step without the interfaces: `rule handle 8 (verdict jump sub)`,
/// `policy accept`, `return (verdict continue)`, and `end of chain
/// (verdict continue)` for the rule step without a handle that the kernel
/// sends when evaluation runs past a chain's last rule (`nft monitor
/// trace` does not print that one).
pub(crate) fn step_text(d: &NftTraceEvent) -> String {
    let mut s = match d.trace_type {
        NftTraceType::Rule => match (d.rule_handle, &d.rule_comment) {
            (Some(h), Some(c)) => format!("rule handle {h} comment {c:?}"),
            (Some(h), None) => format!("rule handle {h}"),
            (None, _) => "end of chain".to_owned(),
        },
        NftTraceType::Policy => match d.policy {
            Some(p) => format!("policy {}", policy_text(p)),
            None => "policy".to_owned(),
        },
        other => other.name(),
    };
    if d.trace_type != NftTraceType::Policy {
        if let Some(v) = &d.verdict {
            let _ = write!(s, " (verdict {})", v.text());
        }
    }
    s
}

fn iface(i: &Interface) -> String {
    match &i.name {
        Some(n) => n.clone(),
        None => format!("if{}", i.ifindex),
    }
}

fn nfproto_text(p: u32) -> String {
    match p {
        2 => "ipv4".to_owned(),
        10 => "ipv6".to_owned(),
        7 => "bridge".to_owned(),
        3 => "arp".to_owned(),
        5 => "netdev".to_owned(),
        x => x.to_string(),
    }
}

impl MonitorFormatter {
    pub(super) fn debug_event(&self, out: &mut String, d: &NftTraceEvent) {
        let packet = d.packet();
        let summary =
            (!packet.is_empty()).then(|| connection_line(&packet, CaptureLayer::Network, 0));
        if self.verbose() {
            line(out, SEPARATOR);
            let _ = write!(
                out,
                "DEBUG nftrace {:08x}: table {} {}, chain {}, {}",
                d.id,
                family_text(d.family),
                d.table,
                d.chain,
                step_text(d)
            );
            for (what, i, ty) in [("iif", &d.iif, d.iif_type), ("oif", &d.oif, d.oif_type)] {
                if let Some(i) = i {
                    let _ = write!(out, ", {what} {} (ifindex {}", iface(i), i.ifindex);
                    if let Some(t) = ty {
                        let _ = write!(out, ", type {t}");
                    }
                    out.push(')');
                }
            }
            if let Some(p) = d.nfproto {
                let _ = write!(out, ", nfproto {}", nfproto_text(p));
            }
            let _ = write!(out, ", mark {:#x}", d.mark.unwrap_or(0));
            if d.headers_inherited {
                out.push_str(", headers from an earlier step");
            }
            let _ = writeln!(out, ", time {}", d.header.time);
            if let Some(s) = &summary {
                let _ = writeln!(out, "{s}");
                for l in dissect::layer_lines(&packet, CaptureLayer::Network, 0, 0) {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
            if self.opts.hex {
                for (what, b) in [
                    ("link-layer header", &d.ll_header),
                    ("network header", &d.network_header),
                    ("transport header", &d.transport_header),
                ] {
                    if !b.is_empty() {
                        let _ = writeln!(out, "{what}:");
                        out.push_str(&hex_dump(b));
                    }
                }
            }
            return;
        }
        let _ = write!(
            out,
            "DEBUG: trace {:08x} {} {} {} {}",
            d.id,
            family_text(d.family),
            d.table,
            d.chain,
            step_text(d)
        );
        if let Some(i) = &d.iif {
            let _ = write!(out, ", iif {}", iface(i));
        }
        if let Some(i) = &d.oif {
            let _ = write!(out, ", oif {}", iface(i));
        }
        if self.opts.verbosity == Verbosity::Debug {
            if let Some(p) = d.nfproto {
                let _ = write!(out, ", nfproto {}", nfproto_text(p));
            }
            if let Some(t) = d.iif_type {
                let _ = write!(out, ", iiftype {t}");
            }
            if let Some(t) = d.oif_type {
                let _ = write!(out, ", oiftype {t}");
            }
            if let Some(m) = d.mark.filter(|m| *m != 0) {
                let _ = write!(out, ", mark {m:#x}");
            }
        }
        match summary {
            Some(s) => {
                let _ = writeln!(out, ": {s}");
            }
            None => out.push('\n'),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::MonitorOptions;
    use super::*;
    use crate::event::{Event, Header, NftVerdict, Source, Timestamp};

    /// IPv4 UDP 127.0.0.1:35898 -> 127.0.0.1:9999.
    const IP: [u8; 20] = [
        0x45, 0, 0, 29, 0x0a, 0x0e, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
    ];
    const UDP: [u8; 8] = [0x8c, 0x3a, 0x27, 0x0f, 0, 9, 0, 0];

    /// A rule step of a UDP packet on `lo` (also the JSON tests' event).
    pub(crate) fn step() -> NftTraceEvent {
        NftTraceEvent {
            header: Header {
                time: Timestamp::default(),
                source: Source::Nftrace,
                seq: 1,
            },
            id: 0x6d98_5a58,
            family: 1,
            table: "t".into(),
            chain: "input".into(),
            trace_type: NftTraceType::Rule,
            rule_handle: Some(8),
            rule_comment: None,
            verdict: Some(NftVerdict {
                code: -3,
                chain: Some("sub".into()),
            }),
            policy: None,
            nfproto: Some(2),
            iif: Some(Interface::named(1, "lo")),
            iif_type: Some(772),
            oif: None,
            oif_type: None,
            mark: Some(0x2a),
            ll_header: Vec::new(),
            network_header: IP.to_vec(),
            transport_header: UDP.to_vec(),
            headers_inherited: false,
        }
    }

    fn fmt(v: Verbosity, hex: bool, d: NftTraceEvent) -> String {
        MonitorFormatter::new(MonitorOptions { verbosity: v, hex })
            .format(&Event::Debug(Box::new(d)))
    }

    #[test]
    fn info_lines() {
        assert_eq!(
            fmt(Verbosity::Info, false, step()),
            "DEBUG: trace 6d985a58 inet t input rule handle 8 (verdict jump sub), iif lo: 127.0.0.1:35898 -> 127.0.0.1:9999 udp\n"
        );
        let mut p = step();
        p.trace_type = NftTraceType::Policy;
        p.rule_handle = None;
        p.verdict = None;
        p.policy = Some(0);
        p.iif = Some(Interface {
            ifindex: 9,
            name: None,
        });
        p.oif = Some(Interface::named(1, "lo"));
        p.network_header.clear();
        p.transport_header.clear();
        assert_eq!(
            fmt(Verbosity::Info, false, p),
            "DEBUG: trace 6d985a58 inet t input policy drop, iif if9, oif lo\n"
        );
        let mut e = step();
        e.rule_handle = None;
        e.verdict = Some(NftVerdict {
            code: -1,
            chain: None,
        });
        e.family = 10;
        assert_eq!(
            fmt(Verbosity::Info, false, e),
            "DEBUG: trace 6d985a58 ip6 t input end of chain (verdict continue), iif lo: 127.0.0.1:35898 -> 127.0.0.1:9999 udp\n"
        );
        let mut r = step();
        r.trace_type = NftTraceType::Return;
        r.rule_handle = None;
        r.verdict = Some(NftVerdict {
            code: 0x0005_0003,
            chain: None,
        });
        r.family = 99;
        assert_eq!(
            fmt(Verbosity::Info, false, r),
            "DEBUG: trace 6d985a58 family 99 t input return (verdict queue), iif lo: 127.0.0.1:35898 -> 127.0.0.1:9999 udp\n"
        );
    }

    #[test]
    fn rule_comment_after_the_handle() {
        let mut c = step();
        c.rule_comment = Some("to \"sub\"".into());
        assert_eq!(
            fmt(Verbosity::Info, false, c),
            "DEBUG: trace 6d985a58 inet t input rule handle 8 comment \"to \\\"sub\\\"\" (verdict jump sub), iif lo: 127.0.0.1:35898 -> 127.0.0.1:9999 udp\n"
        );
    }

    #[test]
    fn debug_line_adds_fields() {
        assert_eq!(
            fmt(Verbosity::Debug, false, step()),
            "DEBUG: trace 6d985a58 inet t input rule handle 8 (verdict jump sub), iif lo, nfproto ipv4, iiftype 772, mark 0x2a: 127.0.0.1:35898 -> 127.0.0.1:9999 udp\n"
        );
    }

    #[test]
    fn verbose_block() {
        let mut s = step();
        s.headers_inherited = true;
        let out = fmt(Verbosity::Verbose, true, s);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], SEPARATOR);
        assert_eq!(
            lines[1],
            format!(
                "DEBUG nftrace 6d985a58: table inet t, chain input, rule handle 8 (verdict jump sub), iif lo (ifindex 1, type 772), nfproto ipv4, mark 0x2a, headers from an earlier step, time {}",
                Timestamp::default()
            )
        );
        assert_eq!(lines[2], "127.0.0.1:35898 -> 127.0.0.1:9999 udp");
        assert!(lines.iter().any(|l| l.starts_with("IPv4")), "{out}");
        assert!(lines.iter().any(|l| l.starts_with("UDP")), "{out}");
        assert!(lines.contains(&"network header:"), "{out}");
        assert!(lines.contains(&"transport header:"), "{out}");
        assert!(!lines.contains(&"link-layer header:"), "{out}");
    }
}
