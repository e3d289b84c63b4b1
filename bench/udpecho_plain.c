/* SPDX-License-Identifier: MIT */
/*
 * bench/udpecho_plain.c - the plainest UDP echo server there is: one
 * blocking socket, recvfrom then sendto, one datagram per system call, no
 * poller, no batching, no checks.
 *
 *   udpecho_plain PORT
 *
 * Binds 127.0.0.1:PORT (0 picks a free port), prints `ready udp=PORT` on
 * stdout and echoes every datagram to its sender until killed.  A failed
 * sendto (a full buffer, an unreachable sender) drops that datagram, as
 * any UDP server may.  It is the floor a UDP server's cost per datagram is
 * judged against in bench/compare: anything that costs more than two
 * system calls per datagram has to earn it.
 *
 * A benchmark peer, built with `cc -O2 udpecho_plain.c`; not part of
 * libsockit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void die(const char *what)
{
    fprintf(stderr, "udpecho_plain: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int open_socket(int port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    if (fd < 0)
        die("socket");
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        die("bind");
    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        die("getsockname");
    printf("ready udp=%d\n", ntohs(sin.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv)
{
    static char buf[65536];
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: udpecho_plain PORT\n");
        return 2;
    }
    fd = open_socket(atoi(argv[1]));
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("recvfrom");
        }
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen);
    }
}
