//! The server side: [`Hub`], the sink that fans events out to clients.
//!
//! Threads: one accept thread (checks each peer, then hands the
//! connection to a short-lived handshake thread that reads the hello
//! within [`HELLO_TIMEOUT`] and refuses or admits it), and one writer
//! thread per admitted client, which takes encoded frames off the
//! client's bounded queue and writes them to its socket, blocking as long
//! as the client does not read. The hub itself runs on the consumer's
//! thread and never blocks: it only filters, encodes an event once for
//! all the clients that want it, and `try_send`s it to their queues.
//!
//! A hub outlives the daemon's reloads ([`Hub::serve`]): its clients stay
//! connected while the producers restart, and only those asking for what
//! the new configuration no longer collects are told so and let go.

use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use inetmon_core::event::{Event, EventKind, Header, LossStage, Lost, Source, LOST_CLIENT_QUEUE};
use inetmon_core::protocol::{
    self, Collects, FrameError, FrameType, RefusalCode, Request, Subscription, Welcome,
    PROTOCOL_VERSION,
};

use super::socket::{self, Access, Peer, SocketError};
use crate::consumer::{Delivery, Rendered, Sink};
use crate::daemon_config::DaemonConfig;
use crate::fdwait::wait_either_ms;
use crate::pipeline::now;
use crate::shutdown::Shutdown;
use crate::sink::SinkError;

/// Events a client's queue holds by default.
pub const DEFAULT_QUEUE: usize = 8192;

/// Clients the daemon serves at once by default.
pub const DEFAULT_MAX_CLIENTS: usize = 256;

/// How long a client has to send its hello after connecting.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a stopping hub waits for writers to send what is queued
/// before it cuts the remaining connections.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// Most log lines kept for [`Sink::take_notice`] (a connection flood does
/// not grow memory; further lines are counted only).
const MAX_NOTICES: usize = 256;

/// How the hub is set up.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The socket path.
    pub socket: PathBuf,
    /// Events each client's queue holds.
    pub queue: usize,
    /// Most clients at once; more are refused ([`RefusalCode::Busy`]).
    pub max_clients: usize,
    /// What the daemon collects: requests for anything else are refused.
    pub collects: Collects,
    /// Who may connect.
    pub access: Access,
}

impl HubConfig {
    /// The defaults for `socket`, serving what `collects` says, with
    /// [`Access::of_system`].
    #[must_use]
    pub fn new(socket: PathBuf, collects: Collects) -> Self {
        HubConfig {
            socket,
            queue: DEFAULT_QUEUE,
            max_clients: DEFAULT_MAX_CLIENTS,
            collects,
            access: Access::of_system(),
        }
    }

    /// The hub of a daemon running `cfg`.
    #[must_use]
    pub fn of_daemon(cfg: &DaemonConfig) -> Self {
        HubConfig::new(cfg.socket.clone(), collects_of(cfg))
    }
}

