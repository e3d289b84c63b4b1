/* SPDX-License-Identifier: MIT */
/*
 * proto/chargen.h - RFC 864 (Character Generator): the pattern, as a table
 * a server sends from (chargen.c), and a streaming verifier a client checks
 * it with (chargen_check.c).
 *
 * The pattern: lines of 72 printable characters followed by CR LF; the
 * characters come from the ring of the 95 printable ASCII characters from
 * ' ' (32) to '~' (126); each line starts one ring position after the one
 * before it.  A server may start its first line at any ring position, so
 * the verifier takes the phase from the stream's first byte (which must
 * start a line) and checks every later byte strictly.
 */
#ifndef SOCKIT_PROTO_CHARGEN_H
#define SOCKIT_PROTO_CHARGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHARGEN_RING 95      /* printable characters ' '..'~' */
#define CHARGEN_LINE 72      /* characters per line before CR LF */
#define CHARGEN_CYCLE (CHARGEN_RING * (CHARGEN_LINE + 2)) /* 7030 bytes */
#define CHARGEN_CHUNK_MIN (64u * 1024) /* contiguous bytes chargen_chunk gives */

/*
 * The stream from position `pos` (taken modulo CHARGEN_CYCLE; position 0
 * is the first byte of line 0): stores a pointer to the next bytes of the
 * pattern in *out and returns how many may be read there contiguously
 * (always more than CHARGEN_CHUNK_MIN).  Thread-safe; the table is built
 * once, on first use.
 */
size_t chargen_chunk(size_t pos, const char **out);

/* The position after `n` more bytes from `pos`. */
size_t chargen_advance(size_t pos, size_t n);

/* In `expected`: the first byte may be any character of the ring. */
#define CHARGEN_EXPECT_PRINTABLE (-1)

/*
 * Verifier state.  Valid when zeroed (nothing seen yet); feed it the
 * stream in chunks of any size.  Fields are read by the caller after a
 * mismatch; they are not to be set by hand.
 */
struct chargen_check {
    uint64_t offset;   /* bytes accepted so far */
    bool synced;       /* the first byte has fixed the phase */
    unsigned start;    /* ring position of the current line's first char */
    unsigned col;      /* position within the current line, 0..73 */
    int first;         /* ring position of the stream's first line */
    /* Set at the first mismatch: */
    bool failed;
    uint64_t bad_offset; /* stream offset of the first wrong byte */
    int expected;        /* the byte that should have been there, or
                            CHARGEN_EXPECT_PRINTABLE */
    unsigned char got;   /* the byte that was there */
};

/*
 * Checks `len` more bytes of the stream.  Returns 0 while every byte so far
 * matches, -1 at the first mismatch (then failed, bad_offset, expected and
 * got say where and what) and for every call after it.  Never reads past
 * buf[len); allocates nothing.
 */
int chargen_check_feed(struct chargen_check *c, const void *buf, size_t len);

#endif /* SOCKIT_PROTO_CHARGEN_H */
