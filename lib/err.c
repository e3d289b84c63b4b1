/* SPDX-License-Identifier: MIT */
/*
 * lib/err.c - error kinds and messages.
 *
 * Map: sk_errkind_of() classifies a code by range; sk_strerror() picks the
 * message source by kind (our own tables for SK_E... and SK_ETLS_... codes, a table of
 * strerror_r texts built once for -errno, gai_strerror for resolver codes);
 * sk_errname() gives a code's symbolic name; sk__eai_code() converts
 * getaddrinfo results into our codes.
 */
#define _GNU_SOURCE /* the EAI_* extensions (EAI_ADDRFAMILY, EAI_NODATA, ...) */
#include "internal.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* System errors are -errno with errno below this bound. */
#define ERRNO_LIMIT 4096

/* TLS codes run from SK_ETLS_UNAVAILABLE down, fewer than this many. */
#define TLS_LIMIT 100

/* Resolver codes are SK_EAI(eai) with |eai| below this bound. */
#define EAI_LIMIT 1000

/*
 * Errno messages are copied once into this table so that sk_strerror can
 * hand out strings that stay valid and are never overwritten (strerror(3)
 * itself is not thread-safe).  Errno values past the table, or without a
 * message, are reported as unknown.
 */
#define ERRNO_TABLE 256
#define ERRNO_MSGLEN 80

static char errno_msgs[ERRNO_TABLE][ERRNO_MSGLEN];
static pthread_once_t errno_once = PTHREAD_ONCE_INIT;

/*
 * "unknown error N" texts are formatted into a small per-thread ring, so
 * several of them can be used in one printf before any is overwritten.
 */
#define UNKNOWN_RING 8
static _Thread_local char unknown_bufs[UNKNOWN_RING][48];
static _Thread_local unsigned unknown_next;

sk_errkind sk_errkind_of(int code)
{
    if (code >= 0)
        return SK_ERRKIND_NONE;
    if (code == SK_ETIMEOUT)
        return SK_ERRKIND_TIMEOUT;
    switch (code) {
    case SK_EPARTIAL:
    case SK_EOF:
    case SK_EBADADDR:
    case SK_ENEED:
    case SK_EMSGSIZE:
        return SK_ERRKIND_DATA;
    default:
        break;
    }
    if (code <= SK_ETLS_UNAVAILABLE && code > SK_ETLS_UNAVAILABLE - TLS_LIMIT)
        return SK_ERRKIND_TLS;
    if (code < SK_EAI_BASE && code > SK_EAI_BASE - EAI_LIMIT)
        return SK_ERRKIND_RESOLVER;
    /* Anything else negative can only have come from the system. */
    return SK_ERRKIND_SYSTEM;
}

/*
 * Copies strerror_r's message for `e` into buf, handling both the GNU
 * (returns a pointer) and the POSIX (fills buf, returns int) variants.
 */
static void copy_errno_msg(int e, char *buf, size_t size)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    char tmp[ERRNO_MSGLEN];
    const char *msg = strerror_r(e, tmp, sizeof tmp);

    snprintf(buf, size, "%s", msg);
#else
    if (strerror_r(e, buf, size) != 0)
        buf[0] = '\0';
#endif
}

static void errno_table_init(void)
{
    for (int e = 1; e < ERRNO_TABLE; e++) {
        copy_errno_msg(e, errno_msgs[e], ERRNO_MSGLEN);
        /* The C library's own "Unknown error N" is replaced by ours. */
        if (strncmp(errno_msgs[e], "Unknown error", 13) == 0)
            errno_msgs[e][0] = '\0';
    }
}

static const char *unknown(int code)
{
    char *buf = unknown_bufs[unknown_next++ % UNKNOWN_RING];

    snprintf(buf, sizeof unknown_bufs[0], "unknown error %d", code);
    return buf;
}

static const char *errno_message(int code)
{
    int e = -code;

    if (e <= 0 || e >= ERRNO_TABLE)
        return unknown(code);
    pthread_once(&errno_once, errno_table_init);
    return errno_msgs[e][0] ? errno_msgs[e] : unknown(code);
}

/* The EAI values this system defines, so a code can be mapped back to the
 * (possibly negative) value gai_strerror expects. */
