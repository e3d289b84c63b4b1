/* SPDX-License-Identifier: MIT */
/*
 * lib/loop/loop.c - the event loop core: descriptor handles, timers, the cached clock,
 * the wake-up descriptor and run/run_once/stop.
 *
 * Map:
 *   clock and backend choice    loop_clock_ns, pick_backend
 *   wake-up descriptor          wake_open, wake_write, wake_drain, wake_io_cb
 *   timer heap                  heap_* (binary min-heap on (due, seq))
 *   loop lifetime               sk_loop_new, sk_loop_free
 *   one iteration               sk_loop_run_once: wait, dispatch I/O, fire timers
 *   handles                     sk_io_*, sk_timer_*
 *
 * Handles stopped while the loop is dispatching (inside any callback) are
 * marked dead and freed at the end of the iteration, so a ready list or a
 * list of due timers that still points at them stays valid.  A handle
 * stopped outside a callback is freed at once.
 *
 * The wake-up descriptor is an eventfd on Linux and a non-blocking self-pipe
 * elsewhere.  sk_loop_wake and sk_loop_stop only touch atomics and write(2),
 * which is what makes them async-signal-safe.
 */
#include "loop/backend.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

/* How many ready descriptors one iteration dispatches at most. */
#define READY_MAX 256

/* Timers never wait longer than this (about 31 years), which keeps the
 * nanosecond arithmetic far from overflow. */
#define TIMER_MAX_SECONDS 1e9

struct sk_timer {
    sk_loop *loop;
    int64_t due;      /* absolute monotonic ns */
    int64_t repeat;   /* ns; 0 for a one-shot timer */
    uint64_t seq;     /* arming order: equal due times fire first-armed first */
    ptrdiff_t heap_index; /* -1 when not armed */
    bool dead;
    sk_timer_cb cb;
    void *arg;
    sk_timer *prev, *next; /* every live timer of the loop, for sk_loop_free */
    sk_timer *next_dead;
};

struct sk_loop {
    const sk__backend *be;
    void *be_state;

    sk_io **fdtab;    /* handle by descriptor number */
    size_t fdcap;

    sk_timer **heap;
    size_t nheap, capheap;
    sk_timer **fire;  /* timers due in the current iteration */
    size_t capfire;
    sk_timer *timers; /* every live timer */
    uint64_t timer_seq;

    sk_io *dead_ios;
    sk_timer *dead_timers;
    int dispatching;
    int ncallbacks;   /* user callbacks run in the current iteration */

    int64_t now;      /* cached monotonic clock, ns */
    uint64_t now_ms;  /* the same in ms, for sk_loop_now_ms */
    uint64_t ctl_calls;

    int wake_rd, wake_wr; /* the same eventfd twice on Linux */
    sk_io *wake_io;
    atomic_int wake_pending;
    atomic_int stop;
    sk_wake_cb wake_cb;
    void *wake_arg;

    sk__ready ready[READY_MAX];
};

/* ---- clock and backend choice ---------------------------------------- */

static int64_t loop_clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Converts a non-negative number of seconds into nanoseconds, or -1 for NaN,
 * negative or infinite values. */
static int64_t seconds_to_ns(double seconds)
{
    if (!(seconds >= 0.0) || seconds > TIMER_MAX_SECONDS)
        return -1;
    return (int64_t)(seconds * 1e9);
}

/* The environment variable lets tests (and users chasing a poller problem)
 * run any program on poll(2) without rebuilding. */
static const sk__backend *pick_backend(void)
{
#ifdef SK__HAVE_EPOLL
    const char *env = getenv("SK_LOOP_BACKEND");

    if (env != NULL && strcmp(env, "poll") == 0)
        return &sk__backend_poll;
    return &sk__backend_epoll;
#else
    return &sk__backend_poll;
#endif
}

/* ---- wake-up descriptor ------------------------------------------------ */

#ifndef __linux__
static int set_cloexec_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}
#endif

static int wake_open(sk_loop *loop)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    if (fd < 0)
        return -errno;
    loop->wake_rd = loop->wake_wr = fd;
    return 0;
#else
    int p[2], err;

    if (pipe(p) < 0)
        return -errno;
    err = set_cloexec_nonblock(p[0]);
    if (err == 0)
        err = set_cloexec_nonblock(p[1]);
    if (err < 0) {
        close(p[0]);
        close(p[1]);
        return err;
    }
    loop->wake_rd = p[0];
    loop->wake_wr = p[1];
    return 0;
