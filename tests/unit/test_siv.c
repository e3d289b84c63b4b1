/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_siv.c - proto/siv.c: RFC 5297's appendix A vectors
 * (A.1 deterministic, A.2 nonce-based with two associated-data
 * components), empty plaintexts as NTS uses them (values computed with
 * nettle's siv_cmac_aes128, an independent implementation), every length
 * from 0 to 80 against nettle when the build found it (SK_HAVE_NETTLE),
 * tampering anywhere refused, and the 48- and 64-byte keys.
 */
#include "sk_test.h"

#include "siv.h"

#include <errno.h>
#ifdef SK_HAVE_NETTLE
#include <nettle/siv-cmac.h>
#endif

static size_t unhex(const char *h, unsigned char *out)
{
    size_t n = 0;

    for (; h[0] && h[1]; h += 2)
        out[n++] = (unsigned char)strtoul((char[3]){h[0], h[1], 0}, NULL, 16);
    return n;
}

static siv *keyed(const char *keyhex)
{
    unsigned char key[SIV_KEY_MAX];
    size_t klen = unhex(keyhex, key);
    siv *s = NULL;

    CHECK_EQ(siv_new(&s), 0);
    CHECK_EQ(siv_setkey(s, key, klen), 0);
    return s;
}

/* Seals pt under parts, compares with want (hex), opens it back. */
static void check_vector(siv *s, const siv_part *parts, size_t n, const char *pthex,
                         const char *wanthex)
{
    unsigned char pt[128], want[160], out[160], back[128];
    size_t plen = unhex(pthex, pt), wlen = unhex(wanthex, want);

    CHECK_EQ(wlen, plen + SIV_TAG_LEN);
    CHECK_EQ(siv_seal(s, parts, n, pt, plen, out), 0);
    CHECK(memcmp(out, want, wlen) == 0);
    memset(back, 0xee, sizeof(back));
    CHECK_EQ(siv_open(s, parts, n, out, wlen, back), 0);
    CHECK(memcmp(back, pt, plen) == 0);
}

SK_TEST(rfc5297_a1_deterministic)
{
    unsigned char ad[64];
    siv_part part = {ad, unhex("101112131415161718191a1b1c1d1e1f2021222324252627", ad)};
    siv *s = keyed("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");

    check_vector(s, &part, 1, "112233445566778899aabbccddee",
                 "85632d07c6e8f37f950acd320a2ecc93" "40c02b9690c4dc04daef7f6afe5c");
    siv_free(s);
}

SK_TEST(rfc5297_a2_nonce_based)
{
    unsigned char ad1[64], ad2[16], nonce[16];
    siv_part parts[3] = {
        {ad1, unhex("00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa9988"
                    "7766554433221100", ad1)},
        {ad2, unhex("102030405060708090a0", ad2)},
        {nonce, unhex("09f911029d74e35bd84156c5635688c0", nonce)},
    };
    siv *s = keyed("7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f");

    check_vector(s, parts, 3,
                 "7468697320697320736f6d6520706c61696e7465787420746f20656e63727970"
                 "74207573696e67205349562d414553",
                 "7bdb6e3b432667eb06f4d14bff2fbd0f"
                 "cb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af829"
                 "ea64ad544a272e9c485b62a3fd5c0d");
    siv_free(s);
}

/* The key, nonce and associated data of the nettle-computed vectors. */
static siv *nettle_inputs(unsigned char nonce[16], unsigned char ad[64])
{
    unsigned char key[32];

    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 7 + 1);
    for (int i = 0; i < 16; i++)
        nonce[i] = (unsigned char)(0xa0 + i);
    for (int i = 0; i < 64; i++)
        ad[i] = (unsigned char)(i * 3);
    siv *s = NULL;
    CHECK_EQ(siv_new(&s), 0);
    CHECK_EQ(siv_setkey(s, key, sizeof(key)), 0);
    return s;
}

/* An NTS client's authenticator: AEAD (associated data, nonce), nothing to
 * encrypt.  OpenSSL 3.0's own AES-SIV refuses this. */
