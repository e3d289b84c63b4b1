/* SPDX-License-Identifier: MIT */
/*
 * lib/server/tls_stage.c - the TLS handshake stage: a connection of a
 * service with a TLS context (sk_server_set_tls) runs its server handshake
 * here, after the PROXY header when there is one and before on_open.
 *
 *   enter    takes the service's current context (under srv->tls_lock: it
 *            may be replaced meanwhile; the connection's state holds its
 *            own reference) and creates the connection's TLS state, kept
 *            in its side block (sk__conn_addrs: a plain connection pays
 *            nothing for it)
 *   io       one handshake step per readiness event, watching what the
 *            step wants next (SK_ETLS_WANT_READ / SK_ETLS_WANT_WRITE)
 *   done     counts the handshake (full or resumed) and the version, and
 *            ends the stage: conn.c reads and writes through it from
 *            then on, so handlers see plaintext
 *   failure  a peer that is not speaking TLS, a refused certificate, no
 *            common version, an early end of stream, an error or the
 *            handshake timeout closes the connection before on_open (no
 *            service byte is ever sent), counted by reason and logged as
 *            "event=tls result=R peer=A suppressed=N", at most one line a
 *            second per worker, whatever cfg.verbose says
 *
 * Cost: one allocation for the TLS state and OpenSSL's own per handshake;
 * nothing for services without TLS (the stage does not apply to them).
 * The connection holds its admission slots meanwhile, so handshakes in
 * progress count against max_conns and max_per_source.
 *
 * It calls lib/server/stage.c, worker.c, addr.c and log.c, and lib/tls.h.
 */
#include "server.h"
#include "tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

/* Why a handshake did not complete (the "result" of the log line). */
enum tls_failure {
    TLS_F_VERIFY, TLS_F_VERSION, TLS_F_NOT_TLS, TLS_F_HANDSHAKE, TLS_F_EOF, TLS_F_ERROR,
    TLS_F_TIMEOUT
};

static const char *const failure_names[] = {
    [TLS_F_VERIFY] = "verify", [TLS_F_VERSION] = "version", [TLS_F_NOT_TLS] = "not_tls",
    [TLS_F_HANDSHAKE] = "handshake", [TLS_F_EOF] = "eof", [TLS_F_ERROR] = "error",
    [TLS_F_TIMEOUT] = "timeout",
};

static bool tls_applies(const sk__service *svc)
{
    return svc->has_tls;
}

/* This stage's index in the server's stages (its log state's index). */
static int tls_index(const sk_server *srv)
{
    for (int i = 0; i < srv->nstages; i++)
        if (srv->stages[i] == &sk__stage_tls)
            return i;
    return 0;
}

static void log_tls(sk_conn *c, enum tls_failure why)
{
    sk__worker *w = c->w;
    char text[SK_ADDRSTRLEN] = "?", via[SK_ADDRSTRLEN + 8];
    uint64_t suppressed;
    sk_addr peer;

    if (!sk__ratelog_due(&w->stage_log[tls_index(w->srv)], sk_loop_now_ms(w->loop),
                         &suppressed))
        return;
    sk__conn_peer_addr(c, &peer);
    sk_addr_format(&peer, text, sizeof(text));
    sk__server_log(w->srv, "event=tls result=%s peer=%s%s suppressed=%llu",
                   failure_names[why], text, sk__conn_via_text(c, via, sizeof(via)),
                   (unsigned long long)suppressed);
}

/* The reason a failed step's code stands for. */
static enum tls_failure failure_of(int err)
{
    if (SK_ETLS_IS_VERIFY(err))
        return TLS_F_VERIFY;
    switch (err) {
    case SK_ETLS_VERSION:
        return TLS_F_VERSION;
    case SK_ETLS_NOT_TLS:
        return TLS_F_NOT_TLS;
    case SK_ETLS_EOF:
    case -ECONNRESET:
        return TLS_F_EOF;
    case SK_ETLS_HANDSHAKE:
    case SK_ETLS_PROTOCOL:
        return TLS_F_HANDSHAKE;
    default:
        return TLS_F_ERROR;
    }
}

