/* SPDX-License-Identifier: MIT */
/*
 * cli/opt.h - the option layer every subcommand uses: one getopt_long loop
 * (one optind reset, one --help path, one message for an unknown or
 * incomplete option) and one parser per kind of value.
 *
 * A bad value is refused at once, before anything is resolved, bound or
 * sent, with exactly one line on stderr
 *
 *     sockit: CMD: bad KIND 'VALUE' (try 'sockit CMD --help')
 *
 * and the subcommand exits 2.  KIND is what was expected: port, count,
 * size, duration, rate or address.  Every number is plain decimal, whole
 * text: no sign, no blank, no exponent ("1e3"), no suffix ("12x"), no hex;
 * a number too large for its type is bad like any other out-of-range one.
 *
 * Use:
 *
 *     cli_opts p;
 *     int opt;
 *     const char *arg;
 *
 *     cli_opts_start(&p, "ntp", argc, argv, "46c:", longopts, help, NULL);
 *     while ((opt = cli_opts_next(&p, &arg)) > 0)
 *         if (apply(opt, arg) < 0)        // a cli_parse_* refused arg
 *             return CLI_EXIT_USAGE;
 *     if (opt != CLI_OPTS_END)
 *         return cli_opts_status(opt);    // 0 after --help, 2 after an error
 *     // operands: argv[p.optind .. argc - 1]
 *
 * `longopts` needs no "help" entry and `shortopts` no 'h' or leading ':':
 * the layer adds them.  Options are told apart from operands the GNU way
 * (permuted; "--" ends the options).
 */
#ifndef SOCKIT_CLI_OPT_H
#define SOCKIT_CLI_OPT_H

#include "sockit.h"
#include "stamp.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* What cli_opts_next returns besides an option's value (always > 0). */
#define CLI_OPTS_END 0    /* no more options; operands from p->optind */
#define CLI_OPTS_HELP (-1) /* --help was printed to stdout: exit 0 */
#define CLI_OPTS_BAD (-2)  /* a usage error was printed: exit 2 */

#define CLI_OPTS_MAX_LONG 48

/* Writes a subcommand's --help text; `arg` is cli_opts_start's help_arg. */
typedef void (*cli_help_fn)(FILE *out, const void *arg);

/* One subcommand's option loop.  Valid after cli_opts_start. */
typedef struct cli_opts {
    const char *cmd;       /* subcommand name, in every message */
    int argc;
    char **argv;
    int optind;            /* first operand, once cli_opts_next gave END */
    cli_help_fn help;
    const void *help_arg;
    char shortopts[64];
    struct option longopts[CLI_OPTS_MAX_LONG + 2];
} cli_opts;

/*
 * Prepares the loop over argv (argv[0] is the subcommand's name) and resets
 * getopt.  `shortopts` is getopt's short option string without 'h' and the
 * leading ':' (NULL or "" for none); `longopts` ends with a zeroed entry (at
 * most CLI_OPTS_MAX_LONG entries, NULL for none).  Aborts on a table too
 * big: that is a programming error, not a user's.
 */
void cli_opts_start(cli_opts *p, const char *cmd, int argc, char **argv,
                    const char *shortopts, const struct option *longopts,
                    cli_help_fn help, const void *help_arg);

/*
 * The next option: its value (> 0) with its argument in *arg (NULL when it
 * takes none), or CLI_OPTS_END, CLI_OPTS_HELP (help printed) or
 * CLI_OPTS_BAD ("unknown option", "needs a value" or "takes no value",
 * printed with the --help hint).
 */
int cli_opts_next(cli_opts *p, const char **arg);

/* The exit status for CLI_OPTS_HELP (0) and CLI_OPTS_BAD (2). */
int cli_opts_status(int rc);

/* Prints "sockit: CMD: bad KIND 'VALUE' (try 'sockit CMD --help')". */
void cli_bad_value(const char *cmd, const char *kind, const char *value);

/* Prints "sockit: CMD: WHY (try 'sockit CMD --help')" for a usage error
 * that is not one bad value (two options that exclude each other, a
 * missing operand).  Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The operands HOST [PORT] after the options (HOST PORT with
 * `port_required`): *host is HOST (an empty one is a bad address) and
 * *port the PORT as cli_parse_port reads it for `proto` (zero is bad), or
 * `default_port` when it is absent.  Returns 0, or CLI_EXIT_USAGE after one
 * line (a missing HOST or PORT, an extra operand, a bad value).
 */
int cli_opts_host_port(const cli_opts *p, const char *proto, int default_port,
                       bool port_required, const char **host, int *port);

/* ---- one parser per kind of value ---------------------------------------
 *
 * Each returns 0 with the value in *out, or -1 after cli_bad_value (the
 * caller returns CLI_EXIT_USAGE).  `cmd` names the subcommand.
 */

/* Where zero is a value of its own ("no limit", "the system picks"). */
#define CLI_ZERO_OK true
#define CLI_ZERO_BAD false

/*
 * A port: 1..65535 (0 too with zero_ok).  With `proto` ("tcp", "udp") a
 * service name ("daytime") is also taken; with NULL only numbers.
 */
int cli_parse_port(const char *cmd, const char *text, const char *proto,
                   bool zero_ok, int *out);

/* A count of things (connections, requests, threads): min..max. */
int cli_parse_count(const char *cmd, const char *text, long min, long max,
                    long *out);

/* A size in bytes: min..max. */
int cli_parse_size(const char *cmd, const char *text, uint64_t min,
                   uint64_t max, uint64_t *out);

/* A duration in seconds, a plain decimal ("2", "0.25"): more than 0 (or 0
 * too with zero_ok) and at most max. */
int cli_parse_duration(const char *cmd, const char *text, bool zero_ok,
                       double max, double *out);

/* A rate, per second, a plain decimal: more than 0 (or 0 too with zero_ok)
 * and at most max. */
int cli_parse_rate(const char *cmd, const char *text, bool zero_ok,
                   double max, double *out);

/* A numeric address ("127.0.0.1", "::1", "[::1]"), no port. */
int cli_parse_address(const char *cmd, const char *text, sk_addr *out);

/* Where to listen: "ADDR:PORT" ("127.0.0.1:9100", "[::1]:9100") or a Unix
 * socket path (with a '/'). */
int cli_parse_endpoint(const char *cmd, const char *text, sk_addr *out);

/* A network: an address or ADDR/PREFIX. */
int cli_parse_cidr(const char *cmd, const char *text, sk_cidr *out);

/* A STAMP HMAC key file (KIND "key file", the path as VALUE): its first
 * line in hex, 16 to 64 bytes (stamp_key_parse); a file that cannot be
 * read is as bad as a line that is anything else. */
int cli_parse_key_file(const char *cmd, const char *path, stamp_key *out);

#endif /* SOCKIT_CLI_OPT_H */
