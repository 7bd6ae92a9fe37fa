//! Socket-operation events (the AHAFS `inetsock` producer's operations),
//! produced by `inetmon sockets` from the eBPF programs in `inetmon-bpf`.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

use super::Header;

/// One socket operation by one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SockEvent {
    /// Time, source and sequence number.
    pub header: Header,
    /// What was done.
    pub op: SockOp,
    /// The task that did it (or owns the socket); see [`Attribution`].
    pub task: SockTask,
    /// How [`SockEvent::task`] was obtained.
    pub attribution: Attribution,
    /// Address family number (`AF_INET` 2, `AF_INET6` 10).
    pub family: u16,
    /// Socket type number (`SOCK_STREAM` 1, `SOCK_DGRAM` 2).
    pub sock_type: u16,
    /// IP protocol number (6 TCP, 17 UDP).
    pub protocol: u16,
    /// Local address and port, where the operation has them.
    pub local: Option<(IpAddr, u16)>,
    /// Foreign address and port, where the operation has them.
    pub foreign: Option<(IpAddr, u16)>,
    /// At least one address was an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`),
    /// shown here as IPv4.
    pub mapped: bool,
    /// cgroup v2 id of the task.
    pub cgroup_id: u64,
    /// Network-namespace inode of the socket.
    pub netns: u32,
    /// Socket cookie: a stable id linking the events of one socket (for
    /// example a connect attempt and its outcome); 0 when unknown.
    pub cookie: u64,
    /// 0 for success, otherwise the errno (positive).
    pub errno: u32,
    /// For [`SockOp::Disconnect`]: who started it.
    pub initiator: Option<Initiator>,
    /// Synthetic event for a socket that existed when monitoring started
    /// (`--existing`).
    pub existing: bool,
    /// Command line and parent pid, filled by user space at info level 3.
    pub process: Option<ProcessInfo>,
    /// The process's file descriptor and the interface (`inetmon audit`'s
    /// `Chan` and `Intf`), and a [`SockOp::Segment`]'s segment. Absent in
    /// events stored before it existed (then all unknown).
    #[serde(default)]
    pub link: SockLink,
}

/// Where a socket event happened, beyond its addresses: which file
/// descriptor of the process and which interface; and for a
/// [`SockOp::Segment`] the segment.
///
/// What the kernel side can know, and so when each is unknown, is
/// described at the top of `inetmon-bpf`'s `bpf/sock.bpf.c`: the fd is
/// known for bind, listen, accept and connect (and their outcomes,
/// disconnects and segments, through the socket's owner) issued as system
/// calls, not through io_uring; the interface is the output device of the
/// socket's cached route, else its last input device, else the device it
/// is bound to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SockLink {
    /// The process's file descriptor of the socket; `None` when not known.
    pub fd: Option<u32>,
    /// Interface index in the socket's network namespace; 0 when none is
    /// known (for example a listening socket not bound to a device).
    pub ifindex: u32,
    /// The segment of a [`SockOp::Segment`] event.
    pub segment: Option<TcpSegment>,
}

/// A TCP control segment of an audited connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpSegment {
    /// Received (from the peer) rather than sent.
    pub received: bool,
    /// The first 12 bytes of the TCP header as on the wire: source port,
    /// destination port, sequence number, acknowledgement number.
    pub header: [u8; 12],
    /// The TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10, …).
    pub flags: u8,
}

/// A socket operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SockOp {
    /// The socket was created (`PRU_ATTACH`).
    Create,
    /// An address was bound explicitly (`PRU_BIND`).
    Bind,
    /// A UDP socket got its local port automatically on its first send or
    /// connect (`PRU_DYNBIND`).
    DynBind,
    /// `listen()` (`PRU_LISTEN`).
    Listen,
    /// A connection was accepted (`PRU_ACCEPT`).
    Accept,
    /// A connect was attempted (`PRU_CONNECT`); its outcome follows as
    /// [`SockOp::Connected`] with the same cookie.
    Connect,
    /// The outcome of a connect: established, or the errno.
    Connected,
    /// An established connection is being shut down (`PRU_DISCONNECT`).
    Disconnect,
    /// The socket was closed (`PRU_DETACH`).
    Close,
    /// The socket was closed abortively, with a RST to the peer
    /// (`PRU_ABORT`): `SO_LINGER` on with a zero time, or data left
    /// unread at close. Reported under `streamClose`, like a close.
    Abort,
    /// A TCP control segment (SYN, SYN-ACK, FIN, RST) of a connection this
    /// host connected, sent or received ([`SockLink::segment`]); reported
    /// only when asked for (`inetmon audit --messages`), under no monitor.
    Segment,
}

