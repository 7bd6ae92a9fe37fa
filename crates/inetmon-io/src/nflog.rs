//! The live NFLOG producer: one netlink socket bound to one or more NFLOG
//! groups (`nflog:0,1`), read in batches on its own thread.
//!
//! Each message is decoded by `inetmon-core` into an [`Event::Packet`] whose
//! header carries the group's own sequence number. Loss is reported in band:
//! gaps in the kernel's per-group `NFULA_SEQ` become [`Event::Lost`] at stage
//! `Kernel` with the missing range; a receive-buffer overrun (`ENOBUFS`)
//! without sequence numbers becomes a `Lost` with count 1 (one overflow
//! notification; with sequence numbers the gap that follows gives the exact
//! count instead).
//!
//! **Times.** The kernel timestamps packets logged at the prerouting, input
//! and forward hooks (`NFULA_TIMESTAMP`), not those logged at output and
//! postrouting. Those are stamped when read, which is later than the kernel
//! time of the packets logged after them in the same batch. So a packet
//! without a timestamp is held until the next packet that has one: it gets
//! the earlier of its read time and that packet's time, and no printed time
//! is later than that of a packet the kernel logged after it. A held packet
//! is released with its read time when the socket has been idle for longer
//! than the kernel holds a partial batch ([`NflogConfig::flush_timeout_cs`]
//! plus a margin; anything logged after it would have arrived by then with
//! a later time), when [`MAX_HELD`] packets are held (an output-only flood,
//! where the read time is the best there is), and at shutdown.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use inetmon_core::event::{Event, EventKind, LossStage, Lost, Malformed, SharedStr, Source};

use crate::ifname::IfNames;
use crate::netlink::{self, NetlinkError, NetlinkSocket, RecvBatch};
use crate::pipeline::{now, Closed, Pipeline, Producer, SourceMetrics};
use crate::shutdown::Shutdown;
use inetmon_core::decode::nflog::{self as core_nflog, config};

/// How often an idle reader wakes to check the shutdown flag.
const IDLE_WAKE: Duration = Duration::from_millis(200);

/// Most packets without a kernel timestamp held for the next timestamped
/// one (see the module docs); beyond this they go with their read time.
pub const MAX_HELD: usize = 1024;

/// Added to the kernel's flush timeout: how long after the socket went idle
/// a held packet is released with its read time.
const HOLD_MARGIN: Duration = Duration::from_millis(10);

/// The largest kernel batching buffer nfnetlink_log accepts
/// (`NFULA_CFG_NLBUFSIZ`; larger is refused with `ERANGE`).
pub const MAX_NLBUFSIZ: u32 = 128 * 1024;

/// Settings of an [`NflogSource`].
///
/// The defaults batch as much as the kernel allows: it sends a datagram when
/// its buffer is full (128 KiB asked, 256 KiB after the kernel's rounding:
/// over a thousand small packets), when `qthresh`
/// packets are in it, or `flush_timeout_cs` (10 ms) after the first packet,
/// whichever comes first. So a busy group costs one wake-up and one read
/// per several hundred packets, and a lone packet still arrives within
/// about 10 ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NflogConfig {
    /// The NFLOG groups to read.
    pub groups: Vec<u16>,
    /// Bytes of each packet to copy (`NFULNL_COPY_PACKET` range).
    pub copy_range: u32,
    /// Socket receive buffer to ask for.
    pub rcvbuf: usize,
    /// Kernel batching buffer per group (`nlbufsiz`), bytes.
    pub nlbufsiz: u32,
    /// Packets the kernel batches per datagram (`qthresh`).
    pub qthresh: u32,
    /// Longest the kernel holds a partial batch, in 1/100 s.
    pub flush_timeout_cs: u32,
    /// Datagrams read per `recvmmsg`.
    pub batch: usize,
    /// Keep each packet's whole netlink message in
    /// [`inetmon_core::event::PacketLog::raw_header`] (for `ipmon -X`).
    pub raw_messages: bool,
}

