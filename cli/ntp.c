/* SPDX-License-Identifier: MIT */
/*
 * cli/ntp.c - `sockit ntp`: asks an NTP server for the time, COUNT times,
 * and reports each sample's offset and delay and the best one.
 *
 *   options      the option layer (cli/opt.h) into ntp_opts (usage
 *                errors exit 2)
 *   exchange     one request with a random transmit timestamp (the nonce a
 *                reply must echo as its origin) and the wait for a reply
 *                that passes every check in reply_check; a rejected
 *                datagram is reported on stderr and the wait goes on
 *   kiss-o'-death  RATE doubles the interval; DENY and RSTR end the run
 *   report       one line (or JSON element) per sample, then the summary:
 *                the lowest-delay sample's offset, as ntpdate and chrony
 *                prefer; leap indicator 3 fails the run unless
 *                --allow-unsynced
 *
 * T1 and T4 are read from CLOCK_REALTIME right around the send and the
 * receive; the offset is server - local (positive: the local clock is
 * behind).  The socket is not connected, so a reply from any other address
 * or port is seen, reported and refused rather than silently filtered.
 *
 * With --nts (cli/ntp_nts.c) the run starts with the NTS key exchange;
 * each request then carries a cookie (used once) and an authenticator,
 * and only an authenticated reply echoing our unique identifier counts.
 * An NTSN kiss-o'-death ends the run.  Every failure names its step.
 */
#include "cli.h"
#include "clock.h"
#include "ntp.h"
#include "ntp_nts.h"
#include "opt.h"

#include "sockit.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define NTP_DEFAULT_COUNT 4
#define NTP_MAX_COUNT 10000
#define NTP_DEFAULT_INTERVAL 1.0
#define NTP_MIN_INTERVAL 0.1
#define NTP_MAX_INTERVAL 3600.0
#define NTP_DEFAULT_TIMEOUT 5.0
#define NTP_RECV_MAX 2048

static const char ntp_usage[] =
    "usage: sockit ntp [-4|-6] [--count N] [--interval SECONDS] [--timeout SECONDS]\n"
    "                  [--json] [--allow-unsynced] [--nts [--nts-port N] [--cafile F]\n"
    "                  [--servername N] [--nts-ke-only]] HOST [PORT]\n";

static const char ntp_help[] =
    "\n"
    "Ask an NTP (or SNTP) server for the time COUNT times and report each sample's\n"
    "offset (server - local, ms) and round-trip delay (ms), the server's stratum,\n"
    "refid and leap indicator, and the offset of the lowest-delay sample.\n"
    "\n"
    "options:\n"
    "  -4                     use IPv4 addresses only\n"
    "  -6                     use IPv6 addresses only\n"
    "  -c, --count N          send N requests (default 4)\n"
    "  -i, --interval SECONDS wait SECONDS between requests (default 1, at least 0.1)\n"
    "  -t, --timeout SECONDS  wait this long for each reply (default 5)\n"
    "      --json             print one JSON object with every sample\n"
    "      --allow-unsynced   accept a server whose leap indicator says its clock is\n"
    "                         unsynchronised (3); without it that fails the run\n"
    "      --nts              Network Time Security (RFC 8915): a key exchange over\n"
    "                         TLS 1.3 with HOST first, then authenticated NTP with\n"
    "                         its cookies (each used once) at the server and port it\n"
    "                         names (else HOST and PORT)\n"
    "      --nts-port N       the key exchange's port (default 4460)\n"
    "      --cafile F         verify the key-exchange server's certificate against\n"
    "                         the CAs in F (default: the system's)\n"
    "      --servername N     the name to send (SNI) and check the certificate for\n"
    "                         (default HOST)\n"
    "      --nts-ke-only      run the key exchange alone and print what the server\n"
    "                         offered: AEAD, cookies and their length, NTP server, port\n"
    "  -h, --help             show this help and exit\n"
    "\n"
    "PORT is a number or a service name; it defaults to 123.  A reply counts only\n"
    "if it is mode 4, comes from the address asked, carries our random transmit\n"
    "timestamp as its origin, has a non-zero transmit timestamp and stratum 1..15\n"
    "(16 only with leap 3); anything else is reported and ignored.  A RATE\n"
    "kiss-o'-death doubles the interval; DENY or RSTR stops with exit status 1.\n"
    "\n"
    "With --nts a failure names its step: TLS (or the certificate), key exchange\n"
    "error record, key exchange, no cookies, NTSN, reply authentication failed,\n"
    "unique identifier mismatch.\n"
    "\n"
    "Exit status: 0 success, 1 failure (no usable reply, access denied,\n"
    "unsynchronised server, an NTS step), 2 usage error.  See sockit(1).\n";