/* Counts, logs and closes a connection whose handshake failed: nothing of
 * the service was sent on it and on_open never ran. */
static void tls_fail(sk_conn *c, enum tls_failure why, int err)
{
    sk__counters *ctr = sk__ctr(c->svc, c->w);

    switch (why) {
    case TLS_F_VERIFY: SK__COUNT(ctr, tls_failed_verify, 1); break;
    case TLS_F_VERSION: SK__COUNT(ctr, tls_failed_version, 1); break;
    case TLS_F_NOT_TLS: SK__COUNT(ctr, tls_failed_not_tls, 1); break;
    case TLS_F_HANDSHAKE: SK__COUNT(ctr, tls_failed_handshake, 1); break;
    case TLS_F_EOF: SK__COUNT(ctr, tls_failed_eof, 1); break;
    case TLS_F_ERROR: SK__COUNT(ctr, tls_failed_error, 1); break;
    case TLS_F_TIMEOUT: SK__COUNT(ctr, tls_timeout, 1); break;
    }
    log_tls(c, why);
    c->error = err;
    sk__conn_close_now(c, SK__R_ERROR);
}

/* The handshake completed: count it and end the stage. */
static void tls_done(sk_conn *c)
{
    sk__counters *ctr = sk__ctr(c->svc, c->w);
    const char *v = sk__tls_version(sk__conn_tls(c));

    if (sk__tls_reused(sk__conn_tls(c)))
        SK__COUNT(ctr, tls_resumed, 1);
    else
        SK__COUNT(ctr, tls_full, 1);
    if (v != NULL && strcmp(v, "TLSv1.3") == 0)
        SK__COUNT(ctr, tls_v13, 1);
    else if (v != NULL && strcmp(v, "TLSv1.2") == 0)
        SK__COUNT(ctr, tls_v12, 1);
    sk__stage_done(c);
}

/*
 * Creates the connection's TLS state on the service's current context.
 * TCP_NODELAY goes on at once: the handshake's flights and the replies
 * after it are whole records, and Nagle would hold the first reply behind
 * the unacknowledged last flight.
 */
static void tls_enter(sk_conn *c)
{
    sk_server *srv = c->w->srv;
    sk__conn_addrs *a = sk__conn_addrs_get(c);
    sk_tls_ctx *ctx;
    int one = 1, err;

    if (a == NULL) {
        tls_fail(c, TLS_F_ERROR, -ENOMEM);
        return;
    }
    pthread_mutex_lock(&srv->tls_lock);
    ctx = c->svc->tls;
    sk__tls_ctx_ref(ctx);
    pthread_mutex_unlock(&srv->tls_lock);
    err = sk__tls_new(&a->tls, ctx, c->io.fd, NULL);
    sk_tls_ctx_free(ctx); /* the state holds its own reference */
    if (err < 0) {
        tls_fail(c, TLS_F_ERROR, err);
        return;
    }
    c->tls_on = 1;
    if (!(c->flags & SK__C_NODELAY)) {
        c->flags |= SK__C_NODELAY;
        setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

static void tls_io(sk_conn *c, unsigned events)
{
    int r = sk__tls_handshake_step(sk__conn_tls(c));
    unsigned want;

    (void)events;
    if (r == 0) {
        tls_done(c);
        return;
    }
    if (r != SK_ETLS_WANT_READ && r != SK_ETLS_WANT_WRITE) {
        tls_fail(c, failure_of(r), r);
        return;
    }
    want = r == SK_ETLS_WANT_READ ? SK_READABLE : SK_WRITABLE;
    if (want != c->io.events && sk_io_set_events(&c->io, want) < 0)
        tls_fail(c, TLS_F_ERROR, -ENOMEM);
}

static void tls_timeout(sk_conn *c)
{
    tls_fail(c, TLS_F_TIMEOUT, SK_ETIMEOUT);
}

const sk__stage sk__stage_tls = {
    .name = "tls",
    .applies = tls_applies,
    .on_enter = tls_enter,
    .on_io = tls_io,
    .on_timeout = tls_timeout,
};
