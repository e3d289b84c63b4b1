/* SPDX-License-Identifier: MIT */
/*
 * lib/timeout.h - descriptor mode plumbing shared by timeout.c and sock.c.
 */
#ifndef SOCKIT_TIMEOUT_H
#define SOCKIT_TIMEOUT_H

#include <stdbool.h>

/* Sets (on) or clears O_NONBLOCK on fd; no write when it already matches.
 * Returns 0 or -errno. */
int sk__fd_set_nonblock(int fd, bool on);

#endif /* SOCKIT_TIMEOUT_H */
