/* Unit tests of running's journal (daemon/config/cfg_journal.c): every committed
 * change set (creations, modifications, deletions, an ordered-by-user list, a
 * "when" turning false, a secret, a copy-config) is recovered from a crash image
 * of the state directory; a journal cut at every byte offset recovers exactly the
 * last change set it holds whole, with the same digest, and is cut back to it;
 * a compaction in a forked child leaves a snapshot that, with the journal's tail,
 * is still the running configuration. After each commit, the candidate of the
 * next edit (the previous running brought level with the commit's change set,
 * not a copy) equals running. A large change set is one record, a bulk one a
 * snapshot. Runs without root. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/base/alarm.h"
#include "daemon/base/fsutil.h"
#include "daemon/config/cfg.h"

#define NS "urn:raven:params:xml:ns:yang:raven-test"
#define NC "urn:ietf:params:xml:ns:netconf:base:1.0"
#define YANG "urn:ietf:params:xml:ns:yang:1"
#define NSTEPS 12

static const struct cfg_actor A1 = {.sid = 1, .user = "alice"};

/* Fault injection (the test links with -Wl,--wrap=fs_write_atomic): when set, a
 * write of running.xml fails after its rename, as a failed fsync of the directory
 * does. */
static bool fail_after_rename;
int __real_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
int __wrap_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

int __wrap_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    int rc = __real_fs_write_atomic(path, data, len, mode);
    size_t pl = strlen(path);

    if (!rc && fail_after_rename && pl >= 12 && !strcmp(path + pl - 12, "/running.xml"))
        return -EIO;
    return rc;
}
static const char *default_xml = "<misc xmlns=\"" NS "\"><a>init</a></misc>";

struct fx {
    char dir[64], crash[64];
    struct ly_ctx *ctx;
    struct cfg *cfg;
    char *state[NSTEPS + 1]; /* running after each step (0: at start) */
    uint64_t digest[NSTEPS + 1];
    size_t jlen[NSTEPS + 1]; /* the journal's length then */
    int nstates;
    bool probe; /* note() also checks the candidate a commit leaves ready (the spare) */
};

static struct cfg *open_cfg(const char *dir, struct ly_ctx *ctx, size_t compact)
{
    struct cfg_opts o = {.state_dir = dir, .default_xml = default_xml, .compact_bytes = compact};
    struct cfg_errs errs = {0};
    struct cfg *cfg = cfg_new(ctx, &o);

    assert_non_null(cfg);
    if (cfg_start(cfg, &errs)) {
        fprintf(stderr, "cfg_start: %s\n", errs.head ? errs.head->msg : "?");
        fail();
    }
    cfg_errs_clear(&errs);
    return cfg;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/raven-cfgj-XXXXXX");
    snprintf(f->crash, sizeof(f->crash), "/tmp/raven-cfgj-crash-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_non_null(mkdtemp(f->crash));
    assert_int_equal(ly_ctx_new(TEST_YANG_DIR ":" RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &f->ctx), 0);
    assert_non_null(ly_ctx_load_module(f->ctx, "ietf-netconf", NULL, NULL));
    assert_non_null(ly_ctx_load_module(f->ctx, "raven-test", NULL, NULL));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    cfg_free(f->cfg);
    ly_ctx_destroy(f->ctx);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    nftw(f->crash, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < f->nstates; i++)
        free(f->state[i]);
    free(f);
    return 0;
}

static char *dump(struct cfg *cfg)
{
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};
    char *s = NULL;

    assert_int_equal(cfg_get(cfg, CFG_DS_RUNNING, NULL, true, &t, &errs), 0);
    if (t)
        lyd_print_mem(&s, t, LYD_XML, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK);
    lyd_free_siblings(t);
    return s ? s : strdup("");
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[128], *data = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    *len = 0;
    if (fs_read_all(path, &data, len))
        return NULL;
    return data;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(fs_write_atomic(path, data ? data : "", len, 0600), 0);
}

