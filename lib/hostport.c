/* SPDX-License-Identifier: MIT */
/*
 * lib/hostport.c - splitting "host:port" text and parsing ports.
 *
 * Map: sk_hostport_split cuts text into host and port without judging the
 * host (it may be a name); sk_port_parse turns a port number or a service
 * name into a number.  sk_addr_parse (addr.c) builds on both.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* Stores the host part h[0..hlen) and the port part p[0..plen) as strings.
 * Returns 0, or -ENOSPC if a part does not fit its buffer. */
static int put_parts(const char *h, size_t hlen, const char *p, size_t plen,
                     char *host, size_t hostsize, char *port, size_t portsize)
{
    if (sk__put_text(h, hlen, host, hostsize) < 0 ||
        sk__put_text(p, plen, port, portsize) < 0)
        return -ENOSPC;
    return 0;
}

/*
 * True when text[0..len) is an IPv6 literal, optionally with a "%scope"
 * suffix (the scope is checked by whoever uses the address).
 */
static bool is_ipv6_literal(const char *text, size_t len)
{
    const char *pct = memchr(text, '%', len);
    size_t addrlen = pct ? (size_t)(pct - text) : len;
    char tmp[INET6_ADDRSTRLEN];
    unsigned char bin[16];

    if (addrlen >= sizeof(tmp) || (pct && addrlen + 1 == len))
        return false;
    memcpy(tmp, text, addrlen);
    tmp[addrlen] = '\0';
    return inet_pton(AF_INET6, tmp, bin) == 1;
}

/*
 * "[host]" or "[host]:port".  An empty or nested bracket, text after the
 * bracket other than ":port", and an empty port are malformed.
 */
static int split_bracketed(const char *text, char *host, size_t hostsize,
                           char *port, size_t portsize)
{
    const char *close = strchr(text, ']');
    const char *after, *portpart;

    if (close == NULL || close == text + 1 ||
        memchr(text + 1, '[', (size_t)(close - text - 1)) != NULL)
        return SK_EBADADDR;
    after = close + 1;
    if (*after != '\0' && (*after != ':' || after[1] == '\0'))
        return SK_EBADADDR;
    portpart = *after == '\0' ? after : after + 1;
    return put_parts(text + 1, (size_t)(close - text - 1), portpart, strlen(portpart),
                     host, hostsize, port, portsize);
}

/*
 * Splits host and port.  Text with two or more colons outside brackets is
 * taken as a bare IPv6 literal and must be one: that is how "a:b:c" forms
 * ("host:port:extra") are told from an address.
 */
int sk_hostport_split(const char *text, char *host, size_t hostsize, char *port,
                      size_t portsize)
{
    const char *colon;

    if (text == NULL)
        return SK_EBADADDR;
    if (text[0] == '[')
        return split_bracketed(text, host, hostsize, port, portsize);
    if (strchr(text, '[') != NULL || strchr(text, ']') != NULL)
        return SK_EBADADDR;
    colon = strchr(text, ':');
    if (colon == NULL || strchr(colon + 1, ':') != NULL) {
        if (colon != NULL && !is_ipv6_literal(text, strlen(text)))
            return SK_EBADADDR;
        return put_parts(text, strlen(text), "", 0, host, hostsize, port, portsize);
    }
    if (colon[1] == '\0')
        return SK_EBADADDR;
    return put_parts(text, (size_t)(colon - text), colon + 1, strlen(colon + 1),
                     host, hostsize, port, portsize);
}

/*
 * A port number: decimal digits only (no sign, space or other junk), at
 * most 65535.  The value is checked as digits arrive, so no length of input
 * can overflow.
 */
static int parse_port_number(const char *text)
{
    int val = 0;

    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return SK_EBADADDR;
        val = val * 10 + (*p - '0');
        if (val > 65535)
            return SK_EBADADDR;
    }
    return val;
}

/*
 * A port number or, if the text does not start with a digit, a service
 * name looked up for `proto`.  Returns 0..65535 or SK_EBADADDR.
 */
int sk_port_parse(const char *text, const char *proto)
{
    int port;

    if (text == NULL || text[0] == '\0')
        return SK_EBADADDR;
    if (text[0] >= '0' && text[0] <= '9')
        return parse_port_number(text);
    port = sk_getservbyname(text, proto);
    return port < 0 ? SK_EBADADDR : port;
}
