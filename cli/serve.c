/* SPDX-License-Identifier: MIT */
/*
 * cli/serve.c - `sockit serve`: runs the services of svc_table as one daemon,
 * as the options cli/serve_opts.c parsed into a serve_opts (cli/serve.h)
 * ask.
 *
 *   addresses       the --bind values (or the wildcard) as addresses
 *   setup           raise the descriptor limit, load the quotes, build the
 *                   UDP guard, create the server, bind every (address,
 *                   service, protocol), drop root, print the listening lines
 *   signals         SIGINT/SIGTERM shut the server down (drain, exit 0);
 *                   SIGHUP rereads the quote file and the TLS certificate
 *                   on a worker thread
 *   TLS twins       the NAME-tls slots (cli/svclist.h) are bound like the
 *                   others; their context is cli/serve_tls.c's
 *   supervisors     under socket activation the inherited descriptors
 *                   replace binding; READY=1 / RELOADING=1 / STOPPING=1 go
 *                   to NOTIFY_SOCKET; --inetd serves standard input
 *                   (the protocols themselves: cli/activation.c,
 *                   cli/notify.c, cli/inetd.c)
 *   behind a proxy  the PROXY options are in the server config (the
 *                   framework reads the headers); --metrics starts
 *                   cli/metrics.c's endpoint
 *   the command     cmd_serve: parse, look up --user, then serve_run (bind
 *                   and serve) or serve_inetd; the stop log
 *
 * The services themselves live in services/; this file only decides what
 * to serve where.  Log lines go to stderr, one event per line, key=value.
 */
#include "serve.h"

#include "cli.h"
#include "clock.h"
#include "metrics.h"

#include "services.h"
#include "sockit.h"
#include "supervise.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* One address to listen on, with the flags sk_server_add_* wants. */
typedef struct serve_bind {
    sk_addr addr;
    int flags;
} serve_bind;

/* Set before the signal handlers are installed, cleared before the server
 * is freed. */
static sk_server *volatile serve_srv;

/* ---- logging ------------------------------------------------------------------ */

static void serve_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What a SIGHUP reloads. */
typedef struct serve_reload {
    svc_env *env;
    serve_tls *tls;
} serve_reload;

/* One log line to stderr, written with a single call so lines from
 * different threads never interleave. */
static void serve_log(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    strcat(line, "\n");
    fputs(line, stderr);
}

/* ---- addresses -------------------------------------------------------------------- */

/* True when some --bind is the IPv4 wildcard, so [::] must not also take IPv4. */
static bool binds_v4_wildcard(const serve_bind *b, int n)
{
    for (int i = 0; i < n; i++)
        if (b[i].addr.u.sa.sa_family == AF_INET &&
            b[i].addr.u.in4.sin_addr.s_addr == htonl(INADDR_ANY))
            return true;
    return false;
}

/* Adds the addresses of one --bind value: a numeric address (IPv6 possibly
 * in brackets) or a name, which may give several. */
static int resolve_bind(const char *text, serve_bind *out, int *n)
{
    char host[256];
    size_t len = strlen(text);
    sk_addrinfo *list, *ai;
    int rc;

    if (len >= sizeof(host) || len == 0) {
        cli_error("--bind", "'%s' is not an address", text);
        return -1;
    }
    if (*n == SERVE_MAX_BINDS) {
        cli_error("--bind", "%s: more than %d addresses", text, SERVE_MAX_BINDS);
        return -1;
    }
    strcpy(host, text);
    if (host[0] == '[' && host[len - 1] == ']') {
        memmove(host, host + 1, len - 2);
        host[len - 2] = '\0';
    }
    if (sk_addr_from_ip(&out[*n].addr, host, 0, AF_UNSPEC) == 0) {
        (*n)++;
        return 0;
    }
    rc = sk_getaddrinfo(host, NULL, AF_UNSPEC, SOCK_STREAM, 0, 0, 10.0, &list);
    if (rc < 0) {
        cli_error("--bind", "%s: %s", text, sk_strerror(rc));
        return -1;
    }
    for (ai = list; ai != NULL && *n < SERVE_MAX_BINDS; ai = ai->next)
        if (ai->family == AF_INET || ai->family == AF_INET6)
            out[(*n)++].addr = ai->addr;
    sk_addrinfo_free(list);
    return 0;
}

/*
 * Turns the --bind values (or the default) into addresses and flags.
 * Returns the count, or -1 after printing why.
 */
