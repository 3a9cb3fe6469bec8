// SPDX-License-Identifier: GPL-2.0
/* A program the verifier must reject: it dereferences an unchecked scalar. Used by tests. */
#include "vmlinux.h"
#include <coreship.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp/syscalls/sys_enter_getpid")
int reject_me(void *ctx)
{
	int *p = (int *)(long)bpf_get_prandom_u32();

	return *p;
}
