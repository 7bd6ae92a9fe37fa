//! Prometheus metrics of the daemon (`[metrics] listen`), in the
//! OpenMetrics text format (`GET /metrics`, served by [`crate::web`]).
//!
//! [`Metrics`] is the one registry handle: cheap to clone, shared by every
//! component. It registers the counters of the event stream itself, which
//! [`MetricsSink`] (a [`Sink`] of the consumer loop) keeps up to date, and
//! lets other components add their own gauges, counters and histograms
//! with [`Metrics::gauge`], [`Metrics::counter`] and
//! [`Metrics::histogram_seconds`], or values read when scraped with
//! [`Metrics::gauge_fn`] and [`Metrics::counter_fn`] (the daemon's clients,
//! journal size and lag, export lag: see
//! [`crate::service::assemble()`]).
//!
//! Every name gets the `inetmon_` prefix; counters get `_total`
//! (OpenMetrics). The stream's metrics:
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `inetmon_events_total` | `kind`, `op` | events that reached the sinks, by kind ([`EventKind::as_str`]) and, for socket events, operation ([`SockOp::as_str`]; `none` for other kinds) |
//! | `inetmon_drops_total` | `reason` | kernel drops by reason (`NO_SOCKET`, `NETFILTER_DROP`, …; `reason N` when the kernel does not name it), from drop events or from the kernel's counters ([`Metrics::add_drops`]) |
//! | `inetmon_lost_events_total` | `source`, `stage` | events lost, from [`Lost`](inetmon_core::event::Lost) events: the source that lost them and where ([`LossStage::as_str`]) |
//! | `inetmon_batch_delay_seconds` | | histogram: age of the oldest live event of a batch when the batch reached the sinks (kernel → sink latency, one observation per batch) |
//!
//! The sink counts in plain integers and publishes to the shared atomics
//! once per batch (at each flush of the consumer loop, at most every
//! [`PUBLISH_EVERY`] events and [`PUBLISH_INTERVAL`]): no lock or label
//! lookup per event.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use inetmon_core::event::{Event, EventKind, LossStage, SockOp, Source, Timestamp, ALL_KINDS};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

use crate::consumer::{Delivery, Rendered, Sink};
use crate::pipeline::now;
use crate::sink::SinkError;

/// The sink publishes its counts after at most this many events.
pub const PUBLISH_EVERY: u32 = 4096;
/// … and at least this often while events come.
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(250);

/// The OpenMetrics text content type (`GET /metrics` when the scraper
/// accepts it, as Prometheus does).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic Prometheus text content type (`GET /metrics` otherwise).
pub const CONTENT_TYPE_PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric name registered twice, or not a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// The name is taken.
    #[error("metric inetmon_{0} is registered twice")]
    Duplicate(String),
    /// Not `[a-z_][a-z0-9_]*`.
    #[error("{0:?} is not a metric name (lower-case letters, digits and _)")]
    Name(String),
}

