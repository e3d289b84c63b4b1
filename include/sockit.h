/* SPDX-License-Identifier: MIT */
/*
 * include/sockit.h - the public API of libsockit.
 *
 * libsockit gives C programs the programming model of Python's socket module
 * (plus selectors and socketserver): socket objects with per-socket timeouts,
 * name resolution, byte-order and address conversion, framing helpers, an
 * event loop and a server framework.
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *
 *  - Errors are returned, never left in errno.  A function that can fail
 *    returns a negative code: -errno for system errors, SK_ETIMEOUT when the
 *    call's deadline passed, SK_EAI(...) codes for resolver errors, and the
 *    other SK_E... codes below.  sk_strerror() turns any of them into text.
 *  - Timeouts are given in seconds as a double.  SK_TIMEOUT_NONE (-1.0) means
 *    "block without limit", 0.0 means "non-blocking" (a call that would block
 *    fails with -EAGAIN), a positive value is a limit.  Every blocking call
 *    turns the socket's timeout into one deadline on entry, so a call that
 *    loops (sendall, receive-exactly) gets one deadline for the whole call.
 *    EINTR is retried inside the deadline and never returned.
 *  - No SIGPIPE reaches the program, and every descriptor the library creates
 *    is close-on-exec.  The library never changes signal dispositions.
 *  - Pointers the caller passes in are borrowed for the duration of the call
 *    unless the comment says the callee takes ownership.
 *
 * Names: `sk_` for public functions and types, `SK_` for public macros,
 * `sk__` for the library's internals (never exported; the shared library
 * exports nothing but sk_ symbols).  A function is named object_verb
 * (sk_sock_connect, sk_loop_run, sk_frame_recv_exact); the calls that mirror
 * CPython's module-level functions keep CPython's spelling after the prefix
 * (sk_getaddrinfo, sk_inet_pton, sk_create_connection, sk_create_server,
 * sk_setdefaulttimeout), so a Python user finds them where they expect.
 *
 * Extensible structs: sk_server_config, sk_tcp_handler, sk_udp_handler and
 * sk_server_stats begin with a `size` field.  Set it to sizeof the struct
 * (the INIT macros below do) or leave it 0, which means the layout of
 * version 0.2; the library reads only the fields `size` covers and treats
 * the others as zero, and refuses (-E2BIG) a struct larger than it knows
 * whose unknown tail is not all zero.  Fields are only ever added at the
 * end, so a program built against an older header keeps working with a
 * newer library of the same major version (README, "Versions and ABI").
 *
 * Sections: errors, sockets, timeouts, addresses, names, conversions,
 * buffered streams, framing, readiness, connections and servers, TLS, event
 * loop, server framework.
 */
#ifndef SOCKIT_H
#define SOCKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SK_BUILDING) && defined(__GNUC__)
#define SK_API __attribute__((visibility("default")))
#else
#define SK_API
#endif

/* The version of this header; checked against the build's version (CMake's
 * project()) when libsockit is configured.  sk_version() and
 * sk_version_string() give the version of the library actually linked. */
#define SK_VERSION_MAJOR 0
#define SK_VERSION_MINOR 2
#define SK_VERSION_PATCH 0
#define SK_VERSION_STRING "0.2.0"
#define SK_VERSION_HEX \
    ((SK_VERSION_MAJOR << 16) | (SK_VERSION_MINOR << 8) | SK_VERSION_PATCH)

/* The linked library's version as (major << 16) | (minor << 8) | patch,
 * comparable with SK_VERSION_HEX. */
SK_API unsigned sk_version(void);

/* The linked library's version as text, "0.2.0" (a static string). */
SK_API const char *sk_version_string(void);

/* ====================================================================== */
/* Errors                                                                 */
/* ====================================================================== */

/*
 * Library error codes.  System errors are -errno (always > -4096); the codes
 * below sit far outside that range so the kinds never collide.
 */
#define SK_ETIMEOUT  (-20001) /* the call's deadline passed */
#define SK_EPARTIAL  (-20002) /* end of stream in the middle of a message */
#define SK_EOF       (-20003) /* clean end of stream between messages */
#define SK_EBADADDR  (-20004) /* text is not a valid address, port or host:port */
#define SK_ENEED     (-20005) /* a decoder needs more input (not a failure) */
#define SK_EMSGSIZE  (-20006) /* a message exceeds the caller's maximum */

/*
 * Resolver errors.  SK_EAI(EAI_NONAME) is the code for getaddrinfo's
 * EAI_NONAME; h_errno values from the gethostby* family are mapped onto the
 * matching EAI code.  EAI_SYSTEM is never returned: the underlying -errno is.
 */
#define SK_EAI_BASE  (-30000)
#define SK_EAI(eai)  (SK_EAI_BASE - ((eai) < 0 ? -(eai) : (eai)))

/* The kinds of error a caller can tell apart. */
typedef enum sk_errkind {
    SK_ERRKIND_NONE = 0,  /* code >= 0: not an error */
    SK_ERRKIND_SYSTEM,    /* -errno */
    SK_ERRKIND_TIMEOUT,   /* SK_ETIMEOUT */
    SK_ERRKIND_RESOLVER,  /* SK_EAI(...) */
    SK_ERRKIND_DATA,      /* SK_EPARTIAL, SK_EOF, SK_EBADADDR, SK_ENEED, SK_EMSGSIZE */
    SK_ERRKIND_TLS        /* SK_ETLS_... (section TLS) */
} sk_errkind;

/* Returns the kind of `code`. */
SK_API sk_errkind sk_errkind_of(int code);

/*
 * Returns a human message for any code this library returns (a static
 * string; thread-safe).  Unknown codes give "unknown error N", formatted in
 * a per-thread ring of eight buffers: that text stays valid until eight more
 * unknown codes have been formatted by the same thread.  Codes >= 0 give
 * "success".
 */
SK_API const char *sk_strerror(int code);

/*
 * Returns the symbolic name of `code` (a static string; thread-safe):
 * "ETIMEDOUT" for -ETIMEDOUT, "SK_ETIMEOUT" for SK_ETIMEOUT, "EAI_NONAME"
 * for SK_EAI(EAI_NONAME), "OK" for codes >= 0, and "UNKNOWN" for a code
 * this library does not know by name.
 */
SK_API const char *sk_errname(int code);

/* ====================================================================== */
/* Sockets                                                                */
/* ====================================================================== */

/* A socket object.  Opaque; create with sk_sock_open() and friends. */
typedef struct sk_sock sk_sock;

/* An address: a sockaddr of any supported family with its length. */
typedef struct sk_addr {
    socklen_t len; /* 0 means "no address" */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage ss;
    } u;
} sk_addr;

/*
 * Creates a socket of `family` (AF_INET, AF_INET6, AF_UNIX), `type`
 * (SOCK_STREAM, SOCK_DGRAM) and `proto` (0 for the default), close-on-exec,
 * with the process default timeout (sk_setdefaulttimeout), or timeout 0.0
 * if SOCK_NONBLOCK is or'ed into `type` (as CPython does).  On success stores
 * the new socket in *out and returns 0.  Errors: -EAFNOSUPPORT, -EINVAL,
 * -EMFILE, -ENOMEM, ...
 */
SK_API int sk_sock_open(sk_sock **out, int family, int type, int proto);

/*
 * Wraps an existing descriptor.  The socket takes ownership of `fd` (it is
 * closed by sk_sock_close) and sets close-on-exec on it; family and type are
 * read from the descriptor.  It takes the process default timeout (the
 * descriptor's O_NONBLOCK is set or cleared to match).  Errors: -ENOTSOCK,
 * -EBADF, -ENOMEM; on failure the descriptor stays open and the caller's.
 */
SK_API int sk_sock_from_fd(sk_sock **out, int fd);

/*
 * Creates a connected pair (socketpair(2)) of `family` (AF_UNIX normally) and
 * `type`.  Stores the two sockets in out[0] and out[1].
 */
SK_API int sk_sock_pair(sk_sock *out[2], int family, int type);

/*
 * Closes the descriptor.  Idempotent: a second call returns 0 and does
 * nothing.  Never blocks (a socket with a positive linger time is switched to
 * abortive close rather than waiting).  Any later operation on `s` fails
 * with -EBADF.  Returns 0, or a close(2) error (the descriptor is released
 * regardless).  Does not free `s`.
 */
SK_API int sk_sock_close(sk_sock *s);

/* Closes (if still open) and frees `s`.  NULL is allowed. */
SK_API void sk_sock_free(sk_sock *s);

/*
 * Gives up ownership of the descriptor: returns it and leaves `s` closed
 * (without closing the descriptor).  Returns -EBADF if already closed.
 */
SK_API int sk_sock_detach(sk_sock *s);

/* Returns the descriptor, or -1 if the socket is closed. */
SK_API int sk_sock_fileno(const sk_sock *s);

/* Return the family (AF_...) and type (SOCK_...) the socket was made with. */
SK_API int sk_sock_family(const sk_sock *s);
SK_API int sk_sock_type(const sk_sock *s);

/* bind(2).  Errors: -EADDRINUSE, -EACCES, -EINVAL, -EBADF, ... */
SK_API int sk_sock_bind(sk_sock *s, const sk_addr *addr);

/* listen(2); a backlog < 0 picks SOMAXCONN. */
SK_API int sk_sock_listen(sk_sock *s, int backlog);

/*
 * Waits (within the socket's timeout) for a connection and returns it as a
 * new socket in *out, close-on-exec, with the process default timeout (like
 * CPython, not the listener's).  If `peer` is not NULL it receives the
 * peer's address.  Errors: SK_ETIMEOUT, -EAGAIN (non-blocking), -EMFILE, ...
 */
SK_API int sk_sock_accept(sk_sock *s, sk_sock **out, sk_addr *peer);

/*
 * Connects to `addr` within the socket's timeout.  Returns 0, SK_ETIMEOUT,
 * -EINPROGRESS (non-blocking socket: the connect continues), or a connect
 * error such as -ECONNREFUSED.
 */
SK_API int sk_sock_connect(sk_sock *s, const sk_addr *addr);

/*
 * Like sk_sock_connect but in CPython's connect_ex form: returns 0 or the
 * positive errno value (EINPROGRESS for a non-blocking socket, EAGAIN when
 * the timeout ran out, as CPython does).
 */
SK_API int sk_sock_connect_ex(sk_sock *s, const sk_addr *addr);

/*
 * Sends up to `len` bytes; may send fewer.  Returns the count sent (>= 0),
 * SK_ETIMEOUT if nothing could be sent within the timeout, -EAGAIN
 * (non-blocking, or MSG_DONTWAIT in flags), -EPIPE / -ECONNRESET when the
 * peer is gone.  `flags` are send(2) flags; MSG_NOSIGNAL is always added.
 */
SK_API ssize_t sk_sock_send(sk_sock *s, const void *buf, size_t len, int flags);

/*
 * Sends all `len` bytes within one deadline.  Returns 0 when everything went
 * out, else an error (SK_ETIMEOUT, -EPIPE, ...).  If `sent` is not NULL it
 * receives the number of bytes that went out in both cases, so a caller can
 * resume.  On a non-blocking socket, -EAGAIN ends the call with *sent set.
 */
