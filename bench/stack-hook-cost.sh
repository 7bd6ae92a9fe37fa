#!/bin/sh
# What the from-stack/to-stack hooks cost on a loopback UDP flood (run as
# root; only netns-local traffic):
#   bench/stack-hook-cost.sh INETMON_BINARY [ROUNDS] [SECONDS]
# In a fresh network namespace, bench/udp_flood.c (pinned to CPU 0) sends
# to 127.0.0.1:9999, where a socket created for each flood (so the owner
# hook sees it) is bound and never reads: every datagram passes cgroup skb
# egress (from-stack) and ingress (to-stack), then is dropped at the full
# receive buffer. Variants:
#   none   nothing attached;
#   s100   `inetmon monitor --type trace --stack --sample 100 --port 9999` (output to
#          /dev/null): the hooks on every packet, 1 in 100 put in the ring;
#   s1     the same with --sample 1: every packet in the ring.
# Each round runs none, s100, s1, s1, s100, none (ABCCBA, so order effects
# cancel) for SECONDS each, each flood starting 1 s after the attach. Rate
# of a variant in a round = its mean / the round's mean bare rate. The cgroup
# hooks go on the cgroup v2 root: while a monitor runs they see every
# packet of the machine (only --port 9999 records reach the ring).
set -eu
bin=$(realpath "$1")
rounds=${2:-5}
secs=${3:-2}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
ns=inetmon-shc-$$
trap 'ip netns del $ns 2>/dev/null; rm -rf "$tmp"' EXIT
gcc -O2 -Wall -o "$tmp/udp_flood" "$here/udp_flood.c"
ip netns add "$ns"
ip -n "$ns" link set lo up
flood() {
	ip netns exec "$ns" python3 -c "import socket, time; s = socket.socket(2, 2); s.bind(('127.0.0.1', 9999)); open('$tmp/rx', 'w').close(); time.sleep(3600)" &
	rx=$!
	while [ ! -e "$tmp/rx" ]; do sleep 0.02; done
	n=$(ip netns exec "$ns" taskset -c 0 "$tmp/udp_flood" 127.0.0.1 9999 "$secs")
	kill $rx; wait $rx 2>/dev/null || true
	rm -f "$tmp/rx"
	echo $((n / secs))
}
run() {
	case $1 in
	none) sleep 1; flood ;;
	s*)
		rm -f "$tmp/err"
		"$bin" monitor --type trace --stack --sample "${1#s}" --port 9999 > /dev/null 2> "$tmp/err" &
		pid=$!
		while ! grep -q attached "$tmp/err" 2>/dev/null; do sleep 0.05; done
		sleep 1
		flood
		kill -TERM $pid; wait $pid || true ;;
	esac
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$tmp/ratios"
r=0
while [ $r -lt "$rounds" ]; do
	r=$((r + 1))
	n1=$(run none); a1=$(run s100); b1=$(run s1); b2=$(run s1); a2=$(run s100); n2=$(run none)
	line=$(awk -v n1=$n1 -v n2=$n2 -v a1=$a1 -v a2=$a2 -v b1=$b1 -v b2=$b2 'BEGIN {
		b = (n1 + n2) / 2
		printf "%.3f %.3f", (a1 + a2) / 2 / b, (b1 + b2) / 2 / b }')
	echo "$line" >> "$tmp/ratios"
	set -- $line
	echo "round $r: bare $n1 $n2/s  s100 $a1 $a2/s (ratio $1)  s1 $b1 $b2/s (ratio $2)"
done
for col in 1 2; do
	name=s100; [ $col = 2 ] && name=s1
	awk -v c=$col '{print $c}' "$tmp/ratios" | sort -g | awk -v name=$name '{v[NR] = $1}
		END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "RATIO %s/none: median %.3f, range %.3f … %.3f (%d rounds)\n", name, m, v[1], v[NR], NR}'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
