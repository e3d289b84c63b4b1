/* SPDX-License-Identifier: MIT */
/*
 * cli/metrics.c - `sockit serve --metrics ADDR:PORT|PATH`: the counters in
 * the Prometheus text format (version 0.0.4), served over HTTP/1.1 at
 * GET /metrics.
 *
 *   render     one scrape: sk_server_stats_get_service for every added
 *              service, summed per (service, protocol), one sample per row
 *              of the counter table (SK_SERVER_STATS_MAP in sockit.h) and
 *              service of the row's protocol, plus the UDP guard's drops,
 *              the stamp service's own counters (when it runs), the build
 *              version and the process start time
 *   request    the request head: "GET /metrics HTTP/1.x" gets 200, any other
 *              well-formed request 404, anything else 400
 *   endpoint   a thread of its own with its own sk_loop, so a scrape (or an
 *              abusive client) never runs on a worker: one request per
 *              connection, at most METRICS_REQ_MAX bytes of head, the whole
 *              exchange within METRICS_DEADLINE seconds, at most
 *              METRICS_MAX_CONNS connections (a new one evicts the oldest,
 *              so a slowloris cannot lock scrapers out)
 *
 * Reading the counters costs the workers nothing: they write per-worker
 * counters with plain relaxed stores, and a scrape sums them.  A scrape is
 * O(services x threads).
 */
#define _GNU_SOURCE /* accept4 */
#include "metrics.h"

#include "cli.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define METRICS_MAX_CONNS 16
#define METRICS_REQ_MAX 4096
#define METRICS_DEADLINE 5.0

/* One scrape connection. */
typedef struct mconn {
    serve_metrics *m;
    int fd;              /* -1: slot free */
    sk_io *io;
    sk_timer *deadline;
    uint64_t seq;        /* order of acceptance: the lowest is the oldest */
    char req[METRICS_REQ_MAX];
    size_t req_len;
    char *out;           /* the response, malloc'ed */
    size_t out_len, out_off;
    bool draining;       /* response sent, our side shut: wait for the peer's EOF */
} mconn;

struct serve_metrics {
    sk_server *srv;
    svc_udpguard *guard;
    const svc_ntp *nts;  /* NULL: NTS off */
    svc_stamp *_Atomic stamp; /* NULL: not served; set while the thread runs */
    metrics_service *svcs;
    size_t nsvcs;
    double start_time;   /* Unix time, for process_start_time_seconds */
    sk_loop *loop;
    int listen_fd;
    sk_io *listen_io;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    pthread_t thread;
    bool started;
    uint64_t accepted;
    mconn conns[METRICS_MAX_CONNS];
};

/* ---- a growing text buffer ------------------------------------------------ */

typedef struct textbuf {
    char *p;
    size_t len, cap;
    int err;
} textbuf;

