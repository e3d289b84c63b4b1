/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_bench_result.c - the reader of `sockit bench --json`
 * results (cli/bench/result.c), which `bench merge` and `bench plot` run on
 * files they are given.
 *
 * Input: the text of a result, as it is (a buffer of exactly its length,
 * so ASan catches any read past it).
 *
 * Properties: the reader returns 0 or -1 (never -2 here: memory is there),
 * with a NUL-ended reason exactly when it fails; it is deterministic (a
 * second parse gives the same histograms and counts); an accepted result
 * has the current schema and a mode, and histograms bench itself could
 * have written: the slots add up to the count, min and max lie in the first
 * and last non-empty slots, so every percentile lies in [min, max] and
 * rises with p; interval rows are within what the reader allocated; and
 * no strict prefix of an accepted text that cuts its closing brace off is
 * accepted.
 */
#include "fuzz.h"

#include "bench.h"

static bench_result a, b;

static void check_hist(const bench_hist *h)
{
    uint64_t total = 0, last = 0;
    size_t lo = BENCH_HIST_SLOTS, hi = 0;
    static const double ps[] = {0, 1, 50, 90, 99, 99.9, 99.99, 99.999, 100};

    for (size_t i = 0; i < BENCH_HIST_SLOTS; i++) {
        total += h->slots[i];
        if (h->slots[i] != 0) {
            lo = lo < i ? lo : i;
            hi = i;
        }
    }
    FUZZ_ASSERT(total == h->count, "slots hold %llu, count %llu", (unsigned long long)total,
                (unsigned long long)h->count);
    if (h->count == 0)
        return;
    FUZZ_ASSERT(bench_hist_index(h->min) == lo && bench_hist_index(h->max) == hi,
                "min %llu / max %llu outside slots %zu..%zu", (unsigned long long)h->min,
                (unsigned long long)h->max, lo, hi);
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        uint64_t v = bench_hist_percentile(h, ps[i]);
        FUZZ_ASSERT(v >= h->min && v <= h->max && v >= last, "p%g = %llu out of order", ps[i],
                    (unsigned long long)v);
        last = v;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = (char *)fuzz_memdup(data, size);
    char why[128], why2[128];
    int rc = bench_result_parse(text, size, &a, why, sizeof(why));
    int rc2 = bench_result_parse(text, size, &b, why2, sizeof(why2));

    FUZZ_ASSERT(rc == 0 || rc == -1, "parse returned %d", rc);
    FUZZ_ASSERT(rc == rc2, "parses disagree: %d then %d", rc, rc2);
    FUZZ_ASSERT(memchr(why, '\0', sizeof(why)) != NULL, "reason not NUL-ended");
    FUZZ_ASSERT((rc == 0) == (why[0] == '\0'), "rc %d with reason '%s'", rc, why);
    if (rc == 0) {
        size_t end = size;
        FUZZ_ASSERT(strcmp(a.schema, BENCH_JSON_SCHEMA) == 0 && a.mode[0] != '\0',
                    "accepted schema '%s' mode '%s'", a.schema, a.mode);
        FUZZ_ASSERT(memcmp(&a.hist, &b.hist, sizeof(a.hist)) == 0 &&
                        memcmp(&a.conn_hist, &b.conn_hist, sizeof(a.conn_hist)) == 0 &&
                        memcmp(&a.s, &b.s, sizeof(a.s)) == 0 && a.nrows == b.nrows,
                    "two parses of one text differ");
        FUZZ_ASSERT(a.nrows <= a.cap, "%zu rows in room for %zu", a.nrows, a.cap);
        check_hist(&a.hist);
        check_hist(&a.conn_hist);
        while (end > 0 && text[end - 1] != '}')
            end--;
        FUZZ_ASSERT(end > 0, "accepted a text without a closing brace");
        bench_result_free(&b);
        FUZZ_ASSERT(bench_result_parse(text, end - 1, &b, why2, sizeof(why2)) == -1,
                    "accepted the text without its last brace");
    }
    bench_result_free(&a);
    bench_result_free(&b);
    free(text);
    return 0;
}