type Labels2 = [(&'static str, String); 2];
type Labels1 = [(&'static str, String); 1];

/// The registry and the stream's own metrics; clone it freely.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Mutex<Registry>,
    names: Mutex<BTreeSet<String>>,
    events: Family<Labels2, Counter>,
    drops: Family<Labels1, Counter>,
    lost: Family<Labels2, Counter>,
    batch_delay: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with the stream's metrics registered.
    #[must_use]
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("inetmon");
        let events = Family::<Labels2, Counter>::default();
        let drops = Family::<Labels1, Counter>::default();
        let lost = Family::<Labels2, Counter>::default();
        let batch_delay = Histogram::new(exponential_buckets(0.0001, 4.0, 10));
        registry.register(
            "events",
            "Events that reached the sinks, by kind and socket operation",
            events.clone(),
        );
        registry.register("drops", "Kernel packet drops by reason", drops.clone());
        registry.register(
            "lost_events",
            "Events lost, by the source that lost them and the stage",
            lost.clone(),
        );
        registry.register_with_unit(
            "batch_delay",
            "Age of the oldest live event of a batch when the batch reached the sinks",
            Unit::Seconds,
            batch_delay.clone(),
        );
        let names = ["events", "drops", "lost_events", "batch_delay"]
            .into_iter()
            .map(String::from)
            .collect();
        Metrics {
            inner: Arc::new(Inner {
                registry: Mutex::new(registry),
                names: Mutex::new(names),
                events,
                drops,
                lost,
                batch_delay,
            }),
        }
    }

    fn claim(&self, name: &str) -> Result<(), MetricsError> {
        let ok = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(MetricsError::Name(name.to_owned()));
        }
        let mut names = self
            .inner
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !names.insert(name.to_owned()) {
            return Err(MetricsError::Duplicate(name.to_owned()));
        }
        Ok(())
    }

    fn register(&self, name: &str, help: &str, unit: Option<Unit>, metric: impl MetricBox) {
        let mut reg = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        metric.register_in(&mut reg, name, help, unit);
    }

    /// Registers a gauge `inetmon_<name>` (for example `clients`,
    /// `journal_bytes`) and returns its handle; set it whenever the value
    /// changes.
    ///
    /// # Errors
    /// [`MetricsError`] for a taken or invalid name.
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, MetricsError> {
        self.claim(name)?;
        let g = Gauge::default();
        self.register(name, help, None, g.clone());
        Ok(g)
    }

    /// Registers a gauge in seconds, `inetmon_<name>_seconds` (for example
    /// `journal_lag`, `export_lag`).
    ///
    /// # Errors
    /// [`MetricsError`] for a taken or invalid name.
    pub fn gauge_seconds(
        &self,
        name: &str,
        help: &str,
    ) -> Result<Gauge<f64, std::sync::atomic::AtomicU64>, MetricsError> {
        self.claim(name)?;
        let g = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        self.register(name, help, Some(Unit::Seconds), g.clone());
        Ok(g)
    }

    /// Registers a counter `inetmon_<name>_total`.
    ///
    /// # Errors
    /// [`MetricsError`] for a taken or invalid name.
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, MetricsError> {
        self.claim(name)?;
        let c = Counter::default();
        self.register(name, help, None, c.clone());
        Ok(c)
    }

    /// Registers a histogram `inetmon_<name>_seconds` with exponential
    /// buckets from 100 µs to about 26 s.
    ///
    /// # Errors
    /// [`MetricsError`] for a taken or invalid name.
    pub fn histogram_seconds(&self, name: &str, help: &str) -> Result<Histogram, MetricsError> {
        self.claim(name)?;
        let h = Histogram::new(exponential_buckets(0.0001, 4.0, 10));
        self.register(name, help, Some(Unit::Seconds), h.clone());
        Ok(h)
    }

    /// Registers a gauge `inetmon_<name>` whose value is `read()` at each
    /// scrape: for a value another component already keeps (an atomic, a
    /// file's size), current when scraped and with no thread to update it.
    /// `read` runs on the scraping thread with the registry locked: keep it
    /// cheap and never let it block.
    ///
    /// # Errors
    /// [`MetricsError`] for a taken or invalid name.
    pub fn gauge_fn(
        &self,
        name: &str,
        help: &str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Result<(), MetricsError> {
        self.claim(name)?;
        self.register(name, help, None, FnMetric::<i64>(Box::new(read)));
        Ok(())
    }

    /// Registers a counter `inetmon_<name>_total` whose value is `read()`
    /// at each scrape (see [`Metrics::gauge_fn`]); `read` must never
    /// decrease.
    ///
    /// # Errors
    /// [`MetricsError`] for a taken or invalid name.
    pub fn counter_fn(
        &self,
        name: &str,
        help: &str,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Result<(), MetricsError> {
        self.claim(name)?;
        self.register(name, help, None, FnMetric::<u64>(Box::new(read)));
        Ok(())
    }

    /// The registry in the OpenMetrics text format (ends with `# EOF`).
    #[must_use]
    pub fn encode(&self) -> String {
        let reg = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &reg);
        out
    }

    /// The registry in the classic Prometheus text format (0.0.4), for
    /// scrapers that do not ask for OpenMetrics (`curl`, `promtool check
    /// metrics`): the same samples; a counter's `HELP` and `TYPE` name the
    /// `_total` series, and there are no `UNIT` or `EOF` lines.
    #[must_use]
    pub fn encode_prometheus(&self) -> String {
        to_prometheus_text(&self.encode())
    }

    /// Adds drops counted in the kernel (the daemon's `[drops]` without
    /// `per_drop`: no event per drop, per-second counts by reason) to
    /// `inetmon_drops_total`.
    pub fn add_drops<'a>(&self, counts: impl IntoIterator<Item = (&'a str, u64)>) {
        for (reason, n) in counts {
            self.inner
                .drops
                .get_or_create(&[("reason", reason.to_owned())])
                .inc_by(n);
        }
    }

    /// A sink for the consumer loop that counts what reaches it.
    #[must_use]
    pub fn sink(&self) -> MetricsSink {
        MetricsSink::new(self.clone())
    }
}