static const int eai_known[] = {
    EAI_BADFLAGS, EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_FAMILY,
    EAI_SOCKTYPE, EAI_SERVICE, EAI_MEMORY, EAI_SYSTEM, EAI_OVERFLOW,
#ifdef EAI_NODATA
    EAI_NODATA,
#endif
#ifdef EAI_ADDRFAMILY
    EAI_ADDRFAMILY,
#endif
#ifdef EAI_INPROGRESS
    EAI_INPROGRESS,
#endif
#ifdef EAI_CANCELED
    EAI_CANCELED,
#endif
#ifdef EAI_NOTCANCELED
    EAI_NOTCANCELED,
#endif
#ifdef EAI_ALLDONE
    EAI_ALLDONE,
#endif
#ifdef EAI_INTR
    EAI_INTR,
#endif
#ifdef EAI_IDN_ENCODE
    EAI_IDN_ENCODE,
#endif
};

static const char *resolver_message(int code)
{
    for (size_t i = 0; i < sizeof eai_known / sizeof eai_known[0]; i++) {
        if (SK_EAI(eai_known[i]) == code)
            return gai_strerror(eai_known[i]);
    }
    return unknown(code);
}

static const char *data_message(int code)
{
    switch (code) {
    case SK_EPARTIAL:
        return "end of stream in the middle of a message";
    case SK_EOF:
        return "end of stream";
    case SK_EBADADDR:
        return "invalid address";
    case SK_ENEED:
        return "more input needed";
    case SK_EMSGSIZE:
        return "message too long";
    default:
        return unknown(code);
    }
}

/* Python's wording where it has one ("EOF occurred in violation of
 * protocol"); the verify failures as OpenSSL and Python print them. */
static const char *tls_message(int code)
{
    switch (code) {
    case SK_ETLS_UNAVAILABLE:
        return "built without TLS";
    case SK_ETLS_HANDSHAKE:
        return "TLS handshake failed";
    case SK_ETLS_VERSION:
        return "TLS handshake failed: no protocol version in common";
    case SK_ETLS_NOT_TLS:
        return "TLS handshake failed: the peer does not speak TLS";
    case SK_ETLS_EOF:
        return "EOF occurred in violation of protocol (no TLS close_notify)";
    case SK_ETLS_WANT_READ:
        return "TLS wants to read (non-blocking)";
    case SK_ETLS_WANT_WRITE:
        return "TLS wants to write (non-blocking)";
    case SK_ETLS_PROTOCOL:
        return "TLS protocol error";
    case SK_ETLS_CERT:
        return "cannot load TLS certificate or key";
    case SK_ETLS_VERIFY_UNKNOWN_ISSUER:
        return "certificate verify failed: unknown issuer";
    case SK_ETLS_VERIFY_HOSTNAME:
        return "certificate verify failed: hostname mismatch";
    case SK_ETLS_VERIFY_EXPIRED:
        return "certificate verify failed: certificate has expired";
    case SK_ETLS_VERIFY_NOT_YET_VALID:
        return "certificate verify failed: certificate is not yet valid";
    case SK_ETLS_VERIFY_SELF_SIGNED:
        return "certificate verify failed: self-signed certificate";
    case SK_ETLS_VERIFY_OTHER:
        return "certificate verify failed";
    default:
        return unknown(code);
    }
}

const char *sk_strerror(int code)
{
    if (code >= 0)
        return "success";
    switch (sk_errkind_of(code)) {
    case SK_ERRKIND_TIMEOUT:
        return "timed out";
    case SK_ERRKIND_DATA:
        return data_message(code);
    case SK_ERRKIND_RESOLVER:
        return resolver_message(code);
    case SK_ERRKIND_TLS:
        return tls_message(code);
    case SK_ERRKIND_SYSTEM:
        if (code > -ERRNO_LIMIT)
            return errno_message(code);
        return unknown(code);
    default:
        return unknown(code);
    }
}

int sk__eai_code(int eai, int saved_errno)
{
    if (eai == 0)
        return 0;
    /* EAI_SYSTEM is never handed out: the error behind it is. */
    if (eai == EAI_SYSTEM)
        return saved_errno > 0 ? -saved_errno : -EIO;
    return SK_EAI(eai);
}

/* ---- names ---------------------------------------------------------------- */

#define NAME(x) {x, #x}