static int serve_addresses(const serve_opts *o, serve_bind *out)
{
    int n = 0;

    if (o->nbinds == 0) {
        if (sk_has_dualstack_ipv6()) {
            sk_addr_from_ip(&out[0].addr, "::", 0, AF_INET6);
            out[0].flags = SK_SERVER_DUALSTACK;
        } else {
            sk_addr_from_ip(&out[0].addr, "0.0.0.0", 0, AF_INET);
            serve_log("event=fallback reason=no_ipv6 bind=0.0.0.0");
        }
        return 1;
    }
    for (int i = 0; i < o->nbinds; i++)
        if (resolve_bind(o->binds[i], out, &n) < 0)
            return -1;
    /* The IPv6 wildcard also takes IPv4, unless 0.0.0.0 is bound as well. */
    for (int i = 0; i < n; i++)
        if (out[i].addr.u.sa.sa_family == AF_INET6)
            out[i].flags = IN6_IS_ADDR_UNSPECIFIED(&out[i].addr.u.in6.sin6_addr) &&
                                   !binds_v4_wildcard(out, n)
                               ? SK_SERVER_DUALSTACK
                               : SK_SERVER_V6ONLY;
    return n;
}

/* ---- setup -------------------------------------------------------------------- */

/*
 * Many connections need many descriptors: takes all the hard limit allows.
 * When even that is below the default connection limit, lowers the default
 * so that clients beyond it are refused at once rather than left waiting in
 * the listen queue while accept fails for want of descriptors.
 */
static void raise_nofile(serve_opts *o)
{
    struct rlimit rl;
    const rlim_t reserve = 64; /* listeners, loops, the quote file, logs */

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            serve_log("event=rlimit error=\"%s\"", strerror(errno));
            getrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    if (!o->max_conns_set && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)o->cfg.max_conns + reserve) {
        o->cfg.max_conns = rl.rlim_cur > 2 * reserve ? (int)(rl.rlim_cur - reserve) : 16;
        serve_log("event=limit max_conns=%d reason=\"descriptor limit %llu\"",
                  o->cfg.max_conns, (unsigned long long)rl.rlim_cur);
    }
}

static void guard_log(void *arg, const char *line)
{
    (void)arg;
    serve_log("%s", line);
}

/* The slot number of the NTS key exchange's listeners: nts-ke is not in
 * svc_table (it exists only with --nts and a certificate), so it takes the
 * number after the last slot. */
#define SERVE_NTSKE SVCLIST_SLOTS
#define SERVE_NTSKE_STD_PORT NTS_KE_PORT

static const char *listener_name(int slot)
{
    return slot == SERVE_NTSKE ? "nts-ke" : svclist_name(slot);
}

/* A listening socket, remembered to announce it once everything is bound;
 * the i-th is the server's service i. */
typedef struct serve_listener {
    int svc; /* slot: a service or its TLS twin */
    bool tcp;
    sk_addr bound;
} serve_listener;

/*
 * The UDP guard for the options.  The ports it refuses as sources are the
 * configured ones and those actually bound (a port given as 0 is only
 * known after binding).  NULL (after printing why) on failure.
 */
static svc_udpguard *serve_guard(const serve_opts *o, const serve_listener *ls, int nl)
{
    int ports[SVCLIST_SLOTS + SERVE_MAX_BINDS * (SVCLIST_SLOTS * 2 + 1)];
    svc_udpguard_config gc = {0};
    svc_udpguard *g;
    size_t n = 0;

    for (int i = 0; i < SVCLIST_SLOTS; i++)
        if (svclist_valid(i))
            ports[n++] = o->ports[i];
    for (int i = 0; i < nl; i++)
        ports[n++] = sk_addr_port(&ls[i].bound);

    gc.per_source = o->udp_limit;
    if (o->udp_global >= 0)
        gc.global = o->udp_global;
    else
        gc.global = o->udp_limit > 0 ? SVC_UDP_DEFAULT_GLOBAL : 0;
    gc.ports = ports;
    gc.nports = n;
    gc.log = guard_log;
    if (svc_udpguard_new(&g, &gc) < 0) {
        cli_error("serve", "out of memory");
        return NULL;
    }
    return g;
}

