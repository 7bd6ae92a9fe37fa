//! Syslog over the network (issue 13): `ipmon --syslog-target` and `audit
//! --syslog-target` against a real `rsyslogd` that each test starts with
//! its own config on a loopback high port: `imtcp` plain (RFC 5424, octet
//! counting) and with TLS (`gtls` from Debian's `rsyslog-gnutls`, with a CA
//! and a server certificate the test makes with the openssl CLI). The tests
//! check what rsyslogd wrote. One stops and restarts rsyslogd mid-stream:
//! the messages lost while it was away are counted, said in band to the
//! server and reported at the end.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{can_run, data, have, inetmon, inetmon_run, lines_of, must, rsyslog, wait_for, Bg};

const FIXTURE: &str = "nflog-real-small.pcap";

/// The rsyslogd template: facility.severity app-name[procid] msg.
const TEMPLATE: &str = r#"template(name="t" type="string" string="%syslogfacility-text%.%syslogseverity-text% %app-name%[%procid%] %msg%\n")"#;

fn have_rsyslogd(test: &str, tls: bool) -> bool {
    let gtls = Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists();
    can_run(
        have("rsyslogd") && have("openssl") && (!tls || gtls),
        &format!("{test}: rsyslogd, rsyslog-gnutls or openssl missing (run scripts/setup.sh)"),
    )
}

/// A free loopback TCP port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private rsyslogd writing every message to `DIR/out`.
struct Rsyslogd {
    dir: PathBuf,
    port: u16,
    proc: Option<Bg>,
}

