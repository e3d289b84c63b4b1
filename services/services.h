/* SPDX-License-Identifier: MIT */
/*
 * services/services.h - the six simple services (RFC 862-868), NTP (RFC
 * 5905/4330, UDP only) and the STAMP reflector (RFC 8762/8972, UDP only)
 * as handlers on libsockit's server framework, and what they share.  The protocol facts themselves (the chargen pattern,
 * the RFC 868 value, the daytime line, the quote file format, the NTP
 * header) are in proto/.
 *
 * Every handler gets a `svc_env` as its `arg` (sk_server_add_tcp/udp): the
 * daemon's run-time settings, the quote store and the UDP guard.  The
 * handlers never touch a descriptor; they only call sk_conn_* and sk_dgram_*.
 *
 *   svc_table          the seven services: name, standard port, handlers
 *   qotd               the quote store (built-in or a fortune file,
 *                      reloadable while the server runs)
 *   ntp                the NTP server's settings and drop counters
 *   ntskeys            the NTS cookie master keys (current and previous,
 *                      rotated, optionally shared through a key file)
 *   stamp              the STAMP reflector's settings, sessions, counters
 *   udpguard           the reflection/amplification rules every UDP
 *                      handler applies before it replies
 *   oneshot            "send one message, then close" for TCP
 *   tally              counters kept per thread (the one way sockit counts)
 *   counter tables     each service's counters as one X-macro: the enum,
 *                      the /metrics families and the stop line
 */
#ifndef SOCKIT_SERVICES_H
#define SOCKIT_SERVICES_H

#include "sockit.h"

#include "chargen.h"
#include "daytime.h"
#include "ntp.h"
#include "nts.h"
#include "qotd.h"
#include "rfc868.h"
#include "stamp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- shared environment ---------------------------------------------- */

typedef struct svc_qotd svc_qotd;
typedef struct svc_udpguard svc_udpguard;
typedef struct svc_ntp svc_ntp;
typedef struct svc_ntskeys svc_ntskeys;
typedef struct svc_stamp svc_stamp;

/* What the handlers read through their `arg`.  Read-only while serving. */
typedef struct svc_env {
    daytime_style daytime_format;
    svc_qotd *qotd;        /* NULL: the built-in quotes */
    svc_udpguard *guard;   /* NULL: no UDP safety rules (tests only) */
    svc_ntp *ntp;          /* NULL: NTP defaults, drops not counted */
    svc_ntskeys *ntskeys;  /* NULL: no NTS (plain NTP only) */
    const char *nts_server; /* nts-ke: the Server record to send, or NULL */
    int nts_port;          /* nts-ke: the Port record (0 or 123: none) */
    svc_stamp *stamp;      /* NULL: a stateless unauthenticated reflector */
} svc_env;

/* ---- the service table ------------------------------------------------- */

typedef struct svc_service {
    const char *name;          /* "echo", ... */
    int std_port;              /* 7, 9, 19, 17, 13, 37, 123, 862 */
    const sk_tcp_handler *tcp; /* NULL: UDP only (ntp, stamp) */
    const sk_udp_handler *udp;
    int udp_flags;             /* extra sk_server_add_udp flags (SK_SERVER_RXTIME,
                                  SK_SERVER_RXTTL) */
} svc_service;

#define SVC_COUNT 8

/* The eight services in the order echo, discard, daytime, qotd, chargen,
 * time, ntp, stamp (ascending standard port). */
extern const svc_service svc_table[SVC_COUNT];

/* Returns the index in svc_table of `name`, or -1. */
int svc_find(const char *name);

extern const sk_tcp_handler svc_echo_tcp, svc_discard_tcp, svc_chargen_tcp,
    svc_qotd_tcp, svc_daytime_tcp, svc_time_tcp;
extern const sk_udp_handler svc_echo_udp, svc_discard_udp, svc_chargen_udp,
    svc_qotd_udp, svc_daytime_udp, svc_time_udp, svc_ntp_udp, svc_stamp_udp;

/* The reply bound of the UDP services but echo (RFC 864 and 865 say 512). */
#define SVC_UDP_MAX 512

