/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/bench.c - `sockit bench`: a load generator that verifies every byte.
 *
 *   sockit bench echo|stream|connect|udp|ntp|stamp HOST PORT [options]
 *   sockit bench merge|plot FILE.json...   (cli/bench/merge.c, cli/bench/plot.c)
 *
 * This file parses the options (with the option layer, cli/opt.h), resolves the target once, lays out the
 * run's timeline, starts one thread per --threads (each with its own event
 * loop and its share of the connections, see cli/bench/thread.c), shows a
 * progress line while they run when standard error is a terminal, and hands
 * the results to cli/bench/report.c.  The modes themselves live in cli/bench/tcp.c,
 * cli/bench/connect.c and cli/bench/udp.c.
 */
#include "bench.h"
#include "clock.h"
#include "cli.h"
#include "opt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_NS UINT64_C(250000000)
/* After the hard stop, how long the threads get to wind down before the
 * command gives up on them. */
#define GIVE_UP_NS UINT64_C(5000000000)

static const char usage_text[] =
    "usage: sockit bench echo|stream|connect|udp|ntp|stamp HOST PORT [--conns N]\n"
    "                    [--size BYTES] [--duration SECONDS] [--warmup SECONDS]\n"
    "                    [--timeout SECONDS] [--threads N] [--expect BYTES] [--rate N]\n"
    "                    [--interval SECONDS] [--histogram FILE] [--plot OUT.svg]\n"
    "                    [--hdr-log FILE] [-4|-6] [--json]\n"
    "                    [--tls [--cafile FILE] [--insecure] [--tls-resume]]\n"
    "                    [--nts [--nts-port N] [--cafile FILE] [--servername N]]\n"
    "       sockit bench merge FILE.json... [--json]\n"
    "       sockit bench plot FILE.json... -o OUT.svg [--title TITLE]\n"
    "\n"
    "Loads a server and measures it, verifying every byte that comes back.\n"
    "  echo     N connections, each with one SIZE-byte message in flight (ping-pong);\n"
    "           latency is per message\n"
    "  stream   N connections writing SIZE-byte blocks flat out while reading the\n"
    "           echo back; throughput only\n"
    "  connect  N concurrent connect / read until closed / close cycles, for\n"
    "           services that answer and close (time, daytime, qotd)\n"
    "  udp      N datagrams of SIZE bytes in flight, each with a sequence number;\n"
    "           lost, duplicate and reordered datagrams are counted (not errors)\n"
    "  ntp      N NTP client requests in flight, counted like udp; a reply must be\n"
    "           mode 4, name its request in its origin, have a transmit timestamp\n"
    "           and a valid stratum (a kiss-o'-death is an error: lift the limit)\n"
    "  stamp    N STAMP test packets (RFC 8762) of SIZE bytes in flight, counted like\n"
    "           udp; a reply must be as long, reflect its packet's sequence number\n"
    "           and timestamp and carry the reflector's timestamps\n"
    "\n"
    "options:\n"
    "  --conns N         connections (udp, ntp, stamp: datagrams in flight)  [16]\n"
    "  --size BYTES      message, write or datagram size   [echo, udp 64; stream 16384;\n"
    "                    stamp 44, at least 44]\n"
    "  --duration S      length of the measurement in seconds          [10]\n"
    "  --warmup S        seconds of load before measuring starts       [0]\n"
    "  --timeout S       per operation; then a TCP operation fails  [5; udp, ntp, stamp 1]\n"
    "  --threads N       threads, each with its own event loop         [CPUs]\n"
    "  --expect BYTES    connect: every reply must be exactly this long\n"
    "                    (0: connect only, close once established)\n"
    "  --rate N          open loop: N operations per second in total on a fixed\n"
    "                    schedule (echo, connect, udp, ntp, stamp); latency counts\n"
    "                    from each operation's scheduled time; late sends are\n"
    "                    reported\n"
    "  --interval S      also report ops, MB/s and p99 every S seconds\n"
    "  --histogram FILE  write the latency distribution as CSV (microseconds)\n"
    "  --plot OUT.svg    draw latency by percentile (and p50, p99 per --interval)\n"
    "  --hdr-log FILE    write an HdrHistogram interval log (V2 compressed), one\n"
    "                    histogram per --interval, or one for the whole run\n"
    "  -4, -6            use IPv4 or IPv6 only\n"
    "  --json            print one JSON object instead of the table\n"
    "  --tls             echo, stream, connect over TLS; connect's latency is the\n"
    "                    TCP connect and the handshake, counted as full handshakes\n"
    "  --cafile FILE     with --tls or --nts: also trust the CA certificates in FILE\n"
    "  --insecure        with --tls: do not verify the certificate (warns)\n"
    "  --tls-resume      with --tls: resume the last session instead of full\n"
    "                    handshakes\n"
    "  --nts             ntp: Network Time Security; cookies and keys from key\n"
    "                    exchanges before the run (one per 4 requests in flight\n"
    "                    on a thread: 8 cookies, 4 spare), every request\n"
    "                    authenticated with a cookie used once; a reply must\n"
    "                    echo its unique identifier and authenticate (else an\n"
    "                    error); a group whose cookies all went with lost\n"
    "                    replies makes a new key exchange; a failed key\n"
    "                    exchange before the run ends it (exit 1)\n"
    "  --nts-port N      with --nts: the key exchange's TCP port  [4460]\n"
    "  --servername N    with --nts: the name to send (SNI) and check the\n"
    "                    certificate for  [HOST]\n"
    "  -h, --help        show this text\n"
    "\n"
    "\n"
    "merge    combines --json results of runs at the same time (several generators)\n"
    "         or one after another into the figures one run with all their samples\n"
    "         gives; see 'sockit bench merge --help'\n"
    "plot     draws --json results as one SVG, one line per file\n"
    "\n"
    "Exit status: 0 clean run, 1 any error (wrong, missing or extra bytes, failed\n"
    "connections, timeouts) or no completed operation, 2 usage error.\n";

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void print_help(FILE *out, const void *arg)
{
    (void)arg;
    fputs(usage_text, out);
}

