/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_file.c - the buffered stream sk_file: readline, read, write, flush,
 * split input, timeouts that lose nothing, end of stream, and the internal
 * read-side interface (lib/file.h) the framing helpers build on.
 *
 * Timeouts here must never fire early, but their late side is generous:
 * these scenarios are about what the stream keeps, and timer accuracy
 * (+-50 ms) is tested in test_timeout.c on a quieter code path.
 */
#include "sk_test.h"
#include "file.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

/* A connected stream pair: *mine is wrapped in the sk_file, *peer is the
 * raw other end the test writes and reads. */
static void stream_pair(sk_sock **mine, sk_sock **peer)
{
    sk_sock *p[2];

    CHECK_OK(sk_sock_pair(p, AF_UNIX, SOCK_STREAM));
    *mine = p[0];
    *peer = p[1];
}

static void send_text(sk_sock *s, const char *text)
{
    CHECK_OK(sk_sock_sendall(s, text, strlen(text), NULL));
}

/* Sends pieces with pauses from a thread, so the reader sees split input. */
struct trickle {
    sk_sock *s;
    const char *const *pieces;
    int delay_ms;
    bool close_after;
};

static void *trickle_main(void *arg)
{
    struct trickle *t = arg;

    for (size_t i = 0; t->pieces[i] != NULL; i++) {
        usleep((useconds_t)t->delay_ms * 1000);
        sk_sock_sendall(t->s, t->pieces[i], strlen(t->pieces[i]), NULL);
    }
    if (t->close_after)
        sk_sock_shutdown(t->s, SHUT_WR);
    return NULL;
}

/* ---- open / close --------------------------------------------------------- */

SK_TEST(open_close)
{
    sk_sock *a, *b;
    sk_file *f;

    stream_pair(&a, &b);
    CHECK_ERR(sk_file_open(&f, NULL, 0), -EINVAL);
    CHECK_OK(sk_file_open(&f, a, 0));
    CHECK_EQ(sk_file_buffered(f), 0);
    CHECK(sk__file_sock(f) == a);
    CHECK_EQ(sk_file_close(f), 0);
    CHECK_EQ(sk_file_close(NULL), 0);
    /* Closing the stream leaves the socket open. */
    CHECK_INT(sk_sock_fileno(a), >=, 0);
    send_text(a, "x");
    char c;

    CHECK_EQ(sk_sock_recv(b, &c, 1, 0), 1);
    sk_sock_free(a);
    sk_sock_free(b);
}

/* ---- readline ------------------------------------------------------------- */

SK_TEST(readline_lines_in_one_segment)
{
    sk_sock *a, *b;
    sk_file *f;
    char line[64];

    stream_pair(&a, &b);
    CHECK_OK(sk_file_open(&f, a, 0));
    send_text(b, "first\nsecond line\n\nlast without newline");
    sk_sock_shutdown(b, SHUT_WR);

    CHECK_EQ(sk_file_readline(f, line, sizeof line), 6);
    CHECK_STR(line, "first\n");
    /* The rest came in the same recv and is buffered. */
    CHECK_INT(sk_file_buffered(f), >, 0);
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 12);
    CHECK_STR(line, "second line\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 1);
    CHECK_STR(line, "\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 20);
    CHECK_STR(line, "last without newline");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 0);
    CHECK_STR(line, "");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 0);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

