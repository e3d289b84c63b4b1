/* SPDX-License-Identifier: MIT */
/*
 * lib/server/conn.c - one TCP connection of the server framework: admission,
 * reading with the on_data consumption rule, write-through output with a
 * bounded buffer, backpressure, on_drain, end of stream and the three ways
 * to close (graceful, at once, abort), plus the public sk_conn_* calls.
 *
 * The flow of one readiness event (conn_io_cb):
 *   writable -> flush queued output; a graceful close that has flushed
 *               ends our stream (shutdown SHUT_WR) and lingers for the
 *               peer's EOF
 *   readable -> recv into the worker's scratch buffer, offer it (after any
 *               kept input) to on_data, keep what it did not consume
 *   settle   -> re-offer kept input once output drained, run on_drain while
 *               the handler's writes go straight out, then set the events to
 *               watch (no system call when they are unchanged)
 *
 * Reading is paused while output is backed up (the buffer is full, or input
 * was left unconsumed while output was pending), so a peer that sends but
 * does not read is throttled by TCP flow control, and no byte is lost or
 * reordered: kept input is always offered before newer input.
 *
 * With cfg.proxy_protocol a connection starts on the worker's pending list
 * (admitted under max_conns only, if its peer is in the allow-list): its
 * reads go into the input buffer and are handed to sk_proxy_parse until a
 * header is complete (conn_proxy_input).  Then the header's client address
 * replaces the peer, the per-source limit is applied to it, on_open runs,
 * and the bytes that came after the header are offered to on_data as kept
 * input.  An invalid header, a timeout or an early end of stream closes the
 * connection before on_open, so no service byte is ever sent.
 */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* such platforms get SO_NOSIGPIPE on each connection */
#endif
#ifndef MSG_MORE
#define MSG_MORE 0 /* then on_open's reply and the FIN go out separately */
#endif

/* Connections are non-blocking, so their calls skip glibc's cancellation
 * bookkeeping (see sk__sys_send in internal.h). */
#define conn_sys_recv(fd, buf, len) sk__sys_recv((fd), (buf), (len), 0)
#define conn_sys_send(fd, buf, len, flags) sk__sys_send((fd), (buf), (len), (flags))

/* Fairness bounds per readiness event. */
#define READS_PER_EVENT 4
#define DRAIN_ROUNDS SK_SERVER_DRAIN_ROUNDS

/* ---- buffers ------------------------------------------------------------ */

/* Grows *buf to hold at least `need` bytes (at most `max`), starting small:
 * most connections never queue more than a few hundred bytes. */
static int buf_reserve(unsigned char **buf, uint32_t *cap, size_t need, size_t max)
{
    size_t n = *cap ? *cap : 512;
    unsigned char *p;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    if (n > max)
        n = max;
    p = realloc(*buf, n);
    if (p == NULL)
        return -ENOMEM;
    *buf = p;
    *cap = (uint32_t)n; /* n <= conn_buffer <= 64 MiB */
    return 0;
}

static void buf_release(unsigned char **buf, uint32_t *cap)
{
    free(*buf);
    *buf = NULL;
    *cap = 0;
}

static size_t conn_limit(const sk_conn *c)
{
    return c->w->conn_buffer;
}

static sk__counters *conn_ctr(const sk_conn *c)
{
    return sk__ctr(c->svc, c->w);
}

/* ---- addresses ------------------------------------------------------------ */

static const sk_addr no_addr;

/* Keeps an IPv4 or IPv6 peer inline; any other (a Unix-domain peer) goes
 * into the side block at once.  Returns 0 or -ENOMEM. */
static int conn_store_peer(sk_conn *c, const sk_addr *peer)
{
    int family = peer->len > 0 ? peer->u.sa.sa_family : AF_UNSPEC;

    if (family == AF_INET && peer->len == sizeof(struct sockaddr_in)) {
        c->peer.in4 = peer->u.in4;
        return 0;
    }
    if (family == AF_INET6 && peer->len == sizeof(struct sockaddr_in6)) {
        c->peer.in6 = peer->u.in6;
        return 0;
    }
    c->peer.sa.sa_family = AF_UNSPEC;
    c->addrs = calloc(1, sizeof(*c->addrs));
    if (c->addrs == NULL)
        return -ENOMEM;
    c->addrs->peer = *peer;
    return 0;
}

