/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_bench.c - the measuring and checking parts of `sockit bench`: the
 * latency histogram against known distributions, and the payload streams'
 * verifier against single wrong, missing and extra bytes at every position.
 *
 * Linked with the internal library sockit_cli (cli/bench/).
 */
#include "sk_test.h"

#include "bench.h"

#define BLOCK BENCH_PAYLOAD_BLOCK

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A histogram is large (fixed memory for minutes of range); keep it off the
 * stack. */
static bench_hist *new_hist(void)
{
    bench_hist *h = malloc(sizeof(*h));

    CHECK(h != NULL);
    bench_hist_init(h);
    return h;
}

/* Checks that `got` is within the bucket precision of `want`: one part in
 * 1024 of the value, and exact below 2048. */
static void check_close(uint64_t got, uint64_t want, const char *what)
{
    uint64_t tol = want < BENCH_HIST_SUB_COUNT ? 0 : want / 1024 + 1;
    uint64_t diff = got > want ? got - want : want - got;

    if (diff > tol)
        sk_test_fail(__FILE__, __LINE__, "%s: got %llu, want %llu +- %llu", what,
                     (unsigned long long)got, (unsigned long long)want, (unsigned long long)tol);
}

/* xorshift64*, for reproducible test data. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

static void check_value_in_slot(uint64_t v)
{
    size_t i = bench_hist_index(v);
    uint64_t lo = bench_hist_lowest(i), hi = bench_hist_highest(i);

    CHECK_INT(i, <, BENCH_HIST_SLOTS);
    if (v < lo || v > hi)
        sk_test_fail(__FILE__, __LINE__, "value %llu in slot %zu [%llu, %llu]",
                     (unsigned long long)v, i, (unsigned long long)lo, (unsigned long long)hi);
    /* A slot is never wider than 1/1024 of the values it holds. */
    CHECK_INT(hi - lo + 1, <=, lo < BENCH_HIST_SUB_COUNT ? 1 : lo / 1024);
}

SK_TEST(hist_slots_cover_values)
{
    uint64_t rnd = 42;
    size_t prev = 0;

    for (uint64_t v = 0; v < 70000; v++) {
        size_t i = bench_hist_index(v);
        check_value_in_slot(v);
        CHECK_INT(i, >=, prev); /* slots are ordered like values */
        prev = i;
    }
    for (unsigned bit = 11; bit < BENCH_HIST_MAX_BITS; bit++) {
        uint64_t p = UINT64_C(1) << bit;
        check_value_in_slot(p - 1);
        check_value_in_slot(p);
        check_value_in_slot(p + 1);
        CHECK_EQ(bench_hist_index(p), bench_hist_index(p - 1) + 1);
    }
    for (int k = 0; k < 100000; k++)
        check_value_in_slot(next_random(&rnd) & BENCH_HIST_MAX);
    CHECK_EQ(bench_hist_index(BENCH_HIST_MAX), BENCH_HIST_SLOTS - 1);
    CHECK_EQ(bench_hist_highest(BENCH_HIST_SLOTS - 1), BENCH_HIST_MAX);
}

SK_TEST(hist_small_values_exact)
{
    bench_hist *h = new_hist();

    for (uint64_t v = 1; v <= 100; v++)
        bench_hist_record(h, v);
    CHECK_EQ(bench_hist_percentile(h, 50), 50);
    CHECK_EQ(bench_hist_percentile(h, 90), 90);
    CHECK_EQ(bench_hist_percentile(h, 99), 99);
    CHECK_EQ(bench_hist_percentile(h, 99.9), 100);
    CHECK_EQ(bench_hist_percentile(h, 0), 1);
    CHECK_EQ(bench_hist_percentile(h, 100), 100);
    CHECK_EQ(h->count, 100);
    CHECK(bench_hist_mean(h) == 50.5);
    free(h);
}

SK_TEST(hist_uniform_distribution)
{
    bench_hist *h = new_hist();

    /* One of each value 1..1,000,000 (think: 1 us to 1 s in microseconds).
     * The value at percentile p is p% of a million. */
    for (uint64_t v = 1; v <= 1000000; v++)
        bench_hist_record(h, v);
    check_close(bench_hist_percentile(h, 50), 500000, "p50");
    check_close(bench_hist_percentile(h, 90), 900000, "p90");
    check_close(bench_hist_percentile(h, 99), 990000, "p99");
    check_close(bench_hist_percentile(h, 99.9), 999000, "p99.9");
    CHECK_EQ(bench_hist_percentile(h, 100), 1000000);
    CHECK_EQ(h->min, 1);
    CHECK_EQ(h->max, 1000000);
    CHECK(bench_hist_mean(h) == 500000.5);
    free(h);
}

