/* SPDX-License-Identifier: MIT */
/*
 * cli/echo.c - `sockit echo`: sends lines to an RFC 862 echo server and checks
 * that each comes back unchanged.
 *
 * The lines are the MESSAGE arguments, or else the lines of standard input.
 * Over TCP a line goes out with its newline, in pieces of ECHO_CHUNK bytes,
 * and exactly as many bytes are read back before the next piece (TCP does
 * not keep message boundaries, so the count is the framing; reading as we
 * go keeps a long line from filling both directions' buffers).  Over UDP a
 * line is one datagram without its newline, resent on loss.
 */
#include "cli.h"
#include "client.h"

#include <stdlib.h>
#include <string.h>

#define ECHO_CHUNK 16384

static const struct client_cmd echo_cmd = {
    .name = "echo",
    .default_port = 7,
    .opts = CLIENT_OPT_UDP | CLIENT_OPT_FAMILY | CLIENT_OPT_TIMEOUT | CLIENT_OPT_TLS,
    .messages = true,
    .args = "HOST [PORT] [MESSAGE...]",
    .summary = "Send each MESSAGE, or each line of standard input, to an RFC 862 echo\n"
               "server; print 'Sent: LINE' and 'Received: REPLY' and check that the\n"
               "reply is the line unchanged.",
    .details = "To give MESSAGEs, give PORT too (e.g. 7); put '--' before a MESSAGE\n"
               "that starts with '-'.  A reply that differs is an error (exit 1).\n",
};

/* The run's state: the connection (one of the two) and the line sent last. */
struct echo_run {
    struct client *c;
    sk_sock *tcp;
    struct client_udp udp;
    char *reply;          /* buffer for a reply, `cap` bytes */
    size_t cap;
    const char *prev;     /* the previous line sent over UDP, or NULL */
    size_t prevlen;
};

/* Prints `label` and buf[0..len) without its line end; control characters
 * are shown as \xNN so a reply cannot drive the terminal. */
static void print_line(const char *label, const char *buf, size_t len)
{
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    fputs(label, stdout);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if ((ch < ' ' && ch != '\t') || ch == 0x7f)
            printf("\\x%02x", ch);
        else
            putchar(ch);
    }
    putchar('\n');
}

/* Index of the first byte where a and b differ (the shorter's length when
 * one is a prefix of the other), or -1 when they are equal. */
static ssize_t first_difference(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;

    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (ssize_t)i;
    return alen == blen ? -1 : (ssize_t)n;
}

/* Makes room for a reply of `len` bytes.  Returns 0 or -1 (printed). */
static int reserve(struct echo_run *r, size_t len)
{
    char *p;

    if (len <= r->cap)
        return 0;
    p = realloc(r->reply, len);
    if (p == NULL) {
        cli_error("echo", "out of memory for a %zu-byte line", len);
        return -1;
    }
    r->reply = p;
    r->cap = len;
    return 0;
}

/* TCP: sends `line` in chunks, reading each chunk's echo back.  Returns the
 * reply length (== len unless the server closed early), or -1. */
static ssize_t exchange_tcp(struct echo_run *r, const char *line, size_t len)
{
    size_t done = 0;

    if (reserve(r, len) < 0)
        return -1;
    while (done < len) {
        size_t n = len - done < ECHO_CHUNK ? len - done : ECHO_CHUNK;
        int rc = sk_sock_sendall(r->tcp, line + done, n, NULL);
        ssize_t got;

        if (rc < 0) {
            client_error(r->c, "send: %s", sk_strerror(rc));
            return -1;
        }
        got = sk_frame_recv_exact(r->tcp, r->reply + done, n);
        if (got == SK_EOF || got == SK_EPARTIAL) {
            client_error(r->c, "server closed the connection before echoing "
                         "everything (%zu of %zu bytes)", done, len);
            return -1;
        }
        if (got < 0) {
            client_error(r->c, "receive: %s", sk_strerror((int)got));
            return -1;
        }
        done += n;
    }
    return (ssize_t)len;
}

/* A UDP reply equal to the line sent before (a late answer to a resent
 * datagram) is skipped rather than taken for this line's reply. */
static enum client_reply skip_stale(const void *buf, size_t len, void *arg)
{
    const struct echo_run *r = arg;

