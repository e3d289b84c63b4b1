/* SPDX-License-Identifier: MIT */
/*
 * cli/inetd.c - `sockit serve --inetd SERVICE`: one service on standard
 * input, the way inetd, xinetd and systemd's Accept=yes start a server.
 *
 *   inetd_probe      what descriptor 0 is: a connected stream socket
 *                    ("nowait"), a bound datagram socket ("wait"), or no
 *                    socket at all (a pipe or terminal, for trying by hand)
 *   stream           the connection is adopted by the server framework
 *                    (sk_server_adopt_conn); its on_close stops the server
 *   datagram         the socket is adopted (sk_server_adopt_udp) and a
 *                    watchdog thread stops the server after --idle-timeout
 *                    seconds without a datagram
 *   pipe             the service talks to one end of a socketpair; two
 *                    threads copy fd 0 into the other end and it out to fd 1
 *
 * The handlers are the daemon's own (services/), with the same limits, UDP
 * guard and log lines; the wrappers here only add "stop when done".
 */
#define _GNU_SOURCE
#include "supervise.h"

#include "cli.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Set before the server runs; read by the wrappers and signal handler. */
static sk_server *inetd_srv;
static const sk_tcp_handler *inner_tcp;
static const sk_udp_handler *inner_udp;
static _Atomic uint64_t last_datagram_ms;

static uint64_t mono_ms(void)
{
    return cli_now_ns() / 1000000u;
}

/* ---- what is on standard input ------------------------------------------------ */

/*
 * inetd hands the connection over as stdin, stdout and stderr alike.  The
 * server works on descriptor 0 only: descriptor 2 must not carry log lines
 * into the reply, and descriptor 1 must not keep the socket open after the
 * server closed it (a reset would then not reach the peer).  Both are
 * pointed at /dev/null when they are that same socket.
 */
static void detach_dup(int fd)
{
    struct stat s0, sx;
    int null;

    if (fstat(0, &s0) != 0 || fstat(fd, &sx) != 0 || s0.st_dev != sx.st_dev ||
        s0.st_ino != sx.st_ino || !S_ISSOCK(s0.st_mode))
        return;
    null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, fd);
        close(null);
    }
}

int inetd_probe(inetd_stdin *in)
{
    int type = 0, acc = 0;
    socklen_t len = sizeof(type);

    memset(in, 0, sizeof(*in));
    if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
        if (errno == ENOTSOCK) {
            in->kind = INETD_PIPE;
            return 0;
        }
        cli_error("--inetd", "standard input: %s", strerror(errno));
        return -1;
    }
    len = sizeof(acc);
    if (type == SOCK_STREAM && getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 &&
        acc) {
        cli_error("--inetd", "standard input is a listening socket: run stream services "
                  "as 'nowait' (one process per connection)");
        return -1;
    }
    if (type != SOCK_STREAM && type != SOCK_DGRAM) {
        cli_error("--inetd", "standard input is a socket of type %d, neither stream nor "
                  "datagram", type);
        return -1;
    }
    in->kind = type == SOCK_STREAM ? INETD_STREAM : INETD_DGRAM;
    in->local.len = sizeof(in->local.u);
    if (getsockname(0, &in->local.u.sa, &in->local.len) != 0)
        in->local.len = 0;
    detach_dup(1);
    detach_dup(2);
    return 0;
}

/* ---- the wrappers --------------------------------------------------------------- */

static void stream_on_close(sk_conn *c)
{
    if (inner_tcp->on_close != NULL)
        inner_tcp->on_close(c);
    sk_server_shutdown(inetd_srv);
}

static void dgram_on_datagram(sk_dgram *d, const void *data, size_t len, const sk_addr *from)
{
    atomic_store_explicit(&last_datagram_ms, mono_ms(), memory_order_relaxed);
    inner_udp->on_datagram(d, data, len, from);
}

static void on_stop_signal(int sig)
{
    (void)sig;
    if (inetd_srv != NULL)
        sk_server_shutdown(inetd_srv);
}

static void stop_signals(bool on)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on ? on_stop_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Starts `fn` with every signal blocked, so that signals (SIGTERM, and the
 * SIGPIPE of a write to a closed pipe) never land in it. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -rc;
}

/* ---- the datagram idle watchdog ----------------------------------------------- */

typedef struct idle_watch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    uint64_t idle_ms;
} idle_watch;

/* Sleeps until the last datagram is idle_ms old, then stops the server. */
static void *idle_watch_main(void *arg)
{
    idle_watch *iw = arg;

    pthread_mutex_lock(&iw->mu);
    while (!iw->done) {
        uint64_t due = atomic_load(&last_datagram_ms) + iw->idle_ms, now = mono_ms();
        struct timespec ts;

        if (now >= due) {
            sk_server_shutdown(inetd_srv);
            break;
        }
        /* The condition variable waits on CLOCK_MONOTONIC, cli_now_ns's. */
        ts.tv_sec = (time_t)(due / 1000);
        ts.tv_nsec = (long)(due % 1000) * 1000000L;
        pthread_cond_timedwait(&iw->cv, &iw->mu, &ts);
    }
    pthread_mutex_unlock(&iw->mu);
    return NULL;
}

