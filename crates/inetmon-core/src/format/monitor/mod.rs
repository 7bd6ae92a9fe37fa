//! The `inetmon monitor` text format: every event kind in one stream, in the
//! shapes of the Cilium monitor (`reference/monitor.md` §2) adapted to our
//! records, without Cilium's known artifacts (no `, , identity`, no flow
//! hashes or endpoint ids we do not have, no drop hex/dissect inversion, no
//! trailing space after a flagless TCP connection line).
//!
//! Verbosity:
//! - [`Verbosity::Info`] (default): one line per event. Drops and traces
//!   start with the `CPU NN:` prefix: `CPU 01: xx drop (NO_SOCKET) interface
//!   veth0, location __udp4_lib_rcv+0x5a4: 10.0.0.1:41022 -> 10.0.0.2:8080
//!   udp` and `CPU 00: -> network interface veth0: 10.0.0.1 -> 10.0.0.2 icmp
//!   EchoRequest`.
//! - [`Verbosity::Debug`] (`-v`): the same line with lengths, raw reason
//!   code, protocol, netns, mark and sampling appended.
//! - [`Verbosity::Verbose`] (`-vv`): a 78-dash separator, a header line,
//!   then one line per decoded layer (Ethernet/IPv4/IPv6/TCP/UDP/ICMP/
//!   ICMPv6/IGMP/VRRP); with `--hex` ([`MonitorOptions::hex`]) a
//!   `hexdump -C`-style dump follows.
//!
//! nftables trace steps (`debug`) are described in `nftrace.rs`.
//!
//! The other kinds (packet, nat, state, sock, lost, malformed) get one line
//! at every verbosity; NFLOG packets are also dissected at `-vv`.

mod connection;
pub(crate) mod dissect;
mod hexdump;
mod names;
pub(crate) mod nftrace;
mod sock;

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

pub use connection::connection_line;
pub use hexdump::hex_dump;
pub use sock::sock_line;

use crate::event::{
    Action, CaptureLayer, Direction, DropEvent, Event, Interface, Lost, Malformed, NatAction,
    NatLog, NatType, ObservationPoint, PacketLog, RuleGroup, StateLog, StateType, TraceEvent,
};

/// How much to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Verbosity {
    /// One line per event.
    #[default]
    Info,
    /// `-v`: one line per event with more fields.
    Debug,
    /// `-vv`: multi-line, with full dissection.
    Verbose,
}

/// Options of the monitor format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MonitorOptions {
    /// How much to print.
    pub verbosity: Verbosity,
    /// At `-vv`, add a hex dump of the captured bytes after the layers.
    pub hex: bool,
}

/// The separator line printed before each `-vv` record (78 dashes, as in
/// the Cilium monitor).
pub const SEPARATOR: &str =
    "------------------------------------------------------------------------------";

/// Formats events as monitor text.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonitorFormatter {
    opts: MonitorOptions,
}

/// `, netns N` and `, mark 0x…` of a debug line, each only when not 0.
fn netns_mark(out: &mut String, netns: u32, mark: u32) {
    if netns != 0 {
        let _ = write!(out, ", netns {netns}");
    }
    if mark != 0 {
        let _ = write!(out, ", mark {mark:#x}");
    }
}

impl MonitorFormatter {
    /// A formatter with these options.
    #[must_use]
    pub fn new(opts: MonitorOptions) -> Self {
        MonitorFormatter { opts }
    }

    /// The text of one event: one or more lines, each ending in `\n`.
    #[must_use]
    pub fn format(&self, event: &Event) -> String {
        let mut s = String::with_capacity(160);
        self.format_into(&mut s, event);
        s
    }

    /// Appends the text of one event to `out`.
    pub fn format_into(&self, out: &mut String, event: &Event) {
        match event {
            Event::Drop(d) => self.drop_event(out, d),
            Event::Trace(t) => self.trace_event(out, t),
            Event::Debug(d) => self.debug_event(out, d),
            Event::Packet(p) => self.packet_event(out, p),
            Event::Nat(n) => line(out, &nat_line(n)),
            Event::State(s) => line(out, &state_line(s)),
            Event::Sock(s) => line(out, &sock_line(s)),
            Event::Lost(l) => line(out, &lost_line(l)),
            Event::Malformed(m) => line(out, &malformed_line(m)),
        }
    }