/* Current wall-clock Unix time in seconds. */
int64_t svc_wallclock(void);

/* ---- counter tables ------------------------------------------------------- */

/*
 * Every counter a service keeps is one row of its table, an X-macro
 * X(id, kind, metric, lname, lvalue, key, help) - as SK_SERVER_STATS_MAP in
 * sockit.h is for the server's:
 *   id      the enum constant, generated from the table: the counter's
 *           svc_tally index (what the line that counts it passes)
 *   kind    SK_STAT_COUNTER or SK_STAT_GAUGE
 *   metric  the Prometheus family without "sockit_" (and "_total" for a
 *           counter); the rows of one family are adjacent or not, a family
 *           is rendered once with all its rows, its HELP naming each label
 *   lname, lvalue  the row's label in its family ("" "": none)
 *   key     its stop-line key; rows sharing a key are summed in the line
 *   help    what it counts
 * From the table come the enum, the svc_stats descriptor the service
 * exports, the /metrics families (cli/metrics.c) and the stop line
 * (svc_stats_format).  Adding a counter is one row plus the line that
 * counts it.  A new table (a service, or a part of one shown only when
 * enabled) is the X-macro, its ids in the service's enum (one tally may
 * hold several tables: `enum { A_STATS(SVC_STAT_ENUM) B_STATS(SVC_STAT_ENUM)
 * N }`), a SVC_STATS_DEFINE in the service's file, and a line in
 * serve_stats_of (cli/serve.c) saying when it runs;
 * tests/integration/test_counters.py then asks for its expected values.
 */
typedef struct svc_stat_row {
    int id, kind;
    const char *metric, *lname, *lvalue, *key, *help;
} svc_stat_row;

typedef struct svc_stats {
    /* The stop line: "event=EVENT key=N ..." of its own, or NULL to append
     * the keys to the server's "event=stop" line. */
    const char *event;
    const svc_stat_row *rows;
    size_t nrows;
    /* Counter `id` of the service object `obj` (a gauge as of `now_ms`,
     * the loops' monotonic clock). */
    uint64_t (*value)(void *obj, int id, uint64_t now_ms);
} svc_stats;

#define SVC_STAT_ENUM(id, kind, metric, lname, lvalue, key, help) id,
#define SVC_STAT_ROW(id, kind, metric, lname, lvalue, key, help)                          \
    {id, kind, metric, lname, lvalue, key, help},
/* The svc_stats of table MAP, named NAME, with EVENT and VALUE. */
#define SVC_STATS_DEFINE(name, MAP, event, value)                                         \
    static const svc_stat_row name##_rows[] = {MAP(SVC_STAT_ROW)};                       \
    const svc_stats name = {event, name##_rows, sizeof(name##_rows) / sizeof(name##_rows[0]), \
                            value}

/*
 * Writes " key=N" for every key of `d` (rows sharing a key summed, in the
 * order of their first row) into buf[size] (always terminated; cut short
 * when it does not fit).  Returns the length it would have written.
 */
size_t svc_stats_format(const svc_stats *d, void *obj, uint64_t now_ms, char *buf,
                        size_t size);

/* The row of `d` whose key is `key`, or NULL. */
const svc_stat_row *svc_stats_find(const svc_stats *d, const char *key);

/* ---- qotd (RFC 865) ---------------------------------------------------- */

#define SVC_QOTD_FILE_MAX (16u << 20) /* largest quote file read */

/*
 * Creates a quote store holding the built-in quotes, or, when `path` is
 * not NULL, the quotes of that fortune-format file (quotes separated by
 * lines holding only "%").  On failure writes a one-line reason into
 * err[errsize] and returns -EINVAL (bad content) or -errno (unreadable).
 */
int svc_qotd_new(svc_qotd **out, const char *path, char *err, size_t errsize);

/*
 * Rereads the store's file and, if it is valid, makes it current; a bad
 * file leaves the old quotes in place.  Safe while other threads pick
 * quotes.  Returns the number of quotes now served, or an error as
 * svc_qotd_new (with the reason in err).  A store without a file returns 0.
 */
int svc_qotd_reload(svc_qotd *q, char *err, size_t errsize);

