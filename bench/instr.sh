#!/usr/bin/env bash
# Instructions per record of `inetmon read` (valgrind callgrind's Ir count:
# deterministic, unlike timings on a shared VM). Startup included.
#
# usage: bench/instr.sh [FORMAT] [COUNT]   (defaults: ipmon 50000)
# env:   BIN=path to inetmon (default target/release/inetmon, built here),
#        BENCH_DIR=/tmp/inetmon-bench, PROFILE=file to keep the callgrind
#        profile (for callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/.."
format=${1:-ipmon}
count=${2:-50000}
work=${BENCH_DIR:-/tmp/inetmon-bench}
mkdir -p "$work"
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p inetmon
  BIN=$PWD/target/release/inetmon
fi
pcap="$work/nflog-$count-64.pcap"
[ -s "$pcap" ] || python3 ../shared/tools/gen_nflog_pcap.py ../shared/fixtures/nflog-real-small.pcap "$pcap" "$count" 64
ir=$(valgrind --tool=callgrind --callgrind-out-file="${PROFILE:-/dev/null}" \
  "$BIN" read --format "$format" "$pcap" 2>&1 >/dev/null | awk '/Collected/ {print $4}')
echo "$format: $ir instructions, $((ir / count)) per record ($count records, 64 flows)"
