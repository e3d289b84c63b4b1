/* SPDX-License-Identifier: MIT */
/*
 * proto/ntp.c - the NTPv4 header codec, the server's request check and
 * reply, timestamps and the client's offset/delay (see ntp.h).  The 1900
 * epoch and the era choice are proto/rfc868.c's: an NTP timestamp's
 * seconds are an RFC 868 value.
 *
 * Wire layout (RFC 5905 figure 8), all big-endian:
 *   0  LI(2) VN(3) Mode(3)   1 stratum   2 poll   3 precision
 *   4  root delay            8 root dispersion    12 refid
 *   16 reference   24 origin   32 receive   40 transmit (64 bits each)
 */
#include "ntp.h"

#include "rfc868.h"

#include <string.h>

_Static_assert(NTP_HEADER_LEN == 48, "the NTP header is 48 bytes");

#define NS_PER_SEC UINT64_C(1000000000)
#define TWO32 4294967296.0

/* ---- big-endian fields ------------------------------------------------------ */

static uint32_t get32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t get64(const unsigned char *b)
{
    return (uint64_t)get32(b) << 32 | get32(b + 4);
}

static void put32(unsigned char *b, uint32_t v)
{
    rfc868_encode(v, b);
}

static void put64(unsigned char *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b + 4, (uint32_t)v);
}

/* ---- the header ------------------------------------------------------------ */

int ntp_decode(ntp_packet *p, const void *buf, size_t len)
{
    const unsigned char *b = buf;

    if (len < NTP_HEADER_LEN)
        return -1;
    p->leap = b[0] >> 6;
    p->version = (b[0] >> 3) & 7;
    p->mode = b[0] & 7;
    p->stratum = b[1];
    p->poll = (int8_t)b[2];
    p->precision = (int8_t)b[3];
    p->root_delay = get32(b + 4);
    p->root_dispersion = get32(b + 8);
    memcpy(p->refid, b + 12, 4);
    p->reference = get64(b + 16);
    p->origin = get64(b + 24);
    p->receive = get64(b + 32);
    p->transmit = get64(b + 40);
    return NTP_HEADER_LEN;
}

void ntp_encode(const ntp_packet *p, unsigned char out[NTP_HEADER_LEN])
{
    out[0] = (unsigned char)((p->leap & 3) << 6 | (p->version & 7) << 3 | (p->mode & 7));
    out[1] = (unsigned char)p->stratum;
    out[2] = (unsigned char)(int8_t)p->poll;
    out[3] = (unsigned char)(int8_t)p->precision;
    put32(out + 4, p->root_delay);
    put32(out + 8, p->root_dispersion);
    memcpy(out + 12, p->refid, 4);
    put64(out + 16, p->reference);
    put64(out + 24, p->origin);
    put64(out + 32, p->receive);
    put64(out + 40, p->transmit);
}

/* ---- the server side ----------------------------------------------------------- */

static const char *const verdict_names[NTP_NVERDICTS] = {
    "ok", "short", "version", "mode",
};

const char *ntp_verdict_name(ntp_verdict v)
{
    return (unsigned)v < NTP_NVERDICTS ? verdict_names[v] : "unknown";
}

ntp_verdict ntp_request_check(ntp_packet *req, const void *buf, size_t len)
{
    if (ntp_decode(req, buf, len) < 0)
        return NTP_DROP_SHORT;
    /* Version 0 predates RFC 1059; 5..7 do not exist.  A version 1 packet
     * has mode 0 by its own rules, so it falls to the mode test. */
    if (req->version < 1 || req->version > NTP_VERSION)
        return NTP_DROP_VERSION;
    if (req->mode != NTP_MODE_CLIENT)
        return NTP_DROP_MODE;
    return NTP_REQUEST_OK;
}

void ntp_reply_make(ntp_packet *reply, const ntp_packet *req, const ntp_packet *self,
                    uint64_t receive, uint64_t transmit)
{
    *reply = *self;
    reply->version = req->version;
    reply->mode = NTP_MODE_SERVER;
    reply->poll = req->poll;
    reply->origin = req->transmit;
    reply->receive = receive;
    reply->transmit = transmit;
}

