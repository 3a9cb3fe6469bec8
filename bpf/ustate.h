/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __USTATE_H
#define __USTATE_H

/* One completed call of the traced user function. */
struct call_event {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u64 latency_ns;
	__u64 ip;
};

#endif /* __USTATE_H */
