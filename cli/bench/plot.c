/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/plot.c - latency plots as self-contained SVG: `--plot OUT.svg`
 * on a run, and `sockit bench plot FILE.json... -o OUT.svg [--title T]`.
 *
 * The first panel is HdrHistogram's percentile picture: the x axis in
 * "nines", x = -log10(1 - p/100), so 0, 90, 99, 99.9, 99.99 and 99.999
 * are equally spaced; latency on a log axis with a tick and a label (ns,
 * µs, ms, s) at every power of ten.  Each run is one polyline (class
 * "run", its label in data-label and in the legend) through the
 * percentiles at every 1/50 of a nine, as bench_hist_percentile gives them,
 * with a marker (class "point", data-p the percentile) at each nine.  When
 * any run has --interval rows, a second panel shows each run's p99 (solid)
 * and p50 (dashed) per interval against the time since the measurement
 * began.  Pure text out, no fonts or scripts referenced: any SVG renderer
 * draws it.  Cost: O(slots) per point, 251 points per run.
 */
#include "bench.h"
#include "cli.h"
#include "opt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W 960
#define PANEL_H 480
#define LEFT 90.0
#define RIGHT 700.0
#define TOP 60.0
#define NINES 5
#define STEPS_PER_NINE 50

static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define NCOLOURS (sizeof(colours) / sizeof(colours[0]))

/* A vertical log axis from 10^lo to 10^hi over [top, bottom]. */
typedef struct yaxis {
    int lo, hi;
    double top, bottom;
} yaxis;

static double y_of(const yaxis *ax, uint64_t ns)
{
    double v = log10(ns > 0 ? (double)ns : 1.0);

    return ax->bottom - (v - ax->lo) / (ax->hi - ax->lo) * (ax->bottom - ax->top);
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
        }
    }
}

/* "100 µs" for 10^decade nanoseconds. */
static void decade_label(int decade, char *out, size_t cap)
{
    static const char *const units[] = {"ns", "µs", "ms", "s"};
    int unit = decade / 3 < 3 ? decade / 3 : 3;
    double v = pow(10.0, decade - 3 * unit);

    snprintf(out, cap, "%.0f %s", v, units[unit]);
}

static void y_ticks(FILE *f, const yaxis *ax, double x0, double x1)
{
    char label[32];

    for (int d = ax->lo; d <= ax->hi; d++) {
        double y = y_of(ax, (uint64_t)pow(10.0, d));
        decade_label(d, label, sizeof(label));
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#ddd\"/>\n",
                x0, y, x1, y);
        fprintf(f, "<text class=\"ytick\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\" "
                   "dominant-baseline=\"middle\">%s</text>\n", x0 - 6, y, label);
    }
}

/* The decades that hold [lo, hi] ns, at least one. */
static void fit_decades(yaxis *ax, uint64_t lo, uint64_t hi)
{
    ax->lo = (int)floor(log10(lo > 0 ? (double)lo : 1.0));
    ax->hi = (int)ceil(log10(hi > 0 ? (double)hi : 1.0));
    if (ax->hi <= ax->lo)
        ax->hi = ax->lo + 1;
}

static double pct_of_x(double x)
{
    return 100.0 * (1.0 - pow(10.0, -x));
}

static double px_of_nines(double x)
{
    return LEFT + x / NINES * (RIGHT - LEFT);
}

static void legend(FILE *f, const bench_plot_run *runs, size_t n, double top)
{
    for (size_t i = 0; i < n; i++) {
        double y = top + 20.0 * (double)i;
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"3\"/>\n", RIGHT + 20, y, RIGHT + 45, y,
                colours[i % NCOLOURS]);
        fprintf(f, "<text class=\"label\" x=\"%.0f\" y=\"%.1f\" dominant-baseline=\"middle\">",
                RIGHT + 52, y);
        xml_text(f, runs[i].label);
        if (runs[i].hist == NULL || runs[i].hist->count == 0)
            fputs(" (no samples)", f);
        fputs("</text>\n", f);
    }
}

