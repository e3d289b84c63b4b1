/* SPDX-License-Identifier: MIT */
/*
 * proto/qotd.h - RFC 865 (Quote of the Day): the bound on a quote and the
 * parser of the fortune-format files quotes are kept in (quotes separated
 * by lines holding only "%").
 */
#ifndef SOCKIT_PROTO_QOTD_H
#define SOCKIT_PROTO_QOTD_H

#include <stdbool.h>
#include <stddef.h>

/* A quote's largest size on the wire, CR LF line ends included: RFC 865
 * asks for fewer than 512 characters. */
#define QOTD_QUOTE_MAX 511

/*
 * Parses fortune-format text into wire-form quotes: calls `emit(arg,
 * quote, len)` for each (LF line ends become CR LF; a CR LF file reads the
 * same; empty quotes are skipped).  A non-zero return from emit stops the
 * parse and is returned.  Returns the number of quotes, or -EINVAL with
 * err[errsize] set to "line N: why" when a quote is too long or holds a
 * byte other than printable ASCII, CR or LF.  Allocates nothing.
 */
int qotd_parse(const char *text, size_t len,
               int (*emit)(void *arg, const char *quote, size_t len),
               void *arg, char *err, size_t errsize);

/* Formats a one-line reason into err[errsize] (nothing when err is NULL or
 * errsize is 0): the error convention of the parser and of the quote store
 * built on it. */
void qotd_error(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* SOCKIT_PROTO_QOTD_H */
