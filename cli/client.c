/* SPDX-License-Identifier: MIT */
/*
 * cli/client.c - the parts every client subcommand shares (see client.h).
 *
 * Map:
 *   client_usage / client_parse   --help text and the option layer
 *                                 (cli/opt.h) over the options the command
 *                                 accepts
 *   client_error                  "sockit: <cmd> <where>: <why>"
 *   client_connect                TCP: sk_create_connection with the options,
 *                                 then with --tls the handshake (one deadline)
 *   client_read_to_eof            TCP: read a whole reply under one deadline
 *   client_udp_*                  UDP: resolve, connect, request with retries
 *   client_ask, client_ask_text   the speak-unasked services' exchange
 */
#include "client.h"
#include "clock.h"

#include "cli.h"
#include "opt.h"
#include "reply_text.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

/* Largest --bytes: a terabyte is more than anyone reads from chargen. */
#define CLIENT_MAX_BYTES (UINT64_C(1) << 40)

/* First resend interval over UDP; it doubles after each resend. */
#define CLIENT_UDP_FIRST_WAIT 0.5

/* ---- --help ------------------------------------------------------------- */

static void print_synopsis(const struct client_cmd *cmd, FILE *out)
{
    fprintf(out, "usage: sockit %s", cmd->name);
    if (cmd->opts & CLIENT_OPT_BYTES)
        fprintf(out, " [--bytes N]");
    if (cmd->opts & CLIENT_OPT_UDP)
        fprintf(out, " [--udp]");
    if (cmd->opts & CLIENT_OPT_FAMILY)
        fprintf(out, " [-4|-6]");
    if (cmd->opts & CLIENT_OPT_TIMEOUT)
        fprintf(out, " [--timeout SECONDS]");
    if (cmd->opts & CLIENT_OPT_JSON)
        fprintf(out, " [--json]");
    if (cmd->opts & CLIENT_OPT_TLS)
        fprintf(out, "\n       [--tls [--cafile FILE] [--servername NAME] [--insecure]]");
    fprintf(out, " %s\n", cmd->args);
}

void client_usage(const struct client_cmd *cmd, FILE *out)
{
    print_synopsis(cmd, out);
    fprintf(out, "\n%s\n\noptions:\n", cmd->summary);
    if (cmd->opts & CLIENT_OPT_BYTES)
        fprintf(out, "  -n, --bytes N          read N bytes (default %llu)\n",
                (unsigned long long)cmd->default_bytes);
    if (cmd->opts & CLIENT_OPT_UDP)
        fprintf(out, "  -u, --udp              use UDP instead of TCP\n");
    if (cmd->opts & CLIENT_OPT_FAMILY)
        fprintf(out, "  -4                     use IPv4 addresses only\n"
                     "  -6                     use IPv6 addresses only\n");
    if (cmd->opts & CLIENT_OPT_TIMEOUT)
        fprintf(out, "  -t, --timeout SECONDS  give up waiting after SECONDS\n"
                     "                         (default %g)\n",
                CLIENT_DEFAULT_TIMEOUT);
    if (cmd->opts & CLIENT_OPT_JSON)
        fprintf(out, "      --json             print one JSON object instead of text\n");
    if (cmd->opts & CLIENT_OPT_TLS)
        fprintf(out, "      --tls              speak TLS over TCP; the certificate must verify\n"
                     "                         against the system CAs and name the server\n"
                     "      --cafile FILE      also trust the CA certificates in FILE (PEM)\n"
                     "      --servername NAME  the name sent in SNI and checked in the\n"
                     "                         certificate (default HOST)\n"
                     "      --insecure         do not verify the certificate (warns)\n");
    fprintf(out, "  -h, --help             show this help and exit\n\n");
    if (cmd->default_port > 0)
        fprintf(out, "PORT is a number or a service name; it defaults to %d.\n",
                cmd->default_port);
    if (cmd->details != NULL)
        fputs(cmd->details, out);
    fprintf(out, "\nExit status: 0 success, 1 failure, 2 usage error.  See sockit(1).\n");
}

/* ---- argument parsing ------------------------------------------------------ */

enum { OPT_JSON = 0x100, OPT_TLS, OPT_CAFILE, OPT_SERVERNAME, OPT_INSECURE };

