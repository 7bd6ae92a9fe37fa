//! Helpers of the metrics and web-view tests: plain HTTP GETs, `promtool`,
//! and a headless Chromium driven through `chromedriver` (WebDriver).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
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
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        super::wait_for(Duration::from_secs(20), || {
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
