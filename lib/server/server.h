/* SPDX-License-Identifier: MIT */
/*
 * lib/server/server.h - what the server framework's files share: the server, its
 * services and workers, and the hooks between server.c (lifetime, threads,
 * shutdown, notify, logging), lib/server/tcp.c (listeners and connections),
 * lib/server/udp.c (datagram batches) and lib/server/limits.c (admission limits).
 *
 * Threading: everything in a worker is touched only by that worker's thread,
 * except the counters (read by sk_server_stats_get from any thread, hence
 * relaxed atomics written only by their owner) and what lib/server/limits.c
 * guards with its mutex.
 *
 * Counters are kept per service and per worker (sk__service.ctr[worker]),
 * each block on its own cache lines, so a worker's counting never touches a
 * line another worker writes, and a reader sums them (per service for the
 * metrics, over all services for sk_server_stats_get).
 */
#ifndef SOCKIT_SERVER_H
#define SOCKIT_SERVER_H

#include "internal.h"
#include "loop/loop.h"

#include <pthread.h>
#include <stdatomic.h>

#define SK__NOTIFY_SLOTS SK_SERVER_NOTIFY_SLOTS

/* Per-worker counters of one service: written by the worker with relaxed
 * load+store (no locked instruction), read by anyone.  Aligned so that two
 * workers' blocks never share a cache line. */
typedef struct sk__counters {
    _Alignas(64) _Atomic uint64_t accepted;
    _Atomic uint64_t closed; /* connections that were accepted and are gone */
    _Atomic uint64_t refused_limit, accept_errors, idle_closed;
    _Atomic uint64_t datagrams_in, datagrams_out, datagrams_dropped;
    _Atomic uint64_t bytes_in, bytes_out, read_pauses;
    /* PROXY protocol (cfg.proxy_protocol). */
    _Atomic uint64_t refused_proxy_source;
    _Atomic uint64_t proxy_proxied, proxy_local, proxy_invalid, proxy_timeout,
        proxy_truncated;
    _Atomic uint64_t datagrams_refused; /* sk_dgram_drop */
} sk__counters;

#define SK__COUNT(ctr, field, n)                                                \
    atomic_store_explicit(&(ctr)->field,                                        \
                          atomic_load_explicit(&(ctr)->field, memory_order_relaxed) + (n), \
                          memory_order_relaxed)

/* One added address: a TCP or UDP service with its sockets, one per worker
 * (SO_REUSEPORT), or a single socket every worker shares. */
typedef struct sk__service {
    int type; /* SOCK_STREAM or SOCK_DGRAM */
    size_t index; /* order of addition: sk_server_stats_get_service's index */
    sk__counters *ctr; /* one block per worker */
    sk_tcp_handler tcp;
    sk_udp_handler udp;
    void *arg;
    sk_addr bound;
    int *fds;    /* nworkers entries; all equal when shared */
    bool shared;
    bool conn;   /* fds[0] is one adopted connection, not a listener */
    sk_addr peer; /* the adopted connection's peer (conn only) */
    bool rxtime; /* SK_SERVER_RXTIME: datagrams carry their receive time */
    bool rxttl;  /* SK_SERVER_RXTTL: and their TTL / hop limit and TOS */
} sk__service;

/* A worker's view of one service: its socket and handle. */
typedef struct sk__listener {
    struct sk__worker *w;
    sk__service *svc;
    int fd;
    sk_io *io;
    sk_timer *retry; /* re-arms accepting after descriptor exhaustion */
} sk__listener;

struct sk__udp_batch;

