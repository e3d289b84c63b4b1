/*
 * resolve.c - name resolution: getaddrinfo with a deadline, the gethostby*
 * family, services, and the local host name.
 *
 * Map:
 *  - sk_getaddrinfo: numeric hosts are converted inline; names go to a
 *    detached worker thread running the blocking getaddrinfo(3) while the
 *    caller waits on a condition variable until its deadline.  The request
 *    is reference counted so whichever side finishes last frees it: a
 *    caller that gave up never waits for, nor leaks, the worker's answer.
 *  - sk_gethostbyname_ex / sk_gethostbyaddr: the reentrant _r calls with a
 *    buffer grown on ERANGE, packed into one sk_hostent allocation.
 *  - sk_gethostname, sk_getfqdn (CPython's algorithm), sk_gethostbyname.
 *  - sk_getservbyname / sk_getservbyport: the reentrant _r calls.
 */
#define _GNU_SOURCE /* EAI_NODATA, EAI_ADDRFAMILY */

#include "internal.h"
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The largest buffer the _r lookups may grow to before giving up. */
#define LOOKUP_BUF_MAX (1u << 20)

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

/* Runs `fn` and converts its answer: the common tail of every path. */
static int lookup_now(sk__gai_fn fn, const char *host, const char *service,
                      const struct addrinfo *hints, sk_addrinfo **out)
{
    struct addrinfo *res = NULL;
    int rc = fn(host, service, hints, &res);

    if (rc != 0)
        return sk__eai_code(rc, errno);
    rc = convert_list(res, out);
    freeaddrinfo(res);
    return rc;
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
    if (eai != 0)
        return sk__eai_code(eai, saved_errno);
    rc = convert_list(res, out);
    freeaddrinfo(res);
    return rc;
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
 * Numeric hosts, the wildcard and "<broadcast>" are answered inline by
 * getaddrinfo with AI_NUMERICHOST (it consults only local files, for a
 * service name).  Anything else is a name: looked up on the caller's thread
 * when there is no deadline (nothing to give up on), else on a worker.  Without a port the wildcard gets port
 * 0, as getaddrinfo needs one of host and service.
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
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_protocol = proto;
    hints.ai_flags = flags;
    if (host == NULL || host[0] == '\0') {
        host = NULL;
        hints.ai_flags |= AI_PASSIVE;
        if (port == NULL)
            port = "0";
    } else if (strcmp(host, "<broadcast>") == 0) {
        host = "255.255.255.255";
    }

    hints.ai_flags |= AI_NUMERICHOST;
    rc = lookup_now(getaddrinfo, host, port, &hints, out);
    if (rc != SK_EAI(EAI_NONAME) || (flags & AI_NUMERICHOST) || host == NULL ||
        host_is_numeric(host))
        return rc;

    hints.ai_flags = flags;
    if (fn == NULL)
        fn = getaddrinfo;
    deadline = sk__deadline_from_timeout(timeout);
    if (deadline == SK__NO_DEADLINE)
        return lookup_now(fn, host, port, &hints, out);
    return lookup_threaded(fn, host, port, &hints, deadline, out);
}

/* ====================================================================== */
/* Host entries                                                           */
/* ====================================================================== */

/* Our code for a gethostby*_r failure: h_errno mapped onto EAI codes. */
static int herrno_code(int herr, int rc)
{
    switch (herr) {
    case HOST_NOT_FOUND:
        return SK_EAI(EAI_NONAME);
    case TRY_AGAIN:
        return SK_EAI(EAI_AGAIN);
    case NO_RECOVERY:
        return SK_EAI(EAI_FAIL);
    case NO_DATA:
#ifdef EAI_NODATA
        return SK_EAI(EAI_NODATA);
#else
        return SK_EAI(EAI_NONAME);
#endif
    case NETDB_INTERNAL:
        return rc > 0 ? -rc : SK_EAI(EAI_FAIL);
    default:
        return SK_EAI(EAI_FAIL);
    }
}

int sk__herrno_code(int herr, int rc)
{
    return herrno_code(herr, rc);
}