SK_API int sk_sock_sendall(sk_sock *s, const void *buf, size_t len, size_t *sent);

/*
 * Receives up to `len` bytes.  Returns the count (> 0), 0 when the peer has
 * closed (stream) or for an empty datagram, SK_ETIMEOUT, -EAGAIN
 * (non-blocking, or MSG_DONTWAIT in flags), or another -errno.
 */
SK_API ssize_t sk_sock_recv(sk_sock *s, void *buf, size_t len, int flags);

/* Like sk_sock_recv, and stores the sender's address in *from if not NULL. */
SK_API ssize_t sk_sock_recvfrom(sk_sock *s, void *buf, size_t len, int flags,
                                sk_addr *from);

/* Sends one datagram to `to` (no connect or bind needed). */
SK_API ssize_t sk_sock_sendto(sk_sock *s, const void *buf, size_t len, int flags,
                              const sk_addr *to);

/* shutdown(2): how is SHUT_RD, SHUT_WR or SHUT_RDWR.  On a socket under
 * TLS, SHUT_WR and SHUT_RDWR first send close_notify (within the socket's
 * timeout; TLS errors as for send): the peer sees a clean end, and under
 * TLS 1.3 its data can still be read until its own close_notify (recv 0). */
SK_API int sk_sock_shutdown(sk_sock *s, int how);

/* getpeername(2) / getsockname(2) into *addr. */
SK_API int sk_sock_getpeername(const sk_sock *s, sk_addr *addr);
SK_API int sk_sock_getsockname(const sk_sock *s, sk_addr *addr);

/* setsockopt(2) / getsockopt(2); *len is in/out for get. */
SK_API int sk_sock_setsockopt(sk_sock *s, int level, int name, const void *val,
                              socklen_t len);
SK_API int sk_sock_getsockopt(const sk_sock *s, int level, int name, void *val,
                              socklen_t *len);
/* The same for the common int-valued options. */
SK_API int sk_sock_setsockopt_int(sk_sock *s, int level, int name, int val);
SK_API int sk_sock_getsockopt_int(const sk_sock *s, int level, int name, int *val);

/*
 * TCP keepalive in one call: enable (on != 0) with the idle time before the
 * first probe, the interval between probes (seconds) and the probe count.
 * Values <= 0 keep the system default for that field.  Where the platform
 * lacks a knob it is skipped, not an error.
 */
SK_API int sk_sock_set_keepalive(sk_sock *s, bool on, int idle, int interval,
                                 int count);

/* TCP_NODELAY on or off. */
SK_API int sk_sock_set_nodelay(sk_sock *s, bool on);

/*
 * SO_LINGER.  on=false restores the default (close returns at once, the
 * kernel sends what is queued).  on=true with seconds=0 makes close abort
 * the connection with a reset.  A positive time is accepted, but
 * sk_sock_close still never blocks: it resets instead of waiting.
 */
SK_API int sk_sock_set_linger(sk_sock *s, bool on, int seconds);

/* ====================================================================== */
/* Timeouts                                                               */
/* ====================================================================== */

#define SK_TIMEOUT_NONE    (-1.0) /* block without limit */
#define SK_TIMEOUT_DEFAULT (-2.0) /* where accepted: use the process default */

/*
 * Sets the socket's timeout: SK_TIMEOUT_NONE, 0.0 (non-blocking) or a
 * positive number of seconds.  Returns 0, or -EINVAL for NaN or a negative
 * value other than SK_TIMEOUT_NONE.
 */
SK_API int sk_sock_settimeout(sk_sock *s, double seconds);

/* Returns the socket's timeout (SK_TIMEOUT_NONE when blocking). */
SK_API double sk_sock_gettimeout(const sk_sock *s);

/* setblocking(true) == settimeout(NONE); setblocking(false) == settimeout(0). */
SK_API int sk_sock_setblocking(sk_sock *s, bool blocking);

/*
 * The process-wide default timeout every new socket takes, accepted ones
 * included.  Initially SK_TIMEOUT_NONE.  Returns -EINVAL like settimeout.
 * Thread-safe.
 */
SK_API int sk_setdefaulttimeout(double seconds);
SK_API double sk_getdefaulttimeout(void);

/* ====================================================================== */
/* Addresses                                                              */
/* ====================================================================== */

/* Longest text sk_addr_format writes, NUL included (Unix paths aside). */
#define SK_ADDRSTRLEN 64

/*
 * Fills *out from a numeric host and a port: an IPv4 dotted quad, an IPv6
 * literal (with optional %scope), "" (the wildcard: 0.0.0.0, or :: when
 * `family` is AF_INET6) or "<broadcast>" (255.255.255.255).  `family` is
 * AF_UNSPEC (infer from the text), AF_INET or AF_INET6.  Names are not
 * resolved here: use sk_getaddrinfo.  Errors: SK_EBADADDR (bad text, port
 * outside 0..65535, or family mismatch).
 */
SK_API int sk_addr_from_ip(sk_addr *out, const char *host, int port, int family);

/* Fills *out with a Unix-domain address.  A leading '@' makes it abstract
 * (Linux): the '@' stands for the leading NUL and len counts exactly the
 * name's bytes.  A path's len counts its NUL, as getsockname reports it.
 * Errors: SK_EBADADDR when the path is empty ("@" too) or too long (a path
 * needs room for its NUL in sun_path; an abstract name may fill it). */
SK_API int sk_addr_from_unix(sk_addr *out, const char *path);

/*
 * Parses the text forms sk_addr_format writes: "1.2.3.4:80", "[::1]:80",
 * "[fe80::1%eth0]:80", a Unix path (containing '/', or starting with '@').
 * A form without ":port" ("1.2.3.4", "[::1]", a bare "::1") takes
 * `default_port` (an error when it is < 0); ":80" is the IPv4 wildcard.
 * Numeric hosts and numeric ports only; a bracketed host must be IPv6.
 * Errors: SK_EBADADDR.
 */
SK_API int sk_addr_parse(sk_addr *out, const char *text, int default_port);

/*
 * Writes `a` as text ("1.2.3.4:80", "[::1]:80", "/path", "@name") into
 * buf[size], NUL-terminated.  Returns the length written (excluding the
 * NUL), -ENOSPC if it does not fit, -EAFNOSUPPORT for other families.
 */
SK_API int sk_addr_format(const sk_addr *a, char *buf, size_t size);

/* Writes just the host part (no port, no brackets) like inet_ntop. */
SK_API int sk_addr_format_ip(const sk_addr *a, char *buf, size_t size);

/* Port of an INET/INET6 address in host order, or -EAFNOSUPPORT. */
SK_API int sk_addr_port(const sk_addr *a);

/* Sets the port of an INET/INET6 address.  Errors: -EAFNOSUPPORT, SK_EBADADDR. */
SK_API int sk_addr_set_port(sk_addr *a, int port);

/* Address family of `a` (AF_UNSPEC when len is 0). */
SK_API int sk_addr_family(const sk_addr *a);

/* True when both hold the same family, address, port (and scope/path). */
SK_API bool sk_addr_equal(const sk_addr *a, const sk_addr *b);

/*
 * Splits "host:port", "[v6]:port", "[v6]", "host" or a bare IPv6 literal
 * (more than one ':') into host and port text; a missing port leaves port
 * as "".  Host may be a name.  The port text is not checked (see
 * sk_port_parse).  Errors: SK_EBADADDR for malformed text (unclosed or empty
 * bracket, text after ']' other than ":port", empty port after ':', more
 * than one ':' outside brackets without being an IPv6 literal, so
 * "host:port:extra" fails), -ENOSPC if a part does not fit.  Returns 0.
 */
SK_API int sk_hostport_split(const char *text, char *host, size_t hostsize,
                             char *port, size_t portsize);

/*
 * Parses a port given as a number or a service name ("daytime"), for
 * `proto` "tcp" or "udp" (NULL: either).  Text starting with a digit is a
 * number: decimal digits only (no sign, space or other junk), at most 65535.
 * Returns 0..65535, or SK_EBADADDR.
 */
SK_API int sk_port_parse(const char *text, const char *proto);

/* ====================================================================== */
/* Names                                                                  */
/* ====================================================================== */

/* One getaddrinfo result. */
typedef struct sk_addrinfo {
    int family;              /* AF_INET, AF_INET6, ... */
    int type;                /* SOCK_STREAM, SOCK_DGRAM, ... */
    int protocol;            /* IPPROTO_TCP, ... */
    char *canonname;         /* set on the first result when asked for, else NULL */
    sk_addr addr;
    struct sk_addrinfo *next;
} sk_addrinfo;

/*
 * getaddrinfo with a deadline.  `host` may be a name, a numeric address, ""
 * (the wildcard, AI_PASSIVE; without a port it gets port 0) or
 * "<broadcast>"; NULL is like "".  `port` may be a number, a service name or
 * NULL.  family/type/proto/flags are the getaddrinfo hints (0 for any; flags
 * are AI_*).  `timeout` bounds the whole lookup (SK_TIMEOUT_NONE, or any
 * negative value: no bound); numeric hosts never wait, and a name with a
 * timeout of 0 fails with SK_ETIMEOUT at once.  A name is looked up on a
 * short-lived thread with every signal blocked; after a timeout that thread
 * finishes and frees its answer on its own.  On success stores a list (free
 * with sk_addrinfo_free) in *out; on failure *out is NULL.  Errors:
 * SK_EAI(...), SK_ETIMEOUT, -ENOMEM, -EAGAIN (no thread), -EINVAL (out is
 * NULL or timeout is NaN).
 */
SK_API int sk_getaddrinfo(const char *host, const char *port, int family, int type,
                          int proto, int flags, double timeout, sk_addrinfo **out);
SK_API void sk_addrinfo_free(sk_addrinfo *list);

/* Writes the local host name; returns its length.  Errors: -ENOSPC, -errno. */
SK_API int sk_gethostname(char *buf, size_t size);

/*
 * Fully qualified name of `name` (NULL, "", "0.0.0.0" or "::": the local
 * host; surrounding white space ignored), as CPython's getfqdn: the name is
 * resolved and its first address looked up by gethostbyaddr; the answer is
 * the first name containing a dot among that entry's name and aliases, else
 * the entry's name.  If any lookup fails the answer is the name itself, so
 * it never fails for lack of DNS (but it may wait for the resolver without
 * a bound).  Returns the length written.  Errors: -ENOSPC, -errno from
 * gethostname.
 */
SK_API int sk_getfqdn(const char *name, char *buf, size_t size);

/* IPv4 address of `name` as dotted-quad text ("" gives 0.0.0.0, "<broadcast>"
 * 255.255.255.255); returns its length.  Errors: SK_EAI(...), -ENOSPC. */
SK_API int sk_gethostbyname(const char *name, char *buf, size_t size);

/* The (name, aliases, addresses) triple of gethostbyname_ex/gethostbyaddr. */
typedef struct sk_hostent {
    char *name;      /* primary name */
    char **aliases;  /* NULL-terminated */
    char **addrs;    /* NULL-terminated, numeric text */
} sk_hostent;

