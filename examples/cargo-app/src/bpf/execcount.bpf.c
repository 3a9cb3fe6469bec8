// SPDX-License-Identifier: GPL-2.0
/* execcount: counts successful execs per command name. */
#include "vmlinux.h"
#include <coreship.h>
#include "execcount.h"

char LICENSE[] SEC("license") = "GPL";

CORESHIP_COUNTER(execs, struct execcount_key, 10240);

SEC("tp/sched/sched_process_exec")
int count_exec(void *ctx)
{
	/* Zeroed: the whole key is hashed, bytes after the name's NUL included. */
	struct execcount_key key = {};

	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	coreship_count(execs, &key);
	return 0;
}
