/* SPDX-License-Identifier: MIT */
/*
 * lib/loop/backend.h - the event loop's poller interface, private to
 * lib/loop/: shared by loop.c and the pollers behind it (epoll.c, poll.c).
 * Nothing outside this folder includes it; the server framework uses
 * loop.h.
 *
 * A backend is four functions in a static table: init, free, ctl (add, modify
 * or remove one descriptor) and wait.  The loop core only asks a backend to
 * watch a descriptor whose event set is non-empty: a paused handle is removed
 * from the poller, because epoll and poll both report hang-ups and errors
 * even for an empty event set, which would make a level-triggered loop spin.
 */
#ifndef SOCKIT_LOOP_BACKEND_H
#define SOCKIT_LOOP_BACKEND_H

#include "loop/loop.h"

/* One ready descriptor, as a backend's wait reports it. */
typedef struct sk__ready {
    sk_io *io;
    unsigned events; /* SK_READABLE | SK_WRITABLE; error/hang-up sets both */
} sk__ready;

enum sk__ctl_op { SK__CTL_ADD, SK__CTL_MOD, SK__CTL_DEL };

typedef struct sk__backend {
    const char *name;
    /* Creates the backend's state in *state.  Returns 0 or -errno. */
    int (*init)(void **state);
    /* Releases the state.  Descriptors being watched are not closed. */
    void (*free)(void *state);
    /*
     * Adds `io` with `events` (non-zero), changes its events (MOD, non-zero)
     * or removes it (DEL, events ignored).  Returns 0 or -errno.  DEL never
     * fails in a way the caller must handle: a descriptor closed before it
     * was removed is already gone from the poller.
     */
    int (*ctl)(void *state, sk_io *io, int op, unsigned events);
    /*
     * Waits up to `timeout_ms` (-1: without limit) and stores at most `max`
     * ready descriptors in out[].  Returns how many, 0 on timeout, -EINTR
     * when a signal interrupted the wait (the core waits again for the rest
     * of its time), or another -errno.  Handles removed by ctl(DEL) are
     * never reported afterwards.
     */
    int (*wait)(void *state, int timeout_ms, sk__ready *out, int max);
} sk__backend;

#if defined(__linux__) && !defined(SK_FORCE_POLL)
#define SK__HAVE_EPOLL 1
extern const sk__backend sk__backend_epoll;
#endif
extern const sk__backend sk__backend_poll;

#endif /* SOCKIT_LOOP_BACKEND_H */
