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
 *
 * The JSON object's layout is versioned by its "schema" field
 * (BENCH_JSON_SCHEMA); a change that removes or redefines a field bumps it.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef bench_summary summary;

void bench_stats_add(bench_stats *into, const bench_stats *from)
{
    into->ops += from->ops;
    into->bytes += from->bytes;
    into->connects += from->connects;
    into->tls_full += from->tls_full;
    into->tls_resumed += from->tls_resumed;
    into->conn_errors += from->conn_errors;
    into->data_errors += from->data_errors;
    into->timeouts += from->timeouts;
    into->late += from->late;
    into->sched_sends += from->sched_sends;
    into->late_sends += from->late_sends;
    into->waited_sends += from->waited_sends;
    if (from->worst_late > into->worst_late)
        into->worst_late = from->worst_late;
    into->sent += from->sent;
    into->received += from->received;
    into->duplicates += from->duplicates;
    into->reordered += from->reordered;
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
    out->conn_hist = malloc(sizeof(*out->conn_hist));
    if (out->hist == NULL || out->conn_hist == NULL)
        return -1;
    bench_hist_init(out->hist);
    bench_hist_init(out->conn_hist);
    for (long i = 0; i < n; i++) {
        const bench_stats *st = &threads[i].stats;
        bench_stats_add(&out->s, st);
        bench_hist_merge(out->hist, threads[i].hist);
        if (threads[i].conn_hist != NULL)
            bench_hist_merge(out->conn_hist, threads[i].conn_hist);
        if (st->has_first && st->first_ns < first_ns) {
            first_ns = st->first_ns;
            out->first = st->first;
        }
    }
    /* Every datagram counted sent was answered at most once as received. */
    out->s.lost = out->s.sent - out->s.received;
    out->errors = out->s.conn_errors + out->s.data_errors + out->s.timeouts;
    out->elapsed_ns = out->s.measure_end > cfg->t_measure ? out->s.measure_end - cfg->t_measure
                                                            : 0;
    out->seconds = (double)out->elapsed_ns / 1e9;
    out->start_unix_ns = cfg->unix_measure;
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
    {99.99, "p99_99", "p99.99"},
};

#define NPERCENTILES (sizeof(percentiles) / sizeof(percentiles[0]))

static void print_latency_line(const char *label, const bench_hist *h)
{
    printf("  %-14s min %.1f  mean %.1f", label, usec(h->min), bench_hist_mean(h) / 1e3);
    for (size_t i = 0; i < NPERCENTILES; i++)
        printf("  %s %.1f", percentiles[i].label, usec(bench_hist_percentile(h, percentiles[i].p)));
    printf("  max %.1f\n", usec(h->max));
}

/* --rate: how well the generator kept its schedule. */
static void print_schedule(const bench_config *cfg, const bench_stats *s)
{
    printf("  %-14s %.1f/s target, %llu sends on schedule, %llu waited for a reply\n",
           "schedule", cfg->rate, (unsigned long long)s->sched_sends,
           (unsigned long long)s->waited_sends);
    if (s->late_sends > 0)
        printf("  %-14s the generator fell behind its schedule: %llu sends more than %.1f ms "
               "late, worst %.3f ms\n",
               "WARNING", (unsigned long long)s->late_sends, (double)BENCH_LATE_NS / 1e6,
               (double)s->worst_late / 1e6);
    else
        printf("  %-14s none (no send more than %.1f ms behind its schedule)\n", "late sends",
               (double)BENCH_LATE_NS / 1e6);
}

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
        print_latency_line("latency (us)", sm->hist);
    }
    if (sm->conn_hist->count > 0)
        print_latency_line("connect (us)", sm->conn_hist);
    if (cfg->rate > 0)
        print_schedule(cfg, s);
    if (cfg->mode == BENCH_CONNECT && s->reply_max > 0)
        printf("  %-14s %llu..%llu bytes\n", "reply sizes", (unsigned long long)s->reply_min,
               (unsigned long long)s->reply_max);
    printf("  %-14s %llu opened\n", BENCH_IS_DGRAM(cfg->mode) ? "sockets" : "connections",
           (unsigned long long)s->connects);
    if (cfg->tls != NULL)
        printf("  %-14s %llu full, %llu resumed (warm-up included)\n", "handshakes",
               (unsigned long long)s->tls_full, (unsigned long long)s->tls_resumed);
    if (BENCH_IS_DGRAM(cfg->mode))
        printf("  %-14s %llu sent, %llu answered, %llu lost, %llu duplicate, %llu reordered, "
               "%llu late (not errors)\n",
               "datagrams", (unsigned long long)s->sent, (unsigned long long)s->received,
               (unsigned long long)s->lost, (unsigned long long)s->duplicates,
               (unsigned long long)s->reordered, (unsigned long long)s->late);
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

