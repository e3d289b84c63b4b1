/* SPDX-License-Identifier: MIT */
/*
 * proto/siv.h - AES-SIV (RFC 5297): deterministic, nonce-misuse-resistant
 * authenticated encryption, built from OpenSSL 3's CMAC (EVP_MAC "CMAC")
 * and AES-CTR.  NTS (RFC 8915) uses it as AEAD_AES_SIV_CMAC_256 (AEAD id
 * 15, a 32-byte key) and AEAD_AES_SIV_CMAC_512 (id 17, 64 bytes).
 *
 *   siv_new / siv_free   a context holding the OpenSSL objects; made once
 *                        per thread, it allocates nothing afterwards
 *   siv_setkey           installs a key (32, 48 or 64 bytes: AES-128, -192
 *                        or -256 for each half)
 *   siv_seal / siv_open  encrypt and decrypt one message under a vector of
 *                        associated-data components
 *
 * OpenSSL 3.0's own "AES-128-SIV" cipher refuses an empty plaintext, and
 * an NTS client's authenticator encrypts nothing; this module accepts
 * every length.
 *
 * The components are RFC 5297's S1..S(n-1): for the AEAD interface of
 * section 6 (what NTS uses) pass the associated data then the nonce; for
 * deterministic use (appendix A.1) the associated data alone.  At most
 * SIV_MAX_PARTS components (RFC 5297 allows 126).
 */
#ifndef SOCKIT_PROTO_SIV_H
#define SOCKIT_PROTO_SIV_H

#include <stddef.h>

#define SIV_TAG_LEN 16   /* the synthetic IV, which leads the output */
#define SIV_KEY_MAX 64
#define SIV_MAX_PARTS 126

typedef struct siv siv;

/* One associated-data component (or the nonce). */
typedef struct siv_part {
    const void *data;
    size_t len;
} siv_part;

/* Creates a context without a key.  Returns 0, -ENOMEM, or -ENOSYS when
 * libcrypto has no CMAC or AES-CTR. */
int siv_new(siv **out);
void siv_free(siv *s);

/* Installs `key` (keylen 32, 48 or 64; the first half authenticates, the
 * second encrypts).  Returns 0, -EINVAL for another length, -EIO when
 * libcrypto fails. */
int siv_setkey(siv *s, const void *key, size_t keylen);

/*
 * Encrypts `len` bytes of `pt` under the components parts[0..nparts) and
 * writes SIV_TAG_LEN + len bytes to `out`: the synthetic IV, then the
 * ciphertext.  `out` must not overlap `pt` or the components.  Returns 0,
 * -EINVAL (no key, or too many components), -EIO (libcrypto failed).
 */
int siv_seal(siv *s, const siv_part *parts, size_t nparts, const void *pt, size_t len,
             void *out);

/*
 * Checks and decrypts `len` bytes of `in` (synthetic IV then ciphertext)
 * into `pt` (len - SIV_TAG_LEN bytes, not overlapping `in`).  Returns 0,
 * -EBADMSG when len < SIV_TAG_LEN or the message was not sealed under this
 * key and these components (`pt` then holds zeros), -EINVAL, -EIO.
 */
int siv_open(siv *s, const siv_part *parts, size_t nparts, const void *in, size_t len,
             void *pt);

#endif /* SOCKIT_PROTO_SIV_H */
