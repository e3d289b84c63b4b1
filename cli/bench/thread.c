/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/thread.c - one load-generating thread of `sockit bench`: its event
 * loop, the phase changes on the shared timeline, and the counters every
 * driver reports into.
 *
 * A repeating tick timer moves the thread through the phases: it switches
 * recording on at the end of the warm-up, tells the driver to drain at the
 * end of the measurement (or when the user interrupts), lets the driver
 * fail operations that outlived the timeout, and stops the loop once the
 * driver is idle or the hard stop has come.
 */
#include "bench.h"
#include "clock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#define TICK_SECONDS 0.02

/* Operations finishing before the warm-up ends or after the measurement
 * ends are done but not recorded. */
static bool in_window(const bench_thread *t, uint64_t now)
{
    return !t->draining && now >= t->cfg->t_measure && now < t->cfg->t_end;
}

void bench_count_op(bench_thread *t, uint64_t now, uint64_t latency, uint64_t bytes)
{
    if (!in_window(t, now))
        return;
    t->stats.ops++;
    t->stats.bytes += bytes;
    bench_hist_record(t->hist, latency);
    bench_ival_count(t, now, (int64_t)latency, 1, bytes);
    atomic_store_explicit(&t->live_ops, t->stats.ops, memory_order_relaxed);
    atomic_store_explicit(&t->live_bytes, t->stats.bytes, memory_order_relaxed);
}

void bench_count_connect(bench_thread *t, uint64_t now, uint64_t latency)
{
    if (in_window(t, now) && t->conn_hist != NULL)
        bench_hist_record(t->conn_hist, latency);
}

void bench_count_bytes(bench_thread *t, uint64_t now, uint64_t ops, uint64_t bytes)
{
    if (!in_window(t, now))
        return;
    t->stats.ops += ops;
    t->stats.bytes += bytes;
    bench_ival_count(t, now, -1, ops, bytes);
    atomic_store_explicit(&t->live_ops, t->stats.ops, memory_order_relaxed);
    atomic_store_explicit(&t->live_bytes, t->stats.bytes, memory_order_relaxed);
}

void bench_error(bench_thread *t, bench_err_kind kind, const char *fmt, ...)
{
    va_list ap;

    switch (kind) {
    case BENCH_ERR_CONN:
        t->stats.conn_errors++;
        break;
    case BENCH_ERR_DATA:
        t->stats.data_errors++;
        break;
    case BENCH_ERR_TIMEOUT:
        t->stats.timeouts++;
        break;
    }
    atomic_store_explicit(&t->live_errors,
                          t->stats.conn_errors + t->stats.data_errors + t->stats.timeouts,
                          memory_order_relaxed);
    if (t->stats.has_first)
        return;
    t->stats.has_first = true;
    t->stats.first_ns = cli_now_ns();
    va_start(ap, fmt);
    vsnprintf(t->stats.first, sizeof(t->stats.first), fmt, ap);
    va_end(ap);
}

int bench_sock_connect(const bench_config *cfg, int type, sk_sock **out)
{
    sk_sock *s = NULL;
    int rc;

#ifdef SOCK_NONBLOCK
    /* Non-blocking from socket(2) on: two fcntl calls fewer per connect,
     * which the connect scenario makes once per operation. */
    type |= SOCK_NONBLOCK;
#endif
    rc = sk_sock_open(&s, cfg->family, type, 0);
    if (rc < 0)
        return rc;
    rc = sk_sock_settimeout(s, 0.0); /* no system call when already 0 */
    if (rc < 0)
        goto fail;
    rc = sk_sock_connect(s, &cfg->target);
    if (rc < 0 && rc != -EINPROGRESS)
        goto fail;
    *out = s;
    return rc;
fail:
    sk_sock_free(s);
    return rc;
}

int bench_sock_connected(sk_sock *s)
{
    int err = 0;
    int rc = sk_sock_getsockopt_int(s, SOL_SOCKET, SO_ERROR, &err);

    if (rc < 0)
        return rc;
    return -err;
}

/* Ends the measurement for this thread: no new operations from now on. */
static void begin_drain(bench_thread *t, uint64_t now)
{
    t->draining = true;
    t->stats.measure_end = now < t->cfg->t_end ? now : t->cfg->t_end;
    t->driver->drain(t);
}

static void on_tick(sk_timer *timer, void *arg)
{
    bench_thread *t = arg;
    uint64_t now = cli_now_ns();
    bool idle;

    (void)timer;
    if (!t->draining &&
        (now >= t->cfg->t_end || atomic_load_explicit(&t->cfg->stop, memory_order_relaxed)))
        begin_drain(t, now);
    bench_ival_tick(t, now);
    idle = t->driver->tick(t, now);
    if (t->finished && !t->draining)
        begin_drain(t, now);
    if ((t->draining && idle) || now >= t->cfg->t_hard)
        sk_loop_stop(t->loop);
}

/* Sets up the loop, the tick and the driver; returns 0 or the error that
 * ends the thread.  Whatever was set up is released by the caller, which
 * finishes the driver if it has state and frees the loop with its handles. */
static int thread_setup(bench_thread *t)
{
    int rc;

    rc = sk_loop_new(&t->loop);
    if (rc < 0)
        return rc;
    rc = sk_timer_start(t->loop, &t->tick, TICK_SECONDS, TICK_SECONDS, on_tick, t);
    if (rc < 0)
        return rc;
    rc = bench_pace_open(t);
    if (rc < 0)
        return rc;
    return t->driver->start(t);
}

void *bench_thread_main(void *arg)
{
    bench_thread *t = arg;
    int rc;

    t->pace_fd = -1;
    rc = thread_setup(t);
    if (rc == 0)
        rc = sk_loop_run(t->loop);
    if (rc < 0)
        bench_error(t, BENCH_ERR_CONN, "thread %u: %s", t->index, sk_strerror(rc));
    if (!t->draining) {
        uint64_t now = cli_now_ns();
        t->stats.measure_end = now < t->cfg->t_end ? now : t->cfg->t_end;
    }
    bench_ival_thread_end(t);
    if (t->state != NULL)
        t->driver->finish(t);
    bench_pace_close(t);
    sk_loop_free(t->loop);
    t->loop = NULL;
    atomic_store(&t->done, true);
    return NULL;
}
