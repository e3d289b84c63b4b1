/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_stamp.c - proto/stamp.c without sockets: both ends' base
 * packets field by field in both modes, the error estimate, key text, the
 * HMAC against Python's hmac module's values, the TLV walk over every
 * prefix of a packet (a datagram cut anywhere), and the reflector's answer
 * to each TLV kind.
 *
 * Linked with the internal library sockit_proto (through sockit_cli).
 */
#include "sk_test.h"

#include "ntp.h"
#include "stamp.h"

#include <math.h>

static const stamp_key test_key = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
     16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31},
    32,
};

SK_TEST(sender_wire_unauth)
{
    stamp_sender p = {0x01020304, UINT64_C(0x1112131415161718), 0x8123, 0xbeef}, q;
    unsigned char b[STAMP_BASE_LEN], want[STAMP_BASE_LEN] = {
        1, 2, 3, 4, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x81, 0x23, 0xbe, 0xef,
    };

    stamp_sender_encode(&p, STAMP_UNAUTH, b);
    CHECK_MEM(b, want, sizeof(want));
    CHECK_EQ(stamp_sender_decode(&q, STAMP_UNAUTH, b, sizeof(b)), STAMP_BASE_LEN);
    CHECK(q.seq == p.seq && q.timestamp == p.timestamp);
    CHECK_EQ(q.error_estimate, 0x8123);
    CHECK_EQ(q.ssid, 0xbeef);
    for (size_t n = 0; n < STAMP_BASE_LEN; n++)
        CHECK_EQ(stamp_sender_decode(&q, STAMP_UNAUTH, b, n), -1);
}

SK_TEST(sender_wire_auth)
{
    stamp_sender p = {7, UINT64_C(0xa0a1a2a3a4a5a6a7), 0x0102, 9}, q;
    unsigned char b[STAMP_AUTH_LEN];

    stamp_sender_encode(&p, STAMP_AUTH, b);
    CHECK_MEM(b, "\0\0\0\7", 4);
    for (int i = 4; i < 16; i++)
        CHECK_EQ(b[i], 0);
    CHECK_MEM(b + 16, "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\x01\x02\x00\x09", 12);
    for (int i = 28; i < STAMP_AUTH_LEN; i++)
        CHECK_EQ(b[i], 0);
    CHECK_EQ(stamp_sender_decode(&q, STAMP_AUTH, b, sizeof(b)), STAMP_AUTH_LEN);
    CHECK(q.timestamp == p.timestamp && q.ssid == 9 && q.error_estimate == 0x0102);
    CHECK_EQ(stamp_sender_decode(&q, STAMP_AUTH, b, STAMP_AUTH_LEN - 1), -1);
}

/* Field by field: the structs' padding is not compared. */
static void check_same(const stamp_reflector *a, const stamp_reflector *b)
{
    CHECK(a->seq == b->seq && a->timestamp == b->timestamp && a->receive == b->receive);
    CHECK(a->error_estimate == b->error_estimate && a->ssid == b->ssid);
    CHECK(a->sender_seq == b->sender_seq && a->sender_timestamp == b->sender_timestamp);
    CHECK(a->sender_error_estimate == b->sender_error_estimate);
    CHECK_EQ(a->sender_ttl, b->sender_ttl);
}