/*
 * Copies a randomly chosen quote (wire form: lines end in CR LF) into
 * buf[QOTD_QUOTE_MAX] and returns its length.  `q` may be NULL for the
 * built-in quotes.  Thread-safe.
 */
size_t svc_qotd_pick(svc_qotd *q, char *buf);

/* Number of quotes currently served. */
size_t svc_qotd_count(svc_qotd *q);

/* The file the store reads, or NULL. */
const char *svc_qotd_path(const svc_qotd *q);

void svc_qotd_free(svc_qotd *q);

/* Built-in quote `i` (LF line ends, no final line end), or NULL past the
 * last one. */
const char *svc_qotd_builtin(size_t i);

/* ---- ntp (RFC 5905 server side, as RFC 4330 describes it) ------------- */

/*
 * What the server says about its clock.  By default it follows the
 * kernel (adjtimex, reread at most once a second per thread):
 *   - kernel unsynchronised (STA_UNSYNC or TIME_ERROR): LI 3, stratum 16,
 *     refid 0, reference timestamp 0, root delay 0, root dispersion
 *     SVC_NTP_MAX_DISP (clients refuse such a server);
 *   - kernel synchronised by some NTP daemon: LI from the kernel's leap
 *     flags, stratum SVC_NTP_KERNEL_STRATUM (the daemon's own stratum is
 *     not visible to us), refid "KERN", reference timestamp the current
 *     second, root delay 0, root dispersion the kernel's maximum error.
 * `stratum` 1..15 (--ntp-stratum) declares the local clock a reference, as
 * chrony's `local stratum` does: LI 0 (or the kernel's leap flags), that
 * stratum, refid "LOCL", root delay 0, root dispersion SVC_NTP_LOCAL_DISP.
 * `unsynced` forces the unsynchronised answer (for tests).
 * Precision is log2 of the clock's resolution, but never below -24.
 */
typedef struct svc_ntp_config {
    int stratum;   /* 0: follow the kernel; 1..15: local reference */
    bool unsynced; /* always say LI 3, stratum 16 */
} svc_ntp_config;

#define SVC_NTP_KERNEL_STRATUM 3
#define SVC_NTP_LOCAL_DISP 0.001 /* seconds */
#define SVC_NTP_MAX_DISP 16.0    /* seconds: RFC 5905's MAXDISP */
/* A source over its rate limit gets at most one RATE kiss-o'-death per
 * this many milliseconds; its other requests are dropped. */
#define SVC_NTP_KISS_INTERVAL_MS 4000

/* The ntp service's counters (svc_ntp_stats; the guard counts its own
 * drops).  Stop line: event=ntp_stats. */
#define SVC_NTP_STATS(X)                                                                  \
    X(SVC_NTP_REPLIED, SK_STAT_COUNTER, "ntp_replied", "", "", "replied",                 \
      "NTP client requests answered.")                                                    \
    X(SVC_NTP_KOD_RATE, SK_STAT_COUNTER, "ntp_kiss_of_death", "code", "RATE", "kod_rate", \
      "NTP requests over the source's rate answered with a RATE kiss-o'-death.")          \
    X(SVC_NTP_DROP_SHORT, SK_STAT_COUNTER, "ntp_dropped", "reason", "short",              \
      "dropped_short", "shorter than 48 bytes.")                                          \
    X(SVC_NTP_DROP_VERSION, SK_STAT_COUNTER, "ntp_dropped", "reason", "version",          \
      "dropped_version", "version 0 or 5 to 7.")                                          \
    X(SVC_NTP_DROP_MODE, SK_STAT_COUNTER, "ntp_dropped", "reason", "mode", "dropped_mode", \
      "not a client request (mode 3).")

/* The ntp service's NTS counters, in the same tally (svc_nts_stats; only
 * with --nts).  Stop line: event=nts_stats. */
