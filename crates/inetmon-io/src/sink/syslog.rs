//! The local syslog socket, RFC 3164 local form, as `openlog(ident,
//! LOG_NDELAY|LOG_PID, facility)` + `syslog()` would send it.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use super::{Level, LineSink, SinkError};

/// The usual local syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// The default ident, as ipmon passes `basename(argv[0])`.
pub const DEFAULT_IDENT: &str = "ipmon";

/// How long a send may block when the syslog daemon is slow before the
/// message counts as lost.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// A syslog facility code (0–23; `LOG_LOCAL0` is 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Facility(u8);

impl Facility {
    /// `LOG_LOCAL0`, ipmon's default.
    pub const LOCAL0: Facility = Facility(16);

    /// The facility with numeric `code`, if it is 0–23.
    #[must_use]
    pub fn from_code(code: u8) -> Option<Facility> {
        (code < 24).then_some(Facility(code))
    }

    /// The numeric code.
    #[must_use]
    pub fn code(self) -> u8 {
        self.0
    }
}

/// An `-L` name that is not a known facility.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown syslog facility '{0}'")]
pub struct UnknownFacility(pub String);

/// The facility called `name` (as `ipmon -L` takes it).
///
/// # Errors
/// [`UnknownFacility`], whose text is ipmon's message.
pub fn facility_by_name(name: &str) -> Result<Facility, UnknownFacility> {
    inetmon_core::syslog_names::facility_code(name)
        .map(Facility)
        .ok_or_else(|| UnknownFacility(name.to_owned()))
}

/// Sends lines to a local syslog daemon over a Unix datagram socket.
///
/// Connects lazily and reconnects when the daemon restarted (`ECONNREFUSED`,
/// `ENOENT`, `ENOTCONN`). A line that still cannot be sent is counted; read
/// and reset the count with [`Syslog::take_lost`] to report it as `Lost` at
/// stage `Sink`.
#[derive(Debug)]
pub struct Syslog {
    path: PathBuf,
    ident: String,
    pid: u32,
    facility: Facility,
    socket: Option<UnixDatagram>,
    buf: String,
    lost: u64,
}

impl Syslog {
    /// A sink for `path` (normally [`DEV_LOG`]) with the given ident and
    /// default facility. Like `LOG_NDELAY`, tries to connect at once, but a
    /// missing daemon is not an error: lines are counted as lost until it
    /// appears.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, ident: impl Into<String>, facility: Facility) -> Self {
        let mut s = Syslog {
            path: path.into(),
            ident: ident.into(),
            pid: std::process::id(),
            facility,
            socket: None,
            buf: String::with_capacity(1024),
            lost: 0,
        };
        // Failure here is retried on the first send.
        let _ = s.connect();
        s
    }

    fn connect(&mut self) -> io::Result<()> {
        let sock = UnixDatagram::unbound()?;
        sock.set_write_timeout(Some(SEND_TIMEOUT))?;
        sock.connect(&self.path)?;
        self.socket = Some(sock);
        Ok(())
    }

    /// Lines that could not be sent since the last call.
    pub fn take_lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }

    /// Builds `<PRI>Mmm dd HH:MM:SS ident[pid]: line` (local time) in the
    /// internal buffer.
    fn format(&mut self, line: &str, level: Level) {
        use std::fmt::Write;
        let facility = level.facility.unwrap_or(self.facility);
        let pri = u16::from(facility.code()) * 8 + u16::from(level.severity.0 & 7);
        let now = jiff::Zoned::now();
        self.buf.clear();
        let line = line.strip_suffix('\n').unwrap_or(line);
        // Writing to a String cannot fail.
        let _ = write!(
            self.buf,
            "<{pri}>{} {}[{}]: {line}",
            now.strftime("%b %e %H:%M:%S"),
            self.ident,
            self.pid
        );
    }

    fn send_buf(&mut self) -> io::Result<()> {
        if self.socket.is_none() {
            self.connect()?;
        }
        match self.socket.as_ref() {
            Some(sock) => sock.send(self.buf.as_bytes()).map(|_| ()),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }
}

fn is_reconnectable(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::ENOENT | libc::ENOTCONN | libc::ECONNRESET)
    )
}

impl LineSink for Syslog {
    fn write_line(&mut self, line: &str, level: Level) -> Result<(), SinkError> {
        self.format(line, level);
        match self.send_buf() {
            Ok(()) => {}
            Err(e) if is_reconnectable(&e) => {
                self.socket = None;
                if self.send_buf().is_err() {
                    self.socket = None;
                    self.lost += 1;
                }
            }
            Err(_) => self.lost += 1,
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Severity;

    #[test]
    fn facility_names() {
        assert_eq!(facility_by_name("local0"), Ok(Facility::LOCAL0));
        assert_eq!(facility_by_name("daemon").map(Facility::code), Ok(3));
        assert_eq!(
            facility_by_name("bogus").unwrap_err().to_string(),
            "Unknown syslog facility 'bogus'"
        );
    }

    #[test]
    fn message_form_and_reconnect() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut sink = Syslog::new(&path, "ipmon", Facility::LOCAL0);
        // No daemon yet: counted as lost.
        sink.write_line("a", Level::new(Severity::INFO)).unwrap();
        assert_eq!(sink.take_lost(), 1);
        let server = UnixDatagram::bind(&path).unwrap();
        sink.write_line("b 1.2.3.4\n", Level::new(Severity::WARNING))
            .unwrap();
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(msg.starts_with("<132>"), "{msg}");
        let tail = format!(" ipmon[{}]: b 1.2.3.4", std::process::id());
        assert!(msg.ends_with(&tail), "{msg}");
        // "<132>Mmm dd HH:MM:SS" is 5 + 15 bytes.
        assert_eq!(msg.len(), 20 + tail.len());
        // Restart the daemon: the sink reconnects.
        drop(server);
        std::fs::remove_file(&path).unwrap();
        let server = UnixDatagram::bind(&path).unwrap();
        sink.write_line("c", Level::from_priority(3 * 8 + 3))
            .unwrap();
        let n = server.recv(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"<27>"));
        assert_eq!(sink.take_lost(), 0);
    }
}
