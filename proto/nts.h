/* SPDX-License-Identifier: MIT */
/*
 * proto/nts.h - Network Time Security for NTP (RFC 8915) on the wire: the
 * key-exchange (NTS-KE) records, the NTP extension fields, the
 * authenticator, and sockit's cookie format.
 *
 *   NTS-KE      nts_ke_record_parse  one record (type, critical bit, body)
 *               nts_ke_msg_parse     a whole message, through End of
 *                                    Message, into an nts_ke_msg
 *               nts_ke_request_check a server's verdict on a request
 *               nts_ke_response_check a client's verdict on a response
 *               nts_ke_put*          records into a caller's buffer
 *   NTP fields  nts_ef_parse / nts_ef_put  one extension field
 *               nts_ntp_parse        the fields after the 48-byte header
 *               nts_auth_put / nts_auth_open  the Authenticator and
 *                                    Encrypted Extension Fields field
 *   cookies     nts_cookie_seal / nts_cookie_open  the C2S and S2C keys and
 *                                    AEAD id, sealed under a master key
 *
 * Nothing here allocates: parsed results point into the caller's buffer,
 * builders write into the caller's buffer and report overflow.  The AEAD
 * is proto/siv.h's.  Only AEAD_AES_SIV_CMAC_256 (id 15) is negotiated.
 */
#ifndef SOCKIT_PROTO_NTS_H
#define SOCKIT_PROTO_NTS_H

#include "siv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- NTS-KE (RFC 8915 section 4) ---------------------------------------------- */

#define NTS_KE_PORT 4460
#define NTS_KE_ALPN "ntske/1"
#define NTS_KE_EXPORTER_LABEL "EXPORTER-network-time-security"
#define NTS_KE_RECORD_HEADER 4
#define NTS_KE_MESSAGE_MAX 16384 /* a longer message is refused */
#define NTS_KE_LIST_MAX 16       /* protocol or AEAD ids kept from one record */
#define NTS_KE_SERVER_MAX 255    /* NTPv4 Server Negotiation body */
#define NTS_KE_CRITICAL 0x8000u

enum {
    NTS_KE_END = 0,
    NTS_KE_NEXT_PROTOCOL = 1,
    NTS_KE_ERROR = 2,
    NTS_KE_WARNING = 3,
    NTS_KE_AEAD = 4,
    NTS_KE_COOKIE = 5,
    NTS_KE_SERVER = 6,
    NTS_KE_PORT_REC = 7,
};

/* Error record codes (section 4.1.3). */
enum {
    NTS_KE_ERR_UNRECOGNIZED_CRITICAL = 0,
    NTS_KE_ERR_BAD_REQUEST = 1,
    NTS_KE_ERR_INTERNAL = 2,
};

#define NTS_PROTO_NTPV4 0
#define NTS_AEAD_AES_SIV_CMAC_256 15
#define NTS_AEAD_KEY_LEN 32 /* each of C2S and S2C for AEAD 15 */

/* One record, its body pointing into the parsed buffer. */
typedef struct nts_ke_record {
    bool critical;
    unsigned type; /* 15 bits */
    const unsigned char *body;
    size_t len;
} nts_ke_record;

/* Parses the record at the start of `buf`.  Returns its size (4 + body
 * length), or 0 when `len` does not hold all of it yet. */
size_t nts_ke_record_parse(nts_ke_record *r, const void *buf, size_t len);

#define NTS_COOKIES_MAX 8 /* cookies a key exchange hands out and we keep */
#define NTS_COOKIE_MAX 256

/*
 * A parsed NTS-KE message, either direction.  Counts say how many records
 * of a kind were seen (a list record counts once); lists keep their first
 * NTS_KE_LIST_MAX ids; cookies point into the buffer.
 */
typedef struct nts_ke_msg {
    size_t n_next_protocol, n_aead, n_error, n_warning, n_server, n_port;
    uint16_t next_protocol[NTS_KE_LIST_MAX];
    size_t next_protocols; /* ids in next_protocol[] (all that fit) */
    uint16_t aead[NTS_KE_LIST_MAX];
    size_t aeads;
    uint16_t error, warning, port;
    char server[NTS_KE_SERVER_MAX + 1]; /* NUL-terminated */
    const unsigned char *cookie[NTS_COOKIES_MAX];
    size_t cookie_len[NTS_COOKIES_MAX];
    size_t cookies;          /* kept in cookie[] */
    size_t cookies_seen;     /* in the message */
    bool unknown_critical;   /* a critical record of a type we do not know */
    unsigned unknown_type;   /* the first such type */
    unsigned bad_type;       /* on -EBADMSG: the record at fault */
} nts_ke_msg;

