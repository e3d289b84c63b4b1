/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz.h - what the fuzz targets share.
 *
 * Each tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput (and, when
 * it needs set-up, LLVMFuzzerInitialize).  The same file builds two ways:
 * with clang's -fsanitize=fuzzer as a libFuzzer program, and with any
 * compiler against replay_main.c, which runs it over the committed corpus
 * and regression inputs.  A target reports a broken property by calling
 * FUZZ_FAIL / FUZZ_ASSERT, which print what went wrong and abort(): both
 * libFuzzer and the replay driver treat the abort as a failure.
 */
#ifndef SK_FUZZ_H
#define SK_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The libFuzzer entry points.  Initialize is optional, hence weak. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/*
 * Failures are written straight to descriptor 2 rather than through the
 * stdio stream `stderr`, which a target may point at /dev/null to silence
 * the code under test.
 */
#define FUZZ_FAIL(...)                                                       \
    do {                                                                     \
        dprintf(2, "%s:%d: ", __FILE__, __LINE__);                           \
        dprintf(2, __VA_ARGS__);                                             \
        dprintf(2, "\n");                                                    \
        abort();                                                             \
    } while (0)

#define FUZZ_ASSERT(cond, ...)                                               \
    do {                                                                     \
        if (!(cond)) {                                                       \
            dprintf(2, "%s:%d: FUZZ_ASSERT(%s) failed: ", __FILE__,          \
                    __LINE__, #cond);                                        \
            FUZZ_FAIL(__VA_ARGS__);                                          \
        }                                                                    \
    } while (0)

/*
 * Marking bytes unreadable: under AddressSanitizer a read of a poisoned
 * byte is reported at once, so a decoder handed buf[0..k) of a longer
 * buffer can be caught reading buf[k] without copying every prefix.
 * Without ASan (the plain replay build) these do nothing.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_HAVE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_HAVE_ASAN 1
#endif
#ifdef FUZZ_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#define FUZZ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FUZZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FUZZ_POISON(p, n) ((void)(p), (void)(n))
#define FUZZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Allocates or aborts: a fuzz target has no use for a failed malloc. */
static inline void *fuzz_alloc(size_t n)
{
    void *p = malloc(n > 0 ? n : 1);

    if (p == NULL)
        FUZZ_FAIL("out of memory for %zu bytes", n);
    return p;
}

/*
 * The input as a C string in a heap block of exactly size + 1 bytes, so a
 * parser reading past the NUL is caught by ASan.  An embedded NUL simply
 * ends the string early.  Free with free().
 */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = fuzz_alloc(size + 1);

    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A copy of data[0..size) in a block of exactly `size` bytes. */
static inline unsigned char *fuzz_memdup(const uint8_t *data, size_t size)
{
    unsigned char *p = fuzz_alloc(size);

    if (size > 0)
        memcpy(p, data, size);
    return p;
}

/*
 * Reads input bytes in order for targets that take several parameters
 * from the front of the input; past the end every read gives 0.
 */
struct fuzz_in {
    const uint8_t *data;
    size_t size;
    size_t pos;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in, unsigned bytes)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < bytes; i++)
        v = v << 8 | fuzz_u8(in);
    return v;
}

/* Bytes not read yet. */
static inline size_t fuzz_left(const struct fuzz_in *in)
{
    return in->size - in->pos;
}

#endif /* SK_FUZZ_H */
