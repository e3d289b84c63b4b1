/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/bench.h - what the files of `sockit bench` share.
 *
 *   bench.c          options, address resolution, threads, progress line
 *   hist.c     log-bucketed latency histogram (HDR style)
 *   payload.c  deterministic per-connection byte streams and their check
 *   thread.c   one event loop per thread: phases, timers, counters
 *   pace.c     --rate: the open-loop schedule and its precise wake-ups
 *   interval.c --interval: per-interval counts handed from threads to the report
 *   tcp.c      the echo and stream drivers
 *   connect.c  the connect-churn driver
 *   udp.c      the datagram ping-pong driver (udp and ntp modes)
 *   ntp.c      the ntp mode's requests and reply checks; --nts's key exchanges
 *              (cli/ntp_nts.c builds and judges the NTS fields)
 *   stamp.c    the stamp mode's test packets and reply checks
 *   report.c   the human table and the JSON object (schema sockit-bench/3)
 *   result.c   reads a JSON object back (for merge and plot)
 *   merge.c    `sockit bench merge`: runs as one run with all their samples
 *   plot.c     SVG percentile plots: --plot and `sockit bench plot`
 *   hdrlog.c   --hdr-log: the HdrHistogram interval log
 *
 * A run has three phases on one shared monotonic timeline: warm-up (work is
 * done but not recorded), measurement (operations completing inside it are
 * recorded) and drain (no new operations; outstanding ones may finish within
 * the operation timeout).  A hard stop after the drain ends every thread's
 * loop, so a run never lasts longer than warmup + duration + timeout plus a
 * little.
 */
#ifndef SOCKIT_CLI_BENCH_H
#define SOCKIT_CLI_BENCH_H

#include "sockit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- Histogram ------------------------------------------------------------ */

/*
 * Values (nanoseconds here, though the histogram does not care) are kept in
 * log-spaced buckets of 1024 linear sub-buckets each, HDR-histogram style:
 * every value is stored within 1/1024 (about 0.1%, three significant digits)
 * of its true value, values below 2048 exactly.  Values up to 2^42 - 1 (73
 * minutes in nanoseconds) fit; larger ones are clamped.  Fixed memory (270
 * KiB), no per-sample storage; O(1) to record, O(slots) to query.
 *
 * The stated relative error, BENCH_HIST_REL_ERROR, holds over the whole
 * range the reports use (1 us to 60 s and beyond, in nanoseconds): a value
 * read back (a percentile, a CSV row) is the top of its slot, at most
 * value * BENCH_HIST_REL_ERROR above the true one and never below it.
 */
#define BENCH_HIST_SUB_BITS 11
#define BENCH_HIST_SUB_COUNT (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_HALF (BENCH_HIST_SUB_COUNT / 2)
#define BENCH_HIST_MAX_BITS 42
#define BENCH_HIST_MAX ((UINT64_C(1) << BENCH_HIST_MAX_BITS) - 1)
#define BENCH_HIST_SLOTS \
    (BENCH_HIST_SUB_COUNT + (BENCH_HIST_MAX_BITS - BENCH_HIST_SUB_BITS) * BENCH_HIST_HALF)
#define BENCH_HIST_REL_ERROR (1.0 / BENCH_HIST_HALF)

typedef struct bench_hist {
    uint64_t count;
    uint64_t sum; /* of the (clamped) values, for the mean */
    uint64_t min;
    uint64_t max;
    uint64_t slots[BENCH_HIST_SLOTS];
} bench_hist;

void bench_hist_init(bench_hist *h);
void bench_hist_record(bench_hist *h, uint64_t value);
/* Adds every count of `from` into `into`. */
void bench_hist_merge(bench_hist *into, const bench_hist *from);
/* The value at percentile p (0..100): the highest value equivalent to the
 * bucket holding that rank, capped at the largest value recorded.  0 when
 * the histogram is empty. */
uint64_t bench_hist_percentile(const bench_hist *h, double p);
double bench_hist_mean(const bench_hist *h);
/*
 * Writes the whole distribution as CSV for plotting: a header line
 * `value_us,count,cumulative_fraction`, then one row per non-empty slot in
 * increasing order: the slot's value (its top, capped at the maximum) in
 * microseconds when values are nanoseconds (value / 1000), how many values
 * it holds, and the fraction of all values at or below it.  The counts sum
 * to h->count.  Returns 0 or -errno from the stream.
 */
