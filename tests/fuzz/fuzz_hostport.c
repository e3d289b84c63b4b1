/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_hostport.c - sk_hostport_split and sk_port_parse.
 *
 * Input: one control byte, then the text.  Control bits 0-2 pick the host
 * buffer size and bits 3-5 the port buffer size for a second, small-buffer
 * split; bit 6 allows a service-name lookup (NSS reads /etc/services on
 * every call, so only one input in two pays for it); bit 7 picks the
 * protocol for that lookup.
 *
 * Properties:
 *  - with buffers as large as the text, the split returns 0 or SK_EBADADDR,
 *    and on success the parts put back together give the text again
 *    (host:port, [host]:port, [host] or host), the port is non-empty after
 *    a ':', and a host with a ':' outside brackets is an IPv6 literal;
 *  - with small buffers (each allocated at exactly its size) the split
 *    writes nothing out of bounds, NUL-terminates what it writes, gives the
 *    same parts when they fit and -ENOSPC when one does not;
 *  - sk_port_parse takes exactly the all-digit texts up to 65535, and a
 *    service name exactly when getservbyname(3) knows it, with its port.
 */
#include "fuzz.h"

#include "sockit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>

static const size_t small_sizes[8] = {0, 1, 2, 3, 5, 8, 16, 46};
static const char *const protos[2] = {NULL, "udp"};

/* Reference: a port number is 1+ decimal digits worth at most 65535. */
static int reference_port_number(const char *text)
{
    long val = 0;

    if (text[0] == '\0')
        return SK_EBADADDR;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return SK_EBADADDR;
        val = val * 10 + (*p - '0');
        if (val > 65535)
            return SK_EBADADDR;
    }
    return (int)val;
}

static void check_port_number(const char *text)
{
    int got = sk_port_parse(text, NULL);
    int want = reference_port_number(text);

    FUZZ_ASSERT(got == want, "port_parse(\"%s\") = %d, expected %d", text, got, want);
}

/* A service name is looked up; libc's getservbyname is the oracle. */
static void check_service_name(const char *text, const char *proto)
{
    int got = sk_port_parse(text, proto);
    struct servent *se = getservbyname(text, proto);

    if (se == NULL) {
        FUZZ_ASSERT(got == SK_EBADADDR, "port_parse(\"%s\", %s) = %d, libc knows none",
                    text, proto ? proto : "any", got);
        return;
    }
    FUZZ_ASSERT(got == ntohs((uint16_t)se->s_port), "port_parse(\"%s\", %s) = %d, libc %d",
                text, proto ? proto : "any", got, ntohs((uint16_t)se->s_port));
}

/* True when `text` equals the concatenation of the given pieces. */
static bool text_is(const char *text, const char *a, const char *b, const char *c,
                    const char *d)
{
    const char *parts[4] = {a, b, c, d};

    for (int i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]);

        if (strncmp(text, parts[i], n) != 0)
            return false;
        text += n;
    }
    return *text == '\0';
}

/* True when `host` (with an optional %scope) is an IPv6 literal. */
static bool is_ipv6(const char *host)
{
    char tmp[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    size_t n = strcspn(host, "%");

    if (n >= sizeof(tmp) || (host[n] == '%' && host[n + 1] == '\0'))
        return false;
    memcpy(tmp, host, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET6, tmp, bin) == 1;
}

/* The parts of a successful split give the text back. */
static void check_parts(const char *text, const char *host, const char *port)
{
    if (text[0] == '[') {
        FUZZ_ASSERT(host[0] != '\0' && strchr(host, '[') == NULL &&
                        strchr(host, ']') == NULL,
                    "split(\"%s\"): bracketed host \"%s\"", text, host);
        if (port[0] == '\0')
            FUZZ_ASSERT(text_is(text, "[", host, "]", ""), "split(\"%s\"): [%s]", text,
                        host);
        else
            FUZZ_ASSERT(text_is(text, "[", host, "]:", port), "split(\"%s\"): [%s]:%s",
                        text, host, port);
        return;
    }
    FUZZ_ASSERT(strpbrk(text, "[]") == NULL, "split(\"%s\") accepted a bracket", text);
    if (port[0] == '\0') {
        FUZZ_ASSERT(strcmp(text, host) == 0, "split(\"%s\"): host \"%s\"", text, host);
        FUZZ_ASSERT(strchr(host, ':') == NULL || is_ipv6(host),
                    "split(\"%s\"): host with ':' is not IPv6", text);
    } else {
        FUZZ_ASSERT(strchr(host, ':') == NULL, "split(\"%s\"): host \"%s\" has ':'",
                    text, host);
        FUZZ_ASSERT(text_is(text, host, ":", port, ""), "split(\"%s\"): %s:%s", text,
                    host, port);
    }
}

/*
 * Splits again into buffers of exactly hsize and psize bytes (a zero size
 * gets a one-byte block whose content must stay untouched).
 */
static void check_small_split(const char *text, int big_rc, const char *host,
                              const char *port, size_t hsize, size_t psize)
{
    char *h = fuzz_alloc(hsize), *p = fuzz_alloc(psize);
    int rc;

    if (hsize == 0)
        h[0] = 'H';
    if (psize == 0)
        p[0] = 'P';
    rc = sk_hostport_split(text, h, hsize, p, psize);
    FUZZ_ASSERT(hsize > 0 || h[0] == 'H', "split(\"%s\") wrote into a 0-byte host", text);
    FUZZ_ASSERT(psize > 0 || p[0] == 'P', "split(\"%s\") wrote into a 0-byte port", text);
    if (big_rc != 0) {
        FUZZ_ASSERT(rc == SK_EBADADDR || rc == -ENOSPC,
                    "split(\"%s\") small buffers: %d, large: %d", text, rc, big_rc);
    } else if (strlen(host) < hsize && strlen(port) < psize) {
        FUZZ_ASSERT(rc == 0, "split(\"%s\") into %zu/%zu bytes failed: %d", text, hsize,
                    psize, rc);
        FUZZ_ASSERT(strcmp(h, host) == 0 && strcmp(p, port) == 0,
                    "split(\"%s\"): \"%s\"/\"%s\" vs \"%s\"/\"%s\"", text, h, p, host,
                    port);
    } else {
        FUZZ_ASSERT(rc == -ENOSPC, "split(\"%s\") into %zu/%zu bytes: %d (parts %zu/%zu)",
                    text, hsize, psize, rc, strlen(host), strlen(port));
    }
    free(h);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl;
    char *text, *host, *port;
    int rc;

    if (size == 0)
        return 0;
    ctl = data[0];
    text = fuzz_strndup(data + 1, size - 1);
    host = fuzz_alloc(size);
    port = fuzz_alloc(size);

    rc = sk_hostport_split(text, host, size, port, size);
    FUZZ_ASSERT(rc == 0 || rc == SK_EBADADDR, "split(\"%s\") = %d", text, rc);
    if (rc == 0)
        check_parts(text, host, port);
    check_small_split(text, rc, host, port, small_sizes[ctl & 7],
                      small_sizes[(ctl >> 3) & 7]);

    if (text[0] >= '0' && text[0] <= '9')
        check_port_number(text);
    if (rc == 0 && port[0] >= '0' && port[0] <= '9')
        check_port_number(port);
    else if (rc == 0 && port[0] != '\0' && (ctl & 0x40) && strlen(port) <= 32)
        check_service_name(port, protos[ctl >> 7]);

    free(port);
    free(host);
    free(text);
    return 0;
}
