#!/usr/bin/env bash
# `inetmon sockets` against a bpftrace script, side by side: the loopback
# connect/accept/close storm (crates/inetmon-io/examples/sockstorm.rs, in a
# private network namespace) bare, with `inetmon sockets --format json` (to
# a file), and with a bpftrace script on the same syscall tracepoints and
# `sock:inet_sock_set_state` printing the same operations (socket, bind,
# listen, connect, accept, state changes, close) to a file. Interleaved
# rounds: bare, inetmon, bpftrace[, empty], [empty,] bpftrace, inetmon,
# bare; rates against the round's mean bare rate; medians over rounds.
#
# usage: bench/sockets-vs-bpftrace.sh [ROUNDS] [CONNECTIONS]   (default 4 20000)
# env:   BIN=inetmon binary (default: build target/release/inetmon),
#        NOOP=an inetmon build whose socket programs are empty: adds the
#        empty-programs floor, the cost of the hooks themselves, to every
#        round. NOOP=build (the default) makes one with bench/noop-build.sh
#        (HEAD's sources; one build of the workspace's own crates);
#        NOOP= (empty) leaves the floor out.
# Needs root, bpftrace (scripts/setup.sh). About 1–2 minutes.
#
# Overhead = 1 − rate/bare. Goal: inetmon's overhead ≥ 5× lower than
# bpftrace's, and within 3 points of the empty programs. Beside the rates,
# two CPU figures that depend far less on what else the machine runs: the
# monitor process's CPU (all threads) and the storm's own CPU per
# connection (its hooks and BPF programs run in it), both medians.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
R=${1:-4}
N=${2:-20000}
NOOP=${NOOP-build}
[ "$NOOP" != build ] || NOOP=$(bench/noop-build.sh)
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p inetmon
  BIN=$root/target/release/inetmon
fi
cargo build --release -q -p inetmon-io --example sockstorm
STORM=$root/target/release/examples/sockstorm
. bench/lib.sh
ns=inetmon-sbt-$$
mon=
# lib.sh's exit trap stops the monitor, deletes the namespace and $tmp.
bench_on_exit='[ -z "$mon" ] || kill "$mon" 2>/dev/null || true'
bench_namespaces=$ns
trap 'exit 1' INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up

# The same operations inetmon reports, from the same tracepoints where
# bpftrace can attach (it cannot attach cgroup programs: socket creation and
# close come from the syscalls).
cat >"$tmp/socks.bt" <<'EOF'
BEGIN { printf("ready\n"); }
tracepoint:syscalls:sys_exit_socket /args->ret >= 0/ {
  printf("%d %d %s socket fd %d\n", nsecs, pid, comm, args->ret);
}
tracepoint:syscalls:sys_enter_bind { @bind[tid] = args->umyaddr; }
tracepoint:syscalls:sys_exit_bind /@bind[tid]/ {
  $sa = (struct sockaddr_in *)@bind[tid];
  printf("%d %d %s bind %s:%d ret %d\n", nsecs, pid, comm, ntop(2, $sa->sin_addr.s_addr), bswap($sa->sin_port), args->ret);
  delete(@bind[tid]);
}
tracepoint:syscalls:sys_exit_listen { printf("%d %d %s listen ret %d\n", nsecs, pid, comm, args->ret); }
tracepoint:syscalls:sys_enter_connect { @conn[tid] = args->uservaddr; }
tracepoint:syscalls:sys_exit_connect /@conn[tid]/ {
  $sa = (struct sockaddr_in *)@conn[tid];
  printf("%d %d %s connect %s:%d ret %d\n", nsecs, pid, comm, ntop(2, $sa->sin_addr.s_addr), bswap($sa->sin_port), args->ret);
  delete(@conn[tid]);
}
tracepoint:syscalls:sys_exit_accept4, tracepoint:syscalls:sys_exit_accept {
  printf("%d %d %s accept fd %d\n", nsecs, pid, comm, args->ret);
}
tracepoint:sock:inet_sock_set_state {
  printf("%d %d %s state %s:%d %s:%d %d %d\n", nsecs, pid, comm,
    ntop(args->family, args->saddr), args->sport, ntop(args->family, args->daddr), args->dport,
    args->oldstate, args->newstate);
}
tracepoint:syscalls:sys_enter_close { printf("%d %d %s close fd %d\n", nsecs, pid, comm, args->fd); }
EOF

