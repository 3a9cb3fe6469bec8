// SPDX-License-Identifier: Apache-2.0
/*
 * loadgen: the synthetic loads of examples/bench/bench.py, in C so the load costs little
 * next to what is measured.
 *
 *   loadgen exec SECONDS [RATE]
 *                             posix_spawn /bin/true in a loop for SECONDS (an exec storm for
 *                             execsnoop), at most RATE per second if given; prints the number
 *                             of execs
 *   loadgen getppid SECONDS   waits for a line on stdin (the tracer is attached by then), then
 *                             calls getppid() in a tight loop for SECONDS (the evflood probe's
 *                             tracepoint); prints the number of calls
 *   loadgen head PORT PATH CONNS SECONDS [HEADER]
 *                             HEAD requests to http://127.0.0.1:PORT/PATH over CONNS keep-alive
 *                             connections for SECONDS (wrk 4.1 waits for a body after a HEAD
 *                             response with a Content-Length, so it cannot); prints requests,
 *                             non-2xx responses and connection errors
 *   loadgen count WORD        reads stdin to its end (a tracer's output), printing "ready" once
 *                             the first byte arrives, then how many times WORD occurred (one per
 *                             event: the traced command's name), lines and bytes
 *
 * Every mode stops by itself after SECONDS (at most 600), so a killed bench leaves nothing
 * running for long.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long exec_storm(double seconds, double rate)
{
	char *argv[] = { "true", NULL };
	double start = now(), end = start + seconds;
	unsigned long n = 0;
	pid_t pid;
	int status;

	while (now() < end) {
		if (rate > 0) {
			/* The next exec's slot; sleep until then. */
			double wait = start + n / rate - now();

			if (wait > 0) {
				struct timespec ts = { 0, (long)(wait * 1e9) };

				nanosleep(&ts, NULL);
			}
		}
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0)
			break;
		waitpid(pid, &status, 0);
		n++;
	}
	return n;
}

static unsigned long getppid_flood(double seconds)
{
	char line[16];
	unsigned long n = 0;
	double end;

	if (!fgets(line, sizeof(line), stdin))
		return 0;
	end = now() + seconds;
	/* The clock is read once every 4096 calls: the loop is the syscall, not clock_gettime. */
	while (now() < end) {
		for (int i = 0; i < 4096; i++)
			syscall(SYS_getppid);
		n += 4096;
	}
	return n;
}

static int count_words(const char *word)
{
	static char buf[1 << 16];
	size_t wlen = strlen(word), keep = 0;
	unsigned long matches = 0, lines = 0, bytes = 0;
	ssize_t n;

	if (wlen == 0 || wlen >= sizeof(buf) / 2)
		return 2;
	/* The last wlen-1 bytes stay at the front of buf, so a word cut by a read still counts. */
	while ((n = read(0, buf + keep, sizeof(buf) - keep)) > 0) {
		size_t len = keep + n;
		char *p = buf;

		if (bytes == 0) {
			printf("ready\n");
			fflush(stdout);
		}
		bytes += n;
		for (char *q = buf + keep; (q = memchr(q, '\n', buf + len - q)); q++)
			lines++;
		while ((p = memmem(p, buf + len - p, word, wlen))) {
			matches++;
			p += wlen;
		}
		keep = len < wlen - 1 ? len : wlen - 1;
		memmove(buf, buf + len - keep, keep);
	}
	printf("%lu %lu %lu\n", matches, lines, bytes);
	return 0;
}

#define HEAD_MAX_CONNS 256

struct head_conn {
	int fd;
	size_t have;
	char buf[4096];
};

static int head_connect(int ep, struct head_conn *c, int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->have = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -1;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int head_load(int argc, char **argv)
{
	static struct head_conn conns[HEAD_MAX_CONNS];
	int port = atoi(argv[2]), nconns = atoi(argv[4]), ep;
	double seconds = atof(argv[5]), end;
	unsigned long done = 0, bad = 0, errors = 0;
	char req[1024];
	int reqlen;

	if (port <= 0 || nconns <= 0 || nconns > HEAD_MAX_CONNS || seconds <= 0 || seconds > 600)
		return 2;
	reqlen = snprintf(req, sizeof(req), "HEAD %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s\r\n",
			  argv[3], port, argc > 6 ? argv[6] : "", argc > 6 ? "\r\n" : "");
	if (reqlen >= (int)sizeof(req))
		return 2;
	ep = epoll_create1(0);
	for (int i = 0; i < nconns; i++) {
		if (head_connect(ep, &conns[i], port) < 0 || write(conns[i].fd, req, reqlen) != reqlen) {
			perror("loadgen head: connect");
			return 1;
		}
	}
	end = now() + seconds;
	while (now() < end) {
		struct epoll_event evs[HEAD_MAX_CONNS];
		int n = epoll_wait(ep, evs, HEAD_MAX_CONNS, 100);

		for (int i = 0; i < n; i++) {
			struct head_conn *c = evs[i].data.ptr;
			ssize_t got = read(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have);
			char *eoh;

			if (got <= 0) {
				/* Closed or failed: count it and open a new connection. */
				errors++;
				close(c->fd);
				if (head_connect(ep, c, port) < 0 || write(c->fd, req, reqlen) != reqlen)
					return 1;
				continue;
			}
			c->have += got;
			c->buf[c->have] = 0;
			/* One request in flight per connection: the response ends with its headers. */
			eoh = strstr(c->buf, "\r\n\r\n");
			if (!eoh)
				continue;
			if (strncmp(c->buf, "HTTP/1.1 2", 10) != 0)
				bad++;
			done++;
			c->have = 0;
			if (write(c->fd, req, reqlen) != reqlen)
				errors++;
		}
	}
	printf("%lu %lu %lu\n", done, bad, errors);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds;

	if (argc >= 6 && strcmp(argv[1], "head") == 0)
		return head_load(argc, argv);
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: loadgen exec SECONDS [RATE] | getppid SECONDS | count WORD |\n"
				"       head PORT PATH CONNS SECONDS [HEADER]\n");
		return 2;
	}
	if (strcmp(argv[1], "count") == 0)
		return count_words(argv[2]);
	seconds = atof(argv[2]);
	if (seconds <= 0 || seconds > 600) {
		fprintf(stderr, "loadgen: SECONDS must be in (0, 600]\n");
		return 2;
	}
	if (strcmp(argv[1], "exec") == 0)
		printf("%lu\n", exec_storm(seconds, argc == 4 ? atof(argv[3]) : 0));
	else if (strcmp(argv[1], "getppid") == 0)
		printf("%lu\n", getppid_flood(seconds));
	else {
		fprintf(stderr, "loadgen: unknown mode %s\n", argv[1]);
		return 2;
	}
	return 0;
}
