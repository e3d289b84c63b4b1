/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_clients.c - the pure decoders behind the client subcommands: RFC 868
 * era selection, the streaming RFC 864 chargen verifier, the daytime /
 * qotd reply text checks, and the usage errors of the shared option parser.
 *
 * Linked with the internal libraries sockit_cli and sockit_proto.
 */
#include "sk_test.h"

#include "chargen.h"
#include "cli.h"
#include "client.h"
#include "reply_text.h"
#include "resolve.h"
#include "rfc868.h"

#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define ERA (INT64_C(1) << 32)
/* 2036-02-07 06:28:16 UTC: the first second the 32-bit count reads 0 again. */
#define WRAP_2036 (ERA - RFC868_UNIX_OFFSET)

/* The value a correct server sends at Unix time t. */
static uint32_t value_at(int64_t t)
{
    return (uint32_t)((uint64_t)(t + RFC868_UNIX_OFFSET) & 0xffffffffu);
}

/* ---- RFC 868 ----------------------------------------------------------- */

SK_TEST(rfc868_decode_big_endian)
{
    const unsigned char a[4] = {0x83, 0xaa, 0x7e, 0x80}; /* 2208988800 */
    const unsigned char b[4] = {0xff, 0xff, 0xff, 0xff};
    const unsigned char z[4] = {0, 0, 0, 1};

    CHECK_EQ(rfc868_decode(a), 2208988800u);
    CHECK_EQ(rfc868_decode(b), 4294967295u);
    CHECK_EQ(rfc868_decode(z), 1);
}

SK_TEST(rfc868_unix_epoch)
{
    CHECK_EQ(rfc868_to_unix(2208988800u, 0), 0);
    CHECK_EQ(rfc868_to_unix(2208988800u, 12345), 0);
    CHECK_EQ(rfc868_to_unix(2208988800u + 60, 0), 60);
}

SK_TEST(rfc868_year_1900)
{
    int64_t t1900 = -RFC868_UNIX_OFFSET;

    CHECK_EQ(rfc868_to_unix(0, t1900), t1900);
    CHECK_EQ(rfc868_to_unix(0, t1900 + 86400), t1900);
    /* Just before 1900: the count is near 2^32, one era back. */
    CHECK_EQ(rfc868_to_unix(0xffffffffu, t1900), t1900 - 1);
}

SK_TEST(rfc868_today)
{
    int64_t now = INT64_C(1795283264); /* 2026-11-21 17:47:44 UTC */

    CHECK_EQ(rfc868_to_unix(value_at(now), now), now);
    CHECK_EQ(rfc868_to_unix(value_at(now - 300), now), now - 300);
    CHECK_EQ(rfc868_to_unix(value_at(now + 300), now), now + 300);
}

SK_TEST(rfc868_wrap_2036)
{
    /* The last second before the wrap and the first after it. */
    CHECK_EQ(value_at(WRAP_2036), 0);
    CHECK_EQ(rfc868_to_unix(0xffffffffu, WRAP_2036 - 1), WRAP_2036 - 1);
    CHECK_EQ(rfc868_to_unix(0, WRAP_2036), WRAP_2036);
    /* A local clock on the other side of the wrap from the server. */
    CHECK_EQ(rfc868_to_unix(0, WRAP_2036 - 10), WRAP_2036);
    CHECK_EQ(rfc868_to_unix(0xfffffff0u, WRAP_2036 + 10), WRAP_2036 - 16);
    CHECK_EQ(rfc868_to_unix(5, WRAP_2036 - 3600), WRAP_2036 + 5);
}

SK_TEST(rfc868_year_2040)
{
    int64_t t2040 = INT64_C(2208988800); /* 2040-01-01 00:00:00 UTC */
    uint32_t v = value_at(t2040);

    /* The count has wrapped: read in era 0 it would be 1904. */
    CHECK_INT(v, <, 2208988800u);
    CHECK_EQ(rfc868_to_unix(v, t2040), t2040);
    CHECK_EQ(rfc868_to_unix(v, t2040 + 7200), t2040);
    CHECK_EQ(rfc868_to_unix(value_at(t2040 - 42), t2040), t2040 - 42);
}

