/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/report.c - merges the threads' counters and histograms at the end
 * of a `sockit bench` run and prints them: a small table for people, or
 * one JSON object (--json) for programs.
 *
 * Rates divide what was recorded in the measurement window by the window's
 * real length (shorter than --duration when the run was interrupted).  MB
 * are 10^6 bytes of payload received back and verified.  Latencies are in
 * microseconds.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct summary {
    bench_stats s;
    bench_hist *hist;
    double seconds;    /* length of the measurement window */
    uint64_t errors;   /* connection + data + timeouts */
    const char *first; /* the earliest error's text, or NULL */
} summary;

static void add_stats(bench_stats *into, const bench_stats *from)
{
    into->ops += from->ops;
    into->bytes += from->bytes;
    into->connects += from->connects;
    into->conn_errors += from->conn_errors;
    into->data_errors += from->data_errors;
    into->timeouts += from->timeouts;
    into->lost += from->lost;
    into->late += from->late;
    if (from->reply_max != 0 && (into->reply_max == 0 || from->reply_min < into->reply_min))
        into->reply_min = from->reply_min;
    if (from->reply_max > into->reply_max)
        into->reply_max = from->reply_max;
    if (from->measure_end > into->measure_end)
        into->measure_end = from->measure_end;
}

/* Returns -ENOMEM if the merged histogram cannot be allocated. */
static int summarise(const bench_config *cfg, bench_thread *threads, long n, summary *out)
{
    uint64_t first_ns = UINT64_MAX;

    out->hist = malloc(sizeof(*out->hist));
    if (out->hist == NULL)
        return -1;
    bench_hist_init(out->hist);
    for (long i = 0; i < n; i++) {
        const bench_stats *st = &threads[i].stats;
        add_stats(&out->s, st);
        bench_hist_merge(out->hist, threads[i].hist);
        if (st->has_first && st->first_ns < first_ns) {
            first_ns = st->first_ns;
            out->first = st->first;
        }
    }
    out->errors = out->s.conn_errors + out->s.data_errors + out->s.timeouts;
    out->seconds = out->s.measure_end > cfg->t_measure
                       ? (double)(out->s.measure_end - cfg->t_measure) / 1e9
                       : 0.0;
    return 0;
}

static double rate(double count, double seconds)
{
    return seconds > 0 ? count / seconds : 0.0;
}

static double usec(uint64_t ns)
{
    return (double)ns / 1e3;
}

static bool has_latency(const bench_config *cfg)
{
    return cfg->mode != BENCH_STREAM;
}

/* Percentiles reported, with their JSON names and table labels. */
static const struct {
    double p;
    const char *key;
    const char *label;
} percentiles[] = {
    {50.0, "p50", "p50"},
    {90.0, "p90", "p90"},
    {99.0, "p99", "p99"},
    {99.9, "p99_9", "p99.9"},
};

#define NPERCENTILES (sizeof(percentiles) / sizeof(percentiles[0]))

static void print_table(const bench_config *cfg, const summary *sm)
{
    const bench_stats *s = &sm->s;

    printf("sockit bench %s %s: %ld %s, %ld thread%s, ", cfg->mode_name, cfg->target_text,
           cfg->conns, BENCH_IS_DGRAM(cfg->mode) ? "in flight" : "connections", cfg->threads,
           cfg->threads == 1 ? "" : "s");
    if (cfg->mode == BENCH_CONNECT)
        printf("%.2f s\n", sm->seconds);
    else
        printf("%ld-byte %s, %.2f s\n", cfg->size,
               cfg->mode == BENCH_STREAM ? "writes" : BENCH_IS_DGRAM(cfg->mode) ? "datagrams"
                                                                             : "messages",
               sm->seconds);
    printf("  %-14s %llu (%.1f/s)\n", "operations", (unsigned long long)s->ops,
           rate((double)s->ops, sm->seconds));
    printf("  %-14s %.3f MB/s (%llu bytes %s)\n", "throughput",
           rate((double)s->bytes / 1e6, sm->seconds), (unsigned long long)s->bytes,
           cfg->mode == BENCH_CONNECT ? "received" : "verified");
    if (!has_latency(cfg)) {
        printf("  %-14s not measured in stream mode\n", "latency");
    } else if (sm->hist->count > 0) {
        printf("  %-14s min %.1f  mean %.1f", "latency (us)", usec(sm->hist->min),
               bench_hist_mean(sm->hist) / 1e3);
        for (size_t i = 0; i < NPERCENTILES; i++)
            printf("  %s %.1f", percentiles[i].label,
                   usec(bench_hist_percentile(sm->hist, percentiles[i].p)));
        printf("  max %.1f\n", usec(sm->hist->max));
    }
    if (cfg->mode == BENCH_CONNECT && s->reply_max > 0)
        printf("  %-14s %llu..%llu bytes\n", "reply sizes", (unsigned long long)s->reply_min,
               (unsigned long long)s->reply_max);
    printf("  %-14s %llu opened\n", BENCH_IS_DGRAM(cfg->mode) ? "sockets" : "connections",
           (unsigned long long)s->connects);
    if (BENCH_IS_DGRAM(cfg->mode))
        printf("  %-14s %llu lost, %llu late (loss is not an error)\n", "datagrams",
               (unsigned long long)s->lost, (unsigned long long)s->late);
    printf("  %-14s %llu (connection %llu, data %llu, timeouts %llu)\n", "errors",
           (unsigned long long)sm->errors, (unsigned long long)s->conn_errors,
           (unsigned long long)s->data_errors, (unsigned long long)s->timeouts);
    if (sm->first != NULL)
        printf("  %-14s %s\n", "first error", sm->first);
    else if (s->ops == 0)
        printf("  %-14s %s\n", "failure", "no operation completed");
}