/* The peer as an sk_addr. */
static void conn_peer_addr(const sk_conn *c, sk_addr *out)
{
    memset(out, 0, sizeof(*out));
    switch (c->peer.sa.sa_family) {
    case AF_INET:
        out->len = sizeof(struct sockaddr_in);
        out->u.in4 = c->peer.in4;
        break;
    case AF_INET6:
        out->len = sizeof(struct sockaddr_in6);
        out->u.in6 = c->peer.in6;
        break;
    default:
        if (c->addrs != NULL)
            *out = c->addrs->peer;
        break;
    }
}

/* ---- event selection ---------------------------------------------------- */

static bool conn_backed_up(const sk_conn *c)
{
    return c->out_len >= conn_limit(c) || (c->flags & SK__C_REOFFER);
}

static bool conn_want_read(const sk_conn *c)
{
    if (c->flags & (SK__C_DEAD | SK__C_RD_EOF))
        return false;
    if (c->flags & SK__C_WR_SHUT)
        return true; /* discarding until the peer's end of stream */
    if ((c->flags & SK__C_CLOSING) || c->w->stopping)
        return false;
    return !conn_backed_up(c) && c->in_len < conn_limit(c);
}

static bool conn_want_write(const sk_conn *c)
{
    if (c->flags & SK__C_DEAD)
        return false;
    if (c->out_len > 0)
        return true;
    /* on_drain is owed but the pump hit its fairness bound. */
    return (c->flags & SK__C_WROTE) && !(c->flags & SK__C_CLOSING) &&
           c->svc->tcp.on_drain != NULL;
}

static void conn_fail(sk_conn *c, int err)
{
    if (c->flags & SK__C_DEAD)
        return;
    /* The connection ended before its PROXY header was complete. */
    if (c->flags & SK__C_PROXY_WAIT)
        SK__COUNT(conn_ctr(c), proxy_truncated, 1);
    c->error = err;
    sk__conn_close_now(c, SK__R_ERROR);
}

/* Sets the watched events from the state.  Costs a system call only when
 * they change. */
static void conn_update_events(sk_conn *c)
{
    unsigned ev = 0;
    int err;

    if (c->flags & SK__C_DEAD)
        return;
    if (conn_want_read(c))
        ev |= SK_READABLE;
    if (conn_want_write(c))
        ev |= SK_WRITABLE;
    if (!(ev & SK_READABLE) && conn_backed_up(c) && !(c->flags & SK__C_PAUSED)) {
        c->flags |= SK__C_PAUSED;
        SK__COUNT(conn_ctr(c), read_pauses, 1);
    } else if (ev & SK_READABLE) {
        c->flags &= ~SK__C_PAUSED;
    }
    if (ev == c->io.events)
        return; /* the common case, without a call */
    err = sk_io_set_events(&c->io, ev);
    if (err < 0)
        conn_fail(c, err);
}

/* ---- output -------------------------------------------------------------- */

static void conn_sent(sk_conn *c, size_t n)
{
    c->bytes_out += n;
    SK__COUNT(conn_ctr(c), bytes_out, n);
    sk__worker_conn_touch(c);
}

/*
 * TCP_NODELAY: the handlers write whole replies, and Nagle would only delay
 * them.  Nagle never holds back a connection's first send (nothing is
 * unacknowledged yet), so the option is set just before the second one:
 * a service that writes once and closes (time, daytime) never pays the
 * system call.
 */
