//! Low-level JSON text pieces: strings, numbers, hex and RFC 3339 times,
//! appended to a byte buffer.

use crate::event::Timestamp;

/// Appends `s` as a JSON string (with the quotes), escaping `"`, `\` and
/// control characters as RFC 8259 requires.
pub(super) fn string(out: &mut Vec<u8>, s: &str) {
    prefixed_string(out, "", s);
}

/// Appends `prefix` followed by `s` as one JSON string; `prefix` must need
/// no escaping.
pub(super) fn prefixed_string(out: &mut Vec<u8>, prefix: &str, s: &str) {
    out.push(b'"');
    out.extend_from_slice(prefix.as_bytes());
    let bytes = s.as_bytes();
    // Most strings need no escaping: one pass without early exit (which
    // the compiler vectorises), then one copy.
    let plain = !bytes.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

const HEX: [u8; 16] = *b"0123456789abcdef";

/// Appends `bytes` as a JSON string of lower-case hex digits.
#[inline]
pub(super) fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2 + 2);
    out.push(b'"');
    // Sized once, then two digits per byte from a table (a push per digit
    // checked the capacity each time: the largest cost of a JSON line).
    let start = out.len();
    out.resize(start + bytes.len() * 2, 0);
    if let Some(dst) = out.get_mut(start..) {
        for (pair, &b) in dst.chunks_exact_mut(2).zip(bytes) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
        }
    }
    out.push(b'"');
}

/// The two lower-case hex digits of each byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    t
};

/// Appends an integer.
#[inline]
pub(super) fn int<I: itoa::Integer>(out: &mut Vec<u8>, n: I) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(n).as_bytes());
}

/// Appends an integer, or `null`.
#[inline]
pub(super) fn opt_int<I: itoa::Integer>(out: &mut Vec<u8>, n: Option<I>) {
    match n {
        Some(n) => int(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// Formats RFC 3339 UTC times with nanoseconds, caching the text of the
/// current second so that consecutive events only format their fraction.
#[derive(Debug, Clone)]
pub(super) struct TimeCache {
    secs: Option<i64>,
    prefix: Vec<u8>,
}

impl TimeCache {
    pub(super) fn new() -> Self {
        TimeCache {
            secs: None,
            prefix: Vec::with_capacity(24),
        }
    }

    /// Appends `"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"` (with the quotes).
    pub(super) fn write(&mut self, out: &mut Vec<u8>, t: Timestamp) {
        if self.secs != Some(t.secs) {
            self.prefix.clear();
            civil(&mut self.prefix, t.secs);
            self.secs = Some(t.secs);
        }
        out.push(b'"');
        out.extend_from_slice(&self.prefix);
        out.push(b'.');
        let mut digits = [b'0'; 9];
        let mut n = t.nanos.min(999_999_999);
        for d in digits.iter_mut().rev() {
            // n % 10 < 10 always fits a u8.
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&digits);
        out.extend_from_slice(b"Z\"");
    }
}

fn two(out: &mut Vec<u8>, n: i64) {
    out.push(b'0' + (n / 10 % 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

/// Appends `YYYY-MM-DDTHH:MM:SS` for `secs` since the epoch (proleptic
/// Gregorian calendar, days-from-civil inverse). Years outside 0–9999 are
/// written as ISO 8601 expanded years: at least 4 digits, `-` when negative.
fn civil(out: &mut Vec<u8>, secs: i64) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Shift the epoch to 0000-03-01, so leap days end each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if year < 0 {
        out.push(b'-');
    }
    let y = year.unsigned_abs();
    if y < 10_000 {
        two(out, (y / 100) as i64);
        two(out, (y % 100) as i64);
    } else {
        int(out, y);
    }
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    out.push(b'T');
    two(out, sod / 3600);
    out.push(b':');
    two(out, sod / 60 % 60);
    out.push(b':');
    two(out, sod % 60);
}

/// `[a,b]`, or `null`.
pub(super) fn opt_pair<I: itoa::Integer>(out: &mut Vec<u8>, pair: Option<(I, I)>) {
    match pair {
        Some((a, b)) => {
            out.push(b'[');
            int(out, a);
            out.push(b',');
            int(out, b);
            out.push(b']');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// `"key":`, after a comma unless it is the first member.
pub(super) fn member_key(out: &mut Vec<u8>, key: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A string member (serde_json's escaping).
pub(super) fn member_str(out: &mut Vec<u8>, key: &str, val: &str, first: bool) {
    member_key(out, key, first);
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, val);
}

/// A string member, or `null`.
pub(super) fn member_opt_str(out: &mut Vec<u8>, key: &str, val: Option<&str>) {
    match val {
        Some(v) => member_str(out, key, v, false),
        None => {
            member_key(out, key, false);
            out.extend_from_slice(b"null");
        }
    }
}

/// A number member.
pub(super) fn member_num(out: &mut Vec<u8>, key: &str, v: u64, first: bool) {
    member_key(out, key, first);
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A boolean member.
pub(super) fn member_bool(out: &mut Vec<u8>, key: &str, v: bool) {
    member_key(out, key, false);
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(secs: i64, nanos: u32) -> String {
        let mut out = Vec::new();
        TimeCache::new().write(&mut out, Timestamp { secs, nanos });
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rfc3339_agrees_with_jiff() {
        for secs in [
            0i64,
            1,
            951_782_400,
            1_795_250_372,
            4_102_444_800,
            -1,
            -86_401,
            253_402_207_200,
            -62_135_596_800,
        ] {
            let j = jiff::Timestamp::from_second(secs).unwrap();
            let want = format!("\"{}.000000007Z\"", j.strftime("%Y-%m-%dT%H:%M:%S"));
            assert_eq!(time(secs, 7), want, "{secs}");
        }
        assert_eq!(
            time(1_795_250_372, 123_456_789),
            "\"2026-11-21T08:39:32.123456789Z\""
        );
        assert_eq!(
            time(-62_167_219_201, 0),
            "\"-0001-12-31T23:59:59.000000000Z\""
        );
        assert_eq!(
            time(253_402_300_800, 0),
            "\"10000-01-01T00:00:00.000000000Z\""
        );
        assert_eq!(time(i64::MIN, 0).len(), time(i64::MIN, 0).len());
        let _ = time(i64::MAX, 999_999_999);
    }

    #[test]
    fn escapes_controls_quotes_backslashes() {
        let mut out = Vec::new();
        string(&mut out, "a\"b\\c\nd\u{1}é\u{7f}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001é\u{7f}\""
        );
    }
}
