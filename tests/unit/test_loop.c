/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_loop.c - the event loop: descriptor readiness, pausing without system
 * calls, timers (order, repeat, accuracy, re-arming), stop and wake from
 * other threads and from a signal handler, and handles stopped inside
 * callbacks.  Scenarios ending in _poll run the same code on the poll(2)
 * backend, selected through SK_LOOP_BACKEND.
 */
#include "sk_test.h"
#include "loop/loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void use_poll(void)
{
    setenv("SK_LOOP_BACKEND", "poll", 1);
}

static sk_loop *new_loop(void)
{
    sk_loop *loop = NULL;

    CHECK_OK(sk_loop_new(&loop));
    CHECK(loop != NULL);
    return loop;
}

static void new_pair(int sv[2])
{
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0
                 ? -errno : 0);
}

/* ---- descriptor readiness -------------------------------------------------- */

struct io_rec {
    int calls;
    unsigned events;
    char buf[64];
    ssize_t got;
};

static void rec_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    struct io_rec *r = arg;

    r->calls++;
    r->events = events;
    if (events & SK_READABLE)
        r->got = read(fd, r->buf, sizeof(r->buf));
}

static void scenario_readable(void)
{
    sk_loop *loop = new_loop();
    struct io_rec rec = { 0 };
    sk_io *io = NULL;
    int sv[2];

    new_pair(sv);
    CHECK_OK(sk_io_start(loop, &io, sv[0], SK_READABLE, rec_cb, &rec));
    CHECK_EQ(sk_loop_run_once(loop, 0.0), 0);
    CHECK_EQ(rec.calls, 0);
    CHECK_EQ(write(sv[1], "ping", 4), 4);
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(rec.calls, 1);
    CHECK_EQ(rec.events, SK_READABLE);
    CHECK_EQ(rec.got, 4);
    CHECK_MEM(rec.buf, "ping", 4);
    /* The peer's close is reported as readable (and writable), and the
     * read sees end of stream. */
    close(sv[1]);
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(rec.got, 0);
    sk_io_stop(io);
    sk_loop_free(loop);
    close(sv[0]);
}

SK_TEST(io_readable)
{
    scenario_readable();
}

SK_TEST(io_readable_poll)
{
    use_poll();
    scenario_readable();
}

static void scenario_pause(void)
{
    sk_loop *loop = new_loop();
    struct io_rec rec = { 0 };
    sk_io *io = NULL;
    int sv[2];

    new_pair(sv);
    CHECK_OK(sk_io_start(loop, &io, sv[0], SK_WRITABLE, rec_cb, &rec));
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(rec.events, SK_WRITABLE);
    /* Paused: even a hang-up must not be reported (no busy loop). */
    CHECK_OK(sk_io_set_events(io, 0));
    close(sv[1]);
    CHECK_EQ(sk_loop_run_once(loop, 0.05), 0);
    CHECK_EQ(rec.calls, 1);
    CHECK_OK(sk_io_set_events(io, SK_READABLE));
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(rec.calls, 2);
    CHECK_EQ(rec.got, 0);
    sk_loop_free(loop); /* frees the still registered handle */
    close(sv[0]);
}

SK_TEST(io_pause_resume)
{
    scenario_pause();
}

SK_TEST(io_pause_resume_poll)
{
    use_poll();
    scenario_pause();
}