impl Rsyslogd {
    /// Writes the config (imtcp on `port`, TLS when `tls`, with the
    /// certificates of [`make_certs`] in `dir`).
    fn new(dir: &Path, port: u16, tls: bool) -> Rsyslogd {
        let d = dir.display();
        let (global, input) = if tls {
            (
                format!(
                    r#"global(workDirectory="{d}" DefaultNetstreamDriverCAFile="{d}/ca.pem" DefaultNetstreamDriverCertFile="{d}/server.pem" DefaultNetstreamDriverKeyFile="{d}/server.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")"#
                ),
                format!(r#"input(type="imtcp" address="127.0.0.1" port="{port}")"#),
            )
        } else {
            (
                format!(
                    r#"global(workDirectory="{d}")
module(load="imtcp")"#
                ),
                format!(r#"input(type="imtcp" address="127.0.0.1" port="{port}")"#),
            )
        };
        let conf = format!(
            "{global}\n{input}\n{TEMPLATE}\n*.* action(type=\"omfile\" file=\"{d}/out\" template=\"t\")\n"
        );
        fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let mut r = Rsyslogd {
            dir: dir.to_owned(),
            port,
            proc: None,
        };
        r.start();
        r
    }

    /// Starts it and waits until it listens.
    fn start(&mut self) {
        self.proc = Some(Bg::spawn(
            &mut rsyslog::rsyslogd(&self.dir),
            &self.dir.join("rsyslogd.err"),
        ));
        let port = self.port;
        let listening = wait_for(Duration::from_secs(60), || {
            let ss = must(Command::new("ss").args(["-Hltn", &format!("sport = :{port}")]));
            (!ss.trim().is_empty()).then_some(())
        });
        assert!(
            listening.is_some(),
            "rsyslogd does not listen: {}",
            fs::read_to_string(self.dir.join("rsyslogd.err")).unwrap_or_default()
        );
    }

    fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    fn out(&self) -> Vec<String> {
        lines_of(&self.dir.join("out"))
    }

    /// Waits until `out` has at least `n` lines; returns them.
    fn wait_lines(&self, n: usize) -> Vec<String> {
        wait_for(Duration::from_secs(60), || {
            let l = self.out();
            (l.len() >= n).then_some(l)
        })
        .unwrap_or_else(|| {
            panic!(
                "rsyslogd wrote {:#?}\nits stderr: {}",
                self.out(),
                fs::read_to_string(self.dir.join("rsyslogd.err")).unwrap_or_default()
            )
        })
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`
/// (`ca.pem`, `server.pem`, `server.key`).
fn make_certs(dir: &Path) {
    let d = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    must(
        Command::new("openssl")
            .args(["req", "-x509"])
            .args(ec)
            .args([
                "-keyout",
                &d("ca.key"),
                "-out",
                &d("ca.pem"),
                "-days",
                "2",
                "-subj",
                "/CN=inetmon test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]),
    );
    must(Command::new("openssl").arg("req").args(ec).args([
        "-keyout",
        &d("server.key"),
        "-out",
        &d("server.csr"),
        "-subj",
        "/CN=localhost",
    ]));
    fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    must(Command::new("openssl").args([
        "x509",
        "-req",
        "-in",
        &d("server.csr"),
        "-CA",
        &d("ca.pem"),
        "-CAkey",
        &d("ca.key"),
        "-CAcreateserial",
        "-out",
        &d("server.pem"),
        "-days",
        "2",
        "-extfile",
        &d("ext.cnf"),
    ]));
}

/// What rsyslogd should write for the fixture's lines sent by ipmon `pid`
/// with `-L local3`: the level follows the action letter; the date goes,
/// the time stays.
fn expected_lines(pid: u32) -> Vec<String> {
    let plain = inetmon_run(&["read", data(FIXTURE).to_str().unwrap()]);
    plain
        .stdout
        .lines()
        .map(|l| {
            let text = l[11..].trim_start();
            let level = rsyslog::ipmon_severity(text.split_whitespace().nth(3).unwrap());
            format!("local3.{level} ipmon[{pid}] {text}")
        })
        .collect()
}

/// rsyslogd's lines with the message's leading space (if any) removed.
fn normalised(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let (head, msg) = l.split_once("] ").unwrap_or((l, ""));
            format!("{head}] {}", msg.trim_start())
        })
        .collect()
}

/// Runs `ipmon -L local3 -f FIXTURE --syslog-target URL [extra]` to its
/// end; returns its pid.
fn ipmon_to(url: &str, extra: &[&str]) -> u32 {
    let fixture = data(FIXTURE);
    common::run_to_syslog(
        Command::new(inetmon())
            .args(["ipmon", "-L", "local3", "-f", fixture.to_str().unwrap()])
            .args(["--syslog-target", url])
            .args(extra)
            .env("TZ", "UTC"),
    )
}

/// `ipmon --syslog-target tcp://…`: every record reaches rsyslogd's imtcp,
/// octet-counted RFC 5424, with app-name `ipmon`, the pid, the facility of
/// `-L` and the level of the record.
#[test]
fn ipmon_syslog_over_tcp_reaches_rsyslogd() {
    if !have_rsyslogd("ipmon_syslog_over_tcp_reaches_rsyslogd", false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut r = Rsyslogd::new(dir.path(), port, false);
    let pid = ipmon_to(&format!("tcp://127.0.0.1:{port}"), &[]);
    let expected = expected_lines(pid);
    let got = r.wait_lines(expected.len());
    r.stop();
    assert_eq!(normalised(&got), expected);
}

/// The same over TLS, the server's certificate checked against the CA file
/// the test made; with the system CAs (which did not sign it) nothing is
/// delivered and every message is reported lost.
#[test]
fn ipmon_syslog_over_tls_reaches_rsyslogd() {
    if !have_rsyslogd("ipmon_syslog_over_tls_reaches_rsyslogd", true) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let port = free_port();
    let mut r = Rsyslogd::new(dir.path(), port, true);
    let ca = dir.path().join("ca.pem");
    let url = format!("tls://127.0.0.1:{port}");
    let pid = ipmon_to(&url, &["--syslog-ca", ca.to_str().unwrap()]);
    let expected = expected_lines(pid);
    let got = r.wait_lines(expected.len());
    assert_eq!(normalised(&got), expected);

    // An untrusted server: no message goes out; all are counted.
    let fixture = data(FIXTURE);
    let o = common::run(
        Command::new(inetmon())
            .args(["ipmon", "-f", fixture.to_str().unwrap()])
            .args(["--syslog-target", &url]),
        Duration::from_secs(60),
    );
    assert_eq!(o.code, Some(2), "{o:?}");
    assert_eq!(
        o.stderr,
        format!(
            "inetmon: syslog: {n} messages could not be sent\ninetmon: {n} events lost\n",
            n = expected.len()
        )
    );
    std::thread::sleep(Duration::from_millis(300));
    r.stop();
    assert_eq!(r.out().len(), expected.len());
}

/// rsyslogd stopped and restarted while `ipmon -t` sends: what did not fit
/// the buffer is counted; rsyslogd receives a warning saying how many were
/// lost, at the place of the gap, and ipmon reports the same number at the
/// end (status 2). Nothing else is lost: every message is either received
/// or counted.
#[test]
fn ipmon_syslog_loss_across_rsyslogd_restart_is_reported() {
    if !have_rsyslogd(
        "ipmon_syslog_loss_across_rsyslogd_restart_is_reported",
        false,
    ) {
        return;
    }
    let bytes = fs::read(data(FIXTURE)).unwrap();
    let (header, records) = common::pcap_split(&bytes);
    let n = records.len();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut r = Rsyslogd::new(dir.path(), port, false);
    let live = dir.path().join("live.pcap");
    let mut first = header.clone();
    first.extend_from_slice(&records.concat());
    fs::write(&live, &first).unwrap();
    let err = dir.path().join("ipmon.err");
    let mut mon = Bg::spawn(
        Command::new(inetmon())
            .args(["ipmon", "-t", "-f", live.to_str().unwrap()])
            .args([
                "--syslog-target",
                &format!("tcp://127.0.0.1:{port}"),
                "--syslog-buffer",
                "4",
            ])
            .env("TZ", "UTC"),
        &err,
    );
    r.wait_lines(n);
    r.stop();
    // While rsyslogd is away: three rounds of the records.
    let append = |k: usize| {
        let mut f = fs::OpenOptions::new().append(true).open(&live).unwrap();
        for _ in 0..k {
            std::io::Write::write_all(&mut f, &records.concat()).unwrap();
        }
    };
    append(3);
    // Until the writer found its queue full while rsyslogd is away (a
    // fixed pause was not always enough on a loaded machine).
    common::wait_for_line(
        &err,
        "messages could not be sent",
        Duration::from_secs(60),
        &err,
    );
    r.start();
    // Back: once the writer reconnected and sent what it held, one more
    // round (the loss notice goes out with it, where the gap is).
    r.wait_lines(n + 1);
    append(1);
    let sent = 5 * n;
    // Until every message is received or counted lost.
    let lines = wait_for(Duration::from_secs(60), || {
        let l = r.out();
        let notice = l.iter().find(|l| l.contains("syslog messages lost"))?;
        let lost: usize = notice
            .split("inetmon: ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let received = l
            .iter()
            .filter(|l| !l.contains("syslog messages lost"))
            .count();
        (received >= 2 * n && received + lost >= sent).then_some(l)
    })
    .unwrap_or_else(|| {
        panic!(
            "rsyslogd wrote {:#?}\nipmon's stderr: {}",
            r.out(),
            fs::read_to_string(&err).unwrap_or_default()
        )
    });
    let code = mon.stop();
    let lines = if r.out().len() > lines.len() {
        r.out()
    } else {
        lines
    };
    r.stop();
    let notices: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("syslog messages lost"))
        .collect();
    assert_eq!(notices.len(), 1, "{lines:#?}");
    // "local0.warning ipmon[PID] inetmon: L syslog messages lost: the queue of 4 was full while tcp://… was unreachable"
    let lost: usize = notices[0]
        .split("inetmon: ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{}", notices[0]));
    assert!(
        notices[0].starts_with("local0.warning ipmon["),
        "{}",
        notices[0]
    );
    assert!(
        notices[0].ends_with(&format!(
            "the queue of 4 was full while tcp://127.0.0.1:{port} was unreachable"
        )),
        "{}",
        notices[0]
    );
    let received = lines.len() - 1;
    assert!(lost > 0, "{lines:#?}");
    assert_eq!(received + lost, sent, "{lines:#?}");
    // The notice sits where the gap is: after the first round and what the
    // buffer held, before the last round.
    let at = lines
        .iter()
        .position(|l| l.contains("syslog messages lost"))
        .unwrap();
    assert!(at >= n && at <= lines.len() - n, "{lines:#?}");
    // Standard error: the losses as they were counted (one line per
    // flush that found some), then the summary with the same total.
    let stderr = fs::read_to_string(&err).unwrap();
    let mut stderr_lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        stderr_lines.pop(),
        Some(format!("inetmon: {lost} events lost").as_str()),
        "{stderr}"
    );
    let counted: usize = stderr_lines
        .iter()
        .map(|l| {
            l.strip_prefix("inetmon: syslog: ")
                .and_then(|t| t.strip_suffix(" messages could not be sent"))
                .and_then(|t| t.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("{stderr}"))
        })
        .sum();
    assert_eq!(counted, lost, "{stderr}");
    assert_eq!(code, Some(2));
}

/// `audit --syslog-target tcp://…`: the same lines `audit` prints go to
/// rsyslogd, app-name `inetmon-audit`, at `local0.info` (a journal written
/// by the library, holding loss records: audit prints them as `LOST:`).
#[test]
fn audit_syslog_over_tcp_reaches_rsyslogd() {
    use inetmon_core::event::{Event, EventKind, Header, LossStage, Lost, Source, Timestamp};
    use inetmon_io::journal::{Journal, JournalConfig};
    if !have_rsyslogd("audit_syslog_over_tcp_reaches_rsyslogd", false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut j = Journal::open(&state, JournalConfig::default()).unwrap();
    let events: Vec<Event> = (1..=5u64)
        .map(|i| {
            Event::Lost(Lost {
                header: Header {
                    time: Timestamp {
                        secs: 1_700_000_000 + i64::try_from(i).unwrap(),
                        nanos: 0,
                    },
                    source: Source::Sockets,
                    seq: i,
                },
                stage: LossStage::Kernel,
                count: i * 10,
                kinds: vec![EventKind::Sock],
                seq_range: None,
                breakdown: vec![("connect", i * 10)],
            })
        })
        .collect();
    j.append(&events).unwrap();
    j.close().unwrap();
    let st = state.to_str().unwrap();
    let plain = inetmon_run(&["audit", "--state-dir", st]);
    assert_eq!(plain.code, Some(0), "{plain:?}");
    let want: Vec<&str> = plain.stdout.lines().collect();
    assert_eq!(want.len(), 5, "{plain:?}");

    let port = free_port();
    let mut r = Rsyslogd::new(dir.path(), port, false);
    let sent = common::run(
        Command::new(inetmon()).args([
            "audit",
            "--state-dir",
            st,
            "--syslog-target",
            &format!("tcp://127.0.0.1:{port}"),
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(sent.code, Some(0), "{sent:?}");
    assert_eq!(sent.stdout, "", "{sent:?}");
    let got = normalised(&r.wait_lines(want.len()));
    r.stop();
    let got: Vec<String> = got
        .iter()
        .map(|l| {
            let (head, msg) = l.split_once("] ").unwrap();
            assert!(head.starts_with("local0.info inetmon-audit["), "{l}");
            msg.to_owned()
        })
        .collect();
    assert_eq!(got, want);
}

/// The daemon's `[syslog] target`: every event it collects goes to
/// rsyslogd as its JSON line, app-name `inetmon`, facility `daemon`; the
/// socket events rsyslogd got are exactly those `journal query -j` shows.
#[test]
fn daemon_syslog_target_sends_every_event() {
    if !common::require_privileged("daemon_syslog_target_sends_every_event", &[])
        || !have_rsyslogd("daemon_syslog_target_sends_every_event", false)
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let rport = free_port();
    let mut r = Rsyslogd::new(dir.path(), rport, false);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let config = dir.path().join("inetmon.toml");
    fs::write(
        &config,
        format!(
            "state_dir = {:?}\nsocket = {:?}\n[sockets.filters]\nport = {port}\n[syslog]\ntarget = \"tcp://127.0.0.1:{rport}\"\n",
            state.display(),
            dir.path().join("inetmon.sock").display()
        ),
    )
    .unwrap();
    let err = dir.path().join("daemon.err");
    let mut d = Bg::spawn(
        Command::new(inetmon()).args(["daemon", "--config", config.to_str().unwrap()]),
        &err,
    );
    wait_for(Duration::from_secs(60), || {
        lines_of(&err)
            .iter()
            .any(|l| l.contains("running:"))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("{}", fs::read_to_string(&err).unwrap_or_default()));
    assert!(
        lines_of(&err)
            .iter()
            .any(|l| l.contains(&format!("syslog tcp://127.0.0.1:{rport}"))),
        "{:?}",
        lines_of(&err)
    );
    // The clients' socket is the test's own: the default one would make
    // /run/inetmon on the machine and turn other tests' `inetmon sockets`
    // into clients of this daemon while it runs.
    let socket = dir.path().join("inetmon.sock");
    assert!(
        lines_of(&err)
            .iter()
            .any(|l| l.contains(&format!("clients {}", socket.display()))),
        "{:?}",
        lines_of(&err)
    );
    for _ in 0..3 {
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (s, _) = l.accept().unwrap();
        drop((c, s));
    }
    let journal = || {
        let r = inetmon_run(&[
            "journal",
            "query",
            "-j",
            "--kind",
            "sock",
            "--state-dir",
            state.to_str().unwrap(),
        ]);
        r.stdout.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let stored = wait_for(Duration::from_secs(60), || {
        let j = journal();
        (j.iter().filter(|l| l.contains("\"connected\"")).count() >= 3).then_some(j)
    })
    .unwrap_or_else(|| panic!("journal: {:?}", journal()));
    let sock_msgs = |lines: &[String]| -> Vec<String> {
        let mut v: Vec<String> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("daemon.info inetmon["))
            .filter_map(|l| l.split_once("] ").map(|(_, m)| m.trim_start().to_owned()))
            .filter(|m| m.contains("\"kind\":\"sock\""))
            .collect();
        v.sort();
        v
    };
    let got = wait_for(Duration::from_secs(60), || {
        let m = sock_msgs(&r.out());
        (m.len() >= stored.len()).then_some(m)
    })
    .unwrap_or_else(|| panic!("rsyslogd: {:#?}\njournal: {stored:#?}", r.out()));
    assert_eq!(d.stop(), Some(0), "{:?}", lines_of(&err));
    r.stop();
    let mut want = journal();
    want.sort();
    assert_eq!(got, want);
    for m in &got {
        let v: serde_json::Value = serde_json::from_str(m).unwrap();
        assert_eq!(v["kind"], "sock", "{m}");
    }
}
