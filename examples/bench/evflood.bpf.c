// SPDX-License-Identifier: GPL-2.0
/*
 * evflood: the event-path benchmark's probe. One ring-buffer record per getppid() of one
 * process (set target_tgid), which examples/bench/loadgen.c calls in a tight loop: the
 * loader's decode and print cost dominates, and a drop shows as calls minus records.
 */
#include "vmlinux.h"
#include <coreship.h>
#include "evflood.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;

/* 16 MiB: bursts while the reader is descheduled on a busy 2-core machine fit. */
CORESHIP_EVENTS(events, struct flood_event, 16 * 1024 * 1024);

SEC("tp/syscalls/sys_enter_getppid")
int handle_getppid(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct flood_event *e;

	if (target_tgid && (pid_tgid >> 32) != target_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->ts = bpf_ktime_get_ns();
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
