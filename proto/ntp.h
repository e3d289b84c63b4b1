/* SPDX-License-Identifier: MIT */
/*
 * proto/ntp.h - the NTPv4 packet header (RFC 5905, section 7.3) as SNTP
 * (RFC 4330) uses it: its 48-byte wire form, the 64-bit timestamps and
 * their 1900 epoch, and the client's offset and delay arithmetic.
 *
 *   ntp_packet          the header's fields, host order
 *   ntp_decode/encode   wire form <-> ntp_packet; anything after the first
 *                       48 bytes (extension fields, a MAC) is ignored
 *   ntp_request_check   what a server makes of a datagram: a mode 3 request
 *                       to answer, or a reason to drop it
 *   ntp_ts_*            timestamps: from Unix time, to Unix time (the era
 *                       nearest the local clock, as proto/rfc868.h does for
 *                       the seconds), and signed differences
 *   ntp_sample_compute  offset and delay from T1..T4
 *   ntp_refid_format    a refid as text (kiss code, ASCII source or IPv4)
 *
 * Pure functions with no clock reads, no sockets and no allocation.
 */
#ifndef SOCKIT_PROTO_NTP_H
#define SOCKIT_PROTO_NTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NTP_HEADER_LEN 48
#define NTP_PORT 123
#define NTP_VERSION 4

/* Modes (RFC 5905, figure 10).  Only 3 (client) and 4 (server) are used
 * here; 6 and 7 (control and private, "monlist") are never answered. */
enum {
    NTP_MODE_RESERVED = 0, NTP_MODE_ACTIVE = 1, NTP_MODE_PASSIVE = 2,
    NTP_MODE_CLIENT = 3, NTP_MODE_SERVER = 4, NTP_MODE_BROADCAST = 5,
    NTP_MODE_CONTROL = 6, NTP_MODE_PRIVATE = 7
};

/* Leap indicator values; 3 means "clock unsynchronised". */
enum {
    NTP_LEAP_NONE = 0, NTP_LEAP_ADD = 1, NTP_LEAP_DEL = 2, NTP_LEAP_UNSYNC = 3
};

/* Stratum 0 marks a kiss-o'-death packet; 16 means unsynchronised. */
#define NTP_STRATUM_KOD 0
#define NTP_STRATUM_MAX 15
#define NTP_STRATUM_UNSYNC 16

/*
 * The header.  Timestamps are the wire's 64-bit fixed point, seconds since
 * 1900 (modulo 2^32) in the high 32 bits and the fraction in the low 32;
 * root delay and dispersion are the 32-bit 16.16 "short" format.  The refid
 * is kept as its four wire bytes.
 */
typedef struct ntp_packet {
    unsigned leap, version, mode; /* 2, 3 and 3 bits */
    unsigned stratum;             /* 0..255 */
    int poll, precision;          /* signed log2 seconds */
    uint32_t root_delay, root_dispersion;
    unsigned char refid[4];
    uint64_t reference, origin, receive, transmit;
} ntp_packet;

/*
 * Decodes the first 48 bytes of `buf` into *p.  Returns NTP_HEADER_LEN, or
 * -1 when len < 48 (nothing is read beyond `len`).  Bytes after the header
 * are not looked at.
 */
int ntp_decode(ntp_packet *p, const void *buf, size_t len);

/* Writes the 48-byte wire form of *p (fields masked to their widths). */
void ntp_encode(const ntp_packet *p, unsigned char out[NTP_HEADER_LEN]);

/* A server's verdict on one datagram. */
typedef enum ntp_verdict {
    NTP_REQUEST_OK = 0,  /* a mode 3 request with version 1..4 */
    NTP_DROP_SHORT,      /* shorter than the 48-byte header */
    NTP_DROP_VERSION,    /* version 0 or 5..7 */
    NTP_DROP_MODE,       /* any mode but 3 (0, 1, 2, 4, 5, 6, 7) */
    NTP_NVERDICTS
} ntp_verdict;

/* Classifies a datagram a server received; on NTP_REQUEST_OK *req holds the
 * decoded header. */
ntp_verdict ntp_request_check(ntp_packet *req, const void *buf, size_t len);

/* "ok", "short", "version", "mode". */
const char *ntp_verdict_name(ntp_verdict v);

/*
 * Builds a server reply to `req`: mode 4, the request's version and poll,
 * origin = the request's transmit timestamp bit for bit, and the rest from
 * *self (leap, stratum, precision, root delay and dispersion, refid and
 * reference timestamp), `receive` (T2) and `transmit` (T3).
 */
void ntp_reply_make(ntp_packet *reply, const ntp_packet *req, const ntp_packet *self,
                    uint64_t receive, uint64_t transmit);

/* Makes *p a kiss-o'-death reply to `req` with the four-letter `code`
 * ("RATE"): stratum 0, leap 3, the request's version, poll and transmit
 * timestamp as origin, the other timestamps zero. */
void ntp_kod_make(ntp_packet *p, const ntp_packet *req, const char code[4]);

/* True when *p is a kiss-o'-death packet with kiss code `code`. */
bool ntp_is_kod(const ntp_packet *p, const char code[4]);

/* ---- timestamps ----------------------------------------------------------- */

/* The NTP timestamp of Unix time sec + nsec/1e9 (nsec in [0, 1e9)); the
 * seconds wrap modulo 2^32 like RFC 868's, so 2036 and later are right. */
uint64_t ntp_ts_from_unix(int64_t sec, uint32_t nsec);

/*
 * Converts an NTP timestamp to Unix time, choosing the era nearest to
 * `local_unix` (see rfc868_to_unix).  *nsec receives the fraction in
 * nanoseconds (rounded down, < 1e9).  Returns the seconds.
 */
int64_t ntp_ts_to_unix(uint64_t ts, int64_t local_unix, uint32_t *nsec);

/* a - b in seconds, read as a signed 64-bit fixed-point difference (RFC
 * 5905's arithmetic): right whatever the eras, as long as the two instants
 * are within 68 years of each other. */
double ntp_ts_diff(uint64_t a, uint64_t b);

/* The 16.16 short format (root delay, root dispersion) in seconds. */
double ntp_short_to_seconds(uint32_t v);

/* Seconds (clamped to 0..65535.99998) in the 16.16 short format, rounded up. */
uint32_t ntp_short_from_seconds(double s);

/* ---- the client's arithmetic --------------------------------------------- */

/* Offset and delay (RFC 5905 section 8): T1 client send, T2 server receive,
 * T3 server send, T4 client receive. */
typedef struct ntp_sample {
    double offset; /* ((T2 - T1) + (T3 - T4)) / 2: server - local, seconds */
    double delay;  /* (T4 - T1) - (T3 - T2), seconds; may be slightly < 0 */
} ntp_sample;

ntp_sample ntp_sample_compute(uint64_t t1, uint64_t t2, uint64_t t3, uint64_t t4);

/* Room for any refid text, with its NUL. */
#define NTP_REFID_TEXT 24

/*
 * Writes the refid as text into out[NTP_REFID_TEXT]: for stratum 0 and 1
 * the kiss code or source name (the ASCII characters up to the first NUL,
 * other bytes as '.'), for stratum 2 and up a dotted IPv4 address (an IPv6
 * server's refid is a hash, shown the same way), followed by the four
 * characters in parentheses when all are capital letters or digits, with a
 * letter among them ("76.79.67.76 (LOCL)": a lab server's local clock).
 * Returns `out`.
 */
char *ntp_refid_format(const unsigned char refid[4], unsigned stratum,
                       char out[NTP_REFID_TEXT]);

#endif /* SOCKIT_PROTO_NTP_H */
