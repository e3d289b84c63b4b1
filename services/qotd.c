/* SPDX-License-Identifier: MIT */
/*
 * services/qotd.c - RFC 865: one short quote per connection or datagram.
 *
 * Quotes come from a built-in list or a fortune-format file (quotes
 * separated by lines holding only "%").  Every quote is checked when the
 * file is read (proto/qotd.c): under 512 bytes on the wire and nothing but printable
 * ASCII, CR and LF, as RFC 865 asks.  They are kept in wire form (CR LF
 * line ends), so serving one is a copy.
 *
 * SIGHUP rereads the file while workers serve quotes: the current set is an
 * immutable quoteset behind a rwlock.  Readers copy one quote under the
 * read lock (512 bytes at most, so the lock is held briefly); a reload
 * builds the new set without the lock, swaps the pointer under the write
 * lock and frees the old set afterwards.  A bad file never replaces a good
 * set.
 *
 *   quoteset_*        an immutable list of quotes
 *   svc_qotd_*        the reloadable store
 *   qotd handlers     TCP: send one quote and close; UDP: one per datagram
 */
#include "services.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Old proverbs and sayings; each is one line on the wire. */
static const char *const qotd_builtin[] = {
    "A stitch in time saves nine.",
    "Still waters run deep.",
    "Well begun is half done.",
    "Many hands make light work.",
    "Fortune favours the bold.",
    "He that can have patience can have what he will. - Benjamin Franklin",
    "Little strokes fell great oaks. - Benjamin Franklin",
    "The early bird catches the worm.",
    "Rome was not built in a day.",
    "What is well begun is half ended, and a good beginning makes a good end.",
    "Measure twice, cut once.",
    "Necessity is the mother of invention.",
};

#define QOTD_NBUILTIN (sizeof(qotd_builtin) / sizeof(qotd_builtin[0]))

const char *svc_qotd_builtin(size_t i)
{
    return i < QOTD_NBUILTIN ? qotd_builtin[i] : NULL;
}

/* ---- an immutable quote set ----------------------------------------------- */

typedef struct quoteset {
    size_t count, cap;
    size_t *off; /* quote i is text[off[i] .. off[i+1]) */
    char *text;
    size_t textlen, textcap;
} quoteset;

static void quoteset_free(quoteset *s)
{
    if (s == NULL)
        return;
    free(s->off);
    free(s->text);
    free(s);
}

/* The parser's emit callback: appends one quote. */
static int quoteset_add(void *arg, const char *quote, size_t len)
{
    quoteset *s = arg;

    if (s->count + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        size_t *off = realloc(s->off, cap * sizeof(*off));
        if (off == NULL)
            return -ENOMEM;
        s->off = off;
        s->cap = cap;
    }
    if (s->textlen + len > s->textcap) {
        size_t cap = s->textcap ? s->textcap * 2 : 4096;
        while (cap < s->textlen + len)
            cap *= 2;
        char *text = realloc(s->text, cap);
        if (text == NULL)
            return -ENOMEM;
        s->text = text;
        s->textcap = cap;
    }
    memcpy(s->text + s->textlen, quote, len);
    s->off[s->count++] = s->textlen;
    s->textlen += len;
    s->off[s->count] = s->textlen;
    return 0;
}

/* Builds a set from fortune-format text.  Errors as qotd_parse, and
 * -EINVAL for text without a single quote. */
static int quoteset_parse(quoteset **out, const char *text, size_t len, char *err,
                          size_t errsize)
{
    quoteset *s = calloc(1, sizeof(*s));
    int rc;

    if (s == NULL)
        return -ENOMEM;
    rc = qotd_parse(text, len, quoteset_add, s, err, errsize);
    if (rc == -ENOMEM)
        qotd_error(err, errsize, "out of memory");
    if (rc == 0) {
        qotd_error(err, errsize, "no quotes in the file");
        rc = -EINVAL;
    }
    if (rc < 0) {
        quoteset_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Reads a whole regular file of at most SVC_QOTD_FILE_MAX bytes. */
static int qotd_read_file(const char *path, char **text, size_t *len, char *err,
                          size_t errsize)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int rc, fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        rc = -errno;
        qotd_error(err, errsize, "%s", strerror(-rc));
        return rc;
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        qotd_error(err, errsize, "%s", strerror(-rc));
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > SVC_QOTD_FILE_MAX) {
        rc = -EINVAL;
        if (S_ISREG(st.st_mode))
            qotd_error(err, errsize, "larger than %u bytes", SVC_QOTD_FILE_MAX);
        else
            qotd_error(err, errsize, "not a regular file");
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = -ENOMEM;
        qotd_error(err, errsize, "out of memory");
        goto fail;
    }
    /* The file may change size under us; read what fits. */
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            qotd_error(err, errsize, "%s", strerror(-rc));
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *text = buf;
    *len = got;
    return 0;

fail:
    free(buf);
    close(fd);
    return rc;
}

