//! Syslog facility names for `ipmon -L` (the project's one table is
//! `inetmon_core::syslog_names`).

/// The facility code, shifted as `LOG_LOCAL0` is, for `name`.
pub(crate) fn facility_code(name: &str) -> Option<i32> {
    inetmon_core::syslog_names::facility_code(name).map(|c| i32::from(c) << 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_facpri_names() {
        assert_eq!(facility_code("local0"), Some(libc::LOG_LOCAL0));
        assert_eq!(facility_code("security"), facility_code("auth"));
        assert_eq!(facility_code("LOCAL0"), None);
        assert_eq!(facility_code("bogus"), None);
    }
}
