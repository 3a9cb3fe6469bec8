// SPDX-License-Identifier: GPL-2.0
/*
 * loopstall: event-loop stalls. An event loop (asyncio, libuv, tokio, nginx, ...) returns to
 * epoll between callbacks; a callback that blocks (time.sleep() in a coroutine) keeps every
 * other task of the loop waiting. For each thread, the time from the return of an epoll wait
 * to the next call into one is recorded in microseconds, in a log2 histogram per process and
 * thread name, and stalls of at least min_stall_us are also printed as events.
 *
 * Which syscalls an event loop waits with depends on the arch: x86_64 has epoll_wait,
 * epoll_pwait and epoll_pwait2; arm64, like every arch with the generic syscall table
 * (include/uapi/asm-generic/unistd.h), has no epoll_wait and libc implements it with
 * epoll_pwait. Each arch's object attaches only to the tracepoints its kernel can have.
 */
#include "vmlinux.h"
#include <coreship.h>
#include "loopstall.h"

char LICENSE[] SEC("license") = "GPL";

/* Stalls at least this long are printed as events (0: histogram only). */
const volatile __u64 min_stall_us = 100000;
/* Only this process (0: every process). */
const volatile __u32 targ_pid = 0;

/* When a thread last returned from an epoll wait. */
struct last_return {
	__u64 ts;
	__u32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct last_return);
} returns SEC(".maps");

CORESHIP_HIST_KEYED(stall_us, struct loopstall_key, 1024);
CORESHIP_EVENTS(stalls, struct loopstall_event, 256 * 1024);

static __always_inline int wait_returned(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct last_return r = {
		.ts = bpf_ktime_get_ns(),
		.pid = pid_tgid >> 32,
	};
	__u32 tid = (__u32)pid_tgid;

	if (targ_pid && r.pid != targ_pid)
		return 0;
	bpf_map_update_elem(&returns, &tid, &r, BPF_ANY);
	return 0;
}

static __always_inline int wait_entered(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct loopstall_key key = {};
	struct loopstall_event *e;
	__u32 tid = (__u32)pid_tgid;
	struct last_return *r;
	__u64 us;

	r = bpf_map_lookup_elem(&returns, &tid);
	if (!r)
		return 0;
	key.pid = pid_tgid >> 32;
	/* A reused thread id of another process: not this thread's return. */
	if (r->pid != key.pid)
		goto forget;
	us = (bpf_ktime_get_ns() - r->ts) / 1000;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	coreship_hist_add_keyed(stall_us, key, us);

	if (min_stall_us && us >= min_stall_us) {
		e = bpf_ringbuf_reserve(&stalls, sizeof(*e), 0);
		if (e) {
			e->ts = r->ts;
			e->pid = key.pid;
			e->tid = tid;
			e->stall_us = us;
			__builtin_memcpy(e->comm, key.comm, sizeof(e->comm));
			bpf_ringbuf_submit(e, 0);
		}
	}
forget:
	bpf_map_delete_elem(&returns, &tid);
	return 0;
}

#if defined(__TARGET_ARCH_x86)
SEC("tp/syscalls/sys_exit_epoll_wait")
int exit_epoll_wait(void *ctx)
{
	return wait_returned();
}

SEC("tp/syscalls/sys_enter_epoll_wait")
int enter_epoll_wait(void *ctx)
{
	return wait_entered();
}
#endif

SEC("tp/syscalls/sys_exit_epoll_pwait")
int exit_epoll_pwait(void *ctx)
{
	return wait_returned();
}

SEC("tp/syscalls/sys_enter_epoll_pwait")
int enter_epoll_pwait(void *ctx)
{
	return wait_entered();
}

/*
 * Linux 5.11 and later (b0a0c2615f6f "epoll: wire up syscall epoll_pwait2"): optional, so
 * older kernels run the rest.
 */
SEC("tp/syscalls/sys_exit_epoll_pwait2")
int exit_epoll_pwait2__optional(void *ctx)
{
	return wait_returned();
}

SEC("tp/syscalls/sys_enter_epoll_pwait2")
int enter_epoll_pwait2__optional(void *ctx)
{
	return wait_entered();
}

/* A thread that ends forgets its last return, so a later thread with its id starts afresh. */
SEC("tp/sched/sched_process_exit")
int thread_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&returns, &tid);
	return 0;
}
