// SPDX-License-Identifier: GPL-2.0
/* execsnoop: every successful exec, with its parent, user, command and file. */
#include "vmlinux.h"
#include <coreship.h>
#include "execsnoop.h"

char LICENSE[] SEC("license") = "GPL";

CORESHIP_EVENTS(events, struct exec_event, 256 * 1024);

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exec_event *e;
	unsigned int fname_off;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;

	e->ts = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	/* CO-RE: real_parent's offset differs between kernels; libbpf relocates it at load. */
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	/* __data_loc: the low 16 bits are the offset of the string within the record. */
	fname_off = ctx->__data_loc_filename & 0xFFFF;
	bpf_probe_read_str(&e->filename, sizeof(e->filename), (void *)ctx + fname_off);

	bpf_ringbuf_submit(e, 0);
	return 0;
}