    /// Writes the text of one event with a single `write_all`.
    ///
    /// # Errors
    /// Errors of `out`.
    pub fn write_event<W: Write>(&self, out: &mut W, event: &Event) -> io::Result<()> {
        out.write_all(self.format(event).as_bytes())
    }

    fn verbose(&self) -> bool {
        self.opts.verbosity == Verbosity::Verbose
    }

    fn drop_event(&self, out: &mut String, d: &DropEvent) {
        let conn = connection_line(&d.packet, d.layer, d.protocol);
        if self.verbose() {
            line(out, SEPARATOR);
            let _ = write!(
                out,
                "CPU {:02}: DROP: {} bytes ({} captured), reason {} ({}), {}, location {}",
                d.cpu,
                d.orig_len,
                d.packet.len(),
                d.reason,
                d.reason.code,
                iface_full(&d.interface),
                d.location
            );
            if d.location.symbol.is_some() {
                let _ = write!(out, " ({:#x})", d.location.addr);
            }
            let _ = write!(out, ", protocol {}", dissect::ethertype_name(d.protocol));
            if let Some(p) = &d.process {
                let _ = write!(out, ", pid {} tid {} ({})", p.pid, p.tid, p.comm);
            }
            let _ = write!(out, ", netns {}", d.netns);
            if let Some(n) = &d.netns_name {
                let _ = write!(out, " ({n})");
            }
            let _ = write!(out, ", mark {:#x}, time {}", d.mark, d.header.time);
            out.push('\n');
            let _ = writeln!(out, "{conn}");
            self.packet_detail(out, &d.packet, d.layer, d.protocol, d.orig_len);
            return;
        }
        let _ = write!(out, "CPU {:02}: xx drop ({})", d.cpu, d.reason);
        let mut sep = " ";
        if d.interface.ifindex != 0 || d.interface.name.is_some() {
            let _ = write!(out, "{sep}interface {}", d.interface);
            sep = ", ";
        }
        if d.foreign_netns {
            let _ = write!(out, "{sep}netns {}", NetnsLabel(d));
            sep = ", ";
        }
        if d.location.addr != 0 {
            let _ = write!(out, "{sep}location {}", d.location);
            sep = ", ";
        }
        if let Some(p) = &d.process {
            let _ = write!(out, "{sep}pid {} ({})", p.pid, p.comm);
            sep = ", ";
        }
        if self.opts.verbosity == Verbosity::Debug {
            let _ = write!(
                out,
                "{sep}{} bytes ({} captured), code {}, protocol {}",
                d.orig_len,
                d.packet.len(),
                d.reason.code,
                dissect::ethertype_name(d.protocol)
            );
            netns_mark(out, if d.foreign_netns { 0 } else { d.netns }, d.mark);
        }
        let _ = writeln!(out, ": {conn}");
    }

