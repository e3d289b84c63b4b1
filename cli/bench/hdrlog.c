/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/hdrlog.c - `sockit bench --hdr-log FILE`: the latencies as an
 * HdrHistogram interval log, the format HdrHistogram's tools read
 * (HistogramLogProcessor, HistogramLogAnalyzer, hdr-plot).
 *
 * The file opens with the header lines HdrHistogram's HistogramLogWriter
 * writes: the format version, "#[StartTime: ...]" and "#[BaseTime: ...]"
 * (both the real time the measurement began, seconds since 1970) and the
 * column legend.  Then one line per --interval (one for the whole window
 * without it): start (seconds from BaseTime), length, the interval's
 * maximum in milliseconds, and its histogram in the V2 compressed
 * encoding, base64.
 *
 * The encoding.  bench's histogram is an HdrHistogram's counts array
 * exactly: lowest discernible value 1, 3 significant digits (2048
 * sub-buckets, so bench's 1024 slots per power of two), highest trackable
 * value 2^42 - 1 (BENCH_HIST_SLOTS counts).  The V2 encoding is a 40-byte
 * big-endian header (cookie 0x1c849313, payload length, normalising
 * offset 0, significant digits 3, lowest 1, highest, conversion ratio
 * 1.0) and the counts up to the last non-zero one as ZigZag LEB128
 * varints, a run of k > 1 empty counts written as -k.  The compressed
 * form is cookie 0x1c849314, the zlib stream's length, and a zlib
 * (RFC 1950) stream of the whole V2 encoding.  Cost: O(slots) per
 * histogram, one malloc of the worst case (about 300 KiB) per line.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define HDR_V2_COOKIE 0x1c849313u
#define HDR_V2_COMPRESSED_COOKIE 0x1c849314u
#define HDR_HEADER 40
#define HDR_SIGNIFICANT_DIGITS 3
/* The largest varint: 9 bytes. */
#define HDR_VARINT_MAX 9

_Static_assert(BENCH_HIST_SUB_COUNT == 2048, "3 significant digits need 2048 sub-buckets");

struct bench_hdrlog {
    FILE *f;
    int error; /* the first write error, -errno */
};

static unsigned char *put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static unsigned char *put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

/* HdrHistogram's ZigZag LEB128: 7 bits a byte for 8 bytes, then all 8 of
 * the ninth. */
static unsigned char *put_zigzag(unsigned char *p, int64_t value)
{
    uint64_t v = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);

    for (int i = 0; i < 8; i++) {
        if (v < 0x80) {
            *p++ = (unsigned char)v;
            return p;
        }
        *p++ = (unsigned char)((v & 0x7f) | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/* The uncompressed V2 encoding into buf (room for the worst case);
 * returns its length. */
static size_t encode_v2(const bench_hist *h, unsigned char *buf)
{
    unsigned char *p = buf + HDR_HEADER;
    size_t limit = 0;
    uint64_t dbl;
    double one = 1.0;

    for (size_t i = 0; i < BENCH_HIST_SLOTS; i++)
        if (h != NULL && h->slots[i] != 0)
            limit = i + 1;
    for (size_t i = 0; i < limit;) {
        uint64_t count = h->slots[i++];
        int64_t zeros = 0;
        if (count == 0) {
            zeros = 1;
            while (i < limit && h->slots[i] == 0) {
                zeros++;
                i++;
            }
        }
        p = put_zigzag(p, zeros > 1 ? -zeros : (int64_t)count);
    }
    memcpy(&dbl, &one, sizeof(dbl));
    put_be32(buf, HDR_V2_COOKIE);
    put_be32(buf + 4, (uint32_t)(p - buf - HDR_HEADER));
    put_be32(buf + 8, 0);
    put_be32(buf + 12, HDR_SIGNIFICANT_DIGITS);
    put_be64(buf + 16, 1);
    put_be64(buf + 24, BENCH_HIST_MAX);
    put_be64(buf + 32, dbl);
    return (size_t)(p - buf);
}

static size_t base64(const unsigned char *in, size_t n, char *out)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = out;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *o = '\0';
    return (size_t)(o - out);
}

long bench_hdr_encode(const bench_hist *h, char *out, size_t cap)
{
    size_t raw_cap = HDR_HEADER + BENCH_HIST_SLOTS * HDR_VARINT_MAX;
    uLongf zlen = compressBound((uLong)raw_cap);
    unsigned char *raw = malloc(raw_cap + 8 + zlen);
    unsigned char *z;
    size_t raw_len, n;
    long rc;

    if (raw == NULL)
        return -ENOMEM;
    z = raw + raw_cap;
    raw_len = encode_v2(h, raw);
    if (compress2(z + 8, &zlen, raw, (uLong)raw_len, Z_BEST_COMPRESSION) != Z_OK) {
        rc = -ENOMEM;
        goto out;
    }
    put_be32(z, HDR_V2_COMPRESSED_COOKIE);
    put_be32(z + 4, (uint32_t)zlen);
    n = 8 + (size_t)zlen;
    if ((n + 2) / 3 * 4 + 1 > cap) {
        rc = -ENOSPC;
        goto out;
    }
    rc = (long)base64(z, n, out);
out:
    free(raw);
    return rc;
}

int bench_hdrlog_open(bench_config *cfg)
{
    struct bench_hdrlog *log;
    double start = (double)cfg->unix_measure / 1e9;
    time_t secs = (time_t)(cfg->unix_measure / 1000000000u);
    char when[64];
    struct tm tm;

    if (cfg->hdr_log == NULL)
        return 0;
    log = calloc(1, sizeof(*log));
    if (log == NULL)
        return -ENOMEM;
    log->f = fopen(cfg->hdr_log, "w");
    if (log->f == NULL) {
        int rc = -errno;
        free(log);
        return rc;
    }
    if (gmtime_r(&secs, &tm) == NULL || strftime(when, sizeof(when), "%a %b %d %H:%M:%S UTC %Y",
                                                   &tm) == 0)
        when[0] = '\0';
    fprintf(log->f, "#[Logged with sockit bench %s to %s]\n", cfg->mode_name, cfg->target_text);
    fprintf(log->f, "#[Histogram log format version 1.3]\n");
    fprintf(log->f, "#[StartTime: %.3f (seconds since epoch), %s]\n", start, when);
    fprintf(log->f, "#[BaseTime: %.3f (seconds since epoch)]\n", start);
    fprintf(log->f, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                    "\"Interval_Compressed_Histogram\"\n");
    cfg->hdrlog = log;
    return 0;
}

int bench_hdrlog_write(const bench_config *cfg, double start_s, double len_s,
                       const bench_hist *h)
{
    struct bench_hdrlog *log = cfg->hdrlog;
    size_t cap = (8 + compressBound(HDR_HEADER + BENCH_HIST_SLOTS * HDR_VARINT_MAX) + 2) / 3 * 4 + 1;
    char *text;
    long n;

    if (log == NULL)
        return 0;
    text = malloc(cap);
    if (text == NULL)
        n = -ENOMEM;
    else
        n = bench_hdr_encode(h, text, cap);
    if (n >= 0)
        fprintf(log->f, "%.3f,%.3f,%.3f,%s\n", start_s, len_s,
                h != NULL && h->count > 0 ? (double)h->max / 1e6 : 0.0, text);
    else if (log->error == 0)
        log->error = (int)n;
    free(text);
    return n < 0 ? (int)n : 0;
}

int bench_hdrlog_close(bench_config *cfg)
{
    struct bench_hdrlog *log = cfg->hdrlog;
    int rc;

    if (log == NULL)
        return 0;
    rc = log->error;
    if ((fflush(log->f) != 0 || ferror(log->f)) && rc == 0)
        rc = -(errno ? errno : EIO);
    if (fclose(log->f) != 0 && rc == 0)
        rc = -errno;
    free(log);
    cfg->hdrlog = NULL;
    return rc;
}
