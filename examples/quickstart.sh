#!/usr/bin/env bash
# The main job, end to end on this machine: set the host up, build the tools, build the
# probes declared in Cargo.toml, and watch live exec events from bpf/execsnoop for 10 s
# while a few processes start. Run as root from a checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

examples/setup-host.sh

echo "== building coreship and coreship-load"
cargo build --release --locked -p coreship-builder -p coreship-loader --bins

echo "== building the probes declared in Cargo.toml (x86_64 and aarch64)"
target/release/coreship build

echo "== running execsnoop for 10 s (a few commands start in the background)"
(
    sleep 2
    for cmd in "uname -r" "id -u" "ls /" "date" "true"; do
        $cmd >/dev/null
        sleep 1
    done
) &
target/release/coreship-load run target/coreship/execsnoop --duration 10s
wait
