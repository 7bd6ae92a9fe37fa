//! The records the BPF programs hand to user space, as `#[repr(C)]` mirrors
//! of the C headers they are written from:
//!
//! - [`sock`]: `struct inetmon_sock_rec` (`bpf/inetmon_sock.h`), the socket
//!   events' ring-buffer record.
//! - [`datapath`]: `struct inetmon_dp_*` (`bpf/datapath.h`), the drop and
//!   trace records and the summary-mode map key.
//!
//! Each mirror asserts its size and field offsets at compile time, and the
//! build script (`build.rs`) compiles the C headers with static assertions
//! generated from these very structs (sizes, offsets, constants) and from
//! [`crate::watch`]'s bits: if C and Rust disagree, the crate does not
//! build. The decoders in `inetmon-core` (`decode::sock`,
//! `decode::datapath`) read records at these structs' `offset_of!`
//! offsets, without `unsafe`.

pub mod datapath;
pub mod sock;
