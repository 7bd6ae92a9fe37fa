//! A private `rsyslogd` for the syslog tests of both crates: its command
//! line, the config of one that reads a unix datagram socket, and the
//! severity it shows for an ipmon line. One copy: `crates/inetmon/tests`
//! includes this file by path.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `rsyslogd -n -f DIR/rsyslog.conf -i DIR/rsyslog.pid`: in the
/// foreground, with its config and pid file in `dir`.
pub fn rsyslogd(dir: &Path) -> Command {
    let mut c = Command::new("rsyslogd");
    c.arg("-n")
        .arg("-f")
        .arg(dir.join("rsyslog.conf"))
        .arg("-i")
        .arg(dir.join("rsyslog.pid"));
    c
}

/// Writes `dir/rsyslog.conf` for an rsyslogd that reads the unix datagram
/// socket `dir/log` and writes each message to `dir/out` as
/// `facility.severity TAGMSG`; returns the socket's path.
pub fn write_unix_socket_conf(dir: &Path) -> PathBuf {
    let d = dir.display();
    let conf = format!(
        r#"global(workDirectory="{d}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{d}/log" CreatePath="on")
template(name="t" type="string" string="%syslogfacility-text%.%syslogseverity-text% %syslogtag%%msg%\n")
*.* action(type="omfile" file="{d}/out" template="t")
"#
    );
    std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
    dir.join("log")
}

/// The severity rsyslogd shows for an ipmon line whose action is `act`
/// (reference §3): `b` and `Sb` warning, `L` info, other `S…` err, `p`
/// and `n` notice, anything else emerg.
pub fn ipmon_severity(act: &str) -> &'static str {
    match act {
        "b" | "Sb" => "warning",
        "L" => "info",
        a if a.starts_with('S') => "err",
        "p" | "n" => "notice",
        _ => "emerg",
    }
}