#define SVC_NTS_STATS(X)                                                                  \
    X(SVC_NTP_NTS_OK, SK_STAT_COUNTER, "nts_requests", "result", "authenticated",         \
      "authenticated", "NTS requests to the ntp service authenticated and answered.")     \
    X(SVC_NTP_NTS_NAK_COOKIE, SK_STAT_COUNTER, "nts_requests", "result", "ntsn_cookie",   \
      "nak_cookie", "a cookie that cannot be opened, answered NTSN.")                     \
    X(SVC_NTP_NTS_NAK_AUTH, SK_STAT_COUNTER, "nts_requests", "result",                    \
      "ntsn_authenticator", "nak_auth", "the authenticator failed, answered NTSN.")       \
    X(SVC_NTP_NTS_MALFORMED, SK_STAT_COUNTER, "nts_requests", "result", "malformed",      \
      "malformed", "dropped as malformed.")                                               \
    X(SVC_NTP_NTS_COOKIES, SK_STAT_COUNTER, "nts_cookies_issued", "", "", "cookies_issued", \
      "Fresh NTS cookies sent in authenticated replies and key exchanges.")               \
    X(SVC_NTP_KE_OK, SK_STAT_COUNTER, "nts_key_exchanges", "result", "ok", "ke_ok",       \
      "NTS key exchanges answered with cookies.")                                         \
    X(SVC_NTP_KE_BAD, SK_STAT_COUNTER, "nts_key_exchanges", "result", "bad_request",      \
      "ke_bad_request", "answered with Error \"bad request\".")                          \
    X(SVC_NTP_KE_CRITICAL, SK_STAT_COUNTER, "nts_key_exchanges", "result",                \
      "unrecognized_critical", "ke_unrecognized_critical",                                \
      "answered with Error \"unrecognized critical record\".")                           \
    X(SVC_NTP_KE_INTERNAL, SK_STAT_COUNTER, "nts_key_exchanges", "result",                \
      "internal_error", "ke_internal", "answered with Error \"internal server error\".")  \
    X(SVC_NTP_KE_NO_ALPN, SK_STAT_COUNTER, "nts_key_exchanges", "result", "no_alpn",      \
      "ke_no_alpn", "closed: the client did not agree to ntske/1.")

typedef enum svc_ntp_counter {
    SVC_NTP_STATS(SVC_STAT_ENUM) SVC_NTS_STATS(SVC_STAT_ENUM) SVC_NTP_NCOUNTERS
} svc_ntp_counter;

/* The tables above; `value` takes a svc_ntp. */
extern const svc_stats svc_ntp_stats, svc_nts_stats;

/* Creates the NTP settings.  Errors: -EINVAL (stratum out of 0..15), -ENOMEM. */
int svc_ntp_new(svc_ntp **out, const svc_ntp_config *cfg);
void svc_ntp_free(svc_ntp *n);

/* Count of `c` so far (all threads). */
uint64_t svc_ntp_count(const svc_ntp *n, svc_ntp_counter c);

/* Adds `v` to counter `c` (for the handlers beside ntp: nts-ke). */
void svc_ntp_add(svc_ntp *n, svc_ntp_counter c, uint64_t v);

/*
 * What the server would say about itself now (leap, stratum, precision,
 * root delay and dispersion, refid, reference timestamp), per the rules
 * above.  `now` is the current time; `n` may be NULL (defaults).
 */
void svc_ntp_self(const svc_ntp *n, const struct timespec *now, ntp_packet *self);

/* ---- NTS cookie keys (RFC 8915 section 6) ---------------------------------------- */

/*
 * The master keys that seal and open cookies (proto/nts.h's format): the
 * current key seals, the current and the previous one open.  With a key
 * file, keys survive a restart and every instance sharing the file accepts
 * the others' cookies: the file is created mode 0600 when missing, holds
 * the two keys newest first ("ID CREATED HEXKEY" lines), and whichever
 * instance first finds the current key `rotate` seconds old writes a new
 * one in front of it (under flock, so exactly one does); the others
 * reread the file within a second of its change, or at once when a cookie
 * names a key they do not have.  Without a file the keys live in memory.
 */
#define SVC_NTS_ROTATE_DEFAULT 86400

/* Creates the store from `path` (NULL: in memory), rotating every `rotate`
 * seconds (0: never).  On failure writes a reason into err[errsize] and
 * returns -errno or -EINVAL (a malformed file). */
