/* SPDX-License-Identifier: MIT */
/*
 * lib/resolve.c - getaddrinfo with a deadline.
 *
 * Map: numeric hosts, the wildcard and "<broadcast>" are converted inline;
 * names go to a detached worker thread running the blocking getaddrinfo(3)
 * while the caller waits on a condition variable until its deadline.  The
 * request is reference counted so whichever side finishes last frees it: a
 * caller that gave up never waits for, nor leaks, the worker's answer.  The
 * blocking call is reached through a pointer tests can replace (resolve.h).
 * The gethostby* / getservby* family lives in netdb.c.
 */

#include "internal.h"
#include "resolve.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ====================================================================== */
/* The blocking backend (a seam for tests)                                */
/* ====================================================================== */

static _Atomic(sk__gai_fn) gai_backend;
static atomic_int gai_pending;

void sk__resolve_set_backend(sk__gai_fn fn)
{
    atomic_store(&gai_backend, fn);
}

int sk__resolve_pending(void)
{
    return atomic_load(&gai_pending);
}

/* ====================================================================== */
/* Converting results                                                     */
/* ====================================================================== */

void sk_addrinfo_free(sk_addrinfo *list)
{
    while (list != NULL) {
        sk_addrinfo *next = list->next;

        free(list->canonname);
        free(list);
        list = next;
    }
}

/* One sk_addrinfo from one addrinfo; the canonical name only if asked. */
static sk_addrinfo *convert_one(const struct addrinfo *ai, bool canon)
{
    sk_addrinfo *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return NULL;
    n->family = ai->ai_family;
    n->type = ai->ai_socktype;
    n->protocol = ai->ai_protocol;
    memcpy(&n->addr.u, ai->ai_addr, ai->ai_addrlen);
    n->addr.len = ai->ai_addrlen;
    if (canon && ai->ai_canonname != NULL) {
        n->canonname = strdup(ai->ai_canonname);
        if (n->canonname == NULL) {
            free(n);
            return NULL;
        }
    }
    return n;
}

/*
 * Copies getaddrinfo's list into a new sk_addrinfo list (*out), keeping its
 * order.  Entries whose address would not fit an sk_addr are skipped.
 * Returns 0, SK_EAI(EAI_NONAME) if nothing usable remained, or -ENOMEM.
 */
static int convert_list(const struct addrinfo *res, sk_addrinfo **out)
{
    sk_addrinfo *head = NULL, **tail = &head;

    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_addr == NULL || ai->ai_addrlen > sizeof(struct sockaddr_storage))
            continue;
        *tail = convert_one(ai, ai == res);
        if (*tail == NULL) {
            sk_addrinfo_free(head);
            return -ENOMEM;
        }
        tail = &(*tail)->next;
    }
    if (head == NULL)
        return SK_EAI(EAI_NONAME);
    *out = head;
    return 0;
}

/*
 * Converts the answer of a finished getaddrinfo call (its return `eai`,
 * the errno it left, its list) into our code and list, freeing its list:
 * the common tail of the inline and the threaded lookup.
 */
static int lookup_result(int eai, int saved_errno, struct addrinfo *res,
                         sk_addrinfo **out)
{
    int rc;

    if (eai != 0)
        return sk__eai_code(eai, saved_errno);
    rc = convert_list(res, out);
    freeaddrinfo(res);
    return rc;
}

/* Runs `fn` on the caller's thread. */
static int lookup_now(sk__gai_fn fn, const char *host, const char *service,
                      const struct addrinfo *hints, sk_addrinfo **out)
{
    struct addrinfo *res = NULL;
    int eai = fn(host, service, hints, &res);

    return lookup_result(eai, errno, res, out);
}

/* ====================================================================== */
/* Lookups on a worker thread                                             */
/* ====================================================================== */

/*
 * One lookup shared by the caller and the worker.  `refs` counts the two
 * sides; everything below `lock` is guarded by it once the worker runs.
 */
struct gai_req {
    sk__gai_fn fn;
    char *host;
    char *service; /* NULL for none */
    struct addrinfo hints;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    bool done;
    int rc;               /* getaddrinfo's return */
    int saved_errno;      /* errno after it, for EAI_SYSTEM */
    struct addrinfo *res; /* owned by the request until the caller takes it */
};

/* Drops one reference; the last one frees the request and any result no
 * one took. */
static void req_release(struct gai_req *req)
{
    bool last;

    pthread_mutex_lock(&req->lock);
    last = --req->refs == 0;
    pthread_mutex_unlock(&req->lock);
    if (!last)
        return;
    if (req->res != NULL)
        freeaddrinfo(req->res);
    pthread_cond_destroy(&req->cond);
    pthread_mutex_destroy(&req->lock);
    free(req->service);
    free(req->host);
    free(req);
    atomic_fetch_sub(&gai_pending, 1);
}

/* A condition variable that waits on CLOCK_MONOTONIC, the deadlines' clock. */
static int cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);

    if (rc != 0)
        return -rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return -rc;
}

/* Allocates a request holding copies of the arguments and two references. */
static int req_new(struct gai_req **out, sk__gai_fn fn, const char *host,
                   const char *service, const struct addrinfo *hints)
{
    struct gai_req *req = calloc(1, sizeof(*req));
    int rc = -ENOMEM;

    if (req == NULL)
        return -ENOMEM;
    req->host = strdup(host);
    if (req->host == NULL)
        goto fail_host;
    if (service != NULL && (req->service = strdup(service)) == NULL)
        goto fail_service;
    rc = -pthread_mutex_init(&req->lock, NULL);
    if (rc < 0)
        goto fail_service;
    rc = cond_init_monotonic(&req->cond);
    if (rc < 0)
        goto fail_cond;
    req->fn = fn;
    req->hints = *hints;
    req->refs = 2;
    atomic_fetch_add(&gai_pending, 1);
    *out = req;
    return 0;

fail_cond:
    pthread_mutex_destroy(&req->lock);
fail_service:
    free(req->service);
    free(req->host);
fail_host:
    free(req);
    return rc;
}

