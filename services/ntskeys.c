/* SPDX-License-Identifier: MIT */
/*
 * services/ntskeys.c - the NTS cookie master keys: the current key, which
 * seals new cookies, and the previous one, which still opens cookies made
 * before the last rotation (see services.h, "NTS cookie keys").
 *
 *   the key file   text, mode 0600, newest key first, one per line:
 *                    ID CREATED HEX     (8 hex digits, Unix seconds, 64 hex)
 *                  read under a shared flock, rewritten in place under an
 *                  exclusive one, so instances sharing it never see half a
 *                  file and never rotate twice
 *   refresh        at most once a second, by whichever thread gets there
 *                  first: stat the file and reread it when it changed; when
 *                  the current key is --nts-rotate seconds old, lock, reread
 *                  and, if still due, write a new key in front of it
 *   per thread     a cache of two keyed AES-SIV contexts, rekeyed when the
 *                  key generation moves on; no lock on the cookie path
 *
 * Cost per cookie: one AES-SIV seal or open (~1 us); a refresh is one
 * stat(2) a second.  Randomness (keys, key ids, cookie nonces) comes from
 * OpenSSL's RAND_bytes.
 */
#define _GNU_SOURCE
#include "services.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define KEYS 2                /* current and previous */
#define FILE_MAX 4096         /* a longer key file is refused */
#define REFRESH_S 1

struct slot {
    uint32_t id;
    int64_t created;
    unsigned char key[NTS_MASTER_KEY_LEN];
};

/* One thread's keyed contexts for one svc_ntskeys. */
struct cache {
    struct cache *next;
    uint64_t gen;
    size_t n;
    uint32_t id[KEYS];
    siv *siv[KEYS];
    siv *scratch;             /* for the callers' C2S and S2C keys */
};

struct svc_ntskeys {
    pthread_mutex_t lock;     /* slot, n, seen, caches */
    struct slot slot[KEYS];
    size_t n;
    _Atomic uint64_t gen;     /* bumped whenever slot[] changes */
    _Atomic int64_t checked;  /* wall-clock second of the last refresh */
    char *path;               /* NULL: keys live in memory only */
    int64_t rotate;           /* seconds; 0: never */
    struct stat seen;         /* the file as last read */
    uint64_t serial;          /* tells thread caches of freed stores apart */
    struct cache *caches;
};

static _Atomic uint64_t store_serial;

/* ---- the file format ------------------------------------------------------------- */

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Parses "ID CREATED HEX" into *s; false when malformed. */
static bool line_parse(const char *line, struct slot *s)
{
    char hex[2 * NTS_MASTER_KEY_LEN + 2];
    unsigned id;
    long long created;

    if (sscanf(line, "%8x %lld %65s", &id, &created, hex) != 3 ||
        strlen(hex) != 2 * NTS_MASTER_KEY_LEN)
        return false;
    for (size_t i = 0; i < NTS_MASTER_KEY_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        s->key[i] = (unsigned char)(hi << 4 | lo);
    }
    s->id = id;
    s->created = created;
    return true;
}

/* Reads up to KEYS keys from text; returns how many, or -EINVAL with a reason. */
static int text_parse(char *text, struct slot *out, char *err, size_t errsize)
{
    int n = 0, lineno = 0;

    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        lineno++;
        if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0')
            continue;
        if (n == KEYS)
            break;
        if (!line_parse(line, &out[n])) {
            snprintf(err, errsize, "line %d is not 'ID CREATED HEXKEY'", lineno);
            return -EINVAL;
        }
        n++;
    }
    if (n == 0) {
        snprintf(err, errsize, "no key in the file");
        return -EINVAL;
    }
    return n;
}

static int text_format(const struct slot *s, size_t n, char *out, size_t cap)
{
    int len = snprintf(out, cap, "# sockit NTS cookie keys, newest first: ID CREATED HEXKEY\n");

    for (size_t i = 0; i < n && len > 0 && (size_t)len < cap; i++) {
        len += snprintf(out + len, cap - (size_t)len, "%08" PRIx32 " %" PRId64 " ",
                        s[i].id, s[i].created);
        for (size_t j = 0; j < NTS_MASTER_KEY_LEN && (size_t)len < cap; j++)
            len += snprintf(out + len, cap - (size_t)len, "%02x", s[i].key[j]);
        if ((size_t)len < cap)
            out[len++] = '\n';
    }
    return len;
}

/* ---- file I/O under flock ---------------------------------------------------------- */

