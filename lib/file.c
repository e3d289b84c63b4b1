/* SPDX-License-Identifier: MIT */
/*
 * lib/file.c - sk_file, the buffered stream over a socket (Python's makefile).
 *
 * Map: a read buffer holding the unconsumed bytes rbuf[rpos..rlen) and a
 * write buffer wbuf[0..wlen).  Readers (read, readline here, the framing
 * helpers through file.h) look at the buffered bytes, fill the buffer under
 * one deadline per call until what they need is there, and consume only
 * then, so a call that fails leaves every byte it received buffered.
 * Writers copy into the write buffer and send it whole when it fills.
 */
#include "file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FILE_DEFAULT_BUFSIZE 8192

struct sk_file {
    sk_sock *sock;        /* borrowed */
    size_t bufsize;       /* the size asked for at open */
    unsigned char *rbuf;
    size_t rcap, rpos, rlen;
    unsigned char *wbuf;
    size_t wcap, wlen;
};

int sk_file_open(sk_file **out, sk_sock *s, size_t bufsize)
{
    if (s == NULL)
        return -EINVAL;
    if (bufsize == 0)
        bufsize = FILE_DEFAULT_BUFSIZE;

    sk_file *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -ENOMEM;
    f->rbuf = malloc(bufsize);
    if (f->rbuf == NULL)
        goto fail_file;
    f->wbuf = malloc(bufsize);
    if (f->wbuf == NULL)
        goto fail_rbuf;
    f->sock = s;
    f->bufsize = f->rcap = f->wcap = bufsize;
    *out = f;
    return 0;

fail_rbuf:
    free(f->rbuf);
fail_file:
    free(f);
    return -ENOMEM;
}

int sk_file_close(sk_file *f)
{
    if (f == NULL)
        return 0;

    int r = f->wlen > 0 ? sk_file_flush(f) : 0;

    free(f->wbuf);
    free(f->rbuf);
    free(f);
    return r;
}

size_t sk_file_buffered(const sk_file *f)
{
    return f->rlen - f->rpos;
}

sk_sock *sk__file_sock(sk_file *f)
{
    return f->sock;
}

const unsigned char *sk__file_peek(const sk_file *f, size_t *avail)
{
    *avail = f->rlen - f->rpos;
    return f->rbuf + f->rpos;
}

void sk__file_consume(sk_file *f, size_t n)
{
    f->rpos += n;
    if (f->rpos >= f->rlen)
        f->rpos = f->rlen = 0;
}

/* Moves the unconsumed bytes to the front of the read buffer. */
static void compact(sk_file *f)
{
    if (f->rpos == 0)
        return;
    memmove(f->rbuf, f->rbuf + f->rpos, f->rlen - f->rpos);
    f->rlen -= f->rpos;
    f->rpos = 0;
}

int sk__file_reserve(sk_file *f, size_t n)
{
    if (f->rcap >= n)
        return 0;

    unsigned char *p = realloc(f->rbuf, n);

    if (p == NULL)
        return -ENOMEM;
    f->rbuf = p;
    f->rcap = n;
    return 0;
}

/*
 * A read that needed a large buffer gives the memory back once the bytes
 * beyond the normal size have been consumed.  Failure to shrink is harmless.
 */
static void shrink(sk_file *f)
{
    if (f->rcap <= f->bufsize || f->rlen - f->rpos > f->bufsize)
        return;
    compact(f);

    unsigned char *p = realloc(f->rbuf, f->bufsize);

    if (p != NULL) {
        f->rbuf = p;
        f->rcap = f->bufsize;
    }
}

ssize_t sk__file_fill(sk_file *f, int64_t deadline)
{
    if (f->rlen == f->rcap)
        compact(f);
    if (f->rlen == f->rcap)
        return -ENOBUFS;

    ssize_t n = sk__sock_recv_dl(f->sock, f->rbuf + f->rlen, f->rcap - f->rlen, 0,
                                 deadline);

    if (n > 0)
        f->rlen += (size_t)n;
    return n;
}

/* Moves `n` buffered bytes to buf and consumes them.  A read of 0 bytes
 * may pass no buffer, which memcpy must not be given even for 0 bytes. */
static void take(sk_file *f, void *buf, size_t n)
{
    if (n > 0)
        memcpy(buf, f->rbuf + f->rpos, n);
    sk__file_consume(f, n);
}

/*
 * Grows a full read buffer (doubling, up to `want` bytes) so that a reader
 * waiting for `want` buffered bytes can fill further.  Returns 0 or -ENOMEM.
 */
