/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __USDTARGS_H
#define __USDTARGS_H

#define USDTARGS_COMM_LEN 16
#define USDTARGS_STR_LEN 64

/* One hit of a USDT probe, with its first two arguments. */
struct usdt_event {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	char comm[USDTARGS_COMM_LEN];
	/* How many arguments the probe site has (-errno if libbpf could not tell). */
	__s32 argc;
	/* The first argument as a (sign-extended) integer. */
	__s64 arg0;
	/* The second argument read as a NUL-terminated user-space string. */
	char arg1_str[USDTARGS_STR_LEN];
};

#endif /* __USDTARGS_H */