/// What a daemon running `cfg` collects.
#[must_use]
pub fn collects_of(cfg: &DaemonConfig) -> Collects {
    let mut kinds = Vec::new();
    if cfg.sockets.is_some() {
        kinds.push(EventKind::Sock);
    }
    if !cfg.nflog_groups.is_empty() {
        kinds.push(EventKind::Packet);
    }
    if cfg.conntrack {
        kinds.extend([EventKind::Nat, EventKind::State]);
    }
    if cfg.drops.is_some_and(|d| d.per_drop) {
        kinds.push(EventKind::Drop);
    }
    Collects {
        kinds,
        nflog_groups: cfg.nflog_groups.clone(),
    }
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The socket.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// A thread could not be started.
    #[error("starting the client accept thread")]
    Thread(#[source] io::Error),
}

/// Counters of a hub, shared with its threads (relaxed: statistics).
#[derive(Debug, Default)]
pub struct HubStats {
    /// Clients connected now.
    pub clients: AtomicU64,
    /// Clients admitted since the start.
    pub admitted: AtomicU64,
    /// Connections refused since the start.
    pub refused: AtomicU64,
    /// Event frames queued to clients.
    pub queued: AtomicU64,
    /// Events dropped at full client queues (each reported to its client).
    pub dropped: AtomicU64,
    /// Log lines dropped because too many were waiting.
    pub notices_dropped: AtomicU64,
}

/// A connection that passed the handshake, waiting for the hub to take it.
struct Admitted {
    stream: UnixStream,
    peer: Peer,
    request: Request,
    sub: Subscription,
    what: String,
}

/// One client, as the hub sees it.
struct Client {
    /// What it asked for (checked again when the daemon reloads).
    request: Request,
    sub: Subscription,
    tx: Sender<Arc<[u8]>>,
    writer: JoinHandle<()>,
    /// The connection, to notice the client leaving and to cut it at the end.
    stream: UnixStream,
    /// Set by the writer when the connection failed.
    dead: Arc<AtomicBool>,
    /// Events dropped for this client and not yet reported, and their kinds.
    lost: u64,
    lost_kinds: Vec<EventKind>,
    /// Sequence numbers of the `Lost` events sent to it.
    seq: u64,
    peer: Peer,
}

impl Client {
    /// Queues `frame` (of an event of `kind`), or counts it as lost.
    fn offer(&mut self, frame: &Arc<[u8]>, kind: EventKind, stats: &HubStats) {
        if self.lost > 0 && !self.report_lost() {
            self.count_lost(kind, stats);
            return;
        }
        match self.tx.try_send(Arc::clone(frame)) {
            Ok(()) => {
                stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => self.count_lost(kind, stats),
            Err(TrySendError::Disconnected(_)) => self.dead.store(true, Ordering::Relaxed),
        }
    }

    fn count_lost(&mut self, kind: EventKind, stats: &HubStats) {
        self.lost = self.lost.saturating_add(1);
        if !self.lost_kinds.contains(&kind) {
            self.lost_kinds.push(kind);
        }
        stats.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Queues the report of the events dropped so far; whether there was
    /// room for it.
    fn report_lost(&mut self) -> bool {
        if self.lost == 0 {
            return true;
        }
        if self.tx.is_full() {
            return false;
        }
        self.seq = self.seq.saturating_add(1);
        let mut kinds = self.lost_kinds.clone();
        kinds.sort();
        let ev = Event::Lost(Lost {
            header: Header {
                time: now(),
                source: Source::Pipeline,
                seq: self.seq,
            },
            stage: LossStage::Sink,
            count: self.lost,
            kinds,
            seq_range: None,
            breakdown: vec![(LOST_CLIENT_QUEUE, self.lost)],
        });
        let mut buf = Vec::with_capacity(256);
        protocol::encode_event(&ev, &mut buf);
        match self.tx.try_send(Arc::from(buf)) {
            Ok(()) => {
                self.lost = 0;
                self.lost_kinds.clear();
                true
            }
            Err(TrySendError::Full(_)) => {
                self.seq -= 1;
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                self.dead.store(true, Ordering::Relaxed);
                false
            }
        }
    }

    /// Whether the client hung up (its socket reads as closed: a client
    /// sends nothing after its hello).
    fn hung_up(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.stream.as_raw_fd(),
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        let rc = unsafe { libc::poll(&raw mut pfd, 1, 0) };
        rc > 0 && pfd.revents != 0
    }
}

/// The client hub: a [`Sink`] for the daemon's consumer. Starting it
/// creates the socket and the accept thread; dropping it stops them,
/// lets the writers send what is queued (for at most a second), closes
/// every connection and removes the socket.
pub struct Hub {
    clients: Vec<Client>,
    /// What the daemon collects now, shared with the accept thread.
    collects: Arc<Mutex<Collects>>,
    incoming: Receiver<Admitted>,
    notices: Receiver<String>,
    notice_tx: Sender<String>,
    stats: Arc<HubStats>,
    queue: usize,
    stop: Shutdown,
    accept: Option<JoinHandle<()>>,
    socket: PathBuf,
    socket_id: Option<(u64, u64)>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("socket", &self.socket)
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Creates the socket and starts accepting clients.
    ///
    /// # Errors
    /// [`HubError`]: the socket cannot be created safely, or is in use.
    pub fn start(cfg: HubConfig) -> Result<Hub, HubError> {
        let (listener, socket) = socket::bind(&cfg.socket, cfg.access.group)?;
        let socket_id = std::fs::symlink_metadata(&socket)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let stop = Shutdown::new().map_err(HubError::Thread)?;
        let stats = Arc::new(HubStats::default());
        let (admit_tx, incoming) = crossbeam_channel::bounded(cfg.max_clients.max(1));
        let (notice_tx, notices) = crossbeam_channel::bounded(MAX_NOTICES);
        let collects = Arc::new(Mutex::new(cfg.collects.clone()));
        let acceptor = Acceptor {
            listener,
            stop: stop.clone(),
            collects: Arc::clone(&collects),
            cfg: cfg.clone(),
            admit: admit_tx,
            notices: notice_tx.clone(),
            stats: Arc::clone(&stats),
        };
        let accept = std::thread::Builder::new()
            .name("inetmon-clients".into())
            .spawn(move || acceptor.run())
            .map_err(HubError::Thread)?;
        Ok(Hub {
            clients: Vec::new(),
            collects,
            incoming,
            notices,
            notice_tx,
            stats,
            queue: cfg.queue.max(2),
            stop,
            accept: Some(accept),
            socket,
            socket_id,
            buf: Vec::with_capacity(1024),
        })
    }

    /// The hub's counters.
    #[must_use]
    pub fn stats(&self) -> Arc<HubStats> {
        Arc::clone(&self.stats)
    }

    /// The socket's path (symlink-free).
    #[must_use]
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The daemon now collects `collects` (a reload): new clients are
    /// admitted against it, and a connected client whose request it no
    /// longer covers gets a refusal frame saying what is missing, then
    /// its connection ends; the others stay connected.
    pub fn serve(&mut self, collects: Collects) {
        self.admit();
        let mut ended = Vec::new();
        let mut i = 0;
        while i < self.clients.len() {
            match collects.missing(&self.clients[i].request) {
                Some(text) => ended.push((self.clients.swap_remove(i), text)),
                None => i += 1,
            }
        }
        for (c, text) in ended {
            self.stats.clients.fetch_sub(1, Ordering::Relaxed);
            self.notice(format!(
                "client let go after the reload: uid {} pid {}: {text}",
                c.peer.uid, c.peer.pid
            ));
            let mut buf = Vec::with_capacity(128);
            protocol::encode_refused(RefusalCode::NotCollected, &text, &mut buf);
            // The writer sends what is queued, then this frame, and ends
            // when the queue closes; a client that does not read is cut
            // after a second rather than holding its writer forever.
            let _ = c.stream.set_write_timeout(Some(DRAIN_WAIT));
            let _ = c.tx.try_send(Arc::from(buf));
        }
        *self.collects.lock().unwrap_or_else(PoisonError::into_inner) = collects;
    }

    /// Takes the clients that passed their handshake: each gets its
    /// welcome as the first frame of its queue, so that a client that
    /// has its welcome gets every event from then on.
    fn admit(&mut self) {
        while let Ok(mut a) = self.incoming.try_recv() {
            // Its handshake may have checked the request against what the
            // daemon collected before a reload.
            let missing = self
                .collects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .missing(&a.request);
            if let Some(text) = missing {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                self.notice(format!(
                    "client refused (uid {} pid {}): {text}",
                    a.peer.uid, a.peer.pid
                ));
                let mut buf = Vec::new();
                protocol::encode_refused(RefusalCode::NotCollected, &text, &mut buf);
                let _ = a.stream.set_write_timeout(Some(DRAIN_WAIT));
                let _ = a.stream.write_all(&buf);
                continue;
            }
            let mut buf = Vec::with_capacity(128);
            protocol::encode_welcome(
                &Welcome {
                    daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
                    queue: self.queue as u64,
                },
                &mut buf,
            );
            let (tx, rx) = crossbeam_channel::bounded::<Arc<[u8]>>(self.queue);
            let _ = tx.try_send(Arc::from(buf));
            let Ok(write_half) = a.stream.try_clone() else {
                continue;
            };
            let dead = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&dead);
            let Ok(writer) = std::thread::Builder::new()
                .name("inetmon-client".into())
                .spawn(move || write_frames(&rx, write_half, &flag))
            else {
                self.notice(format!(
                    "client uid {} pid {}: no thread for it, disconnected",
                    a.peer.uid, a.peer.pid
                ));
                continue;
            };
            self.notice(format!(
                "client connected: uid {} pid {} ({})",
                a.peer.uid, a.peer.pid, a.what
            ));
            self.stats.clients.fetch_add(1, Ordering::Relaxed);
            self.stats.admitted.fetch_add(1, Ordering::Relaxed);
            self.clients.push(Client {
                request: a.request,
                sub: a.sub,
                tx,
                writer,
                stream: a.stream,
                dead,
                lost: 0,
                lost_kinds: Vec::new(),
                seq: 0,
                peer: a.peer,
            });
        }
    }

    /// Drops the clients whose connection failed or who hung up.
    fn reap(&mut self, check_hangup: bool) {
        let mut gone = Vec::new();
        self.clients.retain(|c| {
            let gone_now = c.dead.load(Ordering::Relaxed) || (check_hangup && c.hung_up());
            let keep = !gone_now;
            if !keep {
                gone.push((c.peer.uid, c.peer.pid, c.lost));
                let _ = c.stream.shutdown(std::net::Shutdown::Both);
            }
            keep
        });
        for (uid, pid, lost) in gone {
            self.stats.clients.fetch_sub(1, Ordering::Relaxed);
            let unreported = if lost > 0 {
                format!(", {lost} events dropped for it unreported")
            } else {
                String::new()
            };
            self.notice(format!(
                "client disconnected: uid {uid} pid {pid}{unreported}"
            ));
        }
    }

    fn notice(&self, line: String) {
        push_notice(&self.notice_tx, &self.stats, line);
    }
}

fn push_notice(tx: &Sender<String>, stats: &HubStats, line: String) {
    if tx.try_send(line).is_err() {
        stats.notices_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

impl Sink for Hub {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        if !self.incoming.is_empty() {
            self.admit();
        }
        let Some(ev) = ev else {
            return Ok(Delivery::Passed);
        };
        let Hub {
            clients,
            buf,
            stats,
            ..
        } = self;
        let mut frame: Option<Arc<[u8]>> = None;
        let mut dead = false;
        for c in clients.iter_mut() {
            if !c.sub.matches(ev) {
                continue;
            }
            let f = frame.get_or_insert_with(|| {
                buf.clear();
                protocol::encode_event(ev, buf);
                Arc::from(&buf[..])
            });
            c.offer(f, ev.kind(), stats);
            dead |= c.dead.load(Ordering::Relaxed);
        }
        if dead {
            self.reap(false);
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.admit();
        for c in &mut self.clients {
            c.report_lost();
        }
        self.reap(true);
        Ok(())
    }

    fn take_notice(&mut self) -> Option<String> {
        self.notices.try_recv().ok()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.trigger();
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        self.admit();
        for c in &mut self.clients {
            c.report_lost();
        }
        let deadline = Instant::now() + DRAIN_WAIT;
        let clients = std::mem::take(&mut self.clients);
        let mut writers = Vec::with_capacity(clients.len());
        for c in clients {
            drop(c.tx);
            writers.push((c.writer, c.stream));
        }
        for (writer, stream) in writers {
            while !writer.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            // A client that still does not read is cut off.
            let _ = stream.shutdown(std::net::Shutdown::Both);
            let _ = writer.join();
        }
        let same = std::fs::symlink_metadata(&self.socket)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if same.is_some() && same == self.socket_id {
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

/// A client's writer thread: frames off its queue onto its socket, in
/// batches, until the queue is closed (then what is queued is written) or
/// the connection fails.
fn write_frames(rx: &Receiver<Arc<[u8]>>, stream: UnixStream, dead: &AtomicBool) {
    let mut w = BufWriter::with_capacity(64 * 1024, stream);
    'run: while let Ok(f) = rx.recv() {
        if w.write_all(&f).is_err() {
            break;
        }
        while let Ok(f) = rx.try_recv() {
            if w.write_all(&f).is_err() {
                break 'run;
            }
        }
        if w.flush().is_err() {
            break;
        }
    }
    let _ = w.flush();
    dead.store(true, Ordering::Relaxed);
}

/// The accept thread's state.
struct Acceptor {
    listener: UnixListener,
    stop: Shutdown,
    /// What the daemon collects now ([`Hub::serve`] changes it).
    collects: Arc<Mutex<Collects>>,
    cfg: HubConfig,
    admit: Sender<Admitted>,
    notices: Sender<String>,
    stats: Arc<HubStats>,
}

impl Acceptor {
    fn run(self) {
        if self.listener.set_nonblocking(true).is_err() {
            self.notice("client socket: cannot make it non-blocking; not accepting".into());
            return;
        }
        let wake = self.stop.waker().as_raw_fd();
        while !self.stop.is_set() {
            if wait_either_ms(self.listener.as_fd(), Some(wake), 500).is_err() {
                std::thread::sleep(Duration::from_millis(100));
            }
            match self.listener.accept() {
                Ok((stream, _)) => self.handle(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and the like: say so, and do not spin.
                    self.notice(format!("client socket: accept: {e}"));
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn notice(&self, line: String) {
        push_notice(&self.notices, &self.stats, line);
    }

    fn refuse(&self, mut stream: UnixStream, code: RefusalCode, text: &str, who: &str) {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        self.notice(format!("client refused ({who}): {text}"));
        let mut buf = Vec::new();
        protocol::encode_refused(code, text, &mut buf);
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let _ = stream.write_all(&buf);
    }

    fn handle(&self, stream: UnixStream) {
        if stream.set_nonblocking(false).is_err() {
            return;
        }
        let peer = match socket::peer(&stream) {
            Ok(p) => p,
            Err(e) => {
                self.notice(format!(
                    "client refused: its credentials cannot be read: {e}"
                ));
                return;
            }
        };
        let who = format!("uid {} pid {}", peer.uid, peer.pid);
        if !self.cfg.access.allows(&peer) {
            let text = self.cfg.access.refusal(&peer);
            self.refuse(stream, RefusalCode::Permission, &text, &who);
            return;
        }
        let hs = Handshake {
            collects: self
                .collects
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            admit: self.admit.clone(),
            notices: self.notices.clone(),
            stats: Arc::clone(&self.stats),
            max_clients: self.cfg.max_clients,
        };
        let spawned = std::thread::Builder::new()
            .name("inetmon-hello".into())
            .spawn(move || hs.run(stream, peer, &who));
        if let Err(e) = spawned {
            self.notice(format!("client refused: no thread for its handshake: {e}"));
        }
    }
}

/// What a handshake thread needs.
struct Handshake {
    collects: Collects,
    admit: Sender<Admitted>,
    notices: Sender<String>,
    stats: Arc<HubStats>,
    max_clients: usize,
}

impl Handshake {
    fn run(self, mut stream: UnixStream, peer: Peer, who: &str) {
        let refuse = |mut stream: UnixStream, code: RefusalCode, text: &str| {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            push_notice(
                &self.notices,
                &self.stats,
                format!("client refused ({who}): {text}"),
            );
            let mut buf = Vec::new();
            protocol::encode_refused(code, text, &mut buf);
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = stream.write_all(&buf);
        };
        let _ = stream.set_read_timeout(Some(HELLO_TIMEOUT));
        let mut body = Vec::new();
        let hello = match read_frame(&mut stream, &mut body) {
            Ok(FrameType::Hello) => protocol::decode_hello(&body),
            Ok(other) => Err(FrameError::Unexpected {
                expected: "hello",
                got: other,
            }),
            Err(e) => {
                push_notice(
                    &self.notices,
                    &self.stats,
                    format!("client dropped ({who}): no hello: {e}"),
                );
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let hello = match hello {
            Ok(h) => h,
            Err(e) => {
                refuse(stream, RefusalCode::BadRequest, &format!("bad hello: {e}"));
                return;
            }
        };
        let Some(request) = hello.request else {
            let text = protocol::version_mismatch(hello.version, PROTOCOL_VERSION);
            refuse(stream, RefusalCode::Version, &text);
            return;
        };
        let sub = match Subscription::new(&request) {
            Ok(s) => s,
            Err(e) => {
                refuse(stream, RefusalCode::BadRequest, &format!("bad filter: {e}"));
                return;
            }
        };
        if let Some(text) = self.collects.missing(&request) {
            refuse(stream, RefusalCode::NotCollected, &text);
            return;
        }
        let connected =
            usize::try_from(self.stats.clients.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        if connected.saturating_add(self.admit.len()) >= self.max_clients {
            let text = format!(
                "the daemon serves {} clients already, its limit",
                self.max_clients
            );
            refuse(stream, RefusalCode::Busy, &text);
            return;
        }
        let _ = stream.set_read_timeout(None);
        let kinds: Vec<&str> = request.kinds.iter().map(|k| k.as_str()).collect();
        let what = kinds.join(",");
        if let Err(e) = self.admit.try_send(Admitted {
            stream,
            peer,
            request,
            sub,
            what,
        }) {
            refuse(
                e.into_inner().stream,
                RefusalCode::Busy,
                "the daemon has too many clients connecting at once",
            );
        }
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// The peer closed the connection inside a frame.
    #[error("connection closed inside a frame")]
    Truncated,
    /// A read failed (a timeout is `WouldBlock`/`TimedOut`).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Bytes that are not a frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Reads one frame from `r`: its type, with its body in `body`.
pub(crate) fn read_frame(r: &mut impl Read, body: &mut Vec<u8>) -> Result<FrameType, ReadError> {
    let mut prefix = [0u8; protocol::LEN_BYTES];
    let mut got = 0;
    while got < prefix.len() {
        match r.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Err(ReadError::Closed),
            Ok(0) => return Err(ReadError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = protocol::frame_len(&prefix)?.unwrap_or(1);
    let mut ty = [0u8; 1];
    body.clear();
    body.resize(len - 1, 0);
    r.read_exact(&mut ty)
        .and_then(|()| r.read_exact(body))
        .map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                ReadError::Truncated
            } else {
                ReadError::Io(e)
            }
        })?;
    Ok(FrameType::from_byte(ty[0])?)
}
