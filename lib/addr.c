/* SPDX-License-Identifier: MIT */
/*
 * lib/addr.c - sk_addr: building addresses from numeric text, formatting and
 * parsing them, and comparing them.
 *
 * Map: sk_addr_from_ip (IPv4, IPv6 with %scope, "" and "<broadcast>"),
 * sk_addr_from_unix (paths and Linux abstract names), sk_addr_parse (the
 * text sk_addr_format writes), sk_addr_format / sk_addr_format_ip, the port
 * and family accessors, sk_addr_equal.  Nothing here resolves names.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

/* Bytes of sockaddr_un before the path. */
#define UN_PATH_OFFSET offsetof(struct sockaddr_un, sun_path)

/* ---- building -------------------------------------------------------- */

static void set_ipv4(sk_addr *out, uint32_t addr_be, int port)
{
    memset(out, 0, sizeof(*out));
    out->u.in4.sin_family = AF_INET;
    out->u.in4.sin_addr.s_addr = addr_be;
    out->u.in4.sin_port = htons((uint16_t)port);
    out->len = sizeof(struct sockaddr_in);
}

static void set_ipv6(sk_addr *out, const struct in6_addr *addr, uint32_t scope,
                     int port)
{
    memset(out, 0, sizeof(*out));
    out->u.in6.sin6_family = AF_INET6;
    out->u.in6.sin6_addr = *addr;
    out->u.in6.sin6_scope_id = scope;
    out->u.in6.sin6_port = htons((uint16_t)port);
    out->len = sizeof(struct sockaddr_in6);
}

/*
 * The scope after '%': an interface name known to the system, or a decimal
 * index.  Returns 0 with *scope set, or SK_EBADADDR.
 */
static int parse_scope(const char *text, uint32_t *scope)
{
    uint64_t val = 0;
    const char *p;

    if (text[0] == '\0' || strlen(text) >= IF_NAMESIZE)
        return SK_EBADADDR;
    for (p = text; *p >= '0' && *p <= '9'; p++) {
        val = val * 10 + (uint64_t)(*p - '0');
        if (val > UINT32_MAX)
            return SK_EBADADDR;
    }
    if (*p == '\0') {
        *scope = (uint32_t)val;
        return 0;
    }
    *scope = if_nametoindex(text);
    return *scope == 0 ? SK_EBADADDR : 0;
}

/* An IPv6 literal with an optional "%scope". */
static int from_ipv6(sk_addr *out, const char *host, int port)
{
    char text[INET6_ADDRSTRLEN];
    const char *pct = strchr(host, '%');
    size_t len = pct ? (size_t)(pct - host) : strlen(host);
    struct in6_addr addr;
    uint32_t scope = 0;

    if (len >= sizeof(text))
        return SK_EBADADDR;
    memcpy(text, host, len);
    text[len] = '\0';
    if (inet_pton(AF_INET6, text, &addr) != 1)
        return SK_EBADADDR;
    if (pct != NULL && parse_scope(pct + 1, &scope) < 0)
        return SK_EBADADDR;
    set_ipv6(out, &addr, scope, port);
    return 0;
}

/* "" and "<broadcast>" for `family`; returns 1 if host was neither. */
static int from_special(sk_addr *out, const char *host, int port, int family)
{
    if (host[0] == '\0') {
        if (family == AF_INET6)
            set_ipv6(out, &in6addr_any, 0, port);
        else
            set_ipv4(out, htonl(INADDR_ANY), port);
        return 0;
    }
    if (strcmp(host, "<broadcast>") == 0) {
        if (family == AF_INET6)
            return SK_EBADADDR;
        set_ipv4(out, htonl(INADDR_BROADCAST), port);
        return 0;
    }
    return 1;
}

/*
 * The family is inferred from the text (a ':' means IPv6); a family given by
 * the caller must agree.  IPv4 accepts only the strict dotted quad of
 * inet_pton: the shorthand forms are sk_inet_aton's business.
 */
