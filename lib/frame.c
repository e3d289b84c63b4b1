/* SPDX-License-Identifier: MIT */
/*
 * lib/frame.c - message boundaries over a byte stream.
 *
 * Map:
 *   pure decoders   sk_frame_scan_delim, sk_frame_scan_msg, sk_frame_put_len:
 *                   look at a caller's buffer, allocate nothing, say "need
 *                   more" with SK_ENEED.
 *   fixed length    sk_frame_recv_exact: straight on the socket.
 *   buffered        sk_frame_recv_until, sk_frame_recv_msg: run the decoders
 *                   over an sk_file's read buffer (lib/file.h) and consume
 *                   only whole messages, so a failed call loses nothing.
 *   sending         sk_frame_send_msg: header and payload in one sendmsg
 *                   loop under one deadline.
 */
#include "file.h"
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* platforms without it have SO_NOSIGPIPE set on the socket */
#endif

#define FRAME_HDR 4

/*
 * Finds the first `delim` that ends within buf[0..limit), looking only at
 * matches that start at or after `from`.  Returns the end offset of the
 * match (delimiter included), or 0 when there is none (a match always ends
 * at offset >= dlen >= 1, so 0 is free to mean "not found").
 */
static size_t find_delim(const unsigned char *buf, size_t limit, size_t from,
                         const unsigned char *delim, size_t dlen)
{
    while (limit >= dlen && from <= limit - dlen) {
        const unsigned char *hit = memchr(buf + from, delim[0], limit - dlen + 1 - from);

        if (hit == NULL)
            return 0;
        from = (size_t)(hit - buf);
        if (memcmp(hit + 1, delim + 1, dlen - 1) == 0)
            return from + dlen;
        from++;
    }
    return 0;
}

/* The largest message size a ssize_t return can report. */
static size_t clamp_max(size_t max)
{
    return max > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : max;
}

ssize_t sk_frame_scan_delim(const void *buf, size_t len, const void *delim,
                            size_t dlen, size_t max)
{
    size_t end;

    if (delim == NULL || dlen == 0 || (buf == NULL && len > 0))
        return -EINVAL;
    max = clamp_max(max);
    end = find_delim(buf, len < max ? len : max, 0, delim, dlen);
    if (end > 0)
        return (ssize_t)end;
    return len >= max ? SK_EMSGSIZE : SK_ENEED;
}

static uint32_t get_len(const unsigned char *hdr)
{
    return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
           (uint32_t)hdr[3];
}

/*
 * Stores the payload length in *payload as soon as the header is complete
 * (also when the result is SK_ENEED or SK_EMSGSIZE), so a caller can size
 * its buffer before the payload arrives.
 */
ssize_t sk_frame_scan_msg(const void *buf, size_t len, size_t max, size_t *payload)
{
    uint32_t n;

    if (buf == NULL && len > 0)
        return -EINVAL;
    if (len < FRAME_HDR)
        return SK_ENEED;
    n = get_len(buf);
    if (payload != NULL)
        *payload = n;
    /* Where size_t is 32 bits, the whole message must still fit the
     * ssize_t return. */
    if (max > (size_t)SSIZE_MAX - FRAME_HDR)
        max = (size_t)SSIZE_MAX - FRAME_HDR;
    if (n > max)
        return SK_EMSGSIZE;
    if (len - FRAME_HDR < n)
        return SK_ENEED;
    return (ssize_t)(FRAME_HDR + (size_t)n);
}

void sk_frame_put_len(unsigned char hdr[4], uint32_t len)
{
    hdr[0] = (unsigned char)(len >> 24);
    hdr[1] = (unsigned char)(len >> 16);
    hdr[2] = (unsigned char)(len >> 8);
    hdr[3] = (unsigned char)len;
}

/*
 * Loops recv under the deadline taken on entry.  Bytes received before an
 * error are in buf but not reported: the stream position is then unknown
 * to the caller, which is why the buffered helpers below exist.
 */
ssize_t sk_frame_recv_exact(sk_sock *s, void *buf, size_t len)
{
    unsigned char *p = buf;
    int64_t deadline;
    size_t got = 0;

    if (s == NULL || (buf == NULL && len > 0) || len > (size_t)SSIZE_MAX)
        return -EINVAL;
    deadline = sk__sock_deadline(s);
    while (got < len) {
        ssize_t r = sk__sock_recv_dl(s, p + got, len - got, 0, deadline);

        if (r == 0)
            return got == 0 ? SK_EOF : SK_EPARTIAL;
        if (r < 0)
            return r;
        got += (size_t)r;
    }
    return (ssize_t)len;
}

/*
 * Reads more into the stream's buffer, growing it when it is full and the
 * message may still be as long as `want` bytes.  Growth is geometric up to
 * `want`, so a large `max` costs memory only when a long message arrives.
 * Returns what sk__file_fill returns (bytes added, 0 at end of stream, or
 * an error), or -ENOMEM.
 */
