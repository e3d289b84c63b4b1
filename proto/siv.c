/* SPDX-License-Identifier: MIT */
/*
 * proto/siv.c - AES-SIV (RFC 5297) from OpenSSL 3's CMAC and AES-CTR (see
 * siv.h).  The two halves of the key:
 *
 *   K1  S2V (section 2.4): a CMAC chain over the components and the
 *       plaintext, whose result V is both the tag and the counter's seed
 *   K2  AES-CTR from Q = V with bits 63 and 31 cleared (section 2.5)
 *
 * Cost per message: one CMAC per component plus two (the zero block and
 * the last), and one CTR pass; no allocation.  siv_setkey costs two AES
 * key schedules.
 */
#include "siv.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define BLOCK 16

struct siv {
    EVP_MAC *mac;
    EVP_MAC_CTX *cmac;
    EVP_CIPHER *ctr[3];  /* AES-128, -192, -256 in CTR mode */
    EVP_CIPHER_CTX *cctx;
    size_t half;         /* 0: no key yet */
    unsigned char d0[BLOCK]; /* CMAC(K1, zero block): the start of every S2V */
};

static const char *const cbc_names[3] = {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"};
static const char *const ctr_names[3] = {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"};

int siv_new(siv **out)
{
    siv *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return -ENOMEM;
    s->mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    s->cmac = s->mac != NULL ? EVP_MAC_CTX_new(s->mac) : NULL;
    s->cctx = EVP_CIPHER_CTX_new();
    for (int i = 0; i < 3; i++)
        s->ctr[i] = EVP_CIPHER_fetch(NULL, ctr_names[i], NULL);
    if (s->cmac == NULL || s->cctx == NULL || s->ctr[0] == NULL || s->ctr[1] == NULL ||
        s->ctr[2] == NULL) {
        siv_free(s);
        return -ENOSYS;
    }
    *out = s;
    return 0;
}

void siv_free(siv *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s->d0, sizeof(s->d0));
    EVP_CIPHER_CTX_free(s->cctx);
    for (int i = 0; i < 3; i++)
        EVP_CIPHER_free(s->ctr[i]);
    EVP_MAC_CTX_free(s->cmac);
    EVP_MAC_free(s->mac);
    free(s);
}

/* ---- CMAC and the doubling of S2V ----------------------------------------- */

/* Starts a CMAC under the installed K1. */
static bool cmac_start(siv *s)
{
    return EVP_MAC_init(s->cmac, NULL, 0, NULL) == 1;
}

static bool cmac_add(siv *s, const void *data, size_t len)
{
    return len == 0 || EVP_MAC_update(s->cmac, data, len) == 1;
}

static bool cmac_end(siv *s, unsigned char out[BLOCK])
{
    size_t n = 0;

    return EVP_MAC_final(s->cmac, out, &n, BLOCK) == 1 && n == BLOCK;
}

static bool cmac(siv *s, const void *data, size_t len, unsigned char out[BLOCK])
{
    return cmac_start(s) && cmac_add(s, data, len) && cmac_end(s, out);
}

/* Multiplication by x in GF(2^128) (RFC 5297 section 2.3). */
static void dbl(unsigned char b[BLOCK])
{
    unsigned carry = b[0] >> 7;

    for (int i = 0; i < BLOCK - 1; i++)
        b[i] = (unsigned char)(b[i] << 1 | b[i + 1] >> 7);
    b[BLOCK - 1] = (unsigned char)(b[BLOCK - 1] << 1 ^ (carry ? 0x87 : 0));
}

static void xor_block(unsigned char *dst, const unsigned char *src)
{
    for (int i = 0; i < BLOCK; i++)
        dst[i] ^= src[i];
}

/* S2V(K1, parts..., msg) into v (RFC 5297 section 2.4). */
static bool s2v(siv *s, const siv_part *parts, size_t nparts, const unsigned char *msg,
                size_t len, unsigned char v[BLOCK])
{
    unsigned char d[BLOCK], t[BLOCK];

    memcpy(d, s->d0, BLOCK);
    for (size_t i = 0; i < nparts; i++) {
        if (!cmac(s, parts[i].data, parts[i].len, t))
            return false;
        dbl(d);
        xor_block(d, t);
    }
    if (len >= BLOCK) {
        /* T = msg xorend D: all but the last block as they are. */
        memcpy(t, msg + len - BLOCK, BLOCK);
        xor_block(t, d);
        return cmac_start(s) && cmac_add(s, msg, len - BLOCK) && cmac_add(s, t, BLOCK) &&
               cmac_end(s, v);
    }
    /* T = dbl(D) xor pad(msg), pad = msg || 0x80 || zeros. */
    dbl(d);
    memset(t, 0, BLOCK);
    if (len > 0)
        memcpy(t, msg, len);
    t[len] = 0x80;
    xor_block(t, d);
    return cmac(s, t, BLOCK, v);
}

/* ---- keys and CTR ------------------------------------------------------------- */

int siv_setkey(siv *s, const void *key, size_t keylen)
{
    static const unsigned char zero[BLOCK];
    size_t half = keylen / 2;
    int k = (int)(half / 8) - 2; /* 16 -> 0, 24 -> 1, 32 -> 2 */
    OSSL_PARAM params[2] = {OSSL_PARAM_END, OSSL_PARAM_END};

    if (keylen != 32 && keylen != 48 && keylen != 64)
        return -EINVAL;
    if (half != s->half) /* the CBC cipher is looked up only when it changes */
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
                                                     (char *)cbc_names[k], 0);
    s->half = 0;
    if (EVP_MAC_init(s->cmac, key, half, params) != 1 ||
        EVP_EncryptInit_ex2(s->cctx, s->ctr[k], (const unsigned char *)key + half, NULL,
                            NULL) != 1 ||
        !cmac(s, zero, BLOCK, s->d0))
        return -EIO;
    s->half = half;
    return 0;
}

