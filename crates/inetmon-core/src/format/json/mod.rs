//! One JSON object per event, one event per line ("JSON lines").
//!
//! [`JsonWriter`] appends the text of each event into a buffer it reuses, so
//! formatting allocates nothing per event, and the caller writes each line
//! with one `write_all`. The writer is hand-written (numbers by `itoa`, a
//! small string escaper, a per-second cache of the RFC 3339 date and time)
//! because it is on the hot path; the tests parse every kind of output with
//! `serde_json` and compare it with the event's values.
//!
//! # Wire format (schema version 1)
//!
//! Each line is a JSON object followed by `\n`. Keys are snake_case and
//! always present in the order listed; a value that is unknown is `null`
//! (never a missing key), except `packet`, which is absent when the writer
//! was told to leave packet bytes out ([`JsonOptions::packet_bytes`]). The
//! same fact has the same key in every kind (`src`, `dst`, `sport`,
//! `dport`, `protocol`, `rule`, `packets`, `bytes`, …).
//!
//! ## Common members
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `v` | number | schema version, [`JSON_SCHEMA_VERSION`]; bumped on any incompatible change |
//! | `kind` | string | `packet`, `nat`, `state`, `sock`, `drop`, `trace`, `debug`, `lost` or `malformed` |
//! | `time` | string | RFC 3339 UTC with nanoseconds, `2026-11-21T08:30:27.123456789Z` (years outside 0–9999 as ISO 8601 expanded years) |
//! | `source` | string | where the event came from: `nflog:GROUP`, `conntrack`, `pcap:PATH`, `iplog:PATH`, `stdin`, `sockets`, `datapath`, `nftrace`, `pipeline` |
//! | `seq` | number | sequence number, counted per source from 1 |
//!
//! ## `packet`: a logged packet
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `count` | number | identical consecutive records merged into this one (≥ 1) |
//! | `interface` | string | interface name |
//! | `direction` | string/null | `in` or `out` |
//! | `group` | string/null | rule group; `null` when no rule matched (ipmon's `@-1`) |
//! | `rule` | number/null | rule number in the group, from 1 |
//! | `action` | string | `pass`, `block`, `log`, `nomatch` or `unknown` |
//! | `flags` | array of strings | any of `short`, `keep_state`, `keep_frag`, `log_body`, `low_ttl`, `oow`, `bad`, `nat`, `bad_nat`, `bad_src`, `multicast`, `broadcast`, `mbcast`, in that order |
//! | `log_tag` | number | rule log tag; 0 when none |
//! | `nat_tag` | string | NAT tag; empty when none |
//! | `reason` | number/null | IP Filter block reason index |
//! | `log_level` | number/null | syslog facility\|priority from the rule |
//! | `family` | number | address family as the kernel numbers it (2 IPv4, 10 IPv6 on Linux); 0 unknown |
//! | `protocol` | number/null | IP protocol (for IPv6 the one after the extension headers; 44 for a fragment) |
//! | `protocol_name` | string/null | its IANA keyword for common protocols (`tcp`, `udp`, `icmp`, `ipv6-icmp`, …) |
//! | `src`, `dst` | string/null | addresses (IPv6 in RFC 5952 form) |
//! | `sport`, `dport` | number/null | TCP/UDP ports (not for later fragments) |
//! | `tcp_flags` | string/null | TCP flag letters in ipmon's order `ARSFUPEC` (`""` for none) |
//! | `icmp_type`, `icmp_code` | number/null | ICMP or ICMPv6 type and code |
//! | `len` | number/null | packet length from the IP header (IPv6: payload length + 40) |
//! | `caplen` | number | bytes of the packet that were logged |
//! | `header_len` | number | bytes of `packet` that are headers (ipmon's split for `-b`) |
//! | `ipf_seq` | number/null | IP Filter log sequence number |
//! | `packet` | string | the logged bytes from the IP header on, lower-case hex (absent when turned off) |
//! | `nflog` | object/null | NFLOG metadata, below |
//!
//! `nflog`: `group` (number), `prefix` (string), `hook` (number/null),
//! `hw_protocol` (number, the ethertype), `ifindex_in`, `ifindex_out`,
//! `mark`, `uid`, `gid`, `seq`, `seq_global`, `ct_info`, `orig_len` (each
//! number/null).
//!
//! ## `debug`: one step of an nftables trace
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `trace_id` | number | `NFTA_TRACE_ID`, the same for every step of one packet (`nft monitor trace` prints it as 8 hex digits) |
//! | `family` | string | the table's family: `inet`, `ip`, `ip6`, `arp`, `bridge`, `netdev` (or `family N`) |
//! | `table`, `chain` | string | where the step happened |
//! | `type` | string | `rule` (a rule matched), `return` (end of a chain), `policy` (end of a base chain), or `other:N` |
//! | `rule_handle` | number/null | the rule's handle (`nft -a list ruleset`), for `rule` steps |
//! | `rule_comment` | string/null | the rule's comment, when it has one and the monitor could look the rule up |
//! | `verdict` | string/null | as nft prints it: `accept`, `drop`, `continue`, `jump CHAIN`, `goto CHAIN`, `return`, `queue`, … or `verdict N` |
//! | `verdict_code`, `verdict_chain` | number/null, string/null | the raw `NFTA_VERDICT_CODE` (signed) and target chain |
//! | `policy` | string/null | for `policy` steps: `accept` or `drop` |
//! | `nfproto` | number/null | the packet's protocol family (2 IPv4, 10 IPv6) |
//! | `iif`, `iifname`, `iiftype` | number/null, string/null, number/null | input interface index, name (monitor's namespace), `ARPHRD_*` type |
//! | `oif`, `oifname`, `oiftype` | as above | output interface |
//! | `mark` | number/null | packet mark |
//! | `summary` | string/null | connection summary of the packet, as in the monitor line |
//! | `src`, `dst`, `protocol`, `sport`, `dport` | string/null, number/null | the packet's addresses, IP protocol and ports |
//! | `headers_inherited` | bool | the kernel sent no headers with this step; they come from an earlier step of the same `trace_id` |
//! | `ll_header`, `network_header`, `transport_header` | string | the header bytes the kernel sent (at most 20, 40, 20), lower-case hex |
//!
//! ## `nat`: a NAT mapping changed
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `nat_action` | string | `new`, `clone`, `purge`, `destroy`, `flush`, `expire`, or `other:N` |
//! | `nat_type` | string | `map`, `rdr`, `bimap`, `mapblock`, or `other:N` |
//! | `rule` | number | NAT rule number from 1; 0 unknown |
//! | `protocol`, `protocol_name` | number, string/null | as for packets |
//! | `orig_src`, `orig_sport`, `orig_dst`, `orig_dport` | string, number | the original endpoints (ports are ICMP ids for ICMP) |
//! | `new_src`, `new_sport`, `new_dst`, `new_dport` | string, number | the translated endpoints |
//! | `packets`, `bytes` | [number, number]/null | forward, backward |
//! | `conntrack_id` | number/null | Linux conntrack id |
//! | `ipf_seq` | number/null | IP Filter NAT log sequence number |
//!
//! ## `state`: a connection-state entry changed
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `state_type` | string | `new`, `cloned`, `expire`, `flush`, `intermediate`, `remove`, `killed`, `unload`, or `other:N` |
//! | `protocol`, `protocol_name` | number, string/null | as for packets |
//! | `ip_version` | number | 4 or 6 |
//! | `src`, `dst` | string | addresses |
//! | `sport`, `dport` | number/null | ports, for TCP and UDP |
//! | `icmp_type` | number/null | for ICMP and ICMPv6 |
//! | `tag` | number | state tag; 0 none |
//! | `tcp_state` | [number, number]/null | TCP states of the two sides (IP Filter numbering) |
//! | `packets`, `bytes` | [4 numbers] | forward in, forward out, backward in, backward out |
//! | `conntrack_id` | number/null | Linux conntrack id |
//! | `ipf_seq` | number/null | IP Filter state log sequence number |
//!
//! ## `sock`: a socket operation
//!
//! The members written by [`sock`] (documented there):
//! `op`, `monitor`, `pid`, `tid`, `uid`, `gid`, `comm`, `attribution`,
//! `family`, `type`, `protocol`, `local_addr`, `local_port`, `foreign_addr`,
//! `foreign_port`, `mapped`, `cgroup_id`, `netns`, `cookie`, `errno`,
//! `error`, `initiator`, `existing`, and with process info `cmdline`, `ppid`.
//!
//! ## `drop` and `trace`: packets dropped or traced in the kernel datapath
//!
//! The members written by [`datapath`] (documented
//! there).
//!
//! ## `lost`: events were dropped
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `stage` | string | `kernel`, `channel` or `sink` |
//! | `count` | number | events (or records) lost |
//! | `kinds` | array of strings | kinds of the lost events, when known (else `[]`) |
//! | `seq_range` | [number, number]/null | first and last missing sequence number |
//! | `breakdown` | object, optional | how `count` splits: operation name (socket events), `ring_full` or `skipped_runs` → count; present only when the source knows |
//!
//! ## `malformed`: input that could not be decoded
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `offset` | number | byte offset of the bad record in the source |
//! | `skipped` | number | bytes skipped to resynchronise |
//! | `reason` | string | what was wrong, one line |
//!
//! # Example
//!
//! ```
//! use inetmon_core::event::{Event, Header, Malformed, Source, Timestamp};
//! use inetmon_core::format::json::JsonWriter;
//!
//! let header = Header { time: Timestamp { secs: 1_795_250_372, nanos: 5 }, source: Source::Stdin, seq: 1 };
//! let e = Event::Malformed(Malformed { header, offset: 24, skipped: 16, reason: "bad".into() });
//! let mut w = JsonWriter::new();
//! assert_eq!(
//!     w.format(&e),
//!     b"{\"v\":1,\"kind\":\"malformed\",\"time\":\"2026-11-21T08:39:32.000000005Z\",\
//! \"source\":\"stdin\",\"seq\":1,\"offset\":24,\"skipped\":16,\"reason\":\"bad\"}\n"
//! );
//! ```