/* Builds the getopt tables for the options `cmd` accepts (the option layer
 * adds --help). */
static void build_options(const struct client_cmd *cmd, struct option *lo,
                          char *so)
{
    size_t nl = 0, ns = 0;

    if (cmd->opts & CLIENT_OPT_UDP) {
        so[ns++] = 'u';
        lo[nl++] = (struct option){"udp", no_argument, NULL, 'u'};
    }
    if (cmd->opts & CLIENT_OPT_FAMILY) {
        so[ns++] = '4';
        so[ns++] = '6';
    }
    if (cmd->opts & CLIENT_OPT_TIMEOUT) {
        memcpy(so + ns, "t:", 2);
        ns += 2;
        lo[nl++] = (struct option){"timeout", required_argument, NULL, 't'};
    }
    if (cmd->opts & CLIENT_OPT_JSON)
        lo[nl++] = (struct option){"json", no_argument, NULL, OPT_JSON};
    if (cmd->opts & CLIENT_OPT_BYTES) {
        memcpy(so + ns, "n:", 2);
        ns += 2;
        lo[nl++] = (struct option){"bytes", required_argument, NULL, 'n'};
    }
    if (cmd->opts & CLIENT_OPT_TLS) {
        lo[nl++] = (struct option){"tls", no_argument, NULL, OPT_TLS};
        lo[nl++] = (struct option){"cafile", required_argument, NULL, OPT_CAFILE};
        lo[nl++] = (struct option){"servername", required_argument, NULL, OPT_SERVERNAME};
        lo[nl++] = (struct option){"insecure", no_argument, NULL, OPT_INSECURE};
    }
    so[ns] = '\0';
    lo[nl] = (struct option){NULL, 0, NULL, 0};
}

/* Applies one option.  Returns false (after printing why) when the command
 * line is bad. */
static bool take_option(struct client *c, int opt, const char *arg)
{
    const char *name = c->cmd->name;

    switch (opt) {
    case 'u':
        c->udp = true;
        return true;
    case '4':
    case '6':
        if (c->family != AF_UNSPEC && c->family != (opt == '4' ? AF_INET : AF_INET6)) {
            cli_usage_error(name, "-4 and -6 exclude each other");
            return false;
        }
        c->family = opt == '4' ? AF_INET : AF_INET6;
        return true;
    case 't':
        return cli_parse_duration(name, arg, CLI_ZERO_BAD, CLIENT_MAX_TIMEOUT,
                                  &c->timeout) == 0;
    case OPT_JSON:
        c->json = true;
        return true;
    case 'n':
        c->bytes_given = true;
        return cli_parse_size(name, arg, 1, CLIENT_MAX_BYTES, &c->bytes) == 0;
    case OPT_TLS:
        c->tls = true;
        return true;
    case OPT_CAFILE:
        c->cafile = arg;
        return true;
    case OPT_SERVERNAME:
        if (arg[0] == '\0') {
            cli_bad_value(name, "name", arg);
            return false;
        }
        c->servername = arg;
        return true;
    case OPT_INSECURE:
        c->insecure = true;
        return true;
    }
    return false;
}

/* The TLS options need --tls, and --tls needs TCP.  Returns false after
 * printing why. */
static bool check_tls_options(const struct client *c)
{
    const char *name = c->cmd->name;

    if (!c->tls && (c->cafile || c->servername || c->insecure)) {
        cli_usage_error(name, "option '%s' needs --tls",
                        c->cafile ? "--cafile" : c->servername ? "--servername" : "--insecure");
        return false;
    }
    if (c->tls && c->udp) {
        cli_usage_error(name, "--tls and --udp exclude each other");
        return false;
    }
    return true;
}

/* "host:port", with brackets around an IPv6 literal. */
static void format_where(struct client *c)
{
    if (c->port == NULL)
        snprintf(c->where, sizeof(c->where), "%s", c->host);
    else if (strchr(c->host, ':') != NULL)
        snprintf(c->where, sizeof(c->where), "[%s]:%s", c->host, c->port);
    else
        snprintf(c->where, sizeof(c->where), "%s:%s", c->host, c->port);
}

