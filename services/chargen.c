/* SPDX-License-Identifier: MIT */
/*
 * services/chargen.c - RFC 864: the character generator.
 *
 * The pattern comes from proto/chargen.c, whose table holds more than
 * 64 KiB ahead of any position: a TCP refill is a single sk_conn_write
 * from it, which keeps up with a fast reader.  Each connection keeps only
 * its position in the cycle.
 *
 * UDP replies with 0..512 bytes of the pattern, starting at the beginning
 * of a random line.
 */
#include "services.h"

typedef struct chargen_conn {
    size_t pos; /* next byte to send, as a position in the cycle */
} chargen_conn;

/*
 * Writes one chunk (at least 64 KiB) from the table.  One write per call:
 * the framework calls on_drain again at once when the socket took it all,
 * and after a few rounds waits for writability, which keeps a fast reader
 * from monopolising the worker.
 */
static void chargen_fill(sk_conn *c)
{
    chargen_conn *st = sk_conn_data(c);
    const char *p;
    size_t avail = chargen_chunk(st->pos, &p);
    ssize_t n = sk_conn_write(c, p, avail);

    if (n < 0) {
        sk_conn_abort(c);
        return;
    }
    st->pos = chargen_advance(st->pos, (size_t)n);
}

/* A client that half-closes still reads: RFC 864 runs until it closes. */
static void chargen_on_eof(sk_conn *c)
{
    (void)c;
}

static void chargen_on_datagram(sk_dgram *d, const void *data, size_t len,
                                const sk_addr *from)
{
    const char *p;
    size_t line = (size_t)(svc_random() % CHARGEN_RING);
    size_t n = (size_t)(svc_random() % (SVC_UDP_MAX + 1));

    (void)data;
    (void)len;
    if (!svc_udp_admit(d, from))
        return;
    chargen_chunk(line * (CHARGEN_LINE + 2), &p);
    svc_udp_send(d, from, p, n, SVC_UDP_MAX);
}

const sk_tcp_handler svc_chargen_tcp = {
    .conn_size = sizeof(chargen_conn),
    .on_open = chargen_fill,
    .on_data = svc_ignore_input,
    .on_drain = chargen_fill,
    .on_eof = chargen_on_eof,
};

const sk_udp_handler svc_chargen_udp = {
    .on_datagram = chargen_on_datagram,
};
