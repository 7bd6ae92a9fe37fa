//! Every error of the binary is one line on stderr that names the thing it
//! is about (path, stream, option, NFLOG group) once, and never repeats its
//! cause (`…: No such file or directory (os error 2): No such file or
//! directory (os error 2)` was printed before).
//!
//! A table of misuses with the exact line each one gives: missing files,
//! directories where files belong, `/dev/full` as each output of each
//! path (offline, live), unwritable pid files, a busy NFLOG group.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const FIXTURE: &str = "nflog-real-small.pcap";

/// Where standard output goes.
#[derive(Clone, Copy, Debug)]
enum Out {
    Null,
    Full,
}

/// Runs `cmd` with `out` as standard output; kills it after `limit`.
fn run_for(cmd: &mut Command, out: Out, limit: Duration) -> Run {
    let file = match out {
        Out::Null => fs::File::create("/dev/null").unwrap(),
        Out::Full => fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    };
    let err = tempfile::NamedTempFile::new().unwrap();
    cmd.stdin(Stdio::null())
        .stdout(file)
        .stderr(err.reopen().unwrap());
    let mut child = cmd.spawn().unwrap();
    let end = Instant::now() + limit;
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code,
        stdout: String::new(),
        stderr: fs::read_to_string(err.path()).unwrap(),
    }
}

fn run_to(cmd: &mut Command, out: Out) -> Run {
    run_for(cmd, out, Duration::from_secs(20))
}

/// Exit status 1, exactly `want` on stderr, and no `: `-separated part of
/// the line twice.
fn check(args: &[String], r: &Run, want: &str) {
    assert_eq!(r.code, Some(1), "{args:?}: {r:?}");
    assert_eq!(r.stderr, format!("{want}\n"), "{args:?}");
    assert_no_repeat(args, r.stderr.trim_end());
}

fn assert_no_repeat(args: &[String], line: &str) {
    let parts: Vec<&str> = line.split(": ").collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(p),
            "{args:?}: {p:?} is said twice in {line:?}"
        );
    }
}

#[test]
fn error_lines_name_their_object_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("adir");
    fs::create_dir(&d).unwrap();
    let d = d.to_str().unwrap();
    let f = data(FIXTURE);
    let f = f.to_str().unwrap();
    let enoent = "No such file or directory (os error 2)";
    let eisdir = "Is a directory (os error 21)";
    let enospc = "No space left on device (os error 28)";
    let cases: Vec<(Vec<&str>, Out, String)> = vec![
        // read
        (
            vec!["read", "/nonexistent/x.pcap"],
            Out::Null,
            format!("/nonexistent/x.pcap: {enoent}"),
        ),
        (vec!["read", d], Out::Null, format!("{d}: {eisdir}")),
        (
            vec!["read", "/dev/null"],
            Out::Null,
            "/dev/null: not a pcap, pcapng or IP Filter log file".to_owned(),
        ),
        (
            vec!["read", f],
            Out::Full,
            format!("write to stdout: {enospc}"),
        ),
        // ipmon, files read to their end
        (
            vec!["ipmon", "-f", f],
            Out::Full,
            format!("write to stdout: {enospc}"),
        ),
        (
            vec!["ipmon", "-f", f, "/dev/full"],
            Out::Null,
            format!("write /dev/full: {enospc}"),
        ),
        (
            vec!["ipmon", "-f", f, "-B", "/dev/full", "/dev/null"],
            Out::Null,
            format!("write /dev/full: {enospc}"),
        ),
        (
            vec!["ipmon", "-f", f, d],
            Out::Null,
            format!("{d}: {eisdir}"),
        ),
        (
            vec!["ipmon", "-f", f, "/nonexistent/out"],
            Out::Null,
            format!("/nonexistent/out: {enoent}"),
        ),
        (
            vec!["ipmon", "-f", f, "-B", "/nonexistent/b", "/dev/null"],
            Out::Null,
            format!("/nonexistent/b: {enoent}"),
        ),
        (
            vec!["ipmon", "-C", "/nonexistent/conf", "-f", f],
            Out::Null,
            format!("/nonexistent/conf: {enoent}"),
        ),
        // ipmon, the live pipeline (-t, -P, -D)
        (
            vec!["ipmon", "-t", "-f", "/nonexistent/x"],
            Out::Null,
            format!("/nonexistent/x: {enoent}"),
        ),
        (
            vec!["ipmon", "-t", "-f", f, "/dev/full"],
            Out::Null,
            format!("write /dev/full: {enospc}"),
        ),
        (
            vec!["ipmon", "-t", "-f", f, "-B", "/dev/full", "/dev/null"],
            Out::Null,
            format!("write /dev/full: {enospc}"),
        ),
        (
            vec!["ipmon", "-t", "-f", f],
            Out::Full,
            format!("write to stdout: {enospc}"),
        ),
        (
            vec!["ipmon", "-t", "-f", f, d],
            Out::Null,
            format!("{d}: {eisdir}"),
        ),
        (
            vec!["ipmon", "-t", "-f", f, "-B", d, "/dev/null"],
            Out::Null,
            format!("{d}: {eisdir}"),
        ),
        (
            vec!["ipmon", "-f", f, "-P", "/nonexistent/x.pid", "/dev/null"],
            Out::Null,
            format!("pid file: /nonexistent/x.pid: {enoent}"),
        ),
        (
            vec![
                "ipmon",
                "-D",
                "-f",
                f,
                "-P",
                "/nonexistent/x.pid",
                "/dev/null",
            ],
            Out::Null,
            format!("pid file: /nonexistent/x.pid: {enoent}"),
        ),
        (
            vec!["ipmon", "-f", f, "-P", d, "/dev/null"],
            Out::Null,
            format!("pid file: {d}: {eisdir}"),
        ),
        (
            vec!["ipmon", "-f", f, "-P", "/dev/null", "/dev/null"],
            Out::Null,
            "pid file: /dev/null: not a regular file".to_owned(),
        ),
        (
            vec!["ipmon", "-f", "nflog:99999"],
            Out::Null,
            "-f: invalid NFLOG group '99999' in 'nflog:99999' (expected 0-65535)".to_owned(),
        ),
    ];
    for (args, out, want) in cases {
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let r = run_to(Command::new(inetmon()).args(&args).env("TZ", "UTC"), out);
        check(&args, &r, &format!("inetmon: {want}"));
    }
}