static int quoteset_load(quoteset **out, const char *path, char *err, size_t errsize)
{
    char *text = NULL;
    size_t len = 0;
    int rc = qotd_read_file(path, &text, &len, err, errsize);

    if (rc < 0)
        return rc;
    rc = quoteset_parse(out, text, len, err, errsize);
    free(text);
    return rc;
}

/* ---- the reloadable store ------------------------------------------------- */

struct svc_qotd {
    char *path;              /* NULL: built-in quotes (then `set` stays NULL) */
    pthread_rwlock_t lock;   /* guards `set` (the pointer, not the set) */
    quoteset *set;           /* never NULL when path is set */
};

int svc_qotd_new(svc_qotd **out, const char *path, char *err, size_t errsize)
{
    svc_qotd *q = calloc(1, sizeof(*q));
    int rc;

    if (q == NULL) {
        qotd_error(err, errsize, "out of memory");
        return -ENOMEM;
    }
    rc = pthread_rwlock_init(&q->lock, NULL);
    if (rc != 0) {
        free(q);
        qotd_error(err, errsize, "%s", strerror(rc));
        return -rc;
    }
    if (path != NULL) {
        q->path = strdup(path);
        if (q->path == NULL) {
            rc = -ENOMEM;
            qotd_error(err, errsize, "out of memory");
            goto fail;
        }
        rc = quoteset_load(&q->set, path, err, errsize);
        if (rc < 0)
            goto fail;
    }
    *out = q;
    return 0;

fail:
    free(q->path);
    pthread_rwlock_destroy(&q->lock);
    free(q);
    return rc;
}

int svc_qotd_reload(svc_qotd *q, char *err, size_t errsize)
{
    quoteset *fresh, *old;
    int rc;

    if (q->path == NULL)
        return 0;
    rc = quoteset_load(&fresh, q->path, err, errsize);
    if (rc < 0)
        return rc;
    pthread_rwlock_wrlock(&q->lock);
    old = q->set;
    q->set = fresh;
    pthread_rwlock_unlock(&q->lock);
    /* No reader can still hold `old`: they copy under the read lock. */
    quoteset_free(old);
    return (int)fresh->count;
}

/* Copies a random built-in quote in wire form. */
static size_t qotd_pick_builtin(char *buf)
{
    const char *s = qotd_builtin[svc_random() % QOTD_NBUILTIN];
    size_t len = strlen(s);

    memcpy(buf, s, len);
    memcpy(buf + len, "\r\n", 2);
    return len + 2;
}

size_t svc_qotd_pick(svc_qotd *q, char *buf)
{
    size_t len, i;

    if (q == NULL || q->path == NULL)
        return qotd_pick_builtin(buf);
    pthread_rwlock_rdlock(&q->lock);
    i = (size_t)(svc_random() % q->set->count);
    len = q->set->off[i + 1] - q->set->off[i];
    memcpy(buf, q->set->text + q->set->off[i], len);
    pthread_rwlock_unlock(&q->lock);
    return len;
}

size_t svc_qotd_count(svc_qotd *q)
{
    size_t n;

    if (q == NULL || q->path == NULL)
        return QOTD_NBUILTIN;
    pthread_rwlock_rdlock(&q->lock);
    n = q->set->count;
    pthread_rwlock_unlock(&q->lock);
    return n;
}

const char *svc_qotd_path(const svc_qotd *q)
{
    return q != NULL ? q->path : NULL;
}

void svc_qotd_free(svc_qotd *q)
{
    if (q == NULL)
        return;
    quoteset_free(q->set);
    pthread_rwlock_destroy(&q->lock);
    free(q->path);
    free(q);
}

/* ---- the handlers --------------------------------------------------------- */

static svc_qotd *qotd_of(void *arg)
{
    const svc_env *env = arg;

    return env != NULL ? env->qotd : NULL;
}

static void qotd_on_open(sk_conn *c)
{
    char quote[QOTD_QUOTE_MAX];
    size_t len = svc_qotd_pick(qotd_of(sk_conn_arg(c)), quote);

    svc_oneshot_start(c, sk_conn_data(c), quote, len);
}

static void qotd_on_datagram(sk_dgram *d, const void *data, size_t len,
                             const sk_addr *from)
{
    char quote[QOTD_QUOTE_MAX];
    size_t n;

    (void)data;
    (void)len;
    if (!svc_udp_admit(d, from))
        return;
    n = svc_qotd_pick(qotd_of(sk_dgram_arg(d)), quote);
    svc_udp_send(d, from, quote, n, SVC_UDP_MAX);
}

const sk_tcp_handler svc_qotd_tcp = {
    .conn_size = sizeof(svc_oneshot),
    .on_open = qotd_on_open,
    .on_data = svc_ignore_input,
    .on_drain = svc_oneshot_drain,
};

const sk_udp_handler svc_qotd_udp = {
    .on_datagram = qotd_on_datagram,
};
