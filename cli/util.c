/* SPDX-License-Identifier: MIT */
/*
 * cli/util.c - the run-time error lines every subcommand prints
 * ("sockit: what: why").  Usage errors and option values: cli/opt.c.
 */
#include "cli.h"

#include "sockit.h"

#include <stdarg.h>
#include <stdio.h>

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
