#!/bin/sh
# Benchmark of `inetmon sockets`: a loopback connect/accept/close storm in a
# network namespace, without and with the monitor attached (JSON output to a
# counting reader). Prints per round: bare rate, rate with inetmon, their
# ratio, events of the storm program seen (8 per connection + 4 for the
# listener), events lost, inetmon user+system CPU per event, and
# inetmon's peak RSS.
#   bench/sockets-storm.sh [CONNECTIONS] [ROUNDS]     (root)
#   env BIN, STORM: use these inetmon and sockstorm binaries (both set:
#   nothing is built).
set -eu
. "$(dirname "$0")/lib.sh"
N=${1:-100000}
ROUNDS=${2:-3}
bench_build_release
ns=inetmon-bench-$$
bench_netns "$ns"
port=47124
echo "connections bare_rate mon_rate ratio events lost cpu_us_per_event rss_kib"
r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	port=$((port + 1))
	bare=$(ip netns exec "$ns" "$STORM" "$N" "$port" | awk '{print $3}')
	port=$((port + 1))
	mkfifo "$tmp/fifo"
	awk '/"comm":"sockstorm"/{n++} /"kind":"lost"/{match($0,/"count":[0-9]+/); l+=substr($0,RSTART+8,RLENGTH-8)}
		{t++; if (match($0,/"seq":[0-9]+/)) s=substr($0,RSTART+6,RLENGTH-6)} END{print n+0, l+0, t+0, s+0}' \
		<"$tmp/fifo" >"$tmp/count" &
	reader=$!
	bench_monitor "$tmp/fifo" "$tmp/err" "$BIN" sockets --format json
	mon=$pid
	mrate=$(ip netns exec "$ns" "$STORM" "$N" "$port" | awk '{print $3}')
	sleep 1
	cpu=$(bench_ticks "$mon")
	rss=$(awk '/VmHWM/{print $2}' "/proc/$mon/status")
	kill -INT "$mon"
	wait "$mon" || echo "inetmon exit status $?" >&2
	wait "$reader"
	rm -f "$tmp/fifo"
	read -r events lost lines lastseq <"$tmp/count"
	# Every record read is printed: the last sequence number equals the
	# number of lines (a mismatch would mean records dropped in user space).
	[ "$lines" = "$lastseq" ] || echo "warning: $lines lines but last seq $lastseq" >&2
	awk -v n="$N" -v b="$bare" -v m="$mrate" -v e="$events" -v l="$lost" -v c="$cpu" -v t="$hz" -v rss="$rss" \
		'BEGIN{printf "%d %d %d %.3f %d %d %.2f %d\n", n, b, m, m/b, e, l, (e>0? c/t*1e6/e : 0), rss}'
done
