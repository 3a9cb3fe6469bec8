#!/usr/bin/env bash
# Builds a fully static `coreship-load` against musl: libbpf (libbpf-sys's vendored 1.7), libelf
# and zlib all compiled with musl-gcc, linked with Rust's <arch>-unknown-linux-musl std. No glibc
# object and no clang/LLVM go into it.
#
#   loader/build-static.sh                           # musl, default features
#   loader/build-static.sh --no-default-features     # musl, local files + plain HTTP only
#   loader/build-static.sh --glibc [cargo args]      # fallback: glibc crt-static, Debian's libelf.a
#   loader/build-static.sh --build-std [cargo args]  # musl, std rebuilt by a pinned nightly
#                                                    # without backtraces/unwind tables (~0.5 MB less)
#   loader/build-static.sh --target aarch64 [...]    # cross-build for arm64 (any mode but --glibc)
#   loader/build-static.sh [--target ARCH] --deps-only   # only libelf and zlib for musl (setup)
#
# Extra arguments go to `cargo build`. Prints the binary's path on the last line of stdout:
# target/static-loaders/TRIPLE/CONFIGURATION/coreship-load, one path per target, mode and
# arguments (`stable`, `stable_--no-default-features`, `build-std_--no-default-features`, …), so
# two builds of different configurations never hand out each other's binary.
#
# aarch64: Debian's cross gcc (gcc-aarch64-linux-gnu) with Debian's arm64 musl (musl-dev:arm64,
# which needs `dpkg --add-architecture arm64`) through the specs file musl-gcc itself uses;
# musl-tools only ships the host's musl-gcc.
#
# Why libelf is built here and not by libbpf-sys's `vendored` feature: elfutils' configure insists
# on argp, fts and obstack, which musl lacks and Debian does not package for musl, and
# libbpf-sys's build also compiles elfutils' lib/ (argp.h). libelf itself uses none of them, so
# configure is told they need no library and only libelf/libelf.a is made. Sources come from
# Debian (`apt-get source`, signature-checked by apt) through a private apt configuration:
# the host's sources.list is not touched.
#
# What it needs (Debian packages, the musl targets, the pinned nightly for --build-std) comes
# from `examples/setup-host.sh --tests`; run by hand, it installs what is missing itself, under
# the locks examples/lib/ensure.sh takes (root for apt-get). With CORESHIP_NO_INSTALL=1 (tests)
# it only checks. libelf and zlib land in $CARGO_TARGET_DIR/static-deps (or target/static-deps),
# built under a lock per arch, and are reused.
set -euo pipefail

root="$(cd -P "$(dirname "$0")/.." && pwd)"
# shellcheck source=examples/lib/ensure.sh
. "$root/examples/lib/ensure.sh"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TARGET_DIR="$target_dir"
jobs="${CORESHIP_BUILD_JOBS:-2}"
log() { echo "build-static: $*" >&2; }

arch=x86_64
if [ "${1:-}" = "--target" ]; then
    arch="${2:?--target needs x86_64 or aarch64}"
    shift 2
fi
case "$arch" in
x86_64 | aarch64) ;;
*) log "unsupported --target $arch (x86_64 or aarch64)"; exit 1 ;;
esac
rust_target="$arch-unknown-linux-musl"
rust_target_env="${rust_target//-/_}"

# Debian source packages, pinned so two builds compile the same C (override to follow updates).
elfutils_deb="${CORESHIP_ELFUTILS_DEB:-elfutils=0.188-2.1}"
zlib_deb="${CORESHIP_ZLIB_DEB:-zlib=1:1.2.13.dfsg-1}"
# Size flags for the C parts: no unwind tables (the loader aborts on panic, nothing unwinds
# through C), sections so the linker drops unused functions.
c_flags="-Os -fPIC -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"

# --build-std: rebuild std for size with the pinned nightly $CORESHIP_NIGHTLY (unstable flags
# change between nightlies): panics abort at once, so std's backtrace printer (gimli, addr2line,
# miniz_oxide, ~210 KiB of code) and every unwind table go. Unstable flags: opt-in only.
toolchain=()
build_std=()
rust_toolchain=default
deps_only=0
mode=stable
case "${1:-}" in
--build-std)
    shift
    mode=build-std
    rust_toolchain="$CORESHIP_NIGHTLY"
    ensure_toolchain "$CORESHIP_NIGHTLY" rust-src
    toolchain=("+$CORESHIP_NIGHTLY")
    build_std=(-Z build-std=std,panic_abort -Z build-std-features=optimize_for_size)
    rust_flags="-Z unstable-options -C panic=immediate-abort -C force-unwind-tables=no"
    ;;
