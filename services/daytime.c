/*
 * daytime.c - RFC 867: one human-readable date line.
 *
 * The default is ctime's layout in UTC ("Sat Nov 21 17:31:49 2026\r\n"),
 * what the classic servers send; RFC 3339 ("2026-11-21T17:31:49Z\r\n") is
 * the option for machines.  Names are spelled out here rather than taken
 * from strftime so the line never depends on the locale.
 */
#include "services.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

static const char daytime_days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char daytime_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int svc_daytime_format(int64_t t, svc_daytime_style fmt, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    int n;

    if (gmtime_r(&tt, &tm) == NULL)
        return -EOVERFLOW;
    if (fmt == SVC_DAYTIME_RFC3339)
        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ\r\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    else
        n = snprintf(buf, size, "%s %s %2d %02d:%02d:%02d %d\r\n",
                     daytime_days[tm.tm_wday], daytime_months[tm.tm_mon], tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    return n;
}

/* The line for now, per the daemon's settings. */
static int daytime_now(void *arg, char *buf, size_t size)
{
    const svc_env *env = arg;

    return svc_daytime_format(svc_wallclock(),
                              env != NULL ? env->daytime_format : SVC_DAYTIME_CTIME,
                              buf, size);
}

static void daytime_on_open(sk_conn *c)
{
    char line[64];
    int n = daytime_now(sk_conn_arg(c), line, sizeof(line));

    if (n < 0) {
        sk_conn_abort(c);
        return;
    }
    svc_oneshot_start(c, sk_conn_data(c), line, (size_t)n);
}

static void daytime_on_datagram(sk_dgram *d, const void *data, size_t len,
                                const sk_addr *from)
{
    char line[64];
    int n;

    (void)data;
    (void)len;
    if (!svc_udp_admit(d, from))
        return;
    n = daytime_now(sk_dgram_arg(d), line, sizeof(line));
    if (n >= 0)
        svc_udp_send(d, from, line, (size_t)n, SVC_UDP_MAX);
}

const sk_tcp_handler svc_daytime_tcp = {
    .conn_size = sizeof(svc_oneshot),
    .on_open = daytime_on_open,
    .on_data = svc_ignore_input,
    .on_drain = svc_oneshot_drain,
};

const sk_udp_handler svc_daytime_udp = {
    .on_datagram = daytime_on_datagram,
};
