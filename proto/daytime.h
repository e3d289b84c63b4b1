/* SPDX-License-Identifier: MIT */
/*
 * proto/daytime.h - RFC 867 (Daytime): the human-readable date line, in
 * the two layouts sockit serves.
 */
#ifndef SOCKIT_PROTO_DAYTIME_H
#define SOCKIT_PROTO_DAYTIME_H

#include <stddef.h>
#include <stdint.h>

typedef enum daytime_style {
    DAYTIME_CTIME = 0, /* "Sat Nov 21 17:31:49 2026\r\n", UTC */
    DAYTIME_RFC3339    /* "2026-11-21T17:31:49Z\r\n" */
} daytime_style;

/* Room for either line, CR LF and NUL included, for any year of a 64-bit
 * time_t that gmtime_r accepts. */
#define DAYTIME_LINE_MAX 64

/*
 * Writes the daytime line for Unix time `t` (UTC) in `fmt`, CR LF included,
 * into buf[size] (NUL-terminated).  Returns its length, -ENOSPC when it
 * does not fit, or -EOVERFLOW when `t` has no broken-down UTC time.
 */
int daytime_format(int64_t t, daytime_style fmt, char *buf, size_t size);

#endif /* SOCKIT_PROTO_DAYTIME_H */