static void percentile_panel(FILE *f, const bench_plot_run *runs, size_t n, double top)
{
    static const char *const nines[] = {"0", "90", "99", "99.9", "99.99", "99.999"};
    yaxis ax = {0, 1, top, top + PANEL_H - 120};
    uint64_t lo = UINT64_MAX, hi = 1;

    for (size_t i = 0; i < n; i++) {
        const bench_hist *h = runs[i].hist;
        if (h == NULL || h->count == 0)
            continue;
        if (h->min < lo)
            lo = h->min;
        if (bench_hist_percentile(h, pct_of_x(NINES)) > hi)
            hi = bench_hist_percentile(h, pct_of_x(NINES));
    }
    fit_decades(&ax, lo == UINT64_MAX ? 1000 : lo, hi);
    y_ticks(f, &ax, LEFT, RIGHT);
    for (int k = 0; k <= NINES; k++) {
        double x = px_of_nines(k);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#ddd\"/>\n",
                x, ax.top, x, ax.bottom);
        fprintf(f, "<text class=\"xtick\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n",
                x, ax.bottom + 18, nines[k]);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">percentile</text>\n",
            (LEFT + RIGHT) / 2, ax.bottom + 40);
    fprintf(f, "<text x=\"20\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 20 %.1f)\">"
               "latency (log)</text>\n", (ax.top + ax.bottom) / 2, (ax.top + ax.bottom) / 2);
    for (size_t i = 0; i < n; i++) {
        const bench_hist *h = runs[i].hist;
        const char *c = colours[i % NCOLOURS];
        if (h == NULL || h->count == 0)
            continue;
        fprintf(f, "<polyline class=\"run\" data-label=\"");
        xml_text(f, runs[i].label);
        fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", c);
        for (int s = 0; s <= NINES * STEPS_PER_NINE; s++) {
            double x = (double)s / STEPS_PER_NINE;
            fprintf(f, "%s%.2f,%.2f", s ? " " : "", px_of_nines(x),
                    y_of(&ax, bench_hist_percentile(h, pct_of_x(x))));
        }
        fputs("\"/>\n", f);
        for (int k = 0; k <= NINES; k++) {
            uint64_t v = bench_hist_percentile(h, pct_of_x(k));
            fprintf(f, "<circle class=\"point\" data-run=\"%zu\" data-p=\"%s\" data-ns=\"%llu\" "
                       "cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                    i, nines[k], (unsigned long long)v, px_of_nines(k), y_of(&ax, v), c);
        }
    }
    legend(f, runs, n, ax.top + 10);
}

static void dashed_or_solid(FILE *f, const bench_plot_run *run, const yaxis *ax, double t_max,
                            bool p99, const char *colour)
{
    bool first = true;

    fprintf(f, "<polyline class=\"%s\" data-label=\"", p99 ? "ival-p99" : "ival-p50");
    xml_text(f, run->label);
    fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colour,
            p99 ? "" : " stroke-dasharray=\"6 4\"");
    for (size_t r = 0; r < run->nrows; r++) {
        const bench_ival_row *row = &run->rows[r];
        if (row->ops == 0)
            continue;
        fprintf(f, "%s%.2f,%.2f", first ? "" : " ",
                LEFT + (row->start_s + row->end_s) / 2 / t_max * (RIGHT - LEFT),
                y_of(ax, p99 ? row->p99 : row->p50));
        first = false;
    }
    fputs("\"/>\n", f);
}

static void interval_panel(FILE *f, const bench_plot_run *runs, size_t n, double top)
{
    yaxis ax = {0, 1, top, top + PANEL_H - 120};
    uint64_t lo = UINT64_MAX, hi = 1;
    double t_max = 0;

    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < runs[i].nrows; r++) {
            const bench_ival_row *row = &runs[i].rows[r];
            if (row->end_s > t_max)
                t_max = row->end_s;
            if (row->ops == 0)
                continue;
            if (row->p50 < lo)
                lo = row->p50;
            if (row->p99 > hi)
                hi = row->p99;
        }
    }
    if (t_max <= 0)
        t_max = 1;
    fit_decades(&ax, lo == UINT64_MAX ? 1000 : lo, hi);
    y_ticks(f, &ax, LEFT, RIGHT);
    for (int k = 0; k <= 5; k++) {
        double x = LEFT + k / 5.0 * (RIGHT - LEFT);
        fprintf(f, "<text class=\"ttick\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%.3g</text>\n",
                x, ax.bottom + 18, t_max * k / 5.0);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">seconds into the "
               "measurement (p99 solid, p50 dashed, per --interval)</text>\n",
            (LEFT + RIGHT) / 2, ax.bottom + 40);
    for (size_t i = 0; i < n; i++) {
        if (runs[i].nrows == 0)
            continue;
        dashed_or_solid(f, &runs[i], &ax, t_max, true, colours[i % NCOLOURS]);
        dashed_or_solid(f, &runs[i], &ax, t_max, false, colours[i % NCOLOURS]);
    }
}