int bench_hist_write_csv(const bench_hist *h, FILE *f);
/* The slot a value lands in, and the range of values a slot stands for. */
size_t bench_hist_index(uint64_t value);
uint64_t bench_hist_lowest(size_t index);
uint64_t bench_hist_highest(size_t index);

/* ---- Payload streams ------------------------------------------------------ */

/*
 * Every connection sends a pseudo-random byte stream that is a pure function
 * of (seed, offset), so the sender can regenerate any part of it and the
 * receiver can check any part without storing what was sent.  The stream
 * is made of windows into one table of pseudo-random bytes (made on first
 * use, once per process, thread-safe; its 512 KiB are the only memory
 * kept): bytes can be sent straight from the table and checked with
 * memcmp, so the load generator is not what limits a fast server's stream
 * rate (see cli/bench/payload.c).  The low bit of each byte is the parity of
 * its offset: two neighbouring bytes always differ, so a missing or an
 * extra byte is caught at its own position (an extra copy of a byte at the
 * latest one position later).
 */
/* The block size B: 256 KiB, four 64 KiB writes.  The doubled table
 * (512 KiB) and the send and receive buffer fit a core's L2 cache.  A power
 * of two, so i % B is a mask. */
#define BENCH_PAYLOAD_BLOCK_BITS 18
#define BENCH_PAYLOAD_BLOCK ((size_t)1 << BENCH_PAYLOAD_BLOCK_BITS)

uint64_t bench_payload_seed(uint64_t a, uint64_t b);
uint8_t bench_payload_byte(uint64_t seed, uint64_t offset);
void bench_payload_fill(uint64_t seed, uint64_t offset, void *buf, size_t len);
/* The stream's bytes from `offset` on, in place: returns a pointer to
 * read-only memory that holds them and sets *len to how many follow there
 * (1 to 256 KiB, up to the end of the stream's current block); valid for
 * the life of the process. */
const void *bench_payload_span(uint64_t seed, uint64_t offset, size_t *len);
/* Returns len when buf[0..len) is the stream at `offset`, else the index of
 * the first byte that differs. */
size_t bench_payload_check(uint64_t seed, uint64_t offset, const void *buf,
                           size_t len);
/* The table every span points into, and its size (for tests). */
const void *bench_payload_table(size_t *len);

/* ---- Configuration and results -------------------------------------------- */

typedef enum bench_mode_id {
    BENCH_ECHO,
    BENCH_STREAM,
    BENCH_CONNECT,
    BENCH_UDP,
    BENCH_NTP,    /* the udp driver with NTP client requests */
    BENCH_STAMP   /* the udp driver with STAMP test packets */
} bench_mode_id;

/* The mode named `name`, and its name as a static string.  0 or -1. */
int bench_mode_parse(const char *name, bench_mode_id *id, const char **canonical);

/* True for the modes that send datagrams (udp, ntp, stamp). */
#define BENCH_IS_DGRAM(mode) \
    ((mode) == BENCH_UDP || (mode) == BENCH_NTP || (mode) == BENCH_STAMP)

typedef struct bench_config {
    bench_mode_id mode;
    const char *mode_name;
    const char *host;
    const char *port;
    sk_addr target;   /* resolved once, up front */
    char target_text[SK_ADDRSTRLEN];
    int family;       /* of target */
    long conns;
    long threads;
    long size;        /* bytes per message / write / datagram */
    long expect;      /* connect: exact reply size, or -1 */
    double duration;
    double warmup;
    double timeout;   /* per operation */
    double rate;      /* --rate: operations per second in total, 0 = closed loop */
    double interval;  /* --interval: seconds per report line, 0 = none */
    const char *histogram; /* --histogram: CSV file for the distribution */
    const char *plot;      /* --plot: SVG file of the percentile curve */
    const char *hdr_log;   /* --hdr-log: HdrHistogram interval log */
    bool json;
    /* --tls (cli/bench/tls.c): echo, stream and connect over TLS. */
    bool tls_on;
    bool tls_resume;       /* --tls-resume: offer the last session */
    bool insecure;         /* --insecure: no certificate verification */
    const char *cafile;    /* --cafile */
    sk_tls_ctx *tls;       /* the run's client context */
    /* ntp --nts (cli/bench/ntp.c): the key exchanges, done before the
     * timeline starts; slot j of a thread uses association
     * nts_first[thread] + j / BENCH_NTS_GROUP, owned by that thread. */
    bool nts;
    const char *nts_port;   /* --nts-port, default 4460 */
    char nts_portbuf[8];
    const char *servername; /* --servername */
    struct ntp_nts *nts_assoc;
    long nts_count;
    long *nts_first;        /* per thread */
    /* The timeline, in monotonic nanoseconds. */
    uint64_t t_start;
    uint64_t t_measure;  /* end of warm-up */
    uint64_t t_end;      /* end of measurement */
    uint64_t t_hard;     /* every loop stops by then */
    uint64_t unix_measure; /* t_measure on the real-time clock, ns since 1970 */
    atomic_bool stop;    /* SIGINT: end the measurement now */
    struct bench_ivals *ivals; /* --interval (cli/bench/interval.c) */
    struct bench_hdrlog *hdrlog; /* --hdr-log (cli/bench/hdrlog.c) */
} bench_config;