static void scenario_set_events_cost(void)
{
    sk_loop *loop = new_loop();
    struct io_rec rec = { 0 };
    sk_io *io = NULL;
    uint64_t before;
    int sv[2];

    new_pair(sv);
    CHECK_OK(sk_io_start(loop, &io, sv[0], SK_READABLE, rec_cb, &rec));
    before = sk__loop_ctl_calls(loop);
    for (int i = 0; i < 10000; i++)
        CHECK_OK(sk_io_set_events(io, SK_READABLE));
    CHECK_EQ(sk__loop_ctl_calls(loop), before);
    CHECK_OK(sk_io_set_events(io, SK_READABLE | SK_WRITABLE));
    CHECK_EQ(sk__loop_ctl_calls(loop), before + 1);
    for (int i = 0; i < 100; i++)
        CHECK_OK(sk_io_set_events(io, SK_READABLE | SK_WRITABLE));
    CHECK_EQ(sk__loop_ctl_calls(loop), before + 1);
    CHECK_OK(sk_io_set_events(io, 0));
    CHECK_OK(sk_io_set_events(io, 0));
    CHECK_EQ(sk__loop_ctl_calls(loop), before + 2);
    sk_io_stop(io);
    /* A paused handle is not in the poller: stopping it costs nothing. */
    CHECK_EQ(sk__loop_ctl_calls(loop), before + 2);
    sk_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

SK_TEST(set_events_unchanged_no_syscall)
{
    scenario_set_events_cost();
}

SK_TEST(set_events_unchanged_no_syscall_poll)
{
    use_poll();
    scenario_set_events_cost();
}

SK_TEST(io_errors)
{
    sk_loop *loop = new_loop();
    struct io_rec rec = { 0 };
    sk_io *io = NULL, *io2 = NULL;
    int sv[2];

    new_pair(sv);
    CHECK_OK(sk_io_start(loop, &io, sv[0], SK_READABLE, rec_cb, &rec));
    CHECK_ERR(sk_io_start(loop, &io2, sv[0], SK_READABLE, rec_cb, &rec), -EEXIST);
    CHECK_ERR(sk_io_start(loop, &io2, -1, SK_READABLE, rec_cb, &rec), -EBADF);
    CHECK_ERR(sk_io_start(loop, &io2, 1000, SK_READABLE, rec_cb, &rec), -EBADF);
    CHECK_ERR(sk_io_start(loop, &io2, 1001, 0, rec_cb, &rec), -EBADF);
    sk_io_stop(io);
    /* Once stopped, the descriptor may be watched again. */
    CHECK_OK(sk_io_start(loop, &io2, sv[0], SK_READABLE, rec_cb, &rec));
    /* epoll on Linux, unless the library was built with SK_FORCE_POLL. */
    CHECK(strcmp(sk_loop_backend(loop), "epoll") == 0 || strcmp(sk_loop_backend(loop), "poll") == 0);
    sk_loop_free(loop);
    close(sv[0]);
    close(sv[1]);
}

SK_TEST(backend_env_selects_poll)
{
    sk_loop *loop;

    use_poll();
    loop = new_loop();
    CHECK_STR(sk_loop_backend(loop), "poll");
    sk_loop_free(loop);
}

/* Many descriptors ready at once, more than one wait reports: every one is
 * served within a few iterations (the poll backend rotates its start). */
#define MANY 300

static void count_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    int *seen = arg;
    char c;

    if (read(fd, &c, 1) == 1)
        seen[0]++;
    sk_io_stop(io);
}

