//! Ties the Rust record mirrors and the watch bits to the C headers at
//! build time: generates a C file of `_Static_assert`s, one per size, field
//! offset and constant, with the values taken from the Rust definitions
//! themselves (`src/record/*.rs` and `src/watch.rs`, compiled into this
//! script), and compiles it against `bpf/inetmon_sock.h` and
//! `bpf/datapath.h` with the host C compiler (`$CC`, else `cc`: the same
//! one rustc links with). Any disagreement fails the build, naming the
//! field.

use std::fmt::Write as _;
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

#[allow(dead_code, unreachable_pub, reason = "only the layouts are used here")]
#[path = "src/record/datapath.rs"]
mod datapath;
#[allow(dead_code, unreachable_pub, reason = "only the layouts are used here")]
#[path = "src/record/sock.rs"]
mod sock;
#[allow(dead_code, unreachable_pub, reason = "only the bits are used here")]
#[path = "src/watch.rs"]
mod watch;

use datapath::{DpCommon, DpDrop, DpDropKey, DpTrace};
use sock::SockRec;

/// Appends `_Static_assert(expr == value, "...")`.
fn check(c: &mut String, expr: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        c,
        "_Static_assert(({expr}) == {value}, \"C has another value for {expr} than the Rust mirror ({value})\");"
    );
}

fn layout(c: &mut String, ty: &str, size: usize, fields: &[(&str, usize)]) {
    check(c, &format!("sizeof(struct {ty})"), size);
    for (f, off) in fields {
        check(c, &format!("offsetof(struct {ty}, {f})"), off);
    }
}