enum {
    OPT_CONNS = 256,
    OPT_SIZE,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_TIMEOUT,
    OPT_THREADS,
    OPT_EXPECT,
    OPT_RATE,
    OPT_INTERVAL,
    OPT_HISTOGRAM,
    OPT_PLOT,
    OPT_HDR_LOG,
    OPT_JSON,
    OPT_TLS,
    OPT_CAFILE,
    OPT_INSECURE,
    OPT_TLS_RESUME,
    OPT_NTS,
    OPT_NTS_PORT,
    OPT_SERVERNAME
};

static const struct option long_options[] = {
    {"conns", required_argument, NULL, OPT_CONNS},
    {"size", required_argument, NULL, OPT_SIZE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"expect", required_argument, NULL, OPT_EXPECT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"histogram", required_argument, NULL, OPT_HISTOGRAM},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"hdr-log", required_argument, NULL, OPT_HDR_LOG},
    {"json", no_argument, NULL, OPT_JSON},
    {"tls", no_argument, NULL, OPT_TLS},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"tls-resume", no_argument, NULL, OPT_TLS_RESUME},
    {"nts", no_argument, NULL, OPT_NTS},
    {"nts-port", required_argument, NULL, OPT_NTS_PORT},
    {"servername", required_argument, NULL, OPT_SERVERNAME},
    {NULL, 0, NULL, 0},
};

/* A count or size option into a long field of the config. */
static int take_long(const char *arg, uint64_t min, uint64_t max, bool size, long *out)
{
    uint64_t v;
    long c;

    if (!size) {
        if (cli_parse_count("bench", arg, (long)min, (long)max, &c) < 0)
            return -1;
        *out = c;
        return 0;
    }
    if (cli_parse_size("bench", arg, min, max, &v) < 0)
        return -1;
    *out = (long)v;
    return 0;
}

