/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_hostport.c - splitting host:port text and parsing ports.
 */
#include "sk_test.h"

#include <errno.h>
#include <unistd.h>

/* Splits `text` and checks both parts. */
static void check_split(const char *text, const char *host, const char *port)
{
    char h[64], p[16];
    int rc = sk_hostport_split(text, h, sizeof(h), p, sizeof(p));

    if (rc != 0)
        sk_test_fail(__FILE__, __LINE__, "split(\"%s\") = %d (%s)", text, rc,
                     sk_strerror(rc));
    CHECK_STR(h, host);
    CHECK_STR(p, port);
}

SK_TEST(split_forms)
{
    check_split("example.org:80", "example.org", "80");
    check_split("1.2.3.4:daytime", "1.2.3.4", "daytime");
    check_split("[::1]:8080", "::1", "8080");
    check_split("[fe80::1%lo]:7", "fe80::1%lo", "7");
    check_split("[::1]", "::1", "");
    check_split("localhost", "localhost", "");
    check_split("::1", "::1", "");
    check_split("2001:db8::1", "2001:db8::1", "");
    check_split("fe80::1%2", "fe80::1%2", "");
    check_split("::ffff:1.2.3.4", "::ffff:1.2.3.4", "");
    check_split(":80", "", "80");
    check_split("", "", "");
}

SK_TEST(split_rejects)
{
    static const char *const bad[] = {
        "[::1", "[::1]:", "[::1]80", "[::1]x:80", "[]", "[]:80", "[[::1]]:80",
        "host:", "host:port:extra", "1.2.3.4:80:90", "a:b:c", "::1%", "::g",
        "host]:80", "ho[st:80",
    };
    char h[64], p[16];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = sk_hostport_split(bad[i], h, sizeof(h), p, sizeof(p));

        if (rc != SK_EBADADDR)
            sk_test_fail(__FILE__, __LINE__, "split(\"%s\") = %d, want SK_EBADADDR",
                         bad[i], rc);
    }
    CHECK_ERR(sk_hostport_split(NULL, h, sizeof(h), p, sizeof(p)), SK_EBADADDR);
}

SK_TEST(split_nospace)
{
    char h[8], p[4];

    CHECK_ERR(sk_hostport_split("localhost:80", h, sizeof(h), p, sizeof(p)), -ENOSPC);
    CHECK_ERR(sk_hostport_split("host:12345", h, sizeof(h), p, sizeof(p)), -ENOSPC);
    CHECK_ERR(sk_hostport_split("[::1]:12345", h, sizeof(h), p, sizeof(p)), -ENOSPC);
    CHECK_OK(sk_hostport_split("1234567:123", h, sizeof(h), p, sizeof(p)));
    CHECK_STR(h, "1234567");
    CHECK_STR(p, "123");
    CHECK_ERR(sk_hostport_split("x", NULL, 0, p, sizeof(p)), -ENOSPC);
}

SK_TEST(port_numbers)
{
    CHECK_EQ(sk_port_parse("0", NULL), 0);
    CHECK_EQ(sk_port_parse("7", "tcp"), 7);
    CHECK_EQ(sk_port_parse("65535", "udp"), 65535);
    CHECK_EQ(sk_port_parse("00080", NULL), 80);
    CHECK_EQ(sk_port_parse("000000000000000000000000000000001", NULL), 1);
}

SK_TEST(port_rejects)
{
    static const char *const bad[] = {
        "", "65536", "99999", "4294967377", "18446744073709551697", "-1", "+80",
        " 80", "80 ", "80x", "8 0", "0x50", "1e3", "80.0", "no-such-service-name",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = sk_port_parse(bad[i], NULL);

        if (rc != SK_EBADADDR)
            sk_test_fail(__FILE__, __LINE__, "port_parse(\"%s\") = %d, want SK_EBADADDR",
                         bad[i], rc);
    }
    CHECK_ERR(sk_port_parse(NULL, NULL), SK_EBADADDR);
}

SK_TEST(port_service_names)
{
    if (access("/etc/services", R_OK) != 0)
        SK_SKIP("no readable /etc/services");
    CHECK_EQ(sk_port_parse("daytime", "tcp"), 13);
    CHECK_EQ(sk_port_parse("daytime", NULL), 13);
    CHECK_EQ(sk_port_parse("time", "udp"), 37);
    CHECK_EQ(sk_port_parse("echo", "tcp"), 7);
    CHECK_ERR(sk_port_parse("daytime", "nosuchproto"), SK_EBADADDR);
    CHECK_ERR(sk_port_parse("Daytime ", "tcp"), SK_EBADADDR);
}
