/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/hist.c - the latency histogram of `sockit bench`.
 *
 * Layout (HDR-histogram style, see bench.h): slots 0..2047 hold the values
 * 0..2047 exactly.  Above that, values with their highest set bit at
 * position m (m >= 11) are shifted right by b = m - 10 so that 1024 <=
 * v >> b < 2048, and each shift level b gets its own 1024 slots.  A slot at
 * level b therefore covers 2^b consecutive values, which is at most 1/1024
 * of any of them: three significant digits everywhere.
 */
#include "bench.h"

#include <errno.h>
#include <string.h>

void bench_hist_init(bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t bench_hist_index(uint64_t value)
{
    unsigned msb, shift;

    if (value > BENCH_HIST_MAX)
        value = BENCH_HIST_MAX;
    if (value < BENCH_HIST_SUB_COUNT)
        return (size_t)value;
    msb = 63u - (unsigned)__builtin_clzll(value);
    shift = msb - (BENCH_HIST_SUB_BITS - 1);
    return BENCH_HIST_SUB_COUNT + (size_t)(shift - 1) * BENCH_HIST_HALF +
           (size_t)((value >> shift) - BENCH_HIST_HALF);
}

/* The shift level of a slot: 0 for the exact slots. */
static unsigned slot_shift(size_t index)
{
    if (index < BENCH_HIST_SUB_COUNT)
        return 0;
    return (unsigned)((index - BENCH_HIST_SUB_COUNT) / BENCH_HIST_HALF) + 1;
}

uint64_t bench_hist_lowest(size_t index)
{
    unsigned shift = slot_shift(index);
    uint64_t sub;

    if (shift == 0)
        return index;
    sub = (index - BENCH_HIST_SUB_COUNT) % BENCH_HIST_HALF + BENCH_HIST_HALF;
    return sub << shift;
}

uint64_t bench_hist_highest(size_t index)
{
    return bench_hist_lowest(index) + (UINT64_C(1) << slot_shift(index)) - 1;
}

void bench_hist_record(bench_hist *h, uint64_t value)
{
    if (value > BENCH_HIST_MAX)
        value = BENCH_HIST_MAX;
    h->slots[bench_hist_index(value)]++;
    h->count++;
    h->sum += value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void bench_hist_merge(bench_hist *into, const bench_hist *from)
{
    if (from->count == 0)
        return;
    for (size_t i = 0; i < BENCH_HIST_SLOTS; i++)
        into->slots[i] += from->slots[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

/*
 * The rank of percentile p is ceil(p% of count), at least 1; the answer is
 * the top of the slot where the running count reaches it, but never above
 * the largest value seen (so p100 is the true maximum) nor below the
 * smallest (so p0 is the true minimum).
 */
uint64_t bench_hist_percentile(const bench_hist *h, double p)
{
    uint64_t rank, seen = 0;
    double want;

    if (h->count == 0)
        return 0;
    if (p <= 0.0)
        return h->min;
    if (p >= 100.0)
        return h->max;
    want = p / 100.0 * (double)h->count;
    rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    for (size_t i = 0; i < BENCH_HIST_SLOTS; i++) {
        seen += h->slots[i];
        if (seen >= rank) {
            uint64_t v = bench_hist_highest(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double bench_hist_mean(const bench_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

int bench_hist_write_csv(const bench_hist *h, FILE *f)
{
    uint64_t seen = 0;

    fprintf(f, "value_us,count,cumulative_fraction\n");
    for (size_t i = 0; i < BENCH_HIST_SLOTS && seen < h->count; i++) {
        uint64_t v = bench_hist_highest(i);
        if (h->slots[i] == 0)
            continue;
        if (v > h->max)
            v = h->max;
        seen += h->slots[i];
        fprintf(f, "%.3f,%llu,%.9f\n", (double)v / 1e3, (unsigned long long)h->slots[i],
                (double)seen / (double)h->count);
    }
    if (fflush(f) != 0 || ferror(f))
        return -(errno ? errno : EIO);
    return 0;
}
