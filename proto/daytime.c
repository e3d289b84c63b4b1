/* SPDX-License-Identifier: MIT */
/*
 * proto/daytime.c - the RFC 867 date line (see daytime.h).  Day and month
 * names are spelled out here rather than taken from strftime, so the line
 * never depends on the locale.
 */
#include "daytime.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

static const char daytime_days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char daytime_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int daytime_format(int64_t t, daytime_style fmt, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    int n;

    if (gmtime_r(&tt, &tm) == NULL)
        return -EOVERFLOW;
    if (fmt == DAYTIME_RFC3339)
        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ\r\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    else
        n = snprintf(buf, size, "%s %s %2d %02d:%02d:%02d %d\r\n",
                     daytime_days[tm.tm_wday], daytime_months[tm.tm_mon], tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    return n;
}
