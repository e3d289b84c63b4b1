/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_frame.c - the pure framing decoders, sk_frame_scan_delim and
 * sk_frame_scan_msg, over input split at every position.
 *
 * Input: [ctl][max high][max low][delimiter: 1-4 bytes][stream...].
 * ctl bits 0-1: delimiter length - 1; bits 2-3: the maximum message size
 * (0, 1: the 16-bit value from the next two bytes; 2: SIZE_MAX; 3:
 * SSIZE_MAX + 1, the first value the decoders must clamp).  The stream is
 * cut to MAX_STREAM bytes, because every prefix is scanned.
 *
 * For every prefix length k, with the bytes past k poisoned so that ASan
 * reports any look beyond them, each decoder's answer must equal a simple
 * reference: the same message found in a prefix and in the whole stream,
 * SK_ENEED exactly when no complete message is there yet and the limit is
 * not reached, SK_EMSGSIZE exactly when it is.  Then the stream is consumed
 * message by message, as an event loop would, against the same reference.
 */
#include "fuzz.h"

#include "sockit.h"

#include <limits.h>

#define MAX_STREAM 1024
#define NO_MATCH SIZE_MAX

/* End offset of the first occurrence of delim in buf[0..len), or NO_MATCH.
 * Naive on purpose: it is the oracle. */
static size_t reference_first_end(const unsigned char *buf, size_t len,
                                   const unsigned char *delim, size_t dlen)
{
    for (size_t i = 0; i + dlen <= len; i++) {
        size_t j = 0;

        while (j < dlen && buf[i + j] == delim[j])
            j++;
        if (j == dlen)
            return i + dlen;
    }
    return NO_MATCH;
}

/* What sk_frame_scan_delim must return for a buffer of `len` bytes whose
 * first delimiter ends at `first_end`.  The first match in the whole
 * stream is also the first in any prefix that contains it. */
static ssize_t reference_delim(size_t first_end, size_t len, size_t max)
{
    size_t limit = len < max ? len : max;

    if (first_end != NO_MATCH && first_end <= limit)
        return (ssize_t)first_end;
    return len >= max ? SK_EMSGSIZE : SK_ENEED;
}

/* What sk_frame_scan_msg must return, and the payload it must report (or
 * leave alone, when the header is incomplete). */
static ssize_t reference_msg(const unsigned char *buf, size_t len, size_t max,
                             size_t *payload)
{
    size_t n, effmax = max;

    if (len < 4)
        return SK_ENEED;
    n = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
    *payload = n;
    if (effmax > (size_t)SSIZE_MAX - 4)
        effmax = (size_t)SSIZE_MAX - 4;
    if (n > effmax)
        return SK_EMSGSIZE;
    return len - 4 < n ? SK_ENEED : (ssize_t)(4 + n);
}

/* Scans buf[0..k) (buf holds n bytes; the rest is poisoned meanwhile). */
static ssize_t scan_delim_prefix(unsigned char *buf, size_t k, size_t n,
                                 const unsigned char *delim, size_t dlen, size_t max)
{
    ssize_t r;

    FUZZ_POISON(buf + k, n - k);
    r = sk_frame_scan_delim(buf, k, delim, dlen, max);
    FUZZ_UNPOISON(buf + k, n - k);
    return r;
}

