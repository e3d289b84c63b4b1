/* SPDX-License-Identifier: MIT */
/*
 * examples/fixed_length.c - both ends of a conversation in fixed-length and then in
 * length-prefixed messages over a loopback TCP connection: the C twin of the
 * MySocket class in Python's Socket Programming HOWTO, whose receive loop is
 *
 *     chunks, bytes_recd = [], 0
 *     while bytes_recd < MSGLEN:
 *         chunk = self.sock.recv(min(MSGLEN - bytes_recd, 2048))
 *         if chunk == b"":
 *             raise RuntimeError("socket connection broken")
 *         chunks.append(chunk)
 *         bytes_recd += len(chunk)
 *
 * sk_frame_recv_exact is that loop, with one deadline for the whole message.
 * The second half uses the HOWTO's other suggestion: a 4-byte big-endian
 * length in front of each message (sk_frame_send_msg / sk_frame_recv_msg).
 * Both ends run in this one process, one after the other: the messages are
 * small, so the kernel's socket buffers hold them until the other end reads.
 *
 * Usage: fixed_length
 */
#include "sockit.h"

#include <stdio.h>
#include <string.h>

#define PROG "fixed_length"
#define MSGLEN 16

static const char *const FIXED[] = { "HELLO", "HOW ARE YOU?", "GOODBYE" };
static const char *const VARIABLE[] = {
    "short",
    "a longer message: length-prefixed messages can be any size",
    "", /* an empty message is a message too */
};
#define COUNT(a) (sizeof (a) / sizeof (a)[0])

/*
 * Connects `client` and `server` through a listener on 127.0.0.1 at a port
 * the system picks.  Returns 0 or a negative error code.
 */
static int connect_pair(sk_sock **client, sk_sock **server)
{
    sk_sock *listener;
    sk_addr addr;
    char text[SK_ADDRSTRLEN], port[8];
    int rc;

    sk_addr_from_ip(&addr, "127.0.0.1", 0, AF_INET);
    rc = sk_create_server(&listener, &addr, SOCK_STREAM, 1, 0);
    if (rc < 0)
        return rc;
    sk_sock_getsockname(listener, &addr);
    sk_addr_format(&addr, text, sizeof text);
    printf("server listening on %s\n", text);

    snprintf(port, sizeof port, "%d", sk_addr_port(&addr));
    rc = sk_create_connection(client, "127.0.0.1", port, AF_INET, SK_TIMEOUT_DEFAULT, NULL);
    if (rc < 0)
        goto out;
    rc = sk_sock_accept(listener, server, &addr);
    if (rc < 0) {
        sk_sock_free(*client);
        goto out;
    }
    sk_addr_format(&addr, text, sizeof text);
    printf("server accepted a connection from %s\n", text);
out:
    sk_sock_free(listener); /* only the connection matters from here on */
    return rc;
}

/*
 * The client sends every FIXED message padded to MSGLEN bytes, all in one
 * buffer cut into uneven pieces: TCP keeps no message boundaries.  The server
 * still gets each message whole by asking for exactly MSGLEN bytes.
 */
static int fixed_messages(sk_sock *client, sk_sock *server)
{
    char all[COUNT(FIXED) * MSGLEN];
    size_t pieces[] = { 7, 20, sizeof all - 27 };
    size_t off = 0;
    int rc;

    memset(all, ' ', sizeof all);
    for (size_t i = 0; i < COUNT(FIXED); i++) {
        memcpy(all + i * MSGLEN, FIXED[i], strlen(FIXED[i]));
        printf("client sends fixed-length message '%.*s'\n", MSGLEN, all + i * MSGLEN);
    }
    for (size_t i = 0; i < COUNT(pieces); i++) {
        rc = sk_sock_sendall(client, all + off, pieces[i], NULL);
        if (rc < 0)
            return rc;
        off += pieces[i];
    }
    printf("client sent them as pieces of %zu, %zu and %zu bytes\n",
           pieces[0], pieces[1], pieces[2]);

    for (size_t i = 0; i < COUNT(FIXED); i++) {
        char msg[MSGLEN];
        ssize_t n = sk_frame_recv_exact(server, msg, MSGLEN);

        if (n < 0)
            return (int)n;
        printf("server received fixed-length message '%.*s'\n", MSGLEN, msg);
    }
    return 0;
}

/*
 * The client sends every VARIABLE message with its length in front, then
 * closes its sending side; the server reads messages until the clean end of
 * stream between two messages (SK_EOF).
 */
static int prefixed_messages(sk_sock *client, sk_sock *server)
{
    sk_file *in;
    int rc;

    for (size_t i = 0; i < COUNT(VARIABLE); i++) {
        rc = sk_frame_send_msg(client, VARIABLE[i], strlen(VARIABLE[i]));
        if (rc < 0)
            return rc;
        printf("client sent %zu-byte message '%s'\n", strlen(VARIABLE[i]), VARIABLE[i]);
    }
    rc = sk_sock_shutdown(client, SHUT_WR);
    if (rc < 0)
        return rc;
    printf("client has nothing more to say\n");

    rc = sk_file_open(&in, server, 0);
    if (rc < 0)
        return rc;
    for (;;) {
        char msg[256];
        ssize_t n = sk_frame_recv_msg(in, msg, sizeof msg);

        if (n < 0) {
            rc = n == SK_EOF ? 0 : (int)n;
            break;
        }
        printf("server received %zd-byte message '%.*s'\n", n, (int)n, msg);
    }
    if (rc == 0)
        printf("server saw the clean end of the stream\n");
    sk_file_close(in);
    return rc;
}

int main(int argc, char **argv)
{
    sk_sock *client, *server;
    int rc;

    if (argc > 1) {
        fprintf(stderr, "usage: " PROG "\n");
        return 2;
    }
    /* Like socket.setdefaulttimeout(5): a mistake here fails, not hangs. */
    sk_setdefaulttimeout(5.0);
    rc = connect_pair(&client, &server);
    if (rc < 0) {
        fprintf(stderr, PROG ": connect: %s\n", sk_strerror(rc));
        return 1;
    }
    rc = fixed_messages(client, server);
    if (rc == 0)
        rc = prefixed_messages(client, server);
    if (rc < 0)
        fprintf(stderr, PROG ": %s\n", sk_strerror(rc));
    sk_sock_free(client);
    sk_sock_free(server);
    return rc < 0 ? 1 : 0;
}
