/* SPDX-License-Identifier: MIT */
/*
 * cli/notify.c - the readiness side of the systemd protocol (sd_notify),
 * written by hand so the build needs no libsystemd: each state change is
 * one datagram of "KEY=VALUE" lines to the Unix socket NOTIFY_SOCKET names,
 * a path or, with a leading '@', a name in Linux's abstract namespace.
 *
 * The socket is made once, up front, so that notify_send is a single
 * sendto(2) and may run in a signal handler (STOPPING=1 on SIGTERM).
 */
#define _GNU_SOURCE /* MSG_NOSIGNAL, SOCK_CLOEXEC */
#include "supervise.h"

#include "cli.h"
#include "clock.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

/* Fills notify_addr from the variable's text.  Returns 0 or -1 after
 * printing why. */
static int notify_parse(const char *text)
{
    size_t len = strlen(text);

    if ((text[0] != '/' && text[0] != '@') || len < 2 ||
        len >= sizeof(notify_addr.sun_path)) {
        cli_error("NOTIFY_SOCKET", "'%s' is not a Unix socket path or @abstract name", text);
        return -1;
    }
    memset(&notify_addr, 0, sizeof(notify_addr));
    notify_addr.sun_family = AF_UNIX;
    memcpy(notify_addr.sun_path, text, len);
    if (text[0] == '@')
        notify_addr.sun_path[0] = '\0'; /* abstract: no terminating NUL counted */
    notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                             (text[0] == '/' ? 1 : 0));
    return 0;
}

int notify_open(void)
{
    const char *text = getenv("NOTIFY_SOCKET");
    int rc;

    if (text == NULL || text[0] == '\0')
        return 0;
    rc = notify_parse(text);
    unsetenv("NOTIFY_SOCKET");
    if (rc < 0)
        return -1;
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (notify_fd < 0) {
        cli_error("NOTIFY_SOCKET", "socket: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void notify_send(const char *state)
{
    if (notify_fd < 0)
        return;
    (void)sendto(notify_fd, state, strlen(state), MSG_NOSIGNAL,
                 (const struct sockaddr *)&notify_addr, notify_len);
}

void notify_reloading(void)
{
    char msg[64];

    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)(cli_now_ns() / 1000));
    notify_send(msg);
}

void notify_close(void)
{
    if (notify_fd >= 0)
        close(notify_fd);
    notify_fd = -1;
}
