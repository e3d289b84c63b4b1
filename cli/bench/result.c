/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/result.c - reads a `sockit bench --json` result back, for
 * `merge` and `plot`.
 *
 * A recursive-descent reader for exactly the layout report.c writes
 * (BENCH_JSON_SCHEMA): JSON's grammar in full (strings with escapes,
 * numbers, nesting up to BENCH_RESULT_DEPTH), but only the fields bench
 * writes are kept; others are skipped.  Integers that bench writes as
 * counts (ops, bucket counts, nanoseconds) are read exactly as unsigned
 * 64-bit numbers; a fraction or an exponent there is an error.  Buckets go
 * straight into the result's histograms; a bucket whose bounds are not one
 * of bench's slots (another histogram layout), buckets out of order, or
 * counts that do not add up to the histogram's count are refused, so a
 * histogram that parses is one bench itself could have written.  Memory:
 * nothing but the interval rows (an array grown by doubling); O(length of
 * the text) time.
 */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *start, *p, *end;
    int depth;
    bool failed, oom;
    char *why;
    size_t whylen;
    bench_result *r;
} reader;

static bool fail(reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first failure; always returns false. */
static bool fail(reader *rd, const char *fmt, ...)
{
    va_list ap;

    if (rd->failed)
        return false;
    rd->failed = true;
    if (rd->whylen > 0) {
        va_start(ap, fmt);
        vsnprintf(rd->why, rd->whylen, fmt, ap);
        va_end(ap);
    }
    return false;
}

static void skip_ws(reader *rd)
{
    while (rd->p < rd->end &&
           (*rd->p == ' ' || *rd->p == '\t' || *rd->p == '\n' || *rd->p == '\r'))
        rd->p++;
}

/* Consumes c after white space, if it is next. */
static bool accept_char(reader *rd, char c)
{
    skip_ws(rd);
    if (rd->p < rd->end && *rd->p == c) {
        rd->p++;
        return true;
    }
    return false;
}

static bool expect_char(reader *rd, char c)
{
    return accept_char(rd, c) || fail(rd, "expected '%c' at byte %zu", c, (size_t)(rd->p - rd->start));
}

static bool accept_word(reader *rd, const char *w)
{
    size_t n = strlen(w);

    skip_ws(rd);
    if ((size_t)(rd->end - rd->p) >= n && memcmp(rd->p, w, n) == 0) {
        rd->p += n;
        return true;
    }
    return false;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Appends code point cp as UTF-8 to out[*n..cap) (dropped when out is NULL). */
static bool put_utf8(reader *rd, char *out, size_t cap, size_t *n, uint32_t cp)
{
    unsigned char b[4];
    size_t k;

    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 2;
    } else {
        b[0] = (unsigned char)(0xe0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 3;
    }
    if (out == NULL)
        return true;
    if (*n + k >= cap)
        return fail(rd, "a string longer than %zu bytes", cap - 1);
    memcpy(out + *n, b, k);
    *n += k;
    return true;
}

/* A string into out[0..cap) NUL-ended (out NULL: skipped).  \u escapes of
 * surrogates become U+FFFD; the text is otherwise copied as it is. */
static bool read_string(reader *rd, char *out, size_t cap)
{
    size_t n = 0;

    if (!expect_char(rd, '"'))
        return false;
    while (rd->p < rd->end && *rd->p != '"') {
        unsigned char c = (unsigned char)*rd->p++;
        uint32_t cp = c;
        if (c < 0x20)
            return fail(rd, "a control character in a string");
        if (c == '\\') {
            if (rd->p >= rd->end)
                break;
            c = (unsigned char)*rd->p++;
            switch (c) {
            case '"': case '\\': case '/': cp = c; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                cp = 0;
                for (int i = 0; i < 4; i++) {
                    int d = rd->p < rd->end ? hex_digit(*rd->p++) : -1;
                    if (d < 0)
                        return fail(rd, "a bad \\u escape");
                    cp = cp << 4 | (uint32_t)d;
                }
                if (cp >= 0xd800 && cp < 0xe000)
                    cp = 0xfffd;
                break;
            default:
                return fail(rd, "a bad escape '\\%c'", c);
            }
        }
        if (!put_utf8(rd, out, cap, &n, cp))
            return false;
    }
    if (rd->p >= rd->end)
        return fail(rd, "a string without its end");
    rd->p++;
    if (out != NULL)
        out[n] = '\0';
    return true;
}

/* JSON's number grammar from rd->p; returns its length (0: none). */
static size_t number_span(const reader *rd, bool *integer)
{
    const char *p = rd->p, *e = rd->end;

    *integer = true;
    if (p < e && *p == '-')
        p++, *integer = false;
    if (p >= e || *p < '0' || *p > '9')
        return 0;
    if (*p == '0')
        p++;
    else
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    if (p < e && *p == '.') {
        *integer = false;
        if (++p >= e || *p < '0' || *p > '9')
            return 0;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        *integer = false;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return 0;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    return (size_t)(p - rd->p);
}

static bool read_double(reader *rd, double *out)
{
    char buf[64];
    bool integer;
    size_t n;

    skip_ws(rd);
    n = number_span(rd, &integer);
    if (n == 0)
        return fail(rd, "expected a number");
    if (n >= sizeof(buf))
        return fail(rd, "a number of more than %zu characters", sizeof(buf) - 1);
    memcpy(buf, rd->p, n);
    buf[n] = '\0';
    rd->p += n;
    *out = strtod(buf, NULL);
    return true;
}

/* An unsigned integer, exactly. */
static bool read_u64(reader *rd, uint64_t *out)
{
    bool integer;
    size_t n;
    uint64_t v = 0;

    skip_ws(rd);
    n = number_span(rd, &integer);
    if (n == 0 || !integer)
        return fail(rd, "expected a count (a whole number, 0 or more)");
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(rd->p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return fail(rd, "a count beyond 2^64 - 1");
        v = v * 10 + d;
    }
    rd->p += n;
    *out = v;
    return true;
}

static bool read_long(reader *rd, long *out)
{
    uint64_t v;

    if (!read_u64(rd, &v))
        return false;
    if (v > (uint64_t)LONG_MAX)
        return fail(rd, "a number too large");
    *out = (long)v;
    return true;
}

static bool skip_value(reader *rd);

/*
 * Walks an object: for each member, `member` is called with its key and
 * the reader placed at the value, and must consume it (or return false).
 */
typedef bool (*member_fn)(reader *rd, const char *key, void *ctx);

static bool read_object(reader *rd, member_fn member, void *ctx)
{
    char key[64];

    if (!expect_char(rd, '{'))
        return false;
    if (++rd->depth > BENCH_RESULT_DEPTH)
        return fail(rd, "nested more than %d deep", BENCH_RESULT_DEPTH);
    if (!accept_char(rd, '}')) {
        do {
            if (!read_string(rd, key, sizeof(key)) || !expect_char(rd, ':') ||
                !member(rd, key, ctx))
                return false;
        } while (accept_char(rd, ','));
        if (!expect_char(rd, '}'))
            return false;
    }
    rd->depth--;
    return true;
}

/* Walks an array: `element` consumes each element (index i). */
typedef bool (*element_fn)(reader *rd, size_t i, void *ctx);

static bool read_array(reader *rd, element_fn element, void *ctx)
{
    size_t i = 0;

    if (!expect_char(rd, '['))
        return false;
    if (++rd->depth > BENCH_RESULT_DEPTH)
        return fail(rd, "nested more than %d deep", BENCH_RESULT_DEPTH);
    if (!accept_char(rd, ']')) {
        do {
            if (!element(rd, i++, ctx))
                return false;
        } while (accept_char(rd, ','));
        if (!expect_char(rd, ']'))
            return false;
    }
    rd->depth--;
    return true;
}

static bool skip_member(reader *rd, const char *key, void *ctx)
{
    (void)key, (void)ctx;
    return skip_value(rd);
}

static bool skip_element(reader *rd, size_t i, void *ctx)
{
    (void)i, (void)ctx;
    return skip_value(rd);
}

static bool skip_value(reader *rd)
{
    double d;

    skip_ws(rd);
    if (rd->p >= rd->end)
        return fail(rd, "the text ends where a value should be");
    switch (*rd->p) {
    case '{':
        return read_object(rd, skip_member, NULL);
    case '[':
        return read_array(rd, skip_element, NULL);
    case '"':
        return read_string(rd, NULL, 0);
    case 't':
        return accept_word(rd, "true") || fail(rd, "expected a value");
    case 'f':
        return accept_word(rd, "false") || fail(rd, "expected a value");
    case 'n':
        return accept_word(rd, "null") || fail(rd, "expected a value");
    default:
        return read_double(rd, &d);
    }
}

/* ---- the histograms ------------------------------------------------------ */

typedef struct hist_ctx {
    bench_hist *h;
    uint64_t count, min, max, sum;
    bool have_count, have_min, have_max, have_sum, have_buckets;
    size_t next; /* the lowest slot the next bucket may use */
    uint64_t in_buckets;
} hist_ctx;

typedef struct bucket {
    uint64_t v[3];
    size_t n;
} bucket;

static bool bucket_number(reader *rd, size_t i, void *ctx)
{
    bucket *b = ctx;

    if (i >= 3)
        return fail(rd, "a bucket of more than [lowest, highest, count]");
    b->n = i + 1;
    return read_u64(rd, &b->v[i]);
}

static bool read_bucket(reader *rd, size_t i, void *ctx)
{
    hist_ctx *hc = ctx;
    bucket b = {{0, 0, 0}, 0};
    uint64_t *v = b.v;
    size_t slot;

    (void)i;
    if (!read_array(rd, bucket_number, &b))
        return false;
    if (b.n != 3)
        return fail(rd, "a bucket of fewer than [lowest, highest, count]");
    slot = bench_hist_index(v[0]);
    if (v[0] > BENCH_HIST_MAX || bench_hist_lowest(slot) != v[0] ||
        bench_hist_highest(slot) != v[1])
        return fail(rd, "bucket [%llu, %llu] is not one of this histogram's (other "
                    "histogram settings)", (unsigned long long)v[0], (unsigned long long)v[1]);
    if (slot < hc->next)
        return fail(rd, "buckets out of order at [%llu, %llu]", (unsigned long long)v[0],
                    (unsigned long long)v[1]);
    if (v[2] > UINT64_MAX - hc->in_buckets)
        return fail(rd, "bucket counts beyond 2^64 - 1");
    hc->next = slot + 1;
    hc->h->slots[slot] = v[2];
    hc->in_buckets += v[2];
    return true;
}

static bool hist_member(reader *rd, const char *key, void *ctx)
{
    hist_ctx *hc = ctx;
    uint64_t v;

    if (strcmp(key, "unit") == 0) {
        char unit[8];
        if (!read_string(rd, unit, sizeof(unit)))
            return false;
        return strcmp(unit, "ns") == 0 ||
               fail(rd, "histogram unit '%s', not ns (other histogram settings)", unit);
    }
    if (strcmp(key, "sub_bucket_bits") == 0 || strcmp(key, "max_bits") == 0) {
        uint64_t want = key[0] == 's' ? BENCH_HIST_SUB_BITS : BENCH_HIST_MAX_BITS;
        if (!read_u64(rd, &v))
            return false;
        return v == want || fail(rd, "histogram %s %llu, not %llu (other histogram settings)",
                                 key, (unsigned long long)v, (unsigned long long)want);
    }
    if (strcmp(key, "count") == 0)
        return hc->have_count = true, read_u64(rd, &hc->count);
    if (strcmp(key, "sum") == 0)
        return hc->have_sum = true, read_u64(rd, &hc->sum);
    if (strcmp(key, "min") == 0)
        return hc->have_min = true, read_u64(rd, &hc->min);
    if (strcmp(key, "max") == 0)
        return hc->have_max = true, read_u64(rd, &hc->max);
    if (strcmp(key, "buckets") == 0) {
        bench_hist_init(hc->h);
        hc->next = 0;
        hc->in_buckets = 0;
        hc->have_buckets = true;
        return read_array(rd, read_bucket, hc);
    }
    return skip_value(rd);
}

/* The first and last non-empty slots must hold min and max. */
static bool hist_finish(reader *rd, hist_ctx *hc)
{
    bench_hist *h = hc->h;
    size_t lo = BENCH_HIST_SLOTS, hi = 0;

    if (!hc->have_count || !hc->have_sum || !hc->have_min || !hc->have_max ||
        !hc->have_buckets)
        return fail(rd, "a histogram without count, sum, min, max and buckets");
    if (hc->in_buckets != hc->count)
        return fail(rd, "histogram buckets hold %llu values, its count says %llu",
                    (unsigned long long)hc->in_buckets, (unsigned long long)hc->count);
    h->count = hc->count;
    h->sum = hc->sum;
    if (h->count == 0)
        return true;
    for (size_t i = 0; i < BENCH_HIST_SLOTS; i++) {
        if (h->slots[i] != 0) {
            if (lo == BENCH_HIST_SLOTS)
                lo = i;
            hi = i;
        }
    }
    if (hc->min > BENCH_HIST_MAX || hc->max > BENCH_HIST_MAX ||
        bench_hist_index(hc->min) != lo || bench_hist_index(hc->max) != hi)
        return fail(rd, "histogram min and max are not in its first and last buckets");
    h->min = hc->min;
    h->max = hc->max;
    return true;
}

static bool read_hist(reader *rd, bench_hist *h, bool *present)
{
    hist_ctx hc = {.h = h};

    bench_hist_init(h);
    *present = false;
    if (accept_word(rd, "null"))
        return true;
    if (!read_object(rd, hist_member, &hc) || !hist_finish(rd, &hc))
        return false;
    *present = true;
    return true;
}

/* ---- the intervals ------------------------------------------------------- */

/* A latency in microseconds (or null) as nanoseconds. */
static bool read_usec(reader *rd, uint64_t *ns)
{
    double us;

    *ns = 0;
    if (accept_word(rd, "null"))
        return true;
    if (!read_double(rd, &us))
        return false;
    if (!(us >= 0 && us < 1e15))
        return fail(rd, "a latency out of range");
    *ns = (uint64_t)(us * 1e3 + 0.5);
    return true;
}

static bool row_member(reader *rd, const char *key, void *ctx)
{
    bench_ival_row *row = ctx;

    if (strcmp(key, "start_s") == 0)
        return read_double(rd, &row->start_s);
    if (strcmp(key, "end_s") == 0)
        return read_double(rd, &row->end_s);
    if (strcmp(key, "ops") == 0)
        return read_u64(rd, &row->ops);
    if (strcmp(key, "p50_us") == 0)
        return read_usec(rd, &row->p50);
    if (strcmp(key, "p99_us") == 0)
        return read_usec(rd, &row->p99);
    return skip_value(rd);
}

static bool read_row(reader *rd, size_t i, void *ctx)
{
    bench_result *r = ctx;

    (void)i;
    if (r->nrows == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        bench_ival_row *rows = realloc(r->rows, cap * sizeof(*rows));
        if (rows == NULL) {
            rd->oom = true;
            return fail(rd, "out of memory");
        }
        r->rows = rows;
        r->cap = cap;
    }
    memset(&r->rows[r->nrows], 0, sizeof(r->rows[0]));
    if (!read_object(rd, row_member, &r->rows[r->nrows]))
        return false;
    r->nrows++;
    return true;
}

/* ---- the top level ------------------------------------------------------- */

static bool rate_member(reader *rd, const char *key, void *ctx)
{
    bench_result *r = ctx;
    double us;

    if (strcmp(key, "target_per_s") == 0)
        return read_double(rd, &r->target_per_s);
    if (strcmp(key, "sends") == 0)
        return read_u64(rd, &r->s.sched_sends);
    if (strcmp(key, "waited_sends") == 0)
        return read_u64(rd, &r->s.waited_sends);
    if (strcmp(key, "late_sends") == 0)
        return read_u64(rd, &r->s.late_sends);
    if (strcmp(key, "worst_late_us") == 0) {
        if (!read_double(rd, &us))
            return false;
        r->s.worst_late = us > 0 && us < 1e15 ? (uint64_t)(us * 1e3 + 0.5) : 0;
        return true;
    }
    return skip_value(rd);
}

static bool udp_member(reader *rd, const char *key, void *ctx)
{
    bench_stats *s = ctx;
    static const char *const keys[] = {"sent", "received", "duplicates", "reordered"};
    uint64_t *fields[] = {&s->sent, &s->received, &s->duplicates, &s->reordered};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(key, keys[i]) == 0)
            return read_u64(rd, fields[i]);
    return skip_value(rd);
}

static bool reply_member(reader *rd, const char *key, void *ctx)
{
    bench_stats *s = ctx;

    if (strcmp(key, "min") == 0)
        return read_u64(rd, &s->reply_min);
    if (strcmp(key, "max") == 0)
        return read_u64(rd, &s->reply_max);
    return skip_value(rd);
}

/* "null" or an object read by `member`; *present says which. */
static bool read_optional(reader *rd, member_fn member, void *ctx, bool *present)
{
    *present = !accept_word(rd, "null");
    return !*present || read_object(rd, member, ctx);
}

static bool top_counter(reader *rd, const char *key)
{
    bench_result *r = rd->r;
    static const char *const keys[] = {"ops",         "bytes",       "connects", "conn_errors",
                                       "data_errors", "timeouts",    "lost",     "late",
                                       "start_unix_ns", "elapsed_ns"};
    uint64_t *fields[] = {&r->s.ops,         &r->s.bytes,    &r->s.connects, &r->s.conn_errors,
                          &r->s.data_errors, &r->s.timeouts, &r->s.lost,     &r->s.late,
                          &r->start_unix_ns, &r->elapsed_ns};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(key, keys[i]) == 0)
            return read_u64(rd, fields[i]);
    return skip_value(rd);
}

static bool top_member(reader *rd, const char *key, void *ctx)
{
    bench_result *r = ctx;
    bool present;

    if (strcmp(key, "schema") == 0)
        return read_string(rd, r->schema, sizeof(r->schema));
    if (strcmp(key, "mode") == 0)
        return read_string(rd, r->mode, sizeof(r->mode));
    if (strcmp(key, "target") == 0)
        return read_string(rd, r->target, sizeof(r->target));
    if (strcmp(key, "conns") == 0)
        return read_long(rd, &r->conns);
    if (strcmp(key, "threads") == 0)
        return read_long(rd, &r->threads);
    if (strcmp(key, "size") == 0)
        return read_long(rd, &r->size);
    if (strcmp(key, "duration_s") == 0)
        return read_double(rd, &r->duration_s);
    if (strcmp(key, "warmup_s") == 0)
        return read_double(rd, &r->warmup_s);
    if (strcmp(key, "elapsed_s") == 0)
        return read_double(rd, &r->elapsed_s);
    if (strcmp(key, "latency_histogram") == 0)
        return read_hist(rd, &r->hist, &r->has_hist);
    if (strcmp(key, "connect_histogram") == 0)
        return read_hist(rd, &r->conn_hist, &r->has_conn_hist);
    if (strcmp(key, "rate") == 0) {
        r->target_per_s = 0;
        return read_optional(rd, rate_member, r, &present);
    }
    if (strcmp(key, "udp") == 0)
        return read_optional(rd, udp_member, &r->s, &r->has_udp);
    if (strcmp(key, "reply_bytes") == 0)
        return read_optional(rd, reply_member, &r->s, &present);
    if (strcmp(key, "interval_s") == 0) {
        r->interval_s = 0;
        return accept_word(rd, "null") || read_double(rd, &r->interval_s);
    }
    if (strcmp(key, "intervals") == 0) {
        r->nrows = 0;
        return read_array(rd, read_row, r);
    }
    if (strcmp(key, "first_error") == 0) {
        r->has_first_error = !accept_word(rd, "null");
        return !r->has_first_error ||
               read_string(rd, r->first_error, sizeof(r->first_error));
    }
    return top_counter(rd, key);
}

int bench_result_parse(const char *buf, size_t len, bench_result *r, char *why, size_t whylen)
{
    reader rd = {buf, buf, buf + len, 0, false, false, why, whylen, r};

    memset(r, 0, offsetof(bench_result, hist));
    bench_hist_init(&r->hist);
    bench_hist_init(&r->conn_hist);
    r->interval_s = 0;
    r->rows = NULL;
    r->nrows = r->cap = 0;
    if (whylen > 0)
        why[0] = '\0';
    if (!read_object(&rd, top_member, r))
        goto bad;
    skip_ws(&rd);
    if (rd.p != rd.end) {
        fail(&rd, "text after the JSON object");
        goto bad;
    }
    if (strcmp(r->schema, BENCH_JSON_SCHEMA) != 0) {
        fail(&rd, "schema '%s', not " BENCH_JSON_SCHEMA " (run it again with this sockit)",
             r->schema);
        goto bad;
    }
    if (r->mode[0] == '\0') {
        fail(&rd, "no mode");
        goto bad;
    }
    return 0;
bad:
    return rd.oom ? -2 : -1;
}

void bench_result_free(bench_result *r)
{
    free(r->rows);
    r->rows = NULL;
    r->nrows = r->cap = 0;
}

int bench_result_load(const char *path, bench_result *r, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    bench_hist_init(&r->hist);
    r->rows = NULL;
    r->nrows = r->cap = 0;
    if (f == NULL) {
        snprintf(why, whylen, "%s", sk_strerror(-errno));
        return -1;
    }
    for (;;) {
        size_t n;
        if (len == cap) {
            char *grown;
            if (cap >= BENCH_RESULT_MAX_FILE) {
                snprintf(why, whylen, "larger than %zu MiB", BENCH_RESULT_MAX_FILE >> 20);
                goto out;
            }
            cap = cap ? cap * 2 : 65536;
            grown = realloc(buf, cap);
            if (grown == NULL) {
                snprintf(why, whylen, "out of memory");
                goto out;
            }
            buf = grown;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(why, whylen, "%s", sk_strerror(-EIO));
        goto out;
    }
    rc = bench_result_parse(buf, len, r, why, whylen);
out:
    free(buf);
    fclose(f);
    return rc;
}
