//! The `DD/MM/YYYY HH:MM:SS` prefix of every ipmon line, in local time,
//! computed once per second.

use jiff::tz::TimeZone;

/// Caches the text of the last second formatted.
#[derive(Debug, Clone)]
pub(crate) struct TimePrefix {
    tz: TimeZone,
    secs: Option<i64>,
    /// `DD/MM/YYYY HH:MM:SS` in `text[..len]`; the date part is
    /// `text[..date_len]` (including its trailing space). A fixed block, so
    /// that appending it is a few moves and no `memcpy` call.
    text: [u8; 24],
    len: usize,
    date_len: usize,
}

impl TimePrefix {
    pub(crate) fn new(tz: TimeZone) -> Self {
        TimePrefix {
            tz,
            secs: None,
            text: [0; 24],
            len: 0,
            date_len: 0,
        }
    }

    /// Appends `DD/MM/YYYY HH:MM:SS` (strftime `"%d/%m/%Y %T"` of
    /// `localtime(secs)`), or only `HH:MM:SS` when `with_date` is false
    /// (syslog mode). Seconds outside jiff's range (years beyond ±9999) are
    /// clamped to its limits; C's `localtime` would fail there.
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, secs: i64, with_date: bool) {
        if self.secs != Some(secs) {
            self.render(secs);
        }
        if with_date {
            crate::names::push_prefix(out, &self.text, self.len);
        } else {
            out.extend_from_slice(self.text.get(self.date_len..self.len).unwrap_or(&[]));
        }
    }

    fn render(&mut self, secs: i64) {
        let ts = jiff::Timestamp::from_second(secs).unwrap_or(if secs < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        });
        let dt = self.tz.to_datetime(ts);
        let year = dt.year();
        let y = year.unsigned_abs();
        let [d0, d1] = two(dt.day());
        let [m0, m1] = two(dt.month());
        // %Y: at least four digits here (jiff years are within ±9999).
        let digit = |d: u16| b'0' + ((y / d) % 10) as u8;
        let [h0, h1] = two(dt.hour());
        let [n0, n1] = two(dt.minute());
        let [s0, s1] = two(dt.second());
        let date = [
            d0,
            d1,
            b'/',
            m0,
            m1,
            b'/',
            digit(1000),
            digit(100),
            digit(10),
            digit(1),
            b' ',
        ];
        let clock = [h0, h1, b':', n0, n1, b':', s0, s1];
        let sign: &[u8] = if year < 0 { b"-" } else { b"" };
        // The sign goes before the year: after `DD/MM/`.
        let (day_month, year_part) = date.split_at(6);
        let mut n = 0;
        for b in day_month
            .iter()
            .chain(sign)
            .chain(year_part)
            .chain(clock.iter())
        {
            if let Some(slot) = self.text.get_mut(n) {
                *slot = *b;
            }
            n += 1;
        }
        self.date_len = day_month.len() + sign.len() + year_part.len();
        self.len = n.min(self.text.len());
        self.secs = Some(secs);
    }
}

/// Two decimal digits of a calendar field.
fn two(v: i8) -> [u8; 2] {
    let v = v.unsigned_abs();
    [b'0' + (v / 10) % 10, b'0' + v % 10]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(tz: TimeZone, secs: i64, date: bool) -> String {
        let mut p = TimePrefix::new(tz);
        let mut out = Vec::new();
        p.write(&mut out, secs, date);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn utc_and_fixed_offset() {
        assert_eq!(fmt(TimeZone::UTC, 0, true), "01/01/1970 00:00:00");
        assert_eq!(
            fmt(TimeZone::UTC, 1_763_719_201, true),
            "21/11/2025 10:00:01"
        );
        assert_eq!(fmt(TimeZone::UTC, 1_763_719_201, false), "10:00:01");
        let plus10 = TimeZone::fixed(jiff::tz::offset(10));
        assert_eq!(fmt(plus10, 0, true), "01/01/1970 10:00:00");
    }

    #[test]
    fn extreme_seconds_do_not_panic() {
        let _ = fmt(TimeZone::UTC, i64::MAX, true);
        let _ = fmt(TimeZone::UTC, i64::MIN, true);
    }

    #[test]
    fn cache_follows_changes() {
        let mut p = TimePrefix::new(TimeZone::UTC);
        let mut out = Vec::new();
        p.write(&mut out, 0, true);
        p.write(&mut out, 0, false);
        p.write(&mut out, 61, true);
        assert_eq!(out, b"01/01/1970 00:00:0000:00:0001/01/1970 00:01:01");
    }
}