int bench_plot_write(const char *path, const char *title, const bench_plot_run *runs, size_t n)
{
    bool intervals = false;
    int height, rc = 0;
    FILE *f;

    for (size_t i = 0; i < n; i++)
        intervals |= runs[i].nrows > 0;
    height = PANEL_H * (intervals ? 2 : 1);
    f = fopen(path, "w");
    if (f == NULL) {
        cli_error(path, "%s", sk_strerror(-errno));
        return -1;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, height, W, height);
    fprintf(f, "<text class=\"title\" x=\"%d\" y=\"30\" text-anchor=\"middle\" "
               "font-size=\"17\">", W / 2);
    xml_text(f, title != NULL ? title : "sockit bench: latency by percentile");
    fputs("</text>\n", f);
    percentile_panel(f, runs, n, TOP);
    if (intervals)
        interval_panel(f, runs, n, TOP + PANEL_H);
    fputs("</svg>\n", f);
    if (fflush(f) != 0 || ferror(f))
        rc = -(errno ? errno : EIO);
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        cli_error(path, "%s", sk_strerror(rc));
        return -1;
    }
    return 0;
}

/* ---- sockit bench plot ---------------------------------------------------- */

static const char plot_usage[] =
    "usage: sockit bench plot FILE.json... -o OUT.svg [--title TITLE]\n"
    "\n"
    "Draws the --json results of runs (or of merges) as one SVG: latency by\n"
    "percentile on a \"nines\" axis (0 to 99.999) and a log latency axis, one line\n"
    "per file labelled with its name; with --interval rows, a second panel of p50\n"
    "and p99 over time.\n"
    "\n"
    "  -o, --output OUT.svg  the file to write\n"
    "  --title TITLE         the plot's title\n"
    "  -h, --help            show this text\n";

/* "dir/run-1.json" -> "run-1" into out. */
static void label_of(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    size_t len;

    base = base != NULL ? base + 1 : path;
    len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".json") == 0)
        len -= 5;
    snprintf(out, cap, "%.*s", (int)len, base);
}

typedef struct plot_input {
    bench_result r;
    char label[128];
} plot_input;

static int plot_files(char **files, size_t n, const char *out, const char *title)
{
    plot_input *in = calloc(n, sizeof(*in));
    bench_plot_run *runs = calloc(n, sizeof(*runs));
    char why[300];
    int status = CLI_EXIT_OK;
    size_t loaded = 0;

    if (in == NULL || runs == NULL) {
        cli_error("bench plot", "out of memory");
        status = CLI_EXIT_FAIL;
        goto out;
    }
    for (; loaded < n; loaded++) {
        bench_result *r = &in[loaded].r;
        if (bench_result_load(files[loaded], r, why, sizeof(why)) < 0) {
            fprintf(stderr, "sockit: bench plot: %s: %s\n", files[loaded], why);
            bench_result_free(r);
            status = CLI_EXIT_USAGE;
            goto out;
        }
        label_of(files[loaded], in[loaded].label, sizeof(in[loaded].label));
        runs[loaded] = (bench_plot_run){in[loaded].label, r->has_hist ? &r->hist : NULL,
                                        r->rows, r->nrows};
    }
    if (bench_plot_write(out, title, runs, n) < 0)
        status = CLI_EXIT_FAIL;
out:
    for (size_t i = 0; i < loaded; i++)
        bench_result_free(&in[i].r);
    free(in);
    free(runs);
    return status;
}

static void plot_help(FILE *out, const void *arg)
{
    (void)arg;
    fputs(plot_usage, out);
}

int bench_plot_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"title", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *title = NULL, *arg;
    cli_opts p;
    int opt;

    cli_opts_start(&p, "bench plot", argc, argv, "o:", opts, plot_help, NULL);
    while ((opt = cli_opts_next(&p, &arg)) > 0) {
        if (opt == 'o')
            out = arg;
        else
            title = arg;
    }
    if (opt != CLI_OPTS_END)
        return cli_opts_status(opt);
    if (out == NULL || *out == '\0' || p.optind >= argc)
        return cli_usage_error("bench plot", "expected FILE.json... -o OUT.svg");
    return plot_files(argv + p.optind, (size_t)(argc - p.optind), out, title);
}
