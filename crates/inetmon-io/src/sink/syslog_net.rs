//! Syslog over the network: RFC 5424 messages over TCP with octet-counting
//! framing (RFC 6587 §3.4.1), plain (`tcp://host:514`) or in TLS
//! (`tls://host:6514`, RFC 5425, `rustls` with the `ring` provider).
//!
//! [`NetSyslog::write_line`](super::LineSink::write_line) formats the
//! message and puts it on a bounded queue that a writer thread sends. The writer connects (and reconnects, with a backoff from 100 ms
//! to 2 s) on its own; while the server is unreachable the queue holds up to
//! [`NetSyslogConfig::capacity`] messages and the next ones are dropped and
//! counted ([`NetSyslog::take_lost`]). Once there is room again, a warning
//! message saying how many were lost goes to the server first, at the place
//! of the gap, so the receiver sees the loss in band too.
//!
//! A connection the server closed is noticed before the next message is
//! written to it (the socket turns readable with end-of-file), so messages
//! are not written into a dead connection. What the server's kernel
//! accepted but its daemon never read when it died cannot be known to a
//! syslog sender (RFC 6587 has no acknowledgements); that is the one loss
//! this sink cannot count.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use super::{Facility, Level, LineSink, Severity, SinkError};

/// Messages held while the server is unreachable, by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The CA bundle used for `tls://` when no CA file is given (Debian's).
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How long a connection attempt (TCP connect, TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one write may block on a server that reads nothing.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Reconnect backoff: first and longest wait.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Where network syslog goes: `tcp://host:port` or `tls://host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyslogTarget {
    /// TLS (RFC 5425) rather than plain TCP.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (default 514 for `tcp://`, 6514 for `tls://`).
    pub port: u16,
}

/// A target URL that is not `tcp://host[:port]` or `tls://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad syslog target '{0}': expected tcp://HOST[:PORT] or tls://HOST[:PORT]")]
pub struct BadTarget(pub String);