mod conntrack;
pub mod datapath;
mod nftrace;
pub(crate) mod packet;
pub mod sock;
mod text;

use std::io;

use crate::event::{Event, Header, Lost, Malformed, Source, JSON_SCHEMA_VERSION};
use text::{int, prefixed_string, string, TimeCache};

/// What the JSON writer includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonOptions {
    /// Include the logged packet bytes as hex (`packet` key). On by default.
    pub packet_bytes: bool,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions { packet_bytes: true }
    }
}

/// Formats events as JSON lines; see the module docs for the schema.
#[derive(Debug, Clone)]
pub struct JsonWriter {
    buf: Vec<u8>,
    time: TimeCache,
    options: JsonOptions,
    /// The last file source and its JSON string (escaped once, not for
    /// every event of the file).
    source: Option<(Source, Vec<u8>)>,
}

impl Default for JsonWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonWriter {
    /// A writer with the default options.
    #[must_use]
    pub fn new() -> Self {
        Self::with_options(JsonOptions::default())
    }

    /// A writer with the given options.
    #[must_use]
    pub fn with_options(options: JsonOptions) -> Self {
        JsonWriter {
            buf: Vec::with_capacity(1024),
            time: TimeCache::new(),
            options,
            source: None,
        }
    }

    /// The line for `event`, ending in `\n`. The slice is valid until the
    /// next call.
    pub fn format(&mut self, event: &Event) -> &[u8] {
        let mut out = std::mem::take(&mut self.buf);
        out.clear();
        self.format_into(event, &mut out);
        self.buf = out;
        &self.buf
    }