/* Binds one slot on one address and protocol; prints why on failure. */
static int bind_one(sk_server *srv, const serve_bind *b, int slot, bool tcp, int port,
                    svc_env *env, sk_addr *bound)
{
    sk_addr addr = b->addr;
    char text[SK_ADDRSTRLEN], what[SK_ADDRSTRLEN + 64];
    int svc = svclist_base(slot), rc;

    sk_addr_set_port(&addr, port);
    if (tcp)
        rc = sk_server_add_tcp(srv, &addr, b->flags, svc_table[svc].tcp, env, bound);
    else
        rc = sk_server_add_udp(srv, &addr, b->flags | svc_table[svc].udp_flags,
                               svc_table[svc].udp, env, bound);
    if (rc < 0) {
        if (sk_addr_format(&addr, text, sizeof(text)) < 0)
            snprintf(text, sizeof(text), "?");
        snprintf(what, sizeof(what), "bind %s (%s/%s)", text, svclist_name(slot),
                 tcp ? "tcp" : "udp");
        cli_error_code(what, rc);
    }
    return rc;
}

/* Binds every selected service on every address.  Returns the number of
 * listeners stored in `ls`, or -1. */
static int bind_all(sk_server *srv, const serve_opts *o, const serve_bind *b, int nb,
                    svc_env *env, serve_listener *ls)
{
    int n = 0;

    for (int a = 0; a < nb; a++)
        for (int s = 0; s < SVCLIST_SLOTS; s++)
            for (int p = 0; p < 2; p++) {
                bool tcp = p == 0;
                if (tcp ? !serves_tcp(o, s) : !serves_udp(o, s))
                    continue;
                if (bind_one(srv, &b[a], s, tcp, o->ports[s], env, &ls[n].bound) < 0)
                    return -1;
                ls[n].svc = s;
                ls[n++].tcp = tcp;
            }
    return n;
}

/*
 * Serves the descriptors socket activation passed instead of binding.
 * Returns how many (0 when the process was not socket-activated: bind as
 * usual), or -1 after printing why.
 */
static int adopt_all(sk_server *srv, const serve_opts *o, svc_env *env, serve_listener *ls)
{
    static act_fd fds[ACT_MAX_FDS];
    int n = act_take_fds(fds, ACT_MAX_FDS, o->ports);

    for (int i = 0; i < n; i++) {
        const svc_service *s = &svc_table[svclist_base(fds[i].svc)];
        const char *name = svclist_name(fds[i].svc);
        bool tls = svclist_is_tls(fds[i].svc);
        char what[48];
        int rc;

        snprintf(what, sizeof(what), "LISTEN_FDS: descriptor %d", fds[i].fd);
        if (fds[i].tcp ? s->tcp == NULL : (s->udp == NULL || tls)) {
            cli_error(what, "%s has no %s service", name, fds[i].tcp ? "TCP" : "UDP");
            return -1;
        }
        if (tls && !serves_tls(o)) {
            cli_error(what, "%s needs --tls-cert and --tls-key", name);
            return -1;
        }
        rc = fds[i].tcp ? sk_server_adopt_tcp(srv, fds[i].fd, s->tcp, env, &ls[i].bound)
                        : sk_server_adopt_udp(srv, fds[i].fd, s->udp_flags, s->udp, env,
                                              &ls[i].bound);
        if (rc < 0) {
            cli_error_code(what, rc);
            return -1;
        }
        ls[i].svc = fds[i].svc;
        ls[i].tcp = fds[i].tcp;
        serve_log("event=activation fd=%d service=%s proto=%s by=%s", fds[i].fd, name,
                  fds[i].tcp ? "tcp" : "udp", fds[i].by_name ? "name" : "port");
    }
    return n;
}

static int announce(const serve_listener *ls, int n)
{
    char text[SK_ADDRSTRLEN];

    for (int i = 0; i < n; i++) {
        if (sk_addr_format(&ls[i].bound, text, sizeof(text)) < 0)
            snprintf(text, sizeof(text), "?");
        printf("listening service=%s proto=%s addr=%s\n", listener_name(ls[i].svc),
               ls[i].tcp ? "tcp" : "udp", text);
    }
    return fflush(stdout) == 0 ? 0 : -1;
}

/* Looks up --user before anything is bound, so a typo costs nothing. */
static int lookup_user(const char *name, struct passwd *pw, char *buf, size_t size)
{
    struct passwd *res = NULL;
    int rc = getpwnam_r(name, pw, buf, size, &res);

    if (res == NULL) {
        cli_error("--user", "%s: %s", name, rc ? strerror(rc) : "no such user");
        return -1;
    }
    return 0;
}

