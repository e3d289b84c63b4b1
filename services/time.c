/* SPDX-License-Identifier: MIT */
/*
 * services/time.c - RFC 868: four bytes, big-endian, seconds since
 * 1900-01-01 00:00 UTC (the value and its encoding: proto/rfc868.c).  TCP
 * sends and closes; UDP answers any datagram, an empty one too.
 */
#include "services.h"

static void time_now(unsigned char out[4])
{
    rfc868_encode(rfc868_value(svc_wallclock()), out);
}

static void time_on_open(sk_conn *c)
{
    unsigned char b[4];

    time_now(b);
    svc_oneshot_start(c, sk_conn_data(c), b, sizeof(b));
}

static void time_on_datagram(sk_dgram *d, const void *data, size_t len,
                             const sk_addr *from)
{
    unsigned char b[4];

    (void)data;
    (void)len;
    if (!svc_udp_admit(d, from))
        return;
    time_now(b);
    svc_udp_send(d, from, b, sizeof(b), SVC_UDP_MAX);
}

const sk_tcp_handler svc_time_tcp = {
    .conn_size = sizeof(svc_oneshot),
    .on_open = time_on_open,
    .on_data = svc_ignore_input,
    .on_drain = svc_oneshot_drain,
};

const sk_udp_handler svc_time_udp = {
    .on_datagram = time_on_datagram,
};