static void conn_set_nodelay(sk_conn *c)
{
    int one = 1;

    c->flags |= SK__C_NODELAY;
    setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* One send(2).  Returns bytes sent, 0 when the socket is full, or -errno. */
static ssize_t conn_send(sk_conn *c, const void *buf, size_t len)
{
    ssize_t n;
    int flags = MSG_NOSIGNAL;

    if (c->flags & SK__C_OPENING)
        flags |= MSG_MORE;
    else if (!(c->flags & SK__C_NODELAY) && c->bytes_out > 0)
        conn_set_nodelay(c);
    do
        n = conn_sys_send(c->io.fd, buf, len, flags);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    if (n > 0)
        conn_sent(c, (size_t)n);
    return n;
}

/* Sends queued output until it is gone or the socket is full; frees the
 * buffer once empty. */
static void conn_flush(sk_conn *c)
{
    while (c->out_len > 0) {
        ssize_t n = conn_send(c, c->out + c->out_off, c->out_len);

        if (n < 0) {
            conn_fail(c, (int)n);
            return;
        }
        if (n == 0)
            return;
        c->out_off += (uint32_t)n;
        c->out_len -= (uint32_t)n;
    }
    c->out_off = 0;
    buf_release(&c->out, &c->out_cap);
}

/* Appends up to `len` bytes to the output buffer; returns how many fit. */
static size_t conn_queue(sk_conn *c, const unsigned char *buf, size_t len)
{
    size_t room = conn_limit(c) - c->out_len;

    if (len > room)
        len = room;
    if (len == 0)
        return 0;
    if (c->out_off > 0 && c->out_off + c->out_len + len > c->out_cap) {
        memmove(c->out, c->out + c->out_off, c->out_len);
        c->out_off = 0;
    }
    if (buf_reserve(&c->out, &c->out_cap, c->out_off + c->out_len + len, conn_limit(c)) < 0)
        return 0;
    if (c->out_off + c->out_len + len > c->out_cap)
        len = c->out_cap - c->out_off - c->out_len;
    memcpy(c->out + c->out_off + c->out_len, buf, len);
    c->out_len += (uint32_t)len;
    /* The output bound the header promises (conn_buffer). */
    assert(c->out_len <= conn_limit(c));
    return len;
}

/* ---- closing ---------------------------------------------------------------- */

/*
 * Output is flushed after a graceful close.  Closing the descriptor now
 * would make the kernel answer any input the peer sends (or has sent) with
 * a reset, which can destroy the last response before the peer has read it.
 * So end our stream and discard input until the peer's end of stream,
 * bounded by the linger time; a peer that has already ended its stream is
 * closed at once.
 */
static void conn_finish_close(sk_conn *c)
{
    if (c->flags & (SK__C_DEAD | SK__C_WR_SHUT))
        return;
    if ((c->flags & SK__C_RD_EOF) || shutdown(c->io.fd, SHUT_WR) < 0) {
        sk__conn_close_now(c, SK__R_CLOSED);
        return;
    }
    c->flags |= SK__C_WR_SHUT;
    c->flags &= ~(SK__C_REOFFER | SK__C_WROTE);
    c->in_len = 0;
    buf_release(&c->in, &c->in_cap);
    sk__worker_conn_linger(c);
}

void sk__conn_close_graceful(sk_conn *c, enum sk__conn_reason reason)
{
    if (c->flags & (SK__C_DEAD | SK__C_CLOSING))
        return;
    c->flags |= SK__C_CLOSING;
    if (c->reason == SK__R_NONE)
        c->reason = (uint8_t)reason;
    if (c->out_len == 0)
        conn_finish_close(c);
}

/* Gives back the admission taken for the connection; the address is only
 * looked at when a per-source slot is held. */
static void conn_release_limits(const sk_conn *c)
{
    if (c->flags & SK__C_SOURCE) {
        sk_addr peer;

        conn_peer_addr(c, &peer);
        sk__limits_release_source(c->w->srv, &peer);
    }
    sk__limits_release_total(c->w->srv);
}

/* " via=A" for a connection that came through a proxy, else "". */
static const char *conn_via(const sk_conn *c, char *buf, size_t size)
{
    char text[SK_ADDRSTRLEN] = "?";

    if (!(c->flags & SK__C_VIA) || c->addrs == NULL)
        return "";
    sk_addr_format(&c->addrs->via, text, sizeof(text));
    snprintf(buf, size, " via=%s", text);
    return buf;
}

static const char *const reason_names[] = {
    [SK__R_NONE] = "closed", [SK__R_CLOSED] = "closed", [SK__R_EOF] = "eof",
    [SK__R_ERROR] = "error", [SK__R_ABORT] = "abort", [SK__R_IDLE] = "idle",
    [SK__R_SHUTDOWN] = "shutdown",
};

/* Names both ends, like the open line: a client port alone is ambiguous,
 * as one port may carry connections to several services at once. */
static void log_close(const sk_conn *c)
{
    char peer[SK_ADDRSTRLEN] = "?", local[SK_ADDRSTRLEN] = "?", via[SK_ADDRSTRLEN + 8];
    const char *reason = reason_names[c->reason];
    sk_addr addr;

    conn_peer_addr(c, &addr);
    sk_addr_format(&addr, peer, sizeof(peer));
    sk_addr_format(sk_conn_local(c), local, sizeof(local));
    if (c->error != 0)
        sk__server_log(c->w->srv, "event=close peer=%s local=%s%s bytes_in=%llu "
                       "bytes_out=%llu reason=%s error=\"%s\"", peer, local,
                       conn_via(c, via, sizeof(via)), (unsigned long long)c->bytes_in,
                       (unsigned long long)c->bytes_out, reason, sk_strerror(c->error));
    else
        sk__server_log(c->w->srv, "event=close peer=%s local=%s%s bytes_in=%llu "
                       "bytes_out=%llu reason=%s", peer, local, conn_via(c, via, sizeof(via)),
                       (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
                       reason);
}

void sk__conn_close_now(sk_conn *c, enum sk__conn_reason reason)
{
    if (c->flags & SK__C_DEAD)
        return;
    c->flags |= SK__C_DEAD;
    if (c->reason == SK__R_NONE)
        c->reason = (uint8_t)reason;
    /* The embedded handle stays allocated with the connection, which the
     * reaper frees on a later iteration. */
    sk_io_stop(&c->io);
    close(c->io.fd);
    c->io.fd = -1;
    conn_release_limits(c);
    /* A connection refused before on_open (PROXY) was never counted open. */
    if (c->flags & SK__C_OPENED) {
        SK__COUNT(conn_ctr(c), closed, 1);
        if (c->w->srv->cfg.verbose)
            log_close(c);
    }
    sk__worker_conn_bury(c);
}

void sk__conn_release(sk_conn *c)
{
    if ((c->flags & SK__C_OPENED) && c->svc->tcp.on_close != NULL) {
        c->busy++;
        c->svc->tcp.on_close(c);
        c->busy--;
    }
    free(c->out);
    free(c->in);
    free(c->addrs);
    free(c);
}

/* ---- input ------------------------------------------------------------------ */

/* Hands `len` bytes to on_data and returns how many it consumed.  Without
 * on_data the bytes are dropped (a discard service). */
static size_t conn_offer(sk_conn *c, const unsigned char *data, size_t len)
{
    size_t used;

    if (c->svc->tcp.on_data == NULL)
        return len;
    c->busy++;
    used = c->svc->tcp.on_data(c, data, len);
    c->busy--;
    return used > len ? len : used;
}

/* Keeps `len` unconsumed bytes for the next offer.  Kept while output is
 * pending, they are offered again once it drains; otherwise the handler is
 * waiting for more of a message and gets them with the next bytes. */
static void conn_keep(sk_conn *c, const unsigned char *rest, size_t len)
{
    if (len == 0 || (c->flags & (SK__C_DEAD | SK__C_CLOSING))) {
        c->in_len = 0;
        if (c->in != NULL)
            buf_release(&c->in, &c->in_cap);
        return;
    }
    if (rest != c->in) {
        /* Cannot fail for lack of room: the read was sized to fit. */
        if (buf_reserve(&c->in, &c->in_cap, len, conn_limit(c)) < 0) {
            conn_fail(c, -ENOMEM);
            return;
        }
        memmove(c->in, rest, len);
    }
    c->in_len = (uint32_t)len;
    if (c->out_len > 0)
        c->flags |= SK__C_REOFFER;
}

/* Offers kept input (plus `fresh` new bytes, appended) and keeps the rest. */
static void conn_consume(sk_conn *c, const unsigned char *fresh, size_t n)
{
    const unsigned char *data = fresh;
    size_t len = n, used;

    if (c->in_len > 0) {
        if (n > 0) {
            if (buf_reserve(&c->in, &c->in_cap, c->in_len + n, conn_limit(c)) < 0) {
                conn_fail(c, -ENOMEM);
                return;
            }
            memcpy(c->in + c->in_len, fresh, n);
        }
        data = c->in;
        len = c->in_len + n;
    }
    used = conn_offer(c, data, len);
    conn_keep(c, data + used, len - used);
}

static void conn_on_eof(sk_conn *c)
{
    c->flags |= SK__C_RD_EOF;
    if (c->flags & SK__C_WR_SHUT) {
        sk__conn_close_now(c, SK__R_CLOSED);
        return;
    }
    if (c->flags & SK__C_CLOSING)
        return;
    if (c->svc->tcp.on_eof != NULL) {
        c->busy++;
        c->svc->tcp.on_eof(c);
        c->busy--;
    } else {
        sk__conn_close_graceful(c, SK__R_EOF);
    }
}

/* Why a PROXY header was refused (the "result" of the log line). */
enum proxy_failure { PROXY_INVALID, PROXY_TIMEOUT, PROXY_TRUNCATED };

static void conn_proxy_input(sk_conn *c, const unsigned char *fresh, size_t n);
static void conn_proxy_fail(sk_conn *c, enum proxy_failure why);

static void conn_on_readable(sk_conn *c)
{
    unsigned char *scratch = c->w->scratch;

    for (int r = 0; r < READS_PER_EVENT && conn_want_read(c); r++) {
        size_t room = conn_limit(c) - c->in_len;
        ssize_t n;

        do
            n = conn_sys_recv(c->io.fd, scratch, room);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_fail(c, -errno);
            return;
        }
        if (n == 0 && (c->flags & SK__C_PROXY_WAIT)) {
            conn_proxy_fail(c, PROXY_TRUNCATED);
            return;
        }
        if (n == 0) {
            conn_on_eof(c);
            return;
        }
        if (c->flags & SK__C_PROXY_WAIT) {
            conn_proxy_input(c, scratch, (size_t)n);
            return;
        }
        /* Input after our end of stream is dropped unseen and uncounted. */
        if (c->flags & SK__C_WR_SHUT)
            continue;
        c->bytes_in += (size_t)n;
        SK__COUNT(conn_ctr(c), bytes_in, (uint64_t)n);
        sk__worker_conn_touch(c);
        conn_consume(c, scratch, (size_t)n);
        /* A short read most likely emptied the socket; level-triggered
         * readiness brings us back if not, without a wasted EAGAIN call. */
        if ((size_t)n < room)
            return;
    }
}

static void conn_on_writable(sk_conn *c)
{
    if (c->out_len > 0)
        conn_flush(c);
    if (c->out_len == 0 && (c->flags & SK__C_CLOSING))
        conn_finish_close(c);
}

/* Re-offers kept input once output has drained, and calls on_drain while
 * the handler's writes go straight out to the kernel (bounded, so that a
 * fast producer cannot starve the other connections: past the bound the
 * next round waits for writability). */
static void conn_pump(sk_conn *c)
{
    const sk_tcp_handler *h = &c->svc->tcp;

    for (int i = 0; i < DRAIN_ROUNDS; i++) {
        if ((c->flags & (SK__C_DEAD | SK__C_CLOSING)) || c->out_len > 0)
            return;
        if (c->flags & SK__C_REOFFER) {
            c->flags &= ~SK__C_REOFFER;
            conn_consume(c, NULL, 0);
            continue;
        }
        if (!(c->flags & SK__C_WROTE) || h->on_drain == NULL)
            return;
        c->flags &= ~SK__C_WROTE;
        c->busy++;
        h->on_drain(c);
        c->busy--;
    }
}

/*
 * While the worker shuts down no new input is read, but input already read
 * and kept because output was backed up is part of a request in flight: it
 * is still offered as the output drains.  Once none is left waiting for
 * that, the connection closes gracefully.
 */
static void conn_shutdown_step(sk_conn *c)
{
    if (c->flags & (SK__C_DEAD | SK__C_CLOSING))
        return;
    if (c->in_len > 0 && (c->flags & SK__C_REOFFER))
        return;
    sk__conn_close_graceful(c, SK__R_SHUTDOWN);
}

/* The end of every event the server delivers to a connection. */
static void conn_settle(sk_conn *c)
{
    if (c->busy > 0)
        return;
    conn_pump(c);
    if (c->w->stopping)
        conn_shutdown_step(c);
    conn_update_events(c);
}

void sk__conn_shutdown(sk_conn *c)
{
    conn_settle(c);
}

static void conn_io_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    sk_conn *c = arg;

    c->busy++;
    if (events & SK_WRITABLE)
        conn_on_writable(c);
    if ((events & SK_READABLE) && !(c->flags & SK__C_DEAD))
        conn_on_readable(c);
    c->busy--;
    conn_settle(c);
}

