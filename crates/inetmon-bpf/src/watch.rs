//! The operation mask (`--watch`): which AHAFS monitors the kernel side
//! reports, and which programs those need attached.
//!
//! The mask goes to the kernel as the `cfg_watch` global of `sock.bpf.c`
//! (one bit per [`WatchOp`], plus [`OTHER_BIT`] for records no monitor
//! names); records of unwatched operations are dropped before the ring
//! buffer. The bits are the `WATCH_*` constants of `bpf/inetmon_sock.h`;
//! the build script compiles that header with a static assertion per bit,
//! so C and Rust cannot disagree. [`programs_for`] picks the programs to attach: a hook that
//! serves no watched operation, not even as bookkeeping, is not loaded.

/// One AHAFS socket monitor as the kernel side knows it: bit
/// `1 << (op as u8)` of `cfg_watch` (`WATCH_STREAM_CREATE` … of
/// `bpf/inetmon_sock.h`, checked at build time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum WatchOp {
    /// `streamCreate`: TCP socket created.
    StreamCreate = 0,
    /// `streamBind`: TCP bind (success or failure).
    StreamBind = 1,
    /// `streamListen`: listen and its result.
    StreamListen = 2,
    /// `streamAccept`: accept and its errors.
    StreamAccept = 3,
    /// `streamConnect`: TCP connect attempt and outcome.
    StreamConnect = 4,
    /// `streamDisconnect`: an established TCP connection ends.
    StreamDisconnect = 5,
    /// `streamClose`: TCP socket released.
    StreamClose = 6,
    /// `dgramCreate`: UDP socket created.
    DgramCreate = 7,
    /// `dgramBind`: UDP bind, explicit or dynamic (first send, connect).
    DgramBind = 8,
    /// `dgramConnect`: UDP connect attempt and outcome.
    DgramConnect = 9,
    /// `dgramClose`: UDP socket released.
    DgramClose = 10,
}

impl WatchOp {
    /// Every operation, in bit order.
    pub const ALL: [WatchOp; 11] = [
        WatchOp::StreamCreate,
        WatchOp::StreamBind,
        WatchOp::StreamListen,
        WatchOp::StreamAccept,
        WatchOp::StreamConnect,
        WatchOp::StreamDisconnect,
        WatchOp::StreamClose,
        WatchOp::DgramCreate,
        WatchOp::DgramBind,
        WatchOp::DgramConnect,
        WatchOp::DgramClose,
    ];

    /// The AHAFS monitor name (`streamCreate`, …), as `--watch` spells it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            WatchOp::StreamCreate => "streamCreate",
            WatchOp::StreamBind => "streamBind",
            WatchOp::StreamListen => "streamListen",
            WatchOp::StreamAccept => "streamAccept",
            WatchOp::StreamConnect => "streamConnect",
            WatchOp::StreamDisconnect => "streamDisconnect",
            WatchOp::StreamClose => "streamClose",
            WatchOp::DgramCreate => "dgramCreate",
            WatchOp::DgramBind => "dgramBind",
            WatchOp::DgramConnect => "dgramConnect",
            WatchOp::DgramClose => "dgramClose",
        }
    }

    /// Its bit in `cfg_watch`.
    #[must_use]
    pub const fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// A set of watched operations: the value of `cfg_watch`.
///
/// [`WatchSet::ALL`] (the default, no `--watch`) also keeps records that no
/// monitor names (listen or accept errors on a UDP socket); a set built from
/// operations keeps only theirs, as the user-space `--watch` filter does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WatchSet(u32);

/// `WATCH_OTHER` of `bpf/inetmon_sock.h`: the bit of records that no
/// monitor names (listen or accept errors on a UDP socket).
pub const OTHER_BIT: u32 = 1 << 31;

impl WatchSet {
    /// Everything, including records no monitor names (no `--watch`).
    pub const ALL: WatchSet = WatchSet(u32::MAX);
    /// Nothing: no program is attached.
    pub const NONE: WatchSet = WatchSet(0);

    /// This set plus `op`.
    #[must_use]
    pub const fn with(self, op: WatchOp) -> WatchSet {
        WatchSet(self.0 | op.bit())
    }

    /// Whether `op` is watched.
    #[must_use]
    pub const fn contains(self, op: WatchOp) -> bool {
        self.0 & op.bit() != 0
    }

    /// Whether records that no monitor names are kept (only in [`ALL`](Self::ALL)).
    #[must_use]
    pub const fn other(self) -> bool {
        self.0 & OTHER_BIT != 0
    }

