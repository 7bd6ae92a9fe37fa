//! The one place packet headers are parsed: lax views of link, IP and
//! transport headers, the byte readers they use, the protocol-name table
//! and the TCP-flag table.
//!
//! - [`IpView`]: the IP layer read laxly, every field `None` where the
//!   captured bytes end; [`ipf_header_len`] (IP Filter's `fl_hlen`) and
//!   [`HeaderFacts`] (what JSON shows and ipmon.conf matches) are read
//!   from it, and so are the NFLOG mapping's short/original-length facts.
//! - [`PacketView`]: a capture (Ethernet or IP) dissected into its complete
//!   headers, how far that got and a typed [`Stop`] reason; the monitor
//!   lines and filters read it. UDP to the VXLAN (4789) or Geneve (6081)
//!   port is read as an overlay: [`Tunnel`] holds the encapsulation header
//!   and dissects the packet inside ([`Tunnel::inner_view`]).
//! - [`bytes`], [`proto`], [`tcp`]: the byte readers, protocol table and
//!   TCP-flag table every formatter uses.
//!
//! Nothing here panics: every read is bounds-checked and a packet that is
//! too short simply yields less.
//!
//! The walker is our own rather than `etherparse`'s lax slicing: it reads
//! only the handful of fields the formatters print, follows IP Filter's
//! IPv6 extension-header rules (a fragment header ends the walk), and keeps
//! a field whose bytes are present even when its header is cut short. The
//! measured comparison is in BENCHMARKS.md ("Packet view").

pub mod bytes;
mod facts;
mod ip;
pub mod proto;
mod stop;
pub mod tcp;
mod view;

pub use bytes::{be16, be32};
pub use facts::HeaderFacts;
pub use ip::{ipf_header_len, IpHeader, IpVersion, IpView};
pub use stop::{Layer, Stop};
pub use view::{
    transport, tunnel, Eth, Flow, PacketView, Tunnel, TunnelKind, ETHERTYPE_IPV4, ETHERTYPE_IPV6,
    ETHERTYPE_TEB, ETHERTYPE_VLAN, GENEVE_PORT, L4, MAX_TUNNEL_DEPTH, VXLAN_PORT,
};

#[cfg(test)]
mod tests;
