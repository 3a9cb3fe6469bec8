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
#
# Extra arguments go to `cargo build`. Prints the binary's path on the last line of stdout.
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
# Needs root for apt-get when musl-tools/dpkg-dev are missing. Everything built lands in
# $CARGO_TARGET_DIR/static-deps (or target/static-deps) and is reused.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
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

# --build-std: rebuild std for size with the nightly toolchain $CORESHIP_NIGHTLY (default: a pinned
# nightly, installed when missing; unstable flags change between nightlies): panics abort at once, so std's backtrace printer (gimli, addr2line,
# miniz_oxide, ~210 KiB of code) and every unwind table go. Unstable flags: opt-in only.
toolchain=()
build_std=()
if [ "${1:-}" = "--build-std" ]; then
    shift
    nightly="${CORESHIP_NIGHTLY:-nightly-2026-05-20}"
    rustup run "$nightly" rustc -V >/dev/null 2>&1 || {
        log "installing the $nightly toolchain (for -Z build-std)"
        rustup toolchain install "$nightly" --profile minimal >&2
    }
    rustup component list --toolchain "$nightly" --installed | grep -q '^rust-src' ||
        rustup component add rust-src --toolchain "$nightly" >&2
    rustup target list --toolchain "$nightly" --installed | grep -qx "$rust_target" ||
        rustup target add "$rust_target" --toolchain "$nightly" >&2
    toolchain=("+$nightly")
    build_std=(-Z build-std=std,panic_abort -Z build-std-features=optimize_for_size)
    rust_flags="-Z unstable-options -C panic=immediate-abort -C force-unwind-tables=no"
fi

# Link a non-PIE static executable (no dynamic relocations to carry: ~45 KiB) with the
# toolchain's own lld (rust-lld, behind its gcc-ld wrapper), which folds identical functions
# (--icf=all; Rust promises nothing about function address identity): ~18 KiB of monomorphized
# copies. Without rust-lld the system linker does the rest.
gcc_ld="$(rustc "${toolchain[@]}" --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/gcc-ld"
rust_flags="${rust_flags:-} -C relocation-model=static"
if [ -x "$gcc_ld/ld.lld" ]; then
    rust_flags="$rust_flags -C link-arg=-fuse-ld=lld -C link-arg=-B$gcc_ld -C link-arg=-Wl,--icf=all"
fi

cargo_build() {
    local target="$1"
    shift
    cargo "${toolchain[@]}" build "${build_std[@]}" --locked -j "$jobs" --profile loader-release -p coreship-loader --bin coreship-load \
        --target "$target" --features static "$@" >&2
    echo "$target_dir/$target/loader-release/coreship-load"
}

apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

if [ "${1:-}" = "--glibc" ]; then
    shift
    [ "$arch" = x86_64 ] || { log "--glibc builds for x86_64 only"; exit 1; }
    apt_install libelf-dev zlib1g-dev pkg-config make gcc
    RUSTFLAGS="-C target-feature=+crt-static" LIBBPF_SYS_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu \
        cargo_build x86_64-unknown-linux-gnu "$@"
    exit
fi

apt_install dpkg-dev make gcc xz-utils bzip2
deps="$target_dir/static-deps/$arch-linux-musl"
prefix="$deps/prefix"
if [ "$arch" = x86_64 ]; then
    apt_install musl-tools
    cc=musl-gcc
    cross=()
    asm_headers="/usr/include/$(gcc -dumpmachine)/asm"
else
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        log "adding dpkg architecture arm64 (for musl-dev:arm64)"
        dpkg --add-architecture arm64
        apt-get update -qq
    fi
    apt_install gcc-aarch64-linux-gnu musl-dev:arm64 linux-libc-dev-arm64-cross
    # musl-gcc for arm64: the cross gcc with arm64 musl's specs file.
    mkdir -p "$prefix/bin"
    cc="$prefix/bin/aarch64-linux-musl-gcc"
    printf '#!/bin/sh\nexec aarch64-linux-gnu-gcc "$@" -specs /usr/lib/aarch64-linux-musl/musl-gcc.specs\n' >"$cc"
    chmod +x "$cc"
    cross=(AR=aarch64-linux-gnu-ar RANLIB=aarch64-linux-gnu-ranlib)
    asm_headers=/usr/aarch64-linux-gnu/include/asm
    # gcc calls libgcc's __aarch64_ldadd4_sync & co. for atomics by default; Rust's musl link
    # has no libgcc: inline LSE/LL-SC sequences instead.
    c_flags="$c_flags -mno-outline-atomics"
    export "CARGO_TARGET_${rust_target_env^^}_LINKER=aarch64-linux-gnu-gcc"
    export "AR_$rust_target_env=aarch64-linux-gnu-ar"
fi
rustup target list --installed | grep -qx "$rust_target" || rustup target add "$rust_target" >&2

stamp="$prefix/.built-from"
want="$elfutils_deb $zlib_deb $c_flags"

if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$deps/apt" "$deps/src" "$deps/build" "$prefix/lib" "$prefix/include" "$prefix/kernel-headers"
    mkdir -p "$deps/apt/lists/partial" "$deps/apt/cache/archives/partial" "$deps/src" "$prefix"

    # deb-src for the host's own Debian release and mirror, in a private apt state directory.
    . /etc/os-release
    mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)"
    cat >"$deps/apt/sources.list" <<EOF
deb-src ${mirror:-http://deb.debian.org/debian} ${VERSION_CODENAME:-bookworm} main
EOF
    apt=(apt-get -qq -o "Dir::Etc::SourceList=$deps/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
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
    echo "$want" >"$stamp"
fi

# libbpf-sys compiles its vendored libbpf with the target's C compiler (musl-gcc) and links
# libelf.a/libz.a from LIBBPF_SYS_LIBRARY_PATH (feature `static`). Target-scoped variables, so
# host build scripts (and a glibc build in the same target dir) are unaffected; the include
# paths go there too and not in libbpf-sys's unscoped LIBBPF_SYS_EXTRA_CFLAGS, which would
# rebuild libbpf for one arch after each build for the other. (libbpf's own make runs the host
# `ar`, whose generic ELF support indexes arm64 objects too.)
export "CC_$rust_target_env=$cc" \
    "CFLAGS_$rust_target_env=$c_flags -I$prefix/include -idirafter $prefix/kernel-headers" \
    "LIBBPF_SYS_LIBRARY_PATH_$rust_target_env=$prefix/lib" \
    "CARGO_TARGET_${rust_target_env^^}_RUSTFLAGS=$rust_flags"
cargo_build "$rust_target" "$@"