SK_TEST(empty_plaintext_as_nts_sends_it)
{
    unsigned char nonce[16], ad[64];
    siv *s = nettle_inputs(nonce, ad);
    siv_part none[2] = {{ad, 0}, {nonce, 16}}, some[2] = {{ad, 48}, {nonce, 16}};

    check_vector(s, none, 2, "", "68c5abecc9f0d91e463d7556fcdbb5a5");
    check_vector(s, some, 2, "", "64f8e243b420b28687067702d8c6ea27");
    check_vector(s, some, 2, "68656c6c6f", "c4785f8db6b8d0c79f092ca1430aee19" "ba9b634ac5");
    siv_free(s);
}

SK_TEST(tampering_is_refused)
{
    unsigned char nonce[16], ad[64], out[40], pt[24], back[24];
    siv *s = nettle_inputs(nonce, ad);
    siv_part parts[2] = {{ad, 48}, {nonce, 16}};

    memset(pt, 0x5a, sizeof(pt));
    CHECK_EQ(siv_seal(s, parts, 2, pt, sizeof(pt), out), 0);
    for (size_t i = 0; i < sizeof(out) * 8; i++) {
        out[i / 8] ^= (unsigned char)(1u << (i % 8));
        CHECK_EQ(siv_open(s, parts, 2, out, sizeof(out), back), -EBADMSG);
        out[i / 8] ^= (unsigned char)(1u << (i % 8));
    }
    ad[3] ^= 1; /* associated data changed */
    CHECK_EQ(siv_open(s, parts, 2, out, sizeof(out), back), -EBADMSG);
    ad[3] ^= 1;
    CHECK_EQ(siv_open(s, parts, 1, out, sizeof(out), back), -EBADMSG); /* nonce dropped */
    CHECK_EQ(siv_open(s, parts, 2, out, SIV_TAG_LEN - 1, back), -EBADMSG);
    CHECK_EQ(siv_open(s, parts, 2, out, sizeof(out), back), 0);
    CHECK(memcmp(back, pt, sizeof(pt)) == 0);
    siv_free(s);
}

SK_TEST(every_key_size_round_trips)
{
    unsigned char key[SIV_KEY_MAX], msg[70], out[70 + SIV_TAG_LEN], back[70];
    siv *s = NULL;
    siv_part part = {"header", 6};

    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(255 - i);
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)i;
    CHECK_EQ(siv_new(&s), 0);
    CHECK_EQ(siv_seal(s, &part, 1, msg, 4, out), -EINVAL); /* no key yet */
    CHECK_EQ(siv_setkey(s, key, 16), -EINVAL);
    for (size_t klen = 32; klen <= 64; klen += 16) {
        CHECK_EQ(siv_setkey(s, key, klen), 0);
        for (size_t len = 0; len <= sizeof(msg); len += 7) {
            CHECK_EQ(siv_seal(s, &part, 1, msg, len, out), 0);
            CHECK_EQ(siv_open(s, &part, 1, out, len + SIV_TAG_LEN, back), 0);
            CHECK(memcmp(back, msg, len) == 0);
        }
    }
    siv_free(s);
}

SK_TEST(agrees_with_nettle_at_every_length)
{
#ifdef SK_HAVE_NETTLE
    struct siv_cmac_aes128_ctx ref;
    unsigned char nonce[16], ad[64], msg[80], ours[96], theirs[96];
    siv *s = nettle_inputs(nonce, ad);
    unsigned char key[32];

    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 7 + 1);
    siv_cmac_aes128_set_key(&ref, key);
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)(i * 13 + 5);
    for (size_t alen = 0; alen <= 64; alen += 16)
        for (size_t len = 0; len <= sizeof(msg); len++) {
            siv_part parts[2] = {{ad, alen}, {nonce, 16}};

            CHECK_EQ(siv_seal(s, parts, 2, msg, len, ours), 0);
            siv_cmac_aes128_encrypt_message(&ref, 16, nonce, alen, ad, len + SIV_TAG_LEN,
                                            theirs, msg);
            if (memcmp(ours, theirs, len + SIV_TAG_LEN) != 0)
                sk_test_fail(__FILE__, __LINE__, "differs from nettle at ad %zu, len %zu",
                             alen, len);
        }
    siv_free(s);
#else
    SK_SKIP("built without nettle (nettle-dev), the independent implementation");
#endif
}