/* Applies one option.  Returns 0, or -1 after printing a usage error. */
static int apply_option(bench_config *cfg, int opt, const char *arg)
{
    switch (opt) {
    case OPT_CONNS:
        return take_long(arg, 1, 100000, false, &cfg->conns);
    case OPT_SIZE:
        return take_long(arg, 1, 16 * 1024 * 1024, true, &cfg->size);
    case OPT_THREADS:
        return take_long(arg, 1, 1024, false, &cfg->threads);
    case OPT_EXPECT:
        return take_long(arg, 0, 1L << 30, true, &cfg->expect);
    case OPT_DURATION:
        return cli_parse_duration("bench", arg, CLI_ZERO_BAD, 86400, &cfg->duration);
    case OPT_WARMUP:
        return cli_parse_duration("bench", arg, CLI_ZERO_OK, 3600, &cfg->warmup);
    case OPT_TIMEOUT:
        return cli_parse_duration("bench", arg, CLI_ZERO_BAD, 3600, &cfg->timeout);
    case OPT_RATE:
        return cli_parse_rate("bench", arg, CLI_ZERO_BAD, 1e8, &cfg->rate);
    case OPT_INTERVAL:
        return cli_parse_duration("bench", arg, CLI_ZERO_BAD, 86400, &cfg->interval);
    case OPT_HISTOGRAM:
        if (*arg == '\0') {
            cli_usage_error("bench", "--histogram needs a file name");
            return -1;
        }
        cfg->histogram = arg;
        return 0;
    case OPT_PLOT:
    case OPT_HDR_LOG:
        if (*arg == '\0') {
            cli_usage_error("bench", "%s needs a file name", opt == OPT_PLOT ? "--plot" : "--hdr-log");
            return -1;
        }
        *(opt == OPT_PLOT ? &cfg->plot : &cfg->hdr_log) = arg;
        return 0;
    case OPT_JSON:
        cfg->json = true;
        return 0;
    case OPT_TLS:
        cfg->tls_on = true;
        return 0;
    case OPT_CAFILE:
        cfg->cafile = arg;
        return 0;
    case OPT_INSECURE:
        cfg->insecure = true;
        return 0;
    case OPT_TLS_RESUME:
        cfg->tls_resume = true;
        return 0;
    case OPT_NTS:
        cfg->nts = true;
        return 0;
    case OPT_NTS_PORT: {
        int port;
        if (cli_parse_port("bench", arg, "tcp", CLI_ZERO_BAD, &port) < 0)
            return -1;
        snprintf(cfg->nts_portbuf, sizeof(cfg->nts_portbuf), "%d", port);
        cfg->nts_port = cfg->nts_portbuf;
        return 0;
    }
    case OPT_SERVERNAME:
        if (*arg == '\0') {
            cli_bad_value("bench", "server name", arg);
            return -1;
        }
        cfg->servername = arg;
        return 0;
    case '4':
        cfg->family = AF_INET;
        return 0;
    case '6':
        cfg->family = AF_INET6;
        return 0;
    default:
        return -1;
    }
}

/* A --size no datagram can have (8..65507 bytes: the sequence header and
 * the largest UDP payload). */
static int bad_datagram_size(long size)
{
    char text[24];

    snprintf(text, sizeof(text), "%ld", size);
    cli_bad_value("bench", "size", text);
    return CLI_EXIT_USAGE;
}

/* Checks the combinations and fills in the defaults that depend on the
 * mode.  Returns 0, or CLI_EXIT_USAGE after printing why. */
