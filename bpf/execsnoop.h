/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __EXECSNOOP_H
#define __EXECSNOOP_H

#define EXECSNOOP_COMM_LEN 16
#define EXECSNOOP_FILENAME_LEN 256

/* One exec, as the loader prints it. */
struct exec_event {
	__u64 ts;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	char comm[EXECSNOOP_COMM_LEN];
	char filename[EXECSNOOP_FILENAME_LEN];
};

#endif /* __EXECSNOOP_H */
