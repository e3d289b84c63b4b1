/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_frame.c - the framing helpers: the pure decoders under every way of
 * splitting their input, then the socket-level receivers and sender over
 * socketpairs (end of stream, timeouts with one deadline, retries).
 */
#include "sk_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

/* A connected AF_UNIX stream pair; p[0] gets `timeout`. */
static void make_pair(sk_sock *p[2], double timeout)
{
    CHECK_OK(sk_sock_pair(p, AF_UNIX, SOCK_STREAM));
    CHECK_OK(sk_sock_settimeout(p[0], timeout));
}

static void send_all(sk_sock *s, const void *buf, size_t len)
{
    CHECK_OK(sk_sock_sendall(s, buf, len, NULL));
}

/*
 * A peer thread that writes `len` bytes of `data`, `chunk` bytes at a time
 * with `gap_ms` between chunks, then optionally closes.  `stop` ends it
 * early.
 */
struct trickle {
    sk_sock *s;
    const unsigned char *data;
    size_t len, chunk;
    int gap_ms;
    bool close_after;
    volatile bool stop;
    pthread_t thread;
};

static void *trickle_main(void *arg)
{
    struct trickle *t = arg;

    for (size_t off = 0; off < t->len && !t->stop; off += t->chunk) {
        size_t n = t->len - off < t->chunk ? t->len - off : t->chunk;

        if (sk_sock_sendall(t->s, t->data + off, n, NULL) < 0)
            break;
        sk_test_sleep_ms(t->gap_ms);
    }
    if (t->close_after)
        sk_sock_shutdown(t->s, SHUT_WR);
    return NULL;
}

static void trickle_start(struct trickle *t)
{
    CHECK_EQ(pthread_create(&t->thread, NULL, trickle_main, t), 0);
}

static void trickle_join(struct trickle *t)
{
    t->stop = true;
    pthread_join(t->thread, NULL);
}

/*
 * Feeds `stream` to a decoder in three pieces cut at a and b (a <= b) and
 * collects the messages it finds, the way an event loop would: append what
 * arrived, decode as many messages as are complete, keep the rest.
 * `delim` NULL selects the length-prefixed decoder.  Returns the number of
 * messages; stores their payloads back to back in out and their lengths in
 * lens.
 */
static size_t decode_split(const unsigned char *stream, size_t len, size_t a,
                           size_t b, const char *delim, size_t max,
                           unsigned char *out, size_t *lens)
{
    unsigned char acc[256];
    size_t have = 0, nmsg = 0, outlen = 0;
    size_t cuts[4] = { 0, a, b, len };

    CHECK(len <= sizeof(acc));
    for (int piece = 0; piece < 3; piece++) {
        memcpy(acc + have, stream + cuts[piece], cuts[piece + 1] - cuts[piece]);
        have += cuts[piece + 1] - cuts[piece];
        for (;;) {
            size_t payload = 0, skip = 0;
            ssize_t r;

            if (delim != NULL) {
                r = sk_frame_scan_delim(acc, have, delim, strlen(delim), max);
                payload = r > 0 ? (size_t)r : 0;
            } else {
                r = sk_frame_scan_msg(acc, have, max, &payload);
                skip = 4;
            }
            if (r == SK_ENEED)
                break;
            CHECK_OK(r);
            memcpy(out + outlen, acc + skip, payload);
            outlen += payload;
            lens[nmsg++] = payload;
            memmove(acc, acc + r, have - (size_t)r);
            have -= (size_t)r;
        }
    }
    CHECK_EQ(have, 0);
    return nmsg;
}

/* ---- pure decoders -------------------------------------------------------- */