/* Records n deterministic samples at the quantiles (i + 0.5) / n of a
 * distribution given by its inverse CDF, then checks the percentiles
 * against the inverse CDF within the bucket precision plus the spacing of
 * the samples themselves. */
static void check_distribution(double (*quantile)(double), int n)
{
    static const double ps[] = {50, 90, 99, 99.9};
    bench_hist *h = new_hist();

    for (int i = 0; i < n; i++)
        bench_hist_record(h, (uint64_t)quantile((i + 0.5) / n));
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
        double p = ps[k] / 100.0;
        double want = quantile(p);
        double got = (double)bench_hist_percentile(h, ps[k]);
        double spacing = quantile(p + 1.0 / n) - want;
        double tol = want / 1024 + spacing + 2;
        if (got - want > tol || want - got > tol)
            sk_test_fail(__FILE__, __LINE__, "p%g: got %.0f, want %.0f +- %.0f", ps[k], got,
                         want, tol);
    }
    free(h);
}

/* Pareto-like, the long tail latencies have: 20 us / (1 - u). */
static double pareto_quantile(double u)
{
    return 20000.0 / (1.0 - u);
}

/* Skewed towards small values: 2 ms * u^2. */
static double square_quantile(double u)
{
    return 2e6 * u * u;
}

SK_TEST(hist_long_tail_distribution)
{
    check_distribution(pareto_quantile, 200000);
}

SK_TEST(hist_skewed_distribution)
{
    check_distribution(square_quantile, 200000);
}

SK_TEST(hist_bimodal_distribution)
{
    bench_hist *h = new_hist();

    /* 95% fast (20 us) and 5% slow (3 s): the tail must land on the slow mode. */
    for (int i = 0; i < 9500; i++)
        bench_hist_record(h, 20000);
    for (int i = 0; i < 500; i++)
        bench_hist_record(h, UINT64_C(3000000000));
    check_close(bench_hist_percentile(h, 50), 20000, "p50");
    check_close(bench_hist_percentile(h, 90), 20000, "p90");
    check_close(bench_hist_percentile(h, 95), 20000, "p95");
    check_close(bench_hist_percentile(h, 95.01), 3000000000u, "p95.01");
    check_close(bench_hist_percentile(h, 99), 3000000000u, "p99");
    free(h);
}

SK_TEST(hist_merge_equals_single)
{
    bench_hist *parts[4], *all = new_hist(), *merged = new_hist();
    uint64_t rnd = 7;
    static const double ps[] = {0, 10, 50, 90, 99, 99.9, 99.99, 100};

    for (int k = 0; k < 4; k++)
        parts[k] = new_hist();
    for (int i = 0; i < 400000; i++) {
        uint64_t v = next_random(&rnd) % (i % 100 == 0 ? UINT64_C(60000000000) : 100000);
        bench_hist_record(all, v);
        bench_hist_record(parts[i % 4], v);
    }
    for (int k = 0; k < 4; k++)
        bench_hist_merge(merged, parts[k]);
    CHECK_EQ(merged->count, all->count);
    CHECK_EQ(merged->sum, all->sum);
    CHECK_EQ(merged->min, all->min);
    CHECK_EQ(merged->max, all->max);
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++)
        CHECK_EQ(bench_hist_percentile(merged, ps[k]), bench_hist_percentile(all, ps[k]));
    for (int k = 0; k < 4; k++)
        free(parts[k]);
    free(all);
    free(merged);
}

SK_TEST(hist_percentiles_ordered)
{
    bench_hist *h = new_hist();
    uint64_t rnd = 99, prev = 0;

    for (int i = 0; i < 100000; i++) {
        uint64_t r = next_random(&rnd);
        /* Log-uniform over 1 ns .. 2^40 ns. */
        bench_hist_record(h, (r >> 24) & ((UINT64_C(1) << (r % 40 + 1)) - 1));
    }
    for (double p = 0; p <= 100.0; p += 0.1) {
        uint64_t v = bench_hist_percentile(h, p);
        CHECK_INT(v, >=, prev);
        CHECK_INT(v, >=, h->min);
        CHECK_INT(v, <=, h->max);
        prev = v;
    }
    free(h);
}