/* out = in XOR the CTR keystream from Q (V with bits 63 and 31 cleared). */
static bool ctr(siv *s, const unsigned char v[BLOCK], const void *in, size_t len, void *out)
{
    unsigned char q[BLOCK];
    int n = 0;

    if (len == 0)
        return true;
    memcpy(q, v, BLOCK);
    q[8] &= 0x7f;
    q[12] &= 0x7f;
    return EVP_EncryptInit_ex2(s->cctx, NULL, NULL, q, NULL) == 1 &&
           EVP_EncryptUpdate(s->cctx, out, &n, in, (int)len) == 1 && (size_t)n == len;
}

static int check_args(const siv *s, size_t nparts, size_t len)
{
    if (s->half == 0 || nparts > SIV_MAX_PARTS || len > INT_MAX - BLOCK)
        return -EINVAL;
    return 0;
}

/* ---- the AEAD ----------------------------------------------------------------- */

int siv_seal(siv *s, const siv_part *parts, size_t nparts, const void *pt, size_t len,
             void *out)
{
    unsigned char *o = out;
    int rc = check_args(s, nparts, len);

    if (rc < 0)
        return rc;
    if (!s2v(s, parts, nparts, pt, len, o) || !ctr(s, o, pt, len, o + BLOCK))
        return -EIO;
    return 0;
}

int siv_open(siv *s, const siv_part *parts, size_t nparts, const void *in, size_t len,
             void *pt)
{
    const unsigned char *i = in;
    unsigned char v[BLOCK];
    int rc;

    if (len < BLOCK)
        return -EBADMSG;
    rc = check_args(s, nparts, len - BLOCK);
    if (rc < 0)
        return rc;
    if (!ctr(s, i, i + BLOCK, len - BLOCK, pt) || !s2v(s, parts, nparts, pt, len - BLOCK, v))
        return -EIO;
    if (CRYPTO_memcmp(v, i, BLOCK) != 0) {
        OPENSSL_cleanse(pt, len - BLOCK);
        return -EBADMSG;
    }
    return 0;
}
