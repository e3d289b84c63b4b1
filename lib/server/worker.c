/* SPDX-License-Identifier: MIT */
/*
 * lib/server/worker.c - a worker's connections: the lists they wait on
 * (LRU, linger, one per stage), the one expiry timer for all their
 * deadlines, closing a connection at once, and the reaper that runs
 * on_close on a later iteration and frees it.
 *
 * Timeouts cost O(1) per event: open connections sit on an LRU list (moved
 * to the tail on progress), so the head is always the first to go idle, and
 * one timer per worker is armed for the earliest deadline.  The linger list
 * (connections waiting for the peer's end of stream after ours) and each
 * stage's list (connections in that stage before on_open) are in arrival
 * order with one fixed timeout each, so the same holds for them.
 *
 * It calls only lib/server/log.c, limits.c and addr.c; what a stage does
 * when its time runs out it learns from the stage's hooks (sk__stage).
 */
#include "server.h"
#include "tls.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINGER_MS SK_SERVER_LINGER_MS  /* wait for the peer's EOF after ours */

/* ---- lists ------------------------------------------------------------------ */

static void list_remove(sk__conn_list *l, sk_conn *c)
{
    assert(c->prev != NULL ? c->prev->next == c : l->head == c);
    assert(c->next != NULL ? c->next->prev == c : l->tail == c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

static void list_append(sk__conn_list *l, sk_conn *c)
{
    assert(c->prev == NULL && c->next == NULL && l->head != c);
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

/* The list `c` is on now. */
static sk__conn_list *conn_list(sk_conn *c)
{
    sk__worker *w = c->w;

    if (c->flags & SK__C_LINGER)
        return &w->linger;
    if (c->flags & SK__C_STAGE)
        return &w->staged[c->stage];
    return &w->lru;
}

/* ---- expiry ------------------------------------------------------------------ */

static void expiry_cb(sk_timer *t, void *arg);

static uint64_t earliest_due(const sk__worker *w)
{
    uint64_t due = UINT64_MAX;

    if (w->idle_ms > 0 && w->lru.head != NULL)
        due = w->lru.head->last_ms + w->idle_ms;
    if (w->linger.head != NULL && w->linger.head->last_ms + LINGER_MS < due)
        due = w->linger.head->last_ms + LINGER_MS;
    for (int i = 0; i < w->srv->nstages; i++)
        if (w->staged[i].head != NULL && w->staged[i].head->last_ms + w->stage_ms[i] < due)
            due = w->staged[i].head->last_ms + w->stage_ms[i];
    return due;
}

/* Arms the worker's timer for the earliest deadline, unless it is already
 * armed for an earlier time (it then re-arms itself). */
static void arm_expiry(sk__worker *w)
{
    uint64_t due = earliest_due(w), now, delay;

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
    uint64_t now = sk_loop_now_ms(w->loop);

    w->expiry_due_ms = 0;
    while (w->idle_ms > 0 && w->lru.head != NULL && now - w->lru.head->last_ms >= w->idle_ms) {
        SK__COUNT(sk__ctr(w->lru.head->svc, w), idle_closed, 1);
        sk__conn_close_now(w->lru.head, SK__R_IDLE);
    }
    for (int i = 0; i < w->srv->nstages; i++)
        while (w->staged[i].head != NULL && now - w->staged[i].head->last_ms >= w->stage_ms[i])
            w->srv->stages[i]->on_timeout(w->staged[i].head);
    while (w->linger.head != NULL && now - w->linger.head->last_ms >= LINGER_MS)
        sk__conn_close_now(w->linger.head, SK__R_CLOSED);
    arm_expiry(w);
}

/* ---- moving connections between lists ------------------------------------------ */

void sk__worker_conn_link(sk__worker *w, sk_conn *c)
{
    assert(!(c->flags & (SK__C_DEAD | SK__C_LINGER | SK__C_OPENED)));
    assert(!(c->flags & SK__C_STAGE) || c->stage < w->srv->nstages);
    c->last_ms = sk_loop_now_ms(w->loop);
    list_append(conn_list(c), c);
    w->nconns++;
    arm_expiry(w);
}

void sk__worker_conn_restage(sk_conn *c, int stage)
{
    sk__worker *w = c->w;

    assert((c->flags & (SK__C_STAGE | SK__C_DEAD | SK__C_LINGER)) == SK__C_STAGE);
    assert(stage < w->srv->nstages && stage != c->stage);
    list_remove(&w->staged[c->stage], c);
    if (stage >= 0) {
        c->stage = (uint8_t)stage;
    } else {
        c->flags &= ~SK__C_STAGE;
        c->stage = 0;
    }
    c->last_ms = sk_loop_now_ms(w->loop);
    list_append(conn_list(c), c);
    arm_expiry(w);
}

void sk__worker_conn_requeue(sk_conn *c)
{
    sk__worker *w = c->w;

    assert(!(c->flags & (SK__C_STAGE | SK__C_LINGER | SK__C_DEAD)));
    list_remove(&w->lru, c);
    list_append(&w->lru, c);
}

void sk__worker_conn_linger(sk_conn *c)
{
    sk__worker *w = c->w;

    assert((c->flags & (SK__C_LINGER | SK__C_STAGE | SK__C_DEAD | SK__C_WR_SHUT)) ==
           SK__C_WR_SHUT);
    list_remove(&w->lru, c);
    c->flags |= SK__C_LINGER;
    c->last_ms = sk_loop_now_ms(w->loop);
    list_append(&w->linger, c);
    arm_expiry(w);
}

/* ---- the reaper --------------------------------------------------------------- */

/* Runs on_close (for a connection on_open ran for) and frees `c`. */
static void conn_release(sk_conn *c)
{
    assert((c->flags & SK__C_DEAD) && c->busy == 0);
    if ((c->flags & SK__C_OPENED) && c->svc->tcp.on_close != NULL) {
        c->busy++;
        c->svc->tcp.on_close(c);
        c->busy--;
    }
    if (c->tls_on)
        sk__tls_free(sk__conn_tls(c));
    free(c->out);
    free(c->in);
    free(c->addrs);
    free(c);
}

void sk__worker_check_done(sk__worker *w)
{
    if (w->stopping && w->nconns == 0 && w->dead == NULL)
        sk_loop_stop(w->loop);
}

/* on_close runs here, on the iteration after the close, never inside one
 * of the connection's own callbacks or inside an sk_conn_* call. */
static void reaper_cb(sk_timer *t, void *arg)
{
    sk__worker *w = arg;

    while (w->dead != NULL) {
        sk_conn *c = w->dead;

        w->dead = c->next;
        conn_release(c);
    }
    sk__worker_check_done(w);
}

/* Takes `c` off its list and queues it for the reaper. */
static void conn_bury(sk_conn *c)
{
    sk__worker *w = c->w;
    bool was_empty = w->dead == NULL;

    list_remove(conn_list(c), c);
    assert(w->nconns > 0);
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

/* ---- closing at once -------------------------------------------------------------- */

/* Gives back the admission taken for the connection; the address is only
 * looked at when a per-source slot is held. */
static void conn_release_limits(const sk_conn *c)
{
    if (c->flags & SK__C_SOURCE) {
        sk_addr peer;

        sk__conn_peer_addr(c, &peer);
        sk__limits_release_source(c->w->srv, &peer);
    }
    sk__limits_release_total(c->w->srv);
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

    sk__conn_peer_addr(c, &addr);
    sk_addr_format(&addr, peer, sizeof(peer));
    sk_addr_format(sk_conn_local(c), local, sizeof(local));
    if (c->error != 0)
        sk__server_log(c->w->srv, "event=close peer=%s local=%s%s bytes_in=%llu "
                       "bytes_out=%llu reason=%s error=\"%s\"", peer, local,
                       sk__conn_via_text(c, via, sizeof(via)), (unsigned long long)c->bytes_in,
                       (unsigned long long)c->bytes_out, reason, sk_strerror(c->error));
    else
        sk__server_log(c->w->srv, "event=close peer=%s local=%s%s bytes_in=%llu "
                       "bytes_out=%llu reason=%s", peer, local,
                       sk__conn_via_text(c, via, sizeof(via)),
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
    /* A connection refused before on_open (in a stage) was never counted open. */
    if (c->flags & SK__C_OPENED) {
        SK__COUNT(sk__ctr(c->svc, c->w), closed, 1);
        if (c->w->srv->cfg.verbose)
            log_close(c);
    }
    conn_bury(c);
}

void sk__conn_abort_now(sk_conn *c)
{
    struct linger lg = { 1, 0 };

    if (c->flags & SK__C_DEAD)
        return;
    /* A zero linger time makes close(2) send a reset and drop the queue. */
    setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    sk__conn_close_now(c, SK__R_ABORT);
}

static void abort_list(sk_conn *c)
{
    while (c != NULL) {
        sk_conn *next = c->next;

        sk__conn_abort_now(c);
        c = next;
    }
}

void sk__worker_abort_all(sk__worker *w)
{
    for (int i = 0; i < SK__STAGE_MAX; i++)
        abort_list(w->staged[i].head);
    abort_list(w->lru.head);
    abort_list(w->linger.head);
}

void sk__worker_free_conns(sk__worker *w)
{
    sk__worker_abort_all(w);
    while (w->dead != NULL) {
        sk_conn *c = w->dead;

        w->dead = c->next;
        conn_release(c);
    }
    free(w->scratch);
    w->scratch = NULL;
}
