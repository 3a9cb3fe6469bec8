/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __OPENSNOOP_H
#define __OPENSNOOP_H

#define OPENSNOOP_COMM_LEN 16
#define OPENSNOOP_PATH_LEN 256

/* One openat() call, printed when it returns. */
struct open_event {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;
	__s32 flags;
	char comm[OPENSNOOP_COMM_LEN];
	char filename[OPENSNOOP_PATH_LEN];
};

#endif /* __OPENSNOOP_H */