int svc_ntskeys_new(svc_ntskeys **out, const char *path, int64_t rotate, char *err,
                    size_t errsize);
void svc_ntskeys_free(svc_ntskeys *k);

/*
 * Rotates when due and rereads the file when it changed, at most once a
 * second (unless `force`) whoever calls; `now` is wall-clock Unix seconds.
 * Thread-safe.  Returns 0 or the error of a failed reread or write (the
 * keys held stay in use).
 */
int svc_ntskeys_refresh(svc_ntskeys *k, int64_t now, bool force);

/* The current key's id. */
uint32_t svc_ntskeys_current_id(svc_ntskeys *k);

/* Seals `keys` into a fresh cookie under the current key.  Thread-safe, no
 * lock on the way.  Returns 0, -ENOMEM, -EIO. */
int svc_ntskeys_seal(svc_ntskeys *k, const nts_keys *keys, unsigned char out[NTS_COOKIE_LEN]);

/* Opens a cookie made with the current or previous key (of this or a
 * sharing instance).  Returns 0, -EBADMSG (not ours, or tampered), -ENOKEY
 * (a key id we do not hold), -ENOMEM. */
int svc_ntskeys_open(svc_ntskeys *k, const void *cookie, size_t len, nts_keys *keys);

/* The calling thread's spare AES-SIV context (for C2S and S2C keys), freed
 * with the store; NULL when out of memory. */
siv *svc_ntskeys_scratch(svc_ntskeys *k);

/* ---- NTS requests to the ntp service (services/ntsntp.c) ------------------------- */

typedef enum svc_nts_result {
    SVC_NTS_PLAIN = 0,   /* no NTS fields: answer as plain NTP */
    SVC_NTS_OK,          /* authenticated: answer with svc_nts_cookies/reply */
    SVC_NTS_NAK_COOKIE,  /* a cookie we cannot open: NTSN */
    SVC_NTS_NAK_AUTH,    /* the authenticator fails: NTSN */
    SVC_NTS_MALFORMED,   /* bad fields, a short or missing Unique Identifier,
                          * no cookie or authenticator: dropped */
} svc_nts_result;

#define SVC_NTS_PLAIN_MAX 2048 /* encrypted fields of a request, at most */

/* One request's NTS state, from svc_nts_check to svc_nts_reply. */
typedef struct svc_nts_req {
    nts_ntp_fields f;   /* points into the request */
    nts_keys keys;      /* from its cookie */
    size_t wanted;      /* cookies asked for: 1 + placeholders */
    size_t plain_len;
    unsigned char plain[NTS_COOKIES_MAX * (NTS_EF_HEADER + NTS_COOKIE_LEN)];
} svc_nts_req;

/* Judges a request (len > 48 bytes) as the file map of ntsntp.c says. */
svc_nts_result svc_nts_check(svc_ntskeys *k, const void *req, size_t len, svc_nts_req *r);

/* Makes the fresh cookies for an SVC_NTS_OK request of `reqlen` bytes:
 * one per cookie and placeholder, as many as keep the reply no longer than
 * the request.  Returns how many. */
size_t svc_nts_cookies(svc_ntskeys *k, svc_nts_req *r, size_t reqlen);

/*
 * Writes the reply into out[0..cap): `header` (48 bytes, already final),
 * the Unique Identifier, and unless `nak` the authenticator with the
 * cookies sealed by the S2C key.  Returns its length, 0 on failure.
 */
size_t svc_nts_reply(svc_ntskeys *k, svc_nts_req *r, const unsigned char header[NTP_HEADER_LEN],
                     bool nak, unsigned char *out, size_t cap);

/* ---- the NTS key exchange (services/ntske.c) --------------------------------------- */

#define SVC_NTSKE_COOKIES 8 /* cookies per exchange */

/* The TCP handler of service nts-ke; its listener needs a TLS context with
 * ALPN "ntske/1" and TLS 1.3 (sk_server_set_tls).  Its arg is the svc_env. */
extern const sk_tcp_handler svc_ntske_tcp;

/*
 * The response to a parsed request on connection `c` (its TLS exporter
 * gives the keys) into out[0..cap): cookies and the configured Server and
 * Port records, or an Error record.  Counts the result.  Returns the
 * length, 0 when out is too small.
 */
