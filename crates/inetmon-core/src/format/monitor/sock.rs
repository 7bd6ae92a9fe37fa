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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Header, Source, Timestamp};

    #[test]
    fn header_only_line() {
        let ev = SockEvent {
            header: Header {
                time: Timestamp::default(),
                source: Source::Sockets,
                seq: 9,
            },
        };
        assert_eq!(sock_line(&ev), "** sock event #9 from sockets");
    }
}
