/* SPDX-License-Identifier: MIT */
/*
 * lib/server/conn.c - one open TCP connection of the server framework:
 * reading with the on_data consumption rule, write-through output with a
 * bounded buffer, backpressure, on_drain, end of stream and the graceful
 * close, plus the public sk_conn_* calls.  Admission and the stages before
 * on_open are in lib/server/stage.c; closing at once and the reaper in
 * lib/server/worker.c; the addresses in lib/server/addr.c.
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
 * While the connection is in a stage (SK__C_STAGE) the event goes to the
 * stage's on_io hook instead.
 *
 * A connection with TLS state (c->tls_on set by lib/server/tls_stage.c, the
 * state in its side block) reads and writes through it instead of recv and
 * send, one branch on a bit the plain path's cache line holds anyway: the
 * handler sees plaintext, the byte counts and buffer bounds are in
 * plaintext, and a write TLS cannot finish waits
 * in the output buffer as a plain one does (OpenSSL's "repeat the write"
 * rule holds: the buffer starts with the bytes offered, and offers are
 * capped to what the buffer can hold).  Plaintext TLS has decrypted but
 * not yet handed over raises no readiness event, so settling reads it
 * while the handler wants input.  A graceful close sends close_notify
 * before our end of stream.
 *
 * Reading is paused while output is backed up (the buffer is full, or input
 * was left unconsumed while output was pending), so a peer that sends but
 * does not read is throttled by TCP flow control, and no byte is lost or
 * reordered: kept input is always offered before newer input.
 *
 * It calls lib/server/worker.c, addr.c and log.c, never the files above it.
 */
#include "server.h"
#include "tls.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* One TLS write of up to one output buffer's worth (a retried write must
 * offer at least the bytes of the first try, and those are what the buffer
 * then holds).  Returns as conn_send. */
static ssize_t conn_tls_send(sk_conn *c, const void *buf, size_t len)
{
    ssize_t n = sk__tls_write(sk__conn_tls(c), buf, len < conn_limit(c) ? len : conn_limit(c));

    if (n == SK_ETLS_WANT_WRITE || n == SK_ETLS_WANT_READ)
        return 0;
    if (n > 0)
        conn_sent(c, (size_t)n);
    return n;
}

