/* SPDX-License-Identifier: MIT */
/*
 * lib/server/count.h - the one way sockit counts: every counter has one
 * owner thread (a worker) that adds to it with a relaxed load and store -
 * no locked instruction, no cache line another writer touches - and readers
 * on any thread sum the owners' counters with relaxed loads.  The server's
 * per-worker counter blocks (server.h, sk__counters) and the services'
 * per-thread tallies (services/tally.c) both count through sk__count_add.
 */
#ifndef SOCKIT_SERVER_COUNT_H
#define SOCKIT_SERVER_COUNT_H

#include <stdatomic.h>
#include <stdint.h>

/* Adds `n` to `*c`.  Only the counter's owner thread may call it. */
static inline void sk__count_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Reads a counter from any thread. */
static inline uint64_t sk__count_read(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

#endif /* SOCKIT_SERVER_COUNT_H */
