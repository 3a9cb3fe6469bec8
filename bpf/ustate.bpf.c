// SPDX-License-Identifier: GPL-2.0
/*
 * ustate: calls of a user-space function with per-call latency, the seed's
 * `perf probe -x a.out print_curr_state_one` done with a prebuilt probe.
 * The target is given at attach time:
 *   coreship-load run ustate.bpf.o --uprobe ./ustate-demo:print_curr_state_one
 */
#include "vmlinux.h"
#include <coreship.h>
#include "ustate.h"

char LICENSE[] SEC("license") = "GPL";

struct entry {
	__u64 ts;
	__u64 ip;
};

/* Entry time per thread; recursion is not tracked (the newest entry wins). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct entry);
} entries SEC(".maps");

CORESHIP_EVENTS(calls, struct call_event, 256 * 1024);
CORESHIP_HIST(latency_ns);

SEC("uprobe")
int BPF_UPROBE(ustate_enter)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct entry e = {
		.ts = bpf_ktime_get_ns(),
		.ip = PT_REGS_IP(ctx),
	};

	bpf_map_update_elem(&entries, &tid, &e, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(ustate_exit)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct entry *start;
	struct call_event *e;
	__u64 delta;

	start = bpf_map_lookup_elem(&entries, &tid);
	if (!start)
		return 0;
	delta = bpf_ktime_get_ns() - start->ts;
	coreship_hist_add(latency_ns, delta);

	e = bpf_ringbuf_reserve(&calls, sizeof(*e), 0);
	if (e) {
		e->ts = start->ts;
		e->pid = pid_tgid >> 32;
		e->tid = tid;
		e->latency_ns = delta;
		e->ip = start->ip;
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&entries, &tid);
	return 0;
}
