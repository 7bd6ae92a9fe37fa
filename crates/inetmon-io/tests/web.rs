//! The metrics listener and the web view against the real kernel: the
//! socket and datapath producers feed a consumer loop whose sinks are
//! [`Metrics::sink`] and [`WebState::sink`]; the test makes drops (an
//! nftables drop rule in a namespace) and loopback connections (python3
//! processes), then checks `/metrics` with `promtool check metrics` and
//! what a headless Chromium shows (WebDriver through `chromedriver`).
//!
//! `INETMON_UPDATE_SCREENSHOT=1` also writes the page's screenshot to
//! `docs/webview.png` (the README shows it); it always goes to the
//! target directory.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::web::{
    chart_total, free_port, http_get, http_get_with, line, promtool_check, text, until,
    until_server_and_audit, Chromedriver, Py, CLIENT, SENDER, SERVER,
};
use common::{can_run, have, privileged, wait_for, Netns};
use inetmon_core::event::Event;
use inetmon_io::bpf::datapath::KernelConfig;
use inetmon_io::consumer::{Consumer, Plan, Producers, Rendered, Stage, Verdict};
use inetmon_io::datapath::{enrich, DatapathProducer};
use inetmon_io::metrics::Metrics;
use inetmon_io::shutdown::Shutdown;
use inetmon_io::sockets::{KernelFilters, SocketsConfig, SocketsProducer};
use inetmon_io::web::{WebServer, WebState};

/// Passes every event to the sinks, as the daemon's stage does.
struct All;

impl Stage for All {
    fn render(&mut self, _ev: &mut Event, _out: &mut Rendered) -> Verdict {
        Verdict::Show
    }
}

