/* Unit tests of the session arena (daemon/session/sess_arena.c): records and
 * SA slots kept across close and reopen, iteration, freeing, adoption of SA
 * slots, limits, the lock, the tmpfs rule, invalid files set aside (truncated,
 * foreign, another version or owner, corrupt header), a corrupt record dropped
 * alone, records intact after the writer is killed at any instant, and the
 * check of a file in memory against a tiny arena built here from the format of
 * daemon/session/README.md. Files live under /dev/shm, removed at the end.
 *
 * RAVEN_ARENA_CORPUS_OUT=DIR writes the tiny arenas to DIR (the fuzz corpus). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/base/log.h"
#include "daemon/session/sess_arena.h"
#include "dataplane/dp.h"

#define OWNER "/run/raven"
/* offsets of the format (README "File format") the tests corrupt */
#define OFF_MAGIC 0
#define OFF_VERSION 8
#define OFF_CREATED 56
#define HDR_SIZE 4096
/* new arenas: record slots of 32 KiB, the small place at 2048 */
#define SLOT_SIZE 32768u
#define SMALL_OFF 2048u
#define SMALL_MAX (SMALL_OFF - 64)

static char root[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static int setup(void **st)
{
    snprintf(root, sizeof(root), "/dev/shm/raven-unit-arena-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **st)
{
    return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s/arena", root, name);
}

static struct sess_arena *open_ok(const char *path, const char *owner, uint32_t nrec, uint32_t nsa,
                                  enum sess_arena_found want)
{
    struct sess_arena_opts o = {.path = path, .owner = owner, .max_records = nrec, .max_sas = nsa};
    struct sess_arena *a = NULL;
    enum sess_arena_found f;
    char why[256];
    int rc = sess_arena_open(&o, &a, &f, why, sizeof(why));

    if (rc != 0)
        fail_msg("open %s: %d %s", path, rc, why);
    if (f != want)
        fail_msg("open %s: found %d, expected %d (%s)", path, f, want, why);
    return a;
}

static void fill(uint8_t *buf, size_t len, unsigned tag)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(tag * 31 + i * 7);
}

static bool is_filled(const uint8_t *buf, size_t len, unsigned tag)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != (uint8_t)(tag * 31 + i * 7))
            return false;
    return true;
}