    /// Appends the line for `event`, ending in `\n`, to `out` (for callers
    /// that collect many lines in their own buffer: no copy).
    pub fn format_into(&mut self, event: &Event, out: &mut Vec<u8>) {
        self.header(out, event);
        match event {
            Event::Packet(p) => packet::fields(out, p, self.options.packet_bytes),
            Event::Nat(n) => conntrack::nat_fields(out, n),
            Event::State(s) => conntrack::state_fields(out, s),
            Event::Sock(s) => {
                out.push(b',');
                sock::write_sock_json(s, out);
            }
            Event::Drop(d) => {
                out.push(b',');
                datapath::write_drop_json(d, out);
            }
            Event::Trace(t) => {
                out.push(b',');
                datapath::write_trace_json(t, out);
            }
            Event::Debug(d) => nftrace::fields(out, d),
            Event::Lost(l) => lost_fields(out, l),
            Event::Malformed(m) => malformed_fields(out, m),
        }
        out.extend_from_slice(b"}\n");
    }

    /// Writes the line for `event` to `w` with one `write_all`.
    ///
    /// # Errors
    ///
    /// The error of the underlying writer.
    pub fn write<W: io::Write>(&mut self, event: &Event, w: &mut W) -> io::Result<()> {
        let line = self.format(event);
        w.write_all(line)
    }