SK_TEST(rfc868_half_era_ties_go_later)
{
    int64_t local = 0;
    /* A value exactly 2^31 s before the local clock in era 0 ... */
    uint32_t v = value_at(local - ERA / 2);

    /* ... is equally far from both candidates; the later one wins. */
    CHECK_EQ(rfc868_to_unix(v, local), local + ERA / 2);
    CHECK_EQ(rfc868_to_unix(v + 1, local), local - ERA / 2 + 1);
}

SK_TEST(rfc868_sweep_eras)
{
    /* Local clocks from 1850 to 2250 and server offsets up to a year
     * either way: the decoded time is always the server's true time. */
    for (int64_t local = -INT64_C(3786825600); local < INT64_C(8836128000);
         local += INT64_C(86400) * 397 + 12345) {
        for (int64_t off = -31536000; off <= 31536000; off += 7884000 + 17) {
            int64_t truth = local + off;

            CHECK_EQ(rfc868_to_unix(value_at(truth), local), truth);
        }
    }
}

/* ---- RFC 864 chargen verifier -------------------------------------------- */

/* Writes `len` bytes of the pattern whose first line starts at ring
 * position `phase` (the reference, written independently of the
 * verifier: line by line). */
static void make_pattern(unsigned char *out, size_t len, unsigned phase)
{
    size_t n = 0;

    for (unsigned line = 0; n < len; line++) {
        for (unsigned col = 0; col < 72 && n < len; col++)
            out[n++] = (unsigned char)(' ' + (phase + line + col) % 95);
        if (n < len)
            out[n++] = '\r';
        if (n < len)
            out[n++] = '\n';
    }
}

#define PAT_LEN 7400

SK_TEST(chargen_every_phase)
{
    static unsigned char pat[PAT_LEN * 2];

    for (unsigned phase = 0; phase < 95; phase++) {
        struct chargen_check k = {0};

        make_pattern(pat, sizeof(pat), phase);
        CHECK_EQ(chargen_check_feed(&k, pat, sizeof(pat)), 0);
        CHECK_EQ(k.offset, sizeof(pat));
        CHECK_EQ(k.first, phase);
        CHECK(!k.failed);
    }
}

SK_TEST(chargen_split_at_every_position)
{
    static unsigned char pat[PAT_LEN];

    make_pattern(pat, sizeof(pat), 17);
    for (size_t cut = 0; cut <= sizeof(pat); cut++) {
        struct chargen_check k = {0};

        CHECK_EQ(chargen_check_feed(&k, pat, cut), 0);
        CHECK_EQ(chargen_check_feed(&k, pat + cut, sizeof(pat) - cut), 0);
        CHECK_EQ(k.offset, sizeof(pat));
    }
}

SK_TEST(chargen_byte_at_a_time_and_empty_chunks)
{
    static unsigned char pat[PAT_LEN];
    struct chargen_check k = {0};

    make_pattern(pat, sizeof(pat), 94); /* starts with '~', wraps to ' ' */
    CHECK_EQ(chargen_check_feed(&k, pat, 0), 0);
    for (size_t i = 0; i < sizeof(pat); i++) {
        CHECK_EQ(chargen_check_feed(&k, pat + i, 1), 0);
        CHECK_EQ(chargen_check_feed(&k, pat + i, 0), 0);
    }
    CHECK_EQ(k.offset, sizeof(pat));
    CHECK_EQ(k.first, 94);
}

