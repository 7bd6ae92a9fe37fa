//! Syslog facility and priority names, one table for the whole project:
//! `ipmon -L`, `ipmon.conf`'s `syslog("fac.pri")` and the syslog sink all
//! read it.
//!
//! The facility names are IP Filter's `facpri.c` names that exist on Linux
//! (glibc's `facilitynames`, where `security` is an alias of `auth`), plus
//! `audit` and `logalert` with their RFC 5424 numbers (13 and 14), since
//! glibc has no names for them.

/// Facility names and their (unshifted) codes: `local0` is 16.
pub const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("security", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("audit", 13),
    ("logalert", 14),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// Priority (severity) names and their codes: `err` is 3.
pub const PRIORITIES: &[(&str, u8)] = &[
    ("emerg", 0),
    ("panic", 0),
    ("alert", 1),
    ("crit", 2),
    ("err", 3),
    ("error", 3),
    ("warning", 4),
    ("warn", 4),
    ("notice", 5),
    ("info", 6),
    ("debug", 7),
];

/// The unshifted code of the facility called `name` (case-sensitive, as
/// ipmon is).
#[must_use]
pub fn facility_code(name: &str) -> Option<u8> {
    lookup(FACILITIES, name)
}

/// The code of the priority called `name`.
#[must_use]
pub fn priority_code(name: &str) -> Option<u8> {
    lookup(PRIORITIES, name)
}

fn lookup(table: &[(&str, u8)], name: &str) -> Option<u8> {
    table.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_facpri_names() {
        assert_eq!(facility_code("local0"), Some(16));
        assert_eq!(facility_code("security"), facility_code("auth"));
        assert_eq!(facility_code("LOCAL0"), None);
        assert_eq!(priority_code("warning"), Some(4));
        assert_eq!(priority_code("bogus"), None);
    }
}
