/* SPDX-License-Identifier: MIT */
/*
 * lib/netdb.c - the classic netdb host lookups: host entries and the local
 * host's name.  The service lookups are in servdb.c.
 *
 * Map:
 *  - sk_gethostbyname_ex / sk_gethostbyaddr: the reentrant _r calls with a
 *    buffer grown on ERANGE, packed into one sk_hostent allocation; h_errno
 *    is mapped onto SK_EAI codes.
 *  - sk_gethostname, sk_getfqdn (CPython's algorithm), sk_gethostbyname
 *    (on sk_getaddrinfo, as CPython does).
 */
#define _GNU_SOURCE /* EAI_NODATA */

#include "internal.h"
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* ====================================================================== */
/* Host entries                                                           */
/* ====================================================================== */

/* Our code for a gethostby*_r failure: h_errno mapped onto EAI codes
 * (declared in resolve.h, where the tests reach it). */
int sk__herrno_code(int herr, int rc)
{
    switch (herr) {
    case HOST_NOT_FOUND:
        return SK_EAI(EAI_NONAME);
    case TRY_AGAIN:
        return SK_EAI(EAI_AGAIN);
    case NO_RECOVERY:
        return SK_EAI(EAI_FAIL);
    case NO_DATA:
#ifdef EAI_NODATA
        return SK_EAI(EAI_NODATA);
#else
        return SK_EAI(EAI_NONAME);
#endif
    case NETDB_INTERNAL:
        return rc > 0 ? -rc : SK_EAI(EAI_FAIL);
    default:
        return SK_EAI(EAI_FAIL);
    }
}

