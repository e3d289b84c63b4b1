/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_udpguard.c - the UDP guard (services/udpguard.c), which decides
 * from a datagram's source address, port and arrival time whether a UDP
 * service may answer it.
 *
 * Input: [rates][bursts][start time: 2 bytes] then 2-byte events [e][dt].
 * rates: bits 0-1 per-source rate, 2-3 global rate; bursts: bits 0-1
 * per-source burst, 2-3 global burst (each from a small table; 0 means
 * "default").  Event e: bits 0-2 the source address (from a fixed set of
 * good and bad v4, v6 and v4-mapped addresses), bits 3-5 the source port,
 * bits 6-7 the unit of dt (1, 10, 100 or 1000 ms) by which the clock moves
 * forward before the datagram.
 *
 * A reference model decides each datagram: bad source, then privileged
 * port, then service port, then the per-source token bucket (keyed by the
 * address in IPv6 form, so v4 and v4-mapped share one), then the global
 * bucket, whose refusal gives the source its token back.  With at most
 * eight distinct sources no table entry is ever evicted, so the model is
 * exact.  Checked: every verdict; the drop counters; and the log, which
 * must carry one line per reason per second at most (a line is due when
 * none of that reason went out in the last 1000 ms, or the clock went
 * backwards), with the right reason, the number of drops it
 * suppressed and the running total.
 */
#include "fuzz.h"

#include "services.h"

#include <arpa/inet.h>
#include <inttypes.h>

#define NSRC 8

static const double rates[4] = {0, 1, 20, 1000};
static const double global_rates[4] = {0, 2, 100, 20000};
static const double bursts[4] = {0, 0.5, 3, 40};
static const double global_bursts[4] = {0, 1, 5, 0.25};
static const int src_ports[8] = {0, 7, 19, 1023, 1024, 40000, 65535, 5000};
static const int extra_ports[1] = {5000};

/* The sources: text, and whether the guard must call them bad. */
static const struct {
    const char *ip;
    bool bad;
} sources[NSRC] = {
    {"192.0.2.1", false},        {"::ffff:192.0.2.1", false}, /* one sender */
    {"2001:db8::1", false},      {"10.1.2.3", false},
    {"0.1.2.3", true},           {"224.0.0.1", true},
    {"ff02::1", true},           {"::ffff:255.255.255.255", true},
};

/* The model's per-source bucket, by index of the first address with the
 * same key (0 and 1 share). */
struct bucket {
    bool used;
    double tokens;
    uint64_t last;
};

struct model {
    double rate, burst, grate, gburst;
    struct bucket src[NSRC];
    struct bucket global;
    uint64_t dropped[SVC_UDP_NREASONS];
    uint64_t logged_ms[SVC_UDP_NREASONS]; /* 0: never */
    uint64_t suppressed[SVC_UDP_NREASONS];
    uint64_t lines_expected;
};

/* What the log callback saw, checked line by line against the model. */
struct log_seen {
    struct model *m;
    svc_udp_reason pending; /* the drop being decided */
    uint64_t lines;
};

static bool take(struct bucket *b, uint64_t now, double rate, double burst)
{
    if (now > b->last) {
        b->tokens += (double)(now - b->last) * rate / 1000.0;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last = now;
    }
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

static bool port_is_service(int port)
{
    static const int std[] = {7, 9, 13, 17, 19, 37};

    for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++)
        if (std[i] == port)
            return true;
    return port == extra_ports[0];
}

static svc_udp_reason model_decide(struct model *m, int src, int port, uint64_t now)
{
    struct bucket *b = &m->src[src == 1 ? 0 : src];

    if (sources[src].bad)
        return SVC_UDP_DROP_BADADDR;
    if (port < 1024)
        return SVC_UDP_DROP_PRIVPORT;
    if (port_is_service(port))
        return SVC_UDP_DROP_SVCPORT;
    if (m->rate > 0) {
        if (!b->used) {
            b->used = true;
            b->tokens = m->burst;
            b->last = now ? now : 1;
        }
        if (!take(b, now ? now : 1, m->rate, m->burst))
            return SVC_UDP_DROP_SOURCE;
    }
    if (m->grate > 0 && !take(&m->global, now, m->grate, m->gburst)) {
        if (m->rate > 0)
            b->tokens += 1.0;
        return SVC_UDP_DROP_GLOBAL;
    }
    return SVC_UDP_PASS;
}

/* The model's side of a drop: counts it and says whether a line is due. */
static bool model_drop(struct model *m, svc_udp_reason v, uint64_t now)
{
    uint64_t last = m->logged_ms[v];

    m->dropped[v]++;
    if (last != 0 && now >= last && now - last < 1000) {
        m->suppressed[v]++;
        return false;
    }
    m->logged_ms[v] = now ? now : 1;
    return true;
}

