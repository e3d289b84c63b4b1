/* SPDX-License-Identifier: MIT */
/*
 * lib/create_connection.c - sk_create_connection: resolve, then race the addresses per
 * Happy Eyeballs v2 (RFC 8305), all under one deadline.
 *
 * Map:
 *   order_addrs        interleave the resolver's results by family
 *   attempt_start      open, bind and start one non-blocking connect
 *   race_harvest       collect finished attempts after poll(2)
 *   sk__connect_race   the racing loop over an explicit address list
 *   sk_create_connection  resolution within the deadline, then the race,
 *                      then the caller's timeout on the winner
 */
#include "create_connection.h"
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* The state of one race.  Attempts in flight sit in pfd[0..inflight) in the
 * order they were started, so the earliest wins a tie. */
struct race {
    const sk_addrinfo **order; /* addresses in attempt order */
    size_t n;                  /* how many */
    size_t next;               /* index of the next address to try */
    struct pollfd *pfd;        /* attempts in flight */
    const sk_addrinfo **pai;   /* the address of each attempt in flight */
    size_t inflight;
    int last_err;              /* error of the attempt that failed last */
};

/*
 * Fills r->order with the addresses of `list`: the first result's family
 * first, then alternating with the other families, each family keeping the
 * resolver's order (RFC 8305 section 4, with a First Address Family Count
 * of one).  Returns 0, -EINVAL for an empty list, or -ENOMEM.
 */
static int order_addrs(struct race *r, const sk_addrinfo *list)
{
    const sk_addrinfo *first = list, *other = list;
    size_t n = 0;

    for (const sk_addrinfo *ai = list; ai != NULL; ai = ai->next)
        n++;
    if (n == 0)
        return -EINVAL;
    r->order = calloc(n, sizeof(*r->order));
    r->pfd = calloc(n, sizeof(*r->pfd));
    r->pai = calloc(n, sizeof(*r->pai));
    if (r->order == NULL || r->pfd == NULL || r->pai == NULL)
        return -ENOMEM;
    /* Two cursors walk the list: one over the first family, one over the
     * rest; each step takes from them in turn until both run out. */
    for (bool take_first = true; r->n < n; take_first = !take_first) {
        const sk_addrinfo **cur = take_first ? &first : &other;

        while (*cur != NULL && ((*cur)->family == list->family) != take_first)
            *cur = (*cur)->next;
        if (*cur != NULL) {
            r->order[r->n++] = *cur;
            *cur = (*cur)->next;
        }
    }
    return 0;
}

/*
 * Starts a connect to `ai`.  Returns the descriptor with *done set when the
 * connect completed at once, the descriptor with *done clear when it is in
 * flight, or a negative error (nothing left open).
 */
static int attempt_start(const sk_addrinfo *ai, const sk_addr *source, bool *done)
{
    int fd, rc;

    *done = false;
    if (source != NULL && source->len > 0 && source->u.sa.sa_family != ai->family)
        return -EAFNOSUPPORT;
    fd = sk__socket(ai->family, ai->type, ai->protocol, true);
    if (fd < 0)
        return fd;
    if (source != NULL && source->len > 0 &&
        bind(fd, &source->u.sa, source->len) < 0) {
        rc = -errno;
        goto fail;
    }
    if (connect(fd, &ai->addr.u.sa, ai->addr.len) == 0) {
        *done = true;
        return fd;
    }
    /* EINTR on a non-blocking connect leaves it running, like EINPROGRESS. */
    if (errno == EINPROGRESS || errno == EINTR)
        return fd;
    rc = -errno;
fail:
    close(fd);
    return rc;
}

/* The connect result of a finished attempt: 0 or -errno. */
static int attempt_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

/*
 * Looks at every attempt poll(2) reported on.  Failed attempts are closed
 * and dropped (keeping the order of the rest) and their error recorded.
 * Returns the index of the earliest attempt that connected, or -1.
 */
static ssize_t race_harvest(struct race *r, bool *failed)
{
    size_t keep = 0;
    ssize_t won = -1;

    *failed = false;
    for (size_t i = 0; i < r->inflight; i++) {
        if (r->pfd[i].revents != 0 && won < 0) {
            int rc = attempt_result(r->pfd[i].fd);

            if (rc == 0) {
                won = (ssize_t)keep;
            } else {
                close(r->pfd[i].fd);
                r->last_err = rc;
                *failed = true;
                continue;
            }
        }
        r->pfd[keep] = r->pfd[i];
        r->pai[keep] = r->pai[i];
        keep++;
    }
    r->inflight = keep;
    return won;
}

/* Closes every attempt in flight except the one at index `keep` (or all,
 * when keep < 0). */
static void race_close_others(struct race *r, ssize_t keep)
{
    for (size_t i = 0; i < r->inflight; i++)
        if ((ssize_t)i != keep)
            close(r->pfd[i].fd);
    r->inflight = 0;
}

/* Starts the next address's attempt.  Returns 1 when it connected at once
 * (it then sits in flight at the last index), 0 when it is in flight, or a
 * negative error (recorded as the last error). */