/* IPv4 host entry for `name`.  Free with sk_hostent_free.  Returns 0 or
 * SK_EAI(...) (h_errno mapped: HOST_NOT_FOUND to EAI_NONAME, TRY_AGAIN to
 * EAI_AGAIN, NO_RECOVERY to EAI_FAIL, NO_DATA to EAI_NODATA), -ENOMEM. */
SK_API int sk_gethostbyname_ex(const char *name, sk_hostent **out);

/* Host entry for the numeric address `ip` (v4 or v6, %scope allowed).
 * Errors as sk_gethostbyname_ex, and SK_EBADADDR when `ip` is not numeric. */
SK_API int sk_gethostbyaddr(const char *ip, sk_hostent **out);
SK_API void sk_hostent_free(sk_hostent *h);

/* Port of service `name` for `proto` ("tcp", "udp", NULL: any), or SK_EAI(EAI_SERVICE). */
SK_API int sk_getservbyname(const char *name, const char *proto);

/* Service name of `port` for `proto` into buf; returns its length.
 * Errors: SK_EAI(EAI_SERVICE) (also for a port outside 0..65535), -ENOSPC. */
SK_API int sk_getservbyport(int port, const char *proto, char *buf, size_t size);

/* ====================================================================== */
/* Conversions                                                            */
/* ====================================================================== */

/* Host to network byte order and back, for 32- and 16-bit values.  Never fail. */
SK_API uint32_t sk_htonl(uint32_t x);
SK_API uint16_t sk_htons(uint16_t x);
SK_API uint32_t sk_ntohl(uint32_t x);
SK_API uint16_t sk_ntohs(uint16_t x);

/*
 * inet_aton: parses every form inet_aton(3) accepts ("1.2.3.4", "1.2.3",
 * "0x7f.1", "127.1", ...) into *out (network order).  Stricter than glibc:
 * any trailing character (white space too) is an error.  Errors: SK_EBADADDR.
 */
SK_API int sk_inet_aton(const char *text, uint32_t *out);

/* Dotted quad of `addr` (network order) into buf[size >= 16]; returns its
 * length.  Errors: -ENOSPC. */
SK_API int sk_inet_ntoa(uint32_t addr, char *buf, size_t size);

/*
 * inet_pton for AF_INET (out: 4 bytes; strict dotted quad) or AF_INET6 (16
 * bytes; no %scope).  Returns 0.  Errors: SK_EBADADDR, -EAFNOSUPPORT.
 */
SK_API int sk_inet_pton(int family, const char *text, void *out);

/* inet_ntop; returns the length written.  Errors: -ENOSPC, -EAFNOSUPPORT. */
SK_API int sk_inet_ntop(int family, const void *src, char *buf, size_t size);

/* ====================================================================== */
/* Buffered streams (Python's makefile)                                   */
/* ====================================================================== */

/*
 * A buffered reader/writer over a stream socket.  It borrows the socket,
 * which must outlive it, and uses the socket's timeout: each call has one
 * deadline.  Bytes already buffered are never lost by a failing call: a call
 * that times out leaves what it read in the buffer for the next call.
 */
typedef struct sk_file sk_file;

/* Creates a stream over `s` with read and write buffers of `bufsize` bytes
 * each (0 picks 8192). */
SK_API int sk_file_open(sk_file **out, sk_sock *s, size_t bufsize);

/* Flushes pending output, then frees.  Returns the flush result. Does not
 * close the socket.  NULL is allowed. */
SK_API int sk_file_close(sk_file *f);

/*
 * Reads `len` bytes, fewer only at end of stream.  Returns the count (0 at
 * end of stream), or an error; on error nothing is consumed.  A read larger
 * than the buffer grows it for the call (that is what keeps the bytes of a
 * call that fails), so the memory used is up to `len`.
 */
SK_API ssize_t sk_file_read(sk_file *f, void *buf, size_t len);

/*
 * Reads one line ending in '\n' (kept) into buf, NUL-terminated; a line
 * longer than size-1 is returned in pieces, like fgets.  The last line may
 * lack the '\n' if the stream ends without one.  Returns the length (0 at end
 * of stream), or an error (-EINVAL when size < 2); on error nothing is
 * consumed.  Like read, it may grow the buffer up to size-1 bytes.
 */
SK_API ssize_t sk_file_readline(sk_file *f, char *buf, size_t size);

/* Buffers `len` bytes for writing, sending when the buffer fills.  Returns
 * len or an error (then some bytes may have been sent). */
SK_API ssize_t sk_file_write(sk_file *f, const void *buf, size_t len);

/* Sends everything buffered.  Returns 0 or an error. */
SK_API int sk_file_flush(sk_file *f);

/* Bytes already buffered for reading (readable without a system call). */
SK_API size_t sk_file_buffered(const sk_file *f);

/* ====================================================================== */
/* Framing                                                                */
/* ====================================================================== */

/*
 * TCP is a byte stream: one send is not one recv.  These helpers receive
 * whole messages.  Each returns the message length (>= 0) on success,
 * SK_EOF at a clean end of stream before the first byte of a message,
 * SK_EPARTIAL at end of stream inside a message, SK_ETIMEOUT, or -errno.
 */

/*
 * Receives exactly `len` bytes straight from the socket (one deadline).  On
 * an error after some bytes arrived they are in buf but not counted: use
 * the buffered helpers below when a call must be retried.
 */
SK_API ssize_t sk_frame_recv_exact(sk_sock *s, void *buf, size_t len);

/*
 * Reads up to and including `delim` (dlen >= 1 bytes; it may arrive split
 * across reads) through a buffered stream into buf, which holds `max` bytes.
 * A message longer than `max` bytes (delimiter included) fails with
 * SK_EMSGSIZE and consumes nothing.  Like every call on an sk_file, a
 * failing call (SK_ETIMEOUT, SK_EPARTIAL, ...) leaves what it read in the
 * stream's buffer, so a retry continues where it stopped.
 */
SK_API ssize_t sk_frame_recv_until(sk_file *f, void *buf, size_t max,
                                   const void *delim, size_t dlen);

/*
 * Reads one length-prefixed message (4-byte big-endian length, then the
 * payload) into buf and returns the payload length.  A length above `max`
 * fails with SK_EMSGSIZE before the payload is read, consuming nothing.
 * Failing calls leave what they read buffered, as sk_frame_recv_until.
 */
SK_API ssize_t sk_frame_recv_msg(sk_file *f, void *buf, size_t max);

/* Sends one length-prefixed message (header and payload, one deadline).
 * Errors as sk_sock_sendall; len above 2^32-1 is SK_EMSGSIZE. */
SK_API int sk_frame_send_msg(sk_sock *s, const void *buf, size_t len);

/*
 * The pure decoders behind them, for callers with their own buffers (event
 * loops).  They allocate nothing and look only at buf[0..len).
 *
 * sk_frame_scan_delim: returns the length of the first message (delimiter
 * included), SK_ENEED if buf holds no delimiter yet and fewer than `max`
 * bytes, SK_EMSGSIZE if the first `max` bytes hold no complete message.
 *
 * sk_frame_scan_msg: returns the total length (4 + payload) of the first
 * length-prefixed message and stores the payload length in *payload,
 * SK_ENEED if incomplete, SK_EMSGSIZE if the announced length exceeds max.
 * *payload (when not NULL) is set as soon as the 4-byte header is there,
 * with SK_ENEED and SK_EMSGSIZE too, so a caller can size its buffer.
 */
SK_API ssize_t sk_frame_scan_delim(const void *buf, size_t len, const void *delim,
                                   size_t dlen, size_t max);
SK_API ssize_t sk_frame_scan_msg(const void *buf, size_t len, size_t max,
                                 size_t *payload);

/* Writes the 4-byte big-endian header for a payload of `len` bytes. */
SK_API void sk_frame_put_len(unsigned char hdr[4], uint32_t len);

/* ====================================================================== */
/* Readiness                                                              */
/* ====================================================================== */

/*
 * select() over socket arrays, without FD_SETSIZE limits.  Waits until a
 * socket in rd[] is readable, one in wr[] writable, or one in ex[] has an
 * exceptional condition, or `timeout` passes (SK_TIMEOUT_NONE: no limit).
 * On return each array is reordered so its ready sockets come first and
 * *nrd, *nwr, *nex hold how many are ready (0 on timeout).  Arrays may be
 * NULL with a count of 0.  Returns the total ready (0 on timeout) or -errno
 * (-EBADF for a closed socket).
 */
SK_API int sk_select(sk_sock **rd, size_t *nrd, sk_sock **wr, size_t *nwr,
                     sk_sock **ex, size_t *nex, double timeout);

/* ====================================================================== */
/* Connections and servers                                                */
/* ====================================================================== */

/*
 * Connects a TCP socket to `host`:`port`, trying every address the resolver
 * returns and racing IPv6 against IPv4 per Happy Eyeballs v2 (RFC 8305):
 * families interleaved, the next attempt started 250 ms after the previous
 * one unless it failed sooner, the first success wins, the others are
 * closed.  `family` is AF_UNSPEC, AF_INET or AF_INET6.  `timeout` is one
 * deadline for the whole call, name resolution included (SK_TIMEOUT_DEFAULT:
 * the process default; SK_TIMEOUT_NONE: no limit); the new socket takes it as
 * its timeout.  `source`, if not NULL, is bound before connecting (its port
 * may be 0); addresses of another family are skipped (-EAFNOSUPPORT when
 * none is left).  A timeout of 0.0 never waits: it succeeds only when a
 * connect completes at once, else fails with -EAGAIN (or with the last
 * error when every attempt failed at once).  Returns 0, SK_ETIMEOUT, a
 * resolver error, or the error of the attempt that failed last (e.g.
 * -ECONNREFUSED).
 */
SK_API int sk_create_connection(sk_sock **out, const char *host, const char *port,
                                int family, double timeout, const sk_addr *source);

/* Flags for sk_create_server. */
#define SK_SERVER_REUSEPORT 0x1 /* SO_REUSEPORT (error where unsupported) */
#define SK_SERVER_DUALSTACK 0x2 /* IPv6 socket also accepting IPv4 (IPV6_V6ONLY off) */
#define SK_SERVER_V6ONLY    0x4 /* IPv6 only */

/*
 * Creates a bound server socket of `type` (SOCK_STREAM: also listening with
 * `backlog`, < 0 for SOMAXCONN; SOCK_DGRAM: backlog ignored) at `addr`, with
 * the flags above.  SO_REUSEADDR is on for stream sockets other than AF_UNIX
 * (a restarted server binds despite TIME_WAIT); datagram sockets do not get
 * it, so a second server on the same port fails with -EADDRINUSE instead of
 * silently sharing it (SK_SERVER_REUSEPORT shares a port on purpose).  The
 * socket takes the process default timeout.  Errors: -EADDRINUSE, -EACCES,
 * -EINVAL (bad flags, or IPv6 flags on a non-IPv6 address), -ENOPROTOOPT
 * (SK_SERVER_REUSEPORT where unsupported), ...
 */
