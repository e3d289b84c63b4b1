/* SPDX-License-Identifier: MIT */
/*
 * services/tally.c - counters a service keeps across the worker threads
 * that call it (the UDP guard's drops, ntp's replies and drops), counted
 * the one way sockit counts (lib/server/count.h): each thread adds to its
 * own block with relaxed stores, and a reader sums the blocks.
 *
 * A thread's block is made on its first count and kept (on the tally's
 * list) until the tally is freed, so a sum never misses a thread that has
 * gone.  Counting costs a pthread_getspecific and a store; summing is
 * O(threads) under the tally's mutex.
 */
#include "services.h"

#include "server/count.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct tally_block {
    struct tally_block *next;
    _Atomic uint64_t v[]; /* the tally's n counters */
} tally_block;

struct svc_tally {
    size_t n;
    pthread_key_t key;    /* -> this thread's block */
    pthread_mutex_t lock; /* guards `blocks` */
    tally_block *blocks;
};

int svc_tally_new(svc_tally **out, size_t n)
{
    svc_tally *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return -ENOMEM;
    if (pthread_key_create(&t->key, NULL) != 0) {
        free(t);
        return -ENOMEM;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->n = n;
    *out = t;
    return 0;
}

void svc_tally_free(svc_tally *t)
{
    if (t == NULL)
        return;
    for (tally_block *b = t->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    pthread_key_delete(t->key);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* The calling thread's block, made on first use; NULL without memory. */
static tally_block *tally_block_get(svc_tally *t)
{
    tally_block *b = pthread_getspecific(t->key);

    if (b != NULL)
        return b;
    b = calloc(1, sizeof(*b) + t->n * sizeof(b->v[0]));
    if (b == NULL)
        return NULL;
    if (pthread_setspecific(t->key, b) != 0) {
        free(b);
        return NULL;
    }
    pthread_mutex_lock(&t->lock);
    b->next = t->blocks;
    t->blocks = b;
    pthread_mutex_unlock(&t->lock);
    return b;
}

void svc_tally_add(svc_tally *t, size_t i, uint64_t n)
{
    tally_block *b;

    if (t == NULL || i >= t->n || (b = tally_block_get(t)) == NULL)
        return;
    sk__count_add(&b->v[i], n);
}

uint64_t svc_tally_sum(svc_tally *t, size_t i)
{
    uint64_t sum = 0;

    if (t == NULL || i >= t->n)
        return 0;
    pthread_mutex_lock(&t->lock);
    for (const tally_block *b = t->blocks; b != NULL; b = b->next)
        sum += sk__count_read(&b->v[i]);
    pthread_mutex_unlock(&t->lock);
    return sum;
}