    fn header(&mut self, out: &mut Vec<u8>, event: &Event) {
        let Header { time, source, seq } = event.header();
        out.extend_from_slice(b"{\"v\":");
        int(out, JSON_SCHEMA_VERSION);
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(event.kind().as_str().as_bytes());
        out.extend_from_slice(b"\",\"time\":");
        self.time.write(out, *time);
        out.extend_from_slice(b",\"source\":");
        match source {
            Source::Pcap(_) | Source::Iplog(_) => {
                if self.source.as_ref().is_none_or(|(s, _)| s != source) {
                    let mut text = Vec::new();
                    source_string(&mut text, source);
                    self.source = Some((source.clone(), text));
                }
                if let Some((_, text)) = &self.source {
                    out.extend_from_slice(text);
                }
            }
            _ => source_string(out, source),
        }
        out.extend_from_slice(b",\"seq\":");
        int(out, *seq);
    }
}

/// The source's display form as a JSON string, without allocating for the
/// common kinds.
fn source_string(out: &mut Vec<u8>, source: &Source) {
    match source {
        Source::Nflog(g) => {
            out.extend_from_slice(b"\"nflog:");
            int(out, *g);
            out.push(b'"');
        }
        Source::Conntrack => out.extend_from_slice(b"\"conntrack\""),
        Source::Stdin => out.extend_from_slice(b"\"stdin\""),
        Source::Sockets => out.extend_from_slice(b"\"sockets\""),
        Source::Datapath => out.extend_from_slice(b"\"datapath\""),
        Source::Nftrace => out.extend_from_slice(b"\"nftrace\""),
        Source::Pipeline => out.extend_from_slice(b"\"pipeline\""),
        Source::Pcap(path) => prefixed_string(out, "pcap:", path),
        Source::Iplog(path) => prefixed_string(out, "iplog:", path),
    }
}

fn lost_fields(out: &mut Vec<u8>, l: &Lost) {
    let Lost {
        header: _,
        stage,
        count,
        kinds,
        seq_range,
        breakdown,
    } = l;
    out.extend_from_slice(b",\"stage\":\"");
    out.extend_from_slice(stage.as_str().as_bytes());
    out.extend_from_slice(b"\",\"count\":");
    int(out, *count);
    out.extend_from_slice(b",\"kinds\":[");
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(k.as_str().as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"],\"seq_range\":");
    text::opt_pair(out, *seq_range);
    if !breakdown.is_empty() {
        out.extend_from_slice(b",\"breakdown\":{");
        for (i, (label, n)) in breakdown.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(b"\":");
            int(out, *n);
        }
        out.push(b'}');
    }
}

fn malformed_fields(out: &mut Vec<u8>, m: &Malformed) {
    let Malformed {
        header: _,
        offset,
        skipped,
        reason,
    } = m;
    out.extend_from_slice(b",\"offset\":");
    int(out, *offset);
    out.extend_from_slice(b",\"skipped\":");
    int(out, *skipped);
    out.extend_from_slice(b",\"reason\":");
    string(out, reason);
}

#[cfg(test)]
mod tests;