impl SockOp {
    /// The operation with the code the BPF records use
    /// (`INETMON_OP_*` in `inetmon_sock.h`: 1 create … 9 close, 10 abort,
    /// 11 segment).
    #[must_use]
    pub fn from_code(code: u8) -> Option<SockOp> {
        use inetmon_bpf::record::sock as layout;
        Some(match code {
            layout::OP_CREATE => SockOp::Create,
            layout::OP_BIND => SockOp::Bind,
            layout::OP_DYNBIND => SockOp::DynBind,
            layout::OP_LISTEN => SockOp::Listen,
            layout::OP_ACCEPT => SockOp::Accept,
            layout::OP_CONNECT => SockOp::Connect,
            layout::OP_CONNECTED => SockOp::Connected,
            layout::OP_DISCONNECT => SockOp::Disconnect,
            layout::OP_CLOSE => SockOp::Close,
            layout::OP_ABORT => SockOp::Abort,
            layout::OP_SEGMENT => SockOp::Segment,
            _ => return None,
        })
    }

    /// Stable lower-case name, used in line and JSON output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SockOp::Create => "create",
            SockOp::Bind => "bind",
            SockOp::DynBind => "dynbind",
            SockOp::Listen => "listen",
            SockOp::Accept => "accept",
            SockOp::Connect => "connect",
            SockOp::Connected => "connected",
            SockOp::Disconnect => "disconnect",
            SockOp::Close => "close",
            SockOp::Abort => "abort",
            SockOp::Segment => "segment",
        }
    }
}

/// The task an event is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SockTask {
    /// Process id (tgid); 0 when unknown.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Program name (the kernel's 16-byte `comm`).
    pub comm: String,
}

/// How the task of an event was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// Taken in the caller's context (the syscall or hook ran in the task).
    Process,
    /// Taken from the socket's recorded owner (the task that created,
    /// accepted or connected it), because the event ran in another context
    /// such as a softirq.
    Owner,
    /// No owner was recorded; the task fields are zero.
    Unknown,
}

impl Attribution {
    /// Lower-case name for output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Attribution::Process => "process",
            Attribution::Owner => "owner",
            Attribution::Unknown => "unknown",
        }
    }
}

/// Who started a disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initiator {
    /// This side closed or shut down (or reset) the connection.
    Local,
    /// The peer sent FIN or RST.
    Peer,
}

impl Initiator {
    /// Lower-case name for output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Initiator::Local => "local",
            Initiator::Peer => "peer",
        }
    }
}

/// Process details added by user space at info level 3.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Command line, arguments joined by spaces; empty when gone.
    pub cmdline: String,
    /// Parent process id; 0 when unknown.
    pub ppid: u32,
}

/// The AHAFS `inetsock` monitor an event belongs to, named as in
/// `/aha/net/inetsock.monFactory/<name>.mon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Monitor {
    /// `streamCreate`
    StreamCreate,
    /// `streamBind`
    StreamBind,
    /// `streamListen`
    StreamListen,
    /// `streamAccept`
    StreamAccept,
    /// `streamConnect`
    StreamConnect,
    /// `streamDisconnect`
    StreamDisconnect,
    /// `streamClose`
    StreamClose,
    /// `dgramCreate`
    DgramCreate,
    /// `dgramBind` (explicit and dynamic binds)
    DgramBind,
    /// `dgramConnect` (an extension of the original)
    DgramConnect,
    /// `dgramClose`
    DgramClose,
}

