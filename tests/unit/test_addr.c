/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_addr.c - building, parsing, formatting and comparing sk_addr.
 */
#include "sk_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <unistd.h>

/* Formats `a` and checks the text and the returned length. */
static void check_format(const sk_addr *a, const char *want)
{
    char buf[SK_ADDRSTRLEN + 128];
    int rc = sk_addr_format(a, buf, sizeof(buf));

    CHECK_OK(rc);
    CHECK_STR(buf, want);
    CHECK_EQ(rc, strlen(want));
}

/* text -> addr -> text gives the same text, and the two addrs are equal. */
static void check_round_trip(const char *text)
{
    char buf[SK_ADDRSTRLEN + 128];
    sk_addr a, b;

    CHECK_OK(sk_addr_parse(&a, text, -1));
    check_format(&a, text);
    CHECK_OK(sk_addr_format(&a, buf, sizeof(buf)));
    CHECK_OK(sk_addr_parse(&b, buf, -1));
    CHECK(sk_addr_equal(&a, &b));
}

SK_TEST(from_ip_v4)
{
    sk_addr a;

    CHECK_OK(sk_addr_from_ip(&a, "192.0.2.7", 80, AF_UNSPEC));
    CHECK_EQ(sk_addr_family(&a), AF_INET);
    CHECK_EQ(a.len, sizeof(struct sockaddr_in));
    CHECK_EQ(ntohl(a.u.in4.sin_addr.s_addr), 0xc0000207u);
    CHECK_EQ(sk_addr_port(&a), 80);
    CHECK_OK(sk_addr_from_ip(&a, "127.0.0.1", 65535, AF_INET));
    CHECK_EQ(sk_addr_port(&a), 65535);
    check_format(&a, "127.0.0.1:65535");
}

SK_TEST(from_ip_v6)
{
    sk_addr a;
    unsigned char want[16] = {0};

    want[15] = 1;
    CHECK_OK(sk_addr_from_ip(&a, "::1", 8080, AF_UNSPEC));
    CHECK_EQ(sk_addr_family(&a), AF_INET6);
    CHECK_EQ(a.len, sizeof(struct sockaddr_in6));
    CHECK_MEM(&a.u.in6.sin6_addr, want, 16);
    CHECK_EQ(a.u.in6.sin6_scope_id, 0);
    CHECK_EQ(sk_addr_port(&a), 8080);
    check_format(&a, "[::1]:8080");
    CHECK_OK(sk_addr_from_ip(&a, "fe80::1%7", 1, AF_INET6));
    CHECK_EQ(a.u.in6.sin6_scope_id, 7);
}

SK_TEST(from_ip_scope_name)
{
    unsigned lo = if_nametoindex("lo");
    char buf[SK_ADDRSTRLEN];
    sk_addr a;

    if (lo == 0)
        SK_SKIP("no interface named lo");
    CHECK_OK(sk_addr_from_ip(&a, "fe80::1%lo", 9, AF_UNSPEC));
    CHECK_EQ(a.u.in6.sin6_scope_id, lo);
    /* A numeric scope that names an interface formats as its name. */
    snprintf(buf, sizeof(buf), "fe80::1%%%u", lo);
    CHECK_OK(sk_addr_from_ip(&a, buf, 9, AF_UNSPEC));
    check_format(&a, "[fe80::1%lo]:9");
    CHECK_OK(sk_addr_format_ip(&a, buf, sizeof(buf)));
    CHECK_STR(buf, "fe80::1%lo");
    CHECK_ERR(sk_addr_from_ip(&a, "fe80::1%no-such-if0", 9, AF_UNSPEC), SK_EBADADDR);
}

