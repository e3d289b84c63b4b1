/*
 * bench_payload.c - the byte streams `sockit bench` sends and checks.
 *
 * A stream is cut into blocks of BLOCK_SIZE bytes.  Every block is the same
 * table of pseudo-random bytes (made once per process), XORed with an
 * 8-byte mask that is a 64-bit mix of (seed, block index) repeated over the
 * block:
 *
 *     byte(seed, i) = table[i % B] ^ mask(seed, i / B)[i % 8]
 *
 * so making or checking a block costs a load, an XOR and a store (or
 * compare) per machine word, about memcpy's speed, and any offset can still
 * be produced or checked without state.  The table's byte j has j's parity
 * as its low bit and the masks' bytes all have a clear low bit, so the low
 * bit of every stream byte is the parity of its offset: neighbouring bytes
 * always differ, which makes a dropped or an inserted byte visible at its
 * own position instead of with probability 255/256.  The mask changes with
 * the block index, so a stream shifted by a whole block is wrong too, and
 * with the seed, so two connections' streams differ almost everywhere.
 *
 * Checking compares 64 bytes at a time and only falls back to single bytes
 * inside the first 64 that differ, to name the exact offset.
 */
#include "bench.h"

#include <pthread.h>
#include <string.h>

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)
#define PARITY_BITS UINT64_C(0x0100010001000100) /* bit 0 of bytes 1,3,5,7 */
#define PARITY_MASK UINT64_C(0xfefefefefefefefe)
#define TABLE_SEED UINT64_C(0x5eed0fb10c4b1e55)

/* 256 KiB: four 64 KiB writes, and well inside a core's L2 cache next to
 * the send and receive buffer.  A power of two, so i % B is a mask. */
#define BLOCK_BITS 18
#define BLOCK_SIZE ((size_t)1 << BLOCK_BITS)
/* Bytes compared per step of the check before looking closer. */
#define CHECK_STEP 64

/* Two machine words; compilers map these to SIMD registers where there are
 * some and to pairs of integer registers elsewhere. */
typedef uint64_t vec2 __attribute__((vector_size(16)));

static unsigned char table[BLOCK_SIZE];
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
 * by the parity of its index. */
static void table_make(void)
{
    for (size_t k = 0; k < BLOCK_SIZE / 8; k++)
        put_le64(table + 8 * k, (mix64(TABLE_SEED + k * GOLDEN) & PARITY_MASK) | PARITY_BITS);
}

static const unsigned char *table_get(void)
{
    pthread_once(&table_once, table_make);
    return table;
}

/* The mask of block q, twice in a row: bytes r..r+7 of it are the mask in
 * the order a word starting at a stream offset = r (mod 8) needs.  Every
 * byte's low bit is clear, so the parity bits of the table survive. */
static void block_mask(uint64_t seed, uint64_t q, unsigned char out[16])
{
    uint64_t m = mix64(seed ^ mix64(q + GOLDEN)) & PARITY_MASK;

    put_le64(out, m);
    put_le64(out + 8, m);
}

uint8_t bench_payload_byte(uint64_t seed, uint64_t offset)
{
    unsigned char mask[16];

    block_mask(seed, offset >> BLOCK_BITS, mask);
    return table_get()[offset & (BLOCK_SIZE - 1)] ^ mask[offset % 8];
}

static vec2 load_vec(const unsigned char *p)
{
    vec2 v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* The mask for 16 bytes starting at a stream offset = r (mod 8). */
static vec2 mask_vec(const unsigned char mask[16], size_t r)
{
    uint64_t w;

    memcpy(&w, mask + r, 8);
    return (vec2){w, w};
}

/*
 * One piece that stays inside one block: n bytes at table position j, with
 * that block's mask.  Whole 16-byte vectors first (unaligned loads and
 * stores, as the stream offset and the buffer need not be aligned), then
 * the tail byte by byte.
 */
static void fill_piece(const unsigned char *tab, size_t j, const unsigned char mask[16],
                       unsigned char *p, size_t n)
{
    vec2 m = mask_vec(mask, j % 8);
    size_t k = 0;

    for (; n - k >= 16; k += 16) {
        vec2 v = load_vec(tab + j + k) ^ m;
        memcpy(p + k, &v, sizeof(v));
    }
    for (; k < n; k++)
        p[k] = tab[j + k] ^ mask[(j + k) % 8];
}

/* Splits [offset, offset + len) at block boundaries and fills each piece
 * with its block's mask. */
void bench_payload_fill(uint64_t seed, uint64_t offset, void *buf, size_t len)
{
    const unsigned char *tab = table_get();
    unsigned char *p = buf;
    unsigned char mask[16];

    while (len > 0) {
        size_t j = (size_t)(offset & (BLOCK_SIZE - 1));
        size_t n = BLOCK_SIZE - j < len ? BLOCK_SIZE - j : len;
        block_mask(seed, offset >> BLOCK_BITS, mask);
        fill_piece(tab, j, mask, p, n);
        p += n;
        offset += n;
        len -= n;
    }
}

/* Index of the first of p[0..n) that is not table[j..] masked, or n. */
static size_t first_diff(const unsigned char *tab, size_t j, const unsigned char mask[16],
                         const unsigned char *p, size_t n)
{
    size_t k = 0;

    while (k < n && p[k] == (tab[j + k] ^ mask[(j + k) % 8]))
        k++;
    return k;
}

/*
 * The check of one piece inside one block: 64 bytes per step are XORed
 * with what they should be and the differences ORed together, one branch
 * per step; the first step with a difference is searched byte by byte.
 */
static size_t check_piece(const unsigned char *tab, size_t j, const unsigned char mask[16],
                          const unsigned char *p, size_t n)
{
    vec2 m = mask_vec(mask, j % 8);
    size_t k = 0;

    for (; n - k >= CHECK_STEP; k += CHECK_STEP) {
        const unsigned char *q = p + k, *t = tab + j + k;
        vec2 d = (load_vec(q) ^ load_vec(t) ^ m) | (load_vec(q + 16) ^ load_vec(t + 16) ^ m) |
                 (load_vec(q + 32) ^ load_vec(t + 32) ^ m) |
                 (load_vec(q + 48) ^ load_vec(t + 48) ^ m);
        if ((d[0] | d[1]) != 0)
            break;
    }
    return k + first_diff(tab, j + k, mask, p + k, n - k);
}

/* Like bench_payload_fill, piece by piece; the first piece with a wrong
 * byte ends the check. */
size_t bench_payload_check(uint64_t seed, uint64_t offset, const void *buf, size_t len)
{
    const unsigned char *tab = table_get();
    const unsigned char *p = buf;
    unsigned char mask[16];
    size_t done = 0;

    while (done < len) {
        size_t j = (size_t)(offset & (BLOCK_SIZE - 1));
        size_t n = BLOCK_SIZE - j < len - done ? BLOCK_SIZE - j : len - done;
        size_t bad;
        block_mask(seed, offset >> BLOCK_BITS, mask);
        bad = check_piece(tab, j, mask, p + done, n);
        if (bad < n)
            return done + bad;
        done += n;
        offset += n;
    }
    return len;
}