impl Monitor {
    /// Every monitor, in the original's order.
    pub const ALL: [Monitor; 11] = [
        Monitor::StreamCreate,
        Monitor::StreamBind,
        Monitor::StreamListen,
        Monitor::StreamAccept,
        Monitor::StreamConnect,
        Monitor::StreamDisconnect,
        Monitor::StreamClose,
        Monitor::DgramCreate,
        Monitor::DgramBind,
        Monitor::DgramConnect,
        Monitor::DgramClose,
    ];

    /// The monitor file's base name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Monitor::StreamCreate => "streamCreate",
            Monitor::StreamBind => "streamBind",
            Monitor::StreamListen => "streamListen",
            Monitor::StreamAccept => "streamAccept",
            Monitor::StreamConnect => "streamConnect",
            Monitor::StreamDisconnect => "streamDisconnect",
            Monitor::StreamClose => "streamClose",
            Monitor::DgramCreate => "dgramCreate",
            Monitor::DgramBind => "dgramBind",
            Monitor::DgramConnect => "dgramConnect",
            Monitor::DgramClose => "dgramClose",
        }
    }

    /// The monitor with this name (case-sensitive, as in the original).
    #[must_use]
    pub fn from_name(s: &str) -> Option<Monitor> {
        Monitor::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// `AF_INET`
pub const AF_INET_FAMILY: u16 = 2;
/// `AF_INET6`
pub const AF_INET6_FAMILY: u16 = 10;

/// `SOCK_STREAM`
pub const SOCK_STREAM: u16 = 1;
/// `SOCK_DGRAM`
pub const SOCK_DGRAM: u16 = 2;

impl SockEvent {
    /// The one socket event tests and benchmarks start from (each changes
    /// what it needs with `..SockEvent::sample()`): curl (pid 10, tid 11,
    /// uid 0) connecting 10.0.0.1:40000 -> 10.0.0.2:80 over TCP/IPv4,
    /// cookie 3.
    #[must_use]
    pub fn sample() -> SockEvent {
        SockEvent {
            header: Header {
                time: super::Timestamp {
                    secs: 1_327_359_846,
                    nanos: 1_500,
                },
                source: super::Source::Sockets,
                seq: 1,
            },
            op: SockOp::Connect,
            task: SockTask {
                pid: 10,
                tid: 11,
                uid: 0,
                gid: 0,
                comm: "curl".into(),
            },
            attribution: Attribution::Process,
            family: 2,
            sock_type: SOCK_STREAM,
            protocol: 6,
            local: Some((std::net::Ipv4Addr::new(10, 0, 0, 1).into(), 40000)),
            foreign: Some((std::net::Ipv4Addr::new(10, 0, 0, 2).into(), 80)),
            mapped: false,
            cgroup_id: 1,
            netns: 2,
            cookie: 3,
            errno: 0,
            initiator: None,
            existing: false,
            process: None,
            link: SockLink::default(),
        }
    }
}

impl SockEvent {
    /// The monitor this event is reported under, or `None` for operations the
    /// socket type does not have (for example a UDP listen).
    #[must_use]
    pub fn monitor(&self) -> Option<Monitor> {
        let stream = self.sock_type == SOCK_STREAM;
        let dgram = self.sock_type == SOCK_DGRAM;
        Some(match self.op {
            SockOp::Create if stream => Monitor::StreamCreate,
            SockOp::Create if dgram => Monitor::DgramCreate,
            SockOp::Bind | SockOp::DynBind if stream => Monitor::StreamBind,
            SockOp::Bind | SockOp::DynBind if dgram => Monitor::DgramBind,
            SockOp::Listen if stream => Monitor::StreamListen,
            SockOp::Accept if stream => Monitor::StreamAccept,
            SockOp::Connect | SockOp::Connected if stream => Monitor::StreamConnect,
            SockOp::Connect | SockOp::Connected if dgram => Monitor::DgramConnect,
            SockOp::Disconnect if stream => Monitor::StreamDisconnect,
            SockOp::Close | SockOp::Abort if stream => Monitor::StreamClose,
            SockOp::Close | SockOp::Abort if dgram => Monitor::DgramClose,
            _ => return None,
        })
    }
}
