// SPDX-License-Identifier: GPL-2.0
/*
 * ufunc: calls of any user function with their first six arguments (as registers), up to two
 * of them read as strings, the return value and the latency, plus a log2 latency histogram:
 * the seed's `perf probe -x libc fopen filename:string mode:string` and `fopen%return`,
 * done with a prebuilt probe. The target and the string arguments are given at run time:
 *   coreship-load run target/coreship/ufunc --uprobe /lib/x86_64-linux-gnu/libc.so.6:fopen \
 *       --set str_arg_a=1 --set str_arg_b=2
 */
#include "vmlinux.h"
#include <coreship.h>
#include "ufunc.h"

char LICENSE[] SEC("license") = "GPL";

/* Options: 1-based indexes of the arguments to read as user strings (0: none). */
const volatile __u8 str_arg_a = 0;
const volatile __u8 str_arg_b = 0;

/* What the entry saw, kept per thread until the function returns (recursion: newest wins). */
struct entry {
	__u64 ts;
	__u64 ip;
	__u64 args[6];
	char str_a[UFUNC_STR_LEN];
	char str_b[UFUNC_STR_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct entry);
} entries SEC(".maps");

CORESHIP_EVENTS(calls, struct ufunc_call, 256 * 1024);
CORESHIP_HIST(latency_ns);

/* Reads argument N (1-based) as a user string into BUF when N names one of the six. */
static __always_inline void read_str_arg(char *buf, __u8 n, const __u64 *args)
{
	if (n >= 1 && n <= 6)
		bpf_probe_read_user_str(buf, UFUNC_STR_LEN, (const void *)args[n - 1]);
}

SEC("uprobe")
int BPF_UPROBE(ufunc_enter)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct entry e = {
		.ts = bpf_ktime_get_ns(),
		.ip = PT_REGS_IP(ctx),
		.args = {
			PT_REGS_PARM1(ctx),
			PT_REGS_PARM2(ctx),
			PT_REGS_PARM3(ctx),
			PT_REGS_PARM4(ctx),
			PT_REGS_PARM5(ctx),
			PT_REGS_PARM6(ctx),
		},
	};

	read_str_arg(e.str_a, str_arg_a, e.args);
	read_str_arg(e.str_b, str_arg_b, e.args);
	bpf_map_update_elem(&entries, &tid, &e, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(ufunc_exit)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct ufunc_call *c;
	struct entry *e;
	__u64 delta;

	e = bpf_map_lookup_elem(&entries, &tid);
	if (!e)
		return 0;
	delta = bpf_ktime_get_ns() - e->ts;
	coreship_hist_add(latency_ns, delta);

	c = bpf_ringbuf_reserve(&calls, sizeof(*c), 0);
	if (c) {
		c->ts = e->ts;
		c->pid = pid_tgid >> 32;
		c->tid = tid;
		bpf_get_current_comm(c->comm, sizeof(c->comm));
		c->latency_ns = delta;
		c->ret = (__s64)PT_REGS_RC(ctx);
		c->arg1 = e->args[0];
		c->arg2 = e->args[1];
		c->arg3 = e->args[2];
		c->arg4 = e->args[3];
		c->arg5 = e->args[4];
		c->arg6 = e->args[5];
		c->ip = e->ip;
		__builtin_memcpy(c->str_a, e->str_a, UFUNC_STR_LEN);
		__builtin_memcpy(c->str_b, e->str_b, UFUNC_STR_LEN);
		bpf_ringbuf_submit(c, 0);
	}
	bpf_map_delete_elem(&entries, &tid);
	return 0;
}
