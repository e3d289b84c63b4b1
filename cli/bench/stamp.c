/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/stamp.c - what `sockit bench stamp` sends and accepts: STAMP
 * test packets (RFC 8762) that name themselves in their timestamp, and the
 * checks a reflector's copy must pass (proto/stamp.c decodes).  The udp
 * driver (cli/bench/udp.c) keeps them in flight and counts loss.
 */
#include "bench.h"

#include "stamp.h"

#include <stdio.h>
#include <string.h>

_Static_assert(BENCH_STAMP_MIN == STAMP_BASE_LEN, "the base packet is the smallest");

void bench_stamp_request(uint64_t tag, uint64_t seq, size_t size, unsigned char *buf)
{
    stamp_sender s = {
        .seq = (uint32_t)seq,
        .timestamp = (tag & UINT64_C(0xffffffff00000000)) | (seq & 0xffffffffu),
        .error_estimate = 1, /* unsynchronised, 2^-32 s: nothing is claimed */
        .ssid = (uint16_t)(tag >> 16) | 1,
    };

    stamp_sender_encode(&s, STAMP_UNAUTH, buf);
    memset(buf + STAMP_BASE_LEN, 0, size - STAMP_BASE_LEN);
}

const char *bench_stamp_reply(uint64_t tag, const unsigned char *buf, size_t n, size_t size,
                              uint32_t *seq32)
{
    static _Thread_local char why[96];
    stamp_reflector r;

    if (n != size || stamp_reflector_decode(&r, STAMP_UNAUTH, buf, n) < 0) {
        snprintf(why, sizeof(why), "reply of %zu bytes to a %zu-byte test packet", n, size);
        return why;
    }
    if ((r.sender_timestamp >> 32) != (tag >> 32) ||
        r.sender_seq != (uint32_t)r.sender_timestamp)
        return "reply that reflects none of our test packets (an echo server?)";
    if (r.receive == 0 || r.timestamp == 0)
        return "reply without a receive or transmit timestamp";
    *seq32 = r.sender_seq;
    return NULL;
}