SK_TEST(chargen_corrupt_byte_found_at_every_offset)
{
    static unsigned char pat[3 * 74 + 5];

    make_pattern(pat, sizeof(pat), 40);
    /* Offset 0 may hold any printable byte (it sets the phase), so the
     * corruption starts at 1; a non-printable first byte is tested below. */
    for (size_t bad = 1; bad < sizeof(pat); bad++) {
        unsigned char orig = pat[bad];
        struct chargen_check k = {0};

        pat[bad] = orig == 'x' ? 'y' : 'x';
        CHECK_EQ(chargen_check_feed(&k, pat, sizeof(pat)), -1);
        CHECK(k.failed);
        CHECK_EQ(k.bad_offset, bad);
        CHECK_EQ(k.expected, orig);
        CHECK_EQ(k.got, pat[bad]);
        pat[bad] = orig;
    }
}

SK_TEST(chargen_corrupt_byte_with_every_split)
{
    static unsigned char pat[PAT_LEN];
    const size_t bad = 5000;

    make_pattern(pat, sizeof(pat), 3);
    pat[bad] ^= 0x01;
    for (size_t cut = 0; cut <= sizeof(pat); cut++) {
        struct chargen_check k = {0};
        int r1 = chargen_check_feed(&k, pat, cut);
        int r2 = chargen_check_feed(&k, pat + cut, sizeof(pat) - cut);

        CHECK_EQ(r1, cut > bad ? -1 : 0);
        CHECK_EQ(r2, -1);
        CHECK_EQ(k.bad_offset, bad);
        CHECK_EQ(k.got, pat[bad]);
        CHECK_EQ(k.expected, pat[bad] ^ 0x01);
    }
}

SK_TEST(chargen_failure_is_sticky)
{
    static unsigned char pat[300];
    struct chargen_check k = {0};

    make_pattern(pat, sizeof(pat), 0);
    pat[100] = '\n';
    CHECK_EQ(chargen_check_feed(&k, pat, sizeof(pat)), -1);
    CHECK_EQ(k.bad_offset, 100);
    /* Later (valid-looking) input changes nothing. */
    make_pattern(pat, sizeof(pat), 0);
    CHECK_EQ(chargen_check_feed(&k, pat + 200, 10), -1);
    CHECK_EQ(k.bad_offset, 100);
    CHECK_EQ(k.got, '\n');
}

SK_TEST(chargen_first_byte_must_be_printable)
{
    struct chargen_check k = {0};

    CHECK_EQ(chargen_check_feed(&k, "\r\n", 2), -1);
    CHECK_EQ(k.bad_offset, 0);
    CHECK_EQ(k.expected, CHARGEN_EXPECT_PRINTABLE);
    CHECK_EQ(k.got, '\r');
}

SK_TEST(chargen_wrong_line_length_and_ring)
{
    static unsigned char pat[2000];
    struct chargen_check k = {0}, k2 = {0};

    /* A line ended one character early. */
    make_pattern(pat, sizeof(pat), 10);
    pat[71] = '\r';
    pat[72] = '\n';
    CHECK_EQ(chargen_check_feed(&k, pat, sizeof(pat)), -1);
    CHECK_EQ(k.bad_offset, 71);
    CHECK_EQ(k.expected, ' ' + (10 + 71) % 95);

    /* A 93-character ring ('!'..'}', as xinetd sends): the first place it
     * differs is where the real ring first reaches '~': line 22 (which
     * starts at '!' + 22), column 71. */
    for (size_t i = 0, line = 0; i < sizeof(pat); line++) {
        for (int col = 0; col < 72 && i < sizeof(pat); col++)
            pat[i++] = (unsigned char)('!' + (line + (size_t)col) % 93);
        if (i < sizeof(pat))
            pat[i++] = '\r';
        if (i < sizeof(pat))
            pat[i++] = '\n';
    }
    CHECK_EQ(chargen_check_feed(&k2, pat, sizeof(pat)), -1);
    CHECK_EQ(k2.bad_offset, 22 * 74 + 71);
    CHECK_EQ(k2.expected, '~');
    CHECK_EQ(k2.got, '!');
}

/* ---- daytime / qotd text ----------------------------------------------------- */