/* ---- options ----------------------------------------------------------------- */

typedef struct ntp_opts {
    int family;
    long count;
    double interval, timeout;
    bool json, allow_unsynced;
    const char *host, *port;
    char portbuf[8];
    char where[300]; /* "host:port" for messages */
    bool nts, nts_ke_only, nts_opt;  /* nts_opt: an NTS option was given */
    const char *nts_port, *cafile, *servername;
    char nts_portbuf[8];
    ntp_nts *state;                  /* the association, with --nts */
} ntp_opts;

enum { OPT_JSON = 256, OPT_ALLOW_UNSYNCED, OPT_NTS, OPT_NTS_PORT, OPT_CAFILE, OPT_SERVERNAME,
       OPT_NTS_KE_ONLY };

static const struct option ntp_longopts[] = {
    {"count", required_argument, NULL, 'c'},
    {"interval", required_argument, NULL, 'i'},
    {"timeout", required_argument, NULL, 't'},
    {"json", no_argument, NULL, OPT_JSON},
    {"allow-unsynced", no_argument, NULL, OPT_ALLOW_UNSYNCED},
    {"nts", no_argument, NULL, OPT_NTS},
    {"nts-port", required_argument, NULL, OPT_NTS_PORT},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"servername", required_argument, NULL, OPT_SERVERNAME},
    {"nts-ke-only", no_argument, NULL, OPT_NTS_KE_ONLY},
    {NULL, 0, NULL, 0},
};

static void ntp_print_help(FILE *out, const void *arg)
{
    (void)arg;
    fputs(ntp_usage, out);
    fputs(ntp_help, out);
}

/* The NTS options; returns 0, or -1 after printing why. */
static int ntp_nts_option(ntp_opts *o, int opt, const char *arg)
{
    int port;

    o->nts_opt = true;
    switch (opt) {
    case OPT_NTS:
        o->nts = true;
        return 0;
    case OPT_NTS_KE_ONLY:
        o->nts = o->nts_ke_only = true;
        return 0;
    case OPT_NTS_PORT:
        if (cli_parse_port("ntp", arg, "tcp", CLI_ZERO_BAD, &port) < 0)
            return -1;
        snprintf(o->nts_portbuf, sizeof(o->nts_portbuf), "%d", port);
        o->nts_port = o->nts_portbuf;
        return 0;
    case OPT_CAFILE:
        o->cafile = arg;
        return 0;
    case OPT_SERVERNAME:
        o->servername = arg;
        return 0;
    }
    return -1;
}

/* Applies one option; returns 0, or -1 after printing why. */
static int ntp_option(ntp_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case '4':
    case '6':
        o->family = opt == '4' ? AF_INET : AF_INET6;
        return 0;
    case 'c':
        return cli_parse_count("ntp", arg, 1, NTP_MAX_COUNT, &o->count);
    case 'i':
        if (cli_parse_duration("ntp", arg, CLI_ZERO_BAD, NTP_MAX_INTERVAL, &o->interval) < 0)
            return -1;
        if (o->interval < NTP_MIN_INTERVAL) {
            cli_bad_value("ntp", "duration", arg);
            return -1;
        }
        return 0;
    case 't':
        return cli_parse_duration("ntp", arg, CLI_ZERO_BAD, 86400, &o->timeout);
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_ALLOW_UNSYNCED:
        o->allow_unsynced = true;
        return 0;
    }
    return ntp_nts_option(o, opt, arg);
}