/* Connection flags. */
enum {
    SK__C_OPENED = 1u << 0,  /* on_open ran, so on_close is owed */
    SK__C_RD_EOF = 1u << 1,  /* the peer ended its stream */
    SK__C_CLOSING = 1u << 2, /* graceful close asked: flush, then end our stream */
    SK__C_WR_SHUT = 1u << 3, /* flushed and shut down: discard input until EOF */
    SK__C_DEAD = 1u << 4,    /* descriptor closed; freed by the worker's reaper */
    SK__C_LOCAL = 1u << 5,   /* `local` is filled in */
    SK__C_WROTE = 1u << 6,   /* the handler wrote since on_drain last ran */
    SK__C_REOFFER = 1u << 7, /* input kept while output was backed up */
    SK__C_PAUSED = 1u << 8,  /* reading is paused by backpressure */
    SK__C_LINGER = 1u << 9,  /* on the worker's linger list (else its LRU list) */
    SK__C_STOP_SEEN = 1u << 10, /* visited by the worker's shutdown walk */
    SK__C_NODELAY = 1u << 11,   /* TCP_NODELAY is set (or not a TCP peer) */
    SK__C_OPENING = 1u << 12,   /* in on_open: sends carry MSG_MORE */
    SK__C_PROXY_WAIT = 1u << 13, /* waiting for the PROXY header (pending list) */
    SK__C_SOURCE = 1u << 14,    /* holds a per-source admission slot */
    SK__C_VIA = 1u << 15,       /* came through a proxy: addrs->via is the balancer */
};

/* Why a connection closed, for the log line (index into the reason names). */
enum sk__conn_reason {
    SK__R_NONE, SK__R_CLOSED, SK__R_EOF, SK__R_ERROR, SK__R_ABORT, SK__R_IDLE,
    SK__R_SHUTDOWN
};

/* An IPv4 or IPv6 address, kept compactly in the connection (28 bytes, not
 * the 132 of an sk_addr): its family tells its length. */
typedef union sk__inet_addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
} sk__inet_addr;

/* The connection's addresses as sk_addr, made on the first sk_conn_peer or
 * sk_conn_local call (or at once for a peer that is not IPv4 or IPv6). */
typedef struct sk__conn_addrs {
    sk_addr peer;
    sk_addr local;
    sk_addr via; /* the proxy's address, when SK__C_VIA is set */
} sk__conn_addrs;

/*
 * A TCP connection: one allocation, with its loop handle embedded.
 * Buffers are allocated when first needed, grow up to cfg.conn_buffer (at
 * most 64 MiB, hence 32-bit sizes) and are freed as soon as they are empty,
 * so an idle connection costs this struct (176 bytes on LP64) and the
 * handler's state.  Fields are ordered to leave no padding.
 */
struct sk_conn {
    sk_io io;            /* io.fd is the descriptor (-1 once closed) */
    struct sk__worker *w;
    sk__service *svc;
    sk_conn *prev, *next; /* the worker's LRU, linger or reaper list */
    uint64_t last_ms;    /* last progress (or when lingering began), loop clock */
    uint64_t bytes_in, bytes_out;
    unsigned char *out;  /* pending output: out[out_off .. out_off + out_len) */
    unsigned char *in;   /* input the handler left unconsumed */
    sk__conn_addrs *addrs; /* NULL until asked for */
    uint32_t out_off, out_len, out_cap;
    uint32_t in_len, in_cap;
    int error;           /* the error that closed it, if any */
    uint16_t flags;
    uint8_t busy;        /* connection callbacks running (nesting depth, < 8) */
    uint8_t reason;      /* enum sk__conn_reason: why it closed, for the log */
    sk__inet_addr peer;  /* AF_UNSPEC when the peer is in addrs only */
    max_align_t data[];  /* the handler's conn_size bytes */
};

