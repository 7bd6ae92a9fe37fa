//! `inetmon collect` against a real `nats-server -js` started by the test:
//! two hosts' journals exported (by the library's exporter, or by two
//! `inetmon daemon`s in two network namespaces) are printed once each, with
//! the host, in every format; durable consumers go on where they stopped;
//! misuse is one line.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;
#[path = "../../inetmon-io/tests/common/nats.rs"]
mod nats_server;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{inetmon, run, Netns};
use inetmon_core::event::{Event, Header, LossStage, Lost, Source, Timestamp};
use inetmon_io::export::nats::NatsExporter;
use inetmon_io::export::NatsExportConfig;
use inetmon_io::journal::{Journal, JournalConfig, SyncMode};
use nats_server::{have_nats_server, now_secs, sock_event, NatsServer};

fn lost(secs: i64) -> Event {
    Event::Lost(Lost {
        header: Header {
            time: Timestamp { secs, nanos: 0 },
            source: Source::Sockets,
            seq: 0,
        },
        stage: LossStage::Kernel,
        count: 3,
        kinds: Vec::new(),
        seq_range: None,
        breakdown: Vec::new(),
    })
}

/// A journal of 100 socket events and one lost event in `dir/<host>`,
/// exported as `host` to `stream`.
fn export_host(rt: &tokio::runtime::Runtime, dir: &Path, url: &str, stream: &str, host: &str) {
    let state = dir.join(host);
    let mut j = Journal::open(
        &state,
        JournalConfig {
            sync: SyncMode::Never,
            ..JournalConfig::default()
        },
    )
    .unwrap();
    let t = now_secs();
    let uid = if host == "alpha" { 1000 } else { 2000 };
    let mut batch: Vec<Event> = (1..=100).map(|s| sock_event(s, t, uid, 443)).collect();
    batch.push(lost(t));
    j.append(&batch).unwrap();
    j.close().unwrap();
    let mut cfg = NatsExportConfig::new(url);
    cfg.stream = stream.to_owned();
    cfg.host = host.to_owned();
    let exporter = NatsExporter::new(cfg, &state);
    let counters = exporter.counters();
    let handle = exporter.spawn(rt.handle());
    let done = common::wait_for(Duration::from_secs(60), || {
        (counters.position.load(Ordering::Relaxed) >= 101).then_some(())
    });
    assert!(done.is_some(), "{host}: {:?}", counters.last_error());
    handle.stop_blocking();
}

fn collect(args: &[&str]) -> common::Run {
    let mut cmd = Command::new(inetmon());
    cmd.arg("collect").args(args).env("TZ", "UTC");
    run(&mut cmd, Duration::from_secs(60))
}

/// `(host, journal_seq)` → how often, from JSON lines.
fn json_ids(stdout: &str) -> HashMap<(String, u64), usize> {
    let mut m = HashMap::new();
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let host = v["host"].as_str().unwrap().to_owned();
        let seq = v["journal_seq"].as_u64().unwrap();
        *m.entry((host, seq)).or_insert(0) += 1;
    }
    m
}

