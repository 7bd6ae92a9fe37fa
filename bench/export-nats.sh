#!/usr/bin/env bash
# NATS JetStream export (issue 13, "Performance"): BENCHMARKS.md section 7.
#
#   sudo bench/export-nats.sh            # N=3000 RATE=500 by default
#
# 1. `cargo bench -p inetmon-io --bench export_nats`: the export rate of a
#    journal backlog to a local nats-server -js (0 loss, the stream's count
#    checked) per window, and the latency journal append -> consumer.
# 2. Kernel event -> `inetmon collect`: `inetmon daemon` reading NFLOG in a
#    network namespace and exporting to a nats-server there; N UDP packets
#    paced at RATE/s hit an nftables `log group` rule; `inetmon collect -j`
#    reads them; latency = when collect's line was read - the event's time
#    (NFLOG's time of the packet). Prints p50/p90/p99/max.
set -euo pipefail
N=${N:-3000}
RATE=${RATE:-500}
cd "$(dirname "$0")/.."

echo "== export rate and journal -> consumer latency (cargo bench)"
cargo bench -q -p inetmon-io --bench export_nats 2>&1 | grep -E '^(rate|latency|skipped)'

echo "== kernel event -> inetmon collect (daemon, NFLOG, $N packets at $RATE/s)"
cargo build -q --release -p inetmon
bin=$PWD/target/release/inetmon
tmp=$(mktemp -d)
chmod 700 "$tmp"
ns=inetmon-bench-nats-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
printf 'table inet t {\n chain out {\n  type filter hook output priority 0;\n  udp dport 9999 log group 7\n }\n}\n' |
  ip netns exec "$ns" nft -f -
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ip netns exec "$ns" nats-server -js -a 127.0.0.1 -p "$port" -sd "$tmp/store" -l "$tmp/nats.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "Server is ready" "$tmp/nats.log" 2>/dev/null && break; sleep 0.1; done
cat > "$tmp/inetmon.toml" <<CFG
state_dir = "$tmp/state"
socket = "$tmp/inetmon.sock"
[sockets]
enabled = false
[nflog]
groups = [7]
[export.nats]
url = "nats://127.0.0.1:$port"
stream = "LAT"
host = "bench"
CFG
ip netns exec "$ns" "$bin" daemon --config "$tmp/inetmon.toml" 2>"$tmp/daemon.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "running:" "$tmp/daemon.err" 2>/dev/null && break; sleep 0.1; done
cat > "$tmp/lat.py" <<'PY'
import datetime, json, subprocess, sys, time
cmd, n = sys.argv[1:-1], int(sys.argv[-1])
p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
lat = []
for line in p.stdout:
    now = time.time_ns()
    t = json.loads(line)["time"]
    secs = datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()
    lat.append(now - (int(secs) * 10**9 + int(t[20:29])))
    if len(lat) >= n:
        break
p.terminate()
lat.sort()
q = lambda f: lat[int((len(lat) - 1) * f)] / 1e6
print(f"kernel->collect received={len(lat)} p50={q(0.5):.2f}ms p90={q(0.9):.2f}ms p99={q(0.99):.2f}ms max={q(1):.2f}ms")
PY
cat > "$tmp/send.py" <<'PY'
import socket, sys, time
n, rate = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.monotonic()
for i in range(n):
    s.sendto(b"x", ("127.0.0.1", 9999))
    due = start + (i + 1) / rate
    d = due - time.monotonic()
    if d > 0:
        time.sleep(d)
PY
python3 "$tmp/lat.py" ip netns exec "$ns" "$bin" collect --nats "nats://127.0.0.1:$port" --stream LAT \
  --kind packet -j "$N" > "$tmp/lat.out" &
lat_pid=$!
sleep 1
cpu0=$(awk '{print $14+$15}' /proc/"${pids[1]}"/stat)
ip netns exec "$ns" python3 "$tmp/send.py" "$N" "$RATE"
wait "$lat_pid"
cpu1=$(awk '{print $14+$15}' /proc/"${pids[1]}"/stat)
cat "$tmp/lat.out"
echo "daemon CPU during the run: $(( (cpu1 - cpu0) * 10 )) ms for $N events"
grep -E "NATS|lost" "$tmp/daemon.err" || true