    fn trace_event(&self, out: &mut String, t: &TraceEvent) {
        let conn = connection_line(&t.packet, t.layer, t.protocol);
        if self.verbose() {
            line(out, SEPARATOR);
            let _ = write!(
                out,
                "CPU {:02}: TRACE {}: {} bytes ({} captured), {}, protocol {}",
                t.cpu,
                t.point.name(),
                t.orig_len,
                t.packet.len(),
                iface_full(&t.interface),
                dissect::ethertype_name(t.protocol),
            );
            if let Some(p) = &t.process {
                let _ = write!(out, ", pid {} tid {} ({})", p.pid, p.tid, p.comm);
            }
            if t.sock_cookie != 0 {
                let _ = write!(out, ", socket {}", t.sock_cookie);
            }
            let _ = writeln!(
                out,
                ", sample 1/{}, netns {}, mark {:#x}, time {}",
                t.sample_rate, t.netns, t.mark, t.header.time
            );
            let _ = writeln!(out, "{conn}");
            self.packet_detail(out, &t.packet, t.layer, t.protocol, t.orig_len);
            return;
        }
        let _ = write!(out, "CPU {:02}: {}", t.cpu, point_arrow(t.point));
        let stack = matches!(
            t.point,
            ObservationPoint::FromStack | ObservationPoint::ToStack
        );
        let mut sep = " ";
        // A stack point names the device only when the stack has one.
        if !stack || t.interface.ifindex != 0 {
            let _ = write!(out, " interface {}", t.interface);
            sep = ", ";
        }
        if let Some(p) = &t.process {
            let _ = write!(out, "{sep}pid {} ({})", p.pid, p.comm);
            sep = ", ";
        }
        if self.opts.verbosity == Verbosity::Debug && t.sock_cookie != 0 {
            let _ = write!(out, "{sep}socket {}", t.sock_cookie);
        }
        if self.opts.verbosity == Verbosity::Debug {
            let _ = write!(
                out,
                ", {} bytes ({} captured), protocol {}",
                t.orig_len,
                t.packet.len(),
                dissect::ethertype_name(t.protocol)
            );
            if t.sample_rate > 1 {
                let _ = write!(out, ", sampled 1/{}", t.sample_rate);
            }
            netns_mark(out, t.netns, t.mark);
        }
        let _ = writeln!(out, ": {conn}");
    }

    fn packet_event(&self, out: &mut String, p: &PacketLog) {
        let layer = if p.packet.is_empty() {
            CaptureLayer::None
        } else {
            CaptureLayer::Network
        };
        let conn = connection_line(&p.packet, layer, 0);
        let action = match p.action {
            Action::Pass => "pass",
            Action::Block => "block",
            Action::Log => "log",
            Action::NoMatch => "nomatch",
            Action::Unknown => "unknown",
        };
        let _ = write!(out, "-- packet ({action}) interface {}", p.interface);
        match p.direction {
            Some(Direction::In) => out.push_str(" in"),
            Some(Direction::Out) => out.push_str(" out"),
            None => {}
        }
        let group = match &p.group {
            RuleGroup::None => "-1",
            RuleGroup::Named(g) => g.as_str(),
        };
        match p.rule {
            Some(r) => {
                let _ = write!(out, ", rule @{group}:{r}");
            }
            None => {
                let _ = write!(out, ", rule @{group}:-1");
            }
        }
        if let Some(n) = &p.nflog {
            if !n.prefix.is_empty() {
                let _ = write!(out, ", prefix {:?}", n.prefix);
            }
        }
        let _ = writeln!(out, ": {conn}");
        if self.verbose() && !p.packet.is_empty() {
            let orig = p.nflog.as_ref().and_then(|n| n.orig_len).unwrap_or(0);
            self.packet_detail(out, &p.packet, CaptureLayer::Network, 0, orig);
        }
    }

    fn packet_detail(
        &self,
        out: &mut String,
        data: &[u8],
        layer: CaptureLayer,
        et: u16,
        orig: u32,
    ) {
        for l in dissect::layer_lines(data, layer, et, orig) {
            out.push_str(&l);
            out.push('\n');
        }
        if self.opts.hex {
            out.push_str(&hex_dump(data));
        }
    }
}

fn line(out: &mut String, s: &str) {
    out.push_str(s);
    out.push('\n');
}

/// `interface veth0 (ifindex 4)`, or `ifindex 4` when the name is unknown.
/// A drop's namespace on the line: its `ip netns` name, else its inode.
struct NetnsLabel<'a>(&'a DropEvent);

impl std::fmt::Display for NetnsLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0.netns_name {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0.netns),
        }
    }
}

fn iface_full(i: &Interface) -> String {
    match &i.name {
        Some(n) => format!("interface {n} (ifindex {})", i.ifindex),
        None => format!("ifindex {}", i.ifindex),
    }
}

fn point_arrow(p: ObservationPoint) -> String {
    match p {
        ObservationPoint::FromNetwork => "<- network".to_owned(),
        ObservationPoint::ToNetwork => "-> network".to_owned(),
        ObservationPoint::FromStack => "<- stack".to_owned(),
        ObservationPoint::ToStack => "-> stack".to_owned(),
        ObservationPoint::Other(n) => format!("-- point {n}"),
    }
}

