/* SPDX-License-Identifier: MIT */
/*
 * lib/server/tcp.c - a worker's TCP side: accepting (in batches, with a pause
 * and a timed retry when descriptors run out), the worker's connection
 * lists with their idle and linger timeouts, the reaper that runs on_close
 * after a connection has gone, and shutdown.  An adopted connection (inetd)
 * enters through the same door as an accepted one, on the first iteration.
 *
 * Timeouts cost O(1) per event: connections sit on an LRU list (moved to
 * the tail on progress), so the head is always the first to go idle, and one
 * timer per worker is armed for the earliest deadline.  The linger list
 * (connections waiting for the peer's end of stream after ours) and the
 * pending list (connections waiting for their PROXY header) are in arrival
 * order with one fixed timeout each, so the same holds for them.
 */
#define _GNU_SOURCE /* accept4 */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH SK_SERVER_ACCEPT_BATCH /* connections per readiness event */
#define ACCEPT_RETRY_SECONDS 0.1   /* pause after descriptor exhaustion */
#define LINGER_MS SK_SERVER_LINGER_MS  /* wait for the peer's EOF after ours */

/* ---- connection lists ------------------------------------------------------ */

static void list_remove(sk_conn **head, sk_conn **tail, sk_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        *tail = c->prev;
    c->prev = c->next = NULL;
}

static void list_append(sk_conn **head, sk_conn **tail, sk_conn *c)
{
    c->next = NULL;
    c->prev = *tail;
    if (*tail != NULL)
        (*tail)->next = c;
    else
        *head = c;
    *tail = c;
}

static uint64_t idle_ms(const sk__worker *w)
{
    return w->idle_ms;
}

static void expiry_cb(sk_timer *t, void *arg);

/* Arms the worker's timer for the earliest idle or linger deadline, unless
 * it is already armed for an earlier time (it then re-arms itself). */
static void arm_expiry(sk__worker *w)
{
    uint64_t due = UINT64_MAX, now, delay, idle = idle_ms(w);

    if (idle > 0 && w->lru_head != NULL)
        due = w->lru_head->last_ms + idle;
    if (w->linger_head != NULL && w->linger_head->last_ms + LINGER_MS < due)
        due = w->linger_head->last_ms + LINGER_MS;
    if (w->pending_head != NULL && w->pending_head->last_ms + w->proxy_ms < due)
        due = w->pending_head->last_ms + w->proxy_ms;
    if (due == UINT64_MAX)
        return;
    if (w->expiry_due_ms != 0 && w->expiry_due_ms <= due)
        return;
    now = sk_loop_now_ms(w->loop);
    delay = due > now ? due - now : 0;
    if (w->expiry == NULL) {
        if (sk_timer_start(w->loop, &w->expiry, (double)delay / 1000.0, 0, expiry_cb, w) < 0)
            return;
    } else if (sk_timer_again(w->expiry, (double)delay / 1000.0) < 0) {
        return;
    }
    w->expiry_due_ms = due;
}

static void expiry_cb(sk_timer *t, void *arg)
{
    sk__worker *w = arg;
    uint64_t now = sk_loop_now_ms(w->loop), idle = idle_ms(w);

    w->expiry_due_ms = 0;
    while (idle > 0 && w->lru_head != NULL && now - w->lru_head->last_ms >= idle) {
        SK__COUNT(sk__ctr(w->lru_head->svc, w), idle_closed, 1);
        sk__conn_close_now(w->lru_head, SK__R_IDLE);
    }
    while (w->pending_head != NULL && now - w->pending_head->last_ms >= w->proxy_ms)
        sk__conn_proxy_expire(w->pending_head);
    while (w->linger_head != NULL && now - w->linger_head->last_ms >= LINGER_MS)
        sk__conn_close_now(w->linger_head, SK__R_CLOSED);
    arm_expiry(w);
}

void sk__worker_conn_link(sk__worker *w, sk_conn *c)
{
    c->last_ms = sk_loop_now_ms(w->loop);
    list_append(&w->lru_head, &w->lru_tail, c);
    w->nconns++;
    arm_expiry(w);
}

void sk__worker_conn_link_pending(sk__worker *w, sk_conn *c)
{
    c->last_ms = sk_loop_now_ms(w->loop);
    c->flags |= SK__C_PROXY_WAIT;
    list_append(&w->pending_head, &w->pending_tail, c);
    w->nconns++;
    arm_expiry(w);
}

