#!/bin/sh
# Drop storm (run as root; numbers are only meaningful on an idle machine):
#   crates/inetmon-bpf/tools/drop_storm_libbpf.sh BUILD_DIR SECONDS
# BUILD_DIR holds dp_dump and udp_flood built as in capture.sh. Floods UDP
# from namespace A into an nft drop rule in namespace B, once without and
# once with the drop program attached (records written to /dev/null), and
# prints datagrams sent, drops the rule counted, records received and lost.
# With DP_SUMMARY=1 the program counts in its drop_counts map instead of
# sending records, and the per-key counts are printed.
set -eu
bin=$1
secs=$2
a=inetmon-storm-a-$$
b=inetmon-storm-b-$$
trap 'ip netns del $a 2>/dev/null; ip netns del $b 2>/dev/null' EXIT
ip netns add "$a"; ip netns add "$b"
ip link add veth-a netns "$a" type veth peer name veth-b netns "$b"
ip -n "$a" addr add 10.201.0.1/24 dev veth-a
ip -n "$b" addr add 10.201.0.2/24 dev veth-b
ip -n "$a" link set veth-a up; ip -n "$b" link set veth-b up
ip netns exec "$b" nft add table inet storm
ip netns exec "$b" nft add chain inet storm input '{ type filter hook input priority 0; }'
ip netns exec "$b" nft add rule inet storm input udp dport 9999 counter drop
ino=$(stat -L -c %i "/run/netns/$b")
ip netns exec "$a" ping -c1 -W1 10.201.0.2 >/dev/null
counted() { ip netns exec "$b" nft list chain inet storm input | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }

c0=$(counted)
sent=$(ip netns exec "$a" "$bin/udp_flood" 10.201.0.2 9999 "$secs")
c1=$(counted)
echo "without monitor: sent $sent, dropped $((c1 - c0)) in ${secs}s"

"$bin/dp_dump" $((secs + 2)) "$ino" > /tmp/inetmon-storm-$$.bin 2> /tmp/inetmon-storm-$$.err &
pid=$!
while ! grep -q ready /tmp/inetmon-storm-$$.err 2>/dev/null; do sleep 0.1; done
c0=$(counted)
sent=$(ip netns exec "$a" "$bin/udp_flood" 10.201.0.2 9999 "$secs")
c1=$(counted)
wait "$pid"
recs=$(python3 -c "
import struct,sys
b=open('/tmp/inetmon-storm-$$.bin','rb').read(); i=n=0
while i<len(b):
    l=struct.unpack_from('<I',b,i)[0]; i+=4+l; n+=1
print(n)")
echo "with monitor: sent $sent, dropped $((c1 - c0)) in ${secs}s, records $recs, $(grep lost /tmp/inetmon-storm-$$.err)"
grep '^count' /tmp/inetmon-storm-$$.err || true
rm -f /tmp/inetmon-storm-$$.bin /tmp/inetmon-storm-$$.err
