#!/usr/bin/env bash
# Building blocks of the embedded-vm demo, shared by run.sh and loader/tests/qemu_guest.rs:
# a Debian 6.1 cloud kernel and a busybox-static initramfs for a qemu "device".
#
#   vm.sh kernel ARCH             # Debian's 6.1 cloud kernel (vmlinuz), downloaded once
#   vm.sh btf x86_64              # that kernel's vmlinux (ELF with .BTF), unpacked from its bzImage,
#                                 # the input `coreship build --min-btf` needs for it
#   vm.sh busybox ARCH            # busybox-static for ARCH
#   vm.sh loader ARCH             # the static musl coreship-load (loader/build-static.sh)
#   vm.sh workload ARCH           # workload.c, static musl
#   vm.sh initramfs ARCH OUT      # all of the above + init.sh as /init → OUT (cpio.gz)
#   vm.sh boot ARCH INITRAMFS [coreship.KEY=VALUE…]   # exec qemu (TCG); console on stdout
#
# ARCH is x86_64 or aarch64. Each command prints the path it made on the last line of stdout
# (boot prints the guest's console). Downloads go to $CORESHIP_VM_CACHE (default
# $CARGO_TARGET_DIR/tmp/embedded-vm, or target/tmp/embedded-vm): reruns are offline.
# CORESHIP_VM_KERNEL=linux-image-6.1.0-N-cloud-ARCH-unsigned picks the kernel package (default:
# the one Debian's linux-image-cloud-ARCH depends on now). Needs apt-get/dpkg (Debian), cpio,
# qemu-system-x86 or qemu-system-arm; aarch64 also needs `dpkg --add-architecture arm64`
# (`examples/setup-host.sh --tests` installs them all and downloads the kernels). With
# CORESHIP_NO_INSTALL=1 (tests) a package not in the cache fails naming that command instead
# of being downloaded; downloads and unpacked files are made under a lock in the cache.
set -euo pipefail

here="$(cd -P "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=examples/lib/ensure.sh
. "$root/examples/lib/ensure.sh"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
cache="${CORESHIP_VM_CACHE:-$target_dir/tmp/embedded-vm}"
log() { echo "vm.sh: $*" >&2; }
die() {
    log "$*"
    exit 1
}

debarch() {
    case "$1" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) die "unsupported arch $1 (x86_64 or aarch64)" ;;
    esac
}

# Downloads package $2 (for Debian arch $1) once and unpacks it under $cache/$1/$3; prints that dir.
fetch_deb() {
    local dir="$cache/$1/$3"
    if [ ! -e "$dir/.unpacked" ]; then
        ensure_may_install "$2:$1 (in the guests' cache $cache)"
        with_lock "$cache/.lock" fetch_deb_locked "$@"
    fi
    echo "$dir"
}

fetch_deb_locked() {
    local darch="$1" pkg="$2" dir="$cache/$1/$3"
    [ -e "$dir/.unpacked" ] && return
    rm -rf "$dir"
    mkdir -p "$dir"
    log "downloading $pkg:$darch"
    if [ "$darch" != "$(dpkg --print-architecture)" ] &&
        ! dpkg --print-foreign-architectures | grep -qx "$darch"; then
        die "apt cannot see $darch packages: dpkg --add-architecture $darch && apt-get update"
    fi
    (cd "$dir" && apt-get download -q=2 -o APT::Sandbox::User=root "$pkg:$darch" >&2)
    dpkg -x "$dir"/*.deb "$dir/root"
    rm "$dir"/*.deb
    touch "$dir/.unpacked"
}

cmd_kernel() {
    local darch pkg dir
    darch="$(debarch "$1")"
    mkdir -p "$cache/$darch"
    dir="$(find "$cache/$darch" -maxdepth 1 -name 'linux-image-*' | sort -V | tail -n1)"
    if [ -z "$dir" ] || [ ! -e "$dir/.unpacked" ] || [ -n "${CORESHIP_VM_KERNEL:-}" ]; then
        pkg="${CORESHIP_VM_KERNEL:-}"
        if [ -z "$pkg" ]; then
            # linux-image-cloud-amd64 → linux-image-6.1.0-N-cloud-amd64 (signed); its -unsigned twin.
            pkg="$(apt-cache depends "linux-image-cloud-$darch:$darch" |
                sed -n 's/^ *Depends: \(linux-image-[0-9.]*-[0-9]*-cloud-[a-z0-9]*\).*/\1/p' | head -n1)"
            [ -n "$pkg" ] || die "apt-cache knows no linux-image-cloud-$darch (apt-get update?)"
            pkg="$pkg-unsigned"
        fi
        dir="$(fetch_deb "$darch" "$pkg" "$pkg")"
    fi
    find "$dir/root/boot" -name 'vmlinuz-*' | head -n1
}

