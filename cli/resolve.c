/* SPDX-License-Identifier: MIT */
/*
 * cli/resolve.c - `sockit resolve`: prints every getaddrinfo result for a host
 * (and service), then the local host name and fully qualified name.
 *
 * One result per line, key=value:
 *   family=AF_INET6 type=SOCK_STREAM protocol=6(tcp) canonname=localhost address=[::1]:7
 */
#include "cli.h"
#include "client.h"

#include <netdb.h>

static const struct client_cmd resolve_cmd = {
    .name = "resolve",
    .default_port = -1,
    .opts = CLIENT_OPT_FAMILY | CLIENT_OPT_TIMEOUT,
    .args = "HOST [SERVICE]",
    .summary = "Print every getaddrinfo result for HOST (and SERVICE, a port number\n"
               "or a service name), one per line: family, socket type, protocol,\n"
               "canonical name and address.  Then print the local host name and its\n"
               "fully qualified name.",
    .details = "--timeout bounds the lookup.\n",
};

static const char *family_name(int family)
{
    switch (family) {
    case AF_INET: return "AF_INET";
    case AF_INET6: return "AF_INET6";
    case AF_UNIX: return "AF_UNIX";
    default: return NULL;
    }
}

static const char *type_name(int type)
{
    switch (type) {
    case SOCK_STREAM: return "SOCK_STREAM";
    case SOCK_DGRAM: return "SOCK_DGRAM";
    case SOCK_RAW: return "SOCK_RAW";
    case SOCK_SEQPACKET: return "SOCK_SEQPACKET";
    default: return NULL;
    }
}

/* Names for the protocols getaddrinfo commonly returns; the number is
 * always printed, so an unknown one loses nothing. */
static const char *protocol_name(int proto)
{
    switch (proto) {
    case IPPROTO_IP: return "ip";
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_SCTP: return "sctp";
    default: return NULL;
    }
}

/* Prints one result as a key=value line; the address without its port
 * when no SERVICE was asked for (the port is then 0). */
static void print_result(const sk_addrinfo *ai, bool with_port)
{
    const char *f = family_name(ai->family), *t = type_name(ai->type);
    const char *p = protocol_name(ai->protocol);
    char addr[SK_ADDRSTRLEN];
    int rc;

    if (f != NULL)
        printf("family=%s", f);
    else
        printf("family=%d", ai->family);
    if (t != NULL)
        printf(" type=%s", t);
    else
        printf(" type=%d", ai->type);
    printf(" protocol=%d", ai->protocol);
    if (p != NULL)
        printf("(%s)", p);
    printf(" canonname=%s", ai->canonname != NULL ? ai->canonname : "-");
    rc = with_port ? sk_addr_format(&ai->addr, addr, sizeof(addr))
                   : sk_addr_format_ip(&ai->addr, addr, sizeof(addr));
    printf(" address=%s\n", rc >= 0 ? addr : "?");
}

/* The local host name and its fully qualified form. */
static int print_local_names(void)
{
    char name[256], fqdn[256];
    int rc;

    rc = sk_gethostname(name, sizeof(name));
    if (rc < 0) {
        cli_error_code("resolve: gethostname", rc);
        return -1;
    }
    printf("hostname=%s\n", name);
    rc = sk_getfqdn(NULL, fqdn, sizeof(fqdn));
    if (rc < 0) {
        cli_error_code("resolve: getfqdn", rc);
        return -1;
    }
    printf("fqdn=%s\n", fqdn);
    return 0;
}

int cmd_resolve(int argc, char **argv)
{
    sk_addrinfo *list = NULL;
    struct client c;
    int status, rc;

    if (!client_parse(&c, &resolve_cmd, argc, argv, &status))
        return status;
    rc = sk_getaddrinfo(c.host, c.port, c.family, 0, 0, AI_CANONNAME, c.timeout, &list);
    if (rc < 0) {
        client_error(&c, "%s", sk_strerror(rc));
        return CLI_EXIT_FAIL;
    }
    for (const sk_addrinfo *ai = list; ai != NULL; ai = ai->next)
        print_result(ai, c.port != NULL);
    sk_addrinfo_free(list);
    if (print_local_names() < 0)
        return CLI_EXIT_FAIL;
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
