/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_nts.c - proto/nts.c without sockets: NTS-KE messages
 * built and parsed whole and split at every byte, the server's and the
 * client's verdicts, malformed and oversize records, NTP extension fields,
 * an NTS request and reply sealed and opened (and tampered with), every
 * truncation of a packet refused, and the cookie format.
 */
#include "sk_test.h"

#include "nts.h"

#include <errno.h>

static size_t ke_request(unsigned char *out, size_t cap, const uint16_t *aeads, size_t n)
{
    nts_buf b = {out, cap, 0, false};
    uint16_t proto = NTS_PROTO_NTPV4;

    nts_ke_put_u16(&b, true, NTS_KE_NEXT_PROTOCOL, &proto, 1);
    nts_ke_put_u16(&b, true, NTS_KE_AEAD, aeads, n);
    nts_ke_put(&b, true, NTS_KE_END, NULL, 0);
    CHECK(!b.overflow);
    return b.len;
}

SK_TEST(ke_request_parses_only_when_whole)
{
    unsigned char buf[64];
    uint16_t aeads[2] = {30, NTS_AEAD_AES_SIV_CMAC_256}, chosen = 0, err = 99;
    size_t len = ke_request(buf, sizeof(buf), aeads, 2);
    nts_ke_msg m;

    CHECK_EQ(len, 6 + 8 + 4);
    for (size_t i = 0; i < len; i++)
        CHECK_EQ(nts_ke_msg_parse(&m, buf, i), 0);
    buf[len] = 0x80; /* the start of whatever follows is not read */
    CHECK_EQ(nts_ke_msg_parse(&m, buf, len + 1), (int)len);
    CHECK_EQ(m.n_next_protocol, 1);
    CHECK_EQ(m.aeads, 2);
    CHECK_EQ(m.aead[1], NTS_AEAD_AES_SIV_CMAC_256);
    CHECK(nts_ke_request_check(&m, &chosen, &err));
    CHECK_EQ(chosen, NTS_AEAD_AES_SIV_CMAC_256);
}

SK_TEST(ke_request_verdicts)
{
    unsigned char buf[128];
    uint16_t only30 = 30, ok = NTS_AEAD_AES_SIV_CMAC_256, a = 0, err = 99;
    nts_ke_msg m;
    nts_buf b = {buf, sizeof(buf), 0, false};

    CHECK(nts_ke_msg_parse(&m, buf, ke_request(buf, sizeof(buf), &only30, 1)) > 0);
    CHECK(!nts_ke_request_check(&m, &a, &err));
    CHECK_EQ(err, NTS_KE_ERR_BAD_REQUEST);
    /* an unknown critical record, before everything else */
    nts_ke_put(&b, true, 0x4321, "x", 1);
    b.len += ke_request(buf + b.len, sizeof(buf) - b.len, &ok, 1);
    CHECK_EQ(nts_ke_msg_parse(&m, buf, b.len), (int)b.len);
    CHECK(m.unknown_critical);
    CHECK_EQ(m.unknown_type, 0x4321);
    CHECK(!nts_ke_request_check(&m, &a, &err));
    CHECK_EQ(err, NTS_KE_ERR_UNRECOGNIZED_CRITICAL);
    /* the same record without the critical bit is ignored */
    buf[0] &= 0x7f;
    CHECK_EQ(nts_ke_msg_parse(&m, buf, b.len), (int)b.len);
    CHECK(nts_ke_request_check(&m, &a, &err));
    CHECK_EQ(a, NTS_AEAD_AES_SIV_CMAC_256);
    /* two AEAD records */
    b.len = 0;
    nts_ke_put_u16(&b, true, NTS_KE_AEAD, &ok, 1);
    b.len += ke_request(buf + b.len, sizeof(buf) - b.len, &ok, 1);
    CHECK(nts_ke_msg_parse(&m, buf, b.len) > 0);
    CHECK(!nts_ke_request_check(&m, &a, &err));
    CHECK_EQ(err, NTS_KE_ERR_BAD_REQUEST);
    /* no Next Protocol */
    b.len = 0;
    nts_ke_put_u16(&b, true, NTS_KE_AEAD, &ok, 1);
    nts_ke_put(&b, true, NTS_KE_END, NULL, 0);
    CHECK(nts_ke_msg_parse(&m, buf, b.len) > 0);
    CHECK(!nts_ke_request_check(&m, &a, &err));
    CHECK_EQ(err, NTS_KE_ERR_BAD_REQUEST);
}