size_t svc_ntske_answer(sk_conn *c, const svc_env *env, const nts_ke_msg *m,
                        unsigned char *out, size_t cap);
/* ---- stamp (RFC 8762 Session-Reflector, RFC 8972 extensions) ------------ */

/*
 * The reflector's settings.  Stateless, it copies each request's sequence
 * number into its own; stateful, it keeps a sequence number per session
 * (source address, source port, SSID), so that the sender can tell
 * forward from backward loss.  With a key it runs in authenticated mode:
 * requests of the 112-byte base format whose HMAC verifies, replies
 * signed with the same key.
 */
typedef struct svc_stamp_config {
    bool stateless;
    bool auth;     /* authenticated mode, with `key` */
    stamp_key key;
    size_t table_size; /* sessions per worker thread; 0: SVC_STAMP_SESSIONS */
    uint64_t idle_ms;  /* a session unheard of this long is closed; 0: default */
} svc_stamp_config;

#define SVC_STAMP_SESSIONS 4096          /* per worker thread */
#define SVC_STAMP_SESSION_IDLE_MS 60000  /* RFC 8762 leaves it open */

/* The stamp service's counters (svc_stamp_stats).  Stop line:
 * event=stamp_stats.  SVC_STAMP_SESSIONS_OPEN is a gauge read from the
 * session tables, not counted. */
#define SVC_STAMP_STATS(X)                                                                \
    X(SVC_STAMP_REFLECTED, SK_STAT_COUNTER, "stamp_reflected", "", "", "reflected",       \
      "STAMP test packets reflected.")                                                    \
    X(SVC_STAMP_DROP_SHORT, SK_STAT_COUNTER, "stamp_dropped", "reason", "short", "short", \
      "STAMP packets shorter than the mode's base packet, left unanswered.")              \
    X(SVC_STAMP_DROP_LONG, SK_STAT_COUNTER, "stamp_dropped", "reason", "long", "long",    \
      "longer than any reply can be (65507 bytes).")                                      \
    X(SVC_STAMP_DROP_HMAC, SK_STAT_COUNTER, "stamp_dropped", "reason", "hmac", "hmac",    \
      "authenticated mode: the HMAC did not verify.")                                     \
    X(SVC_STAMP_DROP_GUARD, SK_STAT_COUNTER, "stamp_dropped", "reason", "guard", "guard", \
      "refused by the UDP guard (also in sockit_udp_guard_dropped_total).")               \
    X(SVC_STAMP_TLV_UNKNOWN, SK_STAT_COUNTER, "stamp_tlvs_flagged", "flag", "unknown",    \
      "tlv_unknown", "TLVs reflected with the U flag.")                                   \
    X(SVC_STAMP_TLV_MALFORMED, SK_STAT_COUNTER, "stamp_tlvs_flagged", "flag", "malformed", \
      "tlv_malformed", "TLVs reflected with the M flag.")                                 \
    X(SVC_STAMP_TLV_INTEGRITY, SK_STAT_COUNTER, "stamp_tlvs_flagged", "flag", "integrity", \
      "tlv_integrity", "requests whose HMAC TLV failed (I flag).")                        \
    X(SVC_STAMP_SESSIONS_EVICTED, SK_STAT_COUNTER, "stamp_sessions_evicted", "", "",      \
      "sessions_evicted", "Live STAMP sessions pushed out of a full session table.")      \
    X(SVC_STAMP_SESSIONS_OPEN, SK_STAT_GAUGE, "stamp_sessions_open", "", "",              \
      "sessions_open", "STAMP sessions heard from within the idle time.")

typedef enum svc_stamp_counter {
    SVC_STAMP_STATS(SVC_STAT_ENUM) SVC_STAMP_NCOUNTERS
} svc_stamp_counter;

/* The table above; `value` takes a svc_stamp. */
extern const svc_stats svc_stamp_stats;

/* Creates the reflector's settings.  Errors: -EINVAL (a key outside
 * 16..64 bytes with auth), -ENOMEM. */
