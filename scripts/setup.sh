#!/usr/bin/env bash
# Installs what inetmon's tests and live runs need. Idempotent: it runs
# apt-get only when a package is missing. Run as root (the tests need root
# anyway: network namespaces, nftables, NFLOG, conntrack).
set -euo pipefail

packages=(
  nftables iproute2 tcpdump conntrack tshark rsyslog
  # Syslog over TLS: rsyslogd's gtls driver; openssl makes the tests' certificates.
  rsyslog-gnutls openssl
  # man -l renders the generated man pages in a test (pulls groff-base);
  # zsh and fish check the syntax of the generated completion scripts.
  man-db zsh fish
  clang llvm libbpf-dev bpftool nats-server netcat-openbsd iputils-ping python3
  # <linux/types.h>: inetmon-bpf's build script checks the BPF record headers with cc.
  linux-libc-dev
  # Peers in bench/nflog-vs-ulogd.sh, sockets-vs-bpftrace.sh, drops-vs-bpftrace.sh.
  ulogd2 bpftrace
  # The metrics and web-view tests: promtool (check metrics), a headless
  # Chromium driven through chromedriver (WebDriver).
  prometheus chromium chromium-driver
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all packages present"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages (${missing[*]}); run as root: sudo scripts/setup.sh" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no, without a prompt.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The conntrack tests need the conntrack modules; loading is harmless if
# they are built in or already loaded.
if [ "$(id -u)" -eq 0 ]; then
  modprobe -q nf_conntrack 2>/dev/null || true
  modprobe -q nfnetlink_log 2>/dev/null || true
  # The AHAFS file interface (FUSE) needs /dev/fuse only: the fuser crate
  # mounts it directly as root, so no fuse3/fusermount package is needed.
  # The C consumer of its tests is compiled with cc (clang/gcc above).
  [ -e /dev/fuse ] || modprobe -q fuse 2>/dev/null || true
fi

# scripts/test.sh runs the fuzz targets briefly (fuzz/run.sh) with cargo-fuzz
# on the stable toolchain; pinned, so CI runs the same fuzzer driver.
cargo_fuzz_version=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $cargo_fuzz_version"; then
  echo "setup: installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
else
  echo "setup: cargo-fuzz $cargo_fuzz_version present"
fi
