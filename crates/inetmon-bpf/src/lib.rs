//! inetmon's eBPF socket-event programs.
//!
//! - `bpf/sock.bpf.c`: the C programs (tracepoints and cgroup sock hooks; no
//!   kprobes), built against the committed `bpf/vmlinux.h` with CO-RE.
//! - `bpf/sock.bpf.o`: the compiled object, committed so that `cargo build`
//!   needs no clang; `build-bpf.sh --check` rebuilds it and fails on any
//!   difference.
//! - [`record`]: the `#[repr(C)]` mirror of the ring-buffer record, with
//!   layout tests against the C header.
//! - [`loader`]: loads the object with aya, sets the in-kernel filters and
//!   attaches every program.

pub mod loader;
pub mod record;

/// The compiled BPF object (`bpf/sock.bpf.o`), 8-byte aligned for the ELF
/// parser.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/sock.bpf.o");