static int finish_config(bench_config *cfg, bool size_given)
{
    /* The parsers already refused a zero --duration, --timeout and
     * --interval; a negative value here is "not given". */
    if (cfg->timeout < 0)
        cfg->timeout = BENCH_IS_DGRAM(cfg->mode) ? 1.0 : 5.0;
    if (cfg->expect >= 0 && cfg->mode != BENCH_CONNECT)
        return cli_usage_error("bench", "--expect applies to the connect mode only");
    if (size_given && (cfg->mode == BENCH_CONNECT || cfg->mode == BENCH_NTP))
        return cli_usage_error("bench", "--size does not apply to the %s mode",
                               cfg->mode_name);
    if (!size_given)
        cfg->size = cfg->mode == BENCH_STREAM  ? 16384
                    : cfg->mode == BENCH_NTP   ? BENCH_NTP_SIZE
                    : cfg->mode == BENCH_STAMP ? BENCH_STAMP_MIN
                                               : 64;
    if (cfg->rate > 0 && cfg->mode == BENCH_STREAM)
        return cli_usage_error("bench", "--rate does not apply to the stream mode");
    if (cfg->interval > 0 && cfg->duration / cfg->interval > 1e6)
        return cli_usage_error("bench", "--interval gives more than a million intervals in --duration");
    if (cfg->histogram != NULL && cfg->mode == BENCH_STREAM)
        return cli_usage_error("bench", "--histogram: the stream mode measures no latencies");
    if (cfg->plot != NULL && cfg->mode == BENCH_STREAM)
        return cli_usage_error("bench", "--plot: the stream mode measures no latencies");
    if (cfg->hdr_log != NULL && cfg->mode == BENCH_STREAM)
        return cli_usage_error("bench", "--hdr-log: the stream mode measures no latencies");
    if (cfg->interval < 0)
        cfg->interval = 0;
    if (cfg->nts && cfg->mode != BENCH_NTP)
        return cli_usage_error("bench", "--nts applies to the ntp mode");
    if (!cfg->nts && (cfg->nts_port || cfg->servername))
        return cli_usage_error("bench", "%s needs --nts",
                               cfg->nts_port ? "--nts-port" : "--servername");
    if (cfg->nts && cfg->rate > 0)
        return cli_usage_error("bench", "--rate does not apply with --nts");
    if (cfg->nts && cfg->nts_port == NULL)
        cfg->nts_port = "4460";
    if (!cfg->tls_on && !cfg->nts && (cfg->cafile || cfg->insecure || cfg->tls_resume))
        return cli_usage_error("bench", "%s needs --tls",
                               cfg->cafile ? "--cafile" : cfg->insecure ? "--insecure"
                                                                        : "--tls-resume");
    if (cfg->nts && (cfg->insecure || cfg->tls_resume))
        return cli_usage_error("bench", "%s needs --tls (--nts always verifies)",
                               cfg->insecure ? "--insecure" : "--tls-resume");
    if (cfg->tls_on && BENCH_IS_DGRAM(cfg->mode))
        return cli_usage_error("bench", "--tls applies to echo, stream and connect");
    if (cfg->mode == BENCH_UDP && (cfg->size < 8 || cfg->size > 65507))
        return bad_datagram_size(cfg->size);
    if (cfg->mode == BENCH_STAMP && (cfg->size < BENCH_STAMP_MIN || cfg->size > 65507))
        return bad_datagram_size(cfg->size);
    if (cfg->threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->threads = cpus > 0 ? cpus : 1;
    }
    if (cfg->threads > cfg->conns)
        cfg->threads = cfg->conns;
    return 0;
}

/* Parses the command line.  Returns -1 to go on, else the exit status. */
static int parse_args(bench_config *cfg, int argc, char **argv)
{
    bool size_given = false;
    const char *arg;
    cli_opts p;
    int opt, rc, port;

    cfg->conns = 16;
    cfg->duration = 10.0;
    cfg->timeout = -1.0;
    cfg->expect = -1;
    cfg->interval = -1.0;
    cfg->family = AF_UNSPEC;
    cli_opts_start(&p, "bench", argc, argv, "46", long_options, print_help, NULL);
    while ((opt = cli_opts_next(&p, &arg)) > 0) {
        if (apply_option(cfg, opt, arg) < 0)
            return CLI_EXIT_USAGE;
        size_given |= opt == OPT_SIZE;
    }
    if (opt != CLI_OPTS_END)
        return cli_opts_status(opt);
    if (argc - p.optind != 3)
        return cli_usage_error("bench", argc - p.optind < 3 ? "expected a mode, a host and a port"
                                                            : "too many arguments");
    if (bench_mode_parse(argv[p.optind], &cfg->mode, &cfg->mode_name) < 0)
        return cli_usage_error("bench", "unknown mode '%s' (echo, stream, connect, udp, ntp or stamp)",
                               argv[p.optind]);
    cfg->host = argv[p.optind + 1];
    cfg->port = argv[p.optind + 2];
    if (cfg->host[0] == '\0') {
        cli_bad_value("bench", "address", cfg->host);
        return CLI_EXIT_USAGE;
    }
    if (cli_parse_port("bench", cfg->port, BENCH_IS_DGRAM(cfg->mode) ? "udp" : "tcp",
                       CLI_ZERO_BAD, &port) < 0)
        return CLI_EXIT_USAGE;
    rc = finish_config(cfg, size_given);
    return rc != 0 ? rc : -1;
}

/* Resolves the target once; every connection of the run uses that address. */
static int resolve_target(bench_config *cfg)
{
    int type = BENCH_IS_DGRAM(cfg->mode) ? SOCK_DGRAM : SOCK_STREAM;
    sk_addrinfo *list = NULL;
    int rc;

    rc = sk_getaddrinfo(cfg->host, cfg->port, cfg->family, type, 0, 0, cfg->timeout, &list);
    if (rc < 0) {
        cli_error_code(cfg->host, rc);
        return rc;
    }
    cfg->target = list->addr;
    cfg->family = list->family;
    sk_addrinfo_free(list);
    if (sk_addr_format(&cfg->target, cfg->target_text, sizeof(cfg->target_text)) < 0)
        snprintf(cfg->target_text, sizeof(cfg->target_text), "%s", cfg->host);
    return 0;
}

