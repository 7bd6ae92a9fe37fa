//! Decoders: bytes from the kernel or from files into [`crate::event::Event`]s.
//!
//! Every decoder returns errors and never panics. A decoder that reads a
//! stream of records reports a bad record with its offset and resynchronises.
//!
//! - [`netlink`]: netlink message and attribute (TLV) walking.
//! - [`nflog`]: NFLOG packet messages into [`crate::event::PacketLog`].
//! - [`ctnetlink`]: conntrack event messages into NAT and state events.
//! - [`iplog`]: IP Filter binary log records (`iplog_t`), read and written.
//! - [`pcap`]: pcap and pcapng files.

pub mod ctnetlink;
pub mod iplog;
pub mod netlink;
pub mod nflog;
pub mod pcap;
