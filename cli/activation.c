/* SPDX-License-Identifier: MIT */
/*
 * cli/activation.c - systemd's socket activation protocol, read by hand (no
 * libsystemd): LISTEN_PID says whom the descriptors are for, LISTEN_FDS
 * how many there are (from descriptor 3 on), LISTEN_FDNAMES, colon-
 * separated, what each is called.
 *
 *   act_env        reads and unsets the three variables
 *   act_place      decides one descriptor's service: its name first, then
 *                  its local port; SO_TYPE decides TCP or UDP
 *   act_take_fds   the whole walk, with one clear error per descriptor
 *
 * Nothing here changes a socket beyond close-on-exec: family, IPV6_V6ONLY
 * and the rest stay as the supervisor made them (the server adopts them).
 */
#include "supervise.h"

#include "cli.h"
#include "svclist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACT_NAMES_MAX 4096

/* The three variables, copied before they are unset. */
typedef struct act_env {
    bool for_us;            /* LISTEN_PID is this process */
    const char *fds_text;   /* LISTEN_FDS, NULL when unset */
    char fds_buf[32];
    char names[ACT_NAMES_MAX]; /* LISTEN_FDNAMES, "" when unset */
} act_env;

/* Parses a whole decimal number (no sign, no blanks).  -1 when it is not. */
static long parse_count(const char *text)
{
    char *end;
    long v;

    if (text == NULL || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : v;
}

static void act_env_read(act_env *e)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");

    memset(e, 0, sizeof(*e));
    e->for_us = pid != NULL && parse_count(pid) == (long)getpid();
    if (fds != NULL) {
        snprintf(e->fds_buf, sizeof(e->fds_buf), "%s", fds);
        e->fds_text = e->fds_buf;
    }
    if (names != NULL)
        snprintf(e->names, sizeof(e->names), "%s", names);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
}

/* The slot a descriptor name stands for: the name itself or the part
 * before its first '-' or '.' ("echo-v6", "time.udp"), that part with
 * "-tls" for a TLS twin ("echo-tls", "echo-tls-v6", "echo-tls.tcp").  -1
 * if none. */
static int service_of_name(const char *name)
{
    size_t sfx = strlen(SVCLIST_TLS_SUFFIX);
    char head[32];
    size_t len = strcspn(name, "-.");

    if (len == 0 || len + sfx >= sizeof(head))
        return -1;
    memcpy(head, name, len);
    head[len] = '\0';
    if (strncmp(name + len, SVCLIST_TLS_SUFFIX, sfx) == 0 &&
        (name[len + sfx] == '\0' || name[len + sfx] == '-' || name[len + sfx] == '.'))
        strcat(head, SVCLIST_TLS_SUFFIX);
    return svclist_find(head);
}

int act_service_of_port(int port, const int ports[SVCLIST_SLOTS])
{
    for (int i = 0; i < SVCLIST_SLOTS; i++)
        if (svclist_valid(i) && ports[i] == port)
            return i;
    for (int i = 0; i < SVC_COUNT; i++)
        if (svc_table[i].std_port == port)
            return i;
    return -1;
}

/* Writes "tcp 127.0.0.1:8007" (what the descriptor is) into buf. */
static void describe(int fd, int type, char *buf, size_t size)
{
    sk_addr a;
    char text[SK_ADDRSTRLEN] = "?";

    a.len = sizeof(a.u);
    if (getsockname(fd, &a.u.sa, &a.len) == 0 && sk_addr_format(&a, text, sizeof(text)) < 0)
        snprintf(text, sizeof(text), "family %d", a.u.sa.sa_family);
    snprintf(buf, size, "%s %s", type == SOCK_STREAM ? "tcp" : "udp", text);
}

/*
 * Places descriptor `fd` named `name` ("" for none).  Returns 0 with *out
 * filled, or -1 after printing why.
 */
static int act_place(int fd, const char *name, const int ports[SVCLIST_SLOTS], act_fd *out)
{
    char what[64], desc[SK_ADDRSTRLEN + 16], known[256];
    int type = 0, port;
    socklen_t len = sizeof(type);
    sk_addr a;

    snprintf(what, sizeof(what), "LISTEN_FDS: descriptor %d", fd);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
        cli_error(what, "%s", strerror(errno));
        return -1;
    }
    if (type != SOCK_STREAM && type != SOCK_DGRAM) {
        cli_error(what, "socket type %d is neither TCP (stream) nor UDP (datagram)", type);
        return -1;
    }
    out->fd = fd;
    out->tcp = type == SOCK_STREAM;
    out->svc = service_of_name(name);
    out->by_name = out->svc >= 0;
    if (out->svc >= 0)
        return 0;
    a.len = sizeof(a.u);
    port = getsockname(fd, &a.u.sa, &a.len) == 0 ? sk_addr_port(&a) : -1;
    out->svc = port > 0 ? act_service_of_port(port, ports) : -1;
    if (out->svc >= 0)
        return 0;
    describe(fd, type, desc, sizeof(desc));
    cli_error("LISTEN_FDS", "descriptor %d (%s, name '%s') names no service (%s) and is on "
              "no service's port", fd, desc, name, svclist_names(known, sizeof(known)));
    return -1;
}

/* Cuts the next name off a colon-separated list; "" once the list is out. */
static const char *next_name(char **list)
{
    char *name = *list, *colon = strchr(name, ':');

    if (colon != NULL) {
        *colon = '\0';
        *list = colon + 1;
    } else {
        *list = name + strlen(name);
    }
    return name;
}

int act_take_fds(act_fd *out, int max, const int ports[SVCLIST_SLOTS])
{
    static act_env e; /* 4 KiB: kept off the stack */
    char *names;
    long n;

    act_env_read(&e);
    if (!e.for_us || e.fds_text == NULL)
        return 0;
    n = parse_count(e.fds_text);
    if (n < 0 || n > max) {
        cli_error("LISTEN_FDS", "'%s' is not a descriptor count from 0 to %d", e.fds_text,
                  max);
        return -1;
    }
    names = e.names;
    for (int i = 0; i < (int)n; i++)
        if (act_place(ACT_FIRST_FD + i, next_name(&names), ports, &out[i]) < 0)
            return -1;
    return (int)n;
}
