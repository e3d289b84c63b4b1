/* SPDX-License-Identifier: MIT */
/*
 * proto/nts.c - NTS (RFC 8915) records, extension fields, authenticator
 * and cookies (see nts.h).  All lengths on the wire are big-endian 16-bit.
 *
 *   NTS-KE record   C(1) type(15) | body length(16) | body
 *   NTP ext. field  type(16) | length(16), header included, multiple of 4
 *   authenticator   nonce length(16) | ciphertext length(16) | nonce, padded
 *                   to 4 | ciphertext, padded to 4 | more zero padding
 *
 * Parsing is linear in the input and reads nothing past `len`.
 */
#include "nts.h"

#include <errno.h>
#include <string.h>

_Static_assert(NTS_COOKIE_LEN % 4 == 0, "a cookie fills its field exactly");
_Static_assert(NTS_COOKIE_LEN <= NTS_COOKIE_MAX, "our cookies are ones we accept");

static unsigned get16(const unsigned char *b)
{
    return (unsigned)b[0] << 8 | b[1];
}

static void put16(unsigned char *b, unsigned v)
{
    b[0] = (unsigned char)(v >> 8);
    b[1] = (unsigned char)v;
}

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* Room for n more bytes in b, or sets overflow. */
static unsigned char *buf_take(nts_buf *b, size_t n)
{
    unsigned char *p;

    if (b->overflow || b->cap - b->len < n || b->len > b->cap) {
        b->overflow = true;
        return NULL;
    }
    p = b->p + b->len;
    b->len += n;
    return p;
}

/* ---- NTS-KE records ------------------------------------------------------------- */

size_t nts_ke_record_parse(nts_ke_record *r, const void *buf, size_t len)
{
    const unsigned char *b = buf;
    size_t body;

    if (len < NTS_KE_RECORD_HEADER)
        return 0;
    body = get16(b + 2);
    if (len - NTS_KE_RECORD_HEADER < body)
        return 0;
    r->critical = (b[0] & 0x80) != 0;
    r->type = get16(b) & 0x7fff;
    r->body = b + NTS_KE_RECORD_HEADER;
    r->len = body;
    return NTS_KE_RECORD_HEADER + body;
}

/* Keeps the ids of a list record; false when its length is odd. */
static bool take_ids(const nts_ke_record *r, uint16_t *ids, size_t *n)
{
    if (r->len % 2 != 0)
        return false;
    for (size_t i = 0; i < r->len / 2 && *n < NTS_KE_LIST_MAX; i++)
        ids[(*n)++] = (uint16_t)get16(r->body + 2 * i);
    return true;
}

static bool take_u16(const nts_ke_record *r, uint16_t *v)
{
    if (r->len != 2)
        return false;
    *v = (uint16_t)get16(r->body);
    return true;
}

/* A host name or address: 1..255 printable ASCII characters, no spaces. */
static bool take_server(const nts_ke_record *r, char *out)
{
    if (r->len == 0 || r->len > NTS_KE_SERVER_MAX)
        return false;
    for (size_t i = 0; i < r->len; i++)
        if (r->body[i] <= ' ' || r->body[i] > '~')
            return false;
    memcpy(out, r->body, r->len);
    out[r->len] = '\0';
    return true;
}

static bool take_cookie(nts_ke_msg *m, const nts_ke_record *r)
{
    if (r->len == 0 || r->len > NTS_COOKIE_MAX)
        return false;
    m->cookies_seen++;
    if (m->cookies < NTS_COOKIES_MAX) {
        m->cookie[m->cookies] = r->body;
        m->cookie_len[m->cookies++] = r->len;
    }
    return true;
}

/* Folds one record into *m.  False when its body is malformed. */
static bool msg_take(nts_ke_msg *m, const nts_ke_record *r)
{
    switch (r->type) {
    case NTS_KE_END:
        return r->len == 0;
    case NTS_KE_NEXT_PROTOCOL:
        m->n_next_protocol++;
        return take_ids(r, m->next_protocol, &m->next_protocols);
    case NTS_KE_AEAD:
        m->n_aead++;
        return take_ids(r, m->aead, &m->aeads);
    case NTS_KE_ERROR:
        return m->n_error++ > 0 || take_u16(r, &m->error);
    case NTS_KE_WARNING:
        return m->n_warning++ > 0 || take_u16(r, &m->warning);
    case NTS_KE_COOKIE:
        return take_cookie(m, r);
    case NTS_KE_SERVER:
        return m->n_server++ > 0 || take_server(r, m->server);
    case NTS_KE_PORT_REC:
        return m->n_port++ > 0 || take_u16(r, &m->port);
    default:
        if (r->critical && !m->unknown_critical) {
            m->unknown_critical = true;
            m->unknown_type = r->type;
        }
        return true;
    }
}

