/* SPDX-License-Identifier: MIT */
/*
 * proto/stamp.h - STAMP, the Simple Two-Way Active Measurement Protocol
 * (RFC 8762) with the optional extensions of RFC 8972: the test packets of
 * both ends in unauthenticated and authenticated mode, the Session-Sender
 * Identifier (SSID), the TLVs after the base packet, and what a
 * Session-Reflector makes of a request.
 *
 *   stamp_ee_*            the error estimate (RFC 4656 section 4.1.2)
 *   stamp_sender_*        the Session-Sender's test packet, wire <-> struct
 *   stamp_reflector_*     the Session-Reflector's test packet
 *   stamp_hmac*           HMAC-SHA-256 truncated to 16 octets (RFC 8762
 *                         section 4.4) over the base packet or over TLVs
 *   stamp_tlv_*           walking and writing TLVs (RFC 8972 section 4)
 *   stamp_request_check   a reflector's verdict on a datagram
 *   stamp_reflect(_finish) a reflector's reply, in two steps so that T3 is
 *                         read as late as possible
 *
 * Pure functions: no clock reads, no sockets, no allocation (OpenSSL's HMAC
 * works on the stack).  Timestamps are NTP's 64-bit format (proto/ntp.h).
 *
 * Wire layouts, big-endian (offsets in octets; everything not listed is MBZ):
 *   sender, unauthenticated (44):  0 seq  4 T1  12 error estimate  14 SSID
 *   sender, authenticated (112):   0 seq  16 T1  24 error estimate  26 SSID
 *                                  96 HMAC
 *   reflector, unauth. (44):       0 seq  4 T3  12 error estimate  14 SSID
 *                                  16 T2  24 sender seq  28 sender T1
 *                                  36 sender error estimate  40 sender TTL
 *   reflector, auth. (112):        0 seq  16 T3  24 error estimate  26 SSID
 *                                  32 T2  48 sender seq  64 sender T1
 *                                  72 sender error estimate  80 sender TTL
 *                                  96 HMAC
 * TLVs follow the base packet: flags (U 0x80, M 0x40, I 0x20), type,
 * 16-bit length of the value, the value.
 */
#ifndef SOCKIT_PROTO_STAMP_H
#define SOCKIT_PROTO_STAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STAMP_PORT 862
#define STAMP_BASE_LEN 44  /* unauthenticated base packet, both ends */
#define STAMP_AUTH_LEN 112 /* authenticated base packet, both ends */
#define STAMP_HMAC_LEN 16  /* HMAC-SHA-256 truncated */
#define STAMP_HMAC_OFF 96  /* where the base packet's HMAC sits */
#define STAMP_KEY_MIN 16   /* key bytes, as --stamp-key takes them */
#define STAMP_KEY_MAX 64
#define STAMP_TLV_HDR 4
#define STAMP_MAX_LEN 65507 /* the largest IPv4 UDP payload */

typedef enum stamp_mode { STAMP_UNAUTH = 0, STAMP_AUTH = 1 } stamp_mode;

/* STAMP_BASE_LEN or STAMP_AUTH_LEN. */
size_t stamp_base_len(stamp_mode m);

/* ---- the error estimate ------------------------------------------------------ */

#define STAMP_EE_S 0x8000 /* clock synchronised to UTC by an external source */
#define STAMP_EE_Z 0x4000 /* PTP timestamp format (never set here: NTP format) */

/* The 16-bit error estimate of `seconds` (S set when `synced`, Z clear):
 * the smallest scale whose multiplier (1..255) reaches the error, rounded
 * up; errors past the format's range give its largest value. */
uint16_t stamp_ee_make(bool synced, double seconds);

/* Multiplier * 2^(scale - 32) seconds. */
double stamp_ee_seconds(uint16_t ee);

/* ---- the test packets --------------------------------------------------------- */

typedef struct stamp_key {
    unsigned char bytes[STAMP_KEY_MAX];
    size_t len; /* STAMP_KEY_MIN..STAMP_KEY_MAX */
} stamp_key;

/*
 * Parses a key file's first line: an even number of hexadecimal digits
 * (either case) for 16 to 64 bytes, optionally followed by spaces or tabs
 * and a line end.  Returns 0, or -1 when the line is anything else.
 */
int stamp_key_parse(stamp_key *k, const char *text, size_t len);

typedef struct stamp_sender {
    uint32_t seq;
    uint64_t timestamp; /* T1 */
    uint16_t error_estimate;
    uint16_t ssid;
} stamp_sender;