static void *gai_worker(void *arg)
{
    struct gai_req *req = arg;
    struct addrinfo *res = NULL;
    int rc = req->fn(req->host, req->service, &req->hints, &res);
    int saved_errno = errno;

    pthread_mutex_lock(&req->lock);
    req->res = res;
    req->rc = rc;
    req->saved_errno = saved_errno;
    req->done = true;
    pthread_cond_signal(&req->cond);
    pthread_mutex_unlock(&req->lock);
    req_release(req);
    return NULL;
}

/*
 * Starts the detached worker.  Every signal is blocked while it is created
 * so the thread inherits a full mask: signals meant for the program are
 * never delivered to a thread stuck in the resolver.
 */
static int start_worker(struct gai_req *req)
{
    pthread_attr_t attr;
    pthread_t tid;
    sigset_t all, old;
    int rc;

    rc = pthread_attr_init(&attr);
    if (rc != 0)
        return -rc;
    rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (rc == 0) {
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&tid, &attr, gai_worker, req);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_attr_destroy(&attr);
    return -rc;
}

/*
 * Waits until the worker is done or `deadline` passes.  When done, takes
 * the result out of the request (so releasing it does not free it) and
 * returns true.
 */
static bool wait_done(struct gai_req *req, int64_t deadline, int *rc,
                      int *saved_errno, struct addrinfo **res)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline / 1000000000),
        .tv_nsec = (long)(deadline % 1000000000),
    };
    bool done;
    int wrc = 0;

    pthread_mutex_lock(&req->lock);
    /* Any error (ETIMEDOUT, or EINVAL for a time the system cannot
     * represent) ends the wait; only a wake-up continues it. */
    while (!req->done && wrc == 0)
        wrc = pthread_cond_timedwait(&req->cond, &req->lock, &ts);
    done = req->done;
    if (done) {
        *rc = req->rc;
        *saved_errno = req->saved_errno;
        *res = req->res;
        req->res = NULL;
    }
    pthread_mutex_unlock(&req->lock);
    return done;
}

/* A name lookup bounded by `deadline` (a finite one). */
static int lookup_threaded(sk__gai_fn fn, const char *host, const char *service,
                           const struct addrinfo *hints, int64_t deadline,
                           sk_addrinfo **out)
{
    struct gai_req *req;
    struct addrinfo *res = NULL;
    int rc, eai = 0, saved_errno = 0;

    if (deadline <= sk__now_ns())
        return SK_ETIMEOUT;
    rc = req_new(&req, fn, host, service, hints);
    if (rc < 0)
        return rc;
    rc = start_worker(req);
    if (rc < 0) {
        /* No worker will drop its reference: drop both. */
        req->refs = 1;
        req_release(req);
        return rc;
    }
    if (!wait_done(req, deadline, &eai, &saved_errno, &res)) {
        req_release(req);
        return SK_ETIMEOUT;
    }
    req_release(req);
    return lookup_result(eai, saved_errno, res, out);
}

/* ====================================================================== */
/* sk_getaddrinfo                                                         */
/* ====================================================================== */

/* True when `host` is an address in text, not a name. */
static bool host_is_numeric(const char *host)
{
    uint32_t v4;

    return strchr(host, ':') != NULL || sk_inet_aton(host, &v4) == 0;
}

/*
 * Fills the hints and rewrites the special hosts: "" and NULL become the
 * AI_PASSIVE wildcard (with port 0 when no port is given, as getaddrinfo
 * needs a host or a service), "<broadcast>" the limited broadcast address.
 */
static void prepare(const char **host, const char **port, struct addrinfo *hints,
                    int family, int type, int proto, int flags)
{
    memset(hints, 0, sizeof(*hints));
    hints->ai_family = family;
    hints->ai_socktype = type;
    hints->ai_protocol = proto;
    hints->ai_flags = flags;
    if (*host == NULL || (*host)[0] == '\0') {
        *host = NULL;
        hints->ai_flags |= AI_PASSIVE;
        if (*port == NULL)
            *port = "0";
    } else if (strcmp(*host, "<broadcast>") == 0) {
        *host = "255.255.255.255";
    }
}

/*
 * Numeric hosts and the special ones are answered inline by getaddrinfo
 * with AI_NUMERICHOST (it consults only local files, for a service name).
 * Anything else is a name: looked up on the caller's thread when there is
 * no deadline (nothing to give up on), else on a worker.
 */
int sk_getaddrinfo(const char *host, const char *port, int family, int type,
                   int proto, int flags, double timeout, sk_addrinfo **out)
{
    struct addrinfo hints;
    sk__gai_fn fn = atomic_load(&gai_backend);
    int64_t deadline;
    int rc;

    if (out == NULL || isnan(timeout))
        return -EINVAL;
    *out = NULL;
    prepare(&host, &port, &hints, family, type, proto, flags);
    hints.ai_flags |= AI_NUMERICHOST;
    rc = lookup_now(getaddrinfo, host, port, &hints, out);
    if (rc != SK_EAI(EAI_NONAME) || (flags & AI_NUMERICHOST) || host == NULL ||
        host_is_numeric(host))
        return rc;

    hints.ai_flags &= ~AI_NUMERICHOST;
    if (fn == NULL)
        fn = getaddrinfo;
    deadline = sk__deadline_from_timeout(timeout);
    if (deadline == SK__NO_DEADLINE)
        return lookup_now(fn, host, port, &hints, out);
    return lookup_threaded(fn, host, port, &hints, deadline, out);
}
