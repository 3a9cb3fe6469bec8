/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __PROFILE_H
#define __PROFILE_H

#define PROFILE_COMM_LEN 16

/*
 * One sampled stack pair of one process. The member names are coreship.h's stack-profile
 * convention: the loader turns kstack/ustack ids into symbolized frames.
 */
struct profile_key {
	__u32 pid;
	__s32 kstack;
	__s32 ustack;
	char comm[PROFILE_COMM_LEN];
};

#endif /* __PROFILE_H */
