#!/usr/bin/env bash
# Live NFLOG: inetmon against ulogd2, side by side on the same packets.
#
# In a private network namespace (only `lo`; nothing leaves it), one nft
# rule logs every UDP datagram to port 9999 to TWO NFLOG groups and drops it:
#   udp dport 9999 counter log group 8 log group 9 drop
# `inetmon ipmon -f nflog:8 FILE` reads group 8, ulogd2 reads group 9 with
# Debian's default text stack NFLOG → BASE → IFINDEX → IP2STR → PRINTPKT →
# LOGEMU (PRINTPKT needs the interface names and address strings of
# IFINDEX and IP2STR; config written
# here, in a temporary directory: no system ulogd or its files are
# touched; each process runs inside the namespace, where NFLOG groups are
# private). Both write text to a file. bench/flood sends at each RATE.
#
# Per rate and consumer: packets the rule logged (nft counter), lines
# written, loss the consumer reported (inetmon: its `lost`/`missed` lines;
# ulogd: it reports none, only "ENOBUFS"-style log messages, counted),
# unreported loss (logged − lines − reported), CPU (all threads, from
# schedstat) per logged packet, peak RSS.
#
# usage: bench/nflog-vs-ulogd.sh [RATE...]     (default 50000 100000 200000)
# env:   SECS=5, BIN=inetmon binary (default: build target/release/inetmon),
#        SENDERS=auto (1 below 150k/s, else 2), BATCH=32.
# Needs root, nft, ip, ulogd2 (scripts/setup.sh). Takes ~10 s per rate.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(50000 100000 200000)
secs=${SECS:-5}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p inetmon
  BIN=$root/target/release/inetmon
