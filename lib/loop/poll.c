/* SPDX-License-Identifier: MIT */
/*
 * lib/loop/poll.c - the POSIX poll(2) poller behind the event loop, used where
 * epoll is absent, when built with SK_FORCE_POLL, or when SK_LOOP_BACKEND=poll
 * is set in the environment.
 *
 * The state is a dense pollfd array with a parallel array of handles; each
 * handle's `slot` is its index.  Removal moves the last entry into the hole,
 * so add, modify and remove are O(1) and need no system call; wait is O(n)
 * in the number of watched descriptors, as poll(2) itself is.
 */
#include "loop/backend.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

typedef struct poll_state {
    struct pollfd *fds;
    sk_io **ios;
    int n;
    int cap;
    int start; /* where the next wait starts reporting, for fairness */
} poll_state;

static int poll_init(void **state)
{
    poll_state *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return -ENOMEM;
    *state = st;
    return 0;
}

static void poll_free(void *state)
{
    poll_state *st = state;

    free(st->fds);
    free(st->ios);
    free(st);
}

static int poll_grow(poll_state *st)
{
    int cap = st->cap ? st->cap * 2 : 64;
    struct pollfd *fds = realloc(st->fds, (size_t)cap * sizeof(*fds));
    sk_io **ios;

    if (fds == NULL)
        return -ENOMEM;
    st->fds = fds;
    ios = realloc(st->ios, (size_t)cap * sizeof(*ios));
    if (ios == NULL)
        return -ENOMEM;
    st->ios = ios;
    st->cap = cap;
    return 0;
}

static short to_poll(unsigned events)
{
    return (short)(((events & SK_READABLE) ? POLLIN : 0) |
                   ((events & SK_WRITABLE) ? POLLOUT : 0));
}

static int poll_add(poll_state *st, sk_io *io, unsigned events)
{
    if (st->n == st->cap) {
        int err = poll_grow(st);

        if (err < 0)
            return err;
    }
    st->fds[st->n] = (struct pollfd){ .fd = io->fd, .events = to_poll(events) };
    st->ios[st->n] = io;
    io->slot = st->n++;
    return 0;
}

static void poll_del(poll_state *st, sk_io *io)
{
    int i = io->slot, last = st->n - 1;

    if (i < 0 || i > last || st->ios[i] != io)
        return;
    if (i != last) {
        st->fds[i] = st->fds[last];
        st->ios[i] = st->ios[last];
        st->ios[i]->slot = i;
    }
    st->n--;
    io->slot = -1;
}

static int poll_ctl(void *state, sk_io *io, int op, unsigned events)
{
    poll_state *st = state;

    switch (op) {
    case SK__CTL_ADD:
        return poll_add(st, io, events);
    case SK__CTL_MOD:
        st->fds[io->slot].events = to_poll(events);
        return 0;
    default:
        poll_del(st, io);
        return 0;
    }
}

static unsigned from_poll(short rev)
{
    unsigned out = 0;

    if (rev & (POLLIN | POLLPRI))
        out |= SK_READABLE;
    if (rev & POLLOUT)
        out |= SK_WRITABLE;
    if (rev & (POLLERR | POLLHUP | POLLNVAL))
        out |= SK_READABLE | SK_WRITABLE;
    return out;
}

/* Reports ready descriptors starting at a rotating position, so that when
 * more than `max` are ready, the ones left over come first next time. */
static int poll_wait(void *state, int timeout_ms, sk__ready *out, int max)
{
    poll_state *st = state;
    int n, count = 0;

    n = poll(st->fds, (nfds_t)st->n, timeout_ms);
    if (n < 0)
        return -errno;
    if (n == 0 || st->n == 0)
        return 0;
    if (st->start >= st->n)
        st->start = 0;
    for (int k = 0; k < st->n && count < max && count < n; k++) {
        int i = (st->start + k) % st->n;

        if (st->fds[i].revents == 0)
            continue;
        out[count].io = st->ios[i];
        out[count].events = from_poll(st->fds[i].revents);
        count++;
        st->start = i + 1;
    }
    return count;
}

const sk__backend sk__backend_poll = {
    .name = "poll",
    .init = poll_init,
    .free = poll_free,
    .ctl = poll_ctl,
    .wait = poll_wait,
};
