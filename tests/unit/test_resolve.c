/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_resolve.c - name resolution.  Only names from /etc/hosts (localhost,
 * this machine's host name) and numeric hosts are looked up, except one name
 * in the reserved ".invalid" domain, which must fail (or time out) without
 * any answer from the internet.  The deadline is proven with a slow fake
 * resolver installed through resolve.h.
 */
#define _GNU_SOURCE /* EAI_NODATA, EAI_ADDRFAMILY */

#include "sk_test.h"
#include "resolve.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* ---- a fake blocking resolver ------------------------------------------ */

static atomic_int fake_calls;    /* lookups started */
static atomic_int fake_finished; /* lookups that returned */
static atomic_int fake_sleep_ms; /* how long each takes */
static atomic_int fake_result;   /* 0: answer with getaddrinfo; else this EAI code */
static atomic_int fake_errno;    /* errno to leave for EAI_SYSTEM */
static atomic_bool fake_signals_blocked;

/* Takes fake_sleep_ms, then answers like getaddrinfo for the numeric
 * loopback (so the result is freeable with freeaddrinfo) or fails. */
static int fake_gai(const char *host, const char *service, const struct addrinfo *hints,
                    struct addrinfo **res)
{
    sigset_t mask;
    int rc;

    atomic_fetch_add(&fake_calls, 1);
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    atomic_store(&fake_signals_blocked,
                 sigismember(&mask, SIGINT) == 1 && sigismember(&mask, SIGTERM) == 1 &&
                     sigismember(&mask, SIGALRM) == 1 && sigismember(&mask, SIGUSR1) == 1);
    sk_test_sleep_ms(atomic_load(&fake_sleep_ms));
    rc = atomic_load(&fake_result);
    if (rc == 0)
        rc = getaddrinfo(hints->ai_family == AF_INET6 ? "::1" : "127.0.0.1", service,
                         hints, res);
    else if (rc == EAI_SYSTEM)
        errno = atomic_load(&fake_errno);
    atomic_fetch_add(&fake_finished, 1);
    return rc;
}

static void install_fake(int sleep, int result)
{
    atomic_store(&fake_sleep_ms, sleep);
    atomic_store(&fake_result, result);
    sk__resolve_set_backend(fake_gai);
}

/* Waits (bounded) until no lookup request is left allocated. */
static void wait_requests_freed(double limit)
{
    double t0 = sk_test_now();

    while (sk__resolve_pending() != 0 && sk_test_now() - t0 < limit)
        sk_test_sleep_ms(10);
    CHECK_EQ(sk__resolve_pending(), 0);
}

/* Checks that `a` formats as `want`. */
static void check_addr(const sk_addr *a, const char *want)
{
    char buf[SK_ADDRSTRLEN];

    CHECK_OK(sk_addr_format(a, buf, sizeof(buf)));
    CHECK_STR(buf, want);
}

/* ---- getaddrinfo ------------------------------------------------------- */

SK_TEST(getaddrinfo_localhost)
{
    sk_addrinfo *list = NULL;
    int n = 0;

    CHECK_OK(sk_getaddrinfo("localhost", "80", AF_INET, SOCK_STREAM, 0, 0, 5.0, &list));
    CHECK(list != NULL);
    for (sk_addrinfo *ai = list; ai != NULL; ai = ai->next, n++) {
        CHECK_EQ(ai->family, AF_INET);
        CHECK_EQ(ai->type, SOCK_STREAM);
        CHECK_EQ(ai->protocol, IPPROTO_TCP);
        CHECK(ai->canonname == NULL);
    }
    CHECK(n >= 1);
    check_addr(&list->addr, "127.0.0.1:80");
    sk_addrinfo_free(list);
    wait_requests_freed(5.0);
}

SK_TEST(getaddrinfo_canonname)
{
    sk_addrinfo *list = NULL;

    CHECK_OK(sk_getaddrinfo("localhost", NULL, AF_INET, 0, 0, AI_CANONNAME, 5.0, &list));
    CHECK_STR(list->canonname, "localhost");
    for (sk_addrinfo *ai = list->next; ai != NULL; ai = ai->next)
        CHECK(ai->canonname == NULL);
    check_addr(&list->addr, "127.0.0.1:0");
    sk_addrinfo_free(list);
}

SK_TEST(getaddrinfo_own_hostname)
{
    char name[256];
    sk_addrinfo *list = NULL;
    int rc;

    CHECK_OK(sk_gethostname(name, sizeof(name)));
    rc = sk_getaddrinfo(name, "7", AF_UNSPEC, SOCK_DGRAM, 0, 0, 5.0, &list);
    if (rc < 0) {
        /* Not every machine lists its own name in /etc/hosts; it must then
         * fail as a resolver error or by the deadline, never otherwise. */
        int kind = sk_errkind_of(rc);

        CHECK(kind == SK_ERRKIND_RESOLVER || kind == SK_ERRKIND_TIMEOUT);
        SK_SKIP("the host name does not resolve here");
    }
    CHECK_EQ(list->type, SOCK_DGRAM);
    CHECK_EQ(sk_addr_port(&list->addr), 7);
    sk_addrinfo_free(list);
}

SK_TEST(getaddrinfo_numeric_inline)
{
    sk_addrinfo *list = NULL;

    /* A fake that would take 1 s proves numeric hosts never reach it. */
    install_fake(1000, 0);
    CHECK_OK(sk_getaddrinfo("127.0.0.1", "9", AF_UNSPEC, SOCK_STREAM, 0, 0, 0.0, &list));
    check_addr(&list->addr, "127.0.0.1:9");
    CHECK(list->next == NULL);
    sk_addrinfo_free(list);
    CHECK_OK(sk_getaddrinfo("::1", "9", AF_UNSPEC, SOCK_DGRAM, 0, 0, 0.0, &list));
    CHECK_EQ(list->family, AF_INET6);
    CHECK_EQ(list->protocol, IPPROTO_UDP);
    check_addr(&list->addr, "[::1]:9");
    sk_addrinfo_free(list);
    CHECK_OK(sk_getaddrinfo("fe80::1%1", "9", AF_INET6, SOCK_STREAM, 0, 0, 0.0, &list));
    CHECK_EQ(list->addr.u.in6.sin6_scope_id, 1);
    sk_addrinfo_free(list);
    CHECK_OK(sk_getaddrinfo("127.1", NULL, AF_INET, SOCK_STREAM, 0, 0, SK_TIMEOUT_NONE,
                            &list));
    check_addr(&list->addr, "127.0.0.1:0");
    sk_addrinfo_free(list);
    CHECK_EQ(atomic_load(&fake_calls), 0);
    CHECK_EQ(sk__resolve_pending(), 0);
}

SK_TEST(getaddrinfo_service_names)
{
    sk_addrinfo *list = NULL;

    if (access("/etc/services", R_OK) != 0)
        SK_SKIP("no readable /etc/services");
    CHECK_OK(sk_getaddrinfo("127.0.0.1", "daytime", AF_INET, SOCK_STREAM, 0, 0, 1.0,
                            &list));
    CHECK_EQ(sk_addr_port(&list->addr), 13);
    sk_addrinfo_free(list);
    CHECK_ERR(sk_getaddrinfo("127.0.0.1", "no-such-service", AF_INET, SOCK_STREAM, 0, 0,
                             1.0, &list),
              SK_EAI(EAI_SERVICE));
    CHECK(list == NULL);
}

SK_TEST(getaddrinfo_wildcard)
{
    sk_addrinfo *list = NULL;

    CHECK_OK(sk_getaddrinfo("", "8000", AF_INET, SOCK_STREAM, 0, 0, 0.0, &list));
    check_addr(&list->addr, "0.0.0.0:8000");
    sk_addrinfo_free(list);
    CHECK_OK(sk_getaddrinfo(NULL, "8000", AF_INET6, SOCK_STREAM, 0, 0, 0.0, &list));
    check_addr(&list->addr, "[::]:8000");
    sk_addrinfo_free(list);
    /* Without a port the wildcard gets port 0. */
    CHECK_OK(sk_getaddrinfo(NULL, NULL, AF_INET, SOCK_DGRAM, 0, 0, 0.0, &list));
    check_addr(&list->addr, "0.0.0.0:0");
    sk_addrinfo_free(list);
}

SK_TEST(getaddrinfo_broadcast)
{
    sk_addrinfo *list = NULL;

    CHECK_OK(sk_getaddrinfo("<broadcast>", "37", AF_UNSPEC, SOCK_DGRAM, 0, 0, 0.0, &list));
    CHECK_EQ(list->family, AF_INET);
    check_addr(&list->addr, "255.255.255.255:37");
    sk_addrinfo_free(list);
    CHECK_EQ(sk_errkind_of(sk_getaddrinfo("<broadcast>", "37", AF_INET6, SOCK_DGRAM, 0,
                                          0, 0.0, &list)),
             SK_ERRKIND_RESOLVER);
}

SK_TEST(getaddrinfo_errors)
{
    sk_addrinfo *list = (sk_addrinfo *)&list;
    double t0 = sk_test_now();

    CHECK_ERR(sk_getaddrinfo("localhost", "80", 0, 0, 0, AI_NUMERICHOST, 1.0, &list),
              SK_EAI(EAI_NONAME));
    CHECK(list == NULL);
    CHECK_EQ(sk_errkind_of(sk_getaddrinfo("::1", "80", AF_INET, 0, 0, 0, 1.0, &list)),
             SK_ERRKIND_RESOLVER);
    CHECK_EQ(sk_errkind_of(sk_getaddrinfo("1.2.3.4", "80", AF_INET6, 0, 0, 0, 1.0, &list)),
             SK_ERRKIND_RESOLVER);
    CHECK_EQ(sk_errkind_of(sk_getaddrinfo("127.0.0.1", "80", 12345, 0, 0, 0, 1.0, &list)),
             SK_ERRKIND_RESOLVER);
    /* Numeric and malformed hosts are answered without waiting. */
    CHECK_TIME(sk_test_now() - t0, 0, 0.5);
    CHECK_ERR(sk_getaddrinfo("localhost", "80", 0, 0, 0, 0, 1.0, NULL), -EINVAL);
    CHECK_ERR(sk_getaddrinfo("localhost", "80", 0, 0, 0, 0, NAN, &list), -EINVAL);
}

SK_TEST(getaddrinfo_invalid_tld)
{
    sk_addrinfo *list = NULL;
    double t0;
    int rc;

    /* The lookup goes to the configured name server; in an empty network
     * namespace that query fails locally instead of leaving the machine. */
    sk_test_isolate_network();
    t0 = sk_test_now();
    rc = sk_getaddrinfo("no-such-host.invalid", "80", AF_UNSPEC, SOCK_STREAM, 0, 0, 3.0,
                        &list);
    double took = sk_test_now() - t0;
    int kind = sk_errkind_of(rc);

    if (kind != SK_ERRKIND_RESOLVER && kind != SK_ERRKIND_TIMEOUT)
        sk_test_fail(__FILE__, __LINE__, "got %d (%s)", rc, sk_strerror(rc));
    CHECK(list == NULL);
    CHECK_TIME(took, 0, 3.0 + 0.3);
}

/* ---- the deadline ------------------------------------------------------ */

/* One lookup that cannot finish in time: it must end at its deadline, and
 * the worker must free the request when its late answer arrives. */
static void slow_lookup_times_out(void)
{
    sk_addrinfo *list = (sk_addrinfo *)&list;
    int finished = atomic_load(&fake_finished);
    double t0 = sk_test_now();
    int rc = sk_getaddrinfo("slow.example", "80", AF_INET, SOCK_STREAM, 0, 0, 0.2, &list);
    double took = sk_test_now() - t0;

    CHECK_ERR(rc, SK_ETIMEOUT);
    CHECK_EQ(sk_errkind_of(rc), SK_ERRKIND_TIMEOUT);
    CHECK(list == NULL);
    CHECK_TIME(took, 0.2, 0.25);
    /* The worker is still asleep and holds the request... */
    CHECK_EQ(sk__resolve_pending(), 1);
    CHECK_EQ(atomic_load(&fake_finished), finished);
    /* ...and frees it (with its answer) once it returns. */
    wait_requests_freed(5.0);
    CHECK_EQ(atomic_load(&fake_finished), finished + 1);
}

SK_TEST(deadline_slow_resolver)
{
    install_fake(1000, 0);
    slow_lookup_times_out();
    slow_lookup_times_out();
    CHECK_EQ(atomic_load(&fake_calls), 2);
    CHECK(atomic_load(&fake_signals_blocked));
}

SK_TEST(deadline_answer_in_time)
{
    sk_addrinfo *list = NULL;
    sigset_t before, after;

    pthread_sigmask(SIG_BLOCK, NULL, &before);
    install_fake(50, 0);
    for (int i = 0; i < 2; i++) {
        double t0 = sk_test_now();

        CHECK_OK(sk_getaddrinfo("fast.example", "80", AF_INET, SOCK_STREAM, 0, 0, 5.0,
                                &list));
        CHECK_TIME(sk_test_now() - t0, 0.05, 2.0);
        check_addr(&list->addr, "127.0.0.1:80");
        sk_addrinfo_free(list);
        wait_requests_freed(5.0);
    }
    /* The worker ran with every signal blocked; the caller's mask is as it was. */
    CHECK(atomic_load(&fake_signals_blocked));
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    CHECK_EQ(sigismember(&after, SIGINT), sigismember(&before, SIGINT));
    CHECK_EQ(sigismember(&after, SIGUSR1), sigismember(&before, SIGUSR1));
}

SK_TEST(deadline_zero_and_none)
{
    sk_addrinfo *list = (sk_addrinfo *)&list;

    /* A name with a zero timeout cannot be looked up without waiting. */
    install_fake(0, 0);
    CHECK_ERR(sk_getaddrinfo("any.example", "80", AF_INET, 0, 0, 0, 0.0, &list),
              SK_ETIMEOUT);
    CHECK(list == NULL);
    CHECK_EQ(atomic_load(&fake_calls), 0);
    /* No bound: the lookup runs on the caller's thread, so no request. */
    install_fake(100, 0);
    CHECK_OK(sk_getaddrinfo("any.example", "80", AF_INET, SOCK_STREAM, 0, 0,
                            SK_TIMEOUT_NONE, &list));
    check_addr(&list->addr, "127.0.0.1:80");
    sk_addrinfo_free(list);
    /* A timeout too long to represent is no bound either. */
    CHECK_OK(sk_getaddrinfo("any.example", "80", AF_INET, SOCK_STREAM, 0, 0, 1e300,
                            &list));
    sk_addrinfo_free(list);
    CHECK_EQ(atomic_load(&fake_calls), 2);
    CHECK_EQ(sk__resolve_pending(), 0);
}

SK_TEST(backend_errors_mapped)
{
    sk_addrinfo *list = NULL;

    install_fake(0, EAI_AGAIN);
    CHECK_ERR(sk_getaddrinfo("x.example", "80", 0, 0, 0, 0, 2.0, &list), SK_EAI(EAI_AGAIN));
    CHECK_ERR(sk_getaddrinfo("x.example", "80", 0, 0, 0, 0, SK_TIMEOUT_NONE, &list),
              SK_EAI(EAI_AGAIN));
    /* EAI_SYSTEM becomes the errno behind it, saved on the worker thread. */
    install_fake(0, EAI_SYSTEM);
    atomic_store(&fake_errno, EMFILE);
    CHECK_ERR(sk_getaddrinfo("x.example", "80", 0, 0, 0, 0, 2.0, &list), -EMFILE);
    CHECK_ERR(sk_getaddrinfo("x.example", "80", 0, 0, 0, 0, SK_TIMEOUT_NONE, &list),
              -EMFILE);
    CHECK(list == NULL);
    wait_requests_freed(5.0);
}

/* ---- host entries ------------------------------------------------------ */

static bool contains(char **v, const char *s)
{
    for (; *v != NULL; v++)
        if (strcmp(*v, s) == 0)
            return true;
    return false;
}

SK_TEST(gethostbyname_ex_localhost)
{
    sk_hostent *h = NULL;

    CHECK_OK(sk_gethostbyname_ex("localhost", &h));
    CHECK_STR(h->name, "localhost");
    CHECK(h->aliases != NULL);
    CHECK(contains(h->addrs, "127.0.0.1"));
    sk_hostent_free(h);
    CHECK_OK(sk_gethostbyname_ex("127.0.0.1", &h));
    CHECK_STR(h->name, "127.0.0.1");
    CHECK_STR(h->addrs[0], "127.0.0.1");
    CHECK(h->addrs[1] == NULL);
    sk_hostent_free(h);
    sk_hostent_free(NULL);
    CHECK_ERR(sk_gethostbyname_ex(NULL, &h), SK_EAI(EAI_NONAME));
    CHECK(h == NULL);
}

SK_TEST(gethostbyaddr_loopback)
{
    sk_hostent *h = NULL;

    CHECK_OK(sk_gethostbyaddr("127.0.0.1", &h));
    CHECK(h->name[0] != '\0');
    CHECK(contains(h->addrs, "127.0.0.1"));
    /* /etc/hosts lists localhost first for 127.0.0.1 on every system we
     * know; the name must at least resolve back to the address. */
    sk_hostent *back = NULL;
    CHECK_OK(sk_gethostbyname_ex(h->name, &back));
    CHECK(contains(back->addrs, "127.0.0.1"));
    sk_hostent_free(back);
    sk_hostent_free(h);
    CHECK_ERR(sk_gethostbyaddr("localhost", &h), SK_EBADADDR);
    CHECK_ERR(sk_gethostbyaddr("1.2.3", &h), SK_EBADADDR);
    CHECK_ERR(sk_gethostbyaddr("", &h), SK_EBADADDR);
    CHECK_ERR(sk_gethostbyaddr(NULL, &h), SK_EBADADDR);
    CHECK(h == NULL);
}

SK_TEST(herrno_mapping)
{
    CHECK_ERR(sk__herrno_code(HOST_NOT_FOUND, 0), SK_EAI(EAI_NONAME));
    CHECK_ERR(sk__herrno_code(TRY_AGAIN, 0), SK_EAI(EAI_AGAIN));
    CHECK_ERR(sk__herrno_code(NO_RECOVERY, 0), SK_EAI(EAI_FAIL));
#ifdef EAI_NODATA
    CHECK_ERR(sk__herrno_code(NO_DATA, 0), SK_EAI(EAI_NODATA));
#else
    CHECK_ERR(sk__herrno_code(NO_DATA, 0), SK_EAI(EAI_NONAME));
#endif
    CHECK_ERR(sk__herrno_code(NETDB_INTERNAL, ENOMEM), -ENOMEM);
    CHECK_ERR(sk__herrno_code(NETDB_INTERNAL, 0), SK_EAI(EAI_FAIL));
    CHECK_EQ(sk_errkind_of(sk__herrno_code(HOST_NOT_FOUND, 0)), SK_ERRKIND_RESOLVER);
}

SK_TEST(gethostbyname)
{
    char buf[INET_ADDRSTRLEN];

    CHECK_EQ(sk_gethostbyname("localhost", buf, sizeof(buf)), 9);
    CHECK_STR(buf, "127.0.0.1");
    CHECK_EQ(sk_gethostbyname("127.0.0.1", buf, sizeof(buf)), 9);
    CHECK_STR(buf, "127.0.0.1");
    CHECK_OK(sk_gethostbyname("", buf, sizeof(buf)));
    CHECK_STR(buf, "0.0.0.0");
    CHECK_OK(sk_gethostbyname("<broadcast>", buf, sizeof(buf)));
    CHECK_STR(buf, "255.255.255.255");
    CHECK_ERR(sk_gethostbyname("localhost", buf, 9), -ENOSPC);
    /* IPv4 only. */
    CHECK_EQ(sk_errkind_of(sk_gethostbyname("::1", buf, sizeof(buf))),
             SK_ERRKIND_RESOLVER);
}

/* ---- the local host ---------------------------------------------------- */

SK_TEST(hostname)
{
    char buf[256], ref[256];
    int n;

    CHECK_EQ(gethostname(ref, sizeof(ref)), 0);
    n = sk_gethostname(buf, sizeof(buf));
    CHECK_OK(n);
    CHECK(n > 0);
    CHECK_EQ(n, strlen(buf));
    CHECK_STR(buf, ref);
    CHECK_ERR(sk_gethostname(buf, (size_t)n), -ENOSPC);
    CHECK_EQ(sk_gethostname(buf, (size_t)n + 1), n);
}

/* Python's answer for getfqdn(name), or NULL when python3 is missing. */
static char *python_getfqdn(const char *name, char *buf, size_t size)
{
    char cmd[256];
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "python3 -c 'import socket,sys; print(socket.getfqdn(sys.argv[1]))' '%s' "
             "2>/dev/null",
             name);
    p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    if (fgets(buf, (int)size, p) == NULL) {
        pclose(p);
        return NULL;
    }
    buf[strcspn(buf, "\n")] = '\0';
    return pclose(p) == 0 ? buf : NULL;
}