--deps-only)
    shift
    deps_only=1
    ;;
esac

# Builds for target $1 with cargo arguments $2…, then copies the binary to a path of its own
# configuration (mode and arguments) and prints that path. Every configuration of one target
# builds into the same cargo output path: the lock keeps a second build (another feature set,
# started meanwhile) from replacing the binary before it is copied.
cargo_build() {
    local target="$1" config out
    shift
    config="$(printf '%s' "$mode${*:+ $*}" | tr -c 'A-Za-z0-9=,._-' '_')"
    out="$target_dir/static-loaders/$target/$config/coreship-load"
    with_lock "$target_dir/$target/build-static.lock" build_and_copy "$target" "$out" "$@"
    echo "$out"
}

build_and_copy() {
    local target="$1" out="$2"
    shift 2
    cargo "${toolchain[@]}" build "${build_std[@]}" --locked -j "$jobs" --profile loader-release -p coreship-loader --bin coreship-load \
        --target "$target" --features static "$@" >&2
    mkdir -p "$(dirname "$out")"
    cp "$target_dir/$target/loader-release/coreship-load" "$out.tmp"
    mv "$out.tmp" "$out"
}

if [ "${1:-}" = "--glibc" ]; then
    shift
    mode=glibc
    [ "$arch" = x86_64 ] || { log "--glibc builds for x86_64 only"; exit 1; }
    ensure_apt libelf-dev zlib1g-dev pkg-config make gcc
    RUSTFLAGS="-C target-feature=+crt-static" LIBBPF_SYS_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu \
        cargo_build x86_64-unknown-linux-gnu "$@"
    exit
fi
ensure_apt dpkg-dev make gcc xz-utils bzip2
deps="$target_dir/static-deps/$arch-linux-musl"
prefix="$deps/prefix"
if [ "$arch" = x86_64 ]; then
    ensure_apt musl-tools
    cc=musl-gcc
    cross=()
    asm_headers="/usr/include/$(gcc -dumpmachine)/asm"
else
    ensure_dpkg_arch arm64
    ensure_apt gcc-aarch64-linux-gnu musl-dev:arm64 linux-libc-dev-arm64-cross
    # musl-gcc for arm64: the cross gcc with arm64 musl's specs file (written with the deps).
    cc="$prefix/bin/aarch64-linux-musl-gcc"
    cross=(AR=aarch64-linux-gnu-ar RANLIB=aarch64-linux-gnu-ranlib)
    asm_headers=/usr/aarch64-linux-gnu/include/asm
    # gcc calls libgcc's __aarch64_ldadd4_sync & co. for atomics by default; Rust's musl link
    # has no libgcc: inline LSE/LL-SC sequences instead.
    c_flags="$c_flags -mno-outline-atomics"
    export "CARGO_TARGET_${rust_target_env^^}_LINKER=aarch64-linux-gnu-gcc"
    export "AR_$rust_target_env=aarch64-linux-gnu-ar"
fi
[ "$deps_only" = 1 ] || ensure_rust_target "$rust_toolchain" "$rust_target"

stamp="$prefix/.built-from"
want="$elfutils_deb $zlib_deb $c_flags"