/* ---- admission ------------------------------------------------------------------ */

static void log_open(sk_conn *c)
{
    char peer[SK_ADDRSTRLEN] = "?", local[SK_ADDRSTRLEN] = "?", via[SK_ADDRSTRLEN + 8];
    sk_addr addr;

    conn_peer_addr(c, &addr);
    sk_addr_format(&addr, peer, sizeof(peer));
    sk_addr_format(sk_conn_local(c), local, sizeof(local));
    sk__server_log(c->w->srv, "event=open peer=%s local=%s%s", peer, local,
                   conn_via(c, via, sizeof(via)));
}

static void log_refuse(sk__worker *w, const sk_addr *peer, const char *via)
{
    char text[SK_ADDRSTRLEN] = "?";

    sk_addr_format(peer, text, sizeof(text));
    sk__server_log(w->srv, "event=refuse peer=%s%s reason=limit", text, via);
}

/* SO_NOSIGPIPE where sends cannot carry MSG_NOSIGNAL; TCP_NODELAY comes
 * with the second send (conn_send), and only for TCP peers. */
static void conn_set_options(sk_conn *c, int fd, const sk_addr *peer)
{
    if (peer->u.sa.sa_family != AF_INET && peer->u.sa.sa_family != AF_INET6)
        c->flags |= SK__C_NODELAY;
#if defined(SO_NOSIGPIPE)
    int one = 1;

    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#else
    (void)fd;
#endif
}

