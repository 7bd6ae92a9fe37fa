#!/bin/bash
# The floor of `inetmon sockets`: the storm rate with the same hooks carrying
# EMPTY programs, against the real programs with every event filtered in the
# kernel (`--pid 1`) and with JSON output (run as root; netns-local only):
#   bench/sockets-hook-floor.sh ROUNDS CONNECTIONS [NOOP_INETMON [INETMON [SOCKSTORM]]]
# NOOP_INETMON is a build whose sock.bpf.c programs all return at once
# (cgroup and sockops programs return 1, the others 0); without it (or
# with `build`) bench/noop-build.sh makes one from HEAD.
# Each round: bare, noop, filtered, json, json, filtered, noop, bare (order
# effects cancel); ratios against the round's mean bare rate.
set -eu
R=${1:-6}; N=${2:-40000}; NOOP=${3:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
[ "$NOOP" != build ] || NOOP=$("$root/bench/noop-build.sh")
REAL=${4:-$root/target/release/inetmon}
STORM=${5:-$root/target/release/examples/sockstorm}
ns=inetmon-floor-$$
ip netns add $ns; ip -n $ns link set lo up
tmp=$(mktemp -d)
trap 'ip netns del $ns 2>/dev/null; rm -rf "$tmp"' EXIT
port=50000
run() { port=$((port+1)); ip netns exec $ns "$STORM" "$N" $port | awk '{print $3}'; }
withmon() {
	bin=$1; shift
	rm -f "$tmp/err"
	"$bin" sockets "$@" > /dev/null 2> "$tmp/err" & m=$!
	until grep -q attached "$tmp/err" 2>/dev/null; do sleep 0.05; done
	r=$(run); kill -INT $m; wait $m 2>/dev/null || true; echo "$r"
}
for i in $(seq "$R"); do
	a=$(run); n1=$(withmon "$NOOP" --format json); f1=$(withmon "$REAL" --pid 1); j1=$(withmon "$REAL" --format json)
	j2=$(withmon "$REAL" --format json); f2=$(withmon "$REAL" --pid 1); n2=$(withmon "$NOOP" --format json); b=$(run)
	echo "$a $b $n1 $n2 $f1 $f2 $j1 $j2" | awk '{base = ($1 + $2) / 2
		printf "bare %d %d  empty programs %.3f  filtered %.3f  json %.3f\n", $1, $2, ($3 + $4) / 2 / base, ($5 + $6) / 2 / base, ($7 + $8) / 2 / base}'
done
