/* SPDX-License-Identifier: MIT */
/*
 * cli/qotd.c - `sockit qotd`: prints an RFC 865 quote of the day.
 *
 * The server sends one quote (over TCP, then closes; over UDP, in answer to
 * any datagram).  It is printed once it is known to be plain text, with CR
 * LF line ends turned into the terminal's LF.
 */
#include "cli.h"
#include "client.h"

/* RFC 865 asks for quotes under 512 characters; allow generous slack. */
#define QOTD_MAX 4096

static const struct client_cmd qotd_cmd = {
    .name = "qotd",
    .default_port = 17,
    .opts = CLIENT_OPT_UDP | CLIENT_OPT_FAMILY | CLIENT_OPT_TIMEOUT | CLIENT_OPT_TLS,
    .args = "HOST [PORT]",
    .summary = "Print the quote of an RFC 865 quote-of-the-day server.",
    .details = NULL,
};

/* Writes buf[0..len) with each CR that precedes an LF dropped. */
static void print_quote(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
            continue;
        putchar(buf[i]);
    }
    putchar('\n');
}

int cmd_qotd(int argc, char **argv)
{
    char buf[QOTD_MAX];
    struct client c;
    ssize_t n;
    int status;

    if (!client_parse(&c, &qotd_cmd, argc, argv, &status))
        return status;
    n = client_ask_text(&c, buf, sizeof(buf), "quote");
    if (n < 0)
        return CLI_EXIT_FAIL;
    print_quote(buf, (size_t)n);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
