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
. "$(dirname "$0")/lib.sh"
settle=${SETTLE:-2}
bin=$(realpath "$1")
rounds=${2:-8}
secs=${3:-2}
a=inetmon-thf-a-$$
b=inetmon-thf-b-$$
bench_cc udp_flood
clang -O2 -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -c "$here/bpf/tc_noop.bpf.c" -o "$tmp/noop.o"
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
	monitor) bench_monitored "$settle" "$tmp/out" ip netns exec "$b" "$bin" monitor --type trace --iface veth-b --sample 100 ;;
	esac
}
round() { # R N1 O1 M1 M2 O2 N2
	line=$(awk -v n1=$2 -v n2=$7 -v o1=$3 -v o2=$6 -v m1=$4 -v m2=$5 'BEGIN {
		b = (n1 + n2) / 2
		printf "%.2f %.2f", ((o1 + o2) / 2 / b - 1) * 100, ((m1 + m2) / 2 / b - 1) * 100 }')
	echo "$line" >> "$tmp/costs"
	echo "round $1: bare $2 $7  noop $3 $6 (${line% *} %)  monitor $4 $5 (${line#* } %)"
}
bench_load before
: > "$tmp/costs"
bench_abccba "$rounds" none noop monitor
bench_median_range "$tmp/costs" 1 noop '%s: median %.1f %%, range %.1f … %.1f %% (%d rounds)\n'
bench_median_range "$tmp/costs" 2 monitor '%s: median %.1f %%, range %.1f … %.1f %% (%d rounds)\n'
bench_load after