SK_TEST(hist_empty_and_clamped)
{
    bench_hist *h = new_hist();

    CHECK_EQ(bench_hist_percentile(h, 50), 0);
    CHECK(bench_hist_mean(h) == 0.0);
    bench_hist_record(h, UINT64_MAX);
    CHECK_EQ(h->max, BENCH_HIST_MAX);
    CHECK_EQ(h->slots[BENCH_HIST_SLOTS - 1], 1);
    CHECK_EQ(bench_hist_percentile(h, 50), BENCH_HIST_MAX);
    free(h);
}

/* ---- payload streams ---------------------------------------------------- */

#define PLEN 300

SK_TEST(payload_fill_matches_bytes)
{
    unsigned char a[PLEN], b[PLEN];
    uint64_t seed = bench_payload_seed(3, 12345);

    for (uint64_t off = 0; off < 40; off++) {
        bench_payload_fill(seed, off, a, PLEN);
        for (size_t i = 0; i < PLEN; i++)
            CHECK_EQ(a[i], bench_payload_byte(seed, off + i));
        CHECK_EQ(bench_payload_check(seed, off, a, PLEN), PLEN);
        /* Filling in two pieces at any split gives the same bytes. */
        for (size_t cut = 0; cut <= 20; cut++) {
            bench_payload_fill(seed, off, b, cut);
            bench_payload_fill(seed, off + cut, b + cut, PLEN - cut);
            CHECK_MEM(a, b, PLEN);
        }
    }
    /* Far offsets work as well (a long stream run). */
    bench_payload_fill(seed, UINT64_C(1) << 40, a, 64);
    CHECK_EQ(bench_payload_check(seed, UINT64_C(1) << 40, a, 64), 64);
    CHECK_EQ(a[5], bench_payload_byte(seed, (UINT64_C(1) << 40) + 5));
}

SK_TEST(payload_neighbours_differ)
{
    uint64_t seed = bench_payload_seed(1, 2);

    for (uint64_t off = 0; off < 100000; off++) {
        uint8_t b = bench_payload_byte(seed, off);
        CHECK_EQ(b & 1, off & 1);
        CHECK(b != bench_payload_byte(seed, off + 1));
    }
}

SK_TEST(payload_streams_distinct)
{
    unsigned char a[4096];
    uint64_t s1 = bench_payload_seed(1, 777), s2 = bench_payload_seed(2, 777);
    size_t same = 0;

    bench_payload_fill(s1, 0, a, sizeof(a));
    /* Another connection's stream, or this one shifted by a word, is wrong
     * from (almost) the first byte. */
    CHECK_INT(bench_payload_check(s2, 0, a, sizeof(a)), <, 4);
    CHECK_INT(bench_payload_check(s1, 8, a, sizeof(a)), <, 4);
    for (size_t i = 0; i < sizeof(a); i++)
        same += a[i] == bench_payload_byte(s2, i);
    CHECK_INT(same, <, sizeof(a) / 32); /* about 1 in 128 by chance */
}

/* Checks detection of every single-byte fault in a stream slice starting at
 * `off` (aligned and unaligned). */
static void check_flips(uint64_t seed, uint64_t off)
{
    static const unsigned char masks[] = {0x01, 0x02, 0x80, 0xff, 0x5a};
    unsigned char buf[PLEN];

    bench_payload_fill(seed, off, buf, PLEN);
    for (size_t i = 0; i < PLEN; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            buf[i] ^= masks[m];
            CHECK_EQ(bench_payload_check(seed, off, buf, PLEN), i);
            buf[i] ^= masks[m];
        }
    }
    CHECK_EQ(bench_payload_check(seed, off, buf, PLEN), PLEN);
}

SK_TEST(payload_detects_flipped_byte)
{
    uint64_t seed = bench_payload_seed(9, 9);

    for (uint64_t off = 0; off < 16; off++)
        check_flips(seed, off);
    check_flips(seed, 999999);
}

/* Checks that a missing byte at every position of a slice starting at `off`
 * is reported at that position: the bytes after it arrive one early. */
static void check_missing(uint64_t seed, uint64_t off)
{
    unsigned char whole[PLEN + 1], got[PLEN];

    bench_payload_fill(seed, off, whole, PLEN + 1);
    for (size_t i = 0; i < PLEN; i++) {
        memcpy(got, whole, i);
        memcpy(got + i, whole + i + 1, PLEN - i);
        CHECK_EQ(bench_payload_check(seed, off, got, PLEN), i);
    }
}

