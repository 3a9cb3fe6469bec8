// SPDX-License-Identifier: GPL-2.0
/*
 * A tracepoint every kernel has next to an `__optional` one no kernel has: the loader must
 * skip the optional one with a note and run the rest. Used by tests.
 */
#include "vmlinux.h"
#include <coreship.h>

char LICENSE[] SEC("license") = "GPL";

CORESHIP_COUNTER(hits, __u32, 16);

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 which = 1;

	coreship_count(hits, &which);
	return 0;
}

SEC("tp/syscalls/sys_enter_no_such_syscall")
int on_missing__optional(void *ctx)
{
	__u32 which = 2;

	coreship_count(hits, &which);
	return 0;
}
