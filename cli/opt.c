/* SPDX-License-Identifier: MIT */
/*
 * cli/opt.c - the option layer (see opt.h).
 *
 * Map:
 *   cli_opts_start / cli_opts_next   the one getopt_long loop: adds -h and
 *                                    --help, resets getopt once, turns
 *                                    '?' and ':' into one-line messages
 *   cli_bad_value, cli_usage_error   the two usage-error lines
 *   plain_unsigned, plain_decimal    the strict number scanners below
 *                                    every parser
 *   cli_parse_port ... _cidr         one parser per kind of value
 */
#include "opt.h"

#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- the option loop ------------------------------------------------------ */

void cli_opts_start(cli_opts *p, const char *cmd, int argc, char **argv,
                    const char *shortopts, const struct option *longopts,
                    cli_help_fn help, const void *help_arg)
{
    size_t n = 0;

    memset(p, 0, sizeof(*p));
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->help = help;
    p->help_arg = help_arg;
    if (shortopts == NULL)
        shortopts = "";
    if (strlen(shortopts) + 3 > sizeof(p->shortopts))
        abort();
    /* ':' first: a missing value comes back as ':' rather than '?'. */
    snprintf(p->shortopts, sizeof(p->shortopts), ":h%s", shortopts);
    for (; longopts != NULL && longopts[n].name != NULL; n++) {
        if (n == CLI_OPTS_MAX_LONG)
            abort();
        p->longopts[n] = longopts[n];
    }
    p->longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    p->longopts[n] = (struct option){NULL, 0, NULL, 0};
    opterr = 0; /* our own messages, in the "sockit: what: why" form */
    /* glibc resets getopt's position inside a word ("-ux") only for
     * optind 0; 1 would resume a word an earlier parse stopped in. */
#ifdef __GLIBC__
    optind = 0;
#else
    optind = 1;
#endif
}

/* True when `opt` is the value of one of the loop's options. */
static bool option_known(const cli_opts *p, int opt)
{
    if (opt > 0 && opt <= 0xff && opt != ':' && strchr(p->shortopts, opt) != NULL)
        return true;
    for (const struct option *o = p->longopts; o->name != NULL; o++)
        if (o->flag == NULL && o->val == opt && opt != 0)
            return true;
    return false;
}

/*
 * The option as the user wrote it, for messages.  optind is past the word
 * of a long option, but not past a short option in the middle of its word
 * ("-x4"), where argv[optind - 1] is the word before.  So a long option is
 * told by optopt instead: 0 for an unknown one, the option's value for a
 * known one given a value it does not take or missing its value; an
 * unknown short option leaves its own, unknown letter there.
 */
static const char *given_option(const cli_opts *p, char *buf, size_t size)
{
    const char *word = optind > 0 && optind <= p->argc ? p->argv[optind - 1] : "";
    bool is_long = strncmp(word, "--", 2) == 0 && (optopt == 0 || option_known(p, optopt));

    if (is_long)
        snprintf(buf, size, "%.*s", (int)strcspn(word, "="), word);
    else
        snprintf(buf, size, "-%c", optopt);
    return buf;
}

int cli_opts_next(cli_opts *p, const char **arg)
{
    char given[64];
    int opt = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);

    *arg = optarg;
    p->optind = optind;
    switch (opt) {
    case -1:
        return CLI_OPTS_END;
    case 'h':
        p->help(stdout, p->help_arg);
        return CLI_OPTS_HELP;
    case ':':
        cli_usage_error(p->cmd, "option '%s' needs a value",
                        given_option(p, given, sizeof(given)));
        return CLI_OPTS_BAD;
    case '?':
        /* A known option reported as '?' was given a value ("--udp=1"). */
        cli_usage_error(p->cmd, option_known(p, optopt) ? "option '%s' takes no value"
                                                        : "unknown option '%s'",
                        given_option(p, given, sizeof(given)));
        return CLI_OPTS_BAD;
    default:
        return opt;
    }
}