static void test_records_kept(void **st)
{
    char path[128], dir[128];
    uint8_t buf[3000];
    struct sess_arena *a;
    struct stat sb;
    const uint8_t *r;
    uint32_t s0, s1, s2, it = 0;
    size_t len;
    time_t created;

    path_of(path, sizeof(path), "kept");
    a = open_ok(path, OWNER, 8, 8, SESS_ARENA_NEW);
    snprintf(dir, sizeof(dir), "%s/kept", root);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sess_arena_opens(a), 1);
    assert_int_equal(sess_arena_generation(a), 0);
    created = sess_arena_created(a);
    assert_true(created > 0);
    assert_true(sess_arena_rec_max(a) >= 4096);
    s0 = sess_arena_rec_alloc(a);
    s1 = sess_arena_rec_alloc(a);
    s2 = sess_arena_rec_alloc(a);
    assert_int_equal(s0, 0);
    assert_int_equal(s1, 1);
    assert_int_equal(s2, 2);
    assert_int_equal(sess_arena_rec_used(a), 3);
    fill(buf, 100, 1);
    assert_int_equal(sess_arena_rec_write(a, s0, buf, 100), 0);
    fill(buf, 3000, 2);
    assert_int_equal(sess_arena_rec_write(a, s1, buf, 3000), 0);
    fill(buf, 2500, 3); /* replaces the first version */
    assert_int_equal(sess_arena_rec_write(a, s1, buf, 2500), 0);
    fill(buf, 10, 4);
    assert_int_equal(sess_arena_rec_write(a, s2, buf, 10), 0);
    fill(buf, 20, 5); /* a second version, then freed: both halves go */
    assert_int_equal(sess_arena_rec_write(a, s2, buf, 20), 0);
    sess_arena_rec_free(a, s2);
    assert_int_equal(sess_arena_rec_used(a), 2);
    sess_arena_set_generation(a, 42);
    sess_arena_close(a);

    a = open_ok(path, OWNER, 8, 8, SESS_ARENA_ADOPTED);
    assert_int_equal(sess_arena_opens(a), 2);
    assert_int_equal(sess_arena_generation(a), 42);
    assert_int_equal(sess_arena_created(a), created);
    assert_int_equal(sess_arena_rec_used(a), 2);
    r = sess_arena_rec_next(a, &it, &len);
    assert_non_null(r);
    assert_int_equal(it, 1);
    assert_int_equal(len, 100);
    assert_true(is_filled(r, len, 1));
    r = sess_arena_rec_next(a, &it, &len);
    assert_non_null(r);
    assert_int_equal(it, 2);
    assert_int_equal(len, 2500);
    assert_true(is_filled(r, len, 3));
    assert_null(sess_arena_rec_next(a, &it, &len)); /* the freed one is not back */
    /* an adopted record is rewritten in place of the old one */
    fill(buf, 700, 6);
    assert_int_equal(sess_arena_rec_write(a, 1, buf, 700), 0);
    assert_int_equal(sess_arena_rec_alloc(a), 2); /* the lowest free slot */
    sess_arena_close(a);

    a = open_ok(path, OWNER, 8, 8, SESS_ARENA_ADOPTED);
    it = 1;
    r = sess_arena_rec_next(a, &it, &len);
    assert_non_null(r);
    assert_int_equal(len, 700);
    assert_true(is_filled(r, len, 6));
    assert_null(sess_arena_rec_next(a, &it, &len)); /* slot 2 allocated, never written */
    sess_arena_destroy(a);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_sa_adopt(void **st)
{
    char path[128];
    struct sess_arena *a;
    struct dp_sa_live *l;

    path_of(path, sizeof(path), "sa");
    a = open_ok(path, OWNER, 4, 6, SESS_ARENA_NEW);
    assert_int_equal(sess_arena_sa_max(a), 6);
    assert_null(sess_arena_sa(a, 6));
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(sess_arena_sa_alloc(a), i);
        l = sess_arena_sa(a, i);
        l->seq = 1000 + i;
        l->replay_top = 77;
        l->ctr[3].bytes = 5 * i;
    }
    assert_int_equal(sess_arena_sa_alloc(a), SESS_ARENA_NONE);
    sess_arena_sa_free(a, 4);
    assert_int_equal(sess_arena_sa_used(a), 5);
    assert_int_equal(sess_arena_sa(a, 4)->seq, 0); /* zeroed */
    sess_arena_close(a);

    a = open_ok(path, OWNER, 4, 6, SESS_ARENA_ADOPTED);
    assert_int_equal(sess_arena_sa_used(a), 6); /* all in use until claimed */
    assert_true(sess_arena_sa_claim(a, 1));
    assert_true(sess_arena_sa_claim(a, 3));
    assert_false(sess_arena_sa_claim(a, 3)); /* claimed already */
    assert_false(sess_arena_sa_claim(a, 6)); /* out of range */
    sess_arena_adopt_done(a);
    assert_int_equal(sess_arena_sa_used(a), 2);
    assert_false(sess_arena_sa_claim(a, 0)); /* adoption is over */
    for (uint32_t i = 0; i < 6; i++) {
        l = sess_arena_sa(a, i);
        if (i == 1 || i == 3) {
            assert_int_equal(l->seq, 1000 + i);
            assert_int_equal(l->replay_top, 77);
            assert_int_equal(l->ctr[3].bytes, 5 * i);
        } else {
            assert_int_equal(l->seq, 0);
            assert_int_equal(l->ctr[3].bytes, 0);
        }
    }
    assert_int_equal(sess_arena_sa_alloc(a), 0);
    assert_int_equal(sess_arena_sa_alloc(a), 2);
    assert_int_equal(sess_arena_sa_alloc(a), 4);
    assert_int_equal(sess_arena_sa_alloc(a), 5);
    assert_int_equal(sess_arena_sa_alloc(a), SESS_ARENA_NONE);
    sess_arena_destroy(a);
}

/* Many SA slots freed at adoption in runs that span whole pages (punched) and
 * page edges (cleared). */
static void test_sa_adopt_runs(void **st)
{
    char path[128];
    struct sess_arena *a;

    path_of(path, sizeof(path), "runs");
    a = open_ok(path, OWNER, 4, 64, SESS_ARENA_NEW);
    for (uint32_t i = 0; i < 64; i++) {
        assert_int_equal(sess_arena_sa_alloc(a), i);
        sess_arena_sa(a, i)->seq = i + 1;
        sess_arena_sa(a, i)->ctr[DP_MAX_WORKERS - 1].packets = i + 1;
    }
    sess_arena_close(a);
    a = open_ok(path, OWNER, 4, 64, SESS_ARENA_ADOPTED);
    for (uint32_t i = 0; i < 64; i += 9)
        assert_true(sess_arena_sa_claim(a, i));
    sess_arena_adopt_done(a);
    for (uint32_t i = 0; i < 64; i++) {
        bool kept = i % 9 == 0;

        assert_int_equal(sess_arena_sa(a, i)->seq, kept ? i + 1 : 0);
        assert_int_equal(sess_arena_sa(a, i)->ctr[DP_MAX_WORKERS - 1].packets, kept ? i + 1 : 0);
    }
    sess_arena_destroy(a);
}

