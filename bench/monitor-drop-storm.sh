#!/bin/sh
# Drop-storm benchmark of `inetmon monitor` (run as root, on an idle machine
# for absolute numbers; only netns-local traffic):
#   bench/monitor-drop-storm.sh INETMON_BINARY [SECONDS]
# Builds bench/udp_flood.c, makes namespaces A and B joined by a veth pair,
# and floods UDP from A into an nft `udp dport 9999 counter drop` rule in B:
#   1. without the monitor (baseline flood rate),
#   2. with `inetmon monitor --type drop` (every drop a line, to /dev/null),
#   3. with `inetmon monitor --summary` (counted in the kernel),
#   4. with traces on veth-b sampled 1:100 (`--type trace --sample 100`),
# printing datagrams sent per second, drops the rule counted, events the
# monitor reported, events lost, and the monitor's CPU time per event.
set -eu
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$1")
secs=${2:-5}
a=inetmon-storm-a-$$
b=inetmon-storm-b-$$
bench_cc udp_flood
veth_drop_lab "$a" "$b" 10.201.0

flood() {
	c0=$(bench_counted "$b" storm input)
	sent=$(ip netns exec "$a" "$tmp/udp_flood" 10.201.0.2 9999 "$secs")
	c1=$(bench_counted "$b" storm input)
	echo "$sent $((c1 - c0))"
}

set -- $(flood)
echo "baseline: sent $(( $1 / secs ))/s, dropped $2"

run_monitor() {
	label=$1; shift
	bench_monitor "$tmp/out" "$tmp/err" ip netns exec "$b" "$bin" monitor "$@"
	t0=$(bench_ticks $pid)
	set -- $(flood)
	sleep 1.5
	t1=$(bench_ticks $pid)
	bench_stop $pid
	sent=$1; dropped=$2
	echo "$label: sent $(( sent / secs ))/s, dropped $dropped ($(( dropped / secs ))/s), cpu $(( (t1 - t0) * 1000 / hz )) ms"
}

run_monitor "monitor --type drop" --type drop --port 9999
events=$(grep -c 'xx drop' "$tmp/out" || true)
lost=$(sed -n 's/^Lost \([0-9]*\) event.*/\1/p' "$tmp/out" | awk '{s+=$1} END {print s+0}')
echo "  lines $events, lost $lost"

run_monitor "monitor --summary" --summary
tail -n 3 "$tmp/out" | sed 's/^/  /'

run_monitor "monitor --type trace --sample 100" --type trace --iface veth-b --sample 100
echo "  trace lines $(grep -c 'network interface' "$tmp/out" || true)"
