//! The daemon's clients: the unix socket through which `inetmon sockets`,
//! `monitor` and `ipmon` watch what the daemon collects, without root or
//! `CAP_BPF`.
//!
//! - [`Hub`] (server side) is a [`consumer::Sink`](crate::consumer::Sink):
//!   the daemon's consumer hands it every event, and it hands each event
//!   to every client whose request it matches, through that client's own
//!   bounded queue and writer thread. A full queue (a slow or stopped
//!   client) drops that client's events only, counts them, and sends them
//!   to it as a [`Lost`](inetmon_core::event::Lost) event
//!   ([`LOST_CLIENT_QUEUE`](inetmon_core::event::LOST_CLIENT_QUEUE)) once
//!   there is room: the producers and the other clients never wait for a
//!   client.
//! - [`socket`] creates the listening socket safely (trusted directories,
//!   no links, mode `0660`, group `inetmon`) and checks each peer
//!   (`SO_PEERCRED`, `SO_PEERGROUPS`).
//! - [`RemoteSource`] (client side) connects, says hello with its request,
//!   and feeds the events it receives into a local pipeline, so that the
//!   command's own stage and sinks make the same output as in-process
//!   producers would.
//!
//! The frames are those of [`inetmon_core::protocol`]; `docs/protocol.md`
//! describes them for other implementations.

mod client;
mod hub;
pub mod socket;

use std::path::PathBuf;

pub use client::{ClientError, RemoteSource};
pub use hub::{
    collects_of, Hub, HubConfig, HubError, HubStats, DEFAULT_MAX_CLIENTS, DEFAULT_QUEUE,
    HELLO_TIMEOUT,
};

/// The socket of a daemon started without a configuration file.
pub const DEFAULT_SOCKET: &str = "/run/inetmon/inetmon.sock";

/// The environment variable that names another socket for the clients.
pub const SOCKET_ENV: &str = "INETMON_SOCKET";

/// The group whose members may connect (besides root).
pub const GROUP: &str = "inetmon";

/// The socket a client uses: `$INETMON_SOCKET` when set and not empty,
/// else [`DEFAULT_SOCKET`].
#[must_use]
pub fn socket_path() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}
