/* SPDX-License-Identifier: MIT */
/*
 * services/table.c - the six simple services by name and standard port, for the
 * daemon to choose from.
 */
#include "services.h"

#include <string.h>

const svc_service svc_table[SVC_COUNT] = {
    {"echo", 7, &svc_echo_tcp, &svc_echo_udp},
    {"discard", 9, &svc_discard_tcp, &svc_discard_udp},
    {"daytime", 13, &svc_daytime_tcp, &svc_daytime_udp},
    {"qotd", 17, &svc_qotd_tcp, &svc_qotd_udp},
    {"chargen", 19, &svc_chargen_tcp, &svc_chargen_udp},
    {"time", 37, &svc_time_tcp, &svc_time_udp},
};

int svc_find(const char *name)
{
    for (int i = 0; i < SVC_COUNT; i++)
        if (strcmp(svc_table[i].name, name) == 0)
            return i;
    return -1;
}