/*
 * Runs on_open.  A service that answers at once and closes (time, daytime,
 * qotd) would send its reply and then, in a second segment, the FIN that
 * ends the stream.  So a TCP connection's sends during on_open (and the
 * on_drain rounds right after it) carry MSG_MORE: the kernel holds the last
 * partial segment until either the close's shutdown sends it together with
 * the FIN (one segment and one wake-up of the peer fewer, and no extra
 * system call), or, for a connection that stays open, setting TCP_NODELAY
 * (owed before its second send anyway) pushes it out at once.
 */
static void conn_open(sk_conn *c)
{
    if (!(c->flags & SK__C_NODELAY))
        c->flags |= SK__C_OPENING;
    c->busy++;
    c->svc->tcp.on_open(c);
    c->busy--;
    conn_settle(c);
    if (!(c->flags & SK__C_OPENING))
        return;
    c->flags &= ~SK__C_OPENING;
    /* After our FIN (or once closed) nothing is held back. */
    if (c->bytes_out > 0 && !(c->flags & (SK__C_DEAD | SK__C_WR_SHUT)))
        conn_set_nodelay(c);
}

/* The connection is admitted: count it, log it, run on_open. */
static void conn_start(sk_conn *c)
{
    SK__COUNT(conn_ctr(c), accepted, 1);
    if (c->w->srv->cfg.verbose)
        log_open(c);
    c->flags |= SK__C_OPENED;
    if (c->svc->tcp.on_open != NULL) {
        conn_open(c);
        return;
    }
    conn_settle(c);
}