typedef struct stamp_reflector {
    uint32_t seq;
    uint64_t timestamp; /* T3 */
    uint16_t error_estimate;
    uint16_t ssid;
    uint64_t receive;   /* T2 */
    uint32_t sender_seq;
    uint64_t sender_timestamp; /* T1, echoed */
    uint16_t sender_error_estimate;
    unsigned sender_ttl; /* 0..255 */
} stamp_reflector;

/* Decodes a packet's base fields.  Returns the base length, or -1 when
 * `len` is shorter (nothing is read beyond `len`).  MBZ fields and the HMAC
 * are not looked at. */
int stamp_sender_decode(stamp_sender *p, stamp_mode m, const void *buf, size_t len);
int stamp_reflector_decode(stamp_reflector *p, stamp_mode m, const void *buf, size_t len);

/* Writes the base packet (stamp_base_len(m) bytes, MBZ and HMAC zero). */
void stamp_sender_encode(const stamp_sender *p, stamp_mode m, unsigned char *out);
void stamp_reflector_encode(const stamp_reflector *p, stamp_mode m, unsigned char *out);

/* ---- HMAC ------------------------------------------------------------------------ */

/* HMAC-SHA-256 of `len` bytes with `k`, truncated to 16 bytes. */
void stamp_hmac(const stamp_key *k, const void *data, size_t len,
                unsigned char out[STAMP_HMAC_LEN]);

/* Writes the HMAC of an authenticated packet's first 96 bytes at offset 96
 * (pkt holds at least STAMP_AUTH_LEN bytes). */
void stamp_auth_sign(const stamp_key *k, unsigned char *pkt);

/* True when the HMAC at offset 96 is that of the first 96 bytes (compared
 * in constant time). */
bool stamp_auth_verify(const stamp_key *k, const unsigned char *pkt);

/* ---- TLVs ---------------------------------------------------------------------------- */

#define STAMP_TLV_U 0x80 /* unrecognised type */
#define STAMP_TLV_M 0x40 /* malformed */
#define STAMP_TLV_I 0x20 /* failed the integrity check */

/* Types (IANA "STAMP TLV Types"). */
enum {
    STAMP_TLV_PADDING = 1,
    STAMP_TLV_LOCATION = 2,
    STAMP_TLV_TIMESTAMP_INFO = 3,
    STAMP_TLV_COS = 4,
    STAMP_TLV_DIRECT = 5,
    STAMP_TLV_ACCESS_REPORT = 6,
    STAMP_TLV_FOLLOW_UP = 7,
    STAMP_TLV_HMAC = 8,
};

/* Value lengths of the fixed-size TLVs handled here. */
#define STAMP_TSINFO_LEN 4
#define STAMP_COS_LEN 4
#define STAMP_DIRECT_LEN 12

/* Timestamp Information: synchronisation sources and methods (IANA). */
enum { STAMP_SYNC_NTP = 1, STAMP_SYNC_PTP = 2, STAMP_SYNC_LOCAL = 5 };
enum { STAMP_TSM_HW = 1, STAMP_TSM_SW = 2, STAMP_TSM_CONTROL = 3 };

typedef struct stamp_tlv {
    unsigned flags, type;
    size_t len;   /* the length field */
    size_t off;   /* where the TLV (its header) starts in the packet */
} stamp_tlv;

/* The outcome of one step through the TLVs. */
typedef enum stamp_tlv_step {
    STAMP_TLV_END = 0,   /* no bytes left */
    STAMP_TLV_OK,        /* *t is a whole TLV; *off moved past it */
    STAMP_TLV_TRUNCATED, /* 1..3 bytes left: no room for a header */
    STAMP_TLV_OVERRUN,   /* *t's header is whole, its value runs past `len` */
} stamp_tlv_step;

/* Reads the TLV at *off of buf[0..len).  Never reads outside it. */
stamp_tlv_step stamp_tlv_next(const unsigned char *buf, size_t len, size_t *off,
                              stamp_tlv *t);

/* Writes a TLV header and `vlen` bytes of `value` (NULL: zeros) at out.
 * Returns the bytes written, or 0 when room < 4 + vlen or vlen > 65535. */
size_t stamp_tlv_put(unsigned char *out, size_t room, unsigned flags, unsigned type,
                     const void *value, size_t vlen);

