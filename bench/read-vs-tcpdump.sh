#!/usr/bin/env bash
# `inetmon read` against `tcpdump -S -nn -r`, side by side in one run: the
# same LINKTYPE_NFLOG pcap, output to a file, wall time as the headline and
# CPU time (user+sys) beside it, interleaved rounds (tcpdump, inetmon ipmon,
# inetmon json, … in turn), medians. JSON is compared like with like:
# with the packet bytes (the default) against `tcpdump -xx`, with
# `--no-packet-bytes` against plain tcpdump.
#
# usage: bench/read-vs-tcpdump.sh [COUNT] [FLOWS]
#   COUNT  records in the file (default 1000000)
#   FLOWS  distinct flows (default 64; `all` = unbounded)
# env:   ROUNDS=5, BIN=path to an inetmon binary (default: build
#        target/release/inetmon), BENCH_DIR=/tmp/inetmon-bench (the file and
#        the outputs), SEQ=1 (default; also time inetmon on one thread:
#        INETMON_READ_THREADS=1; SEQ=0 leaves that out), TZ (default UTC).
# Needs: tcpdump, python3, /usr/bin/time. No pinning: inetmon reads a file
# on every core (BENCHMARKS.md §1); tcpdump uses one.
#
# Also timed, as floors: `cat FILE > OUT` (reading the file and writing a
# file of similar size; inetmon's ipmon output is ~0.6× the file) and
# `cat` of a file the size of the JSON output.
# Ends with the ratio lines: tcpdump wall / inetmon wall (goal ≥ 10×).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
flows=${2:-64}
rounds=${ROUNDS:-5}
export TZ=${TZ:-UTC}
work=${BENCH_DIR:-/tmp/inetmon-bench}
mkdir -p "$work"
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p inetmon
  BIN=$PWD/target/release/inetmon
fi
pcap=$work/nflog-$count-$flows.pcap
if [ ! -s "$pcap" ]; then
  if [ "$flows" = all ]; then
    python3 ../shared/tools/gen_nflog_pcap.py ../shared/fixtures/nflog-real-small.pcap "$pcap" "$count"
  else
    python3 ../shared/tools/gen_nflog_pcap.py ../shared/fixtures/nflog-real-small.pcap "$pcap" "$count" "$flows"
  fi
fi
echo "== $count records, $flows flows, $(du -hL "$pcap" | cut -f1); load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
declare -A cmd=(
  [tcpdump]="tcpdump -S -nn -r $pcap"
  [inetmon-ipmon]="$BIN read --format ipmon $pcap"
  [inetmon-json]="$BIN read --format json $pcap"
  [cat]="cat $pcap"
  # Like with like: JSON carries the packet bytes in hex, as tcpdump -xx
  # prints them; --no-packet-bytes leaves them out, as plain tcpdump does.
  [tcpdump-xx]="tcpdump -S -nn -xx -r $pcap"
  [inetmon-json-nobytes]="$BIN read --format json --no-packet-bytes $pcap"
)
# The floor of the JSON run: copying a file as big as its output (JSON
# lines carry the packet bytes in hex: ~6x tcpdump's output).
"$BIN" read --format json "$pcap" >"$work/json-floor.in"
cmd[cat-json-size]="cat $work/json-floor.in"
names=(tcpdump inetmon-ipmon inetmon-json-nobytes tcpdump-xx inetmon-json cat cat-json-size)
if [ "${SEQ:-1}" = 1 ]; then
  cmd[inetmon-ipmon-1thread]="env INETMON_READ_THREADS=1 $BIN read --format ipmon $pcap"
  cmd[inetmon-json-1thread]="env INETMON_READ_THREADS=1 $BIN read --format json $pcap"
  names+=(inetmon-ipmon-1thread inetmon-json-1thread)
fi
times=$work/read-times.txt
: >"$times"
cat "$pcap" >/dev/null # into the page cache
for r in $(seq "$rounds"); do
  for n in "${names[@]}"; do
    out=$work/out.$n
    rm -f "$out"
    # shellcheck disable=SC2086
    /usr/bin/time -f "%e %U %S" -o "$work/t" ${cmd[$n]} >"$out" 2>/dev/null
    echo "$n $r $(cat "$work/t") $(stat -c %s "$out")" >>"$times"
  done
done
# The outputs must be what the sequential reader writes: same lines.
echo "lines: tcpdump $(wc -l <"$work/out.tcpdump"), inetmon ipmon $(wc -l <"$work/out.inetmon-ipmon"), json $(wc -l <"$work/out.inetmon-json")"
if [ "${SEQ:-1}" = 1 ]; then
  for f in ipmon json; do
    cmp -s "$work/out.inetmon-$f" "$work/out.inetmon-$f-1thread" &&
      echo "$f: every core and one thread wrote the same bytes" ||
      echo "$f: OUTPUTS DIFFER between every core and one thread"
  done
fi
python3 - "$times" "$count" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    n, _r, e, u, s, size = line.split()
    rows.setdefault(n, []).append((float(e), float(u) + float(s), int(size)))
count = int(sys.argv[2])
med = {n: (statistics.median(e for e, _, _ in v), statistics.median(c for _, c, _ in v), v[-1][2]) for n, v in rows.items()}
print(f"{'command':<24} {'wall s':>8} {'cpu s':>8} {'Mrec/s':>8} {'out MB':>8}   (median of {len(rows['tcpdump'])})")
for n, (w, c, size) in med.items():
    print(f"{n:<24} {w:>8.3f} {c:>8.3f} {count / w / 1e6 if w else 0:>8.2f} {size / 1e6:>8.1f}")
for n in [k for k in med if k.startswith("inetmon")]:
    # JSON with the packet bytes against tcpdump printing them (-xx); the
    # rest against plain tcpdump.
    peer = "tcpdump-xx" if n.startswith("inetmon-json") and "nobytes" not in n else "tcpdump"
    tw, tc, _ = med[peer]
    w, c, _ = med[n]
    print(f"RATIO {n} vs {peer}: wall {tw / w:.1f}x  cpu {tc / c:.1f}x  (goal: wall >= 10x)")
EOF
