/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_nts_ef.c - the NTP extension-field parser and the
 * authenticator (proto/nts.c).
 *
 * Input: [ctl][packet...], the packet decoded from a block of exactly its
 * size.  Properties:
 *  - nts_ntp_parse accepts exactly when an independent walk over the field
 *    headers covers the packet (lengths >= 16, multiples of 4) and the
 *    layout rules hold; it counts the same fields;
 *  - what it returns lies inside the packet, and an authenticator found is
 *    the last field;
 *  - an authenticator that was not made with our key never verifies
 *    (random data against a 128-bit tag);
 *  - sealing the packet's fields before the authenticator (or all of them
 *    when there is none) with nts_auth_put gives a packet that parses and
 *    opens, and flipping the byte ctl points at (but in the padding after
 *    the ciphertext) makes it fail to parse or to open.
 */
#include "fuzz.h"

#include "nts.h"

#include <errno.h>

static siv *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const unsigned char k[32] = "fuzzing key, thirty-two bytes!!";

    (void)argc;
    (void)argv;
    if (siv_new(&key) != 0 || siv_setkey(key, k, sizeof(k)) != 0)
        FUZZ_FAIL("no AES-SIV");
    return 0;
}

/* Fields by their headers alone; -1 when they do not tile the packet. */
static long walk(const unsigned char *b, size_t len)
{
    long n = 0;

    for (size_t off = 48; off < len; n++) {
        size_t size;

        if (len - off < 4)
            return -1;
        size = (size_t)b[off + 2] << 8 | b[off + 3];
        if (size < 16 || size % 4 || size > len - off)
            return -1;
        off += size;
    }
    return n;
}

static bool inside(const unsigned char *p, size_t n, const unsigned char *b, size_t len)
{
    return p == NULL || (p >= b && p + n <= b + len);
}

static void check_fields(const nts_ntp_fields *f, const unsigned char *b, size_t len)
{
    unsigned char pt[2048];
    size_t ptlen;

    FUZZ_ASSERT(inside(f->uid.body, f->uid.len, b, len) &&
                    inside(f->cookie.body, f->cookie.len, b, len) &&
                    inside(f->nonce, f->nonce_len, b, len) &&
                    inside(f->ciphertext, f->ciphertext_len, b, len),
                "a field points outside the packet");
    if (f->auth_off == 0)
        return;
    FUZZ_ASSERT(f->auth_off >= 48 && f->ciphertext + f->ciphertext_len <= b + len,
                "authenticator at %zu", f->auth_off);
    FUZZ_ASSERT(nts_auth_open(f, b, key, pt, sizeof(pt), &ptlen) != 0,
                "a random authenticator verified");
}

/* Seals b[0..ad) into a fresh packet, checks it opens, then flips one byte. */
static void check_seal(const unsigned char *b, size_t ad, unsigned ctl)
{
    static unsigned char pkt[4096];
    unsigned char pt[64], out[64];
    nts_buf w = {pkt, sizeof(pkt), ad, false};
    nts_ntp_fields f;
    size_t ptlen = 0, at;

    if (ad + 128 > sizeof(pkt))
        return;
    memcpy(pkt, b, ad);
    memset(pt, (int)ctl, sizeof(pt));
    FUZZ_ASSERT(nts_auth_put(&w, key, "nonce, sixteen!!", 16, pt, ctl % 33, 0) == 0, "put");
    FUZZ_ASSERT(nts_ntp_parse(&f, pkt, w.len) == 0 && f.auth_off == ad, "sealed: %s",
                f.why ? f.why : "auth_off");
    FUZZ_ASSERT(nts_auth_open(&f, pkt, key, out, sizeof(out), &ptlen) == 0 &&
                    ptlen == ctl % 33 && memcmp(out, pt, ptlen) == 0,
                "sealed packet does not open");
    at = (ctl * 131u) % w.len;
    if (at >= ad + 8 + 16 + SIV_TAG_LEN + ctl % 33)
        return; /* the ciphertext's padding, which nothing authenticates */
    pkt[at] ^= (unsigned char)(1u << (ctl % 8));
    if (nts_ntp_parse(&f, pkt, w.len) == 0 && f.auth_off == ad)
        FUZZ_ASSERT(nts_auth_open(&f, pkt, key, out, sizeof(out), &ptlen) != 0,
                    "byte %zu flipped, still opens", at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned ctl = size > 0 ? data[0] : 0;
    size_t len = size > 0 ? size - 1 : 0;
    unsigned char *b = fuzz_memdup(data + (size > 0), len);
    nts_ntp_fields f;
    int rc = nts_ntp_parse(&f, b, len);
    long n = len >= 48 ? walk(b, len) : -1;

    if (rc == 0) {
        FUZZ_ASSERT(n >= 0 && (size_t)n == f.fields, "fields %zu, walk %ld", f.fields, n);
        check_fields(&f, b, len);
        check_seal(b, f.auth_off ? f.auth_off : len, ctl);
    } else {
        FUZZ_ASSERT(rc == -EBADMSG && f.why != NULL, "rc %d", rc);
        FUZZ_ASSERT(n < 0 || n > 0, "an empty field list refused: %s", f.why);
    }
    free(b);
    return 0;
}