static char *dump_ds(struct cfg *cfg, enum cfg_ds ds)
{
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};
    char *s = NULL;

    assert_int_equal(cfg_get(cfg, ds, NULL, true, &t, &errs), 0);
    if (t)
        lyd_print_mem(&s, t, LYD_XML, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK | LYD_PRINT_WD_ALL);
    lyd_free_siblings(t);
    return s ? s : strdup("");
}

/* The candidate of the next edit starts from the tree the last commit left level
 * with running (not a copy of running): it must equal running exactly, defaults
 * included. Edits misc/a and compares. */
static void probe_candidate(struct fx *f)
{
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};
    char *run, *cand, *exp;

    assert_int_equal(lyd_parse_data_mem(f->ctx, "<misc xmlns=\"" NS "\"><a>probe</a></misc>", LYD_XML,
                                        LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &t),
                     0);
    assert_int_equal(cfg_edit(f->cfg, CFG_DS_CANDIDATE, t, CFG_OP_MERGE, CFG_TEST_THEN_SET, CFG_ERROPT_STOP, &A1,
                              &errs),
                     0);
    lyd_free_siblings(t);
    if (!cfg_candidate_dirty(f->cfg))
        fail_msg("probe after step %d: the candidate edit changed nothing", f->nstates - 1);
    run = dump_ds(f->cfg, CFG_DS_RUNNING);
    cand = dump_ds(f->cfg, CFG_DS_CANDIDATE);
    /* running with misc/a = probe */
    {
        char *a = strstr(run, "<a>"), *e = a ? strstr(a, "</a>") : NULL;

        assert_non_null(e);
        exp = malloc(strlen(run) + 16);
        assert_non_null(exp);
        sprintf(exp, "%.*s<a>probe%s", (int)(a - run), run, e);
    }
    assert_string_equal(cand, exp);
    assert_int_equal(cfg_discard(f->cfg, &A1, &errs), 0);
    free(run);
    free(cand);
    free(exp);
    cfg_errs_clear(&errs);
}

static void note(struct fx *f)
{
    size_t len;
    char *j = read_file(f->dir, "running.journal", &len);

    assert_true(f->nstates <= NSTEPS);
    f->state[f->nstates] = dump(f->cfg);
    f->digest[f->nstates] = cfg_running_digest(f->cfg);
    f->jlen[f->nstates] = j ? len : 0;
    f->nstates++;
    free(j);
    if (f->probe)
        probe_candidate(f);
}

static void edit_commit(struct fx *f, const char *xml, bool candidate)
{
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};
    struct cfg_commit_opts co = {0};

    assert_int_equal(lyd_parse_data_mem(f->ctx, xml, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE,
                                        0, &t),
                     0);
    if (candidate) {
        /* the edit's new subtrees move into the candidate */
        assert_int_equal(cfg_edit_take(f->cfg, CFG_DS_CANDIDATE, &t, CFG_OP_MERGE, CFG_TEST_THEN_SET,
                                       CFG_ERROPT_STOP, &A1, &errs),
                         0);
        assert_int_equal(cfg_commit(f->cfg, &co, &A1, &errs), 0);
    } else {
        assert_int_equal(cfg_edit(f->cfg, CFG_DS_RUNNING, t, CFG_OP_MERGE, CFG_TEST_THEN_SET, CFG_ERROPT_STOP, &A1,
                                  &errs),
                         0);
    }
    lyd_free_siblings(t);
    cfg_errs_clear(&errs);
}

static void copy_inline(struct fx *f, const char *xml)
{
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};

    assert_int_equal(lyd_parse_data_mem(f->ctx, xml, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE,
                                        0, &t),
                     0);
    assert_int_equal(cfg_copy(f->cfg, CFG_DS_RUNNING, CFG_SRC_INLINE, t, &A1, &errs), 0);
    lyd_free_siblings(t);
    cfg_errs_clear(&errs);
}