SK_API int sk_create_server(sk_sock **out, const sk_addr *addr, int type,
                            int backlog, int flags);

/* True when the system supports IPv6 sockets that also accept IPv4. */
SK_API bool sk_has_dualstack_ipv6(void);

/* ====================================================================== */
/* TLS (Python's ssl)                                                     */
/* ====================================================================== */

/*
 * TLS over sockit sockets, on OpenSSL 3.  A context (Python's SSLContext)
 * holds the settings and certificates; sk_tls_wrap or sk_tls_connect puts
 * a socket under TLS, after which sk_sock_recv, sk_sock_send,
 * sk_sock_sendall, every sk_frame_* call and sk_file streams carry
 * plaintext over TLS with the socket's timeout and one deadline per call.
 * sk_sock_close and sk_sock_free end the session without blocking: a
 * close_notify is sent when the socket buffer takes it at once, nothing
 * is waited for (sk_tls_unwrap is the orderly, waiting shutdown).
 *
 * Errors of kind SK_ERRKIND_TLS.  A refused certificate gives one of the
 * SK_ETLS_VERIFY_* codes (sk_strerror: "certificate verify failed:
 * hostname mismatch"); SK_ETLS_IS_VERIFY(code) tells them from the rest.
 * A handshake that fails for any other reason is SK_ETLS_HANDSHAKE (or
 * SK_ETLS_VERSION, SK_ETLS_NOT_TLS), never a system error; an I/O error
 * during it stays -errno.  A peer that ends the stream without close_notify
 * makes recv fail with SK_ETLS_EOF (Python's SSLEOFError), where a clean
 * close_notify gives 0 as on a plain socket.  On a non-blocking socket
 * (timeout 0.0) a call that must wait fails with SK_ETLS_WANT_READ or
 * SK_ETLS_WANT_WRITE (SSLWantReadError / SSLWantWriteError): retry after
 * the descriptor is readable, respectively writable.
 *
 * A library built with -DSK_TLS=OFF has every call below, and they fail
 * with SK_ETLS_UNAVAILABLE ("built without TLS"); sk_tls_available() says
 * which build is linked.
 */
#define SK_ETLS_UNAVAILABLE  (-20100) /* libsockit was built without TLS */
#define SK_ETLS_HANDSHAKE    (-20101) /* handshake failed (alert, no common cipher, ...) */
#define SK_ETLS_VERSION      (-20102) /* handshake failed: no protocol version in common */
#define SK_ETLS_NOT_TLS      (-20103) /* the peer does not speak TLS */
#define SK_ETLS_EOF          (-20104) /* end of stream without close_notify (ragged EOF) */
#define SK_ETLS_WANT_READ    (-20105) /* non-blocking: wait until readable, call again */
#define SK_ETLS_WANT_WRITE   (-20106) /* non-blocking: wait until writable, call again */
#define SK_ETLS_PROTOCOL     (-20107) /* TLS error after the handshake (bad record, alert) */
#define SK_ETLS_CERT         (-20108) /* a certificate, key or CA file could not be loaded */
#define SK_ETLS_VERIFY_UNKNOWN_ISSUER (-20120) /* certificate verify failed: unknown issuer */
#define SK_ETLS_VERIFY_HOSTNAME       (-20121) /* ... hostname mismatch */
#define SK_ETLS_VERIFY_EXPIRED        (-20122) /* ... certificate has expired */
#define SK_ETLS_VERIFY_NOT_YET_VALID  (-20123) /* ... certificate is not yet valid */
#define SK_ETLS_VERIFY_SELF_SIGNED    (-20124) /* ... self-signed certificate */
#define SK_ETLS_VERIFY_OTHER          (-20125) /* ... any other reason (revoked, bad chain) */
#define SK_ETLS_IS_VERIFY(code) ((code) <= SK_ETLS_VERIFY_UNKNOWN_ISSUER && \
                                 (code) >= SK_ETLS_VERIFY_OTHER)

/* A TLS context.  Opaque; reference-counted inside the library, so a
 * context may be freed while sockets (or a server) still use it.  Its
 * settings are made before it is shared between threads; only
 * sk_tls_ctx_add_sni_cert and sk_tls_ctx_rotate_ticket_keys may be called
 * while other threads make handshakes with it (to change anything else,
 * make a new context and hand that out). */
typedef struct sk_tls_ctx sk_tls_ctx;

/* The sides a context is made for. */
#define SK_TLS_CLIENT 1   /* create_default_context(Purpose.SERVER_AUTH) */
#define SK_TLS_SERVER 2   /* create_default_context(Purpose.CLIENT_AUTH) */

/* Verify modes (Python's CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED). */
#define SK_TLS_VERIFY_NONE     0
#define SK_TLS_VERIFY_OPTIONAL 1
#define SK_TLS_VERIFY_REQUIRED 2

/* Protocol versions, as on the wire (and as OpenSSL numbers them). */
#define SK_TLS_VERSION_1_0 0x0301
#define SK_TLS_VERSION_1_1 0x0302
#define SK_TLS_VERSION_1_2 0x0303
#define SK_TLS_VERSION_1_3 0x0304

/* True when this library was built with TLS. */
SK_API bool sk_tls_available(void);

/*
 * Creates a context for `side` with Python's create_default_context
 * defaults: TLS 1.2 at least, the system CA store loaded, and for
 * SK_TLS_CLIENT peer verification required and the host name checked;
 * for SK_TLS_SERVER no client certificate asked for, stateless session
 * tickets under a random key (sk_tls_ctx_rotate_ticket_keys).  Session
 * resumption is on: a client context keeps the last session per server
 * name and address and offers it on the next handshake.  Returns 0, -EINVAL
 * (bad side), -ENOMEM, SK_ETLS_UNAVAILABLE.
 */
SK_API int sk_tls_ctx_new(sk_tls_ctx **out, int side);

/* Drops the caller's reference; the context goes when its last user does.
 * NULL is allowed. */
SK_API void sk_tls_ctx_free(sk_tls_ctx *ctx);

/*
 * Loads a PEM certificate chain (leaf first) and its private key (NULL:
 * the key is in `certfile`) as the context's own certificate: what a
 * server presents, or a client's certificate for mutual TLS.  Replaces an
 * earlier one.  Returns 0, -errno when a file cannot be opened, or
 * SK_ETLS_CERT (not PEM, or the key does not match the certificate).
 */
SK_API int sk_tls_ctx_load_cert_chain(sk_tls_ctx *ctx, const char *certfile,
                                      const char *keyfile);

/*
 * Adds trust anchors for verifying the peer: a PEM file of CA certificates
 * and/or a hashed directory (c_rehash); either may be NULL, not both.
 * Adds to the system store the context started with.  Returns 0, -errno
 * when a path cannot be opened, SK_ETLS_CERT, or -EINVAL.
 */
SK_API int sk_tls_ctx_load_verify_locations(sk_tls_ctx *ctx, const char *cafile,
                                            const char *capath);

/*
 * Sets the verify mode.  A client with SK_TLS_VERIFY_NONE completes the
 * handshake whatever the certificate; sk_tls_verify_result then still says
 * what verification (with the name check, when on) found.  OPTIONAL and
 * REQUIRED are the same for a client.  A server with OPTIONAL asks for a
 * client certificate and verifies one that is sent; with REQUIRED a client
 * without a valid certificate is refused (mutual TLS).  Returns 0 or -EINVAL.
 */
SK_API int sk_tls_ctx_set_verify_mode(sk_tls_ctx *ctx, int mode);

/* Whether a client checks the certificate against the server name given to
 * sk_tls_wrap (a DNS name, or an IP address against IP SANs).  On by
 * default for a client context.  Returns 0. */
SK_API int sk_tls_ctx_set_check_hostname(sk_tls_ctx *ctx, bool on);

/*
 * Sets the ALPN protocols ("h2", "http/1.1", ...), most preferred first:
 * what a client offers, or what a server accepts (the server picks the
 * first of its own list the client offers, and goes on without ALPN when
 * there is none).  n == 0 clears them.  Returns 0, -EINVAL (a name empty
 * or longer than 255 bytes), -ENOMEM.
 */
SK_API int sk_tls_ctx_set_alpn_protocols(sk_tls_ctx *ctx, const char *const *protos,
                                         size_t n);

/* The lowest and highest protocol version accepted (SK_TLS_VERSION_*; 0
 * for no limit on the maximum).  The default minimum is TLS 1.2.  Returns 0
 * or -EINVAL. */
SK_API int sk_tls_ctx_set_minimum_version(sk_tls_ctx *ctx, int version);
SK_API int sk_tls_ctx_set_maximum_version(sk_tls_ctx *ctx, int version);

/* Session resumption on (the default) or off: off, a client offers no
 * session and a server issues no ticket, so every handshake is a full one.
 * Returns 0. */
SK_API int sk_tls_ctx_set_resumption(sk_tls_ctx *ctx, bool on);

/*
 * Server side: presents the certificate chain in `certfile` (key in
 * `keyfile`, NULL: in certfile) to clients whose SNI names `servername`
 * (compared without case; "*.example.org" matches one label).  Clients
 * naming no listed name get the context's own certificate.  Returns 0,
 * -errno, SK_ETLS_CERT, -EINVAL (not a server context), -ENOMEM.
 */
SK_API int sk_tls_ctx_add_sni_cert(sk_tls_ctx *ctx, const char *servername,
                                   const char *certfile, const char *keyfile);

/*
 * Server side: starts a new session ticket key.  New tickets are issued
 * under it; tickets under the previous key are still accepted (and
 * replaced by new ones); older ones are not, so those clients make a full
 * handshake.  Call it periodically (hourly, say) to bound what one key
 * protects.  Thread-safe.  Returns 0, -EINVAL (not a server context),
 * SK_ETLS_HANDSHAKE when no random bytes could be had.
 */
SK_API int sk_tls_ctx_rotate_ticket_keys(sk_tls_ctx *ctx);

/*
 * Puts the connected stream socket `s` under TLS with `ctx` and performs
 * the handshake under one deadline from s's timeout.  `server_hostname`
 * (client side; NULL: none) is sent as SNI unless it is an IP address, and
 * is what the certificate is checked against when the context checks host
 * names (then it must not be NULL: -EINVAL).  A server context takes NULL.
 * Returns 0, SK_ETIMEOUT, an SK_ETLS_* code, -errno.  On a non-blocking
 * socket it returns SK_ETLS_WANT_READ or SK_ETLS_WANT_WRITE with the socket
 * wrapped: finish with sk_tls_handshake.  After any other failure the
 * socket is no longer wrapped and its stream is unusable: close it.
 * -EALREADY when s is already wrapped.
 */
SK_API int sk_tls_wrap(sk_sock *s, sk_tls_ctx *ctx, const char *server_hostname); /* handshake under s's timeout */

/* Continues a handshake sk_tls_wrap left pending (Python's do_handshake).
 * Same returns; 0 at once when the handshake is complete, -EINVAL when s is
 * not wrapped. */
SK_API int sk_tls_handshake(sk_sock *s);

