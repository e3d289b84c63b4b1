/* SPDX-License-Identifier: MIT */
/*
 * examples/daytime_server.c - tells each client the time as a ctime line and hangs
 * up, the C twin of the classic Python tutorial server:
 *
 *     s = socket.create_server(("", 9999))
 *     while True:
 *         c, addr = s.accept()
 *         print("Got a connection from", addr)
 *         c.sendall((time.ctime(time.time()) + "\r\n").encode("ascii"))
 *         c.close()
 *
 * Usage: daytime_server [PORT]             (default port 9999)
 */
#include "sockit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PROG "daytime_server"

static void fail(const char *what, int code)
{
    fprintf(stderr, PROG ": %s: %s\n", what, sk_strerror(code));
}

/*
 * Python's create_server(("", port), family=AF_INET6, dualstack_ipv6=True)
 * where the system has dual-stack IPv6, else create_server(("", port)).
 * Prints the ready line.  Returns 0 or a negative error code.
 */
static int open_server(sk_sock **out, int port)
{
    bool dual = sk_has_dualstack_ipv6();
    sk_addr addr;
    char text[SK_ADDRSTRLEN];
    int rc;

    sk_addr_from_ip(&addr, dual ? "::" : "0.0.0.0", port, dual ? AF_INET6 : AF_INET);
    rc = sk_create_server(out, &addr, SOCK_STREAM, 5, dual ? SK_SERVER_DUALSTACK : 0);
    if (rc < 0)
        return rc;
    sk_sock_getsockname(*out, &addr);
    sk_addr_format(&addr, text, sizeof text);
    printf("Listening on %s\n", text);
    return 0;
}

/* Writes "Sat Nov 21 17:31:49 2026\r\n" (local time, like time.ctime) and
 * returns its length. */
static size_t daytime_line(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;

    localtime_r(&now, &tm);
    return strftime(buf, size, "%a %b %e %H:%M:%S %Y\r\n", &tm);
}

int main(int argc, char **argv)
{
    const char *port_text = argc > 1 ? argv[1] : "9999";
    int port = sk_port_parse(port_text, "tcp");
    sk_sock *s;
    int rc;

    if (argc > 2 || port < 0) {
        fprintf(stderr, "usage: " PROG " [PORT]\n");
        return 2;
    }
    /* Line-buffered, so whoever reads our output through a pipe sees each
     * line as soon as it is printed. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = open_server(&s, port);
    if (rc < 0) {
        fail(port_text, rc);
        return 1;
    }
    for (;;) {
        sk_sock *c;
        sk_addr addr;
        char text[SK_ADDRSTRLEN], line[64];
        size_t len;

        rc = sk_sock_accept(s, &c, &addr);
        if (rc == -ECONNABORTED)
            continue; /* the client gave up before we got to it */
        if (rc < 0)
            break;
        sk_addr_format(&addr, text, sizeof text);
        printf("Got a connection from %s\n", text);
        len = daytime_line(line, sizeof line);
        rc = sk_sock_sendall(c, line, len, NULL);
        if (rc < 0)
            fail(text, rc); /* that client's loss, not the server's */
        sk_sock_free(c);
    }
    fail("accept", rc);
    sk_sock_free(s);
    return 1;
}