#define P(x) "<pools xmlns=\"" NS "\" xmlns:nc=\"" NC "\">" x "</pools>"
#define U(x) "<users xmlns=\"" NS "\" xmlns:nc=\"" NC "\" xmlns:yang=\"" YANG "\">" x "</users>"
#define M(x) "<misc xmlns=\"" NS "\" xmlns:nc=\"" NC "\">" x "</misc>"

/* The change sets: each kind the journal records. */
static void run_steps(struct fx *f)
{
    note(f);
    edit_commit(f, P("<pool><name>p1</name><size>10</size></pool><pool><name>p2</name><size>20</size></pool>"), true);
    note(f);
    edit_commit(f, U("<user><name>u1</name><pool>p1</pool></user><user><name>u2</name><pool>p2</pool></user>"), true);
    note(f);
    edit_commit(f, P("<pool><name>p1</name><size>11</size></pool>"), false);
    note(f);
    edit_commit(f, M("<mode>extended</mode><extra>x</extra>"), true);
    note(f);
    edit_commit(f, U("<user yang:insert=\"first\"><name>u0</name><pool>p1</pool></user>"), true);
    note(f);
    edit_commit(f, M("<mode>plain</mode>"), false); /* "extra" goes with its when */
    note(f);
    edit_commit(f, U("<user nc:operation=\"delete\"><name>u2</name></user>") P(
                       "<pool nc:operation=\"delete\"><name>p2</name></pool>"),
                true);
    note(f);
    edit_commit(f, M("<tag>a</tag><tag>b</tag><b>set</b>") U("<user><name>u1</name><password>s3cret</password></user>"),
                true);
    note(f);
    edit_commit(f, M("<b nc:operation=\"remove\"/><tag nc:operation=\"delete\">a</tag>"), false);
    note(f);
    copy_inline(f, P("<pool><name>q</name><size>5</size></pool>") U("<user><name>w</name><pool>q</pool></user>")
                       M("<a>copied</a>"));
    note(f);
    edit_commit(f, U("<user yang:insert=\"first\"><name>v</name></user>"), true);
    note(f);
    edit_commit(f, P("<pool><name>r</name><size>7</size></pool>"), true);
    note(f);
}

/* The state directory as a crash would leave it: running.xml and the journal as
 * they are now, copied while the datastore is open (cfg_free would fold them). */
static void crash_image(struct fx *f, size_t jcut)
{
    size_t sl, jl;
    char *s = read_file(f->dir, "running.xml", &sl), *j = read_file(f->dir, "running.journal", &jl);

    assert_non_null(s);
    write_file(f->crash, "running.xml", s, sl);
    write_file(f->crash, "running.journal", j, jcut < jl ? jcut : jl);
    free(s);
    free(j);
}

static void test_every_change_recovered(void **state)
{
    struct fx *f = *state;
    struct cfg *c;
    char *s;

    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    f->probe = true;
    run_steps(f);
    /* the candidates after the commits of the candidate (not after a when-removal) */
    assert_true(cfg_spares_used(f->cfg) >= 5);
    /* the ordered list's order and the when-removal are part of what is compared */
    assert_non_null(strstr(f->state[f->nstates - 2], "<name>v</name></user><user><name>w</name>"));
    assert_null(strstr(f->state[6], "<extra>"));
    assert_non_null(strstr(f->state[5], "<extra>x</extra>"));
    crash_image(f, SIZE_MAX);
    c = open_cfg(f->crash, f->ctx, 1u << 30);
    s = dump(c);
    assert_string_equal(s, f->state[f->nstates - 1]);
    assert_int_equal(cfg_running_digest(c), f->digest[f->nstates - 1]);
    free(s);
    cfg_free(c);
}

