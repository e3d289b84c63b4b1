/* SPDX-License-Identifier: MIT */
/*
 * cli/ntp_nts.c - NTS for `sockit ntp` (see ntp_nts.h).  The key exchange,
 * end to end:
 *
 *   1. a TLS client context: TLS 1.3 only, ALPN "ntske/1", the system's CAs
 *      or --cafile, the name checked (--servername or HOST);
 *   2. sk_tls_connect_ex under one deadline; the ALPN must be agreed;
 *   3. request: Next Protocol [NTPv4], AEAD [AES-SIV-CMAC-256], End;
 *   4. the response read until nts_ke_msg_parse has End of Message (at
 *      most NTS_KE_MESSAGE_MAX bytes), judged by nts_ke_response_check;
 *   5. C2S and S2C keys from the TLS exporter (RFC 8915 section 5.1):
 *      label "EXPORTER-network-time-security", context = protocol id (2) |
 *      AEAD id (2) | 0 for C2S or 1 for S2C.
 */
#include "ntp_nts.h"

#include "sockit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

static const char *const step_names[] = {
    "ok", "TLS", "key exchange error record", "key exchange", "no cookies", "NTSN",
    "reply authentication failed", "unique identifier mismatch",
};

const char *ntp_nts_step_name(ntp_nts_step s)
{
    return (unsigned)s < sizeof(step_names) / sizeof(step_names[0]) ? step_names[s] : "?";
}