/*
 * sk_create_connection (Happy Eyeballs) to host:port, then the handshake,
 * all under one deadline from `timeout`; SNI and the name checked are
 * `host`.  The socket keeps `timeout`.  Returns 0 with *out set, or any
 * error of the two (the socket is then closed and *out NULL).
 */
SK_API int sk_tls_connect(sk_sock **out, const char *host, const char *port, sk_tls_ctx *ctx, double timeout);

/* sk_tls_connect with an address family (AF_UNSPEC, AF_INET, AF_INET6) and
 * a server name for SNI and the check other than `host` (NULL: host). */
SK_API int sk_tls_connect_ex(sk_sock **out, const char *host, const char *port,
                             int family, sk_tls_ctx *ctx, const char *server_hostname,
                             double timeout);

/*
 * Ends TLS on s in order (for STARTTLS-style protocols): sends close_notify
 * and reads until the peer's (application data still arriving is
 * discarded), under one deadline from s's timeout; then s is a plain
 * socket again.  Returns 0, SK_ETIMEOUT, SK_ETLS_EOF (the peer closed
 * without answering), -EINVAL when s is not wrapped; after a failure the
 * socket is plain but its stream unusable.  A non-blocking socket may get
 * SK_ETLS_WANT_READ / SK_ETLS_WANT_WRITE: it stays wrapped, call again.
 */
SK_API int sk_tls_unwrap(sk_sock *s);

/* The negotiated protocol, "TLSv1.3" or "TLSv1.2" (a static string), or
 * NULL when s is not wrapped or its handshake not complete. */
SK_API const char *sk_tls_version(const sk_sock *s);   /* "TLSv1.3" */

/* The cipher suite's name ("TLS_AES_256_GCM_SHA384"), or NULL. */
SK_API const char *sk_tls_cipher(const sk_sock *s);

/* The ALPN protocol agreed on, or NULL when none (valid while s is wrapped). */
SK_API const char *sk_tls_alpn(const sk_sock *s);

/* True when the handshake resumed an earlier session. */
SK_API bool sk_tls_session_reused(const sk_sock *s);

/*
 * Keying material exported from the session (RFC 5705; RFC 8446 section
 * 7.5 for TLS 1.3), as NTS (RFC 8915 section 5.1) derives its keys: `len`
 * bytes into `out` for `label` and `context` (context_len bytes; NULL and
 * 0 is "no context", which differs from an empty one in TLS 1.2).  Both
 * ends compute the same bytes.  Returns 0, -EINVAL (s not wrapped or its
 * handshake not complete), SK_ETLS_HANDSHAKE (OpenSSL refused),
 * SK_ETLS_UNAVAILABLE.
 */
SK_API int sk_tls_export_keying_material(const sk_sock *s, const char *label,
                                         const void *context, size_t context_len,
                                         void *out, size_t len);

/*
 * What verifying the peer's certificate found: 0 when it verified (chain
 * and, when checked, name), else an SK_ETLS_VERIFY_* code; -ENODATA when
 * the peer sent none, -EINVAL when s is not wrapped.  Meaningful with any
 * verify mode, VERIFY_NONE included.
 */
SK_API int sk_tls_verify_result(const sk_sock *s);

/* Bytes decrypted and buffered inside TLS, readable without waiting: a
 * socket that select() calls idle may still have these (Python's pending). */
SK_API size_t sk_tls_pending(const sk_sock *s);

/* The peer certificate, in text (strings cut to fit, always terminated). */
typedef struct sk_tls_cert_info {
    size_t size;           /* sizeof(sk_tls_cert_info), or 0 */
    char subject[256];     /* RFC 2253: "CN=localhost,O=sockit test" */
    char issuer[256];
    char sans[512];        /* "DNS:localhost, IP:127.0.0.1" ("" when none) */
    char serial[80];       /* hexadecimal, upper case */
    time_t not_before;     /* validity, seconds since the epoch (UTC) */
    time_t not_after;
} sk_tls_cert_info;

/* Fills *out with the peer's certificate (as much as out->size covers).
 * Returns 0, -ENODATA (no certificate), -EINVAL (s not wrapped), -ENOMEM. */
SK_API int sk_tls_peer_cert(const sk_sock *s, sk_tls_cert_info *out);

/* ====================================================================== */
/* Event loop                                                             */
/* ====================================================================== */

/*
 * One loop per thread: a loop and its handles are used only from the thread
 * that runs it, except sk_loop_stop() and sk_loop_wake(), which any thread or
 * a signal handler may call.  The poller is epoll where present, poll(2)
 * otherwise (see sk_loop_backend); setting the environment variable
 * SK_LOOP_BACKEND=poll before sk_loop_new() selects poll(2) on Linux too.
 * Readiness is level-triggered: a descriptor that is still ready is reported
 * again on the next iteration.  Callbacks run on the loop's thread; they must
 * not call sk_loop_run, sk_loop_run_once or sk_loop_free on their own loop.
 * Timers have nanosecond bookkeeping and never fire early; waits round up to
 * whole milliseconds.
 */
typedef struct sk_loop sk_loop;
typedef struct sk_io sk_io;       /* a watched descriptor */
typedef struct sk_timer sk_timer; /* a one-shot or repeating timer */

#define SK_READABLE 0x1u
#define SK_WRITABLE 0x2u

/*
 * Called when `fd` is ready.  `events` holds SK_READABLE and/or SK_WRITABLE;
 * an error or hang-up on the descriptor is reported as both, so the next
 * read or write returns the error.  The callback may stop `io` (and any
 * other handle).
 */
typedef void (*sk_io_cb)(sk_io *io, int fd, unsigned events, void *arg);
typedef void (*sk_timer_cb)(sk_timer *timer, void *arg);
typedef void (*sk_wake_cb)(sk_loop *loop, void *arg);

/* Creates a loop (it holds two descriptors: the poller and an eventfd or a
 * self-pipe for wake-ups).  Errors: -EMFILE, -ENOMEM. */
SK_API int sk_loop_new(sk_loop **out);

/* Frees the loop and every handle still registered on it.  Descriptors
 * belong to the caller and are not closed.  NULL is allowed. */
SK_API void sk_loop_free(sk_loop *loop);

/* Runs until sk_loop_stop().  Returns 0, or -errno if the poller fails.
 * A stop requested while the loop was not running makes this return at once;
 * either way the stop request is consumed when it returns. */
SK_API int sk_loop_run(sk_loop *loop);

/* Runs one iteration, waiting at most `timeout` seconds (SK_TIMEOUT_NONE:
 * until something happens; 0: not at all), then runs the callbacks of ready
 * descriptors and due timers.  Returns the number of callbacks run (wake
 * callbacks included), or -errno.  A signal does not end the wait early
 * (EINTR is retried for the time left); a handler that wants the loop back
 * calls sk_loop_wake or sk_loop_stop.  Does not consume a stop request, but
 * does not wait while one is pending. */
SK_API int sk_loop_run_once(sk_loop *loop, double timeout);

/* Makes sk_loop_run() return after the current iteration.  Async-signal-safe
 * (errno is preserved) and callable from any thread. */
SK_API void sk_loop_stop(sk_loop *loop);

/* Sets the callback sk_loop_wake() triggers (on the loop's thread). */
SK_API void sk_loop_set_wake_cb(sk_loop *loop, sk_wake_cb cb, void *arg);

/* Wakes the loop and has it run the wake callback once (calls made before it
 * runs coalesce; a wake is never lost: one made while the callback runs
 * causes another run).  Async-signal-safe (errno is preserved) and callable
 * from any thread. */
SK_API void sk_loop_wake(sk_loop *loop);

/* The loop's cached monotonic clock in milliseconds (CLOCK_MONOTONIC, so
 * comparable between loops), updated once per iteration after the wait
 * (cheap; use it for timestamps in callbacks). */
SK_API uint64_t sk_loop_now_ms(const sk_loop *loop);

/* "epoll" or "poll". */
SK_API const char *sk_loop_backend(const sk_loop *loop);

/*
 * Watches `fd` for `events` (SK_READABLE | SK_WRITABLE; 0 registers it
 * paused).  The descriptor should be non-blocking and stays the caller's:
 * stop the handle before closing it.  Stores the handle in *out.  Errors:
 * -EEXIST (fd already watched on this loop), -ENOMEM, -EBADF, or the
 * poller's error (e.g. -EPERM for a regular file under epoll).
 */
SK_API int sk_io_start(sk_loop *loop, sk_io **out, int fd, unsigned events,
                       sk_io_cb cb, void *arg);

/* Changes the events watched (0 pauses the handle: not even a hang-up is
 * reported).  Costs no system call when nothing changes; otherwise one
 * epoll_ctl (none under poll).  Returns 0 or -errno (the old events stay). */
SK_API int sk_io_set_events(sk_io *io, unsigned events);

/* Stops watching and frees the handle (safe inside any callback, its own
 * included: a stopped handle's pending events are dropped and its memory is
 * released after the iteration).  NULL is allowed. */
SK_API void sk_io_stop(sk_io *io);

/*
 * Starts a timer that fires `after` seconds from now, then every `repeat`
 * seconds if repeat > 0 (repeat <= 0: one-shot).  Timers due at the same
 * time fire in the order they were armed; a repeating timer that fell behind
 * fires once, not once per missed period.  A timer armed from a timer
 * callback fires on a later iteration, never in the current one.  Stores the
 * handle in *out.  A one-shot timer stays allocated after firing until
 * sk_timer_stop() or sk_loop_free() (it may be re-armed with sk_timer_again).
 * Errors: -EINVAL (after < 0, NaN, above 1e9 s, or cb NULL), -ENOMEM.
 */
SK_API int sk_timer_start(sk_loop *loop, sk_timer **out, double after,
                          double repeat, sk_timer_cb cb, void *arg);

/* Re-arms a timer to fire `after` seconds from now (keeping its repeat). */
SK_API int sk_timer_again(sk_timer *timer, double after);

/* Cancels and frees the timer (safe inside any callback, its own included).
 * NULL is allowed. */
SK_API void sk_timer_stop(sk_timer *timer);

/* ====================================================================== */
/* Server framework                                                       */
/* ====================================================================== */

/*
 * Python's socketserver idea, event-driven.  A server owns listening TCP and
 * bound UDP sockets and N worker threads, each with its own loop and, on
 * Linux, its own SO_REUSEPORT socket per address (one shared socket where
 * SO_REUSEPORT is missing, and for Unix-domain addresses).  Handlers get
 * callbacks; they never touch descriptors.  Per-connection input and output
 * are bounded: a handler that cannot write all it wants leaves input
 * unconsumed, and the server stops reading that peer until the output drains
 * (TCP flow control then throttles the peer).  No byte is lost or reordered.
 *
 * Threading: every callback of a connection or datagram runs on the worker
 * thread that owns it, so a handler's per-connection state needs no lock;
 * state shared between connections (the `arg`) is reached from all workers
 * at once and must be thread-safe.  The worker threads start with every
 * signal blocked, so process signals are delivered to other threads (the
 * one in sk_server_run, typically).
 *
 * Addresses: IPv4 peers of a dual-stack IPv6 socket appear as IPv4-mapped
 * IPv6 addresses (::ffff:a.b.c.d) in sk_conn_peer and on_datagram's `from`;
 * the per-source limit counts them as the IPv4 address.
 */
