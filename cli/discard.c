/* SPDX-License-Identifier: MIT */
/*
 * cli/discard.c - `sockit discard`: sends standard input to an RFC 863 discard
 * server and reports how many bytes went out.
 *
 * After the last byte the sending side is shut down and we wait for the
 * server to close in turn: a discard server closes once it has read
 * everything, so its close confirms the bytes were taken.
 */
#include "cli.h"
#include "client.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct client_cmd discard_cmd = {
    .name = "discard",
    .default_port = 9,
    .opts = CLIENT_OPT_FAMILY | CLIENT_OPT_TIMEOUT | CLIENT_OPT_TLS,
    .args = "HOST [PORT]",
    .summary = "Send standard input to an RFC 863 discard server and report how many\n"
               "bytes were sent.",
    .details = NULL,
};

/* read(2) from standard input, EINTR retried.  Returns the count or -errno. */
static ssize_t read_stdin(void *buf, size_t size)
{
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, size);

        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

/* Copies standard input to the socket; *total counts what went out. */
static int send_stdin(struct client *c, sk_sock *s, uint64_t *total)
{
    unsigned char buf[65536];

    for (;;) {
        ssize_t n = read_stdin(buf, sizeof(buf));
        size_t sent = 0;
        int rc;

        if (n == 0)
            return 0;
        if (n < 0) {
            cli_error_code("discard: standard input", (int)n);
            return -1;
        }
        rc = sk_sock_sendall(s, buf, (size_t)n, &sent);
        *total += sent;
        if (rc < 0) {
            client_error(c, "send after %" PRIu64 " bytes: %s", *total, sk_strerror(rc));
            return -1;
        }
    }
}

/* Waits for the server to close after our end of input.  Returns 0 or -1
 * after printing the error. */
static int wait_close(struct client *c, sk_sock *s)
{
    unsigned char b;
    ssize_t n;

    n = sk_sock_recv(s, &b, 1, 0);
    if (n == 0)
        return 0;
    if (n > 0)
        client_error(c, "server sent data (a discard server sends none)");
    else if (n == SK_ETIMEOUT)
        client_error(c, "server did not close within %g s after the end of input",
                     c->timeout);
    else
        client_error(c, "receive: %s", sk_strerror((int)n));
    return -1;
}

int cmd_discard(int argc, char **argv)
{
    struct client c;
    sk_sock *s = NULL;
    uint64_t total = 0;
    int status, rc;

    if (!client_parse(&c, &discard_cmd, argc, argv, &status))
        return status;
    if (client_connect(&c, &s) < 0)
        return CLI_EXIT_FAIL;
    status = CLI_EXIT_FAIL;
    if (send_stdin(&c, s, &total) < 0)
        goto out;
    rc = sk_sock_shutdown(s, SHUT_WR);
    if (rc < 0) {
        client_error(&c, "shutdown: %s", sk_strerror(rc));
        goto out;
    }
    if (wait_close(&c, s) < 0)
        goto out;
    printf("sent %" PRIu64 " bytes to %s\n", total, c.where);
    status = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
    sk_sock_free(s);
    return status;
}
