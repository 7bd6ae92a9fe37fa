#!/usr/bin/env bash
# Builds every fuzz target and runs each one briefly (CI smoke fuzzing).
#   bash fuzz/run.sh [SECONDS_PER_TARGET]   (default 10)
# Stable toolchain: `-s none` skips the nightly-only sanitizer flags; the
# build still has debug assertions and overflow checks, so any panic in a
# decoder or formatter is a crash. Each target starts from its committed
# seeds in fuzz/seeds/<target>/ (small inputs taken from the core's test
# fixtures) plus whatever fuzz/corpus/<target>/ already holds; new inputs go
# to fuzz/corpus/<target>/ (git-ignored). A crash leaves its input in
# fuzz/artifacts/<target>/ and fails the script; so does an input that runs
# longer than 10 s (a hang), or one that makes the target use more than
# 512 MiB of memory or ask for more than 64 MiB in one allocation (a
# decoder that trusts a length field: issue 10 item 1). The `file` target
# feeds whole files, so its inputs may be up to 256 KiB long.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-10}

cargo fuzz build -s none

failed=()
for f in fuzz_targets/*.rs; do
  t=$(basename "$f" .rs)
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  echo "fuzz: $t for ${secs}s"
  log=$(mktemp)
  extra=()
  [ "$t" = file ] && extra=(-max_len=262144)
  if cargo fuzz run -s none "$t" "corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=512 -malloc_limit_mb=64 \
    "${extra[@]}" -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units' "$log" | sed "s/^/fuzz: $t /" || true
  else
    tail -n 40 "$log"
    failed+=("$t")
  fi
  rm -f "$log"
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: all targets ran ${secs}s without a crash"
