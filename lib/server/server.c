/* SPDX-License-Identifier: MIT */
/*
 * lib/server/server.c - the server framework's frame: configuration, binding each
 * service's sockets (one per worker with SO_REUSEPORT, else one shared),
 * the stages before on_open, the worker threads and their loops, shutdown,
 * notify and counters.  lib/server/server.h maps the other files.
 *
 * Cross-thread signalling uses only atomics and sk_loop_wake, so that
 * sk_server_shutdown and sk_server_notify are async-signal-safe: each
 * worker's wake callback looks at the shutdown flag, and worker 0 also runs
 * the pending notifications.
 *
 * It sits at the top of lib/server/: it calls tcp.c, udp.c, worker.c,
 * limits.c and log.c, and names the stages (proxy_stage.c, tls_stage.c)
 * each connection passes; only adopt.c calls it.
 *
 * A service's descriptors are bound here (sk_server_add_tcp/udp) or adopted
 * from whoever created them (lib/server/adopt.c checks them and calls
 * sk__server_add_fd): then one descriptor is shared by every worker, or, for
 * an adopted connection, worker 0 alone serves it.
 */
#include "server.h"
#include "tls.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONN_BUFFER SK_SERVER_CONN_BUFFER
#define DEFAULT_GRACE SK_SERVER_GRACE
#define MAX_THREADS SK_SERVER_MAX_THREADS
#define MAX_CONN_BUFFER ((size_t)SK_SERVER_CONN_BUFFER_MAX)
/* conn.c keeps buffer sizes and offsets in 32 bits. */
_Static_assert(SK_SERVER_CONN_BUFFER_MAX <= UINT32_MAX / 2, "conn_buffer must fit 32 bits");
_Static_assert(SK_SERVER_CONN_BUFFER <= SK_SERVER_CONN_BUFFER_MAX, "default above the maximum");
#define DEFAULT_PROXY_TIMEOUT 3.0
#define MAX_PROXY_FROM 4096

/* ---- creation ----------------------------------------------------------------- */

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Copies `in` with the defaults applied.  Returns 0, -EINVAL or -E2BIG. */
static int config_apply(sk_server_config *cfg, const sk_server_config *in)
{
    int err = sk__struct_in(cfg, sizeof(*cfg), in);

    if (err < 0)
        return err;
    if (cfg->threads < 0 || cfg->threads > MAX_THREADS || cfg->max_conns < 0 ||
        cfg->max_per_source < 0 || !(cfg->idle_timeout >= 0.0) || !(cfg->grace >= 0.0) ||
        cfg->idle_timeout > 1e9 || cfg->grace > 1e9 || cfg->conn_buffer > MAX_CONN_BUFFER ||
        !(cfg->proxy_timeout >= 0.0) || cfg->proxy_timeout > 1e6 ||
        !(cfg->tls_handshake_timeout >= 0.0) || cfg->tls_handshake_timeout > 1e6 ||
        cfg->proxy_from_count > MAX_PROXY_FROM ||
        (cfg->proxy_from_count > 0 && cfg->proxy_from == NULL))
        return -EINVAL;
    if (cfg->proxy_timeout == 0.0)
        cfg->proxy_timeout = DEFAULT_PROXY_TIMEOUT;
    if (cfg->tls_handshake_timeout == 0.0)
        cfg->tls_handshake_timeout = SK_SERVER_TLS_HANDSHAKE_TIMEOUT;
    if (cfg->threads == 0)
        cfg->threads = online_cpus();
    if (cfg->conn_buffer == 0)
        cfg->conn_buffer = DEFAULT_CONN_BUFFER;
    if (cfg->grace == 0.0)
        cfg->grace = DEFAULT_GRACE;
    return 0;
}

static void worker_wake_cb(sk_loop *loop, void *arg);

/* The stages every connection passes before on_open, in order: the PROXY
 * header first (it names the client), then TLS (added by the first
 * sk_server_set_tls, see tls_stage_add).  The per-source limit applies
 * after the last stage that learns the client's address. */
static void stages_build(sk_server *srv)
{
    if (srv->cfg.proxy_protocol)
        srv->stages[srv->nstages++] = &sk__stage_proxy;
    srv->source_stage = 0;
    for (int i = 0; i < srv->nstages; i++)
        if (srv->stages[i]->sets_peer)
            srv->source_stage = i + 1;
}

