#!/usr/bin/env bash
# Compiles lodestone's XDP program to BPF bytecode (with BTF, which bpftool and
# libbpf use to describe maps). Usage: scripts/build-bpf.sh [output.o]
# Extra compiler flags may come in BPF_CFLAGS (the loader's test uses it to build a broken variant).
# Default output: dist/bpf/lodestone.bpf.o (dist/ is not committed; see docs/xdp.md),
# plus pass.bpf.o beside it (an XDP_PASS program for veth peers, see pass.bpf.c).
# The loader (src/dataplane/xdp/build.ts) runs this same script when the object is
# missing or older than its sources, so the flags live only here.
set -euo pipefail
cd "$(dirname "$0")/.."
src=src/dataplane/xdp/bpf
out=${1:-dist/bpf/lodestone.bpf.o}
mkdir -p "$(dirname "$out")"
# Debian's multiarch include dir holds <asm/types.h>, which <linux/types.h> needs.
arch_inc=/usr/include/$(uname -m)-linux-gnu
# shellcheck disable=SC2086 # BPF_CFLAGS is a list of flags
clang -O2 -g -Wall -Werror -target bpf ${BPF_CFLAGS:-} \
  -I "$src" -I "$arch_inc" \
  -c "$src/lodestone.bpf.c" -o "$out.tmp.$$"
pass=$(dirname "$out")/pass.bpf.o
clang -O2 -g -Wall -Werror -target bpf -I "$arch_inc" -c "$src/pass.bpf.c" -o "$pass.tmp.$$"
mv "$pass.tmp.$$" "$pass"
mv "$out.tmp.$$" "$out"
echo "$out"