port=51000
# prints "rate storm_cpu_seconds"
storm() { port=$((port + 1)); ip netns exec "$ns" "$STORM" "$N" $port | awk '{print $3, $4}'; }
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
wait_for() { # FILE PATTERN
  for _ in $(seq 1200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for '$2' in $1:" >&2; cat "$1" >&2; exit 1
}
# with KIND: prints "rate storm_cpu_s events monitor_cpu_ms"
with() {
  rm -f "$tmp/out" "$tmp/err"
  case $1 in
    inetmon) "$BIN" sockets --format json >"$tmp/out" 2>"$tmp/err" & mon=$!; wait_for "$tmp/err" attached ;;
    empty) "$NOOP" sockets --format json >"$tmp/out" 2>"$tmp/err" & mon=$!; wait_for "$tmp/err" attached ;;
    bpftrace) bpftrace -B full "$tmp/socks.bt" >"$tmp/out" 2>"$tmp/err" & mon=$!; wait_for "$tmp/out" ready ;;
  esac
  c0=$(cpu_ns $mon)
  r=$(storm)
  sleep 0.5
  c1=$(cpu_ns $mon)
  kill -TERM $mon; wait $mon 2>/dev/null || true; mon=
  e=$(grep -c sockstorm "$tmp/out" || true)
  echo "$r $e $(((c1 - c0) / 1000000))"
}
kinds=(inetmon bpftrace)
[ -z "${NOOP:-}" ] || kinds+=(empty)
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $N connections per run"
echo "round kind rate/bare events(sockstorm) monitor_cpu_ms storm_cpu_us/conn"
: >"$tmp/rows"
for i in $(seq "$R"); do
  read -r b1 s1 <<<"$(storm)"
  declare -A res=()
  for k in "${kinds[@]}"; do res[$k.1]=$(with "$k"); done
  for ((j = ${#kinds[@]} - 1; j >= 0; j--)); do k=${kinds[$j]}; res[$k.2]=$(with "$k"); done
  read -r b2 s2 <<<"$(storm)"
  base=$(( (b1 + b2) / 2 ))
  for s in $s1 $s2; do
    us=$(bench_div "$s" "$N" %.2f 1e6)
    echo "bare 1 0 $us" >>"$tmp/rows"
  done
  echo "$i bare $b1 $b2 (mean $base/s) storm_cpu_us/conn $(bench_div "$s1" "$N" %.2f 1e6) $(bench_div "$s2" "$N" %.2f 1e6)"
  for k in "${kinds[@]}"; do
    for h in 1 2; do
      read -r rate scpu ev cpu <<<"${res[$k.$h]}"
      ratio=$(bench_div "$rate" "$base" %.3f)
      us=$(bench_div "$scpu" "$N" %.2f 1e6)
      echo "$i $k $ratio $ev $cpu $us"
      echo "$k $ratio $cpu $us" >>"$tmp/rows"
    done
  done
done
python3 - "$tmp/rows" "$N" <<'EOF'
import statistics, sys
r, c, s = {}, {}, {}
for line in open(sys.argv[1]):
    k, v, ms, us = line.split()
    r.setdefault(k, []).append(float(v))
    c.setdefault(k, []).append(float(ms))
    s.setdefault(k, []).append(float(us))
per = 10000 / int(sys.argv[2])
m = {k: statistics.median(v) for k, v in r.items() if k != "bare"}
sb = statistics.median(s["bare"])
print(f"median bare: storm CPU {sb:.2f} us per connection")
for k, v in m.items():
    cpu = statistics.median(c[k]) * per
    sc = statistics.median(s[k])
    print(f"median {k}: {v:.3f} of bare (overhead {100 * (1 - v):.1f} %), monitor CPU {cpu:.0f} ms per 10k connections, storm CPU {sc:.2f} us per connection (+{sc - sb:.2f} over bare)")
oi, ob = 1 - m["inetmon"], 1 - m["bpftrace"]
print(f"RATIO overhead bpftrace/inetmon = {ob / oi if oi > 0 else float('inf'):.1f}x (goal >= 5x)")
if "empty" in m:
    print(f"RATIO inetmon vs empty programs: {100 * (m['empty'] - m['inetmon']):.1f} points (goal <= 3)")
EOF
