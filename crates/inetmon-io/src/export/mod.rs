//! Export of the journal to other systems. The journal is the backlog: an
//! exporter reads it ([`crate::journal::Reader::tail`]) from the last
//! position the other side acknowledged, which it keeps durably in the
//! state directory ([`position`]), so that nothing collected while the
//! other side is away is lost; events are lost only when the journal's
//! retention deletes them before they were acknowledged, and that loss is
//! counted and reported in-band (a `Lost` event) and to a hook.
//!
//! - [`NatsExportConfig`]: `[export.nats]` of the daemon's configuration.
//! - [`nats`] (cargo feature `export-nats`): the NATS JetStream exporter
//!   and the subscriber side of `inetmon collect`.
//!
//! The wire form, shared by the exporter and `inetmon collect`:
//! - subject `inetmon.<host>.<kind>` ([`subject`]); `kind` is an event kind
//!   ([`inetmon_core::event::EventKind::as_str`]) or `gap` (a journal gap
//!   record);
//! - message id (`Nats-Msg-Id`) `<host>:<journal sequence>` ([`message_id`]),
//!   so that JetStream's duplicate window drops a message published again
//!   after a reconnect or restart: every event is stored once;
//! - payload: the event as the journal stores it
//!   ([`inetmon_core::event::codec`]), or `{"gap":{"from":…,"to":…}}`.

pub mod position;

#[cfg(feature = "export-nats")]
pub mod nats;

use std::path::PathBuf;

use inetmon_core::event::EventKind;

/// The default JetStream stream.
pub const DEFAULT_STREAM: &str = "INETMON";
/// The first token of every subject.
pub const SUBJECT_PREFIX: &str = "inetmon";
/// The subject kind of a journal gap record.
pub const GAP_KIND: &str = "gap";
/// The default number of publishes awaiting their acknowledgement.
pub const DEFAULT_WINDOW: usize = 1000;
/// The largest window allowed: the NATS client holds at most 5,000
/// unacknowledged publishes.
pub const MAX_WINDOW: usize = 4096;

/// `[export.nats]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsExportConfig {
    /// The server, `nats://host:4222` (`tls://host:4222` for TLS); several
    /// separated by commas.
    pub url: String,
    /// The JetStream stream, created with subjects `inetmon.>` if missing.
    pub stream: String,
    /// The event kinds exported (`None`: all); `gap` records follow
    /// [`NatsExportConfig::gaps`]. The exporter's own loss reports are
    /// always exported.
    pub kinds: Option<Vec<EventKind>>,
    /// Export journal gap records.
    pub gaps: bool,
    /// This host's name in subjects and message ids ([`valid_host`]).
    pub host: String,
    /// A NATS credentials file (`.creds`: JWT and nkey seed).
    pub creds: Option<PathBuf>,
    /// A PEM file of CA certificates to trust for TLS (implies TLS).
    pub ca_file: Option<PathBuf>,
    /// Publishes in flight (awaiting their acknowledgement), 1..=[`MAX_WINDOW`].
    pub window: usize,
}

impl NatsExportConfig {
    /// A configuration with the defaults: stream `INETMON`, every kind and
    /// gap records, this machine's [`default_host`], no credentials.
    #[must_use]
    pub fn new(url: impl Into<String>) -> NatsExportConfig {
        NatsExportConfig {
            url: url.into(),
            stream: DEFAULT_STREAM.to_owned(),
            kinds: None,
            gaps: true,
            host: default_host(),
            creds: None,
            ca_file: None,
            window: DEFAULT_WINDOW,
        }
    }

    /// Whether events of `kind` are exported.
    #[must_use]
    pub fn exports(&self, kind: EventKind) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(&kind))
    }
}

/// Whether `host` may be a subject token and a message id part: 1 to 64
/// of `A-Z a-z 0-9 - _`.
#[must_use]
pub fn valid_host(host: &str) -> bool {
    (1..=64).contains(&host.len())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `name` may be a JetStream stream name: 1 to 64 of
/// `A-Z a-z 0-9 - _` (no `.`, `*`, `>`, spaces or path separators).
#[must_use]
pub fn valid_stream(name: &str) -> bool {
    valid_host(name)
}

/// This machine's host name (`gethostname`), every character outside
/// `A-Z a-z 0-9 - _` (the dots of a full name) replaced by `_`, cut to 64
/// characters; `localhost` if it has none.
#[must_use]
pub fn default_host() -> String {
    let name = nix::unistd::gethostname()
        .ok()
        .and_then(|n| n.into_string().ok())
        .unwrap_or_default();
    sanitize_host(&name)
}

/// `name` made a [`valid_host`]: other characters become `_`.
#[must_use]
pub fn sanitize_host(name: &str) -> String {
    let s: String = name
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "localhost".to_owned()
    } else {
        s
    }
}

/// `inetmon.<host>.<kind>`.
#[must_use]
pub fn subject(host: &str, kind: &str) -> String {
    format!("{SUBJECT_PREFIX}.{host}.{kind}")
}

/// `<host>:<seq>`: the message id of journal record `seq`.
#[must_use]
pub fn message_id(host: &str, seq: u64) -> String {
    format!("{host}:{seq}")
}

/// The host and kind of a subject `inetmon.<host>.<kind>`.
#[must_use]
pub fn parse_subject(subject: &str) -> Option<(&str, &str)> {
    let mut parts = subject.split('.');
    let (Some(SUBJECT_PREFIX), Some(host), Some(kind), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some((host, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(valid_host("web-1_a"));
        assert!(!valid_host(""));
        assert!(!valid_host("a.b"));
        assert!(!valid_host("a*"));
        assert!(!valid_host("a>"));
        assert!(!valid_host("a b"));
        assert!(!valid_host(&"x".repeat(65)));
        assert_eq!(sanitize_host("web1.example.com"), "web1_example_com");
        assert_eq!(sanitize_host(""), "localhost");
        assert!(valid_host(&default_host()));
    }

    #[test]
    fn subjects() {
        assert_eq!(subject("h1", "sock"), "inetmon.h1.sock");
        assert_eq!(message_id("h1", 42), "h1:42");
        assert_eq!(parse_subject("inetmon.h1.sock"), Some(("h1", "sock")));
        assert_eq!(parse_subject("inetmon.h1"), None);
        assert_eq!(parse_subject("other.h1.sock"), None);
        assert_eq!(parse_subject("inetmon.h1.sock.x"), None);
    }
}
