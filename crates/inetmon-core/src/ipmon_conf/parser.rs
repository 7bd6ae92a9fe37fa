//! Tokens into a [`Config`], with `$NAME` variables expanded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;

use std::path::PathBuf;

use super::lexer::{lex, Tok};
use super::{
    Action, Cidr, Conditions, ConfError, ConfErrorKind, Config, Every, RecordType, Rule,
    SyslogLevel, Verdict,
};
use crate::event::Direction;
use crate::names::ProtocolNames;

/// Parses the tokens of a file of `end_line` lines.
pub(super) fn parse(
    tokens: Vec<(usize, Tok)>,
    protocols: &ProtocolNames,
    end_line: usize,
) -> Result<Config, ConfError> {
    Parser {
        tokens,
        pos: 0,
        vars: HashMap::new(),
        protocols,
        end_line,
        expanding: Vec::new(),
        expanded: 0,
    }
    .config()
}

struct Parser<'p> {
    tokens: Vec<(usize, Tok)>,
    pos: usize,
    vars: HashMap<String, String>,
    protocols: &'p ProtocolNames,
    end_line: usize,
    /// The variable expansions still being read: (end of the expanded
    /// tokens in `tokens`, variable name), innermost last. A `$NAME` met
    /// inside the expansion of `NAME` is a loop, wherever it stands.
    expanding: Vec<(usize, String)>,
    /// Tokens added by expansions so far, capped at [`MAX_EXPANDED`] so that
    /// variables doubling each other cannot grow the text without bound.
    expanded: usize,
}

/// The most tokens variable expansions may add to one file.
const MAX_EXPANDED: usize = 1 << 16;

type PResult<T> = Result<T, ConfError>;