/* Takes HOST, PORT and the rest from the arguments left after the options
 * (argv[first] on).  Returns false after printing why. */
static bool take_operands(struct client *c, int argc, char **argv, int first)
{
    const struct client_cmd *cmd = c->cmd;
    int n = argc - first;

    if (n < 1) {
        cli_usage_error(cmd->name, "missing HOST");
        return false;
    }
    if (n > 2 && !cmd->messages) {
        cli_usage_error(cmd->name, "unexpected argument '%s'", argv[first + 2]);
        return false;
    }
    c->host = argv[first];
    if (c->host[0] == '\0') {
        cli_bad_value(cmd->name, "address", c->host);
        return false;
    }
    if (cmd->default_port < 0) {
        /* resolve: a SERVICE for the resolver; a number must be a port. */
        int port;

        c->port = n >= 2 ? argv[first + 1] : NULL;
        if (c->port != NULL && (c->port[0] == '\0' || isdigit((unsigned char)c->port[0]) ||
                                c->port[0] == '-' || c->port[0] == '+') &&
            cli_parse_port(cmd->name, c->port, NULL, CLI_ZERO_OK, &port) < 0)
            return false;
    } else {
        int port = cmd->default_port;

        if (n >= 2 && cli_parse_port(cmd->name, argv[first + 1], c->udp ? "udp" : "tcp",
                                     CLI_ZERO_BAD, &port) < 0)
            return false;
        snprintf(c->portbuf, sizeof(c->portbuf), "%d", port);
        c->port = c->portbuf;
    }
    c->extra = argv + first + 2;
    c->nextra = n > 2 ? n - 2 : 0;
    format_where(c);
    return true;
}

/* client_usage in the option layer's shape. */
static void help(FILE *out, const void *cmd)
{
    client_usage(cmd, out);
}

bool client_parse(struct client *c, const struct client_cmd *cmd, int argc,
                  char **argv, int *status)
{
    struct option lo[16];
    char so[16];
    const char *arg;
    cli_opts p;
    int opt;

    memset(c, 0, sizeof(*c));
    c->cmd = cmd;
    c->family = AF_UNSPEC;
    c->timeout = CLIENT_DEFAULT_TIMEOUT;
    c->bytes = cmd->default_bytes;
    build_options(cmd, lo, so);
    cli_opts_start(&p, cmd->name, argc, argv, so, lo, help, cmd);
    *status = CLI_EXIT_USAGE;
    while ((opt = cli_opts_next(&p, &arg)) > 0)
        if (!take_option(c, opt, arg))
            return false;
    if (opt != CLI_OPTS_END) {
        *status = cli_opts_status(opt);
        return false;
    }
    return check_tls_options(c) && take_operands(c, argc, argv, p.optind);
}

/* ---- errors ---------------------------------------------------- */

