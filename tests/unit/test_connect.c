/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_connect.c - sk_create_connection and the Happy Eyeballs racer
 * behind it (lib/create_connection.h), on loopback only.
 *
 * A "stalled" address is a loopback listener with backlog 0 whose accept
 * queue is full: the kernel then drops further SYNs, so a connect to it
 * neither succeeds nor fails until long after these tests end.
 */
#include "sk_test.h"
#include "create_connection.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

/* A TCP listener on `ip` port 0; its address (port resolved) in *bound. */
static sk_sock *listen_on(const char *ip, int backlog, sk_addr *bound)
{
    sk_sock *s;
    sk_addr a;

    CHECK_OK(sk_addr_from_ip(&a, ip, 0, AF_UNSPEC));
    CHECK_OK(sk_create_server(&s, &a, SOCK_STREAM, backlog, 0));
    CHECK_OK(sk_sock_getsockname(s, bound));
    return s;
}

/* A bound socket that does not listen: connects to it are refused, and
 * holding it keeps the port from being reused by a parallel test. */
static sk_sock *refusing_on(const char *ip, sk_addr *bound)
{
    sk_sock *s;
    sk_addr a;

    CHECK_OK(sk_addr_from_ip(&a, ip, 0, AF_UNSPEC));
    CHECK_OK(sk_sock_open(&s, sk_addr_family(&a), SOCK_STREAM, 0));
    CHECK_OK(sk_sock_bind(s, &a));
    CHECK_OK(sk_sock_getsockname(s, bound));
    return s;
}

#define MAX_FILL 16

/* A listener whose accept queue is full, and the connections filling it. */
struct stalled {
    sk_sock *listener;
    sk_addr addr;
    sk_sock *fill[MAX_FILL];
    int nfill;
};

/* True when a non-blocking connect on `s` completes within `timeout`. */
static bool connects_within(sk_sock *s, int timeout_ms)
{
    struct pollfd pfd = { .fd = sk_sock_fileno(s), .events = POLLOUT };
    int n;

    while ((n = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    CHECK(n >= 0);
    return n == 1;
}

/*
 * Connects to a backlog-0 listener until one attempt hangs: from then on
 * the queue is full.  How many fit first differs between kernels.
 */
static void stall_start(struct stalled *st, const char *ip)
{
    memset(st, 0, sizeof(*st));
    st->listener = listen_on(ip, 0, &st->addr);
    while (st->nfill < MAX_FILL) {
        sk_sock *c;
        int rc;

        CHECK_OK(sk_sock_open(&c, sk_addr_family(&st->addr), SOCK_STREAM, 0));
        CHECK_OK(sk_sock_settimeout(c, 0.0));
        st->fill[st->nfill++] = c;
        rc = sk_sock_connect(c, &st->addr);
        CHECK(rc == 0 || rc == -EINPROGRESS);
        if (rc == -EINPROGRESS && !connects_within(c, 100))
            return;
    }
    SK_SKIP("a backlog-0 listener never stopped accepting SYNs here");
}

static void stall_stop(struct stalled *st)
{
    for (int i = 0; i < st->nfill; i++)
        sk_sock_free(st->fill[i]);
    sk_sock_free(st->listener);
}

/* Descriptors open in this process. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (d == NULL)
        SK_SKIP("no /proc/self/fd to count descriptors");
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* Links `n` addresses into an sk_addrinfo list, as the resolver would. */
static sk_addrinfo *make_list(sk_addrinfo *nodes, const sk_addr *addrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&nodes[i], 0, sizeof(nodes[i]));
        nodes[i].family = sk_addr_family(&addrs[i]);
        nodes[i].type = SOCK_STREAM;
        nodes[i].protocol = IPPROTO_TCP;
        nodes[i].addr = addrs[i];
        nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
    }
    return nodes;
}

static int64_t deadline_in(double seconds)
{
    return sk__now_ns() + (int64_t)(seconds * 1e9);
}

