/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_err.c - error kinds, messages (including from many threads at once)
 * and the resolver code conversion.
 */
#define _GNU_SOURCE /* EAI_ADDRFAMILY */
#include "sk_test.h"
#include "internal.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>

SK_TEST(kinds)
{
    CHECK_EQ(sk_errkind_of(0), SK_ERRKIND_NONE);
    CHECK_EQ(sk_errkind_of(42), SK_ERRKIND_NONE);
    CHECK_EQ(sk_errkind_of(-EPIPE), SK_ERRKIND_SYSTEM);
    CHECK_EQ(sk_errkind_of(-ECONNREFUSED), SK_ERRKIND_SYSTEM);
    CHECK_EQ(sk_errkind_of(-4095), SK_ERRKIND_SYSTEM);
    CHECK_EQ(sk_errkind_of(SK_ETIMEOUT), SK_ERRKIND_TIMEOUT);
    CHECK_EQ(sk_errkind_of(SK_EAI(EAI_NONAME)), SK_ERRKIND_RESOLVER);
    CHECK_EQ(sk_errkind_of(SK_EAI(EAI_AGAIN)), SK_ERRKIND_RESOLVER);
    CHECK_EQ(sk_errkind_of(SK_EAI(EAI_SERVICE)), SK_ERRKIND_RESOLVER);
    CHECK_EQ(sk_errkind_of(SK_EPARTIAL), SK_ERRKIND_DATA);
    CHECK_EQ(sk_errkind_of(SK_EOF), SK_ERRKIND_DATA);
    CHECK_EQ(sk_errkind_of(SK_EBADADDR), SK_ERRKIND_DATA);
    CHECK_EQ(sk_errkind_of(SK_ENEED), SK_ERRKIND_DATA);
    CHECK_EQ(sk_errkind_of(SK_EMSGSIZE), SK_ERRKIND_DATA);
}

SK_TEST(messages_of_library_codes)
{
    const int codes[] = {SK_ETIMEOUT, SK_EPARTIAL, SK_EOF, SK_EBADADDR, SK_ENEED,
                         SK_EMSGSIZE};
    const size_t n = sizeof codes / sizeof codes[0];

    CHECK_STR(sk_strerror(SK_ETIMEOUT), "timed out");
    for (size_t i = 0; i < n; i++) {
        const char *m = sk_strerror(codes[i]);

        CHECK(m != NULL && m[0] != '\0');
        CHECK(strncmp(m, "unknown error", 13) != 0);
        /* Every kind of failure reads differently. */
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(m, sk_strerror(codes[j])) != 0);
    }
    CHECK_STR(sk_strerror(0), "success");
}

SK_TEST(messages_of_system_codes)
{
    const int errs[] = {EPIPE, ECONNREFUSED, ECONNRESET, EAGAIN, EBADF, EINVAL,
                        EADDRINUSE, EMFILE, ENOTSOCK, EINPROGRESS};

    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        char want[128];

        CHECK_STR(sk_strerror(-errs[i]), strerror_r(errs[i], want, sizeof want));
    }
    /* The pointer is stable: the same code gives the same string. */
    CHECK(sk_strerror(-EPIPE) == sk_strerror(-EPIPE));
}

SK_TEST(messages_of_resolver_codes)
{
    CHECK_STR(sk_strerror(SK_EAI(EAI_NONAME)), gai_strerror(EAI_NONAME));
    CHECK_STR(sk_strerror(SK_EAI(EAI_AGAIN)), gai_strerror(EAI_AGAIN));
    CHECK_STR(sk_strerror(SK_EAI(EAI_FAIL)), gai_strerror(EAI_FAIL));
    CHECK_STR(sk_strerror(SK_EAI(EAI_SERVICE)), gai_strerror(EAI_SERVICE));
    CHECK_STR(sk_strerror(SK_EAI(EAI_FAMILY)), gai_strerror(EAI_FAMILY));
#ifdef EAI_ADDRFAMILY
    CHECK_STR(sk_strerror(SK_EAI(EAI_ADDRFAMILY)), gai_strerror(EAI_ADDRFAMILY));
#endif
}

