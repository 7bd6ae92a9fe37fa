#!/bin/sh
# Interleaved trace-cost benchmark of `inetmon monitor` (run as root; only
# netns-local traffic):
#   bench/monitor-trace-interleave.sh INETMON_BINARY [ROUNDS] [SECONDS] [MONITOR ARGS...]
# Same setup as bench/monitor-drop-storm.sh (UDP flood from netns A over a
# veth pair into an nft `udp dport 9999 counter drop` rule in netns B), but
# alternates a bare flood and a flood with the monitor attached ROUNDS times
# (default 5, SECONDS each, default 5; ABBA order), so that drift in the
# machine's load and any first-vs-second effect hit both arms alike. The monitor arguments default to the issue-4 case
# `--type trace --iface veth-b --sample 100`. Prints each round, then the mean
# ± sample standard deviation of both rates and of the per-round cost, the
# monitor's CPU time and the CPU it last ran on, and the load average.
# Env FLOOD_CPU=N pins the flooder to CPU N (unset: the scheduler decides).
set -eu
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$1")
rounds=${2:-5}
secs=${3:-5}
shift $(($# < 3 ? $# : 3))
[ $# -gt 0 ] || set -- --type trace --iface veth-b --sample 100
a=inetmon-tri-a-$$
b=inetmon-tri-b-$$
bench_cc udp_flood
veth_drop_lab "$a" "$b" 10.202.0
lastcpu() { awk '{print $39}' "/proc/$1/stat"; }
pin=""
[ -n "${FLOOD_CPU:-}" ] && pin="taskset -c $FLOOD_CPU"

flood() { ip netns exec "$a" $pin "$tmp/udp_flood" 10.202.0.2 9999 "$secs"; }

echo "monitor: $*"
bench_load before
: > "$tmp/rates"
monitored() {
	bench_monitor "$tmp/out" "$tmp/err" ip netns exec "$b" "$bin" monitor "$@"
	t0=$(bench_ticks $pid)
	with=$(( $(flood) / secs ))
	sleep 0.3
	t1=$(bench_ticks $pid)
	cpu=$(lastcpu $pid)
	bench_stop $pid
}
i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	# ABBA order: odd rounds bare first, even rounds monitored first, so
	# that a first-vs-second effect (warm-up, frequency) cancels out.
	if [ $((i % 2)) = 1 ]; then
		base=$(( $(flood) / secs )); monitored "$@"; order="bare first"
	else
		monitored "$@"; base=$(( $(flood) / secs )); order="monitor first"
	fi
	lines=$(wc -l < "$tmp/out")
	echo "$base $with $(( (t1 - t0) * 1000 / hz ))" >> "$tmp/rates"
	echo "round $i ($order): bare $base/s, monitor $with/s ($(awk "BEGIN{printf \"%+.1f\", ($with/$base-1)*100}") %), monitor cpu $(( (t1 - t0) * 1000 / hz )) ms on cpu $cpu, $lines lines"
done
awk '
function sd(s, q, n) { return n > 1 ? sqrt((q - s * s / n) / (n - 1)) : 0 }
{ n++; b += $1; bq += $1 * $1; w += $2; wq += $2 * $2
  c = ($2 / $1 - 1) * 100; cs += c; cq += c * c
  if (n == 1 || c < cmin) cmin = c; if (n == 1 || c > cmax) cmax = c
  ms += $3 }
END {
  printf "bare:    %.0f ± %.0f pkt/s\n", b / n, sd(b, bq, n)
  printf "monitor: %.0f ± %.0f pkt/s\n", w / n, sd(w, wq, n)
  printf "cost per round: mean %+.1f %% ± %.1f (min %+.1f, max %+.1f), ratio of means %+.1f %%\n", cs / n, sd(cs, cq, n), cmin, cmax, (w / b - 1) * 100
  printf "monitor cpu: %.0f ms per round\n", ms / n
}' "$tmp/rates"
bench_load after
