/* SPDX-License-Identifier: MIT */
/*
 * cli/svclist.h - what the command line says about svc_table, the one
 * service list: its names for messages, the --list-services lines and the
 * highest standard port.  Nothing in cli/ types a service list by hand.
 */
#ifndef SOCKIT_CLI_SVCLIST_H
#define SOCKIT_CLI_SVCLIST_H

#include <stddef.h>
#include <stdio.h>

/* "echo, discard, ..., ntp" into buf (cut to fit); returns buf. */
const char *svclist_names(char *buf, size_t size);

/* One line per service, "NAME PROTOCOLS STANDARD_PORT" ("echo tcp,udp 7",
 * "ntp udp 123"), in svc_table's order, each after `indent`. */
void svclist_print(FILE *out, const char *indent);

/* The highest standard port of any service (--port-base's cap is 65535
 * minus it). */
int svclist_max_port(void);

#endif /* SOCKIT_CLI_SVCLIST_H */
