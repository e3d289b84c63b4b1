/* SPDX-License-Identifier: MIT */
/*
 * lib/internal.h - what libsockit's source files share, and nothing else.
 *
 * Names here use the sk__ prefix: visible across lib/ but not exported from
 * the shared library (it is built with hidden visibility).
 */
#ifndef SOCKIT_INTERNAL_H
#define SOCKIT_INTERNAL_H

#include "sockit.h"

#include <stdint.h>

struct sk__tls;

/* A socket object.  timeout < 0 means blocking; the descriptor is in
 * O_NONBLOCK mode exactly when timeout >= 0.  `tls` is set while the
 * socket is under TLS (sk_tls_wrap): its stream calls then go through
 * lib/tls.h. */
struct sk_sock {
    int fd;         /* -1 once closed or detached */
    int family;
    int type;
    double timeout; /* SK_TIMEOUT_NONE, 0.0, or seconds */
    struct sk__tls *tls;
};

/*
 * Deadlines are absolute CLOCK_MONOTONIC times in nanoseconds.
 * SK__NO_DEADLINE means "wait without limit"; SK__NOW_DEADLINE (0) means
 * "do not wait at all" (non-blocking).
 */
#define SK__NO_DEADLINE INT64_MAX
#define SK__NOW_DEADLINE 0

/* Current CLOCK_MONOTONIC time in nanoseconds. */
int64_t sk__now_ns(void);

/* Turns a timeout in seconds into a deadline (see above). */
int64_t sk__deadline_from_timeout(double seconds);

/* The deadline for one call on `s`, taken from its timeout. */
int64_t sk__sock_deadline(const sk_sock *s);

/*
 * Milliseconds left until `deadline`, rounded up, for poll(2): -1 for no
 * deadline, 0 when it has passed.
 */
int sk__deadline_poll_ms(int64_t deadline);

/*
 * Waits until `fd` has any of `events` (POLLIN/POLLOUT) or the deadline
 * passes.  Retries EINTR.  Returns 0 when ready (including error/hangup
 * conditions, so the caller's next syscall reports them), SK_ETIMEOUT, or
 * -errno.  With SK__NOW_DEADLINE returns -EAGAIN without waiting.
 */
int sk__wait_fd(int fd, short events, int64_t deadline);

/*
 * What a call on `s` does after its system call failed with `err`: returns
 * 0 to try the call again (EINTR, or readiness for `events` arrived within
 * `deadline`), or the error to return (-err, SK_ETIMEOUT, -EAGAIN).  Waits
 * only for EAGAIN on a socket with a timeout: a blocking socket reports
 * EAGAIN only when the caller asked for it (MSG_DONTWAIT, or an
 * SO_RCVTIMEO/SO_SNDTIMEO of its own), so that is returned as it is, as
 * CPython does.  Every call that loops on a socket uses this one rule.
 */
int sk__sock_io_retry(const sk_sock *s, int err, short events, int64_t deadline);

/*
 * The socket operations with an explicit deadline, for the helpers that
 * loop (sendall, framing, buffered streams).  Same returns as their public
 * twins.  They try the system call first and wait only on EAGAIN.
 */
ssize_t sk__sock_send_dl(sk_sock *s, const void *buf, size_t len, int flags,
                         int64_t deadline);
ssize_t sk__sock_recv_dl(sk_sock *s, void *buf, size_t len, int flags,
                         int64_t deadline);
int sk__sock_sendall_dl(sk_sock *s, const void *buf, size_t len, size_t *sent,
                        int64_t deadline);

/*
 * Copies text[0..len) into buf[size] as a string: the one helper behind
 * every function that writes text into a caller's buffer.  Returns len, or
 * -ENOSPC when buf is NULL or too small (buf is then untouched).
 */
int sk__put_text(const char *text, size_t len, char *buf, size_t size);

/*
 * Extensible public structs (sockit.h, "Extensible structs"): their first
 * member is `size_t size`.  sk__struct_in copies the caller's struct at
 * `src` (NULL: all zero) into dst[dst_size], the library's own layout:
 * the fields the caller's size covers, zero for the rest, with dst's size
 * set to dst_size.  Returns 0, -EINVAL for a size smaller than the size
 * field itself, or -E2BIG when the caller's struct is larger than dst and
 * its extra bytes are not all zero.  sk__struct_out copies the library's
 * src[src_size] out to the caller's struct at `dst`, as much as dst's size
 * field says it holds (0: src_size), leaving dst's size field as it is.
 */
int sk__struct_in(void *dst, size_t dst_size, const void *src);
void sk__struct_out(void *dst, const void *src, size_t src_size);

/* The largest buffer the reentrant netdb lookups (netdb.c, servdb.c) may
 * grow to before giving up. */
#define SK__LOOKUP_BUF_MAX (1u << 20)

/* Converts a getaddrinfo/EAI code (and EAI_SYSTEM with errno) to our code. */
int sk__eai_code(int eai, int saved_errno);

/*
 * socket(2) for a descriptor the library owns: close-on-exec, O_NONBLOCK
 * when `nonblock`, and SO_NOSIGPIPE where sends cannot carry MSG_NOSIGNAL.
 * Returns the descriptor, or -errno with nothing left open.
 */
int sk__socket(int family, int type, int proto, bool nonblock);

/* Sets close-on-exec and (when nonblock) O_NONBLOCK on fd.  Returns 0 or -errno. */
int sk__fd_set_flags(int fd, bool nonblock);

/* Wraps an fd into a new sk_sock with known family/type and the process
 * default timeout applied.  On failure the fd is closed. */
int sk__sock_wrap(sk_sock **out, int fd, int family, int type);

/*
 * send, recv, sendto and recvfrom as direct system calls, for calls that
 * cannot block (a socket in non-blocking mode, or MSG_DONTWAIT).  In a
 * process with threads, glibc's wrappers switch asynchronous cancellation
 * on and off around every call, two atomic read-modify-writes that are a
 * tenth of a busy event loop's own work per message; that only matters to
 * a call that can wait, so a blocking call keeps the wrapper (and stays a
 * cancellation point).  Sanitizer builds keep the wrappers everywhere:
 * AddressSanitizer checks the buffers there, and ThreadSanitizer learns
 * from them the ordering that socket traffic creates between threads.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SK__SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SK__SANITIZED 1
#endif
#if defined(__linux__) && !defined(SK__SANITIZED)
#include <sys/syscall.h>
#include <unistd.h>
#define sk__sys_sendto(fd, buf, len, flags, to, tolen) \
    syscall(SYS_sendto, (fd), (buf), (len), (flags), (to), (tolen))
#define sk__sys_recvfrom(fd, buf, len, flags, from, fromlen) \
    syscall(SYS_recvfrom, (fd), (buf), (len), (flags), (from), (fromlen))
#else
#define sk__sys_sendto(fd, buf, len, flags, to, tolen) \
    sendto((fd), (buf), (len), (flags), (to), (tolen))
#define sk__sys_recvfrom(fd, buf, len, flags, from, fromlen) \
    recvfrom((fd), (buf), (len), (flags), (from), (fromlen))
#endif
#define sk__sys_send(fd, buf, len, flags) sk__sys_sendto(fd, buf, len, flags, NULL, 0)
#define sk__sys_recv(fd, buf, len, flags) sk__sys_recvfrom(fd, buf, len, flags, NULL, NULL)

#endif /* SOCKIT_INTERNAL_H */
