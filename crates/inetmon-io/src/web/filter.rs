//! The web view's filters: the query string of the page and of its event
//! stream, with the names and values of the command line's flags, read by
//! the same parsers (`monitor --type/--iface/--ip/--port/--proto/--reason/
//! --not-specified`, `sockets --comm/--pid/--uid`).
//!
//! `/?type=drop,sock&port=8080&comm=nginx`: a key may repeat or carry a
//! comma-separated list (values of one key are alternatives); every key
//! given must match, and an event without the filtered fact does not
//! match it. Lost and malformed events always pass: loss is never hidden.

use inetmon_core::cidr::Cidr;
use inetmon_core::event::{Event, EventKind};
use inetmon_core::monitor_filter::{parse_kind, parse_proto, MonitorFilter};

/// A bad query string, in one line naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct QueryError {
    /// The key.
    pub key: String,
    /// What is wrong with its value.
    pub message: String,
}

/// The filters of one page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebFilter {
    /// What `inetmon monitor` filters on.
    pub monitor: MonitorFilter,
    /// Program names (`comm`), exactly.
    pub comms: Vec<String>,
    /// Process ids.
    pub pids: Vec<u32>,
    /// User ids.
    pub uids: Vec<u32>,
}

impl WebFilter {
    /// Parses a query string (without the `?`), percent-decoded.
    ///
    /// # Errors
    /// [`QueryError`] for an unknown key or a value its flag would refuse.
    pub fn parse(query: &str) -> Result<WebFilter, QueryError> {
        let mut f = WebFilter::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let err = |message: String| QueryError {
                key: key.to_string(),
                message,
            };
            let values = value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>();
            match key.as_ref() {
                "type" => {
                    for v in values {
                        f.monitor
                            .kinds
                            .push(parse_kind(v).map_err(|e| err(e.to_string()))?);
                    }
                }
                "iface" => f
                    .monitor
                    .interfaces
                    .extend(values.iter().map(|v| (*v).to_owned())),
                "ip" => {
                    for v in values {
                        f.monitor
                            .ips
                            .push(v.parse::<Cidr>().map_err(|e| err(e.to_string()))?);
                    }
                }
                "port" => {
                    for v in values {
                        f.monitor.ports.push(
                            v.parse()
                                .map_err(|_| err(format!("{v:?} is not a port (0-65535)")))?,
                        );
                    }
                }
                "proto" => {
                    for v in values {
                        f.monitor
                            .protos
                            .push(parse_proto(v).map_err(|e| err(e.to_string()))?);
                    }
                }
                "reason" => f
                    .monitor
                    .reasons
                    .extend(values.iter().map(|v| (*v).to_owned())),
                "not-specified" => {
                    f.monitor.not_specified = match value.as_ref() {
                        "" | "1" | "true" | "yes" => true,
                        "0" | "false" | "no" => false,
                        v => return Err(err(format!("{v:?} is not a boolean"))),
                    }
                }
                "comm" => f.comms.extend(values.iter().map(|v| (*v).to_owned())),
                "pid" => {
                    for v in values {
                        f.pids
                            .push(v.parse().map_err(|_| err(format!("{v:?} is not a pid")))?);
                    }
                }
                "uid" => {
                    for v in values {
                        f.uids
                            .push(v.parse().map_err(|_| err(format!("{v:?} is not a uid")))?);
                    }
                }
                _ => {
                    return Err(QueryError {
                        key: key.to_string(),
                        message: "unknown filter (type, iface, ip, port, proto, reason, \
                                  not-specified, comm, pid, uid)"
                            .to_owned(),
                    })
                }
            }
        }
        Ok(f)
    }

    /// Whether `ev` passes.
    #[must_use]
    pub fn matches(&self, ev: &Event) -> bool {
        if matches!(ev, Event::Lost(_) | Event::Malformed(_)) {
            return true;
        }
        if !self.monitor.matches(ev) {
            return false;
        }
        if self.comms.is_empty() && self.pids.is_empty() && self.uids.is_empty() {
            return true;
        }
        let facts = ev.facts();
        let hit = |want: bool, ok: bool| !want || ok;
        hit(
            !self.comms.is_empty(),
            facts
                .comm
                .is_some_and(|c| self.comms.iter().any(|x| x == c)),
        ) && hit(
            !self.pids.is_empty(),
            facts.pid.is_some_and(|p| self.pids.contains(&p)),
        ) && hit(
            !self.uids.is_empty(),
            facts.uid.is_some_and(|u| self.uids.contains(&u)),
        )
    }

    /// Whether drops counted in the kernel with `reason` on `iface` (as
    /// printed) pass: they are drops with a reason and an interface, and
    /// nothing else is known of them.
    #[must_use]
    pub fn matches_count(&self, reason: &str, iface: &str) -> bool {
        let m = &self.monitor;
        if !m.kinds.is_empty() && !m.kinds.contains(&EventKind::Drop) {
            return false;
        }
        if !(m.ips.is_empty()
            && m.ports.is_empty()
            && m.protos.is_empty()
            && self.comms.is_empty()
            && self.pids.is_empty()
            && self.uids.is_empty())
        {
            return false;
        }
        let eq = |w: &String| {
            w.strip_prefix("SKB_DROP_REASON_")
                .unwrap_or(w)
                .eq_ignore_ascii_case(reason)
        };
        if m.reasons.is_empty() {
            if reason == "NOT_SPECIFIED" && !m.not_specified {
                return false;
            }
        } else if !m.reasons.iter().any(eq) {
            return false;
        }
        m.interfaces.is_empty()
            || m.interfaces
                .iter()
                .any(|i| i == iface || format!("ifindex {i}") == iface)
    }

    /// The filter in its query form, for the page's heading (`all events`
    /// when empty).
    #[must_use]
    pub fn describe(&self) -> String {
        let m = &self.monitor;
        let mut parts = Vec::new();
        let mut list = |key: &str, vals: Vec<String>| {
            if !vals.is_empty() {
                parts.push(format!("{key}={}", vals.join(",")));
            }
        };
        list(
            "type",
            m.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        );
        list("iface", m.interfaces.clone());
        list(
            "ip",
            m.ips
                .iter()
                .map(|c| format!("{}/{}", c.addr(), c.prefix_len()))
                .collect(),
        );
        list("port", m.ports.iter().map(ToString::to_string).collect());
        list("proto", m.protos.iter().map(ToString::to_string).collect());
        list("reason", m.reasons.clone());
        list("comm", self.comms.clone());
        list("pid", self.pids.iter().map(ToString::to_string).collect());
        list("uid", self.uids.iter().map(ToString::to_string).collect());
        if m.not_specified {
            parts.push("not-specified".to_owned());
        }
        if parts.is_empty() {
            "all events".to_owned()
        } else {
            parts.join("&")
        }
    }
}
