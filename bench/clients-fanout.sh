#!/bin/sh
# Fan-out of the daemon's client hub (issue 12): `inetmon daemon` collects a
# loopback connect/accept/close storm in a private netns while K clients
# (`inetmon sockets --format json`, each into a counting reader) watch
# through its socket. One fresh daemon per K; K = 0 is the baseline (the
# daemon journals the storm with no client).
# Prints per row: clients, storm events the daemon collected, the fewest
# socket events a client printed, events lost at client queues (summed over
# clients), producer loss (the daemon's "lost before the journal" plus any
# lost event of the sockets source a client printed), the daemon's CPU
# (user+sys) from the storm's start until it is idle again, and that CPU
# over the baseline per client, per client and storm event.
#   bench/clients-fanout.sh [CONNECTIONS] [K...]     (root; default 20000 0 1 10 50)
#   env BIN: this inetmon binary instead of a release build of the tree.
# Each storm connection is 7 events with a port (connect, connected, accept,
# two disconnects, two closes), plus 3 for the listener; the daemon keeps
# only the storm's port (in the kernel).
set -eu
N=${1:-20000}
shift $(($# > 0 ? 1 : 0))
KS=${*:-0 1 10 50}
. "$(dirname "$0")/lib.sh"
if [ -z "${BIN:-}" ]; then
	(cd "$root" && cargo build --quiet --release -p inetmon --bin inetmon)
	BIN=$root/target/release/inetmon
fi
ns=inetmon-bench-$$
port=17531
daemon=
bench_on_exit='[ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null'
bench_netns "$ns"
echo "clients storm_events min_client_events client_queue_lost producer_lost daemon_cpu_ms cpu_us_per_client_event_over_base"
base=
for k in $KS; do
	rm -rf "$tmp/state" "$tmp/run" "$tmp"/c.* "$tmp/daemon.log"
	cat >"$tmp/inetmon.toml" <<CFG
state_dir = "$tmp/state"
socket = "$tmp/run/inetmon.sock"
[journal]
sync = "interval"
[sockets.filters]
port = $port
CFG
	"$BIN" daemon --config "$tmp/inetmon.toml" 2>"$tmp/daemon.log" &
	daemon=$!
	bench_wait_for "$tmp/daemon.log" running: 300 0.1
	c=0
	pids=
	while [ $c -lt "$k" ]; do
		c=$((c + 1))
		mkfifo "$tmp/c.$c.fifo"
		awk '/"kind":"sock"/{n++} /"kind":"lost"/{match($0,/"count":[0-9]+/); v=substr($0,RSTART+8,RLENGTH-8); if ($0 ~ /"source":"pipeline"/) q+=v; else p+=v}
			END{print n+0, q+0, p+0}' <"$tmp/c.$c.fifo" >"$tmp/c.$c.count" &
		INETMON_SOCKET=$tmp/run/inetmon.sock "$BIN" sockets --format json >"$tmp/c.$c.fifo" 2>"$tmp/c.$c.err" &
		pids="$pids $!"
	done
	c=0
	while [ $c -lt "$k" ]; do
		c=$((c + 1))
		bench_wait_for "$tmp/c.$c.err" attached 300 0.1
	done
	before=$(bench_ticks "$daemon")
	# The storm: N loopback connections (connect, accept, close both).
	ip netns exec "$ns" /usr/bin/python3 -c "
import socket
l=socket.socket(); l.bind(('127.0.0.1',$port)); l.listen(128)
for i in range($N):
    c=socket.create_connection(('127.0.0.1',$port)); s,_=l.accept(); c.close(); s.close()
l.close()"
	# Idle again: the daemon used at most 2 ticks of CPU in the last second
	# (its 1 s clock and the ring's polling cost a little even when idle).
	last=-100
	now=$(bench_ticks "$daemon")
	while [ $((now - last)) -gt 2 ]; do last=$now; sleep 1; now=$(bench_ticks "$daemon"); done
	after=$now
	for p in $pids; do kill -INT "$p"; wait "$p" 2>/dev/null || true; done
	kill -TERM "$daemon"; wait "$daemon" || true
	daemon=
	sleep 0.2
	stopped=$(grep 'stopped:' "$tmp/daemon.log")
	events=$(echo "$stopped" | sed -n 's/.*stopped: \([0-9]*\) events.*/\1/p')
	plost=$(echo "$stopped" | sed -n 's/.* \([0-9]*\) lost before the journal.*/\1/p')
	min=-; qlost=0
	c=0
	while [ $c -lt "$k" ]; do
		c=$((c + 1))
		read -r n q p <"$tmp/c.$c.count"
		[ "$min" = - ] || [ "$n" -lt "$min" ] && min=$n
		qlost=$((qlost + q)); plost=$((plost + p))
	done
	ms=$(awk -v a="$after" -v b="$before" -v t="$hz" 'BEGIN{printf "%.0f", (a-b)/t*1000}')
	[ -n "$base" ] || base=$ms
	per=$(awk -v m="$ms" -v b="$base" -v k="$k" -v e="$events" 'BEGIN{ if (k>0 && e>0) printf "%.3f", (m-b)*1000/k/e; else print "-" }')
	echo "$k $events $min $qlost $plost $ms $per"
done
