// SPDX-License-Identifier: GPL-2.0
/*
 * usdtargs: every hit of a USDT probe (<sys/sdt.h> DTRACE_PROBEn, a .note.stapsdt entry)
 * with its argument count, its first argument as an integer and its second read as a
 * string, e.g. examples/usdt-demo's coreship_demo:tick(int counter, const char *msg):
 *   coreship-load run usdtargs --attach usdt_args=usdt:./usdt_demo:coreship_demo:tick
 * libbpf's usdt.bpf.h decodes each argument from the note's spec (register, memory or
 * constant, size and sign) per arch, so one object serves every probe site.
 */
#include "vmlinux.h"
#include <coreship.h>
#include <bpf/usdt.bpf.h>
#include "usdtargs.h"

char LICENSE[] SEC("license") = "GPL";

CORESHIP_EVENTS(events, struct usdt_event, 256 * 1024);

SEC("usdt")
int BPF_USDT(usdt_args, long arg0, const char *arg1)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct usdt_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->ts = bpf_ktime_get_ns();
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->argc = bpf_usdt_arg_cnt(ctx);
	/* BPF_USDT leaves arguments the site lacks at 0. */
	e->arg0 = arg0;
	e->arg1_str[0] = '\0';
	if (e->argc > 1)
		bpf_probe_read_user_str(e->arg1_str, sizeof(e->arg1_str), arg1);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
