//! The daemon's client protocol: frames on the unix socket between
//! `inetmon daemon` and the commands that watch through it (`inetmon
//! sockets`, `monitor`, `ipmon`). Pure: encoding and decoding of bytes,
//! no I/O; `inetmon-io::clients` does the socket side. `docs/protocol.md`
//! is the user-facing description of the same layout.
//!
//! # Frames
//!
//! Every message is one frame: a 4-byte big-endian length, then that many
//! bytes, of which the first is the frame type ([`FrameType`]) and the
//! rest the body. The length counts the type byte, so it is at least 1,
//! and at most [`MAX_FRAME`] (a length beyond it is an error before any
//! allocation: a peer cannot make the other side reserve memory it
//! names).
//!
//! # Conversation
//!
//! 1. The client sends [`FrameType::Hello`]: [`MAGIC`], its protocol
//!    version (u16 big-endian) and its [`Request`] as JSON.
//! 2. The daemon answers [`FrameType::Welcome`] (its version, u16, and
//!    JSON [`Welcome`]) or [`FrameType::Refused`] (a [`RefusalCode`] byte
//!    and one line of UTF-8 text) and closes.
//! 3. After a welcome, the daemon sends [`FrameType::Event`] frames, each
//!    body one event in the stored encoding of [`crate::event::codec`];
//!    the client sends nothing more.
//!
//! The length prefix, the hello's magic and version, and the whole refused
//! frame keep this layout in every protocol version, so that a client and
//! a daemon of different versions can always tell each other so in one
//! clear line ([`version_mismatch`]). Everything after the version is
//! read only by a peer of the same version.

use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::event::{codec, Event, EventKind, Monitor, Source};
use crate::monitor_filter::MonitorFilter;
use crate::sock_filter::SockFilter;

/// The protocol version this build speaks. Bump it on any change a peer of
/// the previous version would misread (a frame type's body, the meaning of
/// a request field).
pub const PROTOCOL_VERSION: u16 = 1;

/// The first bytes of a hello body: a daemon tells an inetmon client from
/// anything else that connects.
pub const MAGIC: [u8; 4] = *b"INMN";

/// The largest frame length (type byte and body) either side accepts.
pub const MAX_FRAME: u32 = 16 * 1024 * 1024;

/// Bytes of the length prefix.
pub const LEN_BYTES: usize = 4;

/// Why bytes are not a valid frame or frame body.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix is 0: a frame has at least its type byte.
    #[error("frame length 0 (a frame has at least a type byte)")]
    Empty,
    /// The length prefix names more than [`MAX_FRAME`] bytes.
    #[error("frame length {len} exceeds the limit of {max} bytes")]
    TooLong {
        /// The length the prefix names.
        len: u32,
        /// [`MAX_FRAME`].
        max: u32,
    },
    /// A frame type this version does not know.
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    /// A frame of another type than the conversation expects here.
    #[error("expected a {expected} frame, got {got}")]
    Unexpected {
        /// What was expected.
        expected: &'static str,
        /// What came.
        got: FrameType,
    },
    /// A body shorter than its fixed part.
    #[error("{what} body truncated: need {need} bytes, have {have}")]
    Len {
        /// Which body.
        what: &'static str,
        /// Bytes its fixed part needs.
        need: usize,
        /// Bytes there are.
        have: usize,
    },
    /// A hello that does not start with [`MAGIC`]: not an inetmon client.
    #[error("not an inetmon client (bad magic {0:02x?})")]
    Magic([u8; 4]),
    /// A refusal code this version does not know.
    #[error("unknown refusal code {0}")]
    RefusalCode(u8),
    /// Text that is not UTF-8 (a refusal message).
    #[error("refusal message is not UTF-8 at byte {0}")]
    Utf8(usize),
    /// A JSON body (request, welcome) that does not parse as one.
    #[error("bad {what}: {error}")]
    Json {
        /// Which body.
        what: &'static str,
        /// serde's message.
        error: String,
    },
    /// An event body that does not decode.
    #[error(transparent)]
    Event(#[from] codec::CodecError),
}

/// The type byte of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    /// Client → daemon: magic, version, request.
    Hello,
    /// Daemon → client: accepted; version and [`Welcome`].
    Welcome,
    /// Daemon → client: refused; [`RefusalCode`] and one line of text.
    Refused,
    /// Daemon → client: one event.
    Event,
}

impl FrameType {
    /// The byte on the wire.
    #[must_use]
    pub fn byte(self) -> u8 {
        match self {
            FrameType::Hello => 1,
            FrameType::Welcome => 2,
            FrameType::Refused => 3,
            FrameType::Event => 4,
        }
    }