SK_TEST(readline_split_input)
{
    static const char *const pieces[] = {"hel", "lo\nwor", "ld", "\n", "a\nb", "\n",
                                         NULL};
    sk_sock *a, *b;
    sk_file *f;
    char line[64];
    struct trickle t = {.pieces = pieces, .delay_ms = 20, .close_after = true};
    pthread_t th;

    stream_pair(&a, &b);
    CHECK_OK(sk_sock_settimeout(a, 5.0));
    CHECK_OK(sk_file_open(&f, a, 0));
    t.s = b;
    CHECK_EQ(pthread_create(&th, NULL, trickle_main, &t), 0);
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 6);
    CHECK_STR(line, "hello\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 6);
    CHECK_STR(line, "world\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 2);
    CHECK_STR(line, "a\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 2);
    CHECK_STR(line, "b\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

SK_TEST(readline_long_line_in_pieces)
{
    sk_sock *a, *b;
    sk_file *f;
    char line[5];

    stream_pair(&a, &b);
    CHECK_OK(sk_file_open(&f, a, 0));
    send_text(b, "abcdefghij\nxy\n");
    /* Like fgets: size-1 bytes at a time, the newline ends a piece. */
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 4);
    CHECK_STR(line, "abcd");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 4);
    CHECK_STR(line, "efgh");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 3);
    CHECK_STR(line, "ij\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 3);
    CHECK_STR(line, "xy\n");
    CHECK_ERR(sk_file_readline(f, line, 1), -EINVAL);
    CHECK_ERR(sk_file_readline(f, line, 0), -EINVAL);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

/* A line longer than the stream's buffer still comes back whole when the
 * caller's buffer can hold it. */
SK_TEST(readline_longer_than_buffer)
{
    sk_sock *a, *b;
    sk_file *f;
    char text[1002], line[2000];

    memset(text, 'q', 1000);
    text[1000] = '\n';
    text[1001] = '\0';
    stream_pair(&a, &b);
    CHECK_OK(sk_file_open(&f, a, 16));
    send_text(b, text);
    send_text(b, "next\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 1001);
    CHECK_STR(line, text);
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 5);
    CHECK_STR(line, "next\n");
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

SK_TEST(readline_timeout_mid_line_loses_nothing)
{
    sk_sock *a, *b;
    sk_file *f;
    char line[64];

    stream_pair(&a, &b);
    CHECK_OK(sk_sock_settimeout(a, 0.2));
    CHECK_OK(sk_file_open(&f, a, 0));
    send_text(b, "partial");

    double t0 = sk_test_now();

    CHECK_ERR(sk_file_readline(f, line, sizeof line), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.19, 2.0);
    CHECK_EQ(sk_file_buffered(f), 7);
    send_text(b, " rest\nmore");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 13);
    CHECK_STR(line, "partial rest\n");

    /* Non-blocking: -EAGAIN, and still nothing lost. */
    CHECK_OK(sk_sock_setblocking(a, false));
    CHECK_ERR(sk_file_readline(f, line, sizeof line), -EAGAIN);
    CHECK_EQ(sk_file_buffered(f), 4);
    send_text(b, "\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 5);
    CHECK_STR(line, "more\n");
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

/* ---- read ------------------------------------------------------------------ */

SK_TEST(read_exact_and_short_at_eof)
{
    sk_sock *a, *b;
    sk_file *f;
    char buf[32];

    stream_pair(&a, &b);
    CHECK_OK(sk_file_open(&f, a, 0));
    send_text(b, "0123456789abc");
    CHECK_EQ(sk_file_read(f, buf, 4), 4);
    CHECK_MEM(buf, "0123", 4);
    CHECK_EQ(sk_file_buffered(f), 9);
    CHECK_EQ(sk_file_read(f, buf, 6), 6);
    CHECK_MEM(buf, "456789", 6);
    sk_sock_shutdown(b, SHUT_WR);
    /* Fewer than asked only at end of stream. */
    CHECK_EQ(sk_file_read(f, buf, sizeof buf), 3);
    CHECK_MEM(buf, "abc", 3);
    CHECK_EQ(sk_file_read(f, buf, sizeof buf), 0);
    CHECK_EQ(sk_file_read(f, buf, 0), 0);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

/* Zero bytes may come from or go to no buffer at all (NULL), as with
 * read(2) and write(2); nothing is consumed or buffered. */
SK_TEST(zero_length_null_buffer)
{
    sk_sock *a, *b;
    sk_file *f;
    char buf[8];

    stream_pair(&a, &b);
    CHECK_OK(sk_file_open(&f, a, 4));
    send_text(b, "xyz");
    CHECK_EQ(sk_file_read(f, buf, 1), 1);
    CHECK_EQ(sk_file_read(f, NULL, 0), 0);
    CHECK_EQ(sk_file_buffered(f), 2);
    CHECK_EQ(sk_file_write(f, NULL, 0), 0);
    CHECK_EQ(sk_file_write(f, "abc", 3), 3);
    CHECK_EQ(sk_file_write(f, NULL, 0), 0);
    CHECK_OK(sk_file_flush(f));
    CHECK_EQ(sk_sock_recv(b, buf, sizeof buf, 0), 3);
    CHECK_MEM(buf, "abc", 3);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

SK_TEST(read_waits_for_all_bytes)
{
    static const char *const pieces[] = {"ab", "cd", "ef", "gh", NULL};
    sk_sock *a, *b;
    sk_file *f;
    char buf[8];
    struct trickle t = {.pieces = pieces, .delay_ms = 20};
    pthread_t th;

    stream_pair(&a, &b);
    CHECK_OK(sk_sock_settimeout(a, 5.0));
    CHECK_OK(sk_file_open(&f, a, 0));
    t.s = b;
    CHECK_EQ(pthread_create(&th, NULL, trickle_main, &t), 0);
    CHECK_EQ(sk_file_read(f, buf, 8), 8);
    CHECK_MEM(buf, "abcdefgh", 8);
    CHECK_EQ(pthread_join(th, NULL), 0);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

SK_TEST(read_timeout_loses_nothing)
{
    sk_sock *a, *b;
    sk_file *f;
    char buf[20];

    stream_pair(&a, &b);
    CHECK_OK(sk_sock_settimeout(a, 0.2));
    CHECK_OK(sk_file_open(&f, a, 0));
    send_text(b, "0123456789");

    double t0 = sk_test_now();

    CHECK_ERR(sk_file_read(f, buf, 20), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.19, 2.0);
    CHECK_EQ(sk_file_buffered(f), 10);
    send_text(b, "abcdefghij");
    CHECK_EQ(sk_file_read(f, buf, 20), 20);
    CHECK_MEM(buf, "0123456789abcdefghij", 20);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

/* A read far larger than the buffer that times out half way keeps every
 * byte, and a later read returns them in order. */
SK_TEST(large_read_timeout_loses_nothing)
{
    sk_sock *a, *b;
    sk_file *f;
    size_t half = 50000;
    unsigned char *data = malloc(2 * half), *got = malloc(2 * half);

    CHECK(data != NULL && got != NULL);
    for (size_t i = 0; i < 2 * half; i++)
        data[i] = (unsigned char)(i * 13 + 1);
    stream_pair(&a, &b);
    CHECK_OK(sk_sock_settimeout(a, 0.2));
    CHECK_OK(sk_file_open(&f, a, 64));
    CHECK_OK(sk_sock_sendall(b, data, half, NULL));
    CHECK_ERR(sk_file_read(f, got, 2 * half), SK_ETIMEOUT);
    CHECK_EQ(sk_file_buffered(f), half);
    CHECK_OK(sk_sock_sendall(b, data + half, half, NULL));
    CHECK_EQ(sk_file_read(f, got, 2 * half), 2 * half);
    CHECK_MEM(got, data, 2 * half);
    CHECK_EQ(sk_file_buffered(f), 0);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
    free(data);
    free(got);
}

SK_TEST(read_and_readline_mixed)
{
    sk_sock *a, *b;
    sk_file *f;
    char line[32], buf[8];

    stream_pair(&a, &b);
    CHECK_OK(sk_file_open(&f, a, 8));
    send_text(b, "HDR 5\nhelloTAIL\n");
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 6);
    CHECK_STR(line, "HDR 5\n");
    CHECK_EQ(sk_file_read(f, buf, 5), 5);
    CHECK_MEM(buf, "hello", 5);
    CHECK_EQ(sk_file_readline(f, line, sizeof line), 5);
    CHECK_STR(line, "TAIL\n");
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

SK_TEST(read_on_closed_socket)
{
    sk_sock *a, *b;
    sk_file *f;
    char buf[4];

    stream_pair(&a, &b);
    CHECK_OK(sk_file_open(&f, a, 0));
    sk_sock_close(a);
    CHECK_ERR(sk_file_read(f, buf, sizeof buf), -EBADF);
    CHECK_ERR(sk_file_readline(f, buf, sizeof buf), -EBADF);
    CHECK_OK(sk_file_write(f, "x", 1)); /* only buffered */
    CHECK_ERR(sk_file_flush(f), -EBADF);
    CHECK_ERR(sk_file_close(f), -EBADF);
    sk_sock_free(a);
    sk_sock_free(b);
}

/* ---- write / flush ------------------------------------------------------- */

SK_TEST(write_buffers_until_flush)
{
    sk_sock *a, *b;
    sk_file *f;
    char buf[64];

    stream_pair(&a, &b);
    CHECK_OK(sk_file_open(&f, a, 0));
    CHECK_EQ(sk_file_write(f, "hello ", 6), 6);
    CHECK_EQ(sk_file_write(f, "world", 5), 5);
    CHECK_EQ(sk_file_write(f, "", 0), 0);
    /* Nothing has reached the peer yet. */
    CHECK_OK(sk_sock_setblocking(b, false));
    CHECK_ERR(sk_sock_recv(b, buf, sizeof buf, 0), -EAGAIN);
    CHECK_OK(sk_file_flush(f));
    CHECK_OK(sk_sock_settimeout(b, 5.0));
    CHECK_EQ(sk_sock_recv(b, buf, sizeof buf, 0), 11);
    CHECK_MEM(buf, "hello world", 11);
    CHECK_OK(sk_file_flush(f)); /* nothing pending */
    /* close flushes. */
    CHECK_EQ(sk_file_write(f, "bye", 3), 3);
    CHECK_OK(sk_file_close(f));
    CHECK_EQ(sk_sock_recv(b, buf, sizeof buf, 0), 3);
    CHECK_MEM(buf, "bye", 3);
    sk_sock_free(a);
    sk_sock_free(b);
}

SK_TEST(write_overflowing_buffer)
{
    sk_sock *a, *b;
    sk_file *f;
    char big[100], got[200];

    for (int i = 0; i < 100; i++)
        big[i] = (char)('A' + i % 26);
    stream_pair(&a, &b);
    CHECK_OK(sk_sock_settimeout(b, 5.0));
    CHECK_OK(sk_file_open(&f, a, 16));
    /* Filling the buffer sends what was buffered; a write at least as
     * large as the buffer goes straight out after it. */
    CHECK_EQ(sk_file_write(f, "0123456789", 10), 10);
    CHECK_EQ(sk_file_write(f, "abcdefghij", 10), 10);
    CHECK_EQ(sk_file_write(f, big, sizeof big), 100);
    CHECK_EQ(sk_file_write(f, "tail", 4), 4);
    CHECK_OK(sk_file_flush(f));

    size_t n = 0;

    while (n < 124) {
        ssize_t r = sk_sock_recv(b, got + n, sizeof got - n, 0);

        CHECK_INT(r, >, 0);
        n += (size_t)r;
    }
    CHECK_MEM(got, "0123456789abcdefghij", 20);
    CHECK_MEM(got + 20, big, 100);
    CHECK_MEM(got + 120, "tail", 4);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}

/*
 * A flush that times out keeps the unsent bytes; once the peer reads, a
 * second flush sends exactly the rest, in order.
 */
SK_TEST(flush_timeout_keeps_unsent)
{
    sk_sock *a, *b;
    sk_file *f;
    size_t len = 4u << 20;
    unsigned char *data = malloc(len), *got = malloc(len);

    CHECK(data != NULL && got != NULL);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i % 253);
    stream_pair(&a, &b);
    CHECK_OK(sk_sock_settimeout(a, 0.2));
    CHECK_OK(sk_file_open(&f, a, len + 1));
    CHECK_EQ(sk_file_write(f, data, len), (ssize_t)len);

    double t0 = sk_test_now();

    CHECK_ERR(sk_file_flush(f), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.19, 2.0);

    /* Read in a thread-free way: alternate flushing and draining. */
    size_t n = 0;
    int r = SK_ETIMEOUT;

    CHECK_OK(sk_sock_settimeout(b, 0.05));
    CHECK_OK(sk_sock_settimeout(a, 0.05));
    for (int i = 0; i < 100000 && n < len; i++) {
        ssize_t k = sk_sock_recv(b, got + n, len - n, 0);

        if (k > 0)
            n += (size_t)k;
        else
            CHECK_ERR(k, SK_ETIMEOUT);
        if (r != 0)
            r = sk_file_flush(f);
    }
    CHECK_OK(r);
    CHECK_EQ(n, len);
    CHECK_MEM(got, data, len);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
    free(data);
    free(got);
}

SK_TEST(write_to_closed_peer_no_sigpipe)
{
    sk_sock *a, *b;
    sk_file *f;

    CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    stream_pair(&a, &b);
    CHECK_OK(sk_file_open(&f, a, 0));
    sk_sock_close(b);
    CHECK_EQ(sk_file_write(f, "data", 4), 4);
    CHECK_ERR(sk_file_flush(f), -EPIPE);
    CHECK_ERR(sk_file_close(f), -EPIPE);
    sk_sock_free(a);
    sk_sock_free(b);
}

/* ---- the internal read-side interface ------------------------------------- */

SK_TEST(internal_fill_peek_consume)
{
    sk_sock *a, *b;
    sk_file *f;
    size_t avail;
    const unsigned char *p;

    stream_pair(&a, &b);
    CHECK_OK(sk_sock_settimeout(a, 1.0));
    CHECK_OK(sk_file_open(&f, a, 8));
    p = sk__file_peek(f, &avail);
    CHECK_EQ(avail, 0);

    send_text(b, "0123456789AB");
    CHECK_EQ(sk__file_fill(f, sk__sock_deadline(a)), 8);
    p = sk__file_peek(f, &avail);
    CHECK_EQ(avail, 8);
    CHECK_MEM(p, "01234567", 8);
    /* A full buffer refuses to fill rather than drop bytes. */
    CHECK_ERR(sk__file_fill(f, sk__sock_deadline(a)), -ENOBUFS);
    sk__file_consume(f, 3);
    CHECK_EQ(sk_file_buffered(f), 5);
    /* Filling compacts: the 3 consumed bytes make room. */
    CHECK_EQ(sk__file_fill(f, sk__sock_deadline(a)), 3);
    p = sk__file_peek(f, &avail);
    CHECK_EQ(avail, 8);
    CHECK_MEM(p, "3456789A", 8);
    /* Growing keeps the bytes. */
    CHECK_OK(sk__file_reserve(f, 100));
    CHECK_OK(sk__file_reserve(f, 50));
    p = sk__file_peek(f, &avail);
    CHECK_MEM(p, "3456789A", 8);
    CHECK_EQ(sk__file_fill(f, sk__sock_deadline(a)), 1);
    p = sk__file_peek(f, &avail);
    CHECK_EQ(avail, 9);
    CHECK_MEM(p, "3456789AB", 9);

    /* Timeout and end of stream. */
    CHECK_ERR(sk__file_fill(f, sk__deadline_from_timeout(0.05)), SK_ETIMEOUT);
    CHECK_ERR(sk__file_fill(f, SK__NOW_DEADLINE), -EAGAIN);
    sk_sock_shutdown(b, SHUT_WR);
    CHECK_EQ(sk__file_fill(f, sk__sock_deadline(a)), 0);
    sk__file_consume(f, avail);
    CHECK_EQ(sk_file_buffered(f), 0);
    sk_file_close(f);
    sk_sock_free(a);
    sk_sock_free(b);
}
