//! Helpers of the metrics and web-view tests: plain HTTP GETs, `promtool`,
//! a headless Chromium driven through `chromedriver` (WebDriver), what the
//! page shows, and the python3 peers that make connections and drops.
//! Also used by `crates/inetmon/tests` (included by path).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `GET path` over HTTP/1.1 (`Connection: close`): the status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get_with(addr, path, "")
}

/// `GET path` with extra header lines (each ending in `\r\n`).
pub fn http_get_with(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// Runs `promtool check metrics` on `text`; panics with its output when it
/// finds a problem.
pub fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n--- input ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `chromedriver` on a free loopback port, killed on drop.
pub struct Chromedriver {
    child: Child,
    /// Its WebDriver URL.
    pub url: String,
}

impl Chromedriver {
    /// Starts `chromedriver` and waits until it listens.
    pub fn start() -> Chromedriver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        super::wait_for(Duration::from_secs(60), || {
            TcpStream::connect(addr).ok().map(|_| ())
        })
        .expect("chromedriver listens");
        Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A headless Chromium session (flags this machine needs: no sandbox as
    /// root, no background networking) with its own profile in `profile`.
    pub async fn session(&self, profile: &Path) -> fantoccini::Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--hide-scrollbars",
                    "--window-size=1280,1100",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("WebDriver session")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `python3 -c SCRIPT ARGS` process killed on drop, with its stdout.
pub struct Py(Child);

impl Py {
    pub fn start(script: &str, args: &[&str]) -> (Py, BufReader<std::process::ChildStdout>) {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        (Py(child), out)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Listens on 127.0.0.1:ARGV1 (prints the port), accepts three connections
/// and holds them (prints `accepted`).
pub const SERVER: &str = "
import socket, sys, time
s = socket.socket()
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(16)
print(s.getsockname()[1], flush=True)
held = [s.accept() for _ in range(3)]
print('accepted', flush=True)
time.sleep(120)
";

/// Makes three connections to 127.0.0.1:ARGV1 and holds them (prints
/// `connected`).
pub const CLIENT: &str = "
import socket, sys, time
held = [socket.create_connection(('127.0.0.1', int(sys.argv[1]))) for _ in range(3)]
print('connected', flush=True)
time.sleep(120)
";

/// 40 UDP datagrams to 127.0.0.1:9 over about two seconds.
pub const SENDER: &str = "
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(40):
    u.sendto(b'x', ('127.0.0.1', 9))
    time.sleep(0.05)
";

/// One line of a child's output, trimmed.
pub fn line(r: &mut impl BufRead) -> String {
    let mut s = String::new();
    r.read_line(&mut s).unwrap();
    s.trim().to_owned()
}

/// The page's text of a section, as the browser shows it.
pub async fn text(c: &fantoccini::Client, css: &str) -> String {
    c.execute(
        "return document.querySelector(arguments[0]).innerText",
        vec![serde_json::json!(css)],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or("")
    .to_owned()
}

/// The chart's points of `reason` summed (`data-count` of each circle).
pub async fn chart_total(c: &fantoccini::Client, reason: &str) -> u64 {
    c.execute(
        "return Array.from(document.querySelectorAll('#chart circle.point'))
           .filter(p => p.dataset.reason === arguments[0])
           .reduce((s, p) => s + Number(p.dataset.count), 0)",
        vec![serde_json::json!(reason)],
    )
    .await
    .unwrap()
    .as_u64()
    .unwrap_or(0)
}

/// Polls the page until `f` holds (60 s), returning the last value seen.
pub async fn until<T: std::fmt::Debug, F>(
    what: &str,
    mut probe: impl FnMut() -> F,
    ok: impl Fn(&T) -> bool,
) -> T
where
    F: std::future::Future<Output = T>,
{
    let mut last = probe().await;
    for _ in 0..600 {
        if ok(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = probe().await;
    }
    panic!("{what}: the page shows {last:?}");
}

/// Waits until the page shows the python3 server (`server_pid`) listening
/// on 127.0.0.1:`port`, and its audit records: the server start and the
/// client's three connections to it.
pub async fn until_server_and_audit(c: &fantoccini::Client, port: &str, server_pid: u32) {
    until(
        "listening row",
        || text(c, "#listening tbody"),
        |t: &String| {
            t.lines()
                .any(|l| l == format!("tcp\t127.0.0.1\t{port}\tpython3\t{server_pid}"))
        },
    )
    .await;
    until(
        "audit records",
        || text(c, "#audit pre"),
        |t: &String| {
            let dial = format!("\"tcp!127.0.0.1!{port}\" Started by UID 0");
            t.lines()
                .any(|l| l.contains("SERVER: ") && l.contains(&dial))
                && t.lines()
                    .filter(|l| l.contains("CONNECTION: ") && l.contains(&dial))
                    .count()
                    == 3
        },
    )
    .await;
}

/// A TCP port for a peer, a listener the daemon opens later, or the
/// kernel filter that keeps other tests' sockets out of a test's view:
/// a [`super::lease_port`] kept until the process ends. (A port the
/// kernel picks and that is closed again may be given to another
/// connection before the test binds it, and another namespace may use the
/// same number.)
pub fn free_port() -> u16 {
    let lease = super::lease_port();
    let port = lease.port;
    std::mem::forget(lease);
    port
}