SK_TEST(reflector_wire_both_modes)
{
    stamp_reflector p = {
        .seq = 0x0a0b0c0d, .timestamp = UINT64_C(0x3333333333333333),
        .error_estimate = 0x8001, .ssid = 0x1234,
        .receive = UINT64_C(0x2222222222222222), .sender_seq = 0x01020304,
        .sender_timestamp = UINT64_C(0x1111111111111111),
        .sender_error_estimate = 0x0203, .sender_ttl = 64,
    }, q;
    unsigned char b[STAMP_AUTH_LEN];

    stamp_reflector_encode(&p, STAMP_UNAUTH, b);
    CHECK_MEM(b + 14, "\x12\x34", 2);
    CHECK_MEM(b + 16, "\x22\x22\x22\x22\x22\x22\x22\x22\x01\x02\x03\x04", 12);
    CHECK_MEM(b + 36, "\x02\x03\x00\x00\x40\x00\x00\x00", 8);
    CHECK_EQ(stamp_reflector_decode(&q, STAMP_UNAUTH, b, STAMP_BASE_LEN), STAMP_BASE_LEN);
    check_same(&p, &q);

    stamp_reflector_encode(&p, STAMP_AUTH, b);
    CHECK_MEM(b + 24, "\x80\x01\x12\x34", 4);
    CHECK_MEM(b + 32, "\x22\x22\x22\x22\x22\x22\x22\x22", 8);
    CHECK_MEM(b + 48, "\x01\x02\x03\x04", 4);
    CHECK_MEM(b + 64, "\x11\x11\x11\x11\x11\x11\x11\x11\x02\x03", 10);
    CHECK_EQ(b[80], 64);
    CHECK_EQ(stamp_reflector_decode(&q, STAMP_AUTH, b, STAMP_AUTH_LEN), STAMP_AUTH_LEN);
    check_same(&p, &q);
}

SK_TEST(error_estimate)
{
    uint16_t e = stamp_ee_make(true, 0.001);

    CHECK(e & STAMP_EE_S);
    CHECK(!(e & STAMP_EE_Z));
    CHECK(stamp_ee_seconds(e) >= 0.001);
    CHECK(stamp_ee_seconds(e) < 0.001 * (1 + 1.0 / 128));
    CHECK_EQ(stamp_ee_make(false, 0), 1); /* multiplier never 0 */
    CHECK_EQ(stamp_ee_make(false, 1e300), 0x3fff);
    CHECK_EQ(stamp_ee_make(true, 16.0) & 0xff, 128); /* 128 * 2^(29 - 32) */
    CHECK_EQ((stamp_ee_make(true, 16.0) >> 8) & 63, 29);
    CHECK(fabs(stamp_ee_seconds(0x0001) - ldexp(1, -32)) == 0);
}

SK_TEST(key_text)
{
    stamp_key k;
    char hex[200];

    CHECK_EQ(stamp_key_parse(&k, "000102030405060708090a0b0c0d0e0F\n", 33), 0);
    CHECK_EQ(k.len, 16);
    CHECK_EQ(k.bytes[15], 15);
    CHECK_EQ(stamp_key_parse(&k, "000102030405060708090a0b0c0d0e\n", 31), -1); /* 15 */
    CHECK_EQ(stamp_key_parse(&k, "000102030405060708090a0b0c0d0e0f0\n", 34), -1);
    CHECK_EQ(stamp_key_parse(&k, "000102030405060708090a0b0c0d0e0g\n", 33), -1);
    CHECK_EQ(stamp_key_parse(&k, "000102030405060708090a0b0c0d0e0f \r\nrest", 38), 0);
    memset(hex, 'a', 128);
    CHECK_EQ(stamp_key_parse(&k, hex, 128), 0);
    CHECK_EQ(k.len, 64);
    CHECK_EQ(stamp_key_parse(&k, hex, 130), -1);
}

SK_TEST(hmac_matches_python)
{
    unsigned char pkt[STAMP_AUTH_LEN];

    for (int i = 0; i < STAMP_AUTH_LEN; i++)
        pkt[i] = (unsigned char)i;
    stamp_auth_sign(&test_key, pkt);
    /* hmac.new(bytes(range(32)), bytes(range(96)), sha256).hexdigest()[:32] */
    CHECK_MEM(pkt + 96, "\xff\xa0\x29\xfa\x8f\x12\xf1\x9a\x27\xbf\x44\x76\x41\xbc\x4c\x03",
              16);
    CHECK(stamp_auth_verify(&test_key, pkt));
    pkt[50] ^= 1;
    CHECK(!stamp_auth_verify(&test_key, pkt));
}

