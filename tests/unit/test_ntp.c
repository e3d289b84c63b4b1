/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_ntp.c - proto/ntp.c without sockets: the header's wire
 * form field by field, what a server answers and drops, kiss-o'-death
 * packets, timestamps on both sides of the 2036 wrap, the offset and delay
 * arithmetic across the wrap, refid text.
 *
 * Linked with the internal library sockit_proto (through sockit_cli).
 */
#include "sk_test.h"

#include "ntp.h"
#include "rfc868.h"

#include <math.h>

/* A request as chrony sends it: v4, mode 3, poll 6, random transmit. */
static void make_request(unsigned char b[NTP_HEADER_LEN], unsigned version, unsigned mode)
{
    memset(b, 0, NTP_HEADER_LEN);
    b[0] = (unsigned char)(version << 3 | mode);
    b[2] = 6;
    memcpy(b + 40, "\x9a\x31\x00\x07\xde\xad\xbe\xef", 8);
}

#define CHECK_NEAR(a, b, eps)                                                \
    do {                                                                     \
        double sk_x_ = (a), sk_y_ = (b);                                     \
        if (!(fabs(sk_x_ - sk_y_) <= (eps)))                                 \
            sk_test_fail(__FILE__, __LINE__, "%s = %.12g, expected %.12g",   \
                         #a, sk_x_, sk_y_);                                  \
    } while (0)

SK_TEST(decode_every_field)
{
    static const unsigned char wire[48] = {
        0xe4, 0x02, 0xfa, 0xe9,             /* LI 3, VN 4, mode 4; 2; -6; -23 */
        0x00, 0x01, 0x80, 0x00,             /* root delay 1.5 s */
        0x00, 0x00, 0x40, 0x00,             /* root dispersion 0.25 s */
        192, 0, 2, 1,                       /* refid */
        1, 2, 3, 4, 5, 6, 7, 8,             /* reference */
        9, 10, 11, 12, 13, 14, 15, 16,      /* origin */
        17, 18, 19, 20, 21, 22, 23, 24,     /* receive */
        0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, /* transmit */
    };
    unsigned char back[48];
    ntp_packet p;

    CHECK_EQ(ntp_decode(&p, wire, sizeof(wire)), NTP_HEADER_LEN);
    CHECK_EQ(p.leap, 3);
    CHECK_EQ(p.version, 4);
    CHECK_EQ(p.mode, 4);
    CHECK_EQ(p.stratum, 2);
    CHECK_EQ(p.poll, -6);
    CHECK_EQ(p.precision, -23);
    CHECK_NEAR(ntp_short_to_seconds(p.root_delay), 1.5, 0);
    CHECK_NEAR(ntp_short_to_seconds(p.root_dispersion), 0.25, 0);
    CHECK_MEM(p.refid, "\xc0\x00\x02\x01", 4);
    CHECK(p.reference == UINT64_C(0x0102030405060708));
    CHECK(p.origin == UINT64_C(0x090a0b0c0d0e0f10));
    CHECK(p.receive == UINT64_C(0x1112131415161718));
    CHECK(p.transmit == UINT64_C(0xfffefdfcfbfaf9f8));
    ntp_encode(&p, back);
    CHECK_MEM(back, wire, sizeof(wire));
}

SK_TEST(decode_needs_48_bytes_and_ignores_the_rest)
{
    unsigned char b[48 + 20];
    ntp_packet p;

    make_request(b, 4, 3);
    memset(b + 48, 0xaa, 20); /* an extension field or a MAC */
    for (size_t n = 0; n < 48; n++)
        CHECK_EQ(ntp_decode(&p, b, n), -1);
    CHECK_EQ(ntp_decode(&p, b, sizeof(b)), 48);
    CHECK_EQ(p.mode, 3);
}

SK_TEST(request_check_verdicts)
{
    unsigned char b[48];
    ntp_packet req;

    for (unsigned v = 0; v < 8; v++)
        for (unsigned m = 0; m < 8; m++) {
            ntp_verdict want = v < 1 || v > 4 ? NTP_DROP_VERSION
                               : m != 3     ? NTP_DROP_MODE
                                            : NTP_REQUEST_OK;
            make_request(b, v, m);
            CHECK_EQ(ntp_request_check(&req, b, sizeof(b)), want);
        }
    make_request(b, 4, 3);
    CHECK_EQ(ntp_request_check(&req, b, 47), NTP_DROP_SHORT);
    CHECK_EQ(ntp_request_check(&req, b, 0), NTP_DROP_SHORT);
    CHECK_STR(ntp_verdict_name(NTP_DROP_MODE), "mode");
    CHECK_STR(ntp_verdict_name(NTP_NVERDICTS), "unknown");
}

SK_TEST(reply_copies_version_poll_and_origin)
{
    unsigned char b[48], out[48];
    ntp_packet req, self = {0}, rep, back;

    for (unsigned v = 1; v <= 4; v++) {
        make_request(b, v, 3);
        b[0] |= 0xc0; /* a client's LI is ignored */
        b[2] = (unsigned char)-3;
        CHECK_EQ(ntp_request_check(&req, b, sizeof(b)), NTP_REQUEST_OK);
        self.leap = NTP_LEAP_NONE;
        self.stratum = 8;
        self.precision = -20;
        memcpy(self.refid, "LOCL", 4);
        self.reference = UINT64_C(0x1111111100000000);
        ntp_reply_make(&rep, &req, &self, UINT64_C(0x2222222200000001),
                       UINT64_C(0x2222222200000002));
        ntp_encode(&rep, out);
        CHECK_EQ(ntp_decode(&back, out, sizeof(out)), 48);
        CHECK_EQ(back.version, v);
        CHECK_EQ(back.mode, NTP_MODE_SERVER);
        CHECK_EQ(back.leap, NTP_LEAP_NONE);
        CHECK_EQ(back.poll, -3);
        CHECK_EQ(back.stratum, 8);
        CHECK_EQ(back.precision, -20);
        CHECK_MEM(back.refid, "LOCL", 4);
        /* The origin is the request's transmit timestamp, byte for byte. */
        CHECK_MEM(out + 24, b + 40, 8);
        CHECK(back.receive == UINT64_C(0x2222222200000001));
        CHECK(back.transmit == UINT64_C(0x2222222200000002));
    }
}

SK_TEST(kiss_of_death)
{
    unsigned char b[48], out[48];
    ntp_packet req, kod, back;

    make_request(b, 4, 3);
    CHECK_EQ(ntp_request_check(&req, b, sizeof(b)), NTP_REQUEST_OK);
    ntp_kod_make(&kod, &req, "RATE");
    ntp_encode(&kod, out);
    CHECK_EQ(ntp_decode(&back, out, sizeof(out)), 48);
    CHECK_EQ(back.stratum, 0);
    CHECK_EQ(back.mode, 4);
    CHECK_EQ(back.leap, 3);
    CHECK_MEM(out + 12, "RATE", 4);
    CHECK_MEM(out + 24, b + 40, 8);
    CHECK(back.transmit == 0 && back.receive == 0);
    CHECK(ntp_is_kod(&back, "RATE"));
    CHECK(!ntp_is_kod(&back, "DENY"));
    back.stratum = 1;
    CHECK(!ntp_is_kod(&back, "RATE"));
}

SK_TEST(timestamps_from_unix)
{
    /* 1970-01-01 is 2208988800 s after 1900-01-01. */
    CHECK(ntp_ts_from_unix(0, 0) == (uint64_t)RFC868_UNIX_OFFSET << 32);
    /* Half a second is 2^31 in the fraction. */
    CHECK(ntp_ts_from_unix(0, 500000000) == ((uint64_t)RFC868_UNIX_OFFSET << 32 | 0x80000000u));
    /* 2036-02-07 06:28:16 UTC is the wrap: seconds 0 again. */
    CHECK(ntp_ts_from_unix(2085978496, 0) == 0);
    CHECK(ntp_ts_from_unix(2085978496 + 100, 0) == (uint64_t)100 << 32);
    CHECK(ntp_ts_from_unix(2085978495, 999999999) >> 32 == 0xffffffffu);
}

SK_TEST(timestamps_to_unix_pick_the_era)
{
    uint32_t ns;
    int64_t now = 1795000000; /* 2026-11-18 */

    CHECK_EQ(ntp_ts_to_unix(ntp_ts_from_unix(now, 250000000), now, &ns), now);
    CHECK_INT(ns, >=, 249999999);
    CHECK_INT(ns, <=, 250000000);
    /* 100 s past the 2036 wrap reads as 2036 from a 2026 clock... */
    CHECK_EQ(ntp_ts_to_unix((uint64_t)100 << 32, now, NULL), 2085978496 + 100);
    /* ... and a clock past the wrap reads a 2035 value as 2035. */
    CHECK_EQ(ntp_ts_to_unix(ntp_ts_from_unix(2085978496 - 3600, 0), 2085978496 + 60, NULL),
             2085978496 - 3600);
    /* Every nanosecond value survives the round trip within 1 ns. */
    for (uint32_t n = 0; n < 1000000000u; n += 999983) {
        uint64_t ts = ntp_ts_from_unix(now, n);
        CHECK_EQ(ntp_ts_to_unix(ts, now, &ns), now);
        CHECK_INT((int64_t)n - ns, >=, 0);
        CHECK_INT((int64_t)n - ns, <=, 1);
    }
}

SK_TEST(offset_and_delay)
{
    int64_t t = 1795000000;
    /* Local clock 2 s behind; 10 ms out, 1 ms in the server, 20 ms back. */
    uint64_t t1 = ntp_ts_from_unix(t, 0);
    uint64_t t2 = ntp_ts_from_unix(t + 2, 10000000);
    uint64_t t3 = ntp_ts_from_unix(t + 2, 11000000);
    uint64_t t4 = ntp_ts_from_unix(t, 31000000);
    ntp_sample s = ntp_sample_compute(t1, t2, t3, t4);

    CHECK_NEAR(s.offset, 2.0 - 0.005, 1e-8);
    CHECK_NEAR(s.delay, 0.030, 1e-8);
    /* The same exchange with the server's side in the next era. */
    t1 = ntp_ts_from_unix(2085978496 - 1, 0);
    t2 = ntp_ts_from_unix(2085978496 + 1, 10000000);
    t3 = ntp_ts_from_unix(2085978496 + 1, 11000000);
    t4 = ntp_ts_from_unix(2085978496 - 1, 31000000);
    s = ntp_sample_compute(t1, t2, t3, t4);
    CHECK_NEAR(s.offset, 2.0 - 0.005, 1e-8);
    CHECK_NEAR(s.delay, 0.030, 1e-8);
    /* A server ten years ahead is ten years ahead, not 126 years behind. */
    t1 = ntp_ts_from_unix(t, 0);
    t2 = t3 = (uint64_t)100 << 32;
    s = ntp_sample_compute(t1, t2, t3, t1);
    CHECK_NEAR(s.offset, (double)(2085978496 + 100 - t), 1e-3);
}

SK_TEST(short_format)
{
    CHECK_EQ(ntp_short_from_seconds(1.5), 0x00018000);
    CHECK_EQ(ntp_short_from_seconds(0), 0);
    CHECK_EQ(ntp_short_from_seconds(-1), 0);
    CHECK_EQ(ntp_short_from_seconds(NAN), 0);
    CHECK_EQ(ntp_short_from_seconds(1e-9), 1); /* rounded up, never 0 */
    CHECK_EQ(ntp_short_from_seconds(1e9), UINT32_MAX);
    CHECK_NEAR(ntp_short_to_seconds(0x00010000), 1.0, 0);
}

SK_TEST(refid_text)
{
    char out[NTP_REFID_TEXT];

    CHECK_STR(ntp_refid_format((const unsigned char *)"LOCL", 1, out), "LOCL");
    CHECK_STR(ntp_refid_format((const unsigned char *)"RATE", 0, out), "RATE");
    CHECK_STR(ntp_refid_format((const unsigned char *)"GPS\0", 1, out), "GPS");
    CHECK_STR(ntp_refid_format((const unsigned char *)"a\nb\x80", 0, out), "a.b.");
    CHECK_STR(ntp_refid_format((const unsigned char *)"\xc0\x00\x02\x01", 3, out),
              "192.0.2.1");
    CHECK_STR(ntp_refid_format((const unsigned char *)"\xff\xff\xff\xff", 2, out),
              "255.255.255.255");
    /* A name at stratum 2 and up is shown beside the address. */
    CHECK_STR(ntp_refid_format((const unsigned char *)"LOCL", 8, out), "76.79.67.76 (LOCL)");
    CHECK_STR(ntp_refid_format((const unsigned char *)"GPS1", 2, out), "71.80.83.49 (GPS1)");
    CHECK_STR(ntp_refid_format((const unsigned char *)"1234", 2, out), "49.50.51.52");
    CHECK_STR(ntp_refid_format((const unsigned char *)"Locl", 2, out), "76.111.99.108");
}