/* What one thread counted; merged at the end. */
typedef struct bench_stats {
    uint64_t ops;         /* operations completed in the measurement window */
    uint64_t bytes;       /* payload bytes received and verified in it */
    uint64_t connects;    /* connections established (whole run) */
    uint64_t conn_errors; /* connect failures, resets, unexpected closes */
    uint64_t data_errors; /* wrong, missing, extra, unexpected bytes/datagrams */
    uint64_t timeouts;    /* TCP operations unanswered within the timeout */
    uint64_t lost;        /* UDP: sent - received, filled in by the report */
    uint64_t late;        /* UDP: answers after the slot gave up on them, or
                           * older than the slot's window */
    uint64_t reply_min;   /* connect: reply sizes */
    uint64_t reply_max;
    uint64_t measure_end; /* when this thread's measurement really ended */
    /* --rate, for sends scheduled inside the measurement window: */
    uint64_t sched_sends;  /* sends made on the schedule */
    uint64_t late_sends;   /* sent > BENCH_LATE_NS after schedule while free to go */
    uint64_t worst_late;   /* the largest such lateness, ns */
    uint64_t waited_sends; /* the schedule came while the previous op was out */
    /* udp (sequence accounting, datagrams sent in the window): */
    uint64_t sent;         /* datagrams sent */
    uint64_t received;     /* distinct datagrams answered */
    uint64_t duplicates;   /* replies to a datagram already answered */
    uint64_t reordered;    /* first replies after a higher sequence's reply */
    /* --tls: handshakes completed (whole run), full and resumed. */
    uint64_t tls_full;
    uint64_t tls_resumed;
    /* The first error this thread saw: when, and what. */
    bool has_first;
    uint64_t first_ns;
    char first[256];
} bench_stats;

typedef struct bench_thread bench_thread;

/* One mode's driver: callbacks the thread runner calls on its loop. */
typedef struct bench_driver {
    /* Opens this thread's connections and starts work.  Returns 0 or an
     * error that ends the run (not a per-connection failure). */
    int (*start)(bench_thread *t);
    /* The measurement ended: issue no new operations. */
    void (*drain)(bench_thread *t);
    /* --rate: the pacer fired; start what the schedule says is due by
     * `now` and ask for the next wake-up with bench_pace_at. */
    void (*pace)(bench_thread *t, uint64_t now);
    /* Periodic: fail or retire operations older than the timeout, retry
     * failed slots.  Returns true when nothing is outstanding any more.
     * A driver that can do nothing more (every connection failed for good)
     * sets t->finished, which ends the thread's run early. */
    bool (*tick)(bench_thread *t, uint64_t now);
    /* Hard stop or end: close everything (outstanding work was already
     * accounted for by tick) and free the driver's state. */
    void (*finish)(bench_thread *t);
} bench_driver;

extern const bench_driver bench_driver_tcp;     /* echo and stream */
extern const bench_driver bench_driver_connect;
extern const bench_driver bench_driver_udp;

