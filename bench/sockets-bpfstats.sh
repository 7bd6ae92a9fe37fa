#!/bin/sh
# BPF cost per connection of `inetmon sockets`: attaches the monitor, turns
# on kernel.bpf_stats_enabled, runs a loopback connect/accept/close storm of
# N connections in a private netns, and prints for each program of this
# monitor instance (the programs loaded after it started) the runs per
# connection, ns per run and ns per connection (run_time_ns/run_cnt deltas
# from `bpftool prog show`), then the total. Load-independent, unlike the
# storm ratio of sockets-storm.sh; bpf_stats adds ~20-30 ns per run itself.
#   bench/sockets-bpfstats.sh [CONNECTIONS] [INETMON] [SOCKSTORM]   (root;
#   needs bpftool and jq)
# INETMON_ARGS adds flags to `inetmon sockets`, e.g.
#   INETMON_ARGS="--watch streamConnect" bench/sockets-bpfstats.sh 20000 BIN STORM
# (the events count is then of the watched operations only).
set -eu
. "$(dirname "$0")/lib.sh"
N=${1:-20000}
BIN=${2:-}
STORM=${3:-}
bench_build_release
ns=inetmon-bpfstats-$$
bench_netns "$ns"
stats0=$(sysctl -n kernel.bpf_stats_enabled)
bench_on_exit='[ -n "${mon:-}" ] && kill -INT "$mon" 2>/dev/null
	sysctl -q kernel.bpf_stats_enabled="$stats0"'
sysctl -q kernel.bpf_stats_enabled=1
bpftool prog show -j | jq -c '[.[].id]' >"$tmp/ids0"
# shellcheck disable=SC2086 # INETMON_ARGS is a list of flags
"$BIN" sockets --format json ${INETMON_ARGS:-} >"$tmp/out" 2>"$tmp/err" &
mon=$!
until grep -q attached "$tmp/err" 2>/dev/null; do
	kill -0 "$mon" 2>/dev/null || { mon=; cat "$tmp/err" >&2; exit 1; }
	sleep 0.1
done
snap() { bpftool prog show -j | jq -c --slurpfile old "$tmp/ids0" '[.[] | select(.id as $i | $old[0] | index($i) | not) | {id, name, ns: (.run_time_ns // 0), cnt: (.run_cnt // 0)}]'; }
snap >"$tmp/a"
port=$((40000 + $$ % 20000))
ip netns exec "$ns" "$STORM" "$N" "$port" >"$tmp/rate"
snap >"$tmp/b"
sleep 1
kill -INT "$mon"; wait "$mon" || true; mon=
echo "args: ${INETMON_ARGS:-(none)}"
echo "load $(cut -d' ' -f1-3 /proc/loadavg)  storm: $(cat $tmp/rate)  events: $(grep -c sockstorm $tmp/out) lost-lines: $(grep -c '"kind":"lost"' $tmp/out || true)"
jq -n -r --slurpfile a "$tmp/a" --slurpfile b "$tmp/b" --argjson n "$N" '
  [$b[0][] as $x | ($a[0][] | select(.id == $x.id)) as $y | {name: $x.name, dns: ($x.ns - $y.ns), dcnt: ($x.cnt - $y.cnt)} | select(.dcnt > 0)]
  | (.[] | "\(.name)\t runs/conn \(.dcnt / $n * 100 | round / 100)\t ns/run \(if .dcnt>0 then (.dns / .dcnt | round) else 0 end)\t ns/conn \(.dns / $n | round)"),
    "TOTAL ns/conn \((map(.dns) | add) / $n | round)"'
