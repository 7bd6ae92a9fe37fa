#!/bin/sh
# Drop-rate benchmark of `inetmon monitor` (run as root; only netns-local
# traffic):   bench/monitor-drop-rate.sh INETMON_BINARY [SECONDS] [RATES]
# RATES: space-separated drops/s to aim for, "max" for unpaced (default
# "100000 250000 500000 max"). One flooder per CPU (bench/udp_paced.c,
# send(2) in a loop, each pinned, each RATE/CPUs) sends UDP from netns A
# towards a veth peer, and an nftables *output* rule in A drops every
# datagram (`udp dport 9999 counter drop`): the kernel frees each one with
# SKB_DROP_REASON_NETFILTER_DROP in the sender's context. This reaches
# ~1M drops/s on two cores, where a flood over veth into an input rule
# (bench/monitor-drop-storm.sh) is limited to ~350k/s by one sender.
# For each rate and mode it prints: drops/s the rule counted, what the
# monitor reported (summary total, or lines + lost), whether that equals
# the rule's counter, and the monitor's CPU time.
# Modes: none (flood only), summary (`--summary`, counted in the kernel),
# lines (`--type drop --port 9999`, one line per drop to a file).
set -eu
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$1")
secs=${2:-5}
rates=${3:-"100000 250000 500000 max"}
a=inetmon-drate-a-$$
b=inetmon-drate-b-$$
bench_cc udp_paced
bench_netns "$a" "$b"
bench_veth "$a" "$b" 10.203.0
bench_nft_drop "$a" drate output

# flood RATE: all flooders in parallel; prints the rule's counter delta.
flood() {
	c0=$(bench_counted "$a" drate output)
	bench_paced_flood "$a" 10.203.0.2 "$secs" "$1"
	c1=$(bench_counted "$a" drate output)
	echo $((c1 - c0))
}

echo "rate mode drops/s reported lost equal monitor_cpu_ms ns_per_drop"
for rate in $rates; do
	d=$(flood "$rate")
	echo "$rate none $((d / secs)) - - - - -"
	for mode in summary lines; do
		if [ $mode = summary ]; then
			set -- --summary
		else
			set -- --type drop --port 9999
		fi
		bench_monitor "$tmp/out" "$tmp/err" ip netns exec "$a" "$bin" monitor "$@"
		t0=$(bench_ticks $pid)
		d=$(flood "$rate")
		# Summary refreshes every second: let one more table come out.
		sleep 2.5
		t1=$(bench_ticks $pid)
		bench_stop $pid
		lost=$(sed -n 's/^Lost \([0-9]*\) event.*/\1/p' "$tmp/out" | awk '{s+=$1} END {print s+0}')
		if [ $mode = summary ]; then
			got=$(awk '$NF == "total" {t = $1} END {print t + 0}' "$tmp/out")
		else
			got=$(grep -c 'xx drop' "$tmp/out" || true)
		fi
		eq=no
		[ $((got + lost)) -eq "$d" ] && eq=yes
		ms=$(( (t1 - t0) * 1000 / hz ))
		ns=$(awk -v ms=$ms -v d=$d 'BEGIN {printf "%.0f", d ? ms * 1e6 / d : 0}')
		echo "$rate $mode $((d / secs)) $got $lost $eq $ms $ns"
	done
done
