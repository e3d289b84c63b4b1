/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/harness.c - registry and runner for SK_TEST scenarios (see sk_test.h).
 */
#define _GNU_SOURCE /* unshare */
#include "sk_test.h"

#include "sockit.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SK_TEST_MAX 512

static struct {
    const char *name;
    sk_test_fn fn;
} tests[SK_TEST_MAX];
static int ntests;

void sk_test_register(const char *name, sk_test_fn fn)
{
    if (ntests == SK_TEST_MAX) {
        fprintf(stderr, "harness: more than %d tests\n", SK_TEST_MAX);
        abort();
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void sk_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(1);
}

void sk_test_skip(const char *reason)
{
    printf("skipped: %s\n", reason);
    fflush(NULL);
    _exit(77);
}

void sk_test_isolate_network(void)
{
    if (unshare(CLONE_NEWNET) != 0)
        sk_test_skip("cannot create a network namespace (needs root): the "
                     "unknown-host check would send a real DNS query");
}

/* ---- test certificates -------------------------------------------------- */

static char cert_dir[64];

static void certs_remove(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cert_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", cert_dir);
}

const char *sk_test_cert(const char *name, const char *ext)
{
    static char bufs[8][160];
    static unsigned next;

    if (!sk_tls_available())
        SK_SKIP("libsockit built without TLS");
    if (cert_dir[0] == '\0') {
        char cmd[512];

        snprintf(cert_dir, sizeof cert_dir, "/tmp/sk-tls-XXXXXX");
        CHECK(mkdtemp(cert_dir) != NULL);
        atexit(certs_remove);
        snprintf(cmd, sizeof cmd, "python3 '%s/tests/tlscerts.py' '%s' >/dev/null",
                 SK_TEST_SOURCE, cert_dir);
        if (system(cmd) != 0)
            SK_SKIP("cannot make test certificates (openssl or python3 missing)");
    }
    char *b = bufs[next++ % 8];

    snprintf(b, sizeof bufs[0], "%s/%s%s", cert_dir, name, ext);
    return b;
}

double sk_test_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sk_test_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int run_one(int i)
{
    /* A scenario that hangs must not hang the run: ctest applies its own
     * timeout, and the alarm covers direct runs. */
    alarm(120);
    tests[i].fn();
    fflush(NULL);
    return 0;
}

/* Runs every scenario in a child process; returns the number that failed. */
static int run_all(void)
{
    int failed = 0, skipped = 0;

    for (int i = 0; i < ntests; i++) {
        pid_t pid;
        int status = 0;

        /* Flush first, or the child would print our buffered lines again. */
        fflush(NULL);
        pid = fork();

        if (pid == 0)
            _exit(run_one(i));
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok      %s\n", tests[i].name);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
            printf("skip    %s\n", tests[i].name);
            skipped++;
        } else {
            printf("FAILED  %s\n", tests[i].name);
            failed++;
        }
    }
    printf("%d passed, %d failed, %d skipped\n", ntests - failed - skipped, failed,
           skipped);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return run_all() ? 1 : 0;
    if (strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < ntests; i++)
            puts(tests[i].name);
        return 0;
    }
    for (int i = 0; i < ntests; i++)
        if (strcmp(tests[i].name, argv[1]) == 0)
            return run_one(i);
    fprintf(stderr, "%s: no test named %s\n", argv[0], argv[1]);
    return 2;
}
