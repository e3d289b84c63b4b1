/* SPDX-License-Identifier: MIT */
/*
 * lib/server/limits.c - admission limits for the server framework: the total
 * number of open connections (one atomic counter) and the number per source
 * address (a chained hash of address -> count under a mutex).  They are
 * taken separately: with the PROXY protocol the total is taken at accept,
 * the per-source slot once the header has named the client.
 *
 * Both are touched only when a connection is accepted or closed, never per
 * byte, so a mutex is cheap enough.  An IPv4 peer seen through a dual-stack
 * socket (::ffff:a.b.c.d) counts as the same source as over IPv4.
 */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sk__source {
    sk__source *next;
    unsigned char key[17]; /* family byte, then 4 or 16 address bytes */
    int count;
};

/* The address part of `a` as a hash key; the port is not part of it. */
static void source_key(const sk_addr *a, unsigned char key[17])
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    memset(key, 0, 17);
    if (a->u.sa.sa_family == AF_INET6) {
        const unsigned char *b = a->u.in6.sin6_addr.s6_addr;

        if (memcmp(b, mapped, sizeof(mapped)) == 0) {
            key[0] = 4;
            memcpy(key + 1, b + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, b, 16);
        }
    } else if (a->u.sa.sa_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &a->u.in4.sin_addr, 4);
    }
}

static size_t key_hash(const unsigned char key[17])
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (int i = 0; i < 17; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32));
}

/* Doubles the bucket array when the table is as full as it is wide; on
 * allocation failure the table just stays denser. */
static void sources_grow(sk_server *srv)
{
    size_t n = srv->nbuckets ? srv->nbuckets * 2 : 256;
    sk__source **b = calloc(n, sizeof(*b));

    if (b == NULL)
        return;
    for (size_t i = 0; i < srv->nbuckets; i++) {
        while (srv->sources[i] != NULL) {
            sk__source *s = srv->sources[i];

            srv->sources[i] = s->next;
            s->next = b[key_hash(s->key) & (n - 1)];
            b[key_hash(s->key) & (n - 1)] = s;
        }
    }
    free(srv->sources);
    srv->sources = b;
    srv->nbuckets = n;
}

static sk__source **source_slot(sk_server *srv, const unsigned char key[17])
{
    sk__source **p = &srv->sources[key_hash(key) & (srv->nbuckets - 1)];

    while (*p != NULL && memcmp((*p)->key, key, 17) != 0)
        p = &(*p)->next;
    return p;
}

/* Takes one per-source slot.  Must hold the lock. */
static int source_take(sk_server *srv, const sk_addr *peer)
{
    unsigned char key[17];
    sk__source **p, *s;

    if (srv->nsources >= srv->nbuckets)
        sources_grow(srv);
    if (srv->nbuckets == 0)
        return -ENOMEM;
    source_key(peer, key);
    p = source_slot(srv, key);
    if (*p != NULL) {
        if ((*p)->count >= srv->cfg.max_per_source)
            return -EAGAIN;
        (*p)->count++;
        return 0;
    }
    s = malloc(sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    memcpy(s->key, key, 17);
    s->count = 1;
    s->next = NULL;
    *p = s;
    srv->nsources++;
    return 0;
}

static void source_put(sk_server *srv, const sk_addr *peer)
{
    unsigned char key[17];
    sk__source **p, *s;

    if (srv->nbuckets == 0)
        return;
    source_key(peer, key);
    p = source_slot(srv, key);
    s = *p;
    if (s == NULL)
        return;
    if (--s->count == 0) {
        *p = s->next;
        free(s);
        srv->nsources--;
    }
}

int sk__limits_admit_total(sk_server *srv)
{
    int64_t prev = atomic_fetch_add(&srv->active, 1);

    if (srv->cfg.max_conns > 0 && prev >= srv->cfg.max_conns) {
        atomic_fetch_sub(&srv->active, 1);
        return -EAGAIN;
    }
    return 0;
}

void sk__limits_release_total(sk_server *srv)
{
    atomic_fetch_sub(&srv->active, 1);
}

int sk__limits_admit_source(sk_server *srv, const sk_addr *peer)
{
    int err;

    if (srv->cfg.max_per_source <= 0)
        return 0;
    pthread_mutex_lock(&srv->sources_lock);
    err = source_take(srv, peer);
    pthread_mutex_unlock(&srv->sources_lock);
    return err < 0 ? -EAGAIN : 0;
}

void sk__limits_release_source(sk_server *srv, const sk_addr *peer)
{
    if (srv->cfg.max_per_source <= 0)
        return;
    pthread_mutex_lock(&srv->sources_lock);
    source_put(srv, peer);
    pthread_mutex_unlock(&srv->sources_lock);
}

void sk__limits_free(sk_server *srv)
{
    for (size_t i = 0; i < srv->nbuckets; i++) {
        while (srv->sources[i] != NULL) {
            sk__source *s = srv->sources[i];

            srv->sources[i] = s->next;
            free(s);
        }
    }
    free(srv->sources);
    srv->sources = NULL;
    srv->nbuckets = srv->nsources = 0;
}
