// SPDX-License-Identifier: GPL-2.0
/*
 * biolatency: block I/O latency, from a request's issue to the device driver until its
 * completion, as a log2 histogram in microseconds (the seed's `biolatency`). With
 * `--set per_disk=1`, one histogram per disk (bcc's `biolatency -D`):
 *   coreship-load run target/coreship/biolatency --set per_disk=1 --interval 1s
 */
#include "vmlinux.h"
#include <coreship.h>
#include "core_fixes.bpf.h"
#include "biolatency.h"

char LICENSE[] SEC("license") = "GPL";

/* Options, set with `coreship-load run … --set NAME=VALUE`. */
const volatile bool per_disk = false;

/* A request in flight, named by its disk and first sector until it completes. */
struct rq_key {
	__u32 dev;
	__u32 unused;
	__u64 sector;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct rq_key);
	__type(value, __u64);
} issued SEC(".maps");

CORESHIP_HIST(usecs);
CORESHIP_HIST_KEYED(usecs_per_disk, struct disk_key, 256);

SEC("tracepoint/block/block_rq_issue")
int block_rq_issue(struct trace_event_raw_block_rq *ctx)
{
	struct rq_key key = {
		.dev = BPF_CORE_READ(ctx, dev),
		.sector = BPF_CORE_READ(ctx, sector),
	};
	__u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&issued, &key, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int block_rq_complete(void *ctx)
{
	struct rq_key key = {};
	__u64 *ts, delta_us;

	block_rq_complete_read(ctx, &key.dev, &key.sector);
	ts = bpf_map_lookup_elem(&issued, &key);
	if (!ts)
		return 0;
	delta_us = (bpf_ktime_get_ns() - *ts) / 1000;
	if (per_disk) {
		struct disk_key disk = { .dev = key.dev };

		coreship_hist_add_keyed(usecs_per_disk, disk, delta_us);
	} else {
		coreship_hist_add(usecs, delta_us);
	}
	bpf_map_delete_elem(&issued, &key);
	return 0;
}