SK_TEST(fqdn)
{
    char a[256], b[256], ref[256];

    CHECK_OK(sk_getfqdn(NULL, a, sizeof(a)));
    CHECK(a[0] != '\0');
    CHECK_OK(sk_getfqdn("", b, sizeof(b)));
    CHECK_STR(a, b);
    CHECK_OK(sk_getfqdn("0.0.0.0", b, sizeof(b)));
    CHECK_STR(a, b);
    CHECK_OK(sk_getfqdn("localhost", a, sizeof(a)));
    CHECK_OK(sk_getfqdn("  localhost \n", b, sizeof(b)));
    CHECK_STR(a, b);
    if (python_getfqdn("localhost", ref, sizeof(ref)) != NULL)
        CHECK_STR(a, ref);
    CHECK_OK(sk_gethostname(b, sizeof(b)));
    CHECK_OK(sk_getfqdn(b, a, sizeof(a)));
    if (python_getfqdn(b, ref, sizeof(ref)) != NULL)
        CHECK_STR(a, ref);
    CHECK_ERR(sk_getfqdn("localhost", a, 2), -ENOSPC);
}

SK_TEST(fqdn_falls_back_to_name)
{
    char buf[64];

    /* The name does not resolve: the answer is the name itself. */
    install_fake(0, EAI_NONAME);
    CHECK_EQ(sk_getfqdn("unresolvable.example", buf, sizeof(buf)), 20);
    CHECK_STR(buf, "unresolvable.example");
    install_fake(0, EAI_AGAIN);
    CHECK_OK(sk_getfqdn(" nodots ", buf, sizeof(buf)));
    CHECK_STR(buf, "nodots");
}