/* Accepts one connection on `l` (within 2 s) and returns the peer. */
static void accept_one(sk_sock *l, sk_addr *peer)
{
    sk_sock *c;

    CHECK_OK(sk_sock_settimeout(l, 2.0));
    CHECK_OK(sk_sock_accept(l, &c, peer));
    sk_sock_free(c);
}

static void port_text(const sk_addr *a, char *buf, size_t size)
{
    snprintf(buf, size, "%d", sk_addr_port(a));
}

static bool have_ipv6(void)
{
    sk_sock *s;
    sk_addr a;
    int rc;

    CHECK_OK(sk_addr_from_ip(&a, "::1", 0, AF_INET6));
    if (sk_sock_open(&s, AF_INET6, SOCK_STREAM, 0) < 0)
        return false;
    rc = sk_sock_bind(s, &a);
    sk_sock_free(s);
    return rc == 0;
}

/* ---- the public call --------------------------------------------------------- */

SK_TEST(connect_by_ip)
{
    sk_sock *l, *c;
    sk_addr la, peer, local;
    char port[8];
    int fl;

    l = listen_on("127.0.0.1", -1, &la);
    port_text(&la, port, sizeof(port));
    CHECK_OK(sk_create_connection(&c, "127.0.0.1", port, AF_UNSPEC, 2.0, NULL));
    CHECK_OK(sk_sock_getpeername(c, &peer));
    CHECK(sk_addr_equal(&peer, &la));
    CHECK_EQ(sk_sock_family(c), AF_INET);
    CHECK_EQ(sk_sock_type(c), SOCK_STREAM);
    /* The winner takes the requested timeout, in a timed (non-blocking)
     * descriptor mode, and is close-on-exec. */
    CHECK(sk_sock_gettimeout(c) == 2.0);
    fl = fcntl(sk_sock_fileno(c), F_GETFL);
    CHECK(fl >= 0 && (fl & O_NONBLOCK));
    CHECK(fcntl(sk_sock_fileno(c), F_GETFD) & FD_CLOEXEC);
    CHECK_OK(sk_sock_getsockname(c, &local));
    accept_one(l, &peer);
    CHECK(sk_addr_equal(&peer, &local));
    sk_sock_free(c);
    sk_sock_free(l);
}

SK_TEST(connect_by_localhost)
{
    sk_addrinfo *res;
    sk_sock *l, *c;
    sk_addr la, peer;
    char port[8];
    double t0, took;

    l = listen_on("127.0.0.1", -1, &la);
    port_text(&la, port, sizeof(port));
    if (sk_getaddrinfo("localhost", port, AF_INET, SOCK_STREAM, 0, 0, 2.0, &res) < 0)
        SK_SKIP("localhost has no IPv4 address here (see /etc/hosts)");
    sk_addrinfo_free(res);
    /* Should localhost list ::1 first, nothing listens there: that attempt
     * is refused at once and the IPv4 one must start right away rather
     * than 250 ms later. */
    t0 = sk_test_now();
    CHECK_OK(sk_create_connection(&c, "localhost", port, AF_UNSPEC, 5.0, NULL));
    took = sk_test_now() - t0;
    CHECK_TIME(took, 0.0, 1.0);
    CHECK_OK(sk_sock_getpeername(c, &peer));
    CHECK(sk_addr_equal(&peer, &la));
    sk_sock_free(c);
    sk_sock_free(l);
}

