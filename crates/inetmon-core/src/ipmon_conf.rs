//! The `ipmon -C` action file: IP Filter 5.1's `ipmon.conf` language.
//!
//! ```text
//! # comment
//! WEB = "80" ;
//! match { srcip = 10.1.0.0/16, dstport = $WEB, every 10 seconds ; }
//!     do { file("file:///var/log/web"), syslog("local0.info") ; } ;
//! match { result = block, protocol = tcp ; } do { execute("/usr/local/bin/alert") ; } ;
//! ```
//!
//! [`parse`] turns the text into a [`Config`]; [`Config::matches`] tries every
//! `match` line against a logged packet and yields the actions of the lines
//! that matched. There is no first- or last-match rule: every line is tried.
//! When any line matched, ipmon prints neither the normal line nor the hex
//! dumps for that record; since a line always has at least one action, "the
//! iterator is not empty" is exactly that condition. NAT and state records
//! are never matched (ipmon only checks ipf records), so `matches` takes a
//! [`PacketLog`] only.
//!
//! # Syntax
//!
//! - `match { COND [, COND]* [;] } do { ACTION [, ACTION]* [;] } [;]` (IP
//!   Filter requires both inner `;` and the final one; they are optional
//!   here).
//! - `NAME = "value" ;` defines a variable; `$NAME` or `${NAME}` later on is
//!   replaced by the tokens of its value. Using an undefined variable is an
//!   error.
//! - `#` starts a comment to the end of the line. Strings are in double
//!   quotes, with `\"` and `\\` escapes.
//! - `load_action NAME "path.so" ;` is parsed and then rejected: inetmon does
//!   not load shared objects. So are `snmpv1(…)`/`snmpv2(…)`.
//!
//! # Conditions (all must hold; each at most once per line)
//!
//! | condition | matches when |
//! |---|---|
//! | `direction = in\|out` | the packet's direction is that |
//! | `srcip = ADDR/N`, `dstip = ADDR/N` | the packet's source/destination is in the prefix (IPv4; IPv6 too, an extension) |
//! | `srcport = N`, `dstport = N` | TCP or UDP with that source/destination port |
//! | `protocol = NAME\|N` | the IP protocol (after IPv6 extension headers) is that; names from `/etc/protocols` text or the builtin table |
//! | `group = NAME\|N` | the rule group's name is that text |
//! | `interface = "NAME"` | the interface name is that |
//! | `logtag = N` | the rule's log tag is N |
//! | `nattag = "TAG"` | the NAT tag is that |
//! | `result = pass\|block\|nomatch\|log` | the rule's action is that (an unknown action counts as `log`, as in IP Filter) |
//! | `rule = N` | the rule number is N |
//! | `every second`, `every N seconds` | rate limit: the line matches at most once per N seconds (the first time, then again once N seconds have passed since the last match) |
//! | `every packet`, `every N packets` | rate limit: of the packets meeting the other conditions, the 1st, (N+1)th, (2N+1)th… match |
//! | `type = ipf\|nat\|state` | the record type: `ipf` for packets; `nat`/`state` lines never match, since those records are never checked |
//!
//! # Actions
//!
//! | action | meaning |
//! |---|---|
//! | `file("file:///path")` | append the text line to `path` ([`Action::AppendText`]) |
//! | `file("raw:///path")` | append the binary record to `path` ([`Action::AppendRaw`]) |
//! | `syslog`, `syslog("fac.pri")`, `syslog("fac.")`, `syslog(".pri")` | send to syslog; a given facility or priority replaces that part of the computed level ([`Action::Syslog`]) |
//! | `execute("cmd")` | run `cmd` with the text line on its standard input ([`Action::Execute`]) |
//! | `nothing` | nothing (but the line still counts as matched) |
//!
//! # Deviations from IP Filter 5.1
//!
//! - `rule = N` works (5.1 stores the token code instead of N, so it never
//!   matches), and `type = …` parses (5.1's keyword table lacks `type`).
//! - `direction` is the packet's direction (5.1 tests the rule's
//!   `FR_INQUE`/`FR_OUTQUE` flags; Linux log records carry the packet's).
//! - `srcport`/`dstport` accept numbers only; a name is a parse error (5.1
//!   accepts a name and then never matches it).
//! - A condition given twice in one line is an error (5.1 prints
//!   "redfined" and ignores the repeat).
//! - `srcip`/`dstip` also accept IPv6 prefixes.
//! - The `;` before `}` and after the `do` block are optional.
//! - Actions loaded with `load_action` and the SNMP actions are not
//!   supported: a clear parse error.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::event::{self, Direction, PacketLog, RuleGroup, Timestamp};
use crate::format::json::packet::summarize;
use crate::names::ProtocolNames;