/* Checks an inserted byte at every position of a slice starting at `off`:
 * a foreign byte, a repeat of the previous byte, and a copy of the byte that
 * should be here.  Only the last can pass for one position, and then fails
 * at the next. */
static void check_extra(uint64_t seed, uint64_t off)
{
    unsigned char whole[PLEN], got[PLEN];

    bench_payload_fill(seed, off, whole, PLEN);
    for (size_t i = 0; i < PLEN - 1; i++) {
        unsigned char extra[3] = {0x5a, i ? whole[i - 1] : 0xa5, whole[i]};
        for (int k = 0; k < 3; k++) {
            size_t want = extra[k] == whole[i] ? i + 1 : i;
            memcpy(got, whole, i);
            got[i] = extra[k];
            memcpy(got + i + 1, whole + i, PLEN - i - 1);
            CHECK_EQ(bench_payload_check(seed, off, got, PLEN), want);
        }
    }
}

SK_TEST(payload_detects_missing_byte)
{
    uint64_t seed = bench_payload_seed(5, 1);

    for (uint64_t off = 0; off < 16; off++)
        check_missing(seed, off);
}

SK_TEST(payload_detects_extra_byte)
{
    uint64_t seed = bench_payload_seed(6, 2);

    for (uint64_t off = 0; off < 16; off++)
        check_extra(seed, off);
}

/* ---- the block-table fast path ------------------------------------------ */

/* The span is the stream in place, up to the end of its block, and stays
 * readable (ASan checks the table's bounds) for every start. */
SK_TEST(payload_span_is_the_stream)
{
    uint64_t seed = bench_payload_seed(10, 3);
    static const uint64_t offs[] = {0, 1, 7, 8, 4095, BLOCK - 2, BLOCK - 1,
                                    BLOCK, 5 * BLOCK + 12345,
                                    (UINT64_C(1) << 62) + 3};
    uint64_t rnd = 5;

    for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
        size_t len;
        const unsigned char *p = bench_payload_span(seed, offs[k], &len);
        CHECK_EQ(len, BLOCK - offs[k] % BLOCK);
        for (size_t i = 0; i < len; i += i < 64 || len - i < 64 ? 1 : 997)
            CHECK_EQ(p[i], bench_payload_byte(seed, offs[k] + i));
        CHECK_EQ(p[len - 1], bench_payload_byte(seed, offs[k] + len - 1));
        CHECK_EQ(bench_payload_check(seed, offs[k], p, len), len);
    }
    /* Many seeds and blocks: the window starts cover the table, and the
     * last byte of each span is still the table's. */
    size_t table_len;
    const unsigned char *table = bench_payload_table(&table_len);

    for (int k = 0; k < 20000; k++) {
        size_t len;
        uint64_t off = next_random(&rnd);
        const unsigned char *p = bench_payload_span(next_random(&rnd), off, &len);
        CHECK_INT(len, >=, 1);
        CHECK_INT(len, <=, BLOCK);
        CHECK(p >= table && p + len <= table + table_len);
    }
}

/* Stream offsets where a slice of PLEN bytes crosses a block boundary (the
 * table restarts and the mask changes), at every alignment, plus slices
 * that end or start exactly on one, near the first boundaries and at very
 * large offsets. */
static uint64_t boundary_offset(size_t n)
{
    static const uint64_t blocks[] = {1, 2, 3, UINT64_C(1) << 22, (UINT64_C(1) << 45) - 1};
    static const uint64_t before[] = {PLEN, PLEN / 2, PLEN / 2 - 3, 1, 0};
    size_t per = sizeof(before) / sizeof(before[0]) + 16;
    uint64_t start = blocks[n / per] * BLOCK;

    n %= per;
    if (n < 16)
        return start - 150 - n; /* crossing, every alignment */
    return start - before[n - 16];
}

#define BOUNDARY_OFFSETS (5 * (5 + 16))

/* The byte-at-a-time definition, against which the fast path is checked. */
static void fill_slowly(uint64_t seed, uint64_t off, unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = bench_payload_byte(seed, off + i);
}

