/*
 * chargen.c - RFC 864: the character generator.
 *
 * The pattern is lines of 72 printable characters and CR LF; line N starts
 * at position N mod 95 of the ring of printable ASCII (' ' .. '~').  After
 * 95 lines (7030 bytes) it repeats, so the whole stream is that cycle over
 * and over.  We build the cycle once, repeated enough times that any
 * position has more than 64 KiB ahead of it contiguously: a TCP refill is
 * then a single sk_conn_write from the table, which keeps up with a fast
 * reader.  Each connection keeps only its position in the cycle.
 *
 * UDP replies with 0..512 bytes of the pattern, starting at the beginning
 * of a random line.
 */
#include "services.h"

#include <pthread.h>

/* Enough whole cycles that pos + 64 KiB never runs off the end. */
#define CHARGEN_REPEAT 11
#define CHARGEN_TABLE (SVC_CHARGEN_CYCLE * CHARGEN_REPEAT)

static char chargen_table[CHARGEN_TABLE];
static pthread_once_t chargen_once = PTHREAD_ONCE_INIT;

static void chargen_build(void)
{
    size_t k = 0;

    for (int line = 0; line < SVC_CHARGEN_RING; line++) {
        for (int i = 0; i < SVC_CHARGEN_LINE; i++)
            chargen_table[k++] = (char)(' ' + (line + i) % SVC_CHARGEN_RING);
        chargen_table[k++] = '\r';
        chargen_table[k++] = '\n';
    }
    for (int r = 1; r < CHARGEN_REPEAT; r++)
        for (size_t i = 0; i < SVC_CHARGEN_CYCLE; i++)
            chargen_table[k++] = chargen_table[i];
}

size_t svc_chargen_chunk(size_t pos, const char **out)
{
    pthread_once(&chargen_once, chargen_build);
    pos %= SVC_CHARGEN_CYCLE;
    *out = chargen_table + pos;
    return CHARGEN_TABLE - pos;
}

size_t svc_chargen_advance(size_t pos, size_t n)
{
    return (pos + n % SVC_CHARGEN_CYCLE) % SVC_CHARGEN_CYCLE;
}

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
    size_t avail = svc_chargen_chunk(st->pos, &p);
    ssize_t n = sk_conn_write(c, p, avail);

    if (n < 0) {
        sk_conn_abort(c);
        return;
    }
    st->pos = svc_chargen_advance(st->pos, (size_t)n);
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
    size_t line = (size_t)(svc_random() % SVC_CHARGEN_RING);
    size_t n = (size_t)(svc_random() % (SVC_UDP_MAX + 1));

    (void)data;
    (void)len;
    if (!svc_udp_admit(d, from))
        return;
    svc_chargen_chunk(line * (SVC_CHARGEN_LINE + 2), &p);
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
