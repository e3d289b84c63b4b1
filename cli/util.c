/* SPDX-License-Identifier: MIT */
/*
 * cli/util.c - error printing and option-value parsing shared by the
 * subcommands.  The parsers are strict: the whole text must be a number in
 * range, so "10x", "", " 5" and "-1" (where negatives are not allowed) are
 * rejected with a one-line message.
 */
#include "cli.h"

#include "sockit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void cli_error(const char *what, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sockit: %s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_error_code(const char *what, int code)
{
    cli_error(what, "%s", sk_strerror(code));
}

/* True when text starts with something strtol/strtod would accept as the
 * first digit or sign; rejects leading blanks, which strto* would skip. */
static bool starts_like_number(const char *text)
{
    return text[0] != '\0' && !isspace((unsigned char)text[0]);
}

int cli_parse_long(const char *option, const char *text, long min, long max,
                   long *out)
{
    char *end;
    long v;

    if (!starts_like_number(text)) {
        cli_error(option, "'%s' is not a number", text);
        return -1;
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (*end != '\0') {
        cli_error(option, "'%s' is not a number", text);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        cli_error(option, "'%s' is out of range (%ld..%ld)", text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *option, const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!starts_like_number(text) || text[0] == '-' || text[0] == '+') {
        cli_error(option, "'%s' is not a non-negative number", text);
        return -1;
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (*end != '\0') {
        cli_error(option, "'%s' is not a non-negative number", text);
        return -1;
    }
    if (errno == ERANGE) {
        cli_error(option, "'%s' is too large", text);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_seconds(const char *option, const char *text, double max,
                      double *out)
{
    char *end;
    double v;

    /* Only plain decimals: strtod would also take "inf", "nan" and hex. */
    for (const char *p = text; *p; p++) {
        if (!isdigit((unsigned char)*p) && *p != '.') {
            cli_error(option, "'%s' is not a number of seconds", text);
            return -1;
        }
    }
    errno = 0;
    v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        cli_error(option, "'%s' is not a number of seconds", text);
        return -1;
    }
    if (v > max) {
        cli_error(option, "'%s' is too large (at most %g)", text, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_stamp_key_load(const char *cmd, const char *path, stamp_key *k)
{
    char line[512];
    size_t n = 0;
    FILE *f = fopen(path, "re");
    bool ok = false;

    if (f != NULL) {
        n = fread(line, 1, sizeof(line), f);
        ok = !ferror(f) && n > 0 && stamp_key_parse(k, line, n) == 0;
        fclose(f);
    }
    if (!ok)
        cli_error(cmd, "bad key file '%s' (try 'sockit %s --help')", path, cmd);
    return ok ? 0 : -1;
}
