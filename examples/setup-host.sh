#!/usr/bin/env bash
# Prepares a Debian 12 host for coreship, as root, idempotently. Every install the project
# needs happens here, once and serially, before anything is built or tested: the tests and the
# scripts they run only check, and fail naming this command when something is missing.
#
#   examples/setup-host.sh            # the main job (examples/quickstart.sh): clang, libelf and
#                                     # zlib for libbpf, bpftool, bpftrace; tracefs/bpffs mounts
#   examples/setup-host.sh --tests    # also what the whole test suite, fuzz/run.sh and
#                                     # examples/bench/bench.py need (what .ci/run uses)
#
# --tests adds: the real peers the interop tests run against (Debian's docker-registry, skopeo,
# minisign, openssl, headless Chromium; PyPI's oras in /opt/coreship-venv; wrk for the bench);
# qemu, busybox and cpio for the guests, with Debian's kernels for them downloaded into the
# guests' cache; the musl targets and the C libraries (libelf, zlib) the static loaders are built
# with, for x86_64 and aarch64; the pinned nightly with rust-src (`--build-std`, fuzzing) and
# cargo-fuzz. Downloads land under $CARGO_TARGET_DIR (default target/), where the scripts look.
#
# With CORESHIP_NO_INSTALL=1 nothing is installed: it checks, and fails on the first thing
# missing. Mounting tracefs/bpffs is not an install: it always happens.
set -euo pipefail

here="$(cd -P "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=examples/lib/ensure.sh
. "$here/lib/ensure.sh"

tests=0
case "${1:-}" in
"") ;;
--tests) tests=1 ;;
*)
    echo "usage: setup-host.sh [--tests]" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host.sh: run as root (it installs packages and mounts tracefs/bpffs)" >&2
    exit 1
fi

packages=(clang-19 llvm-19 libelf-dev zlib1g-dev pkg-config make gcc bpftool bpftrace systemtap-sdt-dev python3 curl)
if [ "$tests" = 1 ]; then
    packages+=(docker-registry skopeo minisign openssl chromium python3-venv wrk)
    # The qemu guests (loader/tests/qemu_guest.rs, examples/embedded-vm) and the static musl
    # loaders (loader/build-static.sh) for x86_64 and, with arm64's musl, aarch64.
    packages+=(qemu-system-x86 qemu-system-arm busybox-static cpio lz4 zstd xz-utils bzip2 dpkg-dev
        musl-tools gcc-aarch64-linux-gnu linux-libc-dev-arm64-cross musl-dev:arm64)
    ensure_dpkg_arch arm64
fi
ensure_apt "${packages[@]}"

mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true

[ "$tests" = 1 ] || exit 0

if ! /opt/coreship-venv/bin/python -c 'import oras' 2>/dev/null; then
    ensure_may_install "oras (PyPI, in /opt/coreship-venv)"
    echo "setup-host.sh: installing oras (PyPI) into /opt/coreship-venv" >&2
    python3 -m venv /opt/coreship-venv
    /opt/coreship-venv/bin/pip install -q 'oras==0.2.43'
fi

# Rust: the static loaders' musl targets on the toolchain cargo uses here, the pinned nightly
# (rust-src for -Z build-std, its own musl target), and cargo-fuzz. Serially, one at a time.
cd "$root"
for arch in x86_64 aarch64; do
    ensure_rust_target default "$arch-unknown-linux-musl"
done
ensure_toolchain "$CORESHIP_NIGHTLY" rust-src
ensure_rust_target "$CORESHIP_NIGHTLY" x86_64-unknown-linux-musl
ensure_cargo_fuzz

# The project's own downloads, into the caches the scripts read: Debian's libelf and zlib
# sources built for musl (target/static-deps), the guests' kernels and arm64 busybox
# (target/tmp/embedded-vm).
for arch in x86_64 aarch64; do
    "$root/loader/build-static.sh" --target "$arch" --deps-only >/dev/null
    "$here/embedded-vm/vm.sh" kernel "$arch" >/dev/null
done
"$here/embedded-vm/vm.sh" busybox aarch64 >/dev/null
echo "setup-host.sh: ready for the test suite" >&2
