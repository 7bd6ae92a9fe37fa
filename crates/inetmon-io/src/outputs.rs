//! The [`Sink`]s of the consumer loop: standard output that never blocks a
//! shutdown ([`TextOut`]), an appended text file, syslog, and the IP Filter
//! binary copy (`-B`).
//!
//! Standard output is written with the run's [`Shutdown`] in mind: when it
//! is a pipe, a FIFO or a socket it is switched to non-blocking mode (and
//! back when the sink is dropped) and a full pipe is waited for with
//! `poll(2)`, which returns on shutdown. Once shutdown has been asked for,
//! output that cannot be written at once is dropped and counted
//! ([`Sink::take_unwritten`]), so a stopped reader can never hold the
//! process (and its attached eBPF programs) after SIGTERM.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use inetmon_core::decode::iplog::IplogEncoder;
use inetmon_core::event::Event;

use crate::consumer::{Delivery, Rendered, Sink};
use crate::shutdown::Shutdown;
use crate::sink::{
    AppendFile, BinaryFile, Facility, Level, LineSink, NetSyslog, Severity, SinkError, Syslog,
};

/// Bytes of text buffered before a write.
const BUFFER: usize = 256 * 1024;
/// A text at least this long (a chunk of many events from the parallel
/// file reader) is written as it is, not copied into the buffer first.
const DIRECT: usize = 64 * 1024;

/// How long one wait for a writable output lasts before the shutdown flag
/// (set by a signal handler, which cannot wake the poll) is checked again.
const WAIT_MS: i32 = 50;

/// The syslog level of a formatted line's priority (`facility << 3 |
/// severity`, facility 0 meaning the sink's own). The one conversion.
#[must_use]
pub fn level_of(priority: u16) -> Level {
    Level {
        severity: Severity(u8::try_from(priority & 7).unwrap_or(Severity::INFO.0)),
        facility: u8::try_from(priority >> 3)
            .ok()
            .filter(|f| *f != 0)
            .and_then(Facility::from_code),
    }
}

/// Each line of `out` without its newline (lossy UTF-8), with its level.
pub fn lines(out: &Rendered) -> impl Iterator<Item = (std::borrow::Cow<'_, str>, Level)> {
    out.iter().map(|(l, text)| {
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        (String::from_utf8_lossy(text), level_of(l.priority))
    })
}

/// Text on standard output (see the module documentation).
#[derive(Debug)]
pub struct TextOut {
    fd: RawFd,
    buf: Vec<u8>,
    /// End offset in `buf` of each event's text.
    ends: Vec<usize>,
    unwritten: u64,
    /// Gave up at shutdown with the reader stuck.
    stuck: bool,
    flush_each: bool,
    shutdown: Shutdown,
    /// The file status flags to restore, when we set `O_NONBLOCK`.
    restore: Option<libc::c_int>,
}