static void check_delim(unsigned char *buf, size_t n, const unsigned char *delim,
                        size_t dlen, size_t max)
{
    size_t first_end = reference_first_end(buf, n, delim, dlen);
    ssize_t whole = sk_frame_scan_delim(buf, n, delim, dlen, max);
    size_t off = 0;

    FUZZ_ASSERT(whole == reference_delim(first_end, n, max),
                "scan_delim(len %zu, dlen %zu, max %zu) = %zd, expected %zd", n, dlen,
                max, whole, reference_delim(first_end, n, max));
    for (size_t k = 0; k <= n; k++) {
        ssize_t r = scan_delim_prefix(buf, k, n, delim, dlen, max);

        FUZZ_ASSERT(r == reference_delim(first_end, k, max),
                    "scan_delim(prefix %zu of %zu, dlen %zu, max %zu) = %zd, expected %zd",
                    k, n, dlen, max, r, reference_delim(first_end, k, max));
        /* Redundant with the reference, but the property itself: a
         * message seen in a prefix is the message of the whole. */
        FUZZ_ASSERT(r < 0 || r == whole, "prefix %zu found %zd, whole %zd", k, r, whole);
        FUZZ_ASSERT(r != SK_EMSGSIZE || whole == SK_EMSGSIZE,
                    "prefix %zu too long, whole %zd", k, whole);
    }
    /* Consume message after message, as a loop over a receive buffer. */
    while (off < n) {
        size_t end = reference_first_end(buf + off, n - off, delim, dlen);
        ssize_t r = sk_frame_scan_delim(buf + off, n - off, delim, dlen, max);

        FUZZ_ASSERT(r == reference_delim(end, n - off, max),
                    "scan_delim at offset %zu = %zd, expected %zd", off, r,
                    reference_delim(end, n - off, max));
        if (r <= 0)
            break;
        FUZZ_ASSERT((size_t)r >= dlen && (size_t)r <= max && (size_t)r <= n - off,
                    "message length %zd out of bounds", r);
        off += (size_t)r;
    }
}

/* One scan_msg call on buf[0..k) checked against the reference, with and
 * without a payload pointer.  Returns the result. */
static ssize_t check_msg_once(unsigned char *buf, size_t k, size_t n, size_t max)
{
    size_t payload = 0xdeadbeef, want_payload = 0xdeadbeef;
    ssize_t want = reference_msg(buf, k, max, &want_payload);
    ssize_t r, r2;

    FUZZ_POISON(buf + k, n - k);
    r = sk_frame_scan_msg(buf, k, max, &payload);
    r2 = sk_frame_scan_msg(buf, k, max, NULL);
    FUZZ_UNPOISON(buf + k, n - k);
    FUZZ_ASSERT(r == want && r2 == want,
                "scan_msg(len %zu, max %zu) = %zd/%zd, expected %zd", k, max, r, r2, want);
    FUZZ_ASSERT(payload == want_payload, "scan_msg(len %zu) payload %zu, expected %zu", k,
                payload, want_payload);
    if (r >= 0) {
        unsigned char hdr[4];

        sk_frame_put_len(hdr, (uint32_t)payload);
        FUZZ_ASSERT(memcmp(hdr, buf, 4) == 0, "put_len(%zu) disagrees with the header",
                    payload);
    }
    return r;
}

static void check_msg(unsigned char *buf, size_t n, size_t max)
{
    ssize_t whole = sk_frame_scan_msg(buf, n, max, NULL);
    size_t off = 0;

    for (size_t k = 0; k <= n; k++) {
        ssize_t r = check_msg_once(buf, k, n, max);

        FUZZ_ASSERT(r < 0 || r == whole, "prefix %zu found %zd, whole %zd", k, r, whole);
        FUZZ_ASSERT(r != SK_EMSGSIZE || whole == SK_EMSGSIZE,
                    "prefix %zu too long, whole %zd", k, whole);
    }
    while (off < n) {
        ssize_t r = check_msg_once(buf + off, n - off, n - off, max);

        if (r <= 0)
            break;
        off += (size_t)r;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    uint8_t ctl = fuzz_u8(&in);
    size_t dlen = (size_t)(ctl & 3) + 1;
    size_t max = (size_t)fuzz_u64(&in, 2);
    unsigned char *delim, *buf;
    size_t n;

    if ((ctl & 0x0c) == 0x08)
        max = SIZE_MAX;
    else if ((ctl & 0x0c) == 0x0c)
        max = (size_t)SSIZE_MAX + 1;
    if (fuzz_left(&in) < dlen)
        return 0;
    delim = fuzz_memdup(data + in.pos, dlen);
    in.pos += dlen;
    n = fuzz_left(&in) < MAX_STREAM ? fuzz_left(&in) : MAX_STREAM;
    buf = fuzz_memdup(data + in.pos, n);

    check_delim(buf, n, delim, dlen, max);
    check_msg(buf, n, max);

    free(buf);
    free(delim);
    return 0;
}
