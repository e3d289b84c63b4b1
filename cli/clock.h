/* SPDX-License-Identifier: MIT */
/*
 * cli/clock.h - the command line's one clock: CLOCK_MONOTONIC, for
 * deadlines, round-trip times and the bench's schedule.  Wall-clock time
 * (what NTP and time compare) is read where it is used, never from here.
 */
#ifndef SOCKIT_CLI_CLOCK_H
#define SOCKIT_CLI_CLOCK_H

#include <stdint.h>

#define CLI_NS_PER_SEC UINT64_C(1000000000)

/* Nanoseconds on the monotonic clock (since some fixed, unspecified start). */
uint64_t cli_now_ns(void);

/* The same in seconds, for deadlines kept as doubles. */
double cli_now(void);

#endif /* SOCKIT_CLI_CLOCK_H */