/* Parses argv; returns -1 to go on, or the exit status to return. */
static int ntp_parse(ntp_opts *o, int argc, char **argv)
{
    const char *arg;
    cli_opts p;
    int opt, port;

    memset(o, 0, sizeof(*o));
    o->family = AF_UNSPEC;
    o->count = NTP_DEFAULT_COUNT;
    o->interval = NTP_DEFAULT_INTERVAL;
    o->timeout = NTP_DEFAULT_TIMEOUT;
    cli_opts_start(&p, "ntp", argc, argv, "46c:i:t:", ntp_longopts, ntp_print_help, NULL);
    while ((opt = cli_opts_next(&p, &arg)) > 0)
        if (ntp_option(o, opt, arg) < 0)
            return CLI_EXIT_USAGE;
    if (opt != CLI_OPTS_END)
        return cli_opts_status(opt);
    if (cli_opts_host_port(&p, "udp", NTP_PORT, false, &o->host, &port) != 0)
        return CLI_EXIT_USAGE;
    if (o->nts_opt && !o->nts)
        return cli_usage_error("ntp", "--nts-port, --cafile and --servername need --nts");
    if (o->nts_port == NULL)
        o->nts_port = "4460";
    snprintf(o->portbuf, sizeof(o->portbuf), "%d", port);
    o->port = o->portbuf;
    snprintf(o->where, sizeof(o->where), strchr(o->host, ':') ? "[%s]:%s" : "%s:%s",
             o->host, o->port);
    return -1;
}

/* ---- messages ---------------------------------------------------------------- */

static void ntp_error(const ntp_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "sockit: ntp HOST:PORT: why" */
static void ntp_error(const ntp_opts *o, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sockit: ntp %s: ", o->where);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static double realtime_now(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

static uint64_t ts_of(const struct timespec *t)
{
    return ntp_ts_from_unix((int64_t)t->tv_sec, (uint32_t)t->tv_nsec);
}

/* ---- one exchange -------------------------------------------------------------- */

/* One accepted reply. */
typedef struct ntp_result {
    ntp_packet p;
    ntp_sample s;
    int64_t server_sec; /* the reply's transmit time, era nearest our clock */
    uint32_t server_ns;
} ntp_result;

typedef enum ntp_outcome {
    NTP_SAMPLE,     /* *r holds a reply */
    NTP_NO_REPLY,   /* nothing usable before the timeout */
    NTP_KOD_RATE,   /* slow down */
    NTP_KOD_STOP,   /* DENY or RSTR: stop asking */
    NTP_KOD_OTHER,  /* another kiss code: no sample */
    NTP_FAILED      /* a socket error (printed) */
} ntp_outcome;

/*
 * Checks a datagram against the request.  Returns NULL when it is an
 * acceptable reply (or a kiss-o'-death that echoes our nonce), else why not.
 */
static const char *reply_check(const ntp_packet *p, ssize_t len, uint64_t nonce)
{
    static char why[96];

    if (len < NTP_HEADER_LEN) {
        snprintf(why, sizeof(why), "%zd bytes, shorter than an NTP header (48)", len);
        return why;
    }
    if (p->mode != NTP_MODE_SERVER) {
        snprintf(why, sizeof(why), "mode %u, not 4 (server)", p->mode);
        return why;
    }
    if (p->origin != nonce)
        return "origin timestamp is not our transmit timestamp (stale or forged)";
    if (p->stratum == NTP_STRATUM_KOD)
        return NULL;
    if (p->transmit == 0)
        return "transmit timestamp is zero";
    if (p->stratum > NTP_STRATUM_UNSYNC ||
        (p->stratum == NTP_STRATUM_UNSYNC && p->leap != NTP_LEAP_UNSYNC)) {
        snprintf(why, sizeof(why), "stratum %u is not 1..15", p->stratum);
        return why;
    }
    return NULL;
}

/* What a kiss-o'-death that passed reply_check means. */
static ntp_outcome kiss(const ntp_opts *o, const ntp_packet *p)
{
    char code[NTP_REFID_TEXT];

    ntp_refid_format(p->refid, 0, code);
    if (ntp_is_kod(p, "RATE"))
        return NTP_KOD_RATE;
    if (ntp_is_kod(p, "DENY") || ntp_is_kod(p, "RSTR")) {
        ntp_error(o, "server refuses us (kiss-o'-death %s)", code);
        return NTP_KOD_STOP;
    }
    ntp_error(o, "kiss-o'-death %s: no time in this reply", code);
    return NTP_KOD_OTHER;
}

/* A random, non-zero 64-bit nonce: getrandom, or where that fails, the
 * clocks mixed (still unpredictable enough to tell our replies apart). */
static uint64_t random_nonce(void)
{
    uint64_t v = 0;
    struct timespec a;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v) || v == 0) {
        clock_gettime(CLOCK_REALTIME, &a);
        v = ((uint64_t)a.tv_nsec << 32 ^ cli_now_ns() ^ (uint64_t)a.tv_sec) *
            UINT64_C(0x9E3779B97F4A7C15);
        v ^= v >> 29;
    }
    return v != 0 ? v : 1;
}

