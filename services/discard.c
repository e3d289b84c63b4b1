/* SPDX-License-Identifier: MIT */
/*
 * services/discard.c - RFC 863: read and drop everything; UDP gets no reply.
 */
#include "services.h"

static void discard_on_datagram(sk_dgram *d, const void *data, size_t len,
                                const sk_addr *from)
{
    (void)d;
    (void)data;
    (void)len;
    (void)from;
}

const sk_tcp_handler svc_discard_tcp = {
    .on_data = svc_ignore_input,
};

const sk_udp_handler svc_discard_udp = {
    .on_datagram = discard_on_datagram,
};