SK_TEST(reply_text_accepts_text)
{
    const char *line = "Sat Nov 21 17:31:49 2026\r\n";

    CHECK_EQ(reply_text_check(line, strlen(line)), -1);
    CHECK_EQ(reply_text_check("a\tb ~", 5), -1);
    CHECK_EQ(reply_text_check("", 0), -1);
    CHECK_EQ(reply_text_trim(line, strlen(line)), strlen(line) - 2);
    CHECK_EQ(reply_text_trim("\r\n\n", 3), 0);
    CHECK_EQ(reply_text_trim("ab", 2), 2);
}

SK_TEST(reply_text_rejects_control_bytes)
{
    CHECK_EQ(reply_text_check("abc\x1b[2J", 7), 3);
    CHECK_EQ(reply_text_check("\0", 1), 0);
    CHECK_EQ(reply_text_check("ab\x7f", 3), 2);
    CHECK_EQ(reply_text_check("ab\xc3\xa9", 4), 2);
}

/* ---- option parsing --------------------------------------------------------- */

static const struct client_cmd every_opt_cmd = {
    .name = "time",
    .default_port = 37,
    .opts = CLIENT_OPT_UDP | CLIENT_OPT_FAMILY | CLIENT_OPT_TIMEOUT | CLIENT_OPT_JSON,
    .args = "HOST [PORT]",
    .summary = "test command",
};

/*
 * Parses `args` (the subcommand's argv, NULL-terminated), expecting a usage
 * error, and checks that its message on stderr contains `want`.
 */