/* Length of a NULL-terminated string array. */
static size_t count_strings(char *const *v)
{
    size_t n = 0;

    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

/*
 * Packs a hostent into one allocation: the sk_hostent, then its two pointer
 * arrays, then the strings.  Freed by one free().
 */
static int hostent_pack(const struct hostent *he, sk_hostent **out)
{
    size_t naliases = count_strings(he->h_aliases);
    size_t naddrs = count_strings(he->h_addr_list);
    size_t bytes = sizeof(sk_hostent) + (naliases + naddrs + 2) * sizeof(char *) +
                   strlen(he->h_name) + 1 + naddrs * INET6_ADDRSTRLEN;
    sk_hostent *h;
    char *p;

    for (size_t i = 0; i < naliases; i++)
        bytes += strlen(he->h_aliases[i]) + 1;
    h = malloc(bytes);
    if (h == NULL)
        return -ENOMEM;
    h->aliases = (char **)(h + 1);
    h->addrs = h->aliases + naliases + 1;
    p = (char *)(h->addrs + naddrs + 1);
    h->name = p;
    p = stpcpy(p, he->h_name) + 1;
    for (size_t i = 0; i < naliases; i++) {
        h->aliases[i] = p;
        p = stpcpy(p, he->h_aliases[i]) + 1;
    }
    h->aliases[naliases] = NULL;
    for (size_t i = 0; i < naddrs; i++) {
        h->addrs[i] = p;
        if (inet_ntop(he->h_addrtype, he->h_addr_list[i], p, INET6_ADDRSTRLEN) == NULL)
            p[0] = '\0';
        p += strlen(p) + 1;
    }
    h->addrs[naddrs] = NULL;
    *out = h;
    return 0;
}

/* A gethostby*_r query: by name when `name` is set, else by address. */
struct host_query {
    const char *name;
    const void *addr;
    socklen_t addrlen;
    int family;
};

static int host_query_run(const struct host_query *q, struct hostent *he, char *buf,
                          size_t len, struct hostent **res, int *herr)
{
    if (q->name != NULL)
        return gethostbyname2_r(q->name, q->family, he, buf, len, res, herr);
    return gethostbyaddr_r(q->addr, q->addrlen, q->family, he, buf, len, res, herr);
}

/* Runs the query with a buffer doubled on ERANGE and packs the answer. */
static int host_lookup(const struct host_query *q, sk_hostent **out)
{
    struct hostent he, *res = NULL;
    size_t len = 1024;
    char *buf = NULL, *grown;
    int rc, herr = 0;

    for (;;) {
        grown = realloc(buf, len);
        if (grown == NULL) {
            rc = -ENOMEM;
            goto done;
        }
        buf = grown;
        rc = host_query_run(q, &he, buf, len, &res, &herr);
        if (rc != ERANGE || len >= SK__LOOKUP_BUF_MAX)
            break;
        len *= 2;
    }
    if (res == NULL)
        rc = rc == ERANGE ? -ERANGE : sk__herrno_code(herr, rc);
    else
        rc = hostent_pack(res, out);
done:
    free(buf);
    return rc;
}

int sk_gethostbyname_ex(const char *name, sk_hostent **out)
{
    struct host_query q = {.name = name, .family = AF_INET};

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (name == NULL)
        return SK_EAI(EAI_NONAME);
    return host_lookup(&q, out);
}

/* The reverse lookup of an INET/INET6 address. */
static int hostent_by_addr(const sk_addr *a, sk_hostent **out)
{
    struct host_query q = {.family = sk_addr_family(a)};

    if (q.family == AF_INET) {
        q.addr = &a->u.in4.sin_addr;
        q.addrlen = sizeof(a->u.in4.sin_addr);
    } else {
        q.addr = &a->u.in6.sin6_addr;
        q.addrlen = sizeof(a->u.in6.sin6_addr);
    }
    return host_lookup(&q, out);
}

int sk_gethostbyaddr(const char *ip, sk_hostent **out)
{
    sk_addr a;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (ip == NULL || ip[0] == '\0' || sk_addr_from_ip(&a, ip, 0, AF_UNSPEC) < 0)
        return SK_EBADADDR;
    return hostent_by_addr(&a, out);
}

void sk_hostent_free(sk_hostent *h)
{
    free(h);
}

/* ====================================================================== */
/* The local host                                                         */
/* ====================================================================== */

/* Copies a string into buf[size]; returns its length or -ENOSPC. */
static int copy_out(const char *text, char *buf, size_t size)
{
    return sk__put_text(text, strlen(text), buf, size);
}

int sk_gethostname(char *buf, size_t size)
{
    char name[HOST_NAME_MAX + 1];

    if (gethostname(name, sizeof(name)) < 0)
        return -errno;
    name[sizeof(name) - 1] = '\0';
    return copy_out(name, buf, size);
}

/* The first name with a dot among h's name and aliases, else its name. */
static const char *fqdn_pick(const sk_hostent *h)
{
    if (strchr(h->name, '.') != NULL)
        return h->name;
    for (char **a = h->aliases; *a != NULL; a++)
        if (strchr(*a, '.') != NULL)
            return *a;
    return h->name;
}

/* The reverse entry of `name`'s first address (name resolved as needed). */
static int fqdn_lookup(const char *name, sk_hostent **out)
{
    sk_addrinfo *list;
    int rc = sk_getaddrinfo(name, NULL, AF_UNSPEC, SOCK_STREAM, 0, 0,
                            SK_TIMEOUT_NONE, &list);

    if (rc < 0)
        return rc;
    rc = hostent_by_addr(&list->addr, out);
    sk_addrinfo_free(list);
    return rc;
}

/*
 * CPython's getfqdn: surrounding white space is ignored; "", "0.0.0.0" and
 * "::" mean the local host.  Any resolver failure leaves the name itself as
 * the answer.
 */
int sk_getfqdn(const char *name, char *buf, size_t size)
{
    char host[NI_MAXHOST];
    const char *end;
    sk_hostent *h = NULL;
    int rc;

    if (name == NULL)
        name = "";
    name += strspn(name, " \t\r\n\f\v");
    for (end = name + strlen(name); end > name && strchr(" \t\r\n\f\v", end[-1]); end--)
        ;
    if ((size_t)(end - name) >= sizeof(host))
        return -ENOSPC;
    memcpy(host, name, (size_t)(end - name));
    host[end - name] = '\0';
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        rc = sk_gethostname(host, sizeof(host));
        if (rc < 0)
            return rc;
    }
    if (fqdn_lookup(host, &h) < 0)
        return copy_out(host, buf, size);
    rc = copy_out(fqdn_pick(h), buf, size);
    sk_hostent_free(h);
    return rc;
}

/* CPython's gethostbyname: the first IPv4 address, as text. */
int sk_gethostbyname(const char *name, char *buf, size_t size)
{
    char text[INET_ADDRSTRLEN];
    sk_addrinfo *list;
    int rc = sk_getaddrinfo(name, NULL, AF_INET, SOCK_STREAM, 0, 0, SK_TIMEOUT_NONE,
                            &list);

    if (rc < 0)
        return rc;
    rc = sk_addr_format_ip(&list->addr, text, sizeof(text));
    sk_addrinfo_free(list);
    return rc < 0 ? rc : copy_out(text, buf, size);
}
