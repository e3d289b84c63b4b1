/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/merge.c - `sockit bench merge FILE.json... [--json]`: the
 * results of several runs as one run with all their samples.
 *
 * Counts add up; the latency histograms are added bucket by bucket, so
 * every percentile is the one a single run with the union of the samples
 * would report (the same buckets, the same rank rule).  Rates divide the
 * total by one time base: the length of the union of the runs'
 * measurement windows on the real-time clock (each window starts at its
 * "start_unix_ns" and lasts its "elapsed_ns").  Runs at the same time from
 * several generators overlap, so their common time counts once and their
 * rates add up; runs one after another do not, so their lengths add up and
 * the rate is the total over the total time.  Partly overlapping runs get
 * the time in which any of them ran.  --rate's target is averaged over
 * that time base the same way (the sum of target x window over it).
 *
 * Inputs that do not describe the same experiment are refused with exit
 * 2: another schema, another mode or message size, another histogram
 * layout, closed and open loop mixed.  Interval rows are not merged (the
 * JSON keeps only their percentiles): the merged result has none.
 * Memory: one result (about 540 KiB) read at a time, two histograms added
 * into.
 */
#include "bench.h"
#include "cli.h"
#include "opt.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char merge_usage[] =
    "usage: sockit bench merge FILE.json... [--json]\n"
    "\n"
    "Merges the --json results of runs of one mode (several generators at the same\n"
    "time, or runs one after another) into the figures one run with all their\n"
    "samples gives: counts add up, histograms add bucket by bucket, percentiles\n"
    "come from the summed buckets, and rates divide by the time in which any of\n"
    "the runs was measuring (overlapping windows count once).\n"
    "\n"
    "  --json      print the merged result as one JSON object (the run's schema)\n"
    "  -h, --help  show this text\n"
    "\n"
    "Exit status: 0 merged and every run clean, 1 merged but the runs had errors,\n"
    "2 usage error or inputs that cannot be merged (the file and why on stderr).\n";

typedef struct window {
    uint64_t start, end;
} window;

typedef struct merged {
    bench_config cfg;
    bench_summary sm;
    bench_hist *hist, *conn_hist;
    window *win;
    size_t n;
    double rate_ns;     /* sum of target x window, per second x ns */
    bool open_loop;
    bool same_target;
    char first[256];
    bool has_first;
} merged;

static int refuse(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line "sockit: bench merge: FILE: why"; returns the usage status. */
static int refuse(const char *file, const char *fmt, ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    fprintf(stderr, "sockit: bench merge: %s: %s\n", file, why);
    return CLI_EXIT_USAGE;
}

/* Checks r against the first result (`m->n` results taken so far). */
static int check(const merged *m, const bench_result *r, const char *file, const char *first)
{
    if (strcmp(r->mode, m->cfg.mode_name) != 0)
        return refuse(file, "mode %s, not %s as in %s", r->mode, m->cfg.mode_name, first);
    if (r->size != m->cfg.size)
        return refuse(file, "size %ld, not %ld as in %s", r->size, m->cfg.size, first);
    if ((r->target_per_s > 0) != m->open_loop)
        return refuse(file, "%s, not %s as in %s", m->open_loop ? "closed loop" : "open loop",
                      m->open_loop ? "open loop (--rate)" : "closed loop", first);
    if (m->cfg.mode != BENCH_STREAM && !r->has_hist)
        return refuse(file, "no latency histogram");
    if (m->cfg.mode == BENCH_CONNECT && !r->has_conn_hist)
        return refuse(file, "no connect latency histogram");
    return 0;
}

/* Takes the first result's settings. */
static int start(merged *m, const bench_result *r, const char *file)
{
    if (bench_mode_parse(r->mode, &m->cfg.mode, &m->cfg.mode_name) < 0)
        return refuse(file, "unknown mode '%s'", r->mode);
    m->cfg.size = r->size;
    m->open_loop = r->target_per_s > 0;
    m->same_target = true;
    snprintf(m->cfg.target_text, sizeof(m->cfg.target_text), "%s", r->target);
    return 0;
}

static void add(merged *m, const bench_result *r)
{
    bench_stats_add(&m->sm.s, &r->s);
    m->sm.s.lost += r->s.lost;
    bench_hist_merge(m->hist, &r->hist);
    bench_hist_merge(m->conn_hist, &r->conn_hist);
    m->cfg.conns += r->conns;
    m->cfg.threads += r->threads;
    if (r->warmup_s > m->cfg.warmup)
        m->cfg.warmup = r->warmup_s;
    m->rate_ns += r->target_per_s * (double)r->elapsed_ns;
    if (strcmp(r->target, m->cfg.target_text) != 0)
        m->same_target = false;
    if (r->has_first_error && !m->has_first) {
        snprintf(m->first, sizeof(m->first), "%s", r->first_error);
        m->has_first = true;
    }
    m->win[m->n].start = r->start_unix_ns;
    m->win[m->n].end = r->start_unix_ns + r->elapsed_ns;
    m->n++;
}

static int by_start(const void *a, const void *b)
{
    const window *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

/* The length of the union of the windows, ns.  O(n log n). */
static uint64_t union_ns(window *w, size_t n)
{
    uint64_t total = 0, lo = 0, hi = 0;

    qsort(w, n, sizeof(*w), by_start);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || w[i].start > hi) {
            total += hi - lo;
            lo = w[i].start;
            hi = w[i].end;
        } else if (w[i].end > hi) {
            hi = w[i].end;
        }
    }
    return total + (hi - lo);
}

