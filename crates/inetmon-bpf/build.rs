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

/// Checks the size of `struct $c_ty` and the offset of each field against
/// the Rust `$ty`; a field named differently in C is written
/// `rust_name as "c_name"`.
macro_rules! layout {
    ($c:expr, $c_ty:literal, $ty:ty { $($field:ident $(as $c_field:literal)?),* $(,)? }) => {{
        check($c, concat!("sizeof(struct ", $c_ty, ")"), size_of::<$ty>());
        $(
            let name = [$($c_field,)? stringify!($field)][0];
            check(
                $c,
                &format!(concat!("offsetof(struct ", $c_ty, ", {})"), name),
                offset_of!($ty, $field),
            );
        )*
    }};
}

/// Checks C constants against Rust ones: `RUST_NAME` is `PREFIX` +
/// `RUST_NAME` in C unless written `RUST_NAME as "C_NAME"`.
macro_rules! constants {
    ($c:expr, $prefix:literal, $module:ident { $($name:ident $(as $c_name:literal)?),* $(,)? }) => {{
        $(
            let c_name = [$($c_name.to_owned(),)? format!("{}{}", $prefix, stringify!($name))];
            check($c, &c_name[0], format!("{}u", $module::$name));
        )*
    }};
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
    layout!(&mut c, "inetmon_sock_rec", SockRec {
        ts_ns, cookie, cgroup_id, netns, pid, tid, uid, gid, result, family,
        sock_type as "type", protocol, lport, fport, op, attribution, initiator,
        flags, version, pad, laddr, faddr, comm,
    });
    constants!(&mut c, "INETMON_", sock {
        VERSION as "INETMON_SOCK_VERSION", OP_MAX, OP_CREATE, OP_BIND, OP_DYNBIND,
        OP_LISTEN, OP_ACCEPT, OP_CONNECT, OP_CONNECTED, OP_DISCONNECT, OP_CLOSE, OP_ABORT,
        ATTR_UNKNOWN, ATTR_PROCESS, ATTR_OWNER, INIT_NONE, INIT_LOCAL, INIT_PEER,
    });
    constants!(&mut c, "", watch { OTHER_BIT as "WATCH_OTHER" });
    for op in watch::WatchOp::ALL {
        check(&mut c, &c_watch_name(op), format!("{}u", op.bit()));
    }

    layout!(&mut c, "inetmon_dp_common", DpCommon {
        kind as "type", version, hdr_len, cpu, ktime_ns, ifindex, orig_len,
        cap_len, protocol, layer, flags, reserved, netns, mark,
    });
    layout!(
        &mut c,
        "inetmon_dp_drop",
        DpDrop {
            common,
            reason,
            pid,
            tid,
            reserved,
            location,
            comm,
        }
    );
    layout!(
        &mut c,
        "inetmon_dp_trace",
        DpTrace {
            common,
            point,
            reserved,
            sample_rate,
            pid,
            tid,
            sock_cookie,
            comm,
        }
    );
    layout!(
        &mut c,
        "inetmon_dp_drop_key",
        DpDropKey {
            reason,
            ifindex,
            location
        }
    );
    constants!(&mut c, "INETMON_DP_", datapath {
        VERSION, MAX_CAP, TYPE_DROP as "INETMON_DP_DROP", TYPE_TRACE as "INETMON_DP_TRACE",
        LAYER_NONE, LAYER_ETHERNET, LAYER_NETWORK, FLAG_PROCESS as "INETMON_DP_F_PROCESS",
        FROM_NETWORK, TO_NETWORK, FROM_STACK, TO_STACK,
    });

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
