/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __PROCSNOOP_H
#define __PROCSNOOP_H

#define PROCSNOOP_COMM_LEN 16
#define PROCSNOOP_FILENAME_LEN 256

/* What happened to the process; the loader prints the member's name. */
enum procsnoop_kind {
	FORK = 1,
	EXEC = 2,
	EXIT = 3,
};

/*
 * One step of a process's life. Members a kind does not use are zero: filename is set for
 * EXEC only; exit_code, exit_signal and duration_ns for EXIT only.
 */
struct procsnoop_event {
	__u64 ts;
	enum procsnoop_kind kind;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	/* exit(2) status (0-255), or 0 when killed by a signal. */
	__u32 exit_code;
	/* The signal that killed it, 0 for a normal exit. */
	__u32 exit_signal;
	/* From the fork (or, when the fork was not seen, task->start_time) to the exit. */
	__u64 duration_ns;
	char comm[PROCSNOOP_COMM_LEN];
	char filename[PROCSNOOP_FILENAME_LEN];
};

#endif /* __PROCSNOOP_H */
