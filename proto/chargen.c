/* SPDX-License-Identifier: MIT */
/*
 * proto/chargen.c - the RFC 864 pattern as a table (see chargen.h).
 *
 * After 95 lines (7030 bytes) the pattern repeats, so the whole stream is
 * that cycle over and over.  The table is the cycle built once and repeated
 * enough times that any position has more than CHARGEN_CHUNK_MIN bytes
 * ahead of it contiguously.  The verifier is in chargen_check.c.
 */
#include "chargen.h"

#include <pthread.h>

/* Enough whole cycles that pos + 64 KiB never runs off the end. */
#define CHARGEN_REPEAT 11
#define CHARGEN_TABLE (CHARGEN_CYCLE * CHARGEN_REPEAT)
_Static_assert(CHARGEN_TABLE - CHARGEN_CYCLE > CHARGEN_CHUNK_MIN,
               "chargen_chunk promises CHARGEN_CHUNK_MIN bytes from any position");

static char chargen_table[CHARGEN_TABLE];
static pthread_once_t chargen_once = PTHREAD_ONCE_INIT;

static void chargen_build(void)
{
    size_t k = 0;

    for (int line = 0; line < CHARGEN_RING; line++) {
        for (int i = 0; i < CHARGEN_LINE; i++)
            chargen_table[k++] = (char)(' ' + (line + i) % CHARGEN_RING);
        chargen_table[k++] = '\r';
        chargen_table[k++] = '\n';
    }
    for (int r = 1; r < CHARGEN_REPEAT; r++)
        for (size_t i = 0; i < CHARGEN_CYCLE; i++)
            chargen_table[k++] = chargen_table[i];
}

size_t chargen_chunk(size_t pos, const char **out)
{
    pthread_once(&chargen_once, chargen_build);
    pos %= CHARGEN_CYCLE;
    *out = chargen_table + pos;
    return CHARGEN_TABLE - pos;
}

size_t chargen_advance(size_t pos, size_t n)
{
    return (pos + n % CHARGEN_CYCLE) % CHARGEN_CYCLE;
}
