#!/usr/bin/env bash
# End-to-end decode benchmark: `inetmon read --format ipmon` against
# `tcpdump -S -nn -r` on the same LINKTYPE_NFLOG pcap, pinned to one core.
#
# usage: bench/read-vs-tcpdump.sh [COUNT] [FLOWS...]
#   COUNT  records per file (default 1000000)
#   FLOWS  distinct flows per file (default: 64 1024 16384)
# Needs: tcpdump, hyperfine, python3; builds inetmon in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
shift || true
flows=("$@")
[ ${#flows[@]} -gt 0 ] || flows=(64 1024 16384)
seed=../shared/fixtures/nflog-real-small.pcap
gen=../shared/tools/gen_nflog_pcap.py
work=${BENCH_DIR:-/tmp/inetmon-bench}
mkdir -p "$work"
cargo build --release -q -p inetmon
bin=$PWD/target/release/inetmon
for f in "${flows[@]}"; do
  pcap="$work/nflog-$count-$f.pcap"
  [ -s "$pcap" ] || python3 "$gen" "$seed" "$pcap" "$count" "$f"
  echo "== $count records, $f flows ($(du -h "$pcap" | cut -f1))"
  hyperfine --warmup 1 --runs "${RUNS:-5}" --export-markdown "$work/read-$f.md" \
    -n inetmon "taskset -c 0 $bin read --format ipmon $pcap > /dev/null" \
    -n tcpdump "taskset -c 0 tcpdump -S -nn -r $pcap > /dev/null 2>&1"
done