typedef struct sk_server sk_server;
typedef struct sk_conn sk_conn;

/* The numbers the framework works by, named once for its code and its
 * contracts below. */
#define SK_SERVER_MAX_THREADS 1024           /* worker threads, at most */
#define SK_SERVER_CONN_BUFFER (64 * 1024)    /* default conn_buffer, bytes */
#define SK_SERVER_CONN_BUFFER_MAX (64 * 1024 * 1024) /* largest conn_buffer */
#define SK_SERVER_GRACE 5.0                  /* default shutdown grace, seconds */
#define SK_SERVER_LINGER_MS 2000             /* wait for the peer's end of
                                                stream after a graceful close */
#define SK_SERVER_DRAIN_ROUNDS 16            /* on_drain calls in a row before
                                                waiting for writability */
#define SK_SERVER_ACCEPT_BATCH 64            /* accepts per readiness event */
#define SK_SERVER_UDP_BATCH 32               /* datagrams per recvmmsg/sendmmsg */
#define SK_SERVER_UDP_MAX 65507              /* largest UDP reply, bytes */
#define SK_SERVER_TLS_HANDSHAKE_TIMEOUT 10.0 /* default tls_handshake_timeout, s */
#define SK_SERVER_NOTIFY_SLOTS 16            /* sk_server_notify requests
                                                pending at once */

/* Callbacks for a TCP service.  Any may be NULL. */
typedef struct sk_tcp_handler {
    /* sizeof(sk_tcp_handler), or 0 for the 0.2 layout (see the top). */
    size_t size;
    /* Bytes of per-connection state for the handler, zeroed, at sk_conn_data(). */
    size_t conn_size;
    /* A new connection (after the limits admitted it).  May write and close. */
    void (*on_open)(sk_conn *c);
    /*
     * Bytes arrived.  Returns how many it consumed (a value above len counts
     * as len); the rest is kept and offered again, before and together with
     * any newer bytes.  If output is pending when input is left over, reading
     * pauses and the rest is offered again once the output has drained (the
     * echo pattern: return sk_conn_write's count).  If no output is pending,
     * the handler is taken to be waiting for the rest of a message, and the
     * rest is offered with the next bytes.  Reading also pauses while the
     * output buffer is full and when unconsumed input reaches conn_buffer
     * bytes.  NULL: input is read and dropped (discard).
     */
    size_t (*on_data)(sk_conn *c, const void *data, size_t len);
    /*
     * The connection can take more output: called when the output buffer has
     * drained to empty, and also right after on_open, on_data or on_drain
     * when everything the handler wrote in it went straight to the kernel (so
     * a producer that writes one chunk per call keeps the stream going; after
     * SK_SERVER_DRAIN_ROUNDS such calls in a row the next waits until the
     * socket is writable, for fairness).  Not called after sk_conn_close.  A producer (chargen)
     * writes more here.
     */
    void (*on_drain)(sk_conn *c);
    /* The peer shut down its sending side (clean end of stream).  Reading
     * stops; the handler may still write, and must close.  The default
     * (NULL) is sk_conn_close: close once output is flushed. */
    void (*on_eof)(sk_conn *c);
    /* The connection is gone (descriptor closed); release handler state.
     * Runs exactly once for every connection on_open was called for, on a
     * later loop iteration than the close (never inside another callback of
     * the connection or inside an sk_conn_* call), after which `c` is freed.
     * sk_conn_write returns -EPIPE here. */
    void (*on_close)(sk_conn *c);
} sk_tcp_handler;

/*
 * Queues bytes for the peer, sending at once when the socket takes them:
 * with nothing queued this is one send(2) and no copy or allocation; only
 * what the socket does not take is copied into the output buffer (at most
 * conn_buffer bytes).  Returns how many were accepted (fewer than len when
 * the buffer is full; the caller keeps the rest), or -EPIPE after
 * sk_conn_close/abort or once the connection has failed (the failure closes
 * it; on_close follows).  Call it only on the connection's worker thread.
 */
SK_API ssize_t sk_conn_write(sk_conn *c, const void *buf, size_t len);

/* Room left in the output buffer, in bytes (0 after close). */
SK_API size_t sk_conn_write_space(const sk_conn *c);

/*
 * Closes the connection once pending output is sent (graceful): reading
 * stops and later writes fail with -EPIPE.  After the last byte the server
 * shuts down its sending side (the peer sees end of stream) and waits up to
 * SK_SERVER_LINGER_MS for the peer's end of stream, discarding input, before closing the
 * descriptor, so that input the peer sends cannot make the kernel reset the
 * connection and destroy the response.  A peer that has already ended its
 * stream is closed at once.  While output is pending, the idle timeout
 * still applies.  Idempotent.
 */
SK_API void sk_conn_close(sk_conn *c);

/* Closes at once, discarding pending output (reset).  Idempotent. */
SK_API void sk_conn_abort(sk_conn *c);

/* The handler's per-connection state (conn_size bytes, aligned for any
 * type), the peer address, the local address (looked up on first use), and
 * the `arg` given to sk_server_add_tcp.  Valid until on_close returns. */
SK_API void *sk_conn_data(sk_conn *c);
SK_API const sk_addr *sk_conn_peer(const sk_conn *c);
SK_API const sk_addr *sk_conn_local(const sk_conn *c);
SK_API void *sk_conn_arg(const sk_conn *c);
/* The loop the connection runs on (for timers and timestamps). */
SK_API sk_loop *sk_conn_loop(const sk_conn *c);

/* The proxy a connection came through (the balancer that sent its PROXY
 * header, see sk_server_config.proxy_protocol), or NULL when the peer is
 * the connection's own (no header, or a LOCAL or UNKNOWN one).  Valid
 * until on_close returns. */
SK_API const sk_addr *sk_conn_via(const sk_conn *c);

/* One received datagram handed to a UDP handler. */
typedef struct sk_dgram sk_dgram;

/* Callbacks for a UDP service. */
typedef struct sk_udp_handler {
    /* sizeof(sk_udp_handler), or 0 for the 0.2 layout (see the top). */
    size_t size;
    /*
     * A datagram of `len` bytes (0 for an empty one) from `from`.  The
     * handler replies with sk_dgram_reply (at most once per datagram) or
     * drops it by returning.  `d`, `data` and `from` are valid only during
     * the call.  Datagrams arrive in batches (recvmmsg, up to
     * SK_SERVER_UDP_BATCH at a time on Linux); replies go out after the
     * batch.
     */
    void (*on_datagram)(sk_dgram *d, const void *data, size_t len,
                        const sk_addr *from);
} sk_udp_handler;

/* Queues a reply to the datagram's sender (the bytes are copied), sent with
 * the rest of the batch (sendmmsg where available).  A reply the socket
 * cannot take at once is dropped and counted (datagrams_dropped).  Returns
 * 0, SK_EMSGSIZE above SK_SERVER_UDP_MAX bytes, or -EALREADY for a second
 * reply. */
SK_API int sk_dgram_reply(sk_dgram *d, const void *buf, size_t len);

/* The `arg` given to sk_server_add_udp, and the loop the datagram arrived on. */
SK_API void *sk_dgram_arg(const sk_dgram *d);
SK_API sk_loop *sk_dgram_loop(const sk_dgram *d);

/* Records that the handler leaves the datagram unanswered on purpose (a
 * policy such as a rate limit or a reflection guard), so that the
 * service's datagrams_refused counter says so.  Once per datagram: a
 * second call, or one after sk_dgram_reply, is ignored, and a reply after
 * it fails with -EALREADY. */
SK_API void sk_dgram_drop(sk_dgram *d);

/*
 * The datagram's receive time on CLOCK_REALTIME (for a time server's
 * receive timestamp): the kernel's timestamp of its arrival
 * (SO_TIMESTAMPNS) when the service was added with SK_SERVER_RXTIME; where
 * the system gives none, the clock read right after its batch was
 * received.  Returns 0, or -ENOENT when the service was added without
 * SK_SERVER_RXTIME (timestamps cost a little per datagram, so they are
 * opt-in).
 */
SK_API int sk_dgram_rxtime(const sk_dgram *d, struct timespec *out);

/*
 * The datagram's IP header as received, for a measurement reflector
 * (STAMP reflects both): sk_dgram_ttl gives the IPv4 TTL or IPv6 hop limit
 * (0..255), sk_dgram_tos the IPv4 TOS or IPv6 traffic class byte (DSCP in
 * the upper six bits, ECN in the lower two), from IP_RECVTTL/IP_RECVTOS or
 * IPV6_RECVHOPLIMIT/IPV6_RECVTCLASS control messages when the service was
 * added with SK_SERVER_RXTTL.  Return -ENOENT when the service was added
 * without it or the system gave none for this datagram.
 */
SK_API int sk_dgram_ttl(const sk_dgram *d);
SK_API int sk_dgram_tos(const sk_dgram *d);

/* Server-wide settings.  Zero-initialised means the defaults below. */
typedef struct sk_server_config {
    size_t size;          /* sizeof(sk_server_config), or 0 for the 0.2
                             layout (see the top) */
    int threads;          /* worker threads; 0: one per online CPU (at most
                             SK_SERVER_MAX_THREADS) */
    int max_conns;        /* total open connections; 0: no limit */
    int max_per_source;   /* open connections per peer address; 0: no limit */
    double idle_timeout;  /* close connections without progress (no byte read
                             or written) this long; 0: never */
    size_t conn_buffer;   /* per-connection output bound, and input bound, in
                             bytes; 0: SK_SERVER_CONN_BUFFER; at most
                             SK_SERVER_CONN_BUFFER_MAX */
    double grace;         /* shutdown drain period in seconds; 0:
                             SK_SERVER_GRACE */
    bool verbose;         /* log one line per connection opened and closed:
                             "event=open peer=A local=A", "event=close peer=A
                             bytes_in=N bytes_out=N reason=R [error=\"...\"]"
                             with R one of eof, closed, abort, idle, error,
                             shutdown; "event=refuse peer=A reason=limit".
                             Errors ("event=error op=accept addr=A error=\"..\"
                             suppressed=N", at most one a second per worker)
                             are logged regardless. */
    /* Receives one log line (no newline), key=value style; NULL: stderr.
     * Called from the worker threads, possibly at the same time. */
    void (*log)(void *log_arg, const char *line);
    void *log_arg;

    /* PROXY protocol (see sk_proxy_parse).  With proxy_protocol set, every
     * TCP connection must start with a v1 or v2 header (never optional) from
     * a peer in proxy_from, before on_open runs and before any byte is sent:
     * a peer outside the list is closed at once; a header that is invalid,
     * or not complete within proxy_timeout, closes the connection.  Those
     * are counted (sk_server_stats) and logged as "event=proxy result=R
     * peer=A", at most once a second per worker, whatever `verbose` says.
     * A header with addresses makes them the connection's: sk_conn_peer is
     * the client and sk_conn_local the address it connected to; the
     * per-source limit counts the client, and the verbose lines add
     * "via=A" (the proxy).  LOCAL and UNKNOWN headers (health checks) keep
     * the connection's own addresses.  UDP services are not affected. */
    bool proxy_protocol;
    double proxy_timeout;            /* seconds; 0: 3 */
    const struct sk_cidr *proxy_from; /* networks allowed to send headers
                                         (copied); NULL: 127.0.0.0/8 and ::1 */
    size_t proxy_from_count;         /* entries in proxy_from (at most 4096) */

    /* Seconds a TLS service's client has to complete its handshake (see
     * sk_server_set_tls); 0: SK_SERVER_TLS_HANDSHAKE_TIMEOUT. */
    double tls_handshake_timeout;
} sk_server_config;

