/* SPDX-License-Identifier: MIT */
/*
 * proto/rfc868.c - the RFC 868 value, its encoding and decoding, and era
 * selection (see rfc868.h).  Pure functions: the caller reads the clock
 * and the socket.
 */
#include "rfc868.h"

#define ERA RFC868_ERA

uint32_t rfc868_value(int64_t t)
{
    /* Unsigned arithmetic is the modulo 2^32 the protocol wants. */
    return (uint32_t)((uint64_t)t + (uint64_t)RFC868_UNIX_OFFSET);
}

void rfc868_encode(uint32_t v, unsigned char out[4])
{
    out[0] = (unsigned char)(v >> 24);
    out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8);
    out[3] = (unsigned char)v;
}

uint32_t rfc868_decode(const unsigned char reply[4])
{
    return (uint32_t)reply[0] << 24 | (uint32_t)reply[1] << 16 |
           (uint32_t)reply[2] << 8 | (uint32_t)reply[3];
}

/* Floor division by ERA; C's '/' truncates toward zero, which would pick
 * the wrong era for instants before 1900. */
static int64_t floor_div_era(int64_t x)
{
    int64_t q = x / ERA;

    if (x % ERA < 0)
        q--;
    return q;
}

int64_t rfc868_to_unix(uint32_t value, int64_t local_unix)
{
    /* The value read in era 0 (1900..2036), as Unix time. */
    int64_t era0 = (int64_t)value - RFC868_UNIX_OFFSET;

    /* The era whose candidate lies within half an era of the local clock:
     * round (local - era0) / ERA to the nearest integer, halves upwards. */
    int64_t k = floor_div_era(local_unix - era0 + ERA / 2);

    return era0 + k * ERA;
}