/* Reads the open file (locked by the caller) into k's slots. */
static int file_read(svc_ntskeys *k, int fd, char *err, size_t errsize)
{
    char text[FILE_MAX + 1];
    struct slot s[KEYS] = {{0}};
    ssize_t len = pread(fd, text, FILE_MAX + 1, 0);
    int n;

    if (len < 0)
        return snprintf(err, errsize, "%s", strerror(errno)), -errno;
    if (len > FILE_MAX)
        return snprintf(err, errsize, "longer than %d bytes", FILE_MAX), -EINVAL;
    text[len] = '\0';
    n = text_parse(text, s, err, errsize);
    OPENSSL_cleanse(text, sizeof(text));
    if (n < 0)
        return n;
    memcpy(k->slot, s, sizeof(s));
    k->n = (size_t)n;
    OPENSSL_cleanse(s, sizeof(s));
    fstat(fd, &k->seen);
    atomic_fetch_add(&k->gen, 1);
    return 0;
}

static int file_write(svc_ntskeys *k, int fd)
{
    char text[FILE_MAX];
    int len = text_format(k->slot, k->n, text, sizeof(text));
    int rc = 0;

    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len || fsync(fd) != 0)
        rc = -errno;
    OPENSSL_cleanse(text, sizeof(text));
    fstat(fd, &k->seen);
    return rc;
}

/* A new current key in front of the old one (in memory). */
static int key_new(svc_ntskeys *k, int64_t now)
{
    struct slot s;

    do {
        if (RAND_bytes((unsigned char *)&s.id, sizeof(s.id)) != 1)
            return -EIO;
    } while (k->n > 0 && s.id == k->slot[0].id);
    if (RAND_bytes(s.key, sizeof(s.key)) != 1)
        return -EIO;
    s.created = now;
    k->slot[1] = k->slot[0];
    k->slot[0] = s;
    k->n = k->n == 0 ? 1 : KEYS;
    OPENSSL_cleanse(&s, sizeof(s));
    atomic_fetch_add(&k->gen, 1);
    return 0;
}

static bool due(const svc_ntskeys *k, int64_t now)
{
    return k->n == 0 || (k->rotate > 0 && now - k->slot[0].created >= k->rotate);
}

/*
 * Opens (creating 0600 when missing) and reads the key file, rotating when
 * due, all under an exclusive lock.  Called with k->lock held.
 */