#[test]
fn two_hosts_every_event_once_in_every_format() {
    if !common::can_run(have_nats_server(), "nats-server is not installed") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let url = server.url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    export_host(&rt, dir.path(), &url, "FLEET", "alpha");
    export_host(&rt, dir.path(), &url, "FLEET", "beta");
    let matches = |r: &common::Run, what: &str| r.stdout.matches(what).count();
    // `inetmon collect --nats URL --stream FLEET ARGS…`.
    let fleet = |args: &[&str]| {
        let mut all = vec!["--nats", url.as_str(), "--stream", "FLEET"];
        all.extend_from_slice(args);
        collect(&all)
    };

    // JSON: every record of both hosts, once.
    let r = fleet(&["--all", "--count", "202", "-j"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let ids = json_ids(&r.stdout);
    assert_eq!(ids.len(), 202);
    for host in ["alpha", "beta"] {
        for seq in 1..=101 {
            assert_eq!(ids.get(&(host.to_owned(), seq)), Some(&1), "{host}:{seq}");
        }
    }
    let first: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["kind"], "sock");
    assert_eq!(first["v"], 1);

    // Text: socket lines and a monitor line for the loss, after the host.
    let r = fleet(&["--all", "--count", "202"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 202, "{}", r.stdout);
    assert!(lines
        .iter()
        .all(|l| l.starts_with("alpha ") || l.starts_with("beta ")));
    assert_eq!(
        lines.iter().filter(|l| l.contains("fleet-test")).count(),
        200
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains(" Lost 3 events"))
            .count(),
        2,
        "{}",
        r.stdout
    );

    // Filters: one host, one kind (a subject filter), one uid.
    let r = fleet(&[
        "--all", "--host", "beta", "--kind", "sock", "--uid", "2000", "--count", "100", "--format",
        "monitor",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 100);
    assert!(
        r.stdout.lines().all(|l| l.starts_with("beta ")),
        "{}",
        r.stdout
    );
    let r = fleet(&["--all", "--uid", "2000", "--duration", "2"]);
    assert_eq!(r.stdout.lines().count(), 100, "{}", r.stdout);

    // AHAFS blocks and audit records, every line after its host.
    let r = fleet(&[
        "--all", "--host", "alpha", "--format", "ahafs", "--count", "100",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(matches(&r, "alpha AHAFS event: "), 100, "{}", r.stdout);
    assert!(r.stdout.lines().all(|l| l.starts_with("alpha ")));
    let r = fleet(&["--all", "--format", "audit", "--count", "202"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(matches(&r, " CONNECTION: "), 200, "{}", r.stdout);
    // ipmon has nothing for socket events, a line for each loss.
    let r = fleet(&["--all", "--format", "ipmon", "--duration", "2"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);

    // --since: stored within the last minute (all of it).
    let r = fleet(&["--since", "1m", "--count", "202", "-j"]);
    assert_eq!(json_ids(&r.stdout).len(), 202);

    // A durable consumer goes on where it stopped.
    let a = fleet(&["--all", "--durable", "D1", "--count", "150", "-j"]);
    let b = fleet(&["--all", "--durable", "D1", "--duration", "2", "-j"]);
    let (a, b) = (json_ids(&a.stdout), json_ids(&b.stdout));
    assert_eq!((a.len(), b.len()), (150, 52));
    assert!(a.keys().all(|k| !b.contains_key(k)));
}

#[test]
fn misuse_is_one_line() {
    for (args, words) in [
        (vec![], "--nats"),
        (
            vec!["--nats", "nats://127.0.0.1:1", "--host", "a.b"],
            "--host",
        ),
        (
            vec!["--nats", "nats://127.0.0.1:1", "--kind", "sox"],
            "--kind",
        ),
        (
            vec!["--nats", "nats://127.0.0.1:1", "--since", "yesterday-ish"],
            "--since",
        ),
        (
            vec!["--nats", "nats://127.0.0.1:1", "--durable", "a b"],
            "--durable",
        ),
        (
            vec!["--nats", "nats://127.0.0.1:1", "--all", "--since", "1m"],
            "--since",
        ),
        (vec!["--nats", "nats://127.0.0.1:1", "--all"], "nats"),
    ] {
        let r = collect(&args);
        assert_eq!(r.code, Some(1), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(words), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

/// The test: two daemons (two state directories, two network
/// namespaces, host names `alpha` and `beta`) export to one server in a
/// third namespace; `collect` there sees both hosts' events, once each.
#[test]
fn two_daemons_in_two_namespaces_one_fleet_view() {
    if !common::require_privileged("two_daemons", &["nft", "python3", "nats-server"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server_ns = Netns::new();
    let hosts = [("alpha", Netns::new(), 1u8), ("beta", Netns::new(), 2u8)];
    for (_, ns, n) in &hosts {
        common::veth(
            ns,
            "vh",
            &[&format!("10.77.{n}.2/24")],
            &server_ns,
            &format!("vs{n}"),
            &[&format!("10.77.{n}.1/24")],
            1500,
        );
    }
    let server = NatsServer::start_in(dir.path(), Some(server_ns.name()), "0.0.0.0");
    let mut daemons = Vec::new();
    for (host, ns, n) in &hosts {
        ns.nft(
            "table inet t {\n chain out {\n  type filter hook output priority 0;\n  udp dport 9999 log group 5\n }\n}\n",
        );
        let state = dir.path().join(format!("{host}-state"));
        let cfg = dir.path().join(format!("{host}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "state_dir = \"{}\"\nsocket = \"{}\"\n[sockets]\nenabled = false\n[nflog]\ngroups = [5]\n\
                 [export.nats]\nurl = \"nats://10.77.{n}.1:{}\"\nstream = \"FLEET\"\nhost = \"{host}\"\n",
                state.display(),
                dir.path().join(format!("{host}.sock")).display(),
                server.port
            ),
        )
        .unwrap();
        let err = dir.path().join(format!("{host}.err"));
        let bg = ns.spawn_inetmon(&["daemon", "--config", cfg.to_str().unwrap()], &err);
        let up = common::wait_for(Duration::from_secs(60), || {
            std::fs::read_to_string(&err)
                .unwrap_or_default()
                .contains("running:")
                .then_some(())
        });
        assert!(
            up.is_some(),
            "{host}: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        daemons.push((bg, err));
    }
    for (host, ns, n) in &hosts {
        for i in 0..3 {
            ns.sh(&common::udp_cmd(
                &format!("10.77.{n}.1"),
                9999,
                0,
                &format!("{host}-{i}"),
            ));
        }
    }
    let mut cmd = server_ns.cmd(inetmon());
    cmd.args([
        "collect",
        "--nats",
        &server.url(),
        "--stream",
        "FLEET",
        "--all",
        "--kind",
        "packet",
        "--count",
        "6",
        "-j",
    ]);
    let r = run(&mut cmd, Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let ids = json_ids(&r.stdout);
    assert_eq!(ids.len(), 6, "{}", r.stdout);
    for host in ["alpha", "beta"] {
        assert_eq!(
            ids.keys().filter(|(h, _)| h == host).count(),
            3,
            "{}",
            r.stdout
        );
    }
    assert!(ids.values().all(|n| *n == 1));
    // The payloads went out of the host they were exported as.
    for line in r.stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["kind"], "packet", "{line}");
    }
    for (mut bg, err) in daemons {
        assert_eq!(
            bg.stop(),
            Some(0),
            "{}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
    }
}
