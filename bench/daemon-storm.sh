#!/bin/sh
# Benchmark of `inetmon daemon` journaling a loopback connect/accept/close
# storm (bench/sockets-storm.sh's storm, in a network namespace) with
# `[journal] sync = MODE`. Per mode: the storm's connections, seconds and
# rate; the storm's events in the journal (8 per connection + 4 for the
# listener); events lost (kernel, pipeline, journal queue); the daemon's
# user+system CPU per event (all events it handled, the storm's and any
# other program's); disk bytes per journaled event (database + WAL after
# the clean stop); the daemon's peak RSS; and the journaled events per
# second from the storm's start until the daemon had stored everything and
# stopped (SIGTERM right after the storm; the stop drains and commits).
#   bench/daemon-storm.sh [CONNECTIONS] [MODES]     (root; MODES: interval,always)
#   env BIN, STORM: use these inetmon and sockstorm binaries (both set:
#   nothing is built).
set -eu
. "$(dirname "$0")/lib.sh"
N=${1:-100000}
MODES=${2:-interval,always}
bench_build_release
ns=inetmon-bench-$$
bench_netns "$ns"
port=47300
echo "sync connections storm_s storm_conn_per_s storm_events journaled lost cpu_us_per_event bytes_per_event rss_kib journaled_per_s"
for mode in $(echo "$MODES" | tr ',' ' '); do
	port=$((port + 1))
	state=$tmp/state-$mode
	cat >"$tmp/$mode.toml" <<EOF
state_dir = "$state"
socket = "$tmp/inetmon.sock"
[journal]
sync = "$mode"
max_size = "0"
[sockets.filters]
comm = "sockstorm"
EOF
	rm -f "$tmp/err"
	# wait4(2) gives the daemon's CPU time and peak RSS after it exits.
	python3 - "$BIN" "$tmp/$mode.toml" "$tmp/err" "$tmp/usage" "$tmp/go" <<'EOF' &
import os, resource, signal, subprocess, sys, time
bin_, cfg, err, usage, go = sys.argv[1:]
p = subprocess.Popen([bin_, "daemon", "--config", cfg], stderr=open(err, "w"))
while not os.path.exists(go):
    time.sleep(0.05)
p.send_signal(signal.SIGTERM)
_, status, ru = os.wait4(p.pid, 0)
with open(usage, "w") as f:
    f.write("%f %d %f\n" % (ru.ru_utime + ru.ru_stime, ru.ru_maxrss, time.time()))
EOF
	runner=$!
	bench_wait_for "$tmp/err" "running:" 300 0.1
	t0=$(date +%s.%N)
	storm=$(ip netns exec "$ns" "$STORM" "$N" "$port")
	touch "$tmp/go"
	wait "$runner"
	rm -f "$tmp/go"
	read -r cpu rss t1 <"$tmp/usage"
	last=$(tail -n 1 "$tmp/err")
	# "stopped: E events, J journaled, L lost before the journal, Q lost at the journal, R reloads"
	journaled=$(echo "$last" | sed -n 's/.* \([0-9]*\) journaled.*/\1/p')
	events=$(echo "$last" | sed -n 's/.*stopped: \([0-9]*\) events.*/\1/p')
	lost1=$(echo "$last" | sed -n 's/.* \([0-9]*\) lost before.*/\1/p')
	lost2=$(echo "$last" | sed -n 's/.* \([0-9]*\) lost at.*/\1/p')
	bytes=$(du -sb "$state" | awk '{print $1}')
	stormev=$("$BIN" journal query --state-dir "$state" --comm sockstorm -j | wc -l)
	echo "$storm" | awk -v m="$mode" -v se="$stormev" -v j="$journaled" -v e="$events" -v l="$((lost1 + lost2))" \
		-v c="$cpu" -v b="$bytes" -v r="$rss" -v t0="$t0" -v t1="$t1" \
		'{printf "%s %d %.1f %d %d %d %d %.2f %d %d %d\n", m, $1, $2, $3, se, j, l, c*1e6/e, b/j, r, j/(t1-t0)}'
done