int nts_ke_msg_parse(nts_ke_msg *m, const void *buf, size_t len)
{
    const unsigned char *b = buf;
    size_t off = 0, end = 0, n;
    nts_ke_record r;

    memset(m, 0, sizeof(*m));
    /* First find the end, so that a message is judged only when whole. */
    while ((n = nts_ke_record_parse(&r, b + off, len - off)) > 0) {
        off += n;
        if (off > NTS_KE_MESSAGE_MAX)
            return -EMSGSIZE;
        if (r.type == NTS_KE_END) {
            end = off;
            break;
        }
    }
    /* A record announced to end past the limit is refused before it arrives. */
    if (end == 0 && len - off >= NTS_KE_RECORD_HEADER &&
        off + NTS_KE_RECORD_HEADER + get16(b + off + 2) > NTS_KE_MESSAGE_MAX)
        return -EMSGSIZE;
    if (end == 0)
        return len >= NTS_KE_MESSAGE_MAX ? -EMSGSIZE : 0;
    for (off = 0; off < end; off += n) {
        n = nts_ke_record_parse(&r, b + off, end - off);
        if (!msg_take(m, &r)) {
            m->bad_type = r.type;
            return -EBADMSG;
        }
    }
    return (int)end;
}

static bool has_id(const uint16_t *ids, size_t n, uint16_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

bool nts_ke_request_check(const nts_ke_msg *m, uint16_t *aead, uint16_t *error)
{
    *error = NTS_KE_ERR_BAD_REQUEST;
    if (m->unknown_critical) {
        *error = NTS_KE_ERR_UNRECOGNIZED_CRITICAL;
        return false;
    }
    if (m->n_next_protocol != 1 || m->n_aead != 1 || m->n_error || m->n_warning ||
        !has_id(m->next_protocol, m->next_protocols, NTS_PROTO_NTPV4))
        return false;
    for (size_t i = 0; i < m->aeads; i++)
        if (m->aead[i] == NTS_AEAD_AES_SIV_CMAC_256) {
            *aead = m->aead[i];
            return true;
        }
    return false;
}

nts_ke_verdict nts_ke_response_check(const nts_ke_msg *m)
{
    if (m->n_error)
        return NTS_KE_RESPONSE_ERROR;
    if (m->unknown_critical)
        return NTS_KE_RESPONSE_CRITICAL;
    if (m->n_next_protocol != 1 || m->next_protocols != 1 ||
        m->next_protocol[0] != NTS_PROTO_NTPV4)
        return NTS_KE_RESPONSE_PROTOCOL;
    if (m->n_aead != 1 || m->aeads != 1 || m->aead[0] != NTS_AEAD_AES_SIV_CMAC_256)
        return NTS_KE_RESPONSE_AEAD;
    if (m->cookies == 0)
        return NTS_KE_RESPONSE_NO_COOKIES;
    return NTS_KE_RESPONSE_OK;
}

const char *nts_ke_verdict_name(nts_ke_verdict v)
{
    static const char *const names[] = {
        "ok", "error record", "unknown critical record", "next protocol is not NTPv4",
        "AEAD not offered", "no cookies",
    };

    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

const char *nts_ke_error_name(unsigned code)
{
    switch (code) {
    case NTS_KE_ERR_UNRECOGNIZED_CRITICAL:
        return "unrecognized critical record";
    case NTS_KE_ERR_BAD_REQUEST:
        return "bad request";
    case NTS_KE_ERR_INTERNAL:
        return "internal server error";
    default:
        return "unknown";
    }
}

void nts_ke_put(nts_buf *b, bool critical, unsigned type, const void *body, size_t len)
{
    unsigned char *p = len <= 0xffff ? buf_take(b, NTS_KE_RECORD_HEADER + len) : NULL;

    if (p == NULL) {
        b->overflow = true;
        return;
    }
    put16(p, (critical ? NTS_KE_CRITICAL : 0) | (type & 0x7fff));
    put16(p + 2, (unsigned)len);
    if (len > 0)
        memcpy(p + NTS_KE_RECORD_HEADER, body, len);
}

void nts_ke_put_u16(nts_buf *b, bool critical, unsigned type, const uint16_t *v, size_t n)
{
    unsigned char body[2 * NTS_KE_LIST_MAX];

    if (n > NTS_KE_LIST_MAX) {
        b->overflow = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        put16(body + 2 * i, v[i]);
    nts_ke_put(b, critical, type, body, 2 * n);
}

/* ---- NTP extension fields -------------------------------------------------------- */

int nts_ef_parse(nts_ef *ef, const void *buf, size_t len)
{
    const unsigned char *b = buf;
    size_t size;

    if (len < NTS_EF_HEADER)
        return -EBADMSG;
    size = get16(b + 2);
    if (size < NTS_EF_MIN || size % 4 != 0 || size > len)
        return -EBADMSG;
    ef->type = get16(b);
    ef->body = b + NTS_EF_HEADER;
    ef->len = size - NTS_EF_HEADER;
    ef->size = size;
    return (int)size;
}

void nts_ef_put(nts_buf *b, unsigned type, const void *body, size_t len)
{
    size_t size = pad4(NTS_EF_HEADER + len);
    unsigned char *p;

    if (size < NTS_EF_MIN)
        size = NTS_EF_MIN;
    p = size <= 0xffff ? buf_take(b, size) : NULL;
    if (p == NULL) {
        b->overflow = true;
        return;
    }
    put16(p, type);
    put16(p + 2, (unsigned)size);
    memset(p + NTS_EF_HEADER, 0, size - NTS_EF_HEADER);
    if (body != NULL && len > 0)
        memcpy(p + NTS_EF_HEADER, body, len);
}

/* Reads the authenticator's body into f; false when it is malformed. */
static bool auth_take(nts_ntp_fields *f, const nts_ef *ef)
{
    size_t nl, cl;

    if (ef->len < 4) {
        f->why = "authenticator too short";
        return false;
    }
    nl = get16(ef->body);
    cl = get16(ef->body + 2);
    if (nl == 0 || cl < SIV_TAG_LEN || 4 + pad4(nl) + pad4(cl) > ef->len) {
        f->why = "authenticator nonce or ciphertext length";
        return false;
    }
    if (4 + (pad4(nl) > NTS_NONCE_ROOM ? pad4(nl) : NTS_NONCE_ROOM) + pad4(cl) > ef->len) {
        f->why = "authenticator nonce padding";
        return false;
    }
    f->nonce = ef->body + 4;
    f->nonce_len = nl;
    f->ciphertext = ef->body + 4 + pad4(nl);
    f->ciphertext_len = cl;
    return true;
}

/* Folds one field (at offset `off`) into f; false when the packet is bad. */
static bool field_take(nts_ntp_fields *f, const nts_ef *ef, size_t off, size_t len)
{
    switch (ef->type) {
    case NTS_EF_UNIQUE_ID:
        if (f->uid.body != NULL)
            return f->why = "two unique identifiers", false;
        f->uid = *ef;
        return true;
    case NTS_EF_COOKIE:
        if (f->cookie.body != NULL)
            return f->why = "two cookies", false;
        f->cookie = *ef;
        return true;
    case NTS_EF_COOKIE_PLACEHOLDER:
        if (f->placeholders++ > 0 && ef->len != f->placeholder_len)
            return f->why = "placeholders of different lengths", false;
        f->placeholder_len = ef->len;
        return true;
    case NTS_EF_AUTH:
        if (off + ef->size != len)
            return f->why = "authenticator is not the last field", false;
        f->auth_off = off;
        return auth_take(f, ef);
    default:
        return true;
    }
}

int nts_ntp_parse(nts_ntp_fields *f, const void *pkt, size_t len)
{
    const unsigned char *b = pkt;
    size_t off = 48;
    nts_ef ef;
    int n;

    memset(f, 0, sizeof(*f));
    if (len < off)
        return f->why = "shorter than the header", -EBADMSG;
    for (; off < len; off += (size_t)n) {
        n = nts_ef_parse(&ef, b + off, len - off);
        if (n < 0)
            return f->why = "extension field length", -EBADMSG;
        f->fields++;
        if (!field_take(f, &ef, off, len))
            return -EBADMSG;
    }
    if (f->placeholders > 0 && f->cookie.body != NULL && f->placeholder_len != f->cookie.len)
        return f->why = "placeholder and cookie lengths differ", -EBADMSG;
    return 0;
}

int nts_auth_put(nts_buf *b, siv *s, const void *nonce, size_t nlen, const void *pt,
                 size_t ptlen, size_t min_size)
{
    size_t ad_len = b->len, cl = SIV_TAG_LEN + ptlen;
    size_t room = pad4(nlen) > NTS_NONCE_ROOM ? pad4(nlen) : NTS_NONCE_ROOM;
    size_t size = NTS_EF_HEADER + 4 + room + pad4(cl);
    siv_part parts[2] = {{b->p, ad_len}, {nonce, nlen}};
    unsigned char *p;
    int rc;

    if (size < min_size)
        size = pad4(min_size);
    if (nlen == 0 || nlen > 0xffff || cl > 0xffff)
        return -EINVAL;
    p = size <= 0xffff ? buf_take(b, size) : NULL;
    if (p == NULL)
        return b->overflow = true, -ENOBUFS;
    memset(p, 0, size);
    put16(p, NTS_EF_AUTH);
    put16(p + 2, (unsigned)size);
    put16(p + 4, (unsigned)nlen);
    put16(p + 6, (unsigned)cl);
    memcpy(p + 8, nonce, nlen);
    rc = siv_seal(s, parts, 2, pt, ptlen, p + 8 + pad4(nlen));
    if (rc < 0)
        b->len = ad_len;
    return rc;
}

int nts_auth_open(const nts_ntp_fields *f, const void *pkt, siv *s, void *pt, size_t cap,
                  size_t *ptlen)
{
    siv_part parts[2] = {{pkt, f->auth_off}, {f->nonce, f->nonce_len}};
    int rc;

    if (f->auth_off == 0)
        return -EBADMSG;
    if (f->ciphertext_len - SIV_TAG_LEN > cap)
        return -ENOBUFS;
    rc = siv_open(s, parts, 2, f->ciphertext, f->ciphertext_len, pt);
    if (rc < 0)
        return rc;
    *ptlen = f->ciphertext_len - SIV_TAG_LEN;
    return 0;
}

/* ---- cookies --------------------------------------------------------------------- */

int nts_cookie_seal(siv *master, uint32_t key_id, const unsigned char nonce[16],
                    const nts_keys *k, unsigned char out[NTS_COOKIE_LEN])
{
    unsigned char plain[NTS_COOKIE_PLAIN_LEN];
    siv_part parts[2] = {{out, 4}, {out + 4, NTS_COOKIE_NONCE_LEN}};
    int rc;

    put16(out, key_id >> 16);
    put16(out + 2, key_id & 0xffff);
    memcpy(out + 4, nonce, NTS_COOKIE_NONCE_LEN);
    put16(plain, k->aead);
    put16(plain + 2, 0);
    memcpy(plain + 4, k->c2s, NTS_AEAD_KEY_LEN);
    memcpy(plain + 4 + NTS_AEAD_KEY_LEN, k->s2c, NTS_AEAD_KEY_LEN);
    rc = siv_seal(master, parts, 2, plain, sizeof(plain), out + 4 + NTS_COOKIE_NONCE_LEN);
    memset(plain, 0, sizeof(plain));
    return rc;
}

bool nts_cookie_key_id(const void *cookie, size_t len, uint32_t *key_id)
{
    const unsigned char *c = cookie;

    if (len != NTS_COOKIE_LEN)
        return false;
    *key_id = (uint32_t)get16(c) << 16 | get16(c + 2);
    return true;
}

int nts_cookie_open(siv *master, const void *cookie, size_t len, nts_keys *k)
{
    const unsigned char *c = cookie;
    unsigned char plain[NTS_COOKIE_PLAIN_LEN];
    siv_part parts[2] = {{c, 4}, {c + 4, NTS_COOKIE_NONCE_LEN}};

    if (len != NTS_COOKIE_LEN ||
        siv_open(master, parts, 2, c + 4 + NTS_COOKIE_NONCE_LEN,
                 len - 4 - NTS_COOKIE_NONCE_LEN, plain) != 0)
        return -EBADMSG;
    k->aead = (uint16_t)get16(plain);
    memcpy(k->c2s, plain + 4, NTS_AEAD_KEY_LEN);
    memcpy(k->s2c, plain + 4 + NTS_AEAD_KEY_LEN, NTS_AEAD_KEY_LEN);
    memset(plain, 0, sizeof(plain));
    return k->aead == NTS_AEAD_AES_SIV_CMAC_256 ? 0 : -EBADMSG;
}