/* Many connections need many descriptors: raise the soft limit towards the
 * hard one when the default would not do.  Failure is not fatal here; the
 * connections that cannot open are reported as errors. */
static void raise_fd_limit(long conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)conns + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void set_timeline(bench_config *cfg)
{
    struct timespec rt;

    clock_gettime(CLOCK_REALTIME, &rt);
    cfg->t_start = cli_now_ns();
    cfg->unix_measure = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec +
                        (uint64_t)(cfg->warmup * 1e9);
    cfg->t_measure = cfg->t_start + (uint64_t)(cfg->warmup * 1e9);
    cfg->t_end = cfg->t_measure + (uint64_t)(cfg->duration * 1e9);
    /* Operations started just before the end get the timeout to finish,
     * plus a little for the tick that notices. */
    cfg->t_hard = cfg->t_end + (uint64_t)(cfg->timeout * 1e9) + UINT64_C(500000000);
}

static const bench_driver *driver_of(bench_mode_id mode)
{
    switch (mode) {
    case BENCH_CONNECT:
        return &bench_driver_connect;
    case BENCH_UDP:
    case BENCH_NTP:
    case BENCH_STAMP:
        return &bench_driver_udp;
    default:
        return &bench_driver_tcp;
    }
}

/* Sums the live counters for the progress line. */
static void live_totals(bench_thread *threads, long n, uint64_t out[3])
{
    out[0] = out[1] = out[2] = 0;
    for (long i = 0; i < n; i++) {
        out[0] += atomic_load_explicit(&threads[i].live_ops, memory_order_relaxed);
        out[1] += atomic_load_explicit(&threads[i].live_bytes, memory_order_relaxed);
        out[2] += atomic_load_explicit(&threads[i].live_errors, memory_order_relaxed);
    }
}

/* One progress line on stderr, rewritten in place: rates over the last
 * interval, totals since the measurement began. */
static void show_progress(const bench_config *cfg, bench_thread *threads, long n,
                          uint64_t prev[3], uint64_t *prev_ns)
{
    uint64_t now = cli_now_ns(), cur[3];
    double dt = (double)(now - *prev_ns) / 1e9;
    const char *phase = now < cfg->t_measure ? "warm-up" : now < cfg->t_end ? "run" : "drain";
    double t = now < cfg->t_measure ? (double)(now - cfg->t_start) / 1e9
                                    : (double)(now - cfg->t_measure) / 1e9;

    live_totals(threads, n, cur);
    fprintf(stderr, "\r%-7s %6.1fs  %llu ops  %.0f ops/s  %.2f MB/s  %llu errors\033[K", phase,
            t, (unsigned long long)cur[0], dt > 0 ? (double)(cur[0] - prev[0]) / dt : 0.0,
            dt > 0 ? (double)(cur[1] - prev[1]) / dt / 1e6 : 0.0, (unsigned long long)cur[2]);
    fflush(stderr);
    memcpy(prev, cur, sizeof(cur));
    *prev_ns = now;
}

static bool all_done(bench_thread *threads, long n)
{
    for (long i = 0; i < n; i++)
        if (!atomic_load(&threads[i].done))
            return false;
    return true;
}

/* Waits for the threads, refreshing the progress line ~4 times a second
 * when stderr is a terminal and passing on an interrupt.  Returns false
 * when the threads outlived the hard stop by far (they are then abandoned). */
static bool supervise(bench_config *cfg, bench_thread *threads, long n)
{
    bool tty = isatty(STDERR_FILENO);
    uint64_t prev[3] = {0, 0, 0}, prev_ns = cli_now_ns();
    struct timespec nap = {0, 10 * 1000 * 1000};
    uint64_t next_show = prev_ns + PROGRESS_NS;

    while (!all_done(threads, n)) {
        uint64_t now = cli_now_ns();
        bench_ival_collect(cfg, threads, n, false);
        if (interrupted)
            atomic_store(&cfg->stop, true);
        if (now > cfg->t_hard + GIVE_UP_NS)
            return false;
        if (tty && now >= next_show) {
            show_progress(cfg, threads, n, prev, &prev_ns);
            next_show = now + PROGRESS_NS;
        }
        nanosleep(&nap, NULL);
    }
    if (tty)
        fprintf(stderr, "\r\033[K");
    return true;
}

