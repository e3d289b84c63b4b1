/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/ntp.c - what `sockit bench ntp` sends and accepts: NTPv4 client
 * requests that name themselves in their transmit timestamp, and the checks
 * a server's reply must pass (proto/ntp.c decodes).  The udp driver
 * (cli/bench/udp.c) keeps the requests in flight and counts loss.
 *
 * With --nts the cookies and keys come from NTS key exchanges made here
 * before the run (cli/ntp_nts.c, shared with `sockit ntp --nts`): one per
 * group of up to BENCH_NTS_GROUP slots of a thread, since each request in
 * flight spends a cookie and its reply brings the fresh one back.
 */
#include "bench.h"

#include "cli.h"
#include "ntp.h"
#include "ntp_nts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        ntp_refid_format(p.refid, 0, code);
        snprintf(why, sizeof(why), "kiss-o'-death %s (%s)", code,
                 strcmp(code, NTS_KOD_NTSN) == 0 ? "the server refused our NTS cookie"
                                                 : "rate limiting on? --udp-limit 0");
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

/* The groups of thread i (the split start_threads makes). */
static long nts_groups(const bench_config *cfg, long i)
{
    long first = cfg->conns * i / cfg->threads;
    long n = cfg->conns * (i + 1) / cfg->threads - first;

    return (n + BENCH_NTS_GROUP - 1) / BENCH_NTS_GROUP;
}

int bench_nts_init(bench_config *cfg)
{
    char why[256];
    long total = 0;

    if (!cfg->nts)
        return 0;
    cfg->nts_first = calloc((size_t)cfg->threads, sizeof(long));
    if (cfg->nts_first == NULL)
        goto nomem;
    for (long i = 0; i < cfg->threads; i++) {
        cfg->nts_first[i] = total;
        total += nts_groups(cfg, i);
    }
    cfg->nts_assoc = calloc((size_t)total, sizeof(ntp_nts));
    if (cfg->nts_assoc == NULL)
        goto nomem;
    for (; cfg->nts_count < total; cfg->nts_count++) {
        ntp_nts_step st = ntp_nts_ke(&cfg->nts_assoc[cfg->nts_count], cfg->host,
                                     cfg->nts_port, cfg->family, cfg->cafile,
                                     cfg->servername, cfg->timeout, why, sizeof(why));
        if (st != NTP_NTS_OK) {
            ntp_nts_free(&cfg->nts_assoc[cfg->nts_count]);
            fprintf(stderr, "sockit: bench ntp --nts %s port %s: %s: %s\n", cfg->host,
                    cfg->nts_port, ntp_nts_step_name(st), why);
            return -1;
        }
    }
    return 0;
nomem:
    cli_error("bench", "out of memory");
    return -1;
}

void bench_nts_free(bench_config *cfg)
{
    for (long i = 0; i < cfg->nts_count; i++)
        ntp_nts_free(&cfg->nts_assoc[i]);
    free(cfg->nts_assoc);
    free(cfg->nts_first);
    cfg->nts_assoc = NULL;
    cfg->nts_first = NULL;
    cfg->nts_count = 0;
}
