/* SPDX-License-Identifier: MIT */
/*
 * lib/select.c - sk_select: select(2)'s interface on top of poll(2), so there is
 * no FD_SETSIZE limit.
 *
 * Map: one pollfd per array entry (a socket in two arrays gets two entries);
 * poll with the time left, retrying EINTR within one deadline; then each
 * array is stably partitioned so its ready sockets come first.  Costs O(n)
 * in the number of sockets, plus one allocation when there are many.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

/* Calls with at most this many sockets need no allocation. */
#define SELECT_STACK 64

/* Which poll results make an entry ready, per array: like select(2),
 * an error or hang-up counts as readable and writable. */
#define READY_RD (POLLIN | POLLHUP | POLLERR)
#define READY_WR (POLLOUT | POLLHUP | POLLERR)
#define READY_EX (POLLPRI)

/* Fills pfd[0..n) from socks; returns -EBADF if one is closed. */
static int fill_pollfds(struct pollfd *pfd, sk_sock **socks, size_t n, short events)
{
    for (size_t i = 0; i < n; i++) {
        if (socks[i]->fd < 0)
            return -EBADF;
        pfd[i].fd = socks[i]->fd;
        pfd[i].events = events;
        pfd[i].revents = 0;
    }
    return 0;
}

/* Polls until something is ready or the deadline passes; 0 on timeout. */
static int poll_deadline(struct pollfd *pfd, size_t n, int64_t deadline)
{
    for (;;) {
        int ms = sk__deadline_poll_ms(deadline);
        int r = poll(pfd, (nfds_t)n, ms);

        if (r > 0 || (r == 0 && ms == 0))
            return r;
        if (r < 0 && errno != EINTR)
            return -errno;
        /* EINTR, or poll woke before the deadline: poll again with the
         * time that is left. */
    }
}

/*
 * Moves the ready sockets of socks[0..n) to the front, keeping the order
 * within both groups, using `scratch` (n entries).  Returns how many are ready.
 */
static size_t partition_ready(sk_sock **socks, size_t n, const struct pollfd *pfd,
                              short ready_mask, sk_sock **scratch)
{
    size_t k = 0, rest = 0;

    if (n == 0)
        return 0; /* socks may be NULL */
    for (size_t i = 0; i < n; i++) {
        if (pfd[i].revents & ready_mask)
            socks[k++] = socks[i];
        else
            scratch[rest++] = socks[i];
    }
    memcpy(socks + k, scratch, rest * sizeof *scratch);
    return k;
}

/* True when poll flagged any entry as no open descriptor. */
static bool any_invalid(const struct pollfd *pfd, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (pfd[i].revents & POLLNVAL)
            return true;
    }
    return false;
}

int sk_select(sk_sock **rd, size_t *nrd, sk_sock **wr, size_t *nwr,
              sk_sock **ex, size_t *nex, double timeout)
{
    if (timeout != timeout || (timeout < 0 && timeout != SK_TIMEOUT_NONE))
        return -EINVAL;

    size_t n_rd = nrd ? *nrd : 0, n_wr = nwr ? *nwr : 0, n_ex = nex ? *nex : 0;
    size_t total = n_rd + n_wr + n_ex;
    int64_t deadline = sk__deadline_from_timeout(timeout);
    struct pollfd stack_pfd[SELECT_STACK];
    sk_sock *stack_scratch[SELECT_STACK];
    struct pollfd *pfd = stack_pfd;
    sk_sock **scratch = stack_scratch;
    int r;

    if (total > SELECT_STACK) {
        pfd = malloc(total * sizeof *pfd);
        scratch = malloc(total * sizeof *scratch);
        if (pfd == NULL || scratch == NULL) {
            r = -ENOMEM;
            goto out;
        }
    }
    if ((r = fill_pollfds(pfd, rd, n_rd, POLLIN)) < 0 ||
        (r = fill_pollfds(pfd + n_rd, wr, n_wr, POLLOUT)) < 0 ||
        (r = fill_pollfds(pfd + n_rd + n_wr, ex, n_ex, POLLPRI)) < 0)
        goto out;
    r = poll_deadline(pfd, total, deadline);
    if (r < 0)
        goto out;
    if (r > 0 && any_invalid(pfd, total)) {
        r = -EBADF;
        goto out;
    }

    size_t k_rd = partition_ready(rd, n_rd, pfd, READY_RD, scratch);
    size_t k_wr = partition_ready(wr, n_wr, pfd + n_rd, READY_WR, scratch);
    size_t k_ex = partition_ready(ex, n_ex, pfd + n_rd + n_wr, READY_EX, scratch);

    if (nrd)
        *nrd = k_rd;
    if (nwr)
        *nwr = k_wr;
    if (nex)
        *nex = k_ex;
    r = (int)(k_rd + k_wr + k_ex);

out:
    if (pfd != stack_pfd)
        free(pfd);
    if (scratch != stack_scratch)
        free(scratch);
    return r;
}