/// OpenMetrics text → the classic Prometheus text format (see
/// [`Metrics::encode_prometheus`]).
fn to_prometheus_text(om: &str) -> String {
    let counters: BTreeSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        if let Some((p, rest)) = meta {
            let name = rest.split(' ').next().unwrap_or("");
            if counters.contains(name) {
                out.push_str(p);
                out.push_str(name);
                out.push_str("_total");
                out.push_str(&rest[name.len()..]);
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A metric read when scraped ([`Metrics::gauge_fn`]: `i64`, a gauge;
/// [`Metrics::counter_fn`]: `u64`, a counter).
struct FnMetric<N>(Box<dyn Fn() -> N + Send + Sync>);

impl<N> std::fmt::Debug for FnMetric<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnMetric").finish_non_exhaustive()
    }
}

impl TypedMetric for FnMetric<i64> {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for FnMetric<i64> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&(self.0)())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

impl TypedMetric for FnMetric<u64> {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for FnMetric<u64> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&(self.0)(), None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// A metric type this module registers (keeps [`Metrics::register`] one
/// function for every type).
trait MetricBox {
    fn register_in(self, reg: &mut Registry, name: &str, help: &str, unit: Option<Unit>);
}

impl<M: prometheus_client::registry::Metric> MetricBox for M {
    fn register_in(self, reg: &mut Registry, name: &str, help: &str, unit: Option<Unit>) {
        match unit {
            Some(u) => reg.register_with_unit(name, help, u, self),
            None => reg.register(name, help, self),
        }
    }
}

/// Number of [`SockOp`] values plus one (`none`).
const OPS: usize = 12;

fn op_index(ev: &Event) -> usize {
    match ev {
        Event::Sock(s) => match s.op {
            SockOp::Create => 1,
            SockOp::Bind => 2,
            SockOp::DynBind => 3,
            SockOp::Listen => 4,
            SockOp::Accept => 5,
            SockOp::Connect => 6,
            SockOp::Connected => 7,
            SockOp::Disconnect => 8,
            SockOp::Close => 9,
            SockOp::Abort => 10,
            SockOp::Segment => 11,
        },
        _ => 0,
    }
}

const OP_NAMES: [&str; OPS] = [
    "none",
    "create",
    "bind",
    "dynbind",
    "listen",
    "accept",
    "connect",
    "connected",
    "disconnect",
    "close",
    "abort",
    "segment",
];

fn kind_index(k: EventKind) -> usize {
    ALL_KINDS.iter().position(|x| *x == k).unwrap_or(0)
}

/// Whether a source's timestamps are the kernel's, now (not a file's).
fn live(source: &Source) -> bool {
    match source {
        Source::Nflog(_)
        | Source::Conntrack
        | Source::Sockets
        | Source::Datapath
        | Source::Nftrace
        | Source::Pipeline => true,
        Source::Pcap(_) | Source::Iplog(_) | Source::Stdin => false,
    }
}

/// The [`Sink`] that counts events, drops and losses into [`Metrics`].
/// It never takes an event and never fails.
pub struct MetricsSink {
    metrics: Metrics,
    /// Pending counts by kind × operation.
    events: [[u64; OPS]; ALL_KINDS.len()],
    /// Their counters, resolved once.
    event_counters: Vec<Option<Counter>>,
    /// Pending drops by reason code, with the counter of that reason.
    drops: HashMap<u32, (Counter, u64)>,
    /// Pending losses by (source, stage).
    lost: HashMap<(String, LossStage), (Counter, u64)>,
    pending: u32,
    oldest: Option<Timestamp>,
    published: Instant,
}

impl std::fmt::Debug for MetricsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSink")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl MetricsSink {
    fn new(metrics: Metrics) -> MetricsSink {
        MetricsSink {
            metrics,
            events: [[0; OPS]; ALL_KINDS.len()],
            event_counters: vec![None; ALL_KINDS.len() * OPS],
            drops: HashMap::new(),
            lost: HashMap::new(),
            pending: 0,
            oldest: None,
            published: Instant::now(),
        }
    }

    /// Counts one event (locally; [`MetricsSink::publish`] adds to the
    /// shared counters).
    fn count(&mut self, ev: &Event) {
        let k = kind_index(ev.kind());
        self.events[k][op_index(ev)] += 1;
        match ev {
            Event::Drop(d) => {
                let m = &self.metrics.inner;
                self.drops
                    .entry(d.reason.code)
                    .or_insert_with(|| {
                        (
                            m.drops
                                .get_or_create_owned(&[("reason", d.reason.to_string())]),
                            0,
                        )
                    })
                    .1 += 1;
            }
            Event::Lost(l) => {
                let m = &self.metrics.inner;
                let source = l.header.source.to_string();
                let e = self
                    .lost
                    .entry((source.clone(), l.stage))
                    .or_insert_with(|| {
                        (
                            m.lost.get_or_create_owned(&[
                                ("source", source),
                                ("stage", l.stage.as_str().to_owned()),
                            ]),
                            0,
                        )
                    });
                e.1 = e.1.saturating_add(l.count);
            }
            _ => {}
        }
        let h = ev.header();
        if live(&h.source) && self.oldest.is_none_or(|t| h.time < t) {
            self.oldest = Some(h.time);
        }
        self.pending += 1;
        if self.pending >= PUBLISH_EVERY
            || (self.pending.is_multiple_of(256) && self.published.elapsed() >= PUBLISH_INTERVAL)
        {
            self.publish();
        }
    }

    /// Adds the pending counts to the shared counters and observes the
    /// batch's delay.
    fn publish(&mut self) {
        let m = Arc::clone(&self.metrics.inner);
        for (k, row) in self.events.iter_mut().enumerate() {
            for (o, n) in row.iter_mut().enumerate() {
                if *n == 0 {
                    continue;
                }
                let slot = &mut self.event_counters[k * OPS + o];
                let c = slot.get_or_insert_with(|| {
                    m.events.get_or_create_owned(&[
                        ("kind", ALL_KINDS[k].as_str().to_owned()),
                        ("op", OP_NAMES[o].to_owned()),
                    ])
                });
                c.inc_by(*n);
                *n = 0;
            }
        }
        for (c, n) in self.drops.values_mut() {
            if *n > 0 {
                c.inc_by(*n);
                *n = 0;
            }
        }
        for (c, n) in self.lost.values_mut() {
            if *n > 0 {
                c.inc_by(*n);
                *n = 0;
            }
        }
        if let Some(t) = self.oldest.take() {
            let now = now();
            let secs =
                (now.secs - t.secs) as f64 + (f64::from(now.nanos) - f64::from(t.nanos)) / 1e9;
            if secs >= 0.0 {
                m.batch_delay.observe(secs);
            }
        }
        self.pending = 0;
        self.published = Instant::now();
    }
}

impl Sink for MetricsSink {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        if let Some(ev) = ev {
            self.count(ev);
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.pending > 0 {
            self.publish();
        }
        Ok(())
    }
}

impl Drop for MetricsSink {
    fn drop(&mut self) {
        if self.pending > 0 {
            self.publish();
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
pub(crate) mod tests;
