//! Formatters: events into text. Formatters write to any `std::io::Write` and
//! know nothing of sinks.
//!
//! - [`ipmon`]: IP Filter 5.1 `ipmon` lines.
//! - [`json`]: one JSON object per line, with a versioned schema (packet,
//!   NAT/state, socket, drop and trace members each in their own module).
//! - [`monitor`]: Cilium-monitor-style lines for every event kind.
//! - [`pcapng`]: the packets of drops and traces as a pcapng file.
//! - [`ahafs`]: the AIX AHAFS `inetsock` event block for socket events.
//! - [`sockline`]: one aligned line per socket event.
//! - [`audit`]: connection audit records (`dkaudit`) from socket and trace events.

pub mod ahafs;
pub mod audit;
pub mod ipmon;
pub mod json;
pub mod monitor;
pub mod pcapng;
pub mod sockline;
