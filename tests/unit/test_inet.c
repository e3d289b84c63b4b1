/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_inet.c - byte order and the inet_* conversions.  Valid inet_aton
 * forms are checked against the C library's inet_aton; forms it tolerates
 * but sockit rejects (trailing junk) are checked to fail.
 */
#include "sk_test.h"

#include <arpa/inet.h>
#include <errno.h>

SK_TEST(byte_order)
{
    uint32_t l = 0x01020304u;
    uint16_t s = 0x0102u;
    const unsigned char *lb = (const unsigned char *)&(uint32_t){sk_htonl(l)};
    const unsigned char *sb = (const unsigned char *)&(uint16_t){sk_htons(s)};

    /* Network order is big-endian whatever the host is. */
    CHECK_EQ(lb[0], 1);
    CHECK_EQ(lb[3], 4);
    CHECK_EQ(sb[0], 1);
    CHECK_EQ(sb[1], 2);
    CHECK_EQ(sk_ntohl(sk_htonl(l)), l);
    CHECK_EQ(sk_ntohs(sk_htons(s)), s);
    CHECK_EQ(sk_htonl(l), htonl(l));
    CHECK_EQ(sk_ntohs(s), ntohs(s));
}

/* sk_inet_aton and libc's inet_aton must agree on a valid form. */
static void check_aton_matches_libc(const char *text, uint32_t expect_host)
{
    struct in_addr ref;
    uint32_t got = 0;

    CHECK_OK(sk_inet_aton(text, &got));
    CHECK_EQ(inet_aton(text, &ref), 1);
    if (got != ref.s_addr)
        sk_test_fail(__FILE__, __LINE__, "\"%s\": 0x%08x vs libc 0x%08x", text,
                     (unsigned)ntohl(got), (unsigned)ntohl(ref.s_addr));
    CHECK_EQ(ntohl(got), expect_host);
}

SK_TEST(aton_forms)
{
    check_aton_matches_libc("1.2.3.4", 0x01020304u);
    check_aton_matches_libc("127.1", 0x7f000001u);
    check_aton_matches_libc("1.2.3", 0x01020003u);
    check_aton_matches_libc("10.65535", 0x0a00ffffu);
    check_aton_matches_libc("1.2.65535", 0x0102ffffu);
    check_aton_matches_libc("16909060", 0x01020304u);
    check_aton_matches_libc("4294967295", 0xffffffffu);
    check_aton_matches_libc("0x7f.1", 0x7f000001u);
    check_aton_matches_libc("0X7F.0.0.1", 0x7f000001u);
    check_aton_matches_libc("0x01020304", 0x01020304u);
    check_aton_matches_libc("0177.0.0.01", 0x7f000001u);
    check_aton_matches_libc("0", 0);
    check_aton_matches_libc("0.0.0.0", 0);
    check_aton_matches_libc("255.255.255.255", 0xffffffffu);
    check_aton_matches_libc("0xff.0377.255.0xFF", 0xffffffffu);
}

SK_TEST(aton_rejects)
{
    static const char *const bad[] = {
        "", ".", "1.", ".1", "1..2", "1.2.3.4.", "1.2.3.4.5", "256.1.1.1",
        "1.256.1.1", "1.2.256.1", "1.2.3.256", "1.16777216", "1.2.65536",
        "4294967296", "99999999999999999999", "0x", "0x.1", "08", "09.1.1.1",
        "1.2.3.4 ", " 1.2.3.4", "1.2.3.4 junk", "1.2.3.4x", "1.2.3.4\n",
        "0xg", "a.b.c.d", "-1", "+1", "1.-2.3.4", "1.2.3.4/24", "1,2,3,4",
        "0x100000000",
    };
    uint32_t out = 0xdeadbeef;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = sk_inet_aton(bad[i], &out);

        if (rc != SK_EBADADDR)
            sk_test_fail(__FILE__, __LINE__, "sk_inet_aton(\"%s\") = %d, want SK_EBADADDR",
                         bad[i], rc);
    }
    CHECK_EQ(out, 0xdeadbeef); /* failures leave the output alone */
    CHECK_ERR(sk_inet_aton(NULL, &out), SK_EBADADDR);
    CHECK_ERR(sk_inet_aton("1.2.3.4", NULL), SK_EBADADDR);
}