    /// The type of a wire byte.
    ///
    /// # Errors
    /// [`FrameError::UnknownType`].
    pub fn from_byte(b: u8) -> Result<Self, FrameError> {
        Ok(match b {
            1 => FrameType::Hello,
            2 => FrameType::Welcome,
            3 => FrameType::Refused,
            4 => FrameType::Event,
            other => return Err(FrameError::UnknownType(other)),
        })
    }

    /// Its name in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FrameType::Hello => "hello",
            FrameType::Welcome => "welcome",
            FrameType::Refused => "refused",
            FrameType::Event => "event",
        }
    }
}

impl std::fmt::Display for FrameType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One frame, borrowed from the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Its type.
    pub kind: FrameType,
    /// Its body (after the type byte).
    pub body: &'a [u8],
}

/// Reads the length prefix at the start of `buf`: `Ok(None)` when fewer
/// than [`LEN_BYTES`] bytes are there, else the frame's length (type byte
/// and body), checked against [`MAX_FRAME`].
///
/// # Errors
/// [`FrameError::Empty`], [`FrameError::TooLong`].
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.first_chunk::<LEN_BYTES>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*prefix);
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > MAX_FRAME {
        return Err(FrameError::TooLong {
            len,
            max: MAX_FRAME,
        });
    }
    // MAX_FRAME fits every usize this crate builds for (32 bits and up).
    Ok(Some(usize::try_from(len).unwrap_or(usize::MAX)))
}

/// Decodes the frame at the start of `buf`: `Ok(None)` when `buf` does not
/// hold a whole frame yet, else the frame and the bytes it took.
///
/// # Errors
/// A bad length ([`frame_len`]) or an unknown type.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let Some(len) = frame_len(buf)? else {
        return Ok(None);
    };
    let Some(bytes) = buf.get(LEN_BYTES..LEN_BYTES.saturating_add(len)) else {
        return Ok(None);
    };
    let Some((&ty, body)) = bytes.split_first() else {
        return Err(FrameError::Empty);
    };
    let kind = FrameType::from_byte(ty)?;
    Ok(Some((Frame { kind, body }, LEN_BYTES + len)))
}

/// Starts a frame of `kind` in `out`; [`end_frame`] fills its length once
/// the body is appended. Returns the frame's start.
pub fn begin_frame(kind: FrameType, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; LEN_BYTES]);
    out.push(kind.byte());
    start
}

/// Writes the length of the frame begun at `start` (see [`begin_frame`]).
/// A body past [`MAX_FRAME`] is written anyway; its reader refuses it
/// with [`FrameError::TooLong`].
pub fn end_frame(start: usize, out: &mut [u8]) {
    let len = out.len().saturating_sub(start + LEN_BYTES);
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    if let Some(prefix) = out.get_mut(start..start + LEN_BYTES) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
}

/// What a client asks for: the event kinds it wants and its command's
/// filter. The daemon sends only events that pass ([`Subscription::matches`]),
/// plus loss reports ([`Event::Lost`]) and malformed-input reports of the
/// sources it wants, and its own loss reports for this client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The event kinds wanted (`packet`, `sock`, …); `lost` and
    /// `malformed` need not be named.
    pub kinds: Vec<EventKind>,
    /// For `packet`: the NFLOG groups wanted (empty: every group the
    /// daemon reads).
    #[serde(default)]
    pub nflog_groups: Vec<u16>,
    /// The command's own filter.
    #[serde(default)]
    pub filter: FilterSpec,
}

/// A command's filter as it travels: the flags' text, parsed by the daemon
/// with the same parsers the command uses ([`FilterSpec::compile`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FilterSpec {
    /// No filter beyond the kinds (`ipmon`).
    #[default]
    None,
    /// `inetmon sockets` ([`SockFilter`]).
    Sockets(SockFilterSpec),
    /// `inetmon monitor` ([`MonitorFilter`]).
    Monitor(MonitorFilterSpec),
}

/// [`SockFilter`] on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SockFilterSpec {
    /// `--watch`: AHAFS monitor names (`None`: all).
    pub watch: Option<Vec<String>>,
    /// `--comm`.
    pub comm: Option<String>,
    /// `--addr`: an address or prefix.
    pub addr: Option<String>,
    /// `--pid`.
    pub pid: Option<u32>,
    /// `--uid`.
    pub uid: Option<u32>,
    /// `--port`.
    pub port: Option<u16>,
}

