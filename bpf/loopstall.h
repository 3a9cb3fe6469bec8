/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __LOOPSTALL_H
#define __LOOPSTALL_H

#define LOOPSTALL_COMM_LEN 16

/* Histogram key: one event loop per process and thread name. */
struct loopstall_key {
	__u32 pid;
	char comm[LOOPSTALL_COMM_LEN];
};

/* One stall of at least min_stall_us: the thread was away from epoll for stall_us. */
struct loopstall_event {
	/* When the thread returned from epoll, i.e. when the stall began. */
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u64 stall_us;
	char comm[LOOPSTALL_COMM_LEN];
};

#endif /* __LOOPSTALL_H */
