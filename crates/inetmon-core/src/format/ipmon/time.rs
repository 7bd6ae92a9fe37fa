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
    /// Where the cached text stays valid but for its clock: the UTC offset
    /// is the same for every second strictly between two transitions of
    /// the zone, and the local day is the same. A new second inside it
    /// only rewrites `hh:mm:ss` (the zone lookup costs more than the rest
    /// of a line, and a busy log changes second every few lines).
    span: Option<Span>,
}

/// See [`TimePrefix::span`].
#[derive(Debug, Clone, Copy)]
struct Span {
    /// The transitions around the cached second (exclusive bounds).
    after: i64,
    before: i64,
    /// The UTC offset between them, in seconds.
    offset: i64,
    /// The local day (days since the epoch, local time) of the text.
    day: i64,
}

impl TimePrefix {
    pub(crate) fn new(tz: TimeZone) -> Self {
        TimePrefix {
            tz,
            secs: None,
            text: [0; 24],
            len: 0,
            date_len: 0,
            span: None,
        }
    }

    /// Appends `DD/MM/YYYY HH:MM:SS` (strftime `"%d/%m/%Y %T"` of
    /// `localtime(secs)`), or only `HH:MM:SS` when `with_date` is false
    /// (syslog mode). Seconds outside jiff's range (years beyond ±9999) are
    /// clamped to its limits; C's `localtime` would fail there.
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, secs: i64, with_date: bool) {
        if self.secs != Some(secs) && !self.same_day(secs) {
            self.render(secs);
        }
        if with_date {
            crate::names::push_prefix(out, &self.text, self.len);
        } else {
            out.extend_from_slice(self.text.get(self.date_len..self.len).unwrap_or(&[]));
        }
    }

    /// Rewrites the clock of the cached text for `secs` when it is in the
    /// cached span and local day; `false` when a full render is needed.
    fn same_day(&mut self, secs: i64) -> bool {
        let Some(span) = self.span else {
            return false;
        };
        if secs <= span.after || secs >= span.before {
            return false;
        }
        let Some(local) = secs.checked_add(span.offset) else {
            return false;
        };
        if local.div_euclid(86_400) != span.day {
            return false;
        }
        let t = local.rem_euclid(86_400);
        let hms = |v: i64| {
            let v = u8::try_from(v).unwrap_or(0);
            [b'0' + v / 10, b'0' + v % 10]
        };
        let [h0, h1] = hms(t / 3600);
        let [n0, n1] = hms(t / 60 % 60);
        let [s0, s1] = hms(t % 60);
        let Some([a, b, _, c, d, _, e, f]) = self.text.get_mut(self.date_len..self.len) else {
            return false;
        };
        [*a, *b, *c, *d, *e, *f] = [h0, h1, n0, n1, s0, s1];
        self.secs = Some(secs);
        true
    }

    fn render(&mut self, secs: i64) {
        let exact = jiff::Timestamp::from_second(secs).ok();
        let ts = exact.unwrap_or(if secs < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        });
        let dt = self.tz.to_datetime(ts);
        self.span = exact.map(|ts| {
            let offset = i64::from(self.tz.to_offset(ts).seconds());
            let after = self
                .tz
                .preceding(ts)
                .next()
                .map_or(i64::MIN, |t| t.timestamp().as_second());
            let before = self
                .tz
                .following(ts)
                .next()
                .map_or(i64::MAX, |t| t.timestamp().as_second());
            Span {
                after,
                before,
                offset,
                day: secs.saturating_add(offset).div_euclid(86_400),
            }
        });
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

    /// A prefix kept from line to line (clock rewritten within a local
    /// day and an offset span) writes what a fresh one writes, across
    /// midnights and daylight-saving transitions both ways.
    #[test]
    fn cached_clock_equals_fresh_render() {
        let zones = [
            TimeZone::UTC,
            TimeZone::fixed(jiff::tz::offset(-7)),
            TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap(),
            TimeZone::posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0").unwrap(),
        ];
        // 2026-03-28 .. 2026-03-30 and 2026-10-24 .. 2026-10-26 (CET
        // transitions), also around the epoch and before it.
        let ranges = [
            (1_774_656_000_i64, 1_774_828_800_i64),
            (1_792_800_000, 1_792_972_800),
            (-200_000, 200_000),
        ];
        for tz in zones {
            let mut kept = TimePrefix::new(tz.clone());
            for (from, to) in ranges {
                let mut secs = from;
                while secs < to {
                    for date in [true, false] {
                        let mut a = Vec::new();
                        kept.write(&mut a, secs, date);
                        assert_eq!(
                            String::from_utf8(a).unwrap(),
                            fmt(tz.clone(), secs, date),
                            "{tz:?} {secs}"
                        );
                    }
                    secs += 97;
                }
            }
        }
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
