/* SPDX-License-Identifier: MIT */
/*
 * services/ntske.c - the NTS key exchange (RFC 8915 section 4) as a TCP
 * handler behind the server's TLS stage (sk_server_set_tls with a context
 * that wants TLS 1.3 and offers ALPN "ntske/1").  One connection:
 *
 *   open    no ALPN "ntske/1" agreed (a client that did not offer it):
 *           closed, counted; RFC 8915 says such a client is not one of ours
 *   data    bytes are left with the framework until nts_ke_msg_parse finds
 *           End of Message (at most NTS_KE_MESSAGE_MAX bytes); then one
 *           answer and a graceful close (close_notify)
 *   answer  a request the server accepts: Next Protocol [NTPv4], AEAD [the
 *           one chosen], SVC_NTSKE_COOKIES cookies sealed under the current
 *           master key around the C2S and S2C keys exported from the TLS
 *           session, then Server and Port records when configured (a key
 *           exchange in front of a pool), End of Message.  Anything else:
 *           an Error record (unrecognized critical record, bad request, or
 *           internal error when the exporter fails) and End of Message.
 *
 * The counts go to the ntp service's tally (SVC_NTP_KE_*), beside the NTS
 * requests they lead to.  Cost: two exporter calls and eight AES-SIV seals
 * per exchange, after the handshake.
 */
#include "services.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

static void ke_count(const svc_env *env, svc_ntp_counter c, uint64_t n)
{
    if (env != NULL && env->ntp != NULL)
        svc_ntp_add(env->ntp, c, n);
}

/* C2S (dir 0) or S2C (dir 1) for `aead`, from the connection's exporter. */
static int ke_export(sk_conn *c, uint16_t aead, int dir, unsigned char out[NTS_AEAD_KEY_LEN])
{
    unsigned char ctx[5] = {0, NTS_PROTO_NTPV4, (unsigned char)(aead >> 8),
                            (unsigned char)aead, (unsigned char)dir};

    return sk_conn_tls_export_keying_material(c, NTS_KE_EXPORTER_LABEL, ctx, sizeof(ctx), out,
                                              NTS_AEAD_KEY_LEN);
}

static void put_error(nts_buf *b, uint16_t code)
{
    nts_ke_put_u16(b, true, NTS_KE_ERROR, &code, 1);
    nts_ke_put(b, true, NTS_KE_END, NULL, 0);
}

/* The records after the cookies: Server and Port, when configured. */
static void put_where(nts_buf *b, const svc_env *env)
{
    uint16_t port;

    if (env->nts_server != NULL)
        nts_ke_put(b, false, NTS_KE_SERVER, env->nts_server, strlen(env->nts_server));
    if (env->nts_port > 0 && env->nts_port != NTP_PORT) {
        port = (uint16_t)env->nts_port;
        nts_ke_put_u16(b, false, NTS_KE_PORT_REC, &port, 1);
    }
}

size_t svc_ntske_answer(sk_conn *c, const svc_env *env, const nts_ke_msg *m,
                        unsigned char *out, size_t cap)
{
    nts_buf b = {out, cap, 0, false};
    uint16_t aead = 0, error = 0, proto = NTS_PROTO_NTPV4;
    unsigned char cookie[NTS_COOKIE_LEN];
    nts_keys keys;
    size_t made = 0;

    if (!nts_ke_request_check(m, &aead, &error)) {
        put_error(&b, error);
        ke_count(env, error == NTS_KE_ERR_UNRECOGNIZED_CRITICAL ? SVC_NTP_KE_CRITICAL
                                                                 : SVC_NTP_KE_BAD, 1);
        return b.overflow ? 0 : b.len;
    }
    keys.aead = aead;
    if (env->ntskeys == NULL || ke_export(c, aead, 0, keys.c2s) < 0 ||
        ke_export(c, aead, 1, keys.s2c) < 0) {
        put_error(&b, NTS_KE_ERR_INTERNAL);
        ke_count(env, SVC_NTP_KE_INTERNAL, 1);
        return b.overflow ? 0 : b.len;
    }
    nts_ke_put_u16(&b, true, NTS_KE_NEXT_PROTOCOL, &proto, 1);
    nts_ke_put_u16(&b, true, NTS_KE_AEAD, &aead, 1);
    svc_ntskeys_refresh(env->ntskeys, svc_wallclock(), false);
    for (; made < SVC_NTSKE_COOKIES && svc_ntskeys_seal(env->ntskeys, &keys, cookie) == 0;
         made++)
        nts_ke_put(&b, false, NTS_KE_COOKIE, cookie, sizeof(cookie));
    OPENSSL_cleanse(&keys, sizeof(keys));
    put_where(&b, env);
    nts_ke_put(&b, true, NTS_KE_END, NULL, 0);
    ke_count(env, SVC_NTP_KE_OK, 1);
    ke_count(env, SVC_NTP_NTS_COOKIES, made);
    return b.overflow ? 0 : b.len;
}

static void ntske_open(sk_conn *c)
{
    const char *alpn = sk_conn_tls_alpn(c);

    if (alpn == NULL || strcmp(alpn, NTS_KE_ALPN) != 0) {
        ke_count(sk_conn_arg(c), SVC_NTP_KE_NO_ALPN, 1);
        sk_conn_close(c);
    }
}

static size_t ntske_data(sk_conn *c, const void *data, size_t len)
{
    unsigned char out[2048];
    const svc_env *env = sk_conn_arg(c);
    nts_ke_msg m;
    int rc = nts_ke_msg_parse(&m, data, len);
    size_t n;

    if (rc == 0)
        return 0; /* the framework keeps the bytes until more arrive */
    if (rc < 0) {
        nts_buf b = {out, sizeof(out), 0, false};
        put_error(&b, NTS_KE_ERR_BAD_REQUEST);
        ke_count(env, SVC_NTP_KE_BAD, 1);
        n = b.len;
    } else {
        n = svc_ntske_answer(c, env, &m, out, sizeof(out));
    }
    if (n > 0)
        sk_conn_write(c, out, n);
    OPENSSL_cleanse(out, sizeof(out));
    sk_conn_close(c);
    return len;
}

const sk_tcp_handler svc_ntske_tcp = {
    .size = sizeof(sk_tcp_handler),
    .on_open = ntske_open,
    .on_data = ntske_data,
};
