//! Syslog facility names for `ipmon -L`, as IP Filter's `facpri.c` spells
//! them (those that exist on Linux).

/// The facility code (already shifted, as `LOG_LOCAL0` is) for `name`.
pub(crate) fn facility_code(name: &str) -> Option<i32> {
    let code = match name {
        "kern" => libc::LOG_KERN,
        "user" => libc::LOG_USER,
        "mail" => libc::LOG_MAIL,
        "daemon" => libc::LOG_DAEMON,
        "auth" | "security" => libc::LOG_AUTH,
        "syslog" => libc::LOG_SYSLOG,
        "lpr" => libc::LOG_LPR,
        "news" => libc::LOG_NEWS,
        "uucp" => libc::LOG_UUCP,
        "cron" => libc::LOG_CRON,
        "authpriv" => libc::LOG_AUTHPRIV,
        "ftp" => libc::LOG_FTP,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => return None,
    };
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_facpri_names() {
        assert_eq!(facility_code("local0"), Some(16 << 3));
        assert_eq!(facility_code("security"), facility_code("auth"));
        assert_eq!(facility_code("LOCAL0"), None);
        assert_eq!(facility_code("bogus"), None);
    }
}
