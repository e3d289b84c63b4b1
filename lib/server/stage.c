/* SPDX-License-Identifier: MIT */
/*
 * lib/server/stage.c - a new connection's way to on_open: admission at
 * accept (the limits, checked before anything is allocated, so a flood of
 * refused connections costs little), then the server's stages in order
 * (sk__stage: the PROXY header, then TLS), then on_open.
 *
 *   accept   the stages' admit hooks (the PROXY allow-list), max_conns, and
 *            max_per_source unless a stage will learn the client's address
 *   stages   the connection waits on the worker's list of its stage, with
 *            the stage's timeout; readiness goes to the stage's on_io
 *   done     after the last stage that learns the client's address, the
 *            per-source limit applies to it; after the last stage, on_open
 * A stage may apply to some services only (the TLS handshake, to those
 * with a TLS context): their connections go past it as if it were not
 * there.
 *
 * It calls lib/server/conn.c, worker.c, limits.c, addr.c and log.c; the
 * stages it runs are reached through their hooks only.
 */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void log_refuse(sk__worker *w, const sk_addr *peer, const char *via)
{
    char text[SK_ADDRSTRLEN] = "?";

    sk_addr_format(peer, text, sizeof(text));
    sk__server_log(w->srv, "event=refuse peer=%s%s reason=limit", text, via);
}

/* ---- the stages ------------------------------------------------------------------ */

/* Applies the per-source limit to the connection's peer (the client, for a
 * proxied one).  Returns 0, or -EAGAIN after counting and logging. */
static int admit_source(sk_conn *c)
{
    char via[SK_ADDRSTRLEN + 8];
    sk_addr peer;

    assert(!(c->flags & SK__C_SOURCE));
    sk__conn_peer_addr(c, &peer);
    if (sk__limits_admit_source(c->w->srv, &peer) < 0) {
        SK__COUNT(sk__ctr(c->svc, c->w), refused_limit, 1);
        if (c->w->srv->cfg.verbose)
            log_refuse(c->w, &peer, sk__conn_via_text(c, via, sizeof(via)));
        return -EAGAIN;
    }
    c->flags |= SK__C_SOURCE;
    return 0;
}

/* The first stage from `from` on that applies to connections of `svc`, or
 * srv->nstages when none does. */
static int stage_next(const sk_server *srv, const sk__service *svc, int from)
{
    int i = from;

    while (i < srv->nstages && srv->stages[i]->applies != NULL &&
           !srv->stages[i]->applies(svc))
        i++;
    return i;
}

/* Runs the stage's on_enter hook, if it has one. */
static void stage_enter(sk_conn *c)
{
    const sk__stage *st = c->w->srv->stages[c->stage];

    if (st->on_enter != NULL)
        st->on_enter(c);
}

bool sk__stage_followed(const sk_conn *c)
{
    return stage_next(c->w->srv, c->svc, c->stage + 1) < c->w->srv->nstages;
}

void sk__stage_done(sk_conn *c)
{
    sk_server *srv = c->w->srv;
    int cur = c->stage, next = stage_next(srv, c->svc, cur + 1);

    assert((c->flags & (SK__C_STAGE | SK__C_DEAD)) == SK__C_STAGE);
    sk__worker_conn_restage(c, next < srv->nstages ? next : -1);
    if (cur < srv->source_stage && next >= srv->source_stage && admit_source(c) < 0) {
        sk__conn_close_now(c, SK__R_CLOSED);
        return;
    }
    if (next < srv->nstages) {
        /* Back to watching for input, whatever the last stage waited for. */
        if (sk_io_set_events(&c->io, SK_READABLE) < 0) {
            sk__conn_close_now(c, SK__R_ERROR);
            return;
        }
        stage_enter(c);
        return;
    }
    sk__conn_open(c);
}

ssize_t sk__stage_recv(sk_conn *c, size_t limit)
{
    unsigned char *scratch = c->w->scratch;
    size_t room = limit > c->in_len ? limit - c->in_len : 0;
    ssize_t n;

    if (room == 0)
        return -ENOBUFS;
    do
        n = sk__sys_recv(c->io.fd, scratch, room, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (n > 0 && sk__conn_in_append(c, scratch, (size_t)n) < 0)
        return -ENOMEM;
    return n;
}

/* ---- accept ------------------------------------------------------------------------ */

/*
 * The limits, before anything is allocated.  Returns 0, or -1 after
 * counting, logging and closing `fd`.
 */
static int admit(sk__listener *l, int fd, const sk_addr *peer)
{
    sk__worker *w = l->w;
    sk_server *srv = w->srv;

    for (int i = 0; i < srv->nstages; i++)
        if (srv->stages[i]->admit != NULL && srv->stages[i]->admit(l, peer) < 0) {
            close(fd);
            return -1;
        }
    if (sk__limits_admit_total(srv) < 0)
        goto refuse;
    if (srv->source_stage == 0 && sk__limits_admit_source(srv, peer) < 0) {
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

/* SO_NOSIGPIPE where sends cannot carry MSG_NOSIGNAL; TCP_NODELAY comes
 * with the second send (conn.c), and only for TCP peers. */
static void set_options(sk_conn *c, int fd, const sk_addr *peer)
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

void sk__conn_accept(sk__listener *l, int fd, const sk_addr *peer)
{
    sk__worker *w = l->w;
    sk_server *srv = w->srv;
    int first = stage_next(srv, l->svc, 0);
    sk_conn *c;
    int err;

    /* Stages that learn the client's address apply to every service. */
    assert(first == 0 || first >= srv->source_stage);
    if (admit(l, fd, peer) < 0)
        return;
    c = calloc(1, sizeof(*c) + l->svc->tcp.conn_size);
    if (c == NULL) {
        err = -ENOMEM;
        goto fail_admitted;
    }
    c->w = w;
    c->svc = l->svc;
    err = sk__conn_store_peer(c, peer);
    if (err < 0)
        goto fail_conn;
    set_options(c, fd, peer);
    if (srv->source_stage == 0)
        c->flags |= SK__C_SOURCE;
    if (first < srv->nstages) {
        c->flags |= SK__C_STAGE;
        c->stage = (uint8_t)first;
    }
    err = sk__conn_io_start(c, fd);
    if (err < 0)
        goto fail_conn;
    sk__worker_conn_link(w, c);
    if (first < srv->nstages)
        stage_enter(c);
    else
        sk__conn_open(c);
    return;

fail_conn:
    free(c->addrs);
    free(c);
fail_admitted:
    if (srv->source_stage == 0)
        sk__limits_release_source(srv, peer);
    sk__limits_release_total(srv);
    close(fd);
    sk__server_log_error(w, "accept", err, peer);
}
