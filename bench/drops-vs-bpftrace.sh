#!/bin/sh
# `inetmon monitor --summary` against a bpftrace `tracepoint:skb:kfree_skb`
# count by reason, side by side at the same drop rates. As in
# bench/monitor-drop-rate.sh: one paced flooder per CPU (bench/udp_paced.c)
# sends UDP from network namespace A towards a veth peer, and an nftables
# *output* rule in A drops every datagram (`udp dport 9999 counter drop`),
# so the kernel frees each one with SKB_DROP_REASON_NETFILTER_DROP. Nothing
# leaves the namespaces.
#
# Per rate: a flood alone (the rate the rule counts with no observer), then
# with inetmon, then with bpftrace, then bpftrace, inetmon again (order
# effects cancel). For each observer: drops the rule counted, NETFILTER_DROP
# drops the observer counted (inetmon: its last summary table; bpftrace: its
# map printed at exit), whether they are equal, the drop rate reached
# against the flood alone, and the observer's CPU time per drop.
#
# usage: bench/drops-vs-bpftrace.sh [SECONDS] [RATES]
#        (default 3, "100000 250000 500000"; "max" = unpaced)
# env:   BIN=inetmon binary (default: build target/release/inetmon).
# Needs root, gcc, nft, ip, bpftrace (scripts/setup.sh). About 1.5 minutes.
set -eu
. "$(dirname "$0")/lib.sh"
secs=${1:-3}
rates=${2:-"100000 250000 500000"}
if [ -z "${BIN:-}" ]; then
	(cd "$root" && cargo build --release -q -p inetmon)
	BIN=$root/target/release/inetmon
fi
a=inetmon-dvb-a-$$
b=inetmon-dvb-b-$$
mon=
bench_on_exit='[ -z "$mon" ] || kill "$mon" 2>/dev/null || true'
trap 'exit 1' INT TERM
bench_cc udp_paced
bench_netns "$a" "$b"
bench_veth "$a" "$b" 10.204.0
bench_nft_drop "$a" dvb output
# bpftrace (0.17 here) prints the reason as a number: look it up in BTF.
nf_reason=$(bpftool btf dump file /sys/kernel/btf/vmlinux | sed -n "s/.*'SKB_DROP_REASON_NETFILTER_DROP' val=\([0-9]*\).*/\1/p")
cat >"$tmp/drops.bt" <<'EOF'
BEGIN { printf("ready\n"); }
tracepoint:skb:kfree_skb { @[args->reason] = count(); }
EOF

# flood RATE: all flooders at once; prints the rule's counter delta.
flood() {
	c0=$(bench_counted "$a" dvb output)
	bench_paced_flood "$a" 10.204.0.2 "$secs" "$1"
	c1=$(bench_counted "$a" dvb output)
	echo $((c1 - c0))
}

# observe KIND RATE: prints "counted reported cpu_ns"
observe() {
	rm -f "$tmp/out" "$tmp/err"
	if [ "$1" = inetmon ]; then
		ip netns exec "$a" "$BIN" monitor --summary >"$tmp/out" 2>"$tmp/err" & mon=$!
		bench_wait_for "$tmp/err" attached
	else
		bpftrace "$tmp/drops.bt" >"$tmp/out" 2>"$tmp/err" & mon=$!
		bench_wait_for "$tmp/out" ready
	fi
	c0=$(bench_cpu_ns $mon)
	d=$(flood "$2")
	# The summary refreshes every second: let one more table come out.
	sleep 2.2
	c1=$(bench_cpu_ns $mon)
	kill -TERM $mon 2>/dev/null || true; wait $mon 2>/dev/null || true; mon=
	if [ "$1" = inetmon ]; then
		# NETFILTER_DROP rows of the last table (cumulative since start).
		got=$(awk '/COUNT +DELTA/ {n = 0} /NETFILTER_DROP/ {n += $1} END {print n + 0}' "$tmp/out")
	else
		got=$(awk -F': ' -v r="@[$nf_reason]" '$1 == r {n += $2} END {print n + 0}' "$tmp/out")
	fi
	[ -z "${KEEP:-}" ] || cp "$tmp/out" "$KEEP.$1.$2"
	echo "$d $got $((c1 - c0))"
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $ncpu CPUs; $secs s per run"
echo "rate observer drops/s counted reported equal rate/alone ns_per_drop"
: >"$tmp/rows"
for rate in $rates; do
	alone=$(flood "$rate")
	echo "$rate none $((alone / secs)) $alone - - 1.000 -"
	i1=$(observe inetmon "$rate"); t1=$(observe bpftrace "$rate")
	t2=$(observe bpftrace "$rate"); i2=$(observe inetmon "$rate")
	for row in "inetmon $i1" "bpftrace $t1" "bpftrace $t2" "inetmon $i2"; do
		set -- $row
		eq=no; [ "$2" -eq "$3" ] && eq=yes
		ratio=$(bench_div "$2" "$alone" %.3f)
		ns=$(bench_div "$4" "$2" %.0f)
		echo "$rate $1 $(($2 / secs)) $2 $3 $eq $ratio $ns"
		echo "$rate $1 $ratio $ns $eq" >>"$tmp/rows"
	done
done
echo
awk '{k = $1 " " $2; r[k] += $3 / 2; c[k] += $4 / 2; if ($5 != "yes") bad[k] = 1; rs[$1] = 1}
	END {for (x in rs) {i = x " inetmon"; t = x " bpftrace"
		printf "RATIO at %s drops/s: bpftrace CPU/drop / inetmon CPU/drop = %.1fx (inetmon %.0f ns, bpftrace %.0f ns); rate vs alone: inetmon %.3f, bpftrace %.3f; counts equal to nft: inetmon %s, bpftrace %s\n",
			x, c[i] ? c[t] / c[i] : 0, c[i], c[t], r[i], r[t], (i in bad) ? "no" : "yes", (t in bad) ? "no" : "yes"}}' "$tmp/rows" | sort -t' ' -k3 -n