fi
(cd bench/flood && CARGO_TARGET_DIR="$root/target/flood" cargo build --release -q)
flood=$root/target/flood/release/inetmon-flood
plugdir=$(dirname "$(dpkg -L ulogd2 | grep -m1 ulogd_inppkt_NFLOG.so)")
ns=inetmon-ulogd-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# CPU nanoseconds of all threads of a process.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
rss_kib() { awk '/^VmHWM/ {print $2}' /proc/"$1"/status; }
logged() { ip netns exec "$ns" nft list chain inet vs in | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
# inetmon: packet lines, and the loss its `lost N …`/`missed N …` lines report.
inetmon_counts() {
  awk '/^lost [0-9]+ / || /^missed [0-9]+ / {l += $2; next} {n++} END {print n + 0, l + 0}' "$tmp/inetmon.out" 2>/dev/null || echo 0 0
}
ulogd_lines() { cat "$tmp/ulogd.out" 2>/dev/null | wc -l; }
ulogd_reports() { grep -ciE 'enobufs|losing|lost' "$tmp/ulogd.log" || true; }

ip netns add "$ns"
ip -n "$ns" link set lo up
printf 'table inet vs {\n chain in {\n  type filter hook input priority 0;\n  udp dport 9999 counter log group 8 log group 9 drop\n }\n}\n' |
  ip netns exec "$ns" nft -f -
cat >"$tmp/ulogd.conf" <<EOF
[global]
logfile="$tmp/ulogd.log"
loglevel=3
plugin="$plugdir/ulogd_inppkt_NFLOG.so"
plugin="$plugdir/ulogd_raw2packet_BASE.so"
plugin="$plugdir/ulogd_filter_IFINDEX.so"
plugin="$plugdir/ulogd_filter_IP2STR.so"
plugin="$plugdir/ulogd_filter_PRINTPKT.so"
plugin="$plugdir/ulogd_output_LOGEMU.so"
stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU

[log1]
group=9
# Large buffers for ulogd too (it grows the buffer on ENOBUFS up to the max).
netlink_socket_buffer_size=8388608
netlink_socket_buffer_maxsize=67108864

[emu1]
file="$tmp/ulogd.out"
sync=0
EOF
# start: both consumers, fresh, bound to their group (the namespace's
# /proc/net/netfilter/nfnetlink_log lists bound groups) before any packet.
start() {
  rm -f "$tmp/ulogd.out" "$tmp/inetmon.out" "$tmp/ulogd.log"
  ip netns exec "$ns" ulogd -c "$tmp/ulogd.conf" >/dev/null 2>&1 &
  upid=$!
  ip netns exec "$ns" "$BIN" ipmon -f nflog:8 "$tmp/inetmon.out" 2>"$tmp/inetmon.err" &
  ipid=$!
  pids=("$upid" "$ipid")
  for _ in $(seq 200); do
    g=$(ip netns exec "$ns" awk '{print $1}' /proc/net/netfilter/nfnetlink_log | sort | tr '\n' ' ')
    [ "$g" = "8 9 " ] && return 0
    sleep 0.05
  done
  echo "consumers did not bind (groups bound: $g):"; cat "$tmp/inetmon.err" "$tmp/ulogd.log"; exit 1
}
# stop: SIGTERM, both flush their files and exit.
stop() {
  kill -TERM "$upid" "$ipid" 2>/dev/null || true
  wait "$upid" "$ipid" 2>/dev/null || true
  pids=()
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $secs s per rate"
printf '%-8s %-8s %-9s %-9s %-9s %-9s %-11s %-8s %-8s\n' \
  rate sent/s consumer logged lines reported unreported cpu_us/p rss_MiB
summary=()
for rate in "${rates[@]}"; do
  senders=${SENDERS:-auto}
  if [ "$senders" = auto ]; then
    senders=1
    [ "$rate" -lt 150000 ] || senders=2
  fi
  start
  c0=$(logged)
  i_c0=$(cpu_ns "$ipid")
  u_c0=$(cpu_ns "$upid")
  fl=()
  for i in $(seq 0 $((senders - 1))); do
    ip netns exec "$ns" taskset -c $((i % $(nproc))) "$flood" 127.0.0.1:9999 $((rate / senders)) "$secs" 16 "${BATCH:-32}" >"$tmp/flood.$i" &
    fl+=($!)
  done
  wait "${fl[@]}"
  # Let both drain, then a few late datagrams: an NFLOG sequence gap at the
  # end of the burst is reported when the next packet arrives.
  sleep 1
  ip netns exec "$ns" "$flood" 127.0.0.1:9999 100 0.1 >/dev/null
  sleep 1
  i_c1=$(cpu_ns "$ipid")
  u_c1=$(cpu_ns "$upid")
  i_rss=$(rss_kib "$ipid")
  u_rss=$(rss_kib "$upid")
  stop
  c1=$(logged)
  read -r i_n i_l < <(inetmon_counts)
  u_n=$(ulogd_lines)
  u_r=$(ulogd_reports)
  sent_rate=$(cat "$tmp"/flood.* | awk '{r += $2 / $5} END {printf "%.0f", r}')
  rm -f "$tmp"/flood.*
  d=$((c1 - c0))
  for who in inetmon ulogd2; do
    if [ $who = inetmon ]; then
      lines=$i_n; rep=$i_l; cpu=$((i_c1 - i_c0)); rss=$i_rss
    else
      lines=$u_n; rep="($u_r msgs)"; cpu=$((u_c1 - u_c0)); rss=$u_rss
    fi
    r=${rep%% *}; [[ $r =~ ^[0-9]+$ ]] || r=0
    unrep=$((d - lines - r))
    us=$(awk -v c="$cpu" -v d="$d" 'BEGIN {printf "%.3f", d ? c / 1000 / d : 0}')
    printf '%-8s %-8s %-9s %-9s %-9s %-9s %-11s %-8s %-8s\n' \
      "$rate" "$sent_rate" "$who" "$d" "$lines" "$rep" "$unrep" "$us" "$((rss / 1024))"
    summary+=("$rate $who $us $unrep $d")
  done
done
echo
printf '%s\n' "${summary[@]}" | awk '
  {cpu[$1 " " $2] = $3; un[$1 " " $2] = $4; rates[$1] = 1}
  END {
    for (r in rates) {
      i = cpu[r " inetmon"]; u = cpu[r " ulogd2"]
      printf "RATIO at %s pkt/s: ulogd2 CPU/packet / inetmon CPU/packet = %.1fx (inetmon %.3f us/packet, goal <= 0.6; unreported loss inetmon %d, ulogd2 %d)\n",
        r, i ? u / i : 0, i, un[r " inetmon"], un[r " ulogd2"]
    }
  }' | sort -t' ' -k3 -n
