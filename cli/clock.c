/* SPDX-License-Identifier: MIT */
/*
 * cli/clock.c - the monotonic clock of cli/clock.h: one clock_gettime each.
 */
#include "clock.h"

#include <time.h>

uint64_t cli_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * CLI_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

double cli_now(void)
{
    return (double)cli_now_ns() / 1e9;
}