/*
 * The server's counters, one row each: the one table from which
 * sk_server_stats is declared and filled, `sockit serve --metrics` renders
 * its Prometheus text and `sockit serve` prints its stop line.  A program
 * may walk it with its own X to print or export every counter.  Rows are
 * only ever added at the end (the struct's layout follows them); adding a
 * counter is one row plus the line in the library that counts it.
 *
 *   X(field, kind, proto, metric, label, help)
 *   field   the sk_server_stats member (and the stop line's key)
 *   kind    SK_STAT_COUNTER (only grows) or SK_STAT_GAUGE (a level)
 *   proto   SK_STAT_TCP or SK_STAT_UDP: the services it concerns
 *   metric  its Prometheus family: sockit_METRIC_total for a counter,
 *           sockit_METRIC for a gauge, with `label` (a name="value" pair,
 *           or "") telling it from the family's other rows
 *   help    what it counts, one sentence
 *
 * Counters are summed over the workers (approximate while running);
 * `active` is the level now.
 */
#define SK_STAT_COUNTER 0
#define SK_STAT_GAUGE 1
#define SK_STAT_TCP 0
#define SK_STAT_UDP 1

#define SK_SERVER_STATS_MAP(X)                                                            \
    X(accepted, SK_STAT_COUNTER, SK_STAT_TCP, "connections", "",                           \
      "TCP connections admitted (after the limits and any PROXY header).")                 \
    X(refused_limit, SK_STAT_COUNTER, SK_STAT_TCP, "connections_refused",                  \
      "reason=\"limit\"", "TCP connections refused by max_conns or max_per_source.")       \
    X(accept_errors, SK_STAT_COUNTER, SK_STAT_TCP, "accept_errors", "",                    \
      "Failed accepts (EMFILE, ENFILE, ENOBUFS, ECONNABORTED ...).")                       \
    X(idle_closed, SK_STAT_COUNTER, SK_STAT_TCP, "connections_idle_closed", "",            \
      "TCP connections closed by the idle timeout.")                                       \
    X(active, SK_STAT_GAUGE, SK_STAT_TCP, "connections_open", "",                          \
      "TCP connections open now (server-wide: with those in a stage before on_open).")     \
    X(datagrams_in, SK_STAT_COUNTER, SK_STAT_UDP, "datagrams_received", "",                \
      "UDP datagrams received.")                                                           \
    X(datagrams_out, SK_STAT_COUNTER, SK_STAT_UDP, "datagrams_sent", "",                   \
      "UDP replies sent.")                                                                 \
    X(datagrams_dropped, SK_STAT_COUNTER, SK_STAT_UDP, "datagrams_dropped",                \
      "reason=\"send\"", "UDP replies dropped: socket full or send error.")                \
    X(bytes_in, SK_STAT_COUNTER, SK_STAT_TCP, "bytes_received", "",                        \
      "TCP payload bytes received (PROXY headers not included).")                          \
    X(bytes_out, SK_STAT_COUNTER, SK_STAT_TCP, "bytes_sent", "", "TCP bytes sent.")        \
    X(read_pauses, SK_STAT_COUNTER, SK_STAT_TCP, "read_pauses", "",                        \
      "Times reading a TCP peer paused because its output was backed up.")                 \
    X(refused_proxy_source, SK_STAT_COUNTER, SK_STAT_TCP, "connections_refused",           \
      "reason=\"proxy_source\"", "TCP connections from outside proxy_from (PROXY), "       \
      "closed at once.")                                                                   \
    X(proxy_proxied, SK_STAT_COUNTER, SK_STAT_TCP, "proxy_headers", "result=\"proxy\"",    \
      "PROXY headers that carried the client's addresses.")                                \
    X(proxy_local, SK_STAT_COUNTER, SK_STAT_TCP, "proxy_headers", "result=\"local\"",      \
      "LOCAL or UNKNOWN PROXY headers: the connection's own addresses kept.")              \
    X(proxy_invalid, SK_STAT_COUNTER, SK_STAT_TCP, "proxy_headers", "result=\"invalid\"",  \
      "Malformed PROXY headers (closed, nothing sent).")                                   \
    X(proxy_timeout, SK_STAT_COUNTER, SK_STAT_TCP, "proxy_headers", "result=\"timeout\"",  \
      "PROXY headers not complete within proxy_timeout (closed).")                         \
    X(proxy_truncated, SK_STAT_COUNTER, SK_STAT_TCP, "proxy_headers",                      \
      "result=\"truncated\"", "Peers that ended their stream mid-header (closed).")        \
    X(datagrams_refused, SK_STAT_COUNTER, SK_STAT_UDP, "datagrams_dropped",                \
      "reason=\"guard\"", "UDP datagrams the handler left unanswered (sk_dgram_drop).")    \
    X(refused_proxy_header, SK_STAT_COUNTER, SK_STAT_TCP, "connections_refused",           \
      "reason=\"proxy_header\"", "TCP connections closed for their PROXY header "          \
      "(invalid, late or truncated).")                                                      \
    X(tls_full, SK_STAT_COUNTER, SK_STAT_TCP, "tls_handshakes", "result=\"full\"",         \
      "TLS handshakes completed in full (sk_server_set_tls).")                             \
    X(tls_resumed, SK_STAT_COUNTER, SK_STAT_TCP, "tls_handshakes", "result=\"resumed\"",   \
      "TLS handshakes that resumed a session (a ticket).")                                 \
    X(tls_timeout, SK_STAT_COUNTER, SK_STAT_TCP, "tls_handshakes", "result=\"timeout\"",   \
      "TLS handshakes not complete within tls_handshake_timeout (closed).")                \
    X(tls_failed_verify, SK_STAT_COUNTER, SK_STAT_TCP, "tls_handshakes_failed",             \
      "reason=\"verify\"", "TLS handshakes failed: the client's certificate refused.")     \
    X(tls_failed_version, SK_STAT_COUNTER, SK_STAT_TCP, "tls_handshakes_failed",            \
      "reason=\"version\"", "TLS handshakes failed: no protocol version in common.")       \
    X(tls_failed_not_tls, SK_STAT_COUNTER, SK_STAT_TCP, "tls_handshakes_failed",            \
      "reason=\"not_tls\"", "TLS handshakes failed: the client does not speak TLS.")       \
    X(tls_failed_handshake, SK_STAT_COUNTER, SK_STAT_TCP, "tls_handshakes_failed",          \
      "reason=\"handshake\"", "TLS handshakes failed otherwise (an alert, no cipher).")    \
    X(tls_failed_eof, SK_STAT_COUNTER, SK_STAT_TCP, "tls_handshakes_failed",                \
      "reason=\"eof\"", "TLS handshakes failed: the client went away mid-handshake.")      \
    X(tls_failed_error, SK_STAT_COUNTER, SK_STAT_TCP, "tls_handshakes_failed",              \
      "reason=\"error\"", "TLS handshakes failed: a system error mid-handshake.")          \
    X(tls_v12, SK_STAT_COUNTER, SK_STAT_TCP, "tls_connections", "version=\"TLSv1.2\"",     \
      "TLS connections established with TLS 1.2.")                                         \
    X(tls_v13, SK_STAT_COUNTER, SK_STAT_TCP, "tls_connections", "version=\"TLSv1.3\"",     \
      "TLS connections established with TLS 1.3.")                                         \
    X(tls_cert_not_after, SK_STAT_GAUGE, SK_STAT_TCP, "tls_certificate_not_after_seconds",  \
      "", "When the certificate a TLS service presents expires (seconds since the "        \
      "epoch; the earliest over services, 0 without TLS).")

#define SK__STATS_FIELD(field, kind, proto, metric, label, help) uint64_t field;

/* The counters of SK_SERVER_STATS_MAP, one uint64_t per row, in its order:
 * accepted, refused_limit, accept_errors, idle_closed, active,
 * datagrams_in, datagrams_out, datagrams_dropped, bytes_in, bytes_out,
 * read_pauses, refused_proxy_source, proxy_proxied, proxy_local,
 * proxy_invalid, proxy_timeout, proxy_truncated, datagrams_refused (the 0.2
 * layout ends here), refused_proxy_header. */
typedef struct sk_server_stats {
    size_t size; /* set by the caller: sizeof(sk_server_stats), or 0 for the
                    0.2 layout (see the top) */
    SK_SERVER_STATS_MAP(SK__STATS_FIELD)
} sk_server_stats;

/* Initialisers that set the size field: `sk_server_config cfg =
 * SK_SERVER_CONFIG_INIT;` then set fields, or write the designated
 * initialiser with .size = sizeof(...) yourself. */
#define SK_SERVER_CONFIG_INIT {.size = sizeof(sk_server_config)}
#define SK_SERVER_STATS_INIT {.size = sizeof(sk_server_stats)}

/* Creates a server with `cfg` (NULL: defaults), with its worker loops (two
 * descriptors each).  Errors: -EINVAL (a negative or NaN setting), -E2BIG
 * (cfg->size larger than this library knows, with non-zero fields past
 * what it knows), -ENOMEM, -EMFILE. */
SK_API int sk_server_new(sk_server **out, const sk_server_config *cfg);

/*
 * Binds a TCP service at `addr` (flags: SK_SERVER_DUALSTACK, SK_SERVER_V6ONLY)
 * and starts listening (one socket per worker, see above; with a fixed port
 * a plain bind is tried first, so a port another process holds fails with
 * -EADDRINUSE even though SO_REUSEPORT would let it through).  `h` is copied;
 * `arg` is handed to the handler via sk_conn_arg.  If `bound` is not NULL it
 * receives the address actually bound (port 0 resolved).  Call before
 * sk_server_run.  Errors as sk_create_server, -EINVAL (other flags, NULL
 * handler), -E2BIG (h->size as for sk_server_new), -EBUSY (the server has
 * run).
 */
SK_API int sk_server_add_tcp(sk_server *srv, const sk_addr *addr, int flags,
                             const sk_tcp_handler *h, void *arg, sk_addr *bound);

/* sk_server_add_udp only: record each datagram's receive time, for
 * sk_dgram_rxtime.  (A value apart from the sk_create_server flags.) */
#define SK_SERVER_RXTIME 0x100
/* sk_server_add_udp only: record each datagram's TTL or hop limit and TOS
 * or traffic class, for sk_dgram_ttl and sk_dgram_tos. */
#define SK_SERVER_RXTTL 0x200

/* The same for a UDP service; `flags` may also hold SK_SERVER_RXTIME and
 * SK_SERVER_RXTTL. */
