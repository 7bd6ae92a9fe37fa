//! The metrics listener (`[metrics] listen`): `GET /metrics` in the
//! OpenMetrics text format, and a live web view of the daemon's stream on
//! the same address.
//!
//! Routes:
//!
//! | path | what |
//! |---|---|
//! | `/metrics` | [`Metrics::encode`] (`application/openmetrics-text`) when the request's `Accept` names OpenMetrics, as Prometheus's does; otherwise [`Metrics::encode_prometheus`] (`text/plain; version=0.0.4`), which `promtool check metrics` and older scrapers read |
//! | `/` | the page (`assets/index.html`, `app.js`, `style.css`, embedded in the binary: no build step, nothing from another host) |
//! | `/events?FILTER` | server-sent events: a `view` event with [`WebState::view`]'s JSON at once, then whenever it changed (at most every 250 ms) and at least every second (the chart moves) |
//! | `/api/view?FILTER` | the same JSON once |
//! | `/api/filter?FILTER` | the filter as understood (`{"filter": "type=drop"}`), or 400 and one line saying what is wrong |
//!
//! `FILTER` is the page's own query string, with the command line's filter
//! names ([`filter`]). There is no authentication: the default address is
//! loopback, and anyone who can reach the listener sees the process names
//! and connections it shows.
//!
//! The server runs on the daemon's tokio runtime (a [`Handle`]); pages read
//! the shared [`WebState`] and never slow the consumer loop (it takes one
//! lock per batch). The number of open event streams is the gauge
//! `inetmon_web_clients`.

pub mod filter;
pub mod state;
#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::Stream;
use prometheus_client::metrics::gauge::Gauge;
use tokio::runtime::Handle;
use tokio::sync::watch;

pub use filter::{QueryError, WebFilter};
pub use state::{WebSink, WebState};

use crate::metrics::{Metrics, MetricsError, CONTENT_TYPE, CONTENT_TYPE_PROMETHEUS};
use crate::pipeline::now;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// How often a page's stream checks for changes.
const CHECK: Duration = Duration::from_millis(250);
/// A page gets a view at least this often.
const REFRESH: Duration = Duration::from_secs(1);

/// Why the listener did not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The address could not be bound.
    #[error("metrics listener {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// The clients gauge could not be registered (a second listener on
    /// the same [`Metrics`]).
    #[error("metrics listener: {0}")]
    Metrics(#[from] MetricsError),
}

#[derive(Clone)]
struct App {
    metrics: Metrics,
    state: WebState,
    clients: Gauge,
    closed: watch::Receiver<bool>,
}

/// The running listener. Dropping it (or [`WebServer::stop`]) ends the
/// event streams and stops accepting.
#[derive(Debug)]
pub struct WebServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    done: std::sync::mpsc::Receiver<()>,
}

/// How long [`WebServer::stop`] waits for the listener to close.
const STOP_WAIT: Duration = Duration::from_secs(3);

impl WebServer {
    /// Binds `addr` and serves on `handle`'s runtime.
    ///
    /// # Errors
    /// [`WebError`]: the address cannot be bound (in use, not local), or
    /// `metrics` already has a listener.
    pub fn start(
        handle: &Handle,
        addr: SocketAddr,
        metrics: Metrics,
        state: WebState,
    ) -> Result<WebServer, WebError> {
        let bind = |error| WebError::Bind { addr, error };
        let std_listener = std::net::TcpListener::bind(addr).map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let local = std_listener.local_addr().map_err(bind)?;
        let listener = {
            let _guard = handle.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind)?
        };
        let clients = metrics.gauge("web_clients", "Open event streams of the web view")?;
        let (stop, closed) = watch::channel(false);
        let app = App {
            metrics,
            state,
            clients,
            closed: closed.clone(),
        };
        let router = Router::new()
            .route("/", get(index))
            .route("/app.js", get(app_js))
            .route("/style.css", get(style_css))
            .route("/metrics", get(metrics_text))
            .route("/events", get(events))
            .route("/api/view", get(view_once))
            .route("/api/filter", get(filter_check))
            .with_state(app);
        let mut shutdown = closed;
        let (done_tx, done) = std::sync::mpsc::channel();
        handle.spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = shutdown.wait_for(|c| *c).await;
                })
                .await;
            let _ = done_tx.send(());
        });
        Ok(WebServer {
            addr: local,
            stop,
            done,
        })
    }

    /// The bound address (the port chosen when `addr` said 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ends the event streams, stops accepting and waits (up to 3 s) until
    /// the listening socket is closed, so that the next run of the daemon
    /// can bind the address again. Call it from outside the runtime.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.done.recv_timeout(STOP_WAIT);
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'self'; img-src 'self' data:"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

/// OpenMetrics when the scraper asks for it (Prometheus does), the
/// classic text format otherwise.
async fn metrics_text(State(app): State<App>, headers: HeaderMap) -> Response {
    let om = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    if om {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            app.metrics.encode(),
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(CONTENT_TYPE_PROMETHEUS),
            )],
            app.metrics.encode_prometheus(),
        )
            .into_response()
    }
}

fn parse(q: Option<&str>) -> Result<WebFilter, Response> {
    WebFilter::parse(q.unwrap_or("")).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            format!("filter {e}\n"),
        )
            .into_response()
    })
}

fn json_response(v: &serde_json::Value) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        v.to_string(),
    )
        .into_response()
}

async fn filter_check(RawQuery(q): RawQuery) -> Response {
    match parse(q.as_deref()) {
        Ok(f) => json_response(&serde_json::json!({ "filter": f.describe() })),
        Err(r) => r,
    }
}

async fn view_once(State(app): State<App>, RawQuery(q): RawQuery) -> Response {
    match parse(q.as_deref()) {
        Ok(f) => json_response(&app.state.view(&f, now().secs)),
        Err(r) => r,
    }
}

/// Counts an open event stream for as long as it lives.
struct ClientGuard(Gauge);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

struct Stream0 {
    app: App,
    filter: WebFilter,
    tick: tokio::time::Interval,
    sent_gen: Option<u64>,
    sent_at: Instant,
    _guard: ClientGuard,
}

async fn events(State(app): State<App>, RawQuery(q): RawQuery) -> Response {
    let filter = match parse(q.as_deref()) {
        Ok(f) => f,
        Err(r) => return r,
    };
    app.clients.inc();
    let guard = ClientGuard(app.clients.clone());
    let mut tick = tokio::time::interval(CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let s = Stream0 {
        app,
        filter,
        tick,
        sent_gen: None,
        sent_at: Instant::now(),
        _guard: guard,
    };
    Sse::new(view_stream(s))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// A `view` event when the state changed (or a second passed), until the
/// server stops.
fn view_stream(s: Stream0) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures_util::stream::unfold(s, |mut s| async move {
        loop {
            let mut closed = s.app.closed.clone();
            tokio::select! {
                _ = s.tick.tick() => {}
                _ = closed.wait_for(|c| *c) => return None,
            }
            let gen = s.app.state.generation();
            if s.sent_gen == Some(gen) && s.sent_at.elapsed() < REFRESH {
                continue;
            }
            let view = s.app.state.view(&s.filter, now().secs);
            s.sent_gen = Some(gen);
            s.sent_at = Instant::now();
            let ev = SseEvent::default().event("view").data(view.to_string());
            return Some((Ok(ev), s));
        }
    })
}
