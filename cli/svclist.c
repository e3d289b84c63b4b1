/* SPDX-License-Identifier: MIT */
/*
 * cli/svclist.c - svc_table as the command line shows it (see svclist.h).
 * Each function walks the table once: O(SVC_COUNT).
 */
#include "svclist.h"

#include "services.h"

#include <string.h>

const char *svclist_names(char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < SVC_COUNT && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", svc_table[i].name);

        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

void svclist_print(FILE *out, const char *indent)
{
    for (int i = 0; i < SVC_COUNT; i++) {
        const svc_service *s = &svc_table[i];

        fprintf(out, "%s%s %s%s%s %d\n", indent, s->name, s->tcp != NULL ? "tcp" : "",
                s->tcp != NULL && s->udp != NULL ? "," : "", s->udp != NULL ? "udp" : "",
                s->std_port);
    }
}

int svclist_max_port(void)
{
    int max = 0;

    for (int i = 0; i < SVC_COUNT; i++)
        if (svc_table[i].std_port > max)
            max = svc_table[i].std_port;
    return max;
}
