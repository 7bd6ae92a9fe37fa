//! The ring-buffer record of the socket-event programs: a `#[repr(C)]` mirror
//! of `struct inetmon_sock_rec` in `bpf/inetmon_sock.h`, and its constants.
//!
//! The decoder in `inetmon-core` (`decode::sock`) reads the same bytes by
//! offset without `unsafe`; the layout tests here check this mirror against
//! the C header (compiled with the host C compiler) and the core decoder
//! against this mirror.

/// `INETMON_SOCK_VERSION`: the record layout version in [`SockRec::version`].
pub const VERSION: u8 = 1;

/// `INETMON_OP_MAX`: number of per-CPU loss counters (indexed by operation).
pub const OP_MAX: usize = 16;

/// The record as the BPF programs write it (`struct inetmon_sock_rec`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SockRec {
    /// `CLOCK_MONOTONIC` nanoseconds (`bpf_ktime_get_ns`).
    pub ts_ns: u64,
    /// Socket cookie; 0 when the kernel has none yet.
    pub cookie: u64,
    /// cgroup v2 id of the attributed task.
    pub cgroup_id: u64,
    /// Network namespace inode.
    pub netns: u32,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// 0 or a negative errno.
    pub result: i32,
    /// Address family (`AF_INET`, `AF_INET6`).
    pub family: u16,
    /// Socket type (`SOCK_STREAM`, `SOCK_DGRAM`).
    pub sock_type: u16,
    /// IP protocol (6, 17).
    pub protocol: u16,
    /// Local port, host order.
    pub lport: u16,
    /// Foreign port, host order.
    pub fport: u16,
    /// Operation (`INETMON_OP_*`).
    pub op: u8,
    /// Attribution (`INETMON_ATTR_*`).
    pub attribution: u8,
    /// Disconnect initiator (`INETMON_INIT_*`).
    pub initiator: u8,
    /// Reserved, 0.
    pub flags: u8,
    /// [`VERSION`].
    pub version: u8,
    /// Padding.
    pub pad: u8,
    /// Local address, network order; IPv4 in the first 4 bytes.
    pub laddr: [u8; 16],
    /// Foreign address, network order; IPv4 in the first 4 bytes.
    pub faddr: [u8; 16],
    /// Task name, NUL padded.
    pub comm: [u8; 16],
}

/// Size of [`SockRec`] in bytes.
pub const SIZE: usize = core::mem::size_of::<SockRec>();

impl SockRec {
    /// The record's bytes, as the kernel would put them on the ring buffer
    /// (native byte order). Used by tests and by `--existing` snapshots.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(SIZE);
        v.extend_from_slice(&self.ts_ns.to_ne_bytes());
        v.extend_from_slice(&self.cookie.to_ne_bytes());
        v.extend_from_slice(&self.cgroup_id.to_ne_bytes());
        for x in [self.netns, self.pid, self.tid, self.uid, self.gid] {
            v.extend_from_slice(&x.to_ne_bytes());
        }
        v.extend_from_slice(&self.result.to_ne_bytes());
        for x in [
            self.family,
            self.sock_type,
            self.protocol,
            self.lport,
            self.fport,
        ] {
            v.extend_from_slice(&x.to_ne_bytes());
        }
        v.extend_from_slice(&[
            self.op,
            self.attribution,
            self.initiator,
            self.flags,
            self.version,
            self.pad,
        ]);
        v.extend_from_slice(&self.laddr);
        v.extend_from_slice(&self.faddr);
        v.extend_from_slice(&self.comm);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;
    use std::process::Command;

    /// Compiles the C header with the host compiler and compares every
    /// field offset and the size with the Rust mirror.
    #[test]
    fn layout_matches_c_header() {
        let dir = tempdir();
        let src = dir.join("layout.c");
        let hdr = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/inetmon_sock.h");
        let fields = [
            "ts_ns",
            "cookie",
            "cgroup_id",
            "netns",
            "pid",
            "tid",
            "uid",
            "gid",
            "result",
            "family",
            "type",
            "protocol",
            "lport",
            "fport",
            "op",
            "attribution",
            "initiator",
            "flags",
            "version",
            "pad",
            "laddr",
            "faddr",
            "comm",
        ];
        let mut c = format!(
            "#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n#include \"{hdr}\"\nint main(void) {{\n"
        );
        c.push_str("printf(\"size %zu\\n\", sizeof(struct inetmon_sock_rec));\n");
        for f in fields {
            c.push_str(&format!(
                "printf(\"{f} %zu\\n\", offsetof(struct inetmon_sock_rec, {f}));\n"
            ));
        }
        c.push_str("printf(\"OP_MAX %d\\nVERSION %d\\n\", INETMON_OP_MAX, INETMON_SOCK_VERSION);\nreturn 0; }\n");
        std::fs::write(&src, c).unwrap();
        let exe = dir.join("layout");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let st = Command::new(&cc)
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .status()
            .unwrap();
        assert!(st.success(), "{cc} failed on the layout program");
        let out = Command::new(&exe).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let got: std::collections::HashMap<&str, usize> = text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k, v.parse().unwrap()))
            .collect();
        let want = [
            ("size", SIZE),
            ("ts_ns", offset_of!(SockRec, ts_ns)),
            ("cookie", offset_of!(SockRec, cookie)),
            ("cgroup_id", offset_of!(SockRec, cgroup_id)),
            ("netns", offset_of!(SockRec, netns)),
            ("pid", offset_of!(SockRec, pid)),
            ("tid", offset_of!(SockRec, tid)),
            ("uid", offset_of!(SockRec, uid)),
            ("gid", offset_of!(SockRec, gid)),
            ("result", offset_of!(SockRec, result)),
            ("family", offset_of!(SockRec, family)),
            ("type", offset_of!(SockRec, sock_type)),
            ("protocol", offset_of!(SockRec, protocol)),
            ("lport", offset_of!(SockRec, lport)),
            ("fport", offset_of!(SockRec, fport)),
            ("op", offset_of!(SockRec, op)),
            ("attribution", offset_of!(SockRec, attribution)),
            ("initiator", offset_of!(SockRec, initiator)),
            ("flags", offset_of!(SockRec, flags)),
            ("version", offset_of!(SockRec, version)),
            ("pad", offset_of!(SockRec, pad)),
            ("laddr", offset_of!(SockRec, laddr)),
            ("faddr", offset_of!(SockRec, faddr)),
            ("comm", offset_of!(SockRec, comm)),
            ("OP_MAX", OP_MAX),
            ("VERSION", usize::from(VERSION)),
        ];
        for (k, v) in want {
            assert_eq!(got.get(k), Some(&v), "field {k}");
        }
        assert_eq!(SockRec::default().to_bytes().len(), SIZE);
        std::fs::remove_dir_all(dir).ok();
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("inetmon-bpf-layout-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