/* Sends one request to `to` and waits up to o->timeout for its reply. */
static ntp_outcome exchange(const ntp_opts *o, sk_sock *s, const sk_addr *to, ntp_result *r)
{
    unsigned char hdr[NTP_HEADER_LEN], req[NTP_RECV_MAX], buf[NTP_RECV_MAX];
    size_t len;
    ntp_packet q = {0};
    struct timespec t1, t4;
    double deadline = cli_now() + o->timeout;
    uint64_t nonce = random_nonce();
    ssize_t sent;
    char addr[SK_ADDRSTRLEN];

    /* A random transmit timestamp (as chrony sends) is the nonce; our real
     * T1 stays here and is never disclosed. */
    q.version = NTP_VERSION;
    q.mode = NTP_MODE_CLIENT;
    q.transmit = nonce;
    ntp_encode(&q, hdr);
    len = o->state != NULL ? ntp_nts_request(o->state, hdr, req, sizeof(req)) : sizeof(hdr);
    if (len == 0) {
        ntp_error(o, "no cookies: all were used and none came back");
        return NTP_FAILED;
    }
    if (o->state == NULL)
        memcpy(req, hdr, sizeof(hdr));
    realtime_now(&t1);
    sent = sk_sock_sendto(s, req, len, 0, to);
    if (sent < 0) {
        ntp_error(o, "send: %s", sk_strerror((int)sent));
        return NTP_FAILED;
    }
    for (;;) {
        double left = deadline - cli_now();
        sk_addr from;
        ssize_t n;
        const char *why;

        if (left <= 0)
            return NTP_NO_REPLY;
        sk_sock_settimeout(s, left);
        n = sk_sock_recvfrom(s, buf, sizeof(buf), 0, &from);
        realtime_now(&t4);
        if (n == SK_ETIMEOUT)
            return NTP_NO_REPLY;
        if (n < 0) {
            ntp_error(o, "receive: %s", sk_strerror((int)n));
            return NTP_FAILED;
        }
        if (!sk_addr_equal(&from, to)) {
            if (sk_addr_format(&from, addr, sizeof(addr)) < 0)
                snprintf(addr, sizeof(addr), "?");
            ntp_error(o, "ignoring a reply from %s: not the address asked", addr);
            continue;
        }
        memset(&r->p, 0, sizeof(r->p));
        ntp_decode(&r->p, buf, (size_t)n);
        why = reply_check(&r->p, n, nonce);
        if (why != NULL) {
            ntp_error(o, "ignoring a reply: %s", why);
            continue;
        }
        if (o->state != NULL) {
            ntp_nts_step st = ntp_nts_reply(o->state, buf, (size_t)n,
                                            r->p.stratum == NTP_STRATUM_KOD);
            if (st == NTP_NTS_NTSN) {
                ntp_error(o, "NTSN: the server refused our cookie (kiss-o'-death NTSN)");
                return NTP_KOD_STOP;
            }
            if (st != NTP_NTS_OK) {
                ntp_error(o, "ignoring a reply: %s", ntp_nts_step_name(st));
                continue;
            }
        }
        if (r->p.stratum == NTP_STRATUM_KOD)
            return kiss(o, &r->p);
        r->s = ntp_sample_compute(ts_of(&t1), r->p.receive, r->p.transmit, ts_of(&t4));
        r->server_sec = ntp_ts_to_unix(r->p.transmit, (int64_t)t4.tv_sec, &r->server_ns);
        return NTP_SAMPLE;
    }
}

