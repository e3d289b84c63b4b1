/* SPDX-License-Identifier: MIT */
/*
 * cli/tls.c - `sockit tls`: probes a TLS server's handshake and
 * certificate, for people and for cron: prints the protocol version,
 * cipher, ALPN, the certificate's subject, SANs, issuer, validity and days
 * left, the verification result and the connect and handshake times, and
 * exits 0 only when the certificate verified (and, with --min-days, has at
 * least that many days left).
 *
 * The handshake completes even when verification fails (verify mode none,
 * with the name check still on), so a failing certificate is shown in full
 * next to the reason it fails; sk_tls_verify_result says the reason.
 */
#include "cli.h"
#include "opt.h"

#include "sockit.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TLS_DEFAULT_TIMEOUT 10.0
#define TLS_MAX_MIN_DAYS 100000

struct probe {
    int family;
    const char *cafile, *servername, *alpn, *host, *port;
    long min_days;       /* -1: not asked */
    bool json;
    double timeout;
    char where[300];
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sockit tls [-4|-6] [--cafile FILE] [--servername NAME] [--alpn PROTO]\n"
            "                  [--min-days N] [--timeout SECONDS] [--json] HOST PORT\n\n"
            "Make a TLS handshake with HOST PORT and show what it gave: protocol\n"
            "version, cipher, ALPN, the certificate's subject, SANs, issuer, serial,\n"
            "validity and days left, whether it verified, and how long the TCP\n"
            "connect and the handshake took.\n\n"
            "options:\n"
            "  -4                     use IPv4 addresses only\n"
            "  -6                     use IPv6 addresses only\n"
            "      --cafile FILE      also trust the CA certificates in FILE (PEM)\n"
            "      --servername NAME  the name sent in SNI and checked (default HOST)\n"
            "      --alpn PROTO       offer ALPN protocol PROTO (e.g. h2)\n"
            "      --min-days N       fail unless the certificate has N days left\n"
            "  -t, --timeout SECONDS  give up after SECONDS (default %g)\n"
            "      --json             print one JSON object instead of text\n"
            "  -h, --help             show this help and exit\n\n"
            "Exit status: 0 when the certificate verified (and has --min-days left),\n"
            "1 otherwise or on a network error, 2 usage error.  See sockit(1).\n",
            TLS_DEFAULT_TIMEOUT);
}

enum { OPT_CAFILE = 0x100, OPT_SERVERNAME, OPT_ALPN, OPT_MIN_DAYS, OPT_JSON };

/* usage() in the option layer's shape. */
static void help(FILE *out, const void *arg)
{
    (void)arg;
    usage(out);
}

/* Applies one option.  Returns 0, or -1 after printing why. */
static int take_option(struct probe *p, int opt, const char *arg)
{
    switch (opt) {
    case '4':
    case '6':
        if (p->family != AF_UNSPEC && p->family != (opt == '4' ? AF_INET : AF_INET6)) {
            cli_usage_error("tls", "-4 and -6 exclude each other");
            return -1;
        }
        p->family = opt == '4' ? AF_INET : AF_INET6;
        return 0;
    case OPT_CAFILE:
        p->cafile = arg;
        return 0;
    case OPT_SERVERNAME:
        if (arg[0] == '\0') {
            cli_bad_value("tls", "name", arg);
            return -1;
        }
        p->servername = arg;
        return 0;
    case OPT_ALPN:
        if (arg[0] == '\0' || strlen(arg) > 255) {
            cli_bad_value("tls", "protocol", arg);
            return -1;
        }
        p->alpn = arg;
        return 0;
    case OPT_MIN_DAYS:
        return cli_parse_count("tls", arg, 0, TLS_MAX_MIN_DAYS, &p->min_days);
    case 't':
        return cli_parse_duration("tls", arg, CLI_ZERO_BAD, 86400, &p->timeout);
    case OPT_JSON:
        p->json = true;
        return 0;
    default:
        return -1;
    }
}

/* Parses the command line into *p.  Returns -1 to go on, else the exit
 * status (help printed, or a usage error). */