SK_TEST(scan_delim_every_split)
{
    /* A two-byte delimiter whose first byte also appears inside messages, and
     * an empty message, so a boundary can fall inside a false start too. */
    static const char stream[] = "ab<<!cd<!<!<<<!e<!";
    static const char *want[] = { "ab<<!", "cd<!", "<!", "<<<!", "e<!" };
    size_t len = strlen(stream), splits = 0;

    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            unsigned char out[64];
            size_t lens[8], off = 0;
            size_t n = decode_split((const unsigned char *)stream, len, a, b, "<!", 64,
                                    out, lens);

            CHECK_EQ(n, 5);
            for (size_t i = 0; i < n; i++) {
                CHECK_EQ(lens[i], strlen(want[i]));
                CHECK_MEM(out + off, want[i], lens[i]);
                off += lens[i];
            }
            splits++;
        }
    }
    CHECK_EQ(splits, (len + 1) * (len + 2) / 2);
}

SK_TEST(scan_delim_multibyte_across_boundary)
{
    static const char stream[] = "hello\r\n\r\nworld\r\n\r\n";
    size_t len = strlen(stream);

    /* Every prefix that ends inside the first delimiter needs more input,
     * and the full delimiter completes the message. */
    for (size_t cut = 0; cut < 9; cut++)
        CHECK_ERR(sk_frame_scan_delim(stream, cut, "\r\n\r\n", 4, 100), SK_ENEED);
    CHECK_EQ(sk_frame_scan_delim(stream, 9, "\r\n\r\n", 4, 100), 9);
    CHECK_EQ(sk_frame_scan_delim(stream, len, "\r\n\r\n", 4, 100), 9);
    /* An overlapping false start: "\r\n\r" then "\r\n\r\n". */
    CHECK_EQ(sk_frame_scan_delim("x\r\n\r\r\n\r\n", 8, "\r\n\r\n", 4, 100), 8);
    /* A one-byte delimiter at the very start is a one-byte message. */
    CHECK_EQ(sk_frame_scan_delim("\nabc", 4, "\n", 1, 100), 1);
}

SK_TEST(scan_delim_max)
{
    /* A message of exactly max bytes (delimiter included) is fine. */
    CHECK_EQ(sk_frame_scan_delim("abcd\n", 5, "\n", 1, 5), 5);
    /* One byte more does not fit: too long once max bytes are there. */
    CHECK_ERR(sk_frame_scan_delim("abcde\n", 6, "\n", 1, 5), SK_EMSGSIZE);
    CHECK_ERR(sk_frame_scan_delim("abcde", 5, "\n", 1, 5), SK_EMSGSIZE);
    /* Fewer than max bytes and no delimiter: need more. */
    CHECK_ERR(sk_frame_scan_delim("abcd", 4, "\n", 1, 5), SK_ENEED);
    /* A delimiter that straddles the max boundary does not count. */
    CHECK_ERR(sk_frame_scan_delim("abc\r\n", 5, "\r\n", 2, 4), SK_EMSGSIZE);
    CHECK_EQ(sk_frame_scan_delim("abc\r\n", 5, "\r\n", 2, 5), 5);
    /* Bytes beyond max are never looked at, whatever they hold. */
    CHECK_ERR(sk_frame_scan_delim("abcdef\n", 7, "\n", 1, 3), SK_EMSGSIZE);
    /* A later message within the buffer does not matter. */
    CHECK_EQ(sk_frame_scan_delim("a\nbbbbbbbbbbbbbb", 16, "\n", 1, 3), 2);
    /* Empty input needs more, except with max 0 where nothing can fit. */
    CHECK_ERR(sk_frame_scan_delim("", 0, "\n", 1, 3), SK_ENEED);
    CHECK_ERR(sk_frame_scan_delim("", 0, "\n", 1, 0), SK_EMSGSIZE);
    /* A delimiter is required. */
    CHECK_ERR(sk_frame_scan_delim("a\n", 2, "", 0, 3), -EINVAL);
}

SK_TEST(scan_delim_only_looks_at_len)
{
    /* The buffer continues past len with a delimiter that must not be seen. */
    static const char buf[] = "abc\ndef";

    CHECK_ERR(sk_frame_scan_delim(buf, 3, "\n", 1, 100), SK_ENEED);
    CHECK_ERR(sk_frame_scan_delim(buf, 3, "c\nd", 3, 100), SK_ENEED);
    CHECK_EQ(sk_frame_scan_delim(buf, 5, "c\nd", 3, 100), 5);
}