/* Applies the per-source limit to the connection's peer (the client, for a
 * proxied one).  Returns 0, or -EAGAIN after counting and logging. */
static int conn_admit_source(sk_conn *c)
{
    char via[SK_ADDRSTRLEN + 8];
    sk_addr peer;

    conn_peer_addr(c, &peer);
    if (sk__limits_admit_source(c->w->srv, &peer) < 0) {
        SK__COUNT(conn_ctr(c), refused_limit, 1);
        if (c->w->srv->cfg.verbose)
            log_refuse(c->w, &peer, conn_via(c, via, sizeof(via)));
        return -EAGAIN;
    }
    c->flags |= SK__C_SOURCE;
    return 0;
}

/* ---- the PROXY header ---------------------------------------------------------- */

static bool proxy_source_allowed(const sk_server *srv, const sk_addr *peer)
{
    for (size_t i = 0; i < srv->nproxy_from; i++)
        if (sk_cidr_match(&srv->proxy_from[i], peer))
            return true;
    return false;
}

/* Counts, logs (rate-limited) and closes a connection whose header failed;
 * nothing was sent on it and on_open never ran. */
static void conn_proxy_fail(sk_conn *c, enum proxy_failure why)
{
    static const char *const names[] = {
        [PROXY_INVALID] = "invalid", [PROXY_TIMEOUT] = "timeout",
        [PROXY_TRUNCATED] = "truncated",
    };
    sk__counters *ctr = conn_ctr(c);
    sk_addr peer;

    if (why == PROXY_INVALID)
        SK__COUNT(ctr, proxy_invalid, 1);
    else if (why == PROXY_TIMEOUT)
        SK__COUNT(ctr, proxy_timeout, 1);
    else
        SK__COUNT(ctr, proxy_truncated, 1);
    conn_peer_addr(c, &peer);
    sk__server_log_proxy(c->w, names[why], &peer);
    sk__conn_close_now(c, SK__R_ERROR);
}

void sk__conn_proxy_expire(sk_conn *c)
{
    conn_proxy_fail(c, PROXY_TIMEOUT);
}

/* Makes the header's addresses the connection's: the client becomes the
 * peer, the address it connected to the local one, and the proxy "via". */
