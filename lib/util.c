/* SPDX-License-Identifier: MIT */
/*
 * lib/util.c - small helpers every part of the socket layer shares, kept
 * here so that no two files of lib/ call each other in a circle:
 *
 *  - sk__put_text: copy a string into a caller's buffer, or -ENOSPC.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int sk__put_text(const char *text, size_t len, char *buf, size_t size)
{
    if (buf == NULL || len >= size || len > INT_MAX)
        return -ENOSPC;
    memcpy(buf, text, len);
    buf[len] = '\0';
    return (int)len;
}
