// SPDX-License-Identifier: GPL-2.0
/*
 * Programs of every kernel-function kind next to one tracepoint, for the "not available on
 * this kernel" reports: kprobes and fentry may be missing (CONFIG_KPROBES off, trampolines
 * refused) while tracepoints work. Used by tests.
 */
#include "vmlinux.h"
#include <coreship.h>

char LICENSE[] SEC("license") = "GPL";

CORESHIP_COUNTER(hits, __u32, 16);

static __always_inline void hit(__u32 which)
{
	coreship_count(hits, &which);
}

SEC("kprobe/do_nanosleep")
int BPF_KPROBE(on_kprobe)
{
	hit(1);
	return 0;
}

SEC("fentry/do_nanosleep")
int BPF_PROG(on_fentry)
{
	hit(2);
	return 0;
}

SEC("tp/syscalls/sys_enter_nanosleep")
int on_tracepoint(void *ctx)
{
	hit(3);
	return 0;
}
