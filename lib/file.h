/* SPDX-License-Identifier: MIT */
/*
 * lib/file.h - the read side of sk_file (lib/file.c) for code inside lib/ that
 * parses messages out of a buffered stream (lib/frame.c).
 *
 * The model: a read buffer holding `avail` unconsumed bytes.  A parser peeks
 * at them, asks for more with sk__file_fill (one system call at most, bound
 * by the caller's deadline), and consumes only once a whole message is
 * there.  A failed fill therefore never loses bytes: they stay buffered for
 * the next call.
 */
#ifndef SOCKIT_FILE_H
#define SOCKIT_FILE_H

#include "internal.h"

#include <stdint.h>
#include <sys/types.h>

/*
 * Reads more bytes from the socket into the read buffer, waiting until
 * `deadline` (see internal.h) if none are available.  Makes room first by
 * moving unconsumed bytes to the front of the buffer.  Returns the number of
 * bytes added (> 0), 0 at end of stream, -ENOBUFS when the buffer is full of
 * unconsumed bytes (call sk__file_reserve to grow it), SK_ETIMEOUT, -EAGAIN
 * (non-blocking socket), -EBADF for a closed socket, or another -errno.
 * EINTR is retried inside the deadline.
 */
ssize_t sk__file_fill(sk_file *f, int64_t deadline);

/* Returns the unconsumed buffered bytes and stores their count in *avail.
 * The pointer is valid until the next fill, reserve or consume. */
const unsigned char *sk__file_peek(const sk_file *f, size_t *avail);

/* Drops the first `n` buffered bytes (n <= *avail from sk__file_peek). */
void sk__file_consume(sk_file *f, size_t n);

/* Grows the read buffer so that it can hold at least `n` unconsumed bytes.
 * Never shrinks it.  Returns 0 or -ENOMEM (the buffer is then unchanged). */
int sk__file_reserve(sk_file *f, size_t n);

/* The socket the stream reads from and writes to. */
sk_sock *sk__file_sock(sk_file *f);

#endif /* SOCKIT_FILE_H */