/* ---- output ------------------------------------------------------------------ */

static const char *leap_name(unsigned leap)
{
    static const char *const names[] = {"none", "insert", "delete", "unsynchronised"};

    return names[leap & 3];
}

/* "2036-02-07T06:29:56.123Z", or the Unix seconds if gmtime cannot. */
static void format_time(int64_t sec, uint32_t ns, char *buf, size_t size, bool iso)
{
    time_t t = (time_t)sec;
    struct tm tm;
    char base[64];

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(base, sizeof(base), iso ? "%Y-%m-%dT%H:%M:%S" : "%a %b %e %H:%M:%S",
                 &tm) == 0) {
        snprintf(buf, size, "%" PRId64 " (Unix time)", sec);
        return;
    }
    if (iso)
        snprintf(buf, size, "%s.%03uZ", base, ns / 1000000u);
    else
        snprintf(buf, size, "%s.%03u %d UTC", base, ns / 1000000u, tm.tm_year + 1900);
}

static const char *aead_name(uint16_t id)
{
    return id == NTS_AEAD_AES_SIV_CMAC_256 ? "AEAD_AES_SIV_CMAC_256" : "unknown";
}

static void print_sample_text(int i, const ntp_result *r)
{
    char refid[NTP_REFID_TEXT];

    printf("sample %d: offset %+.3f ms, delay %.3f ms, stratum %u, refid %s, leap %u\n",
           i + 1, r->s.offset * 1e3, r->s.delay * 1e3, r->p.stratum,
           ntp_refid_format(r->p.refid, r->p.stratum, refid), r->p.leap);
}

static void print_summary_text(const ntp_opts *o, const char *addr, const ntp_result *best,
                               int ibest, int n)
{
    char refid[NTP_REFID_TEXT], when[128];

    format_time(best->server_sec, best->server_ns, when, sizeof(when), false);
    printf("server %s (%s): stratum %u, refid %s, leap %u (%s), precision 2^%d s\n",
           o->where, addr, best->p.stratum,
           ntp_refid_format(best->p.refid, best->p.stratum, refid), best->p.leap,
           leap_name(best->p.leap), best->p.precision);
    printf("server time is %s\n", when);
    printf("offset %+.3f ms, delay %.3f ms (lowest-delay sample, %d of %d)\n",
           best->s.offset * 1e3, best->s.delay * 1e3, ibest + 1, n);
    if (o->state != NULL)
        printf("nts: yes, %s, %zu cookies left\n", aead_name(o->state->aead),
               o->state->ncookies);
}

/* The fields one sample and the summary share, as JSON members. */
static void json_fields(const ntp_result *r)
{
    char refid[NTP_REFID_TEXT], when[128];

    format_time(r->server_sec, r->server_ns, when, sizeof(when), true);
    printf("\"offset_ms\": %.6f, \"delay_ms\": %.6f, \"stratum\": %u, \"refid\": \"%s\", "
           "\"leap\": %u, \"server_unix\": %" PRId64 ", \"server_time\": \"%s\"",
           r->s.offset * 1e3, r->s.delay * 1e3, r->p.stratum,
           ntp_refid_format(r->p.refid, r->p.stratum, refid), r->p.leap, r->server_sec,
           when);
}

