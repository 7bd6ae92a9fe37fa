//! The fields of socket events.
//!
//! `SockEvent` is being filled in by the socket-events work; this function
//! is the one place to add its members. Until then a sock event is the
//! common header only.

use crate::event::SockEvent;

/// Appends the sock-specific members (each preceded by a comma).
pub(super) fn sock_fields(_out: &mut Vec<u8>, s: &SockEvent) {
    let SockEvent { header: _ } = s;
}
