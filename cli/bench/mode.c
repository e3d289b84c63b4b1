/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/mode.c - the names of bench's modes, below both the run
 * (bench.c) and the readers of its results (merge.c), which both turn a
 * name into a mode.
 */
#include "bench.h"

#include <string.h>

int bench_mode_parse(const char *name, bench_mode_id *id, const char **canonical)
{
    static const struct {
        const char *name;
        bench_mode_id id;
    } modes[] = {
        {"echo", BENCH_ECHO},
        {"stream", BENCH_STREAM},
        {"connect", BENCH_CONNECT},
        {"udp", BENCH_UDP},
        {"ntp", BENCH_NTP},
        {"stamp", BENCH_STAMP},
    };

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(name, modes[i].name) == 0) {
            *id = modes[i].id;
            *canonical = modes[i].name;
            return 0;
        }
    }
    return -1;
}