/*
 * Becomes `pw` for good: supplementary groups, group, then user (in that
 * order: after setuid we could no longer change groups), and checks that
 * root cannot be regained.  Returns 0, or -1 after printing why.
 */
static int drop_privileges(const struct passwd *pw)
{
    if (geteuid() != 0) {
        if (geteuid() == pw->pw_uid)
            return 0;
        cli_error("--user", "only root can switch to %s", pw->pw_name);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        cli_error("--user", "cannot become %s: %s", pw->pw_name, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0 || geteuid() == 0)) {
        cli_error("--user", "root privileges could be regained after switching to %s",
                  pw->pw_name);
        return -1;
    }
    serve_log("event=user user=%s uid=%u gid=%u", pw->pw_name, (unsigned)pw->pw_uid,
              (unsigned)pw->pw_gid);
    return 0;
}

/* ---- signals ------------------------------------------------------------------ */

/* Rereads the quote file (a bad one keeps the old quotes). */
static void reload_quotes(svc_env *env)
{
    char err[256];
    int rc;

    if (svc_qotd_path(env->qotd) == NULL) {
        serve_log("event=reload quotes=builtin note=\"no --qotd-file to reread\"");
        return;
    }
    rc = svc_qotd_reload(env->qotd, err, sizeof(err));
    if (rc < 0)
        serve_log("event=reload error=\"%s: %s\" kept=%zu", svc_qotd_path(env->qotd), err,
                  svc_qotd_count(env->qotd));
    else
        serve_log("event=reload file=%s quotes=%d", svc_qotd_path(env->qotd), rc);
}

/* Runs on a worker thread after SIGHUP: the quotes, then the TLS
 * certificate.  The supervisor hears RELOADING=1 before and READY=1 after,
 * whatever the outcome (a bad file keeps the old content, so the service
 * stays ready). */
static void reload_all(sk_server *srv, void *arg)
{
    serve_reload *r = arg;

    (void)srv;
    notify_reloading();
    reload_quotes(r->env);
    serve_tls_reload(r->tls, serve_log);
    notify_send("READY=1");
}

/* Runs on worker 0 once the workers run: every listener is registered with
 * its loop, and the sockets were listening before that. */
static void tell_ready(sk_server *srv, void *arg)
{
    (void)srv;
    (void)arg;
    notify_send("READY=1");
}

static serve_reload serve_reload_for_signal;

static void on_signal(int sig)
{
    sk_server *srv = serve_srv;

    if (srv == NULL)
        return;
    /* A full queue (-EAGAIN) means reloads are already pending, and the
     * next of them rereads the file: nothing is lost by dropping this one. */
    if (sig == SIGHUP) {
        (void)sk_server_notify(srv, reload_all, &serve_reload_for_signal);
    } else {
        notify_send("STOPPING=1");
        sk_server_shutdown(srv);
    }
}

static void set_signals(bool on)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on ? on_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

/* ---- the command ---------------------------------------------------------------- */

/* A service's counter table (services.h) as its own stop line,
 * "event=EVENT key=N ...", gauges as of now (the loops' monotonic clock). */
static void log_stats(const svc_stats *d, void *obj)
{
    char line[1024];

    svc_stats_format(d, obj, cli_now_ns() / 1000000, line, sizeof(line));
    serve_log("event=%s%s", d->event, line);
}

/* A service counter table and the object its value function reads. */
typedef struct serve_stats {
    const svc_stats *def;
    void *obj;
} serve_stats;

#define SERVE_MAX_STATS 4

/* The counter tables of the services that run and keep their own, for
 * /metrics and their stop lines (the UDP guard's is always there:
 * metrics_start, log_stop).  Returns how many it stored in out[]. */
static size_t serve_stats_of(const serve_opts *o, svc_env *env,
                             serve_stats out[SERVE_MAX_STATS])
{
    size_t n = 0;

    if (env->ntp != NULL && serves_udp(o, svc_find("ntp")))
        out[n++] = (serve_stats){&svc_ntp_stats, env->ntp};
    /* NTS: also for the key exchange alone (--nts-ntp-server elsewhere). */
    if (env->ntp != NULL && o->nts)
        out[n++] = (serve_stats){&svc_nts_stats, env->ntp};
    if (env->stamp != NULL && serves_udp(o, svc_find("stamp")))
        out[n++] = (serve_stats){&svc_stamp_stats, env->stamp};
    return n;
}