/* A packet of `base` bytes then the TLVs in `tlvs`. */
static size_t build(unsigned char *b, stamp_mode m, const void *tlvs, size_t tlen)
{
    stamp_sender s = {1, 2, 3, 4};

    stamp_sender_encode(&s, m, b);
    memcpy(b + stamp_base_len(m), tlvs, tlen);
    return stamp_base_len(m) + tlen;
}

SK_TEST(tlv_walk_every_prefix)
{
    static const unsigned char tlvs[] = {
        0, 1, 0, 3, 'a', 'b', 'c',            /* padding */
        0, 4, 0, 4, 0xb8, 0, 0, 0,            /* CoS, DSCP1 46 */
        0, 200, 0, 0,                         /* unknown, empty */
    };
    unsigned char b[256];
    size_t len = build(b, STAMP_UNAUTH, tlvs, sizeof(tlvs));

    for (size_t cut = STAMP_BASE_LEN; cut <= len; cut++) {
        size_t off = STAMP_BASE_LEN, whole = 0;
        stamp_tlv t;
        stamp_tlv_step st;

        while ((st = stamp_tlv_next(b, cut, &off, &t)) == STAMP_TLV_OK)
            whole++;
        /* The TLVs end at 51, 59 and 63. */
        CHECK_EQ(whole, (size_t)(cut >= 63 ? 3 : cut >= 59 ? 2 : cut >= 51 ? 1 : 0));
        if (cut == 51 || cut == 59 || cut == 63 || cut == STAMP_BASE_LEN)
            CHECK_EQ(st, STAMP_TLV_END);
        else if (cut - off < STAMP_TLV_HDR)
            CHECK_EQ(st, STAMP_TLV_TRUNCATED);
        else
            CHECK_EQ(st, STAMP_TLV_OVERRUN);
    }
}

SK_TEST(tlv_put)
{
    unsigned char b[8];

    CHECK_EQ(stamp_tlv_put(b, sizeof(b), 0, STAMP_TLV_COS, NULL, 4), 8);
    CHECK_MEM(b, "\0\4\0\4\0\0\0\0", 8);
    CHECK_EQ(stamp_tlv_put(b, sizeof(b), 0, STAMP_TLV_COS, NULL, 5), 0);
    CHECK_EQ(stamp_tlv_put(b, 3, 0, STAMP_TLV_PADDING, NULL, 0), 0);
}

static const stamp_reflect_info info = {
    .seq = 77, .receive = UINT64_C(0x5555555566666666), .error_estimate = 0x8010,
    .ttl = 64, .tos = 0xb9, /* DSCP 46, ECN 1 */
    .sync_src = STAMP_SYNC_NTP, .ts_in = STAMP_TSM_SW, .ts_out = STAMP_TSM_CONTROL,
    .rx_count = 10, .tx_count = 9,
};

SK_TEST(reflect_base_fields)
{
    unsigned char req[STAMP_BASE_LEN], out[STAMP_BASE_LEN];
    stamp_sender s = {0xdeadbeef, UINT64_C(0x0102030405060708), 0x8005, 42};
    stamp_reflector r;
    stamp_reflect_report rep;

    stamp_sender_encode(&s, STAMP_UNAUTH, req);
    CHECK_EQ(stamp_request_check(&s, STAMP_UNAUTH, NULL, req, sizeof(req)), STAMP_REQUEST_OK);
    CHECK_EQ(stamp_request_check(&s, STAMP_UNAUTH, NULL, req, 43), STAMP_DROP_SHORT);
    stamp_reflect(out, req, sizeof(req), STAMP_UNAUTH, NULL, &s, &info, &rep);
    stamp_reflect_finish(out, sizeof(out), STAMP_UNAUTH, NULL, UINT64_C(0x5555555577777777));
    CHECK_EQ(stamp_reflector_decode(&r, STAMP_UNAUTH, out, sizeof(out)), STAMP_BASE_LEN);
    CHECK_EQ(r.seq, 77);
    CHECK(r.timestamp == UINT64_C(0x5555555577777777));
    CHECK(r.receive == info.receive);
    CHECK_EQ(r.error_estimate, 0x8010);
    CHECK_EQ(r.ssid, 42);
    CHECK(r.sender_seq == 0xdeadbeef && r.sender_timestamp == s.timestamp);
    CHECK_EQ(r.sender_error_estimate, 0x8005);
    CHECK_EQ(r.sender_ttl, 64);
    CHECK_EQ(rep.tlvs, 0);
}

