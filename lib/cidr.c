/* SPDX-License-Identifier: MIT */
/*
 * lib/cidr.c - sk_cidr: IPv4 and IPv6 networks as "address/prefix", parsed
 * from text and matched against an sk_addr.  The server framework keeps
 * its PROXY allow-list (sk_server_config.proxy_from) as an array of them.
 *
 * Matching is O(1): at most 16 bytes compared.  An IPv4-mapped IPv6
 * address matches as IPv4, so a dual-stack socket's ::ffff:127.0.0.1 lies
 * in 127.0.0.0/8.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <string.h>

static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Clears the bits of addr[] beyond `prefix`. */
static void cidr_mask(unsigned char *addr, size_t bytes, int prefix)
{
    for (size_t i = 0; i < bytes; i++) {
        int keep = prefix - (int)(i * 8);

        if (keep <= 0)
            addr[i] = 0;
        else if (keep < 8)
            addr[i] &= (unsigned char)(0xffu << (8 - keep));
    }
}

/* True when the first `prefix` bits of a and b agree. */
static bool cidr_prefix_equal(const unsigned char *a, const unsigned char *b, int prefix)
{
    int whole = prefix / 8, rest = prefix % 8;
    unsigned char m;

    if (memcmp(a, b, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    m = (unsigned char)(0xffu << (8 - rest));
    return (a[whole] & m) == (b[whole] & m);
}

int sk_cidr_parse(sk_cidr *out, const char *text)
{
    char host[INET6_ADDRSTRLEN];
    const char *slash = strchr(text, '/');
    size_t hlen = slash != NULL ? (size_t)(slash - text) : strlen(text);
    long prefix = -1;

    memset(out, 0, sizeof(*out));
    if (hlen == 0 || hlen >= sizeof(host))
        return SK_EBADADDR;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, host, out->addr) == 1)
        out->family = AF_INET6;
    else
        return SK_EBADADDR;
    out->prefix = out->family == AF_INET ? 32 : 128;
    if (slash != NULL) {
        const char *p = slash + 1;

        /* 1 to 3 digits, no sign, no leading zero, within the family's width. */
        if (p[0] == '\0' || strlen(p) > 3 || (p[0] == '0' && p[1] != '\0'))
            return SK_EBADADDR;
        prefix = 0;
        for (; *p != '\0'; p++) {
            if (*p < '0' || *p > '9')
                return SK_EBADADDR;
            prefix = prefix * 10 + (*p - '0');
        }
        if (prefix > out->prefix)
            return SK_EBADADDR;
        out->prefix = (int)prefix;
    }
    cidr_mask(out->addr, out->family == AF_INET ? 4 : 16, out->prefix);
    return 0;
}

bool sk_cidr_match(const sk_cidr *net, const sk_addr *a)
{
    unsigned char bytes[16];
    int family = a->len > 0 ? a->u.sa.sa_family : AF_UNSPEC;

    if (family == AF_INET) {
        memcpy(bytes, &a->u.in4.sin_addr, 4);
    } else if (family == AF_INET6) {
        memcpy(bytes, &a->u.in6.sin6_addr, 16);
        if (memcmp(bytes, v4_mapped, sizeof(v4_mapped)) == 0) {
            memmove(bytes, bytes + 12, 4);
            family = AF_INET;
        }
    } else {
        return false;
    }
    /* An IPv4 address against an IPv6 network: as its mapped form. */
    if (family == AF_INET && net->family == AF_INET6) {
        memmove(bytes + 12, bytes, 4);
        memcpy(bytes, v4_mapped, sizeof(v4_mapped));
        family = AF_INET6;
    }
    if (family != net->family)
        return false;
    return cidr_prefix_equal(bytes, net->addr, net->prefix);
}
