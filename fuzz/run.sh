#!/usr/bin/env bash
# Fuzzes every target for SECONDS (default 60) each, one after another, starting from the
# committed corpus in fuzz/corpus/<target>/ (read only: new inputs go to a temp dir).
# Needs the pinned nightly and cargo-fuzz (`examples/setup-host.sh --tests`; run by hand, it
# installs them when missing, under examples/lib/ensure.sh's lock). Exits non-zero on the first
# crash, leak, timeout or out-of-memory, naming the reproducer.
#
#   fuzz/run.sh [SECONDS]
#   cargo +nightly-2026-05-20 fuzz run -a TARGET fuzz/artifacts/TARGET/crash-…   # replay one
set -euo pipefail
cd -P "$(dirname "$0")"
# shellcheck source=examples/lib/ensure.sh
. ../examples/lib/ensure.sh
secs=${1:-60}

# cargo-fuzz needs nightly (-Zsanitizer): the same pinned nightly as loader/build-static.sh
# --build-std ($CORESHIP_NIGHTLY overrides).
ensure_toolchain "$CORESHIP_NIGHTLY"
ensure_cargo_fuzz
cargo=(cargo "+$CORESHIP_NIGHTLY")

# -a: debug assertions and overflow checks on, as in tests.
flags=(-a)
targets=$("${cargo[@]}" fuzz list)
start=$(date +%s)
"${cargo[@]}" fuzz build "${flags[@]}"
echo "fuzz: built $(echo "$targets" | wc -w) targets in $(($(date +%s) - start)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in $targets; do
    mkdir -p "$work/$t" "corpus/$t" "artifacts/$t"
    echo "== fuzz $t (${secs} s)"
    # -rss_limit_mb also caps single allocations; -timeout is per input (30 s: the slowest
    # committed decoder input takes ~7 s of CPU under ASan, and a loaded 2-core machine
    # doubles that; a real hang still trips it).
    dict=()
    [ -f "dict/$t.dict" ] && dict=(-dict="dict/$t.dict")
    if ! "${cargo[@]}" fuzz run "${flags[@]}" "$t" "$work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 "${dict[@]}" \
        >"$work/$t.log" 2>&1; then
        tail -n 60 "$work/$t.log"
        echo "fuzz: $t failed; reproducer(s):" >&2
        ls -1 "$PWD/artifacts/$t"/* >&2 || true
        exit 1
    fi
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|cov: ' \
        "$work/$t.log" | tail -n 4
done
echo "fuzz: ${secs} s per target, no crash"
