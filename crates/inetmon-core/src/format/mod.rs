//! Formatters: events into text. Formatters write to any `std::io::Write` and
//! know nothing of sinks.
//!
//! - [`ipmon`]: IP Filter 5.1 `ipmon` lines.
//! - [`json`]: one JSON object per line, with a versioned schema.

pub mod ipmon;
pub mod json;