static int conn_set_client(sk_conn *c, const sk_proxy_header *h)
{
    sk_addr via;

    conn_peer_addr(c, &via);
    if (c->addrs == NULL) {
        c->addrs = calloc(1, sizeof(*c->addrs));
        if (c->addrs == NULL)
            return -ENOMEM;
    }
    c->addrs->via = via;
    c->addrs->peer = h->src;
    c->addrs->local = h->dst;
    if (h->family == AF_INET)
        c->peer.in4 = h->src.u.in4;
    else if (h->family == AF_INET6)
        c->peer.in6 = h->src.u.in6;
    else
        c->peer.sa.sa_family = AF_UNSPEC; /* a Unix-domain client: in addrs only */
    c->flags |= SK__C_LOCAL | SK__C_VIA;
    return 0;
}

/*
 * The header is in: the first `hlen` bytes of the input buffer.  Applies
 * it, moves the connection to the LRU list, runs the per-source limit on
 * the real client and on_open, then offers what followed the header.
 */
static void conn_proxy_done(sk_conn *c, const sk_proxy_header *h, size_t hlen)
{
    size_t rest = c->in_len - hlen;

    if (h->family != AF_UNSPEC) {
        if (conn_set_client(c, h) < 0) {
            conn_fail(c, -ENOMEM);
            return;
        }
        SK__COUNT(conn_ctr(c), proxy_proxied, 1);
    } else {
        SK__COUNT(conn_ctr(c), proxy_local, 1);
    }
    memmove(c->in, c->in + hlen, rest);
    c->in_len = (uint32_t)rest;
    if (rest == 0)
        buf_release(&c->in, &c->in_cap);
    c->bytes_in += rest;
    SK__COUNT(conn_ctr(c), bytes_in, rest);
    sk__worker_conn_unpend(c);
    if (conn_admit_source(c) < 0) {
        sk__conn_close_now(c, SK__R_CLOSED);
        return;
    }
    conn_start(c);
    if (c->in_len > 0 && !(c->flags & (SK__C_DEAD | SK__C_CLOSING)))
        conn_consume(c, NULL, 0);
}

/* Appends newly read bytes to the input buffer and tries the header.  The
 * buffer is bounded by conn_buffer (and a header by SK_PROXY_V2_MAX): a
 * header that does not fit is refused as invalid. */
static void conn_proxy_input(sk_conn *c, const unsigned char *fresh, size_t n)
{
    size_t limit = conn_limit(c) < SK_PROXY_V2_MAX ? conn_limit(c) : SK_PROXY_V2_MAX;
    sk_proxy_header h;
    int rc;

    if (buf_reserve(&c->in, &c->in_cap, c->in_len + n, conn_limit(c)) < 0) {
        conn_fail(c, -ENOMEM);
        return;
    }
    memcpy(c->in + c->in_len, fresh, n);
    c->in_len += (uint32_t)n;
    rc = sk_proxy_parse(&h, c->in, c->in_len);
    if (rc == SK_ENEED && c->in_len < limit)
        return;
    if (rc < 0) {
        conn_proxy_fail(c, PROXY_INVALID);
        return;
    }
    conn_proxy_done(c, &h, (size_t)rc);
}

/* ---- admission ------------------------------------------------------------------ */

/*
 * The limits, before anything is allocated, so a flood of refused
 * connections costs little.  With the PROXY protocol the peer must be in
 * the allow-list, and only the total limit applies now: the per-source one
 * waits for the client's address.  Returns 0, or -1 after counting,
 * logging and closing `fd`.
 */
static int conn_admit(sk__listener *l, int fd, const sk_addr *peer)
{
    sk__worker *w = l->w;
    sk_server *srv = w->srv;
    bool proxied = srv->cfg.proxy_protocol;

    if (proxied && !proxy_source_allowed(srv, peer)) {
        SK__COUNT(sk__ctr(l->svc, w), refused_proxy_source, 1);
        sk__server_log_proxy(w, "forbidden", peer);
        close(fd);
        return -1;
    }
    if (sk__limits_admit_total(srv) < 0)
        goto refuse;
    if (!proxied && sk__limits_admit_source(srv, peer) < 0) {
        sk__limits_release_total(srv);
        goto refuse;
    }
    return 0;

refuse:
    SK__COUNT(sk__ctr(l->svc, w), refused_limit, 1);
    if (srv->cfg.verbose)
        log_refuse(w, peer, "");
    close(fd);
    return -1;
}

