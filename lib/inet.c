/* SPDX-License-Identifier: MIT */
/*
 * lib/inet.c - byte order and textual address conversions (the Conversions
 * section of sockit.h).
 *
 * Map: the four byte-order functions; sk_inet_aton, a strict parser of every
 * form inet_aton(3) accepts; sk_inet_ntoa; sk_inet_pton and sk_inet_ntop,
 * thin wrappers that return codes instead of setting errno.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

uint32_t sk_htonl(uint32_t x)
{
    return htonl(x);
}

uint16_t sk_htons(uint16_t x)
{
    return htons(x);
}

uint32_t sk_ntohl(uint32_t x)
{
    return ntohl(x);
}

uint16_t sk_ntohs(uint16_t x)
{
    return ntohs(x);
}

/* Value of hex digit c, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Parses one number of an inet_aton address at *pp in C notation: "0x" or
 * "0X" then hex digits, a leading "0" for octal, else decimal.  Advances *pp
 * past it.  Returns 0, or SK_EBADADDR when there is no digit, an octal part
 * holds 8 or 9, or the value exceeds 32 bits.
 */
static int aton_part(const char **pp, uint32_t *out)
{
    const char *p = *pp;
    unsigned base = 10;
    uint64_t val = 0;
    int digits = 0, d;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0') {
        base = 8;
    }
    for (; (d = hex_value(*p)) >= 0 && (unsigned)d < base; p++, digits++) {
        val = val * base + (unsigned)d;
        if (val > UINT32_MAX)
            return SK_EBADADDR;
    }
    /* A decimal digit that is not an octal one ("09") is junk, not the
     * end of the number: reject it here so the message is the same. */
    if (digits == 0 || (base == 8 && (*p == '8' || *p == '9')))
        return SK_EBADADDR;
    *pp = p;
    *out = (uint32_t)val;
    return 0;
}

/*
 * inet_aton with glibc's forms (a, a.b, a.b.c, a.b.c.d; each part decimal,
 * octal or hex; the last part fills the remaining bytes) but stricter: any
 * trailing character (glibc ignores text after a space) and empty parts are
 * errors.
 */
int sk_inet_aton(const char *text, uint32_t *out)
{
    /* The largest value the last part may take, by number of parts. */
    static const uint32_t last_max[] = {0, 0xffffffffu, 0xffffffu, 0xffffu, 0xffu};
    uint32_t parts[4];
    const char *p = text;
    int n = 0;

    if (text == NULL || out == NULL)
        return SK_EBADADDR;
    for (;;) {
        if (n == 4 || aton_part(&p, &parts[n]) < 0)
            return SK_EBADADDR;
        n++;
        if (*p != '.')
            break;
        p++;
    }
    if (*p != '\0' || parts[n - 1] > last_max[n])
        return SK_EBADADDR;
    uint32_t addr = parts[n - 1];
    for (int i = 0; i < n - 1; i++) {
        if (parts[i] > 0xff)
            return SK_EBADADDR;
        addr |= parts[i] << (24 - 8 * i);
    }
    *out = htonl(addr);
    return 0;
}

int sk_inet_ntoa(uint32_t addr, char *buf, size_t size)
{
    return sk_inet_ntop(AF_INET, &addr, buf, size);
}

int sk_inet_pton(int family, const char *text, void *out)
{
    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (text == NULL || out == NULL || inet_pton(family, text, out) != 1)
        return SK_EBADADDR;
    return 0;
}

int sk_inet_ntop(int family, const void *src, char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN];

    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (inet_ntop(family, src, text, sizeof(text)) == NULL)
        return -EAFNOSUPPORT;
    return sk__put_text(text, strlen(text), buf, size);
}