int svc_stamp_new(svc_stamp **out, const svc_stamp_config *cfg);
void svc_stamp_free(svc_stamp *s);

/* Count of `c` so far (all threads; a svc_tally, as ntp's). */
uint64_t svc_stamp_count(const svc_stamp *s, svc_stamp_counter c);

/* The counter's stop-line key: "reflected", "short", "hmac", ...; "unknown"
 * for a value outside the table. */
const char *svc_stamp_counter_name(svc_stamp_counter c);

/* Sessions heard from within the idle time before `now_ms` (the loop's
 * monotonic clock), over all threads.  O(table size x threads). */
size_t svc_stamp_sessions(svc_stamp *s, uint64_t now_ms);

/* ---- UDP guard ----------------------------------------------------------- */

/* Why a datagram got no reply: the guard's counters (svc_udpguard_stats,
 * all UDP services together) and log lines ("reason=LVALUE").  Stop line:
 * appended to event=stop, the port drops and the rate drops each summed. */
#define SVC_UDPGUARD_STATS(X)                                                             \
    X(SVC_UDP_DROP_PRIVPORT, SK_STAT_COUNTER, "udp_guard_dropped", "reason",              \
      "private_port", "udp_dropped_port",                                                 \
      "UDP datagrams answered with nothing by the reflection guard: source port below 1024.") \
    X(SVC_UDP_DROP_SVCPORT, SK_STAT_COUNTER, "udp_guard_dropped", "reason",               \
      "service_port", "udp_dropped_port", "source port is a simple-service port.")        \
    X(SVC_UDP_DROP_BADADDR, SK_STAT_COUNTER, "udp_guard_dropped", "reason",               \
      "bad_address", "udp_dropped_address", "broadcast, multicast or unspecified source.") \
    X(SVC_UDP_DROP_SOURCE, SK_STAT_COUNTER, "udp_guard_dropped", "reason", "rate_source", \
      "udp_dropped_rate", "per-source rate limit.")                                       \
    X(SVC_UDP_DROP_GLOBAL, SK_STAT_COUNTER, "udp_guard_dropped", "reason", "rate_global", \
      "udp_dropped_rate", "global rate limit.")                                           \
    X(SVC_UDP_DROP_SIZE, SK_STAT_COUNTER, "udp_guard_dropped", "reason", "reply_size",    \
      "udp_dropped_size", "reply would exceed the size bound.")

typedef enum svc_udp_reason {
    SVC_UDP_PASS = 0,
    SVC_UDPGUARD_STATS(SVC_STAT_ENUM) SVC_UDP_NREASONS
} svc_udp_reason;

/* The table above; `value` takes a svc_udpguard. */
extern const svc_stats svc_udpguard_stats;

typedef struct svc_udpguard_config {
    double per_source;     /* replies per second per source address; 0: no limit */
    double per_source_burst; /* bucket size; 0: 2 x per_source */
    double global;         /* replies per second in total; 0: no limit */
    double global_burst;   /* 0: 2 x global */
    const int *ports;      /* extra source ports to refuse (the configured ones) */
    size_t nports;
    size_t table_size;     /* per-thread source table entries; 0: 4096 */
    /* Receives rate-limited log lines (no newline); NULL: stderr. */
    void (*log)(void *log_arg, const char *line);
    void *log_arg;
} svc_udpguard_config;

#define SVC_UDP_DEFAULT_RATE 20.0   /* per source, per second */
#define SVC_UDP_DEFAULT_BURST 40.0
#define SVC_UDP_DEFAULT_GLOBAL 20000.0

/* Creates a guard (copies cfg and the port list).  Errors: -ENOMEM. */
int svc_udpguard_new(svc_udpguard **out, const svc_udpguard_config *cfg);
void svc_udpguard_free(svc_udpguard *g);

/* The guard's one verdict on a datagram (chrony's CLG_LimitServiceRate:
 * PASS, DROP, KOD). */
typedef enum svc_guard_verdict {
    SVC_GUARD_PASS = 0, /* reply */
    SVC_GUARD_DROP,     /* reply with nothing */
    SVC_GUARD_KISS,     /* over the source's rate: one small "slow down" reply
                           (NTP's RATE kiss-o'-death) instead of nothing */
} svc_guard_verdict;