SK_TEST(reflect_tlvs_answered)
{
    static const unsigned char tlvs[] = {
        0, 1, 0, 2, 'x', 'y',                  /* padding: copied */
        0, 3, 0, 4, 0, 0, 0, 0,                /* timestamp information */
        0, 4, 0, 4, 0xb8, 0, 0, 0,             /* CoS, DSCP1 46 */
        0, 5, 0, 12, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, /* direct, S_TxC 5 */
        0, 4, 0, 3, 1, 2, 3,                   /* CoS of the wrong length */
        0, 99, 0, 1, 7,                        /* unknown */
        0, 1, 0, 9, 1,                         /* overruns */
    };
    unsigned char req[256], out[256];
    size_t len = build(req, STAMP_UNAUTH, tlvs, sizeof(tlvs));
    size_t b = STAMP_BASE_LEN;
    stamp_sender s;
    stamp_reflect_report rep;

    CHECK_EQ(stamp_request_check(&s, STAMP_UNAUTH, NULL, req, len), STAMP_REQUEST_OK);
    stamp_reflect(out, req, len, STAMP_UNAUTH, NULL, &s, &info, &rep);
    CHECK_EQ(rep.tlvs, 7);
    CHECK_EQ(rep.unknown, 1);
    CHECK_EQ(rep.malformed, 2);
    CHECK_MEM(out + b, "\0\1\0\2xy", 6);
    CHECK_MEM(out + b + 6, "\0\3\0\4\1\2\1\3", 8);
    /* DSCP1 46, DSCP2 46, ECN 1, RP 1: 101110 101110 01 01 */
    CHECK_MEM(out + b + 14, "\0\4\0\4\xba\xe5\0\0", 8);
    CHECK_MEM(out + b + 22, "\0\5\0\x0c\0\0\0\5\0\0\0\x0a\0\0\0\x09", 16);
    CHECK_MEM(out + b + 38, "\x40\4\0\3\1\2\3", 7);
    CHECK_MEM(out + b + 45, "\x80\x63\0\1\7", 5);
    CHECK_MEM(out + b + 50, "\x40\1\0\x09\1", 5);
}

SK_TEST(reflect_zero_padding_copied)
{
    unsigned char req[100] = {0}, out[100];
    stamp_sender s = {1, 2, 3, 4};
    stamp_reflect_report rep;

    stamp_sender_encode(&s, STAMP_UNAUTH, req);
    stamp_reflect(out, req, sizeof(req), STAMP_UNAUTH, NULL, &s, &info, &rep);
    CHECK_EQ(rep.tlvs, 0);
    for (size_t i = STAMP_BASE_LEN; i < sizeof(out); i++)
        CHECK_EQ(out[i], 0);
}

