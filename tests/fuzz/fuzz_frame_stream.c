/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_frame_stream.c - the buffered framing readers, sk_frame_recv_until
 * and sk_frame_recv_msg, reading a real byte stream (a Unix socket pair).
 *
 * Input: [ctl][max high][max low][buffer size][delimiter: 1-4 bytes][stream].
 * ctl bits 0-1: delimiter length - 1; bit 2: length-prefixed messages
 * (sk_frame_recv_msg) instead of delimited ones.  The buffer size (1..64
 * bytes) is the sk_file's starting buffer: small ones make every message
 * arrive in many reads, split anywhere (delimiters included), and make the
 * readers grow their buffer.
 *
 * The stream is written whole, then the writing side is shut down, and
 * the reader consumes message after message into a buffer of exactly `max`
 * bytes until the reader reports the end, a partial message, an overlong
 * one or an error.  Each result must match a reference consumer working
 * on the whole stream: the same messages with the same bytes, SK_EOF only
 * at a message boundary, SK_EPARTIAL for a tail without a complete
 * message, SK_EMSGSIZE for a message longer than max, which consumes
 * nothing (a second call fails the same way).
 */
#include "fuzz.h"

#include "sockit.h"

#include <sys/socket.h>

#define MAX_STREAM 16384
#define NO_MATCH SIZE_MAX

struct stream {
    const unsigned char *data; /* the whole stream */
    size_t len;
    size_t pos; /* what the reference has consumed */
};

/* The reference result of reading the next delimited message (its length,
 * delimiter included, when >= 0). */
static ssize_t reference_until(const struct stream *s, const unsigned char *delim,
                               size_t dlen, size_t max)
{
    size_t rem = s->len - s->pos, limit = rem < max ? rem : max;

    for (size_t i = 0; i + dlen <= limit; i++)
        if (memcmp(s->data + s->pos + i, delim, dlen) == 0)
            return (ssize_t)(i + dlen);
    if (rem >= max)
        return SK_EMSGSIZE;
    return rem == 0 ? SK_EOF : SK_EPARTIAL;
}

/* The reference result of reading the next length-prefixed message (the
 * payload length when >= 0). */
static ssize_t reference_msg(const struct stream *s, size_t max)
{
    const unsigned char *p = s->data + s->pos;
    size_t rem = s->len - s->pos, n;

    if (rem < 4)
        return rem == 0 ? SK_EOF : SK_EPARTIAL;
    n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (n > max)
        return SK_EMSGSIZE;
    return rem - 4 < n ? SK_EPARTIAL : (ssize_t)n;
}

/* Reads until the stream ends or fails, checking every call. */
static void consume(sk_file *f, struct stream *s, bool msgs, const unsigned char *delim,
                    size_t dlen, size_t max)
{
    unsigned char *buf = fuzz_alloc(max);

    for (;;) {
        ssize_t want = msgs ? reference_msg(s, max) : reference_until(s, delim, dlen, max);
        ssize_t got = msgs ? sk_frame_recv_msg(f, buf, max)
                           : sk_frame_recv_until(f, buf, max, delim, dlen);

        FUZZ_ASSERT(got == want, "%s at offset %zu of %zu (max %zu): %zd, expected %zd",
                    msgs ? "recv_msg" : "recv_until", s->pos, s->len, max, got, want);
        if (got < 0) {
            if (got == SK_EMSGSIZE) {
                got = msgs ? sk_frame_recv_msg(f, buf, max)
                           : sk_frame_recv_until(f, buf, max, delim, dlen);
                FUZZ_ASSERT(got == SK_EMSGSIZE, "a retry after SK_EMSGSIZE gave %zd", got);
            }
            break;
        }
        FUZZ_ASSERT(memcmp(buf, s->data + s->pos + (msgs ? 4 : 0), (size_t)got) == 0,
                    "message at offset %zu has other bytes", s->pos);
        s->pos += (size_t)got + (msgs ? 4 : 0);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    uint8_t ctl = fuzz_u8(&in);
    size_t dlen = (size_t)(ctl & 3) + 1;
    bool msgs = (ctl & 4) != 0;
    size_t max = (size_t)fuzz_u64(&in, 2);
    size_t bufsize = 1 + fuzz_u8(&in) % 64;
    sk_sock *pair[2] = {NULL, NULL};
    sk_file *f = NULL;
    struct stream s;
    int rc;

    if (fuzz_left(&in) < dlen)
        return 0;
    const unsigned char *delim = data + in.pos;
    in.pos += dlen;
    s.data = data + in.pos;
    s.len = fuzz_left(&in) < MAX_STREAM ? fuzz_left(&in) : MAX_STREAM;
    s.pos = 0;

    rc = sk_sock_pair(pair, AF_UNIX, SOCK_STREAM);
    FUZZ_ASSERT(rc == 0, "sk_sock_pair: %s", sk_strerror(rc));
    /* Generous: the whole stream is already in the kernel's buffer. */
    sk_sock_settimeout(pair[0], 10.0);
    sk_sock_settimeout(pair[1], 10.0);
    rc = sk_sock_sendall(pair[1], s.data, s.len, NULL);
    FUZZ_ASSERT(rc == 0, "sendall: %s", sk_strerror(rc));
    sk_sock_shutdown(pair[1], SHUT_WR);
    rc = sk_file_open(&f, pair[0], bufsize);
    FUZZ_ASSERT(rc == 0, "sk_file_open: %s", sk_strerror(rc));

    consume(f, &s, msgs, delim, dlen, max);

    sk_file_close(f);
    sk_sock_free(pair[1]);
    sk_sock_free(pair[0]);
    return 0;
}