static void scenario_many(void)
{
    sk_loop *loop = new_loop();
    int sv[MANY][2], seen = 0;

    for (int i = 0; i < MANY; i++) {
        sk_io *io;

        new_pair(sv[i]);
        CHECK_OK(sk_io_start(loop, &io, sv[i][0], SK_READABLE, count_cb, &seen));
        CHECK_EQ(write(sv[i][1], "x", 1), 1);
    }
    for (int i = 0; i < 10 && seen < MANY; i++)
        CHECK_OK(sk_loop_run_once(loop, 1.0));
    CHECK_EQ(seen, MANY);
    sk_loop_free(loop);
    for (int i = 0; i < MANY; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
}

SK_TEST(many_ready)
{
    scenario_many();
}

SK_TEST(many_ready_poll)
{
    use_poll();
    scenario_many();
}

/* ---- timers --------------------------------------------------------------- */

struct order {
    int fired[16];
    double when[16];
    int n;
    double t0;
};

struct tag {
    struct order *o;
    int id;
};

static void order_cb(sk_timer *t, void *arg)
{
    struct tag *tag = arg;

    tag->o->when[tag->o->n] = sk_test_now() - tag->o->t0;
    tag->o->fired[tag->o->n++] = tag->id;
}

static void scenario_timer_order(void)
{
    sk_loop *loop = new_loop();
    struct order o = { .t0 = sk_test_now() };
    struct tag tags[5] = { { &o, 0 }, { &o, 1 }, { &o, 2 }, { &o, 3 }, { &o, 4 } };
    double after[5] = { 0.08, 0.02, 0.06, 0.04, 0.02 };
    sk_timer *t[5];

    for (int i = 0; i < 5; i++)
        CHECK_OK(sk_timer_start(loop, &t[i], after[i], 0, order_cb, &tags[i]));
    while (o.n < 5 && sk_test_now() - o.t0 < 5.0)
        CHECK_OK(sk_loop_run_once(loop, SK_TIMEOUT_NONE));
    CHECK_EQ(o.n, 5);
    /* Equal due times fire in the order they were started. */
    CHECK_EQ(o.fired[0], 1);
    CHECK_EQ(o.fired[1], 4);
    CHECK_EQ(o.fired[2], 3);
    CHECK_EQ(o.fired[3], 2);
    CHECK_EQ(o.fired[4], 0);
    for (int i = 0; i < 5; i++)
        CHECK(o.when[i] >= after[o.fired[i]]);
    CHECK_TIME(o.when[4], 0.08, 2.0);
    /* One-shot timers stay allocated after firing until stopped. */
    for (int i = 0; i < 5; i++)
        sk_timer_stop(t[i]);
    sk_loop_free(loop);
}

SK_TEST(timer_order)
{
    scenario_timer_order();
}

SK_TEST(timer_order_poll)
{
    use_poll();
    scenario_timer_order();
}

/*
 * A timer's firing time: never early, and late by less than 50 ms.  On a
 * loaded machine the scheduler alone can be later than that now and then,
 * so lateness gets three attempts; earliness gets none.
 */
static struct order acc_order;
static struct tag acc_tag = { &acc_order, 7 };

/* Arms `*t` (started on first use, re-armed after) and returns how long it
 * took to fire. */
static double measure_timer(sk_loop *loop, sk_timer **t, double after)
{
    acc_order = (struct order){ .t0 = sk_test_now() };
    if (*t == NULL)
        CHECK_OK(sk_timer_start(loop, t, after, 0, order_cb, &acc_tag));
    else
        CHECK_OK(sk_timer_again(*t, after));
    while (acc_order.n < 1)
        CHECK_OK(sk_loop_run_once(loop, SK_TIMEOUT_NONE));
    CHECK(acc_order.when[0] >= after);
    return acc_order.when[0];
}

SK_TEST(timer_accuracy)
{
    sk_loop *loop = new_loop();
    sk_timer *t = NULL;
    double late = 1.0;

    for (int i = 0; i < 3 && late > 0.05; i++) {
        double when = measure_timer(loop, &t, 0.25);

        late = when - 0.25 < late ? when - 0.25 : late;
        printf("timer of 0.25 s fired after %.4f s\n", when);
    }
    CHECK_TIME(late, 0.0, 0.05);
    /* The same one-shot timer, re-armed (it stayed allocated). */
    late = 1.0;
    for (int i = 0; i < 3 && late > 0.05; i++) {
        double when = measure_timer(loop, &t, 0.1);

        late = when - 0.1 < late ? when - 0.1 : late;
    }
    CHECK_TIME(late, 0.0, 0.05);
    sk_loop_free(loop); /* frees the timer too */
}

struct repeat_state {
    int fires;
    double first, last;
};

static void repeat_cb(sk_timer *t, void *arg)
{
    struct repeat_state *r = arg;

    if (r->fires++ == 0)
        r->first = sk_test_now();
    r->last = sk_test_now();
    if (r->fires == 5)
        sk_timer_stop(t); /* inside its own callback */
}

static void scenario_repeat(void)
{
    sk_loop *loop = new_loop();
    struct repeat_state r = { 0 };
    double t0 = sk_test_now();
    sk_timer *t;

    CHECK_OK(sk_timer_start(loop, &t, 0.01, 0.02, repeat_cb, &r));
    while (r.fires < 5 && sk_test_now() - t0 < 10.0)
        CHECK_OK(sk_loop_run_once(loop, 0.3));
    CHECK_EQ(r.fires, 5);
    /* It stopped itself: nothing fires any more. */
    CHECK_EQ(sk_loop_run_once(loop, 0.1), 0);
    CHECK_EQ(r.fires, 5);
    /* The schedule is anchored at the start: firing k is due at
     * 0.01 + 0.02 k s, never earlier, whatever the lateness of the others. */
    CHECK_TIME(r.first - t0, 0.01, 2.0);
    CHECK_TIME(r.last - t0, 0.09, 2.0);
    sk_loop_free(loop);
}

SK_TEST(timer_repeat)
{
    scenario_repeat();
}

SK_TEST(timer_repeat_poll)
{
    use_poll();
    scenario_repeat();
}

SK_TEST(timer_errors)
{
    sk_loop *loop = new_loop();
    sk_timer *t = NULL;
    struct order o = { 0 };
    struct tag tag = { &o, 0 };

    CHECK_ERR(sk_timer_start(loop, &t, -1.0, 0, order_cb, &tag), -EINVAL);
    CHECK_ERR(sk_timer_start(loop, &t, 0.0 / 0.0, 0, order_cb, &tag), -EINVAL);
    CHECK_ERR(sk_timer_start(loop, &t, 1.0, 0.0 / 0.0, order_cb, &tag), -EINVAL);
    CHECK_ERR(sk_timer_start(loop, &t, 1.0, 0, NULL, &tag), -EINVAL);
    CHECK_OK(sk_timer_start(loop, &t, 1.0, 0, order_cb, &tag));
    CHECK_ERR(sk_timer_again(t, -0.5), -EINVAL);
    sk_timer_stop(t);
    sk_loop_free(loop);
}

/* A timer armed for "now" inside a timer callback runs on the next
 * iteration, not in the same one (no endless iteration). */
static int zero_fires;

static void rearm_zero_cb(sk_timer *t, void *arg)
{
    zero_fires++;
    CHECK_OK(sk_timer_again(t, 0.0));
}

SK_TEST(timer_zero_rearm_next_iteration)
{
    sk_loop *loop = new_loop();
    sk_timer *t;

    CHECK_OK(sk_timer_start(loop, &t, 0.0, 0, rearm_zero_cb, NULL));
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(zero_fires, 1);
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(zero_fires, 2);
    sk_loop_free(loop);
}

/*
 * Thousands of timers in random order fire in due-time order (the heap).
 * Due time is the loop's clock at the start call plus `after`, and that
 * clock never goes back, so: a timer started after another with the same or
 * a longer delay must not fire before it.  The check needs no clock of its
 * own, which keeps it exact on a slow or preempted run.
 */
enum { HEAP_N = 5000 };
static int heap_after_ms[HEAP_N];
static bool heap_done[HEAP_N];
static int heap_fired;
static int heap_bad;

static void heap_cb(sk_timer *t, void *arg)
{
    int i = (int)(intptr_t)arg;

    for (int j = 0; j < i; j++) {
        if (!heap_done[j] && heap_after_ms[j] <= heap_after_ms[i]) {
            heap_bad++;
            break;
        }
    }
    heap_done[i] = true;
    heap_fired++;
    sk_timer_stop(t);
}

SK_TEST(timer_heap_many)
{
    sk_loop *loop = new_loop();
    unsigned seed = 12345;
    double t0 = sk_test_now();

    for (int i = 0; i < HEAP_N; i++) {
        sk_timer *t;

        seed = seed * 1103515245u + 12345u;
        heap_after_ms[i] = (int)((seed >> 8) % 200);
        CHECK_OK(sk_timer_start(loop, &t, heap_after_ms[i] / 1000.0, 0, heap_cb,
                                (void *)(intptr_t)i));
        /* Stop every tenth at once, to exercise removal from the middle. */
        if (i % 10 == 9) {
            sk_timer_stop(t);
            heap_done[i] = true;
            heap_fired++;
        }
    }
    while (heap_fired < HEAP_N && sk_test_now() - t0 < 30.0)
        CHECK_OK(sk_loop_run_once(loop, SK_TIMEOUT_NONE));
    CHECK_EQ(heap_fired, HEAP_N);
    CHECK_EQ(heap_bad, 0);
    sk_loop_free(loop);
}

/* ---- stop and wake --------------------------------------------------------- */

static void *stopper(void *arg)
{
    sk_test_sleep_ms(50);
    sk_loop_stop(arg);
    return NULL;
}

static void scenario_stop_thread(void)
{
    sk_loop *loop = new_loop();
    pthread_t th;
    double t0 = sk_test_now();

    CHECK_EQ(pthread_create(&th, NULL, stopper, loop), 0);
    CHECK_OK(sk_loop_run(loop));
    CHECK_TIME(sk_test_now() - t0, 0.04, 2.0);
    pthread_join(th, NULL);
    /* The stop is consumed: a second run waits again until told. */
    t0 = sk_test_now();
    CHECK_EQ(pthread_create(&th, NULL, stopper, loop), 0);
    CHECK_OK(sk_loop_run(loop));
    CHECK_TIME(sk_test_now() - t0, 0.04, 2.0);
    pthread_join(th, NULL);
    sk_loop_free(loop);
}

SK_TEST(stop_from_thread)
{
    scenario_stop_thread();
}

SK_TEST(stop_from_thread_poll)
{
    use_poll();
    scenario_stop_thread();
}

static void stop_timer_cb(sk_timer *t, void *arg)
{
    sk_loop_stop(arg);
}

SK_TEST(stop_before_run_and_from_callback)
{
    sk_loop *loop = new_loop();
    sk_timer *t;
    double t0 = sk_test_now();

    sk_loop_stop(loop);
    CHECK_OK(sk_loop_run(loop)); /* returns at once */
    CHECK_TIME(sk_test_now() - t0, 0.0, 1.0);
    CHECK_OK(sk_timer_start(loop, &t, 0.03, 0, stop_timer_cb, loop));
    CHECK_OK(sk_loop_run(loop));
    CHECK_TIME(sk_test_now() - t0, 0.03, 2.0);
    sk_loop_free(loop);
}

static int wake_calls;

static void wake_count_cb(sk_loop *loop, void *arg)
{
    wake_calls++;
    if (arg != NULL)
        sk_loop_stop(loop);
}

SK_TEST(wake_coalesces)
{
    sk_loop *loop = new_loop();

    sk_loop_set_wake_cb(loop, wake_count_cb, NULL);
    for (int i = 0; i < 100; i++)
        sk_loop_wake(loop);
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(wake_calls, 1);
    CHECK_EQ(sk_loop_run_once(loop, 0.05), 0);
    CHECK_EQ(wake_calls, 1);
    sk_loop_wake(loop);
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(wake_calls, 2);
    sk_loop_free(loop);
}

struct waker {
    sk_loop *loop;
    int n;
};

static void *waker_thread(void *arg)
{
    struct waker *w = arg;

    for (int i = 0; i < w->n; i++) {
        sk_loop_wake(w->loop);
        if (i % 100 == 0)
            sk_test_sleep_ms(1);
    }
    return NULL;
}

static void drain_wake_cb(sk_loop *loop, void *arg)
{
    wake_calls++;
}

/* Wakes from another thread are never lost: after the last one, the
 * callback runs at least once more. */
SK_TEST(wake_from_thread)
{
    sk_loop *loop = new_loop();
    struct waker w = { loop, 2000 };
    pthread_t th;
    int before;

    sk_loop_set_wake_cb(loop, drain_wake_cb, NULL);
    CHECK_EQ(pthread_create(&th, NULL, waker_thread, &w), 0);
    for (int i = 0; i < 200; i++)
        CHECK_OK(sk_loop_run_once(loop, 0.01));
    pthread_join(th, NULL);
    CHECK_OK(sk_loop_run_once(loop, 0.01));
    before = wake_calls;
    CHECK(before >= 1);
    sk_loop_wake(loop);
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(wake_calls, before + 1);
    sk_loop_free(loop);
}

static sk_loop *signal_loop;

static void on_alarm(int sig)
{
    sk_loop_wake(signal_loop);
}

static void scenario_wake_signal(void)
{
    struct sigaction sa = { 0 };
    struct itimerval it = { { 0, 0 }, { 0, 50000 } };
    double t0 = sk_test_now();

    signal_loop = new_loop();
    sk_loop_set_wake_cb(signal_loop, wake_count_cb, signal_loop);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGALRM, &sa, NULL));
    CHECK_OK(setitimer(ITIMER_REAL, &it, NULL));
    CHECK_OK(sk_loop_run(signal_loop));
    CHECK_EQ(wake_calls, 1);
    CHECK_TIME(sk_test_now() - t0, 0.04, 2.0);
    sk_loop_free(signal_loop);
}

