//! Trying the `match` lines against a logged packet.

use super::{Action, Conditions, Config, Every, RecordType, Rule, Verdict};
use crate::dissect::HeaderFacts;
use crate::event::{self, PacketLog, RuleGroup, Timestamp};

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
        self.matched.clear();
        let facts = HeaderFacts::of(&p.packet);
        for (i, rule) in self.rules.iter_mut().enumerate() {
            if rule.conditions.hold(p, &facts) && rule.rate_allows(now) {
                self.matched.push(i);
            }
        }
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
    fn hold(&self, p: &PacketLog, s: &HeaderFacts) -> bool {
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
