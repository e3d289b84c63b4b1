/* SPDX-License-Identifier: MIT */
/*
 * lib/server/log.h - the one rate-limited logger (lib/server/log.c), on its
 * own so that the UDP guard (services/udpguard.c) can use it without seeing
 * the rest of the server framework.
 *
 * Every line that may come in floods ("event=error", "event=proxy",
 * "event=udp_drop") goes out at most once per SK__RATELOG_MS per state and
 * says how many lines were suppressed since the last one ("suppressed=N").
 */
#ifndef SOCKIT_SERVER_LOG_H
#define SOCKIT_SERVER_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SK__RATELOG_MS 1000

/* The state of one rate-limited kind of line.  Valid when zeroed.  Safe to
 * share between threads (relaxed atomics; a line's suppressed count may
 * then be off by the lines racing it, never lost for good). */
typedef struct sk__ratelog {
    _Atomic uint64_t last_ms;    /* when the last line went out; 0: never */
    _Atomic uint64_t suppressed; /* lines not written since */
} sk__ratelog;

/*
 * Decides whether a line of this kind may go out at `now_ms` (any monotonic
 * clock in milliseconds): true when none went out in the last
 * SK__RATELOG_MS (or the clock went backwards), with the number of lines
 * suppressed since the last one in *suppressed (the count restarts).
 * Otherwise counts this line as suppressed and returns false.
 */
bool sk__ratelog_due(sk__ratelog *rl, uint64_t now_ms, uint64_t *suppressed);

/* Hands one line (no newline) to `sink`, or writes it with a newline to
 * stderr in one call (so lines of different threads stay whole) when
 * `sink` is NULL. */
void sk__log_emit(void (*sink)(void *arg, const char *line), void *arg, const char *line);

#endif /* SOCKIT_SERVER_LOG_H */
