//! The eBPF socket-event producer: loads and attaches `inetmon-bpf`'s
//! programs (with [`crate::bpf::sockets`]), reads the ring buffer, decodes records into
//! [`Event::Sock`](inetmon_core::event::Event::Sock), turns per-CPU
//! reserve-failure counters into in-band [`Event::Lost`](inetmon_core::event::Event::Lost) events, and
//! optionally adds `/proc` details (info level 3) and a `sock_diag` snapshot
//! of sockets that already exist (`--existing`).
//!
//! - [`producer`]: [`SocketsProducer`], the loop body.
//! - [`procinfo`]: command line and parent pid from `/proc`.
//! - [`existing`]: the `sock_diag` snapshot.

pub mod existing;
pub mod procinfo;
pub mod producer;

pub use crate::bpf::sockets::Filters as KernelFilters;
pub use producer::{SocketsConfig, SocketsError, SocketsProducer};