SK_TEST(from_ip_special)
{
    sk_addr a;
    char buf[SK_ADDRSTRLEN];

    CHECK_OK(sk_addr_from_ip(&a, "", 7, AF_UNSPEC));
    check_format(&a, "0.0.0.0:7");
    CHECK_OK(sk_addr_from_ip(&a, NULL, 7, AF_INET));
    check_format(&a, "0.0.0.0:7");
    CHECK_OK(sk_addr_from_ip(&a, "", 7, AF_INET6));
    check_format(&a, "[::]:7");
    CHECK_OK(sk_addr_from_ip(&a, "<broadcast>", 9, AF_UNSPEC));
    CHECK_EQ(a.u.in4.sin_addr.s_addr, htonl(INADDR_BROADCAST));
    CHECK_OK(sk_addr_format_ip(&a, buf, sizeof(buf)));
    CHECK_STR(buf, "255.255.255.255");
    CHECK_ERR(sk_addr_from_ip(&a, "<broadcast>", 9, AF_INET6), SK_EBADADDR);
}

SK_TEST(from_ip_rejects)
{
    static const char *const bad[] = {
        "1.2.3", "256.1.1.1", "1.2.3.4.5", "127.1", "0x7f.0.0.1", "1.2.3.4 ",
        " 1.2.3.4", "1.2.3.4x", "::g", "[::1]", "1::2::3", "::1%", "fe80::1%lo%lo",
        "fe80::1%4294967296", "localhost", "<BROADCAST>", "1.2.3.4:80",
        "fe80::1%aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    sk_addr a;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = sk_addr_from_ip(&a, bad[i], 80, AF_UNSPEC);

        if (rc != SK_EBADADDR)
            sk_test_fail(__FILE__, __LINE__, "from_ip(\"%s\") = %d, want SK_EBADADDR",
                         bad[i], rc);
    }
    CHECK_ERR(sk_addr_from_ip(&a, "1.2.3.4", -1, AF_UNSPEC), SK_EBADADDR);
    CHECK_ERR(sk_addr_from_ip(&a, "1.2.3.4", 65536, AF_UNSPEC), SK_EBADADDR);
    CHECK_ERR(sk_addr_from_ip(&a, "1.2.3.4", 80, AF_INET6), SK_EBADADDR);
    CHECK_ERR(sk_addr_from_ip(&a, "::1", 80, AF_INET), SK_EBADADDR);
    CHECK_ERR(sk_addr_from_ip(&a, "::1", 80, AF_UNIX), SK_EBADADDR);
    CHECK_ERR(sk_addr_from_ip(NULL, "::1", 80, AF_UNSPEC), SK_EBADADDR);
}

SK_TEST(from_unix_path)
{
    sk_addr a;

    CHECK_OK(sk_addr_from_unix(&a, "/tmp/sock"));
    CHECK_EQ(sk_addr_family(&a), AF_UNIX);
    CHECK_STR(a.u.un.sun_path, "/tmp/sock");
    /* The length counts the path and its NUL, as getsockname reports it. */
    CHECK_EQ(a.len, offsetof(struct sockaddr_un, sun_path) + 10);
    check_format(&a, "/tmp/sock");
    CHECK_ERR(sk_addr_port(&a), -EAFNOSUPPORT);
    CHECK_ERR(sk_addr_set_port(&a, 1), -EAFNOSUPPORT);
    CHECK_ERR(sk_addr_format_ip(&a, (char[64]){0}, 64), -EAFNOSUPPORT);
}

SK_TEST(from_unix_abstract)
{
    sk_addr a;

#ifndef __linux__
    SK_SKIP("abstract Unix names are Linux only");
#endif
    CHECK_OK(sk_addr_from_unix(&a, "@sockit-test"));
    CHECK_EQ(a.u.un.sun_path[0], '\0');
    CHECK_MEM(a.u.un.sun_path + 1, "sockit-test", 11);
    /* Exactly the name's bytes: no trailing NUL, which would be part of it. */
    CHECK_EQ(a.len, offsetof(struct sockaddr_un, sun_path) + 12);
    check_format(&a, "@sockit-test");
    CHECK_ERR(sk_addr_from_unix(&a, "@"), SK_EBADADDR);
}