/* A server's response: protocol, AEAD, n cookies of `clen`, server, port. */
static size_t ke_response(unsigned char *out, size_t cap, size_t n, size_t clen)
{
    nts_buf b = {out, cap, 0, false};
    uint16_t proto = NTS_PROTO_NTPV4, aead = NTS_AEAD_AES_SIV_CMAC_256, port = 12123;
    unsigned char cookie[NTS_COOKIE_MAX];

    nts_ke_put_u16(&b, true, NTS_KE_NEXT_PROTOCOL, &proto, 1);
    nts_ke_put_u16(&b, true, NTS_KE_AEAD, &aead, 1);
    for (size_t i = 0; i < n; i++) {
        memset(cookie, (int)i + 1, clen);
        nts_ke_put(&b, false, NTS_KE_COOKIE, cookie, clen);
    }
    nts_ke_put(&b, false, NTS_KE_SERVER, "ntp.example.org", 15);
    nts_ke_put_u16(&b, false, NTS_KE_PORT_REC, &port, 1);
    nts_ke_put(&b, true, NTS_KE_END, NULL, 0);
    CHECK(!b.overflow);
    return b.len;
}

SK_TEST(ke_response_split_at_every_byte)
{
    unsigned char buf[2048];
    size_t len = ke_response(buf, sizeof(buf), 10, NTS_COOKIE_LEN);
    nts_ke_msg m;

    for (size_t i = 0; i < len; i++)
        CHECK_EQ(nts_ke_msg_parse(&m, buf, i), 0);
    CHECK_EQ(nts_ke_msg_parse(&m, buf, len), (int)len);
    CHECK_EQ(nts_ke_response_check(&m), NTS_KE_RESPONSE_OK);
    CHECK_EQ(m.cookies, NTS_COOKIES_MAX);
    CHECK_EQ(m.cookies_seen, 10);
    CHECK_EQ(m.cookie_len[7], NTS_COOKIE_LEN);
    CHECK_EQ(m.cookie[7][0], 8);
    CHECK(strcmp(m.server, "ntp.example.org") == 0);
    CHECK_EQ(m.port, 12123);
}

SK_TEST(ke_response_verdicts)
{
    unsigned char buf[512];
    nts_buf b = {buf, sizeof(buf), 0, false};
    uint16_t code = NTS_KE_ERR_BAD_REQUEST, proto = 5;
    nts_ke_msg m;

    CHECK(nts_ke_msg_parse(&m, buf, ke_response(buf, sizeof(buf), 0, 0)) > 0);
    CHECK_EQ(nts_ke_response_check(&m), NTS_KE_RESPONSE_NO_COOKIES);
    nts_ke_put_u16(&b, true, NTS_KE_ERROR, &code, 1);
    nts_ke_put(&b, true, NTS_KE_END, NULL, 0);
    CHECK(nts_ke_msg_parse(&m, buf, b.len) > 0);
    CHECK_EQ(nts_ke_response_check(&m), NTS_KE_RESPONSE_ERROR);
    CHECK_EQ(m.error, NTS_KE_ERR_BAD_REQUEST);
    CHECK(strcmp(nts_ke_error_name(m.error), "bad request") == 0);
    b.len = 0;
    nts_ke_put_u16(&b, true, NTS_KE_NEXT_PROTOCOL, &proto, 1);
    nts_ke_put(&b, true, NTS_KE_END, NULL, 0);
    CHECK(nts_ke_msg_parse(&m, buf, b.len) > 0);
    CHECK_EQ(nts_ke_response_check(&m), NTS_KE_RESPONSE_PROTOCOL);
    CHECK(strcmp(nts_ke_verdict_name(NTS_KE_RESPONSE_NO_COOKIES), "no cookies") == 0);
}

/* One record of `type` with `body`, then End of Message: -EBADMSG. */
static void check_malformed(unsigned type, const void *body, size_t len)
{
    unsigned char buf[512];
    nts_buf b = {buf, sizeof(buf), 0, false};
    nts_ke_msg m;

    nts_ke_put(&b, true, type, body, len);
    nts_ke_put(&b, true, NTS_KE_END, NULL, 0);
    CHECK_EQ(nts_ke_msg_parse(&m, buf, b.len), -EBADMSG);
    CHECK_EQ(m.bad_type, type);
}