static int race_start_next(struct race *r, const sk_addr *source)
{
    const sk_addrinfo *ai = r->order[r->next++];
    bool done;
    int fd = attempt_start(ai, source, &done);

    if (fd < 0) {
        r->last_err = fd;
        return fd;
    }
    r->pfd[r->inflight].fd = fd;
    r->pfd[r->inflight].events = POLLOUT;
    r->pfd[r->inflight].revents = 0;
    r->pai[r->inflight] = ai;
    r->inflight++;
    return done ? 1 : 0;
}

/*
 * poll(2) timeout in milliseconds until the deadline or, when more
 * addresses wait, until the next attempt is due: -1 for no limit.
 */
static int race_wait_ms(const struct race *r, int64_t deadline, int64_t next_start)
{
    int64_t until = deadline;

    if (r->next < r->n && next_start < until)
        until = next_start;
    return sk__deadline_poll_ms(until);
}

/* Wraps the winning attempt at index `i` into a socket object. */
static int race_finish(struct race *r, ssize_t i, sk_sock **out)
{
    int fd = r->pfd[i].fd;
    const sk_addrinfo *ai = r->pai[i];

    race_close_others(r, i);
    return sk__sock_wrap(out, fd, ai->family, ai->type);
}

/*
 * The result of a race nobody won: the last error when every address was
 * tried and failed, else the deadline's error (attempts were pending or
 * addresses untried).
 */
static int race_lost(const struct race *r, int64_t deadline)
{
    if (r->inflight == 0 && r->next == r->n)
        return r->last_err;
    return deadline == SK__NOW_DEADLINE ? -EAGAIN : SK_ETIMEOUT;
}

/*
 * True when the next address's attempt is to start now: one is left, its
 * turn has come (nothing in flight, or `next_start` reached: the attempt
 * delay ran out or the last attempt failed), and the deadline allows it.
 * The first attempt starts even past the deadline, so a non-blocking call
 * (deadline "now") can still succeed when the connect is instant; such a
 * call also moves on through addresses that fail at once, as that costs no
 * waiting.
 */
static bool race_start_due(const struct race *r, int64_t now, int64_t next_start,
                           int64_t deadline)
{
    if (r->next == r->n || (r->inflight > 0 && now < next_start))
        return false;
    return r->next == 0 || now < deadline ||
           (deadline == SK__NOW_DEADLINE && r->inflight == 0);
}

int sk__connect_race(const sk_addrinfo *list, const sk_addr *source,
                     int64_t deadline, int64_t attempt_delay_ns, sk_sock **out)
{
    struct race r = { .last_err = 0 };
    int64_t next_start = 0;
    int rc;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    rc = order_addrs(&r, list);
    if (rc < 0)
        goto out;
    for (;;) {
        int64_t now = sk__now_ns();
        bool expired = now >= deadline, failed;
        ssize_t won;

        if (race_start_due(&r, now, next_start, deadline)) {
            rc = race_start_next(&r, source);
            if (rc == 1) {
                rc = race_finish(&r, (ssize_t)r.inflight - 1, out);
                goto out;
            }
            next_start = rc < 0 ? now : now + attempt_delay_ns;
            continue;
        }
        if (r.inflight == 0) {
            rc = race_lost(&r, deadline);
            goto out;
        }
        if (poll(r.pfd, (nfds_t)r.inflight,
                 expired ? 0 : race_wait_ms(&r, deadline, next_start)) < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto close_all;
        }
        won = race_harvest(&r, &failed);
        if (won >= 0) {
            rc = race_finish(&r, won, out);
            goto out;
        }
        if (failed)
            next_start = now;
        if (expired) {
            rc = race_lost(&r, deadline);
            goto close_all;
        }
    }
close_all:
    race_close_others(&r, -1);
out:
    free(r.pai);
    free(r.pfd);
    free(r.order);
    return rc;
}

/* Seconds left until `deadline`, as a timeout for sk_getaddrinfo. */
static double seconds_left(int64_t deadline)
{
    int64_t left;

    if (deadline == SK__NO_DEADLINE)
        return SK_TIMEOUT_NONE;
    left = deadline - sk__now_ns();
    return left > 0 ? (double)left / 1e9 : 0.0;
}

int sk_create_connection(sk_sock **out, const char *host, const char *port,
                         int family, double timeout, const sk_addr *source)
{
    sk_addrinfo *list = NULL;
    sk_sock *s = NULL;
    int64_t deadline;
    int rc;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (timeout == SK_TIMEOUT_DEFAULT)
        timeout = sk_getdefaulttimeout();
    if (isnan(timeout) || (timeout < 0 && timeout != SK_TIMEOUT_NONE))
        return -EINVAL;
    deadline = sk__deadline_from_timeout(timeout);
    rc = sk_getaddrinfo(host, port, family, SOCK_STREAM, 0, 0, seconds_left(deadline),
                        &list);
    if (rc < 0)
        return rc;
    rc = sk__connect_race(list, source, deadline, SK__CONNECT_ATTEMPT_DELAY_NS, &s);
    sk_addrinfo_free(list);
    if (rc < 0)
        return rc;
    /* The race leaves the process default on the winner; the caller asked
     * for `timeout`, which also sets the descriptor's blocking mode. */
    rc = sk_sock_settimeout(s, timeout);
    if (rc < 0) {
        sk_sock_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
