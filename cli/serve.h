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

#include <stdbool.h>

#define SERVE_MAX_BINDS 32
#define SERVE_DEFAULT_BASE 8000
#define SERVE_DEFAULT_MAX_CONNS 10000
#define SERVE_DEFAULT_MAX_PER_SOURCE 1024
#define SERVE_DEFAULT_IDLE 300.0
#define SERVE_INETD_DGRAM_IDLE 10.0 /* --inetd on a datagram socket */
#define SERVE_INETD_AUTO SVC_COUNT   /* --inetd auto: by the socket's port */
#define SERVE_MAX_PROXY_FROM 64

/* What the command line asked for. */
typedef struct serve_opts {
    int ports[SVC_COUNT];
    bool selected[SVC_COUNT];
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
    sk_server_config cfg;
} serve_opts;


/*
 * Parses argv into *o.  Returns -1 to go on serving, or the exit status
 * (0 after --help, 2 for a usage error, with the message printed).
 */
int serve_parse(serve_opts *o, int argc, char **argv);

/* True when service i runs over TCP (when asked) and UDP (when asked). */
bool serves_tcp(const serve_opts *o, int i);
bool serves_udp(const serve_opts *o, int i);

#endif /* SOCKIT_CLI_SERVE_H */
