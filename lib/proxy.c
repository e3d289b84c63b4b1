/* SPDX-License-Identifier: MIT */
/*
 * lib/proxy.c - the PROXY protocol header that load balancers (HAProxy's
 * send-proxy and send-proxy-v2) put in front of a TCP stream to pass on the
 * client's addresses, versions 1 and 2, as HAProxy's doc/proxy-protocol.txt
 * specifies them.  Pure: no sockets, no allocation, no state between calls;
 * lib/server/conn.c feeds it the bytes a connection starts with.
 *
 *   sk_proxy_parse  tells the version from the first byte ('P' or '\r'),
 *                   rejecting a wrong prefix as soon as it shows
 *     v1            one line of printable ASCII ending in CR LF, at most 107
 *                   bytes: "PROXY TCP4|TCP6 SRC DST SPORT DPORT" with single
 *                   spaces, no leading zeros, addresses of the named family
 *                   and ports 0..65535; or "PROXY UNKNOWN", anything after
 *                   it ignored
 *     v2            the 12-byte signature, version 2, command LOCAL or
 *                   PROXY, family INET, INET6 or UNIX over STREAM (or
 *                   UNSPEC), the length; the address block; then the TLVs,
 *                   each bounded by the block; a CRC32C TLV is checked over
 *                   the whole header, the others are skipped
 *   crc32c          table-driven CRC-32C (Castagnoli); the table is built
 *                   by the compiler
 *
 * The parser is stateless: each call looks at the whole prefix it is given,
 * so a caller that buffers a header arriving in pieces calls it again with
 * the longer prefix.  That costs O(107) per call for v1 and O(1) for an
 * incomplete v2 header (the length is known after 16 bytes), and O(length)
 * once a v2 header is complete.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#define V1_MAX SK_PROXY_V1_MAX   /* the whole line, CR LF included */
#define V2_FIXED 16              /* signature, ver_cmd, fam, len */
#define UNIX_PATH_BYTES 108      /* each v2 UNIX address */

#define PP2_CMD_LOCAL 0x0
#define PP2_CMD_PROXY 0x1
#define PP2_TYPE_CRC32C 0x03

static const unsigned char v1_prefix[6] = { 'P', 'R', 'O', 'X', 'Y', ' ' };
static const unsigned char v2_sig[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) >= UNIX_PATH_BYTES,
               "a v2 UNIX address must fit in sun_path");

/* ---- CRC-32C -------------------------------------------------------------- */

/* One bit step of the reflected polynomial 0x82F63B78, written with one use
 * of `c` per branch so that the table below expands to a modest size. */
#define CRC_STEP(c) (((c) >> 1) ^ (0x82F63B78u & (0u - ((c) & 1u))))
#define CRC_ENTRY(n)                                                             \
    CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP((uint32_t)(n)))))))))
#define CRC_4(n) CRC_ENTRY(n), CRC_ENTRY((n) + 1), CRC_ENTRY((n) + 2), CRC_ENTRY((n) + 3)
#define CRC_16(n) CRC_4(n), CRC_4((n) + 4), CRC_4((n) + 8), CRC_4((n) + 12)
#define CRC_64(n) CRC_16(n), CRC_16((n) + 16), CRC_16((n) + 32), CRC_16((n) + 48)

static const uint32_t crc_table[256] = {
    CRC_64(0), CRC_64(64), CRC_64(128), CRC_64(192),
};