/* Each stage's timeout, in the order of srv->stages. */
static uint64_t stage_timeout_ms(const sk_server *srv, int i)
{
    if (srv->stages[i] == &sk__stage_proxy)
        return (uint64_t)(srv->cfg.proxy_timeout * 1000.0);
    if (srv->stages[i] == &sk__stage_tls)
        return (uint64_t)(srv->cfg.tls_handshake_timeout * 1000.0);
    return 0;
}

/* Appends the TLS stage (last: after the PROXY header) once, with its
 * timeout in every worker.  Before the server runs only. */
static void tls_stage_add(sk_server *srv)
{
    int i = srv->nstages;

    for (int k = 0; k < srv->nstages; k++)
        if (srv->stages[k] == &sk__stage_tls)
            return;
    srv->stages[srv->nstages++] = &sk__stage_tls;
    for (int k = 0; k < srv->nworkers; k++)
        srv->workers[k].stage_ms[i] = stage_timeout_ms(srv, i);
}

/* Copies the PROXY allow-list (the default: loopback, IPv4 and IPv6) into
 * the server, so the caller's array need not outlive the call. */
static int proxy_from_copy(sk_server *srv)
{
    const sk_cidr *from = srv->cfg.proxy_from;
    size_t n = srv->cfg.proxy_from_count;
    sk_cidr loopback[2];

    if (n == 0) {
        sk_cidr_parse(&loopback[0], "127.0.0.0/8");
        sk_cidr_parse(&loopback[1], "::1/128");
        from = loopback;
        n = 2;
    }
    srv->proxy_from = malloc(n * sizeof(*from));
    if (srv->proxy_from == NULL)
        return -ENOMEM;
    memcpy(srv->proxy_from, from, n * sizeof(*from));
    srv->nproxy_from = n;
    srv->cfg.proxy_from = NULL; /* the caller's; not kept */
    return 0;
}

int sk_server_new(sk_server **out, const sk_server_config *cfg)
{
    sk_server *srv = calloc(1, sizeof(*srv));
    int err, i;

    if (srv == NULL)
        return -ENOMEM;
    err = config_apply(&srv->cfg, cfg);
    if (err == 0)
        err = proxy_from_copy(srv);
    if (err < 0)
        goto fail_srv;
    srv->nworkers = srv->cfg.threads;
    stages_build(srv);
    atomic_init(&srv->shutdown, 0);
    atomic_init(&srv->state, 0);
    atomic_init(&srv->active, 0);
    for (i = 0; i < SK__NOTIFY_SLOTS; i++)
        atomic_init(&srv->notify[i].state, 0);
    err = -pthread_mutex_init(&srv->sources_lock, NULL);
    if (err < 0)
        goto fail_srv;
    err = -pthread_mutex_init(&srv->services_lock, NULL);
    if (err < 0)
        goto fail_sources;
    err = -pthread_mutex_init(&srv->tls_lock, NULL);
    if (err < 0)
        goto fail_services;
    srv->workers = calloc((size_t)srv->nworkers, sizeof(*srv->workers));
    if (srv->workers == NULL) {
        err = -ENOMEM;
        goto fail_mutex;
    }
    for (i = 0; i < srv->nworkers; i++) {
        sk__worker *w = &srv->workers[i];

        w->srv = srv;
        w->index = i;
        w->idle_ms = (uint64_t)(srv->cfg.idle_timeout * 1000.0);
        w->conn_buffer = srv->cfg.conn_buffer;
        for (int k = 0; k < srv->nstages; k++)
            w->stage_ms[k] = stage_timeout_ms(srv, k);
        err = sk_loop_new(&w->loop);
        if (err < 0)
            goto fail_loops;
        sk_loop_set_wake_cb(w->loop, worker_wake_cb, w);
    }
    *out = srv;
    return 0;

fail_loops:
    while (--i >= 0)
        sk_loop_free(srv->workers[i].loop);
    free(srv->workers);
fail_mutex:
    pthread_mutex_destroy(&srv->tls_lock);
fail_services:
    pthread_mutex_destroy(&srv->services_lock);
fail_sources:
    pthread_mutex_destroy(&srv->sources_lock);
fail_srv:
    free(srv->proxy_from);
    free(srv);
    return err;
}