SK_TEST(wake_from_signal_handler)
{
    scenario_wake_signal();
}

SK_TEST(wake_from_signal_handler_poll)
{
    use_poll();
    scenario_wake_signal();
}

static void on_alarm_stop(int sig)
{
    sk_loop_stop(signal_loop);
}

SK_TEST(stop_from_signal_handler)
{
    struct sigaction sa = { 0 };
    struct itimerval it = { { 0, 0 }, { 0, 50000 } };

    signal_loop = new_loop();
    sa.sa_handler = on_alarm_stop;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGALRM, &sa, NULL));
    CHECK_OK(setitimer(ITIMER_REAL, &it, NULL));
    CHECK_OK(sk_loop_run(signal_loop));
    sk_loop_free(signal_loop);
}

/* A signal whose handler neither wakes nor stops the loop does not cut a
 * wait short: the interrupted wait resumes for the rest of its time. */
static volatile sig_atomic_t alarms;

static void on_alarm_count(int sig)
{
    alarms++;
}

static void scenario_eintr_keeps_waiting(void)
{
    struct sigaction sa = { 0 };
    struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    sk_loop *loop = new_loop();
    double t0;

    sa.sa_handler = on_alarm_count;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGALRM, &sa, NULL));
    CHECK_OK(setitimer(ITIMER_REAL, &it, NULL));
    t0 = sk_test_now();
    CHECK_EQ(sk_loop_run_once(loop, 0.2), 0);
    CHECK_TIME(sk_test_now() - t0, 0.2, 2.0);
    CHECK_OK(setitimer(ITIMER_REAL, &off, NULL));
    CHECK(alarms >= 2);
    sk_loop_free(loop);
}

