#!/usr/bin/env bash
# Builds an inetmon whose socket programs are all empty (the same hooks,
# nothing recorded): the floor of bench/sockets-vs-bpftrace.sh and
# bench/sockets-hook-floor.sh. HEAD's sources (`git archive`, so
# uncommitted changes are not in it) go to target/noop-src,
# bench/noopify.py empties every program of sock.bpf.c, and the build uses
# a target directory of its own, target/noop. It must not share this
# checkout's: cargo names a workspace crate's fingerprint by its path
# relative to the workspace root, so a build from target/noop-src in the
# same target directory overwrote the real crates' fingerprints, and the
# next `cargo build --release` here found everything "fresh" and put the
# empty-program binary at target/release/inetmon (seen in session 6). The
# price is one build of the dependencies, kept for later runs. The binary
# is copied to target/release/inetmon-noop (printed on stdout).
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
(cd "$src" && CARGO_TARGET_DIR=$root/target/noop cargo build --release -q -p inetmon >&2)
mkdir -p "$root/target/release"
cp "$root/target/noop/release/inetmon" "$root/target/release/inetmon-noop"
echo "$root/target/release/inetmon-noop"