/* ---- binding ---------------------------------------------------------------------- */

/* Opens one server socket at `addr`, non-blocking and close-on-exec, and
 * returns its descriptor (or -errno); stores the bound address in *bound if
 * asked. */
static int open_socket(const sk_addr *addr, int type, int flags, sk_addr *bound)
{
    sk_sock *s;
    int err, fd;

    err = sk_create_server(&s, addr, type, -1, flags);
    if (err < 0)
        return err;
    if (bound != NULL)
        err = sk_sock_getsockname(s, bound);
    fd = sk_sock_detach(s);
    sk_sock_free(s);
    if (err == 0 && fd >= 0)
        err = sk__fd_set_flags(fd, true);
    if (err < 0) {
        if (fd >= 0)
            close(fd);
        return err;
    }
    return fd;
}

/*
 * With SO_REUSEPORT a second daemon on the same port would bind without
 * complaint and silently take part of the traffic.  A plain bind first
 * (SO_REUSEADDR only for TCP, as sk_create_server sets it, so a restart is
 * not blocked by old connections in TIME_WAIT) reports the port as taken.
 */
static int probe_port_free(const sk_addr *addr, int type, int flags)
{
    sk_sock *s;
    int err;

    err = sk_sock_open(&s, addr->u.sa.sa_family, type, 0);
    if (err < 0)
        return err;
    if (type == SOCK_STREAM)
        err = sk_sock_setsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, 1);
    if (err == 0 && (flags & (SK_SERVER_DUALSTACK | SK_SERVER_V6ONLY)))
        err = sk_sock_setsockopt_int(s, IPPROTO_IPV6, IPV6_V6ONLY,
                                     (flags & SK_SERVER_V6ONLY) ? 1 : 0);
    if (err == 0)
        err = sk_sock_bind(s, addr);
    sk_sock_free(s);
    return err;
}

static void close_service_fds(sk_server *srv, sk__service *svc)
{
    for (int i = 0; i < srv->nworkers; i++) {
        if (svc->fds[i] >= 0 && (!svc->shared || i == 0))
            close(svc->fds[i]);
        svc->fds[i] = -1;
    }
}

/* Opens the service's sockets: one per worker with SO_REUSEPORT (the first
 * picks the port when it is 0, the others bind the same one), or a single
 * socket all workers share where SO_REUSEPORT is missing or meaningless. */
static int bind_service(sk_server *srv, sk__service *svc, const sk_addr *addr, int flags)
{
    int family = sk_addr_family(addr), fd;
    bool reuseport = srv->nworkers > 1 && (family == AF_INET || family == AF_INET6);

    if (reuseport && sk_addr_port(addr) != 0) {
        int err = probe_port_free(addr, svc->type, flags);

        if (err < 0)
            return err;
    }
    fd = open_socket(addr, svc->type, flags | (reuseport ? SK_SERVER_REUSEPORT : 0), &svc->bound);
    if (fd == -ENOPROTOOPT && reuseport) {
        reuseport = false;
        fd = open_socket(addr, svc->type, flags, &svc->bound);
    }
    if (fd < 0)
        return fd;
    svc->shared = !reuseport;
    svc->fds[0] = fd;
    for (int i = 1; i < srv->nworkers; i++) {
        svc->fds[i] = svc->shared ? fd
                    : open_socket(&svc->bound, svc->type, flags | SK_SERVER_REUSEPORT, NULL);
        if (svc->fds[i] < 0) {
            int err = svc->fds[i];

            svc->fds[i] = -1;
            close_service_fds(srv, svc);
            return err;
        }
    }
    return 0;
}

/* Under services_lock: the stats readers may walk the array meanwhile. */
static int services_push(sk_server *srv, sk__service *svc)
{
    int err = 0;

    pthread_mutex_lock(&srv->services_lock);
    if (srv->nservices == srv->capservices) {
        size_t cap = srv->capservices ? srv->capservices * 2 : 8;
        sk__service **p = realloc(srv->services, cap * sizeof(*p));

        if (p == NULL)
            err = -ENOMEM;
        else {
            srv->services = p;
            srv->capservices = cap;
        }
    }
    if (err == 0) {
        svc->index = srv->nservices;
        srv->services[srv->nservices++] = svc;
    }
    pthread_mutex_unlock(&srv->services_lock);
    return err;
}