/// [`MonitorFilter`] on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorFilterSpec {
    /// `--type`.
    pub kinds: Vec<EventKind>,
    /// `--iface`.
    pub interfaces: Vec<String>,
    /// `--ip`: addresses or prefixes.
    pub ips: Vec<String>,
    /// `--port`.
    pub ports: Vec<u16>,
    /// `--proto`: protocol numbers.
    pub protos: Vec<u8>,
    /// `--reason`.
    pub reasons: Vec<String>,
    /// `--not-specified`.
    pub not_specified: bool,
}

impl SockFilterSpec {
    /// The wire form of `f`.
    #[must_use]
    pub fn from_filter(f: &SockFilter) -> Self {
        SockFilterSpec {
            watch: f
                .monitors
                .as_ref()
                .map(|ms| ms.iter().map(|m| m.name().to_owned()).collect()),
            comm: f.comm.clone(),
            addr: f.addr.map(|c| cidr_text(&c)),
            pid: f.pid,
            uid: f.uid,
            port: f.port,
        }
    }
}

impl MonitorFilterSpec {
    /// The wire form of `f`.
    #[must_use]
    pub fn from_filter(f: &MonitorFilter) -> Self {
        MonitorFilterSpec {
            kinds: f.kinds.clone(),
            interfaces: f.interfaces.clone(),
            ips: f.ips.iter().map(cidr_text).collect(),
            ports: f.ports.clone(),
            protos: f.protos.clone(),
            reasons: f.reasons.clone(),
            not_specified: f.not_specified,
        }
    }
}

/// `a/len`, which [`Cidr`]'s parser reads back to the same prefix.
fn cidr_text(c: &Cidr) -> String {
    format!("{}/{}", c.addr(), c.prefix_len())
}

/// A [`FilterSpec`] parsed into the filter that runs.
#[derive(Debug, Clone, Default)]
pub enum Filter {
    /// Kinds only.
    #[default]
    None,
    /// `inetmon sockets`.
    Sockets(SockFilter),
    /// `inetmon monitor`.
    Monitor(MonitorFilter),
}