#endif
}

static void wake_close(sk_loop *loop)
{
    if (loop->wake_wr != loop->wake_rd && loop->wake_wr >= 0)
        close(loop->wake_wr);
    if (loop->wake_rd >= 0)
        close(loop->wake_rd);
}

/* Async-signal-safe.  A full pipe or a saturated eventfd already makes the
 * loop wake up, so EAGAIN is success here. */
static void wake_write(sk_loop *loop)
{
#ifdef __linux__
    uint64_t one = 1;
    ssize_t r;

    do
        r = write(loop->wake_wr, &one, sizeof(one));
    while (r < 0 && errno == EINTR);
#else
    char one = 1;
    ssize_t r;

    do
        r = write(loop->wake_wr, &one, 1);
    while (r < 0 && errno == EINTR);
#endif
}

static void wake_drain(sk_loop *loop)
{
    char buf[64];
    ssize_t r;

    do
        r = read(loop->wake_rd, buf, sizeof(buf));
    while (r > 0 || (r < 0 && errno == EINTR));
}

/* Drains the descriptor before clearing the pending flag: a wake that
 * arrives in between either finds the flag still set (and is covered by the
 * callback about to run) or sets it again and writes, waking the next
 * iteration. */
static void wake_io_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    sk_loop *loop = arg;

    wake_drain(loop);
    if (atomic_exchange(&loop->wake_pending, 0) && loop->wake_cb != NULL) {
        loop->ncallbacks++;
        loop->wake_cb(loop, loop->wake_arg);
    }
}

/* ---- timer heap ----------------------------------------------------------- */

static bool timer_before(const sk_timer *a, const sk_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(sk_loop *loop, size_t i, sk_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = (ptrdiff_t)i;
}

static void heap_up(sk_loop *loop, size_t i)
{
    sk_timer *t = loop->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!timer_before(t, loop->heap[parent]))
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(sk_loop *loop, size_t i)
{
    sk_timer *t = loop->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= loop->nheap)
            break;
        if (child + 1 < loop->nheap && timer_before(loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!timer_before(loop->heap[child], t))
            break;
        heap_set(loop, i, loop->heap[child]);
        i = child;
    }
    heap_set(loop, i, t);
}

/* O(log n).  Fails only when growing the heap fails. */
static int heap_push(sk_loop *loop, sk_timer *t)
{
    if (loop->nheap == loop->capheap) {
        size_t cap = loop->capheap ? loop->capheap * 2 : 16;
        sk_timer **heap = realloc(loop->heap, cap * sizeof(*heap));

        if (heap == NULL)
            return -ENOMEM;
        loop->heap = heap;
        loop->capheap = cap;
    }
    t->seq = loop->timer_seq++;
    heap_set(loop, loop->nheap++, t);
    heap_up(loop, loop->nheap - 1);
    return 0;
}

/* O(log n): moves the last entry into the hole and restores the order. */
static void heap_remove(sk_loop *loop, sk_timer *t)
{
    size_t i = (size_t)t->heap_index;
    sk_timer *last = loop->heap[--loop->nheap];

    t->heap_index = -1;
    if (last == t)
        return;
    heap_set(loop, i, last);
    heap_up(loop, i);
    heap_down(loop, (size_t)last->heap_index);
}

/* Milliseconds from `now` until the first timer is due (rounded up, so a
 * timer never fires early), -1 without timers. */
static int next_timer_ms(const sk_loop *loop, int64_t now)
{
    int64_t left;

    if (loop->nheap == 0)
        return -1;
    left = loop->heap[0]->due - now;
    if (left <= 0)
        return 0;
    if (left >= (int64_t)INT32_MAX * 1000000)
        return INT32_MAX;
    return (int)((left + 999999) / 1000000);
}

/* ---- loop lifetime --------------------------------------------------------- */

int sk_loop_new(sk_loop **out)
{
    sk_loop *loop = calloc(1, sizeof(*loop));
    int err;

    if (loop == NULL)
        return -ENOMEM;
    loop->wake_rd = loop->wake_wr = -1;
    atomic_init(&loop->wake_pending, 0);
    atomic_init(&loop->stop, 0);
    loop->now = loop_clock_ns();
    loop->now_ms = (uint64_t)(loop->now / 1000000);
    loop->be = pick_backend();
    err = loop->be->init(&loop->be_state);
    if (err < 0)
        goto fail_loop;
    err = wake_open(loop);
    if (err < 0)
        goto fail_backend;
    err = sk_io_start(loop, &loop->wake_io, loop->wake_rd, SK_READABLE, wake_io_cb, loop);
    if (err < 0)
        goto fail_wake;
    *out = loop;
    return 0;

fail_wake:
    wake_close(loop);
fail_backend:
    loop->be->free(loop->be_state);
    free(loop->fdtab);
fail_loop:
    free(loop);
    return err;
}