SK_TEST(ke_malformed_records)
{
    unsigned char big[NTS_COOKIE_MAX + 1];

    memset(big, 'a', sizeof(big));
    check_malformed(NTS_KE_END, "x", 1);
    check_malformed(NTS_KE_NEXT_PROTOCOL, "\0\0\0", 3);
    check_malformed(NTS_KE_AEAD, "\0", 1);
    check_malformed(NTS_KE_ERROR, "\0\0\0\0", 4);
    check_malformed(NTS_KE_WARNING, "", 0);
    check_malformed(NTS_KE_PORT_REC, "\1", 1);
    check_malformed(NTS_KE_COOKIE, "", 0);
    check_malformed(NTS_KE_COOKIE, big, sizeof(big));
    check_malformed(NTS_KE_SERVER, "", 0);
    check_malformed(NTS_KE_SERVER, "a b", 3);
    check_malformed(NTS_KE_SERVER, "a\nb", 3);
    check_malformed(NTS_KE_SERVER, big, NTS_KE_SERVER_MAX + 1);
}

SK_TEST(ke_oversize_refused)
{
    static unsigned char buf[NTS_KE_MESSAGE_MAX + 64], body[NTS_KE_MESSAGE_MAX];
    nts_buf b = {buf, sizeof(buf), 0, false};
    nts_ke_msg m;

    /* A record announcing a body that would end past the limit: refused
     * from its header on, without waiting for the body. */
    nts_ke_put(&b, false, 0x55, body, NTS_KE_MESSAGE_MAX);
    CHECK_EQ(nts_ke_msg_parse(&m, buf, 4), -EMSGSIZE);
    /* Small records without an end, up to the limit. */
    b.len = 0;
    while (b.len < NTS_KE_MESSAGE_MAX)
        nts_ke_put(&b, false, 0x55, "abcd", 4);
    CHECK_EQ(nts_ke_msg_parse(&m, buf, NTS_KE_MESSAGE_MAX - 8), 0);
    CHECK_EQ(nts_ke_msg_parse(&m, buf, b.len), -EMSGSIZE);
    /* Overflowing the caller's buffer is reported, not written. */
    b = (nts_buf){buf, 10, 0, false};
    nts_ke_put(&b, false, 0x55, "abcdefg", 7);
    CHECK(b.overflow);
    CHECK_EQ(b.len, 0);
}

SK_TEST(ef_lengths)
{
    unsigned char f[32] = {0x01, 0x04, 0x00, 16};
    nts_ef ef;

    CHECK_EQ(nts_ef_parse(&ef, f, 16), 16);
    CHECK_EQ(ef.type, NTS_EF_UNIQUE_ID);
    CHECK_EQ(ef.len, 12);
    CHECK_EQ(nts_ef_parse(&ef, f, 15), -EBADMSG); /* beyond the buffer */
    CHECK_EQ(nts_ef_parse(&ef, f, 3), -EBADMSG);
    f[3] = 12; /* under RFC 7822's minimum */
    CHECK_EQ(nts_ef_parse(&ef, f, 32), -EBADMSG);
    f[3] = 18; /* not a multiple of 4 */
    CHECK_EQ(nts_ef_parse(&ef, f, 32), -EBADMSG);
    f[3] = 20;
    CHECK_EQ(nts_ef_parse(&ef, f, 32), 20);
}

static const unsigned char c2s_key[32] = "client to server key, 32 bytes!";
static const unsigned char s2c_key[32] = "server to client key, 32 bytes!";

static siv *siv_keyed(const unsigned char *key)
{
    siv *s = NULL;

    CHECK_EQ(siv_new(&s), 0);
    CHECK_EQ(siv_setkey(s, key, 32), 0);
    return s;
}

