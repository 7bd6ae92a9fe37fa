#!/usr/bin/env python3
"""Captures real NFLOG and ctnetlink datagrams for inetmon-core's decoder tests.

Run as root from the repository root:

    python3 crates/inetmon-core/tests/data/capture_netfilter.py crates/inetmon-core/tests/data

It makes a private network namespace (inetmon-dec-<pid>) with lo and a veth pair
(veth0 10.99.0.1/24, veth1 without address), loads the nft rules below, binds one netlink socket to
NFLOG group 5 (copy whole packets, SEQ|SEQ_GLOBAL, plus CONNTRACK when the
kernel supports it) and one to the
conntrack NEW/UPDATE/DESTROY groups, makes traffic only inside the namespace,
flushes the conntrack table to get DESTROY events, and writes every datagram
as one hex line to nflog-live.hex and ctnetlink-live.hex. The namespace is
deleted at the end. The bytes are in the capturing host's order (x86-64:
little-endian), as live netlink is.
"""
import os
import socket
import struct
import subprocess
import sys
import time

NS = f"inetmon-dec-{os.getpid()}"
RULES = """
table inet t {
  chain in {
    type filter hook input priority 0;
    tcp dport 9 ct state new log prefix "p @web:3 " group 5
    udp dport 53 log group 5
    icmp type echo-request log prefix "b @0:7 K-F log-tag=42" group 5
    icmpv6 type echo-request log prefix "L @v6:1" group 5
  }
  chain out {
    type filter hook output priority 0;
    udp dport 5353 log prefix "p @out:2" group 5
  }
}
table ip nat {
  chain out { type nat hook output priority -100; tcp dport 8080 dnat to 127.0.0.1:9; }
  chain post { type nat hook postrouting priority 100; udp dport 5353 snat to 10.99.0.7; }
}
"""

NETLINK_NETFILTER = 12
NFNL_SUBSYS_ULOG = 4
NLM_F_REQUEST, NLM_F_ACK = 1, 4


def sh(*args, check=True):
    subprocess.run(args, check=check)


def nsx(*args, check=True):
    sh("ip", "netns", "exec", NS, *args, check=check)


def cfg(sock, group, attrs, family=0, seq=[0]):
    seq[0] += 1
    body = struct.pack("!BBH", family, 0, group)
    for t, v in attrs:
        a = struct.pack("=HH", 4 + len(v), t) + v
        body += a + b"\0" * (-len(a) % 4)
    msg = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_ULOG << 8) | 1,
                      NLM_F_REQUEST | NLM_F_ACK, seq[0], 0) + body
    sock.send(msg)
    ack = sock.recv(65536)
    return struct.unpack("=i", ack[16:20])[0]  # 0 or -errno


def drain(sock, out):
    sock.setblocking(False)
    while True:
        try:
            out.append(sock.recv(65536))
        except BlockingIOError:
            return


def child(outdir):
    for k, v in [("net.netfilter.nf_conntrack_acct", "1"),
                 ("net.netfilter.nf_conntrack_timestamp", "1")]:
        with open("/proc/sys/" + k.replace(".", "/"), "w") as f:
            f.write(v)
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
    sh("ip", "addr", "add", "10.99.0.1/24", "dev", "veth0")
    sh("ip", "link", "set", "veth0", "up")
    sh("ip", "link", "set", "veth1", "up")
    subprocess.run(["nft", "-f", "-"], input=RULES.encode(), check=True)

    log = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    log.bind((0, 0))
    cfg(log, 5, [(1, b"\x01")])                          # bind group 5
    cfg(log, 5, [(2, struct.pack("!IBB", 0xFFFF, 2, 0))])  # copy packet
    err = cfg(log, 5, [(6, struct.pack("!H", 7))])         # SEQ|SEQ_GLOBAL|CONNTRACK
    if err:
        # EOPNOTSUPP without CONFIG_NETFILTER_NETLINK_GLUE_CT: no NFULA_CT.
        print("flags SEQ|SEQ_GLOBAL|CONNTRACK:", err, "- retrying without CONNTRACK")
        assert cfg(log, 5, [(6, struct.pack("!H", 3))]) == 0
    cfg(log, 5, [(5, struct.pack("!I", 1))])               # qthresh 1
    ct = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    ct.bind((0, 0x7))  # NFNLGRP_CONNTRACK_NEW | UPDATE | DESTROY

    # TCP to port 9 through a DNAT from 8080, established then closed.
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 9))
    srv.listen(1)
    c = socket.create_connection(("127.0.0.1", 8080))
    a, _ = srv.accept()
    c.sendall(b"hello")
    a.recv(16)
    c.close()
    a.close()
    # UDP to 53 (no listener), UDP out via veth0 with SNAT, ICMP, ICMPv6.
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"q" * 12, ("127.0.0.1", 53))
    u.sendto(b"m" * 20, ("10.99.0.2", 5353))
    sh("ping", "-c", "1", "-W", "1", "127.0.0.1", check=False)
    sh("ping", "-6", "-c", "1", "-W", "1", "::1", check=False)
    time.sleep(0.3)
    sh("conntrack", "-F", check=False)
    time.sleep(0.3)

    for sock, name in [(log, "nflog-live.hex"), (ct, "ctnetlink-live.hex")]:
        got = []
        drain(sock, got)
        with open(os.path.join(outdir, name), "w") as f:
            for d in got:
                f.write(d.hex() + "\n")
        print(name, len(got), "datagrams")


def main():
    outdir = os.path.abspath(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "--in-ns":
        child(outdir)
        return
    sh("ip", "netns", "add", NS)
    try:
        nsx(sys.executable, os.path.abspath(__file__), outdir, "--in-ns")
    finally:
        sh("ip", "netns", "del", NS, check=False)


if __name__ == "__main__":
    main()