static void test_cut_at_every_offset(void **state)
{
    struct fx *f = *state;
    size_t jl = 0;
    char *j;

    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    run_steps(f);
    j = read_file(f->dir, "running.journal", &jl);
    free(j);
    assert_true(jl > 0);
    assert_int_equal(f->jlen[10], 0); /* copy-config: a snapshot */
    for (size_t off = 0; off <= jl; off++) {
        struct cfg *c;
        size_t got = 0;
        int last = 0;
        char *s;

        /* the last step whose journal fits in the first @off bytes, counted from
         * the last snapshot (copy-config writes one and empties the journal) */
        for (int i = 0; i < f->nstates; i++) {
            if (!f->jlen[i])
                last = i;
        }
        for (int i = last; i < f->nstates; i++) {
            if (f->jlen[i] <= off)
                last = i;
        }
        crash_image(f, off);
        c = open_cfg(f->crash, f->ctx, 1u << 30);
        s = dump(c);
        if (strcmp(s, f->state[last]))
            fail_msg("cut at %zu of %zu: expected step %d\n%s\ngot\n%s", off, jl, last, f->state[last], s);
        assert_int_equal(cfg_running_digest(c), f->digest[last]);
        free(read_file(f->crash, "running.journal", &got));
        assert_int_equal(got, f->jlen[last]); /* the torn tail is gone */
        free(s);
        cfg_free(c);
        nftw(f->crash, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        assert_int_equal(mkdir(f->crash, 0700), 0);
    }
}

static void test_compaction(void **state)
{
    struct fx *f = *state;
    size_t sl, jl;
    char *s, *j;
    struct cfg *c;

    f->cfg = open_cfg(f->dir, f->ctx, 1); /* compact whenever the journal is half the snapshot */
    note(f);
    for (int i = 0; i < 6; i++) {
        char xml[256];

        snprintf(xml, sizeof(xml), P("<pool><name>c%d</name><size>%d</size></pool>"), i, i + 1);
        edit_commit(f, xml, i % 2);
        usleep(100 * 1000); /* the child has printed by the next commit, which cuts */
    }
    s = read_file(f->dir, "running.xml", &sl);
    j = read_file(f->dir, "running.journal", &jl);
    assert_non_null(s);
    /* a snapshot newer than the start holds pools, and the journal lost its head */
    assert_non_null(strstr(s, "<name>c3</name>"));
    assert_true(!strncmp(s, "<!-- raven-running seq=", 23));
    assert_non_null(j);
    assert_null(memmem(j, jl, "c0", 2)); /* the first change set is only in the snapshot */
    free(s);
    free(j);
    note(f);
    crash_image(f, SIZE_MAX);
    c = open_cfg(f->crash, f->ctx, 1u << 30);
    s = dump(c);
    assert_string_equal(s, f->state[1]);
    assert_int_equal(cfg_running_digest(c), f->digest[1]);
    free(s);
    cfg_free(c);
    /* a clean stop folds the journal in and keeps the digest */
    cfg_free(f->cfg);
    f->cfg = NULL;
    free(read_file(f->dir, "running.journal", &jl));
    assert_int_equal(jl, 0);
    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    s = dump(f->cfg);
    assert_string_equal(s, f->state[1]);
    assert_int_equal(cfg_running_digest(f->cfg), f->digest[1]);
    free(s);
}

static void test_hand_edited_snapshot_changes_digest(void **state)
{
    struct fx *f = *state;
    size_t sl;
    char *s, *p;
    uint64_t d;

    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    edit_commit(f, P("<pool><name>p1</name><size>10</size></pool>"), true);
    cfg_free(f->cfg);
    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    d = cfg_running_digest(f->cfg);
    cfg_free(f->cfg);
    f->cfg = NULL;
    s = read_file(f->dir, "running.xml", &sl);
    assert_non_null(p = strstr(s, "<size>10</size>"));
    p[7] = '2'; /* size 12, header unchanged */
    write_file(f->dir, "running.xml", s, sl);
    free(s);
    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    assert_int_not_equal(cfg_running_digest(f->cfg), d);
    s = dump(f->cfg);
    assert_non_null(strstr(s, "<size>12</size>"));
    free(s);
}

/* A replaced or removed secret leaves the disk at once: such a change set is a
 * snapshot, not a record after an older one that still holds the value. */
static void test_replaced_secret_leaves_no_trace(void **state)
{
    struct fx *f = *state;
    size_t sl, jl;
    char *s, *j;

    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    edit_commit(f, P("<pool><name>p1</name></pool>") U("<user><name>u1</name><password>old-pw-1</password></user>"),
                true);
    j = read_file(f->dir, "running.journal", &jl);
    assert_non_null(memmem(j, jl, "old-pw-1", 8)); /* a creation is journaled */
    free(j);
    edit_commit(f, U("<user><name>u1</name><password>new-pw-2</password></user>"), false);
    s = read_file(f->dir, "running.xml", &sl);
    j = read_file(f->dir, "running.journal", &jl);
    assert_null(memmem(s, sl, "old-pw-1", 8));
    assert_true(!j || !memmem(j, jl, "old-pw-1", 8));
    assert_non_null(strstr(s, "new-pw-2"));
    free(s);
    free(j);
    edit_commit(f, U("<user><name>u1</name><password nc:operation=\"delete\"/></user>"), true);
    s = read_file(f->dir, "running.xml", &sl);
    assert_null(memmem(s, sl, "new-pw-2", 8));
    free(s);
}

/* A snapshot whose write failed after its rename is refused, but it is on disk
 * under the next sequence number: the commit after it must not be journaled under
 * that number, or replay takes it for part of the snapshot and loses it. */
static void test_snapshot_failed_after_rename(void **state)
{
    struct fx *f = *state;
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};
    struct cfg *c;
    char *s;

    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    edit_commit(f, P("<pool><name>p1</name><size>10</size></pool>"), true);
    assert_int_equal(lyd_parse_data_mem(f->ctx, P("<pool><name>q</name><size>5</size></pool>"), LYD_XML,
                                        LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &t),
                     0);
    alarm_reset();
    fail_after_rename = true;
    assert_int_not_equal(cfg_copy(f->cfg, CFG_DS_RUNNING, CFG_SRC_INLINE, t, &A1, &errs), 0);
    fail_after_rename = false;
    /* a commit that cannot be saved is refused: commit-refused says so */
    assert_true(alarm_is_active(ALARM_COMMIT_REFUSED, "running"));
    lyd_free_siblings(t);
    cfg_errs_clear(&errs);
    edit_commit(f, P("<pool><name>r</name><size>7</size></pool>"), true);
    assert_false(alarm_is_active(ALARM_COMMIT_REFUSED, "running"));
    alarm_reset();
    note(f);
    assert_non_null(strstr(f->state[0], "<name>p1</name>"));
    assert_non_null(strstr(f->state[0], "<name>r</name>"));
    crash_image(f, SIZE_MAX);
    c = open_cfg(f->crash, f->ctx, 1u << 30);
    s = dump(c);
    assert_string_equal(s, f->state[0]);
    assert_int_equal(cfg_running_digest(c), f->digest[0]);
    free(s);
    cfg_free(c);
}

