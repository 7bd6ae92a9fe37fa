//! A stable encoding of every [`Event`], for storing events and reading
//! them back (the journal of `inetmon-io`).
//!
//! The encoding is JSON made by serde from the event model itself: each
//! event is an object with one member named after its kind
//! (`{"sock":{…}}`, `{"lost":{…}}`), whose members are the Rust field names;
//! enum values are snake_case names (`"connected"`, `"from_network"`,
//! `{"other":7}`), addresses are strings, packet bytes are lower-case hex
//! strings. JSON rather than a binary encoding because it stays readable
//! (`sqlite3`'s `json_extract` reads it) and because a field added later is
//! a missing key in old records, which a `#[serde(default)]` can absorb,
//! where a positional binary encoding would misread every old record.
//!
//! This is not the user-facing JSON of [`crate::format::json`] (which is
//! flat, versioned by [`super::JSON_SCHEMA_VERSION`] and loses nothing a
//! reader needs but cannot be read back into an event); it is versioned by
//! [`ENCODING_VERSION`].

use super::{Event, SockOp, LOST_CLIENT_QUEUE, LOST_RING_FULL, LOST_SKIPPED_RUNS};

/// Version of this encoding. Bump it on any change that old records cannot
/// be read under (a renamed or removed field, a changed type).
pub const ENCODING_VERSION: u32 = 1;

/// Why stored bytes could not be read back into an event.
#[derive(Debug, thiserror::Error)]
#[error("stored event does not decode: {0}")]
pub struct CodecError(#[from] serde_json::Error);

/// Appends the encoding of `ev` to `out`.
pub fn encode_into(ev: &Event, out: &mut Vec<u8>) {
    // Serialising the event model into a Vec cannot fail: every map key is a
    // string and no type has a fallible Serialize.
    let _ = serde_json::to_writer(out, ev);
}

/// The encoding of `ev`.
#[must_use]
pub fn encode(ev: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    encode_into(ev, &mut out);
    out
}

/// Reads an event back from its encoding.
///
/// # Errors
/// [`CodecError`] when `bytes` are not an encoded event.
pub fn decode(bytes: &[u8]) -> Result<Event, CodecError> {
    Ok(serde_json::from_slice(bytes)?)
}

/// `serde(with)` helper: bytes as a lower-case hex string.
pub mod hex {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    /// Writes `bytes` as hex.
    ///
    /// # Errors
    /// Those of the serializer.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            text.push(char::from(DIGITS[usize::from(b >> 4)]));
            text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        s.serialize_str(&text)
    }

    /// Reads hex back into bytes.
    ///
    /// # Errors
    /// An odd length or a character that is not a hex digit.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let digits = text.as_bytes();
        if digits.len() % 2 != 0 {
            return Err(D::Error::custom("hex string of odd length"));
        }
        digits
            .chunks_exact(2)
            .map(|p| match (nibble(p[0]), nibble(p[1])) {
                (Some(h), Some(l)) => Ok(h << 4 | l),
                _ => Err(D::Error::custom("not a hex digit")),
            })
            .collect()
    }

    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
}

/// `serde(deserialize_with)` helper for [`super::Lost::breakdown`]: its
/// labels are static names (operation names, [`LOST_RING_FULL`],
/// [`LOST_SKIPPED_RUNS`], [`LOST_CLIENT_QUEUE`]); a label this version does not know reads back as
/// `"other"`, so that the counts still add up.
///
/// # Errors
/// Those of the deserializer.
pub fn breakdown<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<(&'static str, u64)>, D::Error> {
    use serde::Deserialize as _;
    let pairs = <Vec<(String, u64)>>::deserialize(d)?;
    Ok(pairs
        .into_iter()
        .map(|(label, n)| (static_label(&label), n))
        .collect())
}

fn static_label(label: &str) -> &'static str {
    const OPS: [SockOp; 11] = [
        SockOp::Create,
        SockOp::Bind,
        SockOp::DynBind,
        SockOp::Listen,
        SockOp::Accept,
        SockOp::Connect,
        SockOp::Connected,
        SockOp::Disconnect,
        SockOp::Close,
        SockOp::Abort,
        SockOp::Segment,
    ];
    OPS.iter()
        .map(|op| op.as_str())
        .chain([LOST_RING_FULL, LOST_SKIPPED_RUNS, LOST_CLIENT_QUEUE])
        .find(|known| *known == label)
        .unwrap_or("other")
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