/* One counter block per worker, each on its own cache lines. */
static int service_counters(sk_server *srv, sk__service *svc)
{
    size_t size = (size_t)srv->nworkers * sizeof(sk__counters);

    _Static_assert(sizeof(sk__counters) % 64 == 0, "counter blocks fill whole lines");
    svc->ctr = aligned_alloc(64, size);
    if (svc->ctr == NULL)
        return -ENOMEM;
    memset(svc->ctr, 0, size);
    return 0;
}

/* Puts an adopted descriptor in the service's slots: the same one for every
 * worker, or (a connection) for worker 0 only. */
static void adopt_fds(sk_server *srv, sk__service *svc, int fd, enum sk__adopt how,
                      const sk_addr *local, const sk_addr *peer)
{
    svc->conn = how == SK__ADOPT_CONN;
    svc->shared = !svc->conn;
    for (int i = 0; i < srv->nworkers; i++)
        svc->fds[i] = svc->conn && i > 0 ? -1 : fd;
    svc->bound = *local;
    if (peer != NULL)
        svc->peer = *peer;
}

/* Adds a service bound at `addr`, or (addr NULL) on the adopted `fd`. */
static int add_service(sk_server *srv, int type, const sk_addr *addr, int fd, int flags,
                       enum sk__adopt how, const sk_tcp_handler *th,
                       const sk_udp_handler *uh, void *arg, const sk_addr *local,
                       const sk_addr *peer, sk_addr *bound)
{
    sk__service *svc;
    int err = 0;

    int allowed = SK_SERVER_DUALSTACK | SK_SERVER_V6ONLY |
                  (type == SOCK_DGRAM ? SK_SERVER_RXTIME | SK_SERVER_RXTTL : 0);

    if ((addr == NULL) == (local == NULL) || (th == NULL && uh == NULL) ||
        (flags & ~allowed))
        return -EINVAL;
    if (atomic_load(&srv->state) != 0)
        return -EBUSY;
    svc = calloc(1, sizeof(*svc));
    if (svc == NULL)
        return -ENOMEM;
    svc->fds = malloc((size_t)srv->nworkers * sizeof(*svc->fds));
    if (svc->fds == NULL) {
        err = -ENOMEM;
        goto fail_svc;
    }
    for (int i = 0; i < srv->nworkers; i++)
        svc->fds[i] = -1;
    err = service_counters(srv, svc);
    if (err < 0)
        goto fail_fds;
    svc->type = type;
    svc->arg = arg;
    err = th != NULL ? sk__struct_in(&svc->tcp, sizeof(svc->tcp), th)
                     : sk__struct_in(&svc->udp, sizeof(svc->udp), uh);
    if (err < 0)
        goto fail_fds;
    svc->rxtime = (flags & SK_SERVER_RXTIME) != 0;
    svc->rxttl = (flags & SK_SERVER_RXTTL) != 0;
    if (addr != NULL)
        err = bind_service(srv, svc, addr, flags & ~(SK_SERVER_RXTIME | SK_SERVER_RXTTL));
    else
        adopt_fds(srv, svc, fd, how, local, peer);
    if (err < 0)
        goto fail_fds;
    for (int i = 0; svc->rxtime && i < srv->nworkers; i++)
        if (i == 0 || !svc->shared)
            sk__udp_enable_rxtime(svc->fds[i]);
    for (int i = 0; svc->rxttl && i < srv->nworkers; i++)
        if (i == 0 || !svc->shared)
            sk__udp_enable_rxttl(svc->fds[i]);
    err = services_push(srv, svc);
    if (err < 0)
        goto fail_bound;
    if (bound != NULL)
        *bound = svc->bound;
    return 0;

fail_bound:
    /* An adopted descriptor goes back to the caller open. */
    if (addr != NULL)
        close_service_fds(srv, svc);
fail_fds:
    free(svc->ctr);
    free(svc->fds);
fail_svc:
    free(svc);
    return err;
}

