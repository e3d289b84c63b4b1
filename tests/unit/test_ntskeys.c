/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_ntskeys.c - services/ntskeys.c: the key file created
 * 0600, cookies valid across a restart, two stores sharing one file
 * accepting each other's cookies, rotation keeping the previous key and
 * dropping the one before, a rotation by one store picked up by the other,
 * a malformed file refused with its reason.
 */
#include "sk_test.h"

#include "services.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], path[128];

static void keyfile_path(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sk-ntskeys-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/keys", dir);
}

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static svc_ntskeys *store(int64_t rotate)
{
    svc_ntskeys *k = NULL;
    char err[128] = "";
    int rc = svc_ntskeys_new(&k, path, rotate, err, sizeof(err));

    if (rc != 0)
        sk_test_fail(__FILE__, __LINE__, "svc_ntskeys_new: %d %s", rc, err);
    return k;
}

static nts_keys sample_keys(int fill)
{
    nts_keys keys = {NTS_AEAD_AES_SIV_CMAC_256, {0}, {0}};

    memset(keys.c2s, fill, sizeof(keys.c2s));
    memset(keys.s2c, fill + 1, sizeof(keys.s2c));
    return keys;
}

static void check_opens(svc_ntskeys *k, const unsigned char *cookie, int fill)
{
    nts_keys back;

    CHECK_EQ(svc_ntskeys_open(k, cookie, NTS_COOKIE_LEN, &back), 0);
    CHECK_EQ(back.c2s[0], fill);
    CHECK_EQ(back.s2c[31], fill + 1);
}

SK_TEST(file_created_0600_and_valid_across_restart)
{
    unsigned char cookie[NTS_COOKIE_LEN];
    nts_keys keys = sample_keys(3);
    struct stat st;
    svc_ntskeys *k;

    keyfile_path();
    k = store(SVC_NTS_ROTATE_DEFAULT);
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(svc_ntskeys_seal(k, &keys, cookie), 0);
    check_opens(k, cookie, 3);
    svc_ntskeys_free(k);
    k = store(SVC_NTS_ROTATE_DEFAULT); /* the restart */
    check_opens(k, cookie, 3);
    cookie[50] ^= 1;
    CHECK_EQ(svc_ntskeys_open(k, cookie, NTS_COOKIE_LEN, &keys), -EBADMSG);
    CHECK_EQ(svc_ntskeys_open(k, cookie, 12, &keys), -EBADMSG);
    svc_ntskeys_free(k);
    cleanup();
}

SK_TEST(stores_sharing_a_file_accept_each_others_cookies)
{
    unsigned char ca[NTS_COOKIE_LEN], cb[NTS_COOKIE_LEN];
    nts_keys ka = sample_keys(10), kb = sample_keys(20);
    svc_ntskeys *a, *b;

    keyfile_path();
    a = store(SVC_NTS_ROTATE_DEFAULT);
    b = store(SVC_NTS_ROTATE_DEFAULT);
    CHECK_EQ(svc_ntskeys_current_id(a), svc_ntskeys_current_id(b));
    CHECK_EQ(svc_ntskeys_seal(a, &ka, ca), 0);
    CHECK_EQ(svc_ntskeys_seal(b, &kb, cb), 0);
    check_opens(b, ca, 10);
    check_opens(a, cb, 20);
    svc_ntskeys_free(a);
    svc_ntskeys_free(b);
    cleanup();
}

