//! The monitor line of a socket event. [`crate::event::SockEvent`] is being
//! filled in by the socket-events work; until then the line says what the
//! header knows. Completing it means replacing the body of [`sock_line`].

use crate::event::SockEvent;

/// One line for a socket event, without the trailing newline:
/// `** sock event #<seq> from <source>` for now.
#[must_use]
pub fn sock_line(ev: &SockEvent) -> String {
    format!("** sock event #{} from {}", ev.header.seq, ev.header.source)
}

// No unit test here: `SockEvent` is being extended on the `sockets` branch
// (no `Default`), so a struct literal in a test would break when it merges.
// The line is covered once real socket events exist.