/* Their stop lines. */
static void log_services(const serve_opts *o, svc_env *env)
{
    serve_stats st[SERVE_MAX_STATS];
    size_t n = serve_stats_of(o, env, st);

    for (size_t i = 0; i < n; i++)
        log_stats(st[i].def, st[i].obj);
}

static void log_stop(sk_server *srv, svc_udpguard *g, bool proxy)
{
    /* Every row of the counter table (SK_SERVER_STATS_MAP), then the keys
     * of the UDP guard's table (svc_udpguard_stats); written with one
     * call, as serve_log does, but longer than its lines may be. */
    char line[2048];
    size_t len = 0;
    sk_server_stats st = SK_SERVER_STATS_INIT;

    (void)proxy; /* the PROXY counters are in the line either way */
    sk_server_stats_get(srv, &st);
#define STOP_FIELD(field, kind, proto, metric, label, help)                               \
    len += (size_t)snprintf(line + len, sizeof(line) - len, "%s" #field "=%llu",          \
                            len == 0 ? "event=stop " : " ", (unsigned long long)st.field);
    SK_SERVER_STATS_MAP(STOP_FIELD)
#undef STOP_FIELD
    len += svc_stats_format(&svc_udpguard_stats, g, cli_now_ns() / 1000000,
                            len < sizeof(line) ? line + len : NULL,
                            len < sizeof(line) ? sizeof(line) - len : 0);
    if (len + 1 < sizeof(line))
        strcat(line, "\n");
    fputs(line, stderr);
}

/* The TLS context on every TLS twin's listener (cli/serve_tls.c).  Returns
 * 0, or -1 after printing why. */
static int serve_tls_listeners(const serve_opts *o, sk_server *srv, const serve_listener *ls,
                               int nl, serve_tls **out)
{
    static size_t indexes[SERVE_MAX_BINDS * SVCLIST_SLOTS * 2];
    size_t n = 0;

    for (int i = 0; i < nl; i++)
        if (svclist_is_tls(ls[i].svc) && ls[i].svc != SERVE_NTSKE)
            indexes[n++] = (size_t)i;
    return serve_tls_start(out, o, srv, indexes, n);
}

/*
 * --nts with a certificate: the key exchange on every address at the port
 * base + 4460, each listener behind a TLS context of its own (TLS 1.3,
 * ALPN ntske/1).  Appends the listeners to ls[]; returns the new count, or
 * -1 after printing why.  Its certificate is not reloaded on SIGHUP.
 */
static int bind_ntske(sk_server *srv, const serve_opts *o, const serve_bind *b, int nb,
                      svc_env *env, serve_listener *ls, int nl)
{
    static const char *const alpn[] = {NTS_KE_ALPN};
    int port = o->port_base + SERVE_NTSKE_STD_PORT, first = nl, rc;
    sk_tls_ctx *ctx = NULL;

    if (!o->nts || !serves_tls(o) || !o->tcp)
        return nl;
    if (port > 65535) {
        cli_error("serve", "nts-ke: port base %d + 4460 is past 65535", o->port_base);
        return -1;
    }
    for (int a = 0; a < nb; a++, nl++) {
        sk_addr addr = b[a].addr;

        sk_addr_set_port(&addr, port);
        rc = sk_server_add_tcp(srv, &addr, b[a].flags, &svc_ntske_tcp, env, &ls[nl].bound);
        if (rc < 0) {
            cli_error_code("bind nts-ke", rc);
            return -1;
        }
        ls[nl].svc = SERVE_NTSKE;
        ls[nl].tcp = true;
    }
    rc = sk_tls_ctx_new(&ctx, SK_TLS_SERVER);
    if (rc == 0)
        rc = sk_tls_ctx_load_cert_chain(ctx, o->tls_cert, o->tls_key);
    if (rc == 0)
        rc = sk_tls_ctx_set_minimum_version(ctx, SK_TLS_VERSION_1_3);
    if (rc == 0)
        rc = sk_tls_ctx_set_alpn_protocols(ctx, alpn, 1);
    for (int i = first; rc == 0 && i < nl; i++)
        rc = sk_server_set_tls(srv, (size_t)i, ctx);
    sk_tls_ctx_free(ctx); /* the listeners hold their own references */
    if (rc < 0) {
        cli_error_code("nts-ke", rc);
        return -1;
    }
    return nl;
}