typedef struct sk__worker {
    sk_server *srv;
    int index;
    sk_loop *loop;
    pthread_t thread;
    bool started;
    sk__listener *listeners; /* one per service, same order */
    size_t nlisteners;

    /* Open connections, least recently active first, and connections that
     * have sent everything and wait for the peer's end of stream, oldest
     * first.  Both lists have one timeout each, so their heads expire first. */
    sk_conn *lru_head, *lru_tail;
    sk_conn *linger_head, *linger_tail;
    /* Connections waiting for their PROXY header, oldest first (one
     * timeout, cfg.proxy_timeout, like the linger list). */
    sk_conn *pending_head, *pending_tail;
    uint64_t proxy_ms;
    size_t nconns;
    uint64_t idle_ms;        /* cfg.idle_timeout in ms; 0: no idle timeout */
    size_t conn_buffer;      /* cfg.conn_buffer, one load nearer */
    sk_timer *expiry;        /* due when the first idle or linger deadline is */
    uint64_t expiry_due_ms;  /* 0 when not armed */
    sk_conn *dead;           /* closed connections waiting for on_close and free */
    sk_timer *reaper;        /* runs on the iteration after a close */

    bool stopping;
    uint64_t grace_end_ms;
    sk_timer *grace;

    unsigned char *scratch;  /* receive buffer shared by the worker's connections */
    struct sk__udp_batch *udp;
    uint64_t last_error_log_ms;
    uint64_t errors_unlogged;
    uint64_t last_proxy_log_ms;
    uint64_t proxy_unlogged;
} sk__worker;

/* The counters worker `w` writes for service `svc`. */
static inline sk__counters *sk__ctr(const sk__service *svc, const sk__worker *w)
{
    return &svc->ctr[w->index];
}

typedef struct sk__notify_slot {
    atomic_int state; /* 0 free, 1 being filled, 2 ready, 3 being run */
    void (*cb)(sk_server *, void *);
    void *arg;
} sk__notify_slot;

typedef struct sk__source sk__source;

struct sk_server {
    sk_server_config cfg; /* defaults applied */
    int nworkers;
    sk__worker *workers;
    sk__service **services;
    size_t nservices, capservices;
    pthread_mutex_t services_lock; /* the array, against stats readers */
    sk_cidr *proxy_from;           /* cfg.proxy_from, copied (or loopback) */
    size_t nproxy_from;

    atomic_int shutdown;
    atomic_int state; /* 0 new, 1 running, 2 finished */
    _Atomic int64_t active;

    pthread_mutex_t sources_lock;
    sk__source **sources; /* hash of peer address -> open connections */
    size_t nbuckets, nsources;

    sk__notify_slot notify[SK__NOTIFY_SLOTS];
};

/* ---- server.c ---- */

/* Formats one log line (key=value, no newline) and hands it to cfg.log or
 * stderr. */
