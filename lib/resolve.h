/* SPDX-License-Identifier: MIT */
/*
 * lib/resolve.h - the test seams of resolve.c and netdb.c.
 *
 * sk_getaddrinfo runs the blocking getaddrinfo(3) for a name on a worker
 * thread so it can give up at its deadline.  Tests replace that blocking call
 * with a slow one to prove the deadline holds and that a late answer is
 * freed, and check netdb.c's h_errno mapping directly.  Nothing else should
 * use this.
 */
#ifndef SOCKIT_RESOLVE_H
#define SOCKIT_RESOLVE_H

struct addrinfo;

/* The blocking lookup: getaddrinfo(3)'s signature.  Its results must be
 * freeable with freeaddrinfo(3). */
typedef int (*sk__gai_fn)(const char *host, const char *service,
                          const struct addrinfo *hints, struct addrinfo **res);

/*
 * Makes later sk_getaddrinfo calls use `fn` for names (NULL restores
 * getaddrinfo).  Lookups already started keep the function they began with.
 * Not thread-safe: call it while no lookup is being started.
 */
void sk__resolve_set_backend(sk__gai_fn fn);

/* Number of lookup requests allocated and not yet freed (a worker that
 * outlived its caller's deadline still holds one). */
int sk__resolve_pending(void);

/* (netdb.c) Our code for a gethostby*_r failure: h_errno `herr` (and the call's
 * return `rc` for NETDB_INTERNAL) mapped onto SK_EAI codes or -errno. */
int sk__herrno_code(int herr, int rc);

#endif /* SOCKIT_RESOLVE_H */
