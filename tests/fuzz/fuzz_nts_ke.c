/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_nts_ke.c - the NTS-KE message parser (proto/nts.c).
 *
 * Input: the bytes a key-exchange peer sends.  Properties:
 *  - the message length is the end of the first End of Message record as
 *    an independent walk over the record headers finds it, and the parse
 *    reads nothing past `len` (exact-size copy);
 *  - a decided message is decided the same on any longer input, and every
 *    shorter prefix says "need more" (split reads agree with one read);
 *  - -EMSGSIZE only when no End of Message lies within NTS_KE_MESSAGE_MAX;
 *  - the result is sane: cookies kept <= NTS_COOKIES_MAX and <= seen, the
 *    server name printable and terminated;
 *  - a parsed message built again with nts_ke_put parses to the same
 *    summary; the verdicts never pick an AEAD we do not support.
 */
#include "fuzz.h"

#include "nts.h"

#include <errno.h>

/* Where the first End of Message ends, by the record headers alone; 0 if
 * none in len. */
static size_t walk_end(const unsigned char *b, size_t len)
{
    size_t off = 0;

    while (len - off >= 4) {
        size_t body = (size_t)b[off + 2] << 8 | b[off + 3];
        unsigned type = ((unsigned)b[off] << 8 | b[off + 1]) & 0x7fff;

        if (len - off - 4 < body)
            return 0;
        off += 4 + body;
        if (type == NTS_KE_END)
            return off;
    }
    return 0;
}

static void check_sane(const nts_ke_msg *m)
{
    uint16_t aead = 0, error = 0;

    FUZZ_ASSERT(m->cookies <= NTS_COOKIES_MAX && m->cookies <= m->cookies_seen,
                "cookies %zu of %zu", m->cookies, m->cookies_seen);
    FUZZ_ASSERT(memchr(m->server, '\0', sizeof(m->server)) != NULL, "server not terminated");
    for (const char *c = m->server; *c; c++)
        FUZZ_ASSERT(*c > ' ' && *c <= '~', "server byte %d", *c);
    if (nts_ke_request_check(m, &aead, &error))
        FUZZ_ASSERT(aead == NTS_AEAD_AES_SIV_CMAC_256, "chose AEAD %u", aead);
    else
        FUZZ_ASSERT(error == NTS_KE_ERR_BAD_REQUEST ||
                        (error == NTS_KE_ERR_UNRECOGNIZED_CRITICAL && m->unknown_critical),
                    "error %u", error);
    if (nts_ke_response_check(m) == NTS_KE_RESPONSE_OK)
        FUZZ_ASSERT(m->cookies > 0 && m->aead[0] == NTS_AEAD_AES_SIV_CMAC_256, "bad ok");
}

/* Builds *m again and checks that it parses to the same summary. */
static void check_rebuild(const nts_ke_msg *m)
{
    static unsigned char out[NTS_KE_MESSAGE_MAX];
    nts_buf b = {out, sizeof(out), 0, false};
    nts_ke_msg again;

    if (m->n_next_protocol)
        nts_ke_put_u16(&b, true, NTS_KE_NEXT_PROTOCOL, m->next_protocol, m->next_protocols);
    if (m->n_aead)
        nts_ke_put_u16(&b, true, NTS_KE_AEAD, m->aead, m->aeads);
    if (m->n_error)
        nts_ke_put_u16(&b, true, NTS_KE_ERROR, &m->error, 1);
    for (size_t i = 0; i < m->cookies; i++)
        nts_ke_put(&b, false, NTS_KE_COOKIE, m->cookie[i], m->cookie_len[i]);
    if (m->n_server)
        nts_ke_put(&b, false, NTS_KE_SERVER, m->server, strlen(m->server));
    if (m->n_port)
        nts_ke_put_u16(&b, false, NTS_KE_PORT_REC, &m->port, 1);
    nts_ke_put(&b, true, NTS_KE_END, NULL, 0);
    FUZZ_ASSERT(!b.overflow, "rebuild overflowed");
    FUZZ_ASSERT(nts_ke_msg_parse(&again, out, b.len) == (int)b.len, "rebuild does not parse");
    FUZZ_ASSERT(again.next_protocols == m->next_protocols && again.aeads == m->aeads &&
                    again.cookies == m->cookies && again.port == m->port &&
                    again.error == m->error && strcmp(again.server, m->server) == 0,
                "rebuild differs");
    for (size_t i = 0; i < m->cookies; i++)
        FUZZ_ASSERT(again.cookie_len[i] == m->cookie_len[i] &&
                        memcmp(again.cookie[i], m->cookie[i], m->cookie_len[i]) == 0,
                    "cookie %zu differs", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *b = fuzz_memdup(data, size);
    size_t end = walk_end(b, size);
    nts_ke_msg m;
    int rc = nts_ke_msg_parse(&m, b, size);

    if (rc > 0) {
        FUZZ_ASSERT((size_t)rc == end && end <= NTS_KE_MESSAGE_MAX, "length %d, walk %zu",
                    rc, end);
        check_sane(&m);
        check_rebuild(&m);
        for (size_t cut = 0; cut < end; cut += end > 256 ? end / 64 + 1 : 1) {
            nts_ke_msg p;
            int r = nts_ke_msg_parse(&p, b, cut);

            FUZZ_ASSERT(r == 0, "prefix %zu of %zu: %d", cut, end, r);
        }
    } else if (rc == 0) {
        FUZZ_ASSERT(end == 0 && size < NTS_KE_MESSAGE_MAX, "need more, walk %zu", end);
    } else if (rc == -EMSGSIZE) {
        FUZZ_ASSERT(end == 0 || end > NTS_KE_MESSAGE_MAX, "EMSGSIZE, walk %zu", end);
    } else {
        FUZZ_ASSERT(rc == -EBADMSG && end > 0 && end <= NTS_KE_MESSAGE_MAX, "rc %d", rc);
    }
    free(b);
    return 0;
}