/// A parse error, with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ConfError {
    /// Line number, counted from 1.
    pub line: usize,
    /// What was wrong.
    pub kind: ConfErrorKind,
}

/// What was wrong in an ipmon.conf file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfErrorKind {
    /// A token other than the one the grammar needs here.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar needs.
        expected: String,
        /// What was there.
        found: String,
    },
    /// The text ended inside a statement.
    #[error("unexpected end of file, expected {expected}")]
    End {
        /// What the grammar needs.
        expected: String,
    },
    /// A string without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// A character that starts no token.
    #[error("unexpected character {0:?}")]
    BadChar(char),
    /// `$NAME` before `NAME = "…" ;`.
    #[error("undefined variable ${0}")]
    UndefinedVariable(String),
    /// Variables that expand into themselves, or into more than 65,536
    /// tokens in all.
    #[error("variable ${0} expands too deeply")]
    VariableLoop(String),
    /// An unknown condition keyword.
    #[error("unknown condition {0:?}")]
    UnknownCondition(String),
    /// A condition given twice in one `match`.
    #[error("condition {0} given twice in one match")]
    Repeated(&'static str),
    /// A value that does not fit its condition.
    #[error("bad value {value:?} for {what}: {why}")]
    BadValue {
        /// The condition or action.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it is not accepted.
        why: &'static str,
    },
    /// An unknown action name.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// Something of IP Filter's language inetmon does not do.
    #[error("{0} is not supported by inetmon")]
    Unsupported(String),
}

/// An address prefix, `ADDR/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    /// The network address (host bits as written).
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub len: u8,
}

impl IpPrefix {
    /// Whether `a` is inside the prefix (an IPv4 prefix never contains an
    /// IPv6 address and the other way round).
    #[must_use]
    pub fn contains(&self, a: IpAddr) -> bool {
        match (self.addr, a) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.len.min(32)))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len.min(128)))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `result = …`: what the logging rule did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `pass`
    Pass,
    /// `block`
    Block,
    /// `nomatch`
    NoMatch,
    /// `log` (also any action other than the three above)
    Log,
}

/// `every …`: rate limiting of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Every {
    /// At most once per this many seconds.
    Seconds(u32),
    /// One in this many matching packets.
    Packets(u32),
}

/// `type = …`: the record type a line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// Packet (ipf) records.
    Ipf,
    /// NAT records (never checked, so such a line never matches).
    Nat,
    /// State records (never checked, so such a line never matches).
    State,
}

/// The conditions of one `match` block; `None` means not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `direction`
    pub direction: Option<Direction>,
    /// `srcip`
    pub src: Option<IpPrefix>,
    /// `dstip`
    pub dst: Option<IpPrefix>,
    /// `srcport`
    pub sport: Option<u16>,
    /// `dport`
    pub dport: Option<u16>,
    /// `protocol`
    pub protocol: Option<u8>,
    /// `group`
    pub group: Option<String>,
    /// `interface`
    pub interface: Option<String>,
    /// `logtag`
    pub log_tag: Option<u32>,
    /// `nattag`
    pub nat_tag: Option<String>,
    /// `result`
    pub result: Option<Verdict>,
    /// `rule`
    pub rule: Option<u32>,
    /// `every`
    pub every: Option<Every>,
    /// `type`
    pub record_type: Option<RecordType>,
}

/// A syslog facility and/or priority given to `syslog("fac.pri")`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SyslogLevel {
    /// Facility number as in `<syslog.h>` divided by 8 (`daemon` = 3,
    /// `local0` = 16).
    pub facility: Option<u8>,
    /// Priority 0 (`emerg`) … 7 (`debug`).
    pub priority: Option<u8>,
}

