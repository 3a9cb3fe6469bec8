/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __EXECCOUNT_H
#define __EXECCOUNT_H

#define EXECCOUNT_COMM_LEN 16

/* The counter key: the command name after exec. */
struct execcount_key {
	char comm[EXECCOUNT_COMM_LEN];
};

#endif /* __EXECCOUNT_H */
