/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/pace.c - the open-loop schedule of `sockit bench --rate`.
 *
 * The event loop's timers have millisecond resolution, too coarse for
 * sends a few microseconds apart, so each thread's pacer is a timerfd set
 * to an absolute CLOCK_MONOTONIC time (cli_now_ns's clock, cli/clock.h) and watched on
 * the loop like a socket, with the thread's timer slack lowered to 1 ns.
 * The drivers keep the schedule (bench_sched) and ask for a wake-up at the
 * earliest time one of their idle connections is due; the pacer keeps one
 * armed time, the earliest asked for.  O(1) per request, one timerfd_settime
 * when the time moves earlier.
 */
#include "bench.h"
#include "clock.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_sched(const bench_config *cfg, long conn, uint64_t k)
{
    double idx = (double)conn + (double)k * (double)cfg->conns;

    return cfg->t_start + (uint64_t)(idx * (1e9 / cfg->rate));
}

static void on_pace(sk_io *io, int fd, unsigned events, void *arg)
{
    bench_thread *t = arg;
    uint64_t expirations;

    (void)io;
    (void)events;
    if (read(fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
        return;
    t->pace_armed = 0;
    if (!t->draining)
        t->driver->pace(t, cli_now_ns());
}

int bench_pace_open(bench_thread *t)
{
    int rc;

    t->pace_fd = -1;
    if (t->cfg->rate <= 0)
        return 0;
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    t->pace_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (t->pace_fd < 0)
        return -errno;
    rc = sk_io_start(t->loop, &t->pace_io, t->pace_fd, SK_READABLE, on_pace, t);
    if (rc < 0) {
        close(t->pace_fd);
        t->pace_fd = -1;
    }
    return rc;
}

void bench_pace_close(bench_thread *t)
{
    if (t->pace_io != NULL)
        sk_io_stop(t->pace_io);
    t->pace_io = NULL;
    if (t->pace_fd >= 0)
        close(t->pace_fd);
    t->pace_fd = -1;
}

void bench_pace_at(bench_thread *t, uint64_t when)
{
    struct itimerspec its = {{0, 0}, {0, 0}};

    if (t->pace_fd < 0 || (t->pace_armed != 0 && t->pace_armed <= when))
        return;
    if (when == 0)
        when = 1; /* 0 would disarm the timer */
    its.it_value.tv_sec = (time_t)(when / UINT64_C(1000000000));
    its.it_value.tv_nsec = (long)(when % UINT64_C(1000000000));
    if (timerfd_settime(t->pace_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        t->pace_armed = when;
}

void bench_pace_note(bench_thread *t, uint64_t sched, uint64_t now, bool waited)
{
    bench_stats *st = &t->stats;

    if (sched < t->cfg->t_measure || sched >= t->cfg->t_end)
        return;
    st->sched_sends++;
    if (waited) {
        st->waited_sends++;
        return;
    }
    if (now > sched + BENCH_LATE_NS) {
        st->late_sends++;
        if (now - sched > st->worst_late)
            st->worst_late = now - sched;
    }
}
