/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/replay_main.c - runs a fuzz target over saved inputs, without libFuzzer.
 *
 * Usage: fuzz_<name>_replay PATH...  where each PATH is a file or a
 * directory of files (not searched recursively).  Every input is read into
 * a heap block of exactly its size and handed to LLVMFuzzerTestOneInput
 * once; a broken property aborts the program, which is the failure.  A
 * directory that does not exist is noted and skipped, because git keeps no
 * empty directories and a target may have no regression inputs yet; but a
 * run that finds no input at all fails, since it would test nothing.
 */
#include "fuzz.h"

#include <dirent.h>
#include <sys/stat.h>

/* Reads the whole file at `path` into a block of exactly its size.
 * Returns 0, or -1 when the file cannot be opened or read. */
static int read_file(const char *path, uint8_t **out, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    int rc = -1;

    if (f == NULL)
        return -1;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *grown = realloc(buf, cap);

            if (grown == NULL)
                goto cleanup;
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, f);

        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f))
        goto cleanup;
    *out = fuzz_memdup(buf, len);
    *size = len;
    rc = 0;
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

/* Runs the target once on the file at `path`; returns 1, or 0 on a read
 * error (reported). */
static int replay_file(const char *path)
{
    uint8_t *data = NULL;
    size_t size = 0;

    if (read_file(path, &data, &size) < 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 0;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replays every regular file in `dir`, in name order so that runs repeat
 * exactly.  Returns the count replayed, or -1 after a read error. */
static long replay_dir(const char *dir)
{
    struct dirent **names;
    long count = 0;
    int n = scandir(dir, &names, NULL, by_name);

    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s\n", dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (!replay_file(path))
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;
    int failed = 0;

    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long n;

        if (stat(argv[i], &st) != 0) {
            printf("replay: %s does not exist; skipped\n", argv[i]);
            continue;
        }
        n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]);
        if (n < 0) {
            failed = 1;
            continue;
        }
        printf("replay: %s: %ld input(s)\n", argv[i], n);
        total += n;
    }
    if (failed)
        return 1;
    if (total == 0) {
        fprintf(stderr, "replay: no input found: nothing was tested\n");
        return 1;
    }
    printf("replay: %ld input(s), no failure\n", total);
    return 0;
}