static void test_limits(void **st)
{
    char path[128];
    struct sess_arena *a;
    uint8_t *big;
    size_t max;

    path_of(path, sizeof(path), "limits");
    a = open_ok(path, OWNER, 3, 2, SESS_ARENA_NEW);
    max = sess_arena_rec_max(a);
    big = calloc(1, max + 1);
    assert_non_null(big);
    assert_int_equal(sess_arena_rec_write(a, 0, big, 1), -EINVAL); /* not allocated */
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(sess_arena_rec_alloc(a), i);
    assert_int_equal(sess_arena_rec_alloc(a), SESS_ARENA_NONE);
    assert_int_equal(sess_arena_rec_write(a, 0, big, max + 1), -EMSGSIZE);
    assert_int_equal(sess_arena_rec_write(a, 3, big, 1), -EINVAL);
    fill(big, max, 9);
    assert_int_equal(sess_arena_rec_write(a, 0, big, max), 0);
    assert_int_equal(sess_arena_rec_write(a, 1, NULL, 0), 0); /* an empty record is one */
    sess_arena_rec_free(a, 2);
    assert_int_equal(sess_arena_rec_alloc(a), 2);
    assert_int_equal(sess_arena_sa_alloc(a), 0);
    assert_int_equal(sess_arena_sa_alloc(a), 1);
    assert_int_equal(sess_arena_sa_alloc(a), SESS_ARENA_NONE);
    sess_arena_close(a);
    a = open_ok(path, OWNER, 3, 2, SESS_ARENA_ADOPTED);
    {
        uint32_t it = 0;
        size_t len;
        const uint8_t *r = sess_arena_rec_next(a, &it, &len);

        assert_non_null(r);
        assert_int_equal(len, max);
        assert_true(is_filled(r, len, 9));
        r = sess_arena_rec_next(a, &it, &len);
        assert_non_null(r);
        assert_int_equal(len, 0);
        assert_null(sess_arena_rec_next(a, &it, &len));
    }
    sess_arena_destroy(a);
    free(big);
}

static void test_busy(void **st)
{
    char path[128], why[256];
    struct sess_arena_opts o = {.owner = OWNER, .max_records = 2, .max_sas = 2};
    struct sess_arena *a, *b = NULL;
    enum sess_arena_found f;

    path_of(path, sizeof(path), "busy");
    o.path = path;
    a = open_ok(path, OWNER, 2, 2, SESS_ARENA_NEW);
    /* a second open file description conflicts, as another process would */
    assert_int_equal(sess_arena_open(&o, &b, &f, why, sizeof(why)), -EBUSY);
    assert_null(b);
    assert_non_null(strstr(why, "in use"));
    sess_arena_close(a);
    b = open_ok(path, OWNER, 2, 2, SESS_ARENA_ADOPTED);
    sess_arena_destroy(b);
}

static void test_not_tmpfs(void **st)
{
    char dir[256], path[300], why[512];
    struct sess_arena_opts o = {.owner = OWNER, .max_records = 2, .max_sas = 2};
    struct sess_arena *a = NULL;
    enum sess_arena_found f;
    struct statfs sf;

    assert_int_equal(statfs(TEST_BUILD_DIR, &sf), 0);
    if (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC)
        skip();
    snprintf(dir, sizeof(dir), "%s/arena-exdev-%d", TEST_BUILD_DIR, (int)getpid());
    snprintf(path, sizeof(path), "%s/arena", dir);
    o.path = path;
    assert_int_equal(sess_arena_open(&o, &a, &f, why, sizeof(why)), -EXDEV);
    assert_null(a);
    assert_non_null(strstr(why, "tmpfs"));
    assert_int_equal(access(path, F_OK), -1); /* nothing written there */
    rmdir(dir);
}

/* ---- invalid files ---- */

static void patch(const char *path, off_t off, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY);

    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, len, off), (ssize_t)len);
    close(fd);
}

static int count_bad(const char *name)
{
    char dir[128];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(dir, sizeof(dir), "%s/%s", root, name);
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "arena.bad-", 10) == 0;
    closedir(d);
    return n;
}