static void check_usage_error(const char *const *args, const char *want)
{
    char *argv[8], msg[512];
    int argc = 0, saved, status = -1;
    struct client c;
    FILE *tmp = tmpfile();
    bool run;
    size_t n;

    CHECK(tmp != NULL);
    while (args[argc] != NULL) {
        argv[argc] = strdup(args[argc]);
        argc++;
    }
    argv[argc] = NULL;
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    CHECK(saved >= 0);
    CHECK(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    run = client_parse(&c, &every_opt_cmd, argc, argv, &status);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    n = fread(msg, 1, sizeof(msg) - 1, tmp);
    msg[n] = '\0';
    fclose(tmp);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    CHECK(!run);
    CHECK_EQ(status, CLI_EXIT_USAGE);
    if (strstr(msg, want) == NULL)
        sk_test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", msg, want);
}

/* The message names the option as it was written, wherever getopt stopped. */
SK_TEST(usage_error_names_the_option)
{
    check_usage_error((const char *const[]){"time", "--bogus", "h", NULL},
                      "unknown option '--bogus'");
    check_usage_error((const char *const[]){"time", "-ux", "h", NULL},
                      "unknown option '-x'");
    /* 'x' is not the last letter of its word: getopt has not moved past the
     * word, and the word before it is a valid long option. */
    check_usage_error((const char *const[]){"time", "--udp", "-x4", "h", NULL},
                      "unknown option '-x'");
    check_usage_error((const char *const[]){"time", "h", "-ut", NULL},
                      "option '-t' needs a value");
    check_usage_error((const char *const[]){"time", "h", "--timeout", NULL},
                      "option '--timeout' needs a value");
    check_usage_error((const char *const[]){"time", "--udp=1", "h", NULL},
                      "option '--udp' takes no value");
    check_usage_error((const char *const[]){"time", "--json=yes", "h", NULL},
                      "option '--json' takes no value");
}

/* A bad value is one exact line naming its kind and the value. */
SK_TEST(bad_value_is_one_line_naming_kind_and_value)
{
    check_usage_error((const char *const[]){"time", "--timeout", "1e3", "h", NULL},
                      "sockit: time: bad duration '1e3' (try 'sockit time --help')\n");
    check_usage_error((const char *const[]){"time", "--timeout", "0", "h", NULL},
                      "sockit: time: bad duration '0' (try 'sockit time --help')\n");
    check_usage_error((const char *const[]){"time", "h", "99999", NULL},
                      "sockit: time: bad port '99999' (try 'sockit time --help')\n");
    check_usage_error((const char *const[]){"time", "h", "0", NULL},
                      "sockit: time: bad port '0' (try 'sockit time --help')\n");
    check_usage_error((const char *const[]){"time", "", NULL},
                      "sockit: time: bad address '' (try 'sockit time --help')\n");
}

/* The option layer resets getopt on each start: a parse that stopped in
 * the middle of a word ("-ux") leaves nothing behind for the next one. */
SK_TEST(option_loop_starts_afresh)
{
    char *argv[] = {"time", "-u", "h", "8037", NULL};
    struct client c;
    int status = -1;

    check_usage_error((const char *const[]){"time", "-ux", "h", NULL},
                      "unknown option '-x'");
    CHECK(client_parse(&c, &every_opt_cmd, 4, argv, &status));
    CHECK(c.udp);
    CHECK_STR(c.host, "h");
    CHECK_STR(c.port, "8037");
}

/* ---- UDP exchange ---------------------------------------------------------- */

/*
 * A resolver answer whose first address cannot be used (an IPv6 address
 * labelled AF_INET, so the socket refuses it without sending anything) and
 * whose second is the loopback server.  Freeable with freeaddrinfo: glibc
 * frees each node on its own.
 */
static int unusable_first_gai(const char *host, const char *service,
                              const struct addrinfo *hints, struct addrinfo **res)
{
    struct addrinfo *bad = NULL, *good = NULL;
    int rc;

    (void)host;
    rc = getaddrinfo("::1", service, hints, &bad);
    if (rc != 0)
        return rc;
    rc = getaddrinfo("127.0.0.1", service, hints, &good);
    if (rc != 0) {
        freeaddrinfo(bad);
        return rc;
    }
    bad->ai_family = AF_INET;
    freeaddrinfo(bad->ai_next);
    bad->ai_next = good;
    *res = bad;
    return 0;
}

/* Answers one datagram on `arg` (a bound UDP socket) with a date line. */
static void *daytime_once(void *arg)
{
    sk_sock *srv = arg;
    sk_addr from;
    char buf[16];

    if (sk_sock_recvfrom(srv, buf, sizeof(buf), 0, &from) >= 0)
        sk_sock_sendto(srv, "today\r\n", 7, 0, &from);
    return NULL;
}

/* Like TCP's connection race, UDP moves on from an address it cannot even
 * connect a socket to, instead of failing on the first. */
SK_TEST(udp_skips_an_unusable_first_address)
{
    static const struct client_cmd cmd = {
        .name = "daytime", .default_port = 13,
        .opts = CLIENT_OPT_UDP | CLIENT_OPT_TIMEOUT, .args = "HOST [PORT]",
        .summary = "test command",
    };
    char port[8], *argv[7], reply[64];
    sk_addr a;
    sk_sock *srv;
    pthread_t t;
    struct client c;
    int status;
    ssize_t n;

    CHECK_OK(sk_addr_from_ip(&a, "127.0.0.1", 0, AF_INET));
    CHECK_OK(sk_create_server(&srv, &a, SOCK_DGRAM, 0, 0));
    CHECK_OK(sk_sock_settimeout(srv, 5.0));
    CHECK_OK(sk_sock_getsockname(srv, &a));
    snprintf(port, sizeof(port), "%d", sk_addr_port(&a));
    argv[0] = "daytime";
    argv[1] = "-u";
    argv[2] = "-t";
    argv[3] = "5";
    argv[4] = "server.test";
    argv[5] = port;
    argv[6] = NULL;
    CHECK(client_parse(&c, &cmd, 6, argv, &status));
    sk__resolve_set_backend(unusable_first_gai);
    CHECK_EQ(pthread_create(&t, NULL, daytime_once, srv), 0);
    n = client_ask(&c, reply, sizeof(reply));
    pthread_join(t, NULL);
    sk__resolve_set_backend(NULL);
    CHECK_EQ(n, 7);
    CHECK_MEM(reply, "today\r\n", 7);
    sk_sock_free(srv);
}