static void tb_printf(textbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tb_printf(textbuf *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->err)
        return;
    for (;;) {
        size_t room = t->cap - t->len;

        va_start(ap, fmt);
        n = vsnprintf(t->p ? t->p + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->err = -EINVAL;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 16384;
        while (cap - t->len <= (size_t)n)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (p == NULL) {
            t->err = -ENOMEM;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

/* ---- render ------------------------------------------------------------------ */

/* The counters of every added service, summed per (name, protocol): the
 * first entry of each group is its representative. */
typedef struct group_stats {
    size_t first;
    sk_server_stats st;
} group_stats;

/* One row of SK_SERVER_STATS_MAP (sockit.h), the table every server
 * counter is rendered from. */
typedef struct stat_row {
    const char *field;  /* the sk_server_stats member */
    size_t offset;      /* its offset */
    int kind, proto;    /* SK_STAT_COUNTER / SK_STAT_GAUGE, SK_STAT_TCP / SK_STAT_UDP */
    const char *metric; /* the family, without "sockit_" and "_total" */
    const char *label;  /* "" or name="value" */
    const char *help;
} stat_row;

#define STAT_ROW(field, kind, proto, metric, label, help)                               \
    {#field, offsetof(sk_server_stats, field), kind, proto, metric, label, help},

static const stat_row stat_rows[] = {SK_SERVER_STATS_MAP(STAT_ROW)};
#define NROWS (sizeof(stat_rows) / sizeof(stat_rows[0]))

static uint64_t row_value(const sk_server_stats *st, const stat_row *r)
{
    uint64_t v;

    memcpy(&v, (const char *)st + r->offset, sizeof(v));
    return v;
}

static size_t collect(serve_metrics *m, group_stats *g)
{
    size_t n = 0;

    for (size_t i = 0; i < m->nsvcs; i++) {
        sk_server_stats st = SK_SERVER_STATS_INIT;
        size_t k;

        if (sk_server_stats_get_service(m->srv, i, &st) < 0)
            continue;
        for (k = 0; k < n; k++)
            if (strcmp(m->svcs[g[k].first].name, m->svcs[i].name) == 0 &&
                m->svcs[g[k].first].tcp == m->svcs[i].tcp)
                break;
        if (k == n) {
            memset(&g[n], 0, sizeof(g[n]));
            g[n++].first = i;
        }
        for (size_t r = 0; r < NROWS; r++) {
            uint64_t v = row_value(&g[k].st, &stat_rows[r]) + row_value(&st, &stat_rows[r]);

            memcpy((char *)&g[k].st + stat_rows[r].offset, &v, sizeof(v));
        }
    }
    return n;
}

/* "# HELP" and "# TYPE" of row `first`'s family.  A family of several rows
 * says what each of its labels counts. */
static void family(textbuf *t, size_t first)
{
    const stat_row *f = &stat_rows[first];
    const char *suffix = f->kind == SK_STAT_COUNTER ? "_total" : "";
    size_t rows = 0;

    for (size_t r = first; r < NROWS; r++)
        rows += strcmp(stat_rows[r].metric, f->metric) == 0;
    tb_printf(t, "# HELP sockit_%s%s", f->metric, suffix);
    for (size_t r = first; r < NROWS; r++) {
        if (strcmp(stat_rows[r].metric, f->metric) != 0)
            continue;
        if (rows > 1)
            tb_printf(t, " %s: %s", stat_rows[r].label, stat_rows[r].help);
        else
            tb_printf(t, " %s", stat_rows[r].help);
    }
    tb_printf(t, "\n# TYPE sockit_%s%s %s\n", f->metric, suffix,
              f->kind == SK_STAT_COUNTER ? "counter" : "gauge");
}

/* Row `r`'s sample for every service group of its protocol. */
static void samples(textbuf *t, serve_metrics *m, const group_stats *g, size_t n,
                    const stat_row *r)
{
    bool tcp = r->proto == SK_STAT_TCP;

    for (size_t k = 0; k < n; k++) {
        const metrics_service *s = &m->svcs[g[k].first];

        if (s->tcp != tcp)
            continue;
        tb_printf(t, "sockit_%s%s{service=\"%s\",proto=\"%s\"%s%s} %llu\n", r->metric,
                  r->kind == SK_STAT_COUNTER ? "_total" : "", s->name, tcp ? "tcp" : "udp",
                  r->label[0] ? "," : "", r->label,
                  (unsigned long long)row_value(&g[k].st, r));
    }
}

/* Every row of the table, grouped by family (the families in the order of
 * their first row): a family's samples must be together. */
static void render_rows(textbuf *t, serve_metrics *m, const group_stats *g, size_t n)
{
    for (size_t first = 0; first < NROWS; first++) {
        bool seen = false;

        for (size_t r = 0; r < first && !seen; r++)
            seen = strcmp(stat_rows[r].metric, stat_rows[first].metric) == 0;
        if (seen)
            continue;
        family(t, first);
        for (size_t r = first; r < NROWS; r++)
            if (strcmp(stat_rows[r].metric, stat_rows[first].metric) == 0)
                samples(t, m, g, n, &stat_rows[r]);
    }
}

/* The UDP guard's drops, all UDP services together, by reason. */
static void render_guard(textbuf *t, serve_metrics *m)
{
    if (m->guard == NULL)
        return;
    tb_printf(t, "# HELP sockit_udp_guard_dropped_total UDP datagrams answered with "
              "nothing by the reflection guard, all UDP services together, by reason.\n"
              "# TYPE sockit_udp_guard_dropped_total counter\n");
    for (int v = 1; v < SVC_UDP_NREASONS; v++)
        tb_printf(t, "sockit_udp_guard_dropped_total{reason=\"%s\"} %llu\n",
                  svc_udp_reason_name((svc_udp_reason)v),
                  (unsigned long long)svc_udpguard_dropped(m->guard, (svc_udp_reason)v));
}

/* The ntp service's NTS requests by result, and the cookies it sent. */
static void render_nts(textbuf *t, serve_metrics *m)
{
    static const struct {
        svc_ntp_counter c;
        const char *result;
    } rows[] = {
        {SVC_NTP_NTS_OK, "authenticated"},
        {SVC_NTP_NTS_NAK_COOKIE, "ntsn_cookie"},
        {SVC_NTP_NTS_NAK_AUTH, "ntsn_authenticator"},
        {SVC_NTP_NTS_MALFORMED, "malformed"},
    }, ke[] = {
        {SVC_NTP_KE_OK, "ok"},
        {SVC_NTP_KE_BAD, "bad_request"},
        {SVC_NTP_KE_CRITICAL, "unrecognized_critical"},
        {SVC_NTP_KE_INTERNAL, "internal_error"},
        {SVC_NTP_KE_NO_ALPN, "no_alpn"},
    };

    if (m->nts == NULL)
        return;
    tb_printf(t, "# HELP sockit_nts_requests_total NTS requests to the ntp service, by "
              "result.\n# TYPE sockit_nts_requests_total counter\n");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        tb_printf(t, "sockit_nts_requests_total{result=\"%s\"} %llu\n", rows[i].result,
                  (unsigned long long)svc_ntp_count(m->nts, rows[i].c));
    tb_printf(t, "# HELP sockit_nts_cookies_issued_total Fresh NTS cookies sent in "
              "authenticated replies and key exchanges.\n"
              "# TYPE sockit_nts_cookies_issued_total counter\n"
              "sockit_nts_cookies_issued_total %llu\n",
              (unsigned long long)svc_ntp_count(m->nts, SVC_NTP_NTS_COOKIES));
    tb_printf(t, "# HELP sockit_nts_key_exchanges_total NTS key exchanges, by result.\n"
              "# TYPE sockit_nts_key_exchanges_total counter\n");
    for (size_t i = 0; i < sizeof(ke) / sizeof(ke[0]); i++)
        tb_printf(t, "sockit_nts_key_exchanges_total{result=\"%s\"} %llu\n", ke[i].result,
                  (unsigned long long)svc_ntp_count(m->nts, ke[i].c));
}

/* The stamp service's reflections, drops by reason, flagged TLVs and
 * sessions (svc_stamp_count, svc_stamp_sessions). */
static void render_stamp(textbuf *t, serve_metrics *m)
{
    static const struct {
        svc_stamp_counter c;
        const char *label;
    } drops[] = {{SVC_STAMP_DROP_SHORT, "short"}, {SVC_STAMP_DROP_LONG, "long"},
                 {SVC_STAMP_DROP_HMAC, "hmac"}, {SVC_STAMP_DROP_GUARD, "guard"}},
      tlvs[] = {{SVC_STAMP_TLV_UNKNOWN, "unknown"}, {SVC_STAMP_TLV_MALFORMED, "malformed"},
                {SVC_STAMP_TLV_INTEGRITY, "integrity"}};

    svc_stamp *s = atomic_load(&m->stamp);

    if (s == NULL)
        return;
    tb_printf(t, "# HELP sockit_stamp_reflected_total STAMP test packets reflected.\n"
              "# TYPE sockit_stamp_reflected_total counter\n"
              "sockit_stamp_reflected_total %llu\n",
              (unsigned long long)svc_stamp_count(s, SVC_STAMP_REFLECTED));
    tb_printf(t, "# HELP sockit_stamp_dropped_total STAMP packets left unanswered, by reason "
              "(guard: also in sockit_udp_guard_dropped_total).\n"
              "# TYPE sockit_stamp_dropped_total counter\n");
    for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
        tb_printf(t, "sockit_stamp_dropped_total{reason=\"%s\"} %llu\n", drops[i].label,
                  (unsigned long long)svc_stamp_count(s, drops[i].c));
    tb_printf(t, "# HELP sockit_stamp_tlvs_flagged_total TLVs reflected with the U or M flag, "
              "and requests whose HMAC TLV failed (I).\n"
              "# TYPE sockit_stamp_tlvs_flagged_total counter\n");
    for (size_t i = 0; i < sizeof(tlvs) / sizeof(tlvs[0]); i++)
        tb_printf(t, "sockit_stamp_tlvs_flagged_total{flag=\"%s\"} %llu\n", tlvs[i].label,
                  (unsigned long long)svc_stamp_count(s, tlvs[i].c));
    tb_printf(t, "# HELP sockit_stamp_sessions_evicted_total Live STAMP sessions pushed out "
              "of a full session table.\n"
              "# TYPE sockit_stamp_sessions_evicted_total counter\n"
              "sockit_stamp_sessions_evicted_total %llu\n"
              "# HELP sockit_stamp_sessions_open STAMP sessions heard from within the idle "
              "time.\n# TYPE sockit_stamp_sessions_open gauge\n"
              "sockit_stamp_sessions_open %zu\n",
              (unsigned long long)svc_stamp_count(s, SVC_STAMP_SESSIONS_EVICTED),
              svc_stamp_sessions(s, cli_now_ns() / 1000000));
}

int metrics_render(serve_metrics *m, char **out, size_t *len)
{
    group_stats *g = calloc(m->nsvcs ? m->nsvcs : 1, sizeof(*g));
    textbuf t = {0};
    size_t n;

    if (g == NULL)
        return -ENOMEM;
    n = collect(m, g);
    render_rows(&t, m, g, n);
    render_guard(&t, m);
    render_nts(&t, m);
    render_stamp(&t, m);
    tb_printf(&t, "# HELP sockit_build_info The running sockit's version.\n"
              "# TYPE sockit_build_info gauge\n"
              "sockit_build_info{version=\"%s\"} 1\n", SK_VERSION_STRING);
    tb_printf(&t, "# HELP process_start_time_seconds Start time of the process since unix "
              "epoch in seconds.\n# TYPE process_start_time_seconds gauge\n"
              "process_start_time_seconds %.3f\n", m->start_time);
    free(g);
    if (t.err) {
        free(t.p);
        return t.err;
    }
    *out = t.p;
    *len = t.len;
    return 0;
}

/* ---- request -------------------------------------------------------------------- */

/* The end of the head (a blank line), or NULL. */
static const char *head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return buf + i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return buf + i + 3;
    }
    return NULL;
}

static bool token_ok(const char *s, size_t n, bool upper)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (upper ? !(ch >= 'A' && ch <= 'Z') : (ch <= ' ' || ch >= 0x7f))
            return false;
    }
    return true;
}

int metrics_request_status(const char *buf, size_t len)
{
    const char *end = head_end(buf, len), *eol, *sp1, *sp2;
    size_t line;

    if (end == NULL)
        return 0;
    eol = memchr(buf, '\n', len);
    line = (size_t)(eol - buf);
    if (line > 0 && buf[line - 1] == '\r')
        line--;
    sp1 = memchr(buf, ' ', line);
    if (sp1 == NULL)
        return 400;
    sp2 = memchr(sp1 + 1, ' ', line - (size_t)(sp1 + 1 - buf));
    if (sp2 == NULL || !token_ok(buf, (size_t)(sp1 - buf), true) ||
        !token_ok(sp1 + 1, (size_t)(sp2 - sp1 - 1), false))
        return 400;
    if ((size_t)(buf + line - (sp2 + 1)) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return 400;
    if (sp1 - buf == 3 && memcmp(buf, "GET", 3) == 0) {
        size_t tlen = (size_t)(sp2 - sp1 - 1);

        if ((tlen == 8 && memcmp(sp1 + 1, "/metrics", 8) == 0) ||
            (tlen > 8 && memcmp(sp1 + 1, "/metrics?", 9) == 0))
            return 200;
    }
    return 404;
}

/* ---- endpoint: connections -------------------------------------------------------- */

static void mconn_close(mconn *c)
{
    if (c->fd < 0)
        return;
    sk_io_stop(c->io);
    sk_timer_stop(c->deadline);
    close(c->fd);
    free(c->out);
    c->io = NULL;
    c->deadline = NULL;
    c->out = NULL;
    c->fd = -1;
}

static void deadline_cb(sk_timer *t, void *arg)
{
    (void)t;
    mconn_close(arg);
}

/* Builds the response for `status` into c->out. */
static int mconn_respond(mconn *c, int status)
{
    static const char *const reasons[] = { "OK", "Bad Request", "Not Found" };
    const char *reason = status == 200 ? reasons[0] : status == 400 ? reasons[1] : reasons[2];
    char *body = NULL, head[256];
    size_t blen = 0;
    int hlen, err = 0;

    if (status == 200)
        err = metrics_render(c->m, &body, &blen);
    if (err < 0) {
        status = 500;
        reason = "Internal Server Error";
    }
    if (status != 200) {
        free(body);
        body = NULL;
        blen = strlen(reason) + 1;
    }
    hlen = snprintf(head, sizeof(head),
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n", status, reason,
                    status == 200 ? "text/plain; version=0.0.4; charset=utf-8"
                                  : "text/plain; charset=utf-8", blen);
    c->out = malloc((size_t)hlen + blen);
    if (c->out == NULL) {
        free(body);
        return -ENOMEM;
    }
    memcpy(c->out, head, (size_t)hlen);
    if (body != NULL) {
        memcpy(c->out + hlen, body, blen);
    } else {
        memcpy(c->out + hlen, reason, blen - 1);
        c->out[hlen + blen - 1] = '\n';
    }
    free(body);
    c->out_len = (size_t)hlen + blen;
    c->out_off = 0;
    return 0;
}

/* Sends what the socket takes; once all is out, ends our side and waits
 * (within the deadline) for the peer's end, so that unread request bytes
 * cannot make the kernel reset the response away. */
static void mconn_write(mconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            mconn_close(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    shutdown(c->fd, SHUT_WR);
    c->draining = true;
    if (sk_io_set_events(c->io, SK_READABLE) < 0)
        mconn_close(c);
}

static void mconn_read(mconn *c)
{
    char sink[512];
    ssize_t n;
    int status;

    if (c->draining) {
        n = recv(c->fd, sink, sizeof(sink), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            mconn_close(c);
        return;
    }
    n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - c->req_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        mconn_close(c);
        return;
    }
    c->req_len += (size_t)n;
    status = metrics_request_status(c->req, c->req_len);
    if (status == 0 && c->req_len < sizeof(c->req))
        return;
    if (mconn_respond(c, status == 0 ? 400 : status) < 0 ||
        sk_io_set_events(c->io, SK_WRITABLE) < 0) {
        mconn_close(c);
        return;
    }
    mconn_write(c);
}

static void mconn_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    mconn *c = arg;

    (void)io;
    (void)fd;
    if (c->out != NULL && !c->draining && (events & SK_WRITABLE))
        mconn_write(c);
    else if (events & SK_READABLE)
        mconn_read(c);
}

/* A free slot, or the oldest connection's, closed. */
static mconn *mconn_slot(serve_metrics *m)
{
    mconn *oldest = &m->conns[0];

    for (int i = 0; i < METRICS_MAX_CONNS; i++) {
        if (m->conns[i].fd < 0)
            return &m->conns[i];
        if (m->conns[i].seq < oldest->seq)
            oldest = &m->conns[i];
    }
    mconn_close(oldest);
    return oldest;
}

static void accept_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    serve_metrics *m = arg;

    (void)io;
    (void)events;
    for (int i = 0; i < METRICS_MAX_CONNS; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        mconn *c;

        if (cfd < 0)
            return; /* EAGAIN, or an error the next event retries */
        c = mconn_slot(m);
        memset(c, 0, sizeof(*c));
        c->m = m;
        c->fd = cfd;
        c->seq = ++m->accepted;
        if (sk_io_start(m->loop, &c->io, cfd, SK_READABLE, mconn_cb, c) < 0 ||
            sk_timer_start(m->loop, &c->deadline, METRICS_DEADLINE, 0, deadline_cb, c) < 0) {
            sk_io_stop(c->io);
            c->io = NULL;
            close(cfd);
            c->fd = -1;
        }
    }
}

/* ---- endpoint: lifetime ------------------------------------------------------------- */

static void *metrics_main(void *arg)
{
    serve_metrics *m = arg;

    sk_loop_run(m->loop);
    return NULL;
}

int metrics_parse_addr(const char *where, sk_addr *out)
{
    int rc;

    if (strchr(where, '/') != NULL)
        rc = sk_addr_from_unix(out, where);
    else
        rc = sk_addr_parse(out, where, -1);
    if (rc < 0) {
        cli_error("--metrics", "'%s' is neither ADDR:PORT nor a socket path", where);
        return -1;
    }
    return 0;
}

/* Parses `where` and opens the listening socket. */
static int metrics_listen(serve_metrics *m, const char *where)
{
    sk_addr addr;
    sk_sock *s;
    int rc, fd;

    if (metrics_parse_addr(where, &addr) < 0)
        return -1;
    rc = sk_create_server(&s, &addr, SOCK_STREAM, 64, 0);
    if (rc < 0) {
        cli_error("--metrics", "%s: %s", where, sk_strerror(rc));
        return -1;
    }
    fd = sk_sock_detach(s);
    sk_sock_free(s);
    if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        cli_error("--metrics", "%s: cannot set up the socket", where);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    m->listen_fd = fd;
    if (addr.u.sa.sa_family == AF_UNIX && addr.u.un.sun_path[0] != '\0')
        snprintf(m->unix_path, sizeof(m->unix_path), "%s", addr.u.un.sun_path);
    return 0;
}

static int metrics_thread_start(serve_metrics *m)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&m->thread, NULL, metrics_main, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    m->started = rc == 0;
    return -rc;
}

