/* SPDX-License-Identifier: MIT */
/*
 * cli/client.h - what the client subcommands (time, daytime, qotd, echo,
 * chargen, discard, resolve) share: option parsing, --help text, the TCP
 * connect, and the UDP request/retry loop.
 *
 * Every function here that can fail prints its own one-line error
 * ("sockit: <what>: <why>") and returns -1, so a subcommand only has to map
 * -1 to CLI_EXIT_FAIL.
 */
#ifndef SOCKIT_CLI_CLIENT_H
#define SOCKIT_CLI_CLIENT_H

#include "sockit.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The options a subcommand can take, beyond --help. */
#define CLIENT_OPT_UDP     0x01u /* -u, --udp */
#define CLIENT_OPT_FAMILY  0x02u /* -4, -6 */
#define CLIENT_OPT_TIMEOUT 0x04u /* -t, --timeout SECONDS */
#define CLIENT_OPT_JSON    0x08u /* --json */
#define CLIENT_OPT_BYTES   0x10u /* -n, --bytes N */
#define CLIENT_OPT_TLS     0x20u /* --tls, --cafile F, --servername N, --insecure */

#define CLIENT_DEFAULT_TIMEOUT 5.0
#define CLIENT_MAX_TIMEOUT 86400.0

/* The UDP payload limit (65535 minus the IPv4 and UDP headers). */
#define CLIENT_UDP_MAX 65507

/* A subcommand's description: what it accepts and what --help says. */
struct client_cmd {
    const char *name;       /* subcommand name: "time" */
    int default_port;       /* standard port; -1: the second argument is a
                               SERVICE passed to the resolver as it is */
    unsigned opts;          /* CLIENT_OPT_* accepted */
    bool messages;          /* more arguments may follow PORT (echo) */
    const char *args;       /* argument synopsis: "HOST [PORT]" */
    const char *summary;    /* one line on what the command does */
    const char *details;    /* more help text after the options, or NULL */
    uint64_t default_bytes; /* --bytes default when CLIENT_OPT_BYTES */
};

/* One run of a client subcommand: the parsed command line. */
struct client {
    const struct client_cmd *cmd;
    int family;            /* AF_UNSPEC, AF_INET or AF_INET6 */
    double timeout;        /* seconds, > 0 */
    bool udp;
    bool json;
    uint64_t bytes;
    bool bytes_given;      /* --bytes was on the command line */
    const char *host;
    const char *port;      /* port text for the resolver; NULL only for a
                              command without a default (resolve) */
    char portbuf[16];      /* holds the default port's text */
    bool tls;              /* --tls: TCP under TLS */
    const char *cafile;    /* --cafile: more trusted CAs */
    const char *servername; /* --servername: SNI and the name checked (NULL: host) */
    bool insecure;         /* --insecure: no certificate verification */
    char **extra;          /* arguments after PORT (echo's messages) */
    int nextra;
    char where[300];       /* "host:port" or "[v6]:port" for messages */
};

/*
 * Parses the subcommand's arguments into *c (argv[0] is the subcommand's
 * name).  Returns true when the command should run.  Otherwise *status is
 * the exit status to return: CLI_EXIT_OK after printing --help to stdout,
 * CLI_EXIT_USAGE after printing the error (unknown option, bad value, bad
 * port, missing HOST, extra arguments) to stderr.
 */
bool client_parse(struct client *c, const struct client_cmd *cmd, int argc,
                  char **argv, int *status);

/* Writes the subcommand's --help text. */
void client_usage(const struct client_cmd *cmd, FILE *out);

/* Prints "sockit: <cmd> <where>: <fmt...>" to stderr. */
void client_error(const struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Connects over TCP to the host and port (all addresses, Happy Eyeballs,
 * one deadline of c->timeout), and gives the socket c->timeout for each
 * later call.  With --tls the TLS handshake follows under the same
 * deadline, the certificate checked against --servername or HOST (not at
 * all with --insecure, which warns on stderr).  Returns 0 with the socket
 * in *out, or -1 after printing "sockit: connect <where>: <why>", or for a
 * TLS failure "sockit: <cmd>: <where>: <why>" (e.g. "certificate verify
 * failed: hostname mismatch").
 */
int client_connect(struct client *c, sk_sock **out);

/*
 * Reads from a stream socket until end of stream, storing at most `size`
 * bytes.  Returns the number stored (*more set when the stream held more
 * than `size` bytes; reading then stops), or -1 after printing an error.
 * The whole read shares one deadline of c->timeout.
 */
ssize_t client_read_to_eof(struct client *c, sk_sock *s, void *buf,
                           size_t size, bool *more);

/* A UDP conversation with one server: the socket and the resolver's
 * addresses, of which `cur` is the one in use. */
struct client_udp {
    sk_sock *sock;
    sk_addrinfo *addrs;
    const sk_addrinfo *cur;
    unsigned sent;         /* datagrams sent by the last request */
};

/* What a UDP reply check says about one datagram. */
enum client_reply {
    CLIENT_REPLY_TAKE,     /* this is the reply */
    CLIENT_REPLY_IGNORE    /* a stray (e.g. a late duplicate): keep waiting */
};
typedef enum client_reply (*client_reply_fn)(const void *buf, size_t len,
                                             void *arg);

/*
 * Resolves the host and port for UDP and opens a socket connected to the
 * first address it can (connected, so only the server's datagrams arrive
 * and an ICMP "port unreachable" is reported).  Returns 0, or -1 after printing
 * the error.  Release with client_udp_close.
 */
int client_udp_open(struct client *c, struct client_udp *u);
void client_udp_close(struct client_udp *u);

/*
 * Sends `req` and waits for the reply, resending with backoff (0.5 s, then
 * doubling) while c->timeout, counted from this call, lasts.  A refused
 * datagram moves on to the resolver's next address, if any.  Datagrams
 * that `check` (may be NULL) marks IGNORE are skipped.  Returns the reply's
 * length (stored in buf, at most `size` bytes; longer ones are cut), or -1
 * after printing the error (no reply in time, refused, ...).
 */
ssize_t client_udp_request(struct client *c, struct client_udp *u,
                           const void *req, size_t reqlen, void *buf,
                           size_t size, client_reply_fn check, void *arg);

/*
 * The exchange of the services that speak without being asked (time,
 * daytime, qotd): over TCP, connect and read until the server closes; over
 * UDP, send an empty datagram (resent on loss) and take the reply.  Returns
 * the reply's length (stored in buf), or -1 after printing the error; a
 * reply longer than `size` bytes is an error.
 */
ssize_t client_ask(struct client *c, void *buf, size_t size);

/*
 * client_ask for the text services (daytime, qotd): the reply must be plain
 * text (reply_text_check) and not empty once its line ending is trimmed.
 * Returns the trimmed length (> 0), or -1 after printing the error, in
 * which `what` names the reply ("reply", "quote").
 */
ssize_t client_ask_text(struct client *c, char *buf, size_t size, const char *what);

#endif /* SOCKIT_CLI_CLIENT_H */
