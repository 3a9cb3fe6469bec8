// SPDX-License-Identifier: GPL-2.0
/*
 * Counts getppid() calls per process in a per-CPU counter: the loader must sum the CPUs and
 * lose nothing when threads on several CPUs hit the same key at once. Used by tests.
 */
#include "vmlinux.h"
#include <coreship.h>

char LICENSE[] SEC("license") = "GPL";

CORESHIP_COUNTER(calls, __u32, 1024);

SEC("tp/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	coreship_count(calls, &pid);
	return 0;
}