SK_TEST(connect_timeout_modes)
{
    sk_sock *l, *c;
    sk_addr la;
    char port[8];
    int fl;

    l = listen_on("127.0.0.1", -1, &la);
    port_text(&la, port, sizeof(port));

    /* No limit: a blocking descriptor. */
    CHECK_OK(sk_create_connection(&c, "127.0.0.1", port, AF_INET, SK_TIMEOUT_NONE, NULL));
    CHECK(sk_sock_gettimeout(c) == SK_TIMEOUT_NONE);
    fl = fcntl(sk_sock_fileno(c), F_GETFL);
    CHECK(fl >= 0 && !(fl & O_NONBLOCK));
    sk_sock_free(c);

    /* The process default, whatever it is at the time of the call. */
    CHECK_OK(sk_setdefaulttimeout(3.5));
    CHECK_OK(sk_create_connection(&c, "127.0.0.1", port, AF_INET, SK_TIMEOUT_DEFAULT,
                                  NULL));
    CHECK(sk_sock_gettimeout(c) == 3.5);
    sk_sock_free(c);
    CHECK_OK(sk_setdefaulttimeout(SK_TIMEOUT_NONE));
    CHECK_OK(sk_create_connection(&c, "127.0.0.1", port, AF_INET, SK_TIMEOUT_DEFAULT,
                                  NULL));
    CHECK(sk_sock_gettimeout(c) == SK_TIMEOUT_NONE);
    fl = fcntl(sk_sock_fileno(c), F_GETFL);
    CHECK(fl >= 0 && !(fl & O_NONBLOCK));
    sk_sock_free(c);

    /* Bad timeouts and families are refused before anything happens. */
    CHECK_ERR(sk_create_connection(&c, "127.0.0.1", port, AF_INET, -5.0, NULL), -EINVAL);
    CHECK_ERR(sk_create_connection(&c, "127.0.0.1", port, AF_UNIX, 1.0, NULL),
              -EAFNOSUPPORT);
    sk_sock_free(l);
}

SK_TEST(connect_nonblocking)
{
    sk_sock *l, *c = NULL;
    sk_addr la;
    char port[8];
    double t0;
    int rc;

    /* Timeout 0: only a connect that completes at once can win; otherwise
     * the call fails with -EAGAIN instead of waiting. */
    l = listen_on("127.0.0.1", -1, &la);
    port_text(&la, port, sizeof(port));
    t0 = sk_test_now();
    rc = sk_create_connection(&c, "127.0.0.1", port, AF_INET, 0.0, NULL);
    CHECK_TIME(sk_test_now() - t0, 0.0, 0.1);
    if (rc == 0)
        CHECK(sk_sock_gettimeout(c) == 0.0);
    else
        CHECK_ERR(rc, -EAGAIN);
    sk_sock_free(c);
    sk_sock_free(l);
}

SK_TEST(connect_refused)
{
    sk_sock *r, *c = NULL;
    sk_addr ra;
    char port[8];
    double t0;

    r = refusing_on("127.0.0.1", &ra);
    port_text(&ra, port, sizeof(port));
    t0 = sk_test_now();
    CHECK_ERR(sk_create_connection(&c, "127.0.0.1", port, AF_UNSPEC, 2.0, NULL),
              -ECONNREFUSED);
    CHECK_TIME(sk_test_now() - t0, 0.0, 1.0);
    CHECK(c == NULL);
    sk_sock_free(r);
}

SK_TEST(connect_unknown_host)
{
    sk_sock *c = NULL;
    sk_errkind kind;
    double t0, took;
    int rc;

    sk_test_isolate_network(); /* the DNS query must not leave the machine */
    t0 = sk_test_now();
    rc = sk_create_connection(&c, "no-such-host.invalid", "80", AF_UNSPEC, 1.0, NULL);
    took = sk_test_now() - t0;
    kind = sk_errkind_of(rc);
    if (kind != SK_ERRKIND_RESOLVER && kind != SK_ERRKIND_TIMEOUT)
        CHECK_ERR(rc, SK_EAI(EAI_NONAME));
    CHECK_TIME(took, 0.0, 1.0 + 0.1);
    CHECK(c == NULL);
}

SK_TEST(connect_deadline_all_stalled)
{
    struct stalled st;
    sk_sock *c = NULL;
    char port[8];
    double t0, took;
    int before;

    stall_start(&st, "127.0.0.1");
    port_text(&st.addr, port, sizeof(port));
    before = count_fds();
    t0 = sk_test_now();
    CHECK_ERR(sk_create_connection(&c, "127.0.0.1", port, AF_INET, 0.3, NULL),
              SK_ETIMEOUT);
    took = sk_test_now() - t0;
    CHECK_TIME(took, 0.3 - 0.001, 0.35 + 0.1);
    CHECK_EQ(count_fds(), before);
    stall_stop(&st);
}

