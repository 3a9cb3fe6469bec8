/*
 * The seed article's demo program ("uprobe in practice"), bounded for tests:
 *   ustate_demo [ITERATIONS [SLEEP_US]]
 * calls print_curr_state_one() and print_curr_state_two() once per iteration, forever when
 * ITERATIONS is omitted or negative. noinline keeps both functions as probe targets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) static void print_curr_state_one(void)
{
	printf("This is the print current state one function\n");
}

__attribute__((noinline)) static void print_curr_state_two(void)
{
	printf("This is the print current state two function\n");
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : -1;
	useconds_t sleep_us = argc > 2 ? (useconds_t)atol(argv[2]) : 1000000;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long i = 0; iterations < 0 || i < iterations; i++) {
		print_curr_state_one();
		usleep(sleep_us);
		print_curr_state_two();
	}
	return 0;
}