SK_TEST(rotation_keeps_the_previous_key_only)
{
    unsigned char c1[NTS_COOKIE_LEN], c2[NTS_COOKIE_LEN];
    nts_keys keys = sample_keys(5), back;
    int64_t now = svc_wallclock();
    svc_ntskeys *a, *b;
    uint32_t id1;

    keyfile_path();
    a = store(10);
    b = store(10);
    id1 = svc_ntskeys_current_id(a);
    CHECK_EQ(svc_ntskeys_seal(a, &keys, c1), 0);
    CHECK_EQ(svc_ntskeys_refresh(a, now + 5, true), 0); /* not due */
    CHECK_EQ(svc_ntskeys_current_id(a), id1);
    CHECK_EQ(svc_ntskeys_refresh(a, now + 10, true), 0); /* due: a writes a key */
    CHECK(svc_ntskeys_current_id(a) != id1);
    CHECK_EQ(svc_ntskeys_seal(a, &keys, c2), 0);
    check_opens(a, c1, 5); /* the previous key still opens */
    check_opens(a, c2, 5);
    /* b's next look at the file (once a second) finds a's new key. */
    CHECK_EQ(svc_ntskeys_refresh(b, now + 10, true), 0); /* not due for b either */
    CHECK_EQ(svc_ntskeys_current_id(b), svc_ntskeys_current_id(a));
    check_opens(b, c2, 5);
    check_opens(b, c1, 5);
    /* One more rotation (by b this time): c1's key is gone everywhere. */
    CHECK_EQ(svc_ntskeys_refresh(b, now + 21, true), 0);
    CHECK_EQ(svc_ntskeys_refresh(a, now + 21, true), 0);
    CHECK_EQ(svc_ntskeys_current_id(a), svc_ntskeys_current_id(b));
    CHECK_EQ(svc_ntskeys_open(b, c1, NTS_COOKIE_LEN, &back), -ENOKEY);
    CHECK_EQ(svc_ntskeys_open(a, c1, NTS_COOKIE_LEN, &back), -ENOKEY);
    check_opens(a, c2, 5);
    svc_ntskeys_free(a);
    svc_ntskeys_free(b);
    cleanup();
}

SK_TEST(in_memory_keys_rotate_too)
{
    unsigned char c1[NTS_COOKIE_LEN];
    nts_keys keys = sample_keys(7), back;
    int64_t now = svc_wallclock();
    svc_ntskeys *k = NULL;
    char err[64];

    CHECK_EQ(svc_ntskeys_new(&k, NULL, 1, err, sizeof(err)), 0);
    CHECK_EQ(svc_ntskeys_seal(k, &keys, c1), 0);
    CHECK_EQ(svc_ntskeys_refresh(k, now + 1, true), 0);
    check_opens(k, c1, 7);
    CHECK_EQ(svc_ntskeys_refresh(k, now + 2, true), 0);
    CHECK_EQ(svc_ntskeys_open(k, c1, NTS_COOKIE_LEN, &back), -ENOKEY);
    svc_ntskeys_free(k);
}

SK_TEST(malformed_file_refused_with_reason)
{
    svc_ntskeys *k = NULL;
    char err[128] = "";
    FILE *f;

    keyfile_path();
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("# comment\n0000beef 1700000000 00112233\n", f);
    fclose(f);
    CHECK_EQ(svc_ntskeys_new(&k, path, 100, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "line 2") != NULL);
    cleanup();
    CHECK(svc_ntskeys_new(&k, "/nonexistent-dir/keys", 100, err, sizeof(err)) < 0);
    CHECK(strlen(err) > 0);
}

/* Threads sealing and opening while another rotates: every cookie opens
 * (or, when two rotations passed in between, is refused as an unknown
 * key), never as tampered; each thread's cache follows the rotations. */
struct worker {
    svc_ntskeys *k;
    int ok, gone, bad;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    unsigned char cookie[NTS_COOKIE_LEN];
    nts_keys keys = sample_keys(9), back;

    for (int i = 0; i < 3000; i++) {
        int rc = svc_ntskeys_seal(w->k, &keys, cookie);

        if (rc == 0)
            rc = svc_ntskeys_open(w->k, cookie, sizeof(cookie), &back);
        if (rc == 0 && memcmp(&back, &keys, sizeof(keys)) == 0)
            w->ok++;
        else if (rc == -ENOKEY)
            w->gone++;
        else
            w->bad++;
    }
    return NULL;
}

SK_TEST(threads_follow_rotations)
{
    struct worker w[3];
    pthread_t t[3];
    int64_t now = svc_wallclock();
    svc_ntskeys *k = NULL;
    char err[64];

    CHECK_EQ(svc_ntskeys_new(&k, NULL, 1, err, sizeof(err)), 0);
    for (int i = 0; i < 3; i++) {
        w[i] = (struct worker){k, 0, 0, 0};
        CHECK_EQ(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int r = 1; r <= 20; r++) {
        CHECK_EQ(svc_ntskeys_refresh(k, now + r, true), 0);
        sk_test_sleep_ms(2);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        CHECK_EQ(w[i].bad, 0);
        CHECK_INT(w[i].ok, >, 0);
        CHECK_EQ(w[i].ok + w[i].gone, 3000);
    }
    svc_ntskeys_free(k);
}
