/* SPDX-License-Identifier: MIT */
/*
 * examples/addrinfo.c - prints every address getaddrinfo finds for a host (and
 * optional service), then the local host name: the C twin of
 *
 *     for family, type, proto, canonname, sockaddr in socket.getaddrinfo(HOST, SERVICE):
 *         print(family, type, proto, sockaddr)
 *     print("local host name is", socket.gethostname())
 *
 * Usage: addrinfo HOST [SERVICE]           (e.g. addrinfo localhost http)
 */
#include "sockit.h"

#include <stdio.h>

#define PROG "addrinfo"

static const char *family_name(int family, char *buf, size_t size)
{
    if (family == AF_INET)
        return "AF_INET";
    if (family == AF_INET6)
        return "AF_INET6";
    snprintf(buf, size, "%d", family);
    return buf;
}

static const char *type_name(int type, char *buf, size_t size)
{
    if (type == SOCK_STREAM)
        return "SOCK_STREAM";
    if (type == SOCK_DGRAM)
        return "SOCK_DGRAM";
    if (type == SOCK_RAW)
        return "SOCK_RAW";
    snprintf(buf, size, "%d", type);
    return buf;
}

static const char *proto_name(int proto, char *buf, size_t size)
{
    if (proto == IPPROTO_TCP)
        return "IPPROTO_TCP";
    if (proto == IPPROTO_UDP)
        return "IPPROTO_UDP";
    snprintf(buf, size, "%d", proto);
    return buf;
}

int main(int argc, char **argv)
{
    sk_addrinfo *list;
    char name[256];
    int rc;

    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fprintf(stderr, "usage: " PROG " HOST [SERVICE]\n");
        return 2;
    }
    /* Any family, any type, no flags: what socket.getaddrinfo(host, service)
     * asks for.  The lookup gives up after 10 seconds. */
    rc = sk_getaddrinfo(argv[1], argc > 2 ? argv[2] : NULL, AF_UNSPEC, 0, 0, 0, 10.0, &list);
    if (rc < 0) {
        fprintf(stderr, PROG ": %s%s%s: %s\n", argv[1], argc > 2 ? " " : "",
                argc > 2 ? argv[2] : "", sk_strerror(rc));
        return 1;
    }
    for (const sk_addrinfo *ai = list; ai != NULL; ai = ai->next) {
        char f[16], t[16], p[16], addr[SK_ADDRSTRLEN];

        sk_addr_format(&ai->addr, addr, sizeof addr);
        printf("%-8s %-11s %-11s %s\n", family_name(ai->family, f, sizeof f),
               type_name(ai->type, t, sizeof t), proto_name(ai->protocol, p, sizeof p), addr);
    }
    sk_addrinfo_free(list);

    rc = sk_gethostname(name, sizeof name);
    if (rc < 0) {
        fprintf(stderr, PROG ": gethostname: %s\n", sk_strerror(rc));
        return 1;
    }
    printf("local host name is %s\n", name);
    return 0;
}