/* Length of a NULL-terminated string array. */
static size_t count_strings(char *const *v)
{
    size_t n = 0;

    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

/*
 * Packs a hostent into one allocation: the sk_hostent, then its two pointer
 * arrays, then the strings.  Freed by one free().
 */
static int hostent_pack(const struct hostent *he, sk_hostent **out)
{
    size_t naliases = count_strings(he->h_aliases);
    size_t naddrs = count_strings(he->h_addr_list);
    size_t bytes = sizeof(sk_hostent) + (naliases + naddrs + 2) * sizeof(char *) +
                   strlen(he->h_name) + 1 + naddrs * INET6_ADDRSTRLEN;
    sk_hostent *h;
    char *p;

    for (size_t i = 0; i < naliases; i++)
        bytes += strlen(he->h_aliases[i]) + 1;
    h = malloc(bytes);
    if (h == NULL)
        return -ENOMEM;
    h->aliases = (char **)(h + 1);
    h->addrs = h->aliases + naliases + 1;
    p = (char *)(h->addrs + naddrs + 1);
    h->name = p;
    p = stpcpy(p, he->h_name) + 1;
    for (size_t i = 0; i < naliases; i++) {
        h->aliases[i] = p;
        p = stpcpy(p, he->h_aliases[i]) + 1;
    }
    h->aliases[naliases] = NULL;
    for (size_t i = 0; i < naddrs; i++) {
        h->addrs[i] = p;
        if (inet_ntop(he->h_addrtype, he->h_addr_list[i], p, INET6_ADDRSTRLEN) == NULL)
            p[0] = '\0';
        p += strlen(p) + 1;
    }
    h->addrs[naddrs] = NULL;
    *out = h;
    return 0;
}

/* A gethostby*_r query: by name when `name` is set, else by address. */
struct host_query {
    const char *name;
    const void *addr;
    socklen_t addrlen;
    int family;
};

static int host_query_run(const struct host_query *q, struct hostent *he, char *buf,
                          size_t len, struct hostent **res, int *herr)
{
    if (q->name != NULL)
        return gethostbyname2_r(q->name, q->family, he, buf, len, res, herr);
    return gethostbyaddr_r(q->addr, q->addrlen, q->family, he, buf, len, res, herr);
}

/* Runs the query with a buffer doubled on ERANGE and packs the answer. */
static int host_lookup(const struct host_query *q, sk_hostent **out)
{
    struct hostent he, *res = NULL;
    size_t len = 1024;
    char *buf = NULL, *grown;
    int rc, herr = 0;

    for (;;) {
        grown = realloc(buf, len);
        if (grown == NULL) {
            rc = -ENOMEM;
            goto done;
        }
        buf = grown;
        rc = host_query_run(q, &he, buf, len, &res, &herr);
        if (rc != ERANGE || len >= LOOKUP_BUF_MAX)
            break;
        len *= 2;
    }
    if (res == NULL)
        rc = rc == ERANGE ? -ERANGE : herrno_code(herr, rc);
    else
        rc = hostent_pack(res, out);
done:
    free(buf);
    return rc;
}

int sk_gethostbyname_ex(const char *name, sk_hostent **out)
{
    struct host_query q = {.name = name, .family = AF_INET};

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (name == NULL)
        return SK_EAI(EAI_NONAME);
    return host_lookup(&q, out);
}

/* The reverse lookup of an INET/INET6 address. */
static int hostent_by_addr(const sk_addr *a, sk_hostent **out)
{
    struct host_query q = {.family = sk_addr_family(a)};

    if (q.family == AF_INET) {
        q.addr = &a->u.in4.sin_addr;
        q.addrlen = sizeof(a->u.in4.sin_addr);
    } else {
        q.addr = &a->u.in6.sin6_addr;
        q.addrlen = sizeof(a->u.in6.sin6_addr);
    }
    return host_lookup(&q, out);
}

int sk_gethostbyaddr(const char *ip, sk_hostent **out)
{
    sk_addr a;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (ip == NULL || ip[0] == '\0' || sk_addr_from_ip(&a, ip, 0, AF_UNSPEC) < 0)
        return SK_EBADADDR;
    return hostent_by_addr(&a, out);
}

void sk_hostent_free(sk_hostent *h)
{
    free(h);
}

/* ====================================================================== */
/* The local host                                                         */
/* ====================================================================== */

/* Copies a string into buf[size]; returns its length or -ENOSPC. */
static int copy_out(const char *text, char *buf, size_t size)
{
    size_t len = strlen(text);

    if (buf == NULL || len >= size)
        return -ENOSPC;
    memcpy(buf, text, len + 1);
    return (int)len;
}

int sk_gethostname(char *buf, size_t size)
{
    char name[HOST_NAME_MAX + 1];

    if (gethostname(name, sizeof(name)) < 0)
        return -errno;
    name[sizeof(name) - 1] = '\0';
    return copy_out(name, buf, size);
}

/* The first name with a dot among h's name and aliases, else its name. */
static const char *fqdn_pick(const sk_hostent *h)
{
    if (strchr(h->name, '.') != NULL)
        return h->name;
    for (char **a = h->aliases; *a != NULL; a++)
        if (strchr(*a, '.') != NULL)
            return *a;
    return h->name;
}

/* The reverse entry of `name`'s first address (name resolved as needed). */
static int fqdn_lookup(const char *name, sk_hostent **out)
{
    sk_addrinfo *list;
    int rc = sk_getaddrinfo(name, NULL, AF_UNSPEC, SOCK_STREAM, 0, 0,
                            SK_TIMEOUT_NONE, &list);

    if (rc < 0)
        return rc;
    rc = hostent_by_addr(&list->addr, out);
    sk_addrinfo_free(list);
    return rc;
}

/*
 * CPython's getfqdn: surrounding white space is ignored; "", "0.0.0.0" and
 * "::" mean the local host.  Any resolver failure leaves the name itself as
 * the answer.
 */
int sk_getfqdn(const char *name, char *buf, size_t size)
{
    char host[NI_MAXHOST];
    const char *end;
    sk_hostent *h = NULL;
    int rc;

    if (name == NULL)
        name = "";
    name += strspn(name, " \t\r\n\f\v");
    for (end = name + strlen(name); end > name && strchr(" \t\r\n\f\v", end[-1]); end--)
        ;
    if ((size_t)(end - name) >= sizeof(host))
        return -ENOSPC;
    memcpy(host, name, (size_t)(end - name));
    host[end - name] = '\0';
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        rc = sk_gethostname(host, sizeof(host));
        if (rc < 0)
            return rc;
    }
    if (fqdn_lookup(host, &h) < 0)
        return copy_out(host, buf, size);
    rc = copy_out(fqdn_pick(h), buf, size);
    sk_hostent_free(h);
    return rc;
}