/* Appends one length-prefixed message to buf at *off. */
static void put_msg(unsigned char *buf, size_t *off, const char *payload)
{
    size_t n = strlen(payload);

    sk_frame_put_len(buf + *off, (uint32_t)n);
    memcpy(buf + *off + 4, payload, n);
    *off += 4 + n;
}

SK_TEST(scan_msg_every_split)
{
    static const char *want[] = { "first", "", "x", "", "a longer payload" };
    unsigned char stream[128];
    size_t len = 0;

    for (size_t i = 0; i < 5; i++)
        put_msg(stream, &len, want[i]);
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            unsigned char out[64];
            size_t lens[8], off = 0;
            size_t n = decode_split(stream, len, a, b, NULL, 16, out, lens);

            CHECK_EQ(n, 5);
            for (size_t i = 0; i < n; i++) {
                CHECK_EQ(lens[i], strlen(want[i]));
                CHECK_MEM(out + off, want[i], lens[i]);
                off += lens[i];
            }
        }
    }
}

SK_TEST(scan_msg_limits)
{
    unsigned char buf[16];
    size_t payload = 99;

    /* Fewer than four bytes: need more, payload untouched. */
    for (size_t n = 0; n < 4; n++) {
        sk_frame_put_len(buf, 3);
        CHECK_ERR(sk_frame_scan_msg(buf, n, 10, &payload), SK_ENEED);
        CHECK_EQ(payload, 99);
    }
    /* Header complete, payload not: need more, payload length known. */
    memcpy(buf + 4, "abc", 3);
    CHECK_ERR(sk_frame_scan_msg(buf, 6, 10, &payload), SK_ENEED);
    CHECK_EQ(payload, 3);
    CHECK_EQ(sk_frame_scan_msg(buf, 7, 10, &payload), 7);
    /* Exactly max is allowed; above max fails on the header alone. */
    CHECK_EQ(sk_frame_scan_msg(buf, 7, 3, &payload), 7);
    CHECK_ERR(sk_frame_scan_msg(buf, 4, 2, &payload), SK_EMSGSIZE);
    CHECK_EQ(payload, 3);
    /* Zero-length messages, also with max 0. */
    sk_frame_put_len(buf, 0);
    CHECK_EQ(sk_frame_scan_msg(buf, 4, 0, &payload), 4);
    CHECK_EQ(payload, 0);
    /* The largest announced length: too big for a small max, and incomplete
     * (not an overflow) for an unlimited one. */
    sk_frame_put_len(buf, UINT32_MAX);
    CHECK_ERR(sk_frame_scan_msg(buf, 16, 1 << 20, &payload), SK_EMSGSIZE);
    CHECK_EQ(payload, UINT32_MAX);
    if (sizeof(size_t) > 4)
        CHECK_ERR(sk_frame_scan_msg(buf, 16, SIZE_MAX, NULL), SK_ENEED);
    else
        CHECK_ERR(sk_frame_scan_msg(buf, 16, SIZE_MAX, NULL), SK_EMSGSIZE);
}

SK_TEST(put_len_big_endian)
{
    static const uint32_t values[] = { 0, 1, 0x01020304u, 0xfffffffeu, UINT32_MAX };
    unsigned char hdr[4];
    size_t payload;

    sk_frame_put_len(hdr, 0x01020304u);
    CHECK_EQ(hdr[0], 1);
    CHECK_EQ(hdr[1], 2);
    CHECK_EQ(hdr[2], 3);
    CHECK_EQ(hdr[3], 4);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        sk_frame_put_len(hdr, values[i]);
        CHECK_ERR(sk_frame_scan_msg(hdr, 4, SIZE_MAX, &payload),
                  values[i] == 0 ? 4 : SK_ENEED);
        CHECK_EQ(payload, values[i]);
    }
}

/* ---- fixed length, straight on the socket --------------------------------- */

