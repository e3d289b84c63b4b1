/* SPDX-License-Identifier: MIT */
/*
 * services/stats.c - what every service's counter table (services.h,
 * "counter tables") shares: the stop-line text of a table.  The tables
 * themselves, and the value function each reads them with, are in the
 * service's own file (udpguard.c, ntp.c, stamp.c); cli/metrics.c renders
 * them as Prometheus families.
 */
#include "services.h"

#include <stdio.h>
#include <string.h>

const svc_stat_row *svc_stats_find(const svc_stats *d, const char *key)
{
    for (size_t r = 0; r < d->nrows; r++)
        if (strcmp(d->rows[r].key, key) == 0)
            return &d->rows[r];
    return NULL;
}

size_t svc_stats_format(const svc_stats *d, void *obj, uint64_t now_ms, char *buf,
                        size_t size)
{
    size_t len = 0;

    if (size > 0)
        buf[0] = '\0';
    for (size_t r = 0; r < d->nrows; r++) {
        const char *key = d->rows[r].key;
        uint64_t sum = 0;
        int n;

        if (svc_stats_find(d, key) != &d->rows[r])
            continue; /* summed at the key's first row */
        for (size_t k = r; k < d->nrows; k++)
            if (strcmp(d->rows[k].key, key) == 0)
                sum += d->value(obj, d->rows[k].id, now_ms);
        n = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, " %s=%llu",
                     key, (unsigned long long)sum);
        if (n > 0)
            len += (size_t)n;
    }
    return len;
}