/* One JSON object on one line.  `where` and the address are printable
 * ASCII from the command line and sk_addr_format, without quotes. */
static void print_json(const ntp_opts *o, const char *addr, const ntp_result *rs, int n,
                       int ibest, bool synced)
{
    printf("{\"server\": \"%s\", \"address\": \"%s\", \"samples\": [", o->where, addr);
    for (int i = 0; i < n; i++) {
        printf(i ? ", {" : "{");
        json_fields(&rs[i]);
        printf("}");
    }
    printf("], \"chosen\": %d, ", ibest + 1);
    json_fields(&rs[ibest]);
    printf(", \"synchronised\": %s", synced ? "true" : "false");
    if (o->state != NULL)
        printf(", \"nts\": true, \"aead\": \"%s\", \"cookies_left\": %zu",
               aead_name(o->state->aead), o->state->ncookies);
    printf("}\n");
}

/* ---- NTS ------------------------------------------------------------------------- */

/* A string from the key exchange (printable ASCII) as a JSON string. */
static void json_string(const char *v)
{
    putchar('"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            putchar('\\');
        putchar(*v);
    }
    putchar('"');
}

/* --nts-ke-only: what the server offered. */
static void print_ke(const ntp_opts *o, const char *ke_where, const ntp_nts *n)
{
    const char *server = n->server[0] ? n->server : o->host;
    int port = n->port >= 0 ? n->port : NTP_PORT;

    if (o->json) {
        printf("{\"nts_ke\": ");
        json_string(ke_where);
        printf(", \"tls\": \"%s\", \"alpn\": \"%s\", \"aead\": \"%s\", \"aead_id\": %u, "
               "\"cookies\": %zu, \"cookie_length\": %zu, \"ntp_server\": ",
               n->tls_version, NTS_KE_ALPN, aead_name(n->aead), n->aead, n->cookies_received,
               n->cookie_len);
        json_string(server);
        printf(", \"ntp_port\": %d, \"server_record\": %s, \"port_record\": %s}\n", port,
               n->server[0] ? "true" : "false", n->port >= 0 ? "true" : "false");
        return;
    }
    printf("nts-ke %s: %s, ALPN %s\n", ke_where, n->tls_version, NTS_KE_ALPN);
    printf("aead %s (%u)\n", aead_name(n->aead), n->aead);
    printf("cookies %zu, %zu bytes each\n", n->cookies_received, n->cookie_len);
    printf("ntp server %s%s, port %d%s\n", server, n->server[0] ? "" : " (no Server record)",
           port, n->port >= 0 ? "" : " (no Port record)");
}

/*
 * --nts: the key exchange with HOST:--nts-port; then NTP goes to the server
 * and port it named (else HOST, PORT).  Returns 0, or -1 after printing the
 * step that failed.
 */
static int ntp_key_exchange(ntp_opts *o, ntp_nts *n, char *ke_where, size_t size)
{
    static char port[12];
    char why[256];
    ntp_nts_step st;

    snprintf(ke_where, size, strchr(o->host, ':') ? "[%s]:%s" : "%s:%s", o->host,
             o->nts_port);
    st = ntp_nts_ke(n, o->host, o->nts_port, o->family, o->cafile, o->servername, o->timeout,
                    why, sizeof(why));
    if (st != NTP_NTS_OK) {
        fprintf(stderr, "sockit: ntp --nts %s: %s: %s\n", ke_where, ntp_nts_step_name(st), why);
        return -1;
    }
    if (n->server[0])
        o->host = n->server;
    if (n->port >= 0) {
        snprintf(port, sizeof(port), "%d", n->port);
        o->port = port;
    }
    snprintf(o->where, sizeof(o->where), strchr(o->host, ':') ? "[%s]:%s" : "%s:%s",
             o->host, o->port);
    o->state = n;
    return 0;
}

/* ---- the command ---------------------------------------------------------------- */

/* Resolves HOST PORT for UDP and opens a socket of the first address's
 * family.  Returns 0, or -1 after printing why. */
