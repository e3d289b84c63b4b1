/* SPDX-License-Identifier: MIT */
/*
 * proto/stamp.c - the STAMP codec (see stamp.h): base packets of both ends
 * in both modes through one table of field offsets, the error estimate,
 * key text, HMAC-SHA-256 through OpenSSL's one-shot HMAC() (no allocation
 * of ours), TLV walking and the reflector's answer to each TLV.
 *
 * Cost: a reply is O(len): one copy of the request, one pass over its
 * TLVs, and with a key one or two HMACs over at most the packet.
 */
#include "stamp.h"

#include "ntp.h"

#include <math.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

_Static_assert(STAMP_HMAC_OFF + STAMP_HMAC_LEN == STAMP_AUTH_LEN,
               "the HMAC ends the authenticated base packet");

/* ---- big-endian fields ------------------------------------------------------ */

static uint16_t get16(const unsigned char *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t get32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t get64(const unsigned char *b)
{
    return (uint64_t)get32(b) << 32 | get32(b + 4);
}

static void put16(unsigned char *b, uint16_t v)
{
    b[0] = (unsigned char)(v >> 8);
    b[1] = (unsigned char)v;
}

static void put32(unsigned char *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b + 2, (uint16_t)v);
}

static void put64(unsigned char *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b + 4, (uint32_t)v);
}

/* ---- layouts ------------------------------------------------------------------ */

/* Where each field sits, per mode (RFC 8762 figures 1-5, RFC 8972 figures
 * 1-2: the SSID takes the first two MBZ octets after the error estimate). */
typedef struct layout {
    size_t len, seq, ts, ee, ssid;
    size_t rx, sseq, sts, see, ttl; /* reflector only */
} layout;

static const layout layouts[2] = {
    [STAMP_UNAUTH] = {STAMP_BASE_LEN, 0, 4, 12, 14, 16, 24, 28, 36, 40},
    [STAMP_AUTH] = {STAMP_AUTH_LEN, 0, 16, 24, 26, 32, 48, 64, 72, 80},
};

size_t stamp_base_len(stamp_mode m)
{
    return layouts[m == STAMP_AUTH].len;
}

/* ---- the error estimate --------------------------------------------------------- */

uint16_t stamp_ee_make(bool synced, double seconds)
{
    uint16_t s = synced ? STAMP_EE_S : 0;

    if (!(seconds > 0)) /* also NaN */
        return s | 1;   /* multiplier 1, scale 0: 2^-32 s; never zero (RFC 4656) */
    for (unsigned scale = 0; scale < 64; scale++) {
        double mult = ceil(ldexp(seconds, 32 - (int)scale));

        if (mult <= 255)
            return (uint16_t)(s | scale << 8 | (mult < 1 ? 1 : (unsigned)mult));
    }
    return (uint16_t)(s | 63u << 8 | 255u);
}

double stamp_ee_seconds(uint16_t ee)
{
    return ldexp((double)(ee & 0xff), (int)((ee >> 8) & 63) - 32);
}

/* ---- keys ------------------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int stamp_key_parse(stamp_key *k, const char *text, size_t len)
{
    size_t n = 0, i = 0;

    while (i + 1 < len && hexval(text[i]) >= 0 && hexval(text[i + 1]) >= 0) {
        if (n == STAMP_KEY_MAX)
            return -1;
        k->bytes[n++] = (unsigned char)(hexval(text[i]) << 4 | hexval(text[i + 1]));
        i += 2;
    }
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (i < len && text[i] == '\r')
        i++;
    if (i < len && text[i] != '\n')
        return -1;
    if (n < STAMP_KEY_MIN)
        return -1;
    k->len = n;
    return 0;
}

/* ---- the test packets ------------------------------------------------------------- */

int stamp_sender_decode(stamp_sender *p, stamp_mode m, const void *buf, size_t len)
{
    const layout *l = &layouts[m == STAMP_AUTH];
    const unsigned char *b = buf;

    if (len < l->len)
        return -1;
    p->seq = get32(b + l->seq);
    p->timestamp = get64(b + l->ts);
    p->error_estimate = get16(b + l->ee);
    p->ssid = get16(b + l->ssid);
    return (int)l->len;
}

