/* SPDX-License-Identifier: MIT */
/*
 * lib/server/server.h - what the server framework's files share: the server, its
 * services, workers and connections, and each file's internal calls.
 *
 * The files call each other one way only, lower files never calling upper
 * ones (tests/integration/test_layering.py checks it from the objects'
 * symbols).  From the bottom:
 *   log.c          log lines and the one rate-limited logger (log.h)
 *   limits.c       admission limits: max_conns, max_per_source
 *   addr.c         a connection's addresses (peer, local, via)
 *   worker.c       a worker's connection lists, expiry, reaper, closing at once
 *   conn.c         an open connection: buffers, I/O, backpressure, graceful close
 *   stage.c        admission at accept and the stages before on_open
 *   proxy_stage.c  the PROXY header stage
 *   tls_stage.c    the TLS handshake stage (services with a TLS context)
 *   tcp.c          accepting, the descriptor-exhaustion pause, adopted connections
 *   udp.c          datagram batches
 *   server.c       configuration, binding, threads, shutdown, notify, counters
 *   adopt.c        adopting descriptors made elsewhere (inetd, socket activation)
 * Where a lower file must reach an upper one it goes through a function
 * pointer it is given: a stage's hooks (sk__stage), the loop's callbacks.
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
#include "count.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>

#define SK__NOTIFY_SLOTS SK_SERVER_NOTIFY_SLOTS

/*
 * Per-worker counters of one service: one _Atomic uint64_t per counter row
 * of SK_SERVER_STATS_MAP (sockit.h; gauges are computed, not counted) and
 * `closed`, written by the worker with sk__count_add (count.h), read by
 * anyone.  Aligned so that two workers' blocks never share a cache line.
 */
#define SK__CTR_SK_STAT_COUNTER(field) _Atomic uint64_t field;
#define SK__CTR_SK_STAT_GAUGE(field)
#define SK__CTR_FIELD(field, kind, proto, metric, label, help) SK__CTR_##kind(field)

typedef struct sk__counters {
    _Alignas(64) _Atomic uint64_t closed; /* connections accepted and gone */
    SK_SERVER_STATS_MAP(SK__CTR_FIELD)
} sk__counters;

#define SK__COUNT(ctr, field, n) sk__count_add(&(ctr)->field, (n))

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
    /* The TLS context new connections' handshakes use (one reference
     * held), or NULL for a plain service.  Read and replaced under
     * srv->tls_lock: sk_server_set_tls may swap it while workers run. */
    sk_tls_ctx *tls;
    bool has_tls; /* tls != NULL; set before the server runs, then fixed */
} sk__service;

/* A worker's view of one service: its socket and handle. */
typedef struct sk__listener {
    struct sk__worker *w;
    sk__service *svc;
    int fd;
    sk_io *io;
    sk_timer *rearm; /* re-arms accepting after descriptor exhaustion */
    sk_timer *adopt; /* starts the adopted connection (svc->conn) */
} sk__listener;

struct sk__udp_batch;

/* A doubly linked list of connections (through sk_conn.prev/next). */
typedef struct sk__conn_list {
    sk_conn *head, *tail;
} sk__conn_list;

/* The most stages a server runs before on_open (PROXY, then TLS). */
#define SK__STAGE_MAX 4

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
    SK__C_STAGE = 1u << 13,     /* in a stage before on_open (c->stage; staged list) */
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
    /* A TLS connection's state (sk_conn.tls_on set): kept in this side block,
     * which every TLS connection has, so that a plain connection pays no
     * byte for it. */
    struct sk__tls *tls;
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
    uint8_t busy : 4;    /* connection callbacks running (nesting depth, < 8) */
    uint8_t stage : 4;   /* with SK__C_STAGE: index in the server's stages */
    uint8_t reason : 4;  /* enum sk__conn_reason: why it closed, for the log */
    uint8_t tls_on : 1;  /* addrs->tls holds TLS state (the handshake stage on):
                            reads and writes go through it, the handler sees
                            plaintext */
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
     * first.  Both lists have one timeout each, so their heads expire first.
     * Connections in stage i (before on_open) wait on staged[i], oldest
     * first, with the stage's timeout (stage_ms[i]). */
    sk__conn_list lru, linger;
    sk__conn_list staged[SK__STAGE_MAX];
    uint64_t stage_ms[SK__STAGE_MAX];
    size_t nconns;
    uint64_t idle_ms;        /* cfg.idle_timeout in ms; 0: no idle timeout */
    size_t conn_buffer;      /* cfg.conn_buffer, one load nearer */
    sk_timer *expiry;        /* due when the first idle, stage or linger deadline is */
    uint64_t expiry_due_ms;  /* 0 when not armed */
    sk_conn *dead;           /* closed connections waiting for on_close and free */
    sk_timer *reaper;        /* runs on the iteration after a close */

    bool stopping;
    uint64_t grace_end_ms;
    sk_timer *grace;

    unsigned char *scratch;  /* receive buffer shared by the worker's connections */
    struct sk__udp_batch *udp;
    sk__ratelog error_log;   /* "event=error" lines */
    sk__ratelog stage_log[SK__STAGE_MAX]; /* each stage's refusal lines */
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

    /* The stages every connection passes before on_open, in order (PROXY
     * header, then TLS), with their timeouts; built by server.c. */
    const struct sk__stage *stages[SK__STAGE_MAX];
    int nstages;
    int source_stage; /* the per-source limit applies after stages[0..source_stage) */

    /* Guards every service's `tls` pointer (a handshake takes its context
     * under it; sk_server_set_tls swaps it). */
    pthread_mutex_t tls_lock;

    sk__notify_slot notify[SK__NOTIFY_SLOTS];
};