static int parse(struct probe *p, int argc, char **argv)
{
    static const struct option lo[] = {
        {"cafile", required_argument, NULL, OPT_CAFILE},
        {"servername", required_argument, NULL, OPT_SERVERNAME},
        {"alpn", required_argument, NULL, OPT_ALPN},
        {"min-days", required_argument, NULL, OPT_MIN_DAYS},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    const char *arg;
    cli_opts o;
    int opt, port;

    memset(p, 0, sizeof *p);
    p->family = AF_UNSPEC;
    p->min_days = -1;
    p->timeout = TLS_DEFAULT_TIMEOUT;
    cli_opts_start(&o, "tls", argc, argv, "46t:", lo, help, NULL);
    while ((opt = cli_opts_next(&o, &arg)) > 0)
        if (take_option(p, opt, arg) < 0)
            return CLI_EXIT_USAGE;
    if (opt != CLI_OPTS_END)
        return cli_opts_status(opt);
    if (cli_opts_host_port(&o, "tcp", 0, true, &p->host, &port) != 0)
        return CLI_EXIT_USAGE;
    p->port = argv[o.optind + 1];
    snprintf(p->where, sizeof p->where, strchr(p->host, ':') ? "[%s]:%s" : "%s:%s", p->host,
             p->port);
    return -1;
}

/* A client context that completes the handshake whatever the certificate,
 * with the name check on, so sk_tls_verify_result can say why. */
static int make_ctx(const struct probe *p, sk_tls_ctx **ctx)
{
    int rc = sk_tls_ctx_new(ctx, SK_TLS_CLIENT);

    if (rc < 0) {
        cli_error_code("tls", rc);
        return -1;
    }
    sk_tls_ctx_set_verify_mode(*ctx, SK_TLS_VERIFY_NONE);
    sk_tls_ctx_set_resumption(*ctx, false);
    if (p->cafile != NULL && (rc = sk_tls_ctx_load_verify_locations(*ctx, p->cafile, NULL)) < 0)
        cli_error("tls", "--cafile %s: %s", p->cafile, sk_strerror(rc));
    else if (p->alpn != NULL && (rc = sk_tls_ctx_set_alpn_protocols(*ctx, &p->alpn, 1)) < 0)
        cli_error_code("tls", rc);
    if (rc < 0) {
        sk_tls_ctx_free(*ctx);
        return -1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What one probe found. */
struct result {
    const char *version, *cipher, *alpn;
    char alpn_buf[256];    /* ALPN outlives the socket here */
    sk_tls_cert_info cert;
    bool have_cert;
    int verify;            /* 0 or an SK_ETLS_VERIFY_* code, -ENODATA */
    long days_left;
    double connect_ms, handshake_ms;
};

static void utc_text(time_t t, char *buf, size_t size)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A JSON string (the certificate's text may hold quotes or backslashes). */
static void json_str(const char *s)
{
    if (s == NULL) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* The SAN list ("DNS:a, IP:b") as a JSON array of its entries. */
static void json_sans(const char *sans)
{
    char one[sizeof ((sk_tls_cert_info *)0)->sans];

    if (sans == NULL) {
        fputs("null", stdout);
        return;
    }
    putchar('[');
    for (const char *p = sans; *p != '\0';) {
        size_t n = strcspn(p, ",");

        snprintf(one, sizeof one, "%.*s", (int)n, p);
        if (p != sans)
            putchar(',');
        json_str(one);
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    putchar(']');
}

static const char *verify_text(int v)
{
    return v == 0 ? "ok" : v == -ENODATA ? "no certificate" : sk_strerror(v);
}

static void print_json(const struct probe *p, const struct result *r)
{
    char nb[32] = "", na[32] = "";

    if (r->have_cert) {
        utc_text(r->cert.not_before, nb, sizeof nb);
        utc_text(r->cert.not_after, na, sizeof na);
    }
    printf("{\"host\":");
    json_str(p->host);
    printf(",\"port\":");
    json_str(p->port);
    printf(",\"version\":");
    json_str(r->version);
    printf(",\"cipher\":");
    json_str(r->cipher);
    printf(",\"alpn\":");
    json_str(r->alpn);
    printf(",\"subject\":");
    json_str(r->have_cert ? r->cert.subject : NULL);
    printf(",\"sans\":");
    json_sans(r->have_cert ? r->cert.sans : NULL);
    printf(",\"issuer\":");
    json_str(r->have_cert ? r->cert.issuer : NULL);
    printf(",\"serial\":");
    json_str(r->have_cert ? r->cert.serial : NULL);
    printf(",\"not_before\":");
    json_str(r->have_cert ? nb : NULL);
    printf(",\"not_after\":");
    json_str(r->have_cert ? na : NULL);
    printf(",\"days_left\":%ld,\"verified\":%s,\"verify_error\":", r->days_left,
           r->verify == 0 ? "true" : "false");
    json_str(r->verify == 0 ? NULL : verify_text(r->verify));
    printf(",\"connect_ms\":%.3f,\"handshake_ms\":%.3f}\n", r->connect_ms, r->handshake_ms);
}

static void print_text(const struct result *r)
{
    char nb[32], na[32];

    printf("version:    %s\n", r->version);
    printf("cipher:     %s\n", r->cipher);
    printf("alpn:       %s\n", r->alpn ? r->alpn : "(none)");
    if (r->have_cert) {
        utc_text(r->cert.not_before, nb, sizeof nb);
        utc_text(r->cert.not_after, na, sizeof na);
        printf("subject:    %s\n", r->cert.subject);
        printf("sans:       %s\n", r->cert.sans[0] ? r->cert.sans : "(none)");
        printf("issuer:     %s\n", r->cert.issuer);
        printf("serial:     %s\n", r->cert.serial);
        printf("not-before: %s\n", nb);
        printf("not-after:  %s (%ld days left)\n", na, r->days_left);
    }
    printf("verify:     %s\n", verify_text(r->verify));
    printf("connect:    %.3f ms\n", r->connect_ms);
    printf("handshake:  %.3f ms\n", r->handshake_ms);
}

/* Connects, shakes hands and fills *r.  Returns 0, or -1 after printing. */
static int run_probe(const struct probe *p, sk_tls_ctx *ctx, struct result *r)
{
    double t0 = now_s(), deadline = t0 + p->timeout;
    sk_sock *s;
    int rc = sk_create_connection(&s, p->host, p->port, p->family, p->timeout, NULL);

    if (rc < 0) {
        cli_error("tls", "connect %s: %s", p->where, sk_strerror(rc));
        return -1;
    }
    double t1 = now_s();

    rc = sk_sock_settimeout(s, deadline - t1 > 0 ? deadline - t1 : 0.001);
    if (rc == 0)
        rc = sk_tls_wrap(s, ctx, p->servername != NULL ? p->servername : p->host);
    if (rc < 0) {
        cli_error("tls", "%s: %s", p->where, sk_strerror(rc));
        sk_sock_free(s);
        return -1;
    }
    r->connect_ms = (t1 - t0) * 1e3;
    r->handshake_ms = (now_s() - t1) * 1e3;
    r->version = sk_tls_version(s);
    r->cipher = sk_tls_cipher(s);
    r->alpn = sk_tls_alpn(s);
    r->verify = sk_tls_verify_result(s);
    r->cert.size = sizeof r->cert;
    r->have_cert = sk_tls_peer_cert(s, &r->cert) == 0;
    if (r->have_cert) {
        double left = difftime(r->cert.not_after, time(NULL)) / 86400.0;

        r->days_left = (long)(left < 0 ? left - 1 : left);
    }
    /* Version and cipher are static strings; ALPN lives with the socket. */
    if (r->alpn != NULL) {
        snprintf(r->alpn_buf, sizeof r->alpn_buf, "%s", r->alpn);
        r->alpn = r->alpn_buf;
    }
    sk_sock_free(s);
    return 0;
}

int cmd_tls(int argc, char **argv)
{
    struct probe p;
    struct result r = {0};
    sk_tls_ctx *ctx;
    int rc = parse(&p, argc, argv);

    if (rc >= 0)
        return rc;
    if (make_ctx(&p, &ctx) < 0)
        return CLI_EXIT_FAIL;
    rc = run_probe(&p, ctx, &r);
    sk_tls_ctx_free(ctx);
    if (rc < 0)
        return CLI_EXIT_FAIL;
    if (p.json)
        print_json(&p, &r);
    else
        print_text(&r);
    fflush(stdout);
    if (r.verify != 0) {
        cli_error("tls", "%s: %s", p.where, verify_text(r.verify));
        return CLI_EXIT_FAIL;
    }
    if (p.min_days >= 0 && r.days_left < p.min_days) {
        cli_error("tls", "%s: the certificate has %ld days left, less than --min-days %ld",
                  p.where, r.days_left, p.min_days);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
