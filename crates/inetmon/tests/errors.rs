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
    run_for(cmd, out, Duration::from_secs(60))
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
    // A case a line: where stdout goes (`null`: /dev/null, `full`:
    // /dev/full), the arguments, `=>`, the line expected after `inetmon: `.
    // `$F` stands for the fixture, `$D` for a directory.
    let cases = format!(
        "# read
         null read /nonexistent/x.pcap => /nonexistent/x.pcap: {enoent}
         null read $D => $D: {eisdir}
         null read /dev/null => /dev/null: not a pcap, pcapng or IP Filter log file
         full read $F => write to stdout: {enospc}
         # ipmon, files read to their end
         full ipmon -f $F => write to stdout: {enospc}
         null ipmon -f $F /dev/full => write /dev/full: {enospc}
         null ipmon -f $F -B /dev/full /dev/null => write /dev/full: {enospc}
         null ipmon -f $F $D => $D: {eisdir}
         null ipmon -f $F /nonexistent/out => /nonexistent/out: {enoent}
         null ipmon -f $F -B /nonexistent/b /dev/null => /nonexistent/b: {enoent}
         null ipmon -C /nonexistent/conf -f $F => /nonexistent/conf: {enoent}
         # ipmon, the live pipeline (-t, -P, -D)
         null ipmon -t -f /nonexistent/x => /nonexistent/x: {enoent}
         null ipmon -t -f $F /dev/full => write /dev/full: {enospc}
         null ipmon -t -f $F -B /dev/full /dev/null => write /dev/full: {enospc}
         full ipmon -t -f $F => write to stdout: {enospc}
         null ipmon -t -f $F $D => $D: {eisdir}
         null ipmon -t -f $F -B $D /dev/null => $D: {eisdir}
         null ipmon -f $F -P /nonexistent/x.pid /dev/null => pid file: /nonexistent/x.pid: {enoent}
         null ipmon -D -f $F -P /nonexistent/x.pid /dev/null => pid file: /nonexistent/x.pid: {enoent}
         null ipmon -f $F -P $D /dev/null => pid file: $D: {eisdir}
         null ipmon -f $F -P /dev/null /dev/null => pid file: /dev/null: not a regular file
         null ipmon -f nflog:99999 => -f: invalid NFLOG group '99999' in 'nflog:99999' (expected 0-65535)"
    );
    let fill = |s: &str| s.replace("$F", f).replace("$D", d);
    for case in cases.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let (args, want) = case.split_once(" => ").unwrap();
        let mut args = args.split_whitespace();
        let out = match args.next() {
            Some("null") => Out::Null,
            Some("full") => Out::Full,
            o => panic!("{o:?}"),
        };
        let args: Vec<String> = args.map(fill).collect();
        let r = run_to(Command::new(inetmon()).args(&args).env("TZ", "UTC"), out);
        check(&args, &r, &format!("inetmon: {}", fill(want)));
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
    // Wait until the first one has bound the group (the kernel lists its
    // NFLOG instances, group first); else the second would take it.
    wait_for(Duration::from_secs(60), || {
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
    // `inetmon ARGS` in the namespace says that the group is taken.
    let busy = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let r = run_for(
            ns.cmd(inetmon()).args(&args),
            Out::Null,
            Duration::from_secs(60),
        );
        check(
            &args,
            &r,
            "inetmon: NFLOG group 41 is already bound by another process",
        );
    };
    busy(&["ipmon", "-f", "nflog:41", "/dev/null"]);
    // The same line from monitor (it said "opening NFLOG: NFLOG group …").
    busy(&["monitor", "--type", "packet", "--nflog", "41"]);
    first.stop();

    // Without privilege the BPF loader fails; the line says it once.
    let args = vec!["sockets".to_owned()];
    let r = run_to(
        Command::new("setpriv")
            .args(common::AS_NOBODY)
            .arg(inetmon())
            .args(&args),
        Out::Null,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr_lines().len(), 1, "{r:?}");
    assert!(r.stderr.starts_with("inetmon: "), "{r:?}");
    assert_no_repeat(&args, r.stderr.trim_end());
}