    /// The value written to `cfg_watch`.
    #[must_use]
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl Default for WatchSet {
    /// [`WatchSet::ALL`].
    fn default() -> Self {
        WatchSet::ALL
    }
}

impl FromIterator<WatchOp> for WatchSet {
    fn from_iter<I: IntoIterator<Item = WatchOp>>(iter: I) -> Self {
        iter.into_iter().fold(WatchSet::NONE, WatchSet::with)
    }
}

/// Every program of `sock.bpf.c`, in attach order (the loader's order).
pub const PROGRAMS: [&str; 20] = [
    "enter_bind",
    "exit_bind",
    "enter_listen",
    "exit_listen",
    "enter_accept",
    "exit_accept",
    "enter_accept4",
    "exit_accept4",
    "enter_connect",
    "exit_connect",
    "set_state",
    "uring_complete",
    "sock_create",
    "sock_release",
    "post_bind4",
    "post_bind6",
    "connect4",
    "connect6",
    "sendmsg4",
    "sendmsg6",
];

/// (`uring_complete`: the same operations issued through io_uring.)
const BIND: [&str; 5] = [
    "post_bind4",
    "post_bind6",
    "enter_bind",
    "exit_bind",
    "uring_complete",
];
const LISTEN: [&str; 3] = ["enter_listen", "exit_listen", "uring_complete"];
const STREAM_BIND: [&str; 6] = [BIND[0], BIND[1], BIND[2], BIND[3], BIND[4], "sock_create"];
const STREAM_LISTEN: [&str; 5] = [LISTEN[0], LISTEN[1], LISTEN[2], "set_state", "sock_create"];
const ACCEPT: [&str; 5] = [
    "enter_accept",
    "exit_accept",
    "enter_accept4",
    "exit_accept4",
    "uring_complete",
];
const CONNECT: [&str; 4] = ["connect4", "connect6", "enter_connect", "exit_connect"];
const SENDMSG: [&str; 2] = ["sendmsg4", "sendmsg6"];

/// The programs one operation needs: those that emit its records and those
/// that keep the state its records depend on.
///
/// | watch | emit its records | bookkeeping it needs |
/// |---|---|---|
/// | streamCreate, dgramCreate | `sock_create` | – |
/// | streamBind | `post_bind4/6` (success), `enter_bind`/`exit_bind` (failure; enter stashes the requested address), `uring_complete` (io_uring failure, without the address asked for) | `sock_create` (gives the socket its cookie, which `exit_bind` can only read) |
/// | dgramBind | `post_bind4/6`, `enter_bind`/`exit_bind`, `uring_complete`; dynamic bind: `sendmsg4/6` (first send), `exit_connect` (connect) | `sock_create` (the owner entry that tells sendmsg a socket was seen created), `sock_release` (drops that entry, so a reused `struct sock *` is not misread), `post_bind4/6` (marks the entry bound), `connect4/6` (notes the unbound socket for `exit_connect`), `enter_connect` (stash) |
/// | streamListen | `exit_listen`, `uring_complete` (io_uring), `set_state` (32-bit compat syscall: the transition to LISTEN) | `enter_listen` (stash), `sock_create` (cookie, as for streamBind) |
/// | streamAccept | `exit_accept`, `exit_accept4`, `uring_complete` (io_uring) | `enter_accept`, `enter_accept4` (stash), `set_state` (gives accepted sockets their cookie when the kernel creates them), `sock_create` (cookie of the socket an accept error is about) |
/// | streamConnect | `connect4/6` (attempt), `set_state` (outcome), `exit_connect` (failure before any SYN) | `connect4/6` (owner that attributes the outcome), `enter_connect` (stash), `set_state` (marks that a SYN went out) |
/// | dgramConnect | `connect4/6` (attempt), `exit_connect` (outcome) | `enter_connect` (stash) |
/// | streamDisconnect | `sock_release` (local close), `set_state` (shutdown, peer FIN/RST; initiator) | `sock_create`, `exit_accept(4)` with `enter_accept(4)`, `connect4/6` (owners attributing passive disconnects), `sock_release` (marks released sockets, so set_state does not report them twice; set_state also gives accepted sockets their cookies) |
/// | streamClose | `sock_release` (close, and abort: a close that resets) | `set_state` (keeps the ends of a socket that went to CLOSE before close(), a reset or failed connect, which the kernel zeroes by then) |
/// | dgramClose | `sock_release` | – |
/// | (records no monitor names, [`WatchSet::ALL`] only) | `exit_listen`, `exit_accept(4)` (errors on UDP sockets) | their `enter_*`, `sock_create` (cookie) |
///
/// The cookie is bookkeeping too: the classic tracepoints can only read a
/// socket's cookie, never create one, so the watches whose records come
/// from them alone attach `sock_create`, which then (owner and create not
/// watched) only gives each new socket its cookie. Connect attempts make
/// their own (`connect4/6`), accepted sockets get theirs from `set_state` (the child socket's
/// transition to SYN_RECV).
#[must_use]
pub fn programs_of(op: WatchOp) -> &'static [&'static str] {
    const DGRAM_BIND: [&str; 13] = [
        BIND[0],
        BIND[1],
        BIND[2],
        BIND[3],
        BIND[4],
        SENDMSG[0],
        SENDMSG[1],
        CONNECT[0],
        CONNECT[1],
        CONNECT[2],
        CONNECT[3],
        "sock_create",
        "sock_release",
    ];
    const STREAM_ACCEPT: [&str; 7] = [
        ACCEPT[0],
        ACCEPT[1],
        ACCEPT[2],
        ACCEPT[3],
        ACCEPT[4],
        "set_state",
        "sock_create",
    ];
    const STREAM_CONNECT: [&str; 5] = [CONNECT[0], CONNECT[1], CONNECT[2], CONNECT[3], "set_state"];
    const STREAM_DISCONNECT: [&str; 10] = [
        "sock_release",
        "set_state",
        "sock_create",
        ACCEPT[0],
        ACCEPT[1],
        ACCEPT[2],
        ACCEPT[3],
        ACCEPT[4],
        "connect4",
        "connect6",
    ];
    match op {
        WatchOp::StreamCreate | WatchOp::DgramCreate => &["sock_create"],
        WatchOp::StreamBind => &STREAM_BIND,
        WatchOp::DgramBind => &DGRAM_BIND,
        WatchOp::StreamListen => &STREAM_LISTEN,
        WatchOp::StreamAccept => &STREAM_ACCEPT,
        WatchOp::StreamConnect => &STREAM_CONNECT,
        WatchOp::DgramConnect => &CONNECT,
        WatchOp::StreamDisconnect => &STREAM_DISCONNECT,
        WatchOp::StreamClose => &["set_state", "sock_release"],
        WatchOp::DgramClose => &["sock_release"],
    }
}