/* Continues a CRC-32C (pass the previous return value; start with 0). */
static uint32_t crc32c_update(uint32_t crc, const unsigned char *p, size_t len)
{
    crc = ~crc;
    while (len-- > 0)
        crc = crc_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/* ---- v1: the text line --------------------------------------------------------- */

/* A decimal number of 1..maxdigits digits without a leading zero, at most
 * `max`.  Returns it, or -1. */
static long v1_number(const char *s, size_t len, size_t maxdigits, long max)
{
    long v = 0;

    if (len == 0 || len > maxdigits || (s[0] == '0' && len > 1))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* "a.b.c.d", each part 0..255 without leading zeros.  Returns 0 or -1. */
static int v1_ipv4(const char *s, size_t len, struct in_addr *out)
{
    unsigned char b[4];
    size_t start = 0;
    int part = 0;

    for (size_t i = 0; i <= len; i++) {
        long v;

        if (i < len && s[i] != '.')
            continue;
        if (part == 4 || (v = v1_number(s + start, i - start, 3, 255)) < 0)
            return -1;
        b[part++] = (unsigned char)v;
        start = i + 1;
    }
    if (part != 4)
        return -1;
    memcpy(&out->s_addr, b, 4);
    return 0;
}

/* An IPv6 literal (hex digits, ':' and '.', as inet_pton reads it). */
static int v1_ipv6(const char *s, size_t len, struct in6_addr *out)
{
    char text[INET6_ADDRSTRLEN];

    if (len < 2 || len >= sizeof(text))
        return -1;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
              (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.'))
            return -1;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

/* Fills *a from one address field and one port field of `family`. */
static int v1_addr(sk_addr *a, int family, const char *ip, size_t iplen,
                   const char *port, size_t portlen)
{
    long p = v1_number(port, portlen, 5, 65535);

    memset(a, 0, sizeof(*a));
    if (p < 0)
        return -1;
    if (family == AF_INET) {
        if (v1_ipv4(ip, iplen, &a->u.in4.sin_addr) < 0)
            return -1;
        a->u.in4.sin_family = AF_INET;
        a->u.in4.sin_port = htons((uint16_t)p);
        a->len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (v1_ipv6(ip, iplen, &a->u.in6.sin6_addr) < 0)
        return -1;
    a->u.in6.sin6_family = AF_INET6;
    a->u.in6.sin6_port = htons((uint16_t)p);
    a->len = sizeof(struct sockaddr_in6);
    return 0;
}

/* Splits `line` (after "PROXY ") at single spaces into at most `max`
 * fields; an empty field (two spaces, or a space at either end) is an
 * error.  Returns the number of fields, or -1. */
static int v1_fields(const char *line, size_t len, const char *f[], size_t flen[], int max)
{
    size_t start = 0;
    int n = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] != ' ')
            continue;
        if (i == start || n == max)
            return -1;
        f[n] = line + start;
        flen[n++] = i - start;
        start = i + 1;
    }
    return n;
}

/* Parses the complete line line[0..len) (without CR LF, "PROXY " included). */
static int v1_line(sk_proxy_header *out, const char *line, size_t len)
{
    const char *f[5];
    size_t flen[5];
    int family, n;

    line += sizeof(v1_prefix);
    len -= sizeof(v1_prefix);
    /* UNKNOWN: the rest of the line, if any, is to be ignored. */
    if (len >= 7 && memcmp(line, "UNKNOWN", 7) == 0 && (len == 7 || line[7] == ' ')) {
        out->family = AF_UNSPEC;
        return 0;
    }
    n = v1_fields(line, len, f, flen, 5);
    if (n != 5 || flen[0] != 4 || memcmp(f[0], "TCP", 3) != 0)
        return -EPROTO;
    if (f[0][3] == '4')
        family = AF_INET;
    else if (f[0][3] == '6')
        family = AF_INET6;
    else
        return -EPROTO;
    if (v1_addr(&out->src, family, f[1], flen[1], f[3], flen[3]) < 0 ||
        v1_addr(&out->dst, family, f[2], flen[2], f[4], flen[4]) < 0)
        return -EPROTO;
    out->family = family;
    return 0;
}

static int v1_parse(sk_proxy_header *out, const unsigned char *buf, size_t len)
{
    size_t scan = len < V1_MAX - 1 ? len : V1_MAX - 1, cr;
    int err;

    /* The CR can be at index V1_MAX - 2 at the latest (its LF is the last
     * byte allowed).  Only printable ASCII comes before it: a bare LF, a
     * NUL or a byte above 126 is an error at once. */
    for (cr = 0; cr < scan; cr++) {
        if (buf[cr] == '\r')
            break;
        if (buf[cr] < 0x20 || buf[cr] > 0x7e)
            return -EPROTO;
    }
    if (cr == scan)
        return len >= V1_MAX - 1 ? -EPROTO : SK_ENEED;
    if (cr + 1 == len)
        return SK_ENEED;
    if (buf[cr + 1] != '\n' || cr < sizeof(v1_prefix))
        return -EPROTO;
    out->version = 1;
    out->command = SK_PROXY_CMD_PROXY;
    err = v1_line(out, (const char *)buf, cr);
    return err < 0 ? err : (int)(cr + 2);
}

/* ---- v2: the binary header ------------------------------------------------------ */

/* Bytes of the address block for a fam byte (family << 4 | transport), or
 * -1 for a combination this parser does not accept: the families over
 * STREAM, or UNSPEC over UNSPEC. */
static int v2_addr_len(unsigned fam)
{
    switch (fam) {
    case 0x00: return 0;
    case 0x11: return 12;
    case 0x21: return 36;
    case 0x31: return 2 * UNIX_PATH_BYTES;
    default: return -1;
    }
}

static void v2_unix(sk_addr *a, const unsigned char *path)
{
    size_t n;

    memset(a, 0, sizeof(*a));
    a->u.un.sun_family = AF_UNIX;
    memcpy(a->u.un.sun_path, path, UNIX_PATH_BYTES);
    if (path[0] != 0) {
        n = strnlen((const char *)path, UNIX_PATH_BYTES);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                             (n < UNIX_PATH_BYTES ? 1 : 0));
    } else {
        /* An abstract name: its bytes up to the zero padding. */
        n = strnlen((const char *)path + 1, UNIX_PATH_BYTES - 1);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    }
}

/* Fills src and dst from the address block `p` of family `fam`. */
static void v2_addrs(sk_proxy_header *out, unsigned fam, const unsigned char *p)
{
    memset(&out->src, 0, sizeof(out->src));
    memset(&out->dst, 0, sizeof(out->dst));
    switch (fam) {
    case 0x11:
        out->family = AF_INET;
        out->src.u.in4.sin_family = out->dst.u.in4.sin_family = AF_INET;
        memcpy(&out->src.u.in4.sin_addr, p, 4);
        memcpy(&out->dst.u.in4.sin_addr, p + 4, 4);
        memcpy(&out->src.u.in4.sin_port, p + 8, 2);
        memcpy(&out->dst.u.in4.sin_port, p + 10, 2);
        out->src.len = out->dst.len = sizeof(struct sockaddr_in);
        break;
    case 0x21:
        out->family = AF_INET6;
        out->src.u.in6.sin6_family = out->dst.u.in6.sin6_family = AF_INET6;
        memcpy(&out->src.u.in6.sin6_addr, p, 16);
        memcpy(&out->dst.u.in6.sin6_addr, p + 16, 16);
        memcpy(&out->src.u.in6.sin6_port, p + 32, 2);
        memcpy(&out->dst.u.in6.sin6_port, p + 34, 2);
        out->src.len = out->dst.len = sizeof(struct sockaddr_in6);
        break;
    case 0x31:
        out->family = AF_UNIX;
        v2_unix(&out->src, p);
        v2_unix(&out->dst, p + UNIX_PATH_BYTES);
        break;
    default:
        out->family = AF_UNSPEC;
        break;
    }
}

/* Checks the CRC32C TLV whose value starts at buf[at]: the CRC of the whole
 * header with those four bytes taken as zero. */
static bool v2_crc_ok(const unsigned char *buf, size_t total, size_t at)
{
    static const unsigned char zero[4];
    uint32_t want = (uint32_t)buf[at] << 24 | (uint32_t)buf[at + 1] << 16 |
                    (uint32_t)buf[at + 2] << 8 | buf[at + 3];
    uint32_t crc = crc32c_update(0, buf, at);

    crc = crc32c_update(crc, zero, 4);
    crc = crc32c_update(crc, buf + at + 4, total - at - 4);
    return crc == want;
}

/* Walks the TLVs in buf[off..total): each must fit; at most one CRC32C,
 * of exactly 4 bytes, and it must match. */
static int v2_tlvs(sk_proxy_header *out, const unsigned char *buf, size_t off, size_t total)
{
    size_t crc_at = 0;

    out->tlv_offset = off;
    out->tlv_length = total - off;
    while (off < total) {
        size_t vlen;

        if (total - off < 3)
            return -EPROTO;
        vlen = (size_t)buf[off + 1] << 8 | buf[off + 2];
        if (vlen > total - off - 3)
            return -EPROTO;
        if (buf[off] == PP2_TYPE_CRC32C) {
            if (vlen != 4 || crc_at != 0)
                return -EPROTO;
            crc_at = off + 3;
        }
        off += 3 + vlen;
    }
    if (crc_at != 0) {
        if (!v2_crc_ok(buf, total, crc_at))
            return -EPROTO;
        out->crc32c = true;
    }
    return 0;
}

static int v2_parse(sk_proxy_header *out, const unsigned char *buf, size_t len)
{
    unsigned cmd, fam;
    size_t total;
    int alen, err;

    if (len < V2_FIXED)
        return SK_ENEED;
    if (buf[12] >> 4 != 2)
        return -EPROTO;
    cmd = buf[12] & 0x0fu;
    fam = buf[13];
    total = V2_FIXED + ((size_t)buf[14] << 8 | buf[15]);
    alen = v2_addr_len(fam);
    if (cmd != PP2_CMD_LOCAL && cmd != PP2_CMD_PROXY)
        return -EPROTO;
    /* LOCAL's address block is to be ignored, family included; PROXY's
     * must be one we know and must fit. */
    if (cmd == PP2_CMD_PROXY && (alen < 0 || (size_t)alen > total - V2_FIXED))
        return -EPROTO;
    if (len < total)
        return SK_ENEED;
    out->version = 2;
    out->command = cmd == PP2_CMD_LOCAL ? SK_PROXY_CMD_LOCAL : SK_PROXY_CMD_PROXY;
    if (cmd == PP2_CMD_LOCAL && (alen < 0 || (size_t)alen > total - V2_FIXED))
        return (int)total; /* nothing in the block can be read; all of it is skipped */
    if (cmd == PP2_CMD_PROXY)
        v2_addrs(out, fam, buf + V2_FIXED);
    err = v2_tlvs(out, buf, V2_FIXED + (size_t)alen, total);
    return err < 0 ? err : (int)total;
}

/* ---- the entry point ----------------------------------------------------------------- */

int sk_proxy_parse(sk_proxy_header *out, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (len == 0)
        return SK_ENEED;
    if (p[0] == v1_prefix[0]) {
        n = len < sizeof(v1_prefix) ? len : sizeof(v1_prefix);
        if (memcmp(p, v1_prefix, n) != 0)
            return -EPROTO;
        return v1_parse(out, p, len);
    }
    n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
    if (memcmp(p, v2_sig, n) != 0)
        return -EPROTO;
    return v2_parse(out, p, len);
}
