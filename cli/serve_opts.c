/* SPDX-License-Identifier: MIT */
/*
 * cli/serve_opts.c - `sockit serve`'s command line: the --help text and the
 * options, parsed into a serve_opts (cli/serve.h) before anything is bound,
 * as chrony's conf.c reads the configuration and its main.c only starts.
 *
 *   help          usage, the service list (from svc_table) and the options
 *   values        --services, --port, numbers (cli/opt.h parsers), networks,
 *                 --daytime-format; one function per kind
 *   parse_opt     one option into the serve_opts
 *   serve_parse   the option loop, then the checks that need every option
 *                 (nothing to serve, two services on one port, PROXY options
 *                 without --proxy-protocol, TLS options without a
 *                 certificate and key, which TLS twins --services selects)
 *
 * Every usage error is one line and exit 2 (cli/opt.h).
 */
#include "serve.h"

#include "cli.h"
#include "opt.h"
#include "svclist.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ---- help ------------------------------------------------------------------------ */

static const char serve_usage[] =
    "usage: sockit serve [--port-base N] [--port SERVICE=PORT]... [--bind ADDR]...\n"
    "                    [--services LIST] [--no-tcp | --no-udp] [--threads N]\n"
    "                    [--max-conns N] [--max-per-source N] [--idle-timeout SECONDS]\n"
    "                    [--udp-limit PER_SOURCE_PER_SECOND] [--qotd-file FILE]\n"
    "                    [--daytime-format rfc3339|ctime] [--grace SECONDS]\n"
    "                    [--proxy-protocol [--proxy-from CIDR]... [--proxy-timeout SECONDS]]\n"
    "                    [--metrics ADDR:PORT|PATH] [--ntp-stratum N] [--ntp-unsynced]\n"
    "                    [--stamp-mode stateful|stateless] [--stamp-key FILE]\n"
    "                    [--tls-cert FILE --tls-key FILE [--tls-port-base N]\n"
    "                     [--tls-client-ca FILE] [--tls-handshake-timeout SECONDS]\n"
    "                     [--tls-ticket-rotate SECONDS]]\n"
    "                    [--user NAME] [-v]\n"
    "       sockit serve --inetd SERVICE|auto [options]\n"
    "       sockit serve --list-services\n";

/* Before the list of services. */
static const char serve_intro[] =
    "\n"
    "Serve these services, each over the protocols it has, IPv4 and IPv6.  Prints\n"
    "one line per listening socket when ready, e.g.\n"
    "'listening service=time proto=tcp addr=[::]:8037'; logs go to stderr.\n"
    "\n"
    "services (NAME PROTOCOLS STANDARD_PORT; the NAME-tls twins need --tls-cert):\n";

