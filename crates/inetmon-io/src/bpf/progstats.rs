//! Program runs the kernel skipped: `recursion_misses`.
//!
//! The kernel does not run a tracing program (tracepoint, `tp_btf`, kprobe)
//! when the run would nest inside another BPF program on the same CPU (the
//! per-CPU `bpf_prog_active` guard for tracepoints, the per-program `active`
//! counter for `tp_btf`/fentry). It counts each skipped run in the program's
//! `recursion_misses` (`struct bpf_prog_info`, Linux ≥ 5.12) and nowhere
//! else, so an event the program would have sent is lost without a trace
//! unless user space reads that counter. The loaders read it with
//! `BPF_OBJ_GET_INFO_BY_FD` (aya 0.14's `ProgramInfo` does not expose it) and
//! the producers report increases as loss.
//!
//! A skipped run is not always a lost event (the run might have sent
//! nothing), so loss counted from misses is an upper bound.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Byte offset of `recursion_misses` in `struct bpf_prog_info` (checked
/// against `<linux/bpf.h>` by a test).
pub const RECURSION_MISSES_OFFSET: usize = 208;

/// `BPF_OBJ_GET_INFO_BY_FD`, the `bpf(2)` command.
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;

/// Bytes of `struct bpf_prog_info` asked for: up to and including
/// `recursion_misses`. The kernel fills what it knows and leaves the rest
/// zero (an older kernel only accepts a longer buffer when the tail is zero,
/// which it is), so on kernels without the field the count reads 0.
const INFO_LEN: usize = RECURSION_MISSES_OFFSET + 8;

/// The `info` member of `union bpf_attr`.
#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The program's `recursion_misses` counter (0 on kernels before 5.12).
///
/// # Errors
/// The `bpf(2)` error, e.g. `EBADF` when `prog` is not a program.
pub fn recursion_misses(prog: BorrowedFd<'_>) -> io::Result<u64> {
    // u64 words: the kernel struct is 8-byte aligned.
    let mut info = [0u64; INFO_LEN / 8];
    let fd =
        u32::try_from(prog.as_raw_fd()).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    let mut attr = InfoAttr {
        bpf_fd: fd,
        info_len: INFO_LEN as u32,
        info: info.as_mut_ptr() as u64,
    };
    // SAFETY: `attr` is a valid `bpf_attr.info` for the duration of the call
    // and points at `info`, a writable, 8-byte aligned buffer of exactly
    // `attr.info_len` bytes; the kernel writes at most that many bytes there
    // and updates `attr.info_len`. The size passed is that of `attr`, which
    // the kernel zero-extends to its own `union bpf_attr`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET_INFO_BY_FD,
            std::ptr::addr_of_mut!(attr),
            std::mem::size_of::<InfoAttr>(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if (attr.info_len as usize) < INFO_LEN {
        // The kernel's struct ends before the field: it never skips runs
        // silently in this way (or cannot tell us).
        return Ok(0);
    }
    Ok(info.get(RECURSION_MISSES_OFFSET / 8).copied().unwrap_or(0))
}

/// Turns cumulative counters into increases: remembers the last total and
/// hands out how much it grew.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta {
    seen: u64,
}

impl Delta {
    /// Starts from `initial` (what the counter said when we began: runs
    /// skipped before that are not ours to report).
    #[must_use]
    pub fn new(initial: u64) -> Self {
        Delta { seen: initial }
    }

    /// The growth since the previous call (or since [`Delta::new`]), and
    /// remembers `total`. A total below the last one (a counter that went
    /// away and came back) counts as no growth.
    pub fn update(&mut self, total: u64) -> u64 {
        let d = total.saturating_sub(self.seen);
        self.seen = total;
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_reports_growth_only() {
        let mut d = Delta::new(5);
        assert_eq!(d.update(5), 0);
        assert_eq!(d.update(8), 3);
        assert_eq!(d.update(8), 0);
        assert_eq!(d.update(2), 0, "a smaller total is not negative loss");
        assert_eq!(d.update(4), 2);
    }

    #[test]
    fn offset_matches_linux_bpf_h() {
        let dir = std::env::temp_dir().join(format!("inetmon-progstats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("off.c");
        std::fs::write(
            &src,
            "#include <stdio.h>\n#include <stddef.h>\n#include <linux/bpf.h>\n\
             int main(void) { printf(\"%zu\", offsetof(struct bpf_prog_info, recursion_misses)); return 0; }\n",
        )
        .unwrap();
        let exe = dir.join("off");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let st = std::process::Command::new(&cc)
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .status()
            .unwrap();
        assert!(st.success(), "{cc} failed on the offset program");
        let out = std::process::Command::new(&exe).output().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let got: usize = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(got, RECURSION_MISSES_OFFSET);
    }
}