/* RFC 8972's HMAC TLV covers the packet's sequence number and every TLV
 * before it.  Computes that HMAC for the HMAC TLV whose header is at
 * `tlv_off` in pkt, whose TLVs start at `base` (the base length; base <=
 * tlv_off). */
void stamp_tlv_hmac(const stamp_key *k, const unsigned char *pkt, size_t base,
                    size_t tlv_off, unsigned char out[STAMP_HMAC_LEN]);

/* ---- the Session-Reflector ------------------------------------------------------ */

typedef enum stamp_verdict {
    STAMP_REQUEST_OK = 0,
    STAMP_DROP_SHORT, /* shorter than the mode's base packet */
    STAMP_DROP_HMAC,  /* authenticated mode: the base HMAC does not verify */
    STAMP_NVERDICTS
} stamp_verdict;

/* "ok", "short", "hmac". */
const char *stamp_verdict_name(stamp_verdict v);

/* Checks a request; on STAMP_REQUEST_OK *req holds its base fields.  `key`
 * is needed in authenticated mode. */
stamp_verdict stamp_request_check(stamp_sender *req, stamp_mode m, const stamp_key *key,
                                  const void *buf, size_t len);

/* What the reflector knows about a request and itself. */
typedef struct stamp_reflect_info {
    uint32_t seq;           /* the reflector's sequence number */
    uint64_t receive;       /* T2 */
    uint16_t error_estimate;
    unsigned ttl;           /* received TTL or hop limit; 255 when unknown */
    int tos;                /* received TOS / traffic class byte; -1 unknown */
    unsigned sync_src;      /* Timestamp Information: STAMP_SYNC_* */
    unsigned ts_in, ts_out; /* how T2 and T3 were taken: STAMP_TSM_* */
    uint32_t rx_count, tx_count; /* Direct Measurement: this session's counts */
} stamp_reflect_info;

/* What stamp_reflect did with the TLVs. */
typedef struct stamp_reflect_report {
    unsigned tlvs, unknown, malformed;
    bool integrity_failed; /* an HMAC TLV did not verify (I flags set) */
} stamp_reflect_report;

/*
 * Builds the reply to a checked request `req` of `len` bytes into out[len]
 * (a reply is exactly as long as its request): the base packet with the
 * sender's seq, T1 and error estimate, its SSID, T2 and TTL; then the TLVs
 * in order, each answered:
 *   Extra Padding          copied;
 *   Timestamp Information  our sync source and T2/T3 methods;
 *   Class of Service       DSCP1 kept, DSCP2 and ECN the received ones,
 *                          RP 1 (the reply keeps the socket's marking,
 *                          DSCP1 is not applied);
 *   Direct Measurement     S_TxC kept, R_RxC and R_TxC ours;
 *   HMAC                   verified with `key` (when given): on failure
 *                          every TLV gets the I flag; rewritten by
 *                          stamp_reflect_finish;
 *   a fixed-size one of the wrong length: copied with the M flag;
 *   any other type: copied with the U flag;
 *   a length running past the packet: M flag on that TLV, the rest copied.
 * Bytes after the base packet that are all zero are RFC 8762 padding and
 * are copied as they are.  T3 and the HMACs are left to
 * stamp_reflect_finish.  `out` and `req` must not overlap; len >= the base
 * length (stamp_request_check said so).
 */
void stamp_reflect(unsigned char *out, const unsigned char *req, size_t len,
                   stamp_mode m, const stamp_key *key, const stamp_sender *s,
                   const stamp_reflect_info *info, stamp_reflect_report *report);

/* Writes T3 into a reply built by stamp_reflect and then, with a key, the
 * base HMAC (authenticated mode) and any HMAC TLV's. */
void stamp_reflect_finish(unsigned char *out, size_t len, stamp_mode m,
                          const stamp_key *key, uint64_t t3);

/* ---- the Session-Sender's arithmetic -------------------------------------------- */

/* One reply's delays (seconds): T1 sent, T2 received there, T3 sent there,
 * T4 received here.  The one-way delays mean something only when both
 * clocks are synchronised. */
typedef struct stamp_delays {
    double rtt;      /* (T4 - T1) - (T3 - T2) */
    double forward;  /* T2 - T1 */
    double backward; /* T4 - T3 */
} stamp_delays;

stamp_delays stamp_delays_compute(uint64_t t1, uint64_t t2, uint64_t t3, uint64_t t4);

#endif /* SOCKIT_PROTO_STAMP_H */
