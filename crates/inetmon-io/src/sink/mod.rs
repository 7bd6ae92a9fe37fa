//! Sinks: where formatted events go.
//!
//! - [`Stdout`]: buffered standard output, flushed per event on a terminal and
//!   per batch otherwise; a closed pipe is a clean stop.
//! - [`AppendFile`]: the text output file, opened for appending and reopened
//!   when a SIGHUP flag is set (external log rotation); a failed reopen
//!   keeps the old file and leaves a [`ReopenNotice`].
//! - [`BinaryFile`]: `ipmon -B`, raw records appended, reopened the same way.
//! - [`Syslog`]: the local syslog socket (`/dev/log`), RFC 3164 local form.
//! - [`NetSyslog`]: syslog over TCP or TLS, RFC 5424 with octet counting,
//!   a bounded queue and a writer thread that reconnects; losses counted.
//! - [`AnySyslog`]: either of the two, what `-s` and the daemon use.
//!
//! The output thread writes a batch of lines with [`LineSink::write_line`] and
//! calls [`LineSink::flush`] when the channel is momentarily empty.

mod file;
mod stdout;
mod syslog;
mod syslog_net;

use std::io;

pub use file::{AppendFile, BinaryFile, ReopenNotice};
pub use stdout::Stdout;
pub use syslog::{facility_by_name, Facility, Syslog, UnknownFacility, DEFAULT_IDENT, DEV_LOG};
pub use syslog_net::{
    BadTarget, NetSyslog, NetSyslogConfig, NetSyslogError, NetSyslogStats, SyslogTarget,
    DEFAULT_CAPACITY, SYSTEM_CA_FILE,
};

/// The local syslog socket or a network target: one type for the places
/// that send to "syslog" (`ipmon -s`, `-C` syslog actions, notices).
#[derive(Debug)]
pub enum AnySyslog {
    /// `/dev/log` (or another Unix socket).
    Local(Syslog),
    /// `tcp://` or `tls://`.
    Net(NetSyslog),
}

impl AnySyslog {
    /// Messages that could not be sent since the last call.
    pub fn take_lost(&mut self) -> u64 {
        match self {
            AnySyslog::Local(s) => s.take_lost(),
            AnySyslog::Net(s) => s.take_lost(),
        }
    }

    /// For a network target: sends what is queued, waiting at most `wait`,
    /// and counts the rest as lost. Nothing for the local socket.
    pub fn close(&mut self, wait: std::time::Duration) {
        if let AnySyslog::Net(s) = self {
            s.close(wait);
        }
    }
}

impl LineSink for AnySyslog {
    fn write_line(&mut self, line: &str, level: Level) -> Result<(), SinkError> {
        match self {
            AnySyslog::Local(s) => s.write_line(line, level),
            AnySyslog::Net(s) => s.write_line(line, level),
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        match self {
            AnySyslog::Local(s) => s.flush(),
            AnySyslog::Net(s) => s.flush(),
        }
    }
}

/// A syslog severity, 0 (emergency) to 7 (debug).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Severity(pub u8);

impl Severity {
    /// `LOG_EMERG`
    pub const EMERG: Severity = Severity(0);
    /// `LOG_ALERT`
    pub const ALERT: Severity = Severity(1);
    /// `LOG_CRIT`
    pub const CRIT: Severity = Severity(2);
    /// `LOG_ERR`
    pub const ERR: Severity = Severity(3);
    /// `LOG_WARNING`
    pub const WARNING: Severity = Severity(4);
    /// `LOG_NOTICE`
    pub const NOTICE: Severity = Severity(5);
    /// `LOG_INFO`
    pub const INFO: Severity = Severity(6);
    /// `LOG_DEBUG`
    pub const DEBUG: Severity = Severity(7);
}

/// The syslog level of one line: its severity and, when a rule's `log level`
/// set one, a facility that replaces the sink's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    /// The severity.
    pub severity: Severity,
    /// A facility overriding the sink's, if any.
    pub facility: Option<Facility>,
}

impl Level {
    /// A level with only a severity.
    #[must_use]
    pub fn new(severity: Severity) -> Self {
        Level {
            severity,
            facility: None,
        }
    }

    /// A level from an encoded syslog priority (`facility << 3 | severity`,
    /// as IP Filter stores a rule's `log level`).
    #[must_use]
    pub fn from_priority(pri: u16) -> Self {
        Level {
            severity: Severity((pri & 7) as u8),
            facility: Facility::from_code(u8::try_from(pri >> 3).unwrap_or(u8::MAX)),
        }
    }
}

/// Errors of sinks.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The reader went away (`EPIPE`): stop cleanly, as `head` expects.
    #[error("output closed by the reader")]
    Closed,
    /// An I/O error (its text is the source, not repeated here).
    #[error("{what}")]
    Io {
        /// What was being done, with the path when there is one.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl SinkError {
    fn io(what: impl Into<String>, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::BrokenPipe {
            SinkError::Closed
        } else {
            SinkError::Io {
                what: what.into(),
                source,
            }
        }
    }
}

/// A destination for formatted text lines.
pub trait LineSink {
    /// Writes one line (`line` without its trailing newline) at `level`
    /// (used only by syslog).
    ///
    /// # Errors
    /// [`SinkError::Closed`] when the reader went away; other I/O errors.
    fn write_line(&mut self, line: &str, level: Level) -> Result<(), SinkError>;

    /// Pushes buffered lines out; called at the end of each batch and when
    /// idle.
    ///
    /// # Errors
    /// As for [`LineSink::write_line`].
    fn flush(&mut self) -> Result<(), SinkError>;

    /// Something the user should be told that is not an error (a failed
    /// SIGHUP reopen of a file, which goes on writing to the old one);
    /// called after each flush. Sinks without such news return `None`.
    fn take_notice(&mut self) -> Option<ReopenNotice> {
        None
    }
}