static void free_dead(sk_loop *loop)
{
    while (loop->dead_ios != NULL) {
        sk_io *io = loop->dead_ios;

        loop->dead_ios = io->u.next_dead;
        free(io);
    }
    while (loop->dead_timers != NULL) {
        sk_timer *t = loop->dead_timers;

        loop->dead_timers = t->next_dead;
        free(t);
    }
}

void sk_loop_free(sk_loop *loop)
{
    if (loop == NULL)
        return;
    for (size_t fd = 0; fd < loop->fdcap; fd++) {
        if (loop->fdtab[fd] != NULL && !loop->fdtab[fd]->embedded)
            free(loop->fdtab[fd]);
    }
    while (loop->timers != NULL) {
        sk_timer *t = loop->timers;

        loop->timers = t->next;
        free(t);
    }
    free_dead(loop);
    wake_close(loop);
    loop->be->free(loop->be_state);
    free(loop->fdtab);
    free(loop->heap);
    free(loop->fire);
    free(loop);
}

/* ---- one iteration -------------------------------------------------------- */

static void dispatch_io(sk_loop *loop, int n)
{
    for (int i = 0; i < n; i++) {
        sk_io *io = loop->ready[i].io;
        unsigned ev;

        if (io->dead)
            continue;
        /* An earlier callback of this iteration may have paused the handle
         * or narrowed its events; report only what is still wanted. */
        ev = loop->ready[i].events & io->events;
        if (ev == 0)
            continue;
        if (io != loop->wake_io)
            loop->ncallbacks++;
        io->u.cb(io, io->fd, ev, io->arg);
    }
}

/* Takes every timer due now out of the heap first and fires them after:
 * a timer (re)armed by a callback for "now" then waits for the next
 * iteration instead of running in this one forever. */
static size_t collect_due_timers(sk_loop *loop)
{
    size_t n = 0;

    while (loop->nheap > 0 && loop->heap[0]->due <= loop->now) {
        sk_timer *t = loop->heap[0];

        if (n == loop->capfire) {
            size_t cap = loop->capfire ? loop->capfire * 2 : 16;
            sk_timer **fire = realloc(loop->fire, cap * sizeof(*fire));

            if (fire == NULL)
                break; /* the rest stay in the heap and fire next time */
            loop->fire = fire;
            loop->capfire = cap;
        }
        heap_remove(loop, t);
        loop->fire[n++] = t;
    }
    return n;
}

static void fire_timers(sk_loop *loop)
{
    size_t n = collect_due_timers(loop);

    for (size_t i = 0; i < n; i++) {
        sk_timer *t = loop->fire[i];

        /* Stopped, or re-armed by an earlier callback: not due any more. */
        if (t->dead || t->heap_index >= 0)
            continue;
        if (t->repeat > 0) {
            int64_t next = t->due + t->repeat;

            /* A late loop does not fire a burst of catch-up calls. */
            t->due = next > loop->now ? next : loop->now + t->repeat;
            /* Cannot fail: the timer just left the heap, so there is room. */
            heap_push(loop, t);
        }
        loop->ncallbacks++;
        t->cb(t, t->arg);
    }
}

/* How long one iteration may wait, in ms (-1: without limit): the caller's
 * timeout, the first timer, and not at all when a stop is pending.  A
 * limited wait starts at *start, read from the clock once for both. */
static int wait_budget_ms(sk_loop *loop, double timeout, int64_t *start)
{
    int wait_ms, tmr;

    if (timeout < 0.0 || timeout != timeout) {
        wait_ms = -1;
    } else {
        double ms = timeout * 1000.0;

        wait_ms = ms >= (double)INT32_MAX ? INT32_MAX : (int)ms;
        if ((double)wait_ms < ms)
            wait_ms++;
    }
    if (atomic_load(&loop->stop))
        wait_ms = 0;
    if (wait_ms >= 0 || loop->nheap > 0)
        *start = loop_clock_ns();
    tmr = next_timer_ms(loop, *start);
    if (tmr >= 0 && (wait_ms < 0 || tmr < wait_ms))
        wait_ms = tmr;
    return wait_ms;
}

