/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_options.c - the sockit command's option-value parsers
 * (cli/opt.c): cli_parse_count, cli_parse_size, cli_parse_duration,
 * cli_parse_rate and cli_parse_port.
 *
 * Input: [ctl][text].  ctl bits 0-1 pick the parser (0 count, 1 size,
 * 2 duration and rate, 3 all of them and port), bits 2-4 the range given to
 * the count and size parsers, bits 5-7 the maximum given to the duration
 * and rate parsers (with zero allowed for odd indexes).
 *
 * Each parser must accept exactly what its reference grammar accepts
 * (digits for counts, sizes and ports; digits with at most one '.' for
 * durations and rates) when the value is representable and in range; an
 * accepted value must lie in range and survive a round trip through
 * snprintf and the same parser; a rejected one must leave the output alone.
 *
 * The parsers print a message for every rejection.  That would drown the
 * fuzzer's own output, so LLVMFuzzerInitialize points the stdio stream
 * `stderr` (not descriptor 2, which ASan and the failure reports use) at
 * /dev/null.
 */
#include "fuzz.h"

#include "opt.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>

static const uint64_t ranges[8][2] = {
    {0, LONG_MAX}, {1, LONG_MAX}, {1, 65535}, {0, 0},
    {5, 5},        {1, 1000000},  {0, 1},     {0, INT_MAX},
};
static const double limits[8] = {1, 1, 86400, 1e9, DBL_MAX, DBL_MAX, 0.25, 3600};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FILE *null = fopen("/dev/null", "w");

    if (null != NULL)
        stderr = null;
    return 0;
}

/* Reference for u64: [0-9]+ whose value fits 64 bits. */
static bool reference_u64(const char *text, uint64_t *out)
{
    uint64_t v = 0;

    if (*text == '\0')
        return false;
    for (const char *p = text; *p; p++) {
        unsigned d = (unsigned)(*p - '0');

        if (*p < '0' || *p > '9' || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static void fuzz_count(const char *text, unsigned range)
{
    uint64_t min = ranges[range][0], max = ranges[range][1], want = 0;
    bool accept = reference_u64(text, &want) && want >= min && want <= max;
    long v = 0x5a5a, back = 0;
    int rc = cli_parse_count("fuzz", text, (long)min, (long)max, &v);
    char again[32];

    if (!accept) {
        FUZZ_ASSERT(rc == -1 && v == 0x5a5a, "cli_parse_count(\"%s\") = %d, %ld", text, rc, v);
        return;
    }
    FUZZ_ASSERT(rc == 0 && (uint64_t)v == want, "cli_parse_count(\"%s\") = %d, %ld", text,
                rc, v);
    snprintf(again, sizeof(again), "%ld", v);
    FUZZ_ASSERT(cli_parse_count("fuzz", again, (long)min, (long)max, &back) == 0 && back == v,
                "\"%s\" does not parse back", again);
}

static void fuzz_size(const char *text, unsigned range)
{
    uint64_t min = ranges[range][0], max = range == 0 ? UINT64_MAX : ranges[range][1];
    uint64_t v = 0x5a5a, want = 0, back = 0;
    bool accept = reference_u64(text, &want) && want >= min && want <= max;
    int rc = cli_parse_size("fuzz", text, min, max, &v);
    char again[32];

    if (!accept) {
        FUZZ_ASSERT(rc == -1 && v == 0x5a5a, "cli_parse_size(\"%s\") = %d, %llu", text, rc,
                    (unsigned long long)v);
        return;
    }
    FUZZ_ASSERT(rc == 0 && v == want, "cli_parse_size(\"%s\") = %d, %llu, expected %llu",
                text, rc, (unsigned long long)v, (unsigned long long)want);
    snprintf(again, sizeof(again), "%llu", (unsigned long long)v);
    FUZZ_ASSERT(cli_parse_size("fuzz", again, min, max, &back) == 0 && back == v,
                "\"%s\" does not parse back", again);
}

static void fuzz_port(const char *text, bool zero_ok)
{
    uint64_t want = 0;
    bool accept = reference_u64(text, &want) && want <= 65535 && (want > 0 || zero_ok);
    int v = 0x5a5a, rc = cli_parse_port("fuzz", text, NULL, zero_ok, &v);

    if (!accept) {
        FUZZ_ASSERT(rc == -1 && v == 0x5a5a, "cli_parse_port(\"%s\") = %d, %d", text, rc, v);
        return;
    }
    FUZZ_ASSERT(rc == 0 && (uint64_t)v == want, "cli_parse_port(\"%s\") = %d, %d", text, rc, v);
}

/* Grammar of seconds: [0-9]+ ( '.' [0-9]* )? | '.' [0-9]+ */
static bool seconds_syntax(const char *text)
{
    size_t int_digits = strspn(text, "0123456789");
    const char *p = text + int_digits;
    size_t frac_digits = 0;

    if (*p == '.') {
        frac_digits = strspn(p + 1, "0123456789");
        p += 1 + frac_digits;
    }
    return *p == '\0' && int_digits + frac_digits > 0;
}

/* One of the two decimal parsers (duration, rate) against the grammar. */
static void fuzz_decimal(const char *text, unsigned limit, bool rate)
{
    double max = limits[limit];
    bool zero_ok = limit & 1;
    double v = -7.0, back = -7.0, want = 0;
    bool representable = false;
    int rc = rate ? cli_parse_rate("fuzz", text, zero_ok, max, &v)
                  : cli_parse_duration("fuzz", text, zero_ok, max, &v);
    char again[64];

    if (seconds_syntax(text)) {
        /* strtod is the reference for the value: decimal conversion is
         * libc's job; the grammar and the limits are the parser's. */
        errno = 0;
        want = strtod(text, NULL);
        representable = errno != ERANGE && isfinite(want);
    }
    if (!representable || want > max || (want == 0 && !zero_ok)) {
        FUZZ_ASSERT(rc == -1 && v == -7.0, "decimal(\"%s\", %g) = %d, %g", text, max, rc, v);
        return;
    }
    FUZZ_ASSERT(rc == 0 && v == want, "decimal(\"%s\", %g) = %d, %g", text, max, rc, v);
    FUZZ_ASSERT(v >= 0 && v <= max && isfinite(v), "value %g outside 0..%g", v, max);
    /* %.17g round-trips a double, but may write an exponent, which the
     * option grammar refuses: only exponent-free text is parsed back. */
    snprintf(again, sizeof(again), "%.17g", v);
    if (strpbrk(again, "e") == NULL) {
        int rc2 = rate ? cli_parse_rate("fuzz", again, zero_ok, max, &back)
                       : cli_parse_duration("fuzz", again, zero_ok, max, &back);
        FUZZ_ASSERT(rc2 == 0 && back == v, "\"%s\" does not parse back to %.17g", again, v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl;
    char *text;

    if (size == 0)
        return 0;
    ctl = data[0];
    text = fuzz_strndup(data + 1, size - 1);
    if ((ctl & 3) == 0 || (ctl & 3) == 3)
        fuzz_count(text, (ctl >> 2) & 7);
    if ((ctl & 3) == 1 || (ctl & 3) == 3)
        fuzz_size(text, (ctl >> 2) & 7);
    if ((ctl & 3) == 2 || (ctl & 3) == 3) {
        fuzz_decimal(text, (ctl >> 5) & 7, false);
        fuzz_decimal(text, (ctl >> 5) & 7, true);
    }
    if ((ctl & 3) == 3)
        fuzz_port(text, ctl & 0x80);
    free(text);
    return 0;
}
