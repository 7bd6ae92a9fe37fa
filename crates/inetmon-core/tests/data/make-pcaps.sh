#!/bin/sh
# Makes the small capture fixtures used by crates/inetmon-core tests
# (decode::pcap). Run as root; all traffic stays inside a private network
# namespace (loopback only). tcpdump 4.99.3 / libpcap 1.10.3, tshark 4.0.17.
# nflog-real-small.pcap is not made here: it comes from ../shared/fixtures/.
set -eu
out=$(cd "$(dirname "$0")" && pwd)
ns=inetmon-pcapjson-$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
run() { ip netns exec "$ns" "$@"; }
run ip link set lo up
run nft 'add table inet t; add chain inet t out { type filter hook output priority 0; }; add rule inet t out meta l4proto { icmp, ipv6-icmp, udp } log group 7 prefix "pcapjson"'
traffic() {
    sleep 1
    run ping -c 2 -i 0.2 127.0.0.1 >/dev/null
    run ping -6 -c 2 -i 0.2 ::1 >/dev/null
    run sh -c 'echo hello | nc -u -w1 -q0 127.0.0.1 5353' || true
    sleep 1
}
cap() { # cap FILE COUNT TCPDUMP-ARGS...
    f=$1; n=$2; shift 2
    run tcpdump -U -c "$n" -w "$out/$f" "$@" 2>/dev/null &
    pid=$!
    traffic
    wait "$pid" || true
}
cap lo-ether.pcap 6 -i lo
cap lo-ether-nano.pcap 6 -i lo --time-stamp-precision=nano
cap any-sll2.pcap 6 -i any
cap any-sll.pcap 6 -i any -y LINUX_SLL
cap nflog7.pcap 5 -i nflog:7
# Big-endian and pcapng variants of the same captures, by editcap/tshark.
editcap -F pcapng "$out/lo-ether.pcap" "$out/lo-ether.pcapng"
tshark -r "$out/any-sll2.pcap" -F pcapng -w "$out/any-sll2.pcapng" 2>/dev/null
tshark -r "$out/nflog7.pcap" -F pcapng -w "$out/nflog7.pcapng" 2>/dev/null
# pcapng with nanosecond if_tsresol, written by tshark capturing directly.
run tshark -q -i lo -c 4 -F pcapng -w "$out/lo-tshark.pcapng" 2>/dev/null &
pid=$!; traffic; wait "$pid" || true
chmod 644 "$out"/*.pcap "$out"/*.pcapng