/* What nts-ke says about where NTP is: --nts-ntp-server, else our own ntp
 * port when it is not 123. */
static void ntske_where(const serve_opts *o, svc_env *env)
{
    int ntp = svc_find("ntp");

    env->nts_server = o->nts_ntp_server != NULL ? o->nts_ntp_host : NULL;
    env->nts_port = o->nts_ntp_server != NULL ? o->nts_ntp_port
                    : serves_udp(o, ntp)        ? o->ports[ntp]
                                                : 0;
}

/* Starts the --metrics endpoint, naming each listener's service. */
static int serve_metrics_start(const serve_opts *o, sk_server *srv, const serve_listener *ls,
                               int nl, const svc_env *env, serve_metrics **out)
{
    static metrics_service svcs[SERVE_MAX_BINDS * (SVCLIST_SLOTS * 2 + 1)];

    *out = NULL;
    if (o->metrics == NULL)
        return 0;
    for (int i = 0; i < nl; i++) {
        svcs[i].name = listener_name(ls[i].svc);
        svcs[i].tcp = ls[i].tcp;
    }
    return metrics_start(out, o->metrics, srv, svcs, (size_t)nl, env->guard);
}

/* Binds, drops root, announces, serves until a signal.  Returns the exit
 * status. */
static int serve_run(const serve_opts *o, svc_env *env, const struct passwd *pw)
{
    static serve_bind binds[SERVE_MAX_BINDS];
    static serve_listener ls[SERVE_MAX_BINDS * (SVCLIST_SLOTS * 2 + 1)];
    sk_server *srv = NULL;
    serve_metrics *metrics = NULL;
    serve_tls *tls = NULL;
    int nb, nl, rc, status = CLI_EXIT_FAIL;

    nb = serve_addresses(o, binds);
    if (nb < 0)
        return CLI_EXIT_USAGE;
    rc = sk_server_new(&srv, &o->cfg);
    if (rc < 0) {
        cli_error_code("serve", rc);
        return CLI_EXIT_FAIL;
    }
    nl = adopt_all(srv, o, env, ls);
    if (nl == 0) {
        nl = bind_all(srv, o, binds, nb, env, ls);
        if (nl >= 0)
            nl = bind_ntske(srv, o, binds, nb, env, ls, nl);
    }
    if (nl < 0)
        goto out;
    ntske_where(o, env);
    /* The handlers read env->guard only once the server runs. */
    env->guard = serve_guard(o, ls, nl);
    if (env->guard == NULL || serve_tls_listeners(o, srv, ls, nl, &tls) < 0)
        goto out;
    /* Bound before root is dropped, like the services. */
    if (serve_metrics_start(o, srv, ls, nl, env, &metrics) < 0 ||
        (pw != NULL && drop_privileges(pw) < 0))
        goto out;
    {
        serve_stats st[SERVE_MAX_STATS];
        size_t n = serve_stats_of(o, env, st);

        for (size_t i = 0; i < n; i++)
            (void)metrics_add_stats(metrics, st[i].def, st[i].obj);
    }
    serve_reload_for_signal.env = env;
    serve_reload_for_signal.tls = tls;
    serve_srv = srv;
    set_signals(true);
    if (announce(ls, nl) < 0)
        goto out_signals;
    (void)sk_server_notify(srv, tell_ready, NULL);
    serve_log("event=start listeners=%d threads=%ld udp_limit=%g", nl,
              o->cfg.threads ? (long)o->cfg.threads : sysconf(_SC_NPROCESSORS_ONLN),
              o->udp_limit);
    rc = sk_server_run(srv);
    if (rc < 0) {
        cli_error_code("serve", rc);
        goto out_signals;
    }
    log_stop(srv, env->guard, o->cfg.proxy_protocol);
    log_services(o, env);
    status = CLI_EXIT_OK;

out_signals:
    set_signals(false);
    serve_srv = NULL;
out:
    metrics_stop(metrics);
    serve_tls_stop(tls);
    sk_server_free(srv);
    svc_udpguard_free(env->guard);
    env->guard = NULL;
    return status;
}

/* "--inetd auto": the service whose port the socket on stdin has.  Returns
 * its index, or -1 after printing why. */
