/* SPDX-License-Identifier: MIT */
/*
 * proto/rfc868.h - RFC 868 (Time): the 32-bit count of seconds since
 * 1900-01-01 00:00 UTC, its encoding, and the era choice that keeps it right
 * after the counter wraps on 2036-02-07.  NTP's seconds field counts from
 * the same epoch with the same width, so proto/ntp.c uses these too.
 */
#ifndef SOCKIT_PROTO_RFC868_H
#define SOCKIT_PROTO_RFC868_H

#include <stdint.h>

/* Seconds from 1900-01-01 to 1970-01-01 (17 leap years in between). */
#define RFC868_UNIX_OFFSET INT64_C(2208988800)

/* The length of one era: the counter wraps every 2^32 seconds. */
#define RFC868_ERA (INT64_C(1) << 32)

/* The value for Unix time `t`: seconds since 1900 modulo 2^32 (so also
 * right for times before 1970 and after the 2036 wrap). */
uint32_t rfc868_value(int64_t t);

/* Stores `v` big-endian in out[4], as the protocol carries it. */
void rfc868_encode(uint32_t v, unsigned char out[4]);

/* The value the protocol carries: big-endian seconds since 1900. */
uint32_t rfc868_decode(const unsigned char reply[4]);

/*
 * Converts an RFC 868 value to Unix seconds, choosing the era (a multiple
 * of 2^32 seconds added to the value) that puts the result nearest to
 * `local_unix`, the local clock.  A value exactly half an era away rounds
 * to the later era.  Valid for |local_unix| < 2^62; pure, no clock read.
 */
int64_t rfc868_to_unix(uint32_t value, int64_t local_unix);

#endif /* SOCKIT_PROTO_RFC868_H */