SK_TEST(payload_fill_across_block_boundaries)
{
    uint64_t seed = bench_payload_seed(11, 4);
    unsigned char a[PLEN], b[PLEN];

    for (size_t n = 0; n < BOUNDARY_OFFSETS; n++) {
        uint64_t off = boundary_offset(n);
        fill_slowly(seed, off, a, PLEN);
        for (size_t len = 0; len <= PLEN; len += len < 40 ? 1 : 37) {
            memset(b, 0xee, sizeof(b));
            bench_payload_fill(seed, off, b, len);
            CHECK_MEM(a, b, len);
            for (size_t i = len; i < PLEN; i++)
                CHECK_EQ(b[i], 0xee); /* nothing written past len */
            CHECK_EQ(bench_payload_check(seed, off, a, len), len);
        }
    }
}

SK_TEST(payload_faults_across_block_boundaries)
{
    uint64_t seed = bench_payload_seed(12, 5);

    for (size_t n = 0; n < BOUNDARY_OFFSETS; n++) {
        uint64_t off = boundary_offset(n);
        check_flips(seed, off);
        check_missing(seed, off);
        check_extra(seed, off);
    }
}

SK_TEST(payload_neighbours_differ_across_blocks)
{
    uint64_t seed = bench_payload_seed(13, 6);

    for (size_t n = 0; n < BOUNDARY_OFFSETS; n++) {
        uint64_t off = boundary_offset(n);
        for (uint64_t i = off; i < off + PLEN; i++) {
            uint8_t b = bench_payload_byte(seed, i);
            CHECK_EQ(b & 1, i & 1);
            CHECK(b != bench_payload_byte(seed, i + 1));
        }
    }
}

/* Every single flip in long buffers at every buffer address alignment and
 * stream alignment: the 64-byte compare steps, their tails and the byte
 * search inside a step all see faults at every position. */
SK_TEST(payload_long_buffers_unaligned)
{
    enum { LEN = 1000 };
    uint64_t seed = bench_payload_seed(14, 7);
    static unsigned char mem[LEN + 32], ref[LEN];

    for (size_t shift = 0; shift < 16; shift++) {
        for (uint64_t off = 0; off < 16; off += 5) {
            unsigned char *buf = mem + shift;
            fill_slowly(seed, off, ref, LEN);
            bench_payload_fill(seed, off, buf, LEN);
            CHECK_MEM(ref, buf, LEN);
            for (size_t i = 0; i < LEN; i++) {
                buf[i] ^= 0x40;
                CHECK_EQ(bench_payload_check(seed, off, buf, LEN), i);
                /* A second fault later changes nothing: the first is named. */
                buf[LEN - 1] ^= i + 1 < LEN ? 0x04 : 0;
                CHECK_EQ(bench_payload_check(seed, off, buf, LEN), i);
                buf[LEN - 1] ^= i + 1 < LEN ? 0x04 : 0;
                buf[i] ^= 0x40;
            }
            CHECK_EQ(bench_payload_check(seed, off, buf, LEN), LEN);
        }
    }
}

/* A whole-block piece of a stream, and one of several blocks in one call,
 * as the stream driver's 64 KiB writes and 256 KiB reads see them. */
SK_TEST(payload_multi_block_chunks)
{
    uint64_t seed = bench_payload_seed(15, 8);
    size_t len = 3 * BLOCK + 4321;
    unsigned char *a = malloc(len), *b = malloc(len);
    static const uint64_t offs[] = {0, 7, BLOCK - 1, UINT64_C(1) << 50};

    CHECK(a != NULL && b != NULL);
    for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
        fill_slowly(seed, offs[k], a, len);
        bench_payload_fill(seed, offs[k], b, len);
        CHECK_MEM(a, b, len);
        CHECK_EQ(bench_payload_check(seed, offs[k], b, len), len);
        /* A fault in the last block, and one on a block's first byte. */
        b[len - 2] ^= 0x10;
        CHECK_EQ(bench_payload_check(seed, offs[k], b, len), len - 2);
        b[len - 2] ^= 0x10;
        {
            size_t at = (size_t)(BLOCK - offs[k] % BLOCK) + BLOCK;
            b[at] ^= 0x80;
            CHECK_EQ(bench_payload_check(seed, offs[k], b, len), at);
            b[at] ^= 0x80;
        }
    }
    free(a);
    free(b);
}

/* Every block is a window of the same table, so a stream shifted by whole
 * blocks (a server that replays old data) must still be wrong at once: the
 * window's start moves with the block index. */
