#!/usr/bin/env bash
# End-to-end decode benchmark: `inetmon read --format ipmon` (and `--format
# json`) against `tcpdump -S -nn -r` on the same LINKTYPE_NFLOG pcap, pinned
# to one core, output to /dev/null.
#
# usage: bench/read-vs-tcpdump.sh [COUNT] [FLOWS...]
#   COUNT  records per file (default 1000000)
#   FLOWS  distinct flows per file; `all` = unbounded (default: 64 1024 16384 all)
# env:   RUNS=5 (hyperfine runs), CPU=0 (core to pin to), BIN=path to an
#        inetmon binary (default: build target/release/inetmon),
#        JSON=1 (also time --format json), TCPDUMP_MAX_FLOWS=16384 (tcpdump
#        slows down quadratically with many distinct TCP flows, so it is only
#        run on files with at most this many), BENCH_DIR=/tmp/inetmon-bench.
# Needs: tcpdump, hyperfine, python3.
#
# Prints one summary row per file: mean wall time and CPU time (user+sys) of
# each command, inetmon's records/s, and tcpdump/inetmon ratios. The machine
# may be shared: the CPU-time ratio is the steadier figure.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
shift || true
flows=("$@")
[ ${#flows[@]} -gt 0 ] || flows=(64 1024 16384 all)
seed=../shared/fixtures/nflog-real-small.pcap
gen=../shared/tools/gen_nflog_pcap.py
work=${BENCH_DIR:-/tmp/inetmon-bench}
cpu=${CPU:-0}
max_td=${TCPDUMP_MAX_FLOWS:-16384}
mkdir -p "$work"
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p inetmon
  BIN=$PWD/target/release/inetmon
fi
rows=()
for f in "${flows[@]}"; do
  pcap="$work/nflog-$count-$f.pcap"
  if [ ! -s "$pcap" ]; then
    if [ "$f" = all ]; then
      python3 "$gen" "$seed" "$pcap" "$count"
    else
      python3 "$gen" "$seed" "$pcap" "$count" "$f"
    fi
  fi
  echo "== $count records, $f flows ($(du -h "$pcap" | cut -f1))"
  cmds=(-n inetmon-ipmon "taskset -c $cpu $BIN read --format ipmon $pcap")
  if [ "${JSON:-0}" = 1 ]; then
    cmds+=(-n inetmon-json "taskset -c $cpu $BIN read --format json $pcap")
  fi
  if [ "$f" != all ] && [ "$f" -le "$max_td" ]; then
    cmds+=(-n tcpdump "taskset -c $cpu tcpdump -S -nn -r $pcap")
  fi
  hyperfine -N --output null --warmup 1 --runs "${RUNS:-5}" \
    --export-json "$work/read-$f.json" --export-markdown "$work/read-$f.md" "${cmds[@]}"
  rows+=("$(python3 - "$work/read-$f.json" "$count" "$f" <<'EOF'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
count, flows = int(sys.argv[2]), sys.argv[3]
def t(name):
    r = res.get(name)
    return (r["mean"], r["user"] + r["system"]) if r else (None, None)
iw, ic = t("inetmon-ipmon")
jw, jc = t("inetmon-json")
tw, tc = t("tcpdump")
f = lambda v: "-" if v is None else f"{v:.3f}"
ratio = lambda a, b: "-" if a is None or b is None else f"{a / b:.1f}x"
print(f"{flows:>6} {f(iw):>8} {f(ic):>8} {count / iw / 1e6:>7.2f} {f(jw):>8} {f(jc):>8} "
      f"{f(tw):>8} {f(tc):>8} {ratio(tw, iw):>8} {ratio(tc, ic):>8}")
EOF
)")
done
echo
echo "flows   ipmon-s  ipmon-cpu  Mrec/s  json-s  json-cpu  tcpd-s  tcpd-cpu  wall-x   cpu-x"
printf '%s\n' "${rows[@]}"