int sk_addr_from_ip(sk_addr *out, const char *host, int port, int family)
{
    struct in_addr addr4;
    int rc;

    if (out == NULL || port < 0 || port > 65535 ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
        return SK_EBADADDR;
    if (host == NULL)
        host = "";
    rc = from_special(out, host, port, family);
    if (rc <= 0)
        return rc;
    if (strchr(host, ':') != NULL)
        return family == AF_INET ? SK_EBADADDR : from_ipv6(out, host, port);
    if (family == AF_INET6 || inet_pton(AF_INET, host, &addr4) != 1)
        return SK_EBADADDR;
    set_ipv4(out, addr4.s_addr, port);
    return 0;
}

/*
 * A path is stored with its NUL and the length counts it, as the kernel
 * reports it back from getsockname.  An abstract name ('@' first) is stored
 * after a leading NUL and its length counts exactly its bytes, because
 * every byte of an abstract name is significant.
 */
int sk_addr_from_unix(sk_addr *out, const char *path)
{
    size_t len;

    if (out == NULL || path == NULL || path[0] == '\0')
        return SK_EBADADDR;
    len = strnlen(path, sizeof(out->u.un.sun_path) + 1);
    memset(out, 0, sizeof(*out));
    out->u.un.sun_family = AF_UNIX;
#ifdef __linux__
    /* The '@' stands for the leading NUL, so an abstract name may use the
     * whole of sun_path. */
    if (path[0] == '@') {
        if (len == 1 || len > sizeof(out->u.un.sun_path))
            return SK_EBADADDR;
        memcpy(out->u.un.sun_path + 1, path + 1, len - 1);
        out->len = (socklen_t)(UN_PATH_OFFSET + len);
        return 0;
    }
#endif
    if (len >= sizeof(out->u.un.sun_path))
        return SK_EBADADDR;
    memcpy(out->u.un.sun_path, path, len + 1);
    out->len = (socklen_t)(UN_PATH_OFFSET + len + 1);
    return 0;
}

/* True when the text names a Unix socket rather than host:port. */
static bool is_unix_text(const char *text)
{
    return text[0] == '@' || strchr(text, '/') != NULL;
}

/*
 * host[:port] text to an address.  A bracketed host must be IPv6; the port,
 * if present, must be a number (service names are sk_getaddrinfo's).
 */
int sk_addr_parse(sk_addr *out, const char *text, int default_port)
{
    char host[SK_ADDRSTRLEN], portbuf[8];
    int port, rc;

    if (out == NULL || text == NULL || text[0] == '\0')
        return SK_EBADADDR;
    if (is_unix_text(text))
        return sk_addr_from_unix(out, text);
    rc = sk_hostport_split(text, host, sizeof(host), portbuf, sizeof(portbuf));
    if (rc < 0)
        return SK_EBADADDR;
    if (portbuf[0] == '\0')
        port = default_port;
    else if (portbuf[0] >= '0' && portbuf[0] <= '9')
        port = sk_port_parse(portbuf, NULL);
    else
        port = SK_EBADADDR;
    if (port < 0)
        return SK_EBADADDR;
    return sk_addr_from_ip(out, host, port, text[0] == '[' ? AF_INET6 : AF_UNSPEC);
}

/* ---- formatting ------------------------------------------------------ */

/* Writes "%scope" for a scoped IPv6 address into buf[size] (or nothing). */
static void format_scope(uint32_t scope, char *buf, size_t size)
{
    char name[IF_NAMESIZE];

    if (scope == 0)
        buf[0] = '\0';
    else if (if_indextoname(scope, name) != NULL)
        snprintf(buf, size, "%%%s", name);
    else
        snprintf(buf, size, "%%%u", (unsigned)scope);
}

/* Writes the IP host text of an INET/INET6 address (scope included) into
 * host[size >= SK_ADDRSTRLEN]. */
static int host_text(const sk_addr *a, char *host, size_t size)
{
    char scope[IF_NAMESIZE + 2];

    if (a->len == 0)
        return -EAFNOSUPPORT;
    if (a->u.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &a->u.in4.sin_addr, host, (socklen_t)size);
        return 0;
    }
    if (a->u.sa.sa_family != AF_INET6)
        return -EAFNOSUPPORT;
    inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, (socklen_t)size);
    format_scope(a->u.in6.sin6_scope_id, scope, sizeof(scope));
    strncat(host, scope, size - strlen(host) - 1);
    return 0;
}

/*
 * A Unix address as text: the path, or '@' and the abstract name.  An
 * unnamed socket (no path at all) formats as "".
 */