static const char serve_help[] =
    "\n"
    "options:\n"
    "  --list-services       print the services above, one a line, and exit\n"
    "  --port-base N         serve each service at N + its standard port (default\n"
    "                        8000: echo 8007, time 8037); 0 gives the standard ports\n"
    "  --port SERVICE=PORT   put one service on its own port (repeatable)\n"
    "  --bind ADDR           listen on ADDR (repeatable; every address gets every\n"
    "                        service); default [::] dual-stack, or 0.0.0.0 where\n"
    "                        the system has no IPv6\n"
    "  --services LIST       comma-separated services to run (default all); with\n"
    "                        TLS on, a TCP service's NAME-tls twin runs with it\n"
    "                        unless the list names some NAME-tls itself\n"
    "  --no-tcp, --no-udp    serve only UDP, or only TCP\n"
    "  --threads N           worker threads (default 0: one per CPU)\n"
    "  --max-conns N         open TCP connections in total (default 10000; 0: no limit)\n"
    "  --max-per-source N    open TCP connections per client address (default 1024;\n"
    "                        0: no limit)\n"
    "  --idle-timeout SECONDS  close TCP connections idle this long (default 300;\n"
    "                        0: never)\n"
    "  --udp-limit N         UDP replies per second per client address, with bursts\n"
    "                        of 2N (default 20); 0 lifts the limit (for benchmarks)\n"
    "  --udp-global-limit N  UDP replies per second in total (default 20000, or no\n"
    "                        limit when --udp-limit is 0)\n"
    "  --qotd-file FILE      quotes for qotd, fortune format (quotes separated by\n"
    "                        lines holding only '%'); each under 512 bytes of\n"
    "                        printable ASCII; SIGHUP rereads it\n"
    "  --daytime-format FMT  ctime (default: 'Sat Nov 21 17:31:49 2026', UTC) or\n"
    "                        rfc3339 ('2026-11-21T17:31:49Z')\n"
    "  --grace SECONDS       on SIGINT/SIGTERM, let responses in flight finish for\n"
    "                        this long (default 5)\n"
    "  --proxy-protocol      every TCP connection must start with a PROXY protocol\n"
    "                        header, v1 or v2 (HAProxy's send-proxy, send-proxy-v2):\n"
    "                        the client it names is the peer for the limits and\n"
    "                        the logs; no service byte is sent before it\n"
    "  --proxy-from CIDR     accept headers only from this network (repeatable;\n"
    "                        default 127.0.0.0/8 and ::1); others are closed\n"
    "  --proxy-timeout SECONDS  close a connection whose header is not complete in\n"
    "                        this time (default 3)\n"
    "  --metrics ADDR:PORT|PATH  serve Prometheus metrics at GET /metrics over HTTP\n"
    "                        on this address, or on a Unix socket path (with a '/')\n"
    "  --ntp-stratum N       ntp: declare the local clock a reference of stratum N\n"
    "                        (1..15, refid LOCL, leap 0), like chrony's 'local\n"
    "                        stratum'; by default ntp follows the kernel: leap 3 and\n"
    "                        stratum 16 while the kernel says its clock is\n"
    "                        unsynchronised, else stratum 3, refid KERN\n"
    "  --ntp-unsynced        ntp: always answer leap 3, stratum 16 (for tests)\n"
    "  --nts                 ntp: also answer NTS (RFC 8915) requests: check the\n"
    "                        cookie and authenticator, reply authenticated with\n"
    "                        fresh cookies, NTSN kiss-o'-death for a bad cookie or\n"
    "                        authenticator; plain NTP keeps working\n"
    "  --nts-key-file FILE   keep the cookie master keys in FILE (created mode 0600\n"
    "                        when missing): cookies stay valid across restarts and\n"
    "                        every instance sharing FILE accepts the others' cookies\n"
    "  --nts-rotate SECONDS  make a new master key this often, keeping the previous\n"
    "                        one (default 86400; 0: never)\n"
    "                        With --tls-cert and --tls-key, --nts also serves the\n"
    "                        NTS key exchange, nts-ke, on TCP at the port base +\n"
    "                        4460 (12460): TLS 1.3, ALPN ntske/1, 8 cookies\n"
    "  --nts-ntp-server HOST[:PORT]  nts-ke: send Server and Port records naming\n"
    "                        this NTP server (one key exchange for a pool sharing\n"
    "                        --nts-key-file); by default none, or our ntp port\n"
    "  --tls-cert FILE       also serve each TCP service over TLS as NAME-tls, with\n"
    "                        this certificate chain (PEM, leaf first); needs\n"
    "                        --tls-key; SIGHUP reloads both (a file that fails to\n"
    "                        load keeps the old certificate)\n"
    "  --tls-key FILE        the certificate's private key (PEM)\n"
    "  --tls-port-base N     serve each TLS twin at N + its standard port (default\n"
    "                        9000: echo-tls 9007, time-tls 9037)\n"
    "  --tls-client-ca FILE  mutual TLS: clients must present a certificate this CA\n"
    "                        (PEM) signed\n"
    "  --tls-handshake-timeout SECONDS  close a TLS client whose handshake is not\n"
    "                        complete in this time (default 10)\n"
    "  --tls-ticket-rotate SECONDS  make a new session-ticket key this often; tickets\n"
    "                        under the one before still resume (default 3600)\n"
    "  --stamp-mode MODE     stamp: stateful (default: a reflector sequence number\n"
    "                        per session of source address, port and SSID, so the\n"
    "                        sender can split loss by direction) or stateless\n"
    "                        (the sender's sequence number is copied)\n"
    "  --stamp-key FILE      stamp: authenticated mode with the HMAC-SHA-256 key in\n"
    "                        hex on FILE's first line (16 to 64 bytes); requests\n"
    "                        whose HMAC does not verify are dropped\n"
    "  --user NAME           drop root privileges to NAME right after binding\n"
    "  -v, --verbose         log one line per connection\n"
    "  -h, --help            show this help\n"
    "\n"
    "UDP safety: no reply to datagrams from ports below 1024 or from any service\n"
    "port, nor from broadcast, multicast or unspecified addresses; replies are\n"
    "rate-limited per client address and in total, and never larger than 512\n"
    "bytes (echo, ntp and stamp: never larger than the request; a stamp reply\n"
    "has exactly its request's length).  ntp answers only\n"
    "client (mode 3) requests, also from source port 123, and tells a client over\n"
    "its rate limit to slow down (RATE kiss-o'-death) at most every 4 seconds.\n"
    "\n"
    "Socket activation (systemd): when LISTEN_PID is this process, the LISTEN_FDS\n"
    "descriptors from 3 on are served instead of binding (--bind, --services,\n"
    "--no-tcp and --no-udp then do not apply); each one's service is its\n"
    "LISTEN_FDNAMES name ('echo', 'echo-v6', 'time.udp': the part before '-' or\n"
    "'.') or else its port (a --port/--port-base port, or a standard one).  With\n"
    "NOTIFY_SOCKET set, READY=1 is sent once every listener is ready, RELOADING=1\n"
    "and READY=1 around a SIGHUP reload, STOPPING=1 on SIGINT/SIGTERM.\n"
    "\n"
    "  --inetd SERVICE       serve one service on standard input, as inetd, xinetd\n"
    "                        and systemd's Accept=yes start it ('auto': the one\n"
    "                        whose port the socket has): a connected stream\n"
    "                        socket (inetd 'nowait': exit when the connection\n"
    "                        ends), a bound datagram socket (inetd 'wait': exit\n"
    "                        after --idle-timeout seconds without a datagram,\n"
    "                        default 10), or a pipe or terminal (stream services,\n"
    "                        over standard input and output)\n"
    "\n"
    "Exit status: 0 after SIGINT/SIGTERM (or when an --inetd service is done), 1\n"
    "on a run-time failure (e.g. a port in use), 2 on a usage error.\n";


