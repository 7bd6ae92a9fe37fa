//! File and syslog sinks against real files and a real rsyslogd.

mod common;

use common::rsyslog;

use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use inetmon_io::sink::{
    facility_by_name, AppendFile, BinaryFile, Level, LineSink, ReopenNotice, Severity, Syslog,
};

#[test]
fn append_file_reopens_after_rename() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipmon.log");
    std::fs::write(&path, "old\n").unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let mut sink = AppendFile::open(&path, Arc::clone(&flag)).unwrap();
    let info = Level::new(Severity::INFO);
    sink.write_line("one", info).unwrap();
    sink.flush().unwrap();
    // logrotate: rename, then SIGHUP.
    let rotated = dir.path().join("ipmon.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    sink.write_line("two", info).unwrap();
    sink.flush().unwrap();
    flag.store(true, Ordering::SeqCst);
    sink.write_line("three", info).unwrap();
    sink.flush().unwrap();
    assert!(!flag.load(Ordering::SeqCst));
    assert_eq!(
        std::fs::read_to_string(&rotated).unwrap(),
        "old\none\ntwo\n"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
}

#[test]
fn binary_file_appends_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipmon.bin");
    let flag = Arc::new(AtomicBool::new(false));
    let mut sink = BinaryFile::open(&path, Arc::clone(&flag)).unwrap();
    sink.write_record(&[1, 2, 3]).unwrap();
    sink.flush().unwrap();
    std::fs::rename(&path, dir.path().join("old.bin")).unwrap();
    flag.store(true, Ordering::SeqCst);
    sink.write_record(&[4, 0]).unwrap();
    sink.flush().unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("old.bin")).unwrap(),
        [1, 2, 3]
    );
    assert_eq!(std::fs::read(&path).unwrap(), [4, 0]);
}

/// A reopen that fails (the path became a directory) keeps the old file,
/// leaves one notice however many SIGHUPs fail, and a later reopen that
/// works leaves a `Recovered` notice.
#[test]
fn failed_reopen_keeps_the_old_file_and_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rot.log");
    let flag = Arc::new(AtomicBool::new(false));
    let mut sink = AppendFile::open(&path, Arc::clone(&flag)).unwrap();
    let info = Level::new(Severity::INFO);
    sink.write_line("one", info).unwrap();
    let rotated = dir.path().join("rot.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    std::fs::create_dir(&path).unwrap();
    for line in ["two", "three"] {
        flag.store(true, Ordering::SeqCst);
        sink.write_line(line, info).unwrap();
        sink.flush().unwrap();
    }
    let notice = sink.take_notice().expect("a notice");
    assert!(matches!(notice, ReopenNotice::Failed(_)), "{notice:?}");
    assert_eq!(
        notice.to_string(),
        format!(
            "reopen {}: Is a directory (os error 21); still writing to the file opened before, \
             retrying at the next SIGHUP",
            path.display()
        )
    );
    assert!(sink.take_notice().is_none(), "said once");
    assert_eq!(
        std::fs::read_to_string(&rotated).unwrap(),
        "one\ntwo\nthree\n"
    );
    std::fs::remove_dir(&path).unwrap();
    flag.store(true, Ordering::SeqCst);
    sink.write_line("four", info).unwrap();
    sink.flush().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "four\n");
    assert_eq!(
        sink.take_notice().map(|n| n.to_string()),
        Some(format!("reopened {}", path.display()))
    );
}

struct Rsyslogd(Child);

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn syslog_lines_reach_rsyslogd() {
    if !common::can_run(
        Command::new("rsyslogd").arg("-v").output().is_ok(),
        "rsyslogd is not installed",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = rsyslog::write_unix_socket_conf(dir.path());
    let _guard = Rsyslogd(rsyslog::rsyslogd(dir.path()).spawn().unwrap());
    assert!(common::wait_for(Duration::from_secs(60), || sock.exists().then_some(())).is_some());

    let mut sink = Syslog::new(&sock, "ipmon", facility_by_name("local0").unwrap());
    sink.write_line(
        "04:49:36.420541 hme0 @0:34 b 205.152.16.6,58596 -> 204.60.220.24,113 PR tcp len 20 44\n",
        Level::new(Severity::WARNING),
    )
    .unwrap();
    sink.write_line("NAT line", Level::new(Severity::INFO))
        .unwrap();
    // A rule's log level (daemon.err) overrides the facility too.
    sink.write_line("rule level", Level::from_priority(3 * 8 + 3))
        .unwrap();
    assert_eq!(sink.take_lost(), 0);

    let out = dir.path().join("out");
    let text = common::wait_for(Duration::from_secs(60), || {
        let t = std::fs::read_to_string(&out).ok()?;
        (t.lines().count() >= 3).then_some(t)
    })
    .expect("rsyslogd wrote three lines");
    let pid = std::process::id();
    let want = format!(
        "local0.warning ipmon[{pid}]: 04:49:36.420541 hme0 @0:34 b 205.152.16.6,58596 -> 204.60.220.24,113 PR tcp len 20 44\n\
         local0.info ipmon[{pid}]: NAT line\n\
         daemon.err ipmon[{pid}]: rule level\n"
    );
    assert_eq!(text, want);
}