static ssize_t fill_upto(sk_file *f, size_t avail, size_t want, int64_t deadline)
{
    ssize_t r = sk__file_fill(f, deadline);

    if (r == -ENOBUFS) {
        size_t grow = avail < want / 2 ? avail * 2 : want;
        int rc = sk__file_reserve(f, grow > avail ? grow : avail + 1);

        if (rc < 0)
            return rc;
        r = sk__file_fill(f, deadline);
    }
    return r;
}

ssize_t sk_frame_recv_until(sk_file *f, void *buf, size_t max, const void *delim,
                            size_t dlen)
{
    size_t scanned = 0;
    int64_t deadline;

    if (f == NULL || delim == NULL || dlen == 0 || (buf == NULL && max > 0))
        return -EINVAL;
    max = clamp_max(max);
    deadline = sk__sock_deadline(sk__file_sock(f));
    for (;;) {
        size_t avail, end;
        const unsigned char *p = sk__file_peek(f, &avail);
        ssize_t r;

        end = find_delim(p, avail < max ? avail : max, scanned, delim, dlen);
        if (end > 0) {
            memcpy(buf, p, end);
            sk__file_consume(f, end);
            return (ssize_t)end;
        }
        if (avail >= max)
            return SK_EMSGSIZE;
        /* A delimiter split across reads starts in the last dlen-1 bytes. */
        scanned = avail >= dlen ? avail - dlen + 1 : 0;
        r = fill_upto(f, avail, max, deadline);
        if (r == 0)
            return avail == 0 ? SK_EOF : SK_EPARTIAL;
        if (r < 0)
            return r;
    }
}

ssize_t sk_frame_recv_msg(sk_file *f, void *buf, size_t max)
{
    int64_t deadline;

    if (f == NULL || (buf == NULL && max > 0))
        return -EINVAL;
    deadline = sk__sock_deadline(sk__file_sock(f));
    for (;;) {
        size_t avail, n = 0;
        const unsigned char *p = sk__file_peek(f, &avail);
        ssize_t r = sk_frame_scan_msg(p, avail, max, &n);

        if (r >= 0) {
            /* buf may be NULL when max is 0 (then n is 0 too). */
            if (n > 0)
                memcpy(buf, p + FRAME_HDR, n);
            sk__file_consume(f, (size_t)r);
            return (ssize_t)n;
        }
        if (r != SK_ENEED)
            return r;
        r = fill_upto(f, avail, avail < FRAME_HDR ? FRAME_HDR : FRAME_HDR + n,
                      deadline);
        if (r == 0)
            return avail == 0 ? SK_EOF : SK_EPARTIAL;
        if (r < 0)
            return r;
    }
}

/* Drops `n` sent bytes from the front of an iovec array. */
static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
    while (*cnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

/*
 * Under TLS, header and payload go through the TLS sends under the one
 * deadline; the header and the payload's first part share a buffer so a
 * small message is one record.
 */
static int send_msg_tls(sk_sock *s, const unsigned char hdr[FRAME_HDR], const void *buf,
                        size_t len, int64_t deadline)
{
    unsigned char first[16384];
    size_t part = len < sizeof first - FRAME_HDR ? len : sizeof first - FRAME_HDR;

    memcpy(first, hdr, FRAME_HDR);
    if (part > 0)
        memcpy(first + FRAME_HDR, buf, part);
    int r = sk__sock_sendall_dl(s, first, FRAME_HDR + part, NULL, deadline);

    if (r == 0 && len > part)
        r = sk__sock_sendall_dl(s, (const char *)buf + part, len - part, NULL, deadline);
    return r;
}

/*
 * Sends header and payload with sendmsg, so a small message leaves in one
 * segment, and with MSG_NOSIGNAL, which writev cannot give.  Failures follow
 * the socket calls' retry rule (sk__sock_io_retry), all within one deadline.
 */
int sk_frame_send_msg(sk_sock *s, const void *buf, size_t len)
{
    unsigned char hdr[FRAME_HDR];
    struct iovec vec[2], *iov = vec;
    int cnt = 2;
    int64_t deadline;

    if (s == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len > UINT32_MAX)
        return SK_EMSGSIZE;
    if (s->fd < 0)
        return -EBADF;
    sk_frame_put_len(hdr, (uint32_t)len);
    vec[0].iov_base = hdr;
    vec[0].iov_len = sizeof(hdr);
    vec[1].iov_base = (void *)buf;
    vec[1].iov_len = len;
    if (len == 0)
        cnt = 1;
    deadline = sk__sock_deadline(s);
    if (s->tls != NULL)
        return send_msg_tls(s, hdr, buf, len, deadline);
    while (cnt > 0) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
        ssize_t r = sendmsg(s->fd, &mh, MSG_NOSIGNAL);

        if (r >= 0) {
            iov_advance(&iov, &cnt, (size_t)r);
            continue;
        }
        int rc = sk__sock_io_retry(s, errno, POLLOUT, deadline);

        if (rc < 0)
            return rc;
    }
    return 0;
}
