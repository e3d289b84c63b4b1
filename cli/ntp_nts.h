/* SPDX-License-Identifier: MIT */
/*
 * cli/ntp_nts.h - the client side of NTS (RFC 8915) for `sockit ntp --nts`
 * and `sockit bench ntp --nts` (cli/bench/ntp.c, udp.c): the key exchange
 * over TLS 1.3, then NTP requests carrying a cookie and an authenticator,
 * and the checks on their replies.
 *
 *   ntp_nts_ke       key exchange: TLS (verified), ALPN ntske/1, the
 *                    request records, the response, keys from the exporter
 *   ntp_nts_request  one request: header, Unique Identifier, a cookie (used
 *                    once), placeholders to get back to NTS_COOKIES_MAX,
 *                    the authenticator
 *   ntp_nts_reply    a reply's verdict; authenticated replies refill the
 *                    cookies
 *
 * Failures name their step (ntp_nts_step_name), as the command reports
 * them.
 */
#ifndef SOCKIT_CLI_NTP_NTS_H
#define SOCKIT_CLI_NTP_NTS_H

#include "nts.h"
#include "ntp.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum ntp_nts_step {
    NTP_NTS_OK = 0,
    NTP_NTS_TLS,        /* TLS or certificate (the message says which) */
    NTP_NTS_KE_ERROR,   /* the server answered with an Error record */
    NTP_NTS_KE_BAD,     /* a malformed or unacceptable key-exchange response */
    NTP_NTS_NO_COOKIES, /* the exchange gave none, or all are used up */
    NTP_NTS_NTSN,       /* NTSN kiss-o'-death: the server refused our cookie */
    NTP_NTS_AUTH,       /* reply authentication failed */
    NTP_NTS_UID,        /* unique identifier mismatch */
} ntp_nts_step;

/* "TLS", "key exchange error record", "key exchange", "no cookies",
 * "NTSN", "reply authentication failed", "unique identifier mismatch". */
const char *ntp_nts_step_name(ntp_nts_step s);

typedef struct ntp_nts {
    /* what the key exchange gave */
    char tls_version[16];
    uint16_t aead;
    char server[NTS_KE_SERVER_MAX + 1]; /* "" when the server sent none */
    int port;                           /* -1 when the server sent none */
    size_t cookies_received, cookie_len;
    /* the association */
    siv *c2s, *s2c;
    unsigned char cookie[NTS_COOKIES_MAX][NTS_COOKIE_MAX];
    size_t cookie_size[NTS_COOKIES_MAX];
    size_t ncookies;
    unsigned char uid[NTS_UID_LEN]; /* of the request in flight */
} ntp_nts;

/*
 * Runs the key exchange with host:port (family AF_UNSPEC/INET/INET6),
 * verifying the certificate against `cafile` (NULL: the system's) for
 * `servername` (NULL: host), all within `timeout` seconds.  Returns
 * NTP_NTS_OK with *n filled, or the failed step with a reason in
 * why[whysize].  Free with ntp_nts_free either way.
 */
ntp_nts_step ntp_nts_ke(ntp_nts *n, const char *host, const char *port, int family,
                        const char *cafile, const char *servername, double timeout,
                        char *why, size_t whysize);

void ntp_nts_free(ntp_nts *n);

/* Builds a request around the 48-byte `header` into out[0..cap) with the
 * next cookie.  Returns its length, or 0 when no cookie is left. */
size_t ntp_nts_request(ntp_nts *n, const unsigned char header[NTP_HEADER_LEN],
                       unsigned char *out, size_t cap);

/*
 * Judges a reply of `len` bytes to the last request (its header already
 * checked: mode 4, our origin).  `kod` says it is a kiss-o'-death.
 * Returns NTP_NTS_OK (authenticated; its cookies are kept), NTP_NTS_NTSN
 * (an NTSN kiss-o'-death echoing our identifier), NTP_NTS_UID,
 * NTP_NTS_AUTH.
 */
ntp_nts_step ntp_nts_reply(ntp_nts *n, const void *reply, size_t len, bool kod);

/*
 * The same two for many requests in flight on one association (`sockit
 * bench ntp --nts`): the caller keeps each request's unique identifier in
 * uid[NTS_UID_LEN] (filled by ntp_nts_request_uid) and says how many cookie
 * placeholders to add (the cookies the reply should bring beyond the one
 * it replaces).
 */
size_t ntp_nts_request_uid(ntp_nts *n, const unsigned char header[NTP_HEADER_LEN],
                           unsigned char uid[NTS_UID_LEN], size_t placeholders,
                           unsigned char *out, size_t cap);
ntp_nts_step ntp_nts_reply_uid(ntp_nts *n, const unsigned char uid[NTS_UID_LEN],
                               const void *reply, size_t len, bool kod);

#endif /* SOCKIT_CLI_NTP_NTS_H */
