/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __KSLEEP_H
#define __KSLEEP_H

#define KSLEEP_COMM_LEN 16

/* One do_nanosleep() call, printed when it returns. Needs vmlinux.h (enum hrtimer_mode). */
struct ksleep_event {
	__u64 ts;		 /* entry, bpf_ktime_get_ns() */
	__u32 pid;
	__u32 tid;
	__u64 latency_ns;
	enum hrtimer_mode mode;	 /* printed by name: HRTIMER_MODE_REL, HRTIMER_MODE_ABS, … */
	__s32 ret;		 /* 0, or -ERESTART_RESTARTBLOCK when a signal interrupted it */
	char comm[KSLEEP_COMM_LEN];
};

#endif /* __KSLEEP_H */