void sk__server_log(const sk_server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs an error line for worker `w`, at most once a second; lines in
 * between are counted and reported with the next one. */
void sk__server_log_error(sk__worker *w, const char *what, int err, const sk_addr *addr);

/* How sk__server_add_fd uses an adopted descriptor. */
enum sk__adopt { SK__ADOPT_LISTENER, SK__ADOPT_CONN };

/* Adds a service on `fd`, a descriptor lib/server/adopt.c has checked,
 * whose address is `local`: a listener (TCP) or bound socket (UDP) shared
 * by every worker, or one connected stream socket for worker 0
 * (SK__ADOPT_CONN, from `peer`).  Takes `fd` on success only.  Errors:
 * -EINVAL, -EBUSY, -ENOMEM. */
int sk__server_add_fd(sk_server *srv, int type, int fd, int flags, enum sk__adopt how,
                      const sk_tcp_handler *th, const sk_udp_handler *uh, void *arg,
                      const sk_addr *local, const sk_addr *peer);

/* Logs a PROXY protocol refusal ("event=proxy result=R peer=A"), at most
 * once a second per worker, whatever cfg.verbose says. */
void sk__server_log_proxy(sk__worker *w, const char *result, const sk_addr *peer);

/* Called by a worker whenever one of its connections is gone: a stopping
 * worker stops its loop once the last one has. */
void sk__worker_check_done(sk__worker *w);

/* ---- lib/server/conn.c: one connection's I/O ---- */

/* Admits and starts a connection on accepted descriptor `fd` (consumed in
 * every case) from `peer`. */
void sk__conn_accept(sk__listener *l, int fd, const sk_addr *peer);

/* Closes the descriptor now, discarding output; on_close runs later from
 * the worker's reaper.  `reason` is for the log.  Idempotent. */
void sk__conn_close_now(sk_conn *c, enum sk__conn_reason reason);

/* Graceful close (sk_conn_close with a reason for the log). */
void sk__conn_close_graceful(sk_conn *c, enum sk__conn_reason reason);

/* Shutdown for one connection of a stopping worker: reading stops, kept
 * input is still offered as output drains, then it closes gracefully. */
void sk__conn_shutdown(sk_conn *c);

/* A connection's PROXY header did not arrive within cfg.proxy_timeout:
 * counts it and closes it (nothing was sent). */
void sk__conn_proxy_expire(sk_conn *c);

/* Releases a dead connection: runs on_close and frees it. */
void sk__conn_release(sk_conn *c);

/* ---- lib/server/tcp.c: listeners, connection lists, timeouts ---- */

/* Puts a new connection on the worker's LRU list. */
void sk__worker_conn_link(sk__worker *w, sk_conn *c);

/* Puts a new connection on the pending list (waiting for its PROXY header),
 * and moves it from there to the LRU list once the header is in. */
void sk__worker_conn_link_pending(sk__worker *w, sk_conn *c);
void sk__worker_conn_unpend(sk_conn *c);

/* Moves `c` to the tail of the worker's LRU list. */
void sk__worker_conn_requeue(sk_conn *c);

/* Records progress on `c` (moves it to the LRU tail).  Inline: it runs for
 * every read and write, and mostly finds `c` at the tail already. */
static inline void sk__worker_conn_touch(sk_conn *c)
{
    sk__worker *w = c->w;

    if (c->flags & (SK__C_LINGER | SK__C_DEAD | SK__C_PROXY_WAIT))
        return;
    c->last_ms = sk_loop_now_ms(w->loop);
    if (w->lru_tail != c && w->idle_ms > 0)
        sk__worker_conn_requeue(c);
}

/* Moves `c` to the linger list (output flushed, waiting for the peer's end
 * of stream for a bounded time). */
void sk__worker_conn_linger(sk_conn *c);

/* Takes `c` off its list and queues it for the reaper. */
void sk__worker_conn_bury(sk_conn *c);


/* Starts accepting on `l` (a TCP listener).  Returns 0 or -errno. */
int sk__tcp_listener_start(sk__listener *l);

/* Starts the adopted connection of `l` (a service with `conn` set) on the
 * worker's first loop iteration, so that its on_open runs on the worker
 * thread.  Returns 0 or -errno. */
int sk__tcp_conn_start(sk__listener *l);

/* Shutdown: stop reading, finish the input already read, and close every
 * connection gracefully (flush, then end of stream). */
void sk__tcp_worker_shutdown(sk__worker *w);

/* Aborts every connection left (the grace period ran out). */
void sk__tcp_worker_abort_all(sk__worker *w);

/* Releases the worker's TCP resources after its loop has stopped. */
void sk__tcp_worker_free(sk__worker *w);

/* ---- lib/server/udp.c ---- */

int sk__udp_listener_start(sk__listener *l);
void sk__udp_worker_free(sk__worker *w);

/* Asks the kernel to timestamp what arrives on `fd` (SO_TIMESTAMPNS where
 * the system has it; elsewhere nothing, and udp.c reads the clock after
 * each batch instead). */
void sk__udp_enable_rxtime(int fd);
void sk__udp_enable_rxttl(int fd);

/* ---- lib/server/limits.c ---- */

/* Admits a connection under max_conns.  Returns 0, or -EAGAIN when the
 * limit refuses it (nothing is held then). */
int sk__limits_admit_total(sk_server *srv);
void sk__limits_release_total(sk_server *srv);

/* Admits a connection from `peer` under max_per_source (the client's
 * address: known only after the PROXY header when there is one).  Returns
 * 0, or -EAGAIN. */
int sk__limits_admit_source(sk_server *srv, const sk_addr *peer);
void sk__limits_release_source(sk_server *srv, const sk_addr *peer);

void sk__limits_free(sk_server *srv);

#endif /* SOCKIT_SERVER_H */
