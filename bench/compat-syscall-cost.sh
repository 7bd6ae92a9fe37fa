#!/bin/sh
# System-wide cost of `inetmon sockets --compat` (the raw sys_enter/sys_exit
# programs compat_enter/compat_exit, which run for every system call of
# every task): CPU time per getppid() (bench/syscall_loop.c, getrusage
# user+sys; min and median of ROUNDS rounds) with no monitor, with `inetmon sockets`
# and with `inetmon sockets --compat`, for native calls and for ia32 compat
# calls (int 0x80); then, with kernel.bpf_stats_enabled, the two programs'
# own ns per run (run_time_ns/run_cnt from bpftool: load-independent, but
# bpf_stats adds ~20-30 ns per run itself).
#   bench/compat-syscall-cost.sh [N] [INETMON]   (root; gcc, bpftool, jq)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-3000000}
BIN=${2:-$root/target/debug/inetmon}
ROUNDS=${ROUNDS:-5}
tmp=$(mktemp -d)
gcc -O2 -o "$tmp/loop" "$root/bench/syscall_loop.c"
stats0=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	[ -n "${mon:-}" ] && kill -INT "$mon" 2>/dev/null
	sysctl -q kernel.bpf_stats_enabled="$stats0"
	rm -rf "$tmp"
}
trap cleanup EXIT
start_mon() {
	# shellcheck disable=SC2068 # flags
	"$BIN" sockets --local --format json $@ >/dev/null 2>"$tmp/err" &
	mon=$!
	until grep -q attached "$tmp/err" 2>/dev/null; do
		kill -0 "$mon" 2>/dev/null || { mon=; cat "$tmp/err" >&2; exit 1; }
		sleep 0.1
	done
}
stop_mon() { kill -INT "$mon"; wait "$mon" || true; mon=; }
n32=$((N / 20))
# ROUNDS rounds, each attaching the three configurations in turn (so that
# the load of the machine falls on all three alike); per configuration the
# minimum and the median of the rounds.
for r in $(seq "$ROUNDS"); do
	for cfg in none plain compat; do
		case $cfg in
		none) ;;
		plain) start_mon ;;
		compat) start_mon --compat ;;
		esac
		echo "$cfg native $("$tmp/loop" "$N" native)" >>"$tmp/runs"
		echo "$cfg ia32 $("$tmp/loop" "$n32" ia32)" >>"$tmp/runs"
		[ "$cfg" = none ] || stop_mon
	done
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end; N native $N, ia32 $n32, $ROUNDS rounds"
printf '%-8s %-7s %10s %10s\n' monitor calls "min ns" "median ns"
for cfg in none plain compat; do
	for mode in native ia32; do
		awk -v c="$cfg" -v m="$mode" '$1 == c && $2 == m {print $3}' "$tmp/runs" | sort -n |
			awk -v c="$cfg" -v m="$mode" '{v[NR] = $1} END {printf "%-8s %-7s %10.1f %10.1f\n", c, m, v[1], (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
	done
done
sysctl -q kernel.bpf_stats_enabled=1
start_mon --compat
snap() { bpftool prog show -j | jq -c '[.[] | select(.name == "compat_enter" or .name == "compat_exit") | {name, ns: (.run_time_ns // 0), cnt: (.run_cnt // 0)}]'; }
snap >"$tmp/a"
"$tmp/loop" "$N" native >/dev/null
snap >"$tmp/b"
stop_mon
echo "bpf_stats during $N native getppid calls (whole machine):"
jq -n -r --slurpfile a "$tmp/a" --slurpfile b "$tmp/b" '
  [$b[0][] as $x | ($a[0][] | select(.name == $x.name)) as $y | {name: $x.name, dns: ($x.ns - $y.ns), dcnt: ($x.cnt - $y.cnt)}]
  | .[] | "\(.name)\t runs \(.dcnt)\t ns/run \(if .dcnt > 0 then (.dns / .dcnt * 10 | round / 10) else 0 end)"'