/// `streamCreate` → `WATCH_STREAM_CREATE`.
fn c_watch_name(op: watch::WatchOp) -> String {
    let mut out = String::from("WATCH_");
    for ch in op.name().chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

fn main() {
    let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    for f in [
        "bpf/inetmon_sock.h",
        "bpf/datapath.h",
        "src/record/sock.rs",
        "src/record/datapath.rs",
        "src/watch.rs",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=CC");

    let mut c = String::from(
        "#include <stddef.h>\n#include <linux/types.h>\n#include \"inetmon_sock.h\"\n#include \"datapath.h\"\n",
    );
    layout(
        &mut c,
        "inetmon_sock_rec",
        size_of::<SockRec>(),
        &[
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
        ],
    );
    for (name, value) in [
        ("INETMON_SOCK_VERSION", u32::from(sock::VERSION)),
        ("INETMON_OP_MAX", sock::OP_MAX as u32),
        ("INETMON_OP_CREATE", u32::from(sock::OP_CREATE)),
        ("INETMON_OP_BIND", u32::from(sock::OP_BIND)),
        ("INETMON_OP_DYNBIND", u32::from(sock::OP_DYNBIND)),
        ("INETMON_OP_LISTEN", u32::from(sock::OP_LISTEN)),
        ("INETMON_OP_ACCEPT", u32::from(sock::OP_ACCEPT)),
        ("INETMON_OP_CONNECT", u32::from(sock::OP_CONNECT)),
        ("INETMON_OP_CONNECTED", u32::from(sock::OP_CONNECTED)),
        ("INETMON_OP_DISCONNECT", u32::from(sock::OP_DISCONNECT)),
        ("INETMON_OP_CLOSE", u32::from(sock::OP_CLOSE)),
        ("INETMON_ATTR_UNKNOWN", u32::from(sock::ATTR_UNKNOWN)),
        ("INETMON_ATTR_PROCESS", u32::from(sock::ATTR_PROCESS)),
        ("INETMON_ATTR_OWNER", u32::from(sock::ATTR_OWNER)),
        ("INETMON_INIT_NONE", u32::from(sock::INIT_NONE)),
        ("INETMON_INIT_LOCAL", u32::from(sock::INIT_LOCAL)),
        ("INETMON_INIT_PEER", u32::from(sock::INIT_PEER)),
        ("WATCH_OTHER", watch::OTHER_BIT),
    ] {
        check(&mut c, name, format!("{value}u"));
    }
    for op in watch::WatchOp::ALL {
        check(&mut c, &c_watch_name(op), format!("{}u", op.bit()));
    }

    layout(
        &mut c,
        "inetmon_dp_common",
        size_of::<DpCommon>(),
        &[
            ("type", offset_of!(DpCommon, kind)),
            ("version", offset_of!(DpCommon, version)),
            ("hdr_len", offset_of!(DpCommon, hdr_len)),
            ("cpu", offset_of!(DpCommon, cpu)),
            ("ktime_ns", offset_of!(DpCommon, ktime_ns)),
            ("ifindex", offset_of!(DpCommon, ifindex)),
            ("orig_len", offset_of!(DpCommon, orig_len)),
            ("cap_len", offset_of!(DpCommon, cap_len)),
            ("protocol", offset_of!(DpCommon, protocol)),
            ("layer", offset_of!(DpCommon, layer)),
            ("flags", offset_of!(DpCommon, flags)),
            ("reserved", offset_of!(DpCommon, reserved)),
            ("netns", offset_of!(DpCommon, netns)),
            ("mark", offset_of!(DpCommon, mark)),
        ],
    );
    layout(
        &mut c,
        "inetmon_dp_drop",
        size_of::<DpDrop>(),
        &[
            ("common", offset_of!(DpDrop, common)),
            ("reason", offset_of!(DpDrop, reason)),
            ("pid", offset_of!(DpDrop, pid)),
            ("tid", offset_of!(DpDrop, tid)),
            ("reserved", offset_of!(DpDrop, reserved)),
            ("location", offset_of!(DpDrop, location)),
            ("comm", offset_of!(DpDrop, comm)),
        ],
    );
    layout(
        &mut c,
        "inetmon_dp_trace",
        size_of::<DpTrace>(),
        &[
            ("common", offset_of!(DpTrace, common)),
            ("point", offset_of!(DpTrace, point)),
            ("reserved", offset_of!(DpTrace, reserved)),
            ("sample_rate", offset_of!(DpTrace, sample_rate)),
        ],
    );
    layout(
        &mut c,
        "inetmon_dp_drop_key",
        size_of::<DpDropKey>(),
        &[
            ("reason", offset_of!(DpDropKey, reason)),
            ("ifindex", offset_of!(DpDropKey, ifindex)),
            ("location", offset_of!(DpDropKey, location)),
        ],
    );
    for (name, value) in [
        ("INETMON_DP_VERSION", u32::from(datapath::VERSION)),
        ("INETMON_DP_MAX_CAP", datapath::MAX_CAP),
        ("INETMON_DP_DROP", u32::from(datapath::TYPE_DROP)),
        ("INETMON_DP_TRACE", u32::from(datapath::TYPE_TRACE)),
        ("INETMON_DP_LAYER_NONE", u32::from(datapath::LAYER_NONE)),
        (
            "INETMON_DP_LAYER_ETHERNET",
            u32::from(datapath::LAYER_ETHERNET),
        ),
        (
            "INETMON_DP_LAYER_NETWORK",
            u32::from(datapath::LAYER_NETWORK),
        ),
        ("INETMON_DP_F_PROCESS", u32::from(datapath::FLAG_PROCESS)),
        ("INETMON_DP_FROM_NETWORK", u32::from(datapath::FROM_NETWORK)),
        ("INETMON_DP_TO_NETWORK", u32::from(datapath::TO_NETWORK)),
    ] {
        check(&mut c, name, format!("{value}u"));
    }

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let src = out.join("layout_check.c");
    std::fs::write(&src, c).expect("writing layout_check.c to OUT_DIR");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let res = Command::new(&cc)
        .args(["-std=c11", "-fsyntax-only", "-Wall", "-Werror", "-I"])
        .arg(here.join("bpf"))
        .arg(&src)
        .output();
    match res {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the C headers in bpf/ and the Rust mirrors disagree ({cc} on {}):\n{}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!(
            "running the C compiler `{cc}` to check bpf/*.h against the Rust mirrors: {e} \
             (install a C compiler, or set CC)"
        ),
    }
}