/* Writes text as a JSON string literal. */
static void json_string(const char *text)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_latency(const bench_config *cfg, const summary *sm)
{
    printf("\"latency_us\":");
    if (!has_latency(cfg) || sm->hist->count == 0) {
        printf("null");
        return;
    }
    printf("{\"min\":%.1f,\"mean\":%.1f", usec(sm->hist->min), bench_hist_mean(sm->hist) / 1e3);
    for (size_t i = 0; i < NPERCENTILES; i++)
        printf(",\"%s\":%.1f", percentiles[i].key,
               usec(bench_hist_percentile(sm->hist, percentiles[i].p)));
    printf(",\"max\":%.1f,\"samples\":%llu}", usec(sm->hist->max),
           (unsigned long long)sm->hist->count);
}

static void print_json(const bench_config *cfg, const summary *sm)
{
    const bench_stats *s = &sm->s;

    printf("{\"mode\":");
    json_string(cfg->mode_name);
    printf(",\"target\":");
    json_string(cfg->target_text);
    printf(",\"conns\":%ld,\"threads\":%ld,\"size\":%ld,\"duration_s\":%.3f,"
           "\"warmup_s\":%.3f,\"elapsed_s\":%.3f,",
           cfg->conns, cfg->threads, cfg->mode == BENCH_CONNECT ? 0 : cfg->size, cfg->duration,
           cfg->warmup, sm->seconds);
    printf("\"ops\":%llu,\"ops_per_s\":%.1f,\"bytes\":%llu,\"mb_per_s\":%.3f,",
           (unsigned long long)s->ops, rate((double)s->ops, sm->seconds),
           (unsigned long long)s->bytes, rate((double)s->bytes / 1e6, sm->seconds));
    json_latency(cfg, sm);
    printf(",\"connects\":%llu,\"errors\":%llu,\"conn_errors\":%llu,\"data_errors\":%llu,"
           "\"timeouts\":%llu,\"lost\":%llu,\"late\":%llu,",
           (unsigned long long)s->connects, (unsigned long long)sm->errors,
           (unsigned long long)s->conn_errors, (unsigned long long)s->data_errors,
           (unsigned long long)s->timeouts, (unsigned long long)s->lost,
           (unsigned long long)s->late);
    if (cfg->mode == BENCH_CONNECT && s->reply_max > 0)
        printf("\"reply_bytes\":{\"min\":%llu,\"max\":%llu},", (unsigned long long)s->reply_min,
               (unsigned long long)s->reply_max);
    printf("\"first_error\":");
    if (sm->first != NULL)
        json_string(sm->first);
    else if (s->ops == 0)
        json_string("no operation completed");
    else
        printf("null");
    printf(",\"ok\":%s}\n", sm->errors == 0 && s->ops > 0 ? "true" : "false");
}

int bench_report(const bench_config *cfg, bench_thread *threads, long nthreads)
{
    summary sm = {0};
    int status;

    if (summarise(cfg, threads, nthreads, &sm) < 0) {
        fprintf(stderr, "sockit: bench: out of memory\n");
        return 1;
    }
    if (cfg->json)
        print_json(cfg, &sm);
    else
        print_table(cfg, &sm);
    fflush(stdout);
    status = sm.errors == 0 && sm.s.ops > 0 ? 0 : 1;
    free(sm.hist);
    return status;
}
