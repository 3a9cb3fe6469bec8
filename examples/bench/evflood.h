/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __EVFLOOD_H
#define __EVFLOOD_H

#define EVFLOOD_COMM_LEN 16

/* One getppid() call of the traced process, as the loader prints it. */
struct flood_event {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	char comm[EVFLOOD_COMM_LEN];
};

#endif /* __EVFLOOD_H */
