#!/usr/bin/env bash
# Builds an inetmon whose socket programs are all empty (the same hooks,
# nothing recorded): the floor of bench/sockets-vs-bpftrace.sh and
# bench/sockets-hook-floor.sh. HEAD's sources (`git archive`, so
# uncommitted changes are not in it) go to target/noop-src,
# bench/noopify.py empties every program of sock.bpf.c, and the build uses
# this checkout's target directory, so the dependencies are shared and only
# the workspace's own crates are compiled again. The binary is kept as
# target/release/inetmon-noop (printed on stdout); target/release/inetmon,
# where cargo puts it too, is restored as it was.
#
# usage: bench/noop-build.sh    (needs clang, llvm-strip, libbpf-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
src=$root/target/noop-src
rm -rf "$src"
mkdir -p "$src"
git archive --format=tar HEAD | tar -x -C "$src"
python3 bench/noopify.py "$src/crates/inetmon-bpf/bpf/sock.bpf.c"
# The empty programs leave helpers unused: warnings, not errors.
sed -i 's/-Wall -Werror/-Wall/' "$src/crates/inetmon-bpf/build-bpf.sh"
sh "$src/crates/inetmon-bpf/build-bpf.sh" 2>/dev/null
bin=$root/target/release/inetmon
[ ! -e "$bin" ] || cp -p "$bin" "$bin.keep"
(cd "$src" && CARGO_TARGET_DIR=$root/target cargo build --release -q -p inetmon >&2)
cp "$bin" "$bin-noop"
if [ -e "$bin.keep" ]; then mv "$bin.keep" "$bin"; else rm -f "$bin"; fi
echo "$root/target/release/inetmon-noop"
