/*
 * time.c - RFC 868: four bytes, big-endian, seconds since 1900-01-01
 * 00:00 UTC.  The counter is 32 bits wide and wraps on 2036-02-07; we send
 * the value modulo 2^32 and leave the era to the client.  TCP sends and
 * closes; UDP answers any datagram, an empty one too.
 */
#include "services.h"

uint32_t svc_time_value(int64_t t)
{
    /* Unsigned arithmetic is the modulo 2^32 the protocol wants, also for
     * times before 1970 or after the 2036 wrap. */
    return (uint32_t)((uint64_t)t + SVC_TIME_EPOCH_OFFSET);
}

void svc_time_encode(uint32_t v, unsigned char out[4])
{
    out[0] = (unsigned char)(v >> 24);
    out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8);
    out[3] = (unsigned char)v;
}

static void time_now(unsigned char out[4])
{
    svc_time_encode(svc_time_value(svc_wallclock()), out);
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
