/* SPDX-License-Identifier: MIT */
/*
 * lib/server/log.c - the server framework's log lines: one formatter
 * (key=value lines handed to cfg.log or written to stderr) and the one
 * rate-limited logger every flood-prone line goes through ("suppressed=N":
 * the per-worker error and PROXY lines here and in lib/server/proxy_stage.c,
 * and the UDP guard's drop lines in services/udpguard.c).
 *
 * It calls no other file of lib/server/: every file may log.
 */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_LEN 1024

bool sk__ratelog_due(sk__ratelog *rl, uint64_t now_ms, uint64_t *suppressed)
{
    uint64_t last = atomic_load_explicit(&rl->last_ms, memory_order_relaxed);
    uint64_t stamp = now_ms ? now_ms : 1; /* 0 means "never" */

    if ((last != 0 && now_ms >= last && now_ms - last < SK__RATELOG_MS) ||
        !atomic_compare_exchange_strong_explicit(&rl->last_ms, &last, stamp,
                                                 memory_order_relaxed, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
        return false;
    }
    *suppressed = atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
    return true;
}

void sk__log_emit(void (*sink)(void *arg, const char *line), void *arg, const char *line)
{
    char buf[LINE_MAX_LEN + 1];
    size_t n = strlen(line);

    if (sink != NULL) {
        sink(arg, line);
        return;
    }
    if (n > LINE_MAX_LEN - 1)
        n = LINE_MAX_LEN - 1;
    memcpy(buf, line, n);
    buf[n] = '\n';
    /* One write per line keeps lines from different workers whole. */
    fwrite(buf, 1, n + 1, stderr);
}

void sk__server_log(const sk_server *srv, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sk__log_emit(srv->cfg.log, srv->cfg.log_arg, line);
}

void sk__server_log_error(sk__worker *w, const char *what, int err, const sk_addr *addr)
{
    char text[SK_ADDRSTRLEN] = "-";
    uint64_t suppressed;

    if (!sk__ratelog_due(&w->error_log, sk_loop_now_ms(w->loop), &suppressed))
        return;
    if (addr != NULL)
        sk_addr_format(addr, text, sizeof(text));
    sk__server_log(w->srv, "event=error op=%s addr=%s error=\"%s\" suppressed=%llu", what,
                   text, sk_strerror(err), (unsigned long long)suppressed);
}
