/*
 * rfc868.h - decoding an RFC 868 time reply: the 32-bit count of seconds
 * since 1900-01-01 00:00 UTC, and the era choice that keeps it right after
 * the counter wraps on 2036-02-07.
 */
#ifndef SOCKIT_CLI_RFC868_H
#define SOCKIT_CLI_RFC868_H

#include <stdint.h>

/* Seconds from 1900-01-01 to 1970-01-01 (17 leap years in between). */
#define RFC868_UNIX_OFFSET INT64_C(2208988800)

/* The value the protocol carries: big-endian seconds since 1900. */
uint32_t rfc868_decode(const unsigned char reply[4]);

/*
 * Converts an RFC 868 value to Unix seconds, choosing the era (a multiple
 * of 2^32 seconds added to the value) that puts the result nearest to
 * `local_unix`, the local clock.  A value exactly half an era away rounds
 * to the later era.  Valid for |local_unix| < 2^62; pure, no clock read.
 */
int64_t rfc868_to_unix(uint32_t value, int64_t local_unix);

#endif /* SOCKIT_CLI_RFC868_H */
