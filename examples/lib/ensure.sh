# Sourced by examples/setup-host.sh, loader/build-static.sh, fuzz/run.sh and
# examples/embedded-vm/vm.sh: the one place that knows how the project's tools are installed.
#
# Each ensure_* function returns at once when its thing is present. Otherwise:
# - with CORESHIP_NO_INSTALL=1 (tests set it for every script they run; .ci/run exports it once
#   setup is done) it prints one line naming what is missing and the command that installs it,
#   and exits 1: nothing installs while tests run in parallel;
# - without it (a script run by hand) it installs under a lock, so two scripts started at the
#   same moment wait for each other instead of corrupting rustup's or apt's state (two
#   `rustup target add` on one toolchain at once leave it broken).

# The nightly toolchain the project pins (-Z build-std for the smallest loader, cargo-fuzz).
# Unstable flags move between nightlies: the pin is the toolchain the scripts were written for.
: "${CORESHIP_NIGHTLY:=nightly-2026-05-20}"
# cargo-fuzz, pinned like everything else CI installs.
: "${CORESHIP_CARGO_FUZZ_VERSION:=0.13.2}"

coreship_setup_hint="examples/setup-host.sh --tests"

# Fails (exit 1) naming what is missing, when installing is not allowed here.
# $1: what is missing, as a user would look for it.
ensure_may_install() {
    if [ "${CORESHIP_NO_INSTALL:-0}" = 1 ]; then
        echo "${0##*/}: $1 is missing: run $coreship_setup_hint first (CORESHIP_NO_INSTALL=1: nothing is installed while tests run)" >&2
        exit 1
    fi
}

# Runs "$@" holding an exclusive flock on file $1 (waits for the holder; the lock goes with the
# process however it ends).
with_lock() {
    local lock="$1"
    shift
    mkdir -p "$(dirname "$lock")"
    (
        flock 9
        "$@"
    ) 9>>"$lock"
}

# rustup and `cargo install` state is per RUSTUP_HOME/CARGO_HOME: the lock lives there.
rust_lock() { echo "${RUSTUP_HOME:-$HOME/.rustup}/coreship-install.lock"; }
# apt and dpkg are machine-wide and need root: a lock in root's /run.
apt_lock=/run/coreship-apt.lock

apt_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# ensure_apt PKG…: Debian packages.
ensure_apt() {
    local missing=() p
    for p in "$@"; do apt_installed "$p" || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && return
    ensure_may_install "Debian package(s) ${missing[*]}"
    with_lock "$apt_lock" apt_install_locked "${missing[@]}"
}

apt_install_locked() {
    local missing=() p
    for p in "$@"; do apt_installed "$p" || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && return
    echo "${0##*/}: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_dpkg_arch ARCH: apt lists packages of a foreign Debian architecture (arm64, …).
ensure_dpkg_arch() {
    dpkg --print-foreign-architectures | grep -qx "$1" && return
    ensure_may_install "dpkg architecture $1 (dpkg --add-architecture $1)"
    with_lock "$apt_lock" dpkg_arch_add_locked "$1"
}

dpkg_arch_add_locked() {
    dpkg --print-foreign-architectures | grep -qx "$1" && return
    echo "${0##*/}: adding dpkg architecture $1" >&2
    dpkg --add-architecture "$1"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
}

# ensure_toolchain TOOLCHAIN [COMPONENT…]: a rustup toolchain (minimal profile) and components.
ensure_toolchain() {
    local toolchain="$1"
    shift
    toolchain_complete "$toolchain" "$@" && return
    ensure_may_install "the $toolchain toolchain${*:+ with $*}"
    with_lock "$(rust_lock)" toolchain_install_locked "$toolchain" "$@"
}

toolchain_complete() {
    local toolchain="$1" c installed
    shift
    rustup run "$toolchain" rustc -V >/dev/null 2>&1 || return 1
    installed="$(rustup component list --toolchain "$toolchain" --installed 2>/dev/null)" || return 1
    for c in "$@"; do
        grep -q "^$c" <<<"$installed" || return 1
    done
}

toolchain_install_locked() {
    local toolchain="$1" c
    shift
    if ! rustup run "$toolchain" rustc -V >/dev/null 2>&1; then
        echo "${0##*/}: installing the $toolchain toolchain" >&2
        rustup toolchain install "$toolchain" --profile minimal >&2
    fi
    for c in "$@"; do
        rustup component list --toolchain "$toolchain" --installed | grep -q "^$c" ||
            rustup component add "$c" --toolchain "$toolchain" >&2
    done
}

# ensure_rust_target TOOLCHAIN TARGET: rust-std for TARGET ("default": the toolchain cargo uses
# in this checkout).
ensure_rust_target() {
    rust_target_installed "$1" "$2" && return
    ensure_may_install "the Rust target $2 (toolchain $(toolchain_name "$1"))"
    with_lock "$(rust_lock)" rust_target_add_locked "$1" "$2"
}

toolchain_name() {
    if [ "$1" = default ]; then
        rustup show active-toolchain | cut -d' ' -f1
    else
        echo "$1"
    fi
}

rust_target_installed() {
    rustup target list --toolchain "$(toolchain_name "$1")" --installed 2>/dev/null | grep -qx "$2"
}

rust_target_add_locked() {
    rust_target_installed "$1" "$2" && return
    echo "${0##*/}: adding the Rust target $2" >&2
    rustup target add --toolchain "$(toolchain_name "$1")" "$2" >&2
}

# ensure_cargo_fuzz: cargo-fuzz at the pinned version, in CARGO_HOME/bin.
ensure_cargo_fuzz() {
    cargo_fuzz_current && return
    ensure_may_install "cargo-fuzz $CORESHIP_CARGO_FUZZ_VERSION"
    with_lock "$(rust_lock)" cargo_fuzz_install_locked
}

cargo_fuzz_current() {
    [ "$(cargo fuzz --version 2>/dev/null)" = "cargo-fuzz $CORESHIP_CARGO_FUZZ_VERSION" ]
}

cargo_fuzz_install_locked() {
    cargo_fuzz_current && return
    echo "${0##*/}: installing cargo-fuzz $CORESHIP_CARGO_FUZZ_VERSION" >&2
    cargo install cargo-fuzz --version "$CORESHIP_CARGO_FUZZ_VERSION" --locked --quiet >&2
}
