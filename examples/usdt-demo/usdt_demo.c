// SPDX-License-Identifier: GPL-2.0
/*
 * A program with a USDT probe (a statically defined user tracepoint, <sys/sdt.h>) for
 * bpf/usdtargs.bpf.c:
 *   usdt_demo [TICKS [SLEEP_US]]
 * fires coreship_demo:tick(int counter, const char *msg) TICKS times (default 5), with
 * counter 1..TICKS and msg "tick COUNTER of TICKS", and prints each msg. The probe is a nop
 * in the code plus an ELF note (.note.stapsdt) saying where its arguments are; it costs
 * nothing until a tracer places a uprobe on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/sdt.h>

int main(int argc, char **argv)
{
	int ticks = argc > 1 ? atoi(argv[1]) : 5;
	useconds_t sleep_us = argc > 2 ? (useconds_t)atol(argv[2]) : 100000;
	char msg[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i <= ticks; i++) {
		snprintf(msg, sizeof(msg), "tick %d of %d", i, ticks);
		DTRACE_PROBE2(coreship_demo, tick, i, msg);
		printf("%s\n", msg);
		usleep(sleep_us);
	}
	return 0;
}
