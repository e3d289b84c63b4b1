/* SPDX-License-Identifier: MIT */
/*
 * cli/cli.h - what the sockit command's files share: one entry point per
 * subcommand, and the helpers for run-time errors (option values and usage
 * errors: cli/opt.h).
 *
 * Exit status everywhere: 0 success, 1 failure at run time (network error,
 * timeout, mismatch), 2 usage error.  Errors go to stderr as
 * "sockit: <what>: <why>".
 */
#ifndef SOCKIT_CLI_H
#define SOCKIT_CLI_H

#include <stdbool.h>
#include <stdint.h>


#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Subcommands: each gets argv with argv[0] the subcommand's name. */
int cmd_serve(int argc, char **argv);
int cmd_time(int argc, char **argv);
int cmd_ntp(int argc, char **argv);
int cmd_stamp(int argc, char **argv);
int cmd_daytime(int argc, char **argv);
int cmd_qotd(int argc, char **argv);
int cmd_echo(int argc, char **argv);
int cmd_chargen(int argc, char **argv);
int cmd_discard(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_tls(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Prints "sockit: what: why" (printf-style why) to stderr. */
void cli_error(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "sockit: what: sk_strerror(code)" to stderr. */
void cli_error_code(const char *what, int code);

/* Option values and usage errors: cli/opt.h. */

#endif /* SOCKIT_CLI_H */
