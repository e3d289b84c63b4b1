/* SPDX-License-Identifier: MIT */
/*
 * proto/chargen_check.c - the streaming RFC 864 pattern verifier (see
 * chargen.h).  One byte at a time: the expected byte is a function of
 * the line's ring phase and the column, so no buffering is needed and a
 * chunk may split the stream anywhere.
 */
#include "chargen.h"

/* The byte the pattern has at column `col` of a line starting at ring
 * position `start`. */
static int expected_byte(unsigned start, unsigned col)
{
    if (col < CHARGEN_LINE)
        return ' ' + (int)((start + col) % CHARGEN_RING);
    return col == CHARGEN_LINE ? '\r' : '\n';
}

static int fail(struct chargen_check *c, int expected, unsigned char got)
{
    c->failed = true;
    c->bad_offset = c->offset;
    c->expected = expected;
    c->got = got;
    return -1;
}

/* Moves past one accepted byte, wrapping to the next line after LF. */
static void advance(struct chargen_check *c)
{
    c->offset++;
    if (++c->col == CHARGEN_LINE + 2) {
        c->col = 0;
        c->start = (c->start + 1) % CHARGEN_RING;
    }
}

int chargen_check_feed(struct chargen_check *c, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    if (c->failed)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!c->synced) {
            /* The first byte fixes the phase; it must start a line. */
            if (p[i] < ' ' || p[i] > '~')
                return fail(c, CHARGEN_EXPECT_PRINTABLE, p[i]);
            c->synced = true;
            c->start = (unsigned)(p[i] - ' ');
            c->first = (int)c->start;
        } else if (p[i] != expected_byte(c->start, c->col)) {
            return fail(c, expected_byte(c->start, c->col), p[i]);
        }
        advance(c);
    }
    return 0;
}