int sk_server_add_tcp(sk_server *srv, const sk_addr *addr, int flags,
                      const sk_tcp_handler *h, void *arg, sk_addr *bound)
{
    if (addr == NULL)
        return -EINVAL;
    return add_service(srv, SOCK_STREAM, addr, -1, flags, SK__ADOPT_LISTENER, h, NULL, arg,
                       NULL, NULL, bound);
}

int sk_server_add_udp(sk_server *srv, const sk_addr *addr, int flags,
                      const sk_udp_handler *h, void *arg, sk_addr *bound)
{
    if (addr == NULL)
        return -EINVAL;
    return add_service(srv, SOCK_DGRAM, addr, -1, flags, SK__ADOPT_LISTENER, NULL, h, arg,
                       NULL, NULL, bound);
}

int sk__server_add_fd(sk_server *srv, int type, int fd, int flags, enum sk__adopt how,
                      const sk_tcp_handler *th, const sk_udp_handler *uh, void *arg,
                      const sk_addr *local, const sk_addr *peer)
{
    if (fd < 0 || local == NULL)
        return -EINVAL;
    return add_service(srv, type, NULL, fd, flags, how, th, uh, arg, local, peer, NULL);
}

/* ---- workers ------------------------------------------------------------------------ */

static void grace_cb(sk_timer *t, void *arg)
{
    sk__worker *w = arg;

    sk__worker_abort_all(w);
    sk__worker_check_done(w);
}

/* Stops accepting and receiving, closes this worker's own sockets (a shared
 * socket is closed after every worker has let go of it), and closes the
 * connections gracefully within the grace period. */
static void worker_begin_shutdown(sk__worker *w)
{
    w->stopping = true;
    for (size_t i = 0; i < w->nlisteners; i++) {
        sk__listener *l = &w->listeners[i];

        sk_io_stop(l->io);
        l->io = NULL;
        sk_timer_stop(l->rearm);
        l->rearm = NULL;
        sk_timer_stop(l->adopt);
        l->adopt = NULL;
        if (!l->svc->shared && l->fd >= 0) {
            close(l->fd);
            l->svc->fds[w->index] = -1;
        }
        l->fd = -1;
    }
    sk__tcp_worker_shutdown(w);
    if (sk_timer_start(w->loop, &w->grace, w->srv->cfg.grace, 0, grace_cb, w) < 0)
        sk__worker_abort_all(w);
    sk__worker_check_done(w);
}

/* Runs the pending notifications.  A slot is released before its callback
 * runs, so the callback may queue another. */
static void run_notifications(sk_server *srv)
{
    for (int i = 0; i < SK__NOTIFY_SLOTS; i++) {
        sk__notify_slot *s = &srv->notify[i];
        int ready = 2;
        void (*cb)(sk_server *, void *);
        void *arg;

        if (!atomic_compare_exchange_strong(&s->state, &ready, 3))
            continue;
        cb = s->cb;
        arg = s->arg;
        atomic_store(&s->state, 0);
        cb(srv, arg);
    }
}

static void worker_wake_cb(sk_loop *loop, void *arg)
{
    sk__worker *w = arg;

    if (atomic_load(&w->srv->shutdown) && !w->stopping)
        worker_begin_shutdown(w);
    if (w->index == 0)
        run_notifications(w->srv);
}

static int worker_start_listeners(sk__worker *w)
{
    sk_server *srv = w->srv;

    w->listeners = calloc(srv->nservices ? srv->nservices : 1, sizeof(*w->listeners));
    if (w->listeners == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < srv->nservices; i++) {
        sk__listener *l = &w->listeners[i];
        int err;

        l->w = w;
        l->svc = srv->services[i];
        l->fd = l->svc->fds[w->index];
        w->nlisteners = i + 1;
        if (l->svc->conn)
            err = l->fd >= 0 ? sk__tcp_conn_start(l) : 0;
        else if (l->svc->type == SOCK_STREAM)
            err = sk__tcp_listener_start(l);
        else
            err = sk__udp_listener_start(l);
        if (err < 0)
            return err;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    sk__worker *w = arg;
    int err = sk_loop_run(w->loop);

    if (err < 0)
        sk__server_log(w->srv, "event=error op=loop worker=%d error=\"%s\"", w->index,
                       sk_strerror(err));
    return NULL;
}

/* Starts the worker threads with every signal blocked, so that process
 * signals go to the thread that called sk_server_run (or another thread of
 * the application), never into a worker's system calls. */
static int start_threads(sk_server *srv)
{
    sigset_t all, old;
    int err = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < srv->nworkers && err == 0; i++) {
        err = -pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]);
        if (err == 0)
            srv->workers[i].started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

