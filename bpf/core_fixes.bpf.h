/* SPDX-License-Identifier: GPL-2.0 */
/*
 * core_fixes.bpf.h - kernel-version shims for coreship's probes, each citing the kernel commit
 * that needed it. Each shim declares only the fields it reads, as CO-RE "flavors" (a `___x`
 * suffix libbpf ignores when matching names), so an object built against one vmlinux.h picks
 * the right layout on the running kernel.
 */
#ifndef __CORE_FIXES_BPF_H
#define __CORE_FIXES_BPF_H

/*
 * Linux 5.18, commit d5869fdc189f ("block: introduce block_rq_error tracepoint"), moved
 * block_rq_complete into an event class it shares with block_rq_error: kernels since have
 * `struct trace_event_raw_block_rq_completion`, older ones `trace_event_raw_block_rq_complete`,
 * both with `dev` and `sector`.
 */
struct trace_event_raw_block_rq_completion___x {
	dev_t dev;
	sector_t sector;
} __attribute__((preserve_access_index));

struct trace_event_raw_block_rq_complete___x {
	dev_t dev;
	sector_t sector;
} __attribute__((preserve_access_index));

/* The disk (kernel dev_t) and first sector of the request block_rq_complete reports. */
static __always_inline void block_rq_complete_read(void *ctx, __u32 *dev, __u64 *sector)
{
	if (bpf_core_type_exists(struct trace_event_raw_block_rq_completion___x)) {
		struct trace_event_raw_block_rq_completion___x *c = ctx;

		*dev = BPF_CORE_READ(c, dev);
		*sector = BPF_CORE_READ(c, sector);
	} else {
		struct trace_event_raw_block_rq_complete___x *c = ctx;

		*dev = BPF_CORE_READ(c, dev);
		*sector = BPF_CORE_READ(c, sector);
	}
}

#endif /* __CORE_FIXES_BPF_H */