static int file_sync(svc_ntskeys *k, int64_t now, bool rotate, char *err, size_t errsize)
{
    int fd = open(k->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st;
    int rc;

    if (fd < 0)
        return snprintf(err, errsize, "%s", strerror(errno)), -errno;
    if (flock(fd, rotate ? LOCK_EX : LOCK_SH) != 0) {
        rc = -errno;
        snprintf(err, errsize, "lock: %s", strerror(errno));
        goto out;
    }
    rc = fstat(fd, &st) == 0 && st.st_size == 0 ? 0 : file_read(k, fd, err, errsize);
    if (rc < 0 || !rotate || (st.st_size > 0 && !due(k, now)))
        goto out;
    rc = key_new(k, now);
    if (rc == 0)
        rc = file_write(k, fd);
    if (rc < 0)
        snprintf(err, errsize, "write: %s", strerror(-rc));
out:
    close(fd); /* drops the lock */
    return rc;
}

/* ---- the store ---------------------------------------------------------------------- */

int svc_ntskeys_new(svc_ntskeys **out, const char *path, int64_t rotate, char *err,
                    size_t errsize)
{
    svc_ntskeys *k = calloc(1, sizeof(*k));
    int64_t now = svc_wallclock();
    int rc;

    if (k == NULL)
        return -ENOMEM;
    pthread_mutex_init(&k->lock, NULL);
    k->rotate = rotate;
    k->serial = atomic_fetch_add(&store_serial, 1) + 1;
    atomic_store(&k->checked, now);
    if (path == NULL) {
        rc = key_new(k, now);
    } else if ((k->path = strdup(path)) == NULL) {
        rc = -ENOMEM;
    } else {
        /* The shared lock first: most starts find a key that is not due. */
        rc = file_sync(k, now, false, err, errsize);
        if (rc == 0 && due(k, now))
            rc = file_sync(k, now, true, err, errsize);
    }
    if (rc < 0) {
        svc_ntskeys_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void svc_ntskeys_free(svc_ntskeys *k)
{
    if (k == NULL)
        return;
    for (struct cache *c = k->caches, *next; c != NULL; c = next) {
        next = c->next;
        for (size_t i = 0; i < KEYS; i++)
            siv_free(c->siv[i]);
        siv_free(c->scratch);
        free(c);
    }
    OPENSSL_cleanse(k->slot, sizeof(k->slot));
    pthread_mutex_destroy(&k->lock);
    free(k->path);
    free(k);
}

/* The file changed since we read it (another instance rotated). */
static bool file_changed(const svc_ntskeys *k)
{
    struct stat st;

    return stat(k->path, &st) == 0 &&
           (st.st_ino != k->seen.st_ino || st.st_size != k->seen.st_size ||
            st.st_mtim.tv_sec != k->seen.st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != k->seen.st_mtim.tv_nsec);
}

int svc_ntskeys_refresh(svc_ntskeys *k, int64_t now, bool force)
{
    int64_t last = atomic_load(&k->checked);
    char err[128];
    int rc = 0;

    if (!force && now - last < REFRESH_S)
        return 0;
    if (!force && !atomic_compare_exchange_strong(&k->checked, &last, now))
        return 0; /* another thread is at it */
    pthread_mutex_lock(&k->lock);
    if (k->path == NULL) {
        if (due(k, now))
            rc = key_new(k, now);
    } else if (due(k, now)) {
        rc = file_sync(k, now, true, err, sizeof(err));
    } else if (file_changed(k)) {
        rc = file_sync(k, now, false, err, sizeof(err));
    }
    pthread_mutex_unlock(&k->lock);
    return rc; /* on failure the keys we have stay in use */
}

uint32_t svc_ntskeys_current_id(svc_ntskeys *k)
{
    uint32_t id;

    pthread_mutex_lock(&k->lock);
    id = k->slot[0].id;
    pthread_mutex_unlock(&k->lock);
    return id;
}

/* ---- the per-thread cache --------------------------------------------------------- */

static struct cache *cache_new(svc_ntskeys *k)
{
    struct cache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    if (siv_new(&c->siv[0]) != 0 || siv_new(&c->siv[1]) != 0 || siv_new(&c->scratch) != 0) {
        siv_free(c->siv[0]);
        siv_free(c->siv[1]);
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&k->lock);
    c->next = k->caches;
    k->caches = c;
    pthread_mutex_unlock(&k->lock);
    return c;
}

/* This thread's contexts, keyed with the current generation's keys. */
static struct cache *cache_get(svc_ntskeys *k)
{
    static _Thread_local struct cache *tc;
    static _Thread_local uint64_t tc_serial;
    uint64_t gen = atomic_load(&k->gen);

    if (tc_serial != k->serial) {
        tc = cache_new(k);
        tc_serial = tc != NULL ? k->serial : 0;
        if (tc == NULL)
            return NULL;
    }
    if (tc->gen != gen) {
        pthread_mutex_lock(&k->lock);
        tc->gen = atomic_load(&k->gen);
        tc->n = k->n;
        for (size_t i = 0; i < k->n; i++) {
            tc->id[i] = k->slot[i].id;
            if (siv_setkey(tc->siv[i], k->slot[i].key, NTS_MASTER_KEY_LEN) != 0)
                tc->n = i;
        }
        pthread_mutex_unlock(&k->lock);
    }
    return tc;
}

int svc_ntskeys_seal(svc_ntskeys *k, const nts_keys *keys, unsigned char out[NTS_COOKIE_LEN])
{
    struct cache *c = cache_get(k);
    unsigned char nonce[NTS_COOKIE_NONCE_LEN];

    if (c == NULL || c->n == 0)
        return -ENOMEM;
    if (RAND_bytes(nonce, sizeof(nonce)) != 1)
        return -EIO;
    return nts_cookie_seal(c->siv[0], c->id[0], nonce, keys, out);
}

/* Opens with the key the cookie names, if this thread's cache has it. */
static int open_cached(svc_ntskeys *k, const void *cookie, size_t len, uint32_t id,
                       nts_keys *keys)
{
    struct cache *c = cache_get(k);

    if (c == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < c->n; i++)
        if (c->id[i] == id)
            return nts_cookie_open(c->siv[i], cookie, len, keys);
    return -ENOKEY;
}

int svc_ntskeys_open(svc_ntskeys *k, const void *cookie, size_t len, nts_keys *keys)
{
    uint32_t id;
    int rc;

    if (!nts_cookie_key_id(cookie, len, &id))
        return -EBADMSG;
    rc = open_cached(k, cookie, len, id, keys);
    if (rc != -ENOKEY || k->path == NULL)
        return rc;
    /* Another instance sharing the file may have rotated: look (at most
     * once a second, as refresh does) and try once more. */
    svc_ntskeys_refresh(k, svc_wallclock(), false);
    return open_cached(k, cookie, len, id, keys);
}

siv *svc_ntskeys_scratch(svc_ntskeys *k)
{
    struct cache *c = cache_get(k);

    return c != NULL ? c->scratch : NULL;
}