impl Default for NflogConfig {
    fn default() -> Self {
        NflogConfig {
            groups: vec![0],
            copy_range: 0xffff,
            rcvbuf: netlink::DEFAULT_RCVBUF,
            nlbufsiz: MAX_NLBUFSIZ,
            qthresh: 4096,
            flush_timeout_cs: 1,
            batch: 8,
            raw_messages: false,
        }
    }
}

/// A bad `nflog:` source spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad NFLOG source '{spec}': expected nflog:GROUP[,GROUP…] with groups 0–65535")]
pub struct BadSpec {
    /// The spec as given.
    pub spec: String,
}

/// Parses `nflog:0,1` (or `nflog` alone for group 0) into group numbers.
///
/// # Errors
/// [`BadSpec`] for anything else.
pub fn parse_spec(spec: &str) -> Result<Vec<u16>, BadSpec> {
    let bad = || BadSpec {
        spec: spec.to_owned(),
    };
    let rest = spec.strip_prefix("nflog").ok_or_else(bad)?;
    if rest.is_empty() {
        return Ok(vec![0]);
    }
    let list = rest.strip_prefix(':').ok_or_else(bad)?;
    let mut groups = Vec::new();
    for g in list.split(',') {
        let g: u16 = g.trim().parse().map_err(|_| bad())?;
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok(groups)
}

/// Errors of the NFLOG source.
#[derive(Debug, thiserror::Error)]
pub enum NflogSourceError {
    /// Socket setup or reading failed.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// A configuration step was refused.
    #[error("NFLOG group {group}: {step}")]
    Config {
        /// The group.
        group: u16,
        /// Which step (bind, copy mode, …).
        step: &'static str,
        /// The kernel's answer.
        #[source]
        source: NetlinkError,
    },
    /// The kernel refused to bind the group with `EPERM`: another socket
    /// (ulogd, another ipmon) has it (`nfulnl_recv_config` checks the
    /// instance's port id). Without `CAP_NET_ADMIN` the kernel says `EPERM`
    /// too, but the binary checks that capability first and says so.
    #[error("NFLOG group {group} is already bound by another process")]
    GroupInUse {
        /// The group.
        group: u16,
    },
    /// No group was given.
    #[error("no NFLOG group to read")]
    NoGroups,
}

/// What the kernel accepted when the source was set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NflogFeatures {
    /// Per-group sequence numbers are on (gaps are detected).
    pub seq: bool,
    /// Conntrack info is attached to packets.
    pub conntrack: bool,
    /// The receive buffer the kernel granted, bytes.
    pub rcvbuf: usize,
}

/// A configured NFLOG socket, ready to [`NflogSource::run`].
#[derive(Debug)]
pub struct NflogSource {
    sock: NetlinkSocket,
    cfg: NflogConfig,
    features: NflogFeatures,
}

