/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_ntp.c - the NTP header codec and the server's handling
 * of a datagram (proto/ntp.c).
 *
 * Input: [clock:8][datagram...].  The datagram is decoded from a block of
 * exactly its size (ASan sees any read past it); the 8 clock bytes are the
 * local Unix time for the era choice, mapped into |t| < 2^40.  Properties:
 *  - decode succeeds exactly when there are 48 bytes, and encode(decode(x))
 *    gives back x's first 48 bytes (every bit is a field);
 *  - the server's verdict follows from the first byte and the length alone;
 *  - a reply (and a kiss-o'-death) is 48 bytes, never longer than the
 *    request, mode 4, with the request's version and poll, and carries the
 *    request's transmit timestamp bytes as its origin;
 *  - a timestamp converted to Unix time and back is the same timestamp
 *    within the nanosecond rounding, and lies within half an era of the
 *    clock;
 *  - refid text is NUL-terminated within its 16 bytes.
 */
#include "fuzz.h"

#include "ntp.h"

#define HALF_ERA (INT64_C(1) << 31)

static void check_codec(const unsigned char *b, size_t size, ntp_packet *p)
{
    unsigned char back[NTP_HEADER_LEN];
    int n = ntp_decode(p, b, size);

    FUZZ_ASSERT((n == NTP_HEADER_LEN) == (size >= NTP_HEADER_LEN),
                "decode of %zu bytes returned %d", size, n);
    if (n < 0)
        return;
    ntp_encode(p, back);
    FUZZ_ASSERT(memcmp(back, b, NTP_HEADER_LEN) == 0, "encode(decode(x)) != x");
}

static void check_server(const unsigned char *b, size_t size)
{
    unsigned char out[NTP_HEADER_LEN];
    ntp_packet req, self = {0}, rep;
    ntp_verdict v = ntp_request_check(&req, b, size);
    ntp_verdict want = size < NTP_HEADER_LEN                        ? NTP_DROP_SHORT
                       : ((b[0] >> 3) & 7) < 1 || ((b[0] >> 3) & 7) > 4 ? NTP_DROP_VERSION
                       : (b[0] & 7) != NTP_MODE_CLIENT                  ? NTP_DROP_MODE
                                                                        : NTP_REQUEST_OK;

    FUZZ_ASSERT(v == want, "verdict %s, expected %s", ntp_verdict_name(v),
                ntp_verdict_name(want));
    if (v != NTP_REQUEST_OK)
        return;
    self.stratum = 8;
    memcpy(self.refid, "LOCL", 4);
    for (int kod = 0; kod < 2; kod++) {
        if (kod)
            ntp_kod_make(&rep, &req, "RATE");
        else
            ntp_reply_make(&rep, &req, &self, 1, 2);
        ntp_encode(&rep, out);
        FUZZ_ASSERT(sizeof(out) <= size, "reply longer than the request");
        FUZZ_ASSERT((out[0] & 7) == NTP_MODE_SERVER, "reply mode %d", out[0] & 7);
        FUZZ_ASSERT((out[0] & 0x38) == (b[0] & 0x38), "version not copied");
        FUZZ_ASSERT(out[2] == b[2], "poll not copied");
        FUZZ_ASSERT(memcmp(out + 24, b + 40, 8) == 0, "origin is not the request's transmit");
        FUZZ_ASSERT(!kod || (out[1] == 0 && memcmp(out + 12, "RATE", 4) == 0),
                    "kiss-o'-death is not stratum 0 RATE");
    }
}

static void check_timestamp(uint64_t ts, int64_t local)
{
    uint32_t ns;
    int64_t sec = ntp_ts_to_unix(ts, local, &ns);
    uint64_t back = ntp_ts_from_unix(sec, ns);

    FUZZ_ASSERT(ns < 1000000000u, "nanoseconds %u", ns);
    FUZZ_ASSERT(sec - local > -HALF_ERA && sec - local <= HALF_ERA,
                "%llx read as %lld from clock %lld", (unsigned long long)ts,
                (long long)sec, (long long)local);
    /* ns is rounded down, so back is at most ~4.3 fraction units below. */
    FUZZ_ASSERT(ts - back <= 5, "%llx came back as %llx", (unsigned long long)ts,
                (unsigned long long)back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    int64_t local = (int64_t)(fuzz_u64(&in, 8) & ((UINT64_C(1) << 41) - 1)) -
                    (INT64_C(1) << 40);
    size_t n = fuzz_left(&in);
    unsigned char *b = fuzz_memdup(data + in.pos, n);
    ntp_packet p;
    char refid[NTP_REFID_TEXT];

    check_codec(b, n, &p);
    check_server(b, n);
    if (n >= NTP_HEADER_LEN) {
        check_timestamp(p.transmit, local);
        check_timestamp(p.reference, local);
        ntp_refid_format(p.refid, p.stratum, refid);
        FUZZ_ASSERT(memchr(refid, '\0', sizeof(refid)) != NULL, "refid not terminated");
    }
    free(b);
    return 0;
}
