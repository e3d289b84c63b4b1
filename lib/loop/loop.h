/* SPDX-License-Identifier: MIT */
/*
 * lib/loop/loop.h - what the loop shows the rest of libsockit beyond the
 * public sk_loop / sk_io / sk_timer API: the layout of a watched descriptor,
 * so the server framework can embed one in every connection, and the calls
 * that work on such an embedded handle.  The poller interface behind the
 * loop stays in backend.h, private to this folder.
 *
 * Also here: the loop's internal test seam (backend call counter).
 */
#ifndef SOCKIT_LOOP_LOOP_H
#define SOCKIT_LOOP_LOOP_H

#include "internal.h"

/* A watched descriptor.  `slot` belongs to the backend (poll: the index of
 * the descriptor's pollfd); the core never reads it.  Kept small (40 bytes
 * on LP64) because the server embeds one in every connection: a stopped
 * handle is never called again, so its callback's place links the loop's
 * list of handles to free. */
struct sk_io {
    sk_loop *loop;
    union {
        sk_io_cb cb;       /* while live */
        sk_io *next_dead;  /* once stopped during dispatch (not embedded) */
    } u;
    void *arg;
    int fd;
    int slot;
    unsigned char events; /* what the caller asked for (SK_READABLE | SK_WRITABLE) */
    bool dead;            /* stopped; freed at the end of the loop iteration */
    bool embedded;        /* part of its owner's memory: never freed here */
};
#if defined(__LP64__)
_Static_assert(sizeof(struct sk_io) == 40, "sk_io grew: every connection embeds one");
#endif

/*
 * Embedded handles, for the server framework, which keeps one inside every
 * connection (one allocation per connection instead of two).  Like
 * sk_io_start, but the handle lives in caller memory `io`; sk_io_set_events
 * and sk_io_stop work on it as usual, except that sk_io_stop never frees it.
 * After sk_io_stop the owner may free the memory only once no iteration that
 * could still report the handle is running: from a timer callback of a later
 * iteration, or outside sk_loop_run.  Returns 0 or the errors of sk_io_start.
 */
int sk__io_start_embedded(sk_loop *loop, sk_io *io, int fd, unsigned events,
                          sk_io_cb cb, void *arg);

/* True while the loop is running callbacks (inside sk_loop_run_once). */
bool sk__loop_dispatching(const sk_loop *loop);

/*
 * Test seam: the number of backend ctl calls (add/mod/del system calls on
 * epoll) this loop has made since it was created, including the wake-up
 * descriptor's registration.
 */
uint64_t sk__loop_ctl_calls(const sk_loop *loop);

#endif /* SOCKIT_LOOP_LOOP_H */
