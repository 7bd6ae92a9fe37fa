# What the benchmark scripts share (POSIX sh). Source it first thing
# after `set -eu`:   . "$(dirname "$0")/lib.sh"
#
# It sets `here` (this directory), `root` (the repository) and `tmp` (a
# fresh directory), and installs an EXIT trap that runs `$bench_on_exit`
# (extra cleanup a script sets, e.g. killing its observer), deletes the
# network namespaces made with bench_netns and removes `tmp`. Nothing here
# sends traffic outside the namespaces a script makes.
#
# Functions (each says its arguments; all print only what they say):
#   bench_netns NS...            make namespaces (deleted at exit), lo up in each
#   bench_veth A B NET           veth-a in A (NET.1/24) -- veth-b in B (NET.2/24), up, A pings B
#   bench_nft_drop NS TABLE HOOK `udp dport 9999 counter drop` in chain HOOK (input/output)
#                                of table inet TABLE in NS
#   bench_counted NS TABLE HOOK  packets that rule counted so far
#   veth_drop_lab A B NET        namespaces A and B, bench_veth, and the drop rule on B's
#                                input (table inet storm, chain input)
#   bench_cc NAME                gcc -O2 $here/NAME.c into $tmp/NAME
#   bench_build_release          BIN (inetmon) and STORM (the sockstorm example): unless
#                                both are set already, release builds of this tree (for
#                                the one not set)
#   bench_wait_for FILE PATTERN [TRIES [STEP]]
#                                wait until FILE has PATTERN (TRIES × STEP s, default
#                                1200 × 0.05); on timeout print FILE to stderr and exit 1
#   bench_monitor OUT ERR CMD... start CMD (stdout OUT, stderr ERR, a fresh one) in the
#                                background, wait for "attached" in ERR; sets `pid`
#   bench_stop PID               SIGTERM, and wait for it (its status ignored)
#   bench_monitored SETTLE OUT CMD...
#                                bench_monitor OUT $tmp/err CMD..., sleep SETTLE s, the
#                                caller's `flood` (what it prints), bench_stop
#   bench_ticks PID              user+system CPU clock ticks of PID (`hz` per second)
#   bench_cpu_ns PID             CPU nanoseconds of all of PID's threads (schedstat)
#   bench_paced_flood NS ADDR SECS RATE
#                                one $tmp/udp_paced (bench_cc udp_paced) per CPU in NS,
#                                pinned, to ADDR:9999 for SECS at RATE/CPUs each ("max":
#                                unpaced); waits for them: call it in $(…) (it `wait`s)
#   bench_abccba ROUNDS A B C    ROUNDS rounds of the caller's `run VARIANT` (which prints
#                                a rate) in the order A B C C B A; after each the caller's
#                                `round R A1 B1 C1 C2 B2 A2` gets the round and the rates
#   bench_median_range FILE COL NAME FORMAT
#                                printf FORMAT with NAME, the median, lowest and highest
#                                of column COL of FILE, and the number of rows
#   bench_load WHEN              "load WHEN: 1 5 15-minute load averages"

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tmp=$(mktemp -d)
hz=$(getconf CLK_TCK)
ncpu=$(nproc)
bench_on_exit=
bench_namespaces=

bench_cleanup() {
	[ -z "$bench_on_exit" ] || eval "$bench_on_exit" || true
	for _ns in $bench_namespaces; do ip netns del "$_ns" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap bench_cleanup EXIT

bench_netns() {
	for _ns in "$@"; do
		ip netns add "$_ns"
		bench_namespaces="$bench_namespaces $_ns"
		ip -n "$_ns" link set lo up
	done
}

bench_veth() {
	ip link add veth-a netns "$1" type veth peer name veth-b netns "$2"
	ip -n "$1" addr add "$3.1/24" dev veth-a
	ip -n "$2" addr add "$3.2/24" dev veth-b
	ip -n "$1" link set veth-a up; ip -n "$2" link set veth-b up
	ip netns exec "$1" ping -c1 -W1 "$3.2" >/dev/null
}

bench_nft_drop() {
	printf 'table inet %s {\n chain %s {\n  type filter hook %s priority 0;\n  udp dport 9999 counter drop\n }\n}\n' \
		"$2" "$3" "$3" | ip netns exec "$1" nft -f -
}

bench_counted() {
	ip netns exec "$1" nft list chain inet "$2" "$3" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

veth_drop_lab() {
	bench_netns "$1" "$2"
	bench_veth "$1" "$2" "$3"
	bench_nft_drop "$2" storm input
}

bench_cc() {
	gcc -O2 -Wall -o "$tmp/$1" "$here/$1.c"
}

bench_build_release() {
	if [ -z "${BIN:-}" ] || [ -z "${STORM:-}" ]; then
		(cd "$root" && cargo build --quiet --release -p inetmon --bin inetmon &&
			cargo build --quiet --release -p inetmon-io --example sockstorm)
		BIN=${BIN:-$root/target/release/inetmon}
		STORM=${STORM:-$root/target/release/examples/sockstorm}
	fi
}

bench_wait_for() {
	_i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -lt "${3:-1200}" ] || { echo "timed out waiting for '$2' in $1:" >&2; cat "$1" >&2; exit 1; }
		sleep "${4:-0.05}"
	done
}

bench_monitor() {
	_out=$1 _err=$2
	shift 2
	# A fresh err file: a stale "attached" from a previous run would start
	# the measurement before this monitor is attached (silently short).
	rm -f "$_err"
	"$@" >"$_out" 2>"$_err" &
	pid=$!
	bench_wait_for "$_err" attached
}

bench_stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

bench_monitored() {
	_settle=$1 _mout=$2
	shift 2
	bench_monitor "$_mout" "$tmp/err" "$@"
	sleep "$_settle"
	flood
	bench_stop $pid
}

bench_ticks() {
	awk '{print $14 + $15}' "/proc/$1/stat"
}

bench_cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

bench_paced_flood() {
	_per=0
	[ "$4" = max ] || _per=$(($4 / ncpu))
	_i=0
	while [ $_i -lt "$ncpu" ]; do
		ip netns exec "$1" taskset -c $_i "$tmp/udp_paced" "$2" 9999 "$3" $_per >/dev/null &
		_i=$((_i + 1))
	done
	wait
}

bench_abccba() {
	_r=0
	while [ $_r -lt "$1" ]; do
		_r=$((_r + 1))
		_a1=$(run "$2"); _b1=$(run "$3"); _c1=$(run "$4"); _c2=$(run "$4"); _b2=$(run "$3"); _a2=$(run "$2")
		round $_r "$_a1" "$_b1" "$_c1" "$_c2" "$_b2" "$_a2"
	done
}

bench_median_range() {
	awk -v c="$2" '{print $c}' "$1" | sort -g | awk -v name="$3" -v fmt="$4" '{v[NR] = $1}
		END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf fmt, name, m, v[1], v[NR], NR}'
}

# bench_div NUM DEN FORMAT [SCALE]: NUM * SCALE / DEN in awk's printf
# FORMAT (e.g. %.3f), 0 where DEN is 0: ratios and costs per item.
bench_div() {
	awk -v n="$1" -v d="$2" -v f="$3" -v s="${4:-1}" 'BEGIN {printf f, d ? n * s / d : 0}'
}

bench_load() {
	echo "load $1: $(cut -d' ' -f1-3 /proc/loadavg)"
}