/* What one service asks of the guard beyond the common rules. */
typedef struct svc_udp_policy {
    int allow_port;            /* a source port exempt from the port rules (ntp
                                  answers 123: NTP servers send from it); -1: none */
    uint64_t kiss_interval_ms; /* > 0: a source over its per-source rate gets
                                  SVC_GUARD_KISS at most once per this many ms,
                                  and only while the global bucket has a token */
} svc_udp_policy;

/*
 * Judges a datagram from `from` at monotonic time `now_ms` (the caller's
 * clock: the loop's, or a test's) under `policy` (NULL: no exempt port, no
 * kisses).  Applies the address rules, the port rules and the rate limits,
 * takes a token from the source's bucket and the global bucket on PASS,
 * and counts and logs (at most one line per reason per second) every
 * datagram it does not pass - a KISS is counted as the rate_source drop it
 * also is.  Stores the reason in *why when `why` is not NULL (SVC_UDP_PASS
 * on PASS).  Each thread uses its own source table, so calls need no lock.
 */
svc_guard_verdict svc_udpguard_judge(svc_udpguard *g, const sk_addr *from, uint64_t now_ms,
                                     const svc_udp_policy *policy, svc_udp_reason *why);

/* Counts a drop decided by the caller (e.g. SVC_UDP_DROP_SIZE) and logs it. */
void svc_udpguard_count(svc_udpguard *g, svc_udp_reason v, const sk_addr *from,
                        uint64_t now_ms);

/* Drops counted so far for `v`, summed over threads. */
uint64_t svc_udpguard_dropped(svc_udpguard *g, svc_udp_reason v);

/* Entries in the calling thread's source table (a power of two), or 0
 * when it could not be made.  For tests. */
size_t svc_udpguard_table_size(svc_udpguard *g);

/* "pass", "private_port", "service_port", ... */
const char *svc_udp_reason_name(svc_udp_reason v);

/* True when `a` is an unspecified, broadcast or multicast address (v4,
 * v6, or v4-mapped v6). */
bool svc_addr_is_bad_source(const sk_addr *a);

/*
 * What a UDP handler does: runs the guard (when the env has one) and, if
 * the datagram passes, sends `len` bytes of `reply` provided len <= `max`.
 * Returns true when a reply was sent.
 */
bool svc_udp_admit(sk_dgram *d, const sk_addr *from);
bool svc_udp_send(sk_dgram *d, const sk_addr *from, const void *reply,
                  size_t len, size_t max);

/* ---- helpers ------------------------------------------------------------ */

/* Counters a service keeps across the worker threads that call it: each
 * thread adds to its own block (relaxed, owner-written: lib/server's
 * count.h), a reader sums the blocks. */
typedef struct svc_tally svc_tally;

/* A tally of `n` counters.  Errors: -ENOMEM. */
int svc_tally_new(svc_tally **out, size_t n);
void svc_tally_free(svc_tally *t);

/* Adds `n` to counter `i` of the calling thread (lost without memory for
 * the thread's block; `t` NULL or `i` out of range: nothing). */
void svc_tally_add(svc_tally *t, size_t i, uint64_t n);

/* Counter `i` summed over the threads. */
uint64_t svc_tally_sum(svc_tally *t, size_t i);

/* Per-thread pseudo-random 64-bit numbers (not for secrets). */
uint64_t svc_random(void);

/*
 * TCP "send one message, then close": the per-connection state the
 * daytime, time and qotd handlers keep.  svc_oneshot_start() queues the
 * message and closes once it is out, continuing from on_drain if the
 * output buffer could not take it all at once.
 */
typedef struct svc_oneshot {
    size_t len, off;
    char msg[QOTD_QUOTE_MAX + 1];
} svc_oneshot;

void svc_oneshot_start(sk_conn *c, svc_oneshot *s, const void *msg, size_t len);
void svc_oneshot_drain(sk_conn *c);
size_t svc_ignore_input(sk_conn *c, const void *data, size_t len);

#endif /* SOCKIT_SERVICES_H */
