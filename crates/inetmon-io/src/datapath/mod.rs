//! The datapath producer of `inetmon monitor`: loads `inetmon-bpf`'s
//! `datapath.bpf.o` (with [`crate::bpf::datapath`]) (`tp_btf/kfree_skb` for drops, `tc_ingress` /
//! `tc_egress` classifiers on the `--iface` interfaces for traces, the
//! cgroup skb programs and owner hooks on the cgroup v2 root for the
//! `from-stack`/`to-stack` traces of `--stack`), writes
//! the in-kernel filters into `.rodata` and the filter maps, reads the ring
//! buffer, and turns records into [`Event::Drop`] / [`Event::Trace`] with
//! reason names from the running kernel's BTF, symbolised locations and
//! interface names. Reserve failures become in-band [`Event::Lost`]; in
//! summary mode the per-CPU `drop_counts` map is read instead of records.
//!
//! - [`devtype`]: [`LinkKind`], Ethernet or L3 device, from `ARPHRD_*`.
//! - [`enrich`]: drop reasons from BTF, `/proc/kallsyms`, the netns inode,
//!   the boot time on the wall clock.
//! - [`netns`]: `--netns` selection, `ip netns` names, interface names
//!   resolved in the drop's own namespace.
//! - [`producer`]: [`DatapathProducer`], the read loop body.
//!
//! [`Event::Drop`]: inetmon_core::event::Event::Drop
//! [`Event::Trace`]: inetmon_core::event::Event::Trace
//! [`Event::Lost`]: inetmon_core::event::Event::Lost

pub mod devtype;
pub mod enrich;
pub mod netns;
pub mod producer;

pub use crate::bpf::datapath::{DatapathPrograms, KernelConfig};
pub use devtype::{link_kind, LinkKind};
pub use producer::{DatapathProducer, DropCounter};

/// What went wrong in the datapath producer.
pub type DatapathError = crate::bpf::ProducerError;