struct bench_thread {
    bench_config *cfg;
    unsigned index;
    long first_conn;  /* global index of this thread's first connection */
    long nconns;
    pthread_t tid;
    sk_loop *loop;
    sk_timer *tick;
    const bench_driver *driver;
    void *state;      /* the driver's */
    bool draining;    /* the measurement is over: no new operations */
    bool finished;    /* the driver has nothing left to do (all connections gone) */
    bench_stats stats;
    bench_hist *hist;
    bench_hist *conn_hist; /* connect mode: connect latencies */
    /* --rate: the pacer (cli/bench/pace.c), a timerfd on the loop. */
    int pace_fd;
    sk_io *pace_io;
    uint64_t pace_armed; /* when it fires, 0 when disarmed */
    /* --interval: this thread's share of the current interval. */
    bench_hist *ival_hist;
    uint64_t ival_index;
    uint64_t ival_ops;
    uint64_t ival_bytes;
    atomic_uint_fast64_t ival_done; /* intervals before this one are handed over */
    /* Copies for the progress line, written by this thread only. */
    atomic_uint_fast64_t live_ops;
    atomic_uint_fast64_t live_bytes;
    atomic_uint_fast64_t live_errors;
    atomic_bool done;
};

/* ---- The open-loop schedule (cli/bench/pace.c) ---------------------------- */

/*
 * With --rate R, connection (or UDP slot) c of C sends its k-th operation
 * (k = 0, 1, ...) at t_start + (c + k * C) / R seconds: R per second in
 * total, each connection every C / R seconds, the connections evenly
 * staggered.  Latency is measured from that scheduled time.  A send that
 * leaves more than BENCH_LATE_NS after its time while its connection was
 * free to send means the generator fell behind, and is counted; one that
 * waited for the previous reply is the server's delay, part of the latency.
 */
#define BENCH_LATE_NS UINT64_C(1000000)

uint64_t bench_sched(const bench_config *cfg, long conn, uint64_t k);
/* Opens the thread's pacer (a no-op without --rate).  0 or -errno. */
int bench_pace_open(bench_thread *t);
void bench_pace_close(bench_thread *t);
/* Asks for the driver's pace callback at `when` (or earlier). */
void bench_pace_at(bench_thread *t, uint64_t when);
/* Counts a send scheduled at `sched` that leaves at `now`; `waited` when
 * the connection still awaited its previous reply at that time. */
void bench_pace_note(bench_thread *t, uint64_t sched, uint64_t now, bool waited);

/* ---- Per-interval reports (cli/bench/interval.c) -------------------------- */

/* One finished interval, as reported. */
typedef struct bench_ival_row {
    double start_s, end_s; /* from the start of the measurement */
    uint64_t ops, bytes;
    uint64_t p50, p99;     /* ns; 0 without latencies */
} bench_ival_row;

/* Sets up cfg->ivals for --interval (a no-op without it).  0 or -ENOMEM. */
int bench_ival_init(bench_config *cfg);
void bench_ival_free(bench_config *cfg);
/* Thread side: counts an operation that completed at `now` inside the
 * window (latency < 0: none), and hands finished intervals over. */
void bench_ival_count(bench_thread *t, uint64_t now, int64_t latency, uint64_t ops,
                      uint64_t bytes);
void bench_ival_tick(bench_thread *t, uint64_t now);
void bench_ival_thread_end(bench_thread *t);
/* Supervisor side: turns every interval all threads have handed over into
 * a row (printed at once in the table mode).  `final` after the threads
 * ended: every interval up to the end of the measurement. */
void bench_ival_collect(bench_config *cfg, bench_thread *threads, long n, bool final);
/* The rows so far. */
const bench_ival_row *bench_ival_rows(const bench_config *cfg, size_t *n);

/* Thread runner (cli/bench/thread.c). */
void *bench_thread_main(void *arg);
/* Counts one operation finished at `now` that took `latency` ns and brought
 * `bytes` verified bytes; recorded only inside the measurement window. */
void bench_count_op(bench_thread *t, uint64_t now, uint64_t latency, uint64_t bytes);
/* Connect mode: one connect latency (SYN sent to established, ns). */
void bench_count_connect(bench_thread *t, uint64_t now, uint64_t latency);
/* Counts `ops` operations without latencies and `bytes` verified bytes
 * (stream mode), again only inside the window. */
void bench_count_bytes(bench_thread *t, uint64_t now, uint64_t ops, uint64_t bytes);

/*
 * Opens a non-blocking socket of `type` towards the run's target and starts
 * connecting.  Returns 0 when connected already (always for datagrams),
 * -EINPROGRESS when the connect continues (wait for writability, then read
 * the result with bench_sock_connected), or another error with nothing left
 * open.
 */
