/* SPDX-License-Identifier: MIT */
/*
 * lib/loop/epoll.c - the Linux epoll(7) poller behind the event loop.
 *
 * Level-triggered: the loop core and the server read and write until EAGAIN
 * or a fairness bound, and a handle whose work is left over must be reported
 * again on the next iteration.  Each epoll entry carries its sk_io pointer;
 * the core frees a stopped handle only after the iteration that may still
 * hold its pointer has finished.
 *
 * Compiled to nothing unless on Linux without SK_FORCE_POLL.
 */
#include "loop/backend.h"

#ifdef SK__HAVE_EPOLL

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

/* How many events one epoll_wait may return; more stay pending for the next
 * call (level-triggered, so nothing is lost). */
#define EPOLL_BATCH 256

typedef struct epoll_state {
    int epfd;
    struct epoll_event events[EPOLL_BATCH];
} epoll_state;

static int epoll_init(void **state)
{
    epoll_state *st = malloc(sizeof(*st));

    if (st == NULL)
        return -ENOMEM;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        int err = -errno;

        free(st);
        return err;
    }
    *state = st;
    return 0;
}

static void epoll_free(void *state)
{
    epoll_state *st = state;

    close(st->epfd);
    free(st);
}

static uint32_t to_epoll(unsigned events)
{
    return ((events & SK_READABLE) ? EPOLLIN : 0) | ((events & SK_WRITABLE) ? EPOLLOUT : 0);
}

static int epoll_ctl_io(void *state, sk_io *io, int op, unsigned events)
{
    epoll_state *st = state;
    struct epoll_event ev = { .events = to_epoll(events), .data.ptr = io };
    int eop = op == SK__CTL_ADD ? EPOLL_CTL_ADD
            : op == SK__CTL_MOD ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;

    if (epoll_ctl(st->epfd, eop, io->fd, &ev) < 0) {
        /* A descriptor the caller closed before stopping its handle has
         * already left the epoll set; removing it again is not an error. */
        if (op == SK__CTL_DEL && (errno == EBADF || errno == ENOENT))
            return 0;
        return -errno;
    }
    return 0;
}

/* Error and hang-up become "readable and writable" so the handler's next
 * read or write sees the condition. */
static unsigned from_epoll(uint32_t ev)
{
    unsigned out = 0;

    if (ev & (EPOLLIN | EPOLLPRI | EPOLLRDHUP))
        out |= SK_READABLE;
    if (ev & EPOLLOUT)
        out |= SK_WRITABLE;
    if (ev & (EPOLLERR | EPOLLHUP))
        out |= SK_READABLE | SK_WRITABLE;
    return out;
}

static int epoll_wait_io(void *state, int timeout_ms, sk__ready *out, int max)
{
    epoll_state *st = state;
    int n;

    if (max > EPOLL_BATCH)
        max = EPOLL_BATCH;
    n = epoll_wait(st->epfd, st->events, max, timeout_ms);
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++) {
        out[i].io = st->events[i].data.ptr;
        out[i].events = from_epoll(st->events[i].events);
    }
    return n;
}

const sk__backend sk__backend_epoll = {
    .name = "epoll",
    .init = epoll_init,
    .free = epoll_free,
    .ctl = epoll_ctl_io,
    .wait = epoll_wait_io,
};

#endif /* SK__HAVE_EPOLL */