static int idle_watch_start(idle_watch *iw, pthread_t *t, double idle)
{
    pthread_condattr_t ca;

    memset(iw, 0, sizeof(*iw));
    iw->idle_ms = (uint64_t)(idle * 1000.0);
    pthread_mutex_init(&iw->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&iw->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_store(&last_datagram_ms, mono_ms());
    return start_thread(t, idle_watch_main, iw);
}

static void idle_watch_stop(idle_watch *iw, pthread_t t)
{
    pthread_mutex_lock(&iw->mu);
    iw->done = true;
    pthread_cond_signal(&iw->cv);
    pthread_mutex_unlock(&iw->mu);
    pthread_join(t, NULL);
    pthread_cond_destroy(&iw->cv);
    pthread_mutex_destroy(&iw->mu);
}

/* ---- pipes: fd 0 and fd 1 bridged to a socketpair -------------------------------- */

static int bridge_fd = -1; /* our end of the socketpair */

static bool write_all(int fd, const char *p, size_t n, bool sock)
{
    while (n > 0) {
        ssize_t w = sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Standard input into the service; its end becomes the service's end of
 * stream.  Never joined: it may sit in read(2) on a terminal. */
static void *bridge_in(void *arg)
{
    char buf[16384];
    ssize_t n;

    (void)arg;
    while ((n = read(0, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && !write_all(bridge_fd, buf, (size_t)n, true))
            break;
    shutdown(bridge_fd, SHUT_WR);
    return NULL;
}

/* The service's output to standard output, until it closes; a reader that
 * goes away (EPIPE) makes the service's connection fail and close. */
static void *bridge_out(void *arg)
{
    char buf[16384];
    ssize_t n;

    (void)arg;
    while ((n = recv(bridge_fd, buf, sizeof(buf), 0)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && !write_all(1, buf, (size_t)n, false))
            break;
    shutdown(bridge_fd, SHUT_RDWR);
    return NULL;
}

/* Makes the socketpair; the server gets sp[0].  Returns that descriptor or -1. */
static int bridge_open(void)
{
    int sp[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
        cli_error("--inetd", "socketpair: %s", strerror(errno));
        return -1;
    }
    bridge_fd = sp[1];
    return sp[0];
}

/* ---- running ---------------------------------------------------------------------- */

/* Adds the one service to `srv`.  Returns 0 or -1 after printing why. */
static int inetd_add(sk_server *srv, const inetd_stdin *in, int svc, svc_env *env,
                     sk_tcp_handler *th, sk_udp_handler *uh)
{
    int fd = 0, rc;

    inner_tcp = svc_table[svc].tcp;
    inner_udp = svc_table[svc].udp;
    if (in->kind == INETD_DGRAM ? inner_udp == NULL : inner_tcp == NULL) {
        cli_error("--inetd", "%s has no %s service", svc_table[svc].name,
                  in->kind == INETD_DGRAM ? "datagram" : "stream");
        return -1;
    }
    if (in->kind == INETD_DGRAM) {
        uh->on_datagram = dgram_on_datagram;
        rc = sk_server_adopt_udp(srv, 0, svc_table[svc].udp_flags, uh, env, NULL);
    } else {
        *th = *inner_tcp;
        th->on_close = stream_on_close;
        if (in->kind == INETD_PIPE && (fd = bridge_open()) < 0)
            return -1;
        rc = sk_server_adopt_conn(srv, fd, th, env);
    }
    if (rc < 0) {
        cli_error("--inetd", "standard input: %s", sk_strerror(rc));
        return -1;
    }
    return 0;
}

/* Runs the server with whatever helper threads the kind needs.  The pipe
 * bridge's output thread is left running: it ends once the server's end of
 * the socketpair is closed, which sk_server_free guarantees, so the caller
 * joins it after that (*tout). */
static int inetd_run(sk_server *srv, const inetd_stdin *in, double idle, pthread_t *tout)
{
    pthread_t tin, twatch;
    idle_watch iw;
    bool watch = in->kind == INETD_DGRAM && idle > 0, piped = in->kind == INETD_PIPE;
    int rc;

    if (watch && idle_watch_start(&iw, &twatch, idle) < 0)
        return -ENOMEM;
    if (piped) {
        if (start_thread(tout, bridge_out, NULL) < 0)
            return -ENOMEM;
        if (start_thread(&tin, bridge_in, NULL) < 0) {
            shutdown(bridge_fd, SHUT_RDWR);
            pthread_join(*tout, NULL);
            return -ENOMEM;
        }
        pthread_detach(tin);
    }
    rc = sk_server_run(srv);
    if (watch)
        idle_watch_stop(&iw, twatch);
    return rc;
}

int inetd_serve(const inetd_stdin *in, int svc, const sk_server_config *cfg, svc_env *env,
                double idle)
{
    sk_server_config c = *cfg;
    sk_tcp_handler th;
    sk_udp_handler uh = {0};
    sk_server *srv;
    pthread_t tout;
    int rc, status = CLI_EXIT_FAIL;

    c.threads = 1;
    rc = sk_server_new(&srv, &c);
    if (rc < 0) {
        cli_error_code("--inetd", rc);
        return CLI_EXIT_FAIL;
    }
    if (inetd_add(srv, in, svc, env, &th, &uh) < 0)
        goto out;
    inetd_srv = srv;
    stop_signals(true);
    rc = inetd_run(srv, in, idle, &tout);
    stop_signals(false);
    if (rc < 0)
        cli_error_code("--inetd", rc);
    else
        status = CLI_EXIT_OK;
out:
    sk_server_free(srv);
    inetd_srv = NULL;
    if (in->kind == INETD_PIPE && bridge_fd >= 0 && status == CLI_EXIT_OK)
        pthread_join(tout, NULL);
    return status;
}
