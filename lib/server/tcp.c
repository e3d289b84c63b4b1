/* SPDX-License-Identifier: MIT */
/*
 * lib/server/tcp.c - a worker's TCP listeners: accepting in batches, the
 * pause and timed re-arm when descriptors run out, the adopted connection
 * (inetd) that enters through the same door as an accepted one on the
 * worker's first iteration, and the shutdown walk over open connections.
 *
 * It calls lib/server/stage.c (each accepted descriptor), conn.c, worker.c
 * and log.c.
 */
#define _GNU_SOURCE /* accept4 */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH SK_SERVER_ACCEPT_BATCH /* connections per readiness event */
#define ACCEPT_RETRY_SECONDS 0.1   /* pause after descriptor exhaustion */

/* ---- accepting -------------------------------------------------------------------- */

static bool is_exhaustion(int err)
{
    return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM;
}

/* accept(2) of a non-blocking, close-on-exec descriptor; returns it or
 * -errno. */
static int accept_nb(int fd, sk_addr *peer)
{
    int cfd;

    peer->len = sizeof(peer->u);
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    cfd = accept4(fd, &peer->u.sa, &peer->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
        return -errno;
#else
    int err;

    cfd = accept(fd, &peer->u.sa, &peer->len);
    if (cfd < 0)
        return -errno;
    err = sk__fd_set_flags(cfd, true);
    if (err < 0) {
        close(cfd);
        return err;
    }
#endif
    return cfd;
}

static void rearm_cb(sk_timer *t, void *arg)
{
    sk__listener *l = arg;

    if (l->io != NULL && !l->w->stopping)
        sk_io_set_events(l->io, SK_READABLE);
}

/* Out of descriptors (or kernel memory): accepting again at once would spin
 * on the same error, so stop watching the listener and look again after a
 * pause.  The connection waits in the backlog meanwhile. */
static void accept_pause(sk__listener *l, int err)
{
    sk__worker *w = l->w;
    int rc;

    SK__COUNT(sk__ctr(l->svc, w), accept_errors, 1);
    sk__server_log_error(w, "accept", err, &l->svc->bound);
    if (l->rearm == NULL)
        rc = sk_timer_start(w->loop, &l->rearm, ACCEPT_RETRY_SECONDS, 0, rearm_cb, l);
    else
        rc = sk_timer_again(l->rearm, ACCEPT_RETRY_SECONDS);
    /* Without a re-arm timer, keep watching: spinning beats never serving. */
    if (rc == 0)
        sk_io_set_events(l->io, 0);
}

static void listener_cb(sk_io *io, int fd, unsigned events, void *arg)
{
    sk__listener *l = arg;

    for (int i = 0; i < ACCEPT_BATCH && !l->w->stopping; i++) {
        sk_addr peer;
        int cfd = accept_nb(fd, &peer);

        if (cfd >= 0) {
            sk__conn_accept(l, cfd, &peer);
            continue;
        }
        if (cfd == -EAGAIN || cfd == -EWOULDBLOCK)
            return;
        if (is_exhaustion(cfd)) {
            accept_pause(l, cfd);
            return;
        }
        if (cfd == -EINTR)
            continue;
        /* The connection died in the queue (ECONNABORTED), or a firewall
         * rule refused it (EPERM): the next one may be fine. */
        SK__COUNT(sk__ctr(l->svc, l->w), accept_errors, 1);
        sk__server_log_error(l->w, "accept", cfd, &l->svc->bound);
    }
}

/* The receive buffer the worker's connections share, made on first use. */
static int worker_scratch(sk__worker *w)
{
    if (w->scratch == NULL) {
        w->scratch = malloc(w->srv->cfg.conn_buffer);
        if (w->scratch == NULL)
            return -ENOMEM;
    }
    return 0;
}

int sk__tcp_listener_start(sk__listener *l)
{
    sk__worker *w = l->w;

    assert(l->io == NULL && l->rearm == NULL && !l->svc->conn);
    if (worker_scratch(w) < 0)
        return -ENOMEM;
    return sk_io_start(w->loop, &l->io, l->fd, SK_READABLE, listener_cb, l);
}

/* The worker's first iteration: the adopted connection joins it as if just
 * accepted (limits, log line, on_open).  From here the connection owns the
 * descriptor. */
static void adopted_conn_cb(sk_timer *t, void *arg)
{
    sk__listener *l = arg;
    int fd = l->fd;

    assert(t == l->adopt && fd >= 0);
    sk_timer_stop(t);
    l->adopt = NULL;
    l->fd = -1;
    l->svc->fds[l->w->index] = -1;
    sk__conn_accept(l, fd, &l->svc->peer);
}

int sk__tcp_conn_start(sk__listener *l)
{
    sk__worker *w = l->w;

    assert(l->adopt == NULL && l->svc->conn);
    if (worker_scratch(w) < 0)
        return -ENOMEM;
    return sk_timer_start(w->loop, &l->adopt, 0, 0, adopted_conn_cb, l);
}

/* ---- shutdown ------------------------------------------------------------------------ */

/* Handlers run during the walk and may close other connections, which
 * moves them off the list: then the walk starts over, skipping the ones
 * already seen. */
void sk__tcp_worker_shutdown(sk__worker *w)
{
    sk_conn *c;

    /* No request has started on a connection still in a stage. */
    for (int i = 0; i < SK__STAGE_MAX; i++)
        while (w->staged[i].head != NULL)
            sk__conn_close_now(w->staged[i].head, SK__R_SHUTDOWN);
    c = w->lru.head;
    while (c != NULL) {
        sk_conn *next = c->next;

        if (!(c->flags & SK__C_STOP_SEEN)) {
            c->flags |= SK__C_STOP_SEEN;
            sk__conn_shutdown(c);
        }
        c = next != NULL && (next->flags & SK__C_DEAD) ? w->lru.head : next;
    }
}
