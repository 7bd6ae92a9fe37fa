#!/bin/sh
# Rebuilds the committed BPF objects bpf/sock.bpf.o and bpf/datapath.bpf.o
# from their .bpf.c sources.
#   ./build-bpf.sh          rebuild in place
#   ./build-bpf.sh --check  rebuild to temporary files and fail if one differs
#                           from the committed object (CI runs this)
# Needs clang and llvm-strip (Debian: clang llvm) and the libbpf headers
# (Debian: libbpf-dev, /usr/include/bpf). Output is byte-identical for the
# same clang version: -fdebug-prefix-map removes the checkout path, and
# llvm-strip -g drops DWARF while keeping .BTF/.BTF.ext for CO-RE.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bpf="$here/bpf"
CLANG=${BPF_CLANG:-clang}
STRIP=${BPF_STRIP:-llvm-strip}
command -v "$CLANG" >/dev/null || { echo "build-bpf.sh: $CLANG not found (apt-get install clang)" >&2; exit 1; }
command -v "$STRIP" >/dev/null || { echo "build-bpf.sh: $STRIP not found (apt-get install llvm)" >&2; exit 1; }
[ -f /usr/include/bpf/bpf_helpers.h ] || { echo "build-bpf.sh: libbpf headers not found (apt-get install libbpf-dev)" >&2; exit 1; }
case "$(uname -m)" in
x86_64) arch=x86 ;;
aarch64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac
check=0
[ "${1:-}" = "--check" ] && check=1
tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
cd "$bpf"
status=0
for name in sock datapath; do
	out="$bpf/$name.bpf.o"
	[ $check = 1 ] && out="$tmpdir/$name.bpf.o"
	"$CLANG" -g -O2 -mcpu=v3 -target bpf -Wall -Werror -D__TARGET_ARCH_$arch \
		-fdebug-prefix-map="$bpf"=. -I . -c "$name.bpf.c" -o "$out"
	"$STRIP" -g "$out"
	if [ $check = 1 ]; then
		if cmp -s "$out" "$bpf/$name.bpf.o"; then
			echo "build-bpf.sh: committed $name.bpf.o is up to date"
		else
			echo "build-bpf.sh: bpf/$name.bpf.o differs from a rebuild of bpf/$name.bpf.c; run crates/inetmon-bpf/build-bpf.sh and commit" >&2
			status=1
		fi
	fi
done
exit $status
