//! inetmon's eBPF programs: socket events (`sock.bpf.c`) and the datapath
//! monitor (`datapath.bpf.c`, see [`DATAPATH_OBJECT`]).
//!
//! - `bpf/sock.bpf.c`: the C programs (tracepoints and cgroup sock hooks; no
//!   kprobes), built against the committed `bpf/vmlinux.h` with CO-RE.
//! - `bpf/sock.bpf.o`: the compiled object, committed so that `cargo build`
//!   needs no clang; `build-bpf.sh --check` rebuilds it and fails on any
//!   difference.
//! - [`record`]: the `#[repr(C)]` mirror of the ring-buffer record, with
//!   layout tests against the C header.
//! - [`loader`]: loads the object with aya, sets the in-kernel filters and
//!   the operation mask, and attaches the programs the mask needs.
//! - [`watch`]: the operation mask (`--watch`) and which programs each
//!   operation needs.
//! - [`progstats`]: the runs the kernel skipped (`recursion_misses`), read
//!   by both loaders and reported as loss.

pub mod loader;
pub mod progstats;
pub mod record;
pub mod watch;

/// The compiled BPF object (`bpf/sock.bpf.o`), 8-byte aligned for the ELF
/// parser.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/sock.bpf.o");

/// The compiled datapath object (`bpf/datapath.bpf.o`: `tp_btf/kfree_skb`
/// drops and the `tc_ingress`/`tc_egress` classifiers; see
/// `bpf/datapath.h` for the record layout), 8-byte aligned for the ELF
/// parser. Loaded by `inetmon-io`'s datapath producer.
pub static DATAPATH_OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/datapath.bpf.o");

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
