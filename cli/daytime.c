/* SPDX-License-Identifier: MIT */
/*
 * cli/daytime.c - `sockit daytime`: prints an RFC 867 daytime server's line.
 *
 * The server sends one human-readable date line (over TCP, then closes; over
 * UDP, in answer to any datagram).  The line's format is not fixed by the
 * RFC, so it is printed as it came, once it is known to be plain text.
 */
#include "cli.h"
#include "client.h"

/* Longer than any date line; a longer reply is not a daytime server. */
#define DAYTIME_MAX 1024

static const struct client_cmd daytime_cmd = {
    .name = "daytime",
    .default_port = 13,
    .opts = CLIENT_OPT_UDP | CLIENT_OPT_FAMILY | CLIENT_OPT_TIMEOUT | CLIENT_OPT_TLS,
    .args = "HOST [PORT]",
    .summary = "Print the date line of an RFC 867 daytime server.",
    .details = NULL,
};

int cmd_daytime(int argc, char **argv)
{
    char buf[DAYTIME_MAX];
    struct client c;
    ssize_t n;
    int status;

    if (!client_parse(&c, &daytime_cmd, argc, argv, &status))
        return status;
    n = client_ask_text(&c, buf, sizeof(buf), "reply");
    if (n < 0)
        return CLI_EXIT_FAIL;
    printf("%.*s\n", (int)n, buf);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