static bool has_compact_file(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    assert_non_null(d);
    while ((e = readdir(d)))
        found |= !strncmp(e->d_name, "running.xml.compact.", 20);
    closedir(d);
    return found;
}

/* The compaction child writes a file of its own; only the datastore renames it
 * over running.xml (a child outliving a crashed ravend must not rename an older
 * snapshot over a newer one). Interrupted compactions' files go at start. */
static void test_compaction_child_renames_nothing(void **state)
{
    struct fx *f = *state;
    size_t sl, l0;
    char *s, *s0 = NULL;
    int i;

    f->cfg = open_cfg(f->dir, f->ctx, 1);
    for (i = 0; i < 6 && !has_compact_file(f->dir); i++) {
        char xml[256];

        free(s0);
        s0 = read_file(f->dir, "running.xml", &l0);
        snprintf(xml, sizeof(xml), P("<pool><name>c%d</name><size>%d</size></pool>"), i, i + 1);
        edit_commit(f, xml, true);
        usleep(300 * 1000);
    }
    assert_true(has_compact_file(f->dir)); /* the child is done, not yet reaped */
    s = read_file(f->dir, "running.xml", &sl);
    assert_int_equal(sl, l0);
    assert_memory_equal(s, s0, sl);
    free(s);
    /* the next commit reaps the child and renames its file (a slow child: a later one) */
    s = NULL;
    for (i = 0; i < 20 && (!s || !strstr(s, "<name>c0</name>")); i++) {
        char xml[256];

        free(s);
        usleep(200 * 1000);
        snprintf(xml, sizeof(xml), P("<pool><name>x%d</name><size>1</size></pool>"), i);
        edit_commit(f, xml, true);
        s = read_file(f->dir, "running.xml", &sl);
    }
    assert_non_null(strstr(s, "<name>c0</name>"));
    assert_null(strstr(s0, "<name>c0</name>"));
    free(s);
    free(s0);
    cfg_free(f->cfg); /* ends a compaction still running and removes its file */
    f->cfg = NULL;
    assert_false(has_compact_file(f->dir));
    write_file(f->dir, "running.xml.compact.99999", "<!-- raven-running seq=1 -->", 28);
    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    assert_false(has_compact_file(f->dir));
}