SK_TEST(from_unix_limits)
{
    char longest[sizeof(((struct sockaddr_un *)0)->sun_path)];
    sk_addr a;

    memset(longest, 'x', sizeof(longest) - 1);
    longest[0] = '/';
    longest[sizeof(longest) - 1] = '\0';
    CHECK_OK(sk_addr_from_unix(&a, longest));
    CHECK_EQ(a.len, sizeof(struct sockaddr_un));
    CHECK_EQ(sk_addr_format(&a, (char[200]){0}, 200), sizeof(longest) - 1);
    CHECK_ERR(sk_addr_format(&a, (char[107]){0}, sizeof(longest) - 1), -ENOSPC);

    /* A path must leave room for its NUL... */
    char too_long[sizeof(longest) + 1];
    memset(too_long, 'y', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    CHECK_ERR(sk_addr_from_unix(&a, too_long), SK_EBADADDR);
#ifdef __linux__
    /* ...an abstract name has none, and '@' stands for its leading NUL:
     * '@' plus 107 bytes fills sun_path exactly. */
    too_long[0] = '@';
    CHECK_OK(sk_addr_from_unix(&a, too_long));
    CHECK_EQ(a.len, sizeof(struct sockaddr_un));
    check_format(&a, too_long);
    char way_too_long[sizeof(longest) + 2];
    memset(way_too_long, 'z', sizeof(way_too_long) - 1);
    way_too_long[0] = '@';
    way_too_long[sizeof(way_too_long) - 1] = '\0';
    CHECK_ERR(sk_addr_from_unix(&a, way_too_long), SK_EBADADDR);
#endif
    CHECK_ERR(sk_addr_from_unix(&a, ""), SK_EBADADDR);
    CHECK_ERR(sk_addr_from_unix(&a, NULL), SK_EBADADDR);
}

SK_TEST(unix_equal_to_kernel_address)
{
    char path[64];
    sk_addr mine, kernel;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    snprintf(path, sizeof(path), "/tmp/sockit-addr-%d", (int)getpid());
    unlink(path);
    CHECK_OK(sk_addr_from_unix(&mine, path));
    CHECK_EQ(bind(fd, &mine.u.sa, mine.len), 0);
    kernel.len = sizeof(kernel.u);
    CHECK_EQ(getsockname(fd, &kernel.u.sa, &kernel.len), 0);
    CHECK(sk_addr_equal(&mine, &kernel));
    check_format(&kernel, path);
    unlink(path);
    close(fd);

#ifdef __linux__
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    snprintf(path, sizeof(path), "@sockit-addr-%d", (int)getpid());
    CHECK_OK(sk_addr_from_unix(&mine, path));
    CHECK_EQ(bind(fd, &mine.u.sa, mine.len), 0);
    kernel.len = sizeof(kernel.u);
    CHECK_EQ(getsockname(fd, &kernel.u.sa, &kernel.len), 0);
    CHECK_EQ(kernel.len, mine.len);
    CHECK(sk_addr_equal(&mine, &kernel));
    check_format(&kernel, path);
    close(fd);
#endif
}

SK_TEST(parse_round_trips)
{
    unsigned lo = if_nametoindex("lo");

    check_round_trip("1.2.3.4:80");
    check_round_trip("0.0.0.0:0");
    check_round_trip("255.255.255.255:65535");
    check_round_trip("[::1]:80");
    check_round_trip("[::]:0");
    check_round_trip("[2001:db8::7]:443");
    check_round_trip("[::ffff:192.0.2.1]:9");
    check_round_trip("[fe80::1%4000000000]:80"); /* no such interface: numeric */
    if (lo != 0)
        check_round_trip("[fe80::1%lo]:80");
    check_round_trip("/tmp/x.sock");
    check_round_trip("./relative/path");
#ifdef __linux__
    check_round_trip("@abstract-name");
#endif
}

SK_TEST(parse_default_port)
{
    sk_addr a;

    CHECK_OK(sk_addr_parse(&a, "1.2.3.4", 13));
    check_format(&a, "1.2.3.4:13");
    CHECK_OK(sk_addr_parse(&a, "[::1]", 37));
    check_format(&a, "[::1]:37");
    CHECK_OK(sk_addr_parse(&a, "::1", 37));
    check_format(&a, "[::1]:37");
    CHECK_OK(sk_addr_parse(&a, ":8000", -1));
    check_format(&a, "0.0.0.0:8000");
    CHECK_ERR(sk_addr_parse(&a, "1.2.3.4", -1), SK_EBADADDR);
    CHECK_ERR(sk_addr_parse(&a, "[::1]", -1), SK_EBADADDR);
    CHECK_ERR(sk_addr_parse(&a, "1.2.3.4", 65536), SK_EBADADDR);
}

SK_TEST(parse_rejects)
{
    static const char *const bad[] = {
        "", "1.2.3", "1.2.3:80", "256.1.1.1:80", "::g", "[::g]:80", "[::1", "[::1]:",
        "[::1]80", "1.2.3.4:", "1.2.3.4:99999", "1.2.3.4:65536", "1.2.3.4:-1",
        "1.2.3.4:+1", "1.2.3.4:8x", "1.2.3.4: 80", "1.2.3.4:80 ", "1.2.3.4 :80",
        "1.2.3.4:80:90", "host:port:extra", "localhost:80", "1.2.3.4:daytime",
        "[1.2.3.4]:80", "[]:80", "[::1]:80:90", "[::1]]:80", "1.2.3.4x:80",
        "[fe80::1%]:80", "[fe80::1%no-such-if0]:80", "1.2.3.4:123456789012",
    };
    sk_addr a;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = sk_addr_parse(&a, bad[i], 7);

        if (rc != SK_EBADADDR)
            sk_test_fail(__FILE__, __LINE__, "parse(\"%s\") = %d, want SK_EBADADDR",
                         bad[i], rc);
    }
    CHECK_ERR(sk_addr_parse(&a, NULL, 7), SK_EBADADDR);
    CHECK_ERR(sk_addr_parse(NULL, "1.2.3.4:1", 7), SK_EBADADDR);
}

