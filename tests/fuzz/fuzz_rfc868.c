/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_rfc868.c - the RFC 868 time reply decoder and era selection
 * (proto/rfc868.c).
 *
 * Input: records of 12 bytes: the 4-byte reply, then 8 bytes giving the
 * local clock (big-endian, mapped into the function's domain |t| < 2^62).
 * The two properties below pin the answer down to one value, so together
 * they are a complete oracle:
 *  - the result is congruent to value - RFC868_UNIX_OFFSET modulo 2^32 (it
 *    is the value read in some era);
 *  - it lies within half an era of the local clock, the tie going to the
 *    later era: result - local in (-2^31, 2^31].
 */
#include "fuzz.h"

#include "rfc868.h"

#define HALF_ERA (INT64_C(1) << 31)
#define DOMAIN (INT64_C(1) << 62)

/* Maps any 64 bits onto -2^62 < t < 2^62, the documented domain. */
static int64_t local_from_bits(uint64_t bits)
{
    int64_t t = (int64_t)(bits >> 1) - DOMAIN;

    return t == -DOMAIN ? t + 1 : t;
}

static void check_one(const unsigned char reply[4], int64_t local)
{
    uint32_t value = rfc868_decode(reply);
    uint32_t be = (uint32_t)reply[0] << 24 | (uint32_t)reply[1] << 16 |
                  (uint32_t)reply[2] << 8 | reply[3];
    int64_t t = rfc868_to_unix(value, local);
    uint64_t residue = (uint64_t)(t + RFC868_UNIX_OFFSET) & 0xffffffffu;

    FUZZ_ASSERT(value == be, "decode gave %u, bytes say %u", value, be);
    FUZZ_ASSERT(residue == value, "to_unix(%u, %lld) = %lld reads as %llu", value,
                (long long)local, (long long)t, (unsigned long long)residue);
    FUZZ_ASSERT(t - local > -HALF_ERA && t - local <= HALF_ERA,
                "to_unix(%u, %lld) = %lld is %lld s from the clock", value,
                (long long)local, (long long)t, (long long)(t - local));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};

    while (fuzz_left(&in) >= 12) {
        unsigned char reply[4];

        for (int i = 0; i < 4; i++)
            reply[i] = fuzz_u8(&in);
        check_one(reply, local_from_bits(fuzz_u64(&in, 8)));
    }
    return 0;
}
