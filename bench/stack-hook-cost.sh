#!/bin/sh
# What the from-stack/to-stack hooks cost on a loopback UDP flood (run as
# root; only netns-local traffic):
#   bench/stack-hook-cost.sh INETMON_BINARY [ROUNDS] [SECONDS]
# In a fresh network namespace, bench/udp_flood.c (pinned to CPU 0) sends
# to 127.0.0.1:9999, where a socket created for each flood (so the owner
# hook sees it) is bound and never reads: every datagram passes cgroup skb
# egress (from-stack) and ingress (to-stack), then is dropped at the full
# receive buffer. Variants:
#   none   nothing attached;
#   s100   `inetmon monitor --type trace --stack --sample 100 --port 9999` (output to
#          /dev/null): the hooks on every packet, 1 in 100 put in the ring;
#   s1     the same with --sample 1: every packet in the ring.
# Each round runs none, s100, s1, s1, s100, none (ABCCBA, so order effects
# cancel) for SECONDS each, each flood starting 1 s after the attach. Rate
# of a variant in a round = its mean / the round's mean bare rate. The cgroup
# hooks go on the cgroup v2 root: while a monitor runs they see every
# packet of the machine (only --port 9999 records reach the ring).
set -eu
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$1")
rounds=${2:-5}
secs=${3:-2}
ns=inetmon-shc-$$
bench_cc udp_flood
bench_netns "$ns"
flood() {
	ip netns exec "$ns" python3 -c "import socket, time; s = socket.socket(2, 2); s.bind(('127.0.0.1', 9999)); open('$tmp/rx', 'w').close(); time.sleep(3600)" &
	rx=$!
	while [ ! -e "$tmp/rx" ]; do sleep 0.02; done
	n=$(ip netns exec "$ns" taskset -c 0 "$tmp/udp_flood" 127.0.0.1 9999 "$secs")
	kill $rx; wait $rx 2>/dev/null || true
	rm -f "$tmp/rx"
	echo $((n / secs))
}
run() {
	case $1 in
	none) sleep 1; flood ;;
	s*) bench_monitored 1 /dev/null "$bin" monitor --type trace --stack --sample "${1#s}" --port 9999 ;;
	esac
}
round() { # R N1 A1 B1 B2 A2 N2
	line=$(awk -v n1=$2 -v n2=$7 -v a1=$3 -v a2=$6 -v b1=$4 -v b2=$5 'BEGIN {
		b = (n1 + n2) / 2
		printf "%.3f %.3f", (a1 + a2) / 2 / b, (b1 + b2) / 2 / b }')
	echo "$line" >> "$tmp/ratios"
	echo "round $1: bare $2 $7/s  s100 $3 $6/s (ratio ${line% *})  s1 $4 $5/s (ratio ${line#* })"
}
bench_load before
: > "$tmp/ratios"
bench_abccba "$rounds" none s100 s1
bench_median_range "$tmp/ratios" 1 s100 'RATIO %s/none: median %.3f, range %.3f … %.3f (%d rounds)\n'
bench_median_range "$tmp/ratios" 2 s1 'RATIO %s/none: median %.3f, range %.3f … %.3f (%d rounds)\n'
bench_load after
