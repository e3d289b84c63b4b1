/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_services.c - the simple services' logic without sockets: the
 * chargen stream across arbitrary write boundaries, the RFC 868 value and
 * its 2036 wrap, daytime lines for fixed times, the quote file parser and
 * store (with reloads under concurrent readers), and the UDP guard's rules
 * and token buckets on an injected clock.
 *
 * Linked with the internal libraries sockit_services and sockit_proto.
 */
#include "sk_test.h"

#include "services.h"

#include <arpa/inet.h>
#include <errno.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* ---- chargen --------------------------------------------------------------- */

/* Byte i of the RFC 864 stream, computed from the definition. */
static char chargen_ref(uint64_t i)
{
    uint64_t line = i / 74, col = i % 74;

    if (col == 72)
        return '\r';
    if (col == 73)
        return '\n';
    return (char)(' ' + (line + col) % 95);
}

SK_TEST(chargen_first_lines)
{
    const char *p;
    char line0[73], line1[73];

    CHECK_INT(chargen_chunk(0, &p), >, 65536);
    for (int i = 0; i < 72; i++) {
        line0[i] = (char)(' ' + i);
        line1[i] = (char)(' ' + (i + 1) % 95);
    }
    CHECK_MEM(p, line0, 72);
    CHECK_MEM(p + 72, "\r\n", 2);
    CHECK_MEM(p + 74, line1, 72);
    CHECK_EQ(p[74 + 71], ' ' + 72); /* line 1 ends one later: 'h' */
    /* Line 94 starts with '~' and wraps to ' ' after one character. */
    CHECK_EQ(p[94 * 74], '~');
    CHECK_EQ(p[94 * 74 + 1], ' ');
    /* After 95 lines the cycle starts over. */
    CHECK_EQ(CHARGEN_CYCLE, 7030);
    CHECK_MEM(p + 7030, p, 74);
}

SK_TEST(chargen_every_position_is_contiguous)
{
    for (size_t pos = 0; pos < CHARGEN_CYCLE; pos++) {
        const char *p;
        size_t n = chargen_chunk(pos, &p);
        CHECK_INT(n, >, 65536);
        /* Spot-check the start and end of the contiguous run. */
        CHECK_EQ(p[0], chargen_ref(pos));
        CHECK_EQ(p[n - 1], chargen_ref(pos + n - 1));
    }
}

SK_TEST(chargen_arbitrary_write_boundaries)
{
    static const size_t sizes[] = {0, 1, 2, 71, 72, 73, 74, 75, 1000, 7029,
                                   7030, 7031, 65535, 65536};
    uint64_t total = 0;
    size_t pos = 0;
    unsigned seed = 12345;

    /* Write sizes as a peer's output buffer would accept them: the fixed
     * edge cases, then random ones, 3 MB in all. */
    for (int round = 0; total < (3u << 20); round++) {
        const char *p;
        size_t avail = chargen_chunk(pos, &p), take;
        if (round < (int)(sizeof(sizes) / sizeof(sizes[0])))
            take = sizes[round];
        else
            take = (size_t)rand_r(&seed) % 20000;
        if (take > avail)
            take = avail;
        for (size_t i = 0; i < take; i++)
            if (p[i] != chargen_ref(total + i))
                sk_test_fail(__FILE__, __LINE__, "byte %llu: got %d, want %d",
                             (unsigned long long)(total + i), p[i],
                             chargen_ref(total + i));
        pos = chargen_advance(pos, take);
        total += take;
        CHECK_EQ(pos, total % CHARGEN_CYCLE);
    }
}

SK_TEST(chargen_advance_wraps)
{
    CHECK_EQ(chargen_advance(7029, 1), 0);
    CHECK_EQ(chargen_advance(0, 7030 * 1000 + 5), 5);
    CHECK_EQ(chargen_advance(7000, 65536), (7000 + 65536) % 7030);
}

/* ---- time -------------------------------------------------------------------- */

SK_TEST(time_value_and_wrap)
{
    unsigned char b[4];

    CHECK_EQ(rfc868_value(0), 2208988800u);
    CHECK_EQ(rfc868_value(-2208988800LL), 0);
    /* 2036-02-07 06:28:15 UTC is the last second of era 0. */
    CHECK_EQ(rfc868_value(2085978495LL), 0xFFFFFFFFu);
    CHECK_EQ(rfc868_value(2085978496LL), 0);
    CHECK_EQ(rfc868_value(2085978496LL + 100), 100);
    CHECK_EQ(rfc868_value(1795282309LL), 1795282309u + 2208988800u);
    rfc868_encode(0x01020304u, b);
    CHECK_MEM(b, "\x01\x02\x03\x04", 4);
    rfc868_encode(rfc868_value(0), b);
    CHECK_MEM(b, "\x83\xaa\x7e\x80", 4);
}

/* ---- daytime ------------------------------------------------------------------ */