/* CPython's gethostbyname: the first IPv4 address, as text. */
int sk_gethostbyname(const char *name, char *buf, size_t size)
{
    char text[INET_ADDRSTRLEN];
    sk_addrinfo *list;
    int rc = sk_getaddrinfo(name, NULL, AF_INET, SOCK_STREAM, 0, 0, SK_TIMEOUT_NONE,
                            &list);

    if (rc < 0)
        return rc;
    rc = sk_addr_format_ip(&list->addr, text, sizeof(text));
    sk_addrinfo_free(list);
    return rc < 0 ? rc : copy_out(text, buf, size);
}

/* ====================================================================== */
/* Services                                                               */
/* ====================================================================== */

/* A getservby*_r query: by name when `name` is set, else by port. */
struct serv_query {
    const char *name;
    int port_be; /* network order, as getservbyport wants it */
    const char *proto;
};

/*
 * Runs the query with a buffer doubled on ERANGE.  On success stores the
 * entry in *res and returns the buffer it points into (the caller frees
 * it); NULL when not found or out of memory.
 */
static char *serv_lookup(const struct serv_query *q, struct servent *se,
                         struct servent **res)
{
    size_t len = 1024;
    char *buf = NULL, *grown;
    int rc;

    for (;;) {
        grown = realloc(buf, len);
        if (grown == NULL)
            break;
        buf = grown;
        *res = NULL;
        if (q->name != NULL)
            rc = getservbyname_r(q->name, q->proto, se, buf, len, res);
        else
            rc = getservbyport_r(q->port_be, q->proto, se, buf, len, res);
        if (rc != ERANGE || len >= LOOKUP_BUF_MAX)
            break;
        len *= 2;
    }
    if (*res == NULL) {
        free(buf);
        return NULL;
    }
    return buf;
}

int sk_getservbyname(const char *name, const char *proto)
{
    struct serv_query q = {.name = name, .proto = proto};
    struct servent se, *res = NULL;
    char *buf;
    int port;

    if (name == NULL || name[0] == '\0')
        return SK_EAI(EAI_SERVICE);
    buf = serv_lookup(&q, &se, &res);
    if (buf == NULL)
        return SK_EAI(EAI_SERVICE);
    port = ntohs((uint16_t)res->s_port);
    free(buf);
    return port;
}

int sk_getservbyport(int port, const char *proto, char *buf, size_t size)
{
    struct serv_query q = {.port_be = htons((uint16_t)port), .proto = proto};
    struct servent se, *res = NULL;
    char *sbuf;
    int rc;

    if (port < 0 || port > 65535)
        return SK_EAI(EAI_SERVICE);
    sbuf = serv_lookup(&q, &se, &res);
    if (sbuf == NULL)
        return SK_EAI(EAI_SERVICE);
    rc = copy_out(res->s_name, buf, size);
    free(sbuf);
    return rc;
}
