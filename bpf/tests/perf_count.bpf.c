// SPDX-License-Identifier: GPL-2.0
/* Counts perf_event samples per CPU: proves sampling attach on every online CPU. */
#include "vmlinux.h"
#include <coreship.h>

char LICENSE[] SEC("license") = "GPL";

struct cpu_key {
	__u32 cpu;
};

CORESHIP_COUNTER(samples, struct cpu_key, 1024);

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	struct cpu_key key = { .cpu = bpf_get_smp_processor_id() };

	coreship_count(samples, &key);
	return 0;
}