impl TextOut {
    /// Standard output; flushed per event on a terminal.
    #[must_use]
    pub fn stdout(shutdown: &Shutdown) -> Self {
        let fd = io::stdout().as_raw_fd();
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: fstat writes a stat into the valid pointer.
        let kind = if unsafe { libc::fstat(fd, st.as_mut_ptr()) } == 0 {
            // SAFETY: fstat succeeded, so the struct is initialised.
            unsafe { st.assume_init() }.st_mode & libc::S_IFMT
        } else {
            0
        };
        let mut restore = None;
        if kind == libc::S_IFIFO || kind == libc::S_IFSOCK {
            // SAFETY: F_GETFL/F_SETFL on our own stdout.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            if flags >= 0
                && flags & libc::O_NONBLOCK == 0
                && unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } == 0
            {
                restore = Some(flags);
            }
        }
        // SAFETY: isatty on a valid fd.
        let flush_each = unsafe { libc::isatty(fd) } == 1;
        TextOut {
            fd,
            buf: Vec::with_capacity(BUFFER),
            ends: Vec::new(),
            unwritten: 0,
            stuck: false,
            flush_each,
            shutdown: shutdown.clone(),
            restore,
        }
    }

    /// Appends raw text (one event's worth) to the buffer.
    ///
    /// # Errors
    /// As for [`Sink::flush`] when the buffer is full.
    pub fn push(&mut self, text: &[u8]) -> Result<(), SinkError> {
        if text.len() >= DIRECT && !self.stuck {
            // A chunk of many events (the parallel file reader): written
            // as it is after what is buffered, not copied into the buffer.
            self.write_out()?;
            if !self.stuck {
                self.write_slice(text, &[text.len()])?;
            }
            return Ok(());
        }
        self.buf.extend_from_slice(text);
        self.ends.push(self.buf.len());
        if self.flush_each || self.buf.len() >= BUFFER {
            self.write_out()?;
        }
        Ok(())
    }

    fn write_out(&mut self) -> Result<(), SinkError> {
        let buf = std::mem::take(&mut self.buf);
        let ends = std::mem::take(&mut self.ends);
        let r = self.write_slice(&buf, &ends);
        self.buf = buf;
        self.ends = ends;
        self.buf.clear();
        self.ends.clear();
        r.map(|_| ())
    }

    /// Writes `bytes` (events ending at `ends`); returns how many bytes
    /// were written, fewer only when the reader is stuck at shutdown (the
    /// events not written completely are counted as unwritten).
    fn write_slice(&mut self, bytes: &[u8], ends: &[usize]) -> Result<usize, SinkError> {
        let mut done = 0;
        while done < bytes.len() {
            let rest = bytes.get(done..).unwrap_or(&[]);
            // SAFETY: writes from a valid slice to our fd.
            let rc = unsafe { libc::write(self.fd, rest.as_ptr().cast(), rest.len()) };
            if let Ok(n) = usize::try_from(rc) {
                done += n;
                continue;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock if self.shutdown.is_set() => {
                    // The reader is stuck and we are asked to stop: drop
                    // what is left, counted.
                    let kept = ends.iter().filter(|end| **end <= done).count();
                    let dropped = ends.len().saturating_sub(kept);
                    self.unwritten = self.unwritten.saturating_add(dropped as u64);
                    self.stuck = true;
                    break;
                }
                io::ErrorKind::WouldBlock => self.wait_writable(),
                io::ErrorKind::BrokenPipe => return Err(SinkError::Closed),
                _ => {
                    return Err(SinkError::Io {
                        what: "write to stdout".into(),
                        source: e,
                    })
                }
            }
        }
        Ok(done)
    }

    fn wait_writable(&self) {
        let mut fds = [
            libc::pollfd {
                fd: self.fd,
                events: libc::POLLOUT,
                revents: 0,
            },
            libc::pollfd {
                fd: self.shutdown.waker().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds; an error (EINTR) just means "try again".
        unsafe { libc::poll(fds.as_mut_ptr(), 2, WAIT_MS) };
    }
}

impl Drop for TextOut {
    fn drop(&mut self) {
        if let Some(flags) = self.restore {
            // SAFETY: restores the flags we changed on our stdout.
            unsafe { libc::fcntl(self.fd, libc::F_SETFL, flags) };
        }
    }
}

impl Sink for TextOut {
    fn deliver(&mut self, _ev: Option<&Event>, out: &Rendered) -> Result<Delivery, SinkError> {
        self.push(&out.text)?;
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.write_out()
    }

    fn stuck(&self) -> bool {
        self.stuck
    }

    fn take_unwritten(&mut self) -> (u64, &'static str) {
        (std::mem::take(&mut self.unwritten), "stdout")
    }
}

/// A text file opened for appending (reopened on SIGHUP).
#[derive(Debug)]
pub struct TextFile(pub AppendFile);

impl TextFile {
    /// Opens `path` for appending, without SIGHUP reopening.
    ///
    /// # Errors
    /// The file cannot be opened (or is not safe to open: see
    /// [`safe_open`](crate::safe_open)).
    pub fn open(path: impl Into<std::path::PathBuf>) -> Result<Self, crate::safe_open::PathError> {
        AppendFile::open(path, Arc::new(AtomicBool::new(false))).map(TextFile)
    }
}

impl Sink for TextFile {
    fn deliver(&mut self, _ev: Option<&Event>, out: &Rendered) -> Result<Delivery, SinkError> {
        self.0.write_bytes(&out.text)?;
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.flush()
    }

    fn take_notice(&mut self) -> Option<String> {
        self.0.take_notice().map(|n| n.to_string())
    }
}

/// Syslog: one message per line, at the line's level.
#[derive(Debug)]
pub struct SyslogOut(pub Syslog);

impl Sink for SyslogOut {
    fn deliver(&mut self, _ev: Option<&Event>, out: &Rendered) -> Result<Delivery, SinkError> {
        for (text, level) in lines(out) {
            self.0.write_line(&text, level)?;
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.flush()
    }

    fn take_unwritten(&mut self) -> (u64, &'static str) {
        (self.0.take_lost(), "syslog")
    }
}

/// Syslog over TCP/TLS: one message per line, queued (see
/// [`NetSyslog`]). The flush after a shutdown (the last of a run) sends what
/// is queued, waiting up to [`REMOTE_CLOSE_WAIT`] for the server, and counts
/// the rest as unwritten.
#[derive(Debug)]
pub struct RemoteSyslogOut {
    sink: NetSyslog,
    shutdown: Shutdown,
    closed: bool,
}

/// How long the last flush of a [`RemoteSyslogOut`] waits for the server.
pub const REMOTE_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl RemoteSyslogOut {
    /// Wraps a started sink; `shutdown` tells the last flush.
    #[must_use]
    pub fn new(sink: NetSyslog, shutdown: &Shutdown) -> Self {
        RemoteSyslogOut {
            sink,
            shutdown: shutdown.clone(),
            closed: false,
        }
    }
}

impl Sink for RemoteSyslogOut {
    fn deliver(&mut self, _ev: Option<&Event>, out: &Rendered) -> Result<Delivery, SinkError> {
        for (text, level) in lines(out) {
            self.sink.write_line(&text, level)?;
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.shutdown.is_set() && !self.closed {
            self.closed = true;
            self.sink.close(REMOTE_CLOSE_WAIT);
        }
        Ok(())
    }

    fn take_unwritten(&mut self) -> (u64, &'static str) {
        (self.sink.take_lost(), "syslog")
    }
}

/// The daemon's `[syslog] target`: every event as its JSON line (the schema
/// of `--format json`) in one message over TCP/TLS, at `LOG_WARNING` for
/// `lost` and `malformed` events and `LOG_INFO` otherwise; queued, closed
/// and counted as [`RemoteSyslogOut`].
#[derive(Debug)]
pub struct JsonSyslogOut {
    inner: RemoteSyslogOut,
    json: inetmon_core::format::json::JsonWriter,
}

impl JsonSyslogOut {
    /// Wraps a started sink; `shutdown` tells the last flush.
    #[must_use]
    pub fn new(sink: NetSyslog, shutdown: &Shutdown) -> Self {
        JsonSyslogOut {
            inner: RemoteSyslogOut::new(sink, shutdown),
            json: inetmon_core::format::json::JsonWriter::new(),
        }
    }
}

impl Sink for JsonSyslogOut {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        let Some(ev) = ev else {
            return Ok(Delivery::Passed);
        };
        let severity = match ev {
            Event::Lost(_) | Event::Malformed(_) => Severity::WARNING,
            _ => Severity::INFO,
        };
        let line = String::from_utf8_lossy(self.json.format(ev)).into_owned();
        self.inner.sink.write_line(&line, Level::new(severity))?;
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.inner.flush()
    }

    fn take_unwritten(&mut self) -> (u64, &'static str) {
        self.inner.take_unwritten()
    }
}

/// `-B`: every event that has an IP Filter binary form (packets, NAT,
/// state) appended as that record; other events are not copied.
#[derive(Debug)]
pub struct IplogCopy {
    file: BinaryFile,
    encoder: IplogEncoder,
    buf: Vec<u8>,
}

impl IplogCopy {
    /// Copies into `file`.
    #[must_use]
    pub fn new(file: BinaryFile) -> Self {
        IplogCopy {
            file,
            encoder: IplogEncoder::new(),
            buf: Vec::new(),
        }
    }
}

impl Sink for IplogCopy {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        let Some(ev) = ev else {
            return Ok(Delivery::Passed);
        };
        if matches!(ev, Event::Lost(_) | Event::Malformed(_)) {
            return Ok(Delivery::Passed);
        }
        self.buf.clear();
        if self.encoder.encode(ev, &mut self.buf).is_ok() {
            self.file.write_record(&self.buf)?;
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.file.flush()
    }

    fn take_notice(&mut self) -> Option<String> {
        self.file.take_notice().map(|n| n.to_string())
    }
}
