// SPDX-License-Identifier: GPL-2.0
/* opensnoop: every openat() with its file name, flags and result (fd or -errno). */
#include "vmlinux.h"
#include <coreship.h>
#include "opensnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* What sys_enter saw, kept per thread until sys_exit gives the result. */
struct open_args {
	const char *filename;
	__s32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct open_args);
} start SEC(".maps");

CORESHIP_EVENTS(events, struct open_event, 256 * 1024);

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args args = {
		.filename = (const char *)ctx->args[1],
		.flags = (__s32)ctx->args[2],
	};

	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct open_args *args;
	struct open_event *e;

	args = bpf_map_lookup_elem(&start, &tid);
	if (!args)
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->ts = bpf_ktime_get_ns();
		e->pid = pid_tgid >> 32;
		e->tid = tid;
		e->uid = (__u32)bpf_get_current_uid_gid();
		e->ret = (__s32)ctx->ret;
		e->flags = args->flags;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		bpf_probe_read_user_str(&e->filename, sizeof(e->filename), args->filename);
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&start, &tid);
	return 0;
}
