/* SPDX-License-Identifier: MIT */
/*
 * cli/svclist.c - svc_table as the command line shows it, with its TLS
 * twins (see svclist.h).  Each function walks the table once:
 * O(SVC_COUNT).
 */
#include "svclist.h"

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

bool svclist_valid(int slot)
{
    return slot >= 0 && slot < SVCLIST_SLOTS &&
           (!svclist_is_tls(slot) || svc_table[svclist_base(slot)].tcp != NULL);
}

const char *svclist_name(int slot)
{
    /* Each twin's name, made from its service's name on first use (by the
     * main thread, before any worker runs). */
    static char twins[SVC_COUNT][32];
    int i = svclist_base(slot);

    if (!svclist_is_tls(slot))
        return svc_table[i].name;
    if (twins[i][0] == '\0')
        snprintf(twins[i], sizeof(twins[i]), "%s%s", svc_table[i].name, SVCLIST_TLS_SUFFIX);
    return twins[i];
}

int svclist_find(const char *name)
{
    size_t len = strlen(name), sfx = strlen(SVCLIST_TLS_SUFFIX);
    char head[32];
    int i;

    if (len > sfx && len - sfx < sizeof(head) &&
        strcmp(name + len - sfx, SVCLIST_TLS_SUFFIX) == 0) {
        memcpy(head, name, len - sfx);
        head[len - sfx] = '\0';
        i = svc_find(head);
        return i >= 0 && svclist_valid(SVC_COUNT + i) ? SVC_COUNT + i : -1;
    }
    return svc_find(name);
}

void svclist_print(FILE *out, const char *indent)
{
    for (int i = 0; i < SVC_COUNT; i++) {
        const svc_service *s = &svc_table[i];

        fprintf(out, "%s%s %s%s%s %d\n", indent, s->name, s->tcp != NULL ? "tcp" : "",
                s->tcp != NULL && s->udp != NULL ? "," : "", s->udp != NULL ? "udp" : "",
                s->std_port);
    }
    for (int slot = SVC_COUNT; slot < SVCLIST_SLOTS; slot++)
        if (svclist_valid(slot))
            fprintf(out, "%s%s tcp %d\n", indent, svclist_name(slot),
                    svc_table[svclist_base(slot)].std_port);
}

int svclist_max_port(bool tcp_only)
{
    int max = 0;

    for (int i = 0; i < SVC_COUNT; i++)
        if (svc_table[i].std_port > max && (!tcp_only || svc_table[i].tcp != NULL))
            max = svc_table[i].std_port;
    return max;
}
