//! inetmon's eBPF programs and what user space needs to know about them,
//! without a syscall: the compiled objects, the records they write and the
//! operation mask. Loading and attaching is `inetmon-io`'s (`bpf`); the
//! records are decoded by `inetmon-core` (`decode::sock`,
//! `decode::datapath`).
//!
//! - `bpf/sock.bpf.c` (socket events: tracepoints and cgroup sock hooks, no
//!   kprobes) and `bpf/datapath.bpf.c` (drops from `tp_btf/kfree_skb`,
//!   traces from tc classifiers), built against the committed
//!   `bpf/vmlinux.h` with CO-RE. Their compiled objects, [`OBJECT`] and
//!   [`DATAPATH_OBJECT`], are committed so that `cargo build` needs no
//!   clang; `build-bpf.sh --check` rebuilds them and fails on any
//!   difference.
//! - [`record`]: `#[repr(C)]` mirrors of both records (`bpf/inetmon_sock.h`,
//!   `bpf/datapath.h`), with their sizes and offsets asserted at compile
//!   time and checked against the C headers by the build script.
//! - [`watch`]: the operation mask (`--watch`, the `WATCH_*` bits of
//!   `bpf/inetmon_sock.h`) and which programs each operation needs.

#![forbid(unsafe_code)]

pub mod record;
pub mod watch;

/// Bytes aligned to 8, as the ELF parser of the loader wants them.
#[repr(C, align(8))]
struct Aligned<T: ?Sized>(T);

static SOCK_ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!("../bpf/sock.bpf.o"));
static DATAPATH_ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!("../bpf/datapath.bpf.o"));

/// The compiled socket-event object (`bpf/sock.bpf.o`), 8-byte aligned.
/// Loaded by `inetmon-io`'s `bpf::sockets`.
pub static OBJECT: &[u8] = &SOCK_ALIGNED.0;

/// The compiled datapath object (`bpf/datapath.bpf.o`: `tp_btf/kfree_skb`
/// drops and the `tc_ingress`/`tc_egress` classifiers; see
/// [`record::datapath`] for the records), 8-byte aligned. Loaded by
/// `inetmon-io`'s `bpf::datapath`.
pub static DATAPATH_OBJECT: &[u8] = &DATAPATH_ALIGNED.0;

#[cfg(test)]
mod tests {
    use std::process::Command;

    /// The committed object is what `build-bpf.sh` makes from the sources.
    /// Needs clang, llvm-strip and libbpf headers; skipped (with a reason)
    /// without them unless `INETMON_REQUIRE_BPF_BUILD=1`.
    #[test]
    fn committed_object_matches_source() {
        let have = |c: &str| Command::new(c).arg("--version").output().is_ok();
        let headers = std::path::Path::new("/usr/include/bpf/bpf_helpers.h").exists();
        if !(have("clang") && have("llvm-strip") && headers) {
            assert!(
                std::env::var("INETMON_REQUIRE_BPF_BUILD").as_deref() != Ok("1"),
                "INETMON_REQUIRE_BPF_BUILD=1 but clang/llvm-strip/libbpf-dev missing"
            );
            #[allow(clippy::print_stdout)]
            {
                println!("skipped: clang, llvm-strip or libbpf-dev headers missing");
            }
            return;
        }
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/build-bpf.sh"))
            .arg("--check")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn objects_are_aligned() {
        assert_eq!(super::OBJECT.as_ptr().align_offset(8), 0);
        assert_eq!(super::DATAPATH_OBJECT.as_ptr().align_offset(8), 0);
    }

    #[test]
    fn object_is_an_elf_for_bpf() {
        assert_eq!(super::OBJECT.get(..4), Some(&b"\x7fELF"[..]));
        // e_machine EM_BPF = 247 at offset 18 (little endian on x86/arm64).
        assert_eq!(super::OBJECT.get(18..20), Some(&247u16.to_le_bytes()[..]));
        assert_eq!(super::DATAPATH_OBJECT.get(..4), Some(&b"\x7fELF"[..]));
        assert_eq!(
            super::DATAPATH_OBJECT.get(18..20),
            Some(&247u16.to_le_bytes()[..])
        );
    }
}