void sk__conn_accept(sk__listener *l, int fd, const sk_addr *peer)
{
    sk__worker *w = l->w;
    sk_server *srv = w->srv;
    bool proxied = srv->cfg.proxy_protocol;
    sk_conn *c;
    int err;

    if (conn_admit(l, fd, peer) < 0)
        return;
    c = calloc(1, sizeof(*c) + l->svc->tcp.conn_size);
    if (c == NULL) {
        err = -ENOMEM;
        goto fail_admitted;
    }
    c->w = w;
    c->svc = l->svc;
    err = conn_store_peer(c, peer);
    if (err < 0)
        goto fail_conn;
    conn_set_options(c, fd, peer);
    err = sk__io_start_embedded(w->loop, &c->io, fd, SK_READABLE, conn_io_cb, c);
    if (err < 0)
        goto fail_conn;
    if (proxied) {
        sk__worker_conn_link_pending(w, c);
        return;
    }
    c->flags |= SK__C_SOURCE;
    sk__worker_conn_link(w, c);
    conn_start(c);
    return;

fail_conn:
    free(c->addrs);
    free(c);
fail_admitted:
    if (!proxied)
        sk__limits_release_source(srv, peer);
    sk__limits_release_total(srv);
    close(fd);
    sk__server_log_error(w, "accept", err, peer);
}

/* ---- the public calls ------------------------------------------------------------ */

ssize_t sk_conn_write(sk_conn *c, const void *buf, size_t len)
{
    size_t done = 0;

    if (c->flags & (SK__C_DEAD | SK__C_CLOSING))
        return -EPIPE;
    if (len == 0)
        return 0;
    if (c->out_len == 0) {
        ssize_t n = conn_send(c, buf, len);

        if (n < 0) {
            conn_fail(c, (int)n);
            return -EPIPE;
        }
        done = (size_t)n;
    }
    if (done < len)
        done += conn_queue(c, (const unsigned char *)buf + done, len - done);
    if (done > 0)
        c->flags |= SK__C_WROTE;
    /* Inside a callback the server settles the events afterwards. */
    if (c->busy == 0)
        conn_update_events(c);
    return (ssize_t)done;
}

size_t sk_conn_write_space(const sk_conn *c)
{
    if (c->flags & (SK__C_DEAD | SK__C_CLOSING))
        return 0;
    return conn_limit(c) - c->out_len;
}

void sk_conn_close(sk_conn *c)
{
    sk__conn_close_graceful(c, SK__R_CLOSED);
    if (c->busy == 0)
        conn_update_events(c);
}

void sk_conn_abort(sk_conn *c)
{
    struct linger lg = { 1, 0 };

    if (c->flags & SK__C_DEAD)
        return;
    /* A zero linger time makes close(2) send a reset and drop the queue. */
    setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    sk__conn_close_now(c, SK__R_ABORT);
}

void *sk_conn_data(sk_conn *c)
{
    return c->data;
}

/* Made on first use: most connections never ask.  Without memory for it,
 * both calls answer "no address" (len 0) rather than fail. */
static sk__conn_addrs *conn_addrs(const sk_conn *c)
{
    sk_conn *m = (sk_conn *)c;

    if (m->addrs == NULL) {
        m->addrs = calloc(1, sizeof(*m->addrs));
        if (m->addrs != NULL)
            conn_peer_addr(m, &m->addrs->peer);
    }
    return m->addrs;
}

const sk_addr *sk_conn_peer(const sk_conn *c)
{
    const sk__conn_addrs *a = conn_addrs(c);

    return a != NULL ? &a->peer : &no_addr;
}

/* Looked up on first use: getsockname is a system call. */
const sk_addr *sk_conn_local(const sk_conn *c)
{
    sk_conn *m = (sk_conn *)c;
    sk__conn_addrs *a = conn_addrs(c);

    if (a == NULL)
        return &no_addr;
    if (!(m->flags & SK__C_LOCAL) && m->io.fd >= 0) {
        a->local.len = sizeof(a->local.u);
        if (getsockname(m->io.fd, &a->local.u.sa, &a->local.len) < 0)
            a->local.len = 0;
        m->flags |= SK__C_LOCAL;
    }
    return &a->local;
}

void *sk_conn_arg(const sk_conn *c)
{
    return c->svc->arg;
}

sk_loop *sk_conn_loop(const sk_conn *c)
{
    return c->w->loop;
}

const sk_addr *sk_conn_via(const sk_conn *c)
{
    return (c->flags & SK__C_VIA) && c->addrs != NULL ? &c->addrs->via : NULL;
}
