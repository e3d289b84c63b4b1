/* SPDX-License-Identifier: MIT */
/*
 * examples/time_client.c - asks an RFC 868 time server for the time and compares it
 * with the local clock, the C twin of the classic Python tutorial client:
 *
 *     s = socket.create_connection((HOST, PORT))
 *     t = struct.unpack("!I", s.recv(4))[0]
 *     t = int(t - TIME1970)
 *     print("server time is", time.ctime(t))
 *     print("local clock is", int(time.time()) - t, "seconds off")
 *
 * With --udp it sends one empty datagram and reads the 4-byte reply.
 *
 * Usage: time_client [--udp] [HOST] [PORT]   (default localhost 8037)
 */
#include "sockit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PROG "time_client"
#define TIME1970 2208988800LL /* seconds from 1900-01-01 to 1970-01-01 */

/* TCP: connect, then read exactly 4 bytes (one recv(4) may return fewer). */
static int ask_tcp(const char *host, const char *port, unsigned char reply[4])
{
    sk_sock *s;
    ssize_t n;
    int rc = sk_create_connection(&s, host, port, AF_UNSPEC, SK_TIMEOUT_DEFAULT, NULL);

    if (rc < 0)
        return rc;
    n = sk_frame_recv_exact(s, reply, 4);
    sk_sock_free(s);
    return n < 0 ? (int)n : 0;
}

/*
 * UDP to one address: connect() on a datagram socket only fixes the peer,
 * but it lets the kernel tell us "connection refused" instead of leaving us
 * waiting for a reply that will never come.
 */
static int ask_udp_at(const sk_addrinfo *ai, unsigned char reply[4])
{
    sk_sock *s;
    ssize_t n;
    int rc = sk_sock_open(&s, ai->family, SOCK_DGRAM, 0);

    if (rc < 0)
        return rc;
    rc = sk_sock_connect(s, &ai->addr);
    if (rc == 0)
        rc = (int)sk_sock_send(s, "", 0, 0); /* any datagram will do, even empty */
    if (rc >= 0) {
        n = sk_sock_recv(s, reply, 4, 0);
        rc = n < 0 ? (int)n : n == 4 ? 0 : -EPROTO; /* not a time reply */
    }
    sk_sock_free(s);
    return rc;
}

/* UDP: tries each address of `host` until one is not refused. */
static int ask_udp(const char *host, const char *port, unsigned char reply[4])
{
    sk_addrinfo *list, *ai;
    int rc = sk_getaddrinfo(host, port, AF_UNSPEC, SOCK_DGRAM, 0, 0, 10.0, &list);

    if (rc < 0)
        return rc;
    for (ai = list; ai != NULL; ai = ai->next) {
        rc = ask_udp_at(ai, reply);
        if (rc != -ECONNREFUSED)
            break;
    }
    sk_addrinfo_free(list);
    return rc;
}

/*
 * Turns the 32-bit counter into Unix time.  The counter wraps every 2^32
 * seconds (first in 2036), so we pick the era that puts the result nearest
 * the local clock: the server is at most 2^31 seconds ahead or behind.
 */
static long long rfc868_to_unix(uint32_t counter, long long local)
{
    uint32_t local_counter = (uint32_t)(local + TIME1970);
    long long ahead = (long long)(uint32_t)(counter - local_counter);

    if (ahead >= 0x80000000LL)
        ahead -= 0x100000000LL;
    return local + ahead;
}

int main(int argc, char **argv)
{
    const char *args[2] = { "localhost", "8037" };
    bool udp = false;
    int nargs = 0, rc;
    unsigned char reply[4];
    uint32_t counter;
    long long local;
    time_t server;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--udp") == 0)
            udp = true;
        else if (argv[i][0] != '-' && nargs < 2)
            args[nargs++] = argv[i];
        else
            goto usage;
    }
    if (sk_port_parse(args[1], udp ? "udp" : "tcp") < 0)
        goto usage;

    /* Like socket.setdefaulttimeout(10): a silent server makes us fail
     * instead of hang. */
    sk_setdefaulttimeout(10.0);
    rc = udp ? ask_udp(args[0], args[1], reply) : ask_tcp(args[0], args[1], reply);
    if (rc < 0) {
        fprintf(stderr, PROG ": %s port %s: %s\n", args[0], args[1], sk_strerror(rc));
        return 1;
    }

    memcpy(&counter, reply, 4);
    local = (long long)time(NULL);
    server = (time_t)rfc868_to_unix(sk_ntohl(counter), local);
    printf("server time is %s", ctime(&server)); /* ctime ends in '\n' */
    printf("local clock is %lld seconds off\n", local - (long long)server);
    return 0;

usage:
    fprintf(stderr, "usage: " PROG " [--udp] [HOST] [PORT]\n");
    return 2;
}
