/* SPDX-License-Identifier: MIT */
/*
 * cli/bench/tls.c - `sockit bench --tls`: the client context every thread
 * shares, and the non-blocking handshake the echo, stream and connect
 * drivers run between the TCP connect and their first byte.
 *
 * One context per run (the library locks what handshakes on several
 * threads share in it).  Without --tls-resume its session cache is off, so
 * every handshake is a full one; with it, each connection offers the
 * session the last one to the same target left, and the counters tell
 * full handshakes from resumed ones.
 */
#include "bench.h"

#include "cli.h"

#include <errno.h>

int bench_tls_init(bench_config *cfg)
{
    int rc;

    if (!cfg->tls_on)
        return 0;
    rc = sk_tls_ctx_new(&cfg->tls, SK_TLS_CLIENT);
    if (rc == 0 && cfg->cafile != NULL &&
        (rc = sk_tls_ctx_load_verify_locations(cfg->tls, cfg->cafile, NULL)) < 0) {
        cli_error("--cafile", "%s: %s", cfg->cafile, sk_strerror(rc));
        return rc;
    }
    if (rc == 0 && cfg->insecure) {
        sk_tls_ctx_set_verify_mode(cfg->tls, SK_TLS_VERIFY_NONE);
        sk_tls_ctx_set_check_hostname(cfg->tls, false);
        cli_error("bench", "warning: --insecure: the server's certificate is not verified");
    }
    if (rc == 0)
        rc = sk_tls_ctx_set_resumption(cfg->tls, cfg->tls_resume);
    if (rc < 0)
        cli_error_code("--tls", rc);
    return rc;
}

void bench_tls_free(bench_config *cfg)
{
    sk_tls_ctx_free(cfg->tls);
    cfg->tls = NULL;
}

int bench_tls_step(bench_thread *t, sk_sock *s, bool first)
{
    const bench_config *cfg = t->cfg;
    int rc = first ? sk_tls_wrap(s, cfg->tls, cfg->host) : sk_tls_handshake(s);

    if (rc == 0) {
        if (sk_tls_session_reused(s))
            t->stats.tls_resumed++;
        else
            t->stats.tls_full++;
    }
    return rc;
}

unsigned bench_tls_events(int want)
{
    return want == SK_ETLS_WANT_WRITE ? SK_WRITABLE : SK_READABLE;
}

bool bench_would_block(ssize_t n)
{
    return n == -EAGAIN || n == SK_ETLS_WANT_READ || n == SK_ETLS_WANT_WRITE;
}