void sk__worker_conn_unpend(sk_conn *c)
{
    sk__worker *w = c->w;

    list_remove(&w->pending_head, &w->pending_tail, c);
    c->flags &= ~SK__C_PROXY_WAIT;
    c->last_ms = sk_loop_now_ms(w->loop);
    list_append(&w->lru_head, &w->lru_tail, c);
    arm_expiry(w);
}

void sk__worker_conn_requeue(sk_conn *c)
{
    sk__worker *w = c->w;

    list_remove(&w->lru_head, &w->lru_tail, c);
    list_append(&w->lru_head, &w->lru_tail, c);
}

void sk__worker_conn_linger(sk_conn *c)
{
    sk__worker *w = c->w;

    list_remove(&w->lru_head, &w->lru_tail, c);
    c->flags |= SK__C_LINGER;
    c->last_ms = sk_loop_now_ms(w->loop);
    list_append(&w->linger_head, &w->linger_tail, c);
    arm_expiry(w);
}

/* ---- the reaper --------------------------------------------------------------- */

/* on_close runs here, on the iteration after the close, never inside one
 * of the connection's own callbacks or inside an sk_conn_* call. */
static void reaper_cb(sk_timer *t, void *arg)
{
    sk__worker *w = arg;

    while (w->dead != NULL) {
        sk_conn *c = w->dead;

        w->dead = c->next;
        sk__conn_release(c);
    }
    sk__worker_check_done(w);
}

void sk__worker_conn_bury(sk_conn *c)
{
    sk__worker *w = c->w;
    bool was_empty = w->dead == NULL;

    if (c->flags & SK__C_LINGER)
        list_remove(&w->linger_head, &w->linger_tail, c);
    else if (c->flags & SK__C_PROXY_WAIT)
        list_remove(&w->pending_head, &w->pending_tail, c);
    else
        list_remove(&w->lru_head, &w->lru_tail, c);
    w->nconns--;
    c->next = w->dead;
    w->dead = c;
    if (!was_empty)
        return;
    /* Without a timer the connection is released at once: on_close then
     * runs early, which beats leaking it. */
    if (w->reaper == NULL) {
        if (sk_timer_start(w->loop, &w->reaper, 0.0, 0, reaper_cb, w) < 0)
            reaper_cb(NULL, w);
    } else if (sk_timer_again(w->reaper, 0.0) < 0) {
        reaper_cb(NULL, w);
    }
}

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

static void retry_cb(sk_timer *t, void *arg)
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
    if (l->retry == NULL)
        rc = sk_timer_start(w->loop, &l->retry, ACCEPT_RETRY_SECONDS, 0, retry_cb, l);
    else
        rc = sk_timer_again(l->retry, ACCEPT_RETRY_SECONDS);
    /* Without a retry timer, keep watching: spinning beats never serving. */
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

    sk_timer_stop(t);
    l->retry = NULL;
    l->fd = -1;
    l->svc->fds[l->w->index] = -1;
    sk__conn_accept(l, fd, &l->svc->peer);
}

int sk__tcp_conn_start(sk__listener *l)
{
    sk__worker *w = l->w;

    if (worker_scratch(w) < 0)
        return -ENOMEM;
    return sk_timer_start(w->loop, &l->retry, 0, 0, adopted_conn_cb, l);
}

/* ---- shutdown ------------------------------------------------------------------------ */

/* Handlers run during the walk and may close other connections, which
 * moves them off the list: then the walk starts over, skipping the ones
 * already seen. */
void sk__tcp_worker_shutdown(sk__worker *w)
{
    sk_conn *c;

    /* No request has started on a connection still without its header. */
    while (w->pending_head != NULL)
        sk__conn_close_now(w->pending_head, SK__R_SHUTDOWN);
    c = w->lru_head;
    while (c != NULL) {
        sk_conn *next = c->next;

        if (!(c->flags & SK__C_STOP_SEEN)) {
            c->flags |= SK__C_STOP_SEEN;
            sk__conn_shutdown(c);
        }
        c = next != NULL && (next->flags & SK__C_DEAD) ? w->lru_head : next;
    }
}

static void abort_list(sk_conn *c)
{
    while (c != NULL) {
        sk_conn *next = c->next;

        sk_conn_abort(c);
        c = next;
    }
}

void sk__tcp_worker_abort_all(sk__worker *w)
{
    abort_list(w->pending_head);
    abort_list(w->lru_head);
    abort_list(w->linger_head);
}

void sk__tcp_worker_free(sk__worker *w)
{
    sk__tcp_worker_abort_all(w);
    while (w->dead != NULL) {
        sk_conn *c = w->dead;

        w->dead = c->next;
        sk__conn_release(c);
    }
    free(w->scratch);
    w->scratch = NULL;
}
