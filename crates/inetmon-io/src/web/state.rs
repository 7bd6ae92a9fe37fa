//! What the web view shows, kept from the daemon's stream: the events
//! behind each part of the page, so that every page can apply its own
//! filter to them ([`WebState::view`]).
//!
//! Kept (bounded; what does not fit is counted and shown):
//! - drops of the last [`WINDOW`] seconds, by arrival second, grouped by
//!   reason, interface, flow and process (one event stands for its group,
//!   so a group matches a filter as its events do); at most
//!   [`MAX_DROP_GROUPS`] groups a second;
//! - open TCP connections (`connected` with no error, `accept`) and
//!   listening sockets (`listen`, UDP `bind` to a fixed port) by socket
//!   cookie, until the socket's `close`/`abort`; at most [`MAX_SOCKETS`]
//!   each;
//! - the last [`MAX_AUDIT`] connection and server audit records
//!   ([`inetmon_core::format::audit`]);
//! - the last [`MAX_LOSSES`] `Lost` events and the totals by source and
//!   stage.
//!
//! [`WebSink`] feeds it: it copies the events it needs and applies them
//! once per batch (at each flush, every [`APPLY_EVERY`] events), one lock
//! per batch.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use inetmon_core::dissect::PacketView;
use inetmon_core::event::{Event, SockEvent, SockOp, SOCK_DGRAM};
use inetmon_core::format::audit::{audit_record, AuditBody, AuditFormatter};
use jiff::tz::TimeZone;
use serde_json::{json, Value};

use super::filter::WebFilter;
use crate::consumer::{Delivery, Rendered, Sink};
use crate::pipeline::now;
use crate::sink::SinkError;

/// Seconds of drops kept (the chart's width).
pub const WINDOW: i64 = 60;
/// Drop groups kept per second.
pub const MAX_DROP_GROUPS: usize = 4096;
/// Open connections and listening sockets kept (each).
pub const MAX_SOCKETS: usize = 65_536;
/// Audit records kept.
pub const MAX_AUDIT: usize = 200;
/// Loss reports kept.
pub const MAX_LOSSES: usize = 100;
/// The sink applies its batch after this many events.
pub const APPLY_EVERY: usize = 1024;

/// Rows of each table sent to a page.
const ROWS: usize = 50;

/// A group of drops: reason, interface, network namespace, flow, process.
type DropKey = (
    u32,
    u32,
    u32,
    Option<(IpAddr, IpAddr, u8, Option<(u16, u16)>)>,
    Option<u32>,
);

#[derive(Default)]
struct Second {
    groups: HashMap<DropKey, (Event, u64)>,
    /// Drops of groups past [`MAX_DROP_GROUPS`].
    overflow: u64,
    /// Drops counted in the kernel, by reason and interface (as printed).
    counted: HashMap<(String, String), u64>,
}

#[derive(Default)]
struct Retained {
    /// Oldest first; the second is the arrival time.
    drops: VecDeque<(i64, Second)>,
    conns: HashMap<u64, Event>,
    listening: HashMap<u64, Event>,
    /// Connections and listening sockets not kept (cookie 0, or full).
    untracked: u64,
    /// Oldest first, with the line.
    audit: VecDeque<(Event, String)>,
    losses: VecDeque<Event>,
    lost_total: BTreeMap<(String, &'static str), u64>,
}

/// The shared state behind the web view; clone it freely.
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Shared>,
}

struct Shared {
    data: Mutex<Retained>,
    generation: AtomicU64,
    audit_fmt: AuditFormatter,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl Default for WebState {
    fn default() -> Self {
        WebState::new()
    }
}

/// Whether the web view keeps anything of `ev` (what [`WebSink`] copies).
fn wanted(ev: &Event) -> bool {
    match ev {
        Event::Drop(_) | Event::Lost(_) => true,
        Event::Sock(s) => matches!(
            s.op,
            SockOp::Connected
                | SockOp::Accept
                | SockOp::Listen
                | SockOp::Bind
                | SockOp::Close
                | SockOp::Abort
        ),
        _ => false,
    }
}

fn is_tcp(s: &SockEvent) -> bool {
    s.protocol == 6
}

impl WebState {
    /// Empty state; audit lines in the system's local time zone.
    #[must_use]
    pub fn new() -> WebState {
        WebState {
            inner: Arc::new(Shared {
                data: Mutex::new(Retained::default()),
                generation: AtomicU64::new(0),
                audit_fmt: AuditFormatter::text(TimeZone::system()),
            }),
        }
    }

    /// A sink for the consumer loop that feeds this state.
    #[must_use]
    pub fn sink(&self) -> WebSink {
        WebSink {
            state: self.clone(),
            batch: Vec::new(),
        }
    }

