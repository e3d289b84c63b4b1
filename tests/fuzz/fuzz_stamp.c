/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_stamp.c - the STAMP packet and TLV codec (proto/stamp.c):
 * what a reflector makes of any datagram.
 *
 * Input: [ctl][datagram...].  ctl bit 0: authenticated mode; bit 1: the
 * reflector has a key (always in authenticated mode).  The datagram sits in
 * a block of exactly its size (ASan sees any read past it).  Properties:
 *  - the verdict is "short" exactly below the mode's base length, and in
 *    authenticated mode "hmac" exactly when the HMAC recomputed here
 *    differs;
 *  - the TLV walk moves strictly forward and stays inside the packet;
 *  - a reply is exactly as long as its request, echoes the sender's
 *    sequence number, timestamp and error estimate and SSID, and after the
 *    base packet differs from the request only in TLV flag bits it may set
 *    (U, M, I) and in the values of the TLVs it answers (never those it
 *    flags unknown or malformed, nor padding);
 *  - with a key, the reply's HMACs verify.
 */
#include "fuzz.h"

#include "stamp.h"

static const stamp_key key = {
    {0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 16,
};

static void check_walk(const unsigned char *b, size_t len, size_t base)
{
    size_t off = base, prev = base;
    stamp_tlv t;
    stamp_tlv_step st;

    while ((st = stamp_tlv_next(b, len, &off, &t)) == STAMP_TLV_OK) {
        FUZZ_ASSERT(off > prev && off <= len, "walk went from %zu to %zu of %zu", prev, off,
                    len);
        FUZZ_ASSERT(t.off == prev, "TLV at %zu, expected %zu", t.off, prev);
        prev = off;
    }
    FUZZ_ASSERT(off == prev, "a failed step moved the offset");
    FUZZ_ASSERT(st == STAMP_TLV_END ? off == len
                : st == STAMP_TLV_TRUNCATED ? len - off < STAMP_TLV_HDR
                                            : len - off >= STAMP_TLV_HDR,
                "step %d with %zu of %zu bytes left", (int)st, len - off, len);
}

/* Outside the answered TLVs' values, only flag bits may change. */
static void check_tlvs(const unsigned char *req, const unsigned char *out, size_t len,
                       size_t base)
{
    size_t off = base;
    stamp_tlv t;

    while (stamp_tlv_next(req, len, &off, &t) == STAMP_TLV_OK) {
        unsigned added = out[t.off] & (unsigned)~req[t.off];

        FUZZ_ASSERT((out[t.off] & req[t.off]) == req[t.off], "a flag was cleared");
        FUZZ_ASSERT((added & ~(unsigned)(STAMP_TLV_U | STAMP_TLV_M | STAMP_TLV_I)) == 0,
                    "flags %02x added", added);
        FUZZ_ASSERT(memcmp(req + t.off + 1, out + t.off + 1, 3) == 0,
                    "type or length changed at %zu", t.off);
        /* Padding, and a TLV the reflector found unknown or malformed, come
         * back as they were.  (Flags the sender set are kept; an HMAC TLV
         * it flagged is still recomputed.) */
        if (t.type == STAMP_TLV_PADDING || (added & (STAMP_TLV_U | STAMP_TLV_M)))
            FUZZ_ASSERT(memcmp(req + t.off + 4, out + t.off + 4, t.len) == 0,
                        "value of TLV type %u changed", t.type);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned ctl = size > 0 ? data[0] : 0;
    stamp_mode m = (ctl & 1) ? STAMP_AUTH : STAMP_UNAUTH;
    const stamp_key *k = (ctl & 3) ? &key : NULL;
    size_t n = size > 0 ? size - 1 : 0, base = stamp_base_len(m);
    unsigned char *b = fuzz_alloc(n), *out;
    stamp_reflect_info info = {.seq = 3, .receive = 4, .ttl = 64, .tos = 0x2e};
    stamp_reflect_report rep;
    stamp_reflector r;
    stamp_sender s;
    stamp_verdict v;

    memcpy(b, data + (size > 0), n);
    v = stamp_request_check(&s, m, k, b, n);
    if (n < base) {
        FUZZ_ASSERT(v == STAMP_DROP_SHORT, "%zu bytes: verdict %s", n, stamp_verdict_name(v));
        free(b);
        return 0;
    }
    FUZZ_ASSERT(v == (m == STAMP_AUTH && !stamp_auth_verify(k, b) ? STAMP_DROP_HMAC
                                                                   : STAMP_REQUEST_OK),
                "verdict %s", stamp_verdict_name(v));
    check_walk(b, n, base);
    out = fuzz_alloc(n);
    stamp_reflect(out, b, n, m, k, &s, &info, &rep);
    stamp_reflect_finish(out, n, m, k, 5);
    FUZZ_ASSERT(stamp_reflector_decode(&r, m, out, n) == (int)base, "reply not decoded");
    FUZZ_ASSERT(r.sender_seq == s.seq && r.sender_timestamp == s.timestamp &&
                    r.sender_error_estimate == s.error_estimate && r.ssid == s.ssid,
                "sender fields not echoed");
    FUZZ_ASSERT(r.seq == 3 && r.receive == 4 && r.timestamp == 5 && r.sender_ttl == 64,
                "reflector fields wrong");
    check_tlvs(b, out, n, base);
    if (m == STAMP_AUTH)
        FUZZ_ASSERT(stamp_auth_verify(k, out), "reply HMAC does not verify");
    free(out);
    free(b);
    return 0;
}
