/* SPDX-License-Identifier: MIT */
/*
 * proto/qotd.c - the fortune-format quote file parser of RFC 865 (see
 * qotd.h).  One line at a time, the quote being assembled kept in a
 * fixed buffer of QOTD_QUOTE_MAX bytes: it allocates nothing and reads
 * nothing but the text it is given.
 */
#include "qotd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void qotd_error(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errsize == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}

/* True when the quote holds something besides line ends. */
static bool qotd_has_text(const char *q, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (q[i] != '\r' && q[i] != '\n')
            return true;
    return false;
}

/* The parser's state: the quote being assembled, in wire form. */
typedef struct qotd_parser {
    char quote[QOTD_QUOTE_MAX];
    size_t qlen;
    long qstart; /* line the current quote started on */
    int count;
    int (*emit)(void *arg, const char *quote, size_t len);
    void *arg;
    char *err;
    size_t errsize;
} qotd_parser;

/* Hands the assembled quote (if it has any text) to emit. */
static int qotd_flush(qotd_parser *p)
{
    int rc = 0;

    if (qotd_has_text(p->quote, p->qlen)) {
        rc = p->emit(p->arg, p->quote, p->qlen);
        if (rc == 0)
            p->count++;
    }
    p->qlen = 0;
    return rc;
}

/* One line of the file, without its line end. */
static int qotd_line(qotd_parser *p, const char *line, size_t ll, long lineno)
{
    if (ll == 1 && line[0] == '%') {
        p->qstart = lineno + 1;
        return qotd_flush(p);
    }
    for (size_t i = 0; i < ll; i++) {
        unsigned char ch = (unsigned char)line[i];
        if ((ch < 32 || ch > 126) && ch != '\r') {
            qotd_error(p->err, p->errsize, "line %ld: byte 0x%02x is not printable ASCII",
                     lineno, ch);
            return -EINVAL;
        }
    }
    if (p->qlen + ll + 2 > QOTD_QUOTE_MAX) {
        qotd_error(p->err, p->errsize,
                 "line %ld: the quote starting at line %ld is longer than %d bytes",
                 lineno, p->qstart, QOTD_QUOTE_MAX);
        return -EINVAL;
    }
    memcpy(p->quote + p->qlen, line, ll);
    p->qlen += ll;
    p->quote[p->qlen++] = '\r';
    p->quote[p->qlen++] = '\n';
    return 0;
}

int qotd_parse(const char *text, size_t len,
                   int (*emit)(void *arg, const char *quote, size_t len),
                   void *arg, char *err, size_t errsize)
{
    qotd_parser p = {.qstart = 1, .emit = emit, .arg = arg, .err = err,
                     .errsize = errsize};
    size_t pos = 0;
    long lineno = 0;
    int rc;

    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl != NULL ? (size_t)(nl - line) : len - pos;

        pos += ll + (nl != NULL);
        lineno++;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--; /* a CR LF file reads the same as an LF file */
        rc = qotd_line(&p, line, ll, lineno);
        if (rc < 0)
            return rc;
    }
    rc = qotd_flush(&p);
    return rc < 0 ? rc : p.count;
}
