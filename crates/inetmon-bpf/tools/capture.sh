#!/bin/sh
# Captures real datapath records as a test fixture (run as root):
#   crates/inetmon-bpf/tools/capture.sh OUT.bin
# Builds datapath.bpf.o + dp_dump in a temp dir (clang, bpftool, libbpf-dev),
# makes two network namespaces joined by a veth pair, attaches the drop
# program (only drops in namespace B) and tc traces on veth-b, then sends:
# 2 pings A->B, UDP to a closed port on B (NO_SOCKET), TCP to a port an nft
# rule drops on B (NETFILTER_DROP), the same UDP over IPv6, a TCP SYN with a
# bad checksum (TCP_CSUM), and a ping to an address B does not have.
set -eu
out=$(realpath "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
a=inetmon-mon-a-$$
b=inetmon-mon-b-$$
cleanup() {
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$tmp/vmlinux.h"
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$tmp" -I"$here/bpf" -c "$here/bpf/datapath.bpf.c" -o "$tmp/datapath.bpf.o"
bpftool gen skeleton "$tmp/datapath.bpf.o" name datapath > "$tmp/datapath.skel.h"
gcc -O2 -Wall -I"$tmp" -I"$here/bpf" -o "$tmp/dp_dump" "$here/tools/dp_dump.c" -lbpf

ip netns add "$a"
ip netns add "$b"
ip link add veth-a netns "$a" type veth peer name veth-b netns "$b"
ip -n "$a" addr add 10.200.0.1/24 dev veth-a
ip -n "$b" addr add 10.200.0.2/24 dev veth-b
ip -n "$a" addr add fd00:200::1/64 dev veth-a nodad
ip -n "$b" addr add fd00:200::2/64 dev veth-b nodad
ip -n "$a" link set veth-a up
ip -n "$b" link set veth-b up
ip -n "$a" link set lo up
ip -n "$b" link set lo up
ip netns exec "$b" nft add table inet inetmon_test
ip netns exec "$b" nft add chain inet inetmon_test input '{ type filter hook input priority 0; }'
ip netns exec "$b" nft add rule inet inetmon_test input tcp dport 9999 drop
ino=$(stat -L -c %i "/run/netns/$b")

ip netns exec "$b" "$tmp/dp_dump" 8 "$ino" veth-b > "$out" 2> "$tmp/err" &
pid=$!
while ! grep -q ready "$tmp/err" 2>/dev/null; do sleep 0.1; done
ip netns exec "$a" ping -c 2 -i 0.2 10.200.0.2 > /dev/null
echo hello | ip netns exec "$a" nc -u -w1 10.200.0.2 9 || true
ip netns exec "$a" nc -z -w1 10.200.0.2 9999 || true
echo hello6 | ip netns exec "$a" nc -u -w1 fd00:200::2 9 || true
# A TCP SYN with a wrong checksum, from a raw socket (TCP_CSUM).
ip netns exec "$a" python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.sendto(struct.pack("!HHIIBBHHH", 40000, 8080, 1, 0, 5 << 4, 0x02, 65535, 0xdead, 0), ("10.200.0.2", 0))
'
# A packet to an address B does not have, sent to B's MAC (B does not forward).
mac_b=$(ip -n "$b" -j link show veth-b | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
ip -n "$a" neigh add 10.200.0.99 lladdr "$mac_b" dev veth-a
ip netns exec "$a" ping -c 1 -W 1 10.200.0.99 > /dev/null || true
wait "$pid"
cat "$tmp/err" >&2
echo "netns inode $ino" >&2
