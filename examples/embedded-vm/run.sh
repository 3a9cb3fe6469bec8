#!/usr/bin/env bash
# Try a "device" locally: a qemu guest (Debian's 6.1 cloud kernel, busybox, the static
# coreship-load, a small workload — no clang, no libc) pulls probes built on this host from a
# coreship-registry on 127.0.0.1 and runs them while the workload runs.
#
#   examples/embedded-vm/run.sh [x86_64|aarch64] [PROBE…]
#
# PROBE: execsnoop, opensnoop, ustate, ufunc, ksleep, tcpsend (default: all but ufunc).
# CORESHIP_VM_FORMAT=json for JSON lines (default text); CORESHIP_VM_DURATION per probe, an
# upper bound (default 30s; each probe stops once the workload has run); CORESHIP_BIN_DIR: take coreship and coreship-registry from there instead of
# building them. Exits 1 naming what failed: the registry not listening, a probe's loader
# exiting non-zero in the guest, the guest not powering off. Run as root on Debian 12 from a
# checkout; see README.md here.
set -euo pipefail

here="$(cd -P "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
arch="${1:-x86_64}"
[ $# -gt 0 ] && shift
probes=("$@")
[ ${#probes[@]} -gt 0 ] || probes=(execsnoop opensnoop ustate ksleep tcpsend)
case "$arch" in
x86_64) qemu=qemu-system-x86_64 qemu_pkg=qemu-system-x86 ;;
aarch64) qemu=qemu-system-aarch64 qemu_pkg=qemu-system-arm ;;
*)
    echo "usage: run.sh [x86_64|aarch64] [PROBE…]" >&2
    exit 1
    ;;
esac
command -v "$qemu" >/dev/null || {
    echo "run.sh: $qemu missing (apt-get install $qemu_pkg)" >&2
    exit 1
}

if [ -n "${CORESHIP_BIN_DIR:-}" ]; then
    bin="$CORESHIP_BIN_DIR"
else
    echo "== building coreship and coreship-registry" >&2
    (cd "$root" && cargo build --locked -j "${CORESHIP_BUILD_JOBS:-2}" --bin coreship --bin coreship-registry)
    bin="$CARGO_TARGET_DIR/debug"
fi

work="$(mktemp -d /tmp/coreship-embedded-vm.XXXXXX)"
registry_pid=
cleanup() {
    if [ -n "$registry_pid" ]; then
        kill "$registry_pid" 2>/dev/null || true
        wait "$registry_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== building ${probes[*]} for x86_64 and aarch64 against this host's BTF" >&2
sources=()
for p in "${probes[@]}"; do sources+=("$root/bpf/$p.bpf.c"); done
"$bin/coreship" build --arch x86_64,aarch64 --out "$work/probes" "${sources[@]}"

echo "== starting coreship-registry on 127.0.0.1 (store in $work/store)" >&2
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/tokens.txt"
"$bin/coreship-registry" serve --root "$work/store" --listen 127.0.0.1:0 \
    --push-token-file "$work/tokens.txt" 2>"$work/registry.log" &
registry_pid=$!
# Its first line: "coreship-registry: listening on http://127.0.0.1:PORT (root DIR, …)".
port=
for _ in $(seq 100); do
    port="$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/registry.log" | head -n1)"
    [ -n "$port" ] && break
    kill -0 "$registry_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "run.sh: coreship-registry did not print \"listening on http://127.0.0.1:PORT\" within 10 s; its log:" >&2
    cat "$work/registry.log" >&2
    exit 1
fi

refs=()
for p in "${probes[@]}"; do
    version="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$work/probes/$p/package.json" | head -n1)"
    CORESHIP_REGISTRY_TOKEN="$(cat "$work/tokens.txt")" \
        "$bin/coreship" push "$work/probes/$p" "127.0.0.1:$port/probes/$p:$version" >/dev/null
    echo "   pushed 127.0.0.1:$port/probes/$p:$version" >&2
    refs+=("$p:$version")
done

echo "== building the $arch initramfs (busybox, static coreship-load, workload)" >&2
initramfs="$("$here/vm.sh" initramfs "$arch" "$work/initramfs.cpio.gz" | tail -n1)"

echo "== booting the $arch guest (TCG); it pulls from 10.0.2.2:$port, the host's 127.0.0.1:$port" >&2
refs_csv="$(
    IFS=,
    echo "${refs[*]}"
)"
set +e
timeout "${CORESHIP_VM_TIMEOUT:-300}" "$here/vm.sh" boot "$arch" "$initramfs" \
    "coreship.registry=10.0.2.2:$port/probes" "coreship.probes=$refs_csv" \
    "coreship.duration=${CORESHIP_VM_DURATION:-30s}" "coreship.format=${CORESHIP_VM_FORMAT:-text}" |
    tee "$work/console.txt"
status=${PIPESTATUS[0]}
set -e

# The guest prints `@@ coreship-vm: end NAME rc=N …` per probe and `@@ coreship-vm: done` last.
console="$(tr -d '\r' <"$work/console.txt")"
if [ "$status" != 0 ]; then
    echo "run.sh: the $arch guest did not power off cleanly (status $status; 124: it ran past CORESHIP_VM_TIMEOUT=${CORESHIP_VM_TIMEOUT:-300} s)" >&2
    exit 1
fi
for p in "${probes[@]}"; do
    rc="$(sed -n "s/.*@@ coreship-vm: end $p rc=\([0-9-]*\).*/\1/p" <<<"$console")"
    if [ -z "$rc" ]; then
        echo "run.sh: $p never ended in the $arch guest (no \"@@ coreship-vm: end $p\" on its console)" >&2
        exit 1
    elif [ "$rc" != 0 ]; then
        echo "run.sh: coreship-load run $p exited with $rc in the $arch guest (its stderr is above, after @@ stderr)" >&2
        exit 1
    fi
done
grep -q '@@ coreship-vm: done' <<<"$console" || {
    echo "run.sh: the $arch guest never printed \"@@ coreship-vm: done\"" >&2
    exit 1
}
echo "== the $arch guest ran ${probes[*]}: each exited 0" >&2