/* ---- services ---------------------------------------------------------- */

SK_TEST(services)
{
    char buf[32];

    if (access("/etc/services", R_OK) != 0)
        SK_SKIP("no readable /etc/services");
    CHECK_EQ(sk_getservbyname("daytime", "tcp"), 13);
    CHECK_EQ(sk_getservbyname("daytime", NULL), 13);
    CHECK_EQ(sk_getservbyname("time", "udp"), 37);
    CHECK_EQ(sk_getservbyport(37, "udp", buf, sizeof(buf)), 4);
    CHECK_STR(buf, "time");
    CHECK_OK(sk_getservbyport(13, NULL, buf, sizeof(buf)));
    CHECK_STR(buf, "daytime");
    CHECK_ERR(sk_getservbyport(13, "tcp", buf, 7), -ENOSPC);
}

SK_TEST(services_unknown)
{
    char buf[32];

    CHECK_ERR(sk_getservbyname("no-such-service", "tcp"), SK_EAI(EAI_SERVICE));
    CHECK_ERR(sk_getservbyname("daytime", "nosuchproto"), SK_EAI(EAI_SERVICE));
    CHECK_ERR(sk_getservbyname("", NULL), SK_EAI(EAI_SERVICE));
    CHECK_ERR(sk_getservbyname(NULL, NULL), SK_EAI(EAI_SERVICE));
    CHECK_ERR(sk_getservbyport(-1, "tcp", buf, sizeof(buf)), SK_EAI(EAI_SERVICE));
    CHECK_ERR(sk_getservbyport(65536, "tcp", buf, sizeof(buf)), SK_EAI(EAI_SERVICE));
    /* Port 0 is reserved and never names a service. */
    CHECK_ERR(sk_getservbyport(0, "tcp", buf, sizeof(buf)), SK_EAI(EAI_SERVICE));
    CHECK_EQ(sk_errkind_of(SK_EAI(EAI_SERVICE)), SK_ERRKIND_RESOLVER);
}
