/* SPDX-License-Identifier: MIT */
/*
 * cli/reply_text.c - checks on daytime and qotd reply text (see reply_text.h).
 */
#include "reply_text.h"

ssize_t reply_text_check(const void *buf, size_t len)
{
    const unsigned char *p = buf;

    for (size_t i = 0; i < len; i++) {
        unsigned char b = p[i];

        if ((b < ' ' || b > '~') && b != '\t' && b != '\r' && b != '\n')
            return (ssize_t)i;
    }
    return -1;
}

size_t reply_text_trim(const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    return len;
}
