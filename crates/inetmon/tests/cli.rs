//! End-to-end tests of the `inetmon` binary: command-line misuse, `inetmon
//! read`, the `ipmon` name, and live tests in network namespaces with
//! nftables `log group` rules, real traffic and real peers as oracles
//! (tcpdump, conntrack, rsyslogd).
//!
//! Live tests need root; without it they skip with a message, unless
//! `INETMON_REQUIRE_PRIVILEGED=1`, where they fail.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const FIXTURE: &str = "nflog-real-small.pcap";

// ---------------------------------------------------------------- misuse

/// Every misuse: exactly one line on stderr, naming the problem, nothing on
/// stdout, exit status 1.
#[test]
fn misuse_is_one_line_and_status_1() {
    let cases: &[(&[&str], &str)] = &[
        (&["ipmon", "-q"], "unexpected argument '-q'"),
        (&["ipmon", "-o", "X"], "Unknown log option X"),
        (&["ipmon", "-oNZ"], "Unknown log option Z"),
        (&["ipmon", "-O", "Q"], "Unknown log option Q"),
        (&["ipmon", "-L", "nope"], "Unknown syslog facility 'nope'"),
        (&["ipmon", "-f"], "a value is required for '-f <src>'"),
        (&["ipmon", "-f", "nflog:x"], "invalid NFLOG group 'x'"),
        (
            &["ipmon", "-f", "nflog:65536"],
            "invalid NFLOG group '65536'",
        ),
        (&["ipmon", "-f", "conntrack"], "conntrack has no packet log"),
        (
            &["ipmon", "-N", "nflog:1"],
            "NFLOG carries only the packet log",
        ),
        (&["ipmon", "-D"], "-D needs an output file or -s"),
        (&["ipmon", "-O", "NSI", "-a"], "no log selected"),
        (&["ipmon", "a", "b"], "unexpected argument 'b'"),
        (&["read"], "required arguments were not provided"),
        (
            &["read", "--format", "xml", "x"],
            "invalid value 'xml' for '--format",
        ),
        (&["bogus"], "unrecognized subcommand 'bogus'"),
    ];
    for (args, needle) in cases {
        let r = inetmon_run(args);
        assert_eq!(r.stdout, "", "{args:?}");
        r.one_error_line(&args, needle);
    }
}

/// `-h` prints the usage line on stderr and exits 1, like ipmon; `--help`
/// is the full help on stdout with status 0.
#[test]
fn h_is_usage_with_status_1_and_help_is_status_0() {
    for flag in ["-h", "-?"] {
        let r = inetmon_run(&["ipmon", flag]);
        assert_eq!(r.code, Some(1));
        assert_eq!(r.stdout, "");
        assert_eq!(
            r.stderr,
            "Usage: inetmon ipmon [-abDFhnpstvxX] [-B binfile] [-C conf] [-L facility] [-N src] \
             [-o NSI] [-O NSI] [-P pidfile] [-S src] [-f src] [--json] \
             [--syslog-target URL [--syslog-ca FILE] [--syslog-buffer N]] [outfile]\n"
        );
    }
    let r = inetmon_run(&["ipmon", "--help"]);
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.contains("-f <src>"), "{}", r.stdout);
    let r = inetmon_run(&["--version"]);
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.starts_with("inetmon "));
}

/// A file that does not exist: one line naming it, status 1.
#[test]
fn missing_file_is_one_line() {
    for args in [
        &["read", "/nonexistent/x.pcap"][..],
        &["ipmon", "-f", "/nonexistent/x.pcap"],
    ] {
        let r = inetmon_run(args);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(r.stderr_lines().len(), 1, "{r:?}");
        assert!(
            r.stderr.starts_with("inetmon: ") && r.stderr.contains("/nonexistent/x.pcap"),
            "{r:?}"
        );
    }
}

/// Without `CAP_NET_ADMIN`, reading NFLOG or conntrack is one line naming
/// the capability.
#[test]
fn missing_capability_is_named() {
    if !require_privileged("missing_capability_is_named", &["setpriv"]) {
        return;
    }
    for (src, what) in [
        (&["-f", "nflog:0"][..], "reading NFLOG"),
        (&["-o", "S"], "reading conntrack events"),
    ] {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--bounding-set=-net_admin",
            "--inh-caps=-all",
            inetmon(),
            "ipmon",
        ])
        .args(src);
        let r = run(&mut cmd, Duration::from_secs(60));
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(
            r.stderr,
            format!("inetmon: {what} needs CAP_NET_ADMIN (run as root)\n")
        );
    }
}

// ---------------------------------------------------------------- read

