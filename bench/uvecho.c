/* SPDX-License-Identifier: MIT */
/*
 * bench/uvecho.c - a TCP echo server on libuv, written the way libuv's own
 * examples and most users write one.
 *
 *   uvecho PORT
 *
 * Listens on 0.0.0.0:PORT (0 picks a free port) and prints `ready tcp=PORT`
 * on stdout.  Each connection reads with an alloc callback that mallocs the
 * suggested size, and a read callback that hands the bytes to uv_write; the
 * write callback frees the buffer.  On EOF or error the handle is closed.
 * Like the usual pattern, it does not stop reading while writes are queued
 * (the benchmark only uses it for ping-pong echo, where at most one message
 * per connection is in flight).  Tuned as a libuv user tuning for latency
 * would, and as every peer of bench/compare is: uv_tcp_nodelay on each
 * connection (TCP_NODELAY, like sockit and raw), a SOMAXCONN backlog, the
 * kernel's socket buffer sizes, reads of libuv's suggested 64 KiB.
 *
 * A benchmark peer, built with `cc -O2 uvecho.c -luv`; not part of libsockit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <uv.h>

typedef struct echo_write {
    uv_write_t req;
    uv_buf_t buf;
} echo_write;

static uv_loop_t *loop;

static void die(const char *what, int rc)
{
    fprintf(stderr, "uvecho: %s: %s\n", what, uv_strerror(rc));
    exit(1);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_closed(uv_handle_t *handle)
{
    free(handle);
}

static void on_written(uv_write_t *req, int status)
{
    echo_write *w = (echo_write *)req;

    (void)status; /* a failed write shows up as a read error next */
    free(w->buf.base);
    free(w);
}

static void on_read(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf)
{
    echo_write *w;

    if (nread <= 0) {
        free(buf->base);
        if (nread < 0)
            uv_close((uv_handle_t *)client, on_closed);
        return;
    }
    w = malloc(sizeof *w);
    if (!w) {
        free(buf->base);
        uv_close((uv_handle_t *)client, on_closed);
        return;
    }
    w->buf = uv_buf_init(buf->base, (unsigned)nread);
    if (uv_write(&w->req, client, &w->buf, 1, on_written) < 0) {
        free(w->buf.base);
        free(w);
        uv_close((uv_handle_t *)client, on_closed);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    uv_tcp_t *client;

    if (status < 0)
        return;
    client = malloc(sizeof *client);
    if (!client)
        return;
    uv_tcp_init(loop, client);
    if (uv_accept(server, (uv_stream_t *)client) == 0) {
        uv_tcp_nodelay(client, 1);
        uv_read_start((uv_stream_t *)client, on_alloc, on_read);
    }
    else
        uv_close((uv_handle_t *)client, on_closed);
}

int main(int argc, char **argv)
{
    uv_tcp_t server;
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof bound, rc;

    if (argc != 2) {
        fprintf(stderr, "usage: uvecho PORT\n");
        return 2;
    }
    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    uv_ip4_addr("0.0.0.0", atoi(argv[1]), &addr);
    rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc < 0)
        die("bind", rc);
    rc = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection);
    if (rc < 0)
        die("listen", rc);
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    printf("ready tcp=%d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
