//! Trying the `match` lines against a logged packet, NAT or state record.

use std::net::IpAddr;

use super::{Action, Conditions, Config, Every, RecordType, Rule, Verdict};
use crate::dissect::HeaderFacts;
use crate::event::{self, Event, NatLog, PacketLog, RuleGroup, StateLog, Timestamp};

/// The record a line is tried against.
enum Record<'a> {
    Packet(&'a PacketLog, HeaderFacts),
    /// NAT or state: the original direction's ends and the protocol.
    Flow {
        kind: RecordType,
        src: IpAddr,
        dst: IpAddr,
        ports: Option<(u16, u16)>,
        protocol: u8,
    },
}

impl<'a> Record<'a> {
    fn nat(n: &NatLog) -> Record<'a> {
        Record::Flow {
            kind: RecordType::Nat,
            src: n.orig_src.0,
            dst: n.orig_dst.0,
            ports: matches!(n.protocol, 6 | 17).then_some((n.orig_src.1, n.orig_dst.1)),
            protocol: n.protocol,
        }
    }

    fn state(s: &StateLog) -> Record<'a> {
        Record::Flow {
            kind: RecordType::State,
            src: s.src,
            dst: s.dst,
            ports: matches!(s.protocol, 6 | 17).then_some(s.ports),
            protocol: s.protocol,
        }
    }
}

impl Config {
    /// The `match` lines, in file order.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Tries every line against `p` at time `now` (the record's time when
    /// reading a file, the wall clock when live: it only feeds the
    /// `every N seconds` limits) and yields the actions of the lines that
    /// matched, in file order. Updates the rate-limit state of the lines
    /// whose other conditions held.
    pub fn matches<'a>(
        &'a mut self,
        p: &PacketLog,
        now: Timestamp,
    ) -> impl Iterator<Item = &'a Action> + 'a {
        self.mark(&Record::Packet(p, HeaderFacts::of(&p.packet)), now);
        self.collect_matched()
    }

    /// [`Config::matches`] for any event: packets are tried against the
    /// lines without `type` (or `type = ipf`), NAT records against the
    /// `type = nat` lines, state records against the `type = state` lines;
    /// other events match nothing.
    pub fn matches_event<'a>(
        &'a mut self,
        ev: &Event,
        now: Timestamp,
    ) -> impl Iterator<Item = &'a Action> + 'a {
        let rec = match ev {
            Event::Packet(p) => Some(Record::Packet(p, HeaderFacts::of(&p.packet))),
            Event::Nat(n) => Some(Record::nat(n)),
            Event::State(s) => Some(Record::state(s)),
            _ => None,
        };
        match rec {
            Some(rec) => self.mark(&rec, now),
            None => self.matched.clear(),
        }
        self.collect_matched()
    }

    /// Notes the lines that match `rec` (updating their rate limits).
    fn mark(&mut self, rec: &Record<'_>, now: Timestamp) {
        self.matched.clear();
        for (i, rule) in self.rules.iter_mut().enumerate() {
            if rule.conditions.hold(rec) && rule.rate_allows(now) {
                self.matched.push(i);
            }
        }
    }

    fn collect_matched<'a>(&'a self) -> impl Iterator<Item = &'a Action> + 'a {
        let rules = &self.rules;
        self.matched
            .iter()
            .filter_map(move |&i| rules.get(i))
            .flat_map(|r| r.actions.iter())
    }
}

impl Rule {
    fn rate_allows(&mut self, now: Timestamp) -> bool {
        match self.conditions.every {
            None => true,
            Some(Every::Seconds(n)) => {
                let ok = self
                    .last_match
                    .is_none_or(|last| now.secs.saturating_sub(last) >= i64::from(n));
                if ok {
                    self.last_match = Some(now.secs);
                }
                ok
            }
            Some(Every::Packets(n)) => {
                let ok = self.packets_seen.is_multiple_of(u64::from(n.max(1)));
                self.packets_seen += 1;
                ok
            }
        }
    }
}

impl Conditions {
    fn hold(&self, rec: &Record<'_>) -> bool {
        match rec {
            Record::Packet(p, facts) => self.hold_packet(p, facts),
            Record::Flow {
                kind,
                src,
                dst,
                ports,
                protocol,
            } => {
                // The parser refuses packet-only conditions on these lines.
                self.record_type == Some(*kind)
                    && self.src.is_none_or(|n| n.contains(*src))
                    && self.dst.is_none_or(|n| n.contains(*dst))
                    && self.sport.is_none_or(|x| ports.is_some_and(|p| p.0 == x))
                    && self.dport.is_none_or(|x| ports.is_some_and(|p| p.1 == x))
                    && self.protocol.is_none_or(|x| *protocol == x)
            }
        }
    }

    fn hold_packet(&self, p: &PacketLog, s: &HeaderFacts) -> bool {
        let Conditions {
            direction,
            src,
            dst,
            sport,
            dport,
            protocol,
            group,
            interface,
            log_tag,
            nat_tag,
            result,
            rule,
            every: _,
            record_type,
        } = self;
        let tcp_udp = matches!(s.protocol, Some(6 | 17));
        let verdict = match p.action {
            event::Action::Pass => Verdict::Pass,
            event::Action::Block => Verdict::Block,
            event::Action::NoMatch => Verdict::NoMatch,
            event::Action::Log | event::Action::Unknown => Verdict::Log,
        };
        direction.is_none_or(|d| p.direction == Some(d))
            && src.is_none_or(|n| s.src.is_some_and(|a| n.contains(a)))
            && dst.is_none_or(|n| s.dst.is_some_and(|a| n.contains(a)))
            && sport.is_none_or(|x| tcp_udp && s.sport == Some(x))
            && dport.is_none_or(|x| tcp_udp && s.dport == Some(x))
            && protocol.is_none_or(|x| s.protocol == Some(x))
            && group
                .as_ref()
                .is_none_or(|g| matches!(&p.group, RuleGroup::Named(n) if n == g))
            && interface.as_ref().is_none_or(|i| &p.interface == i)
            && log_tag.is_none_or(|t| p.log_tag == t)
            && nat_tag.as_ref().is_none_or(|t| &p.nat_tag == t)
            && result.is_none_or(|r| r == verdict)
            && rule.is_none_or(|r| p.rule == Some(r))
            && record_type.is_none_or(|t| t == RecordType::Ipf)
    }
}