SK_TEST(aton_stricter_than_libc)
{
    struct in_addr ref;
    uint32_t out;

    /* glibc stops at white space and accepts what follows; we do not. */
    if (inet_aton("1.2.3.4 junk", &ref) == 1)
        CHECK_ERR(sk_inet_aton("1.2.3.4 junk", &out), SK_EBADADDR);
    CHECK_ERR(sk_inet_aton("1.2.3.4\tx", &out), SK_EBADADDR);
}

SK_TEST(ntoa)
{
    char buf[16];
    char small[15];

    CHECK_EQ(sk_inet_ntoa(htonl(0x7f000001u), buf, sizeof(buf)), 9);
    CHECK_STR(buf, "127.0.0.1");
    CHECK_EQ(sk_inet_ntoa(htonl(0xffffffffu), buf, sizeof(buf)), 15);
    CHECK_STR(buf, "255.255.255.255");
    CHECK_ERR(sk_inet_ntoa(htonl(0xffffffffu), small, sizeof(small)), -ENOSPC);
    CHECK_EQ(sk_inet_ntoa(0, small, sizeof(small)), 7);
    CHECK_STR(small, "0.0.0.0");
    CHECK_ERR(sk_inet_ntoa(0, buf, 0), -ENOSPC);
}

SK_TEST(pton_ntop_v4)
{
    unsigned char out[4], ref[4];
    char text[INET_ADDRSTRLEN];

    CHECK_OK(sk_inet_pton(AF_INET, "192.0.2.33", out));
    CHECK_EQ(inet_pton(AF_INET, "192.0.2.33", ref), 1);
    CHECK_MEM(out, ref, 4);
    CHECK_EQ(sk_inet_ntop(AF_INET, out, text, sizeof(text)), 10);
    CHECK_STR(text, "192.0.2.33");
    /* pton takes only the strict dotted quad. */
    CHECK_ERR(sk_inet_pton(AF_INET, "127.1", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET, "1.2.3", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET, "256.1.1.1", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET, "1.2.3.4x", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET, "", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET, "::1", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET, NULL, out), SK_EBADADDR);
    CHECK_ERR(sk_inet_ntop(AF_INET, out, text, 10), -ENOSPC);
}

SK_TEST(pton_ntop_v6)
{
    unsigned char out[16], ref[16];
    char text[INET6_ADDRSTRLEN];
    static const char *const good[] = {
        "::", "::1", "2001:db8::1", "fe80::1:2:3:4", "::ffff:192.0.2.1",
        "1:2:3:4:5:6:7:8",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK_OK(sk_inet_pton(AF_INET6, good[i], out));
        CHECK_EQ(inet_pton(AF_INET6, good[i], ref), 1);
        CHECK_MEM(out, ref, 16);
        CHECK_EQ(sk_inet_ntop(AF_INET6, out, text, sizeof(text)), strlen(good[i]));
        CHECK_STR(text, good[i]);
    }
    CHECK_OK(sk_inet_pton(AF_INET6, "2001:0DB8:0000::0001", out));
    CHECK_EQ(sk_inet_ntop(AF_INET6, out, text, sizeof(text)), 11);
    CHECK_STR(text, "2001:db8::1");
    CHECK_ERR(sk_inet_pton(AF_INET6, "::g", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET6, "1:2:3:4:5:6:7:8:9", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET6, "1::2::3", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET6, "[::1]", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET6, "::1%lo", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET6, "1.2.3.4", out), SK_EBADADDR);
    CHECK_ERR(sk_inet_pton(AF_INET6, "", out), SK_EBADADDR);
    CHECK_OK(sk_inet_pton(AF_INET6, "2001:db8::1", out));
    CHECK_ERR(sk_inet_ntop(AF_INET6, out, text, 11), -ENOSPC);
    CHECK_EQ(sk_inet_ntop(AF_INET6, out, text, 12), 11);
}

SK_TEST(bad_family)
{
    unsigned char out[16] = {0};
    char text[64];

    CHECK_ERR(sk_inet_pton(AF_UNIX, "1.2.3.4", out), -EAFNOSUPPORT);
    CHECK_ERR(sk_inet_pton(12345, "1.2.3.4", out), -EAFNOSUPPORT);
    CHECK_ERR(sk_inet_ntop(AF_UNIX, out, text, sizeof(text)), -EAFNOSUPPORT);
}
