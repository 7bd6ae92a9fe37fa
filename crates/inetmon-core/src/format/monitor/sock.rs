//! The monitor line of a socket event: `** sock ` and the socket line of
//! [`crate::format::sockline`] without its date and time (monitor lines
//! carry no time; the CPU-less `**` marks an event from the socket
//! programs).

use jiff::tz::TimeZone;

use crate::event::SockEvent;
use crate::format::sockline::write_sock_line;

/// One line for a socket event, without the trailing newline:
/// `** sock connect    tcp4 curl[1234/1235] uid=0 10.0.0.1:40000 -> 10.0.0.2:80 ok cookie=77`.
#[must_use]
pub fn sock_line(ev: &SockEvent) -> String {
    let mut buf = Vec::with_capacity(160);
    // Writing into a Vec cannot fail.
    let _ = write_sock_line(ev, &TimeZone::UTC, &mut buf);
    let line = String::from_utf8_lossy(&buf);
    let line = line.trim_end_matches('\n');
    // The line starts with `YYYY-MM-DD HH:MM:SS.uuuuuu ` (or `@secs.uuuuuu `
    // for times jiff cannot place): drop the first one or two fields.
    let rest = match line.split_once(' ') {
        Some((first, rest)) if first.starts_with('@') => rest,
        Some((_, rest)) => rest.split_once(' ').map_or("", |(_, r)| r),
        None => line,
    };
    format!("** sock {rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sock_line_is_the_socket_line_without_time() {
        let ev = SockEvent {
            errno: 111,
            ..SockEvent::sample()
        };
        let l = sock_line(&ev);
        assert!(l.starts_with("** sock connect"), "{l}");
        assert!(
            l.ends_with("10.0.0.1:40000 -> 10.0.0.2:80 ECONNREFUSED cookie=3"),
            "{l}"
        );
        assert!(!l.contains("2012-"), "{l}");
    }
}