/* Makes a valid arena with one record at @name, damages it with @damage and
 * reopens it: set aside (why mentions @word), the new arena is empty. */
static void set_aside_case(const char *name, void (*damage)(const char *path), const char *owner, const char *word)
{
    char path[128], why[256];
    struct sess_arena_opts o = {.owner = owner ? owner : OWNER, .max_records = 4, .max_sas = 4};
    struct sess_arena *a;
    enum sess_arena_found f;
    uint32_t it = 0;
    size_t len;
    int before;

    path_of(path, sizeof(path), name);
    unlink(path); /* the empty arena of an earlier round */
    a = open_ok(path, OWNER, 4, 4, SESS_ARENA_NEW);
    assert_int_equal(sess_arena_rec_write(a, sess_arena_rec_alloc(a), "abc", 3), 0);
    sess_arena_close(a);
    before = count_bad(name);
    if (damage)
        damage(path);
    o.path = path;
    assert_int_equal(sess_arena_open(&o, &a, &f, why, sizeof(why)), 0);
    assert_int_equal(f, SESS_ARENA_SET_ASIDE);
    if (!strstr(why, word))
        fail_msg("why \"%s\" does not say \"%s\"", why, word);
    assert_int_equal(count_bad(name), before + 1 > 3 ? 3 : before + 1);
    assert_int_equal(sess_arena_rec_used(a), 0);
    assert_null(sess_arena_rec_next(a, &it, &len));
    assert_int_equal(sess_arena_opens(a), 1);
    sess_arena_close(a);
}

static void damage_truncate(const char *path)
{
    assert_int_equal(truncate(path, 8192), 0);
}

static void damage_short(const char *path)
{
    assert_int_equal(truncate(path, 100), 0);
}

static void damage_magic(const char *path)
{
    patch(path, OFF_MAGIC, "XXXXXXXX", 8);
}

static void damage_version(const char *path)
{
    uint32_t v = SESS_ARENA_VERSION + 1;

    patch(path, OFF_VERSION, &v, 4);
}

/* The format before the small place: not adopted either. */
static void damage_version1(const char *path)
{
    uint32_t v = 1;

    patch(path, OFF_VERSION, &v, 4);
}

static void damage_header(const char *path)
{
    int64_t t = 12345;

    patch(path, OFF_CREATED, &t, 8);
}

static void test_set_aside(void **st)
{
    set_aside_case("truncated", damage_truncate, NULL, "truncated");
    set_aside_case("short", damage_short, NULL, "truncated");
    set_aside_case("magic", damage_magic, NULL, "magic");
    set_aside_case("version", damage_version, NULL, "version");
    set_aside_case("version1", damage_version1, NULL, "arena version 1, this ravend reads version 2");
    set_aside_case("owner", NULL, "/run/other", "owner");
    set_aside_case("checksum", damage_header, NULL, "checksum");
}

/* The set-aside files of @name in version order (oldest first); returns how many. */
static int list_bad(const char *name, char out[][256], int max)
{
    char dir[128];
    struct dirent **names;
    int n, k = 0;

    snprintf(dir, sizeof(dir), "%s/%s", root, name);
    n = scandir(dir, &names, NULL, versionsort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        if (strncmp(names[i]->d_name, "arena.bad-", 10) == 0 && k < max)
            snprintf(out[k++], 256, "%s", names[i]->d_name);
        free(names[i]);
    }
    free(names);
    return k;
}

/* At most three set-aside files are kept: the oldest go, the newest stay, and
 * a name made later sorts later even within one second. */
static void test_set_aside_kept(void **st)
{
    char made[6][256], now[8][256];
    int n;

    for (int i = 0; i < 6; i++) {
        set_aside_case("keep", damage_magic, NULL, "magic");
        n = list_bad("keep", now, 8);
        assert_true(n >= 1 && n <= 3);
        snprintf(made[i], 256, "%s", now[n - 1]); /* the newest sorts last */
        for (int j = 0; j < i; j++)
            assert_string_not_equal(made[i], made[j]);
    }
    n = list_bad("keep", now, 8);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(now[i], made[3 + i]);
}

/* A record whose newest half is damaged falls back to the previous version; a
 * record with no valid half is dropped alone; the others stay. */
