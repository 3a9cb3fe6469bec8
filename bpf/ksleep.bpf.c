// SPDX-License-Identifier: GPL-2.0
/*
 * ksleep: every do_nanosleep() with its `mode` argument, its return value and its latency,
 * the seed's `perf probe 'do_nanosleep mode'` and `do_nanosleep%return $retval` done with a
 * prebuilt probe. Arguments come from BTF (fentry/fexit) or from registers through CO-RE
 * (kprobe/kretprobe): no per-kernel register knowledge and no debuginfo.
 *
 * Each probe point has two alternatives (coreship.h's `BASE__KIND` convention); the loader
 * uses fentry/fexit where the kernel allows BPF trampolines and kprobe/kretprobe otherwise.
 */
#include "vmlinux.h"
#include <coreship.h>
#include "ksleep.h"

char LICENSE[] SEC("license") = "GPL";

/* What the entry saw, kept per thread until the function returns. */
struct start {
	__u64 ts;
	enum hrtimer_mode mode;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

CORESHIP_EVENTS(sleeps, struct ksleep_event, 256 * 1024);
/* Latency per mode: an absolute sleep (clock_nanosleep TIMER_ABSTIME) apart from relative ones. */
CORESHIP_HIST_KEYED(latency_ns, enum hrtimer_mode, 16);

static __always_inline int enter(enum hrtimer_mode mode)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct start s = {
		.ts = bpf_ktime_get_ns(),
		.mode = mode,
	};

	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int leave(int ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct ksleep_event *e;
	struct start *s;
	__u64 delta;

	s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	delta = bpf_ktime_get_ns() - s->ts;
	coreship_hist_add_keyed(latency_ns, s->mode, delta);

	e = bpf_ringbuf_reserve(&sleeps, sizeof(*e), 0);
	if (e) {
		e->ts = s->ts;
		e->pid = pid_tgid >> 32;
		e->tid = tid;
		e->latency_ns = delta;
		e->mode = s->mode;
		e->ret = ret;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}

/* static int do_nanosleep(struct hrtimer_sleeper *t, enum hrtimer_mode mode) */

SEC("fentry/do_nanosleep")
int BPF_PROG(nanosleep_enter__fentry, struct hrtimer_sleeper *t, enum hrtimer_mode mode)
{
	return enter(mode);
}

SEC("kprobe/do_nanosleep")
int BPF_KPROBE(nanosleep_enter__kprobe, struct hrtimer_sleeper *t, enum hrtimer_mode mode)
{
	return enter(mode);
}

SEC("fexit/do_nanosleep")
int BPF_PROG(nanosleep_exit__fexit, struct hrtimer_sleeper *t, enum hrtimer_mode mode, int ret)
{
	return leave(ret);
}

SEC("kretprobe/do_nanosleep")
int BPF_KRETPROBE(nanosleep_exit__kretprobe, int ret)
{
	return leave(ret);
}