SK_TEST(payload_detects_whole_block_shift)
{
    uint64_t seed = bench_payload_seed(16, 9);
    unsigned char a[4096];

    for (uint64_t shift = 1; shift <= 4; shift++) {
        for (uint64_t off = 0; off < 3 * BLOCK; off += BLOCK / 2 + 3) {
            size_t same = 0;
            bench_payload_fill(seed, off + shift * BLOCK, a, sizeof(a));
            CHECK_INT(bench_payload_check(seed, off, a, sizeof(a)), <, 8);
            bench_payload_fill(seed, off, a, sizeof(a));
            CHECK_INT(bench_payload_check(seed, off + shift * BLOCK, a, sizeof(a)), <, 8);
            for (size_t i = 0; i < sizeof(a); i++)
                same += a[i] == bench_payload_byte(seed, off + shift * BLOCK + i);
            /* Pseudo-random bytes with the same low bit: 1 in 128 match. */
            CHECK_INT(same, <, sizeof(a) / 32);
        }
    }
}

/* Values spread log-uniformly from 1 us to 60 s (in nanoseconds), each
 * recorded once: the k-th smallest comes back as the percentile of rank k
 * within the stated relative error, and never below its true value. */
SK_TEST(hist_known_values_within_stated_error)
{
    enum { N = 2000 };
    static uint64_t values[N];
    bench_hist *h = new_hist();
    double v = 1000.0;

    /* 1.0091^1999 is about 7e7: from 1 us past 60 s in 0.91% steps. */
    for (int i = 0; i < N; i++, v *= 1.0091)
        values[i] = (uint64_t)v;
    for (int i = 0; i < N; i++)
        bench_hist_record(h, values[i]);
    CHECK(BENCH_HIST_REL_ERROR <= 0.01);
    for (int i = 0; i < N; i++) {
        double p = 100.0 * (i + 0.5) / N; /* rank i + 1 */
        uint64_t got = bench_hist_percentile(h, p);
        double err = ((double)got - (double)values[i]) / (double)values[i];
        if (got < values[i] || err > BENCH_HIST_REL_ERROR)
            sk_test_fail(__FILE__, __LINE__, "value %d: recorded %llu, got back %llu (%.5f)",
                         i, (unsigned long long)values[i], (unsigned long long)got, err);
    }
    CHECK_EQ(h->max, values[N - 1]);
    CHECK_INT(values[N - 1], >=, UINT64_C(60000000000));
    free(h);
}

/* The CSV holds one row per non-empty slot; its counts sum to the number
 * of values, the cumulative fraction rises to exactly 1, and every value
 * (microseconds) is within the relative error of what was recorded. */
SK_TEST(hist_csv_sums_to_count)
{
    bench_hist *h = new_hist();
    FILE *f = tmpfile();
    uint64_t rnd = 5, total = 0;
    double last_frac = 0, value;
    unsigned long long count;
    char line[256];
    int rows = 0;

    CHECK(f != NULL);
    for (int i = 0; i < 50000; i++)
        bench_hist_record(h, 1000 + next_random(&rnd) % UINT64_C(5000000000));
    CHECK_EQ(bench_hist_write_csv(h, f), 0);
    rewind(f);
    CHECK(fgets(line, sizeof(line), f) != NULL);
    CHECK(strcmp(line, "value_us,count,cumulative_fraction\n") == 0);
    while (fgets(line, sizeof(line), f) != NULL) {
        double frac;
        CHECK_INT(sscanf(line, "%lf,%llu,%lf", &value, &count, &frac), ==, 3);
        CHECK_INT(count, >, 0);
        CHECK(frac > last_frac);
        CHECK(value >= 1.0 && value <= 5000001.0);
        total += count;
        last_frac = frac;
        rows++;
    }
    CHECK_EQ(total, h->count);
    CHECK(last_frac == 1.0);
    CHECK_INT(rows, >, 100);
    fclose(f);
    free(h);
}

/* --hdr-log: the V2 compressed encoding, taken apart by hand (base64,
 * the compressed cookie and length, zlib's inflate, the 40-byte header,
 * the ZigZag LEB128 counts with runs of zeros) gives back every count. */