static void free_threads(bench_thread *threads, long n)
{
    for (long i = 0; i < n; i++) {
        free(threads[i].hist);
        free(threads[i].conn_hist);
        free(threads[i].ival_hist);
    }
    free(threads);
}

/* Starts the threads; returns how many started (all of them, or fewer
 * after printing why). */
static long start_threads(bench_config *cfg, bench_thread *threads)
{
    long n = cfg->threads;

    for (long i = 0; i < n; i++) {
        bench_thread *t = &threads[i];
        int rc;
        t->cfg = cfg;
        t->index = (unsigned)i;
        t->first_conn = cfg->conns * i / n;
        t->nconns = cfg->conns * (i + 1) / n - t->first_conn;
        t->driver = driver_of(cfg->mode);
        rc = pthread_create(&t->tid, NULL, bench_thread_main, t);
        if (rc != 0) {
            cli_error("bench", "cannot start thread %ld: %s", i, sk_strerror(-rc));
            atomic_store(&cfg->stop, true);
            return i;
        }
    }
    return n;
}

/* The thread's histograms: latencies always, connect latencies in the
 * connect mode, the current interval's with --interval.  0 or -1. */
static int alloc_hists(const bench_config *cfg, bench_thread *t)
{
    bench_hist **want[3] = {&t->hist, NULL, NULL};

    if (cfg->mode == BENCH_CONNECT)
        want[1] = &t->conn_hist;
    if (cfg->interval > 0)
        want[2] = &t->ival_hist;
    for (int i = 0; i < 3; i++) {
        if (want[i] == NULL)
            continue;
        *want[i] = malloc(sizeof(bench_hist));
        if (*want[i] == NULL)
            return -1;
        bench_hist_init(*want[i]);
    }
    return 0;
}

static int run(bench_config *cfg)
{
    bench_thread *threads = calloc((size_t)cfg->threads, sizeof(*threads));
    long started;
    int status, rc;

    if (threads == NULL)
        goto nomem;
    for (long i = 0; i < cfg->threads; i++)
        if (alloc_hists(cfg, &threads[i]) < 0)
            goto nomem;
    if (bench_ival_init(cfg) < 0)
        goto nomem;
    set_timeline(cfg);
    if ((rc = bench_hdrlog_open(cfg)) < 0) {
        cli_error(cfg->hdr_log, "%s", sk_strerror(rc));
        free_threads(threads, cfg->threads);
        bench_ival_free(cfg);
        return CLI_EXIT_FAIL;
    }
    started = start_threads(cfg, threads);
    if (!supervise(cfg, threads, started)) {
        cli_error("bench", "threads did not stop after the hard stop; giving up");
        fflush(stdout);
        _exit(CLI_EXIT_FAIL);
    }
    for (long i = 0; i < started; i++)
        pthread_join(threads[i].tid, NULL);
    bench_ival_collect(cfg, threads, started, true);
    status = started == cfg->threads ? bench_report(cfg, threads, started) : CLI_EXIT_FAIL;
    if ((rc = bench_hdrlog_close(cfg)) < 0) {
        cli_error(cfg->hdr_log, "%s", sk_strerror(rc));
        status = CLI_EXIT_FAIL;
    }
    free_threads(threads, cfg->threads);
    bench_ival_free(cfg);
    return status;
nomem:
    cli_error("bench", "out of memory");
    if (threads != NULL)
        free_threads(threads, cfg->threads);
    bench_ival_free(cfg);
    return CLI_EXIT_FAIL;
}

int cmd_bench(int argc, char **argv)
{
    bench_config *cfg;
    struct sigaction sa;
    int status;

    if (argc >= 2 && strcmp(argv[1], "merge") == 0)
        return bench_merge_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "plot") == 0)
        return bench_plot_main(argc - 1, argv + 1);
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        cli_error("bench", "out of memory");
        return CLI_EXIT_FAIL;
    }
    status = parse_args(cfg, argc, argv);
    if (status >= 0)
        goto out;
    status = CLI_EXIT_FAIL;
    if (resolve_target(cfg) < 0 || bench_tls_init(cfg) < 0 || bench_nts_init(cfg) < 0)
        goto out;
    raise_fd_limit(cfg->conns);
    /* The first ^C ends the measurement early and still reports; a second
     * one kills the command the usual way. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    status = run(cfg);
out:
    bench_tls_free(cfg);
    bench_nts_free(cfg);
    free(cfg);
    return status;
}
