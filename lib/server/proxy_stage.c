/* SPDX-License-Identifier: MIT */
/*
 * lib/server/proxy_stage.c - the PROXY protocol stage (cfg.proxy_protocol):
 * a connection from a peer in the allow-list (cfg.proxy_from) waits for its
 * PROXY header (v1 or v2, proto/ parses it: sk_proxy_parse) before
 * anything else.  The header's client address replaces the peer (the
 * balancer becomes "via"), the per-source limit then applies to the client
 * (sets_peer), and the bytes that came after the header are the
 * connection's first input, unless a TLS handshake follows: then no byte
 * past the header is read (the handshake reads the descriptor itself).
 * A peer outside the allow-list, an invalid
 * header, a timeout or an early end of stream closes the connection before
 * on_open, so no service byte is ever sent; each is counted and logged
 * ("event=proxy result=R peer=A suppressed=N", rate-limited per worker,
 * whatever cfg.verbose says).
 *
 * It calls lib/server/stage.c, worker.c, addr.c and log.c.
 */
#include "server.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* Why a header was refused (the "result" of the log line). */
enum proxy_failure { PROXY_INVALID, PROXY_TIMEOUT, PROXY_TRUNCATED };

/* This stage's index in the server's stages (its log state's index). */
static int proxy_index(const sk_server *srv)
{
    for (int i = 0; i < srv->nstages; i++)
        if (srv->stages[i] == &sk__stage_proxy)
            return i;
    return 0;
}

/* One line per second per worker at most: a balancer that sends garbage,
 * or a scanner, must not flood the log. */
static void log_proxy(sk__worker *w, const char *result, const sk_addr *peer)
{
    char text[SK_ADDRSTRLEN] = "?";
    uint64_t suppressed;

    if (!sk__ratelog_due(&w->stage_log[proxy_index(w->srv)], sk_loop_now_ms(w->loop),
                         &suppressed))
        return;
    sk_addr_format(peer, text, sizeof(text));
    sk__server_log(w->srv, "event=proxy result=%s peer=%s suppressed=%llu", result, text,
                   (unsigned long long)suppressed);
}

static int proxy_admit(sk__listener *l, const sk_addr *peer)
{
    const sk_server *srv = l->w->srv;

    for (size_t i = 0; i < srv->nproxy_from; i++)
        if (sk_cidr_match(&srv->proxy_from[i], peer))
            return 0;
    SK__COUNT(sk__ctr(l->svc, l->w), refused_proxy_source, 1);
    log_proxy(l->w, "forbidden", peer);
    return -1;
}

/* Counts, logs and closes a connection whose header failed; nothing was
 * sent on it and on_open never ran. */
static void proxy_fail(sk_conn *c, enum proxy_failure why)
{
    static const char *const names[] = {
        [PROXY_INVALID] = "invalid", [PROXY_TIMEOUT] = "timeout",
        [PROXY_TRUNCATED] = "truncated",
    };
    sk__counters *ctr = sk__ctr(c->svc, c->w);
    sk_addr peer;

    if (why == PROXY_INVALID)
        SK__COUNT(ctr, proxy_invalid, 1);
    else if (why == PROXY_TIMEOUT)
        SK__COUNT(ctr, proxy_timeout, 1);
    else
        SK__COUNT(ctr, proxy_truncated, 1);
    SK__COUNT(ctr, refused_proxy_header, 1);
    sk__conn_peer_addr(c, &peer);
    log_proxy(c->w, names[why], &peer);
    sk__conn_close_now(c, SK__R_ERROR);
}

/* A system error ends the connection as if the peer had gone mid-header
 * (counted as truncated, not logged as a refusal). */
static void proxy_error(sk_conn *c, int err)
{
    SK__COUNT(sk__ctr(c->svc, c->w), proxy_truncated, 1);
    SK__COUNT(sk__ctr(c->svc, c->w), refused_proxy_header, 1);
    c->error = err;
    sk__conn_close_now(c, SK__R_ERROR);
}

static void proxy_timeout(sk_conn *c)
{
    proxy_fail(c, PROXY_TIMEOUT);
}

/* The header is in: the first `hlen` bytes of the input buffer.  Applies
 * it, keeps what followed it as input, and ends the stage. */
