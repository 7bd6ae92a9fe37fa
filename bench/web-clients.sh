#!/bin/sh
# The web view's cost in the daemon: `inetmon daemon` with [metrics] listen
# and [drops] (kernel counters), under a steady load (loopback connections
# opened and closed at RATE/s, HOLD connections held open, UDP datagrams
# dropped by nftables in a namespace at DROPS/s), measured for SECS seconds
# with 0 open pages and then with N pages' event streams (curl -N on
# /events: what a page keeps open; the assets are fetched once per page).
# Prints per phase: clients, daemon CPU (user+system) in % of one core,
# daemon CPU per second of wall time in ms, views received by the clients,
# and the daemon's RSS.
#   bench/web-clients.sh [N] [SECS] [RATE] [HOLD] [DROPS]     (root)
# BIN=target/debug/inetmon measures a debug build instead of building the
# release one.
set -eu
N=${1:-10}
SECS=${2:-20}
RATE=${3:-200}
HOLD=${4:-1000}
DROPS=${5:-1000}
. "$(dirname "$0")/lib.sh"
if [ -z "${BIN:-}" ]; then
	(cd "$root" && cargo build --quiet --release -p inetmon --bin inetmon)
	BIN=$root/target/release/inetmon
fi
ns=inetmon-bench-web-$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=""
bench_on_exit='for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null'
mkdir -m 0700 "$tmp/state"
cat >"$tmp/inetmon.toml" <<EOF
state_dir = "$tmp/state"
socket = "$tmp/inetmon.sock"
[drops]
enabled = true
[metrics]
listen = "127.0.0.1:$port"
EOF
"$BIN" daemon --config "$tmp/inetmon.toml" 2>"$tmp/err" &
daemon=$!
bench_wait_for "$tmp/err" running: 100 0.1

# The load: held connections, a paced connect/close loop, paced drops.
python3 - "$HOLD" "$RATE" <<'EOF' &
import socket, sys, time
hold, rate = int(sys.argv[1]), int(sys.argv[2])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 0)); l.listen(4096)
addr = l.getsockname()
held = []
for _ in range(hold):
    held.append(socket.create_connection(addr)); held.append(l.accept()[0])
t = time.monotonic()
while True:
    c = socket.create_connection(addr); a = l.accept()[0]; c.close(); a.close()
    t += 1.0 / rate
    d = t - time.monotonic()
    if d > 0: time.sleep(d)
EOF
pids="$pids $!"
bench_netns "$ns"
printf 'table inet b {\n chain input {\n  type filter hook input priority 0;\n  udp dport 9 drop\n }\n}\n' | ip netns exec "$ns" nft -f -
ip netns exec "$ns" python3 - "$DROPS" <<'EOF' &
import socket, sys, time
rate = int(sys.argv[1]); u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t = time.monotonic()
while True:
    for _ in range(10): u.sendto(b"x", ("127.0.0.1", 9))
    t += 10.0 / rate
    d = t - time.monotonic()
    if d > 0: time.sleep(d)
EOF
pids="$pids $!"
sleep 3
echo "load: $RATE connections/s, $HOLD held, $DROPS drops/s; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "clients cpu_pct cpu_ms_per_s views rss_kib"
for clients in 0 "$N"; do
	cpids=""
	c=0
	while [ $c -lt "$clients" ]; do
		c=$((c + 1))
		curl -s "http://127.0.0.1:$port/" -o /dev/null
		curl -s "http://127.0.0.1:$port/app.js" -o /dev/null
		curl -sN "http://127.0.0.1:$port/events" -o "$tmp/sse.$c" &
		cpids="$cpids $!"
	done
	pids="$pids $cpids"
	sleep 2
	c0=$(bench_ticks "$daemon")
	t0=$(date +%s.%N)
	sleep "$SECS"
	c1=$(bench_ticks "$daemon")
	t1=$(date +%s.%N)
	views=0
	[ "$clients" -gt 0 ] && views=$(cat "$tmp"/sse.* | grep -c '^event: view' || true)
	rss=$(awk '/VmRSS/{print $2}' "/proc/$daemon/status")
	awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v tck="$hz" -v n="$clients" -v v="$views" -v rss="$rss" \
		'BEGIN { s = (c1 - c0) / tck; w = t1 - t0; printf "%d %.1f %.1f %d %d\n", n, 100 * s / w, 1000 * s / w, v, rss }'
	for p in $cpids; do kill "$p" 2>/dev/null || true; done
	rm -f "$tmp"/sse.*
done
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^inetmon_(drops_total\{reason="NETFILTER_DROP"\}|web_clients|lost_events_total)' || true
