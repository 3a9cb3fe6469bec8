// SPDX-License-Identifier: GPL-2.0
/* hello: system calls per command (comm), counted per CPU and summed by the loader. */
#include "vmlinux.h"
#include <coreship.h>

struct hello_key {
	char comm[16];
};

char LICENSE[] SEC("license") = "GPL";

CORESHIP_COUNTER(syscalls, struct hello_key, 10240);

SEC("tp/raw_syscalls/sys_enter")
int count_syscall(void *ctx)
{
	struct hello_key key = {};

	bpf_get_current_comm(key.comm, sizeof(key.comm));
	coreship_count(syscalls, &key);
	return 0;
}
