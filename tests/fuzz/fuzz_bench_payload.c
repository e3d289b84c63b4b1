/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_bench_payload.c - the payload verifier of `sockit bench`
 * (cli/bench/payload.c), which checks the bytes a server echoes back.
 *
 * Input: [mode][seed: 8 bytes][offset: 8 bytes] then, with mode bit 0
 * clear, the received bytes as they are; with it set, [length: 2 bytes]
 * and 3-byte edits (position: 2 bytes, byte) applied to a correct stream
 * made by bench_payload_fill, so the per-block memcmp fast path meets long
 * correct runs with a fault anywhere.
 *
 * bench_payload_check, given a buffer of exactly its length (ASan catches
 * any read past it), must return the index of the first byte that differs
 * from bench_payload_byte(seed, offset + i), or the length when none does;
 * bench_payload_fill must write exactly those bytes.
 */
#include "fuzz.h"

#include "bench.h"

#define MAX_LEN 65535

static size_t reference_check(uint64_t seed, uint64_t offset, const unsigned char *p,
                              size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != bench_payload_byte(seed, offset + i))
            return i;
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    uint8_t mode = fuzz_u8(&in);
    uint64_t seed = fuzz_u64(&in, 8), offset = fuzz_u64(&in, 8);
    unsigned char *buf;
    size_t len, got, want;

    if (mode & 1) {
        len = (size_t)fuzz_u64(&in, 2);
        buf = fuzz_alloc(len);
        bench_payload_fill(seed, offset, buf, len);
        FUZZ_ASSERT(reference_check(seed, offset, buf, len) == len,
                    "fill(offset %llu, len %zu) wrote other bytes", (unsigned long long)offset,
                    len);
        while (len > 0 && fuzz_left(&in) >= 3) {
            size_t at = (size_t)fuzz_u64(&in, 2) % len;

            buf[at] = fuzz_u8(&in);
        }
    } else {
        len = fuzz_left(&in) < MAX_LEN ? fuzz_left(&in) : MAX_LEN;
        buf = fuzz_memdup(data + in.pos, len);
    }
    got = bench_payload_check(seed, offset, buf, len);
    want = reference_check(seed, offset, buf, len);
    FUZZ_ASSERT(got == want, "check(offset %llu, len %zu) = %zu, first difference at %zu",
                (unsigned long long)offset, len, got, want);
    free(buf);
    return 0;
}