/* One send(2).  Returns bytes sent, 0 when the socket is full, or -errno. */
static ssize_t conn_send(sk_conn *c, const void *buf, size_t len)
{
    ssize_t n;
    int flags = MSG_NOSIGNAL;

    if (c->tls_on)
        return conn_tls_send(c, buf, len);
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
    assert((c->flags & (SK__C_CLOSING | SK__C_STAGE)) == SK__C_CLOSING && c->out_len == 0);
    if (c->tls_on)
        sk__tls_close_notify(sk__conn_tls(c));
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
    assert(c->flags & SK__C_OPENED);
    c->flags |= SK__C_CLOSING;
    if (c->reason == SK__R_NONE)
        c->reason = (uint8_t)reason;
    if (c->out_len == 0)
        conn_finish_close(c);
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

/* One TLS read.  Returns as conn_recv: an end of stream without
 * close_notify is an end of stream too (most clients close that way). */
static ssize_t conn_tls_recv(sk_conn *c, void *buf, size_t len)
{
    ssize_t n = sk__tls_read(sk__conn_tls(c), buf, len, false);

    if (n == SK_ETLS_WANT_READ || n == SK_ETLS_WANT_WRITE)
        return -EAGAIN;
    return n == SK_ETLS_EOF ? 0 : n;
}

/* One recv(2) (or TLS read).  Returns bytes read, 0 at the end of stream,
 * -EAGAIN when nothing is waiting, or -errno (an SK_ETLS_* code). */
static inline ssize_t conn_recv(sk_conn *c, void *buf, size_t len)
{
    ssize_t n;

    if (c->tls_on)
        return conn_tls_recv(c, buf, len);
    do
        n = conn_sys_recv(c->io.fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -errno;
    return n;
}

static void conn_on_readable(sk_conn *c)
{
    unsigned char *scratch = c->w->scratch;

    for (int r = 0; r < READS_PER_EVENT && conn_want_read(c); r++) {
        size_t room = conn_limit(c) - c->in_len;
        ssize_t n = conn_recv(c, scratch, room);

        if (n < 0) {
            if (n != -EAGAIN)
                conn_fail(c, (int)n);
            return;
        }
        if (n == 0) {
            conn_on_eof(c);
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

/* Hands over what TLS has decrypted and buffered while the handler wants
 * input: no readiness event will say it is there.  Bounded: each round
 * empties the buffer (at most a record) or fills the input bound. */
static void conn_tls_pending(sk_conn *c)
{
    while (!(c->flags & SK__C_DEAD) && conn_want_read(c) && sk__tls_pending(sk__conn_tls(c)) > 0) {
        c->busy++;
        conn_on_readable(c);
        c->busy--;
        conn_pump(c);
    }
}

/* The end of every event the server delivers to a connection. */
static void conn_settle(sk_conn *c)
{
    assert(c->busy < 8);
    if (c->busy > 0 || (c->flags & SK__C_STAGE))
        return;
    conn_pump(c);
    if (c->tls_on)
        conn_tls_pending(c);
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

    if (c->flags & SK__C_STAGE) {
        c->w->srv->stages[c->stage]->on_io(c, events);
        return;
    }
    c->busy++;
    if (events & SK_WRITABLE)
        conn_on_writable(c);
    if ((events & SK_READABLE) && !(c->flags & SK__C_DEAD))
        conn_on_readable(c);
    c->busy--;
    conn_settle(c);
}

/* ---- opening ------------------------------------------------------------------ */

int sk__conn_io_start(sk_conn *c, int fd)
{
    return sk__io_start_embedded(c->w->loop, &c->io, fd, SK_READABLE, conn_io_cb, c);
}

int sk__conn_in_append(sk_conn *c, const void *data, size_t n)
{
    if (buf_reserve(&c->in, &c->in_cap, c->in_len + n, conn_limit(c)) < 0)
        return -ENOMEM;
    assert(c->in_len + n <= c->in_cap);
    memcpy(c->in + c->in_len, data, n);
    c->in_len += (uint32_t)n;
    return 0;
}

static void log_open(sk_conn *c)
{
    char peer[SK_ADDRSTRLEN] = "?", local[SK_ADDRSTRLEN] = "?", via[SK_ADDRSTRLEN + 8];
    sk_addr addr;

    sk__conn_peer_addr(c, &addr);
    sk_addr_format(&addr, peer, sizeof(peer));
    sk_addr_format(sk_conn_local(c), local, sizeof(local));
    sk__server_log(c->w->srv, "event=open peer=%s local=%s%s", peer, local,
                   sk__conn_via_text(c, via, sizeof(via)));
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
static void conn_run_open(sk_conn *c)
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

void sk__conn_open(sk_conn *c)
{
    assert(!(c->flags & (SK__C_OPENED | SK__C_STAGE | SK__C_DEAD)));
    SK__COUNT(conn_ctr(c), accepted, 1);
    if (c->w->srv->cfg.verbose)
        log_open(c);
    c->flags |= SK__C_OPENED;
    if (c->svc->tcp.on_open != NULL)
        conn_run_open(c);
    else
        conn_settle(c);
    /* What came after a stage's bytes (a PROXY header) is the first input. */
    if (c->in_len == 0 && c->in != NULL)
        buf_release(&c->in, &c->in_cap);
    if (c->in_len > 0 && !(c->flags & (SK__C_DEAD | SK__C_CLOSING))) {
        c->busy++;
        conn_consume(c, NULL, 0);
        c->busy--;
        conn_settle(c);
    }
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
    sk__conn_abort_now(c);
}

void *sk_conn_data(sk_conn *c)
{
    return c->data;
}

void *sk_conn_arg(const sk_conn *c)
{
    return c->svc->arg;
}

sk_loop *sk_conn_loop(const sk_conn *c)
{
    return c->w->loop;
}

const char *sk_conn_tls_version(const sk_conn *c)
{
    return c->tls_on ? sk__tls_version(sk__conn_tls(c)) : NULL;
}

const char *sk_conn_tls_alpn(const sk_conn *c)
{
    return c->tls_on ? sk__tls_alpn(sk__conn_tls(c)) : NULL;
}

int sk_conn_tls_export_keying_material(const sk_conn *c, const char *label,
                                       const void *context, size_t context_len, void *out,
                                       size_t len)
{
    if (!sk_tls_available())
        return SK_ETLS_UNAVAILABLE;
    if (!c->tls_on || label == NULL)
        return -EINVAL;
    return sk__tls_export(sk__conn_tls(c), label, context, context_len, out, len);
}
