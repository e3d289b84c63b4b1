/*
 * loop_backend.h - the event loop's poller interface, shared by loop.c and
 * the pollers behind it (loop_epoll.c, loop_poll.c).
 *
 * A backend is four functions in a static table: init, free, ctl (add, modify
 * or remove one descriptor) and wait.  The loop core only asks a backend to
 * watch a descriptor whose event set is non-empty: a paused handle is removed
 * from the poller, because epoll and poll both report hang-ups and errors
 * even for an empty event set, which would make a level-triggered loop spin.
 *
 * Also here: the loop's internal test seams (backend call counter).
 */
#ifndef SOCKIT_LOOP_BACKEND_H
#define SOCKIT_LOOP_BACKEND_H

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

#endif /* SOCKIT_LOOP_BACKEND_H */