#define SW(x) "<sw xmlns=\"urn:raven:params:xml:ns:yang:raven-spare\" xmlns:nc=\"" NC "\">" x "</sw>"

static int commit_xml(struct fx *f, const char *xml)
{
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};
    struct cfg_commit_opts co = {0};
    int rc;

    assert_int_equal(lyd_parse_data_mem(f->ctx, xml, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE,
                                        0, &t),
                     0);
    assert_int_equal(cfg_edit(f->cfg, CFG_DS_CANDIDATE, t, CFG_OP_MERGE, CFG_TEST_THEN_SET, CFG_ERROPT_STOP, &A1,
                              &errs),
                     0);
    lyd_free_siblings(t);
    rc = cfg_commit(f->cfg, &co, &A1, &errs);
    cfg_errs_clear(&errs);
    return rc;
}

/* Validation adds nodes outside the change set (a when turned true brings its
 * default) and a failed commit attempt has already removed the nodes whose when
 * turned false: the candidate started after the commit still equals running. */
static void test_spare_after_validation_changes(void **state)
{
    struct fx *f = *state;
    char *s;

    assert_non_null(ly_ctx_load_module(f->ctx, "raven-spare", NULL, NULL));
    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    f->probe = true;
    assert_int_equal(commit_xml(f, SW("<mode>off</mode>")), 0);
    note(f);
    assert_int_equal(commit_xml(f, SW("<mode>on</mode>")), 0); /* opts/level appears */
    note(f);
    s = dump_ds(f->cfg, CFG_DS_RUNNING);
    assert_non_null(strstr(s, "<level>3</level>"));
    free(s);
    assert_int_equal(commit_xml(f, SW("<opts><name>n</name></opts>")), 0);
    note(f);
    /* refused after validation removed opts (when false) */
    assert_int_not_equal(commit_xml(f, SW("<mode>off</mode><chk>20</chk>")), 0);
    assert_int_equal(commit_xml(f, SW("<chk>5</chk>")), 0);
    note(f);
    s = dump_ds(f->cfg, CFG_DS_RUNNING);
    assert_null(strstr(s, "<opts>"));
    free(s);
}

