/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BIOLATENCY_H
#define __BIOLATENCY_H

/* Key of the per-disk histogram: the disk's kernel dev_t, printed as its name (coreship.h). */
struct disk_key {
	__u32 dev;
};

#endif /* __BIOLATENCY_H */
