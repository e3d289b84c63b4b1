/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/ntp.c - what `sockit bench ntp` sends and accepts: NTPv4 client
 * requests that name themselves in their transmit timestamp, and the checks
 * a server's reply must pass (proto/ntp.c decodes).  The udp driver
 * (cli/bench/udp.c) keeps the requests in flight and counts loss.
 */
#include "bench.h"

#include "ntp.h"

#include <stdio.h>

_Static_assert(BENCH_NTP_SIZE == NTP_HEADER_LEN, "an NTP request is one header");

void bench_ntp_request(uint64_t tag, uint64_t seq, unsigned char buf[BENCH_NTP_SIZE])
{
    ntp_packet q = {0};

    q.version = NTP_VERSION;
    q.mode = NTP_MODE_CLIENT;
    q.transmit = (tag & UINT64_C(0xffffffff00000000)) | (seq & 0xffffffffu);
    ntp_encode(&q, buf);
}

const char *bench_ntp_reply(uint64_t tag, const unsigned char *buf, size_t n,
                            uint32_t *seq32)
{
    static _Thread_local char why[96];
    ntp_packet p;

    if (ntp_decode(&p, buf, n) < 0) {
        snprintf(why, sizeof(why), "reply of %zu bytes, shorter than an NTP header", n);
        return why;
    }
    if (p.mode != NTP_MODE_SERVER) {
        snprintf(why, sizeof(why), "reply of mode %u, not 4", p.mode);
        return why;
    }
    if ((p.origin >> 32) != (tag >> 32))
        return "reply whose origin is none of our requests";
    if (p.stratum == NTP_STRATUM_KOD) {
        char code[NTP_REFID_TEXT];
        snprintf(why, sizeof(why), "kiss-o'-death %s (rate limiting on? --udp-limit 0)",
                 ntp_refid_format(p.refid, 0, code));
        return why;
    }
    if (p.transmit == 0)
        return "reply with a zero transmit timestamp";
    if (p.stratum > NTP_STRATUM_UNSYNC ||
        (p.stratum == NTP_STRATUM_UNSYNC && p.leap != NTP_LEAP_UNSYNC)) {
        snprintf(why, sizeof(why), "reply of stratum %u", p.stratum);
        return why;
    }
    *seq32 = (uint32_t)p.origin;
    return NULL;
}