#[test]
fn metrics_and_web_view_show_real_drops_and_connections() {
    if !privileged()
        || !can_run(
            have("chromedriver") && have("promtool") && have("python3"),
            "needs chromium-driver, prometheus (promtool) and python3 (scripts/setup.sh)",
        )
    {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let metrics = Metrics::new();
    let state = WebState::new();
    let server = WebServer::start(
        rt.handle(),
        "127.0.0.1:0".parse().unwrap(),
        metrics.clone(),
        state.clone(),
    )
    .unwrap();
    let addr: SocketAddr = server.local_addr();

    // The producers: socket events and drops (only those in the test's
    // namespace, so that other tests' drops do not count).
    let ns = Netns::new("web");
    let ns_ino = {
        use std::os::unix::fs::MetadataExt;
        u32::try_from(std::fs::metadata(ns.path()).unwrap().ino()).unwrap()
    };
    let shutdown = Shutdown::new().unwrap();
    let mut producers = Producers::new(shutdown.clone(), 65_536);
    let reasons = enrich::drop_reasons().ok();
    let mut kernel = KernelConfig {
        netns: Some(ns_ino),
        ..KernelConfig::default()
    };
    if let Some(c) = reasons.as_ref().and_then(|t| t.code_of("NOT_SPECIFIED")) {
        kernel.reason_not_specified = c;
    }
    let own = enrich::own_netns().unwrap();
    let dp = DatapathProducer::start(&kernel, reasons, enrich::kallsyms(), own).unwrap();
    producers.add(
        "datapath",
        dp.spawn(producers.pipeline(), shutdown.clone()).unwrap(),
        false,
    );
    // Socket events of our peers' port only (in the kernel): other tests
    // on the machine make sockets too, and the page keeps the newest 200
    // audit records.
    let port = free_port();
    let sp = SocketsProducer::start(&SocketsConfig {
        filters: KernelFilters {
            port: Some(port),
            ..KernelFilters::default()
        },
        ..SocketsConfig::default()
    })
    .unwrap();
    producers.add(
        "sockets",
        sp.spawn(producers.pipeline(), shutdown.clone(), Vec::new())
            .unwrap(),
        false,
    );
    let sinks = (metrics.sink(), state.sink());
    let consumer = std::thread::spawn(move || {
        let mut stage = All;
        let mut c = Consumer::new(&mut stage, vec![Box::new(sinks.0), Box::new(sinks.1)]);
        c.run(producers, &Plan::default())
    });

    // Traffic: a server with three accepted connections, a client holding
    // them, and UDP datagrams dropped by nftables in the namespace.
    let (server_py, mut server_out) = Py::start(SERVER, &[&port.to_string()]);
    let port = line(&mut server_out);
    let (client_py, mut client_out) = Py::start(CLIENT, &[&port]);
    assert_eq!(line(&mut client_out), "connected");
    assert_eq!(line(&mut server_out), "accepted");
    ns.nft(
        "table inet webtest {\n chain input {\n  type filter hook input priority 0;\n  udp dport 9 drop\n }\n}\n",
    );
    ns.exec(&["python3", "-c", SENDER]);

    // /metrics: valid OpenMetrics that promtool accepts, with what we did.
    let metrics_text = wait_for(Duration::from_secs(60), || {
        let (status, body) = http_get(addr, "/metrics");
        assert_eq!(status, 200);
        body.contains("inetmon_drops_total{reason=\"NETFILTER_DROP\"} 40")
            .then_some(body)
    })
    .unwrap_or_else(|| http_get(addr, "/metrics").1);
    promtool_check(&metrics_text);
    assert!(
        metrics_text.contains("inetmon_drops_total{reason=\"NETFILTER_DROP\"} 40\n"),
        "{metrics_text}"
    );
    assert!(
        metrics_text.contains("inetmon_events_total{kind=\"sock\",op=\"accept\"}"),
        "{metrics_text}"
    );
    assert!(metrics_text.contains("inetmon_batch_delay_seconds_bucket"));
    // What Prometheus asks for: OpenMetrics, the same samples.
    let (status, om) = http_get_with(
        addr,
        "/metrics",
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n",
    );
    assert_eq!(status, 200);
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE inetmon_drops counter\n"), "{om}");
    assert!(
        om.contains("inetmon_drops_total{reason=\"NETFILTER_DROP\"} 40\n"),
        "{om}"
    );

    // A bad filter is one line, as on the command line.
    let (status, body) = http_get(addr, "/api/filter?proto=bogus");
    assert_eq!(
        (status, body.as_str()),
        (400, "filter proto: unknown protocol \"bogus\"\n")
    );

    let (sp_pid, cp_pid) = (server_py.pid(), client_py.pid());
    let profile = tempfile::tempdir().unwrap();
    let shot = rt.block_on(async {
        let driver = Chromedriver::start();
        let c = driver.session(profile.path()).await;
        c.goto(&format!("http://{addr}/")).await.unwrap();
        // Drops per second by reason: the chart's points add up to the 40.
        until(
            "NETFILTER_DROP points",
            || chart_total(&c, "NETFILTER_DROP"),
            |n| *n == 40,
        )
        .await;
        // Our peers' rows (other tests on the machine make sockets too, and
        // a page shows the newest or largest 50): filtered by the port.
        c.goto(&format!("http://{addr}/?port={port}"))
            .await
            .unwrap();
        // Connections per process: the client and the server hold 3 each.
        let procs = until(
            "process rows",
            || text(&c, "#processes tbody"),
            |t: &String| {
                t.lines().any(|l| {
                    l.starts_with("python3")
                        && l.contains(&format!("\t{cp_pid}\t"))
                        && l.ends_with("\t3")
                }) && t
                    .lines()
                    .any(|l| l.contains(&format!("\t{sp_pid}\t")) && l.ends_with("\t3"))
            },
        )
        .await;
        assert!(!procs.is_empty());
        // The listening socket, and the audit records: the server start and
        // the client's connections.
        until_server_and_audit(&c, &port, sp_pid).await;
        until(
            "losses",
            || text(&c, "#loss-total"),
            |t: &String| t == "0 events lost",
        )
        .await;
        // Back to everything, for the screenshot.
        c.goto(&format!("http://{addr}/")).await.unwrap();
        until(
            "chart again",
            || chart_total(&c, "NETFILTER_DROP"),
            |n| *n == 40,
        )
        .await;
        // An open page is an SSE client (pages left behind may still hold
        // theirs for a while).
        let (_, m) = http_get(addr, "/metrics");
        let clients: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix("inetmon_web_clients "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(clients >= 1, "{m}");
        let shot = c.screenshot().await.unwrap();

        // The same filters as the command line: socket events only…
        c.goto(&format!("http://{addr}/?type=sock&comm=python3"))
            .await
            .unwrap();
        until(
            "filtered heading",
            || text(&c, "#filter"),
            |t: &String| t == "type=sock&comm=python3",
        )
        .await;
        until(
            "sock-only legend",
            || text(&c, "#legend"),
            |t: &String| t == "no drops in the last 60 s",
        )
        .await;
        until(
            "sock-only processes",
            || text(&c, "#processes tbody"),
            |t: &String| t.contains(&format!("\t{cp_pid}\t")),
        )
        .await;
        // …drops only: no process rows, no listening sockets, the chart.
        c.goto(&format!("http://{addr}/?type=drop&reason=NETFILTER_DROP"))
            .await
            .unwrap();
        until(
            "drop-only chart",
            || chart_total(&c, "NETFILTER_DROP"),
            |n| *n == 40,
        )
        .await;
        until(
            "drop-only processes",
            || text(&c, "#processes tbody"),
            |t: &String| t == "none",
        )
        .await;
        until(
            "drop-only listening",
            || text(&c, "#listening tbody"),
            |t: &String| t == "none",
        )
        .await;
        // …a port that saw nothing.
        c.goto(&format!("http://{addr}/?port=1")).await.unwrap();
        until(
            "port 1 processes",
            || text(&c, "#processes tbody"),
            |t: &String| t == "none",
        )
        .await;
        until(
            "port 1 chart",
            || chart_total(&c, "NETFILTER_DROP"),
            |n| *n == 0,
        )
        .await;
        // A bad filter says so on the page.
        c.goto(&format!("http://{addr}/?proto=bogus"))
            .await
            .unwrap();
        until(
            "error line",
            || text(&c, "#status"),
            |t: &String| t == "filter proto: unknown protocol \"bogus\"",
        )
        .await;
        c.close().await.unwrap();
        shot
    });
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("webview.png");
    std::fs::write(&out, &shot).unwrap();
    if std::env::var_os("INETMON_UPDATE_SCREENSHOT").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/webview.png");
        std::fs::write(docs, &shot).unwrap();
    }
    drop((server_py, client_py));
    shutdown.trigger();
    let ended = consumer.join().unwrap();
    assert!(ended.output.is_ok());
    server.stop();
}