SK_TEST(daytime_ctime_and_rfc3339)
{
    char buf[64];

    CHECK_EQ(daytime_format(1795282309LL, DAYTIME_CTIME, buf, sizeof(buf)), 26);
    CHECK_STR(buf, "Sat Nov 21 17:31:49 2026\r\n");
    /* A one-digit day is padded with a space, as ctime does. */
    CHECK_OK(daytime_format(1793502245LL, DAYTIME_CTIME, buf, sizeof(buf)));
    CHECK_STR(buf, "Sun Nov  1 03:04:05 2026\r\n");
    CHECK_OK(daytime_format(0, DAYTIME_CTIME, buf, sizeof(buf)));
    CHECK_STR(buf, "Thu Jan  1 00:00:00 1970\r\n");
    CHECK_EQ(daytime_format(1795282309LL, DAYTIME_RFC3339, buf, sizeof(buf)), 22);
    CHECK_STR(buf, "2026-11-21T17:31:49Z\r\n");
    CHECK_ERR(daytime_format(1795282309LL, DAYTIME_CTIME, buf, 26), -ENOSPC);
}

/* ---- qotd --------------------------------------------------------------------- */

/* Collects parsed quotes, joined with '|' between them. */
typedef struct quote_sink {
    char text[4096];
    size_t len;
    int n;
} quote_sink;

static int sink_emit(void *arg, const char *q, size_t len)
{
    quote_sink *s = arg;

    if (s->n > 0)
        s->text[s->len++] = '|';
    memcpy(s->text + s->len, q, len);
    s->len += len;
    s->text[s->len] = '\0';
    s->n++;
    return 0;
}

static int parse(const char *text, quote_sink *s, char *err, size_t errsize)
{
    memset(s, 0, sizeof(*s));
    err[0] = '\0';
    return qotd_parse(text, strlen(text), sink_emit, s, err, errsize);
}

SK_TEST(qotd_parse_fortune_format)
{
    quote_sink s;
    char err[128];

    CHECK_EQ(parse("one\n%\ntwo\nlines\n%\n%\n\n%\nthree", &s, err, sizeof(err)), 3);
    CHECK_STR(s.text, "one\r\n|two\r\nlines\r\n|three\r\n");
    /* CR LF files read the same; a leading % and a trailing % add nothing. */
    CHECK_EQ(parse("%\r\nA\r\n%\r\nB\r\n%\r\n", &s, err, sizeof(err)), 2);
    CHECK_STR(s.text, "A\r\n|B\r\n");
    /* "%" inside a line, or "%%", is text, not a separator. */
    CHECK_EQ(parse("50% off\n%%\n", &s, err, sizeof(err)), 1);
    CHECK_STR(s.text, "50% off\r\n%%\r\n");
    CHECK_EQ(parse("", &s, err, sizeof(err)), 0);
    CHECK_EQ(parse("\n\n%\n\n", &s, err, sizeof(err)), 0);
}

