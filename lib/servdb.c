/* SPDX-License-Identifier: MIT */
/*
 * lib/servdb.c - the services database: sk_getservbyname and
 * sk_getservbyport, on the reentrant getservby*_r calls with a buffer
 * doubled on ERANGE (up to SK__LOOKUP_BUF_MAX).
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

/* A getservby*_r query: by name when `name` is set, else by port. */
struct serv_query {
    const char *name;
    int port_be; /* network order, as getservbyport wants it */
    const char *proto;
};

/*
 * Runs the query with a buffer doubled on ERANGE.  On success stores the
 * entry in *res and returns the buffer it points into (the caller frees
 * it); NULL when not found or out of memory.
 */
static char *serv_lookup(const struct serv_query *q, struct servent *se,
                         struct servent **res)
{
    size_t len = 1024;
    char *buf = NULL, *grown;
    int rc;

    for (;;) {
        grown = realloc(buf, len);
        if (grown == NULL)
            break;
        buf = grown;
        *res = NULL;
        if (q->name != NULL)
            rc = getservbyname_r(q->name, q->proto, se, buf, len, res);
        else
            rc = getservbyport_r(q->port_be, q->proto, se, buf, len, res);
        if (rc != ERANGE || len >= SK__LOOKUP_BUF_MAX)
            break;
        len *= 2;
    }
    if (*res == NULL) {
        free(buf);
        return NULL;
    }
    return buf;
}

int sk_getservbyname(const char *name, const char *proto)
{
    struct serv_query q = {.name = name, .proto = proto};
    struct servent se, *res = NULL;
    char *buf;
    int port;

    if (name == NULL || name[0] == '\0')
        return SK_EAI(EAI_SERVICE);
    buf = serv_lookup(&q, &se, &res);
    if (buf == NULL)
        return SK_EAI(EAI_SERVICE);
    port = ntohs((uint16_t)res->s_port);
    free(buf);
    return port;
}

int sk_getservbyport(int port, const char *proto, char *buf, size_t size)
{
    struct serv_query q = {.port_be = htons((uint16_t)port), .proto = proto};
    struct servent se, *res = NULL;
    char *sbuf;
    int rc;

    if (port < 0 || port > 65535)
        return SK_EAI(EAI_SERVICE);
    sbuf = serv_lookup(&q, &se, &res);
    if (sbuf == NULL)
        return SK_EAI(EAI_SERVICE);
    rc = sk__put_text(res->s_name, strlen(res->s_name), buf, size);
    free(sbuf);
    return rc;
}
