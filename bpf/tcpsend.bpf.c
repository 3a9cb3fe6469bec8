// SPDX-License-Identifier: GPL-2.0
/*
 * tcpsend: every tcp_sendmsg() with its `size` argument and its result, and a log2
 * histogram of sizes, the seed's `perf probe tcp_sendmsg size` (0x30…0x70 bytes from sshd)
 * done with a prebuilt probe.
 *
 * Each probe point has two alternatives (coreship.h's `BASE__KIND` convention); the loader
 * uses fentry/fexit where the kernel allows BPF trampolines and kprobe/kretprobe otherwise.
 */
#include "vmlinux.h"
#include <coreship.h>
#include "tcpsend.h"

char LICENSE[] SEC("license") = "GPL";

/* What the entry saw, kept per thread until the function returns. */
struct start {
	__u64 ts;
	__u64 size;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

CORESHIP_EVENTS(sends, struct tcpsend_event, 256 * 1024);
CORESHIP_HIST(size_bytes);

static __always_inline int enter(__u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct start s = {
		.ts = bpf_ktime_get_ns(),
		.size = size,
	};

	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	coreship_hist_add(size_bytes, size);
	return 0;
}

static __always_inline int leave(int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct tcpsend_event *e;
	struct start *s;

	s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	e = bpf_ringbuf_reserve(&sends, sizeof(*e), 0);
	if (e) {
		e->ts = s->ts;
		e->pid = pid_tgid >> 32;
		e->tid = tid;
		e->size = s->size;
		e->ret = ret;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}

/* int tcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size) */

SEC("fentry/tcp_sendmsg")
int BPF_PROG(tcp_sendmsg_enter__fentry, struct sock *sk, struct msghdr *msg, size_t size)
{
	return enter(size);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcp_sendmsg_enter__kprobe, struct sock *sk, struct msghdr *msg, size_t size)
{
	return enter(size);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(tcp_sendmsg_exit__fexit, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	return leave(ret);
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(tcp_sendmsg_exit__kretprobe, int ret)
{
	return leave(ret);
}
