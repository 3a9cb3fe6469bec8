// SPDX-License-Identifier: GPL-2.0
/*
 * A 64 MiB ring buffer: BPF map memory is charged to the loader's memory cgroup, so a small
 * memory limit refuses the map while the loader itself still fits. Names unique to this probe
 * (program bigring_exec, map bigring) let the memory pressure test find anything it leaked.
 */
#include "vmlinux.h"
#include <coreship.h>

char LICENSE[] SEC("license") = "GPL";

struct bigring_event {
	__u32 pid;
	char comm[16];
};

CORESHIP_EVENTS(bigring, struct bigring_event, 64 * 1024 * 1024);

SEC("tp/sched/sched_process_exec")
int bigring_exec(void *ctx)
{
	struct bigring_event *e;

	e = bpf_ringbuf_reserve(&bigring, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
