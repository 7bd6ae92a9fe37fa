//! inetmon's pure core.
//!
//! Everything here works on bytes and values only: no syscalls, no `unsafe`,
//! and no panics on any input. The Linux side (`inetmon-io`) reads the kernel's
//! records and hands the bytes to the decoders here; the decoders produce
//! [`event::Event`]s; the formatters turn events into text.
//!
//! - [`event`]: the one event model every producer emits and every sink consumes.
//! - [`decode`]: decoders for NFLOG and ctnetlink messages, IP Filter binary
//!   logs and pcap/pcapng files.
//! - [`dissect`]: the one packet-header parser: lax views of Ethernet, IPv4,
//!   IPv6 (extension headers), TCP, UDP, ICMP, ICMPv6, IGMP and VRRP headers,
//!   with a typed reason where decoding stopped; the byte readers, the
//!   protocol-name table and the TCP-flag table.
//! - [`format`](mod@format): the ipmon and JSON formatters.
//! - [`btf`]: kernel BTF enums, for drop-reason names.
//! - [`kallsyms`]: kernel address symbolisation from `/proc/kallsyms` text.
//! - [`cidr`]: the one address-prefix type and its rule for IPv4-mapped addresses.
//! - [`monitor_filter`], [`sock_filter`]: the user-space filters of `inetmon
//!   monitor` and `inetmon sockets`.
//! - [`protocol`]: the frames of the daemon's client protocol (handshake,
//!   request and filter, events), encoded and decoded.
//! - [`drop_summary`]: drop counts by reason, location and interface.
//! - [`names`]: protocol and service name tables (from `/etc/protocols` and
//!   `/etc/services` text).
#![forbid(unsafe_code)]

pub mod aha;
pub mod btf;
pub mod cidr;
pub mod decode;
pub mod dissect;
pub mod drop_summary;
pub mod event;
pub mod format;
pub mod ipmon_conf;
pub mod kallsyms;
pub mod monitor_filter;
pub mod names;
pub mod protocol;
pub mod sock_filter;
pub mod syslog_names;
#[cfg(test)]
mod testing;