/* ---- values ---------------------------------------------------------------------- */

enum {
    OPT_PORT_BASE = 256, OPT_PORT, OPT_BIND, OPT_SERVICES, OPT_NO_TCP, OPT_NO_UDP,
    OPT_THREADS, OPT_MAX_CONNS, OPT_MAX_PER_SOURCE, OPT_IDLE, OPT_UDP_LIMIT,
    OPT_UDP_GLOBAL, OPT_QOTD_FILE, OPT_USER, OPT_DAYTIME, OPT_GRACE, OPT_INETD,
    OPT_PROXY, OPT_PROXY_FROM, OPT_PROXY_TIMEOUT, OPT_METRICS,
    OPT_NTP_STRATUM, OPT_NTP_UNSYNCED, OPT_LIST_SERVICES, OPT_STAMP_MODE, OPT_STAMP_KEY,
    OPT_TLS_CERT, OPT_TLS_KEY, OPT_TLS_PORT_BASE, OPT_TLS_CLIENT_CA, OPT_TLS_HANDSHAKE,
    OPT_TLS_ROTATE,
    OPT_NTS, OPT_NTS_KEY_FILE, OPT_NTS_ROTATE, OPT_NTS_NTP_SERVER,
};

static const struct option serve_longopts[] = {
    {"port-base", required_argument, NULL, OPT_PORT_BASE},
    {"port", required_argument, NULL, OPT_PORT},
    {"bind", required_argument, NULL, OPT_BIND},
    {"services", required_argument, NULL, OPT_SERVICES},
    {"no-tcp", no_argument, NULL, OPT_NO_TCP},
    {"no-udp", no_argument, NULL, OPT_NO_UDP},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"max-per-source", required_argument, NULL, OPT_MAX_PER_SOURCE},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"udp-limit", required_argument, NULL, OPT_UDP_LIMIT},
    {"udp-global-limit", required_argument, NULL, OPT_UDP_GLOBAL},
    {"qotd-file", required_argument, NULL, OPT_QOTD_FILE},
    {"user", required_argument, NULL, OPT_USER},
    {"daytime-format", required_argument, NULL, OPT_DAYTIME},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"inetd", required_argument, NULL, OPT_INETD},
    {"proxy-protocol", no_argument, NULL, OPT_PROXY},
    {"proxy-from", required_argument, NULL, OPT_PROXY_FROM},
    {"proxy-timeout", required_argument, NULL, OPT_PROXY_TIMEOUT},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"ntp-stratum", required_argument, NULL, OPT_NTP_STRATUM},
    {"ntp-unsynced", no_argument, NULL, OPT_NTP_UNSYNCED},
    {"nts", no_argument, NULL, OPT_NTS},
    {"nts-key-file", required_argument, NULL, OPT_NTS_KEY_FILE},
    {"nts-rotate", required_argument, NULL, OPT_NTS_ROTATE},
    {"nts-ntp-server", required_argument, NULL, OPT_NTS_NTP_SERVER},
    {"stamp-mode", required_argument, NULL, OPT_STAMP_MODE},
    {"stamp-key", required_argument, NULL, OPT_STAMP_KEY},
    {"list-services", no_argument, NULL, OPT_LIST_SERVICES},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-port-base", required_argument, NULL, OPT_TLS_PORT_BASE},
    {"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
    {"tls-handshake-timeout", required_argument, NULL, OPT_TLS_HANDSHAKE},
    {"tls-ticket-rotate", required_argument, NULL, OPT_TLS_ROTATE},
    {"verbose", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

static void serve_defaults(serve_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < SVCLIST_SLOTS; i++) {
        o->ports[i] = (svclist_is_tls(i) ? SERVE_DEFAULT_TLS_BASE : SERVE_DEFAULT_BASE) +
                      svc_table[svclist_base(i)].std_port;
        o->selected[i] = svclist_valid(i);
    }
    o->cfg.tls_handshake_timeout = SERVE_DEFAULT_TLS_HANDSHAKE;
    o->tls_ticket_rotate = SERVE_DEFAULT_TICKET_ROTATE;
    o->tcp = o->udp = true;
    o->udp_limit = SVC_UDP_DEFAULT_RATE;
    o->udp_global = -1;
    o->cfg.max_conns = SERVE_DEFAULT_MAX_CONNS;
    o->cfg.max_per_source = SERVE_DEFAULT_MAX_PER_SOURCE;
    o->cfg.idle_timeout = SERVE_DEFAULT_IDLE;
    o->inetd_svc = -1;
    o->nts_rotate = SVC_NTS_ROTATE_DEFAULT;
    o->port_base = SERVE_DEFAULT_BASE;
}

/* "sockit: serve: OPTION: unknown service 'NAME' (known: ...)". */
static void unknown_service(const char *option, const char *name)
{
    char known[256];

    cli_usage_error("serve", "%s: unknown service '%s' (known: %s)", option, name,
                    svclist_names(known, sizeof(known)));
}

/* "--services echo,time,echo-tls": a non-empty list of known names.  Sets
 * *tls_named when it names a TLS twin. */
static int parse_services(serve_opts *o, const char *text, bool *tls_named)
{
    char buf[256], *save = NULL;

    if (strlen(text) >= sizeof(buf) || text[0] == '\0') {
        cli_usage_error("serve", "--services '%s' is not a list of services", text);
        return -1;
    }
    strcpy(buf, text);
    memset(o->selected, 0, sizeof(o->selected));
    *tls_named = false;
    for (char *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int i = svclist_find(name);
        if (i < 0) {
            unknown_service("--services", name);
            return -1;
        }
        o->selected[i] = true;
        *tls_named |= svclist_is_tls(i);
    }
    for (int i = 0; i < SVCLIST_SLOTS; i++)
        if (o->selected[i])
            return 0;
    cli_usage_error("serve", "--services '%s' names no service", text);
    return -1;
}

/* "--port echo=7007"; the port may be 0 (the system picks one). */
static int parse_port(serve_opts *o, const char *text, bool overridden[])
{
    const char *eq = strchr(text, '=');
    char name[32];
    int i, port;

    if (eq == NULL || eq == text || (size_t)(eq - text) >= sizeof(name)) {
        cli_usage_error("serve", "--port '%s' is not SERVICE=PORT", text);
        return -1;
    }
    memcpy(name, text, (size_t)(eq - text));
    name[eq - text] = '\0';
    i = svclist_find(name);
    if (i < 0) {
        unknown_service("--port", name);
        return -1;
    }
    if (cli_parse_port("serve", eq + 1, NULL, CLI_ZERO_OK, &port) < 0)
        return -1;
    o->ports[i] = port;
    overridden[i] = true;
    return 0;
}

static bool serves_any(const serve_opts *o, int i);

/* Two served slots on one (non-zero) port would fail to bind (a TCP-only
 * twin and a UDP-only service could share one, but none does). */
static int check_ports(const serve_opts *o)
{
    for (int i = 0; i < SVCLIST_SLOTS; i++)
        for (int j = i + 1; j < SVCLIST_SLOTS; j++)
            if (serves_any(o, i) && serves_any(o, j) && o->ports[i] != 0 &&
                o->ports[i] == o->ports[j]) {
                cli_usage_error("serve", "%s and %s are both on port %d",
                                svclist_name(i), svclist_name(j), o->ports[i]);
                return -1;
            }
    return 0;
}

/* Applies one option that takes a number of some kind. */
static int parse_number_opt(serve_opts *o, int opt, const char *arg)
{
    long v;
    double s;

    switch (opt) {
    case OPT_THREADS:
        if (cli_parse_count("serve", arg, 0, 1024, &v) < 0)
            return -1;
        o->cfg.threads = (int)v;
        return 0;
    case OPT_MAX_CONNS:
    case OPT_MAX_PER_SOURCE:
        if (cli_parse_count("serve", arg, 0, INT_MAX, &v) < 0)
            return -1;
        *(opt == OPT_MAX_CONNS ? &o->cfg.max_conns : &o->cfg.max_per_source) = (int)v;
        o->max_conns_set |= opt == OPT_MAX_CONNS;
        return 0;
    case OPT_IDLE:
        o->idle_set = true;
        return cli_parse_duration("serve", arg, CLI_ZERO_OK, 1e7, &o->cfg.idle_timeout);
    case OPT_GRACE:
        if (cli_parse_duration("serve", arg, CLI_ZERO_OK, 3600, &s) < 0)
            return -1;
        /* The framework reads 0 as "the default"; a tiny grace is "none". */
        o->cfg.grace = s > 0 ? s : 1e-3;
        return 0;
    case OPT_PROXY_TIMEOUT:
        o->proxy_timeout_set = true;
        return cli_parse_duration("serve", arg, CLI_ZERO_BAD, 3600, &o->cfg.proxy_timeout);
    case OPT_UDP_LIMIT:
        return cli_parse_rate("serve", arg, CLI_ZERO_OK, 1e8, &o->udp_limit);
    case OPT_UDP_GLOBAL:
        return cli_parse_rate("serve", arg, CLI_ZERO_OK, 1e9, &o->udp_global);
    case OPT_NTP_STRATUM:
        if (cli_parse_count("serve", arg, 1, NTP_STRATUM_MAX, &v) < 0)
            return -1;
        o->ntp.stratum = (int)v;
        return 0;
    case OPT_NTS_ROTATE:
        if (cli_parse_duration("serve", arg, CLI_ZERO_OK, 100.0 * 365 * 86400, &s) < 0)
            return -1;
        o->nts_rotate = (long)s;
        return 0;
    case OPT_TLS_HANDSHAKE:
        return cli_parse_duration("serve", arg, CLI_ZERO_BAD, 3600,
                                  &o->cfg.tls_handshake_timeout);
    case OPT_TLS_ROTATE:
        return cli_parse_duration("serve", arg, CLI_ZERO_BAD, 1e7, &o->tls_ticket_rotate);
    }
    return -1;
}

/* "--proxy-from 10.0.0.0/8": one more network allowed to send headers. */
static int parse_proxy_from(serve_opts *o, const char *arg)
{
    if (o->nproxy_from == SERVE_MAX_PROXY_FROM) {
        cli_usage_error("serve", "--proxy-from: at most %d networks", SERVE_MAX_PROXY_FROM);
        return -1;
    }
    if (cli_parse_cidr("serve", arg, &o->proxy_from[o->nproxy_from]) < 0)
        return -1;
    o->nproxy_from++;
    return 0;
}

static int parse_daytime(serve_opts *o, const char *arg)
{
    if (strcmp(arg, "ctime") == 0)
        o->daytime = DAYTIME_CTIME;
    else if (strcmp(arg, "rfc3339") == 0)
        o->daytime = DAYTIME_RFC3339;
    else {
        cli_usage_error("serve", "--daytime-format '%s' is neither ctime nor rfc3339", arg);
        return -1;
    }
    return 0;
}

/* "--port-base N" (tls false) or "--tls-port-base N": every port the base
 * gives (base + a standard port) must be a port. */
static int parse_base(serve_opts *o, const char *arg, bool tls, const bool overridden[])
{
    int v;

    if (cli_parse_port("serve", arg, NULL, CLI_ZERO_OK, &v) < 0)
        return -1;
    if (v > 65535 - svclist_max_port(tls)) {
        cli_bad_value("serve", "port", arg);
        return -1;
    }
    for (int i = 0; i < SVCLIST_SLOTS; i++)
        if (!overridden[i] && svclist_is_tls(i) == tls)
            o->ports[i] = v + svc_table[svclist_base(i)].std_port;
    if (!tls)
        o->port_base = v;
    return 0;
}

/* The TLS options that name files; each once. */
static int parse_tls_file(serve_opts *o, int opt, const char *arg)
{
    const char **slot = opt == OPT_TLS_CERT ? &o->tls_cert
                        : opt == OPT_TLS_KEY ? &o->tls_key : &o->tls_client_ca;

    if (arg[0] == '\0') {
        cli_bad_value("serve", "file", arg);
        return -1;
    }
    *slot = arg;
    return 0;
}

/* "--bind ADDR": kept as text, resolved when binding (it may be a name). */
static int add_bind(serve_opts *o, const char *arg)
{
    if (o->nbinds == SERVE_MAX_BINDS) {
        cli_usage_error("serve", "--bind: at most %d addresses", SERVE_MAX_BINDS);
        return -1;
    }
    if (arg[0] == '\0') {
        cli_bad_value("serve", "address", arg);
        return -1;
    }
    o->binds[o->nbinds++] = arg;
    return 0;
}

/* Applies one option; returns 0, or -1 after printing why. */
static int parse_opt(serve_opts *o, int opt, const char *arg, bool overridden[],
                     bool *tls_named)
{
    switch (opt) {
    case OPT_PORT_BASE:
        return parse_base(o, arg, false, overridden);
    case OPT_TLS_PORT_BASE:
        return parse_base(o, arg, true, overridden);
    case OPT_TLS_CERT:
    case OPT_TLS_KEY:
    case OPT_TLS_CLIENT_CA:
        return parse_tls_file(o, opt, arg);
    case OPT_PORT:
        return parse_port(o, arg, overridden);
    case OPT_BIND:
        return add_bind(o, arg);
    case OPT_SERVICES:
        return parse_services(o, arg, tls_named);
    case OPT_NO_TCP:
        o->tcp = false;
        return 0;
    case OPT_NO_UDP:
        o->udp = false;
        return 0;
    case OPT_QOTD_FILE:
        o->qotd_file = arg;
        return 0;
    case OPT_USER:
        o->user = arg;
        return 0;
    case OPT_DAYTIME:
        return parse_daytime(o, arg);
    case OPT_INETD:
        o->inetd_svc = strcmp(arg, "auto") == 0 ? SERVE_INETD_AUTO : svclist_find(arg);
        if (o->inetd_svc < 0) {
            unknown_service("--inetd", arg);
            return -1;
        }
        if (o->inetd_svc != SERVE_INETD_AUTO && svclist_is_tls(o->inetd_svc)) {
            cli_usage_error("serve", "--inetd: %s: TLS services are not served under inetd",
                            arg);
            return -1;
        }
        return 0;
    case OPT_PROXY:
        o->cfg.proxy_protocol = true;
        return 0;
    case OPT_PROXY_FROM:
        return parse_proxy_from(o, arg);
    case OPT_METRICS: {
        sk_addr check;

        o->metrics = arg;
        return cli_parse_endpoint("serve", arg, &check);
    }
    case OPT_NTP_UNSYNCED:
        o->ntp.unsynced = true;
        return 0;
    case OPT_NTS:
        o->nts = true;
        return 0;
    case OPT_NTS_KEY_FILE:
        o->nts_key_file = arg;
        return 0;
    case OPT_NTS_NTP_SERVER: {
        char port[16];

        o->nts_ntp_server = arg;
        if (sk_hostport_split(arg, o->nts_ntp_host, sizeof(o->nts_ntp_host), port,
                              sizeof(port)) < 0 || o->nts_ntp_host[0] == '\0') {
            cli_bad_value("serve", "address", arg);
            return -1;
        }
        return port[0] == '\0' ? 0
               : cli_parse_port("serve", port, "udp", CLI_ZERO_BAD, &o->nts_ntp_port);
    }
    case OPT_STAMP_MODE:
        if (strcmp(arg, "stateful") != 0 && strcmp(arg, "stateless") != 0) {
            cli_bad_value("serve", "stamp mode", arg);
            return -1;
        }
        o->stamp.stateless = strcmp(arg, "stateless") == 0;
        return 0;
    case OPT_STAMP_KEY:
        o->stamp.auth = true;
        return cli_parse_key_file("serve", arg, &o->stamp.key);
    case 'v':
        o->cfg.verbose = true;
        return 0;
    }
    return parse_number_opt(o, opt, arg);
}

bool serves_tcp(const serve_opts *o, int i)
{
    return o->selected[i] && o->tcp && svc_table[svclist_base(i)].tcp != NULL &&
           (!svclist_is_tls(i) || serves_tls(o));
}

bool serves_udp(const serve_opts *o, int i)
{
    return o->selected[i] && o->udp && !svclist_is_tls(i) && svc_table[i].udp != NULL;
}

static bool serves_any(const serve_opts *o, int i)
{
    return serves_tcp(o, i) || serves_udp(o, i);
}

/* False when the options select only UDP-only services without UDP. */
static bool serves_something(const serve_opts *o)
{
    for (int i = 0; i < SVCLIST_SLOTS; i++)
        if (serves_any(o, i))
            return true;
    return false;
}

/*
 * The checks of the TLS options once all are read: a certificate and a
 * key, or neither (and then no other TLS option and no TLS twin named);
 * then which twins run: those --services named, or, when it named none,
 * the twin of every TCP service selected.  Returns 0 or -1 after printing.
 */
static int check_tls(serve_opts *o, bool tls_named, bool tls_set)
{
    if ((o->tls_cert == NULL) != (o->tls_key == NULL))
        return cli_usage_error("serve", "--tls-cert and --tls-key go together"), -1;
    if (o->tls_cert == NULL) {
        if (tls_set)
            return cli_usage_error("serve", "--tls-port-base, --tls-client-ca, "
                                   "--tls-handshake-timeout and --tls-ticket-rotate need "
                                   "--tls-cert and --tls-key"), -1;
        if (tls_named)
            return cli_usage_error("serve", "--services: the NAME-tls services need "
                                   "--tls-cert and --tls-key"), -1;
        return 0;
    }
    if (!tls_named)
        for (int i = 0; i < SVC_COUNT; i++)
            o->selected[SVC_COUNT + i] = o->selected[i] && svclist_valid(SVC_COUNT + i);
    return 0;
}

static void serve_print_help(FILE *out, const void *arg)
{
    (void)arg;
    fputs(serve_usage, out);
    fputs(serve_intro, out);
    svclist_print(out, "  ");
    fputs(serve_help, out);
}

/*
 * Parses argv into *o.  Returns -1 to go on serving, or the exit status
 * (0 after --help, 2 for a usage error, with the message printed).
 */
int serve_parse(serve_opts *o, int argc, char **argv)
{
    bool overridden[SVCLIST_SLOTS] = {false}, tls_named = false, tls_set = false;
    const char *arg;
    cli_opts p;
    int opt;

    serve_defaults(o);
    cli_opts_start(&p, "serve", argc, argv, "v", serve_longopts, serve_print_help, NULL);
    while ((opt = cli_opts_next(&p, &arg)) > 0) {
        if (opt == OPT_LIST_SERVICES) {
            svclist_print(stdout, "");
            return CLI_EXIT_OK;
        }
        if (parse_opt(o, opt, arg, overridden, &tls_named) < 0)
            return CLI_EXIT_USAGE;
        tls_set |= opt == OPT_TLS_PORT_BASE || opt == OPT_TLS_CLIENT_CA ||
                   opt == OPT_TLS_HANDSHAKE || opt == OPT_TLS_ROTATE;
    }
    if (opt != CLI_OPTS_END)
        return cli_opts_status(opt);
    if (p.optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[p.optind]);
    if (!o->tcp && !o->udp)
        return cli_usage_error("serve", "--no-tcp and --no-udp leave nothing to serve");
    if (check_tls(o, tls_named, tls_set) < 0)
        return CLI_EXIT_USAGE;
    if (!serves_something(o))
        return cli_usage_error("serve", "--no-udp leaves nothing to serve (the services "
                                        "asked for are UDP only)");
    if (check_ports(o) < 0)
        return CLI_EXIT_USAGE;
    if (!o->cfg.proxy_protocol && (o->nproxy_from > 0 || o->proxy_timeout_set))
        return cli_usage_error("serve", "--proxy-from and --proxy-timeout need --proxy-protocol");
    if (!o->nts && (o->nts_key_file != NULL || o->nts_rotate != SVC_NTS_ROTATE_DEFAULT ||
                    o->nts_ntp_server != NULL))
        return cli_usage_error("serve", "--nts-key-file, --nts-rotate and --nts-ntp-server "
                                        "need --nts");
    o->cfg.proxy_from = o->nproxy_from > 0 ? o->proxy_from : NULL;
    o->cfg.proxy_from_count = (size_t)o->nproxy_from;
    return -1;
}

