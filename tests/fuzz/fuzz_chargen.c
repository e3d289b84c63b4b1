/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_chargen.c - the streaming RFC 864 pattern verifier
 * (proto/chargen_check.c), fed in random chunks.
 *
 * Input: [mode][chunk seed][...].  Mode bit 0 clear: the rest is the
 * stream, as it came.  Set: [first char][length: 2 bytes][edits...] - a
 * correct pattern of that length starting at that character, then each
 * 3-byte edit (offset: 2 bytes, byte) overwrites one byte, so the fuzzer
 * reaches deep into long valid streams and the errors in them.
 *
 * The chunk sizes come from a small generator seeded by the chunk seed.
 * Each chunk is handed over with every other byte of the stream poisoned,
 * so ASan catches a read outside it.  After every chunk the verifier must
 * agree with a whole-stream reference: success exactly while every byte so
 * far matches; at the first mismatch the offset, expected byte and byte
 * found; after it, -1 with nothing changed.
 */
#include "fuzz.h"

#include "chargen.h"

#define MAX_STREAM 8192
#define ROW (CHARGEN_LINE + 2)

/* The byte a correct stream whose first line starts at ring position
 * `first` has at offset i. */
static int reference_byte(unsigned first, size_t i)
{
    size_t line = i / ROW, col = i % ROW;

    if (col < CHARGEN_LINE)
        return ' ' + (int)((first + line + col) % CHARGEN_RING);
    return col == CHARGEN_LINE ? '\r' : '\n';
}

/* Offset of the first wrong byte of s[0..n) (n if none) and the byte that
 * belonged there. */
static size_t reference_first_bad(const unsigned char *s, size_t n, int *expected)
{
    if (n == 0)
        return 0;
    if (s[0] < ' ' || s[0] > '~') {
        *expected = CHARGEN_EXPECT_PRINTABLE;
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        int want = reference_byte((unsigned)(s[0] - ' '), i);

        if (s[i] != want) {
            *expected = want;
            return i;
        }
    }
    return n;
}

/* Builds the mode-1 stream: a correct pattern, then the edits. */
static size_t build_stream(struct fuzz_in *in, unsigned char *s)
{
    unsigned char first = fuzz_u8(in);
    size_t n = (size_t)fuzz_u64(in, 2) % (MAX_STREAM + 1);

    for (size_t i = 0; i < n; i++)
        s[i] = i == 0 ? first : (unsigned char)reference_byte((unsigned)(first - ' '), i);
    while (n > 0 && fuzz_left(in) >= 3) {
        size_t at = (size_t)fuzz_u64(in, 2) % n;

        s[at] = fuzz_u8(in);
    }
    return n;
}

/* A chunk length: mostly short, now and then empty or long. */
static size_t next_chunk(uint32_t *state)
{
    uint32_t x = *state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    switch (x & 7) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return (x >> 8) % 2048;
    default:
        return (x >> 8) % 80;
    }
}

/* The verifier's state after `fed` bytes, none of them wrong. */
static void check_clean_state(const struct chargen_check *c, const unsigned char *s,
                              size_t fed)
{
    FUZZ_ASSERT(!c->failed && c->offset == fed, "offset %llu after %zu good bytes",
                (unsigned long long)c->offset, fed);
    FUZZ_ASSERT(c->synced == (fed > 0), "synced %d after %zu bytes", c->synced, fed);
    if (fed == 0)
        return;
    FUZZ_ASSERT(c->first == s[0] - ' ', "first %d, stream starts with %d", c->first, s[0]);
    FUZZ_ASSERT(c->col == fed % ROW, "col %u after %zu bytes", c->col, fed);
    FUZZ_ASSERT(c->start == ((unsigned)c->first + fed / ROW) % CHARGEN_RING,
                "line start %u after %zu bytes", c->start, fed);
}

/* Field by field: a struct copy need not copy the padding. */
static bool same_state(const struct chargen_check *a, const struct chargen_check *b)
{
    return a->offset == b->offset && a->synced == b->synced && a->start == b->start &&
           a->col == b->col && a->first == b->first && a->failed == b->failed &&
           a->bad_offset == b->bad_offset && a->expected == b->expected &&
           a->got == b->got;
}

static void check_failed_state(const struct chargen_check *c, const unsigned char *s,
                               size_t bad, int expected)
{
    FUZZ_ASSERT(c->failed, "no failure recorded");
    FUZZ_ASSERT(c->bad_offset == bad && c->offset == bad,
                "failure at %llu (offset %llu), reference %zu",
                (unsigned long long)c->bad_offset, (unsigned long long)c->offset, bad);
    FUZZ_ASSERT(c->got == s[bad] && c->expected == expected,
                "at %zu: got %d expected %d, reference %d expected %d", bad, c->got,
                c->expected, s[bad], expected);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    uint8_t mode = fuzz_u8(&in);
    uint32_t rng = 0x9e3779b9u ^ fuzz_u8(&in);
    struct chargen_check c;
    unsigned char *s = fuzz_alloc(MAX_STREAM);
    size_t n, fed = 0, bad;
    int expected = 0;

    if (mode & 1) {
        n = build_stream(&in, s);
    } else {
        n = fuzz_left(&in) < MAX_STREAM ? fuzz_left(&in) : MAX_STREAM;
        memcpy(s, data + in.pos, n);
    }
    bad = reference_first_bad(s, n, &expected);
    memset(&c, 0, sizeof(c));

    while (fed < n) {
        size_t len = next_chunk(&rng);
        struct chargen_check before = c;
        int rc;

        if (len > n - fed)
            len = n - fed;
        FUZZ_POISON(s, fed);
        FUZZ_POISON(s + fed + len, MAX_STREAM - fed - len);
        rc = chargen_check_feed(&c, s + fed, len);
        FUZZ_UNPOISON(s, MAX_STREAM);
        if (before.failed) {
            FUZZ_ASSERT(rc == -1 && same_state(&before, &c),
                        "feed after a failure gave %d or changed the state", rc);
        } else if (bad < fed + len) {
            FUZZ_ASSERT(rc == -1, "bad byte at %zu accepted (chunk %zu+%zu)", bad, fed,
                        len);
            check_failed_state(&c, s, bad, expected);
        } else {
            FUZZ_ASSERT(rc == 0, "chunk %zu+%zu rejected, reference has no error", fed, len);
            check_clean_state(&c, s, fed + len);
        }
        fed += len;
    }
    free(s);
    return 0;
}