SK_TEST(connect_source_address)
{
    sk_sock *l, *c;
    sk_addr la, src, local, peer;
    char port[8];

    l = listen_on("127.0.0.1", -1, &la);
    port_text(&la, port, sizeof(port));
    CHECK_OK(sk_addr_from_ip(&src, "127.0.0.2", 0, AF_INET));
    CHECK_OK(sk_create_connection(&c, "127.0.0.1", port, AF_UNSPEC, 2.0, &src));
    CHECK_OK(sk_sock_getsockname(c, &local));
    CHECK_EQ(local.u.in4.sin_addr.s_addr, src.u.in4.sin_addr.s_addr);
    CHECK(sk_addr_port(&local) > 0);
    accept_one(l, &peer);
    CHECK(sk_addr_equal(&peer, &local));
    sk_sock_free(c);

    /* A source of the other family cannot reach an IPv4-only host. */
    CHECK_OK(sk_addr_from_ip(&src, "::1", 0, AF_INET6));
    CHECK_ERR(sk_create_connection(&c, "127.0.0.1", port, AF_UNSPEC, 2.0, &src),
              -EAFNOSUPPORT);
    sk_sock_free(l);
}

/* ---- the racer, fed addresses directly ------------------------------------ */

SK_TEST(race_stalled_first)
{
    struct stalled st;
    sk_addrinfo nodes[2];
    sk_addr addrs[2], la, peer;
    sk_sock *l, *c;
    double t0, took;
    int before;

    stall_start(&st, "127.0.0.1");
    l = listen_on("127.0.0.1", -1, &la);
    addrs[0] = st.addr;
    addrs[1] = la;
    before = count_fds();
    t0 = sk_test_now();
    CHECK_OK(sk__connect_race(make_list(nodes, addrs, 2), NULL, deadline_in(5.0),
                              SK__CONNECT_ATTEMPT_DELAY_NS, &c));
    took = sk_test_now() - t0;
    /* The second address starts only after the attempt delay. */
    CHECK_TIME(took, 0.2, 1.5);
    CHECK_OK(sk_sock_getpeername(c, &peer));
    CHECK(sk_addr_equal(&peer, &la));
    /* The stalled attempt was closed: only the winner is new. */
    CHECK_EQ(count_fds(), before + 1);
    sk_sock_free(c);
    CHECK_EQ(count_fds(), before);
    sk_sock_free(l);
    stall_stop(&st);
}

SK_TEST(race_deadline_all_stalled)
{
    struct stalled st1, st2;
    sk_addrinfo nodes[3];
    sk_addr addrs[3];
    sk_sock *c = NULL;
    double t0, took;
    int before;

    stall_start(&st1, "127.0.0.1");
    stall_start(&st2, "127.0.0.1");
    addrs[0] = st1.addr;
    addrs[1] = st2.addr;
    addrs[2] = st1.addr;
    before = count_fds();
    /* A short attempt delay puts all three in flight before the deadline. */
    t0 = sk_test_now();
    CHECK_ERR(sk__connect_race(make_list(nodes, addrs, 3), NULL, deadline_in(0.3),
                               50 * 1000 * 1000LL, &c),
              SK_ETIMEOUT);
    took = sk_test_now() - t0;
    CHECK_TIME(took, 0.3 - 0.001, 0.35 + 0.1);
    CHECK(c == NULL);
    CHECK_EQ(count_fds(), before);
    stall_stop(&st2);
    stall_stop(&st1);
}

