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
bin=$(realpath "$1")
secs=${2:-5}
rates=${3:-"100000 250000 500000 max"}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
a=inetmon-drate-a-$$
b=inetmon-drate-b-$$
trap 'ip netns del $a 2>/dev/null; ip netns del $b 2>/dev/null; rm -rf "$tmp"' EXIT
gcc -O2 -Wall -o "$tmp/udp_paced" "$here/udp_paced.c"
ip netns add "$a"; ip netns add "$b"
ip link add veth-a netns "$a" type veth peer name veth-b netns "$b"
ip -n "$a" addr add 10.203.0.1/24 dev veth-a
ip -n "$b" addr add 10.203.0.2/24 dev veth-b
ip -n "$a" link set veth-a up; ip -n "$b" link set veth-b up
ip -n "$a" link set lo up
ip netns exec "$a" ping -c1 -W1 10.203.0.2 >/dev/null
printf 'table inet drate {\n chain output {\n  type filter hook output priority 0;\n  udp dport 9999 counter drop\n }\n}\n' | ip netns exec "$a" nft -f -
counted() { ip netns exec "$a" nft list chain inet drate output | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
ncpu=$(nproc)

# flood RATE: all flooders in parallel; prints the rule's counter delta.
flood() {
	per=0
	[ "$1" = max ] || per=$(( $1 / ncpu ))
	c0=$(counted)
	i=0
	while [ $i -lt "$ncpu" ]; do
		ip netns exec "$a" taskset -c $i "$tmp/udp_paced" 10.203.0.2 9999 "$secs" $per > "$tmp/sent.$i" &
		i=$((i + 1))
	done
	wait
	c1=$(counted)
	echo $((c1 - c0))
}

echo "rate mode drops/s reported lost equal monitor_cpu_ms ns_per_drop"
for rate in $rates; do
	d=$(flood "$rate")
	echo "$rate none $((d / secs)) - - - - -"
	for mode in summary lines; do
		rm -f "$tmp/err"
		if [ $mode = summary ]; then
			set -- --summary
		else
			set -- --type drop --port 9999
		fi
		ip netns exec "$a" "$bin" monitor "$@" > "$tmp/out" 2> "$tmp/err" &
		pid=$!
		while ! grep -q attached "$tmp/err" 2>/dev/null; do sleep 0.1; done
		t0=$(ticks $pid)
		d=$(flood "$rate")
		# Summary refreshes every second: let one more table come out.
		sleep 2.5
		t1=$(ticks $pid)
		kill -TERM $pid; wait $pid || true
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