SK_TEST(qotd_parse_length_limit)
{
    quote_sink s;
    char text[1200], err[128];

    /* 509 characters + CR LF = 511 bytes: the longest allowed. */
    memset(text, 'x', 509);
    strcpy(text + 509, "\n%\n");
    CHECK_EQ(parse(text, &s, err, sizeof(err)), 1);
    CHECK_EQ(s.len, 511);
    /* One more is 512 bytes, too long: the error names the line. */
    memset(text, 'x', 510);
    strcpy(text + 510, "\n");
    CHECK_ERR(parse(text, &s, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "line 1: the quote starting at line 1 is longer than 511 bytes");
    /* Many short lines add up too. */
    strcpy(text, "ok\n%\n");
    for (int i = 0; i < 120; i++)
        strcat(text, "abc\n");
    CHECK_ERR(parse(text, &s, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "line 105: the quote starting at line 3 is longer than 511 bytes");
}

SK_TEST(qotd_parse_charset)
{
    quote_sink s;
    char err[128];

    CHECK_ERR(parse("fine\n%\nhas\ta tab\n", &s, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "line 3: byte 0x09 is not printable ASCII");
    CHECK_ERR(parse("caf\xc3\xa9\n", &s, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "line 1: byte 0xc3 is not printable ASCII");
    CHECK_ERR(parse("nul\0", &s, err, sizeof(err)), 1); /* strlen stops at NUL */
    CHECK_ERR(qotd_parse("a\0b", 3, sink_emit, &s, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "line 1: byte 0x00 is not printable ASCII");
    /* Every printable character and a mid-line CR are fine. */
    char all[100];
    for (int i = 0; i < 95; i++)
        all[i] = (char)(32 + i);
    strcpy(all + 95, "\r\r\n");
    CHECK_EQ(parse(all, &s, err, sizeof(err)), 1);
    CHECK_EQ(s.len, 95 + 1 + 2);
}

/* True when q[len] is a valid wire quote. */
static bool quote_valid(const char *q, size_t len)
{
    if (len == 0 || len > QOTD_QUOTE_MAX || len < 2 || memcmp(q + len - 2, "\r\n", 2) != 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((q[i] < 32 || q[i] > 126) && q[i] != '\r' && q[i] != '\n')
            return false;
    return true;
}

SK_TEST(qotd_builtin_quotes)
{
    char q[QOTD_QUOTE_MAX];

    CHECK_INT(svc_qotd_count(NULL), >=, 10);
    for (int i = 0; i < 200; i++) {
        size_t n = svc_qotd_pick(NULL, q);
        CHECK(quote_valid(q, n));
    }
    for (size_t i = 0; svc_qotd_builtin(i) != NULL; i++)
        CHECK_INT(strlen(svc_qotd_builtin(i)) + 2, <=, QOTD_QUOTE_MAX);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    CHECK_EQ(fwrite(text, 1, strlen(text), f), strlen(text));
    CHECK_EQ(fclose(f), 0);
}

SK_TEST(qotd_file_and_reload)
{
    char path[] = "/tmp/sk_qotd_XXXXXX", err[256], q[QOTD_QUOTE_MAX];
    int fd = mkstemp(path);
    svc_qotd *store;

    CHECK_INT(fd, >=, 0);
    close(fd);
    write_file(path, "only one\n");
    CHECK_OK(svc_qotd_new(&store, path, err, sizeof(err)));
    CHECK_EQ(svc_qotd_count(store), 1);
    CHECK_EQ(svc_qotd_pick(store, q), 10);
    CHECK_MEM(q, "only one\r\n", 10);

    write_file(path, "second\n%\nsecond\n");
    CHECK_EQ(svc_qotd_reload(store, err, sizeof(err)), 2);
    CHECK_EQ(svc_qotd_pick(store, q), 8);
    CHECK_MEM(q, "second\r\n", 8);

    /* A bad file is refused and the previous quotes stay. */
    write_file(path, "bad\tbyte\n");
    CHECK_ERR(svc_qotd_reload(store, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "line 1: byte 0x09 is not printable ASCII");
    CHECK_EQ(svc_qotd_count(store), 2);
    write_file(path, "%\n%\n");
    CHECK_ERR(svc_qotd_reload(store, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "no quotes in the file");
    unlink(path);
    CHECK_ERR(svc_qotd_reload(store, err, sizeof(err)), -ENOENT);
    CHECK_STR(err, "No such file or directory");
    CHECK_EQ(svc_qotd_pick(store, q), 8);
    svc_qotd_free(store);

    CHECK_ERR(svc_qotd_new(&store, path, err, sizeof(err)), -ENOENT);
    CHECK_ERR(svc_qotd_new(&store, "/tmp", err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "not a regular file");
}

typedef struct reload_race {
    svc_qotd *store;
    atomic_bool stop;
    atomic_int bad;
} reload_race;

static void *picker(void *arg)
{
    reload_race *r = arg;
    char q[QOTD_QUOTE_MAX];

    while (!atomic_load(&r->stop)) {
        size_t n = svc_qotd_pick(r->store, q);
        /* Every quote in both files is "A..." or "BB..." whole. */
        if (!quote_valid(q, n) || (q[0] != 'A' && q[0] != 'B'))
            atomic_fetch_add(&r->bad, 1);
    }
    return NULL;
}

SK_TEST(qotd_reload_under_readers)
{
    char path[] = "/tmp/sk_qotd_XXXXXX", err[256];
    int fd = mkstemp(path);
    reload_race r = {0};
    pthread_t th[3];

    CHECK_INT(fd, >=, 0);
    close(fd);
    write_file(path, "A1\n%\nA2\n%\nA3\n");
    CHECK_OK(svc_qotd_new(&r.store, path, err, sizeof(err)));
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, picker, &r), 0);
    for (int i = 0; i < 200; i++) {
        write_file(path, i % 2 ? "A1\n%\nA2\n" : "BB1\n%\nBB2\n%\nBB3\n%\nBB4\n");
        CHECK_INT(svc_qotd_reload(r.store, err, sizeof(err)), >, 0);
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&r.bad), 0);
    CHECK_EQ(svc_qotd_count(r.store), 2); /* the last file written */
    svc_qotd_free(r.store);
    unlink(path);
}

/* ---- UDP guard ----------------------------------------------------------------- */

static sk_addr addr_of(const char *ip, int port)
{
    sk_addr a;

    memset(&a, 0, sizeof(a));
    if (strchr(ip, ':') != NULL) {
        a.len = sizeof(a.u.in6);
        a.u.in6.sin6_family = AF_INET6;
        a.u.in6.sin6_port = htons((uint16_t)port);
        CHECK_EQ(inet_pton(AF_INET6, ip, &a.u.in6.sin6_addr), 1);
    } else {
        a.len = sizeof(a.u.in4);
        a.u.in4.sin_family = AF_INET;
        a.u.in4.sin_port = htons((uint16_t)port);
        CHECK_EQ(inet_pton(AF_INET, ip, &a.u.in4.sin_addr), 1);
    }
    return a;
}

/* Log lines a guard wrote, for the tests that count them. */
typedef struct log_sink {
    int lines;
    char last[256];
} log_sink;

static void sink_log(void *arg, const char *line)
{
    log_sink *s = arg;

    s->lines++;
    snprintf(s->last, sizeof(s->last), "%s", line);
}

static svc_udpguard *guard_make(double per_source, double burst, double global,
                                log_sink *logs)
{
    static const int ports[] = {8007, 8019};
    svc_udpguard_config cfg = {
        .per_source = per_source, .per_source_burst = burst, .global = global,
        .ports = ports, .nports = 2, .log = sink_log, .log_arg = logs,
    };
    svc_udpguard *g;

    CHECK_OK(svc_udpguard_new(&g, &cfg));
    return g;
}

/* The guard's reason for a datagram; its verdict must agree (PASS only
 * with SVC_UDP_PASS, and no KISS without a policy asking for it). */
static svc_udp_reason judge_why(svc_udpguard *g, const sk_addr *a, uint64_t now,
                                const svc_udp_policy *policy)
{
    svc_udp_reason why = SVC_UDP_NREASONS;
    svc_guard_verdict v = svc_udpguard_judge(g, a, now, policy, &why);

    CHECK_EQ(v == SVC_GUARD_PASS, why == SVC_UDP_PASS);
    if (v == SVC_GUARD_KISS)
        CHECK_EQ(why, SVC_UDP_DROP_SOURCE);
    return why;
}

static svc_udp_reason check(svc_udpguard *g, const char *ip, int port, uint64_t now)
{
    sk_addr a = addr_of(ip, port);

    return judge_why(g, &a, now, NULL);
}

SK_TEST(udpguard_source_ports)
{
    log_sink logs = {0};
    svc_udpguard *g = guard_make(0, 0, 0, &logs);

    CHECK_EQ(check(g, "127.0.0.1", 7, 1000), SVC_UDP_DROP_PRIVPORT);
    CHECK_EQ(check(g, "127.0.0.1", 0, 1000), SVC_UDP_DROP_PRIVPORT);
    CHECK_EQ(check(g, "127.0.0.1", 19, 1000), SVC_UDP_DROP_PRIVPORT);
    CHECK_EQ(check(g, "::1", 1023, 1000), SVC_UDP_DROP_PRIVPORT);
    CHECK_EQ(check(g, "127.0.0.1", 1024, 1000), SVC_UDP_PASS);
    CHECK_EQ(check(g, "127.0.0.1", 8007, 1000), SVC_UDP_DROP_SVCPORT);
    CHECK_EQ(check(g, "::1", 8019, 1000), SVC_UDP_DROP_SVCPORT);
    CHECK_EQ(check(g, "::1", 8008, 1000), SVC_UDP_PASS);
    CHECK_EQ(svc_udpguard_dropped(g, SVC_UDP_DROP_PRIVPORT), 4);
    CHECK_EQ(svc_udpguard_dropped(g, SVC_UDP_DROP_SVCPORT), 2);
    CHECK_EQ(svc_udpguard_dropped(g, SVC_UDP_DROP_SOURCE), 0);
    svc_udpguard_free(g);
}

SK_TEST(udpguard_bad_source_addresses)
{
    static const char *const bad[] = {
        "0.0.0.0", "0.1.2.3", "255.255.255.255", "224.0.0.1", "239.255.255.250",
        "240.0.0.1", "::", "ff02::1", "ff05::2", "::ffff:255.255.255.255",
        "::ffff:224.0.0.251", "::ffff:0.0.0.0",
    };
    static const char *const good[] = {
        "127.0.0.1", "10.1.2.255", "192.0.2.1", "223.255.255.255", "::1",
        "2001:db8::1", "fe80::1", "::ffff:127.0.0.1",
    };
    log_sink logs = {0};
    svc_udpguard *g = guard_make(0, 0, 0, &logs);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sk_addr a = addr_of(bad[i], 5000);
        if (!svc_addr_is_bad_source(&a))
            sk_test_fail(__FILE__, __LINE__, "%s not refused", bad[i]);
        CHECK_EQ(judge_why(g, &a, 1000, NULL), SVC_UDP_DROP_BADADDR);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        sk_addr a = addr_of(good[i], 5000);
        if (svc_addr_is_bad_source(&a))
            sk_test_fail(__FILE__, __LINE__, "%s refused", good[i]);
        CHECK_EQ(judge_why(g, &a, 1000, NULL), SVC_UDP_PASS);
    }
    svc_udpguard_free(g);
}

SK_TEST(udpguard_token_bucket)
{
    log_sink logs = {0};
    svc_udpguard *g = guard_make(20, 40, 0, &logs);
    uint64_t t = 5000;

    /* A full bucket of 40, then nothing until it refills at 20/s. */
    for (int i = 0; i < 40; i++)
        CHECK_EQ(check(g, "127.0.0.1", 40000 + i, t), SVC_UDP_PASS);
    CHECK_EQ(check(g, "127.0.0.1", 41000, t), SVC_UDP_DROP_SOURCE);
    CHECK_EQ(check(g, "127.0.0.1", 41000, t + 49), SVC_UDP_DROP_SOURCE);
    CHECK_EQ(check(g, "127.0.0.1", 41000, t + 50), SVC_UDP_PASS);
    CHECK_EQ(check(g, "127.0.0.1", 41000, t + 50), SVC_UDP_DROP_SOURCE);
    /* A long pause refills to the burst size, not beyond. */
    t += 100000;
    for (int i = 0; i < 40; i++)
        CHECK_EQ(check(g, "127.0.0.1", 41000, t), SVC_UDP_PASS);
    CHECK_EQ(check(g, "127.0.0.1", 41000, t), SVC_UDP_DROP_SOURCE);
    /* Sustained: one second at 20/s admits 20 more. */
    int passed = 0;
    for (uint64_t ms = 1; ms <= 1000; ms++)
        passed += check(g, "127.0.0.1", 41000, t + ms) == SVC_UDP_PASS;
    CHECK_EQ(passed, 20);
    /* A clock that goes backwards refills nothing. */
    CHECK_EQ(check(g, "127.0.0.1", 41000, t), SVC_UDP_DROP_SOURCE);
    svc_udpguard_free(g);
}

SK_TEST(udpguard_sources_are_independent)
{
    log_sink logs = {0};
    svc_udpguard *g = guard_make(1, 3, 0, &logs);

    for (int i = 0; i < 3; i++)
        CHECK_EQ(check(g, "127.0.0.2", 5000, 1000), SVC_UDP_PASS);
    CHECK_EQ(check(g, "127.0.0.2", 5001, 1000), SVC_UDP_DROP_SOURCE);
    /* Another address still gets replies. */
    CHECK_EQ(check(g, "127.0.0.3", 5000, 1000), SVC_UDP_PASS);
    CHECK_EQ(check(g, "::1", 5000, 1000), SVC_UDP_PASS);
    /* An IPv4 sender is the same sender through a dual-stack socket. */
    CHECK_EQ(check(g, "::ffff:127.0.0.2", 5000, 1000), SVC_UDP_DROP_SOURCE);
    CHECK_EQ(svc_udpguard_dropped(g, SVC_UDP_DROP_SOURCE), 2);
    svc_udpguard_free(g);
}

SK_TEST(udpguard_global_bucket)
{
    log_sink logs = {0};
    svc_udpguard *g = guard_make(0, 0, 100, &logs);
    char ip[32];
    int passed = 0;

    /* 100 replies in total, whatever the senders. */
    for (int i = 0; i < 300; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 200, i % 200 + 1);
        passed += check(g, ip, 5000, 1000) == SVC_UDP_PASS;
    }
    CHECK_EQ(passed, 200); /* the default burst is twice the rate */
    CHECK_EQ(svc_udpguard_dropped(g, SVC_UDP_DROP_GLOBAL), 100);
    CHECK_EQ(check(g, "10.9.9.9", 5000, 1010), SVC_UDP_PASS);
    CHECK_EQ(check(g, "10.9.9.9", 5000, 1010), SVC_UDP_DROP_GLOBAL);
    svc_udpguard_free(g);

    /* A global refusal does not use up the sender's own bucket. */
    g = guard_make(1, 2, 1, &logs);
    CHECK_EQ(check(g, "10.0.0.1", 5000, 1000), SVC_UDP_PASS);
    CHECK_EQ(check(g, "10.0.0.2", 5000, 1000), SVC_UDP_PASS);
    CHECK_EQ(check(g, "10.0.0.1", 5000, 1000), SVC_UDP_DROP_GLOBAL);
    CHECK_EQ(check(g, "10.0.0.1", 5000, 2000), SVC_UDP_PASS);
    svc_udpguard_free(g);
}

SK_TEST(udpguard_slow_rate_still_admits)
{
    log_sink logs = {0};
    svc_udpguard *g = guard_make(0.25, 0, 0, &logs);

    /* One reply every 4 s: the bucket holds at least one token. */
    CHECK_EQ(check(g, "127.0.0.1", 40000, 1000), SVC_UDP_PASS);
    CHECK_EQ(check(g, "127.0.0.1", 40000, 1000), SVC_UDP_DROP_SOURCE);
    CHECK_EQ(check(g, "127.0.0.1", 40000, 4999), SVC_UDP_DROP_SOURCE);
    CHECK_EQ(check(g, "127.0.0.1", 40000, 5000), SVC_UDP_PASS);
    svc_udpguard_free(g);
}

SK_TEST(udpguard_no_limits)
{
    log_sink logs = {0};
    svc_udpguard *g = guard_make(0, 0, 0, &logs);

    for (int i = 0; i < 100000; i++)
        CHECK_EQ(check(g, "127.0.0.1", 40000, 1000), SVC_UDP_PASS);
    CHECK_EQ(logs.lines, 0);
    svc_udpguard_free(g);
}

SK_TEST(udpguard_table_is_bounded)
{
    svc_udpguard_config cfg = {.per_source = 1, .per_source_burst = 1, .table_size = 16};
    log_sink logs = {0};
    svc_udpguard *g;
    char ip[32];

    cfg.log = sink_log;
    cfg.log_arg = &logs;
    CHECK_OK(svc_udpguard_new(&g, &cfg));
    CHECK_EQ(check(g, "10.0.0.1", 5000, 1000), SVC_UDP_PASS);
    CHECK_EQ(check(g, "10.0.0.1", 5000, 1000), SVC_UDP_DROP_SOURCE);
    /* Thousands of other senders fit in 16 entries by evicting the least
     * recently seen, each starting with a full bucket. */
    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250 + 1);
        CHECK_EQ(check(g, ip, 5000, 1001 + (uint64_t)i / 100), SVC_UDP_PASS);
    }
    CHECK_EQ(svc_udpguard_table_size(g), 16);
    /* The first sender was evicted long ago, so it starts afresh. */
    CHECK_EQ(check(g, "10.0.0.1", 5000, 1100), SVC_UDP_PASS);
    svc_udpguard_free(g);
}

SK_TEST(udpguard_log_is_rate_limited)
{
    log_sink logs = {0};
    svc_udpguard *g = guard_make(0, 0, 0, &logs);

    for (int i = 0; i < 1000; i++)
        check(g, "127.0.0.1", 7, 3000 + (uint64_t)i % 1000);
    CHECK_EQ(logs.lines, 1);
    CHECK_STR(logs.last, "event=udp_drop reason=private_port from=127.0.0.1:7 "
                         "suppressed=0 total=1");
    /* Another reason has its own allowance. */
    check(g, "224.0.0.1", 5000, 3500);
    CHECK_EQ(logs.lines, 2);
    /* The next second's line says how many were not logged. */
    check(g, "::1", 80, 4000);
    CHECK_EQ(logs.lines, 3);
    CHECK_STR(logs.last, "event=udp_drop reason=private_port from=[::1]:80 "
                         "suppressed=999 total=1001");
    svc_udpguard_free(g);
}

SK_TEST(service_table)
{
    static const char *const names[] = {"echo", "discard", "daytime", "qotd", "chargen",
                                        "time", "ntp", "stamp"};
    static const int ports[] = {7, 9, 13, 17, 19, 37, 123, 862};

    CHECK_EQ(SVC_COUNT, 8);
    for (int i = 0; i < SVC_COUNT; i++) {
        bool ntp = strcmp(names[i], "ntp") == 0, stamp = strcmp(names[i], "stamp") == 0;

        CHECK_STR(svc_table[i].name, names[i]);
        CHECK_EQ(svc_table[i].std_port, ports[i]);
        CHECK_EQ(svc_find(names[i]), i);
        /* ntp and stamp are UDP only and want receive times; stamp also
         * the TTL and TOS. */
        CHECK((svc_table[i].tcp != NULL) == !(ntp || stamp) && svc_table[i].udp != NULL);
        CHECK_EQ(svc_table[i].udp_flags, ntp     ? SK_SERVER_RXTIME
                                         : stamp ? SK_SERVER_RXTIME | SK_SERVER_RXTTL
                                                 : 0);
        CHECK(svc_table[i].udp->on_datagram != NULL);
    }
    CHECK_EQ(svc_find("ECHO"), -1);
    CHECK_EQ(svc_find(""), -1);
}

/* ---- the guard's NTP additions, and the ntp service's self-description ---- */

SK_TEST(udpguard_allow_port_only_that_port)
{
    static const svc_udp_policy ntp = {.allow_port = 123};
    log_sink logs = {0};
    svc_udpguard *g = guard_make(0, 0, 0, &logs);
    sk_addr a;

    /* ntp answers port 123 ... */
    a = addr_of("127.0.0.1", 123);
    CHECK_EQ(judge_why(g, &a, 1000, &ntp), SVC_UDP_PASS);
    a = addr_of("::1", 123);
    CHECK_EQ(judge_why(g, &a, 1000, &ntp), SVC_UDP_PASS);
    /* ... but no other low port, no service port, and no bad address. */
    a = addr_of("127.0.0.1", 122);
    CHECK_EQ(judge_why(g, &a, 1000, &ntp), SVC_UDP_DROP_PRIVPORT);
    a = addr_of("127.0.0.1", 8019);
    CHECK_EQ(judge_why(g, &a, 1000, &ntp), SVC_UDP_DROP_SVCPORT);
    a = addr_of("255.255.255.255", 123);
    CHECK_EQ(judge_why(g, &a, 1000, &ntp), SVC_UDP_DROP_BADADDR);
    /* The other services still refuse port 123. */
    CHECK_EQ(check(g, "127.0.0.1", 123, 1000), SVC_UDP_DROP_PRIVPORT);
    svc_udpguard_free(g);
}

/* Judges `n` datagrams from `a` at `now`; returns how many got `want`. */
static int judge_count(svc_udpguard *g, const sk_addr *a, uint64_t now, int n,
                       const svc_udp_policy *policy, svc_guard_verdict want)
{
    int got = 0;

    for (int i = 0; i < n; i++)
        got += svc_udpguard_judge(g, a, now, policy, NULL) == want;
    return got;
}

SK_TEST(udpguard_kiss_at_most_once_per_interval)
{
    static const svc_udp_policy kiss = {.allow_port = -1, .kiss_interval_ms = 4000};
    log_sink logs = {0};
    svc_udpguard *g = guard_make(1, 2, 0, &logs);
    sk_addr a = addr_of("192.0.2.7", 40000), b = addr_of("192.0.2.8", 40000);
    int kisses = 0;

    CHECK_EQ(svc_udpguard_judge(g, &a, 1000, &kiss, NULL), SVC_GUARD_PASS);
    CHECK_EQ(svc_udpguard_judge(g, &a, 1000, &kiss, NULL), SVC_GUARD_PASS);
    /* A flood within one interval: one kiss, then drops. */
    for (uint64_t t = 1000; t < 1100; t++)
        kisses += svc_udpguard_judge(g, &a, t, &kiss, NULL) == SVC_GUARD_KISS;
    CHECK_EQ(kisses, 1);
    CHECK_EQ(svc_udpguard_dropped(g, SVC_UDP_DROP_SOURCE), 100);
    /* Without a policy asking for kisses, a rate drop is only a drop. */
    CHECK_EQ(judge_count(g, &b, 1200, 2, NULL, SVC_GUARD_PASS), 2);
    CHECK_EQ(judge_count(g, &b, 1200, 5, NULL, SVC_GUARD_DROP), 5);
    /* Another source has its own allowance ... */
    CHECK_EQ(svc_udpguard_judge(g, &b, 1200, &kiss, NULL), SVC_GUARD_KISS);
    /* ... and the first gets one again once the interval has passed: its
     * bucket refilled meanwhile, so it passes twice first. */
    CHECK_EQ(judge_count(g, &a, 4999, 2, &kiss, SVC_GUARD_PASS), 2);
    CHECK_EQ(svc_udpguard_judge(g, &a, 4999, &kiss, NULL), SVC_GUARD_DROP);
    CHECK_EQ(svc_udpguard_judge(g, &a, 5000, &kiss, NULL), SVC_GUARD_KISS);
    CHECK_EQ(svc_udpguard_judge(g, &a, 5000, &kiss, NULL), SVC_GUARD_DROP);
    svc_udpguard_free(g);
}

SK_TEST(ntp_self_description)
{
    svc_ntp_config cfg = {0};
    struct timespec now = {1795000000, 5};
    ntp_packet self;
    svc_ntp *n;

    CHECK_ERR(svc_ntp_new(&n, &(svc_ntp_config){.stratum = 16}), -EINVAL);
    cfg.stratum = 8;
    CHECK_OK(svc_ntp_new(&n, &cfg));
    svc_ntp_self(n, &now, &self);
    CHECK_EQ(self.stratum, 8);
    CHECK_MEM(self.refid, "LOCL", 4);
    CHECK(self.leap != NTP_LEAP_UNSYNC);
    CHECK(self.reference == ntp_ts_from_unix(now.tv_sec, 0));
    CHECK_INT(self.precision, >=, -24);
    CHECK_INT(self.precision, <=, 0);
    svc_ntp_free(n);

    cfg.unsynced = true;
    CHECK_OK(svc_ntp_new(&n, &cfg));
    svc_ntp_self(n, &now, &self);
    CHECK_EQ(self.leap, NTP_LEAP_UNSYNC);
    CHECK_EQ(self.stratum, NTP_STRATUM_UNSYNC);
    CHECK(self.reference == 0);
    CHECK_EQ(svc_ntp_count(n, SVC_NTP_REPLIED), 0);
    svc_ntp_free(n);

    /* Following the kernel: unsynchronised means LI 3 and stratum 16;
     * otherwise stratum SVC_NTP_KERNEL_STRATUM with refid KERN. */
    svc_ntp_self(NULL, &now, &self);
    if (self.leap == NTP_LEAP_UNSYNC) {
        CHECK_EQ(self.stratum, NTP_STRATUM_UNSYNC);
    } else {
        CHECK_EQ(self.stratum, SVC_NTP_KERNEL_STRATUM);
        CHECK_MEM(self.refid, "KERN", 4);
    }
}

/* ---- counter tables (services.h) ------------------------------------------------ */

#define TEST_STATS(X)                                                                     \
    X(T_A, SK_STAT_COUNTER, "t_fam", "why", "a", "k_ab", "first.")                         \
    X(T_B, SK_STAT_COUNTER, "t_fam", "why", "b", "k_ab", "second.")                        \
    X(T_C, SK_STAT_GAUGE, "t_level", "", "", "k_c", "a level.")

enum { TEST_STATS(SVC_STAT_ENUM) T_N };

static uint64_t test_value(void *obj, int id, uint64_t now_ms)
{
    const uint64_t *v = obj;

    return id == T_C ? v[id] + now_ms : v[id];
}

SVC_STATS_DEFINE(test_stats, TEST_STATS, "test_stats", test_value);

SK_TEST(stats_format_sums_shared_keys)
{
    uint64_t v[T_N] = {3, 4, 10};
    char buf[64];

    CHECK_EQ(test_stats.nrows, 3);
    CHECK_EQ(svc_stats_format(&test_stats, v, 5, buf, sizeof(buf)), strlen(" k_ab=7 k_c=15"));
    CHECK_STR(buf, " k_ab=7 k_c=15");
    /* Cut short: terminated, the full length returned. */
    CHECK_EQ(svc_stats_format(&test_stats, v, 5, buf, 8), strlen(" k_ab=7 k_c=15"));
    CHECK_STR(buf, " k_ab=7");
    CHECK_EQ(svc_stats_format(&test_stats, v, 5, NULL, 0), strlen(" k_ab=7 k_c=15"));
    CHECK(svc_stats_find(&test_stats, "k_c") == &test_stats.rows[2]);
    CHECK(svc_stats_find(&test_stats, "k_ab") == &test_stats.rows[0]);
    CHECK(svc_stats_find(&test_stats, "nope") == NULL);
}

/* Every service table: ids are its enum in range and distinct, a label is
 * named and valued or neither, a family has one kind and one label name,
 * and two rows share a key only within one family (a sum of one kind). */
static void check_table(const svc_stats *d, int nids)
{
    CHECK(d->nrows > 0);
    CHECK(d->value != NULL);
    for (size_t r = 0; r < d->nrows; r++) {
        const svc_stat_row *a = &d->rows[r];

        CHECK(a->id >= 0 && a->id < nids);
        CHECK(a->kind == SK_STAT_COUNTER || a->kind == SK_STAT_GAUGE);
        CHECK((a->lname[0] == '\0') == (a->lvalue[0] == '\0'));
        CHECK(a->key[0] != '\0' && a->help[0] != '\0' && a->metric[0] != '\0');
        for (size_t k = 0; k < r; k++) {
            const svc_stat_row *b = &d->rows[k];

            CHECK(a->id != b->id);
            if (strcmp(a->metric, b->metric) == 0) {
                CHECK_EQ(a->kind, b->kind);
                CHECK_STR(a->lname, b->lname);
                CHECK(strcmp(a->lvalue, b->lvalue) != 0);
            }
            if (strcmp(a->key, b->key) == 0)
                CHECK_STR(a->metric, b->metric);
        }
    }
}

SK_TEST(service_counter_tables)
{
    log_sink logs = {0};
    svc_udpguard *g = guard_make(0, 0, 0, &logs);
    sk_addr a = addr_of("127.0.0.1", 5000);
    char line[512];

    check_table(&svc_udpguard_stats, SVC_UDP_NREASONS);
    check_table(&svc_ntp_stats, SVC_NTP_NCOUNTERS);
    check_table(&svc_nts_stats, SVC_NTP_NCOUNTERS);
    check_table(&svc_stamp_stats, SVC_STAMP_NCOUNTERS);
    /* Every counter of the enums has its row (the guard's PASS is no
     * counter). */
    CHECK_EQ(svc_udpguard_stats.nrows, SVC_UDP_NREASONS - 1);
    CHECK_EQ(svc_ntp_stats.nrows + svc_nts_stats.nrows, SVC_NTP_NCOUNTERS);
    CHECK_EQ(svc_stamp_stats.nrows, SVC_STAMP_NCOUNTERS);
    /* The guard's reason names are its label values. */
    CHECK_STR(svc_udp_reason_name(SVC_UDP_PASS), "pass");
    CHECK_STR(svc_udp_reason_name(SVC_UDP_DROP_PRIVPORT), "private_port");
    CHECK_STR(svc_udp_reason_name(SVC_UDP_DROP_SIZE), "reply_size");
    CHECK_STR(svc_udp_reason_name(SVC_UDP_NREASONS), "unknown");
    CHECK_STR(svc_stamp_counter_name(SVC_STAMP_SESSIONS_OPEN), "sessions_open");
    /* The guard's stop keys: the port and rate drops summed. */
    svc_udpguard_count(g, SVC_UDP_DROP_PRIVPORT, &a, 0);
    svc_udpguard_count(g, SVC_UDP_DROP_SVCPORT, &a, 0);
    svc_udpguard_count(g, SVC_UDP_DROP_GLOBAL, &a, 0);
    svc_udpguard_count(g, SVC_UDP_DROP_SIZE, &a, 0);
    svc_stats_format(&svc_udpguard_stats, g, 0, line, sizeof(line));
    CHECK_STR(line, " udp_dropped_port=2 udp_dropped_address=0 udp_dropped_rate=1 "
                    "udp_dropped_size=1");
    svc_udpguard_free(g);
}