static void json_hist(const char *key, const bench_hist *h, bool present)
{
    printf("\"%s\":", key);
    if (!present || h->count == 0) {
        printf("null");
        return;
    }
    printf("{\"min\":%.1f,\"mean\":%.1f", usec(h->min), bench_hist_mean(h) / 1e3);
    for (size_t i = 0; i < NPERCENTILES; i++)
        printf(",\"%s\":%.1f", percentiles[i].key, usec(bench_hist_percentile(h, percentiles[i].p)));
    printf(",\"max\":%.1f,\"samples\":%llu}", usec(h->max), (unsigned long long)h->count);
}

/*
 * The whole histogram, lossless: its settings, exact count, sum, min and
 * max (ns), and one [lowest, highest, count] per non-empty bucket in
 * increasing order.  Any percentile follows from it as
 * bench_hist_percentile computes it (bench/README.md, "JSON schema").
 */
static void json_buckets(const char *key, const bench_hist *h, bool present)
{
    bool first = true;

    printf("\"%s\":", key);
    if (!present) {
        printf("null");
        return;
    }
    printf("{\"unit\":\"ns\",\"sub_bucket_bits\":%d,\"max_bits\":%d,\"count\":%llu,"
           "\"sum\":%llu,\"min\":%llu,\"max\":%llu,\"buckets\":[",
           BENCH_HIST_SUB_BITS, BENCH_HIST_MAX_BITS, (unsigned long long)h->count,
           (unsigned long long)h->sum, (unsigned long long)(h->count ? h->min : 0),
           (unsigned long long)h->max);
    for (size_t i = 0; i < BENCH_HIST_SLOTS; i++) {
        if (h->slots[i] == 0)
            continue;
        printf("%s[%llu,%llu,%llu]", first ? "" : ",",
               (unsigned long long)bench_hist_lowest(i),
               (unsigned long long)bench_hist_highest(i), (unsigned long long)h->slots[i]);
        first = false;
    }
    printf("]}");
}

/* "rate": null in the closed loop, else the schedule's figures. */
static void json_rate(const bench_config *cfg, const bench_stats *s)
{
    printf("\"rate\":");
    if (cfg->rate <= 0) {
        printf("null");
        return;
    }
    printf("{\"target_per_s\":%.3f,\"sends\":%llu,\"waited_sends\":%llu,\"late_sends\":%llu,"
           "\"late_threshold_us\":%.1f,\"worst_late_us\":%.1f,\"behind\":%s}",
           cfg->rate, (unsigned long long)s->sched_sends, (unsigned long long)s->waited_sends,
           (unsigned long long)s->late_sends, usec(BENCH_LATE_NS), usec(s->worst_late),
           s->late_sends > 0 ? "true" : "false");
}

/* "udp": the datagram counts (udp and ntp modes), null in the others. */
static void json_udp(const bench_config *cfg, const bench_stats *s)
{
    printf("\"udp\":");
    if (!BENCH_IS_DGRAM(cfg->mode)) {
        printf("null");
        return;
    }
    printf("{\"sent\":%llu,\"received\":%llu,\"lost\":%llu,\"duplicates\":%llu,"
           "\"reordered\":%llu,\"late\":%llu}",
           (unsigned long long)s->sent, (unsigned long long)s->received,
           (unsigned long long)s->lost, (unsigned long long)s->duplicates,
           (unsigned long long)s->reordered, (unsigned long long)s->late);
}

/* "intervals": one object per --interval row, [] without the option. */
static void json_intervals(const bench_config *cfg)
{
    size_t n;
    const bench_ival_row *rows = bench_ival_rows(cfg, &n);

    printf("\"interval_s\":");
    if (cfg->interval > 0)
        printf("%.3f", cfg->interval);
    else
        printf("null");
    printf(",\"intervals\":[");
    for (size_t i = 0; i < n; i++) {
        double len = rows[i].end_s - rows[i].start_s;
        printf("%s{\"start_s\":%.3f,\"end_s\":%.3f,\"ops\":%llu,\"ops_per_s\":%.1f,"
               "\"mb_per_s\":%.3f,\"p50_us\":",
               i ? "," : "", rows[i].start_s, rows[i].end_s, (unsigned long long)rows[i].ops,
               len > 0 ? (double)rows[i].ops / len : 0.0,
               len > 0 ? (double)rows[i].bytes / 1e6 / len : 0.0);
        if (has_latency(cfg) && rows[i].ops > 0)
            printf("%.1f,\"p99_us\":%.1f}", usec(rows[i].p50), usec(rows[i].p99));
        else
            printf("null,\"p99_us\":null}");
    }
    printf("]");
}