static void test_corrupt_record(void **st)
{
    char path[128];
    struct sess_arena *a;
    const uint8_t *r;
    uint32_t it = 0, slot_size;
    uint8_t buf[1000], bad = 0x5a;
    size_t len;

    path_of(path, sizeof(path), "crc");
    a = open_ok(path, OWNER, 4, 4, SESS_ARENA_NEW);
    slot_size = 2 * (uint32_t)(sess_arena_rec_max(a) + 64);
    for (uint32_t s = 0; s < 3; s++) {
        assert_int_equal(sess_arena_rec_alloc(a), s);
        fill(buf, sizeof(buf), s);
        assert_int_equal(sess_arena_rec_write(a, s, buf, sizeof(buf)), 0); /* half 0 */
    }
    fill(buf, sizeof(buf), 10);
    assert_int_equal(sess_arena_rec_write(a, 2, buf, sizeof(buf)), 0); /* slot 2: place 2 */
    sess_arena_close(a);
    /* slot 1: its only record's bytes; slot 2: its newest half */
    patch(path, HDR_SIZE + slot_size + 64 + 500, &bad, 1);
    patch(path, HDR_SIZE + 2 * slot_size + SMALL_OFF + 64 + 3, &bad, 1); /* the small place */

    a = open_ok(path, OWNER, 4, 4, SESS_ARENA_ADOPTED);
    assert_int_equal(sess_arena_rec_used(a), 2);
    r = sess_arena_rec_next(a, &it, &len);
    assert_non_null(r);
    assert_int_equal(it, 1);
    assert_true(is_filled(r, len, 0));
    r = sess_arena_rec_next(a, &it, &len);
    assert_non_null(r);
    assert_int_equal(it, 3);
    assert_int_equal(len, sizeof(buf));
    assert_true(is_filled(r, len, 2)); /* the previous version */
    assert_null(sess_arena_rec_next(a, &it, &len));
    assert_int_equal(sess_arena_rec_alloc(a), 1); /* the dropped slot is free */
    sess_arena_close(a);
}

/* ---- kill -9 while a record is written ---- */

/* Half the records small (places 0 and 2), half of any length. */
static size_t kill_len(uint64_t k, size_t max)
{
    return 8 + (size_t)((k * 2654435761u) % ((k & 1 ? SMALL_MAX : max) - 8));
}

static void kill_fill(uint8_t *buf, size_t len, uint64_t k)
{
    memcpy(buf, &k, 8);
    for (size_t i = 8; i < len; i++)
        buf[i] = (uint8_t)(k * 13 + i);
}

static void kill_child(const char *path, int ready, uint64_t k)
{
    struct sess_arena_opts o = {.path = path, .owner = OWNER, .max_records = 2, .max_sas = 2};
    struct sess_arena *a;
    enum sess_arena_found f;
    uint8_t *buf;
    uint32_t it = 0;
    size_t len, max;

    if (sess_arena_open(&o, &a, &f, NULL, 0) != 0 || f != SESS_ARENA_ADOPTED || !sess_arena_rec_next(a, &it, &len))
        _exit(2);
    max = sess_arena_rec_max(a);
    buf = malloc(max);
    if (!buf || write(ready, "r", 1) != 1)
        _exit(2);
    for (;;) {
        size_t n = kill_len(++k, max);

        kill_fill(buf, n, k);
        if (sess_arena_rec_write(a, 0, buf, n) != 0)
            _exit(3);
    }
}

static void test_kill9(void **st)
{
    char path[128];
    uint8_t *buf;
    struct sess_arena *a;
    size_t max;

    path_of(path, sizeof(path), "kill");
    a = open_ok(path, OWNER, 2, 2, SESS_ARENA_NEW);
    max = sess_arena_rec_max(a);
    buf = malloc(max);
    assert_non_null(buf);
    kill_fill(buf, kill_len(0, max), 0);
    assert_int_equal(sess_arena_rec_alloc(a), 0);
    assert_int_equal(sess_arena_rec_write(a, 0, buf, kill_len(0, max)), 0);
    sess_arena_close(a);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int round = 0; round < 30; round++) {
        int p[2], status;
        char c;
        pid_t pid;
        const uint8_t *r;
        uint32_t it = 0;
        size_t len;
        uint64_t k;
        struct timespec ts = {0, (1 + rand() % 15) * 1000000L};

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            kill_child(path, p[1], (uint64_t)round * 100000000u);
        }
        close(p[1]);
        assert_int_equal(read(p[0], &c, 1), 1);
        close(p[0]);
        nanosleep(&ts, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        a = open_ok(path, OWNER, 2, 2, SESS_ARENA_ADOPTED);
        r = sess_arena_rec_next(a, &it, &len);
        assert_non_null(r);
        assert_true(len >= 8);
        memcpy(&k, r, 8);
        assert_int_equal(len, kill_len(k, max));
        kill_fill(buf, len, k);
        assert_memory_equal(r, buf, len);
        assert_null(sess_arena_rec_next(a, &it, &len));
        sess_arena_close(a);
    }
    free(buf);
}