int stamp_reflector_decode(stamp_reflector *p, stamp_mode m, const void *buf, size_t len)
{
    const layout *l = &layouts[m == STAMP_AUTH];
    const unsigned char *b = buf;

    if (len < l->len)
        return -1;
    p->seq = get32(b + l->seq);
    p->timestamp = get64(b + l->ts);
    p->error_estimate = get16(b + l->ee);
    p->ssid = get16(b + l->ssid);
    p->receive = get64(b + l->rx);
    p->sender_seq = get32(b + l->sseq);
    p->sender_timestamp = get64(b + l->sts);
    p->sender_error_estimate = get16(b + l->see);
    p->sender_ttl = b[l->ttl];
    return (int)l->len;
}

void stamp_sender_encode(const stamp_sender *p, stamp_mode m, unsigned char *out)
{
    const layout *l = &layouts[m == STAMP_AUTH];

    memset(out, 0, l->len);
    put32(out + l->seq, p->seq);
    put64(out + l->ts, p->timestamp);
    put16(out + l->ee, p->error_estimate);
    put16(out + l->ssid, p->ssid);
}

void stamp_reflector_encode(const stamp_reflector *p, stamp_mode m, unsigned char *out)
{
    const layout *l = &layouts[m == STAMP_AUTH];

    memset(out, 0, l->len);
    put32(out + l->seq, p->seq);
    put64(out + l->ts, p->timestamp);
    put16(out + l->ee, p->error_estimate);
    put16(out + l->ssid, p->ssid);
    put64(out + l->rx, p->receive);
    put32(out + l->sseq, p->sender_seq);
    put64(out + l->sts, p->sender_timestamp);
    put16(out + l->see, p->sender_error_estimate);
    out[l->ttl] = (unsigned char)p->sender_ttl;
}

/* ---- HMAC -------------------------------------------------------------------------- */

/* HMAC over two pieces (the sequence number and a run of TLVs). */
static void hmac2(const stamp_key *k, const void *a, size_t alen, const void *b,
                  size_t blen, unsigned char out[STAMP_HMAC_LEN])
{
    unsigned char buf[STAMP_MAX_LEN + 8], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    /* HMAC() is one call with no context to allocate: the two pieces are
     * joined on the stack (64 KiB at most; datagram handlers run on a
     * worker thread's 8 MiB stack). */
    memcpy(buf, a, alen);
    if (blen > 0)
        memcpy(buf + alen, b, blen);
    HMAC(EVP_sha256(), k->bytes, (int)k->len, buf, alen + blen, md, &mdlen);
    memcpy(out, md, STAMP_HMAC_LEN);
}