/// The programs to attach for `watch`, in [`PROGRAMS`] order without
/// duplicates: the union of [`programs_of`] over the watched operations
/// (see its table), plus the listen and accept tracepoints when `watch`
/// keeps records no monitor names ([`WatchSet::ALL`]).
#[must_use]
pub fn programs_for(watch: WatchSet) -> Vec<&'static str> {
    let needed = |name: &str| {
        WatchOp::ALL
            .iter()
            .any(|op| watch.contains(*op) && programs_of(*op).contains(&name))
            || (watch.other() && (STREAM_LISTEN.contains(&name) || ACCEPT.contains(&name)))
    };
    PROGRAMS.iter().copied().filter(|n| needed(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(op: WatchOp) -> Vec<&'static str> {
        programs_for(WatchSet::NONE.with(op))
    }

    fn sorted(mut v: Vec<&'static str>) -> Vec<&'static str> {
        v.sort_unstable();
        v
    }

    #[test]
    fn every_single_watch() {
        // Attach order, space separated.
        let cases: [(WatchOp, &str); 11] = [
            (WatchOp::StreamCreate, "sock_create"),
            (WatchOp::DgramCreate, "sock_create"),
            (WatchOp::StreamBind, "enter_bind exit_bind uring_complete sock_create post_bind4 post_bind6"),
            (WatchOp::DgramBind, "enter_bind exit_bind enter_connect exit_connect uring_complete sock_create sock_release post_bind4 post_bind6 connect4 connect6 sendmsg4 sendmsg6"),
            (WatchOp::StreamListen, "enter_listen exit_listen set_state uring_complete sock_create"),
            (WatchOp::StreamAccept, "enter_accept exit_accept enter_accept4 exit_accept4 set_state uring_complete sock_create"),
            (WatchOp::StreamConnect, "enter_connect exit_connect set_state connect4 connect6"),
            (WatchOp::DgramConnect, "enter_connect exit_connect connect4 connect6"),
            (WatchOp::StreamDisconnect, "enter_accept exit_accept enter_accept4 exit_accept4 set_state uring_complete sock_create sock_release connect4 connect6"),
            (WatchOp::StreamClose, "set_state sock_release"),
            (WatchOp::DgramClose, "sock_release"),
        ];
        assert_eq!(cases.len(), WatchOp::ALL.len());
        for (op, want) in cases {
            let want: Vec<&str> = want.split_whitespace().collect();
            assert_eq!(only(op), want, "{}", op.name());
            assert_eq!(sorted(programs_of(op).to_vec()), sorted(want));
        }
    }

    #[test]
    fn streamconnect_has_no_sendmsg_or_accept() {
        let got = only(WatchOp::StreamConnect);
        for name in SENDMSG.iter().chain(ACCEPT.iter()) {
            assert!(!got.contains(name), "{name} in {got:?}");
        }
    }

    #[test]
    fn all_attaches_every_program_and_none_nothing() {
        assert_eq!(programs_for(WatchSet::ALL), PROGRAMS.to_vec());
        assert_eq!(programs_for(WatchSet::default()), PROGRAMS.to_vec());
        assert!(programs_for(WatchSet::NONE).is_empty());
        // Every monitor named explicitly: everything too (the listen and
        // accept tracepoints come from streamListen/streamAccept).
        let every: WatchSet = WatchOp::ALL.into_iter().collect();
        assert!(!every.other());
        assert_eq!(programs_for(every), PROGRAMS.to_vec());
    }

    #[test]
    fn union_of_two() {
        let set: WatchSet = [WatchOp::StreamCreate, WatchOp::DgramClose]
            .into_iter()
            .collect();
        assert_eq!(programs_for(set), vec!["sock_create", "sock_release"]);
    }

    #[test]
    fn bits_are_one_per_operation() {
        for (i, op) in WatchOp::ALL.into_iter().enumerate() {
            assert_eq!(op.bit(), 1 << i, "{}", op.name());
        }
        assert_eq!(WatchSet::ALL.bits(), u32::MAX);
        assert!(WatchSet::ALL.other());
    }
}
