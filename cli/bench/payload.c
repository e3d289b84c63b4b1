/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/payload.c - the byte streams `sockit bench` sends and checks.
 *
 * A stream is cut into blocks of BLOCK_SIZE (B) bytes, and every block is
 * a window of B bytes of one table of pseudo-random bytes (made once per
 * process), starting at a position that is a 64-bit mix of (seed, block
 * index):
 *
 *     byte(seed, i) = table[(i % B + start(seed, i / B)) % B]
 *
 * The table is stored twice in a row, so every window is contiguous in
 * memory: a sender hands the kernel a pointer into the table (nothing is
 * generated at all), and a receiver checks with memcmp.  Any offset can
 * still be produced or checked without state.
 *
 * The table's byte j has j's parity as its low bit and window starts are
 * even, so the low bit of every stream byte is the parity of its offset:
 * neighbouring bytes always differ, which makes a dropped or an inserted
 * byte visible at its own position instead of with probability 255/256.
 * A stream shifted by any number of bytes that is not a multiple of B
 * compares pseudo-random bytes with others (each equal with a chance of 1
 * in 128); a shift by whole blocks is wrong too, as the window start moves
 * with the block index (the same start recurs with a chance of 1 in B/2 =
 * 131072), and so are other connections' streams, whose starts depend on
 * their seeds.
 *
 * A mismatch is located byte by byte, but only inside the first block that
 * memcmp finds different, to name the exact offset.
 */
#include "bench.h"

#include <pthread.h>
#include <string.h>

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)
#define PARITY_BITS UINT64_C(0x0100010001000100) /* bit 0 of bytes 1,3,5,7 */
#define PARITY_MASK UINT64_C(0xfefefefefefefefe)
#define TABLE_SEED UINT64_C(0x5eed0fb10c4b1e55)

#define BLOCK_BITS BENCH_PAYLOAD_BLOCK_BITS
#define BLOCK_SIZE BENCH_PAYLOAD_BLOCK

static unsigned char table[2 * BLOCK_SIZE];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

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

/* Stores the 8 bytes of w at p, byte j (bits 8j..8j+7) at p[j], whatever
 * the host's byte order. */
static void put_le64(unsigned char *p, uint64_t w)
{
    for (int j = 0; j < 8; j++)
        p[j] = (unsigned char)(w >> (8 * j));
}

/* Fills the table: word k is a mix of k with every byte's low bit replaced
 * by the parity of its index; then the copy that makes windows contiguous
 * (B is even, so the copy's parities are right too). */
static void table_make(void)
{
    for (size_t k = 0; k < BLOCK_SIZE / 8; k++)
        put_le64(table + 8 * k, (mix64(TABLE_SEED + k * GOLDEN) & PARITY_MASK) | PARITY_BITS);
    memcpy(table + BLOCK_SIZE, table, BLOCK_SIZE);
}

/* Where block q of the stream starts in the table: even, below B. */
static size_t window_start(uint64_t seed, uint64_t q)
{
    return (size_t)(mix64(seed ^ mix64(q + GOLDEN)) & (BLOCK_SIZE - 2));
}

const void *bench_payload_span(uint64_t seed, uint64_t offset, size_t *len)
{
    size_t j = (size_t)(offset & (BLOCK_SIZE - 1));

    pthread_once(&table_once, table_make);
    *len = BLOCK_SIZE - j;
    return table + window_start(seed, offset >> BLOCK_BITS) + j;
}

uint8_t bench_payload_byte(uint64_t seed, uint64_t offset)
{
    size_t len;

    return *(const unsigned char *)bench_payload_span(seed, offset, &len);
}

/* Copies the stream piece by piece, each piece the rest of a block. */
void bench_payload_fill(uint64_t seed, uint64_t offset, void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        size_t n;
        const void *src = bench_payload_span(seed, offset, &n);
        if (n > len)
            n = len;
        memcpy(p, src, n);
        p += n;
        offset += n;
        len -= n;
    }
}

/* Index of the first byte where a and b differ; they are known to. */
static size_t first_diff(const unsigned char *a, const unsigned char *b)
{
    size_t k = 0;

    while (a[k] == b[k])
        k++;
    return k;
}

/* Compares piece by piece like bench_payload_fill copies; the first piece
 * that differs is searched for the exact byte. */
size_t bench_payload_check(uint64_t seed, uint64_t offset, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t done = 0;

    while (done < len) {
        size_t n;
        const unsigned char *want = bench_payload_span(seed, offset, &n);
        if (n > len - done)
            n = len - done;
        if (memcmp(p + done, want, n) != 0)
            return done + first_diff(p + done, want);
        done += n;
        offset += n;
    }
    return len;
}

const void *bench_payload_table(size_t *len)
{
    *len = sizeof(table);
    return table;
}
