/* SPDX-License-Identifier: MIT */
/*
 * lib/timeout.c - per-socket timeouts, the process default, and descriptor flags.
 *
 * Map: sk_sock_settimeout keeps the invariant of internal.h (O_NONBLOCK
 * exactly when timeout >= 0) by switching the descriptor's mode only when
 * it changes; the process default lives in an atomic so any thread may set
 * it; sk__fd_set_flags is the fcntl plumbing for descriptors the library
 * did not create itself.
 */
#include "internal.h"
#include "timeout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>

/*
 * The process default, as the bit pattern of a double in an atomic integer
 * (atomic doubles may need libatomic).  The stored value is the bits XOR
 * the bits of SK_TIMEOUT_NONE, so that the zero-initialised state already
 * means SK_TIMEOUT_NONE without any initialisation call.
 */
static _Atomic uint64_t default_timeout_bits;

static uint64_t double_bits(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double d;

    memcpy(&d, &u, sizeof d);
    return d;
}

static bool timeout_valid(double seconds)
{
    if (seconds != seconds)
        return false;
    return seconds >= 0 || seconds == SK_TIMEOUT_NONE;
}

int sk_setdefaulttimeout(double seconds)
{
    if (!timeout_valid(seconds))
        return -EINVAL;
    atomic_store(&default_timeout_bits,
                 double_bits(seconds) ^ double_bits(SK_TIMEOUT_NONE));
    return 0;
}

double sk_getdefaulttimeout(void)
{
    return bits_double(atomic_load(&default_timeout_bits) ^
                       double_bits(SK_TIMEOUT_NONE));
}

/* Sets or clears O_NONBLOCK on fd, skipping the write when nothing changes. */
int sk__fd_set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);

    if (want != fl && fcntl(fd, F_SETFL, want) < 0)
        return -errno;
    return 0;
}

int sk__fd_set_flags(int fd, bool nonblock)
{
    int fd_flags = fcntl(fd, F_GETFD);

    if (fd_flags < 0)
        return -errno;
    if (!(fd_flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) < 0)
        return -errno;
    return nonblock ? sk__fd_set_nonblock(fd, true) : 0;
}

/*
 * The descriptor's mode changes only when the socket crosses between
 * blocking and timed/non-blocking, so changing one positive timeout to
 * another costs no system call.
 */
int sk_sock_settimeout(sk_sock *s, double seconds)
{
    if (!timeout_valid(seconds))
        return -EINVAL;
    if (s->fd < 0)
        return -EBADF;

    bool was_nonblock = s->timeout >= 0;
    bool nonblock = seconds >= 0;

    if (was_nonblock != nonblock) {
        int r = sk__fd_set_nonblock(s->fd, nonblock);

        if (r < 0)
            return r;
    }
    s->timeout = seconds;
    return 0;
}

double sk_sock_gettimeout(const sk_sock *s)
{
    return s->timeout;
}

int sk_sock_setblocking(sk_sock *s, bool blocking)
{
    return sk_sock_settimeout(s, blocking ? SK_TIMEOUT_NONE : 0.0);
}