/* ---- the check of a file in memory, and a tiny arena made by hand ---- */

static uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return crc;
}

#define TINY_SLOT 256u
#define TINY_SA_OFF 8192u
#define TINY_SIZE (TINY_SA_OFF + 2 * sizeof(struct dp_sa_live))

static void put32(uint8_t *f, size_t off, uint32_t v)
{
    memcpy(f + off, &v, 4);
}

static void put64(uint8_t *f, size_t off, uint64_t v)
{
    memcpy(f + off, &v, 8);
}

static void tiny_half(uint8_t *f, uint32_t slot, unsigned h, uint64_t seq, const char *rec)
{
    size_t off = HDR_SIZE + slot * TINY_SLOT + h * TINY_SLOT / 2;
    uint32_t len = (uint32_t)strlen(rec);
    uint8_t pre[16];

    memcpy(pre, &slot, 4);
    memcpy(pre + 4, &seq, 8);
    memcpy(pre + 12, &len, 4);
    put64(f, off, seq);
    put32(f, off + 8, len);
    put32(f, off + 12, ~crc32c(crc32c(~0u, pre, 16), rec, len));
    memcpy(f + off + 64, rec, len);
}

/* Two record slots of 256 bytes (records up to 64 bytes), two SA slots: slot 0
 * holds "hello", slot 1 "old" (seq 1) and "new" (seq 2). */
static uint8_t *tiny_arena(void)
{
    uint8_t *f = calloc(1, TINY_SIZE);

    assert_non_null(f);
    memcpy(f, "RVNARENA", 8);
    put32(f, 8, SESS_ARENA_VERSION);
    put32(f, 12, HDR_SIZE);
    put32(f, 16, TINY_SLOT);
    put32(f, 20, sizeof(struct dp_sa_live));
    put32(f, 24, 2);
    put32(f, 28, 2);
    put64(f, 32, HDR_SIZE);
    put64(f, 40, TINY_SA_OFF);
    put64(f, 48, TINY_SIZE);
    put64(f, 56, 1700000000);
    put32(f, 64, (uint32_t)strlen(OWNER));
    memcpy(f + 68, OWNER, strlen(OWNER));
    put32(f, 324, ~crc32c(~0u, f, 324));
    put64(f, 328, 7); /* generation */
    put64(f, 336, 1); /* opens */
    tiny_half(f, 0, 0, 1, "hello");
    tiny_half(f, 1, 0, 1, "old");
    tiny_half(f, 1, 1, 2, "new");
    put64(f, TINY_SA_OFF + sizeof(struct dp_sa_live), 99); /* SA slot 1: seq */
    return f;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void *read_file(const char *path, size_t *len)
{
    struct stat sb;
    uint8_t *buf;
    FILE *fp = fopen(path, "rb");

    assert_non_null(fp);
    assert_int_equal(fstat(fileno(fp), &sb), 0);
    *len = (size_t)sb.st_size;
    buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, *len, fp), *len);
    fclose(fp);
    return buf;
}

