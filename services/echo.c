/* SPDX-License-Identifier: MIT */
/*
 * services/echo.c - RFC 862: send back every byte received.
 *
 * TCP consumes only what the output buffer accepts, so a client that sends
 * but never reads is throttled by TCP flow control instead of growing the
 * server's memory.  UDP replies with the datagram's bytes (never larger
 * than the request, so there is no amplification).
 */
#include "services.h"

static size_t echo_on_data(sk_conn *c, const void *data, size_t len)
{
    ssize_t n = sk_conn_write(c, data, len);

    if (n < 0) {
        /* The connection is closing: nothing more can go back. */
        return len;
    }
    return (size_t)n;
}

static void echo_on_datagram(sk_dgram *d, const void *data, size_t len,
                             const sk_addr *from)
{
    if (svc_udp_admit(d, from))
        svc_udp_send(d, from, data, len, len);
}

const sk_tcp_handler svc_echo_tcp = {
    .on_data = echo_on_data,
};

const sk_udp_handler svc_echo_udp = {
    .on_datagram = echo_on_datagram,
};
