#!/usr/bin/env bash
# Prepares a Debian 12 host for building and running coreship probes (idempotent, as root):
# clang for the builder, libelf/zlib for libbpf, bpftool/bpftrace for comparisons, and the
# tracefs/bpffs mounts that attaching and pinning need.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host.sh: run as root (it installs packages and mounts tracefs/bpffs)" >&2
    exit 1
fi

packages=(clang-19 llvm-19 libelf-dev zlib1g-dev pkg-config make gcc bpftool bpftrace systemtap-sdt-dev python3 curl)
# With CORESHIP_PEERS=1 (CI sets it): the real peers the interop tests run against — Debian's
# docker-registry (CNCF distribution), skopeo, minisign, headless Chromium for the registry's
# web page — PyPI's oras client in a venv at /opt/coreship-venv, and wrk for the benchmarks.
if [ "${CORESHIP_PEERS:-0}" = 1 ]; then
    packages+=(docker-registry skopeo minisign chromium python3-venv)
    # examples/bench/bench.py's HTTP load generator.
    packages+=(wrk)
    # The qemu guests (loader/tests/qemu_guest.rs, examples/embedded-vm): TCG qemu, an initramfs
    # of busybox, and static musl builds for x86_64 and, with arm64's musl, aarch64.
    packages+=(qemu-system-x86 qemu-system-arm busybox-static cpio lz4 zstd musl-tools gcc-aarch64-linux-gnu
        linux-libc-dev-arm64-cross musl-dev:arm64)
    dpkg --add-architecture arm64 # apt-get update below then lists arm64 packages too
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup-host.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true

if [ "${CORESHIP_PEERS:-0}" = 1 ] && ! /opt/coreship-venv/bin/python -c 'import oras' 2>/dev/null; then
    echo "setup-host.sh: installing oras (PyPI) into /opt/coreship-venv"
    python3 -m venv /opt/coreship-venv
    /opt/coreship-venv/bin/pip install -q 'oras==0.2.*'
fi