static void test_check(void **st)
{
    uint8_t *f = tiny_arena(), *g;
    char why[256], path[128], dir[128];
    const char *out = getenv("RAVEN_ARENA_CORPUS_OUT");
    struct sess_arena *a;
    const char *r;
    uint32_t it = 0;
    size_t len;

    assert_int_equal(sess_arena_check(f, TINY_SIZE, OWNER, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "2 records, 0 dropped"));
    assert_int_equal(sess_arena_check(f, TINY_SIZE, "/run/other", why, sizeof(why)), -EINVAL);
    assert_int_equal(sess_arena_check(f, TINY_SIZE - 1, OWNER, why, sizeof(why)), -EINVAL);
    assert_int_equal(sess_arena_check(f, 100, OWNER, why, sizeof(why)), -EINVAL);
    assert_int_equal(sess_arena_check(NULL, 0, OWNER, why, sizeof(why)), -EINVAL);
    /* unaligned input is checked too */
    g = malloc(TINY_SIZE + 1);
    assert_non_null(g);
    memcpy(g + 1, f, TINY_SIZE);
    assert_int_equal(sess_arena_check(g + 1, TINY_SIZE, OWNER, why, sizeof(why)), 0);
    free(g);
    if (out) {
        snprintf(path, sizeof(path), "%s/tiny", out);
        write_file(path, f, TINY_SIZE);
    }
    /* a record damaged: still valid, the record counted as dropped */
    f[HDR_SIZE + 64] ^= 1;
    assert_int_equal(sess_arena_check(f, TINY_SIZE, OWNER, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "1 records, 1 dropped"));
    if (out) {
        snprintf(path, sizeof(path), "%s/tiny-dropped", out);
        write_file(path, f, TINY_SIZE);
    }
    f[HDR_SIZE + 64] ^= 1;

    /* the hand-made file is adopted by open */
    snprintf(dir, sizeof(dir), "%s/tiny", root);
    assert_int_equal(mkdir(dir, 0700), 0);
    path_of(path, sizeof(path), "tiny");
    write_file(path, f, TINY_SIZE);
    chmod(path, 0600);
    a = open_ok(path, OWNER, 0, 0, SESS_ARENA_ADOPTED);
    assert_int_equal(sess_arena_rec_max(a), TINY_SLOT / 2 - 64);
    assert_int_equal(sess_arena_generation(a), 7);
    assert_int_equal(sess_arena_created(a), 1700000000);
    assert_int_equal(sess_arena_opens(a), 2);
    r = sess_arena_rec_next(a, &it, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(r, "hello", 5);
    r = sess_arena_rec_next(a, &it, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(r, "new", 3);
    assert_true(sess_arena_sa_claim(a, 1));
    sess_arena_adopt_done(a);
    assert_int_equal(sess_arena_sa(a, 1)->seq, 99);
    assert_int_equal(sess_arena_rec_write(a, 0, f, TINY_SLOT / 2 - 63), -EMSGSIZE);
    sess_arena_close(a);

    /* a file written by open, read back, checks too */
    g = read_file(path, &len);
    assert_int_equal(sess_arena_check(g, len, OWNER, why, sizeof(why)), 0);
    free(g);
    free(f);
}

/* ---- the small place ---- */

/* Pages of the file that hold data in [off, off + len). */
static size_t data_pages(const char *path, off_t off, off_t len)
{
    int fd = open(path, O_RDONLY);
    size_t n = 0;

    assert_true(fd >= 0);
    for (off_t p = off; p < off + len; p += 4096) {
        off_t d = lseek(fd, p, SEEK_DATA);

        if (d >= 0 && d < p + 4096)
            n++;
    }
    close(fd);
    return n;
}

/* Reopens the arena (adopting) and checks that slot @slot's record is @want. */
static struct sess_arena *reopen_check(struct sess_arena *a, const char *path, uint32_t slot, const uint8_t *want,
                                       size_t wlen)
{
    const uint8_t *r;
    uint32_t it = slot;
    size_t len;

    sess_arena_close(a);
    a = open_ok(path, OWNER, 4, 4, SESS_ARENA_ADOPTED);
    r = sess_arena_rec_next(a, &it, &len);
    assert_non_null(r);
    assert_int_equal(it, slot + 1);
    assert_int_equal(len, wlen);
    assert_memory_equal(r, want, wlen);
    return a;
}

/* Records of up to 1984 bytes stay in their slot's first page, alternating
 * between places 0 and 2; longer ones use the halves; every change of size
 * survives a reopen. */
static void test_small_place(void **st)
{
    static const size_t lens[] = {100, SMALL_MAX, 7, SMALL_MAX + 1, 300, 9000, 12000, 50, 60, 5000, 10, 16000, 20};
    char path[128];
    struct sess_arena *a;
    uint8_t *buf = malloc(16320);

    assert_non_null(buf);
    path_of(path, sizeof(path), "small");
    a = open_ok(path, OWNER, 4, 4, SESS_ARENA_NEW);
    assert_int_equal(sess_arena_rec_max(a), SLOT_SIZE / 2 - 64);
    assert_int_equal(sess_arena_rec_alloc(a), 0);
    for (unsigned i = 0; i < 40; i++) {
        size_t n = 1 + (i * 613u) % SMALL_MAX;

        fill(buf, n, i);
        assert_int_equal(sess_arena_rec_write(a, 0, buf, n), 0);
        if (i % 8 == 7)
            a = reopen_check(a, path, 0, buf, n);
    }
    assert_int_equal(data_pages(path, HDR_SIZE, SLOT_SIZE), 1);
    for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        fill(buf, lens[i], 100 + i);
        assert_int_equal(sess_arena_rec_write(a, 0, buf, lens[i]), 0);
        a = reopen_check(a, path, 0, buf, lens[i]);
    }
    /* freed: nothing left to adopt */
    sess_arena_rec_free(a, 0);
    sess_arena_close(a);
    a = open_ok(path, OWNER, 4, 4, SESS_ARENA_ADOPTED);
    assert_int_equal(sess_arena_rec_used(a), 0);
    sess_arena_close(a);
    free(buf);
}

/* A long record in place 0 covers place 2: bytes of it that look like a valid
 * record of a higher sequence number there are not taken for one; a write cut
 * before its sequence number leaves the previous record. */
static void test_small_place_covered(void **st)
{
    char path[128];
    struct sess_arena *a;
    uint8_t buf[3000], pre[16];
    uint32_t slot = 1, len = 3;
    uint64_t seq = 1000, zero = 0;
    size_t h2 = SMALL_OFF - 64; /* place 2's header among the record's bytes */

    path_of(path, sizeof(path), "covered");
    a = open_ok(path, OWNER, 4, 4, SESS_ARENA_NEW);
    assert_int_equal(sess_arena_rec_alloc(a), 0);
    assert_int_equal(sess_arena_rec_alloc(a), 1);
    memset(buf, 0, sizeof(buf));
    fill(buf, 64, 9);
    memcpy(buf + h2, &seq, 8);
    memcpy(buf + h2 + 8, &len, 4);
    memcpy(pre, &slot, 4);
    memcpy(pre + 4, &seq, 8);
    memcpy(pre + 12, &len, 4);
    put32(buf, h2 + 12, ~crc32c(crc32c(~0u, pre, 16), "bad", 3));
    memcpy(buf + h2 + 64, "bad", 3);
    /* slot 1: "first" in place 0, then the long record in place 1, then again
     * in place 0 (covering place 2) */
    assert_int_equal(sess_arena_rec_write(a, 1, "first", 5), 0);
    assert_int_equal(sess_arena_rec_write(a, 1, buf, sizeof(buf)), 0);
    assert_int_equal(sess_arena_rec_write(a, 1, buf, sizeof(buf)), 0);
    a = reopen_check(a, path, 1, buf, sizeof(buf));
    /* a small record after it goes to place 1, not into the long one */
    assert_int_equal(sess_arena_rec_write(a, 1, "after", 5), 0);
    a = reopen_check(a, path, 1, (const uint8_t *)"after", 5);
    /* killed as place 0 is written again, its sequence number zeroed: place 2,
     * inside the long record place 0 still holds, is not taken for a record */
    sess_arena_close(a);
    patch(path, HDR_SIZE + SLOT_SIZE, &zero, 8);
    a = open_ok(path, OWNER, 4, 4, SESS_ARENA_ADOPTED);
    a = reopen_check(a, path, 1, (const uint8_t *)"after", 5);

    /* slot 0: "one" in place 0, "two" in place 2, whose sequence number never
     * got written (killed before it) */
    assert_int_equal(sess_arena_rec_alloc(a), 0);
    assert_int_equal(sess_arena_rec_write(a, 0, "one", 3), 0);
    assert_int_equal(sess_arena_rec_write(a, 0, "two", 3), 0);
    a = reopen_check(a, path, 0, (const uint8_t *)"two", 3);
    sess_arena_close(a);
    patch(path, HDR_SIZE + SMALL_OFF, &zero, 8);
    a = open_ok(path, OWNER, 4, 4, SESS_ARENA_ADOPTED);
    a = reopen_check(a, path, 0, (const uint8_t *)"one", 3);
    sess_arena_close(a);
}

/* The fuzz corpus stays a valid arena of this version. */
static void test_corpus(void **st)
{
    char path[512], why[256];
    size_t len;
    uint8_t *f;

    snprintf(path, sizeof(path), "%s/tiny", TEST_ARENA_CORPUS);
    f = read_file(path, &len);
    assert_int_equal(sess_arena_check(f, len, OWNER, why, sizeof(why)), 0);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_kept),
        cmocka_unit_test(test_sa_adopt),
        cmocka_unit_test(test_sa_adopt_runs),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_not_tmpfs),
        cmocka_unit_test(test_set_aside),
        cmocka_unit_test(test_set_aside_kept),
        cmocka_unit_test(test_corrupt_record),
        cmocka_unit_test(test_kill9),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_small_place),
        cmocka_unit_test(test_small_place_covered),
        cmocka_unit_test(test_corpus),
    };

    log_set_level(LOG_LVL_WARN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