/* Waits for readiness, retrying a wait a signal interrupted for the rest
 * of its time: the caller never sees EINTR, and a signal does not cut a
 * timeout short.  (A handler that wants the loop back calls sk_loop_wake
 * or sk_loop_stop, which make the next wait return at once.) */
static int wait_ready(sk_loop *loop, int wait_ms, int64_t start)
{
    int64_t deadline = wait_ms < 0 ? 0 : start + (int64_t)wait_ms * 1000000;

    for (;;) {
        int n = loop->be->wait(loop->be_state, wait_ms, loop->ready, READY_MAX);
        int64_t left;

        if (n != -EINTR)
            return n;
        if (wait_ms < 0)
            continue;
        left = deadline - loop_clock_ns();
        if (left <= 0)
            return 0;
        wait_ms = (int)((left + 999999) / 1000000);
    }
}

int sk_loop_run_once(sk_loop *loop, double timeout)
{
    int64_t start = 0;
    int wait_ms = wait_budget_ms(loop, timeout, &start);
    int n = wait_ready(loop, wait_ms, start);

    if (n < 0)
        return n;
    loop->now = loop_clock_ns();
    loop->now_ms = (uint64_t)(loop->now / 1000000);
    loop->ncallbacks = 0;
    loop->dispatching++;
    dispatch_io(loop, n);
    fire_timers(loop);
    loop->dispatching--;
    if (loop->dispatching == 0)
        free_dead(loop);
    return loop->ncallbacks;
}

int sk_loop_run(sk_loop *loop)
{
    int err = 0;

    while (!atomic_load(&loop->stop)) {
        err = sk_loop_run_once(loop, SK_TIMEOUT_NONE);
        if (err < 0)
            break;
    }
    atomic_store(&loop->stop, 0);
    return err < 0 ? err : 0;
}

void sk_loop_stop(sk_loop *loop)
{
    int saved = errno;

    atomic_store(&loop->stop, 1);
    wake_write(loop);
    errno = saved;
}

void sk_loop_set_wake_cb(sk_loop *loop, sk_wake_cb cb, void *arg)
{
    loop->wake_cb = cb;
    loop->wake_arg = arg;
}

void sk_loop_wake(sk_loop *loop)
{
    int saved = errno;

    if (!atomic_exchange(&loop->wake_pending, 1))
        wake_write(loop);
    errno = saved;
}

uint64_t sk_loop_now_ms(const sk_loop *loop)
{
    return loop->now_ms;
}

const char *sk_loop_backend(const sk_loop *loop)
{
    return loop->be->name;
}

uint64_t sk__loop_ctl_calls(const sk_loop *loop)
{
    return loop->ctl_calls;
}

/* ---- descriptor handles ------------------------------------------------------ */

static int fdtab_reserve(sk_loop *loop, int fd)
{
    size_t need = (size_t)fd + 1, cap;
    sk_io **tab;

    if (need <= loop->fdcap)
        return 0;
    cap = loop->fdcap ? loop->fdcap : 64;
    while (cap < need)
        cap *= 2;
    tab = realloc(loop->fdtab, cap * sizeof(*tab));
    if (tab == NULL)
        return -ENOMEM;
    memset(tab + loop->fdcap, 0, (cap - loop->fdcap) * sizeof(*tab));
    loop->fdtab = tab;
    loop->fdcap = cap;
    return 0;
}

static int backend_ctl(sk_loop *loop, sk_io *io, int op, unsigned events)
{
    loop->ctl_calls++;
    return loop->be->ctl(loop->be_state, io, op, events);
}

/* Checks that `fd` may be watched and makes room for it in the table.
 * Returns 0 or -errno. */
static int io_admit(sk_loop *loop, int fd, unsigned events)
{
    if (fd < 0)
        return -EBADF;
    if ((size_t)fd < loop->fdcap && loop->fdtab[fd] != NULL)
        return -EEXIST;
    /* A paused handle is not in the poller, and poll(2) takes any number,
     * so in those cases nothing else would notice a bad descriptor. */
    if ((events == 0 || loop->be == &sk__backend_poll) && fcntl(fd, F_GETFD) < 0)
        return -errno;
    return fdtab_reserve(loop, fd);
}