static void join_threads(sk_server *srv)
{
    for (int i = 0; i < srv->nworkers; i++) {
        if (srv->workers[i].started)
            pthread_join(srv->workers[i].thread, NULL);
        srv->workers[i].started = false;
    }
}

int sk_server_run(sk_server *srv)
{
    int idle = 0, err = 0;

    if (!atomic_compare_exchange_strong(&srv->state, &idle, 1))
        return -EBUSY;
    for (int i = 0; i < srv->nworkers && err == 0; i++)
        err = worker_start_listeners(&srv->workers[i]);
    if (err == 0)
        err = start_threads(srv);
    if (err < 0)
        sk_server_shutdown(srv);
    join_threads(srv);
    for (size_t i = 0; i < srv->nservices; i++)
        close_service_fds(srv, srv->services[i]);
    atomic_store(&srv->state, 2);
    return err;
}

void sk_server_shutdown(sk_server *srv)
{
    if (atomic_exchange(&srv->shutdown, 1))
        return;
    for (int i = 0; i < srv->nworkers; i++)
        sk_loop_wake(srv->workers[i].loop);
}

int sk_server_notify(sk_server *srv, void (*cb)(sk_server *srv, void *arg), void *arg)
{
    for (int i = 0; i < SK__NOTIFY_SLOTS; i++) {
        sk__notify_slot *s = &srv->notify[i];
        int free_slot = 0;

        if (!atomic_compare_exchange_strong(&s->state, &free_slot, 1))
            continue;
        s->cb = cb;
        s->arg = arg;
        atomic_store(&s->state, 2);
        sk_loop_wake(srv->workers[0].loop);
        return 0;
    }
    return -EAGAIN;
}

/* ---- TLS ----------------------------------------------------------------------------- */

/*
 * Before the server runs, makes service `index` a TLS one (or, ctx NULL, a
 * plain one again); while it runs, replaces the context of a TLS service
 * for the handshakes that start from now on.  The swap is under tls_lock,
 * the lock a handshake takes its context under; the old context goes with
 * the last connection that holds it.
 */
int sk_server_set_tls(sk_server *srv, size_t index, sk_tls_ctx *ctx)
{
    bool running = atomic_load(&srv->state) != 0;
    sk__service *svc = NULL;
    sk_tls_ctx *old;

    if (ctx != NULL && sk__tls_ctx_side(ctx) != SK_TLS_SERVER)
        return -EINVAL;
    pthread_mutex_lock(&srv->services_lock);
    if (index < srv->nservices)
        svc = srv->services[index];
    pthread_mutex_unlock(&srv->services_lock);
    if (svc == NULL)
        return -ENOENT;
    if (svc->type != SOCK_STREAM)
        return -EINVAL;
    if (running && (ctx == NULL || !svc->has_tls))
        return -EBUSY;
    if (ctx != NULL)
        sk__tls_ctx_ref(ctx);
    pthread_mutex_lock(&srv->tls_lock);
    old = svc->tls;
    svc->tls = ctx;
    pthread_mutex_unlock(&srv->tls_lock);
    sk_tls_ctx_free(old);
    if (!running) {
        svc->has_tls = ctx != NULL;
        if (ctx != NULL)
            tls_stage_add(srv);
    }
    return 0;
}

/* ---- counters and teardown ---------------------------------------------------------------- */

/* Adds one counter row of SK_SERVER_STATS_MAP over the workers; gauges
 * (active) are filled apart. */
#define SK__SUM_SK_STAT_COUNTER(field) out->field += sk__count_read(&ctr->field);
#define SK__SUM_SK_STAT_GAUGE(field)
#define SK__SUM_ROW(field, kind, proto, metric, label, help) SK__SUM_##kind(field)

/* The tls_cert_not_after gauge: the earliest expiry of the certificates
 * the services summed present (the context is read under tls_lock, as it
 * may be replaced meanwhile). */