/// The errors only root can reach: `monitor --write` into a directory, a
/// missing cgroup, an NFLOG group another process has bound; and an
/// unprivileged `sockets`, whose BPF loader error must not repeat itself.
#[test]
fn privileged_error_lines_name_their_object_once() {
    if !require_privileged(
        "privileged_error_lines_name_their_object_once",
        &["setpriv"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["monitor", "--write", d],
            format!("--write: {d}: Is a directory (os error 21)"),
        ),
        (
            vec!["sockets", "--cgroup", "/nonexistent/cg"],
            "--cgroup /nonexistent/cg: No such file or directory (os error 2)".to_owned(),
        ),
    ];
    for (args, want) in cases {
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let r = run_to(Command::new(inetmon()).args(&args), Out::Null);
        check(&args, &r, &format!("inetmon: {want}"));
    }

    // A busy NFLOG group, in a namespace of its own.
    let ns = Netns::new();
    let err = dir.path().join("first.err");
    let mut first = ns.spawn_inetmon(&["ipmon", "-f", "nflog:41", "-t", "/dev/null"], &err);
    let args: Vec<String> = ["ipmon", "-f", "nflog:41", "/dev/null"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    // Wait until the first one has bound the group (the kernel lists its
    // NFLOG instances, group first); else the second would take it.
    wait_for(Duration::from_secs(10), || {
        ns.sh("cat /proc/net/netfilter/nfnetlink_log")
            .lines()
            .any(|l| l.split_whitespace().next() == Some("41"))
            .then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "the first ipmon never bound group 41: {}",
            fs::read_to_string(&err).unwrap_or_default()
        )
    });
    let r = run_for(
        ns.cmd(inetmon()).args(&args),
        Out::Null,
        Duration::from_secs(10),
    );
    check(
        &args,
        &r,
        "inetmon: NFLOG group 41 is already bound by another process",
    );
    // The same line from monitor (it said "opening NFLOG: NFLOG group …").
    let args: Vec<String> = ["monitor", "--type", "packet", "--nflog", "41"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let r = run_for(
        ns.cmd(inetmon()).args(&args),
        Out::Null,
        Duration::from_secs(10),
    );
    check(
        &args,
        &r,
        "inetmon: NFLOG group 41 is already bound by another process",
    );
    first.stop();

    // Without privilege the BPF loader fails; the line says it once.
    let args = vec!["sockets".to_owned()];
    let r = run_to(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(inetmon())
            .args(&args),
        Out::Null,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr_lines().len(), 1, "{r:?}");
    assert!(r.stderr.starts_with("inetmon: "), "{r:?}");
    assert_no_repeat(&args, r.stderr.trim_end());
}