static void on_log(void *arg, const char *line)
{
    struct log_seen *seen = arg;
    struct model *m = seen->m;
    svc_udp_reason v = seen->pending;
    char want[128];

    seen->lines++;
    FUZZ_ASSERT(seen->lines == m->lines_expected, "log line %" PRIu64 " not expected: %s",
                seen->lines, line);
    snprintf(want, sizeof(want), "reason=%s ", svc_udp_reason_name(v));
    FUZZ_ASSERT(strstr(line, want) != NULL, "line for %s: %s", want, line);
    snprintf(want, sizeof(want), " suppressed=%" PRIu64 " total=%" PRIu64,
             m->suppressed[v], m->dropped[v]);
    FUZZ_ASSERT(strstr(line, want) != NULL, "expected \"%s\" in: %s", want, line);
    m->suppressed[v] = 0;
}

static double effective_burst(double burst, double rate)
{
    if (burst <= 0)
        burst = 2 * rate;
    return burst < 1 ? 1 : burst;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    uint8_t r = fuzz_u8(&in), b = fuzz_u8(&in);
    uint64_t now = fuzz_u64(&in, 2);
    struct model m = {0};
    struct log_seen seen = {&m, SVC_UDP_PASS, 0};
    svc_udpguard_config cfg = {0};
    svc_udpguard *g;
    sk_addr addr[NSRC];

    cfg.per_source = rates[r & 3];
    cfg.global = global_rates[(r >> 2) & 3];
    cfg.per_source_burst = bursts[b & 3];
    cfg.global_burst = global_bursts[(b >> 2) & 3];
    cfg.ports = extra_ports;
    cfg.nports = 1;
    cfg.table_size = 8 << ((r >> 4) & 3);
    cfg.log = on_log;
    cfg.log_arg = &seen;
    m.rate = cfg.per_source;
    m.grate = cfg.global;
    m.burst = effective_burst(cfg.per_source_burst, cfg.per_source);
    m.gburst = effective_burst(cfg.global_burst, cfg.global);
    m.global.tokens = m.gburst;
    for (int i = 0; i < SVC_UDP_NREASONS; i++)
        m.logged_ms[i] = 0;
    if (svc_udpguard_new(&g, &cfg) != 0)
        FUZZ_FAIL("svc_udpguard_new failed");

    while (fuzz_left(&in) >= 2) {
        uint8_t e = fuzz_u8(&in);
        static const uint64_t units[4] = {1, 10, 100, 1000};
        int src = e & 7, port = src_ports[(e >> 3) & 7];
        svc_udp_reason want, got;
        svc_guard_verdict verdict;

        now += fuzz_u8(&in) * units[e >> 6];
        if (sk_addr_from_ip(&addr[src], sources[src].ip, port, AF_UNSPEC) != 0)
            FUZZ_FAIL("cannot build %s", sources[src].ip);
        FUZZ_ASSERT(svc_addr_is_bad_source(&addr[src]) == sources[src].bad,
                    "svc_addr_is_bad_source(%s) wrong", sources[src].ip);
        want = model_decide(&m, src, port, now);
        if (want != SVC_UDP_PASS && model_drop(&m, want, now))
            m.lines_expected++;
        seen.pending = want;
        verdict = svc_udpguard_judge(g, &addr[src], now, NULL, &got);
        FUZZ_ASSERT((verdict == SVC_GUARD_PASS) == (got == SVC_UDP_PASS) &&
                    verdict != SVC_GUARD_KISS, "verdict %d with reason %s", (int)verdict,
                    svc_udp_reason_name(got));
        FUZZ_ASSERT(got == want, "%s port %d at %" PRIu64 " ms: %s, expected %s",
                    sources[src].ip, port, now, svc_udp_reason_name(got),
                    svc_udp_reason_name(want));
        FUZZ_ASSERT(seen.lines == m.lines_expected, "%" PRIu64 " log lines, expected %" PRIu64,
                    seen.lines, m.lines_expected);
    }
    for (int v = 0; v < SVC_UDP_NREASONS; v++)
        FUZZ_ASSERT(svc_udpguard_dropped(g, (svc_udp_reason)v) == m.dropped[v],
                    "dropped(%s) = %" PRIu64 ", expected %" PRIu64,
                    svc_udp_reason_name((svc_udp_reason)v),
                    svc_udpguard_dropped(g, (svc_udp_reason)v), m.dropped[v]);
    svc_udpguard_free(g);
    return 0;
}
