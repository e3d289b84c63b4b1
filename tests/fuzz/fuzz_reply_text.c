/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_reply_text.c - the daytime / qotd reply text checks
 * (cli/reply_text.c): reply_text_check and reply_text_trim.
 *
 * Input: the reply, as it could come off the wire.  For the whole reply
 * and for every prefix of it (the bytes past the prefix poisoned so ASan
 * sees any look beyond), both functions must agree with a plain reference:
 * check returns the offset of the first byte that is not printable ASCII,
 * space, tab, CR or LF (-1 if none); trim drops exactly the trailing CR and
 * LF bytes.
 */
#include "fuzz.h"

#include "reply_text.h"

#define MAX_PREFIXES 512

static bool reference_safe(unsigned char b)
{
    return (b >= 0x20 && b <= 0x7e) || b == '\t' || b == '\r' || b == '\n';
}

static ssize_t reference_check(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!reference_safe(p[i]))
            return (ssize_t)i;
    return -1;
}

static size_t reference_trim(const unsigned char *p, size_t len)
{
    size_t keep = 0;

    for (size_t i = 0; i < len; i++)
        if (p[i] != '\r' && p[i] != '\n')
            keep = i + 1;
    return keep;
}

static void check_prefix(unsigned char *buf, size_t k, size_t n)
{
    ssize_t bad;
    size_t trimmed;

    FUZZ_POISON(buf + k, n - k);
    bad = reply_text_check(buf, k);
    trimmed = reply_text_trim(buf, k);
    FUZZ_UNPOISON(buf + k, n - k);
    FUZZ_ASSERT(bad == reference_check(buf, k), "check(len %zu) = %zd, expected %zd", k,
                bad, reference_check(buf, k));
    FUZZ_ASSERT(trimmed == reference_trim(buf, k), "trim(len %zu) = %zu, expected %zu", k,
                trimmed, reference_trim(buf, k));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = fuzz_memdup(data, size);

    check_prefix(buf, size, size);
    for (size_t k = 0; k < size && k < MAX_PREFIXES; k++)
        check_prefix(buf, k, size);
    free(buf);
    return 0;
}