static void print_json(const bench_config *cfg, const summary *sm)
{
    const bench_stats *s = &sm->s;

    printf("{\"schema\":\"" BENCH_JSON_SCHEMA "\",\"mode\":");
    json_string(cfg->mode_name);
    printf(",\"target\":");
    json_string(cfg->target_text);
    printf(",\"conns\":%ld,\"threads\":%ld,\"size\":%ld,\"duration_s\":%.3f,"
           "\"warmup_s\":%.3f,\"elapsed_s\":%.3f,\"start_unix_ns\":%llu,\"elapsed_ns\":%llu,",
           cfg->conns, cfg->threads, cfg->mode == BENCH_CONNECT ? 0 : cfg->size, cfg->duration,
           cfg->warmup, sm->seconds, (unsigned long long)sm->start_unix_ns,
           (unsigned long long)sm->elapsed_ns);
    printf("\"ops\":%llu,\"ops_per_s\":%.1f,\"bytes\":%llu,\"mb_per_s\":%.3f,",
           (unsigned long long)s->ops, rate((double)s->ops, sm->seconds),
           (unsigned long long)s->bytes, rate((double)s->bytes / 1e6, sm->seconds));
    json_hist("latency_us", sm->hist, has_latency(cfg));
    putchar(',');
    json_hist("connect_latency_us", sm->conn_hist, cfg->mode == BENCH_CONNECT);
    putchar(',');
    json_buckets("latency_histogram", sm->hist, has_latency(cfg));
    putchar(',');
    json_buckets("connect_histogram", sm->conn_hist, cfg->mode == BENCH_CONNECT);
    putchar(',');
    json_rate(cfg, s);
    putchar(',');
    json_udp(cfg, s);
    putchar(',');
    json_intervals(cfg);
    printf(",\"histogram_file\":");
    if (cfg->histogram != NULL)
        json_string(cfg->histogram);
    else
        printf("null");
    if (cfg->tls != NULL)
        printf(",\"tls\":{\"full_handshakes\":%llu,\"resumed_handshakes\":%llu}",
               (unsigned long long)s->tls_full, (unsigned long long)s->tls_resumed);
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

/* --histogram FILE: the latencies' distribution as CSV (in the connect
 * mode, the whole cycle's; see bench_hist_write_csv).  0 or -1 after
 * saying why. */
static int write_histogram(const bench_config *cfg, const summary *sm)
{
    FILE *f = fopen(cfg->histogram, "w");
    int rc;

    if (f == NULL) {
        fprintf(stderr, "sockit: %s: %s\n", cfg->histogram, sk_strerror(-errno));
        return -1;
    }
    rc = bench_hist_write_csv(sm->hist, f);
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        fprintf(stderr, "sockit: %s: %s\n", cfg->histogram, sk_strerror(rc));
        return -1;
    }
    return 0;
}

/* --plot FILE: this run's percentile curve (and intervals), labelled with
 * its mode and target. */
static int write_plot(const bench_config *cfg, const summary *sm)
{
    char label[SK_ADDRSTRLEN + 32];
    bench_plot_run run = {label, sm->hist, NULL, 0};

    snprintf(label, sizeof(label), "%s %s", cfg->mode_name, cfg->target_text);
    run.rows = bench_ival_rows(cfg, &run.nrows);
    return bench_plot_write(cfg->plot, NULL, &run, 1);
}

void bench_report_print(const bench_config *cfg, const summary *sm)
{
    if (cfg->json)
        print_json(cfg, sm);
    else
        print_table(cfg, sm);
    fflush(stdout);
}

int bench_report(const bench_config *cfg, bench_thread *threads, long nthreads)
{
    summary sm = {0};
    int status;

    if (summarise(cfg, threads, nthreads, &sm) < 0) {
        fprintf(stderr, "sockit: bench: out of memory\n");
        free(sm.hist);
        free(sm.conn_hist);
        return 1;
    }
    bench_report_print(cfg, &sm);
    status = sm.errors == 0 && sm.s.ops > 0 ? 0 : 1;
    if (cfg->histogram != NULL && write_histogram(cfg, &sm) < 0)
        status = 1;
    if (cfg->plot != NULL && write_plot(cfg, &sm) < 0)
        status = 1;
    /* Without --interval the log holds one histogram: the whole window. */
    if (cfg->hdrlog != NULL && cfg->interval <= 0 &&
        bench_hdrlog_write(cfg, 0.0, sm.seconds, sm.hist) < 0)
        status = 1;
    free(sm.hist);
    free(sm.conn_hist);
    return status;
}