# The kernel's uncompressed vmlinux (x86_64 bzImage: the payload the setup header points at,
# compressed with lz4, gzip, xz or zstd), kept beside the kernel; prints its path.
cmd_btf() {
    [ "$1" = x86_64 ] || die "btf: only x86_64 (an arm64 Image keeps no ELF sections)"
    local kernel out
    kernel="$(cmd_kernel "$1")"
    out="$(dirname "$kernel")/vmlinux-${kernel##*/vmlinuz-}"
    [ -s "$out" ] || with_lock "$cache/.lock" unpack_vmlinux "$kernel" "$out"
    echo "$out"
}

# Writes the vmlinux inside bzImage $1 to $2 (through a temp file: readers see all or nothing).
unpack_vmlinux() {
    local kernel="$1" out="$2" payload tmp
    [ -s "$out" ] && return
    tmp="$out.tmp"
    payload="$(mktemp)"
    python3 - "$kernel" "$payload" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
setup_sects = b[0x1F1] or 4
offset, length = struct.unpack("<II", b[0x248:0x250])
start = (setup_sects + 1) * 512 + offset
open(sys.argv[2], "wb").write(b[start:start + length])
PY
    # The payload ends with the kernel's size appended, which the decompressors call
    # trailing garbage (non-zero exit after a complete decode): judge by the result.
    case "$(head -c4 "$payload" | od -An -tx1 | tr -d ' \n')" in
    02214c18) lz4 -d -q -f "$payload" "$tmp" || true ;;
    1f8b*) gzip -dc <"$payload" >"$tmp" || true ;;
    fd377a58) xz -dc <"$payload" >"$tmp" || true ;;
    28b52ffd) zstd -d -q -c <"$payload" >"$tmp" || true ;;
    *) die "btf: unknown compression of $kernel's payload" ;;
    esac
    rm -f "$payload"
    if [ "$(head -c4 "$tmp" | od -An -tx1 | tr -d ' \n')" != 7f454c46 ]; then
        rm -f "$tmp"
        die "btf: $kernel's payload did not decompress to an ELF vmlinux"
    fi
    mv "$tmp" "$out"
}

cmd_busybox() {
    local darch
    darch="$(debarch "$1")"
    if [ "$darch" = "$(dpkg --print-architecture)" ] &&
        dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"; then
        echo /bin/busybox
        return
    fi
    echo "$(fetch_deb "$darch" busybox-static busybox-static)/root/bin/busybox"
}

cmd_loader() {
    local args=()
    [ "$1" = x86_64 ] || args=(--target "$1")
    CARGO_TARGET_DIR="$target_dir" "$root/loader/build-static.sh" "${args[@]}" | tail -n1
}

# Static musl C compiler for ARCH (the same pair build-static.sh uses).
musl_cc() {
    case "$1" in
    x86_64) echo musl-gcc ;;
    aarch64) echo "aarch64-linux-gnu-gcc -specs /usr/lib/aarch64-linux-musl/musl-gcc.specs" ;;
    esac
}

