//! inetmon's Linux side: producers that read the kernel (NFLOG, conntrack) and
//! files, the bounded pipeline that carries events to sinks, the sinks
//! (stdout, files, syslog), and daemon support. All syscalls live here.
//!
//! - [`netlink`]: a netfilter netlink socket (batched reads, large buffers,
//!   `ENOBUFS` as loss).
//! - [`nflog`], [`conntrack`]: live producers.
//! - [`file`](mod@file): file and stdin producers, with `tail -f` following.
//! - [`parallel_read`]: a classic pcap file decoded and formatted on every
//!   core, written in file order.
//! - [`pipeline`]: bounded channels from producers to sinks, with loss counted.
//! - [`consumer`]: the one consumer loop (stage: filter → format; sinks),
//!   which every subcommand configures; [`outputs`]: its sinks.
//! - [`sink`]: stdout, files (reopened on SIGHUP), syslog.
//! - [`daemon`]: daemonising and pid files.
//! - [`clients`]: the daemon's client socket: the hub that fans events out
//!   to each client's bounded queue, peer checks, and the client side.
//! - [`daemon_config`]: the daemon's TOML configuration, validated.
//! - [`service`]: the daemon's runtime (producers → consumer → journal and
//!   the components [`service::assemble`] wires).
//! - [`safe_open`]: opening paths for writing as root without following
//!   links or trusting directories another user controls.
//! - [`signals`], [`shutdown`]: SIGINT/SIGTERM/SIGHUP flags and stopping producers.
//! - [`ifname`]: cached interface names.
//! - [`export`]: the journal exported to NATS JetStream (`[export.nats]`)
//!   and read back by `inetmon collect`.
//! - [`journal`]: the SQLite event journal (batched writes, sync modes,
//!   retention, gap records, queries, verify).
//! - [`runtime`]: the process's one tokio runtime for network components.
//! - [`resolver`]: cached, non-blocking reverse DNS for `-n`.
//! - [`bpf`]: loading and attaching the eBPF programs of `inetmon-bpf`
//!   (socket events, datapath), mounts, program statistics.
//! - [`sockets`]: the eBPF socket-event producer (`inetmon sockets`).
//! - [`datapath`]: the eBPF datapath producer (`inetmon monitor`: drops,
//!   traces).
//! - [`metrics`]: Prometheus metrics of the stream (a sink) and the
//!   registry other components add to.
//! - [`web`]: the metrics listener: `/metrics` and the live web view.

pub mod aha;
pub mod bpf;
pub mod clients;
pub mod clock;
pub mod conntrack;
pub mod consumer;
pub mod daemon;
pub mod daemon_config;
pub mod datapath;
mod debug_fields;
pub mod export;
mod fdwait;
pub mod file;
pub mod ifname;
pub mod journal;
pub mod kernel_loss;
pub mod metrics;
pub mod netlink;
pub mod nflog;
pub mod nftrace;
pub mod outputs;
pub mod parallel_read;
pub mod pipeline;
pub mod resolver;
pub mod runtime;
pub mod safe_open;
pub mod service;
pub mod shutdown;
pub mod signals;
pub mod sink;
pub mod sockets;
mod subscription;
pub mod web;
