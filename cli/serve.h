/* SPDX-License-Identifier: MIT */
/*
 * cli/serve.h - what the two halves of `sockit serve` share: the options
 * the command line asked for (cli/serve_opts.c parses them) and the
 * daemon that runs them (cli/serve.c).
 */
#ifndef SOCKIT_CLI_SERVE_H
#define SOCKIT_CLI_SERVE_H

#include "services.h"
#include "sockit.h"
#include "svclist.h"

#include <stdbool.h>

#define SERVE_MAX_BINDS 32
#define SERVE_DEFAULT_BASE 8000
#define SERVE_DEFAULT_MAX_CONNS 10000
#define SERVE_DEFAULT_MAX_PER_SOURCE 1024
#define SERVE_DEFAULT_IDLE 300.0
#define SERVE_INETD_DGRAM_IDLE 10.0 /* --inetd on a datagram socket */
#define SERVE_INETD_AUTO SVCLIST_SLOTS /* --inetd auto: by the socket's port */
#define SERVE_DEFAULT_TLS_BASE 9000
#define SERVE_DEFAULT_TLS_HANDSHAKE 10.0 /* --tls-handshake-timeout, seconds */
#define SERVE_DEFAULT_TICKET_ROTATE 3600.0 /* --tls-ticket-rotate, seconds */
#define SERVE_MAX_PROXY_FROM 64

/* What the command line asked for.  ports and selected are per slot
 * (cli/svclist.h): the services, then their TLS twins. */
typedef struct serve_opts {
    int ports[SVCLIST_SLOTS];
    bool selected[SVCLIST_SLOTS];
    const char *binds[SERVE_MAX_BINDS];
    int nbinds;
    bool tcp, udp;
    double udp_limit;
    double udp_global; /* -1: the default */
    bool max_conns_set;
    bool idle_set;
    int inetd_svc; /* --inetd SERVICE, -1 without, SERVE_INETD_AUTO */
    const char *qotd_file;
    const char *user;
    daytime_style daytime;
    sk_cidr proxy_from[SERVE_MAX_PROXY_FROM];
    int nproxy_from;
    bool proxy_timeout_set;
    const char *metrics;
    svc_ntp_config ntp;
    bool nts;
    const char *nts_key_file;
    long nts_rotate;
    int port_base;              /* --port-base: nts-ke listens at it + 4460 */
    const char *nts_ntp_server; /* --nts-ntp-server HOST[:PORT], or NULL */
    char nts_ntp_host[256];     /* its HOST */
    int nts_ntp_port;           /* its PORT, 0 when not given */
    svc_stamp_config stamp;
    /* TLS twins (--tls-cert and --tls-key both, or neither). */
    const char *tls_cert, *tls_key, *tls_client_ca;
    double tls_ticket_rotate;
    sk_server_config cfg;
} serve_opts;


/*
 * Parses argv into *o.  Returns -1 to go on serving, or the exit status
 * (0 after --help, 2 for a usage error, with the message printed).
 */
int serve_parse(serve_opts *o, int argc, char **argv);

/* True when slot i runs over TCP (when asked) and UDP (when asked); a TLS
 * twin runs over TCP only, and only with --tls-cert. */
bool serves_tcp(const serve_opts *o, int i);
bool serves_udp(const serve_opts *o, int i);

/* True when the TLS twins are on (--tls-cert and --tls-key). */
static inline bool serves_tls(const serve_opts *o)
{
    return o->tls_cert != NULL;
}

/* ---- cli/serve_tls.c: the TLS twins' context ---- */

typedef struct serve_tls serve_tls;

/*
 * With TLS on (serves_tls), loads the certificate, key and client CA into
 * a server context, hands it to the services at `indexes` (the TLS
 * listeners' sk_server_set_tls indexes, n of them) and starts rotating its
 * ticket key every o->tls_ticket_rotate seconds; *out stays NULL with TLS
 * off.  Returns 0, or -1 after printing why (a file that does not load).
 */
int serve_tls_start(serve_tls **out, const serve_opts *o, sk_server *srv,
                    const size_t *indexes, size_t n);

/* SIGHUP, on a worker thread: loads the files again and gives new
 * handshakes the new context, or keeps the old one when a file fails; one
 * line to `log` either way.  NULL does nothing. */
void serve_tls_reload(serve_tls *t, void (*log)(const char *fmt, ...));

/* Stops the rotation and drops the daemon's context.  NULL is allowed. */
void serve_tls_stop(serve_tls *t);

#endif /* SOCKIT_CLI_SERVE_H */