impl NflogSource {
    /// Opens the socket in the calling thread's network namespace and
    /// configures every group: binds it (after making sure nfnetlink_log is
    /// the logger for IPv4 and IPv6), copy-packet mode with the copy range,
    /// `SEQ|SEQ_GLOBAL|CONNTRACK` flags (without `CONNTRACK` when the kernel
    /// refuses it), and the batching settings.
    ///
    /// # Errors
    /// When the socket cannot be opened (needs `CAP_NET_ADMIN`) or the kernel
    /// refuses a step (for example the group is bound by another process).
    pub fn open(cfg: NflogConfig) -> Result<Self, NflogSourceError> {
        if cfg.groups.is_empty() {
            return Err(NflogSourceError::NoGroups);
        }
        let mut sock = NetlinkSocket::open_netfilter()?;
        let rcvbuf = sock.set_recv_buffer(cfg.rcvbuf)?;
        for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
            // Kernels since 3.17 accept and ignore these; older ones need the
            // logger bound, and refuse a second bind until unbound.
            let seq = sock.next_seq();
            if sock.request(&mut config::pf_bind(family, seq)).is_err() {
                let seq = sock.next_seq();
                let _ = sock.request(&mut config::pf_unbind(family, seq));
                let seq = sock.next_seq();
                let _ = sock.request(&mut config::pf_bind(family, seq));
            }
        }
        let mut conntrack = true;
        for &group in &cfg.groups {
            let step = |step, r: Result<(), NetlinkError>| {
                r.map_err(|source| NflogSourceError::Config {
                    group,
                    step,
                    source,
                })
            };
            let seq = sock.next_seq();
            let bound = sock.request(&mut config::bind(group, seq));
            if matches!(&bound, Err(NetlinkError::Nack(e)) if e.raw_os_error() == Some(libc::EPERM))
            {
                return Err(NflogSourceError::GroupInUse { group });
            }
            step("bind", bound)?;
            let seq = sock.next_seq();
            step(
                "copy mode",
                sock.request(&mut config::copy_packet(group, cfg.copy_range, seq)),
            )?;
            let all = config::F_SEQ | config::F_SEQ_GLOBAL;
            let seq = sock.next_seq();
            if !conntrack
                || sock
                    .request(&mut config::flags(group, all | config::F_CONNTRACK, seq))
                    .is_err()
            {
                conntrack = false;
                let seq = sock.next_seq();
                step("flags", sock.request(&mut config::flags(group, all, seq)))?;
            }
            let seq = sock.next_seq();
            step(
                "nlbufsiz",
                sock.request(&mut config::nlbufsiz(group, cfg.nlbufsiz, seq)),
            )?;
            let seq = sock.next_seq();
            step(
                "qthresh",
                sock.request(&mut config::qthresh(group, cfg.qthresh, seq)),
            )?;
            let seq = sock.next_seq();
            step(
                "timeout",
                sock.request(&mut config::timeout(group, cfg.flush_timeout_cs, seq)),
            )?;
        }
        let features = NflogFeatures {
            seq: true,
            conntrack,
            rcvbuf,
        };
        Ok(NflogSource {
            sock,
            cfg,
            features,
        })
    }

    /// What the kernel accepted.
    #[must_use]
    pub fn features(&self) -> NflogFeatures {
        self.features
    }

    /// One producer per group, in the order of [`NflogConfig::groups`].
    #[must_use]
    pub fn producers(&self, pipeline: &Pipeline) -> Vec<Producer> {
        self.cfg
            .groups
            .iter()
            .map(|g| pipeline.producer(Source::Nflog(*g)))
            .collect()
    }

    /// Runs the source on a new thread (which inherits the caller's network
    /// namespace) until `shutdown` or until the pipeline closes.
    ///
    /// # Errors
    /// The thread returns a read error that is not loss (loss is reported in
    /// band and reading goes on).
    pub fn spawn(
        self,
        pipeline: &Pipeline,
        shutdown: Shutdown,
    ) -> std::io::Result<JoinHandle<Result<(), NflogSourceError>>> {
        let producers = self.producers(pipeline);
        std::thread::Builder::new()
            .name("nflog".into())
            .spawn(move || self.run(producers, &shutdown))
    }

    /// Reads until `shutdown` is set or the pipeline closes. `producers`
    /// must be one per group, in the order of [`NflogConfig::groups`] (see
    /// [`NflogSource::producers`]).
    ///
    /// # Errors
    /// A read error that is not loss.
    pub fn run(
        self,
        mut producers: Vec<Producer>,
        shutdown: &Shutdown,
    ) -> Result<(), NflogSourceError> {
        let mut batch = RecvBatch::new(self.cfg.batch, read_buffer(&self.cfg));
        let mut state = ReadState {
            groups: self.cfg.groups.clone(),
            last_seq: vec![None; self.cfg.groups.len()],
            ifnames: RefCell::new(IfNames::new()),
            ifname_memo: RefCell::new(Vec::new()),
            names: core_nflog::NameCache::default(),
            seq_enabled: self.features.seq,
            raw_messages: self.cfg.raw_messages,
            held: Vec::new(),
            decoded: Vec::new(),
        };
        let hold = Duration::from_millis(u64::from(self.cfg.flush_timeout_cs) * 10) + HOLD_MARGIN;
        // When the socket was last found empty with packets held.
        let mut idle_since: Option<Instant> = None;
        while !shutdown.is_set() {
            match self.sock.recv_batch(&mut batch) {
                Ok(0) => {
                    let mut wake = IDLE_WAKE;
                    if !state.held.is_empty() {
                        let since = *idle_since.get_or_insert_with(Instant::now);
                        let waited = since.elapsed();
                        if waited >= hold {
                            if state.release_held(&mut producers, None).is_err() {
                                return Ok(());
                            }
                            idle_since = None;
                        } else {
                            wake = hold - waited;
                        }
                    }
                    for p in &mut producers {
                        if p.send_batch().is_err() || p.try_flush_lost().is_err() {
                            return Ok(());
                        }
                    }
                    netlink::wait_readable(self.sock.as_raw_fd(), shutdown.waker(), Some(wake))?;
                }
                Ok(_) => {
                    idle_since = None;
                    for (datagram, truncated) in batch.datagrams() {
                        if state.datagram(datagram, truncated, &mut producers).is_err() {
                            return Ok(());
                        }
                    }
                    // One hand-over per read, not per packet.
                    for p in &mut producers {
                        if p.send_batch().is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(NetlinkError::Overrun) => {
                    if state.overrun(&mut producers).is_err() {
                        return Ok(());
                    }
                }
                Err(e) => {
                    let _ = state.release_held(&mut producers, None);
                    for p in &mut producers {
                        let _ = p.send_batch();
                    }
                    return Err(e.into());
                }
            }
        }
        let _ = state.release_held(&mut producers, None);
        for p in &mut producers {
            let _ = p.send_batch();
        }
        Ok(())
    }
}

/// The largest datagram the kernel can send for `cfg`, in bytes. It
/// allocates `max(nlbufsiz, one packet)` plus its own overhead, which the
/// allocator rounds up to a power of two for large sizes, and then fills
/// the whole allocation (`skb_tailroom`): a 128 KiB `nlbufsiz` gives
/// datagrams of up to 256 KiB.
fn read_buffer(cfg: &NflogConfig) -> usize {
    let want = (cfg.nlbufsiz as usize).max(cfg.copy_range as usize + 4096);
    (want + 4096).next_power_of_two()
}

/// Per-run decoding state.
struct ReadState {
    groups: Vec<u16>,
    last_seq: Vec<Option<u32>>,
    ifnames: RefCell<IfNames>,
    /// The names looked up for the datagram being decoded, shared with the
    /// events that carry them.
    ifname_memo: RefCell<Vec<(u32, Option<SharedStr>)>>,
    /// Interface, group and prefix names shared between packets, so that a
    /// busy rule does not allocate them for every packet.
    names: core_nflog::NameCache,
    seq_enabled: bool,
    /// Copy each message into `raw_header` ([`NflogConfig::raw_messages`]).
    raw_messages: bool,
    /// Packets without a kernel timestamp, in log order, each with the
    /// index of its producer, waiting for the next timestamped packet.
    held: Vec<(usize, Event)>,
    /// Per-producer count of the datagram being decoded (storage kept).
    decoded: Vec<u64>,
}

/// The name of interface `idx` from the datagram's memo, looked up in
/// `names` (which checks its age and may call the kernel) the first time.
/// Shared, so that naming each packet copies no string.
fn memo_name(
    memo: &RefCell<Vec<(u32, Option<SharedStr>)>>,
    names: &RefCell<IfNames>,
    idx: u32,
) -> Option<SharedStr> {
    let mut memo = memo.borrow_mut();
    if let Some((_, name)) = memo.iter().find(|(i, _)| *i == idx) {
        return name.clone();
    }
    let name = names.borrow_mut().name(idx).map(SharedStr::from);
    memo.push((idx, name.clone()));
    name
}

fn metrics(p: &Producer) -> &SourceMetrics {
    p.metrics()
}

impl ReadState {
    fn index(&self, group: u16) -> usize {
        self.groups.iter().position(|g| *g == group).unwrap_or(0)
    }

    /// Sends the held packets in order, each with the earlier of its read
    /// time and `until` (the time of the packet the kernel logged next).
    fn release_held(
        &mut self,
        producers: &mut [Producer],
        until: Option<inetmon_core::event::Timestamp>,
    ) -> Result<(), Closed> {
        for (i, mut event) in self.held.drain(..) {
            if let (Some(until), Event::Packet(log)) = (until, &mut event) {
                log.header.time = log.header.time.min(until);
            }
            if let Some(p) = producers.get_mut(i) {
                p.push(event)?;
            }
        }
        Ok(())
    }

    fn overrun(&mut self, producers: &mut [Producer]) -> Result<(), Closed> {
        self.release_held(producers, None)?;
        let Some(p) = producers.first_mut() else {
            return Ok(());
        };
        if self.seq_enabled {
            // The next sequence gap reports the exact count.
            return Ok(());
        }
        metrics(p).lost_kernel.fetch_add(1, Ordering::Relaxed);
        let header = p.header(now());
        let lost = Lost {
            header,
            stage: LossStage::Kernel,
            count: 1,
            kinds: vec![EventKind::Packet],
            seq_range: None,
            breakdown: Vec::new(),
        };
        p.send(Event::Lost(lost)).map(|_| ())
    }

    fn datagram(
        &mut self,
        datagram: &[u8],
        truncated: bool,
        producers: &mut [Producer],
    ) -> Result<(), Closed> {
        if truncated {
            self.release_held(producers, None)?;
            if let Some(p) = producers.first_mut() {
                SourceMetrics::add(&metrics(p).malformed, 1);
                let header = p.header(now());
                let m = Malformed {
                    header,
                    offset: 0,
                    skipped: datagram.len() as u64,
                    reason: "netlink datagram larger than the read buffer was cut".into(),
                };
                p.send(Event::Malformed(m))?;
            }
            return Ok(());
        }
        // One clock read per datagram (up to `qthresh` packets the kernel
        // batched), not per packet: they were all read at this moment. The
        // interface names are looked up once per datagram too.
        let read_at = now();
        self.ifname_memo.borrow_mut().clear();
        // Packets received and decoded per producer, added to the shared
        // counters once per datagram rather than twice per packet.
        let mut decoded = std::mem::take(&mut self.decoded);
        decoded.clear();
        decoded.resize(producers.len(), 0);
        let r = self.packets(datagram, read_at, producers, &mut decoded);
        for (p, n) in producers.iter().zip(&decoded) {
            if *n > 0 {
                SourceMetrics::add(&metrics(p).received, *n);
                SourceMetrics::add(&metrics(p).decoded, *n);
            }
        }
        self.decoded = decoded;
        r
    }

    /// The packets of one datagram read at `read_at`, counting those
    /// decoded per producer in `decoded`.
    fn packets(
        &mut self,
        datagram: &[u8],
        read_at: inetmon_core::event::Timestamp,
        producers: &mut [Producer],
        decoded: &mut [u64],
    ) -> Result<(), Closed> {
        for item in core_nflog::packets_with_message(datagram) {
            match item {
                Ok((pkt, message)) => {
                    let i = self.index(pkt.group);
                    if producers.get(i).is_none() {
                        continue;
                    }
                    if pkt.seq.is_some_and(|seq| self.is_gap(i, seq)) {
                        // Report the loss after what was logged before it.
                        self.release_held(producers, None)?;
                    }
                    let Some(p) = producers.get_mut(i) else {
                        continue;
                    };
                    if let Some(n) = decoded.get_mut(i) {
                        *n += 1;
                    }
                    if let Some(seq) = pkt.seq {
                        self.check_seq(i, seq, p)?;
                    }
                    let (names, memo) = (&self.ifnames, &self.ifname_memo);
                    let ifname = |idx: u32| memo_name(memo, names, idx);
                    // A spent event from the consumer is overwritten: no
                    // allocation per packet in the steady state.
                    let reuse = p.reuse_packet();
                    let mut log = core_nflog::to_packet_log_reusing(
                        &pkt,
                        read_at,
                        p.source(),
                        &ifname,
                        &mut self.names,
                        reuse,
                    );
                    log.header.seq = p.next_seq();
                    if self.raw_messages {
                        log.raw_header.extend_from_slice(message);
                    }
                    if pkt.timestamp.is_none() {
                        self.held.push((i, Event::Packet(log)));
                        if self.held.len() >= MAX_HELD {
                            self.release_held(producers, None)?;
                        }
                        continue;
                    }
                    let time = log.header.time;
                    self.release_held(producers, Some(time))?;
                    if let Some(p) = producers.get_mut(i) {
                        p.push(Event::Packet(log))?;
                    }
                }
                Err(e) => {
                    self.release_held(producers, None)?;
                    let Some(p) = producers.first_mut() else {
                        continue;
                    };
                    SourceMetrics::add(&metrics(p).received, 1);
                    SourceMetrics::add(&metrics(p).malformed, 1);
                    let header = p.header(now());
                    let m = Malformed {
                        header,
                        offset: 0,
                        skipped: 0,
                        reason: e.to_string(),
                    };
                    p.send(Event::Malformed(m))?;
                }
            }
        }
        Ok(())
    }

    /// Whether `seq` in group slot `i` comes after a gap (see
    /// [`ReadState::check_seq`]).
    fn is_gap(&self, i: usize, seq: u32) -> bool {
        let Some(Some(prev)) = self.last_seq.get(i) else {
            return false;
        };
        let gap = seq.wrapping_sub(prev.wrapping_add(1));
        gap != 0 && gap < 1 << 31
    }

    /// Reports a gap before `seq` in group slot `i`.
    fn check_seq(&mut self, i: usize, seq: u32, p: &mut Producer) -> Result<(), Closed> {
        let Some(last) = self.last_seq.get_mut(i) else {
            return Ok(());
        };
        let prev = last.replace(seq);
        let Some(prev) = prev else { return Ok(()) };
        let expected = prev.wrapping_add(1);
        let gap = seq.wrapping_sub(expected);
        if gap == 0 || gap >= 1 << 31 {
            return Ok(());
        }
        SourceMetrics::add(&metrics(p).lost_kernel, u64::from(gap));
        let header = p.header(now());
        let lost = Lost {
            header,
            stage: LossStage::Kernel,
            count: u64::from(gap),
            kinds: vec![EventKind::Packet],
            seq_range: Some((u64::from(expected), u64::from(seq.wrapping_sub(1)))),
            breakdown: Vec::new(),
        };
        p.send(Event::Lost(lost)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_buffer_holds_what_the_kernel_allocates() {
        let cfg = NflogConfig::default();
        assert_eq!(read_buffer(&cfg), 256 * 1024);
        let small = NflogConfig {
            nlbufsiz: 16 * 1024,
            copy_range: 100,
            ..NflogConfig::default()
        };
        assert_eq!(read_buffer(&small), 32 * 1024);
    }

    #[test]
    fn specs() {
        assert_eq!(parse_spec("nflog:0,1"), Ok(vec![0, 1]));
        assert_eq!(parse_spec("nflog:5"), Ok(vec![5]));
        assert_eq!(parse_spec("nflog"), Ok(vec![0]));
        assert!(parse_spec("nflog:").is_err());
        assert!(parse_spec("nflog:70000").is_err());
        assert!(parse_spec("nflogx").is_err());
    }
}
