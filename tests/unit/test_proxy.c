/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_proxy.c - the PROXY protocol parser (lib/proxy.c) and the
 * CIDR allow-list (lib/cidr.c).
 *
 * Every valid header is also fed in every prefix (each must say SK_ENEED),
 * which is what a header split into one-byte writes looks like to the
 * server.  v2 headers are built here, with their CRC32C computed bit by bit
 * (an oracle independent of the library's table).  The malformed cases are
 * those the issue lists, and the ones each rule of the spec implies.
 */
#include "sk_test.h"

#include <arpa/inet.h>
#include <errno.h>

/* ---- helpers ------------------------------------------------------------- */

static uint32_t crc32c_bitwise(const unsigned char *p, size_t len)
{
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static const unsigned char sig[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

/* A v2 header builder: fixed part, then appended bytes; v2_finish sets the
 * length and, when a CRC TLV was added, its value. */
typedef struct v2buf {
    unsigned char b[1024];
    size_t len;
    size_t crc_at; /* 0: none */
} v2buf;

static void v2_start(v2buf *v, unsigned ver_cmd, unsigned fam)
{
    memset(v, 0, sizeof(*v));
    memcpy(v->b, sig, 12);
    v->b[12] = (unsigned char)ver_cmd;
    v->b[13] = (unsigned char)fam;
    v->len = 16;
}

static void v2_put(v2buf *v, const void *p, size_t n)
{
    memcpy(v->b + v->len, p, n);
    v->len += n;
}

static void v2_tlv(v2buf *v, unsigned type, const void *p, size_t n)
{
    unsigned char h[3] = { (unsigned char)type, (unsigned char)(n >> 8), (unsigned char)n };

    v2_put(v, h, 3);
    if (type == 0x03)
        v->crc_at = v->len;
    v2_put(v, p, n);
}

static void v2_finish(v2buf *v)
{
    size_t body = v->len - 16;

    v->b[14] = (unsigned char)(body >> 8);
    v->b[15] = (unsigned char)body;
    if (v->crc_at != 0) {
        uint32_t crc;

        memset(v->b + v->crc_at, 0, 4);
        crc = crc32c_bitwise(v->b, v->len);
        v->b[v->crc_at] = (unsigned char)(crc >> 24);
        v->b[v->crc_at + 1] = (unsigned char)(crc >> 16);
        v->b[v->crc_at + 2] = (unsigned char)(crc >> 8);
        v->b[v->crc_at + 3] = (unsigned char)crc;
    }
}

/* INET block: 192.0.2.1:50000 -> 198.51.100.7:443. */
static void v2_inet_block(v2buf *v)
{
    static const unsigned char block[12] = { 192, 0, 2, 1, 198, 51, 100, 7, 0xc3, 0x50, 0x01, 0xbb };

    v2_put(v, block, sizeof(block));
}

/* Every proper prefix needs more; the whole gives `want`. */
static void check_prefixes(const void *buf, size_t len, int want)
{
    sk_proxy_header h;

    for (size_t k = 0; k < len; k++) {
        int rc = sk_proxy_parse(&h, buf, k);

        if (rc != SK_ENEED)
            sk_test_fail(__FILE__, __LINE__, "prefix of %zu of %zu bytes gave %d, not SK_ENEED",
                         k, len, rc);
    }
    CHECK_EQ(sk_proxy_parse(&h, buf, len), want);
}

static void check_addr(const sk_addr *a, const char *want)
{
    char text[SK_ADDRSTRLEN];

    CHECK_OK(sk_addr_format(a, text, sizeof(text)));
    CHECK_STR(text, want);
}

static int parse_str(sk_proxy_header *h, const char *s)
{
    return sk_proxy_parse(h, s, strlen(s));
}

/* ---- v1 -------------------------------------------------------------------- */

SK_TEST(v1_tcp4_with_payload_after)
{
    const char *s = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.0\r\n";
    sk_proxy_header h;
    int n = parse_str(&h, s);

    CHECK_EQ(n, (int)(strchr(s, '\n') - s + 1));
    CHECK_EQ(h.version, 1);
    CHECK_EQ(h.command, SK_PROXY_CMD_PROXY);
    CHECK_EQ(h.family, AF_INET);
    check_addr(&h.src, "192.168.0.1:56324");
    check_addr(&h.dst, "192.168.0.11:443");
}

SK_TEST(v1_tcp6_and_edges)
{
    sk_proxy_header h;

    CHECK_EQ(parse_str(&h, "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n"), 36);
    CHECK_EQ(h.family, AF_INET6);
    check_addr(&h.src, "[2001:db8::1]:0");
    check_addr(&h.dst, "[::1]:65535");
    CHECK_OK(parse_str(&h, "PROXY TCP6 ::ffff:10.0.0.1 FE80::A 1 2\r\n"));
    check_addr(&h.src, "[::ffff:10.0.0.1]:1");
    CHECK_OK(parse_str(&h, "PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n"));
    check_addr(&h.dst, "255.255.255.255:0");
}

SK_TEST(v1_unknown)
{
    sk_proxy_header h;

    CHECK_EQ(parse_str(&h, "PROXY UNKNOWN\r\nx"), 15);
    CHECK_EQ(h.family, AF_UNSPEC);
    CHECK_EQ(h.src.len, 0);
    /* Anything after UNKNOWN is ignored, even an invalid address. */
    CHECK_OK(parse_str(&h, "PROXY UNKNOWN 999.1.1.1 whatever 1 2\r\n"));
    CHECK_EQ(h.family, AF_UNSPEC);
}

SK_TEST(v1_split_at_every_byte)
{
    const char *s = "PROXY TCP6 2001:db8:0:1::5 2001:db8::7 40000 8007\r\n";

    check_prefixes(s, strlen(s), (int)strlen(s));
    check_prefixes("PROXY UNKNOWN\r\n", 15, 15);
}

SK_TEST(v1_longest_line)
{
    char line[SK_PROXY_V1_MAX + 8];
    sk_proxy_header h;

    /* "PROXY UNKNOWN " + filler + CR LF = exactly 107 bytes: valid. */
    memset(line, 'a', sizeof(line));
    memcpy(line, "PROXY UNKNOWN ", 14);
    line[105] = '\r';
    line[106] = '\n';
    check_prefixes(line, 107, 107);
    /* One byte more (CR at index 106) is too long, and so known as soon as
     * the 106th byte is not a CR. */
    line[105] = 'a';
    line[106] = '\r';
    line[107] = '\n';
    CHECK_ERR(sk_proxy_parse(&h, line, 108), -EPROTO);
    CHECK_ERR(sk_proxy_parse(&h, line, 106), -EPROTO);
    CHECK_ERR(sk_proxy_parse(&h, line, 105), SK_ENEED);
}

SK_TEST(v1_malformed)
{
    static const char *const bad[] = {
        "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",          /* leading zero */
        "PROXY TCP4 1.2.3.4 5.6.7.08 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",          /* leading zero port */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n",
        "PROXY TCP4 999.1.1.1 5.6.7.8 1 2\r\n",         /* out of range */
        "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
        "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",             /* three parts */
        "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",             /* bare LF */
        "PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",            /* CR without LF */
        "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",          /* double space */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",          /* trailing space */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",             /* missing field */
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",         /* extra field */
        "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n",          /* tab */
        "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 ::1 ::1 1 2\r\n",                   /* family mismatch */
        "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP6 ::1%eth0 ::1 1 2\r\n",
        "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
        "PROXY  UNKNOWN\r\n",
        "PROXY UNKNOWNX\r\n",
        "PROXY \r\n",
        "PROXY\r\n",
        "PROXX TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "GET / HTTP/1.0\r\n",
        "\r\n\r\nX",                                 /* v2 signature broken */
    };
    sk_proxy_header h;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse_str(&h, bad[i]);

        if (rc != -EPROTO)
            sk_test_fail(__FILE__, __LINE__, "case %zu \"%s\" gave %d", i, bad[i], rc);
    }
    /* Bytes outside printable ASCII, a NUL included. */
    CHECK_ERR(sk_proxy_parse(&h, "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33), -EPROTO);
    CHECK_ERR(sk_proxy_parse(&h, "PROXY UNKNOWN \xff\r\n", 17), -EPROTO);
}

SK_TEST(v1_wrong_prefix_seen_early)
{
    sk_proxy_header h;

    CHECK_ERR(sk_proxy_parse(&h, "PRX", 3), -EPROTO);
    CHECK_ERR(sk_proxy_parse(&h, "PROXY\r", 6), -EPROTO);
    CHECK_ERR(sk_proxy_parse(&h, "PROXY TCP4 1.2.3.4\n", 19), -EPROTO);
    CHECK_ERR(sk_proxy_parse(&h, "X", 1), -EPROTO);
    CHECK_ERR(sk_proxy_parse(&h, "", 0), SK_ENEED);
}

/* ---- v2 -------------------------------------------------------------------------- */

SK_TEST(v2_inet_with_crc32c_and_tlvs)
{
    v2buf v;
    sk_proxy_header h;
    unsigned char zero4[4] = {0};

    v2_start(&v, 0x21, 0x11);
    v2_inet_block(&v);
    v2_tlv(&v, 0x02, "example.net", 11); /* authority: skipped */
    v2_tlv(&v, 0x03, zero4, 4);
    v2_tlv(&v, 0x04, "", 0);             /* noop */
    v2_finish(&v);
    memcpy(v.b + v.len, "payload", 7);
    CHECK_EQ(sk_proxy_parse(&h, v.b, v.len + 7), (int)v.len);
    CHECK_EQ(h.version, 2);
    CHECK_EQ(h.command, SK_PROXY_CMD_PROXY);
    CHECK_EQ(h.family, AF_INET);
    CHECK(h.crc32c);
    CHECK_EQ(h.tlv_offset, 28);
    CHECK_EQ(h.tlv_length, v.len - 28);
    check_addr(&h.src, "192.0.2.1:50000");
    check_addr(&h.dst, "198.51.100.7:443");
    check_prefixes(v.b, v.len, (int)v.len);
}

SK_TEST(v2_inet6_unix_local_unspec)
{
    unsigned char a6[36] = {0};
    unsigned char un[216] = {0};
    v2buf v;
    sk_proxy_header h;

    a6[15] = 1;                           /* ::1 */
    a6[16] = 0x20, a6[17] = 0x01, a6[18] = 0x0d, a6[19] = 0xb8, a6[31] = 9;
    a6[32] = 0x1f, a6[33] = 0x47;         /* 8007 */
    a6[34] = 0x00, a6[35] = 0x07;
    v2_start(&v, 0x21, 0x21);
    v2_put(&v, a6, sizeof(a6));
    v2_finish(&v);
    CHECK_EQ(sk_proxy_parse(&h, v.b, v.len), 52);
    CHECK_EQ(h.family, AF_INET6);
    CHECK(!h.crc32c);
    check_addr(&h.src, "[::1]:8007");
    check_addr(&h.dst, "[2001:db8::9]:7");

    memcpy(un, "/run/client.sock", 16);
    memcpy(un + 108, "/run/sockit.sock", 16);
    v2_start(&v, 0x21, 0x31);
    v2_put(&v, un, sizeof(un));
    v2_finish(&v);
    CHECK_EQ(sk_proxy_parse(&h, v.b, v.len), 16 + 216);
    CHECK_EQ(h.family, AF_UNIX);
    check_addr(&h.src, "/run/client.sock");
    check_addr(&h.dst, "/run/sockit.sock");

    /* LOCAL (a health check): no addresses, whatever the family byte says. */
    v2_start(&v, 0x20, 0x00);
    v2_finish(&v);
    CHECK_EQ(sk_proxy_parse(&h, v.b, v.len), 16);
    CHECK_EQ(h.command, SK_PROXY_CMD_LOCAL);
    CHECK_EQ(h.family, AF_UNSPEC);
    v2_start(&v, 0x20, 0x11);
    v2_inet_block(&v);
    v2_finish(&v);
    CHECK_EQ(sk_proxy_parse(&h, v.b, v.len), 28);
    CHECK_EQ(h.family, AF_UNSPEC);
    CHECK_EQ(h.src.len, 0);
    v2_start(&v, 0x20, 0x77);
    v2_put(&v, "junk", 4);
    v2_finish(&v);
    CHECK_EQ(sk_proxy_parse(&h, v.b, v.len), 20);
    /* LOCAL with a CRC TLV (HAProxy's checks with crc32c): checked. */
    v2_start(&v, 0x20, 0x00);
    v2_tlv(&v, 0x03, "\0\0\0\0", 4);
    v2_finish(&v);
    CHECK_EQ(sk_proxy_parse(&h, v.b, v.len), 23);
    CHECK(h.crc32c);

    /* PROXY over UNSPEC: accepted, own addresses. */
    v2_start(&v, 0x21, 0x00);
    v2_finish(&v);
    CHECK_EQ(sk_proxy_parse(&h, v.b, v.len), 16);
    CHECK_EQ(h.command, SK_PROXY_CMD_PROXY);
    CHECK_EQ(h.family, AF_UNSPEC);
}

SK_TEST(v2_malformed)
{
    unsigned char zero4[4] = {0};
    sk_proxy_header h;
    v2buf v;

    /* Each signature byte wrong, seen as soon as it arrives. */
    for (int i = 0; i < 12; i++) {
        v2_start(&v, 0x21, 0x11);
        v2_inet_block(&v);
        v2_finish(&v);
        v.b[i] ^= 0x40;
        if (i == 0)
            continue; /* 'M' is neither version's first byte: tested below */
        CHECK_ERR(sk_proxy_parse(&h, v.b, (size_t)i + 1), -EPROTO);
        CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
    }
    CHECK_ERR(sk_proxy_parse(&h, "M", 1), -EPROTO);

    static const unsigned char bad_vc[] = { 0x11, 0x31, 0x01, 0x22, 0x2f, 0x00 + 0x10 };
    for (size_t i = 0; i < sizeof(bad_vc); i++) {
        v2_start(&v, bad_vc[i], 0x11);
        v2_inet_block(&v);
        v2_finish(&v);
        CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
        CHECK_ERR(sk_proxy_parse(&h, v.b, 16), -EPROTO); /* known after 16 bytes */
    }
    /* Families and transports PROXY does not take. */
    static const unsigned char bad_fam[] = { 0x12, 0x22, 0x32, 0x10, 0x01, 0x41, 0x13, 0xff };
    for (size_t i = 0; i < sizeof(bad_fam); i++) {
        v2_start(&v, 0x21, bad_fam[i]);
        v2_inet_block(&v);
        v2_finish(&v);
        CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
    }
    /* A block too short for the addresses it claims. */
    v2_start(&v, 0x21, 0x21);
    v2_inet_block(&v);
    v2_finish(&v);
    CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
    CHECK_ERR(sk_proxy_parse(&h, v.b, 16), -EPROTO);
    /* A TLV whose length runs past the end of the block. */
    v2_start(&v, 0x21, 0x11);
    v2_inet_block(&v);
    v2_tlv(&v, 0x02, "abc", 3);
    v2_finish(&v);
    v.b[v.len - 4] = 4; /* the TLV says 4 bytes, 3 remain */
    CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
    /* Fewer than 3 bytes left for a TLV header. */
    v2_start(&v, 0x21, 0x11);
    v2_inet_block(&v);
    v2_put(&v, "\x04\x00", 2);
    v2_finish(&v);
    CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
    /* A wrong CRC32C, one of the wrong size, two of them. */
    v2_start(&v, 0x21, 0x11);
    v2_inet_block(&v);
    v2_tlv(&v, 0x03, zero4, 4);
    v2_finish(&v);
    v.b[v.len - 1] ^= 1;
    CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
    v.b[v.len - 1] ^= 1;
    CHECK_EQ(sk_proxy_parse(&h, v.b, v.len), (int)v.len);
    v.b[18] ^= 1; /* an address byte changed after the CRC was computed */
    CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
    v2_start(&v, 0x21, 0x11);
    v2_inet_block(&v);
    v2_tlv(&v, 0x03, zero4, 3);
    v2_finish(&v);
    CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
    v2_start(&v, 0x21, 0x11);
    v2_inet_block(&v);
    v2_tlv(&v, 0x03, zero4, 4);
    v2_tlv(&v, 0x03, zero4, 4);
    v2_finish(&v);
    CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), -EPROTO);
}

SK_TEST(v2_truncated_needs_more)
{
    v2buf v;
    sk_proxy_header h;

    v2_start(&v, 0x21, 0x11);
    v2_inet_block(&v);
    v2_tlv(&v, 0xE0, "custom", 6);
    v2_finish(&v);
    check_prefixes(v.b, v.len, (int)v.len);
    /* The length says more than the buffer holds: still "need more". */
    v.b[15] += 10;
    CHECK_ERR(sk_proxy_parse(&h, v.b, v.len), SK_ENEED);
}

SK_TEST(v2_longest_header)
{
    static unsigned char big[SK_PROXY_V2_MAX];
    sk_proxy_header h;
    v2buf v;

    v2_start(&v, 0x21, 0x11);
    v2_inet_block(&v);
    memcpy(big, v.b, v.len);
    /* One TLV filling the rest: 65535 - 12 - 3 bytes of value. */
    big[28] = 0xEE;
    big[29] = (unsigned char)((65535 - 15) >> 8);
    big[30] = (unsigned char)(65535 - 15);
    big[14] = big[15] = 0xff;
    CHECK_EQ(sk_proxy_parse(&h, big, sizeof(big)), SK_PROXY_V2_MAX);
    CHECK_EQ(sk_proxy_parse(&h, big, sizeof(big) - 1), SK_ENEED);
}

/* ---- CIDR ---------------------------------------------------------------------------- */

static bool match(const char *net, const char *ip)
{
    sk_cidr c;
    sk_addr a;

    CHECK_OK(sk_cidr_parse(&c, net));
    CHECK_OK(sk_addr_from_ip(&a, ip, 1, AF_UNSPEC));
    return sk_cidr_match(&c, &a);
}

SK_TEST(cidr_parse_and_match)
{
    sk_cidr c;
    sk_addr a;

    CHECK(match("127.0.0.0/8", "127.1.2.3"));
    CHECK(!match("127.0.0.0/8", "128.0.0.1"));
    CHECK(match("127.0.0.0/8", "::ffff:127.0.0.9"));
    CHECK(!match("127.0.0.0/8", "::1"));
    CHECK(match("::1", "::1"));
    CHECK(!match("::1", "::2"));
    CHECK(match("10.1.2.3/8", "10.200.0.1")); /* host bits cleared */
    CHECK(match("0.0.0.0/0", "8.8.8.8"));
    CHECK(match("::/0", "2001:db8::1"));
    CHECK(match("::ffff:0.0.0.0/96", "192.0.2.1"));
    CHECK(match("192.0.2.128/25", "192.0.2.200"));
    CHECK(!match("192.0.2.128/25", "192.0.2.100"));
    CHECK(match("2001:db8::/33", "2001:db8:7fff::1"));
    CHECK(!match("2001:db8::/33", "2001:db8:8000::1"));
    CHECK_OK(sk_cidr_parse(&c, "10.0.0.0/8"));
    CHECK_EQ(c.family, AF_INET);
    CHECK_EQ(c.prefix, 8);
    CHECK_OK(sk_addr_from_unix(&a, "/tmp/x"));
    CHECK(!sk_cidr_match(&c, &a));
    static const char *const bad[] = {
        "", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/08", "10.0.0.0/-1",
        "10.0.0.0/8/8", "host.example", "10.0.0.0/ 8", "010.0.0.0/8", "10.0.0.0/1000",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = sk_cidr_parse(&c, bad[i]);

        if (rc != SK_EBADADDR)
            sk_test_fail(__FILE__, __LINE__, "\"%s\" gave %d", bad[i], rc);
    }
}
