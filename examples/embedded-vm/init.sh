#!/bin/sh
# /init of the embedded-vm guest (busybox sh). Mounts what BPF needs, brings up qemu's user
# network, then for each probe on the kernel command line pulls it from the host's registry,
# runs it with --duration while the workload runs once, prints its output between markers on the
# console, and powers off. Command line (set by `vm.sh boot`):
#   coreship.registry=10.0.2.2:PORT/REPO   where the probes were pushed (qemu's host address)
#   coreship.probes=NAME:TAG,…            run in this order
#   coreship.duration=3s                   each probe's --duration, an upper bound: the probe is
#                                          stopped (SIGINT) once the workload has run
#   coreship.format=json                   the loader's --format (json or text)
#   coreship.trust=BASE64                  a minisign public key (its base64 line): every probe
#                                          must be signed by it (--trust)
# Markers, each alone on a line: `@@ coreship-vm: up …`, `@@ coreship-vm: begin NAME`,
# `@@ stdout`, `@@ stderr`, `@@ workload`, `@@ coreship-vm: end NAME rc=N SECONDS`,
# `@@ coreship-vm: done SECONDS`.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mkdir -p /tmp

uptime() { cut -d' ' -f1 /proc/uptime; }
poweroff_now() {
	echo o >/proc/sysrq-trigger
	sleep 30
}

registry=
probes=
duration=3s
format=json
trust=
for word in $(cat /proc/cmdline); do
	case "$word" in
	coreship.registry=*) registry="${word#*=}" ;;
	coreship.probes=*) probes="${word#*=}" ;;
	coreship.duration=*) duration="${word#*=}" ;;
	coreship.format=*) format="${word#*=}" ;;
	coreship.trust=*) trust="${word#*=}" ;;
	esac
done
trust_args=
if [ -n "$trust" ]; then
	printf 'untrusted comment: key from the kernel command line\n%s\n' "$trust" >/tmp/trust.pub
	trust_args="--trust /tmp/trust.pub"
fi

# virtio-net (a module in Debian's cloud kernels), then qemu user networking: this guest is
# 10.0.2.15, the host (its 127.0.0.1) is 10.0.2.2.
for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m"
done
ip link set lo up
ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && ip route add default via 10.0.2.2
echo "@@ coreship-vm: up $(uptime)s $(uname -m) $(uname -r)"

# Per-probe arguments: the uprobe probes trace the workload's exported function.
args_for() {
	case "$1" in
	ustate | ufunc) echo "--uprobe /bin/coreship-workload:coreship_workload_step" ;;
	# Shipped minimal BTF instead of the kernel's (as on a kernel built without BTF).
	*-minbtf) echo "--ignore-kernel-btf" ;;
	esac
}

export CORESHIP_CACHE_DIR=/tmp/coreship-cache
for ref in $(echo "$probes" | tr ',' ' '); do
	name="${ref%%[:@]*}"
	echo "@@ coreship-vm: begin $name"
	start=$(uptime)
	# Fresh files: the wait below must not see the previous probe's "attached".
	rm -f /tmp/out /tmp/err /tmp/work
	# shellcheck disable=SC2046 # args_for's words are separate arguments
	coreship-load run "$registry/$ref" --insecure --duration "$duration" --format "$format" \
		$trust_args $(args_for "$name") >/tmp/out 2>/tmp/err &
	loader=$!
	# Wait (at most 60 s) until it attached, or exited.
	i=0
	while ! grep -qs ': attached ' /tmp/err && kill -0 "$loader" 2>/dev/null && [ $i -lt 600 ]; do
		usleep 100000
		i=$((i + 1))
	done
	coreship-workload >/tmp/work 2>&1
	# Stop it as soon as the workload is done (it drains its buffers first): a guest slowed by
	# a busy host must not see --duration run out before the workload ran.
	kill -INT "$loader" 2>/dev/null
	wait "$loader"
	rc=$?
	echo "@@ workload"
	cat /tmp/work
	echo "@@ stdout"
	cat /tmp/out
	echo "@@ stderr"
	cat /tmp/err
	echo "@@ coreship-vm: end $name rc=$rc $start-$(uptime)s"
done
echo "@@ coreship-vm: done $(uptime)s"
poweroff_now
