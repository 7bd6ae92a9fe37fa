//! `inetmon monitor --type drop` across network namespaces (issue 9 item
//! 1): run in the test's own namespace, the monitor reports drops of every
//! namespace by default, names the namespace of a drop outside its own (the
//! `ip netns` name, else the inode), resolves the interface name in the
//! drop's namespace, and `--netns own|NAME|INODE` narrows. Privileged:
//! skips without root, except under `INETMON_REQUIRE_PRIVILEGED=1`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::{craft, inetmon_run, lines_of, require_privileged, run, wait_for_line, Bg, Netns};

/// IPv4 10.223.0.2 -> 10.223.0.1, UDP 5000 -> `dport`, no checksum.
fn udp4(dport: u16) -> Vec<u8> {
    let udp = craft::udp(5000, dport, b"ns!!");
    craft::ipv4([10, 223, 0, 2], [10, 223, 0, 1], 17, udp, None)
}

fn ns_inode(name: &str) -> u64 {
    std::fs::metadata(format!("/run/netns/{name}"))
        .unwrap()
        .ino()
}

#[test]
fn drops_of_every_namespace_by_default_named_and_narrowed() {
    if !require_privileged(
        "drops_of_every_namespace_by_default_named_and_narrowed",
        &["python3", "unshare", "nft"],
    ) {
        return;
    }
    // The monitor runs in `host` (its "own" namespace); the drops happen in
    // `guest` (named), in an unnamed namespace, and in `host` itself.
    let host = Netns::new();
    let guest = Netns::new();
    let mut tun = guest.open_tun("tun0");
    guest.sh("ip link set tun0 up && ip addr add 10.223.0.1 peer 10.223.0.2 dev tun0");
    // A second interface in the host, so that tun0's index names something
    // else (or nothing) there.
    host.sh("ip link add vh0 type veth peer name vh1");

    let guest_ino = ns_inode(guest.name());
    let dir = tempfile::tempdir().unwrap();
    // The monitors see every namespace: ports of our own, so that no other
    // test's drops show up among ours.
    let leases = [
        common::lease_port(),
        common::lease_port(),
        common::lease_port(),
    ];
    let [closed, tun_port, nft_port] = [leases[0].port, leases[1].port, leases[2].port];
    let port_args = [closed, tun_port, nft_port].map(|p| p.to_string());
    let ports = [
        "--port",
        port_args[0].as_str(),
        "--port",
        port_args[1].as_str(),
        "--port",
        port_args[2].as_str(),
    ];
    guest.nft(&format!(
        "table inet t {{\n chain input {{\n  type filter hook input priority 0;\n  udp dport {nft_port} drop\n }}\n}}\n",
    ));
    let mut args = vec!["--type", "drop"];
    args.extend_from_slice(&ports);
    let (mut every, out, err) = host.monitor(dir.path(), "every", &args);
    let mut args = vec!["--type", "drop", "-j", "--netns", guest.name()];
    args.extend_from_slice(&ports);
    let (mut named, json, _) = host.monitor(dir.path(), "named", &args);
    let ino_s = guest_ino.to_string();
    let mut args = vec!["--type", "drop", "--netns", &ino_s];
    args.extend_from_slice(&ports);
    let (mut by_ino, ino_out, _) = host.monitor(dir.path(), "ino", &args);
    let mut args = vec!["--type", "drop", "--netns", "own"];
    args.extend_from_slice(&ports);
    let (mut own, own_out, _) = host.monitor(dir.path(), "own", &args);

    // guest: UDP to a closed port on lo, one into tun0, one into the nft rule.
    let r = run(
        guest.cmd("python3").args([
            "-c",
            &format!("import socket; s=socket.socket(2,2); s.sendto(b'x',('127.0.0.1',{closed})); s.sendto(b'x',('127.0.0.1',{nft_port}))"),
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    tun.write_all(&udp4(tun_port)).unwrap();
    // An unnamed namespace, kept alive (by its shell) until the drop is read:
    // its interface names are looked up through /proc/PID/ns/net.
    let unnamed = dir.path().join("unnamed.ino");
    let mut keeper = Bg::spawn(
        host.cmd("unshare").args([
            "-n",
            "sh",
            "-c",
            &format!(
                "ip link set lo up && stat -L -c %i /proc/self/ns/net > {0}.tmp && mv {0}.tmp {0} && \
                 python3 -c \"import socket; socket.socket(2,2).sendto(b'x',('127.0.0.1',{1}))\" && \
                 sleep 60",
                unnamed.display(),
                closed
            ),
        ]),
        &dir.path().join("unnamed.err"),
    );
    let unnamed_ino = common::wait_for(Duration::from_secs(60), || {
        std::fs::read_to_string(&unnamed).ok()
    })
    .expect("the unnamed namespace's inode")
    .trim()
    .to_owned();
    // the monitor's own namespace
    host.sh(&format!(
        "python3 -c \"import socket; socket.socket(2,2).sendto(b'own',('127.0.0.1',{closed}))\""
    ));

    let g = guest.name();
    let want = [
        format!("xx drop (NO_SOCKET) interface lo, netns {g}, location __udp4_lib_rcv"),
        format!("xx drop (NO_SOCKET) interface tun0, netns {g}, location __udp4_lib_rcv"),
        format!("xx drop (NETFILTER_DROP) interface lo, netns {g}, location "),
        format!("xx drop (NO_SOCKET) interface lo, netns {unnamed_ino}, location __udp4_lib_rcv"),
    ];
    for w in &want {
        wait_for_line(&out, w, Duration::from_secs(60), &err);
    }
    wait_for_line(&own_out, &closed.to_string(), Duration::from_secs(60), &err);
    std::thread::sleep(Duration::from_millis(300));
    for bg in [&mut every, &mut named, &mut by_ino, &mut own] {
        assert_eq!(bg.stop(), Some(0));
    }
    keeper.stop();
    let lines = lines_of(&out);
    // The drop in the monitor's own namespace names no namespace.
    let mine: Vec<&String> = lines.iter().filter(|l| !l.contains(", netns ")).collect();
    assert_eq!(mine.len(), 1, "{lines:#?}");
    assert!(
        mine[0].contains("xx drop (NO_SOCKET) interface lo, location "),
        "{}",
        mine[0]
    );
    assert_eq!(lines.len(), 5, "{lines:#?}");

    // --netns own: only that one.
    let own_lines = lines_of(&own_out);
    assert_eq!(own_lines.len(), 1, "{own_lines:#?}");
    assert!(!own_lines[0].contains("netns"), "{own_lines:#?}");

    // --netns INODE and --netns NAME: the three guest drops.
    let ino_lines = lines_of(&ino_out);
    assert_eq!(ino_lines.len(), 3, "{ino_lines:#?}");
    assert!(ino_lines
        .iter()
        .all(|l| l.contains(&format!(", netns {g},"))));
    let js: Vec<serde_json::Value> = lines_of(&json)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(js.len(), 3, "{js:#?}");
    for v in &js {
        assert_eq!(v["netns"], guest_ino, "{v}");
        assert_eq!(v["netns_name"], g, "{v}");
    }
    assert!(
        js.iter()
            .any(|v| v["ifname"] == "tun0" && v["dport"] == tun_port),
        "{js:#?}"
    );
}

#[test]
fn netns_misuse_is_one_line() {
    for (args, needle) in [
        (
            vec!["monitor", "--netns", "no-such-ns-inetmon"],
            "no-such-ns-inetmon",
        ),
        (
            vec!["monitor", "--netns", "own", "--all-netns"],
            "--all-netns",
        ),
    ] {
        let r = inetmon_run(&args);
        assert_ne!(r.code, Some(0), "{args:?}");
        let lines = r.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {}", r.stderr);
        assert!(lines[0].contains(needle), "{args:?}: {}", r.stderr);
    }
}
