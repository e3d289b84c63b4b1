/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/interval.c - `sockit bench --interval S`: ops, MB/s and p99 for
 * every S seconds of the measurement (p50 too in the JSON rows, and each
 * interval's whole histogram in the --hdr-log file).
 *
 * Interval k covers [t_measure + k*S, t_measure + (k+1)*S) and holds the
 * operations that completed in it.  Each thread counts its share in its own
 * histogram without locking; when one of its operations or ticks falls in
 * a later interval it merges that share into the shared accumulator of its
 * interval (under the lock, once per interval per thread) and publishes
 * that every interval before the new one is handed over.  The supervisor
 * turns an interval into a row once every thread has moved past it, so a
 * row is final when printed.  Memory: one histogram per thread and one per
 * interval not yet reported (normally one or two).
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ival_acc {
    struct ival_acc *next;
    uint64_t index;
    uint64_t ops, bytes;
    bench_hist hist;
} ival_acc;

struct bench_ivals {
    pthread_mutex_t lock;
    ival_acc *pending;   /* handed-over intervals not yet reported, any order */
    bench_ival_row *rows;
    size_t nrows, cap;   /* cap: intervals in the whole measurement */
    uint64_t next;       /* the next interval to report */
    uint64_t span;       /* S in ns */
};

int bench_ival_init(bench_config *cfg)
{
    struct bench_ivals *iv;

    if (cfg->interval <= 0)
        return 0;
    iv = calloc(1, sizeof(*iv));
    if (iv == NULL)
        return -ENOMEM;
    iv->span = (uint64_t)(cfg->interval * 1e9);
    iv->cap = (size_t)(cfg->duration / cfg->interval) + 2;
    iv->rows = calloc(iv->cap, sizeof(*iv->rows));
    if (iv->rows == NULL) {
        free(iv);
        return -ENOMEM;
    }
    pthread_mutex_init(&iv->lock, NULL);
    cfg->ivals = iv;
    return 0;
}

void bench_ival_free(bench_config *cfg)
{
    struct bench_ivals *iv = cfg->ivals;

    if (iv == NULL)
        return;
    while (iv->pending != NULL) {
        ival_acc *a = iv->pending;
        iv->pending = a->next;
        free(a);
    }
    pthread_mutex_destroy(&iv->lock);
    free(iv->rows);
    free(iv);
    cfg->ivals = NULL;
}

/* Merges the thread's share of its current interval into the shared one.
 * Out of memory loses that share's figures for the interval row only (the
 * totals are counted apart). */
static void hand_over(bench_thread *t)
{
    struct bench_ivals *iv = t->cfg->ivals;
    ival_acc *a;

    if (t->ival_ops == 0)
        return;
    pthread_mutex_lock(&iv->lock);
    for (a = iv->pending; a != NULL && a->index != t->ival_index; a = a->next)
        ;
    if (a == NULL && (a = malloc(sizeof(*a))) != NULL) {
        a->index = t->ival_index;
        a->ops = a->bytes = 0;
        bench_hist_init(&a->hist);
        a->next = iv->pending;
        iv->pending = a;
    }
    if (a != NULL) {
        a->ops += t->ival_ops;
        a->bytes += t->ival_bytes;
        bench_hist_merge(&a->hist, t->ival_hist);
    }
    pthread_mutex_unlock(&iv->lock);
    bench_hist_init(t->ival_hist);
    t->ival_ops = t->ival_bytes = 0;
}

/* Moves the thread on to interval `index` if that is later. */
static void advance(bench_thread *t, uint64_t index)
{
    if (index <= t->ival_index)
        return;
    hand_over(t);
    t->ival_index = index;
    atomic_store_explicit(&t->ival_done, index, memory_order_release);
}

static uint64_t index_of(const bench_config *cfg, uint64_t now)
{
    return now <= cfg->t_measure ? 0 : (now - cfg->t_measure) / cfg->ivals->span;
}

void bench_ival_count(bench_thread *t, uint64_t now, int64_t latency, uint64_t ops,
                      uint64_t bytes)
{
    if (t->cfg->ivals == NULL || t->ival_hist == NULL)
        return;
    advance(t, index_of(t->cfg, now));
    t->ival_ops += ops;
    t->ival_bytes += bytes;
    if (latency >= 0)
        bench_hist_record(t->ival_hist, (uint64_t)latency);
}

void bench_ival_tick(bench_thread *t, uint64_t now)
{
    if (t->cfg->ivals != NULL && t->ival_hist != NULL && now >= t->cfg->t_measure)
        advance(t, index_of(t->cfg, now));
}

void bench_ival_thread_end(bench_thread *t)
{
    if (t->cfg->ivals == NULL || t->ival_hist == NULL)
        return;
    hand_over(t);
    atomic_store_explicit(&t->ival_done, UINT64_MAX, memory_order_release);
}

/* Takes interval `index` out of the pending list (NULL: nothing happened). */
static ival_acc *take(struct bench_ivals *iv, uint64_t index)
{
    ival_acc **pp, *a;

    for (pp = &iv->pending; (a = *pp) != NULL; pp = &a->next) {
        if (a->index == index) {
            *pp = a->next;
            return a;
        }
    }
    return NULL;
}

static void print_row(const bench_config *cfg, const bench_ival_row *r, bool first)
{
    double len = r->end_s - r->start_s;

    if (first)
        printf("%-17s %10s %12s %10s %12s\n", "interval (s)", "ops", "ops/s", "MB/s",
               cfg->mode == BENCH_STREAM ? "" : "p99 (us)");
    printf("%7.2f-%-9.2f %10llu %12.1f %10.3f", r->start_s, r->end_s,
           (unsigned long long)r->ops, len > 0 ? (double)r->ops / len : 0.0,
           len > 0 ? (double)r->bytes / 1e6 / len : 0.0);
    if (cfg->mode != BENCH_STREAM && r->ops > 0)
        printf(" %12.1f", (double)r->p99 / 1e3);
    else if (cfg->mode != BENCH_STREAM)
        printf(" %12s", "-");
    printf("\n");
    fflush(stdout);
}

/* Makes the row of interval iv->next, ending at `end_ns` on the timeline. */
static void make_row(const bench_config *cfg, uint64_t end_ns)
{
    struct bench_ivals *iv = cfg->ivals;
    bench_ival_row *r;
    ival_acc *a;
    uint64_t start = cfg->t_measure + iv->next * iv->span;

    if (iv->nrows == iv->cap)
        return;
    pthread_mutex_lock(&iv->lock);
    a = take(iv, iv->next);
    pthread_mutex_unlock(&iv->lock);
    r = &iv->rows[iv->nrows++];
    r->start_s = (double)(start - cfg->t_measure) / 1e9;
    r->end_s = (double)(end_ns - cfg->t_measure) / 1e9;
    if (a != NULL) {
        r->ops = a->ops;
        r->bytes = a->bytes;
        r->p50 = bench_hist_percentile(&a->hist, 50.0);
        r->p99 = bench_hist_percentile(&a->hist, 99.0);
    }
    /* --hdr-log: one histogram per interval, empty ones too.  A write
     * error shows when the log is closed. */
    if (cfg->hdrlog != NULL)
        (void)bench_hdrlog_write(cfg, r->start_s, r->end_s - r->start_s,
                                 a != NULL ? &a->hist : NULL);
    free(a);
    iv->next++;
    if (!cfg->json)
        print_row(cfg, r, iv->nrows == 1);
}

void bench_ival_collect(bench_config *cfg, bench_thread *threads, long n, bool final)
{
    struct bench_ivals *iv = cfg->ivals;
    uint64_t done = UINT64_MAX, end = 0;

    if (iv == NULL)
        return;
    for (long i = 0; i < n; i++) {
        uint64_t d = atomic_load_explicit(&threads[i].ival_done, memory_order_acquire);
        if (d < done)
            done = d;
        /* measure_end is the thread's own until it has ended. */
        if (final && threads[i].stats.measure_end > end)
            end = threads[i].stats.measure_end;
    }
    if (!final) {
        while (iv->next < done && iv->nrows < iv->cap &&
               cfg->t_measure + (iv->next + 1) * iv->span <= cfg->t_end)
            make_row(cfg, cfg->t_measure + (iv->next + 1) * iv->span);
        return;
    }
    /* After the threads: every interval that began before the measurement
     * ended, the last one cut short at its end. */
    while (cfg->t_measure + iv->next * iv->span < end) {
        uint64_t stop = cfg->t_measure + (iv->next + 1) * iv->span;
        make_row(cfg, stop < end ? stop : end);
        if (iv->nrows == iv->cap)
            break;
    }
}

const bench_ival_row *bench_ival_rows(const bench_config *cfg, size_t *n)
{
    *n = cfg->ivals != NULL ? cfg->ivals->nrows : 0;
    return cfg->ivals != NULL ? cfg->ivals->rows : NULL;
}