/// `inetmon read` of the real NFLOG capture shows, packet by packet, the same
/// addresses, ports, protocol, lengths and TCP flags as tcpdump.
#[test]
fn read_fixture_agrees_with_tcpdump() {
    let fixture = data(FIXTURE);
    let r = inetmon_run(&["read", fixture.to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stderr, "");
    let ours: Vec<PacketFields> = r
        .stdout
        .lines()
        .map(|l| {
            parse_ipmon_packet(strip_time(l)).unwrap_or_else(|| panic!("not a packet line: {l}"))
        })
        .collect();
    assert_eq!(ours.len(), 10);
    if !can_run(have("tcpdump"), "tcpdump is not installed") {
        return;
    }
    let td = must(
        Command::new("tcpdump")
            .args(["-nn", "-v", "-r", fixture.to_str().unwrap()])
            .stderr(Stdio::null()),
    );
    assert_eq!(ours, parse_tcpdump_v(&td));
}

/// The real NFLOG capture in ipmon format, exactly (`TZ=UTC`). The file
/// records only the interface index (`if1`); the prefixes (`blk9`, `dns`,
/// `web`, none) do not follow the `ACT @GROUP:RULE` convention, so every
/// line shows the NFLOG group 5, rule -1 and `L`.
#[test]
fn read_fixture_exact_ipmon_lines() {
    let r = inetmon_run(&["read", data(FIXTURE).to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let expected = "\
21/11/2026 07:53:10.966711 if1 @5:-1 L 127.0.0.1,49392 -> 127.0.0.1,9 PR tcp len 20 60 -S IN
21/11/2026 07:53:11.267745 if1 @5:-1 L 127.0.0.1,48962 -> 127.0.0.1,53 PR udp len 20 33 IN
21/11/2026 07:53:11.267844 if1 @5:-1 L 127.0.0.1 -> 127.0.0.1 PR icmp len 20 61 icmp unreach/port for 127.0.0.1,48962 - 127.0.0.1,53 PR udp len 20 33 IN
21/11/2026 07:53:11.273963 if1 @5:-1 L 127.0.0.1,58458 -> 127.0.0.1,8080 PR tcp len 20 60 -S IN
21/11/2026 07:53:11.273999 if1 @5:-1 L 127.0.0.1,58458 -> 127.0.0.1,8080 PR tcp len 20 52 -A IN
21/11/2026 07:53:11.274088 if1 @5:-1 L 127.0.0.1,58458 -> 127.0.0.1,8080 PR tcp len 20 70 -AP IN
21/11/2026 07:53:11.274107 if1 @5:-1 L 127.0.0.1,58458 -> 127.0.0.1,8080 PR tcp len 20 52 -A IN
21/11/2026 07:53:11.274123 if1 @5:-1 L 127.0.0.1,58458 -> 127.0.0.1,8080 PR tcp len 20 52 -AR IN
21/11/2026 07:53:11.274384 if1 @5:-1 L ::1,47642 -> ::1,53 PR udp len 40 49 IN
21/11/2026 07:53:11.274418 if1 @5:-1 L ::1 -> ::1 PR icmpv6 len 40 97 icmpv6 unreach/noport IN
";
    assert_eq!(r.stdout, expected);
}

/// The same records as JSON: one object per line, schema version 1, with
/// the same addresses, ports, protocol, length and flags as the ipmon lines.
#[test]
fn read_fixture_as_json() {
    let fixture = data(FIXTURE);
    let r = inetmon_run(&["read", "--format", "json", fixture.to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let objs: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let ipmon = inetmon_run(&["read", fixture.to_str().unwrap()]);
    let lines: Vec<PacketFields> = ipmon
        .stdout
        .lines()
        .map(|l| parse_ipmon_packet(strip_time(l)).unwrap())
        .collect();
    assert_eq!(objs.len(), lines.len());
    for (o, p) in objs.iter().zip(&lines) {
        assert_eq!(o["v"], 1, "{o}");
        assert_eq!(o["kind"], "packet", "{o}");
        assert_eq!(o["source"], format!("pcap:{}", fixture.display()), "{o}");
        let proto = match o["protocol_name"].as_str().unwrap() {
            "ipv6-icmp" => "icmpv6",
            other => other,
        };
        let port = |v: &serde_json::Value| v.as_u64().map(|n| u16::try_from(n).unwrap());
        let from_json = PacketFields {
            src: o["src"].as_str().unwrap().to_owned(),
            sport: port(&o["sport"]),
            dst: o["dst"].as_str().unwrap().to_owned(),
            dport: port(&o["dport"]),
            proto: proto.to_owned(),
            len: u32::try_from(o["len"].as_u64().unwrap()).unwrap(),
            tcp_flags: o["tcp_flags"].as_str().map(str::to_owned),
        };
        assert_eq!(&from_json, p, "{o}");
    }
}

/// `--no-packet-bytes`: the same JSON objects without the `packet` key
/// (the schema documents it as absent when turned off); only with
/// `--format json`, otherwise one line and status 1.
#[test]
fn read_json_without_packet_bytes() {
    let fixture = data(FIXTURE);
    let path = fixture.to_str().unwrap();
    let with = inetmon_run(&["read", "--format", "json", path]);
    let without = inetmon_run(&["read", "--format", "json", "--no-packet-bytes", path]);
    assert_eq!(without.code, Some(0), "{without:?}");
    let parse = |s: &str| -> Vec<serde_json::Value> {
        s.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (mut with, without) = (parse(&with.stdout), parse(&without.stdout));
    assert!(!with.is_empty());
    assert_eq!(with.len(), without.len());
    for (w, o) in with.iter_mut().zip(&without) {
        assert!(w["packet"].is_string(), "{w}");
        assert!(o.get("packet").is_none(), "{o}");
        w.as_object_mut().unwrap().remove("packet");
        assert_eq!(w, o);
    }
    let misuse = inetmon_run(&["read", "--no-packet-bytes", path]);
    assert_eq!(misuse.code, Some(1), "{misuse:?}");
    assert_eq!(misuse.stderr.lines().count(), 1, "{misuse:?}");
    assert!(misuse.stderr.contains("--no-packet-bytes"), "{misuse:?}");
}

/// `-v`, `-x`, `-b` and `-X` reach the formatter: sequence/ack/window, the
/// packet's hex dump, the body's hex dump, the raw record header's dump.
#[test]
fn formatter_flags_are_wired() {
    let f = data(FIXTURE);
    let f = f.to_str().unwrap();
    let first =
        "21/11/2026 07:53:10.966711 if1 @5:-1 L 127.0.0.1,49392 -> 127.0.0.1,9 PR tcp len 20 60 -S";
    let head = |args: &[&str], n: usize| -> Vec<String> {
        let r = inetmon_run(args);
        assert_eq!(r.code, Some(0), "{args:?}: {r:?}");
        r.stdout.lines().take(n).map(str::to_owned).collect()
    };
    assert_eq!(
        head(&["ipmon", "-v", "-f", f], 1),
        [format!("{first} 832031578 0 65495 IN")]
    );
    assert_eq!(
        head(&["ipmon", "-x", "-f", f], 5),
        [
            format!("{first} IN"),
            "45 00 00 3c f5 62 40 00 40 06 47 57 7f 00 00 01        E..<.b@.@.GW....".to_owned(),
            "7f 00 00 01 c0 f0 00 09 31 97 cb 5a 00 00 00 00        ........1..Z....".to_owned(),
            "a0 02 ff d7 fe 30 00 00 02 04 ff d7 04 02 08 0a        .....0..........".to_owned(),
            "ba 00 30 18 00 00 00 00 01 03 03 0a                    ..0.........".to_owned(),
        ]
    );
    assert_eq!(
        head(&["ipmon", "-b", "-f", f], 3),
        [
            format!("{first} IN"),
            "02 04 ff d7 04 02 08 0a ba 00 30 18 00 00 00 00        ..........0.....".to_owned(),
            "01 03 03 0a                                            ....".to_owned(),
        ]
    );
    // -X dumps the iplog_t + ipflog_t header, which only IP Filter binary
    // logs have: replay a -B copy.
    let dir = tempfile::tempdir().unwrap();
    let (bin, _) = iplog_copy(Path::new(f), dir.path(), "x.iplog");
    let x = head(&["ipmon", "-X", "-f", bin.to_str().unwrap()], 10);
    assert_eq!(x[0], "missed 1 ipf log entries: 0 1");
    assert_eq!(x[1], format!("{first} IN"));
    // 128 bytes of header: 8 full hex lines, ASCII column at 55.
    for l in &x[2..10] {
        assert_eq!(l.len(), 71, "{l:?}");
        assert!(
            l[..47]
                .split(' ')
                .all(|b| b.len() == 2 && u8::from_str_radix(b, 16).is_ok()),
            "{l:?}"
        );
        assert_eq!(&l[47..55], "        ", "{l:?}");
    }
}

/// Standard input (`-`) reads like a file, for `read` and for `ipmon -f -`.
#[test]
fn stdin_reads_like_a_file() {
    let fixture = data(FIXTURE);
    let bytes = fs::read(&fixture).unwrap();
    let from_file = inetmon_run(&["read", fixture.to_str().unwrap()]);
    assert_eq!(from_file.code, Some(0), "{from_file:?}");
    for args in [&["read", "-"][..], &["ipmon", "-f", "-"]] {
        let mut cmd = Command::new(inetmon());
        cmd.args(args).env("TZ", "UTC");
        let r = run_with_input(&mut cmd, &bytes, Duration::from_secs(60));
        assert_eq!(r.code, Some(0), "{args:?}: {r:?}");
        assert_eq!(r.stdout, from_file.stdout, "{args:?}");
    }
}

/// `inetmon ipmon -f FILE` prints what `inetmon read FILE` prints, in both
/// formats.
#[test]
fn ipmon_f_file_equals_read() {
    let fixture = data(FIXTURE);
    let a = inetmon_run(&["read", fixture.to_str().unwrap()]);
    let b = inetmon_run(&["ipmon", "-f", fixture.to_str().unwrap()]);
    assert_eq!(b.code, Some(0), "{b:?}");
    assert_eq!(a.stdout, b.stdout);
    let a = inetmon_run(&["read", "--format", "json", fixture.to_str().unwrap()]);
    let b = inetmon_run(&["ipmon", "--json", "-f", fixture.to_str().unwrap()]);
    assert_eq!(b.code, Some(0), "{b:?}");
    assert_eq!(a.stdout, b.stdout);
}

/// A truncated file: the complete records print, the cut one is reported
/// with its offset, a summary follows, and the status is 2.
#[test]
fn truncated_input_is_reported_with_offset_and_status_2() {
    let bytes = fs::read(data(FIXTURE)).unwrap();
    let (header, records) = pcap_split(&bytes);
    let mut cut = header.clone();
    let mut offset = header.len();
    for r in &records[..3] {
        cut.extend_from_slice(r);
        offset += r.len();
    }
    cut.extend_from_slice(&records[3][..records[3].len() - 5]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pcap");
    fs::write(&path, &cut).unwrap();
    let r = inetmon_run(&["read", path.to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(r.stdout.lines().count(), 3, "{r:?}");
    let err = r.stderr_lines();
    assert_eq!(err.len(), 2, "{r:?}");
    let n = records[3].len() - 5;
    let prefix = format!(
        "inetmon: {}: offset {offset}\u{2013}{}: {n} bytes skipped: truncated pcap record: ",
        path.display(),
        offset + n
    );
    assert!(
        err[0].starts_with(&prefix),
        "{:?} should start with {prefix:?}",
        err[0]
    );
    assert_eq!(
        err[1],
        format!("inetmon: 1 damaged region skipped ({n} bytes)")
    );
}

/// Several files, one of them unreadable (empty, missing, or not a capture):
/// every other file is still read in order, each bad one is one line naming
/// it, and the exit status says that some failed (1).
#[test]
fn every_file_is_read_when_one_fails() {
    let fixture = data(FIXTURE);
    let f = fixture.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    fs::write(&empty, b"").unwrap();
    let missing = dir.path().join("missing.pcap");
    let one = inetmon_run(&["read", f]);
    assert_eq!(one.code, Some(0), "{one:?}");
    for bad in [&empty, &missing] {
        let bad = bad.to_str().unwrap();
        let r = inetmon_run(&["read", f, bad, f]);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(r.stdout, one.stdout.repeat(2), "{r:?}");
        let err = r.stderr_lines();
        assert!(
            err.first()
                .is_some_and(|l| l.starts_with("inetmon: ") && l.contains(bad)),
            "{r:?}"
        );
        assert!(!r.stderr.contains("panicked"), "{r:?}");
    }
}

/// Garbage in the middle of a file is skipped and reading goes on.
#[test]
fn garbage_file_never_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.bin");
    fs::write(&path, b"this is not a capture file at all\n".repeat(100)).unwrap();
    let r = inetmon_run(&["read", path.to_str().unwrap()]);
    assert!(matches!(r.code, Some(1 | 2)), "{r:?}");
    assert!(
        r.stderr.lines().all(|l| l.starts_with("inetmon: ")),
        "{r:?}"
    );
    assert!(!r.stderr.contains("panicked"), "{r:?}");
}

/// A reader that closes the pipe early does not make an error.
#[test]
fn broken_pipe_exits_0() {
    let fixture = data(FIXTURE);
    let f = fixture.to_str().unwrap();
    let args: Vec<&str> = std::iter::once("read")
        .chain(std::iter::repeat_n(f, 2000))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("err.txt");
    let mut child = Command::new(inetmon())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    let got = std::io::Read::read_exact(&mut out, &mut first);
    drop(out);
    let status =
        wait_for(Duration::from_secs(60), || child.try_wait().unwrap()).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("inetmon kept running after its reader went away")
        });
    got.unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        fs::read_to_string(&err_path).unwrap()
    );
    assert_eq!(fs::read_to_string(&err_path).unwrap(), "");
}

/// SIGTERM while the output is blocked (a reader that never reads): the
/// run ends within a second, and what could not be written is counted in
/// the summary (status 2). Here `ipmon -t` follows a large file into a pipe.
#[test]
fn sigterm_ends_ipmon_within_a_second_while_output_is_blocked() {
    let bytes = fs::read(data(FIXTURE)).unwrap();
    let (header, records) = pcap_split(&bytes);
    let mut big = header;
    for _ in 0..5000 {
        for r in &records {
            big.extend_from_slice(r);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.pcap");
    fs::write(&path, &big).unwrap();
    let err = dir.path().join("err.txt");
    let (took, code) = sigterm_with_stuck_output(
        Command::new(inetmon()).args(["ipmon", "-t", "-f", path.to_str().unwrap()]),
        &err,
        || {},
    );
    let stderr = fs::read_to_string(&err).unwrap();
    assert!(
        took <= common::SIGTERM_EXIT_LIMIT,
        "took {took:?}: {stderr}"
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("events could not be written") && stderr.contains("events lost"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- argv0

/// Invoked as `ipmon` (symlink or hard link) the binary is `inetmon ipmon`.
#[test]
fn invoked_as_ipmon_behaves_as_inetmon_ipmon() {
    let dir = tempfile::tempdir().unwrap();
    let sym = dir.path().join("ipmon");
    std::os::unix::fs::symlink(inetmon(), &sym).unwrap();
    let hard_dir = tempfile::tempdir().unwrap();
    let hard = hard_dir.path().join("ipmon");
    if fs::hard_link(inetmon(), &hard).is_err() {
        // Another file system: a copy is what a packager's hard link gives.
        fs::copy(inetmon(), &hard).unwrap();
    }
    let fixture = data(FIXTURE);
    let expected = inetmon_run(&["ipmon", "-f", fixture.to_str().unwrap()]);
    for bin in [&sym, &hard] {
        let mut cmd = Command::new(bin);
        cmd.args(["-f", fixture.to_str().unwrap()]).env("TZ", "UTC");
        let r = run(&mut cmd, Duration::from_secs(60));
        assert_eq!(r.code, expected.code, "{r:?}");
        assert_eq!(r.stdout, expected.stdout);
        let r = run(Command::new(bin).arg("-h"), Duration::from_secs(60));
        assert_eq!(r.code, Some(1));
        assert!(
            r.stderr.starts_with("Usage: ipmon [-abDFhnpstvxX]"),
            "{r:?}"
        );
        let r = run(Command::new(bin).args(["-o", "X"]), Duration::from_secs(60));
        assert_eq!(r.stderr, "ipmon: Unknown log option X\n");
    }
}

// ---------------------------------------------------------------- files

/// `-B` writes IP Filter binary records that `-f` (and `read`) replay into
/// the same lines.
#[test]
fn binary_copy_replays_to_the_same_lines() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("copy.iplog");
    let out = dir.path().join("out.txt");
    let fixture = data(FIXTURE);
    let r = inetmon_run(&[
        "ipmon",
        "-f",
        fixture.to_str().unwrap(),
        "-B",
        bin.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let original = fs::read_to_string(&out).unwrap();
    assert_eq!(original.lines().count(), 10);
    let replay = inetmon_run(&["ipmon", "-f", bin.to_str().unwrap()]);
    assert_eq!(replay.code, Some(0), "{replay:?}");
    // The binary log carries its own sequence numbers: the replay may start
    // with ipmon's `missed` line; every packet line must be the same.
    let packets: Vec<&str> = replay
        .stdout
        .lines()
        .filter(|l| !l.starts_with("missed "))
        .collect();
    assert_eq!(packets, original.lines().collect::<Vec<_>>());
}

/// `-C`: records that an ipmon.conf line matches go to that line's actions
/// (a text file, a binary file, a command) instead of the normal output; a
/// file that does not parse is one line naming the file and line.
#[test]
fn conf_actions_route_matching_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "# UDP to a file; TCP to 8080 to a command and a binary log\n\
         match {{ protocol = udp ; }} do {{ file(\"file://{d}/udp.log\") ; }} ;\n\
         match {{ dstport = 8080, direction = in ; }} do {{ execute(\"cat >> {d}/exec.log\"), \
         file(\"raw://{d}/raw.iplog\") ; }} ;\n"
    );
    let fixture = data(FIXTURE);
    let all = inetmon_run(&["read", fixture.to_str().unwrap()]).stdout;
    let r = ipmon_with_conf(&dir.path().join("ipmon.conf"), &conf, &fixture);
    assert_eq!(r.code, Some(0), "{r:?}");
    let is_udp = |l: &&str| l.contains(" PR udp ") && !l.contains(" PR icmp ");
    let is_8080 = |l: &&str| l.contains(",8080 PR tcp");
    let rest: Vec<&str> = all.lines().filter(|l| !is_udp(l) && !is_8080(l)).collect();
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), rest);
    let udp: Vec<&str> = all.lines().filter(is_udp).collect();
    assert_eq!(lines_of(&dir.path().join("udp.log")), udp);
    let web: Vec<&str> = all.lines().filter(is_8080).collect();
    let exec = wait_for(Duration::from_secs(60), || {
        let got = lines_of(&dir.path().join("exec.log"));
        (got.len() >= web.len()).then_some(got)
    })
    .unwrap_or_else(|| panic!("{:?}", lines_of(&dir.path().join("exec.log"))));
    // The commands run concurrently (inetmon does not wait for them), so
    // their output may interleave in any order.
    let (mut exec, mut web_sorted) = (exec, web.clone());
    exec.sort();
    web_sorted.sort_unstable();
    assert_eq!(exec, web_sorted);
    let replay = inetmon_run(&["read", dir.path().join("raw.iplog").to_str().unwrap()]);
    let replayed: Vec<&str> = replay
        .stdout
        .lines()
        .filter(|l| !l.starts_with("missed "))
        .collect();
    assert_eq!(replayed, web);

    let bad = dir.path().join("bad.conf");
    let r = ipmon_with_conf(&bad, "match { bogus", &fixture);
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr,
        format!(
            "inetmon: {}: line 1: unknown condition \"bogus\"\n",
            bad.display()
        )
    );
}

/// `-t` follows a pcap file as it grows and across a rotation (rename and
/// a new file with the same name).
#[test]
fn follow_pcap_across_rotation() {
    let bytes = fs::read(data(FIXTURE)).unwrap();
    let (header, records) = pcap_split(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.pcap");
    let mut first = header.clone();
    first.extend_from_slice(&records[0]);
    fs::write(&live, &first).unwrap();
    let (mut mon, out, err) = follow_ipmon(dir.path(), &live);
    let t = Duration::from_secs(60);
    wait_for_line(&out, ",9 PR tcp", t, &err);
    // Grow the file.
    append(&live, &records[1]);
    wait_for_line(&out, ",53 PR udp", t, &err);
    // Rotate: rename, then a new file with more records.
    fs::rename(&live, dir.path().join("live.pcap.1")).unwrap();
    let mut second = header.clone();
    second.extend_from_slice(&records[3]);
    fs::write(&live, &second).unwrap();
    let lines = wait_for_line(&out, ",8080 PR tcp", t, &err);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(mon.try_wait(), None, "-t must keep running");
    mon.stop();
}

/// `-t` follows an IP Filter binary log too: records appended later are
/// printed, also after the file is rotated, and the `missed` counter carries
/// on across the rotation (it is one log).
#[test]
fn follow_iplog_across_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, records) = iplog_copy(&data(FIXTURE), dir.path(), "all.iplog");
    assert_eq!(records.len(), 10);
    let expected = inetmon_run(&["read", bin.to_str().unwrap()]).stdout;
    let expected: Vec<&str> = expected.lines().collect();

    let live = dir.path().join("live.iplog");
    fs::write(&live, records[..2].concat()).unwrap();
    let (mut mon, out, err) = follow_ipmon(dir.path(), &live);
    let t = Duration::from_secs(60);
    wait_for_line(&out, ",53 PR udp", t, &err);
    append(&live, &records[2..5].concat());
    wait_for_line(&out, "len 20 52 -A IN", t, &err);
    fs::rename(&live, dir.path().join("live.iplog.1")).unwrap();
    fs::write(&live, records[5..].concat()).unwrap();
    let lines = wait_for_line(&out, "icmpv6 unreach/noport", t, &err);
    assert_eq!(mon.try_wait(), None, "-t must keep running");
    mon.stop();
    assert_eq!(lines, expected);
}

/// `-s` sends each record to a real rsyslogd: ident `ipmon[pid]`, facility
/// from `-L`, the level of reference §3, and the text without the date.
#[test]
fn syslog_reaches_a_real_rsyslogd() {
    if !can_run(
        have("rsyslogd"),
        "rsyslogd is not installed (run scripts/setup.sh)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = rsyslog::write_unix_socket_conf(dir.path());
    let mut rsyslogd = Bg::spawn(
        &mut rsyslog::rsyslogd(dir.path()),
        &dir.path().join("rsyslogd.err"),
    );
    assert!(
        wait_for(Duration::from_secs(60), || sock.exists().then_some(())).is_some(),
        "rsyslogd did not start"
    );

    let fixture = data(FIXTURE);
    let plain = inetmon_run(&["read", fixture.to_str().unwrap()]);
    let pid = run_to_syslog(
        Command::new(inetmon())
            .args(["ipmon", "-s", "-L", "local3", "-f"])
            .arg(&fixture)
            .env("TZ", "UTC")
            .env("INETMON_SYSLOG_SOCKET", &sock),
    );

    let expected: Vec<String> = plain
        .stdout
        .lines()
        .map(|l| {
            // The date goes, the time stays; the level follows the action letter.
            let text = &l[11..];
            let level = rsyslog::ipmon_severity(text.split_whitespace().nth(3).unwrap());
            format!(
                "local3.{level} ipmon[{pid}]:{}",
                if text.starts_with(' ') {
                    text.to_owned()
                } else {
                    format!(" {text}")
                }
            )
        })
        .collect();
    let out = dir.path().join("out");
    let got = wait_for(Duration::from_secs(60), || {
        let lines = lines_of(&out);
        (lines.len() >= expected.len()).then_some(lines)
    })
    .unwrap_or_else(|| panic!("rsyslogd got {:?}", lines_of(&out)));
    assert_eq!(got, expected);

    // Daemonised, the ident carries the daemon's pid (the pid file's).
    let pidfile = dir.path().join("ipmon.pid");
    let r = run(
        Command::new(inetmon())
            .args([
                "ipmon",
                "-D",
                "-P",
                pidfile.to_str().unwrap(),
                "-s",
                "-t",
                "-f",
                fixture.to_str().unwrap(),
            ])
            .env("TZ", "UTC")
            .env("INETMON_SYSLOG_SOCKET", &sock),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let daemon: u32 = wait_for(Duration::from_secs(60), || {
        fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    })
    .expect("pid file");
    let tag = format!("ipmon[{daemon}]:");
    let seen = wait_for(Duration::from_secs(60), || {
        (lines_of(&out).iter().filter(|l| l.contains(&tag)).count() == expected.len()).then_some(())
    });
    must(Command::new("kill").args(["-TERM", &daemon.to_string()]));
    assert!(seen.is_some(), "no {tag} lines: {:#?}", lines_of(&out));
    rsyslogd.stop();

    // Without a syslog daemon, the messages are counted as lost: status 2.
    let r = inetmon_run_env(
        &["ipmon", "-s", "-f", fixture.to_str().unwrap()],
        &[(
            "INETMON_SYSLOG_SOCKET",
            dir.path().join("nobody").to_str().unwrap(),
        )],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert_eq!(
        r.stderr,
        "inetmon: syslog: 10 messages could not be sent\ninetmon: 10 events lost\n"
    );
}

// ---------------------------------------------------------------- live

/// The nftables ruleset of the NFLOG tests: every logged packet is logged to
/// group 7 (read by inetmon) and group 8 (read by tcpdump, the oracle), with
/// the same prefix. UDP to ports 4998/4999 are the start/end markers.
const NFLOG_RULES: &str = r#"
table inet t {
  chain in {
    type filter hook input priority 0;
    udp dport { 4998, 4999 } log group 7 log group 8 drop
    tcp dport 5000 log prefix "p @web:3 " group 7 log prefix "p @web:3 " group 8 accept
    tcp dport 5001 log prefix "b @web:4 " group 7 log prefix "b @web:4 " group 8
    tcp sport 5001 log prefix "p @web:5 " group 7 log prefix "p @web:5 " group 8
    udp dport 5002 log group 7 log group 8 drop
    icmp type echo-request log prefix "p @icmp:1 " group 7 log prefix "p @icmp:1 " group 8
    icmp type destination-unreachable log prefix "b @icmp:2 " group 7 log prefix "b @icmp:2 " group 8
    icmpv6 type echo-request log prefix "p @v6:1 " group 7 log prefix "p @v6:1 " group 8
    icmpv6 type destination-unreachable log prefix "b @v6:2 " group 7 log prefix "b @v6:2 " group 8
  }
}
"#;

/// A live NFLOG session in one namespace: inetmon on group 7, tcpdump on
/// group 8, markers to know when both are listening and when all is in.
struct LiveNflog {
    ns: Netns,
    dir: tempfile::TempDir,
    mon: Bg,
    tcpdump: Bg,
}

impl LiveNflog {
    /// Started with no extra flags for the test named `test`, or `None`
    /// when it skips: it needs root and nft, tcpdump, nc and ping.
    fn start_for(test: &str) -> Option<LiveNflog> {
        require_privileged(test, &["nft", "tcpdump", "nc", "ping"]).then(|| LiveNflog::start(&[]))
    }

    fn start(extra_args: &[&str]) -> LiveNflog {
        let ns = Netns::new();
        ns.nft(NFLOG_RULES);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        let mut args = vec!["ipmon", "-f", "nflog:7"];
        args.extend_from_slice(extra_args);
        args.push(out.to_str().unwrap());
        let mon = ns.spawn_inetmon(&args, &dir.path().join("err.txt"));
        let tcpdump = Bg::spawn(
            ns.cmd("tcpdump").args([
                "-U",
                "-i",
                "nflog:8",
                "-w",
                dir.path().join("cap.pcap").to_str().unwrap(),
            ]),
            &dir.path().join("tcpdump.err"),
        );
        let live = LiveNflog {
            ns,
            dir,
            mon,
            tcpdump,
        };
        // Send start markers until inetmon and tcpdump both saw one.
        let ready = wait_for(Duration::from_secs(60), || {
            live.ns.sh(&udp_cmd("127.0.0.1", 4999, 0, "m"));
            std::thread::sleep(Duration::from_millis(100));
            let mon_ready = lines_of(&live.out())
                .iter()
                .any(|l| l.contains(",4999 PR udp"));
            let td_ready = fs::read_to_string(live.dir.path().join("tcpdump.err"))
                .is_ok_and(|s| s.contains("listening"));
            (mon_ready && td_ready).then_some(())
        });
        assert!(
            ready.is_some(),
            "inetmon did not start: {}",
            fs::read_to_string(live.dir.path().join("err.txt")).unwrap_or_default()
        );
        // tcpdump says "listening" just before it binds: one more marker
        // that it must see.
        std::thread::sleep(Duration::from_millis(200));
        live.ns.sh(&udp_cmd("127.0.0.1", 4999, 0, "m"));
        live
    }

    fn out(&self) -> std::path::PathBuf {
        self.dir.path().join("out.txt")
    }

    /// Runs `script` until inetmon printed a line containing `needle`: the
    /// kernel rate-limits ICMP errors and sometimes sends none. (A loaded
    /// machine may take seconds to print: a line may then come twice,
    /// which tcpdump sees twice too.)
    fn send_until(&self, script: &str, needle: &str) {
        for _ in 0..10 {
            self.ns.sh(script);
            let seen = wait_for(Duration::from_secs(3), || {
                lines_of(&self.out())
                    .iter()
                    .any(|l| l.contains(needle))
                    .then_some(())
            });
            if seen.is_some() {
                return;
            }
        }
        panic!(
            "no {needle:?} after 10 tries of {script}: {:#?}",
            lines_of(&self.out())
        );
    }

    /// A UDP datagram from port `logged` to `addr`:5002 until its line is
    /// printed, then one from port `refused` to the closed port 5003 until
    /// the ICMP error `unreach` is; then one ICMP echo to `addr`.
    fn udp_and_ping(&self, addr: &str, logged: u16, refused: u16, unreach: &str) {
        self.send_until(
            &udp_cmd(addr, 5002, logged, "hi\\n"),
            &format!(",{logged} -> {addr},5002 "),
        );
        self.send_until(&udp_cmd(addr, 5003, refused, "hi\\n"), unreach);
        let family = if addr.contains(':') { "-6" } else { "-4" };
        self.ns
            .sh(&format!("ping {family} -c1 -W1 -s 56 {addr} >/dev/null"));
    }

    /// Sends the end marker, waits for it, stops both readers; returns the
    /// inetmon lines (without time and markers) and the tcpdump capture.
    fn finish(mut self) -> (Vec<String>, std::path::PathBuf, LiveNflog) {
        self.ns.sh(&udp_cmd("127.0.0.1", 4998, 0, "m"));
        wait_for_line(
            &self.out(),
            ",4998 PR udp",
            Duration::from_secs(60),
            &self.dir.path().join("err.txt"),
        );
        // The kernel hands NFLOG batches to tcpdump up to a second late
        // (libpcap keeps the default flush timeout): wait until the capture
        // has the end marker too.
        let cap = self.dir.path().join("cap.pcap");
        let complete = wait_for(Duration::from_secs(60), || {
            let out = Command::new("tcpdump")
                .args(["-nn", "-r", cap.to_str().unwrap()])
                .stderr(Stdio::null())
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .contains(".4998: ")
                .then_some(())
        });
        assert!(complete.is_some(), "tcpdump did not capture the end marker");
        assert_eq!(self.mon.try_wait(), None, "inetmon exited early");
        self.mon.stop();
        self.tcpdump.stop();
        let lines = lines_of(&self.out())
            .iter()
            .map(|l| strip_time(l).to_owned())
            .filter(|l| !l.contains(",4999 PR udp") && !l.contains(",4998 PR udp"))
            .collect();
        (lines, cap, self)
    }
}

/// `inetmon read` of tcpdump's capture of the same packets agrees with
/// tcpdump, and with what inetmon printed live (apart from the interface,
/// which a pcap file records only as an index).
fn check_oracle(live_lines: &[String], cap: &Path) {
    let read = inetmon_run(&["read", cap.to_str().unwrap()]);
    assert_eq!(read.code, Some(0), "{read:?}");
    let ours: Vec<PacketFields> = read
        .stdout
        .lines()
        .map(|l| {
            parse_ipmon_packet(strip_time(l)).unwrap_or_else(|| panic!("not a packet line: {l}"))
        })
        .filter(|p| !matches!(p.dport, Some(4998 | 4999)))
        .collect();
    let td = must(
        Command::new("tcpdump")
            .args(["-nn", "-v", "-r", cap.to_str().unwrap()])
            .stderr(Stdio::null()),
    );
    let theirs: Vec<PacketFields> = parse_tcpdump_v(&td)
        .into_iter()
        .filter(|p| !matches!(p.dport, Some(4998 | 4999)))
        .collect();
    assert_eq!(ours, theirs, "inetmon read vs tcpdump");
    let live: Vec<PacketFields> = live_lines
        .iter()
        .filter_map(|l| parse_ipmon_packet(l))
        .collect();
    assert_eq!(ours, live, "inetmon read of the capture vs inetmon live");
}

/// TCP (SYN, data, RST from a closed port), UDP, ICMP echo and ICMP port
/// unreachable over IPv4, live from NFLOG, exact lines; tcpdump agrees.
#[test]
fn live_nflog_ipv4_tcp_udp_icmp() {
    let Some(live) = LiveNflog::start_for("live_nflog_ipv4_tcp_udp_icmp") else {
        return;
    };
    // UDP with the default prefix; then to a closed port (ICMP unreachable);
    // ICMP echo.
    live.udp_and_ping("127.0.0.1", 40001, 40004, "icmp unreach/port");
    let ns = &live.ns;
    // TCP SYN to a closed port: the kernel answers RST.
    let _ = ns.sh_any("nc -w1 -p 40002 127.0.0.1 5001");
    // TCP with data to a listener.
    let _listener = Bg::spawn(
        ns.cmd("nc").args(["-l", "127.0.0.1", "5000"]),
        &live.dir.path().join("nc.err"),
    );
    ns.wait_listening(5000);
    ns.sh("printf hello | nc -N -w2 -p 40003 127.0.0.1 5000");
    let (lines, cap, _live) = live.finish();

    let expect_present = [
        "lo @7:-1 L 127.0.0.1,40001 -> 127.0.0.1,5002 PR udp len 20 31 IN",
        "lo @icmp:2 b 127.0.0.1 -> 127.0.0.1 PR icmp len 20 59 icmp unreach/port for 127.0.0.1,40004 - 127.0.0.1,5003 PR udp len 20 31 IN",
        "lo @web:4 b 127.0.0.1,40002 -> 127.0.0.1,5001 PR tcp len 20 60 -S IN",
        "lo @web:5 p 127.0.0.1,5001 -> 127.0.0.1,40002 PR tcp len 20 40 -AR IN",
        "lo @web:3 p 127.0.0.1,40003 -> 127.0.0.1,5000 PR tcp len 20 60 -S IN",
        "lo @web:3 p 127.0.0.1,40003 -> 127.0.0.1,5000 PR tcp len 20 57 -AP IN",
        "lo @icmp:1 p 127.0.0.1 -> 127.0.0.1 PR icmp len 20 84 icmp echo/0 IN",
    ];
    for e in expect_present {
        assert!(
            lines.iter().any(|l| l == e),
            "missing line {e:?} in\n{}",
            lines.join("\n")
        );
    }
    // Every line is one of ours (nothing unexpected logged).
    for l in &lines {
        assert!(l.starts_with("lo @"), "{l}");
        assert!(l.ends_with(" IN"), "{l}");
    }
    check_oracle(&lines, &cap);
}

/// IPv6: UDP, ICMPv6 echo and port unreachable, exact lines; tcpdump agrees.
#[test]
fn live_nflog_ipv6_udp_icmpv6() {
    let Some(live) = LiveNflog::start_for("live_nflog_ipv6_udp_icmpv6") else {
        return;
    };
    live.udp_and_ping("::1", 40005, 40006, "icmpv6 unreach/noport");
    let (lines, cap, _live) = live.finish();
    let expected = [
        "lo @7:-1 L ::1,40005 -> ::1,5002 PR udp len 40 51 IN",
        "lo @v6:2 b ::1 -> ::1 PR icmpv6 len 40 99 icmpv6 unreach/noport IN",
        "lo @v6:1 p ::1 -> ::1 PR icmpv6 len 40 104 icmpv6 echo/0 IN",
    ];
    assert_eq!(lines, expected);
    check_oracle(&lines, &cap);
}

/// Fragments: a 3000-byte ping over a 1500-MTU veth, IPv4 and IPv6, logged
/// before reassembly (prerouting, no conntrack in that namespace).
#[test]
fn live_nflog_fragments() {
    if !require_privileged("live_nflog_fragments", &["nft", "ping"]) {
        return;
    }
    let a = Netns::new();
    let b = Netns::new();
    veth(
        &a,
        "va",
        &["10.77.0.1/24", "fd00:77::1/64"],
        &b,
        "vb",
        &["10.77.0.2/24", "fd00:77::2/64"],
        1500,
    );
    b.nft(
        r#"table inet t {
  chain pre {
    type filter hook prerouting priority -500;
    udp dport 4999 log group 7
    ip protocol icmp log prefix "p @frag:1 " group 7
    ip6 nexthdr ipv6-frag log prefix "p @frag:6 " group 7
  }
}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let err = dir.path().join("err.txt");
    let mut mon = b.spawn_inetmon(&["ipmon", "-f", "nflog:7", out.to_str().unwrap()], &err);
    assert!(
        wait_for(Duration::from_secs(60), || {
            a.sh(&udp_cmd("10.77.0.2", 4999, 0, "m"));
            std::thread::sleep(Duration::from_millis(100));
            lines_of(&out)
                .iter()
                .any(|l| l.contains(",4999 PR udp"))
                .then_some(())
        })
        .is_some(),
        "inetmon did not start: {}",
        fs::read_to_string(&err).unwrap_or_default()
    );
    a.sh("ping -c1 -W2 -s 3000 10.77.0.2 >/dev/null");
    a.sh("ping -6 -c1 -W2 -s 3000 fd00:77::2 >/dev/null");
    wait_for_line(
        &out,
        "PR ipv6-frag len 48 (160)",
        Duration::from_secs(60),
        &err,
    );
    std::thread::sleep(Duration::from_millis(300));
    mon.stop();
    let lines: Vec<String> = lines_of(&out)
        .iter()
        .map(|l| strip_time(l).to_owned())
        .filter(|l| l.contains(" @frag:"))
        .collect();
    // IPv4: 3008 bytes of ICMP in 1480 + 1480 + 48.
    assert_eq!(
        lines[0], "vb @frag:1 p 10.77.0.1 -> 10.77.0.2 PR icmp len 20 1500 icmp echo/0 IN",
        "{lines:#?}"
    );
    let frag = |l: &str, rest: &str| {
        let (head, tail) = l
            .split_once(" (frag ")
            .unwrap_or_else(|| panic!("no frag in {l}"));
        assert_eq!(
            head,
            "vb @frag:1 p 10.77.0.1 -> 10.77.0.2 PR icmp len 20 ".to_owned()
                + rest.split('|').next().unwrap()
        );
        let (id, frag) = tail
            .trim_end_matches(" IN")
            .trim_end_matches(')')
            .split_once(':')
            .unwrap();
        assert!(id.parse::<u16>().is_ok(), "{l}");
        assert_eq!(frag, rest.split('|').nth(1).unwrap(), "{l}");
    };
    frag(&lines[1], "(1500)|1480@1480+");
    frag(&lines[2], "(68)|48@2960");
    // IPv6: 3008 bytes of ICMPv6 in 1448 + 1448 + 112, each with a fragment
    // header; ipmon stops at the fragment header and prints no frag info.
    assert_eq!(
        &lines[3..6],
        [
            "vb @frag:6 p fd00:77::1 -> fd00:77::2 PR ipv6-frag len 48 (1496) IN",
            "vb @frag:6 p fd00:77::1 -> fd00:77::2 PR ipv6-frag len 48 (1496) IN",
            "vb @frag:6 p fd00:77::1 -> fd00:77::2 PR ipv6-frag len 48 (160) IN",
        ],
        "{lines:#?}"
    );
}

/// `-n` resolves 127.0.0.1 to `localhost` and port 53 to `domain`; `-p`
/// keeps the port numeric. Resolution never blocks the pipeline, so an
/// address may print as a number until its name is in the cache.
#[test]
fn live_nflog_resolve_names() {
    if !require_privileged("live_nflog_resolve_names", &["nft", "nc"]) {
        return;
    }
    for (flags, want) in [
        (
            &["-n"][..],
            "lo @7:-1 L localhost,40007 -> localhost,domain PR udp len 20 31 IN",
        ),
        (
            &["-n", "-p"],
            "lo @7:-1 L localhost,40007 -> localhost,53 PR udp len 20 31 IN",
        ),
    ] {
        let ns = Netns::new();
        ns.nft("table inet t {\n chain in {\n type filter hook input priority 0;\n udp dport 53 log group 7 drop\n }\n}\n");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        let err = dir.path().join("err.txt");
        let mut args = vec!["ipmon", "-f", "nflog:7"];
        args.extend_from_slice(flags);
        args.push(out.to_str().unwrap());
        let mut mon = ns.spawn_inetmon(&args, &err);
        let got = wait_for(Duration::from_secs(60), || {
            ns.sh(&udp_cmd("127.0.0.1", 53, 40007, "hi\\n"));
            std::thread::sleep(Duration::from_millis(200));
            lines_of(&out)
                .iter()
                .any(|l| strip_time(l) == want)
                .then_some(())
        });
        mon.stop();
        let lines = lines_of(&out);
        assert!(
            got.is_some(),
            "{flags:?}: no {want:?} in {lines:#?}\n{}",
            fs::read_to_string(&err).unwrap_or_default()
        );
        let numeric = want
            .replace("localhost", "127.0.0.1")
            .replace(",domain", ",53");
        for l in &lines {
            let l = strip_time(l);
            assert!(l == want || l == numeric, "{flags:?}: unexpected {l}");
        }
    }
}

/// NAT and state from conntrack, in a client/router/server triple with
/// masquerade and dnat on the router: the `NAT:` and `STATE:` lines show the
/// tuples that `conntrack -E` reports.
#[test]
fn live_conntrack_nat_and_state_agree_with_conntrack_e() {
    if !require_privileged(
        "live_conntrack_nat_and_state_agree_with_conntrack_e",
        &["nft", "nc", "conntrack"],
    ) {
        return;
    }
    let (client, router, server) = nat_triple(78);
    router.sh("sysctl -qw net.netfilter.nf_conntrack_acct=1 2>/dev/null || true");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let err = dir.path().join("err.txt");
    let ct_out = dir.path().join("conntrack.txt");
    let mut ct = Bg::spawn_to(
        router
            .cmd("conntrack")
            .args(["-E", "-p", "tcp", "-o", "id"]),
        &ct_out,
        &dir.path().join("ct.err"),
    );
    let mut mon = router.spawn_inetmon(&["ipmon", "-o", "NS", out.to_str().unwrap()], &err);
    // Both listen once each has reported a marker: a connection attempt of
    // the router's own to a closed port on its `lo` (a conntrack entry
    // without NAT). A fixed pause was not always enough on a loaded machine.
    let marker_ct = |l: &String| l.contains("[NEW]") && l.contains(" dport=9 ");
    let marker_mon = |l: &String| l.contains("STATE:NEW ") && l.contains(" -> 127.0.0.1,9 PR tcp");
    let ready = wait_for(Duration::from_secs(60), || {
        let _ = router.sh_any("nc -w1 127.0.0.1 9 </dev/null");
        (lines_of(&ct_out).iter().any(marker_ct) && lines_of(&out).iter().any(marker_mon))
            .then_some(())
    });
    assert!(
        ready.is_some(),
        "no marker: conntrack {:#?}, inetmon {:#?} {}",
        lines_of(&ct_out),
        lines_of(&out),
        fs::read_to_string(&err).unwrap_or_default()
    );
    let _srv = Bg::spawn(
        server.cmd("nc").args(["-l", "10.78.2.2", "80"]),
        &dir.path().join("srv.err"),
    );
    server.wait_listening(80);
    client.sh("printf hello | nc -N -w2 -p 40010 10.78.1.2 8080");
    // End the connection's conntrack entry now rather than after TIME_WAIT,
    // then wait until both have reported its end.
    let _ = router.sh_any("conntrack -D -p tcp --orig-port-dst 8080");
    let ended = wait_for(Duration::from_secs(60), || {
        let ct_done = lines_of(&ct_out)
            .iter()
            .any(|l| l.contains("[DESTROY]") && l.contains("sport=40010 "));
        let mon_done = lines_of(&out).iter().any(|l| {
            let l = strip_time(l);
            l.starts_with("STATE:") && !l.starts_with("STATE:NEW") && l.contains("10.78.1.1,40010")
        });
        (ct_done && mon_done).then_some(())
    });
    assert!(
        ended.is_some(),
        "no end: conntrack {:#?}, inetmon {:#?}",
        lines_of(&ct_out),
        lines_of(&out)
    );
    mon.stop();
    ct.stop();

    // conntrack -E: "[NEW] tcp 6 120 SYN_SENT src=A dst=B sport=P dport=Q [UNREPLIED] src=… id=N"
    let ct_lines = lines_of(&ct_out);
    let new = ct_lines
        .iter()
        .find(|l| l.contains("[NEW]") && l.contains("dport=8080"))
        .unwrap_or_else(|| panic!("{ct_lines:#?}"));
    let kv: Vec<(&str, &str)> = new
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect();
    let get = |k: &str, n: usize| {
        kv.iter()
            .filter(|(key, _)| *key == k)
            .nth(n)
            .map(|(_, v)| *v)
            .unwrap()
    };
    let orig_src = format!("{},{}", get("src", 0), get("sport", 0));
    let orig_dst = format!("{},{}", get("dst", 0), get("dport", 0));
    let reply_src = format!("{},{}", get("src", 1), get("sport", 1));
    let reply_dst = format!("{},{}", get("dst", 1), get("dport", 1));
    assert_eq!(orig_src, "10.78.1.1,40010");
    assert_eq!(orig_dst, "10.78.1.2,8080");
    assert_eq!(reply_src, "10.78.2.2,80");
    let tuples = [
        orig_src.as_str(),
        orig_dst.as_str(),
        reply_src.as_str(),
        reply_dst.as_str(),
    ];

    let lines: Vec<String> = lines_of(&out)
        .iter()
        .map(|l| strip_time(l).to_owned())
        .collect();
    // (Not the marker's: that one is the router's own, on `lo`.)
    let ours = |l: &&String| !l.contains("127.0.0.1,9 ");
    let nat_new = lines
        .iter()
        .filter(ours)
        .find(|l| l.contains("NAT:NEW"))
        .unwrap_or_else(|| panic!("no NAT:NEW in {lines:#?}"));
    let state_new = lines
        .iter()
        .filter(ours)
        .find(|l| l.starts_with("STATE:NEW "))
        .unwrap_or_else(|| panic!("no STATE:NEW in {lines:#?}"));
    // Every endpoint the NAT line shows is one conntrack reported, and the
    // client's original endpoint is among them.
    let endpoints = |l: &str| -> Vec<String> {
        l.split_whitespace()
            .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_owned())
            .filter(|w| w.contains(','))
            .collect()
    };
    let nat_eps = endpoints(nat_new);
    assert!(nat_new.ends_with(" tcp"), "{nat_new}");
    assert!(nat_eps.contains(&orig_src), "{nat_new} lacks {orig_src}");
    for ep in &nat_eps {
        assert!(
            tuples.contains(&ep.as_str()),
            "{nat_new}: {ep} is not in conntrack's {new}"
        );
    }
    assert_eq!(
        state_new,
        &format!("STATE:NEW {orig_src} -> {orig_dst} PR tcp")
    );
    // The deletion ends both records.
    assert!(
        lines.iter().any(|l| l.starts_with("STATE:")
            && !l.starts_with("STATE:NEW")
            && l.contains(&orig_src)),
        "{lines:#?}"
    );
    assert!(
        ct_lines.iter().any(|l| l.contains("[DESTROY]")),
        "{ct_lines:#?}"
    );
}

/// For the test `test`, which needs root and `tools`: a fresh namespace
/// whose input hook logs UDP to port 5002 to NFLOG group 7 (and drops it),
/// and a temporary directory; `None` when the test skips.
fn udp_5002_logged(test: &str, tools: &[&str]) -> Option<(Netns, tempfile::TempDir)> {
    let rules = "table inet t {\n chain in {\n type filter hook input priority 0;\n \
                 udp dport 5002 log group 7 drop\n }\n}\n";
    let ns = Netns::with_rules(test, tools, rules)?;
    Some((ns, tempfile::tempdir().unwrap()))
}

/// `-D` daemonises and writes the pid file; SIGHUP reopens the output file
/// after `mv` (logrotate); SIGTERM ends it.
#[test]
fn live_daemon_pid_file_and_sighup_reopen() {
    let Some((ns, dir)) = udp_5002_logged("live_daemon_pid_file_and_sighup_reopen", &["nft", "nc"])
    else {
        return;
    };
    let out = dir.path().join("out.txt");
    let pidfile = dir.path().join("ipmon.pid");
    let err = dir.path().join("err.txt");
    // `ipmon -D -P PIDFILE -f SOURCE OUT`.
    let daemon = |source: &str, out: &Path| {
        run(
            ns.cmd(inetmon()).args([
                "ipmon",
                "-D",
                "-P",
                pidfile.to_str().unwrap(),
                "-f",
                source,
                out.to_str().unwrap(),
            ]),
            Duration::from_secs(60),
        )
    };
    // The foreground process returns once the daemon runs.
    let r = daemon("nflog:7", &out);
    assert_eq!(r.code, Some(0), "{r:?}");
    let pid: u32 = wait_for(Duration::from_secs(60), || {
        fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    })
    .unwrap_or_else(|| panic!("no pid file"));
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "daemon {pid} is not running"
    );
    // Whether a datagram from `port`, sent again every 100 ms, is logged
    // to `out` within 60 s.
    let logged = |port: u16| {
        let from = format!(",{port} ->");
        wait_for(Duration::from_secs(60), || {
            ns.sh(&udp_cmd("127.0.0.1", 5002, port, "hi\\n"));
            std::thread::sleep(Duration::from_millis(100));
            lines_of(&out)
                .iter()
                .any(|l| l.contains(&from))
                .then_some(())
        })
        .is_some()
    };
    assert!(logged(40020), "daemon logged nothing");
    // logrotate: rename, SIGHUP, then new lines go to a new file.
    let rotated = dir.path().join("out.txt.1");
    fs::rename(&out, &rotated).unwrap();
    common::signal_and_wait_taken(pid, libc::SIGHUP);
    assert!(logged(40021), "no new file after SIGHUP");
    assert!(lines_of(&rotated).iter().all(|l| !l.contains(",40021 ->")));
    // A second instance with the same pid file says so, on the terminal.
    let second = daemon("nflog:8", &dir.path().join("out2.txt"));
    assert_eq!(second.code, Some(1), "{second:?}");
    assert_eq!(second.stderr_lines().len(), 1, "{second:?}");
    assert!(
        second.stderr.contains("another instance is running"),
        "{second:?}"
    );
    must(Command::new("kill").args(["-TERM", &pid.to_string()]));
    assert!(
        wait_for(Duration::from_secs(60), || (!Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists())
        .then_some(()))
        .is_some(),
        "daemon ignored SIGTERM"
    );
    assert!(!pidfile.exists(), "the pid file is removed at exit");
    let _ = err;
}

/// `-F` reports 0 bytes flushed per live source and goes on monitoring.
#[test]
fn live_flush_reports_zero_and_continues() {
    let Some((ns, dir)) = udp_5002_logged("live_flush_reports_zero_and_continues", &["nft", "nc"])
    else {
        return;
    };
    let stdout = dir.path().join("stdout.txt");
    let err = dir.path().join("err.txt");
    let mut c = ns.cmd(inetmon());
    c.args(["ipmon", "-F", "-f", "nflog:7"]).env("TZ", "UTC");
    let mut mon = Bg::spawn_to(&mut c, &stdout, &err);
    let lines = wait_for(Duration::from_secs(60), || {
        ns.sh(&udp_cmd("127.0.0.1", 5002, 40030, "hi\\n"));
        std::thread::sleep(Duration::from_millis(100));
        let lines = lines_of(&stdout);
        (lines.len() >= 2).then_some(lines)
    })
    .unwrap_or_else(|| {
        panic!(
            "{:?} {}",
            lines_of(&stdout),
            fs::read_to_string(&err).unwrap_or_default()
        )
    });
    mon.stop();
    assert_eq!(lines[0], "0 bytes flushed from log buffer");
    assert_eq!(
        strip_time(&lines[1]),
        "lo @7:-1 L 127.0.0.1,40030 -> 127.0.0.1,5002 PR udp len 20 31 IN"
    );
}

/// `K-S`: a rule that keeps state says so with the `K-S` token in its log
/// prefix (the kernel attaches conntrack info to NFLOG packets, which would
/// let inetmon see `ct state new` by itself, only with
/// `CONFIG_NETFILTER_NETLINK_GLUE_CT`).
#[test]
fn live_nflog_keep_state() {
    let rules = "table inet t {\n chain in {\n type filter hook input priority 0;\n \
                 tcp dport 5005 tcp flags syn ct state new log prefix \"p @st:1 K-S \" group 7 accept\n }\n}\n";
    let Some(ns) = Netns::with_rules("live_nflog_keep_state", &["nft", "nc"], rules) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let err = dir.path().join("err.txt");
    let mut mon = ns.spawn_inetmon(&["ipmon", "-f", "nflog:7", out.to_str().unwrap()], &err);
    let want = "lo @st:1 p 127.0.0.1,40060 -> 127.0.0.1,5005 PR tcp len 20 60 -S K-S IN";
    let got = wait_for(Duration::from_secs(60), || {
        let _ = ns.sh_any("nc -w1 -p 40060 127.0.0.1 5005");
        lines_of(&out)
            .iter()
            .any(|l| strip_time(l) == want)
            .then_some(())
    });
    mon.stop();
    assert!(
        got.is_some(),
        "no {want:?} in {:#?}\n{}",
        lines_of(&out),
        fs::read_to_string(&err).unwrap_or_default()
    );
}

/// Loss is never silent: while the output is blocked (nobody reads the
/// pipe), a flood fills the pipeline; the dropped packets come out as a
/// `lost N nflog:7 log entries (STAGE)` (or `missed …`) line in the output,
/// every packet is either printed or counted as lost, and the run ends with
/// a summary line and exit status 2.
#[test]
fn live_loss_is_printed_counted_and_exit_status_2() {
    const FLOOD: u64 = 150_000;
    let Some((ns, dir)) = udp_5002_logged(
        "live_loss_is_printed_counted_and_exit_status_2",
        &["nft", "python3"],
    ) else {
        return;
    };
    let err = dir.path().join("err.txt");
    let mut child = ns
        .cmd(inetmon())
        .args(["ipmon", "-f", "nflog:7"])
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    // Bound once the group shows in the namespace's NFLOG instances.
    let bound = wait_for(Duration::from_secs(60), || {
        let r = ns.sh_any("cat /proc/net/netfilter/nfnetlink_log");
        r.stdout
            .lines()
            .any(|l| l.split_whitespace().next() == Some("7"))
            .then_some(())
    });
    assert!(
        bound.is_some(),
        "inetmon did not bind NFLOG group 7: {}",
        fs::read_to_string(&err).unwrap_or_default()
    );
    ns.sh(&format!(
        "python3 -c 'import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range({FLOOD}): s.sendto(b\"y\", (\"127.0.0.1\", 5002))'"
    ));
    // Now read everything, and stop inetmon once every packet has been
    // printed or reported lost, or else once the output has been quiet for
    // 5 s. (A fixed 3 s was not always enough for a loaded machine to
    // drain: what the kernel still held at the signal was then neither.)
    let stdout = child.stdout.take().unwrap();
    let progress = std::sync::Arc::new((
        std::sync::atomic::AtomicU64::new(0),
        std::sync::atomic::AtomicU64::new(0),
    ));
    let reader = {
        let progress = std::sync::Arc::clone(&progress);
        std::thread::spawn(move || {
            let mut s = String::new();
            let mut r = std::io::BufReader::new(stdout);
            let mut line = String::new();
            while std::io::BufRead::read_line(&mut r, &mut line).is_ok_and(|n| n > 0) {
                let counted = line
                    .strip_prefix("lost ")
                    .or_else(|| line.strip_prefix("missed "))
                    .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
                    .unwrap_or(1);
                progress
                    .0
                    .fetch_add(counted, std::sync::atomic::Ordering::Relaxed);
                progress
                    .1
                    .fetch_add(line.len() as u64, std::sync::atomic::Ordering::Relaxed);
                s.push_str(&line);
                line.clear();
            }
            s
        })
    };
    let mut last = (0, std::time::Instant::now());
    let _ = wait_for(Duration::from_secs(300), || {
        let counted = progress.0.load(std::sync::atomic::Ordering::Relaxed);
        let bytes = progress.1.load(std::sync::atomic::Ordering::Relaxed);
        if bytes != last.0 {
            last = (bytes, std::time::Instant::now());
        }
        (counted >= FLOOD || last.1.elapsed() >= Duration::from_secs(5)).then_some(())
    });
    must(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let status =
        wait_for(Duration::from_secs(60), || child.try_wait().unwrap()).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("inetmon ignored SIGTERM")
        });
    let out = reader.join().unwrap();
    let mut packets = 0u64;
    let mut lost = 0u64;
    for l in out.lines() {
        if let Some(rest) = l
            .strip_prefix("lost ")
            .or_else(|| l.strip_prefix("missed "))
        {
            lost += rest
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap();
        } else {
            assert!(strip_time(l).starts_with("lo @7:-1 L 127.0.0.1,"), "{l}");
            packets += 1;
        }
    }
    assert!(
        lost > 0,
        "a blocked output must lose packets ({packets} printed)"
    );
    assert_eq!(
        packets + lost,
        FLOOD,
        "every packet is printed or counted as lost"
    );
    assert_eq!(status.code(), Some(2));
    assert_eq!(
        fs::read_to_string(&err).unwrap(),
        format!("inetmon: {lost} events lost\n")
    );
}

/// A classic pcap file of several MiB: the fixture's records repeated, one
/// second later per round; with `damage`, 300 bytes of garbage in the middle.
fn generated_pcap(dir: &Path, name: &str, damage: bool) -> std::path::PathBuf {
    let seed = fs::read(data(FIXTURE)).unwrap();
    let (header, recs) = pcap_split(&seed);
    let mut bytes = header;
    let mut round = 0u32;
    while bytes.len() < 6 << 20 {
        for r in &recs {
            let mut r = r.clone();
            let secs = u32::from_le_bytes(r[0..4].try_into().unwrap()) + round;
            r[0..4].copy_from_slice(&secs.to_le_bytes());
            bytes.extend_from_slice(&r);
        }
        round += 1;
        if damage && round == 200 {
            bytes.extend_from_slice(&[0x5a; 300]);
        }
    }
    let path = dir.join(name);
    fs::write(&path, &bytes).unwrap();
    path
}

/// `inetmon read` (and `ipmon -f`) of a multi-MiB classic pcap file is
/// formatted on worker threads (`INETMON_READ_TRACE` says so) and writes
/// the same bytes, the same errors and the same exit status as on one
/// thread (`INETMON_READ_THREADS=1`), clean or with a damaged region (where
/// the rest is read sequentially); a clean file is not decoded again on one
/// thread.
#[test]
fn parallel_read_equals_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let clean = generated_pcap(dir.path(), "clean.pcap", false);
    let damaged = generated_pcap(dir.path(), "damaged.pcap", true);
    for (path, is_clean) in [(&clean, true), (&damaged, false)] {
        let p = path.to_str().unwrap();
        let runs: [&[&str]; 3] = [
            &["read", "--format", "ipmon", p],
            &["read", "--format", "json", p],
            &["ipmon", "-f", p],
        ];
        for args in runs {
            let one = inetmon_run_env(args, &[("INETMON_READ_THREADS", "1")]);
            let par = inetmon_run_env(
                args,
                &[("INETMON_READ_THREADS", "2"), ("INETMON_READ_TRACE", "1")],
            );
            assert_eq!(
                one.code,
                Some(if is_clean { 0 } else { 2 }),
                "{args:?}: {}",
                one.stderr
            );
            assert!(one.stdout.len() > 1 << 20, "{args:?}: little output");
            assert!(one.stdout == par.stdout, "{args:?}: output differs");
            assert_eq!(one.code, par.code, "{args:?}");
            let trace = format!("{p}: ");
            let (traced, rest): (Vec<&str>, Vec<&str>) = par
                .stderr
                .lines()
                .partition(|l| l.contains(&trace) && l.contains("threads"));
            assert_eq!(rest, one.stderr.lines().collect::<Vec<_>>(), "{args:?}");
            assert_eq!(traced.len(), 1, "{args:?}: {}", par.stderr);
            if is_clean {
                // Nothing is decoded a second time on one thread (it was,
                // every event, skipped: twice the CPU of one thread).
                assert!(
                    traced[0].ends_with("on 2 threads, all; 0 events decoded on one thread"),
                    "{}",
                    traced[0]
                );
            } else {
                assert!(traced[0].contains("then sequential"), "{}", traced[0]);
            }
            let events: u64 = traced[0]
                .split(": ")
                .nth(2)
                .and_then(|s| s.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{}", traced[0]));
            assert!(events > 1000, "{}", traced[0]);
        }
    }
}
