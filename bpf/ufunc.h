/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __UFUNC_H
#define __UFUNC_H

/* Bytes kept of each argument read as a string, NUL included. */
#define UFUNC_STR_LEN 64

/* One completed call of a traced user function. */
struct ufunc_call {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	char comm[16];
	__u64 latency_ns;
	__s64 ret;
	__u64 arg1;
	__u64 arg2;
	__u64 arg3;
	__u64 arg4;
	__u64 arg5;
	__u64 arg6;
	__u64 ip;
	char str_a[UFUNC_STR_LEN];
	char str_b[UFUNC_STR_LEN];
};

#endif /* __UFUNC_H */
