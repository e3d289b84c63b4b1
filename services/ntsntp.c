/* SPDX-License-Identifier: MIT */
/*
 * services/ntsntp.c - the NTS side of the ntp service (RFC 8915 section
 * 5): what a request's extension fields say, and the authenticated reply.
 * services/ntp.c calls svc_nts_check on every request longer than the
 * header and, for SVC_NTS_OK, svc_nts_cookies before it reads T3 and
 * svc_nts_reply after.
 *
 *   check   parse the fields (proto/nts.c); none of NTS's: plain NTP;
 *           malformed, no Unique Identifier of >= 32 bytes, no cookie or
 *           no authenticator: dropped; a cookie we cannot open: NTSN; an
 *           authenticator that fails under the cookie's C2S key: NTSN
 *   cookies one fresh cookie per cookie and placeholder received (at most
 *           NTS_COOKIES_MAX), as encrypted extension fields, fewer when
 *           more would make the reply longer than the request
 *   reply   header, the request's Unique Identifier, the authenticator
 *           sealed with the S2C key over both; an NTSN kiss-o'-death
 *           carries the header and the Unique Identifier only
 *
 * Cost: two AES-SIV operations on the cookie path (open the cookie,
 * check the authenticator), one per fresh cookie, one for the reply.
 */
#include "services.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* Is the first extension field one of NTS's?  A packet whose fields do
 * not parse is NTS (and malformed) when it starts like one; otherwise it
 * is plain NTP with something else after the header (a legacy MAC). */
static bool looks_nts(const unsigned char *b, size_t len)
{
    unsigned type;

    if (len < NTP_HEADER_LEN + 2)
        return false;
    type = (unsigned)b[NTP_HEADER_LEN] << 8 | b[NTP_HEADER_LEN + 1];
    return type == NTS_EF_UNIQUE_ID || type == NTS_EF_COOKIE ||
           type == NTS_EF_COOKIE_PLACEHOLDER || type == NTS_EF_AUTH;
}

/* Placeholders among the decrypted fields, all of the cookie's length. */
static bool count_inner(svc_nts_req *r, const unsigned char *pt, size_t len)
{
    nts_ef ef;
    int n;

    for (size_t off = 0; off < len; off += (size_t)n) {
        n = nts_ef_parse(&ef, pt + off, len - off);
        if (n < 0)
            return false;
        if (ef.type == NTS_EF_COOKIE_PLACEHOLDER) {
            if (ef.len != r->f.cookie.len)
                return false;
            r->wanted++;
        }
    }
    return true;
}

svc_nts_result svc_nts_check(svc_ntskeys *k, const void *req, size_t len, svc_nts_req *r)
{
    unsigned char pt[SVC_NTS_PLAIN_MAX];
    size_t ptlen = 0;
    siv *s;

    memset(r, 0, sizeof(*r));
    svc_ntskeys_refresh(k, svc_wallclock(), false); /* rotation, another's rotation */
    if (nts_ntp_parse(&r->f, req, len) < 0)
        return looks_nts(req, len) ? SVC_NTS_MALFORMED : SVC_NTS_PLAIN;
    if (r->f.uid.body == NULL && r->f.cookie.body == NULL && r->f.auth_off == 0 &&
        r->f.placeholders == 0)
        return SVC_NTS_PLAIN;
    if (r->f.uid.body == NULL || r->f.uid.len < NTS_UID_MIN || r->f.cookie.body == NULL ||
        r->f.auth_off == 0)
        return SVC_NTS_MALFORMED;
    if (svc_ntskeys_open(k, r->f.cookie.body, r->f.cookie.len, &r->keys) < 0)
        return SVC_NTS_NAK_COOKIE;
    s = svc_ntskeys_scratch(k);
    if (s == NULL || siv_setkey(s, r->keys.c2s, sizeof(r->keys.c2s)) < 0)
        return SVC_NTS_MALFORMED;
    if (nts_auth_open(&r->f, req, s, pt, sizeof(pt), &ptlen) < 0)
        return SVC_NTS_NAK_AUTH;
    r->wanted = 1 + r->f.placeholders;
    if (!count_inner(r, pt, ptlen))
        return SVC_NTS_MALFORMED;
    return SVC_NTS_OK;
}

/* The size of a reply carrying n cookies. */
static size_t reply_size(const svc_nts_req *r, size_t n)
{
    size_t ct = SIV_TAG_LEN + n * (NTS_EF_HEADER + NTS_COOKIE_LEN);

    return NTP_HEADER_LEN + r->f.uid.size + NTS_EF_HEADER + 4 + NTS_NONCE_LEN + ((ct + 3) & ~3u);
}

size_t svc_nts_cookies(svc_ntskeys *k, svc_nts_req *r, size_t reqlen)
{
    nts_buf b = {r->plain, sizeof(r->plain), 0, false};
    unsigned char cookie[NTS_COOKIE_LEN];
    size_t n = r->wanted < NTS_COOKIES_MAX ? r->wanted : NTS_COOKIES_MAX;

    while (n > 0 && reply_size(r, n) > reqlen)
        n--;
    for (size_t i = 0; i < n; i++) {
        if (svc_ntskeys_seal(k, &r->keys, cookie) < 0)
            break;
        nts_ef_put(&b, NTS_EF_COOKIE, cookie, sizeof(cookie));
    }
    r->plain_len = b.overflow ? 0 : b.len;
    return r->plain_len / (NTS_EF_HEADER + NTS_COOKIE_LEN);
}

size_t svc_nts_reply(svc_ntskeys *k, svc_nts_req *r, const unsigned char header[NTP_HEADER_LEN],
                     bool nak, unsigned char *out, size_t cap)
{
    nts_buf b = {out, cap, 0, false};
    unsigned char nonce[NTS_NONCE_LEN];
    siv *s;

    if (cap < NTP_HEADER_LEN)
        return 0;
    memcpy(out, header, NTP_HEADER_LEN);
    b.len = NTP_HEADER_LEN;
    nts_ef_put(&b, NTS_EF_UNIQUE_ID, r->f.uid.body, r->f.uid.len);
    if (b.overflow)
        return 0;
    if (nak)
        return b.len;
    s = svc_ntskeys_scratch(k);
    if (s == NULL || RAND_bytes(nonce, sizeof(nonce)) != 1 ||
        siv_setkey(s, r->keys.s2c, sizeof(r->keys.s2c)) < 0 ||
        nts_auth_put(&b, s, nonce, sizeof(nonce), r->plain, r->plain_len, 0) < 0)
        return 0;
    OPENSSL_cleanse(&r->keys, sizeof(r->keys));
    return b.len;
}
