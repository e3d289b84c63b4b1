/* SPDX-License-Identifier: MIT */
/*
 * cli/main.c - the sockit command: dispatches to one function per subcommand.
 */
#include "cli.h"

#include "sockit.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", cmd_serve, "run the services as one daemon (see 'sockit serve --list-services')"},
    {"time", cmd_time, "ask an RFC 868 time server and compare with the local clock"},
    {"ntp", cmd_ntp, "ask an NTP server for the time: offset, delay, stratum, leap"},
    {"stamp", cmd_stamp, "measure delay, loss and TTL to a STAMP reflector (RFC 8762)"},
    {"daytime", cmd_daytime, "print an RFC 867 daytime server's date line"},
    {"qotd", cmd_qotd, "print an RFC 865 quote of the day"},
    {"echo", cmd_echo, "send lines to an RFC 862 echo server and check the replies"},
    {"chargen", cmd_chargen, "read and verify an RFC 864 character generator stream"},
    {"discard", cmd_discard, "send standard input to an RFC 863 discard server"},
    {"resolve", cmd_resolve, "show every getaddrinfo result for a host"},
    {"tls", cmd_tls, "probe a TLS server: version, cipher, certificate, days left"},
    {"bench", cmd_bench, "load a server and measure throughput and latency"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: sockit COMMAND [OPTIONS] [ARGS]\n"
                 "       sockit COMMAND --help\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nsee sockit(1) for the details.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sockit %s\n", sk_version_string());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    cli_error(argv[1], "unknown command (try 'sockit --help')");
    return CLI_EXIT_USAGE;
}
