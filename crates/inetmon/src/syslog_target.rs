//! `--syslog-target URL`, `--syslog-ca FILE`, `--syslog-buffer N`: syslog
//! over TCP or TLS for `ipmon` and `audit` (the one definition of these
//! options and their checks).

use std::io;
use std::path::PathBuf;

use clap::Args;
use inetmon_io::outputs::REMOTE_CLOSE_WAIT;
use inetmon_io::sink::{
    Facility, Level, LineSink, NetSyslog, NetSyslogConfig, Severity, SyslogTarget,
};

use crate::Misuse;

/// The network syslog options.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct SyslogTargetFlags {
    /// Send syslog over the network instead of /dev/log: `tcp://HOST[:PORT]`
    /// (RFC 5424 with octet counting, port 514 by default) or
    /// `tls://HOST[:PORT]` (RFC 5425, port 6514 by default).
    #[arg(long = "syslog-target", value_name = "URL")]
    pub(crate) target: Option<String>,
    /// CA certificates (PEM) that may sign a tls:// server's certificate
    /// (default: the system's, /etc/ssl/certs/ca-certificates.crt).
    #[arg(long = "syslog-ca", value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Messages held while the target is unreachable; more are dropped and
    /// counted (default 10000).
    #[arg(long = "syslog-buffer", value_name = "N")]
    pub(crate) buffer: Option<usize>,
}

impl SyslogTargetFlags {
    /// The validated settings, `None` without `--syslog-target`.
    ///
    /// # Errors
    /// A bad URL, `--syslog-ca` or `--syslog-buffer` without a target, a CA
    /// file for `tcp://`, a buffer of 0.
    pub(crate) fn config(
        &self,
        ident: &str,
        facility: Facility,
    ) -> Result<Option<NetSyslogConfig>, Misuse> {
        let Some(url) = &self.target else {
            if self.ca_file.is_some() {
                return Err(Misuse("--syslog-ca needs --syslog-target".to_owned()));
            }
            if self.buffer.is_some() {
                return Err(Misuse("--syslog-buffer needs --syslog-target".to_owned()));
            }
            return Ok(None);
        };
        let target = SyslogTarget::parse(url).map_err(|e| Misuse(e.to_string()))?;
        if self.ca_file.is_some() && !target.tls {
            return Err(Misuse(format!(
                "--syslog-ca is for tls:// targets, not {target}"
            )));
        }
        let mut cfg = NetSyslogConfig::new(target, ident, facility);
        cfg.ca_file.clone_from(&self.ca_file);
        if let Some(n) = self.buffer {
            if n == 0 {
                return Err(Misuse("--syslog-buffer must be at least 1".to_owned()));
            }
            cfg.capacity = n;
        }
        Ok(Some(cfg))
    }
}

/// An `io::Write` that sends each complete line to a [`NetSyslog`] at
/// `LOG_INFO` (for subcommands that format into a writer, as `audit`).
pub(crate) struct SyslogLines {
    sink: NetSyslog,
    buf: Vec<u8>,
}

impl SyslogLines {
    pub(crate) fn new(sink: NetSyslog) -> Self {
        SyslogLines {
            sink,
            buf: Vec::new(),
        }
    }

    /// Sends a last unterminated line and what is queued (waiting for the
    /// server up to [`REMOTE_CLOSE_WAIT`]); returns the messages lost.
    pub(crate) fn close(mut self) -> u64 {
        if !self.buf.is_empty() {
            let line = String::from_utf8_lossy(&self.buf).into_owned();
            let _ = self.sink.write_line(&line, Level::new(Severity::INFO));
        }
        self.sink.close(REMOTE_CLOSE_WAIT);
        self.sink.take_lost()
    }
}

impl io::Write for SyslogLines {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line[..nl]);
            self.sink
                .write_line(&text, Level::new(Severity::INFO))
                .map_err(io::Error::other)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
