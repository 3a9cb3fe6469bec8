/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __TCPSEND_H
#define __TCPSEND_H

#define TCPSEND_COMM_LEN 16

/* One tcp_sendmsg() call, printed when it returns. */
struct tcpsend_event {
	__u64 ts;	/* entry, bpf_ktime_get_ns() */
	__u32 pid;
	__u32 tid;
	__u64 size;	/* bytes the caller asked to send */
	__s64 ret;	/* bytes queued, or -errno */
	char comm[TCPSEND_COMM_LEN];
};

#endif /* __TCPSEND_H */