int bench_sock_connect(const bench_config *cfg, int type, sk_sock **out);
/* The result of a non-blocking connect once the socket is writable:
 * 0 or -errno. */
int bench_sock_connected(sk_sock *s);

typedef enum bench_err_kind {
    BENCH_ERR_CONN,
    BENCH_ERR_DATA,
    BENCH_ERR_TIMEOUT
} bench_err_kind;

/* Counts one error; the first one of the thread keeps its description. */
void bench_error(bench_thread *t, bench_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- NTP requests (cli/bench/ntp.c) --------------------------------------- */

/* An NTP request and its reply are 48 bytes (the header, no extensions). */
#define BENCH_NTP_SIZE 48

/*
 * Writes request `seq` of a slot whose tag is `tag` into buf[48]: an NTPv4
 * client packet whose transmit timestamp is the tag's high 32 bits and the
 * sequence number's low 32 bits, so the reply's origin names the request.
 */
void bench_ntp_request(uint64_t tag, uint64_t seq, unsigned char buf[BENCH_NTP_SIZE]);

/*
 * --nts: runs one key exchange for each group of up to BENCH_NTS_GROUP
 * datagrams in flight on a thread.  A key exchange gives NTS_COOKIES_MAX
 * (8) cookies and each request spends one, so a group of 4 keeps 4 spare
 * for the requests whose replies are lost.  0, or -1 after printing the
 * failed step in one line.  bench_nts_free releases them.
 */
#define BENCH_NTS_GROUP 4
int bench_nts_init(bench_config *cfg);
void bench_nts_free(bench_config *cfg);

/*
 * Checks a reply to a slot tagged `tag`: at least 48 bytes, mode 4, origin
 * carrying the tag, a non-zero transmit timestamp, stratum 1..15 (or 16
 * with leap 3, an honest unsynchronised server), not a kiss-o'-death.
 * Returns NULL and the low 32 bits of the request's sequence number in
 * *seq32, or what is wrong.
 */
const char *bench_ntp_reply(uint64_t tag, const unsigned char *buf, size_t n,
                            uint32_t *seq32);

/* ---- STAMP test packets (cli/bench/stamp.c) -------------------------------- */

/* The smallest STAMP test packet (the unauthenticated base), the default. */
#define BENCH_STAMP_MIN 44

/*
 * Writes test packet `seq` of a slot tagged `tag` into buf[size] (size >=
 * 44): an unauthenticated Session-Sender packet whose sequence number is
 * seq's low 32 bits and whose timestamp carries the tag's high 32 bits and
 * the same low 32 bits, so the reflected copy names the request; zero
 * padding (RFC 8762) fills the rest.
 */
void bench_stamp_request(uint64_t tag, uint64_t seq, size_t size, unsigned char *buf);

/*
 * Checks a reply to a slot tagged `tag` whose requests are `size` bytes:
 * exactly that long (a reflector never changes the length), the sender's
 * timestamp carrying the tag and the sender's sequence number, and a
 * non-zero receive and transmit timestamp.  Returns NULL and the request's
 * low 32 bits in *seq32, or what is wrong.
 */
const char *bench_stamp_reply(uint64_t tag, const unsigned char *buf, size_t n, size_t size,
                              uint32_t *seq32);

/* ---- Reports (cli/bench/report.c) ------------------------------------------ */

/* The version of the --json layout: a change that removes or redefines a
 * field bumps it (bench/README.md documents each). */
#define BENCH_JSON_SCHEMA "sockit-bench/3"

/* A run's results, merged over its threads (or over runs, by merge). */
typedef struct bench_summary {
    bench_stats s;
    bench_hist *hist;
    bench_hist *conn_hist; /* connect mode */
    double seconds;    /* length of the measurement window (the time base) */
    uint64_t start_unix_ns, elapsed_ns; /* the window on the real-time clock */
    uint64_t errors;   /* connection + data + timeouts */
    const char *first; /* the earliest error's text, or NULL */
} bench_summary;

/* Adds one thread's (or run's) counters into another's; the worst lateness
 * and reply sizes are the extremes. */
void bench_stats_add(bench_stats *into, const bench_stats *from);
/* Merges the threads' results and prints them.  Returns the exit status:
 * 0 clean, 1 if anything went wrong. */
int bench_report(const bench_config *cfg, bench_thread *threads, long nthreads);
/* Prints a summary as the table or (cfg->json) the JSON object. */
void bench_report_print(const bench_config *cfg, const bench_summary *sm);

/* ---- Reading results back (cli/bench/result.c) ----------------------------- */

/*
 * What `merge` and `plot` take from a --json object of BENCH_JSON_SCHEMA.
 * The reader is a small recursive-descent JSON parser for exactly that
 * layout: it allocates nothing but the interval rows (one array grown by
 * doubling), fills the histograms' buckets straight from the text, skips
 * fields it does not know, and refuses a bucket whose bounds are not the
 * histogram's own (other histogram settings).  Nesting is limited to
 * BENCH_RESULT_DEPTH.
 */
#define BENCH_RESULT_DEPTH 16

typedef struct bench_result {
    char schema[32];
    char mode[16];
    char target[SK_ADDRSTRLEN];
    char first_error[256];
    bool has_first_error;
    long conns, threads, size;
    double duration_s, warmup_s, elapsed_s;
    uint64_t start_unix_ns, elapsed_ns;
    bench_stats s;              /* the counters, as a run reports them */
    double target_per_s;        /* --rate, 0 in the closed loop */
    bool has_udp;
    bool has_hist, has_conn_hist;
    bench_hist hist, conn_hist; /* the buckets of "latency_histogram" etc. */
    double interval_s;          /* 0 without --interval */
    bench_ival_row *rows;       /* malloc'ed; bench_result_free */
    size_t nrows, cap;
} bench_result;

/* Parses buf[0..len) into *r (which it initialises first).  Returns 0, or
 * -1 with why[] saying what is wrong (-ENOMEM for the rows: -2).  Free the
 * rows with bench_result_free either way. */
int bench_result_parse(const char *buf, size_t len, bench_result *r, char *why,
                       size_t whylen);
void bench_result_free(bench_result *r);
/* Reads and parses a file (at most BENCH_RESULT_MAX_FILE bytes). */
#define BENCH_RESULT_MAX_FILE ((size_t)256 << 20)
int bench_result_load(const char *path, bench_result *r, char *why, size_t whylen);

/* ---- merge, plot, the HdrHistogram log -------------------------------------- */

int bench_merge_main(int argc, char **argv);
int bench_plot_main(int argc, char **argv);

/* One line of a plot: a label, its latency histogram and its intervals. */
typedef struct bench_plot_run {
    const char *label;
    const bench_hist *hist;
    const bench_ival_row *rows;
    size_t nrows;
} bench_plot_run;

/* Writes the SVG to `path`.  0, or -1 after saying why on stderr. */
int bench_plot_write(const char *path, const char *title, const bench_plot_run *runs,
                     size_t n);

/* --hdr-log: opens the file and writes the header (a no-op without the
 * option); writes one interval's histogram; closes it.  0 or -errno. */
int bench_hdrlog_open(bench_config *cfg);
/* h NULL: an empty interval. */
int bench_hdrlog_write(const bench_config *cfg, double start_s, double len_s,
                       const bench_hist *h);
int bench_hdrlog_close(bench_config *cfg);
/* The V2 compressed encoding of a histogram, base64: writes a NUL-ended
 * text into out[0..cap) and returns its length, or -ENOSPC / -ENOMEM. */
long bench_hdr_encode(const bench_hist *h, char *out, size_t cap);

/* ---- TLS (--tls) ----------------------------------------------------------- */

/* Makes cfg->tls from --cafile, --insecure and --tls-resume (nothing
 * without --tls).  Returns 0, or an error after printing it. */
int bench_tls_init(bench_config *cfg);
void bench_tls_free(bench_config *cfg);

/*
 * One step of a connection's handshake on its non-blocking socket: `first`
 * wraps it (SNI and the name checked: the HOST argument), later steps go
 * on.  Returns 0 when complete (counted in t->stats as full or resumed),
 * SK_ETLS_WANT_READ / SK_ETLS_WANT_WRITE (watch bench_tls_events(want)),
 * or the failure.
 */
int bench_tls_step(bench_thread *t, sk_sock *s, bool first);
unsigned bench_tls_events(int want);

/* True for the results that mean "not now" on a non-blocking socket, with
 * or without TLS: -EAGAIN and the TLS wants. */
bool bench_would_block(ssize_t n);

#endif /* SOCKIT_CLI_BENCH_H */
