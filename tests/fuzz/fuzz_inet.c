/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_inet.c - the Conversions section: sk_inet_aton, sk_inet_pton,
 * sk_inet_ntop, sk_inet_ntoa and the byte-order functions.
 *
 * Input: used twice, as text and as raw address bytes.
 *
 * As text, libc is the oracle.  sk_inet_aton must take every form
 * inet_aton(3) takes, but is stricter: glibc stops at the first white
 * space and ignores the rest, sk_inet_aton refuses any trailing character.
 * So: when sk_inet_aton accepts, the text has no white space and glibc
 * gives the same value; when glibc accepts, sk_inet_aton accepts the text
 * before the first white space with the same value.  sk_inet_pton must
 * answer exactly as inet_pton(3); what it accepts must format (through
 * sk_inet_ntop, as inet_ntop(3) does) and parse back to the same bytes,
 * and an IPv4 quad must read the same through sk_inet_aton.
 *
 * As bytes, the first 4 and the first 16 are an IPv4 and an IPv6 address:
 * formatted as libc formats them, parsed back unchanged, with -ENOSPC
 * exactly when the buffer has no room for the NUL.
 */
#include "fuzz.h"

#include "sockit.h"

#include <arpa/inet.h>
#include <errno.h>

/* Length of the text before its first white space, as isspace() in the
 * C locale sees it (glibc's inet_aton stops there). */
static size_t before_space(const char *text)
{
    return strcspn(text, " \t\n\v\f\r");
}

static void check_aton(const char *text)
{
    uint32_t mine = 0xa5a5a5a5u, head_val = 0;
    struct in_addr libc;
    int rc = sk_inet_aton(text, &mine);
    int libc_ok = inet_aton(text, &libc);
    size_t head_len = before_space(text);

    FUZZ_ASSERT(rc == 0 || rc == SK_EBADADDR, "sk_inet_aton(\"%s\") = %d", text, rc);
    if (rc == 0) {
        FUZZ_ASSERT(text[head_len] == '\0', "sk_inet_aton accepted white space in \"%s\"",
                    text);
        FUZZ_ASSERT(libc_ok && libc.s_addr == mine,
                    "sk_inet_aton(\"%s\") = %08x, glibc %d/%08x", text, ntohl(mine),
                    libc_ok, libc_ok ? ntohl(libc.s_addr) : 0);
    } else {
        FUZZ_ASSERT(mine == 0xa5a5a5a5u, "sk_inet_aton(\"%s\") failed but wrote", text);
    }
    if (libc_ok) {
        char *head = fuzz_strndup((const uint8_t *)text, head_len);

        FUZZ_ASSERT(sk_inet_aton(head, &head_val) == 0 && head_val == libc.s_addr,
                    "glibc takes \"%s\" as %08x, sk_inet_aton refuses \"%s\"", text,
                    ntohl(libc.s_addr), head);
        free(head);
    }
}

/* Formats `bin` with sk_inet_ntop, compares with libc, checks the buffer
 * size edge and parses the text back.  Returns nothing; aborts on error. */
static void check_ntop(int family, const unsigned char *bin)
{
    size_t blen = family == AF_INET ? 4 : 16;
    char text[64], libc_text[INET6_ADDRSTRLEN];
    unsigned char back[16];
    int len = sk_inet_ntop(family, bin, text, sizeof(text)), rc;

    FUZZ_ASSERT(len > 0 && (size_t)len == strlen(text), "sk_inet_ntop gave %d", len);
    FUZZ_ASSERT(inet_ntop(family, bin, libc_text, sizeof(libc_text)) != NULL &&
                    strcmp(text, libc_text) == 0,
                "sk_inet_ntop \"%s\", libc \"%s\"", text, libc_text);

    char *exact = fuzz_alloc((size_t)len + 1);
    rc = sk_inet_ntop(family, bin, exact, (size_t)len + 1);
    FUZZ_ASSERT(rc == len && strcmp(exact, text) == 0, "exact-size ntop gave %d", rc);
    rc = sk_inet_ntop(family, bin, exact, (size_t)len);
    FUZZ_ASSERT(rc == -ENOSPC, "one-short ntop of \"%s\" gave %d", text, rc);
    free(exact);

    rc = sk_inet_pton(family, text, back);
    FUZZ_ASSERT(rc == 0 && memcmp(back, bin, blen) == 0, "\"%s\" does not parse back: %d",
                text, rc);
}

static void check_pton(int family, const char *text)
{
    unsigned char mine[16], libc[16];
    int rc = sk_inet_pton(family, text, mine);
    int libc_ok = inet_pton(family, text, libc) == 1;

    FUZZ_ASSERT(rc == 0 || rc == SK_EBADADDR, "sk_inet_pton(%d, \"%s\") = %d", family,
                text, rc);
    FUZZ_ASSERT((rc == 0) == libc_ok, "sk_inet_pton(%d, \"%s\") = %d, libc %d", family,
                text, rc, libc_ok);
    if (rc != 0)
        return;
    FUZZ_ASSERT(memcmp(mine, libc, family == AF_INET ? 4 : 16) == 0,
                "sk_inet_pton(\"%s\") bytes differ from libc", text);
    check_ntop(family, mine);
    if (family == AF_INET) {
        uint32_t v;

        FUZZ_ASSERT(sk_inet_aton(text, &v) == 0 && memcmp(&v, mine, 4) == 0,
                    "quad \"%s\" reads differently through sk_inet_aton", text);
    }
}

/* An IPv4 address from raw bytes through sk_inet_ntoa and back. */
static void check_ntoa(const uint8_t *bytes)
{
    uint32_t addr, back;
    char text[16];
    struct in_addr in;
    int len;

    memcpy(&addr, bytes, 4);
    len = sk_inet_ntoa(addr, text, sizeof(text));
    in.s_addr = addr;
    FUZZ_ASSERT(len > 0 && strcmp(text, inet_ntoa(in)) == 0, "sk_inet_ntoa \"%s\" (%d)",
                text, len);
    FUZZ_ASSERT(sk_inet_aton(text, &back) == 0 && back == addr,
                "\"%s\" does not read back", text);
    FUZZ_ASSERT(sk_ntohl(sk_htonl(addr)) == addr && sk_htonl(addr) == htonl(addr) &&
                    sk_ntohs(sk_htons((uint16_t)addr)) == (uint16_t)addr &&
                    sk_htons((uint16_t)addr) == htons((uint16_t)addr),
                "byte order functions disagree with libc for %08x", addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    unsigned char scratch[16];

    check_aton(text);
    check_pton(AF_INET, text);
    check_pton(AF_INET6, text);
    FUZZ_ASSERT(sk_inet_pton(AF_UNIX, text, scratch) == -EAFNOSUPPORT,
                "sk_inet_pton(AF_UNIX) did not refuse the family");
    free(text);

    if (size >= 4) {
        check_ntop(AF_INET, data);
        check_ntoa(data);
    }
    if (size >= 16)
        check_ntop(AF_INET6, data);
    return 0;
}
