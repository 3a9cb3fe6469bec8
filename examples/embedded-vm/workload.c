// SPDX-License-Identifier: GPL-2.0
/*
 * The embedded-vm guest's workload: one run does something each probe of the demo sees, in a
 * known amount, and prints what it did as one JSON line for the test (and the reader) to check
 * the probes' events against:
 *
 *   ksleep     3 nanosleep(2) of 10 ms (mode HRTIMER_MODE_REL, return 0), then one cut short by
 *              SIGALRM (do_nanosleep returns -ERESTART_RESTARTBLOCK, -516)
 *   opensnoop  openat(2) of WORKLOAD_FILE (created, so the result is an fd)
 *   execsnoop  fork + exec of /bin/true (busybox), parent = this process
 *   ustate     WORKLOAD_CALLS calls of coreship_workload_step() (exported, not inlined)
 *   ufunc      the same calls, with the call number as first argument and its square returned
 *   tcpsend    writes of 0x30, 0x40, …, 0x70 bytes on a loopback TCP connection
 *
 * Built static (musl) so the initramfs needs no libc.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKLOAD_FILE "/tmp/coreship-workload-file"
#define WORKLOAD_CALLS 5

/* The uprobe target: exported and kept out of line so the symbol table points at its code. */
__attribute__((noinline, used)) long coreship_workload_step(long n)
{
	__asm__ volatile("" ::: "memory");
	return n * n;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* nanosleep(2) itself: musl's nanosleep() calls clock_nanosleep, which also reaches do_nanosleep. */
static long sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };

	return syscall(SYS_nanosleep, &ts, NULL);
}

static int tcp_sends(char *sizes, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char buf[0x70];
	int l, c, s, one = 1, n, off = 0;

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) || getsockname(l, (void *)&a, &alen))
		return -1;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (void *)&a, sizeof(a)))
		return -1;
	s = accept(l, NULL, NULL);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(buf, 'x', sizeof(buf));
	for (n = 0x30; n <= 0x70; n += 0x10) {
		if (write(c, buf, n) != n)
			return -1;
		off += snprintf(sizes + off, len - off, "%s%d", off ? "," : "", n);
	}
	close(c);
	close(s);
	close(l);
	return 0;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval alarm = { .it_value = { 0, 100000 } };
	char sizes[64] = "";
	long sleeps[4], sum = 0;
	int fd, status;
	pid_t child;

	for (int i = 0; i < 3; i++)
		sleeps[i] = sleep_ns(10000000L);
	/* No SA_RESTART: the 1 s sleep ends after 100 ms with EINTR. */
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &alarm, NULL);
	sleeps[3] = sleep_ns(1000000000L);

	fd = openat(AT_FDCWD, WORKLOAD_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);

	child = fork();
	if (child == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	waitpid(child, &status, 0);

	for (long i = 1; i <= WORKLOAD_CALLS; i++)
		sum += coreship_workload_step(i);

	if (tcp_sends(sizes, sizeof(sizes)))
		perror("coreship-workload: loopback tcp");

	printf("{\"workload\":{\"pid\":%d,\"exec_child\":%d,\"exec_status\":%d,\"file\":\"%s\",\"fd\":%d,"
	       "\"calls\":%d,\"sum\":%ld,\"sleeps\":[%ld,%ld,%ld,%ld],\"tcp_sizes\":[%s]}}\n",
	       getpid(), child, WIFEXITED(status) ? WEXITSTATUS(status) : -1, WORKLOAD_FILE, fd,
	       WORKLOAD_CALLS, sum, sleeps[0], sleeps[1], sleeps[2], sleeps[3], sizes);
	return 0;
}