/* ---- log.c (and log.h) ---- */

/* Formats one log line (key=value, no newline) and hands it to cfg.log or
 * stderr. */
void sk__server_log(const sk_server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs an error line for worker `w` ("event=error op=WHAT addr=A error=E
 * suppressed=N"), rate-limited per worker. */
void sk__server_log_error(sk__worker *w, const char *what, int err, const sk_addr *addr);

/* ---- limits.c ---- */

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

/* ---- addr.c: a connection's addresses ---- */

/* Keeps an IPv4 or IPv6 peer inline; any other (a Unix-domain peer) goes
 * into the side block at once.  Returns 0 or -ENOMEM. */
int sk__conn_store_peer(sk_conn *c, const sk_addr *peer);

/* The peer as an sk_addr (the client, once a PROXY header named it). */
void sk__conn_peer_addr(const sk_conn *c, sk_addr *out);

/* Makes `client` the peer and `local` the local address of a connection
 * that came through a proxy; its old peer becomes "via".  Returns 0 or
 * -ENOMEM. */
int sk__conn_set_client(sk_conn *c, const sk_addr *client, const sk_addr *local);

/* The side block, made (with the peer filled in) on first use.  NULL when
 * out of memory. */
sk__conn_addrs *sk__conn_addrs_get(sk_conn *c);

/* The connection's TLS state (c->tls_on must be set). */
static inline struct sk__tls *sk__conn_tls(const sk_conn *c)
{
    return c->addrs->tls;
}

/* " via=A" for a connection that came through a proxy, else "" (in buf). */
const char *sk__conn_via_text(const sk_conn *c, char *buf, size_t size);

/* ---- worker.c: connection lists, expiry, reaper ---- */

/* Puts a new connection on its first list: the staged list of c->stage
 * when SK__C_STAGE is set, else the LRU list. */
void sk__worker_conn_link(sk__worker *w, sk_conn *c);

/* Moves a staged connection on to stage `stage` (its timeout starts
 * afresh), or, with stage < 0, out of the stages onto the LRU list. */
void sk__worker_conn_restage(sk_conn *c, int stage);

/* Moves `c` to the tail of the worker's LRU list. */
void sk__worker_conn_requeue(sk_conn *c);

/* Records progress on `c` (moves it to the LRU tail).  Inline: it runs for
 * every read and write, and mostly finds `c` at the tail already. */
static inline void sk__worker_conn_touch(sk_conn *c)
{
    sk__worker *w = c->w;

    if (c->flags & (SK__C_LINGER | SK__C_DEAD | SK__C_STAGE))
        return;
    c->last_ms = sk_loop_now_ms(w->loop);
    if (w->lru.tail != c && w->idle_ms > 0)
        sk__worker_conn_requeue(c);
}

/* Moves `c` to the linger list (output flushed, waiting for the peer's end
 * of stream for a bounded time). */
void sk__worker_conn_linger(sk_conn *c);

/* Closes the descriptor now, discarding output, gives back the admission
 * limits, counts and logs the close of an opened connection, and queues it
 * for the reaper, which runs on_close on a later iteration.  `reason` is
 * for the log.  Idempotent. */
void sk__conn_close_now(sk_conn *c, enum sk__conn_reason reason);

/* sk__conn_close_now after setting a zero linger time: the peer gets a
 * reset (sk_conn_abort). */
void sk__conn_abort_now(sk_conn *c);

/* Aborts every connection left (the grace period ran out). */
void sk__worker_abort_all(sk__worker *w);

/* Called whenever one of the worker's connections is gone: a stopping
 * worker stops its loop once the last one has. */
void sk__worker_check_done(sk__worker *w);

/* Releases the worker's connections and buffers after its loop stopped. */
void sk__worker_free_conns(sk__worker *w);

/* ---- conn.c: an open connection ---- */

/* Starts watching the accepted descriptor `fd` for `c`; readiness goes to
 * the connection, or to its stage while SK__C_STAGE is set.  Returns 0 or
 * -errno. */
int sk__conn_io_start(sk_conn *c, int fd);

/* Appends `n` bytes to the connection's input buffer (bounded by
 * conn_buffer).  Returns 0 or -ENOMEM. */
int sk__conn_in_append(sk_conn *c, const void *data, size_t n);

/* The connection is admitted and past its stages: count it, log it, run
 * on_open, then offer any input the stages left in the buffer. */
void sk__conn_open(sk_conn *c);

/* Graceful close (sk_conn_close with a reason for the log). */
void sk__conn_close_graceful(sk_conn *c, enum sk__conn_reason reason);

/* Shutdown for one connection of a stopping worker: reading stops, kept
 * input is still offered as output drains, then it closes gracefully. */
void sk__conn_shutdown(sk_conn *c);

/* ---- stage.c: admission and the stages before on_open ---- */

/*
 * A stage is a step every connection of the server takes after accept and
 * before on_open: the PROXY header (lib/server/proxy_stage.c), then a TLS
 * handshake.  The server runs the stages in the order of srv->stages.
 * While in stage i a connection has SK__C_STAGE set, c->stage == i, and
 * waits on the worker's staged[i] list, closed if the stage takes longer
 * than its timeout.  It holds a max_conns slot from accept on, and a
 * per-source slot from accept on or, when a stage learns the client's
 * address (sets_peer), from the end of the last such stage on.
 * Everything is non-blocking: a stage reads (and writes) only when its
 * descriptor is ready, and sets the events it waits for itself.
 */
typedef struct sk__stage {
    const char *name;  /* for the log */
    bool sets_peer;    /* learns the client's address (the per-source limit waits) */
    /* Optional: whether connections of `svc` take this stage (NULL: all
     * do).  A stage a service skips costs its connections nothing. */
    bool (*applies)(const sk__service *svc);
    /* Optional: asked at accept, before anything is allocated.  Returns 0
     * to admit, or -1 after counting and logging the refusal (the caller
     * closes the descriptor). */
    int (*admit)(sk__listener *l, const sk_addr *peer);
    /* Optional: the connection has just entered the stage, watching
     * SK_READABLE.  May finish it at once or close it. */
    void (*on_enter)(sk_conn *c);
    /* The descriptor is ready (SK_READABLE, SK_WRITABLE).  The stage ends
     * with sk__stage_done, or closes the connection (sk__conn_close_now). */
    void (*on_io)(sk_conn *c, unsigned events);
    /* The stage's time ran out: count and close the connection. */
    void (*on_timeout)(sk_conn *c);
} sk__stage;

/* Admits and starts a connection on accepted descriptor `fd` (consumed in
 * every case) from `peer`: the limits, the stages, then on_open. */
void sk__conn_accept(sk__listener *l, int fd, const sk_addr *peer);

/* The connection's current stage is complete: on to the next one, or
 * (after the per-source limit, if it waited for the stages) to on_open. */
void sk__stage_done(sk_conn *c);

/* Whether a stage after the current one applies to `c` and will read the
 * descriptor itself: the current stage must then read no byte past its
 * own (the PROXY header before a TLS handshake). */
bool sk__stage_followed(const sk_conn *c);

/* Reads what the descriptor has into the connection's input buffer, up to
 * `limit` bytes in all.  Returns bytes read, 0 at the peer's end of
 * stream, -EAGAIN when nothing is waiting, or -errno. */
ssize_t sk__stage_recv(sk_conn *c, size_t limit);

/* ---- proxy_stage.c ---- */

/* The PROXY protocol header stage (cfg.proxy_protocol). */
extern const sk__stage sk__stage_proxy;

/* ---- tls_stage.c ---- */

/* The TLS handshake stage: services with a TLS context (sk_server_set_tls). */
extern const sk__stage sk__stage_tls;

/* ---- tcp.c: accepting ---- */

/* Starts accepting on `l` (a TCP listener).  Returns 0 or -errno. */
int sk__tcp_listener_start(sk__listener *l);

/* Starts the adopted connection of `l` (a service with `conn` set) on the
 * worker's first loop iteration, so that its on_open runs on the worker
 * thread.  Returns 0 or -errno. */
int sk__tcp_conn_start(sk__listener *l);

/* Shutdown: stop reading, finish the input already read, and close every
 * connection gracefully (flush, then end of stream). */
void sk__tcp_worker_shutdown(sk__worker *w);

/* ---- udp.c ---- */

int sk__udp_listener_start(sk__listener *l);
void sk__udp_worker_free(sk__worker *w);

/* Asks the kernel to timestamp what arrives on `fd` (SO_TIMESTAMPNS where
 * the system has it; elsewhere nothing, and udp.c reads the clock after
 * each batch instead). */
void sk__udp_enable_rxtime(int fd);

/* Asks the kernel for each datagram's TTL or hop limit and TOS or traffic
 * class (both families' options; elsewhere nothing). */
void sk__udp_enable_rxttl(int fd);

/* ---- server.c ---- */

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

#endif /* SOCKIT_SERVER_H */
