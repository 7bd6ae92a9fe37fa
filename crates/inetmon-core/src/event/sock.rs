//! Socket-operation events (the AHAFS `inetsock` producer's operations).
//! Filled in by the socket-events work (`inetmon sockets`).

use super::Header;

/// One socket operation by one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockEvent {
    /// Time, source and sequence number.
    pub header: Header,
}
