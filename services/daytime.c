/* SPDX-License-Identifier: MIT */
/*
 * services/daytime.c - RFC 867: one human-readable date line.
 *
 * The default is ctime's layout in UTC ("Sat Nov 21 17:31:49 2026\r\n"),
 * what the classic servers send; RFC 3339 ("2026-11-21T17:31:49Z\r\n") is
 * the option for machines.  The line itself is written by proto/daytime.c.
 */
#include "services.h"

/* The line for now, per the daemon's settings. */
static int daytime_now(void *arg, char *buf, size_t size)
{
    const svc_env *env = arg;

    return daytime_format(svc_wallclock(),
                              env != NULL ? env->daytime_format : DAYTIME_CTIME,
                              buf, size);
}

static void daytime_on_open(sk_conn *c)
{
    char line[64];
    int n = daytime_now(sk_conn_arg(c), line, sizeof(line));

    if (n < 0) {
        sk_conn_abort(c);
        return;
    }
    svc_oneshot_start(c, sk_conn_data(c), line, (size_t)n);
}

static void daytime_on_datagram(sk_dgram *d, const void *data, size_t len,
                                const sk_addr *from)
{
    char line[64];
    int n;

    (void)data;
    (void)len;
    if (!svc_udp_admit(d, from))
        return;
    n = daytime_now(sk_dgram_arg(d), line, sizeof(line));
    if (n >= 0)
        svc_udp_send(d, from, line, (size_t)n, SVC_UDP_MAX);
}

const sk_tcp_handler svc_daytime_tcp = {
    .conn_size = sizeof(svc_oneshot),
    .on_open = daytime_on_open,
    .on_data = svc_ignore_input,
    .on_drain = svc_oneshot_drain,
};

const sk_udp_handler svc_daytime_udp = {
    .on_datagram = daytime_on_datagram,
};