/* An NTS request: header, UID, cookie, one placeholder, authenticator. */
static size_t nts_request(unsigned char *pkt, size_t cap, siv *c2s)
{
    nts_buf b = {pkt, cap, 48, false};
    unsigned char uid[NTS_UID_LEN], cookie[NTS_COOKIE_LEN], nonce[NTS_NONCE_LEN];

    memset(pkt, 0, 48);
    pkt[0] = 0x23;
    memset(uid, 0x11, sizeof(uid));
    memset(cookie, 0x22, sizeof(cookie));
    memset(nonce, 0x33, sizeof(nonce));
    nts_ef_put(&b, NTS_EF_UNIQUE_ID, uid, sizeof(uid));
    nts_ef_put(&b, NTS_EF_COOKIE, cookie, sizeof(cookie));
    nts_ef_put(&b, NTS_EF_COOKIE_PLACEHOLDER, NULL, sizeof(cookie));
    CHECK_EQ(nts_auth_put(&b, c2s, nonce, sizeof(nonce), NULL, 0, 0), 0);
    return b.len;
}

SK_TEST(ntp_request_seal_parse_open)
{
    unsigned char pkt[512], pt[64];
    siv *c2s = siv_keyed(c2s_key), *s2c = siv_keyed(s2c_key);
    size_t len = nts_request(pkt, sizeof(pkt), c2s), ptlen = 99;
    nts_ntp_fields f;

    CHECK_EQ(len, 48 + 36 + 108 + 108 + 40);
    CHECK_EQ(nts_ntp_parse(&f, pkt, len), 0);
    CHECK_EQ(f.fields, 4);
    CHECK_EQ(f.uid.len, NTS_UID_LEN);
    CHECK_EQ(f.cookie.len, NTS_COOKIE_LEN);
    CHECK_EQ(f.placeholders, 1);
    CHECK_EQ(f.auth_off, len - 40);
    CHECK_EQ(f.nonce_len, NTS_NONCE_LEN);
    CHECK_EQ(f.ciphertext_len, SIV_TAG_LEN);
    CHECK_EQ(nts_auth_open(&f, pkt, c2s, pt, sizeof(pt), &ptlen), 0);
    CHECK_EQ(ptlen, 0);
    CHECK_EQ(nts_auth_open(&f, pkt, s2c, pt, sizeof(pt), &ptlen), -EBADMSG);
    /* A flipped bit anywhere in the authenticated part or the tag. */
    for (size_t i = 0; i < len; i++) {
        if (i >= f.auth_off && i < f.auth_off + 8)
            continue; /* the lengths: the parse itself changes */
        pkt[i] ^= 0x40;
        if (nts_ntp_parse(&f, pkt, len) == 0)
            CHECK_EQ(nts_auth_open(&f, pkt, c2s, pt, sizeof(pt), &ptlen), -EBADMSG);
        pkt[i] ^= 0x40;
    }
    siv_free(c2s);
    siv_free(s2c);
}

SK_TEST(ntp_reply_carries_encrypted_cookies)
{
    unsigned char pkt[512], plain[256], pt[256];
    siv *s2c = siv_keyed(s2c_key);
    nts_buf b = {pkt, sizeof(pkt), 48, false}, p = {plain, sizeof(plain), 0, false};
    unsigned char uid[NTS_UID_LEN], cookie[NTS_COOKIE_LEN], nonce[NTS_NONCE_LEN];
    nts_ntp_fields f;
    nts_ef inner;
    size_t ptlen = 0;

    memset(pkt, 0, 48);
    memset(uid, 0x11, sizeof(uid));
    memset(cookie, 0x44, sizeof(cookie));
    memset(nonce, 0x55, sizeof(nonce));
    nts_ef_put(&b, NTS_EF_UNIQUE_ID, uid, sizeof(uid));
    nts_ef_put(&p, NTS_EF_COOKIE, cookie, sizeof(cookie));
    nts_ef_put(&p, NTS_EF_COOKIE, cookie, sizeof(cookie));
    CHECK_EQ(nts_auth_put(&b, s2c, nonce, sizeof(nonce), plain, p.len, 300), 0);
    CHECK_EQ(b.len, 48 + 36 + 300); /* padded up to min_size */
    CHECK_EQ(nts_ntp_parse(&f, pkt, b.len), 0);
    CHECK_EQ(nts_auth_open(&f, pkt, s2c, pt, sizeof(pt), &ptlen), 0);
    CHECK_EQ(ptlen, 2 * 108);
    CHECK(memcmp(pt, plain, ptlen) == 0);
    CHECK_EQ(nts_auth_open(&f, pkt, s2c, pt, 100, &ptlen), -ENOBUFS);
    /* the plaintext is extension fields too */
    CHECK_EQ(nts_ef_parse(&inner, pt, ptlen), 108);
    CHECK_EQ(inner.type, NTS_EF_COOKIE);
    CHECK_EQ(nts_ef_parse(&inner, pt + 108, ptlen - 108), 108);
    CHECK(memcmp(inner.body, cookie, sizeof(cookie)) == 0);
    siv_free(s2c);
}