static void tls_not_after_add(const sk_server *srv, const sk__service *svc,
                              sk_server_stats *out)
{
    sk_server *m = (sk_server *)srv;
    time_t t;

    pthread_mutex_lock(&m->tls_lock);
    t = svc->tls != NULL ? sk__tls_ctx_not_after(svc->tls) : 0;
    pthread_mutex_unlock(&m->tls_lock);
    if (t > 0 && (out->tls_cert_not_after == 0 || (uint64_t)t < out->tls_cert_not_after))
        out->tls_cert_not_after = (uint64_t)t;
}

/* Adds service `svc`'s counters, over the workers, to *out.  `closed` is
 * read before `accepted` for each worker, and each worker counts a close
 * after its open, so open = accepted - closed is never negative. */
static void stats_add_service(const sk_server *srv, const sk__service *svc,
                              sk_server_stats *out)
{
    uint64_t closed = 0, accepted = 0;

    for (int i = 0; i < srv->nworkers; i++) {
        const sk__counters *ctr = &svc->ctr[i];

        closed += sk__count_read(&ctr->closed);
        accepted += sk__count_read(&ctr->accepted);
        SK_SERVER_STATS_MAP(SK__SUM_ROW)
    }
    out->active += accepted > closed ? accepted - closed : 0;
    if (svc->has_tls)
        tls_not_after_add(srv, svc, out);
}

/* The end of the last field of the 0.2 layout, which a caller's size 0
 * stands for. */
#define STATS_SIZE_0_2 (offsetof(sk_server_stats, datagrams_refused) + sizeof(uint64_t))

/* Copies `st` out to the caller's struct, of the size it says. */
static void stats_out(sk_server_stats *user, const sk_server_stats *st)
{
    size_t n;

    memcpy(&n, user, sizeof(n));
    if (n == 0) {
        memcpy((char *)user + sizeof(size_t), (const char *)st + sizeof(size_t),
               STATS_SIZE_0_2 - sizeof(size_t));
        return;
    }
    sk__struct_out(user, st, sizeof(*st));
}

void sk_server_stats_get(const sk_server *srv, sk_server_stats *user)
{
    sk_server *m = (sk_server *)srv;
    int64_t active = atomic_load(&m->active);
    sk_server_stats st = {.size = sizeof(st)}, *out = &st;

    pthread_mutex_lock(&m->services_lock);
    for (size_t i = 0; i < srv->nservices; i++)
        stats_add_service(srv, srv->services[i], out);
    pthread_mutex_unlock(&m->services_lock);
    /* Server-wide, connections waiting for a PROXY header are open too. */
    out->active = active > 0 ? (uint64_t)active : 0;
    stats_out(user, &st);
}

int sk_server_stats_get_service(const sk_server *srv, size_t index, sk_server_stats *user)
{
    sk_server *m = (sk_server *)srv;
    sk_server_stats st = {.size = sizeof(st)};
    int err = 0;

    pthread_mutex_lock(&m->services_lock);
    if (index < srv->nservices)
        stats_add_service(srv, srv->services[index], &st);
    else
        err = -ENOENT;
    pthread_mutex_unlock(&m->services_lock);
    stats_out(user, &st);
    return err;
}

void sk_server_free(sk_server *srv)
{
    if (srv == NULL)
        return;
    for (int i = 0; i < srv->nworkers; i++) {
        sk__worker *w = &srv->workers[i];

        sk__worker_free_conns(w);
        sk__udp_worker_free(w);
        sk_loop_free(w->loop);
        free(w->listeners);
    }
    for (size_t i = 0; i < srv->nservices; i++) {
        close_service_fds(srv, srv->services[i]);
        sk_tls_ctx_free(srv->services[i]->tls);
        free(srv->services[i]->fds);
        free(srv->services[i]->ctr);
        free(srv->services[i]);
    }
    free(srv->services);
    free(srv->workers);
    sk__limits_free(srv);
    pthread_mutex_destroy(&srv->sources_lock);
    pthread_mutex_destroy(&srv->services_lock);
    pthread_mutex_destroy(&srv->tls_lock);
    free(srv->proxy_from);
    free(srv);
}