SK_TEST(messages_of_unknown_codes)
{
    CHECK_STR(sk_strerror(-5000), "unknown error -5000");
    CHECK_STR(sk_strerror(-4000), "unknown error -4000");
    CHECK_STR(sk_strerror(SK_EAI(999)), "unknown error -30999");
    CHECK_STR(sk_strerror(-20999), "unknown error -20999");
    CHECK_STR(sk_strerror(-2000000000), "unknown error -2000000000");

    /* Several unknown texts can be in use at once (one printf). */
    const char *a = sk_strerror(-5001);
    const char *b = sk_strerror(-5002);
    const char *c = sk_strerror(-5003);

    CHECK_STR(a, "unknown error -5001");
    CHECK_STR(b, "unknown error -5002");
    CHECK_STR(c, "unknown error -5003");
}

/* Each thread checks many messages against the expected text while the
 * others do the same: no message may be torn or swapped. */
static void *strerror_worker(void *arg)
{
    long id = (long)arg;
    char want[64];

    for (int i = 0; i < 20000; i++) {
        int e = 1 + (int)((i + id) % 130);
        int unknown_code = -5000 - (int)id;
        const char *m = sk_strerror(-e);
        char sys[128];
        const char *s = strerror_r(e, sys, sizeof sys);

        if (strncmp(s, "Unknown error", 13) != 0 && strcmp(m, s) != 0)
            return (void *)1;
        snprintf(want, sizeof want, "unknown error %d", unknown_code);
        if (strcmp(sk_strerror(unknown_code), want) != 0)
            return (void *)2;
        if (strcmp(sk_strerror(SK_ETIMEOUT), "timed out") != 0)
            return (void *)3;
    }
    return NULL;
}

SK_TEST(strerror_is_thread_safe)
{
    pthread_t t[4];

    for (long i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, strerror_worker, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *res;

        CHECK_EQ(pthread_join(t[i], &res), 0);
        CHECK_EQ((long)res, 0);
    }
}

SK_TEST(eai_code_conversion)
{
    CHECK_EQ(sk__eai_code(0, 0), 0);
    CHECK_EQ(sk__eai_code(EAI_NONAME, 0), SK_EAI(EAI_NONAME));
    CHECK_EQ(sk__eai_code(EAI_AGAIN, ENOENT), SK_EAI(EAI_AGAIN));
    CHECK_EQ(sk_errkind_of(sk__eai_code(EAI_FAIL, 0)), SK_ERRKIND_RESOLVER);
    /* EAI_SYSTEM hands out the underlying errno instead. */
    CHECK_EQ(sk__eai_code(EAI_SYSTEM, EMFILE), -EMFILE);
    CHECK_EQ(sk__eai_code(EAI_SYSTEM, 0), -EIO);
    CHECK_EQ(sk_errkind_of(sk__eai_code(EAI_SYSTEM, ENOMEM)), SK_ERRKIND_SYSTEM);
    /* SK_EAI is sign-agnostic, so codes match on every platform. */
    CHECK_EQ(SK_EAI(-2), SK_EAI(2));
}

SK_TEST(names)
{
    CHECK_STR(sk_errname(0), "OK");
    CHECK_STR(sk_errname(-ETIMEDOUT), "ETIMEDOUT");
    CHECK_STR(sk_errname(-ECONNREFUSED), "ECONNREFUSED");
    CHECK_STR(sk_errname(-EMSGSIZE), "EMSGSIZE");
    CHECK_STR(sk_errname(SK_ETIMEOUT), "SK_ETIMEOUT");
    CHECK_STR(sk_errname(SK_EMSGSIZE), "SK_EMSGSIZE");
    CHECK_STR(sk_errname(SK_EOF), "SK_EOF");
    CHECK_STR(sk_errname(SK_EAI(EAI_NONAME)), "EAI_NONAME");
    CHECK_STR(sk_errname(SK_EAI(EAI_AGAIN)), "EAI_AGAIN");
    CHECK_STR(sk_errname(-4000), "UNKNOWN");
    CHECK_STR(sk_errname(-20999), "UNKNOWN");
    CHECK_STR(sk_errname(SK_EAI(999)), "UNKNOWN");
}

/* The linked library, the header and the build (CMake's project()) agree. */
SK_TEST(version_is_the_build_version)
{
    char hex[32];

    CHECK_STR(sk_version_string(), SK_TEST_CMAKE_VERSION);
    CHECK_STR(SK_VERSION_STRING, SK_TEST_CMAKE_VERSION);
    CHECK_EQ(sk_version(), SK_VERSION_HEX);
    snprintf(hex, sizeof(hex), "%u.%u.%u", sk_version() >> 16, (sk_version() >> 8) & 0xff,
             sk_version() & 0xff);
    CHECK_STR(hex, SK_TEST_CMAKE_VERSION);
}
