/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_options.c - the sockit command's option-value parsers
 * (cli/util.c): cli_parse_long, cli_parse_u64 and cli_parse_seconds.
 *
 * Input: [ctl][text].  ctl bits 0-1 pick the parser (3: all three), bits
 * 2-4 the range given to cli_parse_long, bits 5-7 the maximum given to
 * cli_parse_seconds.
 *
 * Each parser must accept exactly what its reference grammar accepts
 * ([+-]?digits for long, digits for u64, digits with at most one '.' for
 * seconds) when the value is representable and in range; an accepted value
 * must lie in range and survive a round trip through snprintf and the same
 * parser; a rejected one must leave the output alone.
 *
 * The parsers print a message for every rejection.  That would drown the
 * fuzzer's own output, so LLVMFuzzerInitialize points the stdio stream
 * `stderr` (not descriptor 2, which ASan and the failure reports use) at
 * /dev/null.
 */
#include "fuzz.h"

#include "cli.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>

static const long long_ranges[8][2] = {
    {LONG_MIN, LONG_MAX}, {0, LONG_MAX}, {1, 65535}, {0, 0},
    {-5, 5},              {1, 1000000},  {LONG_MIN, -1}, {0, INT_MAX},
};
static const double second_limits[8] = {0, 1, 86400, 1e9, DBL_MAX, INFINITY, 0.25, 3600};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FILE *null = fopen("/dev/null", "w");

    if (null != NULL)
        stderr = null;
    return 0;
}

/*
 * Reference for an optionally signed decimal: returns true when `text` is
 * [+-]?[0-9]+ and its value fits a long, storing the value.  Sets *syntax
 * when the grammar alone matched.
 */
static bool reference_long(const char *text, long *out, bool *syntax)
{
    const char *p = text;
    bool negative = false;
    unsigned long mag = 0, limit;
    bool overflow = false;

    *syntax = false;
    if (*p == '+' || *p == '-')
        negative = *p++ == '-';
    if (*p == '\0')
        return false;
    limit = negative ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (mag > (limit - (unsigned long)(*p - '0')) / 10)
            overflow = true;
        else
            mag = mag * 10 + (unsigned long)(*p - '0');
    }
    *syntax = true;
    if (overflow)
        return false;
    *out = negative ? (long)(0 - mag) : (long)mag;
    return true;
}

static void fuzz_long(const char *text, unsigned range)
{
    long min = long_ranges[range][0], max = long_ranges[range][1];
    long v = 0x5a5a, want = 0, back = 0;
    bool syntax;
    bool fits = reference_long(text, &want, &syntax);
    bool accept = fits && want >= min && want <= max;
    int rc = cli_parse_long("--opt", text, min, max, &v);
    char again[32];

    FUZZ_ASSERT(rc == 0 || rc == -1, "cli_parse_long(\"%s\") = %d", text, rc);
    if (!accept) {
        FUZZ_ASSERT(rc == -1 && v == 0x5a5a, "cli_parse_long(\"%s\", %ld..%ld) took %ld",
                    text, min, max, v);
        return;
    }
    FUZZ_ASSERT(rc == 0 && v == want, "cli_parse_long(\"%s\", %ld..%ld) = %d, %ld", text,
                min, max, rc, v);
    snprintf(again, sizeof(again), "%ld", v);
    FUZZ_ASSERT(cli_parse_long("--opt", again, min, max, &back) == 0 && back == v,
                "\"%s\" does not parse back to %ld", again, v);
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

static void fuzz_u64_option(const char *text)
{
    uint64_t v = 0x5a5a, want = 0, back = 0;
    bool accept = reference_u64(text, &want);
    int rc = cli_parse_u64("--opt", text, &v);
    char again[32];

    if (!accept) {
        FUZZ_ASSERT(rc == -1 && v == 0x5a5a, "cli_parse_u64(\"%s\") = %d, %llu", text, rc,
                    (unsigned long long)v);
        return;
    }
    FUZZ_ASSERT(rc == 0 && v == want, "cli_parse_u64(\"%s\") = %d, %llu, expected %llu",
                text, rc, (unsigned long long)v, (unsigned long long)want);
    snprintf(again, sizeof(again), "%llu", (unsigned long long)v);
    FUZZ_ASSERT(cli_parse_u64("--opt", again, &back) == 0 && back == v,
                "\"%s\" does not parse back", again);
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

static void fuzz_seconds(const char *text, unsigned limit)
{
    double max = second_limits[limit];
    double v = -7.0, back = -7.0, want = 0;
    bool representable = false;
    int rc = cli_parse_seconds("--opt", text, max, &v);
    char again[64];

    if (seconds_syntax(text)) {
        /* strtod is the reference for the value: decimal conversion is
         * libc's job; the grammar and the limits are the parser's. */
        errno = 0;
        want = strtod(text, NULL);
        representable = errno != ERANGE && isfinite(want);
    }
    if (!representable || want > max) {
        FUZZ_ASSERT(rc == -1 && v == -7.0, "cli_parse_seconds(\"%s\", %g) = %d, %g", text,
                    max, rc, v);
        return;
    }
    FUZZ_ASSERT(rc == 0 && v == want, "cli_parse_seconds(\"%s\", %g) = %d, %g", text, max,
                rc, v);
    FUZZ_ASSERT(v >= 0 && v <= max && isfinite(v), "seconds %g outside 0..%g", v, max);
    /* %.17g round-trips a double, but may write an exponent, which the
     * option grammar refuses: only exponent-free text is parsed back. */
    snprintf(again, sizeof(again), "%.17g", v);
    if (strpbrk(again, "e") == NULL) {
        FUZZ_ASSERT(cli_parse_seconds("--opt", again, max, &back) == 0 && back == v,
                    "\"%s\" does not parse back to %.17g", again, v);
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
        fuzz_long(text, (ctl >> 2) & 7);
    if ((ctl & 3) == 1 || (ctl & 3) == 3)
        fuzz_u64_option(text);
    if ((ctl & 3) == 2 || (ctl & 3) == 3)
        fuzz_seconds(text, (ctl >> 5) & 7);
    free(text);
    return 0;
}
