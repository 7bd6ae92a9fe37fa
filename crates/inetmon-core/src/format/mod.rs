//! Formatters: events into text. Formatters write to any `std::io::Write` and
//! know nothing of sinks.
//!
//! - [`ipmon`]: IP Filter 5.1 `ipmon` lines.
//! - [`json`]: one JSON object per line, with a versioned schema.
//! - [`ahafs`]: the AIX AHAFS `inetsock` event block for socket events.
//! - [`sockline`]: one aligned line per socket event.
//! - [`json_sock`]: the JSON members of a socket event.

pub mod ahafs;
pub mod ipmon;
pub mod json;
pub mod json_sock;
pub mod sockline;
