// SPDX-License-Identifier: GPL-2.0
/*
 * profile: CPU sampling with kernel and user stacks, libbpf-tools' profile without its
 * user-space half. A perf_event program runs on every CPU at --freq Hz and counts
 * (pid, kernel stack, user stack, comm); the loader symbolizes the stacks on the target
 * and prints them, as folded stacks (--format folded) or as a flame graph (--flamegraph):
 *   coreship-load run target/coreship/profile --freq 99 --duration 10s --flamegraph cpu.svg
 */
#include "vmlinux.h"
#include <coreship.h>
#include "profile.h"

char LICENSE[] SEC("license") = "GPL";

/* Count samples of the idle task (pid 0) too. */
const volatile bool include_idle = false;

CORESHIP_STACKS(stacks, 16384);
CORESHIP_COUNTER(samples, struct profile_key, 16384);

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct profile_key key = {};

	if (!include_idle && (__u32)id == 0)
		return 0;
	key.pid = id >> 32;
	/* Negative when there is none: a sample in user mode has no kernel stack, a kernel
	 * thread no user stack; -EEXIST when the stack map's hash bucket is taken. */
	key.kstack = bpf_get_stackid(ctx, &stacks, 0);
	key.ustack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	coreship_count(samples, &key);
	return 0;
}