void ntp_kod_make(ntp_packet *p, const ntp_packet *req, const char code[4])
{
    memset(p, 0, sizeof(*p));
    p->leap = NTP_LEAP_UNSYNC;
    p->version = req->version;
    p->mode = NTP_MODE_SERVER;
    p->stratum = NTP_STRATUM_KOD;
    p->poll = req->poll;
    memcpy(p->refid, code, 4);
    p->origin = req->transmit;
}

bool ntp_is_kod(const ntp_packet *p, const char code[4])
{
    return p->stratum == NTP_STRATUM_KOD && memcmp(p->refid, code, 4) == 0;
}

/* ---- timestamps --------------------------------------------------------------- */

uint64_t ntp_ts_from_unix(int64_t sec, uint32_t nsec)
{
    /* nsec * 2^32 / 1e9 < 2^32 for nsec < 1e9, and fits 64 bits. */
    uint64_t frac = ((uint64_t)nsec << 32) / NS_PER_SEC;

    return (uint64_t)rfc868_value(sec) << 32 | (frac & 0xffffffffu);
}

int64_t ntp_ts_to_unix(uint64_t ts, int64_t local_unix, uint32_t *nsec)
{
    if (nsec != NULL)
        *nsec = (uint32_t)(((ts & 0xffffffffu) * NS_PER_SEC) >> 32);
    return rfc868_to_unix((uint32_t)(ts >> 32), local_unix);
}

double ntp_ts_diff(uint64_t a, uint64_t b)
{
    /* Unsigned subtraction wraps; reading the result as signed gives the
     * shorter way round the 2^32-second circle. */
    return (double)(int64_t)(a - b) / TWO32;
}

double ntp_short_to_seconds(uint32_t v)
{
    return (double)v / 65536.0;
}

uint32_t ntp_short_from_seconds(double s)
{
    double units = s * 65536.0;

    if (!(units > 0)) /* also NaN */
        return 0;
    if (units >= 4294967295.0)
        return UINT32_MAX;
    return (uint32_t)units + ((double)(uint32_t)units < units ? 1 : 0);
}

ntp_sample ntp_sample_compute(uint64_t t1, uint64_t t2, uint64_t t3, uint64_t t4)
{
    ntp_sample s;

    s.offset = (ntp_ts_diff(t2, t1) + ntp_ts_diff(t3, t4)) / 2;
    s.delay = ntp_ts_diff(t4, t1) - ntp_ts_diff(t3, t2);
    return s;
}

/* True when the four bytes read as a name: capitals and digits, a letter
 * among them. */
static bool refid_is_name(const unsigned char refid[4])
{
    bool letter = false;

    for (int i = 0; i < 4; i++) {
        if (refid[i] >= 'A' && refid[i] <= 'Z')
            letter = true;
        else if (refid[i] < '0' || refid[i] > '9')
            return false;
    }
    return letter;
}

char *ntp_refid_format(const unsigned char refid[4], unsigned stratum,
                       char out[NTP_REFID_TEXT])
{
    size_t n = 0;

    if (stratum >= 2) {
        /* Four numbers of at most 3 digits and 3 dots: 15 bytes. */
        for (int i = 0; i < 4; i++) {
            unsigned v = refid[i];
            if (i > 0)
                out[n++] = '.';
            if (v >= 100)
                out[n++] = (char)('0' + v / 100);
            if (v >= 10)
                out[n++] = (char)('0' + v / 10 % 10);
            out[n++] = (char)('0' + v % 10);
        }
        if (refid_is_name(refid)) {
            out[n++] = ' ';
            out[n++] = '(';
            memcpy(out + n, refid, 4);
            n += 4;
            out[n++] = ')';
        }
    } else {
        for (int i = 0; i < 4 && refid[i] != 0; i++)
            out[n++] = refid[i] > 0x20 && refid[i] < 0x7f ? (char)refid[i] : '.';
    }
    out[n] = '\0';
    return out;
}
