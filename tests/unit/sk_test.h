/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/sk_test.h - the unit test harness.
 *
 * A test file declares scenarios with SK_TEST(name) at the start of a line;
 * the build registers each as its own ctest test that runs `test_file name`
 * in its own process.  Run a test binary with no argument to run all of its
 * scenarios (each forked), or with `--list` to list them.
 *
 * Assertions print the expression, both values and (for codes) sk_strerror,
 * then abort the scenario.  SK_SKIP(reason) exits with 77, which ctest
 * reports as skipped.
 */
#ifndef SK_TEST_H
#define SK_TEST_H

#include "sockit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*sk_test_fn)(void);
void sk_test_register(const char *name, sk_test_fn fn);
void sk_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
void sk_test_skip(const char *reason) __attribute__((noreturn));

/*
 * Moves the calling test process into a new, empty network namespace (only
 * a loopback interface, down, and no routes), or skips the test when that is
 * not permitted.  Tests of unknown host names use it so that the resolver's
 * DNS query cannot leave the machine: the send fails locally.
 */
void sk_test_isolate_network(void);

/*
 * The path of test certificate `name` + `ext` ("server", ".pem"), from a
 * ring of 8 static buffers.  The certificates are made once per process by
 * tests/tlscerts.py in a temporary directory that is removed at exit; the
 * test skips in a build without TLS or where they cannot be made.
 */
const char *sk_test_cert(const char *name, const char *ext);

/* Monotonic seconds, for checking how long a call took. */
double sk_test_now(void);

/* Sleeps `ms` milliseconds, the whole time even across signals. */
void sk_test_sleep_ms(int ms);

/* Waits up to `seconds` for `cond` to hold, looking every 5 ms, then
 * checks it (a failure prints the condition). */
#define WAIT_FOR(cond, seconds)                                              \
    do {                                                                     \
        double sk_w0_ = sk_test_now();                                       \
        while (!(cond) && sk_test_now() - sk_w0_ < (seconds))                \
            sk_test_sleep_ms(5);                                             \
        CHECK(cond);                                                         \
    } while (0)

#define SK_TEST(name)                                                        \
    static void sk_test_##name(void);                                        \
    __attribute__((constructor)) static void sk_test_reg_##name(void)        \
    {                                                                        \
        sk_test_register(#name, sk_test_##name);                             \
    }                                                                        \
    static void sk_test_##name(void)

#define SK_SKIP(reason) sk_test_skip(reason)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond))                                                         \
            sk_test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);     \
    } while (0)

#define CHECK_INT(a, op, b)                                                  \
    do {                                                                     \
        long long sk_a_ = (long long)(a), sk_b_ = (long long)(b);            \
        if (!(sk_a_ op sk_b_))                                               \
            sk_test_fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld (%s)",  \
                         #a, #op, #b, sk_a_, sk_b_,                          \
                         sk_a_ < 0 ? sk_strerror((int)sk_a_) : "-");         \
    } while (0)

#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)

/* Checks that `expr` (an int or ssize_t result) is not an error. */
#define CHECK_OK(expr)                                                       \
    do {                                                                     \
        long long sk_r_ = (long long)(expr);                                 \
        if (sk_r_ < 0)                                                       \
            sk_test_fail(__FILE__, __LINE__, "%s failed: %lld (%s)", #expr,  \
                         sk_r_, sk_strerror((int)sk_r_));                    \
    } while (0)

/* Checks that `expr` returns exactly the error `code`. */
#define CHECK_ERR(expr, code)                                                \
    do {                                                                     \
        long long sk_r_ = (long long)(expr);                                 \
        if (sk_r_ != (long long)(code))                                      \
            sk_test_fail(__FILE__, __LINE__,                                 \
                         "%s: expected %s (%s), got %lld (%s)", #expr, #code, \
                         sk_strerror(code), sk_r_,                           \
                         sk_r_ < 0 ? sk_strerror((int)sk_r_) : "success");   \
    } while (0)

#define CHECK_STR(a, b)                                                      \
    do {                                                                     \
        const char *sk_a_ = (a), *sk_b_ = (b);                               \
        if (sk_a_ == NULL || sk_b_ == NULL || strcmp(sk_a_, sk_b_) != 0)     \
            sk_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"",   \
                         #a, #b, sk_a_ ? sk_a_ : "(null)",                   \
                         sk_b_ ? sk_b_ : "(null)");                          \
    } while (0)

#define CHECK_MEM(a, b, n)                                                   \
    do {                                                                     \
        if (memcmp((a), (b), (n)) != 0)                                      \
            sk_test_fail(__FILE__, __LINE__, "%s and %s differ in %zu bytes", \
                         #a, #b, (size_t)(n));                               \
    } while (0)

/* Checks that `t` seconds lies within [lo, hi]. */
#define CHECK_TIME(t, lo, hi)                                                \
    do {                                                                     \
        double sk_t_ = (t);                                                  \
        if (sk_t_ < (lo) || sk_t_ > (hi))                                    \
            sk_test_fail(__FILE__, __LINE__, "%s = %.3f s, outside [%.3f, %.3f]", \
                         #t, sk_t_, (double)(lo), (double)(hi));             \
    } while (0)

#endif /* SK_TEST_H */
