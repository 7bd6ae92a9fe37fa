#!/bin/sh
# What traces cost compared with the tc hook itself (run as root; only
# netns-local traffic):
#   bench/trace-hook-floor.sh INETMON_BINARY [ROUNDS] [SECONDS]
# UDP flood from netns A (pinned to CPU 0) over a veth pair into an nft
# `udp dport 9999 counter drop` rule in netns B, in three variants:
#   none     nothing attached;
#   noop     a tc classifier that does nothing (bench/bpf/tc_noop.bpf.c,
#            `tc filter … bpf da`, ingress and egress of veth-b): the floor
#            of any tc-based tracer, no user space;
#   monitor  `inetmon monitor --type trace --iface veth-b --sample 100`.
# Each round runs none, noop, monitor, monitor, noop, none (ABCCBA, so order
# effects cancel) for SECONDS each, each flood starting SETTLE seconds (env,
# default 2) after the attach: the first second after `inetmon monitor`
# attaches is slower (see BENCHMARKS.md §6.3; SETTLE=0 shows it). Cost of a
# variant in a round = its mean
# rate / the round's mean bare rate - 1. Prints every round, then per
# variant the median and the range of the per-round costs.
set -eu
settle=${SETTLE:-2}
bin=$(realpath "$1")
rounds=${2:-8}
secs=${3:-2}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
a=inetmon-thf-a-$$
b=inetmon-thf-b-$$
trap 'ip netns del $a 2>/dev/null; ip netns del $b 2>/dev/null; rm -rf "$tmp"' EXIT
gcc -O2 -Wall -o "$tmp/udp_flood" "$here/udp_flood.c"
clang -O2 -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -c "$here/bpf/tc_noop.bpf.c" -o "$tmp/noop.o"
. "$here/veth-drop-lab.sh"
veth_drop_lab "$a" "$b" 10.204.0
flood() { echo $(( $(ip netns exec "$a" taskset -c 0 "$tmp/udp_flood" 10.204.0.2 9999 "$secs") / secs )); }
run() {
	case $1 in
	none) sleep "$settle"; flood ;;
	noop)
		ip netns exec "$b" tc qdisc add dev veth-b clsact
		ip netns exec "$b" tc filter add dev veth-b ingress bpf da obj "$tmp/noop.o" sec tc
		ip netns exec "$b" tc filter add dev veth-b egress bpf da obj "$tmp/noop.o" sec tc
		sleep "$settle"
		flood
		ip netns exec "$b" tc qdisc del dev veth-b clsact ;;
	monitor)
		rm -f "$tmp/err"
		ip netns exec "$b" "$bin" monitor --type trace --iface veth-b --sample 100 > "$tmp/out" 2> "$tmp/err" &
		pid=$!
		while ! grep -q attached "$tmp/err" 2>/dev/null; do sleep 0.05; done
		sleep "$settle"
		flood
		kill -TERM $pid; wait $pid || true ;;
	esac
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$tmp/costs"
r=0
while [ $r -lt "$rounds" ]; do
	r=$((r + 1))
	n1=$(run none); o1=$(run noop); m1=$(run monitor); m2=$(run monitor); o2=$(run noop); n2=$(run none)
	line=$(awk -v n1=$n1 -v n2=$n2 -v o1=$o1 -v o2=$o2 -v m1=$m1 -v m2=$m2 'BEGIN {
		b = (n1 + n2) / 2
		printf "%.2f %.2f", ((o1 + o2) / 2 / b - 1) * 100, ((m1 + m2) / 2 / b - 1) * 100 }')
	echo "$line" >> "$tmp/costs"
	set -- $line
	echo "round $r: bare $n1 $n2  noop $o1 $o2 ($1 %)  monitor $m1 $m2 ($2 %)"
done
for col in 1 2; do
	name=noop; [ $col = 2 ] && name=monitor
	awk -v c=$col '{print $c}' "$tmp/costs" | sort -g | awk -v name=$name '{v[NR] = $1}
		END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%s: median %.1f %%, range %.1f … %.1f %% (%d rounds)\n", name, m, v[1], v[NR], NR}'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