# Debian's libelf and zlib sources, compiled for musl into $prefix. Runs under the arch's lock:
# a build started meanwhile waits, then finds the stamp and reuses the result.
build_deps_locked() {
    [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return
    rm -rf "$deps/apt" "$deps/src" "$deps/build" "$prefix"
    mkdir -p "$deps/apt/lists/partial" "$deps/apt/cache/archives/partial" "$deps/src" "$prefix/bin"
    if [ "$arch" = aarch64 ]; then
        printf '#!/bin/sh\nexec aarch64-linux-gnu-gcc "$@" -specs /usr/lib/aarch64-linux-musl/musl-gcc.specs\n' >"$cc"
        chmod +x "$cc"
    fi

    # deb-src for the host's own Debian release and mirror, in a private apt state directory.
    local mirror codename
    mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)"
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
    echo "deb-src ${mirror:-http://deb.debian.org/debian} $codename main" >"$deps/apt/sources.list"
    local apt=(apt-get -qq -o "Dir::Etc::SourceList=$deps/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$deps/apt/lists" -o "Dir::Cache=$deps/apt/cache" -o "APT::Sandbox::User=root")
    log "fetching Debian sources: $elfutils_deb $zlib_deb"
    "${apt[@]}" update
    (cd "$deps/src" && "${apt[@]}" source --download-only "$elfutils_deb" "$zlib_deb" >/dev/null &&
        for dsc in *.dsc; do dpkg-source -q -x "$dsc" >/dev/null; done)

    log "building zlib (musl, $arch)"
    (cd "$deps/src"/zlib-*/ && env "${cross[@]}" CC="$cc" CFLAGS="$c_flags" ./configure --static --prefix="$prefix" >/dev/null &&
        make -j "$jobs" "${cross[@]}" install >/dev/null)

    log "building libelf (musl, $arch)"
    mkdir -p "$deps/build/elfutils"
    (cd "$deps/build/elfutils" &&
        env "${cross[@]}" CC="$cc" CFLAGS="$c_flags -I$prefix/include" LDFLAGS="-L$prefix/lib" \
            ac_cv_search_argp_parse="none required" ac_cv_search_fts_close="none required" \
            ac_cv_search__obstack_free="none required" \
            "$deps/src"/elfutils-*/configure --host="$arch-linux-musl" --prefix="$prefix" --disable-nls --disable-debuginfod \
            --disable-libdebuginfod --without-bzlib --without-lzma --without-zstd >/dev/null &&
        make -j "$jobs" "${cross[@]}" -C libelf libelf.a >/dev/null)
    install -m644 "$deps/build/elfutils/libelf/libelf.a" "$prefix/lib/"
    install -m644 "$deps/src"/elfutils-*/libelf/{libelf.h,gelf.h,nlist.h} "$prefix/include/"

    # Linux UAPI headers (libc-independent) for libbpf; musl-gcc searches only musl's headers.
    mkdir -p "$prefix/kernel-headers"
    ln -sfn /usr/include/linux "$prefix/kernel-headers/linux"
    ln -sfn /usr/include/asm-generic "$prefix/kernel-headers/asm-generic"
    ln -sfn "$asm_headers" "$prefix/kernel-headers/asm"
    # libbpf's make keeps its objects in libbpf-sys's OUT_DIR and does not see changed CFLAGS:
    # start libbpf over whenever its libelf/zlib or flags change.
    cargo clean -q -p libbpf-sys --target "$rust_target" --profile loader-release 2>/dev/null || true
    # Last: the stamp says the whole prefix is there.
    echo "$want" >"$stamp.tmp"
    mv "$stamp.tmp" "$stamp"
}

if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    ensure_may_install "libelf and zlib for musl ($arch; built from Debian's sources into $deps)"
    with_lock "$deps.lock" build_deps_locked
fi
if [ "$deps_only" = 1 ]; then
    echo "$prefix"
    exit 0
fi

# libbpf-sys compiles its vendored libbpf with the target's C compiler (musl-gcc) and links
# libelf.a/libz.a from LIBBPF_SYS_LIBRARY_PATH (feature `static`). Target-scoped variables, so
# host build scripts (and a glibc build in the same target dir) are unaffected; the include
# paths go there too and not in libbpf-sys's unscoped LIBBPF_SYS_EXTRA_CFLAGS, which would
# rebuild libbpf for one arch after each build for the other. (libbpf's own make runs the host
# `ar`, whose generic ELF support indexes arm64 objects too.)
#
# Link a non-PIE static executable (no dynamic relocations to carry: ~45 KiB) with the
# toolchain's own lld (rust-lld, behind its gcc-ld wrapper), which folds identical functions
# (--icf=all; Rust promises nothing about function address identity): ~18 KiB of monomorphized
# copies. Without rust-lld the system linker does the rest.
gcc_ld="$(rustc "${toolchain[@]}" --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/gcc-ld"
rust_flags="${rust_flags:-} -C relocation-model=static"
if [ -x "$gcc_ld/ld.lld" ]; then
    rust_flags="$rust_flags -C link-arg=-fuse-ld=lld -C link-arg=-B$gcc_ld -C link-arg=-Wl,--icf=all"
fi
export "CC_$rust_target_env=$cc" \
    "CFLAGS_$rust_target_env=$c_flags -I$prefix/include -idirafter $prefix/kernel-headers" \
    "LIBBPF_SYS_LIBRARY_PATH_$rust_target_env=$prefix/lib" \
    "CARGO_TARGET_${rust_target_env^^}_RUSTFLAGS=$rust_flags"
cargo_build "$rust_target" "$@"
