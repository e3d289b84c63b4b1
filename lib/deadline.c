/* SPDX-License-Identifier: MIT */
/*
 * lib/deadline.c - absolute monotonic deadlines and the one place that waits
 * for a descriptor.
 *
 * Map: sk__now_ns reads the clock; sk__deadline_from_timeout and
 * sk__sock_deadline turn a timeout into a deadline once per call;
 * sk__deadline_poll_ms turns it back into poll(2)'s milliseconds each time
 * round a loop; sk__wait_fd polls until ready, retrying EINTR with the time
 * that is left.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

int64_t sk__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Negative seconds mean no deadline, zero means "now" (non-blocking).  A
 * positive timeout too large to represent saturates to no deadline; a tiny
 * one still yields a real deadline rather than SK__NOW_DEADLINE.
 */
int64_t sk__deadline_from_timeout(double seconds)
{
    if (seconds < 0 || seconds != seconds)
        return SK__NO_DEADLINE;
    if (seconds == 0)
        return SK__NOW_DEADLINE;

    int64_t now = sk__now_ns();
    double ns = seconds * 1e9;

    if (ns >= (double)(SK__NO_DEADLINE - now))
        return SK__NO_DEADLINE;
    if (ns < 1)
        ns = 1;
    return now + (int64_t)ns;
}

int64_t sk__sock_deadline(const sk_sock *s)
{
    return sk__deadline_from_timeout(s->timeout);
}

int sk__deadline_poll_ms(int64_t deadline)
{
    if (deadline == SK__NO_DEADLINE)
        return -1;
    if (deadline == SK__NOW_DEADLINE)
        return 0;

    int64_t left = deadline - sk__now_ns();

    if (left <= 0)
        return 0;
    /* Rounded up so that poll never returns just before the deadline and
     * makes the caller spin. */
    int64_t ms = (left + 999999) / 1000000;

    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/*
 * Each poll gets the time left, recomputed after every wake-up, so signals
 * neither extend nor cut short the wait.  A poll that returns early with
 * nothing ready (coarse timers) simply polls again.
 */
int sk__wait_fd(int fd, short events, int64_t deadline)
{
    if (deadline == SK__NOW_DEADLINE)
        return -EAGAIN;
    for (;;) {
        int ms = sk__deadline_poll_ms(deadline);

        if (ms == 0)
            return SK_ETIMEOUT;

        struct pollfd p = {.fd = fd, .events = events, .revents = 0};
        int n = poll(&p, 1, ms);

        if (n > 0) {
            if (p.revents & POLLNVAL)
                return -EBADF;
            return 0;
        }
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}