SK_TEST(reflect_authenticated)
{
    unsigned char req[STAMP_AUTH_LEN + 32], out[sizeof(req)];
    unsigned char tlvs[32];
    size_t len, off = 0;
    stamp_sender s = {5, 6, 7, 8};
    stamp_reflector r;
    stamp_reflect_report rep;
    stamp_key other = test_key;

    off += stamp_tlv_put(tlvs, sizeof(tlvs), 0, STAMP_TLV_PADDING, "pp", 2);
    off += stamp_tlv_put(tlvs + off, sizeof(tlvs) - off, 0, STAMP_TLV_HMAC, NULL, 16);
    len = build(req, STAMP_AUTH, tlvs, off);
    CHECK_EQ(len, STAMP_AUTH_LEN + 26);
    stamp_tlv_hmac(&test_key, req, STAMP_AUTH_LEN, STAMP_AUTH_LEN + 6,
                   req + STAMP_AUTH_LEN + 10);
    stamp_auth_sign(&test_key, req);
    CHECK_EQ(stamp_request_check(&s, STAMP_AUTH, &test_key, req, len), STAMP_REQUEST_OK);
    other.bytes[0] ^= 0xff;
    CHECK_EQ(stamp_request_check(&s, STAMP_AUTH, &other, req, len), STAMP_DROP_HMAC);
    CHECK_EQ(stamp_request_check(&s, STAMP_AUTH, &test_key, req, 111), STAMP_DROP_SHORT);

    stamp_reflect(out, req, len, STAMP_AUTH, &test_key, &s, &info, &rep);
    CHECK(!rep.integrity_failed);
    stamp_reflect_finish(out, len, STAMP_AUTH, &test_key, 99);
    CHECK(stamp_auth_verify(&test_key, out));
    CHECK_EQ(stamp_reflector_decode(&r, STAMP_AUTH, out, len), STAMP_AUTH_LEN);
    CHECK(r.timestamp == 99 && r.sender_seq == 1); /* build()'s sender */
    {
        unsigned char want[STAMP_HMAC_LEN];
        stamp_tlv_hmac(&test_key, out, STAMP_AUTH_LEN, STAMP_AUTH_LEN + 6, want);
        CHECK_MEM(out + STAMP_AUTH_LEN + 10, want, 16);
    }

    /* A TLV changed on the way: the base HMAC still holds (it does not
     * cover TLVs), the HMAC TLV does not; every TLV comes back with I. */
    req[STAMP_AUTH_LEN + 4] ^= 1;
    stamp_reflect(out, req, len, STAMP_AUTH, &test_key, &s, &info, &rep);
    CHECK(rep.integrity_failed);
    CHECK_EQ(out[STAMP_AUTH_LEN], STAMP_TLV_I);
    CHECK_EQ(out[STAMP_AUTH_LEN + 6], STAMP_TLV_I);
}

SK_TEST(tlv_hmac_matches_python)
{
    unsigned char pkt[STAMP_BASE_LEN + 8 + 20], out[16];

    for (int i = 0; i < 4; i++)
        pkt[i] = (unsigned char)i;
    memcpy(pkt + STAMP_BASE_LEN, "\0\1\0\4\1\2\3\4", 8);
    stamp_tlv_hmac(&test_key, pkt, STAMP_BASE_LEN, STAMP_BASE_LEN + 8, out);
    /* hmac.new(bytes(range(32)), bytes(range(4)) + b'\0\1\0\4\1\2\3\4',
     *          sha256).hexdigest()[:32] */
    CHECK_MEM(out, "\x1b\x56\x3d\x7b\x50\x61\x68\x8b\x39\xd4\x53\xce\xd7\xa6\xe2\x1b", 16);
}

SK_TEST(delays)
{
    uint64_t t1 = ntp_ts_from_unix(1000, 0), t2 = ntp_ts_from_unix(1000, 3000000);
    uint64_t t3 = ntp_ts_from_unix(1000, 4000000), t4 = ntp_ts_from_unix(1000, 10000000);
    stamp_delays d = stamp_delays_compute(t1, t2, t3, t4);

    CHECK(fabs(d.rtt - 0.009) < 1e-9);
    CHECK(fabs(d.forward - 0.003) < 1e-9);
    CHECK(fabs(d.backward - 0.006) < 1e-9);
}

SK_TEST(verdict_names)
{
    CHECK_STR(stamp_verdict_name(STAMP_DROP_SHORT), "short");
    CHECK_STR(stamp_verdict_name(STAMP_DROP_HMAC), "hmac");
    CHECK_STR(stamp_verdict_name(STAMP_NVERDICTS), "unknown");
}