/*
 * Parses one message at the start of `buf`: records up to and including
 * End of Message.  Returns the message's length; 0 when no End of Message
 * yet and fewer than NTS_KE_MESSAGE_MAX bytes (read more, call again with
 * everything); -EMSGSIZE when none within NTS_KE_MESSAGE_MAX; -EBADMSG for
 * a record whose body is malformed (m->bad_type): End of Message with a
 * body, an odd-length id list, an Error, Warning or Port body that is not
 * 2 bytes, a cookie of 0 or more than NTS_COOKIE_MAX bytes, a Server body
 * empty, too long or not printable ASCII.  An unknown record is skipped;
 * an unknown critical one also sets m->unknown_critical.  *m is reset
 * first.
 */
int nts_ke_msg_parse(nts_ke_msg *m, const void *buf, size_t len);

/*
 * A server's verdict on a parsed request: true with *aead the AEAD chosen
 * (the client's first that we support), or false with *error the Error
 * record code to send: NTS_KE_ERR_UNRECOGNIZED_CRITICAL, or
 * NTS_KE_ERR_BAD_REQUEST (no or several Next Protocol or AEAD records, no
 * NTPv4 among the protocols, no AEAD we support, or an Error or Warning
 * record from a client).
 */
bool nts_ke_request_check(const nts_ke_msg *m, uint16_t *aead, uint16_t *error);

/* What a client makes of a response. */
typedef enum nts_ke_verdict {
    NTS_KE_RESPONSE_OK = 0,
    NTS_KE_RESPONSE_ERROR,     /* the server sent an Error record (m->error) */
    NTS_KE_RESPONSE_CRITICAL,  /* an unknown critical record */
    NTS_KE_RESPONSE_PROTOCOL,  /* Next Protocol is not exactly NTPv4 */
    NTS_KE_RESPONSE_AEAD,      /* AEAD is not exactly one we offered */
    NTS_KE_RESPONSE_NO_COOKIES,
} nts_ke_verdict;

nts_ke_verdict nts_ke_response_check(const nts_ke_msg *m);

/* "ok", "error record", "unknown critical record", ... */
const char *nts_ke_verdict_name(nts_ke_verdict v);

/* "unrecognized critical record", "bad request", "internal server error",
 * or "unknown" for another code. */
const char *nts_ke_error_name(unsigned code);

/* A caller's output buffer; `overflow` is set (and nothing more written)
 * once a record does not fit. */
typedef struct nts_buf {
    unsigned char *p;
    size_t cap, len;
    bool overflow;
} nts_buf;

/* Appends a record with a body of `len` bytes. */
void nts_ke_put(nts_buf *b, bool critical, unsigned type, const void *body, size_t len);

/* Appends a record whose body is `n` 16-bit ids (or one value: n = 1). */
void nts_ke_put_u16(nts_buf *b, bool critical, unsigned type, const uint16_t *v, size_t n);

/* ---- NTP extension fields (RFC 8915 section 5, RFC 7822) ------------------------ */

#define NTS_EF_HEADER 4
#define NTS_EF_MIN 16          /* RFC 7822: a field is at least 16 bytes */
#define NTS_UID_MIN 32         /* Unique Identifier body, at least */
#define NTS_UID_LEN 32         /* what our client sends */
#define NTS_NONCE_LEN 16       /* what we send */
#define NTS_NONCE_ROOM 16      /* nonce plus its padding, at least (chrony's rule) */
#define NTS_KOD_NTSN "NTSN"

enum {
    NTS_EF_UNIQUE_ID = 0x0104,
    NTS_EF_COOKIE = 0x0204,
    NTS_EF_COOKIE_PLACEHOLDER = 0x0304,
    NTS_EF_AUTH = 0x0404,
};

/* One extension field; `body` points into the parsed buffer. */
typedef struct nts_ef {
    unsigned type;
    const unsigned char *body;
    size_t len;  /* body length (the field's length minus 4) */
    size_t size; /* the field's length */
} nts_ef;

/* Parses the field at the start of `buf`.  Returns its size, or -EBADMSG
 * when fewer than 4 bytes, a length under NTS_EF_MIN or not a multiple of
 * 4, or a length beyond `len`. */
int nts_ef_parse(nts_ef *ef, const void *buf, size_t len);

/* Appends a field holding `len` bytes of body (zeros when body is NULL:
 * a Cookie Placeholder), zero-padded to a multiple of 4 and to NTS_EF_MIN. */