impl FilterSpec {
    /// Parses the wire form.
    ///
    /// # Errors
    /// The first value that does not parse, in one line.
    pub fn compile(&self) -> Result<Filter, String> {
        let cidr = |s: &str| s.parse::<Cidr>().map_err(|e| e.to_string());
        Ok(match self {
            FilterSpec::None => Filter::None,
            FilterSpec::Sockets(s) => Filter::Sockets(SockFilter {
                monitors: s
                    .watch
                    .as_ref()
                    .map(|names| {
                        names
                            .iter()
                            .map(|n| {
                                Monitor::from_name(n)
                                    .ok_or_else(|| format!("unknown monitor {n:?}"))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?,
                comm: s.comm.clone(),
                addr: s.addr.as_deref().map(cidr).transpose()?,
                pid: s.pid,
                uid: s.uid,
                port: s.port,
            }),
            FilterSpec::Monitor(m) => Filter::Monitor(MonitorFilter {
                kinds: m.kinds.clone(),
                interfaces: m.interfaces.clone(),
                ips: m
                    .ips
                    .iter()
                    .map(|s| cidr(s))
                    .collect::<Result<Vec<_>, _>>()?,
                ports: m.ports.clone(),
                protos: m.protos.clone(),
                reasons: m.reasons.clone(),
                not_specified: m.not_specified,
            }),
        })
    }
}

/// A [`Request`] ready to test events against.
#[derive(Debug, Clone, Default)]
pub struct Subscription {
    kinds: Vec<EventKind>,
    nflog_groups: Vec<u16>,
    filter: Filter,
}

impl Subscription {
    /// Compiles `req`.
    ///
    /// # Errors
    /// A filter value that does not parse ([`FilterSpec::compile`]).
    pub fn new(req: &Request) -> Result<Self, String> {
        Ok(Subscription {
            kinds: req.kinds.clone(),
            nflog_groups: req.nflog_groups.clone(),
            filter: req.filter.compile()?,
        })
    }

    /// Whether this client gets `ev`: an event of a wanted kind (and NFLOG
    /// group) that passes the filter; a loss or malformed-input report
    /// when its source produces a wanted kind (a report of
    /// [`Source::Pipeline`], inetmon's own, always).
    #[must_use]
    pub fn matches(&self, ev: &Event) -> bool {
        match ev {
            Event::Lost(_) | Event::Malformed(_) => self.wants_source(&ev.header().source),
            _ => {
                self.kinds.contains(&ev.kind())
                    && self.wants_source(&ev.header().source)
                    && match &self.filter {
                        Filter::None => true,
                        Filter::Sockets(f) => match ev {
                            Event::Sock(s) => f.matches(s),
                            _ => false,
                        },
                        Filter::Monitor(f) => f.matches(ev),
                    }
            }
        }
    }

    fn wants_source(&self, source: &Source) -> bool {
        let kinds: &[EventKind] = match source {
            Source::Nflog(g) => {
                if !self.nflog_groups.is_empty() && !self.nflog_groups.contains(g) {
                    return false;
                }
                &[EventKind::Packet]
            }
            Source::Conntrack => &[EventKind::Nat, EventKind::State],
            Source::Sockets => &[EventKind::Sock],
            Source::Datapath => &[EventKind::Drop, EventKind::Trace],
            Source::Nftrace => &[EventKind::Debug],
            Source::Pipeline => return true,
            Source::Pcap(_) | Source::Iplog(_) | Source::Stdin => {
                &[EventKind::Packet, EventKind::Nat, EventKind::State]
            }
        };
        kinds.iter().any(|k| self.kinds.contains(k))
    }
}

/// What the daemon collects, so that it can refuse a request it cannot
/// serve ([`Collects::missing`]) and a client can say what is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collects {
    /// Event kinds its producers make.
    pub kinds: Vec<EventKind>,
    /// NFLOG groups it reads.
    pub nflog_groups: Vec<u16>,
}

impl Collects {
    /// What of `req` the daemon does not collect, in one line, or `None`
    /// when it collects all of it.
    #[must_use]
    pub fn missing(&self, req: &Request) -> Option<String> {
        let kinds: Vec<&str> = req
            .kinds
            .iter()
            .filter(|k| !matches!(k, EventKind::Lost | EventKind::Malformed))
            .filter(|k| !self.kinds.contains(k))
            .map(|k| k.as_str())
            .collect();
        if !kinds.is_empty() {
            return Some(format!(
                "the daemon does not collect {} events (it collects: {})",
                kinds.join(", "),
                self.kinds_text()
            ));
        }
        if req.kinds.contains(&EventKind::Packet) {
            let groups: Vec<String> = req
                .nflog_groups
                .iter()
                .filter(|g| !self.nflog_groups.contains(g))
                .map(ToString::to_string)
                .collect();
            if !groups.is_empty() {
                let have: Vec<String> = self.nflog_groups.iter().map(ToString::to_string).collect();
                return Some(format!(
                    "the daemon does not read NFLOG group {} (its [nflog] groups: {})",
                    groups.join(", "),
                    if have.is_empty() {
                        "none".to_owned()
                    } else {
                        have.join(", ")
                    }
                ));
            }
        }
        None
    }

    fn kinds_text(&self) -> String {
        let names: Vec<&str> = self
            .kinds
            .iter()
            .filter(|k| !matches!(k, EventKind::Lost | EventKind::Malformed))
            .map(|k| k.as_str())
            .collect();
        if names.is_empty() {
            "nothing".to_owned()
        } else {
            names.join(", ")
        }
    }
}

/// The daemon's answer to an accepted hello.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The daemon's program version (`CARGO_PKG_VERSION`), for messages.
    pub daemon_version: String,
    /// Events this client's queue holds before its events are dropped
    /// (and reported to it as lost).
    pub queue: u64,
}

/// Why the daemon refused a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// Another protocol version.
    Version,
    /// The peer is neither root nor in group `inetmon`.
    Permission,
    /// The daemon does not collect what the request needs.
    NotCollected,
    /// The request does not parse.
    BadRequest,
    /// The daemon has as many clients as it takes.
    Busy,
}

impl RefusalCode {
    /// The byte on the wire.
    #[must_use]
    pub fn byte(self) -> u8 {
        match self {
            RefusalCode::Version => 1,
            RefusalCode::Permission => 2,
            RefusalCode::NotCollected => 3,
            RefusalCode::BadRequest => 4,
            RefusalCode::Busy => 5,
        }
    }

    /// The code of a wire byte.
    ///
    /// # Errors
    /// [`FrameError::RefusalCode`].
    pub fn from_byte(b: u8) -> Result<Self, FrameError> {
        Ok(match b {
            1 => RefusalCode::Version,
            2 => RefusalCode::Permission,
            3 => RefusalCode::NotCollected,
            4 => RefusalCode::BadRequest,
            5 => RefusalCode::Busy,
            other => return Err(FrameError::RefusalCode(other)),
        })
    }
}

/// A decoded hello: the peer's version, and its request when the version
/// is this one (another version's request is not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The client's protocol version.
    pub version: u16,
    /// Its request (`None` for another version).
    pub request: Option<Request>,
}

