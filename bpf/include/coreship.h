/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * coreship.h - what a probe author includes after vmlinux.h.
 *
 *   #include "vmlinux.h"
 *   #include <coreship.h>
 *
 * It pulls in libbpf's bpf_helpers.h, bpf_tracing.h and bpf_core_read.h (generated into the
 * build directory by `coreship build` from the libbpf it links) and declares output maps in a
 * way the loader understands from the object's BTF alone, with no per-probe user-space code:
 *
 *   CORESHIP_EVENTS(events, struct event, 256 * 1024);   ring buffer carrying struct event
 *   CORESHIP_PERF_EVENTS(events, struct event);          perf event array carrying struct event
 *   CORESHIP_HIST(lat, 10240);                           log2 histogram, no key
 *   CORESHIP_HIST_KEYED(lat, struct key, 10240);         log2 histogram per key
 *   CORESHIP_COUNTER(calls, struct key, 10240);          per-CPU counter per key, summed by the loader
 *   CORESHIP_STACKS(stacks, 16384);                      stack trace map (ids for stack profiles)
 *
 * Map conventions (the loader relies on them):
 *   - Each declaration emits a global variable `__coreship_<kind>__<map>` in section
 *     ".coreship" whose BTF type is a pointer to the event (or key) type. The section is
 *     never loaded into the kernel; it only carries the association in BTF.
 *   - Histogram maps are per-CPU hashes from `struct { key; __u32 slot; }` to __u64 counts;
 *     slot N counts values in [2^(N-1), 2^N), slot 0 counts zero. The loader sums CPUs.
 *   - Counter maps are per-CPU hashes from the key to a __u64, summed by the loader and
 *     printed sorted by count.
 *   - Stack profiles: a counter whose key struct has `__s32` (or `__u32`) members named
 *     `kstack` and/or `ustack` holds stack ids from `bpf_get_stackid(ctx, &stacks, 0)`
 *     (kernel) and `bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK)` (user); a negative id
 *     means no stack. The loader reads the ids through the object's one CORESHIP_STACKS map
 *     (its marker is `__coreship_stacks__<map>`, type `__u64 *`) and symbolizes them on the
 *     target (kernel: /proc/kallsyms; user: the ELF symbols of the files mapped by `pid`),
 *     printing stacks, folded stacks (`--format folded`, the first frame is `comm`) or a
 *     flame graph (`--flamegraph FILE`). Optional members `pid` (process id, used to find
 *     the mapped files) and `comm` (char[16]); other members are printed as key columns.
 *   - Event struct members named `ts`, `ts_ns` or `timestamp` are bpf_ktime_get_ns() values
 *     and are printed relative to the loader's start. Unsigned 64-bit members named `ip`,
 *     `addr`, `*_ip` or `*_addr` are addresses and print in hex, like pointers. char arrays
 *     print as strings, enums by name.
 *   - Unsigned 32-bit members named `dev` (in events and map keys) are the kernel's dev_t
 *     as block tracepoints report it (major = dev >> 20, minor = dev & 0xfffff) and print
 *     as the block device's name from /sys/dev/block/MAJ:MIN/uevent (`vda`), or `MAJ:MIN`
 *     when no block device has that number.
 *
 * Program conventions: alternative implementations of one probe point are programs named
 * `BASE__KIND`, KIND one of fentry, fexit, tp_btf (trampoline family, preferred) or kprobe,
 * kretprobe, raw_tp, tp (classic family), e.g. `nanosleep_enter__fentry` and
 * `nanosleep_enter__kprobe`. The loader loads only the best alternative of each BASE, in
 * that order, and moves to the next when the kernel refuses to load it (fentry: EPERM) or
 * it cannot attach (kprobe: CONFIG_KPROBES off); the group is reported unavailable, with
 * each alternative's reason, only when none works. Alternatives usually share maps (an
 * entry's stash, the output maps), so any mix of chosen alternatives works together.
 * A program whose name ends in `__optional` (e.g. `enter_epoll_pwait2__optional`) targets
 * something only some kernels have: when it cannot load or attach, the loader reports it
 * as skipped and runs the rest, without --allow-partial.
 *
 * Settings: a probe's options are `const volatile` globals (libbpf-tools style, e.g.
 * `const volatile bool per_disk = false;`), set before load with `coreship-load run
 * --set NAME=VALUE` (integers in decimal or 0x hex, bool true/false/1/0, enums by variant
 * name or number, char arrays as strings) and listed with their defaults by
 * `coreship inspect`. Globals of .data and .bss can be set the same way.
 */
#ifndef __CORESHIP_H
#define __CORESHIP_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/*
 * vmlinux.h from an x86_64 kernel lacks arm64's register struct, which bpf_tracing.h's
 * PT_REGS_* macros use when __TARGET_ARCH_arm64 is set. `coreship vmlinux` records the arch
 * the BTF came from, so an arm64 object compiled against x86_64 BTF gets the (stable, UAPI)
 * layout here; CO-RE relocates field accesses on the target.
 */
#if defined(__TARGET_ARCH_arm64) && !defined(__CORESHIP_VMLINUX_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
#endif

#define __CORESHIP_MARK(kind, map, type_)                                                      \
	type_ *__coreship_##kind##__##map __attribute__((section(".coreship"), used))