static const struct code_name {
    int code;
    const char *name;
} sk_names[] = {
    NAME(SK_ETIMEOUT), NAME(SK_EPARTIAL), NAME(SK_EOF),
    NAME(SK_EBADADDR), NAME(SK_ENEED),    NAME(SK_EMSGSIZE),
    NAME(SK_ETLS_UNAVAILABLE), NAME(SK_ETLS_HANDSHAKE), NAME(SK_ETLS_VERSION),
    NAME(SK_ETLS_NOT_TLS), NAME(SK_ETLS_EOF), NAME(SK_ETLS_WANT_READ),
    NAME(SK_ETLS_WANT_WRITE), NAME(SK_ETLS_PROTOCOL), NAME(SK_ETLS_CERT),
    NAME(SK_ETLS_VERIFY_UNKNOWN_ISSUER), NAME(SK_ETLS_VERIFY_HOSTNAME),
    NAME(SK_ETLS_VERIFY_EXPIRED), NAME(SK_ETLS_VERIFY_NOT_YET_VALID),
    NAME(SK_ETLS_VERIFY_SELF_SIGNED), NAME(SK_ETLS_VERIFY_OTHER),
};

/* The EAI values this system defines, by name (their codes are SK_EAI(v)). */
static const struct code_name eai_names[] = {
    NAME(EAI_BADFLAGS), NAME(EAI_NONAME), NAME(EAI_AGAIN), NAME(EAI_FAIL),
    NAME(EAI_FAMILY), NAME(EAI_SOCKTYPE), NAME(EAI_SERVICE), NAME(EAI_MEMORY),
    NAME(EAI_SYSTEM), NAME(EAI_OVERFLOW),
#ifdef EAI_NODATA
    NAME(EAI_NODATA),
#endif
#ifdef EAI_ADDRFAMILY
    NAME(EAI_ADDRFAMILY),
#endif
};

/* Errno names where the C library cannot say (before glibc 2.32): the
 * ones socket code meets. */
static const struct code_name errno_names[] = {
    NAME(EPERM), NAME(ENOENT), NAME(EINTR), NAME(EIO), NAME(EBADF),
    NAME(EAGAIN), NAME(ENOMEM), NAME(EACCES), NAME(EFAULT), NAME(EBUSY),
    NAME(EEXIST), NAME(EINVAL), NAME(ENFILE), NAME(EMFILE), NAME(ENOSPC),
    NAME(EPIPE), NAME(ERANGE), NAME(ENOTSOCK), NAME(EDESTADDRREQ),
    NAME(EMSGSIZE), NAME(EPROTOTYPE), NAME(ENOPROTOOPT),
    NAME(EPROTONOSUPPORT), NAME(EOPNOTSUPP), NAME(EAFNOSUPPORT),
    NAME(EADDRINUSE), NAME(EADDRNOTAVAIL), NAME(ENETDOWN),
    NAME(ENETUNREACH), NAME(ECONNABORTED), NAME(ECONNRESET),
    NAME(ENOBUFS), NAME(EISCONN), NAME(ENOTCONN), NAME(ETIMEDOUT),
    NAME(ECONNREFUSED), NAME(EHOSTUNREACH), NAME(EALREADY),
    NAME(EINPROGRESS), NAME(E2BIG), NAME(EOVERFLOW),
};

static const char *name_in(const struct code_name *t, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].code == code)
            return t[i].name;
    return NULL;
}

static const char *errno_name(int e)
{
    const char *name = NULL;

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    name = strerrorname_np(e);
#endif
    if (name == NULL)
        name = name_in(errno_names, sizeof errno_names / sizeof errno_names[0], e);
    return name;
}

const char *sk_errname(int code)
{
    const char *name = NULL;

    if (code >= 0)
        return "OK";
    switch (sk_errkind_of(code)) {
    case SK_ERRKIND_TIMEOUT:
    case SK_ERRKIND_DATA:
    case SK_ERRKIND_TLS:
        name = name_in(sk_names, sizeof sk_names / sizeof sk_names[0], code);
        break;
    case SK_ERRKIND_RESOLVER:
        for (size_t i = 0; i < sizeof eai_names / sizeof eai_names[0]; i++)
            if (SK_EAI(eai_names[i].code) == code)
                name = eai_names[i].name;
        break;
    case SK_ERRKIND_SYSTEM:
        if (code > -ERRNO_LIMIT)
            name = errno_name(-code);
        break;
    default:
        break;
    }
    return name != NULL ? name : "UNKNOWN";
}
