/* SPDX-License-Identifier: MIT */
/*
 * lib/tls.h - the TLS engine as the rest of the library sees it: one
 * connection's TLS state over a descriptor, stepped without blocking.
 *
 * Two users.  lib/sock_io.c, lib/frame.c and lib/sock.c hand a wrapped
 * sk_sock's I/O to the sk__tls_sock_* calls (tls_sock.c), which wait on the
 * descriptor under the call's deadline.  The server framework's handshake
 * stage (lib/server) drives sk__tls_* directly from its loop: it creates
 * the state for an accepted descriptor with the service's context, calls
 * sk__tls_handshake_step on each readiness event until it returns 0
 * (SK_ETLS_WANT_READ / SK_ETLS_WANT_WRITE say which event to wait for),
 * then reads and writes plaintext with sk__tls_read / sk__tls_write, which
 * answer the same way, and ends with sk__tls_shutdown_step or just
 * sk__tls_free.  Nothing here waits, and nothing here knows sk_sock except
 * the sk__tls_sock_* calls at the end.
 *
 * Contexts are reference-counted (sk__tls_ctx_ref; sk_tls_ctx_free drops
 * one), and each connection state holds a reference, so a server can
 * replace a service's context while handshakes on the old one go on: new
 * connections take the new pointer, the old context goes with its last
 * connection.  Built with -DSK_TLS=OFF (tls_none.c) every call fails with
 * SK_ETLS_UNAVAILABLE.
 */
#ifndef SOCKIT_TLS_H
#define SOCKIT_TLS_H

#include "internal.h"

/* One connection's TLS state.  Opaque outside tls_*.c. */
typedef struct sk__tls sk__tls;

/* Takes another reference on ctx (released with sk_tls_ctx_free). */
void sk__tls_ctx_ref(sk_tls_ctx *ctx);

/* When the certificate ctx presents (its default one, not an SNI one)
 * expires, in seconds since the epoch; 0 when it has none. */
time_t sk__tls_ctx_not_after(const sk_tls_ctx *ctx);

/* The side (SK_TLS_CLIENT or SK_TLS_SERVER) ctx was made for. */
int sk__tls_ctx_side(const sk_tls_ctx *ctx);

/*
 * Creates the TLS state for the connected stream descriptor `fd` (not
 * owned: the caller closes it) on `ctx`'s side.  `server_hostname` is for
 * a client context (SNI and the name check, see sk_tls_wrap); NULL for a
 * server.  No I/O yet.  Returns 0, -EINVAL (the name is needed but NULL),
 * -ENOMEM.
 */
int sk__tls_new(sk__tls **out, sk_tls_ctx *ctx, int fd, const char *server_hostname);

/* Frees the state without any I/O (no close_notify).  NULL is allowed. */
void sk__tls_free(sk__tls *t);

/*
 * One step of the handshake.  Returns 0 when complete (and at once ever
 * after), SK_ETLS_WANT_READ / SK_ETLS_WANT_WRITE, or the failure:
 * SK_ETLS_VERIFY_*, SK_ETLS_HANDSHAKE, SK_ETLS_VERSION, SK_ETLS_NOT_TLS,
 * SK_ETLS_EOF (the peer closed in mid-handshake), -errno.
 */
int sk__tls_handshake_step(sk__tls *t);

/* True once the handshake has completed. */
bool sk__tls_established(const sk__tls *t);

/*
 * Reads plaintext (MSG_PEEK-like when `peek`).  Returns the bytes read
 * (> 0), 0 after the peer's close_notify, SK_ETLS_WANT_READ /
 * SK_ETLS_WANT_WRITE, SK_ETLS_EOF (end of stream without close_notify),
 * SK_ETLS_PROTOCOL, -errno.  Continues a pending handshake first.
 */
ssize_t sk__tls_read(sk__tls *t, void *buf, size_t len, bool peek);

/*
 * Writes plaintext: returns the bytes taken (> 0; one record's worth or
 * more, maybe fewer than len), or the errors of sk__tls_read.  After a
 * WANT the next call must offer at least the same bytes again (the buffer
 * may move).
 */
ssize_t sk__tls_write(sk__tls *t, const void *buf, size_t len);

/*
 * One step of the orderly shutdown: sends close_notify, then reads (and
 * discards) until the peer's.  Returns 0 when both are done, WANT_*, or an
 * error (SK_ETLS_EOF when the peer just closed).
 */
int sk__tls_shutdown_step(sk__tls *t);

/* One step of sending close_notify (the first half of
 * sk__tls_shutdown_step): 0 once sent, SK_ETLS_WANT_WRITE, or an error;
 * reading may go on afterwards (TLS 1.3 half-close). */
int sk__tls_send_close_notify(sk__tls *t);

/* Sends close_notify if the socket takes it at once, never waiting; for
 * closing.  No effect before the handshake completed or after a failure. */
void sk__tls_close_notify(sk__tls *t);

/* Accessors behind the public sk_tls_* ones (NULL/false/-ENODATA when not
 * established). */
const char *sk__tls_version(const sk__tls *t);
const char *sk__tls_cipher(const sk__tls *t);
const char *sk__tls_alpn(const sk__tls *t);
bool sk__tls_reused(const sk__tls *t);
int sk__tls_export(const sk__tls *t, const char *label, const void *context,
                   size_t context_len, void *out, size_t len);
int sk__tls_verify_result(const sk__tls *t);
size_t sk__tls_pending(const sk__tls *t);
int sk__tls_peer_cert(const sk__tls *t, sk_tls_cert_info *out);

/*
 * A wrapped sk_sock's I/O (s->tls != NULL), with the returns of their
 * plain twins in internal.h: the call waits under `deadline` whenever TLS
 * wants the descriptor readable or writable; a non-blocking socket gets
 * SK_ETLS_WANT_READ / SK_ETLS_WANT_WRITE instead of -EAGAIN.  flags: recv
 * takes MSG_PEEK and MSG_DONTWAIT, send MSG_DONTWAIT and MSG_NOSIGNAL;
 * others give -EOPNOTSUPP.
 */
ssize_t sk__tls_sock_recv_dl(sk_sock *s, void *buf, size_t len, int flags,
                             int64_t deadline);
ssize_t sk__tls_sock_send_dl(sk_sock *s, const void *buf, size_t len, int flags,
                             int64_t deadline);

/* For sk_sock_shutdown: close_notify under the socket's timeout.  Returns
 * 0, SK_ETIMEOUT, a want (non-blocking), or an error. */
int sk__tls_sock_close_notify(sk_sock *s);

/* Ends the TLS of a socket being closed (close_notify without waiting) or
 * detached (`notify` false: none), freeing the state. */
void sk__tls_sock_release(sk_sock *s, bool notify);

#endif /* SOCKIT_TLS_H */