static int inetd_auto(const serve_opts *o, const inetd_stdin *in)
{
    char text[SK_ADDRSTRLEN] = "not a socket";
    int port = in->kind != INETD_PIPE && in->local.len > 0 ? sk_addr_port(&in->local) : -1;
    int svc = port > 0 ? act_service_of_port(port, o->ports) : -1;

    if (svc >= 0 && svclist_is_tls(svc)) {
        cli_error("--inetd auto", "standard input is on %s's port: TLS services are not "
                  "served under inetd", svclist_name(svc));
        return -1;
    }
    if (svc >= 0)
        return svc;
    if (in->kind != INETD_PIPE && sk_addr_format(&in->local, text, sizeof(text)) < 0)
        snprintf(text, sizeof(text), "?");
    cli_error("--inetd auto", "standard input (%s) is on no service's port", text);
    return -1;
}

/* --inetd: one service on standard input.  Returns the exit status. */
static int serve_inetd(const serve_opts *o, const inetd_stdin *in, svc_env *env,
                       const struct passwd *pw)
{
    int svc = o->inetd_svc == SERVE_INETD_AUTO ? inetd_auto(o, in) : o->inetd_svc;
    serve_listener l = {.svc = svc, .tcp = false, .bound = in->local};
    double idle = o->cfg.idle_timeout;
    int status = CLI_EXIT_FAIL;

    if (svc < 0)
        return CLI_EXIT_FAIL;
    if (in->kind == INETD_DGRAM) {
        env->guard = serve_guard(o, &l, in->local.len > 0 ? 1 : 0);
        if (env->guard == NULL)
            return CLI_EXIT_FAIL;
        if (!o->idle_set)
            idle = SERVE_INETD_DGRAM_IDLE;
    }
    if (pw == NULL || drop_privileges(pw) == 0)
        status = inetd_serve(in, svc, &o->cfg, env, idle);
    svc_udpguard_free(env->guard);
    env->guard = NULL;
    return status;
}

int cmd_serve(int argc, char **argv)
{
    serve_opts o;
    svc_env env = {0};
    struct passwd pwbuf;
    inetd_stdin in;
    char pwmem[4096], err[256];
    int status = serve_parse(&o, argc, argv), rc;

    if (status >= 0)
        return status;
    if (o.user != NULL && lookup_user(o.user, &pwbuf, pwmem, sizeof(pwmem)) < 0)
        return CLI_EXIT_USAGE;
    /* In inetd mode stderr may be the connection: look before logging. */
    if (o.inetd_svc >= 0 && inetd_probe(&in) < 0)
        return CLI_EXIT_FAIL;
    if (o.inetd_svc < 0 && notify_open() < 0)
        return CLI_EXIT_FAIL;
    raise_nofile(&o);
    env.daytime_format = o.daytime;
    rc = svc_ntp_new(&env.ntp, &o.ntp);
    if (rc == 0 && (rc = svc_stamp_new(&env.stamp, &o.stamp)) < 0)
        svc_ntp_free(env.ntp);
    if (rc < 0) {
        cli_error_code("serve", rc);
        return CLI_EXIT_FAIL;
    }
    rc = svc_qotd_new(&env.qotd, o.qotd_file, err, sizeof(err));
    if (rc < 0) {
        char what[PATH_MAX + 16];
        snprintf(what, sizeof(what), "--qotd-file %s", o.qotd_file);
        cli_error(what, "%s", err);
        svc_ntp_free(env.ntp);
        svc_stamp_free(env.stamp);
        return rc == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    if (o.nts && (rc = svc_ntskeys_new(&env.ntskeys, o.nts_key_file, o.nts_rotate, err,
                                       sizeof(err))) < 0) {
        char what[PATH_MAX + 16];
        snprintf(what, sizeof(what), "--nts-key-file %s", o.nts_key_file);
        cli_error(o.nts_key_file != NULL ? what : "--nts", "%s", err);
        svc_qotd_free(env.qotd);
        svc_ntp_free(env.ntp);
        svc_stamp_free(env.stamp);
        return CLI_EXIT_FAIL;
    }
    if (o.inetd_svc >= 0)
        status = serve_inetd(&o, &in, &env, o.user != NULL ? &pwbuf : NULL);
    else
        status = serve_run(&o, &env, o.user != NULL ? &pwbuf : NULL);
    svc_ntskeys_free(env.ntskeys);
    svc_qotd_free(env.qotd);
    notify_close();
    svc_ntp_free(env.ntp);
    svc_stamp_free(env.stamp);
    return status;
}
