/* SPDX-License-Identifier: MIT */
/*
 * cli/time.c - `sockit time`: asks an RFC 868 time server for the time and
 * compares it with the local clock.
 *
 * Over TCP the server sends 4 bytes and closes; over UDP it answers any
 * datagram (we send an empty one) with 4 bytes.  The value counts seconds
 * since 1900 modulo 2^32; rfc868.c picks the era nearest the local clock.
 */
#include "cli.h"
#include "client.h"
#include "clock.h"
#include "daytime.h"
#include "rfc868.h"

#include <inttypes.h>
#include <time.h>

static const struct client_cmd time_cmd = {
    .name = "time",
    .default_port = 37,
    .opts = CLIENT_OPT_UDP | CLIENT_OPT_FAMILY | CLIENT_OPT_TIMEOUT | CLIENT_OPT_TLS |
            CLIENT_OPT_JSON,
    .args = "HOST [PORT]",
    .summary = "Ask an RFC 868 time server for the time and compare it with the\n"
               "local clock.  Prints 'server time is DATE' (UTC) and 'local clock is\n"
               "N seconds off' (N = local - server).",
    .details = "Over UDP the request is resent with backoff until SECONDS have passed.\n"
               "The 32-bit reply wraps on 2036-02-07; the era nearest the local\n"
               "clock is taken.\n",
};

/* What one exchange produced. */
struct time_reply {
    uint32_t value;     /* the server's 32-bit count */
    double rtt;         /* seconds from the request to the reply */
    struct timespec at; /* the local clock when the reply arrived */
};

/* Asks the server; checks the reply is exactly 4 bytes and decodes it. */
static int ask(struct client *c, struct time_reply *r)
{
    double t0 = cli_now();
    unsigned char buf[4];
    ssize_t n;

    n = client_ask(c, buf, sizeof(buf));
    if (n < 0)
        return -1;
    r->rtt = cli_now() - t0;
    clock_gettime(CLOCK_REALTIME, &r->at);
    if (n != 4) {
        client_error(c, "reply is %zd byte%s, expected exactly 4", n, n == 1 ? "" : "s");
        return -1;
    }
    r->value = rfc868_decode(buf);
    return 0;
}

/* Writes `t` as the daytime line in `style` (proto/daytime.c), without its
 * CR LF; a time gmtime cannot break down is written as Unix seconds. */
static void format_time(int64_t t, daytime_style style, char *buf, size_t size)
{
    int n = daytime_format(t, style, buf, size);

    if (n >= 2)
        buf[n - 2] = '\0';
    else
        snprintf(buf, size, "%" PRId64 " (Unix time)", t);
}

/* Prints `s` as a JSON string (quotes and escapes included). */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* Prints the result as one JSON object on one line (see sockit(1)). */
static void print_json(const struct client *c, const struct time_reply *r,
                       int64_t server, int64_t local)
{
    char iso[64];

    format_time(server, DAYTIME_RFC3339, iso, sizeof(iso));
    printf("{\"server\": ");
    json_string(c->where);
    printf(", \"protocol\": \"%s\", \"value\": %" PRIu32 ", \"server_unix\": %" PRId64
           ", \"server_time\": \"%s\", \"local_unix\": %" PRId64
           ", \"offset_seconds\": %" PRId64 ", \"rtt_ms\": %.3f}\n",
           c->udp ? "udp" : "tcp", r->value, server, iso, local, local - server,
           r->rtt * 1000.0);
}

int cmd_time(int argc, char **argv)
{
    struct time_reply r = {0};
    struct client c;
    int64_t local, server;
    char date[64];
    int status;

    if (!client_parse(&c, &time_cmd, argc, argv, &status))
        return status;
    if (ask(&c, &r) < 0)
        return CLI_EXIT_FAIL;
    local = (int64_t)r.at.tv_sec;
    server = rfc868_to_unix(r.value, local);
    if (c.json) {
        print_json(&c, &r, server, local);
    } else {
        format_time(server, DAYTIME_CTIME, date, sizeof(date));
        printf("server time is %s\n", date);
        printf("local clock is %" PRId64 " seconds off\n", local - server);
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
