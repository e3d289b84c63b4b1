/* SPDX-License-Identifier: MIT */
/*
 * services/table.c - the eight services by name and standard port, for the
 * daemon to choose from.  ntp and stamp are UDP only and want receive
 * timestamps; stamp also wants each datagram's TTL and TOS.
 */
#include "services.h"

#include <string.h>

const svc_service svc_table[SVC_COUNT] = {
    {"echo", 7, &svc_echo_tcp, &svc_echo_udp, 0},
    {"discard", 9, &svc_discard_tcp, &svc_discard_udp, 0},
    {"daytime", 13, &svc_daytime_tcp, &svc_daytime_udp, 0},
    {"qotd", 17, &svc_qotd_tcp, &svc_qotd_udp, 0},
    {"chargen", 19, &svc_chargen_tcp, &svc_chargen_udp, 0},
    {"time", 37, &svc_time_tcp, &svc_time_udp, 0},
    {"ntp", 123, NULL, &svc_ntp_udp, SK_SERVER_RXTIME},
    {"stamp", 862, NULL, &svc_stamp_udp, SK_SERVER_RXTIME | SK_SERVER_RXTTL},
};

int svc_find(const char *name)
{
    for (int i = 0; i < SVC_COUNT; i++)
        if (strcmp(svc_table[i].name, name) == 0)
            return i;
    return -1;
}