static int ntp_open(const ntp_opts *o, sk_sock **s, sk_addr *to)
{
    sk_addrinfo *list;
    int rc = sk_getaddrinfo(o->host, o->port, o->family, SOCK_DGRAM, 0, 0, o->timeout, &list);

    if (rc < 0) {
        ntp_error(o, "%s", sk_strerror(rc));
        return -1;
    }
    *to = list->addr;
    rc = sk_sock_open(s, list->family, SOCK_DGRAM, 0);
    sk_addrinfo_free(list);
    if (rc < 0) {
        ntp_error(o, "socket: %s", sk_strerror(rc));
        return -1;
    }
    return 0;
}

/* Waits `seconds` (monotonic, restarted after a signal). */
static void pause_for(double seconds)
{
    struct timespec ts = {(time_t)seconds,
                          (long)((seconds - floor(seconds)) * 1e9)};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Runs the exchanges; stores the samples in rs[] and returns their count,
 * or -1 when the run must stop (printed). */
static int ntp_collect(const ntp_opts *o, sk_sock *s, const sk_addr *to, ntp_result *rs)
{
    double interval = o->interval;
    int n = 0;

    for (long i = 0; i < o->count; i++) {
        if (i > 0)
            pause_for(interval);
        switch (exchange(o, s, to, &rs[n])) {
        case NTP_SAMPLE:
            n++;
            break;
        case NTP_NO_REPLY:
            ntp_error(o, "no usable reply within %g s", o->timeout);
            break;
        case NTP_KOD_RATE:
            interval = interval * 2 < NTP_MAX_INTERVAL ? interval * 2 : NTP_MAX_INTERVAL;
            ntp_error(o, "server asks us to slow down (kiss-o'-death RATE): interval now %g s",
                      interval);
            break;
        case NTP_KOD_OTHER:
            break;
        case NTP_KOD_STOP:
        case NTP_FAILED:
            return -1;
        }
    }
    return n;
}

int cmd_ntp(int argc, char **argv)
{
    static ntp_result rs[NTP_MAX_COUNT];
    static ntp_nts nts;
    char ke_where[300];
    ntp_opts o;
    sk_sock *s;
    sk_addr to;
    char addr[SK_ADDRSTRLEN];
    int status = ntp_parse(&o, argc, argv), n, best = 0;
    bool synced;

    if (status >= 0)
        return status;
    if (o.nts && ntp_key_exchange(&o, &nts, ke_where, sizeof(ke_where)) < 0) {
        ntp_nts_free(&nts);
        return CLI_EXIT_FAIL;
    }
    if (o.nts_ke_only) {
        print_ke(&o, ke_where, &nts);
        ntp_nts_free(&nts);
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    if (ntp_open(&o, &s, &to) < 0) {
        ntp_nts_free(&nts);
        return CLI_EXIT_FAIL;
    }
    if (sk_addr_format_ip(&to, addr, sizeof(addr)) < 0)
        snprintf(addr, sizeof(addr), "?");
    n = ntp_collect(&o, s, &to, rs);
    sk_sock_free(s);
    if (o.nts)
        ntp_nts_free(&nts); /* the counts the report prints stay */
    if (n <= 0) {
        if (n == 0)
            ntp_error(&o, "no usable reply to %ld request%s", o.count, o.count == 1 ? "" : "s");
        return CLI_EXIT_FAIL;
    }
    for (int i = 1; i < n; i++)
        if (rs[i].s.delay < rs[best].s.delay)
            best = i;
    synced = rs[best].p.leap != NTP_LEAP_UNSYNC;
    if (o.json) {
        print_json(&o, addr, rs, n, best, synced);
    } else {
        for (int i = 0; i < n; i++)
            print_sample_text(i, &rs[i]);
        print_summary_text(&o, addr, &rs[best], best, n);
    }
    if (fflush(stdout) != 0)
        return CLI_EXIT_FAIL;
    if (!synced && !o.allow_unsynced) {
        ntp_error(&o, "server says its clock is unsynchronised (leap indicator 3); "
                      "--allow-unsynced accepts it");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