impl Parser<'_> {
    fn line(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end_line, |t| t.0)
    }

    fn err<T>(&self, kind: ConfErrorKind) -> PResult<T> {
        Err(ConfError {
            line: self.line(),
            kind,
        })
    }

    /// The next token after expanding variables, without consuming it.
    fn peek(&mut self) -> PResult<Option<&Tok>> {
        while let Some((line, Tok::Var(name))) = self.tokens.get(self.pos).cloned() {
            let pos = self.pos;
            self.expanding.retain(|(end, _)| *end > pos);
            if self.expanding.iter().any(|(_, n)| *n == name) {
                return Err(ConfError {
                    line,
                    kind: ConfErrorKind::VariableLoop(name),
                });
            }
            let Some(value) = self.vars.get(&name) else {
                return Err(ConfError {
                    line,
                    kind: ConfErrorKind::UndefinedVariable(name),
                });
            };
            let expanded = lex(value).map_err(|e| ConfError { line, kind: e.kind })?;
            let n = expanded.len();
            self.expanded = self.expanded.saturating_add(n);
            if self.expanded > MAX_EXPANDED {
                return Err(ConfError {
                    line,
                    kind: ConfErrorKind::VariableLoop(name),
                });
            }
            // The enclosing expansions all contain `pos`: they grow by n - 1.
            for (end, _) in &mut self.expanding {
                *end = (*end + n).saturating_sub(1);
            }
            self.expanding.push((pos + n, name));
            let expanded = expanded.into_iter().map(|(_, t)| (line, t));
            self.tokens.splice(pos..=pos, expanded);
        }
        Ok(self.tokens.get(self.pos).map(|t| &t.1))
    }

    fn next(&mut self, expected: &str) -> PResult<Tok> {
        match self.peek()?.cloned() {
            Some(t) => {
                self.pos += 1;
                Ok(t)
            }
            None => self.err(ConfErrorKind::End {
                expected: expected.into(),
            }),
        }
    }

    fn unexpected<T>(&mut self, expected: &str, found: &Tok) -> PResult<T> {
        self.pos = self.pos.saturating_sub(1);
        self.err(ConfErrorKind::Unexpected {
            expected: expected.into(),
            found: found.describe(),
        })
    }

    fn punct(&mut self, c: char) -> PResult<()> {
        let expected = format!("'{c}'");
        match self.next(&expected)? {
            Tok::Punct(p) if p == c => Ok(()),
            t => self.unexpected(&expected, &t),
        }
    }

    fn eat_punct(&mut self, c: char) -> PResult<bool> {
        if self.peek()? == Some(&Tok::Punct(c)) {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    fn word(&mut self, expected: &str) -> PResult<String> {
        match self.next(expected)? {
            Tok::Word(w) => Ok(w),
            t => self.unexpected(expected, &t),
        }
    }

    fn string(&mut self, expected: &str) -> PResult<String> {
        match self.next(expected)? {
            Tok::Str(s) => Ok(s),
            t => self.unexpected(expected, &t),
        }
    }

    /// A word or a string: names may be written either way.
    fn text(&mut self, expected: &str) -> PResult<String> {
        match self.next(expected)? {
            Tok::Str(s) | Tok::Word(s) => Ok(s),
            t => self.unexpected(expected, &t),
        }
    }

    fn number<T: FromStr>(&mut self, what: &'static str) -> PResult<T> {
        let w = self.word("a number")?;
        w.parse().or_else(|_| {
            self.pos -= 1;
            self.err(ConfErrorKind::BadValue {
                what,
                value: w,
                why: "not a number in range",
            })
        })
    }

    fn config(mut self) -> PResult<Config> {
        let mut rules = Vec::new();
        while let Some(t) = self.peek()?.cloned() {
            let line = self.line();
            match t {
                Tok::Punct(';') => self.pos += 1,
                Tok::Word(w) if w == "match" => {
                    self.pos += 1;
                    rules.push(self.rule(line)?);
                }
                Tok::Word(w) if w == "load_action" => {
                    return self.err(ConfErrorKind::Unsupported(
                        "load_action (actions from shared objects)".into(),
                    ));
                }
                Tok::Word(name) => {
                    self.pos += 1;
                    self.punct('=')?;
                    let value = self.string("a quoted value")?;
                    self.punct(';')?;
                    self.vars.insert(name, value);
                }
                t => {
                    return self
                        .unexpected("\"match\", \"load_action\" or a variable assignment", &t)
                }
            }
        }
        Ok(Config {
            rules,
            matched: Vec::new(),
        })
    }

    fn rule(&mut self, line: usize) -> PResult<Rule> {
        self.punct('{')?;
        let mut c = Conditions::default();
        loop {
            self.condition(&mut c)?;
            if !self.eat_punct(',')? {
                break;
            }
        }
        self.eat_punct(';')?;
        self.punct('}')?;
        not_for(&c, line)?;
        let kw = self.word("\"do\"")?;
        if kw != "do" {
            return self.unexpected("\"do\"", &Tok::Word(kw));
        }
        self.punct('{')?;
        let mut actions = Vec::new();
        loop {
            actions.push(self.action()?);
            if !self.eat_punct(',')? {
                break;
            }
        }
        self.eat_punct(';')?;
        self.punct('}')?;
        self.eat_punct(';')?;
        Ok(Rule {
            line,
            conditions: c,
            actions,
            last_match: None,
            packets_seen: 0,
        })
    }

    fn set<T>(&self, slot: &mut Option<T>, name: &'static str, v: T) -> PResult<()> {
        if slot.is_some() {
            return self.err(ConfErrorKind::Repeated(name));
        }
        *slot = Some(v);
        Ok(())
    }

    fn condition(&mut self, c: &mut Conditions) -> PResult<()> {
        let name = self.word("a condition")?;
        if name == "every" {
            let v = self.every()?;
            return self.set(&mut c.every, "every", v);
        }
        let Some(&key) = KNOWN_CONDITIONS.iter().find(|&&k| k == name) else {
            self.pos -= 1;
            return self.err(ConfErrorKind::UnknownCondition(name));
        };
        self.punct('=')?;
        // Each arm parses the value, then stores it unless the condition was
        // given before (`filled` is false then).
        let filled = match key {
            "direction" => {
                let v = match self.word("in or out")?.as_str() {
                    "in" => Direction::In,
                    "out" => Direction::Out,
                    other => return self.bad("direction", other, "not in or out"),
                };
                fill(&mut c.direction, v)
            }
            "srcip" => fill(&mut c.src, self.prefix(key)?),
            "dstip" => fill(&mut c.dst, self.prefix(key)?),
            "srcport" => fill(&mut c.sport, self.number(key)?),
            "dstport" => fill(&mut c.dport, self.number(key)?),
            "protocol" => fill(&mut c.protocol, self.protocol()?),
            "group" => fill(&mut c.group, self.text("a group name or number")?),
            "interface" => fill(&mut c.interface, self.text("an interface name")?),
            "logtag" => fill(&mut c.log_tag, self.number(key)?),
            "nattag" => fill(&mut c.nat_tag, self.text("a NAT tag")?),
            "result" => {
                let v = match self.word("pass, block, nomatch or log")?.as_str() {
                    "pass" => Verdict::Pass,
                    "block" => Verdict::Block,
                    "nomatch" => Verdict::NoMatch,
                    "log" => Verdict::Log,
                    other => return self.bad("result", other, "not pass, block, nomatch or log"),
                };
                fill(&mut c.result, v)
            }
            "rule" => fill(&mut c.rule, self.number(key)?),
            _ => {
                let v = match self.word("ipf, nat or state")?.as_str() {
                    "ipf" => RecordType::Ipf,
                    "nat" => RecordType::Nat,
                    "state" => RecordType::State,
                    other => return self.bad("type", other, "not ipf, nat or state"),
                };
                fill(&mut c.record_type, v)
            }
        };
        if filled {
            Ok(())
        } else {
            self.err(ConfErrorKind::Repeated(key))
        }
    }

    /// A protocol number or a name from the protocol table.
    fn protocol(&mut self) -> PResult<u8> {
        let w = self.text("a protocol")?;
        if let Ok(n) = w.parse::<u8>() {
            return Ok(n);
        }
        match (0..=255u8).find(|&n| self.protocols.name(n) == Some(w.as_str())) {
            Some(n) => Ok(n),
            None => self.bad("protocol", &w, "unknown protocol name"),
        }
    }

    fn bad<T>(&mut self, what: &'static str, value: &str, why: &'static str) -> PResult<T> {
        self.pos = self.pos.saturating_sub(1);
        self.err(ConfErrorKind::BadValue {
            what,
            value: value.into(),
            why,
        })
    }

    fn every(&mut self) -> PResult<Every> {
        let w = self.word("second, packet or a number")?;
        match w.as_str() {
            "second" => return Ok(Every::Seconds(1)),
            "packet" => return Ok(Every::Packets(1)),
            _ => {}
        }
        let Ok(n) = w.parse::<u32>() else {
            return self.bad("every", &w, "not second, packet or a number");
        };
        if n == 0 {
            return self.bad("every", &w, "must be at least 1");
        }
        match self.word("seconds or packets")?.as_str() {
            "seconds" | "second" => Ok(Every::Seconds(n)),
            "packets" | "packet" => Ok(Every::Packets(n)),
            other => self.bad("every", other, "not seconds or packets"),
        }
    }

    fn prefix(&mut self, what: &'static str) -> PResult<Cidr> {
        let w = self.word("an address")?;
        let Ok(addr) = w.parse::<IpAddr>() else {
            return self.bad(what, &w, "not an IP address");
        };
        if !self.eat_punct('/')? {
            return self.err(ConfErrorKind::BadValue {
                what,
                value: w,
                why: "the /mask is required",
            });
        }
        let len: u8 = self.number(what)?;
        match Cidr::new(addr, len) {
            Ok(c) => Ok(c),
            Err(problem) => self.bad(what, &len.to_string(), problem.why()),
        }
    }

    fn action(&mut self) -> PResult<Action> {
        let name = self.word("an action")?;
        match name.as_str() {
            "nothing" => Ok(Action::Nothing),
            "syslog" => {
                if !self.eat_punct('(')? {
                    return Ok(Action::Syslog(SyslogLevel::default()));
                }
                let s = self.string("a \"facility.priority\" string")?;
                self.punct(')')?;
                match syslog_level(&s) {
                    Some(l) => Ok(Action::Syslog(l)),
                    None => self.bad("syslog", &s, "not facility.priority with known names"),
                }
            }
            "file" => {
                self.punct('(')?;
                let s = self.string("a \"file:///path\" or \"raw:///path\" string")?;
                self.punct(')')?;
                if let Some(p) = s.strip_prefix("file://").filter(|p| p.starts_with('/')) {
                    Ok(Action::AppendText(PathBuf::from(p)))
                } else if let Some(p) = s.strip_prefix("raw://").filter(|p| p.starts_with('/')) {
                    Ok(Action::AppendRaw(PathBuf::from(p)))
                } else {
                    self.bad("file", &s, "not file:///path or raw:///path")
                }
            }
            "execute" => {
                self.punct('(')?;
                let s = self.string("a command string")?;
                self.punct(')')?;
                if s.trim().is_empty() {
                    return self.bad("execute", &s, "empty command");
                }
                Ok(Action::Execute(s))
            }
            "snmpv1" | "snmpv2" => {
                self.pos -= 1;
                self.err(ConfErrorKind::Unsupported(format!("the {name} action")))
            }
            "save" => {
                self.pos -= 1;
                self.err(ConfErrorKind::Unsupported(
                    "save(…) (IP Filter 4.1 syntax; use file(…))".into(),
                ))
            }
            _ => {
                self.pos -= 1;
                self.err(ConfErrorKind::UnknownAction(name))
            }
        }
    }
}

/// Stores `v` in `slot` unless it holds a value already; whether it
/// stored it.
fn fill<T>(slot: &mut Option<T>, v: T) -> bool {
    let empty = slot.is_none();
    if empty {
        *slot = Some(v);
    }
    empty
}

const KNOWN_CONDITIONS: [&str; 13] = [
    "direction",
    "srcip",
    "dstip",
    "srcport",
    "dstport",
    "protocol",
    "group",
    "interface",
    "logtag",
    "nattag",
    "result",
    "rule",
    "type",
];

/// Parses `"fac.pri"`, `"fac."`, `".pri"` (and `"fac"` alone).
fn syslog_level(s: &str) -> Option<SyslogLevel> {
    let (fac, pri) = s.split_once('.').unwrap_or((s, ""));
    // An empty part is "not given"; an unknown name is an error.
    let find = |lookup: fn(&str) -> Option<u8>, name: &str| -> Option<Option<u8>> {
        if name.is_empty() {
            Some(None)
        } else {
            lookup(name).map(Some)
        }
    };
    let level = SyslogLevel {
        facility: find(crate::syslog_names::facility_code, fac)?,
        priority: find(crate::syslog_names::priority_code, pri)?,
    };
    (level != SyslogLevel::default()).then_some(level)
}

/// Refuses a packet-only condition on a `type = nat`/`state` line (at the
/// line of its `match`).
fn not_for(c: &Conditions, line: usize) -> PResult<()> {
    let record = match c.record_type {
        Some(RecordType::Nat) => "nat",
        Some(RecordType::State) => "state",
        Some(RecordType::Ipf) | None => return Ok(()),
    };
    let packet_only = [
        ("direction", c.direction.is_some()),
        ("group", c.group.is_some()),
        ("interface", c.interface.is_some()),
        ("logtag", c.log_tag.is_some()),
        ("nattag", c.nat_tag.is_some()),
        ("result", c.result.is_some()),
        ("rule", c.rule.is_some()),
    ];
    match packet_only.iter().find(|(_, given)| *given) {
        Some((condition, _)) => Err(ConfError {
            line,
            kind: ConfErrorKind::NotFor { condition, record },
        }),
        None => Ok(()),
    }
}