static size_t unbase64(const char *in, unsigned char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;

    for (; *in && *in != '='; in++) {
        acc = acc << 6 | (uint32_t)(strchr(abc, *in) - abc);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;

    while (n-- > 0)
        v = v << 8 | *p++;
    return v;
}

SK_TEST(hdr_encoding_decodes_to_the_counts)
{
    bench_hist *h = new_hist(), *back = new_hist();
    size_t cap = 1 << 20, n, raw_cap = 1 << 20, pos = 40, slot = 0;
    char *text = malloc(cap);
    unsigned char *bin = malloc(cap), *raw = malloc(raw_cap);
    uLongf raw_len = (uLongf)raw_cap;
    uint64_t rnd = 11;
    long len;

    CHECK(text != NULL && bin != NULL && raw != NULL);
    for (int i = 0; i < 20000; i++)
        bench_hist_record(h, 500 + next_random(&rnd) % (i % 50 ? 200000 : UINT64_C(3000000000)));
    bench_hist_record(h, 0);
    len = bench_hdr_encode(h, text, cap);
    CHECK_INT(len, >, 0);
    CHECK_EQ(strlen(text), (size_t)len);
    CHECK(strncmp(text, "HISTFAA", 7) == 0);
    n = unbase64(text, bin);
    CHECK_EQ(be(bin, 4), 0x1c849314u);
    CHECK_EQ(be(bin + 4, 4), n - 8);
    CHECK_INT(uncompress(raw, &raw_len, bin + 8, (uLong)(n - 8)), ==, Z_OK);
    CHECK_EQ(be(raw, 4), 0x1c849313u);
    CHECK_EQ(be(raw + 4, 4), raw_len - 40);
    CHECK_EQ(be(raw + 8, 4), 0);
    CHECK_EQ(be(raw + 12, 4), 3);
    CHECK_EQ(be(raw + 16, 8), 1);
    CHECK_EQ(be(raw + 24, 8), BENCH_HIST_MAX);
    while (pos < raw_len) {
        uint64_t v = 0;
        int64_t value;
        for (int shift = 0; shift < 64; shift += 7) {
            unsigned char b = raw[pos++];
            v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        value = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        if (value < 0) {
            slot += (size_t)-value;
        } else {
            CHECK(slot < BENCH_HIST_SLOTS);
            back->slots[slot++] = (uint64_t)value;
        }
    }
    for (size_t i = 0; i < BENCH_HIST_SLOTS; i++)
        CHECK_EQ(back->slots[i], h->slots[i]);
    free(text);
    free(bin);
    free(raw);
    free(h);
    free(back);
}

/* The --json reader: a result takes its counts and buckets; percentiles
 * from the read histogram are the writer's; a foreign bucket is refused. */
SK_TEST(result_reader_takes_buckets_and_refuses_foreign_ones)
{
    static const char good[] =
        "{\"schema\":\"sockit-bench/3\",\"mode\":\"echo\",\"target\":\"127.0.0.1:7\","
        "\"ops\":4,\"elapsed_ns\":1000,\"start_unix_ns\":5,\"rate\":null,"
        "\"latency_histogram\":{\"unit\":\"ns\",\"sub_bucket_bits\":11,\"max_bits\":42,"
        "\"count\":4,\"sum\":14006,\"min\":3,\"max\":8000,"
        "\"buckets\":[[3,3,1],[2048,2049,2],[7996,7999,0],[8000,8003,1]]},"
        "\"intervals\":[{\"start_s\":0,\"end_s\":1,\"ops\":4,\"p50_us\":2.0,\"p99_us\":null}],"
        "\"first_error\":\"a \\\"quoted\\\" \\u00e9\"}";
    bench_result *r = malloc(sizeof(*r));
    char why[200], *bad;

    CHECK(r != NULL);
    CHECK_INT(bench_result_parse(good, strlen(good), r, why, sizeof(why)), ==, 0);
    CHECK(strcmp(r->mode, "echo") == 0);
    CHECK_EQ(r->s.ops, 4);
    CHECK_EQ(r->elapsed_ns, 1000);
    CHECK(r->has_hist && !r->has_conn_hist);
    CHECK_EQ(r->hist.count, 4);
    CHECK_EQ(bench_hist_percentile(&r->hist, 50), 2049);
    CHECK_EQ(bench_hist_percentile(&r->hist, 99), 8000);
    CHECK_EQ(bench_hist_percentile(&r->hist, 0), 3);
    CHECK_EQ(r->nrows, 1);
    CHECK_EQ(r->rows[0].p50, 2000);
    CHECK(strcmp(r->first_error, "a \"quoted\" \xc3\xa9") == 0);
    bench_result_free(r);

    bad = strdup(good);
    CHECK(bad != NULL);
    memcpy(strstr(bad, "[2048,2049"), "[2047,2049", 10);
    CHECK_INT(bench_result_parse(bad, strlen(bad), r, why, sizeof(why)), ==, -1);
    CHECK(strstr(why, "histogram settings") != NULL);
    bench_result_free(r);
    memcpy(strstr(bad, "[2047,2049"), "[2048,2049", 10);
    memcpy(strstr(bad, "\"count\":4"), "\"count\":5", 9);
    CHECK_INT(bench_result_parse(bad, strlen(bad), r, why, sizeof(why)), ==, -1);
    CHECK(strstr(why, "count says 5") != NULL);
    bench_result_free(r);
    CHECK_INT(bench_result_parse(good, strlen(good) - 1, r, why, sizeof(why)), ==, -1);
    bench_result_free(r);
    free(bad);
    free(r);
}

/* --rate: the schedule of all connections together is evenly spaced at
 * 1/rate, each connection every conns/rate, starting at t_start. */
SK_TEST(pace_schedule_evenly_spaced)
{
    bench_config *cfg = calloc(1, sizeof(*cfg));
    const long conns = 7;
    uint64_t prev = 0;

    CHECK(cfg != NULL);
    cfg->conns = conns;
    cfg->rate = 1000.0; /* 1 ms apart in total, 7 ms per connection */
    cfg->t_start = UINT64_C(5000000000);
    CHECK_EQ(bench_sched(cfg, 0, 0), cfg->t_start);
    for (uint64_t i = 0; i < 7000; i++) {
        uint64_t at = bench_sched(cfg, (long)(i % conns), i / conns);
        uint64_t want = cfg->t_start + i * UINT64_C(1000000);
        CHECK_INT(at + 1, >=, want);
        CHECK_INT(at, <=, want + 1);
        if (i > 0)
            CHECK_INT(at, >, prev);
        prev = at;
    }
    CHECK_EQ(bench_sched(cfg, 3, 10) - bench_sched(cfg, 3, 9), UINT64_C(7000000));
    free(cfg);
}

/* ---- ntp mode ------------------------------------------------------------- */

#include "ntp.h"

/* A server's answer to `req`: mode 4, the request's transmit as origin. */
static void ntp_answer(const unsigned char req[BENCH_NTP_SIZE], unsigned char out[48],
                       unsigned stratum, unsigned leap)
{
    ntp_packet q, r = {0};

    CHECK_EQ(ntp_request_check(&q, req, BENCH_NTP_SIZE), NTP_REQUEST_OK);
    r.leap = leap;
    r.version = q.version;
    r.mode = NTP_MODE_SERVER;
    r.stratum = stratum;
    r.origin = q.transmit;
    r.receive = r.transmit = UINT64_C(0xeb00000012345678);
    ntp_encode(&r, out);
}

SK_TEST(ntp_requests_and_reply_checks)
{
    uint64_t tag = UINT64_C(0xa1b2c3d400000000);
    unsigned char req[BENCH_NTP_SIZE], rep[48];
    uint32_t seq = 0;

    bench_ntp_request(tag, UINT64_C(0x100000007), req);
    ntp_answer(req, rep, 2, 0);
    CHECK(bench_ntp_reply(tag, rep, sizeof(rep), &seq) == NULL);
    CHECK_EQ(seq, 7);
    /* An honest unsynchronised server is a valid reply for a load test. */
    ntp_answer(req, rep, 16, 3);
    CHECK(bench_ntp_reply(tag, rep, sizeof(rep), &seq) == NULL);
    /* Everything else is an error, with the reason. */
    CHECK_STR(bench_ntp_reply(tag, rep, 47, &seq), "reply of 47 bytes, shorter than an NTP header");
    CHECK_STR(bench_ntp_reply(tag ^ (UINT64_C(1) << 40), rep, 48, &seq),
              "reply whose origin is none of our requests");
    CHECK_STR(bench_ntp_reply(tag, req, 48, &seq), "reply of mode 3, not 4");
    ntp_answer(req, rep, 16, 0);
    CHECK_STR(bench_ntp_reply(tag, rep, 48, &seq), "reply of stratum 16");
    ntp_answer(req, rep, 0, 3);
    memcpy(rep + 12, "RATE", 4);
    CHECK_STR(bench_ntp_reply(tag, rep, 48, &seq),
              "kiss-o'-death RATE (rate limiting on? --udp-limit 0)");
    ntp_answer(req, rep, 2, 0);
    memset(rep + 40, 0, 8);
    CHECK_STR(bench_ntp_reply(tag, rep, 48, &seq), "reply with a zero transmit timestamp");
}