/* Fills in the summary and the figures that need every run. */
static void finish(merged *m, size_t nfiles)
{
    bench_summary *sm = &m->sm;
    uint64_t earliest = UINT64_MAX;

    for (size_t i = 0; i < m->n; i++)
        if (m->win[i].start < earliest)
            earliest = m->win[i].start;
    sm->hist = m->hist;
    sm->conn_hist = m->conn_hist;
    sm->elapsed_ns = union_ns(m->win, m->n);
    sm->seconds = (double)sm->elapsed_ns / 1e9;
    sm->start_unix_ns = earliest;
    sm->errors = sm->s.conn_errors + sm->s.data_errors + sm->s.timeouts;
    sm->first = m->has_first ? m->first : NULL;
    m->cfg.duration = sm->seconds;
    m->cfg.rate = m->open_loop && sm->elapsed_ns > 0 ? m->rate_ns / (double)sm->elapsed_ns : 0;
    if (!m->same_target)
        snprintf(m->cfg.target_text, sizeof(m->cfg.target_text), "%zu targets", nfiles);
}

/* Reads and adds every file.  0, or the exit status after saying why. */
static int merge_files(merged *m, char **files, size_t n)
{
    bench_result *r = malloc(sizeof(*r));
    char why[300];
    int rc = 0;

    if (r == NULL) {
        cli_error("bench merge", "out of memory");
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        int lrc = bench_result_load(files[i], r, why, sizeof(why));
        if (lrc == -2) {
            cli_error("bench merge", "out of memory");
            rc = CLI_EXIT_FAIL;
        } else if (lrc < 0) {
            rc = refuse(files[i], "%s", why);
        } else if (i == 0 && (rc = start(m, r, files[i])) != 0) {
            /* refused */
        } else if ((rc = check(m, r, files[i], files[0])) == 0) {
            add(m, r);
        }
        bench_result_free(r);
    }
    free(r);
    return rc;
}

static void merge_help(FILE *out, const void *arg)
{
    (void)arg;
    fputs(merge_usage, out);
}

int bench_merge_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    const char *arg;
    cli_opts p;
    merged m;
    int opt, status;

    memset(&m, 0, sizeof(m));
    cli_opts_start(&p, "bench merge", argc, argv, NULL, opts, merge_help, NULL);
    while ((opt = cli_opts_next(&p, &arg)) > 0)
        m.cfg.json = true;
    if (opt != CLI_OPTS_END)
        return cli_opts_status(opt);
    if (p.optind >= argc)
        return cli_usage_error("bench merge", "expected FILE.json...");
    m.hist = malloc(sizeof(*m.hist));
    m.conn_hist = malloc(sizeof(*m.conn_hist));
    m.win = calloc((size_t)(argc - p.optind), sizeof(*m.win));
    if (m.hist == NULL || m.conn_hist == NULL || m.win == NULL) {
        cli_error("bench merge", "out of memory");
        status = CLI_EXIT_FAIL;
        goto out;
    }
    bench_hist_init(m.hist);
    bench_hist_init(m.conn_hist);
    status = merge_files(&m, argv + p.optind, (size_t)(argc - p.optind));
    if (status != 0)
        goto out;
    finish(&m, (size_t)(argc - p.optind));
    if (!m.cfg.json)
        printf("merged %d runs: time base %.3f s (the union of their measurement windows)\n",
               argc - p.optind, m.sm.seconds);
    bench_report_print(&m.cfg, &m.sm);
    status = m.sm.errors == 0 && m.sm.s.ops > 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
    free(m.hist);
    free(m.conn_hist);
    free(m.win);
    return status;
}