SK_API int sk_server_add_udp(sk_server *srv, const sk_addr *addr, int flags,
                             const sk_udp_handler *h, void *arg, sk_addr *bound);

/*
 * Serves TCP service `index` (counted as for sk_server_stats_get_service:
 * the successful add and adopt calls from 0, in order) over TLS with the
 * server context `ctx` (SK_TLS_SERVER, its certificate loaded): every
 * connection runs its handshake, without blocking, in the worker's loop
 * after accept (and after the PROXY header when proxy_protocol is set)
 * and before on_open.  A handshake that fails or is not complete within
 * cfg.tls_handshake_timeout closes the connection before on_open (counted
 * in sk_server_stats and logged as "event=tls result=R peer=A
 * suppressed=N", at most once a second per worker, R one of verify,
 * version, not_tls, handshake, eof, error, timeout).  Connections in their
 * handshake hold their max_conns and max_per_source slots.  Handlers then
 * see plaintext: on_data, sk_conn_write, backpressure and conn_buffer
 * work as for a plain service (the byte counts are plaintext); a graceful
 * close sends close_notify before the end of stream, an abort does not.
 *
 * The server takes its own reference on `ctx`: the caller may free its
 * one.  Called while the server runs (any thread), it replaces the context
 * of a service that has TLS already: handshakes that start from then on
 * use the new one, connections made with the old one go on, and the old
 * context is freed with the last of them (a certificate reload).  ctx NULL
 * before sk_server_run makes the service plain again.  Returns 0, -ENOENT
 * (no such service), -EINVAL (a UDP service, or not a server context),
 * -EBUSY (running, and the service has no TLS or ctx is NULL).
 */
SK_API int sk_server_set_tls(sk_server *srv, size_t index, sk_tls_ctx *ctx);

/* The TLS version of connection `c` ("TLSv1.3"), or NULL for a connection
 * of a plain service.  Valid from on_open to on_close. */
SK_API const char *sk_conn_tls_version(const sk_conn *c);

/* The ALPN protocol agreed with the client of `c`, or NULL (none, or a
 * plain service).  Valid from on_open to on_close. */
SK_API const char *sk_conn_tls_alpn(const sk_conn *c);

/* Keying material exported from the session of `c`, as
 * sk_tls_export_keying_material does for a socket (NTS's keys on the
 * server side).  Returns 0, -EINVAL (a plain service), SK_ETLS_HANDSHAKE,
 * SK_ETLS_UNAVAILABLE. */
SK_API int sk_conn_tls_export_keying_material(const sk_conn *c, const char *label,
                                              const void *context, size_t context_len,
                                              void *out, size_t len);

/* ---- Adopting descriptors: socket activation and inetd (issue 12) ---------- */

/*
 * Serves a TCP service on `fd`, a stream socket another party created and
 * bound (systemd's socket activation passes them from descriptor 3 on).
 * A socket not yet listening is put into the listening state (backlog
 * SOMAXCONN); its family and options (IPV6_V6ONLY and the rest) are left as
 * they are.  Every worker shares the one socket: it is never re-bound with
 * SO_REUSEPORT.  The descriptor is made close-on-exec and non-blocking; from
 * a successful call on the server owns it (closed when sk_server_run ends or
 * by sk_server_free); after a failure it is still the caller's, open.  `h`,
 * `arg` and `bound` (the socket's address) as in sk_server_add_tcp.  Call
 * before sk_server_run.  Errors: -EBADF, -ENOTSOCK (a pipe, a file),
 * -EPROTOTYPE (not SOCK_STREAM), -EINVAL (NULL handler), -EBUSY (the server
 * has run), -ENOMEM, or the -errno of listen(2).
 */
SK_API int sk_server_adopt_tcp(sk_server *srv, int fd, const sk_tcp_handler *h, void *arg,
                               sk_addr *bound);

/* The same for a UDP service on a bound datagram socket (-EPROTOTYPE unless
 * SOCK_DGRAM).  `flags` may hold SK_SERVER_RXTIME and SK_SERVER_RXTTL (as for
 * sk_server_add_udp;
 * any other flag is -EINVAL): the socket's family and options are otherwise
 * left as they are. */
SK_API int sk_server_adopt_udp(sk_server *srv, int fd, int flags, const sk_udp_handler *h,
                               void *arg, sk_addr *bound);

/*
 * Serves `fd`, one connected stream socket (inetd's "nowait" entries and
 * systemd's Accept=yes hand one over as standard input; a Unix socketpair
 * end works too), as a single connection of a TCP service: it is admitted,
 * logged and opened (on_open) on worker 0 when sk_server_run starts, and
 * from then on behaves as an accepted connection (limits, idle timeout,
 * graceful close).  The server keeps running after the connection ends; a
 * handler's on_close may call sk_server_shutdown.  Ownership as
 * sk_server_adopt_tcp.  Errors: as sk_server_adopt_tcp, and -EINVAL for a
 * listening socket, -ENOTCONN for an unconnected one.
 */
SK_API int sk_server_adopt_conn(sk_server *srv, int fd, const sk_tcp_handler *h, void *arg);

/* ---- end of the adopting block --------------------------------------------- */

/*
 * Starts the workers and blocks until the server has shut down (see
 * sk_server_shutdown), then closes the listening sockets.  A server runs
 * once.  Returns 0, -EBUSY if it has run already, or -errno if it could not
 * start (it is then shut down again before this returns).
 */
SK_API int sk_server_run(sk_server *srv);

/*
 * Asks the server to stop: stop accepting and reading new requests; input
 * already read but not yet consumed because output was backed up is still
 * offered to on_data as the output drains (a request in flight); then each
 * connection is closed gracefully (sk_conn_close: pending output is flushed,
 * handlers can write no more).  What is left when the grace period ends is
 * aborted, then sk_server_run returns.  A request made before sk_server_run
 * makes it return at once.  Async-signal-safe, callable from any thread,
 * idempotent.
 */
SK_API void sk_server_shutdown(sk_server *srv);

/*
 * Calls `cb(srv, arg)` once on a worker thread (worker 0) as soon as
 * possible; each call is one run.  Up to SK_SERVER_NOTIFY_SLOTS requests
 * can be pending at a time.  Returns 0 when the request is queued, or
 * -EAGAIN when that many are already pending (nothing is queued; the caller
 * may retry once one has run).  Requests made before sk_server_run run when
 * it starts.  Async-signal-safe: a SIGHUP handler uses it to request a
 * reload.
 */
SK_API int sk_server_notify(sk_server *srv, void (*cb)(sk_server *srv, void *arg),
                             void *arg);

/* Fills *out with the current counters: as many fields as out->size covers
 * (set it before the call; 0 means the 0.2 layout).  Any thread, any
 * time. */
SK_API void sk_server_stats_get(const sk_server *srv, sk_server_stats *out);

/*
 * Fills *out with the counters of one service (as many fields as out->size
 * covers, as sk_server_stats_get does): `index` counts the
 * successful sk_server_add_tcp and sk_server_add_udp calls from 0, in
 * order.  `active` is the service's open connections (those admitted and
 * not yet closed; a connection still waiting for its PROXY header is not
 * yet one).  Counters never go backwards.  Any thread, any time; costs the
 * workers nothing (their per-worker counters are summed here, O(threads)).
 * Returns 0 or -ENOENT (no such service).
 */
SK_API int sk_server_stats_get_service(const sk_server *srv, size_t index,
                                       sk_server_stats *out);

/* Frees a server that is not running (closes its sockets).  NULL is allowed. */
SK_API void sk_server_free(sk_server *srv);

/* ====================================================================== */
/* PROXY protocol and address allow-lists                                 */
/* ====================================================================== */

/*
 * The PROXY protocol (HAProxy's doc/proxy-protocol.txt): a load balancer
 * starts each TCP connection it opens to a backend with a header naming the
 * client's addresses, as one text line (version 1, send-proxy) or a binary
 * block (version 2, send-proxy-v2).  sk_proxy_parse reads either; the
 * server framework uses it for every connection when
 * sk_server_config.proxy_protocol is set.
 */

#define SK_PROXY_V1_MAX 107             /* longest v1 line, CR LF included */
#define SK_PROXY_V2_MAX (16 + 65535)    /* longest v2 header */

#define SK_PROXY_CMD_PROXY 1  /* relayed: src/dst are the client's (when family is set) */
#define SK_PROXY_CMD_LOCAL 0  /* v2 LOCAL: the balancer's own connection (health check) */

/* What a header says.  Zeroed by every sk_proxy_parse call; meaningful only
 * when it succeeds. */
typedef struct sk_proxy_header {
    int version;          /* 1 or 2 */
    int command;          /* SK_PROXY_CMD_PROXY or SK_PROXY_CMD_LOCAL (v2 only) */
    int family;           /* AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC when the
                             header carries no addresses (v1 UNKNOWN, v2 LOCAL or
                             UNSPEC): then use the connection's own addresses */
    sk_addr src, dst;     /* the client and the address it connected to (len 0
                             when family is AF_UNSPEC) */
    bool crc32c;          /* v2: a CRC32C TLV was present and matched */
    size_t tlv_offset;    /* v2: where the TLVs start in the header, and */
    size_t tlv_length;    /* how many bytes they take (all walked and bounded) */
} sk_proxy_header;

/*
 * Parses the PROXY header at the start of buf[len] (the version is told by
 * the first byte).  Strict: v1 needs the exact syntax (single spaces, CR LF,
 * no leading zeros, addresses of the named family, ports 0..65535, at most
 * SK_PROXY_V1_MAX bytes); v2 needs the signature, version 2, command LOCAL
 * or PROXY, and for PROXY family INET, INET6 or UNIX over STREAM (or
 * UNSPEC/UNSPEC) with a block long enough for the addresses; its TLVs must
 * each fit in the block, and a CRC32C TLV must match.  Other TLVs are
 * skipped.  Allocates nothing and keeps no state: call it again with the
 * longer prefix when more bytes arrive.  Returns the header's length in
 * bytes (the payload follows it), SK_ENEED when buf holds a valid but
 * incomplete prefix, or -EPROTO when it cannot be a valid header.
 */
SK_API int sk_proxy_parse(sk_proxy_header *out, const void *buf, size_t len);

/* An IPv4 or IPv6 network: an address and a prefix length. */
typedef struct sk_cidr {
    int family;               /* AF_INET or AF_INET6 */
    unsigned char addr[16];   /* network bytes (4 used for AF_INET), host bits 0 */
    int prefix;               /* 0..32 or 0..128 */
} sk_cidr;

/*
 * Parses "10.0.0.0/8", "::1/128", or a bare address (a host: /32 or /128).
 * Host bits beyond the prefix are cleared.  Errors: SK_EBADADDR.
 */
SK_API int sk_cidr_parse(sk_cidr *out, const char *text);

/* True when `a` (AF_INET or AF_INET6) lies in `net`.  An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) matches as the IPv4 address, and the other way
 * round.  Other families never match. */
SK_API bool sk_cidr_match(const sk_cidr *net, const sk_addr *a);

#ifdef __cplusplus
}
#endif

#endif /* SOCKIT_H */