    /// Changes so far: a page sends a new view when this moved.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Retained> {
        self.inner
            .data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies events that arrived at second `arrival` (Unix time).
    pub fn apply(&self, arrival: i64, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let fmt = &self.inner.audit_fmt;
        let mut r = self.lock();
        r.expire(arrival);
        for ev in events {
            r.apply_one(arrival, ev, fmt);
        }
        drop(r);
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Applies drops counted in the kernel (the daemon's `[drops]` without
    /// `per_drop`): `(second, reason, interface, count)`, the second being
    /// the one the count covers (Unix time), reason and interface as
    /// printed. Such counts have no flow or process: a page whose filter
    /// asks for an address, port, protocol, program, pid or uid does not
    /// show them.
    pub fn apply_drop_counts<'a>(
        &self,
        now_secs: i64,
        rows: impl IntoIterator<Item = (i64, &'a str, &'a str, u64)>,
    ) {
        let mut r = self.lock();
        r.expire(now_secs);
        let mut any = false;
        for (sec, reason, iface, n) in rows {
            if sec <= now_secs - WINDOW || n == 0 {
                continue;
            }
            *r.second_mut(sec)
                .counted
                .entry((reason.to_owned(), iface.to_owned()))
                .or_default() += n;
            any = true;
        }
        drop(r);
        if any {
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// What a page with filter `f` shows at second `now_secs`, as JSON:
    ///
    /// ```text
    /// {"filter": "type=drop", "now": 1765000000,
    ///  "drops": {"start": 1764999941, "series": {"NO_SOCKET": [0, 3, …60 counts]}, "not_kept": 0},
    ///  "processes": [{"pid": 12, "comm": "curl", "uid": 0, "open": 3}],
    ///  "listening": [{"proto": "tcp", "addr": "127.0.0.1", "port": 80, "pid": 1, "comm": "nginx", "uid": 0}],
    ///  "audit": ["Dec 6 09:00:00 SERVER: (0, 0) \"tcp!127.0.0.1!80\" Started by UID 0", …],
    ///  "losses": {"total": [{"source": "sockets", "stage": "kernel", "count": 2}],
    ///             "recent": [{"time": "…", "source": "sockets", "stage": "kernel", "count": 2, "breakdown": "connect 2"}]},
    ///  "untracked": 0}
    /// ```
    ///
    /// Tables are newest or largest first, at most 50 rows.
    #[must_use]
    pub fn view(&self, f: &WebFilter, now_secs: i64) -> Value {
        let r = self.lock();
        let start = now_secs - WINDOW + 1;
        let mut series: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut not_kept = 0;
        for (sec, s) in &r.drops {
            let Ok(i) = usize::try_from(sec - start) else {
                continue;
            };
            if i >= usize::try_from(WINDOW).unwrap_or(0) {
                continue;
            }
            for (ev, n) in s.groups.values() {
                if !f.matches(ev) {
                    continue;
                }
                let Event::Drop(d) = ev else { continue };
                let row = series
                    .entry(d.reason.to_string())
                    .or_insert_with(|| vec![0; 60]);
                row[i] += n;
            }
            for ((reason, iface), n) in &s.counted {
                if !f.matches_count(reason, iface) {
                    continue;
                }
                let row = series.entry(reason.clone()).or_insert_with(|| vec![0; 60]);
                row[i] += n;
            }
            not_kept += s.overflow;
        }
        let mut procs: BTreeMap<(u32, String, u32), u64> = BTreeMap::new();
        for ev in r.conns.values() {
            if let Event::Sock(s) = ev {
                if f.matches(ev) {
                    *procs
                        .entry((s.task.pid, s.task.comm.clone(), s.task.uid))
                        .or_default() += 1;
                }
            }
        }
        let mut procs: Vec<_> = procs.into_iter().collect();
        procs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let processes: Vec<Value> = procs
            .into_iter()
            .take(ROWS)
            .map(|((pid, comm, uid), open)| json!({"pid": pid, "comm": comm, "uid": uid, "open": open}))
            .collect();
        let mut listen: Vec<&SockEvent> = r
            .listening
            .values()
            .filter(|ev| f.matches(ev))
            .filter_map(|ev| match ev {
                Event::Sock(s) => Some(&**s),
                _ => None,
            })
            .collect();
        listen.sort_by_key(|s| (s.local.map(|l| l.1), s.task.pid));
        let listening: Vec<Value> = listen
            .into_iter()
            .take(ROWS)
            .map(|s| {
                json!({
                    "proto": if is_tcp(s) { "tcp" } else { "udp" },
                    "addr": s.local.map(|l| l.0.to_string()),
                    "port": s.local.map(|l| l.1),
                    "pid": s.task.pid,
                    "comm": s.task.comm,
                    "uid": s.task.uid,
                })
            })
            .collect();
        let audit: Vec<&str> = r
            .audit
            .iter()
            .rev()
            .filter(|(ev, _)| f.matches(ev))
            .take(ROWS)
            .map(|(_, line)| line.as_str())
            .collect();
        let recent: Vec<Value> = r
            .losses
            .iter()
            .rev()
            .take(ROWS)
            .filter_map(|ev| match ev {
                Event::Lost(l) => Some(json!({
                    "time": l.header.time.to_string(),
                    "source": l.header.source.to_string(),
                    "stage": l.stage.as_str(),
                    "count": l.count,
                    "breakdown": l.breakdown_text(),
                })),
                _ => None,
            })
            .collect();
        let total: Vec<Value> = r
            .lost_total
            .iter()
            .map(|((source, stage), n)| json!({"source": source, "stage": stage, "count": n}))
            .collect();
        json!({
            "filter": f.describe(),
            "now": now_secs,
            "drops": {"start": start, "series": series, "not_kept": not_kept},
            "processes": processes,
            "listening": listening,
            "audit": audit,
            "losses": {"total": total, "recent": recent},
            "untracked": r.untracked,
        })
    }
}

impl Retained {
    /// The bucket of second `sec`, made (in order) when missing.
    fn second_mut(&mut self, sec: i64) -> &mut Second {
        let at = self.drops.iter().position(|(s, _)| *s >= sec);
        let i = match at {
            Some(i) if self.drops[i].0 == sec => i,
            Some(i) => {
                self.drops.insert(i, (sec, Second::default()));
                i
            }
            None => {
                self.drops.push_back((sec, Second::default()));
                self.drops.len() - 1
            }
        };
        &mut self.drops[i].1
    }

    fn expire(&mut self, now_secs: i64) {
        while self
            .drops
            .front()
            .is_some_and(|(s, _)| *s <= now_secs - WINDOW)
        {
            self.drops.pop_front();
        }
    }

    fn apply_one(&mut self, arrival: i64, ev: Event, fmt: &AuditFormatter) {
        match &ev {
            Event::Drop(d) => {
                let flow = PacketView::capture(&d.packet, d.layer, d.protocol)
                    .flow()
                    .map(|f| (f.src, f.dst, f.proto, f.ports));
                let key = (
                    d.reason.code,
                    d.interface.ifindex,
                    d.netns,
                    flow,
                    d.process.as_ref().map(|p| p.pid),
                );
                let sec = self.second_mut(arrival);
                let full = sec.groups.len() >= MAX_DROP_GROUPS;
                match sec.groups.get_mut(&key) {
                    Some(g) => g.1 += 1,
                    None if full => sec.overflow += 1,
                    None => {
                        sec.groups.insert(key, (ev, 1));
                    }
                }
            }
            Event::Lost(l) => {
                *self
                    .lost_total
                    .entry((l.header.source.to_string(), l.stage.as_str()))
                    .or_default() += l.count;
                if self.losses.len() >= MAX_LOSSES {
                    self.losses.pop_front();
                }
                self.losses.push_back(ev);
            }
            Event::Sock(s) => {
                if let Some(rec) = audit_record(&ev) {
                    if matches!(rec.body, AuditBody::Connection(_) | AuditBody::Server(_)) {
                        let mut line = Vec::new();
                        if fmt.write(&rec, &mut line).is_ok() {
                            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                            if self.audit.len() >= MAX_AUDIT {
                                self.audit.pop_front();
                            }
                            self.audit.push_back((ev.clone(), text));
                        }
                    }
                }
                let cookie = s.cookie;
                let ok = s.errno == 0;
                let (into_conns, into_listen) = match s.op {
                    SockOp::Connected | SockOp::Accept => (ok && is_tcp(s), false),
                    SockOp::Listen => (false, ok),
                    SockOp::Bind => (
                        false,
                        ok && s.sock_type == SOCK_DGRAM && s.local.is_some_and(|l| l.1 != 0),
                    ),
                    SockOp::Close | SockOp::Abort => {
                        self.conns.remove(&cookie);
                        self.listening.remove(&cookie);
                        (false, false)
                    }
                    _ => (false, false),
                };
                if into_conns || into_listen {
                    let table = if into_conns {
                        &mut self.conns
                    } else {
                        &mut self.listening
                    };
                    if cookie == 0 || (table.len() >= MAX_SOCKETS && !table.contains_key(&cookie)) {
                        self.untracked += 1;
                    } else {
                        table.insert(cookie, ev);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The [`Sink`] that feeds a [`WebState`]. It never takes an event and
/// never fails.
pub struct WebSink {
    state: WebState,
    batch: Vec<Event>,
}

impl std::fmt::Debug for WebSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSink")
            .field("batch", &self.batch.len())
            .finish_non_exhaustive()
    }
}

impl WebSink {
    fn apply(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        self.state.apply(now().secs, batch);
    }
}

impl Sink for WebSink {
    fn deliver(&mut self, ev: Option<&Event>, _out: &Rendered) -> Result<Delivery, SinkError> {
        if let Some(ev) = ev.filter(|e| wanted(e)) {
            self.batch.push(ev.clone());
            if self.batch.len() >= APPLY_EVERY {
                self.apply();
            }
        }
        Ok(Delivery::Passed)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.apply();
        Ok(())
    }
}
