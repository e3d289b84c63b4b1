/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_addr.c - sk_addr_parse, sk_addr_from_ip and sk_addr_format.
 *
 * Input: one control byte, then the text.  The control byte picks the
 * port and family handed to the parsers (low 3 bits: the port, including
 * out-of-range ones; next 2 bits: the family).  Properties checked:
 *  - a parser either succeeds or returns exactly SK_EBADADDR;
 *  - a parsed address has a supported family and the length that family
 *    implies, and the port it was given (or the one in the text);
 *  - sk_addr_format writes what it says it wrote, fails with -ENOSPC when
 *    the buffer is one byte short, and its text parses back to an equal
 *    address (sk_addr_equal), as does sk_addr_format_ip's host text.
 */
#include "fuzz.h"

#include "sockit.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sys/un.h>

static const int ports[8] = {-1, 0, 7, 80, 65535, 65536, INT_MAX, INT_MIN};
static const int families[4] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX};

/* Formats `a`, checks the length and the one-byte-short case, and checks
 * that the text parses back to an equal address. */
static void check_format_round_trip(const sk_addr *a, const char *what)
{
    char buf[256], reparsed_text[256];
    sk_addr back;
    int len, rc;

    len = sk_addr_format(a, buf, sizeof(buf));
    FUZZ_ASSERT(len >= 0, "%s: format failed: %d", what, len);
    FUZZ_ASSERT((size_t)len == strlen(buf), "%s: format said %d, wrote \"%s\"",
                what, len, buf);
    if (sk_addr_family(a) != AF_UNIX)
        FUZZ_ASSERT(len < SK_ADDRSTRLEN, "%s: \"%s\" exceeds SK_ADDRSTRLEN", what, buf);

    /* Exactly enough room works; one byte less is -ENOSPC. */
    char *exact = fuzz_alloc((size_t)len + 1);
    rc = sk_addr_format(a, exact, (size_t)len + 1);
    FUZZ_ASSERT(rc == len && strcmp(exact, buf) == 0,
                "%s: exact-size format gave %d", what, rc);
    rc = sk_addr_format(a, exact, (size_t)len);
    FUZZ_ASSERT(rc == -ENOSPC, "%s: short format of \"%s\" gave %d", what, buf, rc);
    free(exact);

    rc = sk_addr_parse(&back, buf, -1);
    FUZZ_ASSERT(rc == 0, "%s: formatted text \"%s\" does not parse: %d", what, buf, rc);
    if (!sk_addr_equal(a, &back)) {
        sk_addr_format(&back, reparsed_text, sizeof(reparsed_text));
        FUZZ_FAIL("%s: \"%s\" parses back as a different address \"%s\"", what,
                  buf, reparsed_text);
    }
    FUZZ_ASSERT(a->len == back.len, "%s: \"%s\" length %u, re-parsed %u", what, buf,
                (unsigned)a->len, (unsigned)back.len);
}

/* The host text of an IP address, fed back through sk_addr_from_ip with
 * the same port, gives the same address. */
static void check_format_ip(const sk_addr *a)
{
    char host[SK_ADDRSTRLEN];
    sk_addr back;
    int len, rc;

    len = sk_addr_format_ip(a, host, sizeof(host));
    FUZZ_ASSERT(len >= 0 && (size_t)len == strlen(host), "format_ip gave %d", len);
    rc = sk_addr_from_ip(&back, host, sk_addr_port(a), sk_addr_family(a));
    FUZZ_ASSERT(rc == 0, "host text \"%s\" is rejected by from_ip: %d", host, rc);
    FUZZ_ASSERT(sk_addr_equal(a, &back), "host text \"%s\" gives another address", host);
}

