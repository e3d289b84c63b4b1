/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_proxy.c - the PROXY protocol header parser (sk_proxy_parse,
 * lib/proxy.c).
 *
 * Input: the bytes a connection starts with.  Properties:
 *  - the result is a length within the input (v1: at most 107 bytes; v2: at
 *    least 16), SK_ENEED or -EPROTO; the parser reads nothing past `size`
 *    (the copy it gets is exactly that long, so ASan sees an over-read);
 *  - a header's length does not depend on what follows it: the header
 *    alone parses to the same length, and every shorter prefix of it says
 *    SK_ENEED (a valid header arriving byte by byte is never refused);
 *  - a prefix that already holds a header gives the same answer as the
 *    whole input (the answer never changes once it is known);
 *  - a v1 TCP4 header reads back exactly: formatting the parsed addresses
 *    gives the input line (the strict syntax has one spelling per value).
 */
#include "fuzz.h"

#include "sockit.h"

#include <arpa/inet.h>
#include <errno.h>

static int parse_copy(sk_proxy_header *h, const uint8_t *data, size_t n)
{
    uint8_t *copy = fuzz_alloc(n);
    int rc;

    memcpy(copy, data, n);
    rc = sk_proxy_parse(h, copy, n);
    free(copy);
    return rc;
}

static void check_tcp4_roundtrip(const sk_proxy_header *h, const uint8_t *data, int n)
{
    char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], line[SK_PROXY_V1_MAX + 1];
    int len;

    inet_ntop(AF_INET, &h->src.u.in4.sin_addr, src, sizeof(src));
    inet_ntop(AF_INET, &h->dst.u.in4.sin_addr, dst, sizeof(dst));
    len = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", src, dst,
                   ntohs(h->src.u.in4.sin_port), ntohs(h->dst.u.in4.sin_port));
    FUZZ_ASSERT(len == n && memcmp(line, data, (size_t)n) == 0,
                "TCP4 header of %d bytes reads back as \"%s\"", n, line);
}

static void check_header(const sk_proxy_header *h, const uint8_t *data, size_t size, int rc)
{
    sk_proxy_header again;
    size_t n = (size_t)rc;

    FUZZ_ASSERT(n <= size, "length %d beyond the %zu bytes given", rc, size);
    FUZZ_ASSERT(h->version == 1 || h->version == 2, "version %d", h->version);
    if (h->version == 1)
        FUZZ_ASSERT(n <= SK_PROXY_V1_MAX && n >= 15, "v1 header of %d bytes", rc);
    else
        FUZZ_ASSERT(n >= 16 && n <= SK_PROXY_V2_MAX, "v2 header of %d bytes", rc);
    FUZZ_ASSERT((h->family == AF_UNSPEC) == (h->src.len == 0), "family %d, src len %u",
                h->family, (unsigned)h->src.len);
    FUZZ_ASSERT(parse_copy(&again, data, n) == rc, "the header alone parses differently");
    for (size_t k = 0; k < n; k++)
        FUZZ_ASSERT(sk_proxy_parse(&again, data, k) == SK_ENEED,
                    "prefix %zu of a %d-byte header is not SK_ENEED", k, rc);
    if (h->version == 1 && h->family == AF_INET)
        check_tcp4_roundtrip(h, data, rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_proxy_header h, p;
    int rc = parse_copy(&h, data, size);

    FUZZ_ASSERT(rc > 0 || rc == SK_ENEED || rc == -EPROTO, "result %d", rc);
    if (rc > 0)
        check_header(&h, data, size, rc);
    if (rc == SK_ENEED)
        FUZZ_ASSERT(size < SK_PROXY_V2_MAX, "SK_ENEED with %zu bytes", size);
    /* Once some prefix decides, the whole input agrees. */
    for (size_t k = 0; k < size && k <= SK_PROXY_V1_MAX + 16; k++) {
        int prc = sk_proxy_parse(&p, data, k);

        if (prc != SK_ENEED)
            FUZZ_ASSERT(prc == rc, "prefix %zu gives %d, the whole %d", k, prc, rc);
    }
    return 0;
}
