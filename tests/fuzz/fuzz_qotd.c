/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_qotd.c - the fortune-format quote file parser, qotd_parse
 * (services/qotd.c), which reads files an operator hands to `sockit serve`.
 *
 * Input: [ctl][file text].  ctl picks the size of the error buffer (the
 * parser writes its reason there), which is allocated at exactly that size.
 *
 * A plain reference parser (split at LF, drop one CR before it, a line
 * holding only '%' ends a quote, every other line joins the quote with CR
 * LF) says which quotes the file holds and whether it is bad.  The real
 * parser must emit the same quotes in the same order (up to the point of
 * an error), return their count or -EINVAL exactly when the reference
 * finds a bad byte or an overlong quote, and then leave a NUL-terminated
 * "line N: ..." reason naming the same line.  Every quote it emits must be
 * valid on the wire: at most QOTD_QUOTE_MAX bytes, only printable ASCII, CR
 * and LF, ending in CR LF, not only line ends.
 *
 * qotd.c also holds the qotd handlers, which reach the rest of services/
 * (the service table, the UDP guard), so this target links all of
 * services/ (cmake/fuzz.cmake does that for any target that includes
 * services.h); only the parser runs.
 */
#include "fuzz.h"

#include "qotd.h"

#include <errno.h>

static const size_t err_sizes[4] = {0, 1, 16, 256};

/* The quotes the reference expects, in wire form, back to back. */
struct expect {
    char *text;
    size_t *len; /* quote i is len[i] bytes */
    size_t count;
    long bad_line; /* 0: the file is good */
};

/* What the callback sees: the reference to compare against. */
struct seen {
    const struct expect *want;
    size_t index;
    size_t offset;
};

static bool wire_byte(unsigned char b)
{
    return (b >= 32 && b <= 126) || b == '\r' || b == '\n';
}

static void reference_end_quote(struct expect *e, const char *q, size_t qlen)
{
    for (size_t i = 0; i < qlen; i++) {
        if (q[i] != '\r' && q[i] != '\n') {
            size_t at = 0;

            for (size_t k = 0; k < e->count; k++)
                at += e->len[k];
            memcpy(e->text + at, q, qlen);
            e->len[e->count++] = qlen;
            return;
        }
    }
}

/* The reference parser.  e->text and e->len must hold len * 3 + 2 bytes
 * and len + 1 entries (a file of n bytes cannot yield more). */
static void reference_parse(const char *text, size_t len, struct expect *e)
{
    char quote[QOTD_QUOTE_MAX];
    size_t qlen = 0, start = 0;
    long lineno = 0;

    e->count = 0;
    e->bad_line = 0;
    while (start < len) {
        size_t end = start;

        while (end < len && text[end] != '\n')
            end++;
        size_t ll = end - start;

        lineno++;
        if (ll > 0 && text[start + ll - 1] == '\r')
            ll--;
        if (ll == 1 && text[start] == '%') {
            reference_end_quote(e, quote, qlen);
            qlen = 0;
        } else {
            for (size_t i = 0; i < ll; i++) {
                unsigned char b = (unsigned char)text[start + i];

                if ((b < 32 || b > 126) && b != '\r') {
                    e->bad_line = lineno;
                    return;
                }
            }
            if (qlen + ll + 2 > QOTD_QUOTE_MAX) {
                e->bad_line = lineno;
                return;
            }
            memcpy(quote + qlen, text + start, ll);
            qlen += ll;
            quote[qlen++] = '\r';
            quote[qlen++] = '\n';
        }
        start = end + 1;
    }
    reference_end_quote(e, quote, qlen);
}

static int emit(void *arg, const char *quote, size_t len)
{
    struct seen *s = arg;
    const struct expect *e = s->want;

    FUZZ_ASSERT(len >= 3 && len <= QOTD_QUOTE_MAX, "quote of %zu bytes", len);
    FUZZ_ASSERT(quote[len - 2] == '\r' && quote[len - 1] == '\n',
                "quote does not end in CR LF");
    for (size_t i = 0; i < len; i++)
        FUZZ_ASSERT(wire_byte((unsigned char)quote[i]), "byte 0x%02x in a quote",
                    (unsigned char)quote[i]);
    FUZZ_ASSERT(s->index < e->count, "quote %zu emitted, the reference has %zu", s->index,
                e->count);
    FUZZ_ASSERT(len == e->len[s->index] && memcmp(quote, e->text + s->offset, len) == 0,
                "quote %zu differs from the reference (%zu vs %zu bytes)", s->index, len,
                e->len[s->index]);
    s->offset += len;
    s->index++;
    return 0;
}

/* The error text says "line N: ..." for the reference's line N, as far as
 * the buffer had room. */
static void check_reason(const char *err, size_t errsize, long line)
{
    char want[64];

    if (errsize == 0) {
        FUZZ_ASSERT(err[0] == 'E', "a 0-byte reason buffer was written");
        return;
    }
    FUZZ_ASSERT(memchr(err, '\0', errsize) != NULL, "reason is not NUL-terminated");
    snprintf(want, sizeof(want), "line %ld: ", line);
    FUZZ_ASSERT(strncmp(err, want, errsize - 1 < strlen(want) ? errsize - 1 : strlen(want)) ==
                    0,
                "reason \"%s\" does not name line %ld", err, line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct expect want;
    struct seen seen = {&want, 0, 0};
    size_t errsize, len;
    char *text, *err;
    int rc;

    if (size == 0)
        return 0;
    errsize = err_sizes[data[0] & 3];
    len = size - 1;
    text = (char *)fuzz_memdup(data + 1, len);
    err = fuzz_alloc(errsize);
    err[0] = 'E'; /* a canary when errsize is 0: nothing may be written */
    want.text = fuzz_alloc(len * 3 + 2);
    want.len = fuzz_alloc((len + 1) * sizeof(size_t));
    reference_parse(text, len, &want);

    rc = qotd_parse(text, len, emit, &seen, err, errsize);
    if (want.bad_line != 0) {
        FUZZ_ASSERT(rc == -EINVAL, "bad line %ld, parse returned %d", want.bad_line, rc);
        check_reason(err, errsize, want.bad_line);
    } else {
        FUZZ_ASSERT(rc >= 0 && (size_t)rc == want.count && seen.index == want.count,
                    "parse returned %d after %zu quotes, reference %zu", rc, seen.index,
                    want.count);
    }
    free(want.len);
    free(want.text);
    free(err);
    free(text);
    return 0;
}
