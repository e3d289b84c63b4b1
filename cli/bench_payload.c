/*
 * bench_payload.c - the byte streams `sockit bench` sends and checks.
 *
 * The stream of a seed is a sequence of 8-byte words; word k is a 64-bit
 * mix of (seed, k), so any offset can be produced or checked without state
 * and at a few nanoseconds per word.  Byte j of a word is bits 8j..8j+7 of
 * the mix with the low bit replaced by j's parity, which is also the parity
 * of the byte's stream offset (words start at even offsets).  Neighbouring
 * bytes therefore always differ, which makes a dropped or an inserted byte
 * visible at once instead of with probability 255/256.
 */
#include "bench.h"

#include <string.h>

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)
#define PARITY_BITS UINT64_C(0x0100010001000100) /* bit 0 of bytes 1,3,5,7 */
#define PARITY_MASK UINT64_C(0xfefefefefefefefe)

/* The splitmix64 finaliser: a cheap bijective mix with good avalanche. */
static uint64_t mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint64_t bench_payload_seed(uint64_t a, uint64_t b)
{
    return mix64(mix64(a + GOLDEN) ^ (b * GOLDEN + 1));
}

/* Word k of the stream, bytes in little-endian order (byte j = bits 8j..). */
static uint64_t stream_word(uint64_t seed, uint64_t k)
{
    return (mix64(seed + k * GOLDEN) & PARITY_MASK) | PARITY_BITS;
}

uint8_t bench_payload_byte(uint64_t seed, uint64_t offset)
{
    return (uint8_t)(stream_word(seed, offset / 8) >> (8 * (offset % 8)));
}

/* A word in memory order: byte j at address j, whatever the host order. */
static uint64_t to_memory_order(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(w);
#else
    return w;
#endif
}

static void put_word(unsigned char *p, uint64_t w)
{
    w = to_memory_order(w);
    memcpy(p, &w, 8);
}

/* True when the 8 bytes at p are word w; one load and compare. */
static bool word_matches(const unsigned char *p, uint64_t w)
{
    uint64_t have;

    memcpy(&have, p, 8);
    return have == to_memory_order(w);
}

void bench_payload_fill(uint64_t seed, uint64_t offset, void *buf, size_t len)
{
    unsigned char *p = buf;
    size_t i = 0;

    /* Leading bytes up to a word boundary, then whole words, then the tail. */
    while (i < len && (offset + i) % 8 != 0) {
        p[i] = bench_payload_byte(seed, offset + i);
        i++;
    }
    for (; len - i >= 8; i += 8)
        put_word(p + i, stream_word(seed, (offset + i) / 8));
    for (; i < len; i++)
        p[i] = bench_payload_byte(seed, offset + i);
}

/* Index of the first byte of p[0..n) that differs from the word's bytes. */
static size_t first_diff(const unsigned char *p, uint64_t w, size_t n)
{
    size_t j = 0;

    while (j < n && p[j] == (unsigned char)(w >> (8 * j)))
        j++;
    return j;
}

size_t bench_payload_check(uint64_t seed, uint64_t offset, const void *buf,
                           size_t len)
{
    const unsigned char *p = buf;
    size_t i = 0;

    while (i < len && (offset + i) % 8 != 0) {
        if (p[i] != bench_payload_byte(seed, offset + i))
            return i;
        i++;
    }
    for (; i < len; i += 8) {
        uint64_t w = stream_word(seed, (offset + i) / 8);
        size_t n = len - i < 8 ? len - i : 8;
        size_t d;
        if (n == 8 && word_matches(p + i, w))
            continue;
        d = first_diff(p + i, w, n);
        if (d < n)
            return i + d;
    }
    return len;
}
