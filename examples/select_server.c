/* SPDX-License-Identifier: MIT */
/*
 * examples/select_server.c - an echo server for many clients at once in a single
 * thread, driven by select() over non-blocking sockets: the C twin of the
 * classic Python select tutorial server:
 *
 *     server.setblocking(False)
 *     inputs, outputs, queues = [server], [], {}
 *     while inputs:
 *         readable, writable, exceptional = select.select(inputs, outputs, inputs)
 *         for s in readable:
 *             if s is server: accept, setblocking(False), add to inputs
 *             elif data := s.recv(1024): queue data for s, add s to outputs
 *             else: close s
 *         for s in writable:
 *             send what is queued for s; once nothing is, drop s from outputs
 *
 * Each client's queue is a bounded buffer: while it is full we stop reading
 * from that client, so one that sends without reading is held back by TCP
 * flow control instead of growing our memory.  A client that has finished
 * sending is closed once everything it sent has been echoed.
 *
 * Usage: select_server [PORT]              (default port 10000)
 */
#include "sockit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PROG "select_server"
#define MAX_CLIENTS 64
#define QUEUE_SIZE 4096

struct client {
    sk_sock *sock;
    char name[SK_ADDRSTRLEN];
    char queue[QUEUE_SIZE]; /* received but not yet sent back */
    size_t queued;
    bool eof;  /* the client has finished sending */
    bool dead; /* the connection failed; close it at the end of the round */
};

static struct client clients[MAX_CLIENTS];
static size_t nclients;
/* Set when accept ran out of descriptors: the listener stays out of the
 * read set (else select would report it ready again at once, a busy loop)
 * until a client leaves and frees one. */
static bool accept_paused;

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

/* The client whose socket is `s` (a linear search: fine for 64). */
static struct client *find_client(const sk_sock *s)
{
    for (size_t i = 0; i < nclients; i++)
        if (clients[i].sock == s)
            return &clients[i];
    return NULL;
}

/* Accepts one new client.  Returns 0, or an error that ends the server. */
static int accept_client(sk_sock *server)
{
    struct client *c = &clients[nclients];
    sk_addr addr;
    int rc = sk_sock_accept(server, &c->sock, &addr);

    if (rc == -EAGAIN || rc == -ECONNABORTED)
        return 0; /* the client gave up before we got to it */
    if ((rc == -EMFILE || rc == -ENFILE) && nclients > 0) {
        fail("accept", rc);
        accept_paused = true;
        return 0;
    }
    if (rc < 0) {
        fail("accept", rc);
        return rc;
    }
    sk_sock_setblocking(c->sock, false);
    sk_addr_format(&addr, c->name, sizeof c->name);
    c->queued = 0;
    c->eof = c->dead = false;
    nclients++;
    printf("new connection from %s\n", c->name);
    return 0;
}

/* Reads what fits in the client's queue; 0 bytes means it finished sending. */
static void on_readable(struct client *c)
{
    ssize_t n = sk_sock_recv(c->sock, c->queue + c->queued, QUEUE_SIZE - c->queued, 0);

    if (n > 0) {
        c->queued += (size_t)n;
        printf("received %zd bytes from %s\n", n, c->name);
    } else if (n == 0) {
        c->eof = true;
    } else if (n != -EAGAIN) {
        fail(c->name, (int)n);
        c->dead = true;
    }
}

/* Sends what the socket takes from the client's queue. */
static void on_writable(struct client *c)
{
    ssize_t n;

    if (c->dead)
        return;
    n = sk_sock_send(c->sock, c->queue, c->queued, 0);
    if (n > 0) {
        c->queued -= (size_t)n;
        memmove(c->queue, c->queue + n, c->queued);
        printf("sent %zd bytes to %s\n", n, c->name);
    } else if (n != -EAGAIN) {
        fail(c->name, (int)n);
        c->dead = true;
    }
}

/* Closes the clients that failed or have finished and been fully echoed. */
static void sweep_clients(void)
{
    size_t i = 0;

    while (i < nclients) {
        struct client *c = &clients[i];

        if (c->dead || (c->eof && c->queued == 0)) {
            printf("closing %s%s\n", c->name, c->dead ? "" : " after reading no data");
            sk_sock_free(c->sock);
            *c = clients[--nclients]; /* the last client takes its place */
            accept_paused = false;
        } else {
            i++;
        }
    }
}

/* One round: select, then handle every ready socket.  Returns 0 or an
 * error that ends the server. */
static int serve_round(sk_sock *server)
{
    sk_sock *rd[MAX_CLIENTS + 1], *wr[MAX_CLIENTS];
    size_t nrd = 0, nwr = 0;
    int rc;

    /* When full, new clients wait in the listen backlog. */
    if (nclients < MAX_CLIENTS && !accept_paused)
        rd[nrd++] = server;
    for (size_t i = 0; i < nclients; i++) {
        if (!clients[i].eof && clients[i].queued < QUEUE_SIZE)
            rd[nrd++] = clients[i].sock;
        if (clients[i].queued > 0)
            wr[nwr++] = clients[i].sock;
    }
    rc = sk_select(rd, &nrd, wr, &nwr, NULL, NULL, SK_TIMEOUT_NONE);
    if (rc < 0) {
        fail("select", rc);
        return rc;
    }

    /* sk_select moved the ready sockets to the front of each array. */
    for (size_t i = 0; i < nrd; i++) {
        if (rd[i] == server)
            rc = accept_client(server);
        else
            on_readable(find_client(rd[i]));
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < nwr; i++)
        on_writable(find_client(wr[i]));
    sweep_clients();
    return 0;
}

int main(int argc, char **argv)
{
    const char *port_text = argc > 1 ? argv[1] : "10000";
    int port = sk_port_parse(port_text, "tcp");
    sk_sock *server;
    int rc;

    if (argc > 2 || port < 0) {
        fprintf(stderr, "usage: " PROG " [PORT]\n");
        return 2;
    }
    /* Line-buffered, so whoever reads our output through a pipe sees each
     * line as soon as it is printed. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = open_server(&server, port);
    if (rc < 0) {
        fail(port_text, rc);
        return 1;
    }
    sk_sock_setblocking(server, false);
    while (serve_round(server) == 0)
        continue;
    sk_sock_free(server);
    return 1;
}