    if (r->prev != NULL && len == r->prevlen && memcmp(buf, r->prev, len) == 0)
        return CLIENT_REPLY_IGNORE;
    return CLIENT_REPLY_TAKE;
}

/* UDP: sends `line` as one datagram (resent on loss) and returns the
 * reply's length (in r->reply), or -1 after printing the error. */
static ssize_t exchange_udp(struct echo_run *r, const char *line, size_t len)
{
    ssize_t n;

    if (len > CLIENT_UDP_MAX) {
        client_error(r->c, "a %zu-byte line does not fit in a datagram (at most %d)",
                     len, CLIENT_UDP_MAX);
        return -1;
    }
    if (reserve(r, CLIENT_UDP_MAX + 1) < 0)
        return -1;
    /* The stale check only matters when this line differs from the last. */
    if (r->prev != NULL && r->prevlen == len && memcmp(r->prev, line, len) == 0)
        r->prev = NULL;
    n = client_udp_request(r->c, &r->udp, line, len, r->reply, r->cap, skip_stale, r);
    r->prev = line;
    r->prevlen = len;
    return n;
}

/*
 * Sends one line and checks its echo.  `line` includes its newline, which
 * travels over TCP only.  `line` must stay valid until the next call (UDP
 * keeps it to recognise a late duplicate).  Returns 0 or -1 (printed).
 */
static int echo_line(struct echo_run *r, const char *line, size_t len)
{
    size_t body = len > 0 && line[len - 1] == '\n' ? len - 1 : len;
    size_t want = r->c->udp ? body : len;
    ssize_t n, diff;

    print_line("Sent: ", line, body);
    n = r->c->udp ? exchange_udp(r, line, want) : exchange_tcp(r, line, want);
    if (n < 0)
        return -1;
    print_line("Received: ", r->reply, (size_t)n);
    diff = first_difference(line, want, r->reply, (size_t)n);
    if (diff >= 0) {
        fflush(stdout);
        client_error(r->c, "reply differs from what was sent at byte %zd "
                     "(sent %zu bytes, received %zd)", diff, want, n);
        return -1;
    }
    return 0;
}

/* The MESSAGE arguments, each with a newline added. */
static int echo_args(struct echo_run *r)
{
    char *prev = NULL;
    int rc = 0;

    for (int i = 0; i < r->c->nextra && rc == 0; i++) {
        size_t len = strlen(r->c->extra[i]);
        char *line = malloc(len + 2);

        if (line == NULL) {
            cli_error("echo", "out of memory");
            rc = -1;
            break;
        }
        memcpy(line, r->c->extra[i], len);
        memcpy(line + len, "\n", 2);
        rc = echo_line(r, line, len + 1);
        free(prev);
        prev = line;
    }
    free(prev);
    return rc;
}

/* The lines of standard input. */
static int echo_stdin(struct echo_run *r)
{
    char *lines[2] = {NULL, NULL};
    size_t caps[2] = {0, 0};
    int rc = 0, cur = 0;
    ssize_t len;

    /* Two line buffers in turn, so the previous line outlives the next
     * read (UDP compares replies with it). */
    while (rc == 0 && (len = getline(&lines[cur], &caps[cur], stdin)) > 0) {
        rc = echo_line(r, lines[cur], (size_t)len);
        cur ^= 1;
    }
    if (rc == 0 && ferror(stdin)) {
        cli_error("echo: standard input", "read error");
        rc = -1;
    }
    free(lines[0]);
    free(lines[1]);
    return rc;
}

int cmd_echo(int argc, char **argv)
{
    struct echo_run r = {0};
    struct client c;
    int status, rc;

    if (!client_parse(&c, &echo_cmd, argc, argv, &status))
        return status;
    r.c = &c;
    if (c.udp ? client_udp_open(&c, &r.udp) : client_connect(&c, &r.tcp))
        return CLI_EXIT_FAIL;
    rc = c.nextra > 0 ? echo_args(&r) : echo_stdin(&r);
    if (c.udp)
        client_udp_close(&r.udp);
    sk_sock_free(r.tcp);
    free(r.reply);
    if (rc < 0)
        return CLI_EXIT_FAIL;
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