SK_TEST(ntp_truncations_and_bad_layouts_refused)
{
    unsigned char pkt[512], copy[512];
    siv *c2s = siv_keyed(c2s_key);
    size_t len = nts_request(pkt, sizeof(pkt), c2s);
    size_t bounds[] = {48, 84, 192, 300, len};
    nts_ntp_fields f;

    for (size_t cut = 48; cut < len; cut++) {
        bool boundary = false;

        for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
            boundary |= cut == bounds[i];
        CHECK_EQ(nts_ntp_parse(&f, pkt, cut), boundary ? 0 : -EBADMSG);
        if (boundary)
            CHECK_EQ(f.auth_off, 0);
    }
    /* an authenticator that is not the last field */
    memcpy(copy, pkt, len);
    memcpy(copy + len, pkt + 48, 36);
    CHECK_EQ(nts_ntp_parse(&f, copy, len + 36), -EBADMSG);
    CHECK(strcmp(f.why, "authenticator is not the last field") == 0);
    /* two unique identifiers */
    memcpy(copy + 48 + 36, pkt + 48, len - 48);
    CHECK_EQ(nts_ntp_parse(&f, copy, len + 36), -EBADMSG);
    /* a placeholder shorter than the cookie */
    memcpy(copy, pkt, len);
    copy[192 + 3] = 104;
    memset(copy + 192 + 104, 0, 4); /* leaves a 4-byte field: refused as well */
    CHECK_EQ(nts_ntp_parse(&f, copy, len), -EBADMSG);
    /* an empty nonce, a ciphertext shorter than the tag */
    memcpy(copy, pkt, len);
    copy[300 + 5] = 0;
    CHECK_EQ(nts_ntp_parse(&f, copy, len), -EBADMSG);
    memcpy(copy, pkt, len);
    copy[300 + 7] = 15;
    CHECK_EQ(nts_ntp_parse(&f, copy, len), -EBADMSG);
    siv_free(c2s);
}

SK_TEST(cookie_seal_open)
{
    unsigned char master_a[32], master_b[32], nonce[16], cookie[NTS_COOKIE_LEN];
    nts_keys k = {NTS_AEAD_AES_SIV_CMAC_256, {0}, {0}}, back;
    siv *a, *bkey;
    uint32_t id = 0;

    memset(master_a, 0xa5, sizeof(master_a));
    memset(master_b, 0x5a, sizeof(master_b));
    memset(nonce, 7, sizeof(nonce));
    memcpy(k.c2s, c2s_key, 32);
    memcpy(k.s2c, s2c_key, 32);
    a = siv_keyed(master_a);
    bkey = siv_keyed(master_b);
    CHECK_EQ(nts_cookie_seal(a, 0xdeadbeef, nonce, &k, cookie), 0);
    CHECK(nts_cookie_key_id(cookie, sizeof(cookie), &id));
    CHECK_EQ(id, 0xdeadbeef);
    CHECK(!nts_cookie_key_id(cookie, sizeof(cookie) - 4, &id));
    CHECK_EQ(nts_cookie_open(a, cookie, sizeof(cookie), &back), 0);
    CHECK(memcmp(&back, &k, sizeof(k)) == 0);
    CHECK_EQ(nts_cookie_open(bkey, cookie, sizeof(cookie), &back), -EBADMSG);
    CHECK_EQ(nts_cookie_open(a, cookie, sizeof(cookie) - 1, &back), -EBADMSG);
    for (size_t i = 0; i < sizeof(cookie); i++) {
        cookie[i] ^= 1;
        CHECK_EQ(nts_cookie_open(a, cookie, sizeof(cookie), &back), -EBADMSG);
        cookie[i] ^= 1;
    }
    siv_free(a);
    siv_free(bkey);
}