#define KR(x)                                                                                                       \
    "<ikev2 xmlns=\"urn:raven:params:xml:ns:yang:raven-vpn\"><keyring><name>kr</name><peer><name>p1</name>" x         \
    "</peer></keyring></ikev2>"

/* Switching the case of a choice replaces a secret by creations only (validation
 * removes the old case): the old value must still leave the disk at once. */
static void test_secret_case_switch_leaves_no_trace(void **state)
{
    struct fx *f = *state;
    size_t sl, jl;
    char *s, *j;

    assert_non_null(ly_ctx_load_module(f->ctx, "raven-vpn", NULL, NULL));
    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    assert_int_equal(
        commit_xml(f, KR("<address>192.0.2.1/32</address><pre-shared-key>old-psk-17</pre-shared-key>")), 0);
    j = read_file(f->dir, "running.journal", &jl);
    assert_non_null(memmem(j, jl, "old-psk-17", 10)); /* a creation is journaled */
    free(j);
    assert_int_equal(commit_xml(f, KR("<local-pre-shared-key>new-l</local-pre-shared-key>"
                                      "<remote-pre-shared-key>new-r</remote-pre-shared-key>")),
                     0);
    s = read_file(f->dir, "running.xml", &sl);
    j = read_file(f->dir, "running.journal", &jl);
    assert_null(memmem(s, sl, "old-psk-17", 10));
    assert_true(!j || !memmem(j, jl, "old-psk-17", 10));
    assert_true(memmem(s, sl, "new-l", 5) || (j && memmem(j, jl, "new-l", 5)));
    free(s);
    free(j);
}

/* Changes widened to the same node (entries of one ordered-by-user list) are
 * recorded once: the record holds the list's parent a single time. */
static void test_widened_changes_recorded_once(void **state)
{
    struct fx *f = *state;
    size_t jl, count = 0;
    char *j;

    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    edit_commit(f, P("<pool><name>p1</name></pool>"), true);
    edit_commit(f, U("<user><name>u1</name><pool>p1</pool></user><user><name>u2</name></user>"
                     "<user><name>u3</name></user>"),
                true);
    j = read_file(f->dir, "running.journal", &jl);
    assert_non_null(j);
    for (const char *q = j; (q = memmem(q, jl - (size_t)(q - j), "<name>u1</name>", 15)); q++)
        count++;
    assert_int_equal(count, 1);
    free(j);
    note(f);
    crash_image(f, SIZE_MAX);
    {
        struct cfg *c = open_cfg(f->crash, f->ctx, 1u << 30);
        char *s = dump(c);

        assert_string_equal(s, f->state[0]);
        free(s);
        cfg_free(c);
    }
}

/* <pools> with pools p<from>..p<to - 1> (malloc'd). */
static char *many_pools(int from, int to)
{
    size_t cap = 64 + (size_t)(to - from) * 64, n;
    char *x = malloc(cap);

    assert_non_null(x);
    n = (size_t)snprintf(x, cap, "<pools xmlns=\"" NS "\">");
    for (int i = from; i < to; i++)
        n += (size_t)snprintf(x + n, cap - n, "<pool><name>p%d</name><size>%d</size></pool>", i, 1 + i % 999);
    snprintf(x + n, cap - n, "</pools>");
    return x;
}

/* A change set of 3000 creations is one record holding each pool once (the
 * paths already recorded are found by hashing, not compared pairwise); one of
 * 5000 more, a bulk load, is written as a snapshot instead and empties the
 * journal, and leaves no spare. Both recover from a crash image. */