static int make_room(sk_file *f, size_t want)
{
    if (sk_file_buffered(f) < f->rcap || f->rcap >= want)
        return 0;

    size_t grow = f->rcap * 2 < want ? f->rcap * 2 : want;

    return sk__file_reserve(f, grow);
}

/*
 * Fills until `len` bytes are buffered or the stream ends.  A read larger
 * than the buffer grows it for the duration: that is what lets a timed-out
 * read keep every byte it received.
 */
ssize_t sk_file_read(sk_file *f, void *buf, size_t len)
{
    int64_t deadline = sk__sock_deadline(f->sock);

    while (sk_file_buffered(f) < len) {
        int r = make_room(f, len);

        if (r < 0)
            return r;

        ssize_t n = sk__file_fill(f, deadline);

        if (n < 0)
            return n;
        if (n == 0)
            break;
    }

    size_t got = sk_file_buffered(f) < len ? sk_file_buffered(f) : len;

    take(f, buf, got);
    shrink(f);
    return (ssize_t)got;
}

/*
 * Scans the buffered bytes for '\n', resuming at `*scanned` so that a
 * long line is scanned once in all.  Returns the line length (newline
 * included) or 0 if there is no newline among the first `max` bytes yet.
 */
static size_t find_line(const sk_file *f, size_t max, size_t *scanned)
{
    size_t avail = sk_file_buffered(f);
    size_t limit = avail < max ? avail : max;

    if (*scanned < limit) {
        const unsigned char *start = f->rbuf + f->rpos;
        const unsigned char *nl = memchr(start + *scanned, '\n', limit - *scanned);

        if (nl != NULL)
            return (size_t)(nl - start) + 1;
        *scanned = limit;
    }
    return 0;
}

/* Copies `n` buffered bytes into buf as a string and consumes them. */
static ssize_t take_line(sk_file *f, char *buf, size_t n)
{
    take(f, buf, n);
    buf[n] = '\0';
    shrink(f);
    return (ssize_t)n;
}

/* A size below 2 leaves no room for a byte and the NUL: -EINVAL. */
ssize_t sk_file_readline(sk_file *f, char *buf, size_t size)
{
    if (size < 2)
        return -EINVAL;

    size_t max = size - 1;
    size_t scanned = 0;
    int64_t deadline = sk__sock_deadline(f->sock);

    for (;;) {
        size_t n = find_line(f, max, &scanned);

        if (n > 0)
            return take_line(f, buf, n);
        if (sk_file_buffered(f) >= max)
            return take_line(f, buf, max);

        int r = make_room(f, max);

        if (r < 0)
            return r;

        ssize_t got = sk__file_fill(f, deadline);

        if (got < 0)
            return got;
        if (got == 0)
            return take_line(f, buf, sk_file_buffered(f));
    }
}

/*
 * Sends the write buffer within `deadline`.  On failure the unsent bytes
 * stay buffered (moved to the front) for a later flush.
 */
static int flush_dl(sk_file *f, int64_t deadline)
{
    size_t sent = 0;
    int r = sk__sock_sendall_dl(f->sock, f->wbuf, f->wlen, &sent, deadline);

    memmove(f->wbuf, f->wbuf + sent, f->wlen - sent);
    f->wlen -= sent;
    return r;
}

int sk_file_flush(sk_file *f)
{
    return flush_dl(f, sk__sock_deadline(f->sock));
}

/*
 * Small writes are only copied.  When the buffer cannot take `len` more,
 * it is flushed first; data at least as large as the buffer then goes out
 * directly instead of being copied through it.  One deadline covers both.
 */
ssize_t sk_file_write(sk_file *f, const void *buf, size_t len)
{
    /* Nothing to copy, and buf may be NULL, which memcpy must not get. */
    if (len == 0)
        return 0;
    if (f->wcap - f->wlen >= len) {
        memcpy(f->wbuf + f->wlen, buf, len);
        f->wlen += len;
        return (ssize_t)len;
    }

    int64_t deadline = sk__sock_deadline(f->sock);
    int r = flush_dl(f, deadline);

    if (r < 0)
        return r;
    if (len >= f->wcap) {
        r = sk__sock_sendall_dl(f->sock, buf, len, NULL, deadline);
        return r < 0 ? r : (ssize_t)len;
    }
    memcpy(f->wbuf, buf, len);
    f->wlen = len;
    return (ssize_t)len;
}
