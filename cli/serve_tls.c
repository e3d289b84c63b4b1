/* SPDX-License-Identifier: MIT */
/*
 * cli/serve_tls.c - the daemon's TLS twins (sockit serve --tls-cert): the
 * server context made from the options, handed to every TLS listener
 * (sk_server_set_tls), made again from the files on SIGHUP, and its
 * session-ticket key rotated every --tls-ticket-rotate seconds.
 *
 *   load      --tls-cert, --tls-key and, for mutual TLS, --tls-client-ca
 *             into a new server context (one error line naming the file)
 *   start     the first context on the listeners, and the rotation thread
 *   reload    (SIGHUP, on worker 0) a new context from the files: on the
 *             listeners for new handshakes, or, when a file fails to load,
 *             the old one kept; one log line either way
 *   rotate    a thread that wakes every --tls-ticket-rotate seconds and
 *             rotates the current context's ticket key (tickets under the
 *             previous key still resume)
 *
 * The current context is the daemon's own reference; the server holds
 * others (one per listener, one per connection), so replacing it never
 * disturbs a connection.  `lock` guards the pointer between the reload
 * (worker 0) and the rotation thread.
 */
#include "serve.h"

#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct serve_tls {
    const serve_opts *o;
    sk_server *srv;
    size_t *indexes; /* the TLS listeners' service indexes */
    size_t n;
    sk_tls_ctx *ctx; /* current; the daemon's reference */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    pthread_t rotator;
    bool rotating;
};

/*
 * A server context from the options.  Returns 0, or the error code with
 * "FILE: reason" in why[].
 */
static int tls_load(const serve_opts *o, sk_tls_ctx **out, char *why, size_t size)
{
    sk_tls_ctx *ctx;
    const char *file = o->tls_cert;
    int rc = sk_tls_ctx_new(&ctx, SK_TLS_SERVER);

    if (rc < 0) {
        snprintf(why, size, "%s", sk_strerror(rc));
        return rc;
    }
    rc = sk_tls_ctx_load_cert_chain(ctx, o->tls_cert, o->tls_key);
    if (rc == 0 && o->tls_client_ca != NULL) {
        file = o->tls_client_ca;
        rc = sk_tls_ctx_load_verify_locations(ctx, o->tls_client_ca, NULL);
        if (rc == 0)
            rc = sk_tls_ctx_set_verify_mode(ctx, SK_TLS_VERIFY_REQUIRED);
    }
    if (rc < 0) {
        snprintf(why, size, "%s%s%s: %s", file, file == o->tls_cert ? " / " : "",
                 file == o->tls_cert ? o->tls_key : "", sk_strerror(rc));
        sk_tls_ctx_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

/* Puts ctx on every TLS listener.  Returns 0 or the first error. */
static int tls_install(serve_tls *t, sk_tls_ctx *ctx)
{
    for (size_t i = 0; i < t->n; i++) {
        int rc = sk_server_set_tls(t->srv, t->indexes[i], ctx);

        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The rotation thread: one rotation per period until told to stop. */
static void *tls_rotate_main(void *arg)
{
    serve_tls *t = arg;
    struct timespec due;
    double period = t->o->tls_ticket_rotate;

    pthread_mutex_lock(&t->lock);
    clock_gettime(CLOCK_MONOTONIC, &due);
    while (!t->stopping) {
        due.tv_sec += (time_t)period;
        due.tv_nsec += (long)((period - (double)(time_t)period) * 1e9);
        if (due.tv_nsec >= 1000000000L) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000L;
        }
        while (!t->stopping && pthread_cond_timedwait(&t->wake, &t->lock, &due) != ETIMEDOUT)
            ;
        if (t->stopping)
            break;
        int rc = sk_tls_ctx_rotate_ticket_keys(t->ctx);

        if (rc < 0)
            fprintf(stderr, "event=tls_rotate error=\"%s\"\n", sk_strerror(rc));
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static int tls_rotator_start(serve_tls *t)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);

    if (rc == 0) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        rc = pthread_cond_init(&t->wake, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (rc == 0) {
        rc = pthread_create(&t->rotator, NULL, tls_rotate_main, t);
        if (rc != 0)
            pthread_cond_destroy(&t->wake);
    }
    t->rotating = rc == 0;
    return -rc;
}

int serve_tls_start(serve_tls **out, const serve_opts *o, sk_server *srv,
                    const size_t *indexes, size_t n)
{
    serve_tls *t;
    char why[1024];
    int rc;

    *out = NULL;
    if (!serves_tls(o))
        return 0;
    t = calloc(1, sizeof(*t));
    if (t == NULL || (t->indexes = malloc((n ? n : 1) * sizeof(*indexes))) == NULL) {
        free(t);
        cli_error("serve", "out of memory");
        return -1;
    }
    memcpy(t->indexes, indexes, n * sizeof(*indexes));
    t->n = n;
    t->o = o;
    t->srv = srv;
    pthread_mutex_init(&t->lock, NULL);
    rc = tls_load(o, &t->ctx, why, sizeof(why));
    if (rc < 0) {
        cli_error("--tls-cert", "%s", why);
        goto fail;
    }
    rc = tls_install(t, t->ctx);
    if (rc == 0)
        rc = tls_rotator_start(t);
    if (rc < 0) {
        cli_error_code("serve", rc);
        goto fail;
    }
    *out = t;
    return 0;

fail:
    serve_tls_stop(t);
    return -1;
}

void serve_tls_reload(serve_tls *t, void (*log)(const char *fmt, ...))
{
    char why[1024];
    sk_tls_ctx *ctx, *old;
    int rc;

    if (t == NULL)
        return;
    rc = tls_load(t->o, &ctx, why, sizeof(why));
    if (rc < 0) {
        log("event=reload tls=kept error=\"%s\"", why);
        return;
    }
    rc = tls_install(t, ctx);
    if (rc < 0) {
        /* Some listeners may have the new one: the old stays the one
         * rotated, and both are valid certificates. */
        log("event=reload tls=error error=\"%s\"", sk_strerror(rc));
        sk_tls_ctx_free(ctx);
        return;
    }
    pthread_mutex_lock(&t->lock);
    old = t->ctx;
    t->ctx = ctx;
    pthread_mutex_unlock(&t->lock);
    sk_tls_ctx_free(old);
    log("event=reload tls=ok cert=%s", t->o->tls_cert);
}

void serve_tls_stop(serve_tls *t)
{
    if (t == NULL)
        return;
    if (t->rotating) {
        pthread_mutex_lock(&t->lock);
        t->stopping = true;
        pthread_cond_signal(&t->wake);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->rotator, NULL);
        pthread_cond_destroy(&t->wake);
    }
    pthread_mutex_destroy(&t->lock);
    sk_tls_ctx_free(t->ctx);
    free(t->indexes);
    free(t);
}