SK_TEST(format_nospace)
{
    sk_addr a;
    char buf[SK_ADDRSTRLEN];

    CHECK_OK(sk_addr_parse(&a, "1.2.3.4:80", -1));
    CHECK_ERR(sk_addr_format(&a, buf, 10), -ENOSPC);
    CHECK_EQ(sk_addr_format(&a, buf, 11), 10);
    CHECK_ERR(sk_addr_format_ip(&a, buf, 7), -ENOSPC);
    CHECK_EQ(sk_addr_format_ip(&a, buf, 8), 7);
    CHECK_OK(sk_addr_parse(&a, "[2001:db8::1]:65535", -1));
    CHECK_ERR(sk_addr_format(&a, buf, 19), -ENOSPC);
    CHECK_EQ(sk_addr_format(&a, buf, 20), 19);
    CHECK_OK(sk_addr_from_unix(&a, "/tmp/s"));
    CHECK_ERR(sk_addr_format(&a, buf, 6), -ENOSPC);
    CHECK_EQ(sk_addr_format(&a, buf, 7), 6);
#ifdef __linux__
    CHECK_OK(sk_addr_from_unix(&a, "@abc"));
    CHECK_ERR(sk_addr_format(&a, buf, 4), -ENOSPC);
    CHECK_ERR(sk_addr_format(&a, buf, 1), -ENOSPC);
    CHECK_EQ(sk_addr_format(&a, buf, 5), 4);
    CHECK_STR(buf, "@abc");
#endif
    CHECK_ERR(sk_addr_format(&a, NULL, 0), -ENOSPC);
}

