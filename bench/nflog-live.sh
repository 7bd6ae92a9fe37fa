#!/usr/bin/env bash
# Live NFLOG loss benchmark: UDP datagrams sent at fixed rates to 127.0.0.1
# inside a private network namespace, logged by `udp dport 9999 counter log
# group 7 drop` (input hook; dropping after logging means no socket receive
# and no ICMP), read by an NFLOG consumer whose ipmon text goes to /dev/null.
# By default the sender is pinned to CPU 0 and the consumer to CPU 1. The
# sender's CPU also runs the kernel's whole loopback receive path and the
# NFLOG logging, so one sender saturates around 170-250k/s on a small VM:
# SENDERS=2 SENDER_CPUS="0 1" CONSUMER_CPUS=0,1 spreads the load.
#
# usage: bench/nflog-live.sh [RATE...]        (default: 50000 100000 200000)
# env:   SECS=5 (seconds per rate), RUNS=1 (runs per rate),
#        CONSUMER="cmd args" (default: the inetmon-io example nflog_drain;
#        the group number is appended), SIZE=16 BATCH=32 (flooder),
#        SENDERS=1 (flooder processes, each sending RATE/SENDERS),
#        SENDER_CPUS="0" (CPUs the senders are pinned to, round robin),
#        CONSUMER_CPUS=1 (taskset list for the consumer).
# Needs root, nft, ip; builds bench/flood and the example in release mode.
#
# Per run it prints: target rate, achieved send rate, packets the nft rule
# logged, packets delivered to the consumer, losses it reported (kernel =
# NFLOG sequence gaps/ENOBUFS, channel = pipeline full), and the unaccounted
# rest (sent - delivered - lost; must be 0).
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(50000 100000 200000)
secs=${SECS:-5}
runs=${RUNS:-1}
group=7
port=9999
root=$PWD
cargo build --release -q -p inetmon-io --example nflog_drain
(cd bench/flood && CARGO_TARGET_DIR="$root/target/flood" cargo build --release -q)
flood=$root/target/flood/release/inetmon-flood
consumer=${CONSUMER:-$root/target/release/examples/nflog_drain}
ns=inetmon-bench-$$
tmp=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
senders=${SENDERS:-1}
read -r -a cpus <<<"${SENDER_CPUS:-0}"
hz=$(getconf CLK_TCK)
printf '%-8s %-9s %-9s %-9s %-9s %-7s %-7s %-7s %s\n' \
  target sent/s logged delivered lost_k lost_ch unacct loss% consumer_cpu_s
for rate in "${rates[@]}"; do
  for _ in $(seq "$runs"); do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    printf 'table inet bench {\n chain in {\n  type filter hook input priority 0;\n  udp dport %s counter log group %s drop\n }\n}\n' \
      "$port" "$group" | ip netns exec "$ns" nft -f -
    # shellcheck disable=SC2086
    ip netns exec "$ns" taskset -c "${CONSUMER_CPUS:-1}" $consumer "$group" >/dev/null 2>"$tmp/consumer" &
    cpid=$!
    for _ in $(seq 100); do grep -q ready "$tmp/consumer" 2>/dev/null && break; sleep 0.05; done
    fpids=()
    for i in $(seq 0 $((senders - 1))); do
      cpu=${cpus[$((i % ${#cpus[@]}))]}
      ip netns exec "$ns" taskset -c "$cpu" "$flood" 127.0.0.1:$port $((rate / senders)) "$secs" \
        "${SIZE:-16}" "${BATCH:-32}" >"$tmp/flood.$i" &
      fpids+=($!)
    done
    wait "${fpids[@]}"
    # A few late datagrams after a pause: a sequence gap before them reports
    # loss at the end of the burst.
    sleep 0.3
    ip netns exec "$ns" "$flood" 127.0.0.1:$port 100 0.1 >"$tmp/tail"
    sleep 0.5
    cpu_s=$(awk -v hz="$hz" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$cpid/stat")
    kill -INT "$cpid"
    wait "$cpid" || true
    sent=$(cat "$tmp"/flood.* "$tmp/tail" | awk '{n += $2} END {print n}')
    rate_sent=$(cat "$tmp"/flood.* | awk '{r += $2 / $5} END {printf "%.0f", r}')
    logged=$(ip netns exec "$ns" nft list ruleset | awk '/counter packets/ {for (i=1;i<=NF;i++) if ($i=="packets") print $(i+1)}')
    read -r delivered lost_k lost_ch < <(awk '/^packets/ {print $2, $4, $6}' "$tmp/consumer")
    if [ -z "${delivered:-}" ]; then
      echo "consumer failed:"; cat "$tmp/consumer"; exit 1
    fi
    unacct=$(( sent - delivered - lost_k - lost_ch ))
    loss=$(awk -v s="$sent" -v d="$delivered" 'BEGIN {printf "%.3f", 100 * (s - d) / s}')
    printf '%-8s %-9s %-9s %-9s %-9s %-7s %-7s %-7s %s\n' \
      "$rate" "$rate_sent" "$logged" "$delivered" "$lost_k" "$lost_ch" "$unacct" "$loss" "$cpu_s"
    rm -f "$tmp"/flood.*
    ip netns del "$ns"
  done
done