/// What to do with a record that matched a line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// `file("file:///path")`: append the text line.
    AppendText(PathBuf),
    /// `file("raw:///path")`: append the binary record.
    AppendRaw(PathBuf),
    /// `syslog` or `syslog("fac.pri")`.
    Syslog(SyslogLevel),
    /// `execute("cmd")`: run the command with the text line on stdin.
    Execute(String),
    /// `nothing`.
    Nothing,
}

/// One `match … do …` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Line of the `match` keyword.
    pub line: usize,
    /// What must hold.
    pub conditions: Conditions,
    /// What to do.
    pub actions: Vec<Action>,
    last_match: Option<i64>,
    packets_seen: u64,
}

/// A parsed ipmon.conf with its rate-limit state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    rules: Vec<Rule>,
    matched: Vec<usize>,
}

/// Parses ipmon.conf text, naming protocols with the builtin table.
///
/// # Errors
///
/// The first error, with its line.
pub fn parse(text: &str) -> Result<Config, ConfError> {
    parse_with(text, &ProtocolNames::builtin())
}

/// Parses ipmon.conf text, naming protocols with `protocols` (for example
/// parsed from `/etc/protocols`).
///
/// # Errors
///
/// The first error, with its line.
pub fn parse_with(text: &str, protocols: &ProtocolNames) -> Result<Config, ConfError> {
    let tokens = lex(text)?;
    Parser {
        tokens,
        pos: 0,
        vars: HashMap::new(),
        protocols,
        end_line: text.lines().count().max(1),
        expanding: Vec::new(),
        expanded: 0,
    }
    .config()
}