static void proxy_done(sk_conn *c, const sk_proxy_header *h, size_t hlen)
{
    size_t rest = c->in_len - hlen;

    if (h->family != AF_UNSPEC) {
        if (sk__conn_set_client(c, &h->src, &h->dst) < 0) {
            proxy_error(c, -ENOMEM);
            return;
        }
        SK__COUNT(sk__ctr(c->svc, c->w), proxy_proxied, 1);
    } else {
        SK__COUNT(sk__ctr(c->svc, c->w), proxy_local, 1);
    }
    memmove(c->in, c->in + hlen, rest);
    c->in_len = (uint32_t)rest;
    c->bytes_in += rest;
    SK__COUNT(sk__ctr(c->svc, c->w), bytes_in, rest);
    sk__stage_done(c);
}

/*
 * How many of the `n` bytes waiting at `next` (after the `have` bytes of
 * `in` already read) may be read without passing the header's end: a v2
 * header's length is in its first 16 bytes; a v1 line ends at its LF.
 * Anything else is taken whole, to be refused by the parser.
 */
static size_t proxy_header_part(const unsigned char *in, size_t have,
                                const unsigned char *next, size_t n)
{
    unsigned char fixed[16];
    size_t need;

    if ((have > 0 ? in[0] : next[0]) != '\r') {
        const unsigned char *lf = memchr(next, '\n', n);

        return lf != NULL ? (size_t)(lf - next) + 1 : n;
    }
    if (have + n < sizeof(fixed))
        return n;
    for (size_t i = 0; i < sizeof(fixed); i++)
        fixed[i] = i < have ? in[i] : next[i - have];
    need = sizeof(fixed) + ((size_t)fixed[14] << 8 | fixed[15]);
    if (have >= sizeof(fixed) && have >= need)
        return 0;
    if (have < sizeof(fixed) && have + n <= need)
        return n;
    return need - have < n ? need - have : n;
}

/* How far the input may fill: to conn_buffer, or, when a later stage (a
 * TLS handshake) reads the descriptor itself, to the header's end only:
 * what waits is peeked at first, and only the header's part of it read. */
static ssize_t proxy_recv(sk_conn *c)
{
    unsigned char *scratch = c->w->scratch;
    size_t room, take;
    ssize_t n;

    if (!sk__stage_followed(c))
        return sk__stage_recv(c, c->w->conn_buffer);
    room = c->w->conn_buffer > c->in_len ? c->w->conn_buffer - c->in_len : 0;
    if (room > SK_PROXY_V2_MAX)
        room = SK_PROXY_V2_MAX;
    if (room == 0)
        return -ENOBUFS;
    do
        n = sk__sys_recv(c->io.fd, scratch, room, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n == 0 ? 0 : errno == EWOULDBLOCK ? -EAGAIN : -errno;
    take = proxy_header_part(c->in, c->in_len, scratch, (size_t)n);
    return take == 0 ? -EAGAIN : sk__stage_recv(c, c->in_len + take);
}

/* Reads what arrived and tries the header.  The input is bounded by
 * conn_buffer and a header by SK_PROXY_V2_MAX: a header that does not fit
 * is refused as invalid. */
static void proxy_io(sk_conn *c, unsigned events)
{
    size_t limit = c->w->conn_buffer < SK_PROXY_V2_MAX ? c->w->conn_buffer : SK_PROXY_V2_MAX;
    ssize_t n = proxy_recv(c);
    sk_proxy_header h;
    int rc;

    (void)events;
    if (n == -EAGAIN)
        return;
    if (n == 0) {
        proxy_fail(c, PROXY_TRUNCATED);
        return;
    }
    if (n < 0) {
        proxy_error(c, (int)n);
        return;
    }
    rc = sk_proxy_parse(&h, c->in, c->in_len);
    if (rc == SK_ENEED && c->in_len < limit)
        return;
    if (rc < 0) {
        proxy_fail(c, PROXY_INVALID);
        return;
    }
    proxy_done(c, &h, (size_t)rc);
}

const sk__stage sk__stage_proxy = {
    .name = "proxy",
    .sets_peer = true,
    .admit = proxy_admit,
    .on_io = proxy_io,
    .on_timeout = proxy_timeout,
};
