/* SPDX-License-Identifier: MIT */
/*
 * lib/tls_cert.c - the peer's certificate as text: subject and issuer
 * (RFC 2253), subject alternative names, serial number and validity.
 * What Python's getpeercert() gives, flattened into one struct.
 */
#include "tls_impl.h"

#include <errno.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

/* Writes `name` in RFC 2253 form into buf[size] (cut to fit). */
static void name_text(const X509_NAME *name, char *buf, size_t size)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n = 0;

    buf[0] = '\0';
    if (b == NULL)
        return;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
        n = BIO_read(b, buf, (int)size - 1);
    buf[n > 0 ? n : 0] = '\0';
    BIO_free(b);
}

/* Appends "KIND:value" to the SAN list in buf[size]. */
static void san_add(char *buf, size_t size, const char *kind, const char *value)
{
    size_t used = strlen(buf);

    if (used < size)
        snprintf(buf + used, size - used, "%s%s:%s", used ? ", " : "", kind, value);
}

/* One general name as text; IP addresses through inet_ntop. */
static void san_one(const GENERAL_NAME *g, char *buf, size_t size)
{
    char text[SK_ADDRSTRLEN];
    const ASN1_STRING *s;

    switch (g->type) {
    case GEN_DNS:
        s = g->d.dNSName;
        snprintf(text, sizeof text, "%.*s", ASN1_STRING_length(s),
                 (const char *)ASN1_STRING_get0_data(s));
        san_add(buf, size, "DNS", text);
        break;
    case GEN_IPADD:
        s = g->d.iPAddress;
        if (sk_inet_ntop(ASN1_STRING_length(s) == 4 ? AF_INET : AF_INET6,
                         ASN1_STRING_get0_data(s), text, sizeof text) >= 0)
            san_add(buf, size, "IP", text);
        break;
    case GEN_EMAIL:
        s = g->d.rfc822Name;
        snprintf(text, sizeof text, "%.*s", ASN1_STRING_length(s),
                 (const char *)ASN1_STRING_get0_data(s));
        san_add(buf, size, "email", text);
        break;
    case GEN_URI:
        s = g->d.uniformResourceIdentifier;
        snprintf(text, sizeof text, "%.*s", ASN1_STRING_length(s),
                 (const char *)ASN1_STRING_get0_data(s));
        san_add(buf, size, "URI", text);
        break;
    default:
        break;
    }
}

static void sans_text(X509 *x, char *buf, size_t size)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

    buf[0] = '\0';
    if (names == NULL)
        return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++)
        san_one(sk_GENERAL_NAME_value(names, i), buf, size);
    GENERAL_NAMES_free(names);
}

static time_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static void serial_text(X509 *x, char *buf, size_t size)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

    snprintf(buf, size, "%s", hex != NULL ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
}

int sk__tls_peer_cert(const sk__tls *t, sk_tls_cert_info *out)
{
    sk_tls_cert_info info;
    X509 *x = SSL_get0_peer_certificate(t->ssl);

    if (x == NULL)
        return -ENODATA;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    name_text(X509_get_subject_name(x), info.subject, sizeof info.subject);
    name_text(X509_get_issuer_name(x), info.issuer, sizeof info.issuer);
    sans_text(x, info.sans, sizeof info.sans);
    serial_text(x, info.serial, sizeof info.serial);
    info.not_before = asn1_time(X509_get0_notBefore(x));
    info.not_after = asn1_time(X509_get0_notAfter(x));
    ERR_clear_error();
    sk__struct_out(out, &info, sizeof info);
    return 0;
}

time_t sk__tls_ctx_not_after(const sk_tls_ctx *ctx)
{
    X509 *x = SSL_CTX_get0_certificate(ctx->ssl);

    return x != NULL ? asn1_time(X509_get0_notAfter(x)) : 0;
}
