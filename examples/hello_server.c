/* SPDX-License-Identifier: MIT */
/*
 * examples/hello_server.c - greets each client and hangs up, the C twin of the
 * classic first Python socket server:
 *
 *     s = socket.create_server(("", 12345))
 *     while True:
 *         c, addr = s.accept()
 *         print("Got connection from", addr)
 *         c.sendall(b"Thank you for connecting")
 *         c.close()
 *
 * Usage: hello_server [PORT]               (default port 12345)
 */
#include "sockit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PROG "hello_server"
#define GREETING "Thank you for connecting"

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

int main(int argc, char **argv)
{
    const char *port_text = argc > 1 ? argv[1] : "12345";
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
        char text[SK_ADDRSTRLEN];

        rc = sk_sock_accept(s, &c, &addr);
        if (rc == -ECONNABORTED)
            continue; /* the client gave up before we got to it */
        if (rc < 0)
            break;
        sk_addr_format(&addr, text, sizeof text);
        printf("Got connection from %s\n", text);
        rc = sk_sock_sendall(c, GREETING, strlen(GREETING), NULL);
        if (rc < 0)
            fail(text, rc); /* that client's loss, not the server's */
        sk_sock_free(c);
    }
    fail("accept", rc);
    sk_sock_free(s);
    return 1;
}