/* Declare that the existing ring buffer or perf event array MAP carries TYPE records. */
#define CORESHIP_EVENT_TYPE(map, type_) __CORESHIP_MARK(events, map, type_)

/* A ring buffer of BYTES bytes (a power of two, multiple of the page size) carrying TYPE. */
#define CORESHIP_EVENTS(map, type_, bytes)                                                     \
	struct {                                                                               \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                            \
		__uint(max_entries, bytes);                                                    \
	} map SEC(".maps");                                                                    \
	CORESHIP_EVENT_TYPE(map, type_)

/* A perf event array carrying TYPE (for kernels before 5.8, which lack ring buffers). */
#define CORESHIP_PERF_EVENTS(map, type_)                                                       \
	struct {                                                                               \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                                   \
		__uint(key_size, sizeof(__u32));                                               \
		__uint(value_size, sizeof(__u32));                                             \
	} map SEC(".maps");                                                                    \
	CORESHIP_EVENT_TYPE(map, type_)

/* Number of log2 slots: covers every __u64 value. */
#define CORESHIP_HIST_SLOTS 65

/* A log2 histogram whose buckets are kept apart per KEY_TYPE value. */
#define CORESHIP_HIST_KEYED(map, key_type, max_keys)                                           \
	struct __coreship_hist_key_##map {                                                     \
		key_type key;                                                                  \
		__u32 slot;                                                                    \
	};                                                                                     \
	struct {                                                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_HASH);                                        \
		__uint(max_entries, (max_keys) * CORESHIP_HIST_SLOTS);                         \
		__type(key, struct __coreship_hist_key_##map);                                 \
		__type(value, __u64);                                                          \
	} map SEC(".maps");                                                                    \
	__CORESHIP_MARK(hist, map, struct __coreship_hist_key_##map)

/* A log2 histogram with one set of buckets. */
struct coreship_nokey {
	__u32 none;
};
#define CORESHIP_HIST(map) CORESHIP_HIST_KEYED(map, struct coreship_nokey, 1)

/* A per-CPU counter per KEY_TYPE value. */
#define CORESHIP_COUNTER(map, key_type, max_keys)                                              \
	struct {                                                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_HASH);                                        \
		__uint(max_entries, max_keys);                                                 \
		__type(key, key_type);                                                         \
		__type(value, __u64);                                                          \
	} map SEC(".maps");                                                                    \
	__CORESHIP_MARK(counter, map, key_type)

/* The log2 slot of V: 0 for 0, else 1 + floor(log2(V)). */
static __always_inline __u32 coreship_log2_slot(__u64 v)
{
	__u32 slot = 0;

	if (!v)
		return 0;
#pragma unroll
	for (int shift = 32; shift > 0; shift >>= 1) {
		if (v >= (1ULL << shift)) {
			v >>= shift;
			slot += shift;
		}
	}
	return slot + 1;
}

/* Adds 1 to MAP's counter for KEY. */
#define coreship_count(map, key) coreship_count_by(map, key, 1)

/* Adds N to MAP's counter for KEY (a pointer to the key). */
#define coreship_count_by(map, key, n)                                                         \
	({                                                                                     \
		__u64 *__c = bpf_map_lookup_elem(&(map), (key));                               \
		if (__c) {                                                                     \
			*__c += (n);                                                           \
		} else {                                                                       \
			__u64 __n = (n);                                                       \
			bpf_map_update_elem(&(map), (key), &__n, BPF_NOEXIST);                 \
		}                                                                              \
	})

/* Records VALUE in histogram MAP under KEY (declared with CORESHIP_HIST_KEYED). */
#define coreship_hist_add_keyed(map, keyval, value)                                            \
	({                                                                                     \
		struct __coreship_hist_key_##map __k = {};                                     \
		__k.key = (keyval);                                                            \
		__k.slot = coreship_log2_slot(value);                                          \
		coreship_count(map, &__k);                                                     \
	})

/* Records VALUE in histogram MAP (declared with CORESHIP_HIST). */
#define coreship_hist_add(map, value)                                                          \
	({                                                                                     \
		struct coreship_nokey __nk = {};                                               \
		coreship_hist_add_keyed(map, __nk, value);                                     \
	})

/* Frames kept per stack: the kernel's PERF_MAX_STACK_DEPTH default. */
#define CORESHIP_STACK_DEPTH 127

/*
 * A stack trace map of at most MAX_STACKS stacks: stack id (__u32) to up to
 * CORESHIP_STACK_DEPTH instruction pointers, innermost first, zero-padded. Fill it with
 * bpf_get_stackid(ctx, &MAP, 0) (kernel stack) or BPF_F_USER_STACK (user stack, walked by
 * frame pointers) and count the ids in a CORESHIP_COUNTER keyed by `kstack`/`ustack`.
 */
#define CORESHIP_STACKS(map, max_stacks)                                                       \
	struct {                                                                               \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                                        \
		__uint(max_entries, max_stacks);                                               \
		__type(key, __u32);                                                            \
		__type(value, __u64[CORESHIP_STACK_DEPTH]);                                    \
	} map SEC(".maps");                                                                    \
	__CORESHIP_MARK(stacks, map, __u64)

#endif /* __CORESHIP_H */
