/* SPDX-License-Identifier: MIT */
/*
 * cli/chargen.c - `sockit chargen`: reads from an RFC 864 character generator
 * and verifies every byte against the pattern (chargen_check.c).
 *
 * Over TCP the server streams until we close: read --bytes bytes, checking
 * as they come.  Over UDP each request (an empty datagram) gets one
 * datagram of 0-512 pattern bytes, each checked on its own: one datagram,
 * or as many as it takes to get --bytes bytes when that is given.
 */
#include "cli.h"
#include "client.h"
#include "chargen.h"

#include <inttypes.h>

/* One full cycle of lines (95 x 74 = 7030 bytes) and a bit. */
#define CHARGEN_DEFAULT_BYTES 7400
/* Over UDP, this many empty replies in a row end the run. */
#define CHARGEN_MAX_EMPTY 16

static const struct client_cmd chargen_cmd = {
    .name = "chargen",
    .default_port = 19,
    .opts = CLIENT_OPT_BYTES | CLIENT_OPT_UDP | CLIENT_OPT_FAMILY | CLIENT_OPT_TIMEOUT |
            CLIENT_OPT_TLS,
    .args = "HOST [PORT]",
    .summary = "Read from an RFC 864 character generator and check every byte\n"
               "against the pattern: lines of 72 characters from the 95 printable\n"
               "ASCII characters, each line starting one character further on,\n"
               "ended by CR LF.  The first line may start anywhere in the ring.",
    .details = "Over UDP each reply datagram is checked on its own: one datagram is\n"
               "asked for, or as many as it takes to get N bytes when --bytes is given.\n"
               "A byte that breaks the pattern is reported with its offset (exit 1).\n",
    .default_bytes = CHARGEN_DEFAULT_BYTES,
};

/* Writes a byte for a message: 'A' (0x41), CR (0x0d), or 0x07. */
static void describe(int b, char *buf, size_t size)
{
    if (b == CHARGEN_EXPECT_PRINTABLE)
        snprintf(buf, size, "a printable character");
    else if (b >= ' ' && b <= '~')
        snprintf(buf, size, "'%c' (0x%02x)", b, b);
    else if (b == '\r' || b == '\n')
        snprintf(buf, size, "%s (0x%02x)", b == '\r' ? "CR" : "LF", b);
    else
        snprintf(buf, size, "0x%02x", b);
}

/* Prints where the stream first left the pattern; `prefix` names the
 * datagram over UDP. */
static void report_mismatch(const struct client *c, const struct chargen_check *k,
                            const char *prefix)
{
    char want[32], got[32];

    describe(k->expected, want, sizeof(want));
    describe(k->got, got, sizeof(got));
    client_error(c, "%sbyte %" PRIu64 " breaks the RFC 864 pattern: expected %s, got %s",
                 prefix, k->bad_offset, want, got);
}

/* Prints the success line; `how` tells the datagram count over UDP. */
static void report_ok(uint64_t bytes, int first, const char *how)
{
    printf("received %" PRIu64 " bytes%s, all matching the RFC 864 pattern", bytes, how);
    if (bytes > 0)
        printf(" (first line starts with '%c')", ' ' + first);
    printf("\n");
}

/* TCP: reads c->bytes bytes through the verifier. */
static int run_tcp(struct client *c)
{
    struct chargen_check k = {0};
    unsigned char buf[16384];
    sk_sock *s = NULL;
    int rc = -1;

    if (client_connect(c, &s) < 0)
        return -1;
    while (k.offset < c->bytes) {
        uint64_t want = c->bytes - k.offset;
        ssize_t n = sk_sock_recv(s, buf, want < sizeof(buf) ? (size_t)want : sizeof(buf), 0);

        if (n <= 0) {
            if (n == 0)
                client_error(c, "stream ended after %" PRIu64 " of %" PRIu64 " bytes",
                             k.offset, c->bytes);
            else
                client_error(c, "receive after %" PRIu64 " bytes: %s", k.offset,
                             sk_strerror((int)n));
            goto out;
        }
        if (chargen_check_feed(&k, buf, (size_t)n) < 0) {
            report_mismatch(c, &k, "");
            goto out;
        }
    }
    report_ok(k.offset, k.first, "");
    rc = 0;
out:
    sk_sock_free(s);
    return rc;
}

/* UDP: one datagram, or datagrams until c->bytes bytes when --bytes was given. */
static int run_udp(struct client *c)
{
    static unsigned char buf[CLIENT_UDP_MAX + 1];
    struct client_udp u;
    uint64_t total = 0;
    unsigned datagrams = 0, empty = 0;
    int first = 0, rc = -1;
    char how[64], prefix[48];

    if (client_udp_open(c, &u) < 0)
        return -1;
    do {
        struct chargen_check k = {0};
        ssize_t n = client_udp_request(c, &u, "", 0, buf, sizeof(buf), NULL, NULL);

        if (n < 0)
            goto out;
        datagrams++;
        if (chargen_check_feed(&k, buf, (size_t)n) < 0) {
            snprintf(prefix, sizeof(prefix), "datagram %u, ", datagrams);
            report_mismatch(c, &k, prefix);
            goto out;
        }
        if (total == 0)
            first = k.first;
        total += (uint64_t)n;
        empty = n == 0 ? empty + 1 : 0;
        if (empty == CHARGEN_MAX_EMPTY) {
            client_error(c, "%u empty replies in a row", empty);
            goto out;
        }
    } while (c->bytes_given && total < c->bytes);
    snprintf(how, sizeof(how), " in %u datagram%s", datagrams, datagrams == 1 ? "" : "s");
    report_ok(total, first, how);
    rc = 0;
out:
    client_udp_close(&u);
    return rc;
}

int cmd_chargen(int argc, char **argv)
{
    struct client c;
    int status;

    if (!client_parse(&c, &chargen_cmd, argc, argv, &status))
        return status;
    if ((c.udp ? run_udp(&c) : run_tcp(&c)) < 0)
        return CLI_EXIT_FAIL;
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
