/* SPDX-License-Identifier: MIT */
/*
 * cli/supervise.h - what `sockit serve` needs to run under a supervisor
 * rather than on its own:
 *
 *   activation    systemd's socket activation (LISTEN_PID, LISTEN_FDS,
 *                 LISTEN_FDNAMES): which service each inherited descriptor
 *                 carries (cli/activation.c)
 *   notify        readiness messages to NOTIFY_SOCKET: READY=1,
 *                 RELOADING=1, STOPPING=1 (cli/notify.c)
 *   inetd         one service on standard input, as inetd, xinetd and
 *                 systemd's Accept=yes hand it over (cli/inetd.c)
 *
 * cli/serve.c decides when each applies; these files hold the protocols.
 */
#ifndef SOCKIT_SUPERVISE_H
#define SOCKIT_SUPERVISE_H

#include "services.h"
#include "svclist.h"
#include "sockit.h"

#include <stdbool.h>

/* ---- socket activation ----------------------------------------------------- */

/* The first descriptor socket activation passes (SD_LISTEN_FDS_START). */
#define ACT_FIRST_FD 3
/* The most descriptors sockit serve takes over. */
#define ACT_MAX_FDS 128

/* One inherited descriptor and what it serves. */
typedef struct act_fd {
    int fd;
    int svc;      /* slot (cli/svclist.h): a service or its TLS twin */
    bool tcp;     /* SOCK_STREAM; else SOCK_DGRAM */
    bool by_name; /* placed by its LISTEN_FDNAMES entry, else by its port */
} act_fd;

/*
 * Takes the descriptors socket activation passed, when LISTEN_PID is this
 * process and LISTEN_FDS is at least 1: descriptors ACT_FIRST_FD and up get
 * close-on-exec, and each is placed: SO_TYPE says TCP or UDP, its
 * LISTEN_FDNAMES entry names the service ("echo", or with a suffix after
 * '-' or '.': "echo-v6", "time.udp"; a TLS twin as "echo-tls",
 * "echo-tls-v6"), or else its local port does (one of `ports`, the ports
 * the slots would be bound at, or a standard port).
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are unset in every case, so no
 * child inherits them.  Returns the number of descriptors stored in out[],
 * 0 when the process was not socket-activated (no LISTEN_PID, or another
 * process's), or -1 after printing "sockit: LISTEN_FDS: ..." naming the
 * descriptor that could not be placed.
 */
int act_take_fds(act_fd *out, int max, const int ports[SVCLIST_SLOTS]);

/* The slot at `port`: one of `ports` (the configured ones) first, then a
 * standard port (a plain service's).  -1 if none. */
int act_service_of_port(int port, const int ports[SVCLIST_SLOTS]);

/* ---- readiness notification ------------------------------------------------ */

/*
 * Opens a datagram socket for the address in NOTIFY_SOCKET (a path, or '@'
 * for Linux's abstract namespace) and unsets the variable.  Without
 * NOTIFY_SOCKET this does nothing and notify_send is a no-op.  Returns 0,
 * or -1 after printing why (an address that is not a Unix socket path).
 */
int notify_open(void);

/* Sends one state message ("READY=1", "STOPPING=1"...) if notify_open found
 * a socket; a failure is ignored (the supervisor's timeout reports it).
 * Async-signal-safe: only sendto(2) and strlen. */
void notify_send(const char *state);

/* "RELOADING=1" with the MONOTONIC_USEC systemd asks for alongside. */
void notify_reloading(void);

/* Closes the socket.  Idempotent. */
void notify_close(void);

/* ---- inetd mode ------------------------------------------------------------- */

/* What inetd (or the user) left on standard input. */
typedef enum inetd_kind {
    INETD_STREAM,  /* a connected stream socket: serve that connection */
    INETD_DGRAM,   /* a bound datagram socket: answer until idle */
    INETD_PIPE,    /* not a socket (a pipe, a terminal): stream over 0 and 1 */
} inetd_kind;

typedef struct inetd_stdin {
    inetd_kind kind;
    sk_addr local; /* the socket's address (INETD_STREAM, INETD_DGRAM) */
} inetd_stdin;

/*
 * Looks at descriptor 0.  Descriptors 1 and 2 that are the same socket
 * (inetd passes the connection as stdin, stdout and stderr alike) are
 * pointed at /dev/null, so that no log line can mix into the protocol's
 * bytes and closing descriptor 0 really closes the connection.  Returns 0,
 * or -1 after printing why (a listening socket, or no fd 0).
 */
int inetd_probe(inetd_stdin *in);

/*
 * Serves service `svc` on what inetd_probe found, with `cfg` (its threads
 * are forced to 1) and the handlers' `env`: a stream until it ends, a
 * datagram socket until no datagram came for `idle` seconds (0: until a
 * signal).  SIGINT and SIGTERM stop it early.  Returns the exit status.
 */
int inetd_serve(const inetd_stdin *in, int svc, const sk_server_config *cfg, svc_env *env,
                double idle);

#endif /* SOCKIT_SUPERVISE_H */