static ntp_nts_step fail(ntp_nts_step s, char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ntp_nts_step fail(ntp_nts_step s, char *why, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return s;
}

/* Unique identifiers and nonces: OpenSSL's CSPRNG; false if it fails. */
static bool random_fill(void *p, size_t n)
{
    return RAND_bytes(p, (int)n) == 1;
}

/* Step 1: the TLS context. */
static int ke_ctx(sk_tls_ctx **ctx, const char *cafile)
{
    static const char *const alpn[] = {NTS_KE_ALPN};
    int rc = sk_tls_ctx_new(ctx, SK_TLS_CLIENT);

    if (rc == 0)
        rc = sk_tls_ctx_set_minimum_version(*ctx, SK_TLS_VERSION_1_3);
    if (rc == 0)
        rc = sk_tls_ctx_set_alpn_protocols(*ctx, alpn, 1);
    if (rc == 0 && cafile != NULL)
        rc = sk_tls_ctx_load_verify_locations(*ctx, cafile, NULL);
    return rc;
}

/* Steps 3 and 4: sends the request, reads and parses the response. */
static ntp_nts_step ke_talk(sk_sock *s, unsigned char *buf, nts_ke_msg *m, char *why,
                            size_t size)
{
    unsigned char req[64];
    nts_buf b = {req, sizeof(req), 0, false};
    uint16_t proto = NTS_PROTO_NTPV4, aead = NTS_AEAD_AES_SIV_CMAC_256;
    size_t have = 0;
    int rc;

    nts_ke_put_u16(&b, true, NTS_KE_NEXT_PROTOCOL, &proto, 1);
    nts_ke_put_u16(&b, true, NTS_KE_AEAD, &aead, 1);
    nts_ke_put(&b, true, NTS_KE_END, NULL, 0);
    rc = sk_sock_sendall(s, req, b.len, NULL);
    if (rc < 0)
        return fail(NTP_NTS_TLS, why, size, "sending the request: %s", sk_strerror(rc));
    while ((rc = nts_ke_msg_parse(m, buf, have)) == 0) {
        ssize_t n = sk_sock_recv(s, buf + have, NTS_KE_MESSAGE_MAX - have, 0);

        if (n == 0 || n == SK_ETLS_EOF)
            return fail(NTP_NTS_KE_BAD, why, size,
                        "connection closed before End of Message (%zu bytes)", have);
        if (n < 0)
            return fail(NTP_NTS_TLS, why, size, "reading the response: %s",
                        sk_strerror((int)n));
        have += (size_t)n;
    }
    if (rc == -EMSGSIZE)
        return fail(NTP_NTS_KE_BAD, why, size, "response longer than %d bytes",
                    NTS_KE_MESSAGE_MAX);
    if (rc < 0)
        return fail(NTP_NTS_KE_BAD, why, size, "malformed record of type %u", m->bad_type);
    return NTP_NTS_OK;
}

/* Step 4's verdict. */
static ntp_nts_step ke_judge(const nts_ke_msg *m, char *why, size_t size)
{
    nts_ke_verdict v = nts_ke_response_check(m);

    if (v == NTS_KE_RESPONSE_OK)
        return NTP_NTS_OK;
    if (v == NTS_KE_RESPONSE_ERROR)
        return fail(NTP_NTS_KE_ERROR, why, size, "server sent error %u (%s)", m->error,
                    nts_ke_error_name(m->error));
    if (v == NTS_KE_RESPONSE_NO_COOKIES)
        return fail(NTP_NTS_NO_COOKIES, why, size, "the response holds no cookie");
    if (v == NTS_KE_RESPONSE_CRITICAL)
        return fail(NTP_NTS_KE_BAD, why, size, "unknown critical record of type %u",
                    m->unknown_type);
    return fail(NTP_NTS_KE_BAD, why, size, "%s", nts_ke_verdict_name(v));
}

/* Step 5: one key from the exporter. */
static int ke_export(sk_sock *s, uint16_t aead, int dir, siv **out)
{
    unsigned char ctx[5] = {0, NTS_PROTO_NTPV4, (unsigned char)(aead >> 8),
                            (unsigned char)aead, (unsigned char)dir};
    unsigned char key[NTS_AEAD_KEY_LEN];
    int rc = sk_tls_export_keying_material(s, NTS_KE_EXPORTER_LABEL, ctx, sizeof(ctx), key,
                                           sizeof(key));

    if (rc == 0)
        rc = siv_new(out);
    if (rc == 0)
        rc = siv_setkey(*out, key, sizeof(key));
    memset(key, 0, sizeof(key));
    return rc;
}

/* Keeps the response's facts and cookies in *n. */
static void ke_keep(ntp_nts *n, const nts_ke_msg *m)
{
    n->aead = m->aead[0];
    snprintf(n->server, sizeof(n->server), "%s", m->n_server ? m->server : "");
    n->port = m->n_port ? m->port : -1;
    n->cookies_received = m->cookies_seen;
    n->cookie_len = m->cookie_len[0];
    for (size_t i = 0; i < m->cookies; i++) {
        memcpy(n->cookie[i], m->cookie[i], m->cookie_len[i]);
        n->cookie_size[i] = m->cookie_len[i];
    }
    n->ncookies = m->cookies;
}

ntp_nts_step ntp_nts_ke(ntp_nts *n, const char *host, const char *port, int family,
                        const char *cafile, const char *servername, double timeout,
                        char *why, size_t whysize)
{
    unsigned char *buf = malloc(NTS_KE_MESSAGE_MAX); /* no static: threads may call */
    sk_tls_ctx *ctx = NULL;
    sk_sock *s = NULL;
    nts_ke_msg m;
    const char *alpn;
    ntp_nts_step st;
    int rc;

    memset(n, 0, sizeof(*n));
    if (buf == NULL)
        return fail(NTP_NTS_TLS, why, whysize, "out of memory");
    rc = ke_ctx(&ctx, cafile);
    if (rc < 0) {
        st = fail(NTP_NTS_TLS, why, whysize, "%s%s%s", cafile ? "--cafile " : "",
                  cafile ? cafile : "", cafile ? ": " : "");
        snprintf(why + strlen(why), whysize - strlen(why), "%s", sk_strerror(rc));
        goto out;
    }
    rc = sk_tls_connect_ex(&s, host, port, family, ctx, servername, timeout);
    if (rc < 0) {
        st = fail(NTP_NTS_TLS, why, whysize, "%s", sk_strerror(rc));
        goto out;
    }
    snprintf(n->tls_version, sizeof(n->tls_version), "%s", sk_tls_version(s));
    alpn = sk_tls_alpn(s);
    if (alpn == NULL || strcmp(alpn, NTS_KE_ALPN) != 0) {
        st = fail(NTP_NTS_TLS, why, whysize, "the server did not agree to ALPN %s",
                  NTS_KE_ALPN);
        goto out;
    }
    st = ke_talk(s, buf, &m, why, whysize);
    if (st == NTP_NTS_OK)
        st = ke_judge(&m, why, whysize);
    if (st != NTP_NTS_OK)
        goto out;
    ke_keep(n, &m);
    if (ke_export(s, n->aead, 0, &n->c2s) < 0 || ke_export(s, n->aead, 1, &n->s2c) < 0)
        st = fail(NTP_NTS_TLS, why, whysize, "the TLS exporter gave no keys");
out:
    sk_sock_free(s); /* close_notify */
    sk_tls_ctx_free(ctx);
    free(buf);
    return st;
}

void ntp_nts_free(ntp_nts *n)
{
    siv_free(n->c2s);
    siv_free(n->s2c);
    n->c2s = n->s2c = NULL;
    memset(n->cookie, 0, sizeof(n->cookie));
}

/* ---- NTP with cookies -------------------------------------------------------------- */

size_t ntp_nts_request_uid(ntp_nts *n, const unsigned char header[NTP_HEADER_LEN],
                           unsigned char uid[NTS_UID_LEN], size_t placeholders,
                           unsigned char *out, size_t cap)
{
    nts_buf b = {out, cap, NTP_HEADER_LEN, false};
    unsigned char nonce[NTS_NONCE_LEN];
    size_t i;

    if (n->ncookies == 0 || cap < NTP_HEADER_LEN)
        return 0;
    if (!random_fill(uid, NTS_UID_LEN) || !random_fill(nonce, sizeof(nonce)))
        return 0;
    i = --n->ncookies; /* each cookie is sent once */
    memcpy(out, header, NTP_HEADER_LEN);
    nts_ef_put(&b, NTS_EF_UNIQUE_ID, uid, NTS_UID_LEN);
    nts_ef_put(&b, NTS_EF_COOKIE, n->cookie[i], n->cookie_size[i]);
    for (size_t k = 0; k < placeholders; k++)
        nts_ef_put(&b, NTS_EF_COOKIE_PLACEHOLDER, NULL, n->cookie_size[i]);
    if (nts_auth_put(&b, n->c2s, nonce, sizeof(nonce), NULL, 0, 0) < 0)
        return 0;
    return b.len;
}

size_t ntp_nts_request(ntp_nts *n, const unsigned char header[NTP_HEADER_LEN],
                       unsigned char *out, size_t cap)
{
    /* Ask for enough cookies to hold NTS_COOKIES_MAX again. */
    size_t want = n->ncookies > 0 && n->ncookies < NTS_COOKIES_MAX
                      ? NTS_COOKIES_MAX - n->ncookies : 0;

    return ntp_nts_request_uid(n, header, n->uid, want, out, cap);
}

/* Keeps the cookies among the decrypted fields. */
static void keep_cookies(ntp_nts *n, const unsigned char *pt, size_t len)
{
    nts_ef ef;
    int sz;

    for (size_t off = 0; off < len; off += (size_t)sz) {
        sz = nts_ef_parse(&ef, pt + off, len - off);
        if (sz < 0)
            return;
        if (ef.type == NTS_EF_COOKIE && ef.len <= NTS_COOKIE_MAX &&
            n->ncookies < NTS_COOKIES_MAX) {
            memcpy(n->cookie[n->ncookies], ef.body, ef.len);
            n->cookie_size[n->ncookies++] = ef.len;
        }
    }
}

ntp_nts_step ntp_nts_reply_uid(ntp_nts *n, const unsigned char uid[NTS_UID_LEN],
                               const void *reply, size_t len, bool kod)
{
    unsigned char pt[2048];
    nts_ntp_fields f;
    size_t ptlen = 0;

    if (nts_ntp_parse(&f, reply, len) < 0 || f.uid.body == NULL)
        return NTP_NTS_AUTH; /* nothing that could be authenticated */
    if (f.uid.len != NTS_UID_LEN || memcmp(f.uid.body, uid, NTS_UID_LEN) != 0)
        return NTP_NTS_UID;
    if (kod && memcmp((const unsigned char *)reply + 12, NTS_KOD_NTSN, 4) == 0)
        return NTP_NTS_NTSN;
    if (nts_auth_open(&f, reply, n->s2c, pt, sizeof(pt), &ptlen) < 0)
        return NTP_NTS_AUTH;
    keep_cookies(n, pt, ptlen);
    return NTP_NTS_OK;
}

ntp_nts_step ntp_nts_reply(ntp_nts *n, const void *reply, size_t len, bool kod)
{
    return ntp_nts_reply_uid(n, n->uid, reply, len, kod);
}