fn addr_port(a: IpAddr, port: u16, proto: u8) -> String {
    if matches!(proto, 6 | 17 | 132) {
        std::net::SocketAddr::new(a, port).to_string()
    } else {
        a.to_string()
    }
}

/// `<> nat NEW MAP tcp 10.0.0.1:1234 -> 1.1.1.1:80 as 192.0.2.1:40000 -> 1.1.1.1:80`
fn nat_line(n: &NatLog) -> String {
    let action = match n.action {
        NatAction::New => "NEW".to_owned(),
        NatAction::Clone => "CLONE".to_owned(),
        NatAction::Purge => "PURGE".to_owned(),
        NatAction::Destroy => "DESTROY".to_owned(),
        NatAction::Flush => "FLUSH".to_owned(),
        NatAction::Expire => "EXPIRE".to_owned(),
        NatAction::Other(x) => format!("action {x}"),
    };
    let ty = match n.nat_type {
        NatType::Map => "MAP".to_owned(),
        NatType::Rdr => "RDR".to_owned(),
        NatType::Bimap => "BIMAP".to_owned(),
        NatType::MapBlock => "MAPBLOCK".to_owned(),
        NatType::Other(x) => format!("type {x}"),
    };
    let ap = |(a, p): (IpAddr, u16)| addr_port(a, p, n.protocol);
    format!(
        "<> nat {action} {ty} {} {} -> {} as {} -> {}",
        dissect::proto_name(n.protocol),
        ap(n.orig_src),
        ap(n.orig_dst),
        ap(n.new_src),
        ap(n.new_dst)
    )
}

/// `<> state NEW tcp 10.0.0.1:1234 -> 10.0.0.2:80`
fn state_line(s: &StateLog) -> String {
    let ty = match s.state_type {
        StateType::New => "NEW".to_owned(),
        StateType::Cloned => "CLONED".to_owned(),
        StateType::Expire => "EXPIRE".to_owned(),
        StateType::Flush => "FLUSH".to_owned(),
        StateType::Intermediate => "UPDATE".to_owned(),
        StateType::Remove => "REMOVE".to_owned(),
        StateType::Killed => "KILLED".to_owned(),
        StateType::Unload => "UNLOAD".to_owned(),
        StateType::Other(x) => format!("type {x}"),
    };
    let mut l = format!(
        "<> state {ty} {} {} -> {}",
        dissect::proto_name(s.protocol),
        addr_port(s.src, s.ports.0, s.protocol),
        addr_port(s.dst, s.ports.1, s.protocol)
    );
    if s.packets.iter().any(|&p| p != 0) {
        let _ = write!(
            l,
            ", packets {}/{}, bytes {}/{}",
            s.packets[0].saturating_add(s.packets[1]),
            s.packets[2].saturating_add(s.packets[3]),
            s.bytes[0].saturating_add(s.bytes[1]),
            s.bytes[2].saturating_add(s.bytes[3])
        );
    }
    l
}

/// `Lost 7 events (stage kernel, source datapath)`, plus the kinds and the
/// missing sequence range when known.
fn lost_line(l: &Lost) -> String {
    let mut s = format!(
        "Lost {} event{} (stage {}, source {}",
        l.count,
        if l.count == 1 { "" } else { "s" },
        l.stage.as_str(),
        l.header.source
    );
    if !l.kinds.is_empty() {
        let kinds: Vec<&str> = l.kinds.iter().map(|k| k.as_str()).collect();
        let _ = write!(s, ", kinds {}", kinds.join(","));
    }
    if let Some((a, b)) = l.seq_range {
        let _ = write!(s, ", seq {a}-{b}");
    }
    if !l.breakdown.is_empty() {
        let _ = write!(s, ", {}", l.breakdown_text());
    }
    s.push(')');
    s
}

/// `!! malformed input from <source> at offset N (skipped M bytes): reason`
fn malformed_line(m: &Malformed) -> String {
    format!(
        "!! malformed input from {} at offset {} (skipped {} bytes): {}",
        m.header.source, m.offset, m.skipped, m.reason
    )
}

#[cfg(test)]
pub(crate) mod tests;