int metrics_start(serve_metrics **out, const char *where, sk_server *srv,
                  const metrics_service *svcs, size_t n, svc_udpguard *guard,
                  const svc_ntp *nts)
{
    serve_metrics *m = calloc(1, sizeof(*m));
    struct timespec now;

    if (m == NULL)
        goto nomem;
    m->listen_fd = -1;
    for (int i = 0; i < METRICS_MAX_CONNS; i++)
        m->conns[i].fd = -1;
    m->srv = srv;
    m->guard = guard;
    m->nts = nts;
    m->nsvcs = n;
    m->svcs = malloc((n ? n : 1) * sizeof(*svcs));
    if (m->svcs == NULL)
        goto nomem;
    memcpy(m->svcs, svcs, n * sizeof(*svcs));
    clock_gettime(CLOCK_REALTIME, &now);
    m->start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    if (metrics_listen(m, where) < 0)
        goto fail;
    if (sk_loop_new(&m->loop) < 0 ||
        sk_io_start(m->loop, &m->listen_io, m->listen_fd, SK_READABLE, accept_cb, m) < 0 ||
        metrics_thread_start(m) < 0) {
        cli_error("--metrics", "%s: cannot start the endpoint", where);
        goto fail;
    }
    *out = m;
    return 0;

nomem:
    cli_error("--metrics", "out of memory");
fail:
    metrics_stop(m);
    return -1;
}

void metrics_set_stamp(serve_metrics *m, svc_stamp *s)
{
    if (m != NULL)
        atomic_store(&m->stamp, s);
}

void metrics_stop(serve_metrics *m)
{
    if (m == NULL)
        return;
    if (m->started) {
        sk_loop_stop(m->loop);
        pthread_join(m->thread, NULL);
    }
    for (int i = 0; i < METRICS_MAX_CONNS; i++)
        mconn_close(&m->conns[i]);
    sk_io_stop(m->listen_io);
    sk_loop_free(m->loop);
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    if (m->unix_path[0] != '\0')
        unlink(m->unix_path);
    free(m->svcs);
    free(m);
}
