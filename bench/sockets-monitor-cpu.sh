#!/usr/bin/env bash
# The CPU time `inetmon sockets --format json` (output to a file) spends per
# 10k connections of the loopback storm, for one or more binaries in
# alternating runs: the monitor process's CPU (all threads, user + system,
# from /proc/PID/task/*/schedstat) from its attach to 0.5 s after the
# storm, with the events it wrote and the loss lines. Less load-dependent
# than storm rates (but still inflated by a busy machine: compare only
# alternating runs).
#
# usage: bench/sockets-monitor-cpu.sh ROUNDS CONNECTIONS BIN [BIN...]   (root)
# env:   STORM=sockstorm binary (default: built as
#        target/release/examples/sockstorm)
set -euo pipefail
cd "$(dirname "$0")/.."
R=$1; N=$2; shift 2
if [ -z "${STORM:-}" ]; then
  cargo build --release -q -p inetmon-io --example sockstorm
  STORM=$PWD/target/release/examples/sockstorm
fi
ns=inetmon-smc-$$
tmp=$(mktemp -d)
mon=
cleanup() {
  [ -z "$mon" ] || kill "$mon" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
port=52000
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $N connections per run"
echo "round binary cpu_ms_per_10k events lost_lines"
for i in $(seq "$R"); do
  for bin in "$@"; do
    rm -f "$tmp/out" "$tmp/err"
    "$bin" sockets --format json >"$tmp/out" 2>"$tmp/err" & mon=$!
    until grep -q attached "$tmp/err" 2>/dev/null; do sleep 0.05; done
    c0=$(cpu_ns $mon)
    port=$((port + 1))
    ip netns exec "$ns" "$STORM" "$N" $port >/dev/null
    sleep 0.5
    c1=$(cpu_ns $mon)
    kill -INT $mon; wait $mon 2>/dev/null || true; mon=
    echo "$i $bin $(((c1 - c0) / 100 / N)) $(grep -c sockstorm "$tmp/out" || true) $(grep -c '"kind":"lost"' "$tmp/out" || true)"
  done
done
