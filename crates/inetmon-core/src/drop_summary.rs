//! Drop aggregation for `inetmon monitor --summary`: counts of drops by
//! (reason, location, interface), rendered as a fixed-width table sorted by
//! count, with the change since the previous interval. For when drops come
//! too fast to read line by line.
//!
//! Pure: the caller feeds events and decides when an interval ends (every
//! second in the live monitor).

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::event::{DropEvent, Event};

/// What drops are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DropKey {
    /// The reason as printed (`NO_SOCKET`, `openvswitch/…`, `reason 7`).
    pub reason: String,
    /// The kernel location as printed (`tcp_v4_rcv+0x1a`, or hex).
    pub location: String,
    /// The interface as printed (name, `ifindex N` or `none`).
    pub interface: String,
}

impl DropKey {
    /// The key of a drop event.
    #[must_use]
    pub fn of(d: &DropEvent) -> Self {
        DropKey {
            reason: d.reason.to_string(),
            location: d.location.to_string(),
            interface: d.interface.to_string(),
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The group.
    pub key: DropKey,
    /// Drops since the start.
    pub count: u64,
    /// Drops in the last completed interval.
    pub delta: u64,
}

/// Running drop counts.
#[derive(Debug, Clone, Default)]
pub struct DropSummary {
    counts: HashMap<DropKey, u64>,
    at_interval_start: HashMap<DropKey, u64>,
    last_delta: HashMap<DropKey, u64>,
    kernel_last: HashMap<DropKey, u64>,
    total: u64,
    lost: u64,
    intervals: u64,
}

impl DropSummary {
    /// An empty summary.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one drop.
    pub fn add(&mut self, d: &DropEvent) {
        self.add_key(DropKey::of(d), 1);
    }

    /// Counts `n` drops of one group.
    pub fn add_key(&mut self, key: DropKey, n: u64) {
        let c = self.counts.entry(key).or_insert(0);
        *c = c.saturating_add(n);
        self.total = self.total.saturating_add(n);
    }

    /// Sets the cumulative count of one group from a kernel counter (the
    /// summary-mode `drop_counts` map): the increase since the last value
    /// seen is added. A value below the last one (the counter was reset, or
    /// its map entry was evicted and re-created) counts as all new.
    pub fn set_count(&mut self, key: DropKey, cumulative: u64) {
        let last = self
            .kernel_last
            .insert(key.clone(), cumulative)
            .unwrap_or(0);
        let added = cumulative.checked_sub(last).unwrap_or(cumulative);
        if added > 0 {
            self.add_key(key, added);
        }
    }

    /// Counts a drop event or the loss of events (lost events are shown on
    /// their own line, since their reasons are unknown); other kinds are
    /// ignored.
    pub fn add_event(&mut self, e: &Event) {
        match e {
            Event::Drop(d) => self.add(d),
            Event::Lost(l) => self.lost = self.lost.saturating_add(l.count),
            Event::Packet(_)
            | Event::Nat(_)
            | Event::State(_)
            | Event::Sock(_)
            | Event::Trace(_)
            | Event::Debug(_)
            | Event::Malformed(_) => {}
        }
    }

    /// Ends an interval: the deltas shown next are the drops counted since
    /// the previous call.
    pub fn end_interval(&mut self) {
        self.last_delta = self
            .counts
            .iter()
            .map(|(k, c)| {
                (
                    k.clone(),
                    c - self.at_interval_start.get(k).copied().unwrap_or(0),
                )
            })
            .collect();
        self.at_interval_start.clone_from(&self.counts);
        self.intervals += 1;
    }

    /// Total drops counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Events reported lost.
    #[must_use]
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The rows, by count (highest first), then by key.
    #[must_use]
    pub fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .counts
            .iter()
            .map(|(k, c)| Row {
                key: k.clone(),
                count: *c,
                delta: self.last_delta.get(k).copied().unwrap_or(0),
            })
            .collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        rows
    }

    /// The table: a header, at most `max_rows` rows (0 = all), a line for the
    /// rows left out, and a total line. Columns: COUNT and DELTA (10 wide,
    /// right-aligned), REASON (24), LOCATION (36), INTERFACE (16); longer
    /// values are cut with `~`.
    #[must_use]
    pub fn render(&self, max_rows: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>10} {:>10}  {:<24} {:<36} INTERFACE",
            "COUNT", "DELTA", "REASON", "LOCATION"
        );
        let rows = self.rows();
        let shown = if max_rows == 0 {
            rows.len()
        } else {
            max_rows.min(rows.len())
        };
        for r in rows.iter().take(shown) {
            let line = format!(
                "{:>10} {:>10}  {:<24} {:<36} {:<16}",
                r.count,
                r.delta,
                cut(&r.key.reason, 24),
                cut(&r.key.location, 36),
                cut(&r.key.interface, 16)
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if let Some(rest) = rows.get(shown..).filter(|r| !r.is_empty()) {
            let n: u64 = rest.iter().map(|r| r.count).sum();
            let d: u64 = rest.iter().map(|r| r.delta).sum();
            let _ = writeln!(out, "{n:>10} {d:>10}  ({} more groups)", rest.len());
        }
        let delta_total: u64 = self.last_delta.values().sum();
        let _ = write!(out, "{:>10} {:>10}  total", self.total, delta_total);
        if self.lost > 0 {
            let _ = write!(out, ", {} events lost", self.lost);
        }
        out.push('\n');
        out
    }
}

/// `s` cut to `width` characters, the last one replaced by `~` when cut.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut c: String = s.chars().take(width.saturating_sub(1)).collect();
    c.push('~');
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        CaptureLayer, DropReason, Header, Interface, KernelLocation, LossStage, Lost, Source,
        Timestamp,
    };

    fn drop(reason: &str, loc: &str, ifname: Option<&str>, ifindex: u32) -> Event {
        Event::Drop(Box::new(DropEvent {
            header: Header {
                time: Timestamp::default(),
                source: Source::Datapath,
                seq: 0,
            },
            cpu: 0,
            reason: DropReason {
                code: 0,
                subsystem: None,
                name: Some(reason.into()),
            },
            location: KernelLocation {
                addr: 1,
                symbol: Some(loc.into()),
            },
            interface: Interface {
                ifindex,
                name: ifname.map(str::to_owned),
            },
            protocol: 0x0800,
            orig_len: 0,
            layer: CaptureLayer::None,
            packet: Vec::new(),
            process: None,
            netns: 0,
            netns_name: None,
            foreign_netns: false,
            mark: 0,
        }))
    }

    #[test]
    fn counts_sorts_and_deltas() {
        let mut s = DropSummary::new();
        let nf = drop("NETFILTER_DROP", "nft_do_chain+0x44", Some("veth0"), 4);
        let ns = drop("NO_SOCKET", "__udp4_lib_rcv+0x5a4", None, 9);
        for _ in 0..3 {
            s.add_event(&nf);
        }
        s.add_event(&ns);
        s.end_interval();
        s.add_event(&ns);
        s.add_event(&ns);
        s.add_event(&ns);
        s.add_event(&Event::Lost(Lost {
            header: Header {
                time: Timestamp::default(),
                source: Source::Datapath,
                seq: 0,
            },
            stage: LossStage::Kernel,
            count: 5,
            kinds: vec![],
            seq_range: None,
            breakdown: Vec::new(),
        }));
        s.end_interval();
        assert_eq!(s.total(), 7);
        let rows = s.rows();
        assert_eq!(rows[0].key.reason, "NO_SOCKET");
        assert_eq!((rows[0].count, rows[0].delta), (4, 3));
        assert_eq!((rows[1].count, rows[1].delta), (3, 0));
        let expected = concat!(
            "     COUNT      DELTA  REASON                   LOCATION                             INTERFACE\n",
            "         4          3  NO_SOCKET                __udp4_lib_rcv+0x5a4                 if9\n",
            "         3          0  NETFILTER_DROP           nft_do_chain+0x44                    veth0\n",
            "         7          3  total, 5 events lost\n",
        );
        assert_eq!(s.render(0), expected);
        let one = s.render(1);
        assert!(
            one.contains("         3          0  (1 more groups)\n"),
            "{one}"
        );
    }

    #[test]
    fn cumulative_kernel_counts() {
        let key = |r: &str| DropKey {
            reason: r.into(),
            location: "f".into(),
            interface: "i".into(),
        };
        let mut s = DropSummary::new();
        s.set_count(key("A"), 10);
        s.end_interval();
        s.set_count(key("A"), 25);
        s.set_count(key("B"), 1);
        s.end_interval();
        let rows = s.rows();
        assert_eq!((rows[0].count, rows[0].delta), (25, 15));
        s.set_count(key("A"), 4); // reset: 4 new
        assert_eq!(s.rows()[0].count, 29);
        assert_eq!(s.total(), 30);
    }

    #[test]
    fn cuts_long_values() {
        assert_eq!(cut("abcdef", 4), "abc~");
        assert_eq!(cut("abcd", 4), "abcd");
        let mut s = DropSummary::new();
        s.add_event(&drop(&"R".repeat(40), "f", Some("i"), 1));
        let r = s.render(0);
        assert!(r.contains(&format!("{}~ f", "R".repeat(23))), "{r}");
        assert_eq!(DropSummary::new().render(0).lines().count(), 2);
    }
}