/// Appends a hello frame for `req` at `version` (normally
/// [`PROTOCOL_VERSION`]; tests speak others).
pub fn encode_hello(version: u16, req: &Request, out: &mut Vec<u8>) {
    let start = begin_frame(FrameType::Hello, out);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_be_bytes());
    // Serialising plain structs of strings and numbers does not fail.
    let _ = serde_json::to_writer(&mut *out, req);
    end_frame(start, out);
}

/// Decodes a hello body.
///
/// # Errors
/// A short body, bad magic, or (same version) a request that does not
/// parse.
pub fn decode_hello(body: &[u8]) -> Result<Hello, FrameError> {
    let Some((head, rest)) = body.split_first_chunk::<6>() else {
        return Err(FrameError::Len {
            what: "hello",
            need: 6,
            have: body.len(),
        });
    };
    let (magic, version) = head.split_at(4);
    if magic != MAGIC {
        let mut m = [0; 4];
        m.copy_from_slice(magic);
        return Err(FrameError::Magic(m));
    }
    let version = u16::from_be_bytes([version[0], version[1]]);
    if version != PROTOCOL_VERSION {
        return Ok(Hello {
            version,
            request: None,
        });
    }
    let request = serde_json::from_slice(rest).map_err(|e| FrameError::Json {
        what: "request",
        error: e.to_string(),
    })?;
    Ok(Hello {
        version,
        request: Some(request),
    })
}

/// Appends a welcome frame.
pub fn encode_welcome(w: &Welcome, out: &mut Vec<u8>) {
    let start = begin_frame(FrameType::Welcome, out);
    out.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    let _ = serde_json::to_writer(&mut *out, w);
    end_frame(start, out);
}

/// Decodes a welcome body: the daemon's version, and the welcome when the
/// version is this one.
///
/// # Errors
/// A short body or (same version) JSON that does not parse.
pub fn decode_welcome(body: &[u8]) -> Result<(u16, Option<Welcome>), FrameError> {
    let Some((v, rest)) = body.split_first_chunk::<2>() else {
        return Err(FrameError::Len {
            what: "welcome",
            need: 2,
            have: body.len(),
        });
    };
    let version = u16::from_be_bytes(*v);
    if version != PROTOCOL_VERSION {
        return Ok((version, None));
    }
    let w = serde_json::from_slice(rest).map_err(|e| FrameError::Json {
        what: "welcome",
        error: e.to_string(),
    })?;
    Ok((version, Some(w)))
}

/// Appends a refused frame (`text` should be one line; line breaks are
/// replaced by spaces).
pub fn encode_refused(code: RefusalCode, text: &str, out: &mut Vec<u8>) {
    let start = begin_frame(FrameType::Refused, out);
    out.push(code.byte());
    out.extend(text.bytes().map(|b| if b == b'\n' { b' ' } else { b }));
    end_frame(start, out);
}

/// Decodes a refused body.
///
/// # Errors
/// An empty body, an unknown code, text that is not UTF-8.
pub fn decode_refused(body: &[u8]) -> Result<(RefusalCode, String), FrameError> {
    let Some((&code, text)) = body.split_first() else {
        return Err(FrameError::Len {
            what: "refused",
            need: 1,
            have: 0,
        });
    };
    let code = RefusalCode::from_byte(code)?;
    let text = std::str::from_utf8(text).map_err(|e| FrameError::Utf8(e.valid_up_to() + 1))?;
    Ok((code, text.to_owned()))
}

/// Appends an event frame for `ev`.
pub fn encode_event(ev: &Event, out: &mut Vec<u8>) {
    let start = begin_frame(FrameType::Event, out);
    codec::encode_into(ev, out);
    end_frame(start, out);
}

/// Decodes an event body.
///
/// # Errors
/// [`FrameError::Event`] when it is not an encoded event.
pub fn decode_event(body: &[u8]) -> Result<Event, FrameError> {
    Ok(codec::decode(body)?)
}

/// The one line either side shows when the versions differ.
#[must_use]
pub fn version_mismatch(client: u16, daemon: u16) -> String {
    format!(
        "protocol version mismatch: this client speaks inetmon client protocol version {client}, the daemon speaks version {daemon} (use an inetmon of the daemon's version, or --local)"
    )
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
