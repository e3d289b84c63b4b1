/* SPDX-License-Identifier: MIT */
/*
 * lib/err.c - error kinds and messages.
 *
 * Map: sk_errkind_of() classifies a code by range; sk_strerror() picks the
 * message source by kind (our own table for SK_E... codes, a table of
 * strerror_r texts built once for -errno, gai_strerror for resolver codes);
 * sk__eai_code() converts getaddrinfo results into our codes.
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
