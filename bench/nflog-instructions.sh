#!/usr/bin/env bash
# Live NFLOG, inetmon alone: the cost per packet of `inetmon ipmon -f
# nflog:8 FILE`, measured in ways that do not depend on the machine's load.
#
# In a private network namespace (only `lo`), `udp dport 9999 counter log
# group 8 drop` logs every datagram bench/flood sends (pinned to CPU 0),
# and the count is divided by the packets the rule logged.
#
#   default  user-space instructions, counted by callgrind (this VM has no
#            hardware counters: `perf stat -e instructions` says "not
#            supported"). inetmon runs under `valgrind --tool=callgrind`;
#            its counters are zeroed once it is bound and dumped once it has
#            written every line; startup is not counted, everything after it
#            is (both threads, the per-read and per-flush costs at this
#            rate). Valgrind slows inetmon ~50x: keep RATE low.
#   CPU=1    inetmon natively: CPU time of all its threads (schedstat,
#            kernel included) and context switches, per packet.
#
# usage: bench/nflog-instructions.sh [RATE] [SECS]   (default 10000 2)
# env:   BIN=inetmon binary (default: build target/release/inetmon),
#        OUT=keep the callgrind file there (`callgrind_annotate OUT.1`).
# Needs root, nft, ip, valgrind.
set -eu
. "$(dirname "$0")/lib.sh"
rate=${1:-10000}
secs=${2:-2}
if [ -z "${BIN:-}" ]; then
  (cd "$root" && cargo build --release -q -p inetmon)
  BIN=$root/target/release/inetmon
fi
(cd "$root/bench/flood" && CARGO_TARGET_DIR="$root/target/flood" cargo build --release -q)
flood=$root/target/flood/release/inetmon-flood
ns=inetmon-cg-$$
out=${OUT:-$tmp/callgrind.out}
ipid=
bench_on_exit='[ -z "$ipid" ] || kill "$ipid" 2>/dev/null; wait 2>/dev/null'
bench_netns "$ns"
printf 'table inet vs {\n chain in {\n  type filter hook input priority 0;\n  udp dport 9999 counter log group 8 drop\n }\n}\n' |
  ip netns exec "$ns" nft -f -
if [ -n "${CPU:-}" ]; then
  ip netns exec "$ns" "$BIN" ipmon -f nflog:8 "$tmp/inetmon.out" 2>"$tmp/err" &
else
  ip netns exec "$ns" valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$BIN" ipmon -f nflog:8 "$tmp/inetmon.out" 2>"$tmp/err" &
fi
ipid=$!
g=
for _ in $(seq 600); do
  g=$(ip netns exec "$ns" awk '{print $1}' /proc/net/netfilter/nfnetlink_log | tr '\n' ' ')
  [ "$g" = "8 " ] && break
  sleep 0.1
done
[ "$g" = "8 " ] || { echo "inetmon did not bind group 8:"; cat "$tmp/err"; exit 1; }
# The reader thread allocates its buffers after binding.
sleep 1
logged() { ip netns exec "$ns" nft list chain inet vs in | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
switches() { cat /proc/"$ipid"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
if [ -n "${CPU:-}" ]; then
  n0=$(bench_cpu_ns "$ipid")
  s0=$(switches)
else
  callgrind_control -z "$ipid" >/dev/null 2>&1
fi
c0=$(logged)
ip netns exec "$ns" taskset -c 0 "$flood" 127.0.0.1:9999 "$rate" "$secs" 16 32 >"$tmp/flood"
sleep 0.5
c1=$(logged)
# Under valgrind inetmon is slow: wait until it wrote every line.
for _ in $(seq 600); do
  [ "$(wc -l <"$tmp/inetmon.out")" -lt "$c1" ] || break
  sleep 0.1
done
sleep 0.5
if [ -n "${CPU:-}" ]; then
  n1=$(bench_cpu_ns "$ipid")
  s1=$(switches)
else
  callgrind_control -d "$ipid" >/dev/null 2>&1
  sleep 0.5
fi
kill -TERM "$ipid"
wait "$ipid" || true
ipid=
n=$((c1 - c0))
lost=$(awk '/^lost [0-9]+ / || /^missed [0-9]+ / {l += $2} END {print l + 0}' "$tmp/inetmon.out")
sent=$(awk '{printf "%.0f", $2 / $5}' "$tmp/flood")
bench_load "at the end"
if [ -n "${CPU:-}" ]; then
  awk -v n="$n" -v ns=$((n1 - n0)) -v cs=$((s1 - s0)) -v lost="$lost" -v sent="$sent" 'BEGIN {
    printf "packets %d (%s/s sent) lost %d CPU %.3f us/packet, %.5f context switches/packet\n",
      n, sent, lost, ns / 1000 / n, cs / n }'
else
  ir=$(callgrind_annotate "$out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  echo "packets $n ($sent/s sent) lost $lost user instructions $ir per packet $((ir / n))"
fi
