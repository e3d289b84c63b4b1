/* SPDX-License-Identifier: MIT */
/*
 * lib/util.c - small helpers every part of the socket layer shares, kept
 * here so that no two files of lib/ call each other in a circle:
 *
 *  - sk__put_text: copy a string into a caller's buffer, or -ENOSPC.
 *  - sk__struct_in / sk__struct_out: copy an extensible public struct (one
 *    that starts with a size field) in from or out to a caller built
 *    against another version of sockit.h.
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

int sk__struct_in(void *dst, size_t dst_size, const void *src)
{
    size_t n;

    memset(dst, 0, dst_size);
    if (src == NULL)
        return 0;
    memcpy(&n, src, sizeof(n));
    if (n == 0)
        n = dst_size; /* the 0.2 layout, which is this one */
    if (n < sizeof(size_t))
        return -EINVAL;
    /* A newer caller's fields we do not know must be unset. */
    for (size_t i = dst_size; i < n; i++)
        if (((const unsigned char *)src)[i] != 0)
            return -E2BIG;
    memcpy(dst, src, n < dst_size ? n : dst_size);
    memcpy(dst, &dst_size, sizeof(dst_size));
    return 0;
}

void sk__struct_out(void *dst, const void *src, size_t src_size)
{
    unsigned char *d = dst;
    size_t n, copy;

    memcpy(&n, dst, sizeof(n));
    if (n == 0)
        n = src_size; /* the 0.2 layout, which is this one */
    if (n < sizeof(size_t))
        return;
    copy = n < src_size ? n : src_size;
    memcpy(d + sizeof(size_t), (const unsigned char *)src + sizeof(size_t),
           copy - sizeof(size_t));
    /* A newer caller than this library: the fields we lack read as zero. */
    if (n > copy)
        memset(d + copy, 0, n - copy);
}