/* Registers the filled-in handle `io` with the poller and the table. */
static int io_register(sk_loop *loop, sk_io *io, unsigned events)
{
    if (events != 0) {
        int err = backend_ctl(loop, io, SK__CTL_ADD, events);

        if (err < 0)
            return err;
    }
    io->events = (unsigned char)events;
    loop->fdtab[io->fd] = io;
    return 0;
}

int sk_io_start(sk_loop *loop, sk_io **out, int fd, unsigned events, sk_io_cb cb,
                void *arg)
{
    sk_io *io;
    int err;

    events &= SK_READABLE | SK_WRITABLE;
    err = io_admit(loop, fd, events);
    if (err < 0)
        return err;
    io = malloc(sizeof(*io));
    if (io == NULL)
        return -ENOMEM;
    *io = (sk_io){ .loop = loop, .fd = fd, .slot = -1, .u.cb = cb, .arg = arg };
    err = io_register(loop, io, events);
    if (err < 0) {
        free(io);
        return err;
    }
    *out = io;
    return 0;
}

int sk__io_start_embedded(sk_loop *loop, sk_io *io, int fd, unsigned events,
                          sk_io_cb cb, void *arg)
{
    int err;

    /* Internal callers only: the server framework always passes these. */
    assert(loop != NULL && io != NULL && cb != NULL);
    events &= SK_READABLE | SK_WRITABLE;
    err = io_admit(loop, fd, events);
    if (err < 0)
        return err;
    *io = (sk_io){ .loop = loop, .fd = fd, .slot = -1, .u.cb = cb, .arg = arg,
                   .embedded = true };
    return io_register(loop, io, events);
}

bool sk__loop_dispatching(const sk_loop *loop)
{
    return loop->dispatching > 0;
}

int sk_io_set_events(sk_io *io, unsigned events)
{
    int op, err;

    assert(io != NULL && io->loop != NULL);
    events &= SK_READABLE | SK_WRITABLE;
    if (io->dead)
        return -EBADF;
    if (events == io->events)
        return 0;
    op = io->events == 0 ? SK__CTL_ADD : events == 0 ? SK__CTL_DEL : SK__CTL_MOD;
    err = backend_ctl(io->loop, io, op, events);
    if (err < 0)
        return err;
    io->events = (unsigned char)events;
    return 0;
}

void sk_io_stop(sk_io *io)
{
    sk_loop *loop;

    if (io == NULL || io->dead)
        return;
    loop = io->loop;
    if (io->events != 0)
        backend_ctl(loop, io, SK__CTL_DEL, 0);
    loop->fdtab[io->fd] = NULL;
    io->dead = true;
    io->events = 0;
    if (io->embedded)
        return; /* the owner frees it, after this iteration */
    if (loop->dispatching > 0) {
        io->u.next_dead = loop->dead_ios;
        loop->dead_ios = io;
    } else {
        free(io);
    }
}

/* ---- timers ------------------------------------------------------------------ */

int sk_timer_start(sk_loop *loop, sk_timer **out, double after, double repeat,
                   sk_timer_cb cb, void *arg)
{
    int64_t after_ns = seconds_to_ns(after);
    int64_t repeat_ns = repeat <= 0.0 ? 0 : seconds_to_ns(repeat);
    sk_timer *t;
    int err;

    if (after_ns < 0 || repeat_ns < 0 || cb == NULL)
        return -EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    *t = (sk_timer){ .loop = loop, .repeat = repeat_ns, .heap_index = -1,
                     .cb = cb, .arg = arg };
    t->due = loop_clock_ns() + after_ns;
    err = heap_push(loop, t);
    if (err < 0) {
        free(t);
        return err;
    }
    t->next = loop->timers;
    if (loop->timers != NULL)
        loop->timers->prev = t;
    loop->timers = t;
    *out = t;
    return 0;
}

int sk_timer_again(sk_timer *t, double after)
{
    int64_t after_ns = seconds_to_ns(after);
    sk_loop *loop = t->loop;

    if (after_ns < 0 || t->dead)
        return -EINVAL;
    if (t->heap_index >= 0)
        heap_remove(loop, t);
    t->due = loop_clock_ns() + after_ns;
    return heap_push(loop, t);
}

void sk_timer_stop(sk_timer *t)
{
    sk_loop *loop;

    if (t == NULL || t->dead)
        return;
    loop = t->loop;
    if (t->heap_index >= 0)
        heap_remove(loop, t);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        loop->timers = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->dead = true;
    if (loop->dispatching > 0) {
        t->next_dead = loop->dead_timers;
        loop->dead_timers = t;
    } else {
        free(t);
    }
}