int cli_opts_status(int rc)
{
    return rc == CLI_OPTS_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* ---- the two usage-error lines ------------------------------------------------ */

void cli_bad_value(const char *cmd, const char *kind, const char *value)
{
    fprintf(stderr, "sockit: %s: bad %s '%s' (try 'sockit %s --help')\n", cmd, kind,
            value, cmd);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    fprintf(stderr, "sockit: %s: %s (try 'sockit %s --help')\n", cmd, why, cmd);
    return CLI_EXIT_USAGE;
}

/* ---- strict number scanners ------------------------------------------------- */

/* Decimal digits only, at least one, the whole text; false on overflow. */
static bool plain_unsigned(const char *text, uint64_t *out)
{
    uint64_t v = 0;

    if (*text == '\0')
        return false;
    for (const char *c = text; *c; c++) {
        unsigned d = (unsigned)(*c - '0');

        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Digits with at most one '.', at least one digit: "2", "0.25", ".5", "3.".
 * strtod alone would also take signs, blanks, "inf", "nan", hex and
 * exponents. */
static bool plain_decimal(const char *text, double *out)
{
    int digits = 0, dots = 0;
    char *end;
    double v;

    for (const char *c = text; *c; c++) {
        if (isdigit((unsigned char)*c))
            digits++;
        else if (*c == '.' && dots++ == 0)
            continue;
        else
            return false;
    }
    if (digits == 0)
        return false;
    errno = 0;
    v = strtod(text, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* ---- one parser per kind ------------------------------------------------------ */

int cli_parse_port(const char *cmd, const char *text, const char *proto,
                   bool zero_ok, int *out)
{
    uint64_t v;
    int port;

    if (plain_unsigned(text, &v))
        port = v <= 65535 ? (int)v : -1;
    else if (proto != NULL && text[0] != '\0' && !isdigit((unsigned char)text[0]))
        port = sk_port_parse(text, proto); /* a service name */
    else
        port = -1;
    if (port < 0 || (port == 0 && !zero_ok)) {
        cli_bad_value(cmd, "port", text);
        return -1;
    }
    *out = port;
    return 0;
}

int cli_opts_host_port(const cli_opts *p, const char *proto, int default_port,
                       bool port_required, const char **host, int *port)
{
    int n = p->argc - p->optind;

    if (n < (port_required ? 2 : 1))
        return cli_usage_error(p->cmd, port_required ? "missing HOST or PORT" : "missing HOST");
    if (n > 2)
        return cli_usage_error(p->cmd, "unexpected argument '%s'", p->argv[p->optind + 2]);
    *host = p->argv[p->optind];
    if ((*host)[0] == '\0') {
        cli_bad_value(p->cmd, "address", *host);
        return CLI_EXIT_USAGE;
    }
    *port = default_port;
    if (n == 2 && cli_parse_port(p->cmd, p->argv[p->optind + 1], proto, CLI_ZERO_BAD, port) < 0)
        return CLI_EXIT_USAGE;
    return 0;
}

int cli_parse_count(const char *cmd, const char *text, long min, long max,
                    long *out)
{
    uint64_t v;

    if (!plain_unsigned(text, &v) || v < (uint64_t)(min > 0 ? min : 0) ||
        v > (uint64_t)max) {
        cli_bad_value(cmd, "count", text);
        return -1;
    }
    *out = (long)v;
    return 0;
}

int cli_parse_size(const char *cmd, const char *text, uint64_t min,
                   uint64_t max, uint64_t *out)
{
    uint64_t v;

    if (!plain_unsigned(text, &v) || v < min || v > max) {
        cli_bad_value(cmd, "size", text);
        return -1;
    }
    *out = v;
    return 0;
}

/* A plain decimal in (0, max], or [0, max] with zero_ok. */
static int parse_positive(const char *cmd, const char *kind, const char *text,
                          bool zero_ok, double max, double *out)
{
    double v;

    if (!plain_decimal(text, &v) || v > max || (v == 0 && !zero_ok)) {
        cli_bad_value(cmd, kind, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_duration(const char *cmd, const char *text, bool zero_ok,
                       double max, double *out)
{
    return parse_positive(cmd, "duration", text, zero_ok, max, out);
}

int cli_parse_rate(const char *cmd, const char *text, bool zero_ok,
                   double max, double *out)
{
    return parse_positive(cmd, "rate", text, zero_ok, max, out);
}

int cli_parse_address(const char *cmd, const char *text, sk_addr *out)
{
    sk_addr with_one;

    /* sk_addr_parse also takes "host:port" and Unix paths: an address
     * here has neither (a port given in the text survives both defaults). */
    if (strchr(text, '/') != NULL || text[0] == '@' || text[0] == '\0' ||
        sk_addr_parse(out, text, 0) < 0 || sk_addr_parse(&with_one, text, 1) < 0 ||
        sk_addr_port(&with_one) != 1) {
        cli_bad_value(cmd, "address", text);
        return -1;
    }
    return 0;
}

int cli_parse_endpoint(const char *cmd, const char *text, sk_addr *out)
{
    int rc = strchr(text, '/') != NULL ? sk_addr_from_unix(out, text)
                                       : sk_addr_parse(out, text, -1);

    if (rc < 0) {
        cli_bad_value(cmd, "address", text);
        return -1;
    }
    return 0;
}

int cli_parse_cidr(const char *cmd, const char *text, sk_cidr *out)
{
    if (sk_cidr_parse(out, text) < 0) {
        cli_bad_value(cmd, "address", text);
        return -1;
    }
    return 0;
}

int cli_parse_key_file(const char *cmd, const char *path, stamp_key *out)
{
    char line[512];
    size_t n = 0;
    FILE *f = fopen(path, "re");
    bool ok = false;

    if (f != NULL) {
        n = fread(line, 1, sizeof(line), f);
        ok = !ferror(f) && n > 0 && stamp_key_parse(out, line, n) == 0;
        fclose(f);
    }
    if (!ok)
        cli_bad_value(cmd, "key file", path);
    return ok ? 0 : -1;
}
