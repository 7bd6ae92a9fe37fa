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
//! [`parse`] turns the text into a [`Config`]; [`Config::matches_event`]
//! tries every `match` line against a record and yields the actions of the
//! lines that matched. There is no first- or last-match rule: every line is
//! tried. When any line matched, ipmon prints neither the normal line nor
//! the hex dumps for that record; since a line always has at least one
//! action, "the iterator is not empty" is exactly that condition.
//!
//! A line without `type` (or with `type = ipf`) is tried against packet
//! (ipf) records only, as in IP Filter. A `type = nat` line is tried
//! against NAT records and a `type = state` line against state records
//! (IP Filter checks only ipf records, so its `nat`/`state` lines never
//! match): there `srcip`/`dstip`/`srcport`/`dstport` are the original
//! direction's ends (before translation) and `protocol` the IP protocol;
//! the packet-only conditions (`direction`, `group`, `interface`, `logtag`,
//! `nattag`, `result`, `rule`) are refused on such a line with its number.
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
//! | `type = ipf\|nat\|state` | the record type: `ipf` (the default) for packets, `nat` for NAT records, `state` for state records |
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
//!   matches), and `type = …` parses (5.1's keyword table lacks `type`);
//!   `type = nat`/`state` lines match NAT and state records (5.1 never
//!   checks those records).
//! - `direction` is the packet's direction (5.1 tests the rule's
//!   `FR_INQUE`/`FR_OUTQUE` flags; Linux log records carry the packet's).
//! - `srcport`/`dstport` accept numbers only; a name is a parse error (5.1
//!   accepts a name and then never matches it).
//! - A condition given twice in one line is an error (5.1 prints
//!   "redfined" and ignores the repeat).
//! - `srcip`/`dstip` also accept IPv6 prefixes; IPv4-mapped addresses
//!   follow [`crate::cidr`]'s rule (they are IPv4, in the prefix and in the packet).
//! - The `;` before `}` and after the `do` block are optional.
//! - Actions loaded with `load_action` and the SNMP actions are not
//!   supported: a clear parse error.

mod lexer;
mod matcher;
mod parser;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::str::FromStr;

use crate::cidr::Cidr;
use crate::event::Direction;
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
    /// A packet-only condition on a `type = nat` or `type = state` line.
    #[error("condition {condition} does not apply to type = {record} records")]
    NotFor {
        /// The condition.
        condition: &'static str,
        /// `nat` or `state`.
        record: &'static str,
    },
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
    /// NAT records (`ipmon -N`, conntrack NAT events).
    Nat,
    /// State records (`ipmon -S`, conntrack events).
    State,
}

/// The conditions of one `match` block; `None` means not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `direction`
    pub direction: Option<Direction>,
    /// `srcip`
    pub src: Option<Cidr>,
    /// `dstip`
    pub dst: Option<Cidr>,
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
    parser::parse(lexer::lex(text)?, protocols, text.lines().count().max(1))
}

impl FromStr for Config {
    type Err = ConfError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}