impl FromStr for Config {
    type Err = ConfError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
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
        self.matched.clear();
        let summary = summarize(&p.packet);
        for (i, rule) in self.rules.iter_mut().enumerate() {
            if rule.conditions.hold(p, &summary) && rule.rate_allows(now) {
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
    fn hold(&self, p: &PacketLog, s: &crate::format::json::packet::Summary) -> bool {
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Var(String),
    Punct(char),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("{w:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Var(v) => format!("${v}"),
            Tok::Punct(c) => format!("'{c}'"),
        }
    }
}

fn lex(text: &str) -> Result<Vec<(usize, Tok)>, ConfError> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    let word_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '_' | '-');
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '{' | '}' | '(' | ')' | ',' | ';' | '=' | '/' => out.push((line, Tok::Punct(c))),
            '"' => {
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(ConfError {
                                line: start,
                                kind: ConfErrorKind::UnterminatedString,
                            })
                        }
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\')) => s.push(e),
                            Some(e) => {
                                line += usize::from(e == '\n');
                                s.push('\\');
                                s.push(e);
                            }
                            None => {
                                return Err(ConfError {
                                    line: start,
                                    kind: ConfErrorKind::UnterminatedString,
                                })
                            }
                        },
                        Some(c) => {
                            line += usize::from(c == '\n');
                            s.push(c);
                        }
                    }
                }
                out.push((start, Tok::Str(s)));
            }
            '$' => {
                let mut name = String::new();
                if chars.peek() == Some(&'{') {
                    chars.next();
                    while let Some(c) = chars.next_if(|&c| c != '}' && c != '\n') {
                        name.push(c);
                    }
                    if chars.next() != Some('}') {
                        return Err(ConfError {
                            line,
                            kind: ConfErrorKind::BadChar('$'),
                        });
                    }
                } else {
                    while let Some(c) = chars.next_if(|&c| c.is_ascii_alphanumeric() || c == '_') {
                        name.push(c);
                    }
                }
                if name.is_empty() {
                    return Err(ConfError {
                        line,
                        kind: ConfErrorKind::BadChar('$'),
                    });
                }
                out.push((line, Tok::Var(name)));
            }
            c if word_char(c) => {
                let mut w = String::from(c);
                while let Some(c) = chars.next_if(|&c| word_char(c)) {
                    w.push(c);
                }
                out.push((line, Tok::Word(w)));
            }
            c => {
                return Err(ConfError {
                    line,
                    kind: ConfErrorKind::BadChar(c),
                })
            }
        }
    }
    Ok(out)
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
        if !KNOWN_CONDITIONS.contains(&name.as_str()) {
            self.pos -= 1;
            return self.err(ConfErrorKind::UnknownCondition(name));
        }
        self.punct('=')?;
        match name.as_str() {
            "direction" => {
                let v = match self.word("in or out")?.as_str() {
                    "in" => Direction::In,
                    "out" => Direction::Out,
                    other => return self.bad("direction", other, "not in or out"),
                };
                self.set(&mut c.direction, "direction", v)
            }
            "srcip" => {
                let v = self.prefix("srcip")?;
                self.set(&mut c.src, "srcip", v)
            }
            "dstip" => {
                let v = self.prefix("dstip")?;
                self.set(&mut c.dst, "dstip", v)
            }
            "srcport" => {
                let v = self.number("srcport")?;
                self.set(&mut c.sport, "srcport", v)
            }
            "dstport" => {
                let v = self.number("dstport")?;
                self.set(&mut c.dport, "dstport", v)
            }
            "protocol" => {
                let w = self.text("a protocol")?;
                let v = match w.parse::<u8>() {
                    Ok(n) => n,
                    Err(_) => {
                        match (0..=255u8).find(|&n| self.protocols.name(n) == Some(w.as_str())) {
                            Some(n) => n,
                            None => return self.bad("protocol", &w, "unknown protocol name"),
                        }
                    }
                };
                self.set(&mut c.protocol, "protocol", v)
            }
            "group" => {
                let v = self.text("a group name or number")?;
                self.set(&mut c.group, "group", v)
            }
            "interface" => {
                let v = self.text("an interface name")?;
                self.set(&mut c.interface, "interface", v)
            }
            "logtag" => {
                let v = self.number("logtag")?;
                self.set(&mut c.log_tag, "logtag", v)
            }
            "nattag" => {
                let v = self.text("a NAT tag")?;
                self.set(&mut c.nat_tag, "nattag", v)
            }
            "result" => {
                let v = match self.word("pass, block, nomatch or log")?.as_str() {
                    "pass" => Verdict::Pass,
                    "block" => Verdict::Block,
                    "nomatch" => Verdict::NoMatch,
                    "log" => Verdict::Log,
                    other => return self.bad("result", other, "not pass, block, nomatch or log"),
                };
                self.set(&mut c.result, "result", v)
            }
            "rule" => {
                let v = self.number("rule")?;
                self.set(&mut c.rule, "rule", v)
            }
            _ => {
                let v = match self.word("ipf, nat or state")?.as_str() {
                    "ipf" => RecordType::Ipf,
                    "nat" => RecordType::Nat,
                    "state" => RecordType::State,
                    other => return self.bad("type", other, "not ipf, nat or state"),
                };
                self.set(&mut c.record_type, "type", v)
            }
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

    fn prefix(&mut self, what: &'static str) -> PResult<IpPrefix> {
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
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return self.bad(what, &len.to_string(), "mask longer than the address");
        }
        Ok(IpPrefix { addr, len })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Header, PacketFlags, Source};

    /// A TCP (or UDP) IPv4 packet 10.1.2.3:sport -> 192.168.1.9:dport.
    fn ip4(proto: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, proto, 0, 0, 10, 1, 2, 3, 192, 168, 1, 9,
        ];
        p.extend(sport.to_be_bytes());
        p.extend(dport.to_be_bytes());
        p.extend([0; 16]);
        p
    }

    fn pkt(packet: Vec<u8>) -> PacketLog {
        PacketLog {
            header: Header {
                time: Timestamp::default(),
                source: Source::Stdin,
                seq: 1,
            },
            count: 1,
            interface: "eth0".into(),
            direction: Some(Direction::In),
            group: RuleGroup::Named("0".into()),
            rule: Some(3),
            action: event::Action::Block,
            flags: PacketFlags::default(),
            log_tag: 7,
            nat_tag: "web".into(),
            reason: None,
            log_level: None,
            family: 2,
            header_len: 40,
            packet,
            ipf_seq: None,
            nflog: None,
            raw_header: Vec::new(),
        }
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp { secs, nanos: 0 }
    }

    /// Whether a one-line config with these conditions matches `p`.
    fn hits(conds: &str, p: &PacketLog) -> bool {
        let mut c = parse(&format!("match {{ {conds}; }} do {{ nothing; }};")).unwrap();
        let n = c.matches(p, t(0)).count();
        n > 0
    }

    fn err(text: &str) -> ConfError {
        parse(text).unwrap_err()
    }

    #[test]
    fn every_condition_matches_and_misses() {
        let p = pkt(ip4(6, 1234, 80));
        let cases: &[(&str, &str)] = &[
            ("direction = in", "direction = out"),
            ("srcip = 10.1.0.0/16", "srcip = 10.2.0.0/16"),
            ("dstip = 192.168.1.9/32", "dstip = 192.168.1.8/32"),
            ("srcip = 0.0.0.0/0", "srcip = fd00::/8"),
            ("srcport = 1234", "srcport = 1235"),
            ("dstport = 80", "dstport = 443"),
            ("protocol = tcp", "protocol = udp"),
            ("protocol = 6", "protocol = 17"),
            ("group = 0", "group = 1"),
            ("group = \"0\"", "group = other"),
            ("interface = \"eth0\"", "interface = \"eth1\""),
            ("logtag = 7", "logtag = 8"),
            ("nattag = \"web\"", "nattag = \"mail\""),
            ("result = block", "result = pass"),
            ("rule = 3", "rule = 4"),
            ("type = ipf", "type = nat"),
            (
                "direction = in, dstport = 80, protocol = tcp",
                "direction = in, dstport = 81",
            ),
        ];
        for (yes, no) in cases {
            assert!(hits(yes, &p), "{yes}");
            assert!(!hits(no, &p), "{no}");
        }
        assert!(!hits("type = state", &p));
        // Ports only for TCP and UDP.
        assert!(hits("dstport = 80", &pkt(ip4(17, 1, 80))));
        assert!(!hits("dstport = 80", &pkt(ip4(47, 1, 80))));
        // IPv6 prefixes (an extension).
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        v6.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v6.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        v6.extend([0, 53, 0, 53, 0, 8, 0, 0]);
        assert!(hits(
            "srcip = fd00::/8, dstport = 53, protocol = udp",
            &pkt(v6.clone())
        ));
        assert!(!hits("srcip = 10.0.0.0/8", &pkt(v6)));
    }

    #[test]
    fn result_follows_ip_filter_order() {
        let mut p = pkt(ip4(6, 1, 2));
        for (action, word) in [
            (event::Action::Pass, "pass"),
            (event::Action::Block, "block"),
            (event::Action::NoMatch, "nomatch"),
            (event::Action::Log, "log"),
            (event::Action::Unknown, "log"),
        ] {
            p.action = action;
            assert!(hits(&format!("result = {word}"), &p), "{action:?}");
        }
    }

    #[test]
    fn every_n_seconds_and_packets() {
        let p = pkt(ip4(6, 1, 2));
        let mut c = parse("match { every 10 seconds; } do { nothing; };").unwrap();
        let got: Vec<bool> = [0, 5, 9, 10, 11, 19, 20]
            .iter()
            .map(|&s| c.matches(&p, t(s)).count() > 0)
            .collect();
        assert_eq!(got, [true, false, false, true, false, false, true]);
        let mut c = parse("match { every second; } do { nothing; };").unwrap();
        assert_eq!(
            (
                c.matches(&p, t(0)).count(),
                c.matches(&p, t(0)).count(),
                c.matches(&p, t(1)).count()
            ),
            (1, 0, 1)
        );
        let mut c = parse("match { every 3 packets, dstport = 2; } do { nothing; };").unwrap();
        let other = pkt(ip4(6, 1, 3));
        let mut got = Vec::new();
        for i in 0..7 {
            // Packets failing the other conditions do not count.
            assert_eq!(c.matches(&other, t(i)).count(), 0);
            got.push(c.matches(&p, t(i)).count() > 0);
        }
        assert_eq!(got, [true, false, false, true, false, false, true]);
        let mut c = parse("match { every packet; } do { nothing; };").unwrap();
        assert!((0..3).all(|i| c.matches(&p, t(i)).count() == 1));
    }

    #[test]
    fn every_action() {
        let text = r#"
            # all the actions
            match { dstport = 80; }
            do { file("file:///var/log/web"), file("raw:///var/log/web.raw"), syslog,
                 syslog("local0.info"), syslog("daemon."), syslog(".warning"),
                 execute("/bin/cat > /dev/null"), nothing; };
            match { srcport = 1; } do { nothing; };
        "#;
        let mut c = parse(text).unwrap();
        assert_eq!(c.rules().len(), 2);
        assert_eq!(c.rules()[0].line, 3);
        let p = pkt(ip4(6, 1234, 80));
        let got: Vec<Action> = c.matches(&p, t(0)).cloned().collect();
        assert_eq!(
            got,
            [
                Action::AppendText("/var/log/web".into()),
                Action::AppendRaw("/var/log/web.raw".into()),
                Action::Syslog(SyslogLevel::default()),
                Action::Syslog(SyslogLevel {
                    facility: Some(16),
                    priority: Some(6)
                }),
                Action::Syslog(SyslogLevel {
                    facility: Some(3),
                    priority: None
                }),
                Action::Syslog(SyslogLevel {
                    facility: None,
                    priority: Some(4)
                }),
                Action::Execute("/bin/cat > /dev/null".into()),
                Action::Nothing,
            ]
        );
    }

    #[test]
    fn all_matching_lines_contribute_in_order() {
        let text = "match { dstport = 80; } do { execute(\"a\"); };\n\
                    match { protocol = udp; } do { execute(\"b\"); };\n\
                    match { srcip = 10.0.0.0/8; } do { execute(\"c\"); };";
        let mut c = parse(text).unwrap();
        let got: Vec<_> = c.matches(&pkt(ip4(6, 1, 80)), t(0)).cloned().collect();
        assert_eq!(
            got,
            [Action::Execute("a".into()), Action::Execute("c".into())]
        );
    }

    #[test]
    fn variables_and_lenient_semicolons() {
        let text = "PORT = \"80\";\nNET = \"10.1.0.0/16\";\n\
                    match { dstport = $PORT, srcip = ${NET} } do { nothing }";
        let mut c = parse(text).unwrap();
        assert_eq!(c.rules()[0].conditions.dport, Some(80));
        assert_eq!(c.matches(&pkt(ip4(6, 1, 80)), t(0)).count(), 1);
        assert_eq!(parse("").unwrap().rules().len(), 0);
        assert_eq!(parse("# only a comment\n;;").unwrap().rules().len(), 0);
    }

    #[test]
    fn doubling_variables_stop_at_the_expansion_cap() {
        let mut text = String::from("V0 = \";\";\n");
        for i in 1..=24 {
            text.push_str(&format!("V{i} = \"$V{j} $V{j}\";\n", j = i - 1));
        }
        text.push_str("$V24\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.line, 26);
        assert!(
            matches!(err.kind, ConfErrorKind::VariableLoop(_)),
            "{err:?}"
        );
    }

    #[test]
    fn errors_name_their_line() {
        let cases: &[(&str, usize, ConfErrorKind)] = &[
            (
                "\n\nmatch { dstport = http; } do { nothing; };",
                3,
                ConfErrorKind::BadValue {
                    what: "dstport",
                    value: "http".into(),
                    why: "not a number in range",
                },
            ),
            (
                "match { srcip = 10.0.0.1; } do { nothing; };",
                1,
                ConfErrorKind::BadValue {
                    what: "srcip",
                    value: "10.0.0.1".into(),
                    why: "the /mask is required",
                },
            ),
            (
                "match { srcip = 10.0.0.1/33; } do { nothing; };",
                1,
                ConfErrorKind::BadValue {
                    what: "srcip",
                    value: "33".into(),
                    why: "mask longer than the address",
                },
            ),
            (
                "match { colour = red; } do { nothing; };",
                1,
                ConfErrorKind::UnknownCondition("colour".into()),
            ),
            (
                "match { rule = 1, rule = 2; } do { nothing; };",
                1,
                ConfErrorKind::Repeated("rule"),
            ),
            (
                "match { rule = 1; }\ndo { mail(\"x\"); };",
                2,
                ConfErrorKind::UnknownAction("mail".into()),
            ),
            (
                "match { rule = 1; } do { snmpv1(\"c h\"); };",
                1,
                ConfErrorKind::Unsupported("the snmpv1 action".into()),
            ),
            (
                "\nload_action foo \"/lib/foo.so\";",
                2,
                ConfErrorKind::Unsupported("load_action (actions from shared objects)".into()),
            ),
            (
                "match { rule = 1; } do { file(\"/tmp/x\"); };",
                1,
                ConfErrorKind::BadValue {
                    what: "file",
                    value: "/tmp/x".into(),
                    why: "not file:///path or raw:///path",
                },
            ),
            (
                "match { rule = 1; } do { syslog(\"local9.info\"); };",
                1,
                ConfErrorKind::BadValue {
                    what: "syslog",
                    value: "local9.info".into(),
                    why: "not facility.priority with known names",
                },
            ),
            (
                "match { dstport = $P; } do { nothing; };",
                1,
                ConfErrorKind::UndefinedVariable("P".into()),
            ),
            (
                "A = \"$A\";\nmatch { rule = $A; } do { nothing; };",
                2,
                ConfErrorKind::VariableLoop("A".into()),
            ),
            // Found by the ipmon_conf fuzz target: a variable whose value
            // uses it after other tokens grew the token list forever.
            (
                "# comp\nWEB = \t\";\n $WEB,   ;\ng0 \";\n $WEB,   ;\n",
                5,
                ConfErrorKind::VariableLoop("WEB".into()),
            ),
            (
                "A = \"; $B\"; B = \"; $A\";\n$A",
                2,
                ConfErrorKind::VariableLoop("A".into()),
            ),
            (
                "match { rule = 1; } do { nothing; ",
                1,
                ConfErrorKind::End {
                    expected: "'}'".into(),
                },
            ),
            (
                "match { rule = 1; }\n\n  do { execute(\"x); };",
                3,
                ConfErrorKind::UnterminatedString,
            ),
            (
                "match { rule = 1; } done { nothing; };",
                1,
                ConfErrorKind::Unexpected {
                    expected: "\"do\"".into(),
                    found: "\"done\"".into(),
                },
            ),
            (
                "match { every 0 packets; } do { nothing; };",
                1,
                ConfErrorKind::BadValue {
                    what: "every",
                    value: "0".into(),
                    why: "must be at least 1",
                },
            ),
            (
                "match { protocol = nosuch; } do { nothing; };",
                1,
                ConfErrorKind::BadValue {
                    what: "protocol",
                    value: "nosuch".into(),
                    why: "unknown protocol name",
                },
            ),
            (
                "match { direction = sideways; } do { nothing; };",
                1,
                ConfErrorKind::BadValue {
                    what: "direction",
                    value: "sideways".into(),
                    why: "not in or out",
                },
            ),
            (
                "match { rule = 1; } do { nothing; }; @",
                1,
                ConfErrorKind::BadChar('@'),
            ),
            (
                "match { rule = 1; } do { save(\"file:///x\"); };",
                1,
                ConfErrorKind::Unsupported("save(…) (IP Filter 4.1 syntax; use file(…))".into()),
            ),
        ];
        for (text, line, kind) in cases {
            assert_eq!(
                err(text),
                ConfError {
                    line: *line,
                    kind: kind.clone()
                },
                "{text}"
            );
        }
        assert_eq!(
            err("match { srcport = http; } do { nothing; };").to_string(),
            "line 1: bad value \"http\" for srcport: not a number in range"
        );
    }

    #[test]
    fn protocol_names_from_a_table() {
        let protocols = ProtocolNames::parse("tcp 6 TCP\nmyproto 253 X\n");
        let c = parse_with("match { protocol = myproto; } do { nothing; };", &protocols).unwrap();
        assert_eq!(c.rules()[0].conditions.protocol, Some(253));
    }

    #[test]
    fn prefixes() {
        let p = IpPrefix {
            addr: "10.1.0.0".parse().unwrap(),
            len: 16,
        };
        assert!(p.contains("10.1.255.1".parse().unwrap()));
        assert!(!p.contains("10.2.0.1".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        let all = IpPrefix {
            addr: "::".parse().unwrap(),
            len: 0,
        };
        assert!(all.contains("fd00::1".parse().unwrap()));
        let host = IpPrefix {
            addr: "fd00::1".parse().unwrap(),
            len: 128,
        };
        assert!(
            host.contains("fd00::1".parse().unwrap()) && !host.contains("fd00::2".parse().unwrap())
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_never_panics(s in "\\PC{0,80}") {
            let _ = parse(&s);
        }

        #[test]
        fn token_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(vec![
            "match", "do", "{", "}", ";", ",", "=", "/", "(", ")", "every", "5", "seconds", "srcip", "1.2.3.4",
            "file", "\"file:///x\"", "syslog", "nothing", "$V", "V", "\"1\"", "rule", "type", "nat",
        ]), 0..30)) {
            let _ = parse(&words.join(" "));
        }
    }
}