SK_TEST(recv_exact_ok)
{
    unsigned char data[100], got[100];
    struct trickle t = { .data = data, .len = sizeof(data), .chunk = 7 };
    sk_sock *p[2];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 1);
    make_pair(p, 5.0);
    t.s = p[1];
    t.gap_ms = 1;
    trickle_start(&t);
    CHECK_EQ(sk_frame_recv_exact(p[0], got, sizeof(got)), 100);
    CHECK_MEM(got, data, sizeof(data));
    trickle_join(&t);
    /* Zero bytes is a complete message at once. */
    CHECK_EQ(sk_frame_recv_exact(p[0], got, 0), 0);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(recv_exact_eof_and_partial)
{
    unsigned char got[16];
    sk_sock *p[2];

    /* The peer closes before the first byte: a clean end of stream. */
    make_pair(p, 5.0);
    sk_sock_close(p[1]);
    CHECK_ERR(sk_frame_recv_exact(p[0], got, sizeof(got)), SK_EOF);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);

    /* The peer closes after 10 of 16 bytes: end of stream inside it. */
    make_pair(p, 5.0);
    send_all(p[1], "0123456789", 10);
    sk_sock_close(p[1]);
    CHECK_ERR(sk_frame_recv_exact(p[0], got, sizeof(got)), SK_EPARTIAL);
    CHECK_MEM(got, "0123456789", 10);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(recv_exact_one_deadline)
{
    /* One byte every 50 ms would keep a per-syscall timeout of 0.3 s alive
     * for 5 s; one deadline for the call ends it at 0.3 s. */
    unsigned char data[100] = { 0 }, got[100];
    struct trickle t = { .data = data, .len = sizeof(data), .chunk = 1, .gap_ms = 50 };
    sk_sock *p[2];
    double t0, took;

    make_pair(p, 0.3);
    t.s = p[1];
    trickle_start(&t);
    t0 = sk_test_now();
    CHECK_ERR(sk_frame_recv_exact(p[0], got, sizeof(got)), SK_ETIMEOUT);
    took = sk_test_now() - t0;
    CHECK_TIME(took, 0.3, 0.35 + 0.1);
    trickle_join(&t);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(recv_exact_closed_socket)
{
    unsigned char got[4];
    sk_sock *p[2];

    make_pair(p, 1.0);
    sk_sock_close(p[0]);
    CHECK_ERR(sk_frame_recv_exact(p[0], got, sizeof(got)), -EBADF);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

/* ---- delimited, through a buffered stream ---------------------------------- */

SK_TEST(recv_until_messages)
{
    /* A tiny stream buffer forces growth and delimiters split across fills. */
    static const char stream[] = "one\r\n\r\ntwo\r\n\r\n\r\n\r\nthree\r\n\r\n";
    static const char *want[] = { "one\r\n\r\n", "two\r\n\r\n", "\r\n\r\n",
                                  "three\r\n\r\n" };
    struct trickle t = { .data = (const unsigned char *)stream,
                         .len = sizeof(stream) - 1, .chunk = 3, .gap_ms = 2,
                         .close_after = true };
    for (size_t bufsize = 1; bufsize <= 9; bufsize += 4) {
        sk_sock *p[2];
        sk_file *f;
        char got[32];

        make_pair(p, 5.0);
        t.s = p[1];
        t.stop = false;
        CHECK_OK(sk_file_open(&f, p[0], bufsize));
        trickle_start(&t);
        for (size_t i = 0; i < 4; i++) {
            ssize_t n = sk_frame_recv_until(f, got, sizeof(got), "\r\n\r\n", 4);

            CHECK_EQ(n, (ssize_t)strlen(want[i]));
            CHECK_MEM(got, want[i], strlen(want[i]));
        }
        CHECK_ERR(sk_frame_recv_until(f, got, sizeof(got), "\r\n\r\n", 4), SK_EOF);
        trickle_join(&t);
        sk_file_close(f);
        sk_sock_free(p[0]);
        sk_sock_free(p[1]);
    }
}

SK_TEST(recv_until_too_long_consumes_nothing)
{
    sk_sock *p[2];
    sk_file *f;
    char got[32];

    make_pair(p, 1.0);
    CHECK_OK(sk_file_open(&f, p[0], 4));
    send_all(p[1], "abcdefgh\nxy\n", 12);
    CHECK_ERR(sk_frame_recv_until(f, got, 8, "\n", 1), SK_EMSGSIZE);
    /* Nothing was consumed: a larger max gets the same message. */
    CHECK_EQ(sk_frame_recv_until(f, got, 9, "\n", 1), 9);
    CHECK_MEM(got, "abcdefgh\n", 9);
    CHECK_EQ(sk_frame_recv_until(f, got, 3, "\n", 1), 3);
    CHECK_MEM(got, "xy\n", 3);
    sk_file_close(f);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(recv_until_partial_at_eof)
{
    sk_sock *p[2];
    sk_file *f;
    char got[32];

    make_pair(p, 1.0);
    CHECK_OK(sk_file_open(&f, p[0], 0));
    send_all(p[1], "line\nhalf a li", 14);
    sk_sock_close(p[1]);
    CHECK_EQ(sk_frame_recv_until(f, got, sizeof(got), "\n", 1), 5);
    CHECK_ERR(sk_frame_recv_until(f, got, sizeof(got), "\n", 1), SK_EPARTIAL);
    /* The partial message is still there for a plain read. */
    CHECK_EQ(sk_file_read(f, got, sizeof(got)), 9);
    CHECK_MEM(got, "half a li", 9);
    CHECK_ERR(sk_frame_recv_until(f, got, sizeof(got), "\n", 1), SK_EOF);
    sk_file_close(f);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(recv_until_timeout_then_retry)
{
    sk_sock *p[2];
    sk_file *f;
    char got[32];
    double t0;

    make_pair(p, 0.2);
    CHECK_OK(sk_file_open(&f, p[0], 0));
    /* Half the message and half the delimiter arrive, then nothing. */
    send_all(p[1], "hello\r", 6);
    t0 = sk_test_now();
    CHECK_ERR(sk_frame_recv_until(f, got, sizeof(got), "\r\n", 2), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.2, 0.25 + 0.1);
    CHECK_EQ(sk_file_buffered(f), 6);
    send_all(p[1], "\nnext\r\n", 7);
    CHECK_EQ(sk_frame_recv_until(f, got, sizeof(got), "\r\n", 2), 7);
    CHECK_MEM(got, "hello\r\n", 7);
    CHECK_EQ(sk_frame_recv_until(f, got, sizeof(got), "\r\n", 2), 6);
    CHECK_MEM(got, "next\r\n", 6);
    sk_file_close(f);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(recv_until_one_deadline)
{
    static unsigned char data[200];
    struct trickle t = { .data = data, .len = sizeof(data), .chunk = 1, .gap_ms = 50 };
    sk_sock *p[2];
    sk_file *f;
    char got[300];
    double t0;

    memset(data, 'a', sizeof(data));
    make_pair(p, 0.3);
    CHECK_OK(sk_file_open(&f, p[0], 0));
    t.s = p[1];
    trickle_start(&t);
    t0 = sk_test_now();
    CHECK_ERR(sk_frame_recv_until(f, got, sizeof(got), "\n", 1), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.3, 0.35 + 0.1);
    trickle_join(&t);
    sk_file_close(f);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

/* ---- length-prefixed -------------------------------------------------------- */

SK_TEST(recv_msg_messages)
{
    static const char *want[] = { "alpha", "", "beta gamma", "" };
    unsigned char stream[64];
    size_t len = 0;

    for (size_t i = 0; i < 4; i++)
        put_msg(stream, &len, want[i]);
    for (size_t bufsize = 1; bufsize <= 9; bufsize += 4) {
        struct trickle t = { .data = stream, .len = len, .chunk = 3, .gap_ms = 2,
                             .close_after = true };
        sk_sock *p[2];
        sk_file *f;
        char got[32];

        make_pair(p, 5.0);
        t.s = p[1];
        CHECK_OK(sk_file_open(&f, p[0], bufsize));
        trickle_start(&t);
        for (size_t i = 0; i < 4; i++) {
            CHECK_EQ(sk_frame_recv_msg(f, got, sizeof(got)), (ssize_t)strlen(want[i]));
            CHECK_MEM(got, want[i], strlen(want[i]));
        }
        CHECK_ERR(sk_frame_recv_msg(f, got, sizeof(got)), SK_EOF);
        trickle_join(&t);
        sk_file_close(f);
        sk_sock_free(p[0]);
        sk_sock_free(p[1]);
    }
}

/* max 0 with no buffer is accepted: it takes empty messages only. */
SK_TEST(recv_msg_empty_into_no_buffer)
{
    sk_sock *p[2];
    sk_file *f;

    make_pair(p, 1.0);
    CHECK_OK(sk_frame_send_msg(p[1], NULL, 0));
    CHECK_OK(sk_frame_send_msg(p[1], "x", 1));
    CHECK_OK(sk_file_open(&f, p[0], 0));
    CHECK_EQ(sk_frame_recv_msg(f, NULL, 0), 0);
    CHECK_ERR(sk_frame_recv_msg(f, NULL, 0), SK_EMSGSIZE);
    CHECK_EQ(sk_file_buffered(f), 5);
    sk_file_close(f);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(recv_msg_too_long)
{
    unsigned char hdr[4];
    sk_sock *p[2];
    sk_file *f;
    char got[8];

    make_pair(p, 1.0);
    CHECK_OK(sk_file_open(&f, p[0], 0));
    /* Announce 1 MiB and send only the header: the length alone fails it,
     * without waiting for a payload that may never come. */
    sk_frame_put_len(hdr, 1 << 20);
    send_all(p[1], hdr, 4);
    CHECK_ERR(sk_frame_recv_msg(f, got, sizeof(got)), SK_EMSGSIZE);
    /* Nothing consumed: the header is still buffered. */
    CHECK_EQ(sk_file_buffered(f), 4);
    CHECK_EQ(sk_file_read(f, got, 4), 4);
    CHECK_MEM(got, hdr, 4);
    sk_file_close(f);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(recv_msg_partial_at_eof)
{
    unsigned char buf[16];
    sk_sock *p[2];
    sk_file *f;
    char got[16];

    /* End of stream inside the header. */
    make_pair(p, 1.0);
    CHECK_OK(sk_file_open(&f, p[0], 0));
    sk_frame_put_len(buf, 5);
    send_all(p[1], buf, 2);
    sk_sock_close(p[1]);
    CHECK_ERR(sk_frame_recv_msg(f, got, sizeof(got)), SK_EPARTIAL);
    sk_file_close(f);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);

    /* End of stream inside the payload. */
    make_pair(p, 1.0);
    CHECK_OK(sk_file_open(&f, p[0], 0));
    memcpy(buf + 4, "abc", 3);
    send_all(p[1], buf, 7);
    sk_sock_close(p[1]);
    CHECK_ERR(sk_frame_recv_msg(f, got, sizeof(got)), SK_EPARTIAL);
    sk_file_close(f);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(recv_msg_timeout_then_retry)
{
    unsigned char buf[16];
    sk_sock *p[2];
    sk_file *f;
    char got[16];

    make_pair(p, 0.15);
    CHECK_OK(sk_file_open(&f, p[0], 0));
    sk_frame_put_len(buf, 8);
    memcpy(buf + 4, "12345678", 8);
    /* Stop inside the header, then inside the payload: each call times
     * out, and the next continues where the stream was. */
    send_all(p[1], buf, 3);
    CHECK_ERR(sk_frame_recv_msg(f, got, sizeof(got)), SK_ETIMEOUT);
    send_all(p[1], buf + 3, 5);
    CHECK_ERR(sk_frame_recv_msg(f, got, sizeof(got)), SK_ETIMEOUT);
    CHECK_EQ(sk_file_buffered(f), 8);
    send_all(p[1], buf + 8, 4);
    CHECK_EQ(sk_frame_recv_msg(f, got, sizeof(got)), 8);
    CHECK_MEM(got, "12345678", 8);
    sk_file_close(f);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

/* ---- sending ----------------------------------------------------------------- */

struct reader {
    sk_sock *s;
    unsigned char *buf;
    size_t max;
    ssize_t result;
    pthread_t thread;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    sk_file *f;

    r->result = sk_file_open(&f, r->s, 0);
    if (r->result == 0) {
        r->result = sk_frame_recv_msg(f, r->buf, r->max);
        sk_file_close(f);
    }
    return NULL;
}

SK_TEST(send_msg_round_trip)
{
    static unsigned char big[1 << 20], got[1 << 20];
    struct reader r = { .buf = got, .max = sizeof(got) };
    sk_sock *p[2];
    sk_file *f;

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i * 31 + (i >> 9));
    make_pair(p, 10.0);
    /* Small and empty messages fit the socket buffer. */
    CHECK_OK(sk_frame_send_msg(p[1], "hi", 2));
    CHECK_OK(sk_frame_send_msg(p[1], "", 0));
    CHECK_OK(sk_file_open(&f, p[0], 0));
    CHECK_EQ(sk_frame_recv_msg(f, got, 16), 2);
    CHECK_MEM(got, "hi", 2);
    CHECK_EQ(sk_frame_recv_msg(f, got, 16), 0);
    sk_file_close(f);
    /* A large one needs a concurrent reader and many partial sends. */
    r.s = p[0];
    CHECK_EQ(pthread_create(&r.thread, NULL, reader_main, &r), 0);
    CHECK_OK(sk_frame_send_msg(p[1], big, sizeof(big)));
    pthread_join(r.thread, NULL);
    CHECK_EQ(r.result, (ssize_t)sizeof(big));
    CHECK_MEM(got, big, sizeof(big));
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(send_msg_timeout)
{
    static unsigned char big[8 << 20];
    sk_sock *p[2];
    double t0;

    make_pair(p, 5.0);
    CHECK_OK(sk_sock_settimeout(p[1], 0.2));
    /* Nobody reads: the call must end at its deadline. */
    t0 = sk_test_now();
    CHECK_ERR(sk_frame_send_msg(p[1], big, sizeof(big)), SK_ETIMEOUT);
    CHECK_TIME(sk_test_now() - t0, 0.2, 0.25 + 0.1);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

/*
 * A blocking socket with a kernel send timeout of its own (SO_SNDTIMEO)
 * reports EAGAIN when it expires: sk_frame_send_msg returns that, like
 * sk_sock_sendall, instead of waiting for writability without a limit.
 */
SK_TEST(send_msg_blocking_sndtimeo_eagain)
{
    static unsigned char big[8 << 20];
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    sk_sock *p[2];
    double t0;

    make_pair(p, 5.0);
    CHECK_OK(sk_sock_settimeout(p[1], SK_TIMEOUT_NONE));
    CHECK_OK(sk_sock_setsockopt(p[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    /* Nobody reads, so the kernel's timer is what ends the call. */
    CHECK_ERR(sk_sock_sendall(p[1], big, sizeof(big), NULL), -EAGAIN);
    t0 = sk_test_now();
    CHECK_ERR(sk_frame_send_msg(p[1], big, sizeof(big)), -EAGAIN);
    CHECK_TIME(sk_test_now() - t0, 0.0, 5.0);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(send_msg_peer_gone_no_sigpipe)
{
    sk_sock *p[2];
    int rc;

    /* The default SIGPIPE disposition would kill this process; the error
     * must come back as a return value instead. */
    make_pair(p, 1.0);
    sk_sock_close(p[0]);
    rc = sk_frame_send_msg(p[1], "data", 4);
    CHECK(rc == -EPIPE || rc == -ECONNRESET);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}

SK_TEST(send_msg_bad_input)
{
    sk_sock *p[2];

    make_pair(p, 1.0);
    if (sizeof(size_t) > 4)
        CHECK_ERR(sk_frame_send_msg(p[1], "x", (size_t)UINT32_MAX + 1), SK_EMSGSIZE);
    sk_sock_close(p[1]);
    CHECK_ERR(sk_frame_send_msg(p[1], "x", 1), -EBADF);
    sk_sock_free(p[0]);
    sk_sock_free(p[1]);
}
