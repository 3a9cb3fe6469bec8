// SPDX-License-Identifier: GPL-2.0
/*
 * Groups of alternatives (coreship.h's `BASE__KIND` convention) whose last alternative is a
 * tracepoint, so the fallback itself can be tested on a kernel without trampolines or
 * kprobes: sleep_enter falls back when its fentry fails to load, sleep_exit when its
 * kretprobe fails to attach. `hits` counts which alternative ran. Used by tests.
 */
#include "vmlinux.h"
#include <coreship.h>

char LICENSE[] SEC("license") = "GPL";

CORESHIP_COUNTER(hits, __u32, 16);

static __always_inline void hit(__u32 which)
{
	coreship_count(hits, &which);
}

SEC("fentry/do_nanosleep")
int BPF_PROG(sleep_enter__fentry)
{
	hit(1);
	return 0;
}

SEC("tp/syscalls/sys_enter_nanosleep")
int sleep_enter__tp(void *ctx)
{
	hit(2);
	return 0;
}

SEC("kretprobe/do_nanosleep")
int BPF_KRETPROBE(sleep_exit__kretprobe)
{
	hit(3);
	return 0;
}

SEC("tp/syscalls/sys_exit_nanosleep")
int sleep_exit__tp(void *ctx)
{
	hit(4);
	return 0;
}
