#!/usr/bin/env bash
# What resynchronising over damage costs against reading good records
# (issue 10 item 2): `inetmon read` of a pcap header followed by SIZE MiB of
# zeros (one damaged region) and of SIZE MiB of good NFLOG records, the same
# release binary, interleaved rounds; prints CPU and wall per file and the
# ratio zeros/good. The old code took 19.5 s for 64 MiB of zeros.
#   bench/resync-vs-read.sh [BIN] [SIZE_MIB] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/inetmon}
mib=${2:-64}
rounds=${3:-5}
[ -x "$bin" ] || cargo build --release -q
seed=../shared/fixtures/nflog-real-small.pcap
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
size=$((mib << 20))
head -c 24 "$seed" > "$work/zeros.pcap"
truncate -s "$size" "$work/zeros.pcap"
# A good file: the fixture's records repeated to SIZE bytes, cut at a record.
python3 - "$seed" "$work/good.pcap" "$size" <<'PY'
import struct, sys
src, dst, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = open(src, 'rb').read()
hdr, recs, o = b[:24], [], 24
while o + 16 <= len(b):
    n = struct.unpack_from('<I', b, o + 8)[0]
    recs.append(b[o:o + 16 + n]); o += 16 + n
out, i = bytearray(hdr), 0
while len(out) + len(recs[i % len(recs)]) <= size:
    out += recs[i % len(recs)]; i += 1
open(dst, 'wb').write(out)
PY
run() { # file -> "wall cpu"
  /usr/bin/time -f '%e %U %S' -o "$work/t" "$bin" read "$1" > /dev/null 2>&1 || true
  tail -n 1 "$work/t" | awk '{printf "%.3f %.3f\n", $1, $2 + $3}'
}
: > "$work/z"; : > "$work/g"
for _ in $(seq "$rounds"); do
  run "$work/zeros.pcap" >> "$work/z"
  run "$work/good.pcap" >> "$work/g"
done
med() { sort -n -k"$2" "$1" | awk -v k="$2" '{a[NR]=$k} END {print a[int((NR+1)/2)]}'; }
zw=$(med "$work/z" 1); zc=$(med "$work/z" 2); gw=$(med "$work/g" 1); gc=$(med "$work/g" 2)
echo "zeros ${mib} MiB: wall ${zw} s, cpu ${zc} s (median of $rounds)"
echo "good  ${mib} MiB: wall ${gw} s, cpu ${gc} s (median of $rounds)"
awk -v a="$zc" -v b="$gc" -v c="$zw" -v d="$gw" 'BEGIN {printf "RATIO zeros/good: cpu %.2f, wall %.2f (load %s)\n", a/b, c/d, "'"$(cut -d' ' -f1 /proc/loadavg)"'"}'