/* Length a parsed address of each family must have. */
static void check_shape(const sk_addr *a, const char *text, const char *what)
{
    int family = sk_addr_family(a);

    switch (family) {
    case AF_INET:
        FUZZ_ASSERT(a->len == sizeof(struct sockaddr_in), "%s(\"%s\"): len %u", what,
                    text, (unsigned)a->len);
        break;
    case AF_INET6:
        FUZZ_ASSERT(a->len == sizeof(struct sockaddr_in6), "%s(\"%s\"): len %u", what,
                    text, (unsigned)a->len);
        break;
    case AF_UNIX:
        FUZZ_ASSERT(a->len > offsetof(struct sockaddr_un, sun_path) &&
                        a->len <= sizeof(struct sockaddr_un),
                    "%s(\"%s\"): unix len %u", what, text, (unsigned)a->len);
        break;
    default:
        FUZZ_FAIL("%s(\"%s\"): family %d", what, text, family);
    }
}

/* True when host:port text carries its own port, as sk_hostport_split
 * (the splitter sk_addr_parse uses) sees it. */
static bool has_port_text(const char *text)
{
    char host[256], port[256];

    if (sk_hostport_split(text, host, sizeof(host), port, sizeof(port)) < 0)
        FUZZ_FAIL("\"%s\" parsed but does not split", text);
    return port[0] != '\0';
}

static void fuzz_parse(const char *text, int default_port)
{
    sk_addr a;
    int rc = sk_addr_parse(&a, text, default_port);

    if (rc != 0) {
        FUZZ_ASSERT(rc == SK_EBADADDR, "parse(\"%s\", %d) gave %d", text,
                    default_port, rc);
        return;
    }
    check_shape(&a, text, "parse");
    if (sk_addr_family(&a) != AF_UNIX) {
        int port = sk_addr_port(&a);

        FUZZ_ASSERT(port >= 0 && port <= 65535, "parse(\"%s\"): port %d", text, port);
        if (!has_port_text(text))
            FUZZ_ASSERT(port == default_port, "parse(\"%s\", %d): port %d", text,
                        default_port, port);
        check_format_ip(&a);
    }
    check_format_round_trip(&a, "parse");
}

static void fuzz_from_ip(const char *text, int port, int family)
{
    sk_addr a;
    int rc = sk_addr_from_ip(&a, text, port, family);

    if (rc != 0) {
        FUZZ_ASSERT(rc == SK_EBADADDR, "from_ip(\"%s\", %d, %d) gave %d", text, port,
                    family, rc);
        return;
    }
    FUZZ_ASSERT(family != AF_UNIX, "from_ip(\"%s\") accepted AF_UNIX", text);
    FUZZ_ASSERT(port >= 0 && port <= 65535, "from_ip(\"%s\") accepted port %d", text,
                port);
    check_shape(&a, text, "from_ip");
    FUZZ_ASSERT(sk_addr_port(&a) == port, "from_ip(\"%s\", %d): port %d", text, port,
                sk_addr_port(&a));
    if (family != AF_UNSPEC)
        FUZZ_ASSERT(sk_addr_family(&a) == family, "from_ip(\"%s\", family %d) gave %d",
                    text, family, sk_addr_family(&a));
    if (sk_addr_family(&a) == AF_INET && text[0] != '\0' &&
        strcmp(text, "<broadcast>") != 0) {
        /* IPv4 takes only the strict dotted quad, as inet_pton does. */
        unsigned char bin[4];

        FUZZ_ASSERT(sk_inet_pton(AF_INET, text, bin) == 0 &&
                        memcmp(bin, &a.u.in4.sin_addr, 4) == 0,
                    "from_ip(\"%s\") disagrees with inet_pton", text);
    }
    check_format_ip(&a);
    check_format_round_trip(&a, "from_ip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl;
    char *text;

    if (size == 0)
        return 0;
    ctl = data[0];
    text = fuzz_strndup(data + 1, size - 1);
    fuzz_parse(text, ports[ctl & 7]);
    fuzz_from_ip(text, ports[ctl & 7], families[(ctl >> 3) & 3]);
    free(text);
    return 0;
}
