#!/usr/bin/env bash
# Regenerates fuzz/Cargo.toml from the files in fuzz/fuzz_targets/ (one
# [[bin]] per target), so parallel additions of targets never conflict.
set -euo pipefail
cd "$(dirname "$0")"
{
cat <<'HDR'
[package]
name = "inetmon-fuzz"
version = "0.0.0"
publish = false
edition = "2021"

[package.metadata]
cargo-fuzz = true

[dependencies]
libfuzzer-sys = "0.4"
inetmon-core = { path = "../crates/inetmon-core" }

# A workspace of its own, so the main workspace never builds the fuzz targets.
[workspace]
members = ["."]
HDR
for f in fuzz_targets/*.rs; do
  n=$(basename "$f" .rs)
  printf '\n[[bin]]\nname = "%s"\npath = "%s"\ntest = false\ndoc = false\nbench = false\n' "$n" "$f"
done
} > Cargo.toml