static void test_large_and_bulk_change_sets(void **state)
{
    struct fx *f = *state;
    char *x = many_pools(0, 3000), *j;
    size_t jl, count = 0, sl;
    uint64_t spares;

    f->cfg = open_cfg(f->dir, f->ctx, 1u << 30);
    note(f);
    edit_commit(f, x, true);
    free(x);
    j = read_file(f->dir, "running.journal", &jl);
    assert_non_null(j);
    for (const char *q = j; (q = memmem(q, jl - (size_t)(q - j), "<name>p2999</name>", 18)); q++)
        count++;
    assert_int_equal(count, 1);
    for (const char *q = j; (q = memmem(q, jl - (size_t)(q - j), "<pool>", 6)); q++)
        count++;
    assert_int_equal(count, 3001);
    free(j);
    note(f);
    crash_image(f, SIZE_MAX);
    {
        struct cfg *c = open_cfg(f->crash, f->ctx, 1u << 30);
        char *d = dump(c);

        assert_string_equal(d, f->state[1]);
        free(d);
        cfg_free(c);
    }

    x = many_pools(3000, 8000);
    spares = cfg_spares_used(f->cfg);
    edit_commit(f, x, true);
    free(x);
    assert_int_equal(cfg_spares_used(f->cfg), spares + 1); /* the 3000's spare */
    j = read_file(f->dir, "running.journal", &jl);
    assert_int_equal(j ? jl : 0, 0);
    free(j);
    j = read_file(f->dir, "running.xml", &sl);
    assert_non_null(j);
    assert_non_null(memmem(j, sl, "<name>p7999</name>", 18));
    free(j);
    note(f);
    crash_image(f, SIZE_MAX);
    {
        struct cfg *c = open_cfg(f->crash, f->ctx, 1u << 30);
        char *d = dump(c);

        assert_string_equal(d, f->state[2]);
        free(d);
        cfg_free(c);
    }
    /* no spare after a bulk load: the next candidate is a copy of running */
    edit_commit(f, P("<pool><name>p1</name><size>5</size></pool>"), true);
    assert_int_equal(cfg_spares_used(f->cfg), spares + 1);
    j = dump(f->cfg);
    assert_non_null(strstr(j, "<pool><name>p1</name><size>5</size></pool>"));
    assert_non_null(strstr(j, "<name>p7999</name>"));
    free(j);
}

/* cfg_edit_take moves new subtrees out of the edit; one holding metadata is copied;
 * both are committed and journaled like copies */
static void test_take_moves_new_subtrees(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    struct cfg_commit_opts co = {0};
    struct lyd_node *t = NULL;
    char *s;

    f->cfg = open_cfg(f->dir, f->ctx, 0);
    assert_int_equal(lyd_parse_data_mem(f->ctx, P("<pool><name>a</name><size>1</size></pool>")
                                        U("<user nc:operation=\"create\"><name>u</name></user>"),
                                        LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &t),
                     0);
    assert_int_equal(cfg_edit_take(f->cfg, CFG_DS_CANDIDATE, &t, CFG_OP_MERGE, CFG_TEST_THEN_SET, CFG_ERROPT_STOP,
                                   &A1, &errs),
                     0);
    /* the implicit pools container took the pool; the user with its operation stayed */
    assert_string_equal(LYD_NAME(t), "pools");
    assert_null(lyd_child(t));
    assert_non_null(t->next);
    assert_string_equal(LYD_NAME(t->next), "users");
    assert_non_null(lyd_child(t->next));
    lyd_free_siblings(t);
    assert_int_equal(cfg_commit(f->cfg, &co, &A1, &errs), 0);
    cfg_free(f->cfg);
    f->cfg = open_cfg(f->dir, f->ctx, 0);
    s = dump_ds(f->cfg, CFG_DS_RUNNING);
    assert_non_null(strstr(s, "<pool><name>a</name><size>1</size></pool>"));
    assert_non_null(strstr(s, "<user><name>u</name>"));
    assert_null(strstr(s, "operation"));
    free(s);
    cfg_errs_clear(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_change_recovered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_at_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hand_edited_snapshot_changes_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_secret_leaves_no_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_failed_after_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_child_renames_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spare_after_validation_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_case_switch_leaves_no_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_widened_changes_recorded_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_and_bulk_change_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_moves_new_subtrees, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