impl SyslogTarget {
    /// Parses `tcp://host:514`, `tls://[::1]:6514`, `tcp://logs` (default
    /// port).
    ///
    /// # Errors
    /// [`BadTarget`] for anything else.
    pub fn parse(url: &str) -> Result<SyslogTarget, BadTarget> {
        let bad = || BadTarget(url.to_owned());
        let (tls, rest) = if let Some(r) = url.strip_prefix("tcp://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("tls://") {
            (true, r)
        } else {
            return Err(bad());
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let default_port = if tls { 6514 } else { 514 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => default_port,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(bad)?,
            };
            (host, port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
                None => (rest, default_port),
            }
        };
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_');
        if host.is_empty() || port == 0 || !host.chars().all(ok_char) {
            return Err(bad());
        }
        Ok(SyslogTarget {
            tls,
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "tls" } else { "tcp" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Settings of a [`NetSyslog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSyslogConfig {
    /// Where to send.
    pub target: SyslogTarget,
    /// PEM file of the CA certificates that may sign the server's
    /// certificate (`tls://` only; default [`SYSTEM_CA_FILE`]).
    pub ca_file: Option<PathBuf>,
    /// APP-NAME of the messages (`ipmon`, `inetmon`).
    pub ident: String,
    /// Facility of lines whose level names none.
    pub facility: Facility,
    /// Messages held while the server is unreachable.
    pub capacity: usize,
}

impl NetSyslogConfig {
    /// A config for `target` with the default capacity and no CA file.
    #[must_use]
    pub fn new(target: SyslogTarget, ident: impl Into<String>, facility: Facility) -> Self {
        NetSyslogConfig {
            target,
            ca_file: None,
            ident: ident.into(),
            facility,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

/// Errors of setting up a [`NetSyslog`] (connection problems are not
/// errors: they are retried and counted).
#[derive(Debug, thiserror::Error)]
pub enum NetSyslogError {
    /// The CA file cannot be read or holds no certificate.
    #[error("CA file {path}: {why}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        why: String,
    },
    /// A CA file was given for a `tcp://` target.
    #[error("a CA file is only used with tls:// targets")]
    CaWithoutTls,
    /// The writer thread could not be started.
    #[error("starting the syslog writer: {0}")]
    Thread(#[source] io::Error),
}

/// The queue shared with the writer thread.
#[derive(Debug, Default)]
struct Queue {
    /// Framed messages, oldest first.
    msgs: VecDeque<Vec<u8>>,
    /// Messages dropped since the last in-band notice.
    unannounced: u64,
    /// Messages dropped in all.
    lost: u64,
    /// Close asked for: send what is queued until this deadline.
    closing: Option<Instant>,
    /// The writer is connected.
    connected: bool,
    /// Messages written to a connection.
    sent: u64,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// A message was queued, or close was asked for (the writer waits).
    wake: Condvar,
    /// A message left the queue, or the connection went down (a full
    /// queue's writer waits).
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A poisoned lock only means the other side panicked; the queue is
        // still consistent (every change is one push or pop).
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Counters of a [`NetSyslog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetSyslogStats {
    /// Messages written to a connection.
    pub sent: u64,
    /// Messages dropped (queue full, or left at close).
    pub lost: u64,
    /// Messages waiting.
    pub queued: u64,
    /// The writer is connected now.
    pub connected: bool,
}

/// Sends lines to a syslog server over TCP or TLS (see the module docs).
#[derive(Debug)]
pub struct NetSyslog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    target: SyslogTarget,
    ident: String,
    hostname: String,
    pid: u32,
    facility: Facility,
    capacity: usize,
    reported: u64,
}

impl NetSyslog {
    /// Checks what [`NetSyslog::start`] would check (the CA file, a CA file
    /// only with `tls://`) without starting anything: for a process that
    /// reports such errors before it daemonises.
    ///
    /// # Errors
    /// As [`NetSyslog::start`].
    pub fn check(cfg: &NetSyslogConfig) -> Result<(), NetSyslogError> {
        Self::tls_of(cfg).map(|_| ())
    }

    fn tls_of(cfg: &NetSyslogConfig) -> Result<Option<Arc<rustls::ClientConfig>>, NetSyslogError> {
        if cfg.target.tls {
            let path = cfg
                .ca_file
                .clone()
                .unwrap_or_else(|| PathBuf::from(SYSTEM_CA_FILE));
            Ok(Some(Arc::new(tls_config(&path)?)))
        } else if cfg.ca_file.is_some() {
            Err(NetSyslogError::CaWithoutTls)
        } else {
            Ok(None)
        }
    }

    /// Loads the CA file (for `tls://`) and starts the writer thread, which
    /// connects at once and keeps trying while the server is away.
    ///
    /// # Errors
    /// A CA file that cannot be used; the thread cannot be started.
    pub fn start(cfg: NetSyslogConfig) -> Result<NetSyslog, NetSyslogError> {
        let tls = Self::tls_of(&cfg)?;
        let shared = Arc::new(Shared::default());
        let writer = Writer {
            shared: Arc::clone(&shared),
            target: cfg.target.clone(),
            tls,
        };
        let thread = std::thread::Builder::new()
            .name("syslog-net".into())
            .spawn(move || writer.run())
            .map_err(NetSyslogError::Thread)?;
        Ok(NetSyslog {
            shared,
            thread: Some(thread),
            target: cfg.target,
            ident: cfg.ident,
            hostname: hostname(),
            pid: std::process::id(),
            facility: cfg.facility,
            capacity: cfg.capacity.max(1),
            reported: 0,
        })
    }

    /// The target.
    #[must_use]
    pub fn target(&self) -> &SyslogTarget {
        &self.target
    }

    /// Messages dropped since the last call.
    pub fn take_lost(&mut self) -> u64 {
        let lost = self.shared.lock().lost;
        let n = lost.saturating_sub(self.reported);
        self.reported = lost;
        n
    }

    /// The counters now.
    #[must_use]
    pub fn stats(&self) -> NetSyslogStats {
        let q = self.shared.lock();
        NetSyslogStats {
            sent: q.sent,
            lost: q.lost,
            queued: q.msgs.len() as u64,
            connected: q.connected,
        }
    }

    /// Sends what is queued, waiting at most `wait` (for the server to come
    /// back, too); what is left then is dropped and counted as lost. The
    /// writer thread ends. Further lines are counted as lost.
    pub fn close(&mut self, wait: Duration) {
        {
            let mut q = self.shared.lock();
            if q.unannounced > 0 {
                let n = q.unannounced;
                q.unannounced = 0;
                let notice = self.frame(&self.loss_text(n), Level::new(Severity::WARNING));
                q.msgs.push_back(notice);
            }
            q.closing = Some(Instant::now() + wait);
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn loss_text(&self, n: u64) -> String {
        format!(
            "inetmon: {n} syslog message{} lost: the queue of {} was full while {} was unreachable",
            if n == 1 { "" } else { "s" },
            self.capacity,
            self.target
        )
    }

    /// `LEN SP <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG`.
    fn frame(&self, line: &str, level: Level) -> Vec<u8> {
        let facility = level.facility.unwrap_or(self.facility);
        let pri = u16::from(facility.code()) * 8 + u16::from(level.severity.0 & 7);
        let now = jiff::Zoned::now();
        let line = line.strip_suffix('\n').unwrap_or(line);
        let msg = format!(
            "<{pri}>1 {} {} {} {} - - {line}",
            now.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z"),
            self.hostname,
            self.ident,
            self.pid
        );
        let mut framed = format!("{} ", msg.len()).into_bytes();
        framed.extend_from_slice(msg.as_bytes());
        framed
    }
}

impl LineSink for NetSyslog {
    fn write_line(&mut self, line: &str, level: Level) -> Result<(), SinkError> {
        let framed = self.frame(line, level);
        let mut q = self.shared.lock();
        // Connected, a full queue is the server reading slower than we
        // write: wait for room (as a slow standard output would make us),
        // at most `WRITE_TIMEOUT`. Disconnected, it is the buffer of the
        // outage: drop and count.
        let until = Instant::now() + WRITE_TIMEOUT;
        while q.connected && q.closing.is_none() && q.msgs.len() >= self.capacity {
            let now = Instant::now();
            if now >= until {
                break;
            }
            q = self
                .shared
                .room
                .wait_timeout(q, until - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        if q.closing.is_some() || q.msgs.len() >= self.capacity {
            q.lost += 1;
            q.unannounced += 1;
            return Ok(());
        }
        if q.unannounced > 0 {
            // Room again: the notice goes first, where the gap is (it may
            // take the queue one over its capacity).
            let n = q.unannounced;
            q.unannounced = 0;
            q.msgs
                .push_back(self.frame(&self.loss_text(n), Level::new(Severity::WARNING)));
        }
        q.msgs.push_back(framed);
        drop(q);
        self.shared.wake.notify_one();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

impl Drop for NetSyslog {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.close(Duration::from_secs(2));
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
        .unwrap_or_else(|| "-".to_owned())
}

fn tls_config(path: &PathBuf) -> Result<rustls::ClientConfig, NetSyslogError> {
    let err = |why: String| NetSyslogError::CaFile {
        path: path.clone(),
        why,
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| err(e.to_string()))?;
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("no certificate in it".into()));
    }
    // The `ring` provider is the project's choice (aws-lc-rs needs cmake
    // and a C build); rustls 0.23.48 deprecates it only because it has no
    // post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(cfg)
}

/// One connection to the server.
enum Conn {
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Tcp(s) => s,
            Conn::Tls(s) => s.get_ref(),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(buf),
            Conn::Tls(s) => {
                s.write_all(buf)?;
                s.flush()
            }
        }
    }

    /// Whether the server closed the connection (or it failed): the
    /// socket is readable with end-of-file or an error. A TLS server may
    /// send records (session tickets, alerts): those are processed.
    fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        let fd = self.tcp().as_raw_fd();
        // SAFETY: a peek of one byte into a local buffer on our own socket.
        let n = unsafe {
            libc::recv(
                fd,
                b.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match n {
            0 => true,
            n if n > 0 => match self {
                Conn::Tcp(s) => {
                    // A syslog server sends nothing; discard what it did.
                    let mut sink = [0u8; 4096];
                    let _ = s.set_nonblocking(true);
                    let r = s.read(&mut sink);
                    let _ = s.set_nonblocking(false);
                    match r {
                        Ok(0) => true,
                        Ok(_) => false,
                        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
                    }
                }
                Conn::Tls(s) => {
                    let (conn, sock) = (&mut s.conn, &mut s.sock);
                    match conn.read_tls(sock) {
                        Ok(0) | Err(_) => true,
                        Ok(_) => match conn.process_new_packets() {
                            Ok(state) => state.peer_has_closed(),
                            Err(_) => true,
                        },
                    }
                }
            },
            _ => {
                let e = io::Error::last_os_error();
                e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted
            }
        }
    }
}

/// The writer thread's state.
struct Writer {
    shared: Arc<Shared>,
    target: SyslogTarget,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Writer {
    fn connect(&self) -> io::Result<Conn> {
        let addrs = (self.target.host.as_str(), self.target.port).to_socket_addrs()?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(s) => {
                    s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                    s.set_read_timeout(Some(CONNECT_TIMEOUT))?;
                    let _ = s.set_nodelay(true);
                    return match &self.tls {
                        None => Ok(Conn::Tcp(s)),
                        Some(cfg) => self.handshake(cfg, s),
                    };
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn handshake(&self, cfg: &Arc<rustls::ClientConfig>, mut s: TcpStream) -> io::Result<Conn> {
        let name = ServerName::try_from(self.target.host.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut conn = rustls::ClientConnection::new(Arc::clone(cfg), name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut s)?;
        }
        Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(conn, s))))
    }

    /// Waits for a message (or close); `None` when the run is over.
    fn next(&self) -> Option<Vec<u8>> {
        let mut q = self.shared.lock();
        loop {
            if let Some(m) = q.msgs.pop_front() {
                self.shared.room.notify_all();
                return Some(m);
            }
            if q.closing.is_some() {
                return None;
            }
            q = self
                .shared
                .wake
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// After a failure: gives up (dropping and counting what is queued)
    /// when the close deadline has passed, else waits `backoff` (or less,
    /// until that deadline). Returns whether to go on.
    fn wait_or_give_up(&self, backoff: Duration) -> bool {
        let mut q = self.shared.lock();
        q.connected = false;
        self.shared.room.notify_all();
        if let Some(deadline) = q.closing {
            let now = Instant::now();
            if now >= deadline {
                let n = q.msgs.len() as u64;
                q.msgs.clear();
                q.lost += n;
                return false;
            }
            let wait = backoff.min(deadline - now);
            drop(q);
            std::thread::sleep(wait);
            return true;
        }
        // Not closing: sleep the backoff, but wake for a close (not for
        // each new message: that would retry on every line).
        let until = Instant::now() + backoff;
        while q.closing.is_none() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            q = self
                .shared
                .wake
                .wait_timeout(q, until - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }

    fn run(self) {
        let mut conn: Option<Conn> = None;
        let mut backoff = BACKOFF_MIN;
        // A message taken from the queue and not yet written.
        let mut pending: Option<Vec<u8>> = None;
        loop {
            if conn.is_none() {
                match self.connect() {
                    Ok(c) => {
                        conn = Some(c);
                        backoff = BACKOFF_MIN;
                        self.shared.lock().connected = true;
                    }
                    Err(_) => {
                        if !self.wait_or_give_up(backoff) {
                            if pending.take().is_some() {
                                self.shared.lock().lost += 1;
                            }
                            return;
                        }
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        continue;
                    }
                }
            }
            let msg = match pending.take() {
                Some(m) => m,
                None => match self.next() {
                    Some(m) => m,
                    None => return,
                },
            };
            let Some(c) = conn.as_mut() else {
                pending = Some(msg);
                continue;
            };
            if c.closed() || c.write_all(&msg).is_err() {
                // Sent again, whole, on the next connection (the server
                // drops a partial frame with the old connection).
                conn = None;
                pending = Some(msg);
                self.shared.lock().connected = false;
                self.shared.room.notify_all();
                continue;
            }
            self.shared.lock().sent += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = SyslogTarget::parse("tcp://127.0.0.1:5514").unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port), (false, "127.0.0.1", 5514));
        assert_eq!(t.to_string(), "tcp://127.0.0.1:5514");
        let t = SyslogTarget::parse("tls://logs.example").unwrap();
        assert_eq!((t.tls, t.port), (true, 6514));
        let t = SyslogTarget::parse("tcp://[::1]:600").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 600));
        assert_eq!(t.to_string(), "tcp://[::1]:600");
        assert_eq!(SyslogTarget::parse("tcp://logs").unwrap().port, 514);
        for bad in [
            "udp://x:514",
            "tcp://",
            "tcp://x:0",
            "tcp://x:70000",
            "tcp://[::1",
            "tcp://a b:1",
            "x",
        ] {
            assert!(SyslogTarget::parse(bad).is_err(), "{bad}");
        }
    }

    /// Octet counting over a real TCP socket, the RFC 5424 header, loss
    /// counted while nobody listens, and the in-band loss notice.
    #[test]
    fn frames_and_loss_notice() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let target = SyslogTarget::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
        let mut cfg = NetSyslogConfig::new(target, "ipmon", Facility::LOCAL0);
        cfg.capacity = 2;
        let mut s = NetSyslog::start(cfg).unwrap();
        for i in 0..5 {
            s.write_line(&format!("m{i}\n"), Level::new(Severity::INFO))
                .unwrap();
        }
        assert_eq!(s.take_lost(), 3);
        let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        // Once the two queued messages went out, there is room again.
        let t0 = Instant::now();
        while s.stats().sent < 2 {
            assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", s.stats());
            std::thread::sleep(Duration::from_millis(20));
        }
        s.write_line("m5", Level::new(Severity::ERR)).unwrap();
        s.close(Duration::from_secs(10));
        let (mut c, _) = l.accept().unwrap();
        let mut all = String::new();
        c.read_to_string(&mut all).unwrap();
        let mut msgs = Vec::new();
        let mut rest = all.as_str();
        while !rest.is_empty() {
            let (len, tail) = rest.split_once(' ').unwrap();
            let len: usize = len.parse().unwrap();
            msgs.push(&tail[..len]);
            rest = &tail[len..];
        }
        assert_eq!(msgs.len(), 4, "{msgs:#?}");
        assert!(msgs[0].starts_with("<134>1 "), "{msgs:#?}");
        assert!(
            msgs[0].ends_with(&format!(" ipmon {} - - m0", std::process::id())),
            "{msgs:#?}"
        );
        assert!(msgs[1].ends_with(" - - m1"), "{msgs:#?}");
        assert!(msgs[2].starts_with("<132>1 "), "{msgs:#?}");
        assert!(
            msgs[2].ends_with(&format!(
                " - - inetmon: 3 syslog messages lost: the queue of 2 was full while tcp://127.0.0.1:{port} was unreachable"
            )),
            "{msgs:#?}"
        );
        assert!(msgs[3].starts_with("<131>1 ") && msgs[3].ends_with(" - - m5"));
        assert_eq!(s.stats().sent, 4);
        assert_eq!(s.take_lost(), 0);
    }
}