void stamp_hmac(const stamp_key *k, const void *data, size_t len,
                unsigned char out[STAMP_HMAC_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    HMAC(EVP_sha256(), k->bytes, (int)k->len, data, len, md, &mdlen);
    memcpy(out, md, STAMP_HMAC_LEN);
}

void stamp_auth_sign(const stamp_key *k, unsigned char *pkt)
{
    stamp_hmac(k, pkt, STAMP_HMAC_OFF, pkt + STAMP_HMAC_OFF);
}

bool stamp_auth_verify(const stamp_key *k, const unsigned char *pkt)
{
    unsigned char want[STAMP_HMAC_LEN];

    stamp_hmac(k, pkt, STAMP_HMAC_OFF, want);
    return CRYPTO_memcmp(want, pkt + STAMP_HMAC_OFF, STAMP_HMAC_LEN) == 0;
}

/* ---- TLVs ---------------------------------------------------------------------------- */

stamp_tlv_step stamp_tlv_next(const unsigned char *buf, size_t len, size_t *off,
                              stamp_tlv *t)
{
    size_t o = *off;

    if (o >= len)
        return STAMP_TLV_END;
    if (len - o < STAMP_TLV_HDR)
        return STAMP_TLV_TRUNCATED;
    t->flags = buf[o];
    t->type = buf[o + 1];
    t->len = get16(buf + o + 2);
    t->off = o;
    if (t->len > len - o - STAMP_TLV_HDR)
        return STAMP_TLV_OVERRUN;
    *off = o + STAMP_TLV_HDR + t->len;
    return STAMP_TLV_OK;
}

size_t stamp_tlv_put(unsigned char *out, size_t room, unsigned flags, unsigned type,
                     const void *value, size_t vlen)
{
    if (vlen > 65535 || room < STAMP_TLV_HDR || vlen > room - STAMP_TLV_HDR)
        return 0;
    out[0] = (unsigned char)flags;
    out[1] = (unsigned char)type;
    put16(out + 2, (uint16_t)vlen);
    if (value != NULL)
        memcpy(out + STAMP_TLV_HDR, value, vlen);
    else
        memset(out + STAMP_TLV_HDR, 0, vlen);
    return STAMP_TLV_HDR + vlen;
}

void stamp_tlv_hmac(const stamp_key *k, const unsigned char *pkt, size_t base,
                    size_t tlv_off, unsigned char out[STAMP_HMAC_LEN])
{
    hmac2(k, pkt, 4, pkt + base, tlv_off - base, out);
}

/* ---- the Session-Reflector ---------------------------------------------------- */

static const char *const verdict_names[STAMP_NVERDICTS] = {"ok", "short", "hmac"};

const char *stamp_verdict_name(stamp_verdict v)
{
    return (unsigned)v < STAMP_NVERDICTS ? verdict_names[v] : "unknown";
}

stamp_verdict stamp_request_check(stamp_sender *req, stamp_mode m, const stamp_key *key,
                                  const void *buf, size_t len)
{
    if (stamp_sender_decode(req, m, buf, len) < 0)
        return STAMP_DROP_SHORT;
    if (m == STAMP_AUTH && (key == NULL || !stamp_auth_verify(key, buf)))
        return STAMP_DROP_HMAC;
    return STAMP_REQUEST_OK;
}

static bool all_zero(const unsigned char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* The value length a TLV type must have, or 0 for any (padding, HMAC is
 * checked apart). */
static size_t fixed_len(unsigned type)
{
    switch (type) {
    case STAMP_TLV_TIMESTAMP_INFO:
        return STAMP_TSINFO_LEN;
    case STAMP_TLV_COS:
        return STAMP_COS_LEN;
    case STAMP_TLV_DIRECT:
        return STAMP_DIRECT_LEN;
    case STAMP_TLV_HMAC:
        return STAMP_HMAC_LEN;
    default:
        return 0;
    }
}

/* Answers one whole TLV in the reply (already a copy of the request's).
 * Returns the flags it added. */
static unsigned reflect_tlv(unsigned char *out, const stamp_tlv *t,
                            const stamp_reflect_info *info)
{
    unsigned char *v = out + t->off + STAMP_TLV_HDR;
    size_t want = fixed_len(t->type);

    if (t->type == STAMP_TLV_PADDING)
        return 0;
    if (want == 0)
        return STAMP_TLV_U;
    if (t->len != want)
        return STAMP_TLV_M;
    switch (t->type) {
    case STAMP_TLV_TIMESTAMP_INFO:
        v[0] = (unsigned char)info->sync_src;
        v[1] = (unsigned char)info->ts_in;
        v[2] = (unsigned char)info->sync_src;
        v[3] = (unsigned char)info->ts_out;
        break;
    case STAMP_TLV_COS: {
        /* DSCP1(6) DSCP2(6) ECN(2) RP(2) reserved(16) */
        unsigned dscp1 = v[0] >> 2;
        unsigned tos = info->tos >= 0 ? (unsigned)info->tos : 0;
        unsigned word = dscp1 << 10 | (tos >> 2) << 4 | (tos & 3) << 2 | 1;

        put16(v, (uint16_t)word);
        v[2] = v[3] = 0;
        break;
    }
    case STAMP_TLV_DIRECT:
        put32(v + 4, info->rx_count);
        put32(v + 8, info->tx_count);
        break;
    default: /* HMAC: stamp_reflect_finish */
        break;
    }
    return 0;
}

/* Verifies the request's HMAC TLV at t. */
static bool tlv_hmac_ok(const stamp_key *key, const unsigned char *req, size_t base,
                        const stamp_tlv *t)
{
    unsigned char want[STAMP_HMAC_LEN];

    stamp_tlv_hmac(key, req, base, t->off, want);
    return CRYPTO_memcmp(want, req + t->off + STAMP_TLV_HDR, STAMP_HMAC_LEN) == 0;
}

/* Walks the request's TLVs, answering each in out; sets I flags at the end
 * when an HMAC TLV failed. */
static void reflect_tlvs(unsigned char *out, const unsigned char *req, size_t len,
                         size_t base, const stamp_key *key, const stamp_reflect_info *info,
                         stamp_reflect_report *r)
{
    size_t off = base;
    stamp_tlv t;
    stamp_tlv_step step;

    if (all_zero(req + base, len - base))
        return; /* RFC 8762 padding, no TLVs */
    while ((step = stamp_tlv_next(req, len, &off, &t)) == STAMP_TLV_OK) {
        unsigned add = reflect_tlv(out, &t, info);

        r->tlvs++;
        r->unknown += (add & STAMP_TLV_U) != 0;
        r->malformed += (add & STAMP_TLV_M) != 0;
        out[t.off] |= (unsigned char)add;
        if (t.type == STAMP_TLV_HMAC && add == 0 && key != NULL &&
            !tlv_hmac_ok(key, req, base, &t))
            r->integrity_failed = true;
    }
    if (step == STAMP_TLV_OVERRUN) {
        r->tlvs++;
        r->malformed++;
        out[t.off] |= STAMP_TLV_M;
    }
    if (!r->integrity_failed)
        return;
    off = base;
    while (stamp_tlv_next(out, len, &off, &t) == STAMP_TLV_OK)
        out[t.off] |= STAMP_TLV_I;
}

void stamp_reflect(unsigned char *out, const unsigned char *req, size_t len,
                   stamp_mode m, const stamp_key *key, const stamp_sender *s,
                   const stamp_reflect_info *info, stamp_reflect_report *report)
{
    const layout *l = &layouts[m == STAMP_AUTH];
    stamp_reflect_report r = {0};
    stamp_reflector p = {
        .seq = info->seq,
        .error_estimate = info->error_estimate,
        .ssid = s->ssid,
        .receive = info->receive,
        .sender_seq = s->seq,
        .sender_timestamp = s->timestamp,
        .sender_error_estimate = s->error_estimate,
        .sender_ttl = info->ttl > 255 ? 255 : info->ttl,
    };

    memcpy(out + l->len, req + l->len, len - l->len);
    stamp_reflector_encode(&p, m, out);
    reflect_tlvs(out, req, len, l->len, key, info, &r);
    if (report != NULL)
        *report = r;
}

void stamp_reflect_finish(unsigned char *out, size_t len, stamp_mode m,
                          const stamp_key *key, uint64_t t3)
{
    const layout *l = &layouts[m == STAMP_AUTH];
    size_t off = l->len;
    stamp_tlv t;

    put64(out + l->ts, t3);
    if (key == NULL)
        return;
    if (m == STAMP_AUTH)
        stamp_auth_sign(key, out);
    if (all_zero(out + l->len, len - l->len))
        return;
    while (stamp_tlv_next(out, len, &off, &t) == STAMP_TLV_OK)
        if (t.type == STAMP_TLV_HMAC && t.len == STAMP_HMAC_LEN)
            stamp_tlv_hmac(key, out, l->len, t.off, out + t.off + STAMP_TLV_HDR);
}

/* ---- the Session-Sender's arithmetic -------------------------------------------- */

stamp_delays stamp_delays_compute(uint64_t t1, uint64_t t2, uint64_t t3, uint64_t t4)
{
    stamp_delays d;

    d.rtt = ntp_ts_diff(t4, t1) - ntp_ts_diff(t3, t2);
    d.forward = ntp_ts_diff(t2, t1);
    d.backward = ntp_ts_diff(t4, t3);
    return d;
}