void nts_ef_put(nts_buf *b, unsigned type, const void *body, size_t len);

/*
 * The NTS fields of an NTP packet (either direction), found after the
 * header.  A field absent has body NULL.  Unknown fields are skipped (and
 * authenticated with the rest).
 */
typedef struct nts_ntp_fields {
    nts_ef uid, cookie;
    size_t placeholders;     /* Cookie Placeholder fields in the clear */
    size_t placeholder_len;  /* their body length (all the same) */
    size_t auth_off;         /* where the authenticator field starts (0: none) */
    const unsigned char *nonce, *ciphertext;
    size_t nonce_len, ciphertext_len;
    size_t fields;           /* extension fields in all */
    const char *why;         /* on -EBADMSG, what was wrong */
} nts_ntp_fields;

/*
 * Parses the extension fields of the `len`-byte packet `pkt` (len >= 48).
 * Returns 0, or -EBADMSG with f->why: a field that does not parse, a
 * second Unique Identifier or Cookie, Cookie Placeholders of a length other
 * than the cookie's, an authenticator that is not the last field, whose
 * nonce is empty or with its padding shorter than NTS_NONCE_ROOM, whose
 * ciphertext is shorter than the tag or overruns the field.  It does not
 * require any field: the caller decides what its role needs.
 */
int nts_ntp_parse(nts_ntp_fields *f, const void *pkt, size_t len);

/*
 * Appends the Authenticator and Encrypted Extension Fields field to the
 * packet b->p[0..b->len): seals `ptlen` bytes of `pt` (encrypted extension
 * fields, or nothing) with `s` under associated data = the packet so far
 * and `nonce` (nlen bytes), then pads the field to `min_size` bytes when
 * that is larger.  Returns 0, -ENOBUFS (b->overflow), or siv_seal's error.
 */
int nts_auth_put(nts_buf *b, siv *s, const void *nonce, size_t nlen, const void *pt,
                 size_t ptlen, size_t min_size);

/*
 * Checks and decrypts the authenticator of a packet parsed into *f, with
 * `s` keyed for its direction.  The plaintext (encrypted extension fields)
 * goes to pt[0..cap), its length to *ptlen.  Returns 0, -EBADMSG (no
 * authenticator, or it does not verify), -ENOBUFS (cap too small).
 */
int nts_auth_open(const nts_ntp_fields *f, const void *pkt, siv *s, void *pt, size_t cap,
                  size_t *ptlen);

/* ---- cookies (sockit's format; only the server that made one reads it) ------- */

/*
 * A cookie carries the keys a key exchange produced, sealed with a server
 * master key (AES-SIV-CMAC-256, NTS_MASTER_KEY_LEN bytes):
 *
 *   key id (4) | nonce (16) | SIV tag (16) | ciphertext of:
 *       AEAD id (2) | zero (2) | C2S key (32) | S2C key (32)
 *
 * with the key id and the nonce as the associated data.  104 bytes, a
 * multiple of 4 as the Cookie field wants.
 */
#define NTS_MASTER_KEY_LEN 32
#define NTS_COOKIE_NONCE_LEN 16
#define NTS_COOKIE_PLAIN_LEN (4 + 2 * NTS_AEAD_KEY_LEN)
#define NTS_COOKIE_LEN (4 + NTS_COOKIE_NONCE_LEN + SIV_TAG_LEN + NTS_COOKIE_PLAIN_LEN)

/* The keys of one client association. */
typedef struct nts_keys {
    uint16_t aead;
    unsigned char c2s[NTS_AEAD_KEY_LEN], s2c[NTS_AEAD_KEY_LEN];
} nts_keys;

/* Seals *k into out[NTS_COOKIE_LEN] with `master` (keyed with the master
 * key whose id is key_id) and the fresh random `nonce`.  Returns 0 or
 * siv_seal's error. */
int nts_cookie_seal(siv *master, uint32_t key_id, const unsigned char nonce[16],
                    const nts_keys *k, unsigned char out[NTS_COOKIE_LEN]);

/* The key id a cookie claims, or false when it is not NTS_COOKIE_LEN long. */
bool nts_cookie_key_id(const void *cookie, size_t len, uint32_t *key_id);

/* Opens a cookie with `master` (keyed with the key its id names).  Returns
 * 0, or -EBADMSG (wrong length, tampered, another key, unknown AEAD). */
int nts_cookie_open(siv *master, const void *cookie, size_t len, nts_keys *k);

#endif /* SOCKIT_PROTO_NTS_H */