static int format_unix(const sk_addr *a, char *buf, size_t size)
{
    const char *path = a->u.un.sun_path;
    size_t n = a->len > UN_PATH_OFFSET ? a->len - UN_PATH_OFFSET : 0;

    if (n > sizeof(a->u.un.sun_path))
        n = sizeof(a->u.un.sun_path);
    if (n > 0 && path[0] == '\0') {
        if (buf == NULL || n >= size)
            return -ENOSPC;
        buf[0] = '@';
        return sk__put_text(path + 1, n - 1, buf + 1, size - 1) < 0 ? -ENOSPC : (int)n;
    }
    return sk__put_text(path, strnlen(path, n), buf, size);
}

int sk_addr_format(const sk_addr *a, char *buf, size_t size)
{
    char host[SK_ADDRSTRLEN], text[SK_ADDRSTRLEN + 8];
    int len;

    if (a == NULL || a->len == 0)
        return -EAFNOSUPPORT;
    if (a->u.sa.sa_family == AF_UNIX)
        return format_unix(a, buf, size);
    if (host_text(a, host, sizeof(host)) < 0)
        return -EAFNOSUPPORT;
    if (a->u.sa.sa_family == AF_INET6)
        len = snprintf(text, sizeof(text), "[%s]:%d", host, sk_addr_port(a));
    else
        len = snprintf(text, sizeof(text), "%s:%d", host, sk_addr_port(a));
    return sk__put_text(text, (size_t)len, buf, size);
}

int sk_addr_format_ip(const sk_addr *a, char *buf, size_t size)
{
    char host[SK_ADDRSTRLEN];

    if (a == NULL || host_text(a, host, sizeof(host)) < 0)
        return -EAFNOSUPPORT;
    return sk__put_text(host, strlen(host), buf, size);
}

/* ---- accessors ------------------------------------------------------- */

int sk_addr_family(const sk_addr *a)
{
    return a == NULL || a->len == 0 ? AF_UNSPEC : a->u.sa.sa_family;
}

int sk_addr_port(const sk_addr *a)
{
    switch (sk_addr_family(a)) {
    case AF_INET:
        return ntohs(a->u.in4.sin_port);
    case AF_INET6:
        return ntohs(a->u.in6.sin6_port);
    default:
        return -EAFNOSUPPORT;
    }
}

int sk_addr_set_port(sk_addr *a, int port)
{
    int family = sk_addr_family(a);

    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (port < 0 || port > 65535)
        return SK_EBADADDR;
    if (family == AF_INET)
        a->u.in4.sin_port = htons((uint16_t)port);
    else
        a->u.in6.sin6_port = htons((uint16_t)port);
    return 0;
}

/*
 * The significant bytes of a Unix address: the path up to its NUL, or the
 * whole abstract name with its leading NUL.  Addresses from the kernel and
 * from sk_addr_from_unix differ in whether the path's NUL is counted; this
 * makes them compare equal.
 */
static size_t unix_name(const sk_addr *a, const char **name)
{
    size_t n = a->len > UN_PATH_OFFSET ? a->len - UN_PATH_OFFSET : 0;

    if (n > sizeof(a->u.un.sun_path))
        n = sizeof(a->u.un.sun_path);
    *name = a->u.un.sun_path;
    if (n > 0 && a->u.un.sun_path[0] != '\0')
        n = strnlen(a->u.un.sun_path, n);
    return n;
}

/* Flow labels are ignored: they do not name an endpoint. */
bool sk_addr_equal(const sk_addr *a, const sk_addr *b)
{
    const char *na, *nb;
    size_t la, lb;
    int family = sk_addr_family(a);

    if (family != sk_addr_family(b))
        return false;
    switch (family) {
    case AF_UNSPEC:
        return true;
    case AF_INET:
        return a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr &&
               a->u.in4.sin_port == b->u.in4.sin_port;
    case AF_INET6:
        return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0 &&
               a->u.in6.sin6_port == b->u.in6.sin6_port &&
               a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id;
    case AF_UNIX:
        la = unix_name(a, &na);
        lb = unix_name(b, &nb);
        return la == lb && memcmp(na, nb, la) == 0;
    default:
        return a->len == b->len && memcmp(&a->u, &b->u, a->len) == 0;
    }
}