cmd_workload() {
    local out="$cache/$(debarch "$1")/coreship-workload"
    debarch "$1" >/dev/null
    if [ ! -e "$out" ] || [ "$here/workload.c" -nt "$out" ]; then
        mkdir -p "$(dirname "$out")"
        # shellcheck disable=SC2046 # the compiler command is several words
        $(musl_cc "$1") -static -O2 -Wall -o "$out.$$" "$here/workload.c"
        mv "$out.$$" "$out"
    fi
    echo "$out"
}

# virtio-net is a module in Debian's cloud kernels (=m, uncompressed): these, in load order.
virtio_net_modules=(drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
    drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/core/failover drivers/net/net_failover
    drivers/net/virtio_net)

cmd_initramfs() {
    local arch="$1" out="$2" kernel modules busybox loader workload m
    kernel="$(cmd_kernel "$arch")"
    modules="$(dirname "$(dirname "$kernel")")/lib/modules/${kernel##*/vmlinuz-}/kernel"
    busybox="$(cmd_busybox "$arch")"
    loader="$(cmd_loader "$arch")"
    workload="$(cmd_workload "$arch")"
    tree="$(mktemp -d)" # global: the EXIT trap removes it
    trap 'rm -rf "$tree"' EXIT
    mkdir -p "$tree"/{bin,dev,proc,sys,tmp,etc}
    install -m755 "$busybox" "$tree/bin/busybox"
    for applet in sh mount cat cut grep insmod ip kill sleep usleep tr true uname; do
        ln -s busybox "$tree/bin/$applet"
    done
    install -m755 "$loader" "$tree/bin/coreship-load"
    install -m755 "$workload" "$tree/bin/coreship-workload"
    install -m755 "$here/init.sh" "$tree/init"
    mkdir -p "$tree/lib/modules"
    for m in "${virtio_net_modules[@]}"; do
        install -m644 "$modules/$m.ko" "$tree/lib/modules/"
        echo "${m##*/}.ko" >>"$tree/lib/modules/order"
    done
    # The console must exist before devtmpfs is mounted: the kernel opens it for /init.
    mknod "$tree/dev/console" c 5 1
    mkdir -p "$(dirname "$out")"
    (cd "$tree" && find . -print0 | sort -z | cpio -o -0 -H newc --quiet --reproducible -R 0:0) |
        gzip -1 >"$out.tmp"
    mv "$out.tmp" "$out"
    echo "$out"
}

# The guest boots with: TCG (no KVM), 1 CPU, 1 GiB, serial console on stdout, virtio-net on
# qemu's user network (the host's 127.0.0.1 is 10.0.2.2 there), no reboot: powering off ends qemu.
cmd_boot() {
    local arch="$1" initramfs="$2" kernel qemu console
    shift 2
    kernel="$(cmd_kernel "$arch")"
    case "$arch" in
    x86_64)
        qemu=(qemu-system-x86_64)
        console=ttyS0
        ;;
    aarch64)
        qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57)
        console=ttyAMA0
        ;;
    esac
    exec "${qemu[@]}" -accel tcg -m 1024 -smp 1 -nographic -no-reboot \
        -kernel "$kernel" -initrd "$initramfs" \
        -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
        -append "console=$console quiet panic=-1 $*"
}

[ $# -ge 2 ] || die "usage: vm.sh kernel|btf|busybox|loader|workload|initramfs|boot ARCH …"
cmd="$1"
shift
debarch "$1" >/dev/null
case "$cmd" in
kernel | btf | busybox | loader | workload) "cmd_$cmd" "$1" ;;
initramfs)
    [ $# -eq 2 ] || die "usage: vm.sh initramfs ARCH OUT"
    cmd_initramfs "$@"
    ;;
boot)
    [ $# -ge 2 ] || die "usage: vm.sh boot ARCH INITRAMFS [coreship.KEY=VALUE…]"
    cmd_boot "$@"
    ;;
*) die "unknown command $cmd" ;;
esac