void client_error(const struct client *c, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sockit: %s %s: ", c->cmd->name, c->where);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}


/* ---- TCP ------------------------------------------------------------------ */

/* The client context --tls asks for: the system CAs and --cafile, or no
 * verification with --insecure.  Returns 0, or -1 after printing. */
static int tls_context(struct client *c, sk_tls_ctx **out)
{
    int rc = sk_tls_ctx_new(out, SK_TLS_CLIENT);

    if (rc == 0 && c->cafile != NULL &&
        (rc = sk_tls_ctx_load_verify_locations(*out, c->cafile, NULL)) < 0) {
        cli_error(c->cmd->name, "--cafile %s: %s", c->cafile, sk_strerror(rc));
        sk_tls_ctx_free(*out);
        return -1;
    }
    if (rc == 0 && c->insecure) {
        sk_tls_ctx_set_verify_mode(*out, SK_TLS_VERIFY_NONE);
        sk_tls_ctx_set_check_hostname(*out, false);
        cli_error(c->cmd->name, "warning: --insecure: the certificate of %s is not verified",
                  c->where);
    }
    if (rc < 0) {
        cli_error_code(c->cmd->name, rc);
        return -1;
    }
    return 0;
}

/* Prints the failure of a TCP or TLS connect. */
static void connect_error(struct client *c, int rc)
{
    char what[sizeof(c->where) + 16];

    if (sk_errkind_of(rc) == SK_ERRKIND_TLS) {
        fprintf(stderr, "sockit: %s: %s: %s\n", c->cmd->name, c->where, sk_strerror(rc));
        return;
    }
    snprintf(what, sizeof(what), "connect %s", c->where);
    cli_error_code(what, rc);
}

/* sk_tls_connect_ex with the command line's settings. */
static int tls_connect(struct client *c, sk_sock **out)
{
    sk_tls_ctx *ctx;

    if (tls_context(c, &ctx) < 0)
        return -1;

    int rc = sk_tls_connect_ex(out, c->host, c->port, c->family, ctx,
                               c->servername != NULL ? c->servername : c->host, c->timeout);

    sk_tls_ctx_free(ctx);
    if (rc < 0) {
        connect_error(c, rc);
        return -1;
    }
    return 0;
}

int client_connect(struct client *c, sk_sock **out)
{
    int rc;

    if (c->tls)
        return tls_connect(c, out);
    rc = sk_create_connection(out, c->host, c->port, c->family, c->timeout, NULL);
    if (rc < 0) {
        connect_error(c, rc);
        return -1;
    }
    return 0;
}

ssize_t client_read_to_eof(struct client *c, sk_sock *s, void *buf,
                           size_t size, bool *more)
{
    double deadline = cli_now() + c->timeout;
    size_t n = 0;

    *more = false;
    for (;;) {
        unsigned char scratch[1];
        double left = deadline - cli_now();
        ssize_t got;

        if (left <= 0 || sk_sock_settimeout(s, left) < 0)
            got = SK_ETIMEOUT;
        else if (n < size)
            got = sk_sock_recv(s, (unsigned char *)buf + n, size - n, 0);
        else
            got = sk_sock_recv(s, scratch, sizeof(scratch), 0);
        if (got == 0)
            return (ssize_t)n;
        if (got == SK_ETIMEOUT) {
            client_error(c, "%s within %g s", n == 0 ? "no reply" :
                         "reply did not end (server kept the connection open)",
                         c->timeout);
            return -1;
        }
        if (got < 0) {
            client_error(c, "receive: %s", sk_strerror((int)got));
            return -1;
        }
        if (n == size) {
            *more = true;
            return (ssize_t)n;
        }
        n += (size_t)got;
    }
}

/* ---- UDP ------------------------------------------------------------------ */

/* Replaces u->sock with a socket connected to u->cur.  Returns 0 or a code. */
static int udp_connect_cur(struct client_udp *u)
{
    int rc;

    sk_sock_free(u->sock);
    u->sock = NULL;
    rc = sk_sock_open(&u->sock, u->cur->family, SOCK_DGRAM, 0);
    if (rc < 0)
        return rc;
    return sk_sock_connect(u->sock, &u->cur->addr);
}

/*
 * After the current address failed with `err` (an ICMP "port unreachable",
 * or a socket that could not be opened or connected for it), moves on to
 * the resolver's next one (e.g. from ::1 to 127.0.0.1 for "localhost").
 * Returns 0 when there is one to try, else the error to report.
 */
static int udp_next_address(struct client_udp *u, int err)
{
    while (u->cur->next != NULL) {
        u->cur = u->cur->next;
        if (udp_connect_cur(u) == 0)
            return 0;
    }
    return err;
}

int client_udp_open(struct client *c, struct client_udp *u)
{
    int rc;

    memset(u, 0, sizeof(*u));
    rc = sk_getaddrinfo(c->host, c->port, c->family, SOCK_DGRAM, 0, 0, c->timeout,
                        &u->addrs);
    if (rc < 0) {
        client_error(c, "%s", sk_strerror(rc));
        return -1;
    }
    u->cur = u->addrs;
    rc = udp_connect_cur(u);
    if (rc < 0)
        rc = udp_next_address(u, rc);
    if (rc < 0) {
        client_error(c, "%s", sk_strerror(rc));
        client_udp_close(u);
        return -1;
    }
    return 0;
}

void client_udp_close(struct client_udp *u)
{
    sk_sock_free(u->sock);
    sk_addrinfo_free(u->addrs);
    memset(u, 0, sizeof(*u));
}

/* Sends the request once, counting it.  Returns >= 0 or an error code. */
static ssize_t udp_send(struct client_udp *u, const void *req, size_t reqlen)
{
    ssize_t n = sk_sock_send(u->sock, req, reqlen, 0);

    if (n >= 0)
        u->sent++;
    return n;
}

/* Waits up to `left` seconds for a datagram the check takes.  Returns its
 * length, SK_ETIMEOUT when none came (a stray skipped counts as none: the
 * caller's loop waits again with what time is left), or an error code. */
static ssize_t udp_wait(struct client_udp *u, void *buf, size_t size, double left,
                        client_reply_fn check, void *arg)
{
    ssize_t n = sk_sock_settimeout(u->sock, left);

    if (n == 0)
        n = sk_sock_recv(u->sock, buf, size, 0);
    if (n >= 0 && check != NULL && check(buf, (size_t)n, arg) == CLIENT_REPLY_IGNORE)
        return SK_ETIMEOUT;
    return n;
}

ssize_t client_udp_request(struct client *c, struct client_udp *u,
                           const void *req, size_t reqlen, void *buf,
                           size_t size, client_reply_fn check, void *arg)
{
    double now = cli_now(), deadline = now + c->timeout;
    double wait = CLIENT_UDP_FIRST_WAIT, next_send = now;

    if (wait > c->timeout / 4)
        wait = c->timeout / 4;
    u->sent = 0;
    for (;;) {
        ssize_t got;

        now = cli_now();
        if (now >= deadline) {
            client_error(c, "no reply within %g s (%u datagram%s sent)", c->timeout,
                         u->sent, u->sent == 1 ? "" : "s");
            return -1;
        }
        if (now >= next_send) {
            got = udp_send(u, req, reqlen);
            next_send = now + wait;
            wait *= 2;
        } else {
            got = udp_wait(u, buf, size, (next_send < deadline ? next_send : deadline) - now,
                           check, arg);
            if (got >= 0)
                return got;
            if (got == SK_ETIMEOUT)
                continue;
        }
        if (got == -ECONNREFUSED && udp_next_address(u, (int)got) == 0) {
            next_send = now; /* the next address gets a datagram at once */
            continue;
        }
        if (got < 0) {
            client_error(c, "%s", sk_strerror((int)got));
            return -1;
        }
    }
}

/* ---- the services that speak unasked ---------------------------------------- */

static ssize_t ask_tcp(struct client *c, void *buf, size_t size)
{
    sk_sock *s = NULL;
    bool more;
    ssize_t n;

    if (client_connect(c, &s) < 0)
        return -1;
    n = client_read_to_eof(c, s, buf, size, &more);
    sk_sock_free(s);
    if (n >= 0 && more) {
        client_error(c, "reply is longer than %zu bytes", size);
        return -1;
    }
    return n;
}

static ssize_t ask_udp(struct client *c, void *buf, size_t size)
{
    /* Room for the largest datagram, so a long reply is seen as long
     * rather than silently cut. */
    static unsigned char dgram[CLIENT_UDP_MAX + 1];
    struct client_udp u;
    ssize_t n;

    if (client_udp_open(c, &u) < 0)
        return -1;
    n = client_udp_request(c, &u, "", 0, dgram, sizeof(dgram), NULL, NULL);
    client_udp_close(&u);
    if (n >= 0 && (size_t)n > size) {
        client_error(c, "reply is longer than %zu bytes", size);
        return -1;
    }
    if (n > 0)
        memcpy(buf, dgram, (size_t)n);
    return n;
}

ssize_t client_ask(struct client *c, void *buf, size_t size)
{
    return c->udp ? ask_udp(c, buf, size) : ask_tcp(c, buf, size);
}

ssize_t client_ask_text(struct client *c, char *buf, size_t size, const char *what)
{
    ssize_t n = client_ask(c, buf, size), bad;

    if (n < 0)
        return -1;
    bad = reply_text_check(buf, (size_t)n);
    if (bad >= 0) {
        client_error(c, "%s is not text: byte 0x%02x at offset %zd", what,
                     (unsigned char)buf[bad], bad);
        return -1;
    }
    n = (ssize_t)reply_text_trim(buf, (size_t)n);
    if (n == 0) {
        client_error(c, "empty %s", what);
        return -1;
    }
    return n;
}
