/* SPDX-License-Identifier: MIT */
/*
 * lib/create_connection.h - the connection racer behind sk_create_connection
 * (lib/connect.c), exposed so tests can race addresses of their choosing
 * without a resolver.
 */
#ifndef SOCKIT_CONNECT_H
#define SOCKIT_CONNECT_H

#include "internal.h"

#include <stdint.h>

/* RFC 8305's recommended "Connection Attempt Delay": 250 ms. */
#define SK__CONNECT_ATTEMPT_DELAY_NS (250 * 1000 * 1000LL)

/*
 * Races connections to the addresses of `list` per Happy Eyeballs v2: the
 * families are interleaved (the first result's family first), one attempt
 * starts every `attempt_delay_ns` or as soon as the previous one failed,
 * every attempt stays in flight until `deadline` (internal.h), and the
 * first to connect wins; the others are closed.  `source`, when not NULL
 * and not empty, is bound before each attempt; addresses of another family
 * are skipped with -EAFNOSUPPORT.
 *
 * On success stores the connected socket in *out with the process default
 * timeout and returns 0.  Otherwise returns SK_ETIMEOUT when the deadline
 * passed with attempts in flight or addresses untried, the error of the
 * attempt that failed last when all failed (e.g. -ECONNREFUSED), -EINVAL
 * for an empty list, or -ENOMEM.  With SK__NOW_DEADLINE nothing waits: the
 * addresses are tried while each fails at once, one in flight gets a
 * single look, and a connect still pending gives -EAGAIN.
 */
int sk__connect_race(const sk_addrinfo *list, const sk_addr *source,
                     int64_t deadline, int64_t attempt_delay_ns, sk_sock **out);

#endif /* SOCKIT_CONNECT_H */
