/* SPDX-License-Identifier: MIT */
/*
 * examples/time_server.c - an RFC 868 time server, the C twin of the classic Python
 * tutorial server:
 *
 *     service = socket.create_server(("", PORT))
 *     while True:
 *         channel, info = service.accept()
 *         channel.sendall(struct.pack("!I", int(time.time()) + TIME1970))
 *         channel.close()
 *
 * With --udp it answers every datagram (an empty one too) with the same four
 * bytes, like the tutorial's recvfrom/sendto version.
 *
 * Usage: time_server [--udp] [PORT]        (default port 8037)
 */
#include "sockit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PROG "time_server"
#define DEFAULT_PORT "8037"
#define TIME1970 2208988800LL /* seconds from 1900-01-01 to 1970-01-01 */

static void fail(const char *what, int code)
{
    fprintf(stderr, PROG ": %s: %s\n", what, sk_strerror(code));
}

/* The time as RFC 868 sends it: seconds since 1900, modulo 2^32 (the
 * counter wraps in 2036), as 4 big-endian bytes. */
static void rfc868_now(unsigned char out[4])
{
    uint32_t seconds = (uint32_t)((long long)time(NULL) + TIME1970);
    uint32_t wire = sk_htonl(seconds);

    memcpy(out, &wire, 4);
}

/*
 * Python's create_server(("", port), family=AF_INET6, dualstack_ipv6=True)
 * where the system has dual-stack IPv6, else create_server(("", port)).
 * Prints the ready line.  Returns 0 or a negative error code.
 */
static int open_server(sk_sock **out, int port, int type)
{
    bool dual = sk_has_dualstack_ipv6();
    sk_addr addr;
    char text[SK_ADDRSTRLEN];
    int rc;

    sk_addr_from_ip(&addr, dual ? "::" : "0.0.0.0", port, dual ? AF_INET6 : AF_INET);
    rc = sk_create_server(out, &addr, type, 5, dual ? SK_SERVER_DUALSTACK : 0);
    if (rc < 0)
        return rc;
    sk_sock_getsockname(*out, &addr);
    sk_addr_format(&addr, text, sizeof text);
    printf("Listening on %s%s\n", text, type == SOCK_DGRAM ? " (UDP)" : "");
    return 0;
}

/* Serves TCP clients one after another, forever.  Returns 1 on a failure
 * of the listening socket itself. */
static int serve_tcp(sk_sock *service)
{
    for (;;) {
        sk_sock *channel;
        sk_addr info;
        char text[SK_ADDRSTRLEN];
        unsigned char now[4];
        int rc = sk_sock_accept(service, &channel, &info);

        if (rc == -ECONNABORTED)
            continue; /* the client gave up before we got to it */
        if (rc < 0) {
            fail("accept", rc);
            return 1;
        }
        sk_addr_format(&info, text, sizeof text);
        printf("Connection from %s\n", text);
        rfc868_now(now);
        rc = sk_sock_sendall(channel, now, sizeof now, NULL);
        if (rc < 0)
            fail("send", rc); /* that client's loss, not the server's */
        sk_sock_free(channel);
    }
}

/* Answers every datagram, whatever it holds, with the time. */
static int serve_udp(sk_sock *service)
{
    for (;;) {
        char request[512];
        sk_addr from;
        unsigned char now[4];
        ssize_t n = sk_sock_recvfrom(service, request, sizeof request, 0, &from);

        if (n < 0) {
            fail("recvfrom", (int)n);
            return 1;
        }
        rfc868_now(now);
        n = sk_sock_sendto(service, now, sizeof now, 0, &from);
        if (n < 0)
            fail("sendto", (int)n);
    }
}

int main(int argc, char **argv)
{
    const char *port_text = DEFAULT_PORT;
    bool udp = false;
    int nargs = 0, port, rc;
    sk_sock *service;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--udp") == 0)
            udp = true;
        else if (argv[i][0] != '-' && nargs++ == 0)
            port_text = argv[i];
        else
            goto usage;
    }
    port = sk_port_parse(port_text, udp ? "udp" : "tcp");
    if (port < 0)
        goto usage;

    /* Line-buffered, so whoever reads our output through a pipe sees each
     * line as soon as it is printed. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = open_server(&service, port, udp ? SOCK_DGRAM : SOCK_STREAM);
    if (rc < 0) {
        fail(port_text, rc);
        return 1;
    }
    rc = udp ? serve_udp(service) : serve_tcp(service);
    sk_sock_free(service);
    return rc;

usage:
    fprintf(stderr, "usage: " PROG " [--udp] [PORT]\n");
    return 2;
}
