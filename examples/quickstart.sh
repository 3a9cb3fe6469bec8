#!/usr/bin/env bash
# The main job, end to end on this machine: set the host up, build the tools, build the
# probes declared in Cargo.toml, start coreship-registry on 127.0.0.1, push bpf/execsnoop to
# it signed with a fresh key, and run it from the registry with coreship-load --trust,
# watching live exec events for 10 s while a few processes start. Run as root from a checkout.
set -euo pipefail
cd -P "$(dirname "$0")/.."

examples/setup-host.sh

echo "== building coreship, coreship-registry and coreship-load"
cargo build --release --locked -p coreship-builder -p coreship-registry -p coreship-loader --bins
bin=target/release

echo "== building the probes declared in Cargo.toml (x86_64 and aarch64)"
$bin/coreship build

work=$(mktemp -d /tmp/coreship-quickstart.XXXXXX)
registry_pid=
cleanup() {
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# CORESHIP_QUICKSTART_PORT=0: any free port (the tests run this script beside other servers).
port=${CORESHIP_QUICKSTART_PORT:-5000}
echo "== starting coreship-registry on 127.0.0.1:$port (store in $work/store)"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/tokens.txt"
$bin/coreship-registry serve --root "$work/store" --listen "127.0.0.1:$port" \
    --push-token-file "$work/tokens.txt" 2>"$work/registry.log" &
registry_pid=$!
# Its first line: "coreship-registry: listening on http://127.0.0.1:PORT (root DIR, …)".
listening=
for _ in $(seq 100); do
    listening="$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/registry.log")"
    [ -n "$listening" ] && break
    kill -0 "$registry_pid" 2>/dev/null || break
    sleep 0.1
done
cat "$work/registry.log"
if [ -z "$listening" ]; then
    echo "quickstart.sh: coreship-registry did not start listening on 127.0.0.1:$port (its log is above)" >&2
    exit 1
fi
port=$listening

echo "== making a signing key and pushing execsnoop, signed"
$bin/coreship keygen -o "$work/release.key"
CORESHIP_REGISTRY_TOKEN=$(cat "$work/tokens.txt") \
    $bin/coreship push execsnoop "localhost:$port/probes/execsnoop:0.1.0" --sign "$work/release.key"

echo "== running execsnoop from the registry for 10 s (a few commands start in the background)"
(
    sleep 2
    for cmd in "uname -r" "id -u" "ls /" "date" "true"; do
        $cmd >/dev/null
        sleep 1
    done
) &
workload_pid=$!
CORESHIP_CACHE_DIR="$work/cache" \
    $bin/coreship-load run "localhost:$port/probes/execsnoop:0.1.0" --trust "$work/release.pub" --duration 10s
wait "$workload_pid" || true
echo "== the registry's page: http://127.0.0.1:$port/ (stopped now; run coreship-registry serve to keep one)"
