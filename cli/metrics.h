/* SPDX-License-Identifier: MIT */
/*
 * cli/metrics.h - the Prometheus endpoint of `sockit serve --metrics`
 * (cli/metrics.c): HTTP/1.1 GET /metrics on its own thread and loop, the
 * text format 0.0.4 built from the server's per-service counters.
 */
#ifndef SOCKIT_CLI_METRICS_H
#define SOCKIT_CLI_METRICS_H

#include "services.h"
#include "sockit.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct serve_metrics serve_metrics;

/* What the endpoint reports about one added service (in the order of the
 * sk_server_add_* calls, so entry i is sk_server_stats_get_service's i).
 * Entries with the same name and protocol (one per --bind address) are
 * summed into one series. */
typedef struct metrics_service {
    const char *name; /* "echo", ... */
    bool tcp;
} metrics_service;

/* Parses a --metrics value: "ADDR:PORT", "[V6]:PORT", or a Unix socket
 * path (one containing '/').  Returns 0, or -1 after printing why. */
int metrics_parse_addr(const char *where, sk_addr *out);

/*
 * Binds `where` ("ADDR:PORT", "[V6]:PORT", or a Unix socket path: one
 * containing '/') and starts serving the counters of `srv` (and the UDP
 * guard's drops, `guard` may be NULL, and the ntp service's NTS counts,
 * `nts` may be NULL) from a thread of its own.  `svcs` is copied.  Call it before sk_server_run; the server must outlive
 * metrics_stop.  Returns 0, or -1 after printing "sockit: --metrics: why".
 */
int metrics_start(serve_metrics **out, const char *where, sk_server *srv,
                  const metrics_service *svcs, size_t n, svc_udpguard *guard,
                  const svc_ntp *nts);

/* Adds the stamp service's counters to the scrapes (sockit_stamp_*); call
 * before sk_server_run.  `s` must outlive metrics_stop; NULL: none. */
void metrics_set_stamp(serve_metrics *m, svc_stamp *s);

/* Stops the thread, closes every socket (and removes a Unix socket file it
 * created).  NULL is allowed. */
void metrics_stop(serve_metrics *m);

/*
 * Writes the exposition text for the current counters into a malloc'ed
 * buffer (*out, *len).  Returns 0 or -ENOMEM.  Exposed for the fuzz and
 * unit tests; the endpoint calls it per request.
 */
int metrics_render(serve_metrics *m, char **out, size_t *len);

/*
 * Reads an HTTP request head from buf[len]: returns the status to answer
 * (200 for "GET /metrics", 404 for any other well-formed request, 400 for
 * a malformed one), or 0 when the head is not complete yet.  Pure.
 */
int metrics_request_status(const char *buf, size_t len);

#endif /* SOCKIT_CLI_METRICS_H */
