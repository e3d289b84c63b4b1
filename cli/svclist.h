/* SPDX-License-Identifier: MIT */
/*
 * cli/svclist.h - what the command line says about svc_table, the one
 * service list: its names for messages, the --list-services lines, the
 * highest standard port, and the TLS twins derived from it.  Nothing in
 * cli/ types a service list by hand.
 *
 * Slots: the command line numbers what it can serve as slots.  Slot i <
 * SVC_COUNT is svc_table[i]; slot SVC_COUNT + i is the TLS twin of a TCP
 * service i, named "<name>-tls" ("echo-tls"), the same handler behind a
 * TLS handshake (sockit serve --tls-cert).  A UDP-only service (ntp) has
 * no twin: its slot is not valid.
 */
#ifndef SOCKIT_CLI_SVCLIST_H
#define SOCKIT_CLI_SVCLIST_H

#include "services.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SVCLIST_SLOTS (2 * SVC_COUNT)
#define SVCLIST_TLS_SUFFIX "-tls"

/* "echo, discard, ..., ntp" into buf (cut to fit); returns buf. */
const char *svclist_names(char *buf, size_t size);

/* One line per service, "NAME PROTOCOLS STANDARD_PORT" ("echo tcp,udp 7",
 * "ntp udp 123"), in svc_table's order, then one per TLS twin ("echo-tls
 * tcp 7"), each after `indent`. */
void svclist_print(FILE *out, const char *indent);

/* The highest standard port of any service (--port-base's cap is 65535
 * minus it), or of any TCP service when `tcp_only` (--tls-port-base's). */
int svclist_max_port(bool tcp_only);

/* The slot named `name` ("echo", "echo-tls"), or -1. */
int svclist_find(const char *name);

/* Whether `slot` is a service or a TLS twin of one. */
bool svclist_valid(int slot);

/* Whether `slot` is a TLS twin, and the svc_table index it serves. */
static inline bool svclist_is_tls(int slot)
{
    return slot >= SVC_COUNT;
}

static inline int svclist_base(int slot)
{
    return slot % SVC_COUNT;
}

/* The slot's name ("echo", "echo-tls"); static storage, valid for good. */
const char *svclist_name(int slot);

#endif /* SOCKIT_CLI_SVCLIST_H */