SK_TEST(eintr_does_not_cut_wait_short)
{
    scenario_eintr_keeps_waiting();
}

SK_TEST(eintr_does_not_cut_wait_short_poll)
{
    use_poll();
    scenario_eintr_keeps_waiting();
}

/* ---- handles stopped inside callbacks ------------------------------------------ */

struct killer {
    sk_io *self;
    sk_io *other;      /* stopped by whichever callback runs first */
    sk_timer *victim;  /* a due timer stopped before it fires */
    int *calls;
};

static void killer_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    struct killer *k = arg;

    (*k->calls)++;
    sk_io_stop(k->other);
    sk_io_stop(io);
    sk_timer_stop(k->victim);
    k->other = NULL;
    k->victim = NULL;
}

static int victim_fired;

static void victim_cb(sk_timer *t, void *arg)
{
    victim_fired++;
}

static void scenario_stop_inside(void)
{
    sk_loop *loop = new_loop();
    int a[2], b[2], calls = 0;
    struct killer ka = { .calls = &calls }, kb = { .calls = &calls };
    sk_timer *victim;

    new_pair(a);
    new_pair(b);
    CHECK_OK(sk_timer_start(loop, &victim, 0.0, 0, victim_cb, NULL));
    CHECK_OK(sk_io_start(loop, &ka.self, a[0], SK_READABLE, killer_cb, &ka));
    CHECK_OK(sk_io_start(loop, &kb.self, b[0], SK_READABLE, killer_cb, &kb));
    ka.other = kb.self;
    kb.other = ka.self;
    ka.victim = kb.victim = victim;
    CHECK_EQ(write(a[1], "x", 1), 1);
    CHECK_EQ(write(b[1], "x", 1), 1);
    sk_test_sleep_ms(5);
    /* Both descriptors are ready in the same iteration; the first callback
     * stops the other handle (and itself, and a due timer), so exactly one
     * callback runs and nothing touches freed memory. */
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(calls, 1);
    CHECK_EQ(victim_fired, 0);
    CHECK_EQ(sk_loop_run_once(loop, 0.05), 0);
    CHECK_EQ(calls, 1);
    sk_loop_free(loop);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

SK_TEST(stop_handles_inside_callbacks)
{
    scenario_stop_inside();
}

SK_TEST(stop_handles_inside_callbacks_poll)
{
    use_poll();
    scenario_stop_inside();
}

/* Stopping a handle and watching a new descriptor with the same number in
 * the same callback: the new handle gets only its own events. */
struct reuse {
    sk_io *io;
    int fd;
    int sv[2];
    struct io_rec rec;
};

static void reuse_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    struct reuse *r = arg;

    sk_io_stop(io);
    close(fd);
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, r->sv));
    CHECK_OK(sk_io_start(io->loop, &r->io, r->sv[0], SK_READABLE, rec_cb, &r->rec));
}

SK_TEST(stop_and_restart_in_callback)
{
    sk_loop *loop = new_loop();
    struct reuse r = { 0 };
    int sv[2];
    sk_io *io;

    new_pair(sv);
    CHECK_OK(sk_io_start(loop, &io, sv[0], SK_READABLE, reuse_cb, &r));
    CHECK_EQ(write(sv[1], "x", 1), 1);
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(sk_loop_run_once(loop, 0.05), 0);
    CHECK_EQ(r.rec.calls, 0);
    CHECK_EQ(write(r.sv[1], "y", 1), 1);
    CHECK_EQ(sk_loop_run_once(loop, 1.0), 1);
    CHECK_EQ(r.rec.calls, 1);
    sk_loop_free(loop);
    close(sv[1]);
    close(r.sv[0]);
    close(r.sv[1]);
}

SK_TEST(now_ms_advances)
{
    sk_loop *loop = new_loop();
    uint64_t a = sk_loop_now_ms(loop), b;

    CHECK_OK(sk_loop_run_once(loop, 0.03));
    b = sk_loop_now_ms(loop);
    CHECK(b >= a + 25);
    CHECK(b <= a + 2000);
    sk_loop_free(loop);
}