SK_TEST(race_failure_starts_next_at_once)
{
    sk_addrinfo nodes[3];
    sk_addr addrs[3], ra1, ra2, la, peer;
    sk_sock *r1, *r2, *l, *c;
    double t0;

    r1 = refusing_on("127.0.0.1", &ra1);
    r2 = refusing_on("127.0.0.1", &ra2);
    l = listen_on("127.0.0.1", -1, &la);
    addrs[0] = ra1;
    addrs[1] = ra2;
    addrs[2] = la;
    /* With a 3 s attempt delay, only failing fast gets to the third address
     * in time. */
    t0 = sk_test_now();
    CHECK_OK(sk__connect_race(make_list(nodes, addrs, 3), NULL, deadline_in(5.0),
                              3000 * 1000 * 1000LL, &c));
    CHECK_TIME(sk_test_now() - t0, 0.0, 1.0);
    CHECK_OK(sk_sock_getpeername(c, &peer));
    CHECK(sk_addr_equal(&peer, &la));
    sk_sock_free(c);
    sk_sock_free(l);
    sk_sock_free(r2);
    sk_sock_free(r1);
}

SK_TEST(race_all_refused)
{
    sk_addrinfo nodes[2];
    sk_addr addrs[2];
    sk_sock *r1, *r2, *c = NULL;
    int before;

    r1 = refusing_on("127.0.0.1", &addrs[0]);
    r2 = refusing_on("127.0.0.1", &addrs[1]);
    before = count_fds();
    CHECK_ERR(sk__connect_race(make_list(nodes, addrs, 2), NULL, deadline_in(5.0),
                               SK__CONNECT_ATTEMPT_DELAY_NS, &c),
              -ECONNREFUSED);
    CHECK(c == NULL);
    CHECK_EQ(count_fds(), before);
    CHECK_ERR(sk__connect_race(NULL, NULL, deadline_in(1.0), 0, &c), -EINVAL);
    sk_sock_free(r2);
    sk_sock_free(r1);
}

SK_TEST(race_interleaves_families)
{
    sk_addrinfo nodes[3];
    sk_addr addrs[3], peer;
    sk_sock *r6, *l6, *l4, *c;

    if (!have_ipv6())
        SK_SKIP("no IPv6 loopback");
    /* Resolver order: v6 (refused), v6 (listening), v4 (listening).  The
     * racer tries v6, v4, v6: once the first is refused the v4 address
     * goes next, so it wins, though the resolver put it last. */
    r6 = refusing_on("::1", &addrs[0]);
    l6 = listen_on("::1", -1, &addrs[1]);
    l4 = listen_on("127.0.0.1", -1, &addrs[2]);
    CHECK_OK(sk__connect_race(make_list(nodes, addrs, 3), NULL, deadline_in(5.0),
                              SK__CONNECT_ATTEMPT_DELAY_NS, &c));
    CHECK_OK(sk_sock_getpeername(c, &peer));
    CHECK(sk_addr_equal(&peer, &addrs[2]));
    CHECK_EQ(sk_sock_family(c), AF_INET);
    sk_sock_free(c);
    sk_sock_free(l4);
    sk_sock_free(l6);
    sk_sock_free(r6);
}

SK_TEST(race_ipv6_stalled_ipv4_wins)
{
    struct stalled st;
    sk_addrinfo nodes[2];
    sk_addr addrs[2], peer;
    sk_sock *l4, *c;
    double t0;
    int before;

    if (!have_ipv6())
        SK_SKIP("no IPv6 loopback");
    /* The classic case: IPv6 first but black-holed, IPv4 fine. */
    stall_start(&st, "::1");
    l4 = listen_on("127.0.0.1", -1, &addrs[1]);
    addrs[0] = st.addr;
    before = count_fds();
    t0 = sk_test_now();
    CHECK_OK(sk__connect_race(make_list(nodes, addrs, 2), NULL, deadline_in(5.0),
                              SK__CONNECT_ATTEMPT_DELAY_NS, &c));
    CHECK_TIME(sk_test_now() - t0, 0.2, 1.5);
    CHECK_OK(sk_sock_getpeername(c, &peer));
    CHECK(sk_addr_equal(&peer, &addrs[1]));
    sk_sock_free(c);
    CHECK_EQ(count_fds(), before);
    sk_sock_free(l4);
    stall_stop(&st);
}
