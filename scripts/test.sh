#!/usr/bin/env bash
# THE test command: everything CI runs, in order, with a summary at the end:
# setup (as root), rustfmt, the committed BPF objects, clippy, the tests,
# rustdoc, a short run of every fuzz target.
#   bash scripts/test.sh
# Set INETMON_REQUIRE_PRIVILEGED=1 (CI does) to make privileged tests fail
# instead of skipping when they cannot get root, namespaces or netlink.
set -uo pipefail

cd "$(dirname "$0")/.."

results=()
failed=0

step() {
  local name=$1
  shift
  echo
  echo "==> $name: $*"
  local start=$SECONDS
  if "$@"; then
    results+=("ok    $name ($((SECONDS - start))s)")
  else
    results+=("FAIL  $name ($((SECONDS - start))s)")
    failed=1
  fi
}

if [ "$(id -u)" -eq 0 ]; then
  step setup bash scripts/setup.sh
else
  results+=("skip  setup (not root)")
fi
step fmt cargo fmt --all --check
step bpf-objects sh crates/inetmon-bpf/build-bpf.sh --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step test env INETMON_REQUIRE_PRIVILEGED="${INETMON_REQUIRE_PRIVILEGED:-}" cargo test --workspace --no-fail-fast
step doc env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
if [ -d fuzz ]; then
  # Builds every fuzz target and runs each for 10 s from its seeds
  # (12 targets: about 2 minutes plus the build).
  step fuzz bash fuzz/run.sh 10
fi

echo
echo "==> summary"
printf '  %s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
  echo "FAILED"
  exit 1
fi
echo "all passed"
