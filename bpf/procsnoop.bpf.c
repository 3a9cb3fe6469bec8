// SPDX-License-Identifier: GPL-2.0
/*
 * procsnoop: the life of every process - FORK (by whom), EXEC (of what), EXIT (with which
 * status, after how long). A multiprocessing.Pool's workers show up as FORK events from the
 * pool's process, then EXIT events with their exit codes and lifetimes.
 *
 * Kernel tracepoints only: task/task_newtask tells processes from threads (clone_flags),
 * sched/sched_process_fork, sched/sched_process_exec and sched/sched_process_exit emit the
 * events. task_struct members are read with CO-RE.
 */
#include "vmlinux.h"
#include <coreship.h>
#include "procsnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* include/uapi/linux/sched.h (macros, so not in vmlinux.h). */
#define CLONE_PARENT 0x00008000
#define CLONE_THREAD 0x00010000

/* A process seen at its birth. */
struct birth {
	__u64 ts;
	__u32 ppid;
};

/*
 * New processes (not threads) by pid, from task_newtask to their exit. LRU: processes that
 * outlive the loader's memory of them fall back to task->start_time.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct birth);
} births SEC(".maps");

CORESHIP_EVENTS(events, struct procsnoop_event, 512 * 1024);

static __always_inline struct procsnoop_event *reserve(enum procsnoop_kind kind, __u32 pid)
{
	struct procsnoop_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts = bpf_ktime_get_ns();
	e->kind = kind;
	e->pid = pid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/*
 * Called at the end of copy_process(), in the parent, once the child exists. The fork
 * tracepoint fires for new threads too and does not say which; clone_flags here does.
 */
SEC("tp/task/task_newtask")
int on_newtask(struct trace_event_raw_task_newtask *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 flags = ctx->clone_flags;
	struct birth b = {};
	__u32 pid = ctx->pid;

	if (flags & CLONE_THREAD)
		return 0;
	b.ts = bpf_ktime_get_ns();
	/* CLONE_PARENT makes the child a sibling of the caller. */
	if (flags & CLONE_PARENT)
		b.ppid = BPF_CORE_READ(task, real_parent, tgid);
	else
		b.ppid = bpf_get_current_pid_tgid() >> 32;
	bpf_map_update_elem(&births, &pid, &b, BPF_ANY);
	return 0;
}

/*
 * Fires in the parent after copy_process() and before the child first runs, so a child's
 * FORK always precedes its EXEC and EXIT in the ring buffer. The tracepoint's parent_pid is
 * the forking thread's id; the process id of the parent comes from task_newtask.
 */
SEC("tp/sched/sched_process_fork")
int on_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	__u32 child = ctx->child_pid;
	struct procsnoop_event *e;
	struct birth *b;

	b = bpf_map_lookup_elem(&births, &child);
	if (!b)
		return 0; /* a thread */
	e = reserve(FORK, child);
	if (!e)
		return 0;
	e->ppid = b->ppid;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned int fname_off;
	struct procsnoop_event *e;

	e = reserve(EXEC, bpf_get_current_pid_tgid() >> 32);
	if (!e)
		return 0;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	/* __data_loc: the low 16 bits are the offset of the string within the record. */
	fname_off = ctx->__data_loc_filename & 0xFFFF;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + fname_off);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Fires in do_exit() of every thread, after exit_code is set and before the parent is told. */
SEC("tp/sched/sched_process_exit")
int on_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	struct procsnoop_event *e;
	struct birth *b;
	__u64 start;
	int code;

	/* A thread; the process ends with its thread-group leader. */
	if (pid != (__u32)pid_tgid)
		return 0;
	e = reserve(EXIT, pid);
	if (!e)
		goto forget;
	b = bpf_map_lookup_elem(&births, &pid);
	/* Both are CLOCK_MONOTONIC nanoseconds, like bpf_ktime_get_ns(). */
	start = b ? b->ts : BPF_CORE_READ(task, start_time);
	e->duration_ns = e->ts - start;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	/* wait(2) status layout: exit status in bits 8-15, else the signal in bits 0-6. */
	code = BPF_CORE_READ(task, exit_code);
	e->exit_code = (code >> 8) & 0xff;
	e->exit_signal = code & 0x7f;
	bpf_ringbuf_submit(e, 0);
forget:
	bpf_map_delete_elem(&births, &pid);
	return 0;
}