SK_TEST(format_other_families)
{
    sk_addr a;
    char buf[SK_ADDRSTRLEN];

    memset(&a, 0, sizeof(a));
    CHECK_EQ(sk_addr_family(&a), AF_UNSPEC);
    CHECK_ERR(sk_addr_format(&a, buf, sizeof(buf)), -EAFNOSUPPORT);
    CHECK_ERR(sk_addr_format_ip(&a, buf, sizeof(buf)), -EAFNOSUPPORT);
    CHECK_ERR(sk_addr_port(&a), -EAFNOSUPPORT);
    CHECK_ERR(sk_addr_set_port(&a, 1), -EAFNOSUPPORT);
    a.len = sizeof(struct sockaddr);
    a.u.sa.sa_family = AF_PACKET;
    CHECK_ERR(sk_addr_format(&a, buf, sizeof(buf)), -EAFNOSUPPORT);
    CHECK_ERR(sk_addr_format(NULL, buf, sizeof(buf)), -EAFNOSUPPORT);
}

SK_TEST(set_port)
{
    sk_addr a;

    CHECK_OK(sk_addr_parse(&a, "1.2.3.4:80", -1));
    CHECK_OK(sk_addr_set_port(&a, 443));
    CHECK_EQ(sk_addr_port(&a), 443);
    CHECK_ERR(sk_addr_set_port(&a, -1), SK_EBADADDR);
    CHECK_ERR(sk_addr_set_port(&a, 65536), SK_EBADADDR);
    CHECK_EQ(sk_addr_port(&a), 443);
    CHECK_OK(sk_addr_parse(&a, "[::1]:80", -1));
    CHECK_OK(sk_addr_set_port(&a, 0));
    CHECK_EQ(sk_addr_port(&a), 0);
    CHECK_OK(sk_addr_set_port(&a, 65535));
    check_format(&a, "[::1]:65535");
}

SK_TEST(equal)
{
    sk_addr a, b;

    CHECK_OK(sk_addr_parse(&a, "1.2.3.4:80", -1));
    CHECK_OK(sk_addr_from_ip(&b, "1.2.3.4", 80, AF_INET));
    CHECK(sk_addr_equal(&a, &b));
    CHECK_OK(sk_addr_set_port(&b, 81));
    CHECK(!sk_addr_equal(&a, &b));
    CHECK_OK(sk_addr_parse(&b, "1.2.3.5:80", -1));
    CHECK(!sk_addr_equal(&a, &b));
    CHECK_OK(sk_addr_parse(&b, "[::ffff:1.2.3.4]:80", -1));
    CHECK(!sk_addr_equal(&a, &b));

    CHECK_OK(sk_addr_parse(&a, "[fe80::1%1]:80", -1));
    CHECK_OK(sk_addr_parse(&b, "[fe80::1%2]:80", -1));
    CHECK(!sk_addr_equal(&a, &b));
    CHECK_OK(sk_addr_parse(&b, "[fe80::1%1]:80", -1));
    b.u.in6.sin6_flowinfo = htonl(5); /* a flow label does not name an endpoint */
    CHECK(sk_addr_equal(&a, &b));

    CHECK_OK(sk_addr_from_unix(&a, "/tmp/a"));
    CHECK_OK(sk_addr_from_unix(&b, "/tmp/b"));
    CHECK(!sk_addr_equal(&a, &b));
    CHECK_OK(sk_addr_from_unix(&b, "/tmp/a"));
    CHECK(sk_addr_equal(&a, &b));
#ifdef __linux__
    CHECK_OK(sk_addr_from_unix(&b, "@/tmp/a"));
    CHECK(!sk_addr_equal(&a, &b));
    CHECK_OK(sk_addr_from_unix(&a, "@/tmp/a"));
    CHECK(sk_addr_equal(&a, &b));
    CHECK_OK(sk_addr_from_unix(&b, "@/tmp/ab"));
    CHECK(!sk_addr_equal(&a, &b));
#endif

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    CHECK(sk_addr_equal(&a, &b));
    CHECK_OK(sk_addr_parse(&b, "1.2.3.4:80", -1));
    CHECK(!sk_addr_equal(&a, &b));
}
