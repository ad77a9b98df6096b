/* Unit tests of the datastore (daemon/config): the edit engine per operation and per
 * error, the transaction with handlers rigged to fail, persistence and recovery,
 * confirmed commit across restarts, secrets, locks. Runs without root. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/base/fsutil.h"
#include "daemon/config/cfg.h"

#define NS "urn:raven:params:xml:ns:yang:raven-test"
#define NC "urn:ietf:params:xml:ns:netconf:base:1.0"

struct fx {
    char dir[64];
    struct ly_ctx *ctx;
    struct cfg *cfg;
    int64_t timer_ms;
    int notified;
};

static const struct cfg_actor A1 = {.sid = 1, .user = "alice"};
static const struct cfg_actor A2 = {.sid = 2, .user = "bob"};

/* handler log: which handler did what, in order */
static char hlog[512];
static char cpaths[1024]; /* paths of the changes the handlers were given */
static const char *fail_prepare; /* name of the handler whose prepare refuses */

static void hlog_add(const char *what, const char *name)
{
    size_t n = strlen(hlog);
    snprintf(hlog + n, sizeof(hlog) - n, "%s%s:%s", n ? " " : "", what, name);
}

static int h_prepare(struct cfg_txn *txn, void *arg, struct cfg_errs *errs)
{
    const char *name = arg;
    const struct cfg_change *c;
    size_t n;

    c = cfg_txn_changes(txn, &n);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(cpaths);
        snprintf(cpaths + l, sizeof(cpaths) - l, "%d:%s ", (int)c[i].op, c[i].path ? c[i].path : "/");
    }
    if (fail_prepare && !strcmp(fail_prepare, name)) {
        hlog_add("refuse", name);
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, "/raven-test:users",
                    "%s refuses", name);
        return -EBUSY;
    }
    /* a dry run says so, and its prepare is told: "check" */
    hlog_add(cfg_txn_is_dry_run(txn) ? "check" : "prepare", name);
    return 0;
}

static void h_abort(struct cfg_txn *txn, void *arg)
{
    hlog_add("abort", arg);
}

static void h_apply(struct cfg_txn *txn, void *arg)
{
    hlog_add("apply", arg);
}

static void on_timer(int64_t ms, void *arg)
{
    ((struct fx *)arg)->timer_ms = ms;
}

static void on_notify(const struct cfg_actor *actor, const struct cfg_change *chg, size_t n, void *arg)
{
    ((struct fx *)arg)->notified++;
}

static const char *default_xml = "<misc xmlns=\"" NS "\"><a>init</a></misc>";

static struct cfg *open_cfg(struct fx *f, bool register_all)
{
    struct cfg_opts o = {.state_dir = f->dir, .default_xml = default_xml};
    struct cfg_errs errs = {0};
    struct cfg *cfg = cfg_new(f->ctx, &o);
    static const char *const paths[][2] = {
        {"pools", "/raven-test:pools"}, {"users", "/raven-test:users"}, {"misc", "/raven-test:misc"},
        {"orphan", "/raven-test:orphan"}};

    assert_non_null(cfg);
    for (size_t i = 0; i < 4; i++) {
        struct cfg_handler h = {.name = paths[i][0], .path = paths[i][1], .prepare = h_prepare, .abort = h_abort,
                                .apply = h_apply, .arg = (void *)paths[i][0]};
        if (!register_all && i == 3)
            continue;
        assert_int_equal(cfg_handler_register(cfg, &h), 0);
    }
    cfg_set_timer(cfg, on_timer, f);
    cfg_set_notify(cfg, on_notify, f);
    if (register_all) {
        assert_int_equal(cfg_handlers_check(cfg, "raven-test", &errs), 0);
        assert_int_equal(cfg_start(cfg, &errs), 0);
    }
    cfg_errs_clear(&errs);
    return cfg;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *feats[] = {"writable-running", "candidate", "confirmed-commit", "rollback-on-error", "validate",
                           "startup", "xpath", NULL};

    snprintf(f->dir, sizeof(f->dir), "/tmp/raven-cfg-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(ly_ctx_new(TEST_YANG_DIR ":" RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &f->ctx), 0);
    assert_non_null(ly_ctx_load_module(f->ctx, "ietf-netconf", NULL, feats));
    assert_non_null(ly_ctx_load_module(f->ctx, "raven-test", NULL, NULL));
    fail_prepare = NULL;
    f->cfg = open_cfg(f, true);
    hlog[0] = '\0';
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    cfg_free(f->cfg);
    ly_ctx_destroy(f->ctx);
    snprintf(cmd, sizeof(cmd), "%s", f->dir);
    /* the state directory and whatever a test left in it */
    nftw(cmd, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static struct lyd_node *parse_edit(struct fx *f, const char *xml)
{
    struct lyd_node *t = NULL;

    assert_int_equal(lyd_parse_data_mem(f->ctx, xml, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE,
                                        0, &t),
                     0);
    return t;
}

static void print_errs(const struct cfg_errs *errs);
static int edit(struct fx *f, enum cfg_ds ds, const char *xml, enum cfg_err_opt eo, const struct cfg_actor *a,
                struct cfg_errs *errs)
{
    struct lyd_node *t = parse_edit(f, xml);
    int rc = cfg_edit_take(f->cfg, ds, &t, CFG_OP_MERGE, CFG_TEST_THEN_SET, eo, a, errs);

    if (rc)
        print_errs(errs);

    lyd_free_siblings(t);
    return rc;
}

/* The datastore printed as XML (explicit defaults only), caller frees. */
static char *dump(struct fx *f, enum cfg_ds ds, bool secrets)
{
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};
    char *s = NULL;

    assert_int_equal(cfg_get(f->cfg, ds, NULL, secrets, &t, &errs), 0);
    if (t)
        lyd_print_mem(&s, t, LYD_XML, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK);
    lyd_free_siblings(t);
    return s ? s : strdup("");
}

static char *file(struct fx *f, const char *name)
{
    char path[128], *data = NULL;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    if (fs_read_all(path, &data, NULL))
        return NULL;
    return data;
}

/* running as persisted: running.xml and running.journal (binary, shown in hex). */
static char *persisted(struct fx *f)
{
    char path[128], *snap = file(f, "running.xml"), *j = NULL, *out;
    size_t jl = 0, sl = snap ? strlen(snap) : 0;

    snprintf(path, sizeof(path), "%s/running.journal", f->dir);
    fs_read_all(path, &j, &jl);
    out = calloc(1, sl + 2 * jl + 2);
    assert_non_null(out);
    memcpy(out, snap ? snap : "", sl);
    out[sl] = '|';
    for (size_t i = 0; i < jl; i++)
        snprintf(out + sl + 1 + 2 * i, 3, "%02x", (unsigned char)j[i]);
    free(snap);
    free(j);
    return out;
}

static void print_errs(const struct cfg_errs *errs)
{
    for (const struct cfg_err *e = errs->head; e; e = e->next)
        fprintf(stderr, "  error %s at %s: %s\n", cfg_err_tag_name(e->tag), e->path ? e->path : "-", e->msg);
}

static int commit(struct fx *f, const struct cfg_actor *a, struct cfg_errs *errs)
{
    struct cfg_commit_opts o = {0};
    int rc = cfg_commit(f->cfg, &o, a, errs);

    if (rc)
        print_errs(errs);
    return rc;
}

#define POOL(name, size) "<pool><name>" name "</name><size>" size "</size></pool>"
#define POOLS(body) "<pools xmlns=\"" NS "\" xmlns:nc=\"" NC "\">" body "</pools>"

static void test_merge_create_commit(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *s;

    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("p1", "10")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_true(cfg_candidate_dirty(f->cfg));
    s = dump(f, CFG_DS_RUNNING, true);
    assert_null(strstr(s, "p1"));
    free(s);
    assert_int_equal(commit(f, &A1, &errs), 0);
    assert_false(cfg_candidate_dirty(f->cfg));
    s = dump(f, CFG_DS_RUNNING, true);
    assert_non_null(strstr(s, "<name>p1</name><size>10</size>"));
    free(s);
    /* persisted before the commit returned: one record in the journal */
    s = persisted(f);
    assert_non_null(strstr(s, "7031")); /* "p1" in hex */
    assert_null(strstr(s, "<name>p1</name>")); /* not in running.xml, older than the commit */
    free(s);
    assert_string_equal(hlog, "prepare:pools apply:pools");
    assert_int_equal(f->notified, 1);
    cfg_errs_clear(&errs);
}

static void test_create_existing_fails(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *before, *after;

    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("p1", "10")), CFG_ERROPT_STOP, &A1, &errs), 0);
    before = persisted(f);
    assert_int_equal(edit(f, CFG_DS_RUNNING,
                          POOLS("<pool nc:operation=\"create\"><name>p1</name><size>20</size></pool>"),
                          CFG_ERROPT_STOP, &A1, &errs),
                     -EEXIST);
    assert_int_equal(errs.head->tag, CFG_ERR_DATA_EXISTS);
    assert_string_equal(errs.head->path, "/raven-test:pools/pool[name='p1']");
    after = persisted(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
    cfg_errs_clear(&errs);
}

static void test_delete_remove(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *s;

    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          POOLS("<pool nc:operation=\"delete\"><name>nope</name></pool>"), CFG_ERROPT_STOP, &A1,
                          &errs),
                     -ENOENT);
    assert_int_equal(errs.head->tag, CFG_ERR_DATA_MISSING);
    assert_false(cfg_candidate_dirty(f->cfg)); /* nothing changed */
    cfg_errs_clear(&errs);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          POOLS("<pool nc:operation=\"remove\"><name>nope</name></pool>"), CFG_ERROPT_STOP, &A1,
                          &errs),
                     0);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("p1", "10") POOL("p2", "20")), CFG_ERROPT_STOP, &A1, &errs),
                     0);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS("<pool nc:operation=\"delete\"><name>p1</name></pool>"),
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    s = dump(f, CFG_DS_CANDIDATE, true);
    assert_null(strstr(s, "p1"));
    assert_non_null(strstr(s, "p2"));
    free(s);
    /* deleting a leaf that only exists as its default is data-missing */
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, "<misc xmlns=\"" NS "\" xmlns:nc=\"" NC "\"><b nc:operation=\"delete\"/></misc>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     -ENOENT);
    cfg_errs_clear(&errs);
}

static void test_replace(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *s;

    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          "<users xmlns=\"" NS "\"><user><name>u</name><password>pw</password><role>admin</role></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          "<users xmlns=\"" NS "\" xmlns:nc=\"" NC "\"><user nc:operation=\"replace\"><name>u</name>"
                          "<password>pw2</password></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    s = dump(f, CFG_DS_CANDIDATE, true);
    assert_non_null(strstr(s, "<password>pw2</password>"));
    assert_null(strstr(s, "<role>admin</role>")); /* replaced, not merged */
    free(s);
    cfg_errs_clear(&errs);
}

static void test_error_options(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    const char *two = "<misc xmlns=\"" NS "\"><a>changed</a></misc>"
                      "<pools xmlns=\"" NS "\" xmlns:nc=\"" NC "\"><pool nc:operation=\"delete\"><name>x</name></pool></pools>";
    char *s;

    /* stop-on-error and rollback-on-error: nothing of the edit remains */
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, two, CFG_ERROPT_ROLLBACK, &A1, &errs), -ENOENT);
    assert_false(cfg_candidate_dirty(f->cfg));
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, two, CFG_ERROPT_STOP, &A1, &errs), -ENOENT);
    assert_false(cfg_candidate_dirty(f->cfg));
    cfg_errs_clear(&errs);
    /* continue-on-error: the good part stays, the error is still reported */
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, two, CFG_ERROPT_CONTINUE, &A1, &errs), -ENOENT);
    assert_int_equal(errs.count, 1);
    s = dump(f, CFG_DS_CANDIDATE, true);
    assert_non_null(strstr(s, "<a>changed</a>"));
    free(s);
    cfg_errs_clear(&errs);
}

static void test_invalid_value_unchanged(void **state)
{
    struct fx *f = *state;
    struct lyd_node *t = NULL;

    /* out of range is refused when the edit is parsed: it never reaches the engine */
    assert_int_not_equal(lyd_parse_data_mem(f->ctx, POOLS(POOL("p", "5000")), LYD_XML,
                                            LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &t),
                         0);
    assert_null(t);
    assert_false(cfg_candidate_dirty(f->cfg));
}

static void test_leafref_commit_refused(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *before = persisted(f), *after;

    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          "<users xmlns=\"" NS "\"><user><name>u</name><pool>missing</pool></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    assert_int_not_equal(commit(f, &A1, &errs), 0);
    assert_int_equal(errs.head->tag, CFG_ERR_DATA_MISSING);
    assert_non_null(strstr(errs.head->path, "/raven-test:users/user[name='u']/pool"));
    after = persisted(f);
    assert_string_equal(before, after);
    assert_true(cfg_candidate_dirty(f->cfg)); /* edits kept for fixing */
    assert_string_equal(hlog, "");            /* no handler saw an invalid tree */
    free(before);
    free(after);
    cfg_errs_clear(&errs);
}

static void test_prepare_refusal_aborts_in_reverse(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *before, *after, *mem_before, *mem_after;

    before = persisted(f);
    mem_before = dump(f, CFG_DS_RUNNING, true);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          POOLS(POOL("p1", "10")) "<users xmlns=\"" NS "\"><user><name>u</name></user></users>"
                          "<misc xmlns=\"" NS "\"><a>z</a></misc>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    fail_prepare = "misc";
    assert_int_equal(commit(f, &A1, &errs), -EBUSY);
    /* abort reaches exactly the prepared ones, newest first; nothing applied */
    assert_string_equal(hlog, "prepare:pools prepare:users refuse:misc abort:users abort:pools");
    assert_non_null(strstr(errs.head->msg, "misc refuses"));
    after = persisted(f);
    mem_after = dump(f, CFG_DS_RUNNING, true);
    assert_string_equal(before, after);
    assert_string_equal(mem_before, mem_after);
    assert_int_equal(f->notified, 0);
    free(before);
    free(after);
    free(mem_before);
    free(mem_after);
    cfg_errs_clear(&errs);
}

/* <validate> and test-only edits are dry runs: each concerned handler's prepare
 * learns it, every prepared handler is aborted, none applied, and nothing of
 * running (memory, file, generation, notifications) moves. */
static void test_dry_run_flag(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *before = persisted(f), *after, *mem_before = dump(f, CFG_DS_RUNNING, true), *mem_after;
    uint64_t gen = cfg_running_gen(f->cfg, NULL);
    struct lyd_node *t;

    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          POOLS(POOL("p1", "10")) "<misc xmlns=\"" NS "\"><a>z</a></misc>", CFG_ERROPT_STOP, &A1,
                          &errs),
                     0);
    hlog[0] = '\0';
    assert_int_equal(cfg_validate(f->cfg, CFG_DS_CANDIDATE, NULL, &errs), 0);
    assert_string_equal(hlog, "check:pools check:misc abort:misc abort:pools");

    /* a dry run that a handler refuses aborts the checked ones */
    hlog[0] = '\0';
    fail_prepare = "misc";
    assert_int_equal(cfg_validate(f->cfg, CFG_DS_CANDIDATE, NULL, &errs), -EBUSY);
    assert_string_equal(hlog, "check:pools refuse:misc abort:pools");
    cfg_errs_clear(&errs);
    fail_prepare = NULL;

    /* test-only edit of running: a dry run too */
    hlog[0] = '\0';
    t = parse_edit(f, POOLS(POOL("p2", "5")));
    assert_int_equal(cfg_edit(f->cfg, CFG_DS_RUNNING, t, CFG_OP_MERGE, CFG_TEST_ONLY, CFG_ERROPT_STOP, &A1, &errs), 0);
    lyd_free_siblings(t);
    assert_string_equal(hlog, "check:pools abort:pools");

    after = persisted(f);
    mem_after = dump(f, CFG_DS_RUNNING, true);
    assert_string_equal(before, after);
    assert_string_equal(mem_before, mem_after);
    assert_int_equal(cfg_running_gen(f->cfg, NULL), gen);
    assert_int_equal(f->notified, 0);
    assert_true(cfg_candidate_dirty(f->cfg));

    /* the real commit of the same candidate is not a dry run */
    hlog[0] = '\0';
    assert_int_equal(commit(f, &A1, &errs), 0);
    assert_string_equal(hlog, "prepare:pools prepare:misc apply:pools apply:misc");
    free(before);
    free(after);
    free(mem_before);
    free(mem_after);
    cfg_errs_clear(&errs);
}

/* report-all-tagged XML: the default attribute's namespace is RFC 6243's, and a
 * value that happens to hold libyang's namespace text is printed as it is. */
static void test_print_tagged(void **state)
{
    struct fx *f = *state;
    static const char lyns[] = "=\"urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults\"";
    struct lyd_node *t = NULL;
    char *out = NULL;

    /* libyang tags defaults only with the module loaded (libnetconf2 loads it) */
    assert_non_null(ly_ctx_load_module(f->ctx, "ietf-netconf-with-defaults", NULL, NULL));
    assert_int_equal(lyd_parse_data_mem(f->ctx,
                                        "<misc xmlns=\"" NS "\"><a>x=&quot;urn:ietf:params:xml:ns:yang:"
                                        "ietf-netconf-with-defaults&quot;</a></misc>",
                                        LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_NO_STATE, &t),
                     0);
    assert_int_equal(cfg_print_xml_tagged(t, LYD_PRINT_SHRINK, &out), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "=\"urn:ietf:params:xml:ns:netconf:default:1.0\""));
    assert_non_null(strstr(out, "default=\"true\">dflt</b>"));
    /* the value keeps its text; only the declaration changed */
    assert_non_null(strstr(out, "<a>x=\"urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults\"</a>"));
    assert_ptr_equal(strstr(out, lyns), strstr(out, "<a>x") + 4);
    free(out);
    lyd_free_siblings(t);
}

static void test_handlers_check(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    struct cfg *c2 = open_cfg(f, false);

    assert_int_equal(cfg_handlers_check(c2, "raven-test", &errs), -EINVAL);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.head->path, "/raven-test:orphan");
    cfg_errs_clear(&errs);
    cfg_free(c2);
}

static void test_persist_and_recover(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *s1, *s2;

    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("p9", "99")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(commit(f, &A1, &errs), 0);
    s1 = dump(f, CFG_DS_RUNNING, true);
    cfg_free(f->cfg);
    f->cfg = open_cfg(f, true);
    s2 = dump(f, CFG_DS_RUNNING, true);
    assert_string_equal(s1, s2);
    free(s1);
    free(s2);
    /* startup: copy, reload, delete */
    assert_int_equal(cfg_copy(f->cfg, CFG_DS_STARTUP, CFG_DS_RUNNING, NULL, &A1, &errs), 0);
    s1 = file(f, "startup.xml");
    assert_non_null(strstr(s1, "p9"));
    free(s1);
    assert_int_equal(cfg_delete_ds(f->cfg, CFG_DS_STARTUP, &A1, &errs), 0);
    assert_null(file(f, "startup.xml"));
    assert_int_equal(cfg_delete_ds(f->cfg, CFG_DS_RUNNING, &A1, &errs), -EOPNOTSUPP);
    cfg_errs_clear(&errs);
}

static void test_confirmed_timeout_and_restart(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    struct cfg_commit_opts conf = {.confirmed = true, .timeout_s = 30};
    struct cfg_commit_opts conf_p = {.confirmed = true, .timeout_s = 30, .persist = "tok"};
    struct cfg_commit_opts confirm_p = {.persist_id = "tok"};
    char *base = dump(f, CFG_DS_RUNNING, true), *s;

    /* timeout rolls back */
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("c1", "1")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(cfg_commit(f->cfg, &conf, &A1, &errs), 0);
    assert_int_equal(f->timer_ms, 30000);
    assert_true(cfg_confirm_pending(f->cfg));
    /* another session cannot confirm it */
    assert_int_equal(commit(f, &A2, &errs), -EBUSY);
    cfg_errs_clear(&errs);
    /* nor change running directly meanwhile (the rollback would undo it) */
    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("d1", "1")), CFG_ERROPT_STOP, &A2, &errs), -EBUSY);
    assert_int_equal(errs.head->tag, CFG_ERR_IN_USE);
    assert_non_null(strstr(errs.head->msg, "confirmed commit"));
    cfg_errs_clear(&errs);
    s = dump(f, CFG_DS_RUNNING, true);
    assert_null(strstr(s, "d1"));
    free(s);
    /* its own session may; the rollback undoes that too */
    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("d2", "1")), CFG_ERROPT_STOP, &A1, &errs), 0);
    cfg_confirm_timeout(f->cfg);
    assert_false(cfg_confirm_pending(f->cfg));
    s = dump(f, CFG_DS_RUNNING, true);
    assert_string_equal(s, base);
    free(s);
    assert_null(file(f, "confirm.meta"));

    /* without persist, a restart rolls back */
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("c2", "1")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(cfg_commit(f->cfg, &conf, &A1, &errs), 0);
    cfg_free(f->cfg);
    f->cfg = open_cfg(f, true);
    assert_false(cfg_confirm_pending(f->cfg));
    s = dump(f, CFG_DS_RUNNING, true);
    assert_string_equal(s, base);
    free(s);

    /* with persist, it survives the restart and is confirmed with persist-id */
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("c3", "1")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(cfg_commit(f->cfg, &conf_p, &A1, &errs), 0);
    cfg_session_end(f->cfg, A1.sid); /* the session going away does not matter */
    assert_true(cfg_confirm_pending(f->cfg));
    cfg_free(f->cfg);
    f->timer_ms = 0;
    f->cfg = open_cfg(f, true);
    assert_true(cfg_confirm_pending(f->cfg));
    assert_true(f->timer_ms > 25000 && f->timer_ms <= 30000);
    assert_int_equal(commit(f, &A2, &errs), -EINVAL); /* persist-id missing */
    cfg_errs_clear(&errs);
    assert_int_equal(cfg_commit(f->cfg, &confirm_p, &A2, &errs), 0);
    assert_false(cfg_confirm_pending(f->cfg));
    s = dump(f, CFG_DS_RUNNING, true);
    assert_non_null(strstr(s, "c3"));
    free(s);
    free(base);
    cfg_errs_clear(&errs);
}

static void test_cancel_commit(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    struct cfg_commit_opts conf = {.confirmed = true};
    char *base = dump(f, CFG_DS_RUNNING, true), *s;

    assert_int_equal(cfg_cancel_commit(f->cfg, NULL, &A1, &errs), -ENOENT);
    cfg_errs_clear(&errs);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("k", "1")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(cfg_commit(f->cfg, &conf, &A1, &errs), 0);
    assert_int_equal(f->timer_ms, 600000);
    assert_int_equal(cfg_cancel_commit(f->cfg, NULL, &A1, &errs), 0);
    s = dump(f, CFG_DS_RUNNING, true);
    assert_string_equal(s, base);
    assert_int_equal(f->timer_ms, -1);
    free(s);
    free(base);
    cfg_errs_clear(&errs);
}

static void test_secrets(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *s;

    assert_int_equal(edit(f, CFG_DS_RUNNING,
                          "<users xmlns=\"" NS "\"><user><name>u</name><password>hunter2</password></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    s = dump(f, CFG_DS_RUNNING, false);
    assert_null(strstr(s, "hunter2"));
    assert_non_null(strstr(s, "<password>********</password>"));
    free(s);
    /* writing the mask back keeps the stored value, also inside a replace */
    assert_int_equal(edit(f, CFG_DS_RUNNING,
                          "<users xmlns=\"" NS "\" xmlns:nc=\"" NC "\"><user nc:operation=\"replace\"><name>u</name>"
                          "<password>********</password><role>admin</role></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    s = dump(f, CFG_DS_RUNNING, true);
    assert_non_null(strstr(s, "<password>hunter2</password>"));
    assert_non_null(strstr(s, "<role>admin</role>"));
    free(s);
    /* the mask for a secret that does not exist is an error */
    assert_int_equal(edit(f, CFG_DS_RUNNING,
                          "<users xmlns=\"" NS "\"><user><name>v</name><password>********</password></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     -EINVAL);
    assert_int_equal(errs.head->tag, CFG_ERR_INVALID_VALUE);
    assert_non_null(strstr(errs.head->path, "user[name='v']/password"));
    cfg_errs_clear(&errs);
}

/* default-operation replace of a subtree whose copy fails (masked secret with no
 * stored value): the subtree that was taken out must come back, nothing leaks */
static void test_replace_failure_restores(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    struct lyd_node *t;
    char *before, *after;

    assert_int_equal(edit(f, CFG_DS_RUNNING,
                          "<users xmlns=\"" NS "\"><user><name>u</name><password>pw</password></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, "<misc xmlns=\"" NS "\"><a>dirty</a></misc>", CFG_ERROPT_STOP, &A1, &errs), 0);
    before = dump(f, CFG_DS_CANDIDATE, true);
    t = parse_edit(f, "<users xmlns=\"" NS "\"><user><name>v</name><password>********</password></user></users>");
    assert_int_equal(cfg_edit(f->cfg, CFG_DS_CANDIDATE, t, CFG_OP_REPLACE, CFG_TEST_THEN_SET, CFG_ERROPT_ROLLBACK,
                              &A1, &errs),
                     -EINVAL);
    lyd_free_siblings(t);
    after = dump(f, CFG_DS_CANDIDATE, true);
    assert_string_equal(before, after);
    free(before);
    free(after);
    cfg_errs_clear(&errs);
}

/* a failed edit must not leave an implicit container explicit */
static void test_failed_edit_keeps_default_containers(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *before, *after;

    assert_int_equal(edit(f, CFG_DS_CANDIDATE, "<misc xmlns=\"" NS "\"><a>x</a></misc>", CFG_ERROPT_STOP, &A1, &errs), 0);
    before = dump(f, CFG_DS_CANDIDATE, true);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS("<pool nc:operation=\"delete\"><name>none</name></pool>"),
                          CFG_ERROPT_STOP, &A1, &errs),
                     -ENOENT);
    after = dump(f, CFG_DS_CANDIDATE, true);
    assert_string_equal(before, after); /* no empty <pools/> appears */
    free(before);
    free(after);
    cfg_errs_clear(&errs);
}

/* running changed after the candidate was copied: committing the candidate must
 * tell the handlers about everything that differs, not just the candidate's edits */
static void test_commit_of_stale_candidate(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *s;

    assert_int_equal(edit(f, CFG_DS_CANDIDATE, "<misc xmlns=\"" NS "\"><a>cand</a></misc>", CFG_ERROPT_STOP, &A1, &errs),
                     0);
    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("direct", "5")), CFG_ERROPT_STOP, &A2, &errs), 0);
    hlog[0] = '\0';
    assert_int_equal(commit(f, &A1, &errs), 0);
    s = dump(f, CFG_DS_RUNNING, true);
    assert_null(strstr(s, "direct")); /* the candidate did not have it */
    assert_non_null(strstr(s, "<a>cand</a>"));
    free(s);
    assert_non_null(strstr(hlog, "apply:pools"));
    assert_non_null(strstr(hlog, "apply:misc"));
    cfg_errs_clear(&errs);
}

/* a failed edit puts deleted entries back exactly where they were */
static void test_failed_delete_keeps_order(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *before, *after;

    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("p1", "1") POOL("p2", "2") POOL("p3", "3")),
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          "<users xmlns=\"" NS "\"><user><name>u1</name></user><user><name>u2</name></user>"
                          "<user><name>u3</name></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    before = dump(f, CFG_DS_CANDIDATE, true);
    /* system-ordered: the middle entry; user-ordered: the middle and the last entry */
    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          POOLS("<pool nc:operation=\"delete\"><name>p2</name></pool>")
                          "<users xmlns=\"" NS "\" xmlns:nc=\"" NC "\"><user nc:operation=\"delete\"><name>u2</name></user>"
                          "<user nc:operation=\"delete\"><name>u3</name></user></users>"
                          POOLS("<pool nc:operation=\"delete\"><name>none</name></pool>"),
                          CFG_ERROPT_ROLLBACK, &A1, &errs),
                     -ENOENT);
    after = dump(f, CFG_DS_CANDIDATE, true);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* replace keeps a user-ordered entry in its place */
    assert_int_equal(edit(f, CFG_DS_CANDIDATE,
                          "<users xmlns=\"" NS "\" xmlns:nc=\"" NC "\"><user nc:operation=\"replace\"><name>u2</name>"
                          "<role>admin</role></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    after = dump(f, CFG_DS_CANDIDATE, true);
    assert_true(strstr(after, "u1") < strstr(after, "u2") && strstr(after, "u2") < strstr(after, "u3"));
    free(after);
    cfg_errs_clear(&errs);
}

/* filters see secrets only masked: no filter can test a secret's value */
static void test_filters_cannot_probe_secrets(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    struct lyd_node *t = (struct lyd_node *)1;
    const char *probe[] = {"/raven-test:users/user[starts-with(password,'hun')]", NULL};
    const char *masked[] = {"/raven-test:users/user[password='********']", NULL};

    assert_int_equal(edit(f, CFG_DS_RUNNING,
                          "<users xmlns=\"" NS "\"><user><name>u</name><password>hunter2</password></user></users>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    assert_int_equal(cfg_get(f->cfg, CFG_DS_RUNNING, probe, false, &t, &errs), 0);
    assert_null(t);
    assert_int_equal(cfg_get(f->cfg, CFG_DS_RUNNING, masked, false, &t, &errs), 0);
    assert_non_null(t);
    lyd_free_siblings(t);
    cfg_errs_clear(&errs);
}

/* a candidate emptied of everything is still a change to commit */
static void test_emptied_candidate(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    char *s;

    assert_int_equal(cfg_copy(f->cfg, CFG_DS_CANDIDATE, CFG_SRC_INLINE, NULL, &A1, &errs), 0);
    assert_true(cfg_candidate_dirty(f->cfg));
    s = dump(f, CFG_DS_CANDIDATE, true);
    assert_null(strstr(s, "init"));
    free(s);
    assert_int_equal(commit(f, &A1, &errs), 0);
    s = dump(f, CFG_DS_RUNNING, true);
    assert_null(strstr(s, "init"));
    free(s);
    assert_non_null(strstr(hlog, "apply:misc"));
    cfg_errs_clear(&errs);
}

/* a node that validation removes (its "when" became false) reaches the handlers */
static void test_when_removal_is_a_change(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};

    assert_int_equal(edit(f, CFG_DS_RUNNING, "<misc xmlns=\"" NS "\"><mode>extended</mode><extra>x</extra></misc>",
                          CFG_ERROPT_STOP, &A1, &errs),
                     0);
    cpaths[0] = '\0';
    assert_int_equal(edit(f, CFG_DS_RUNNING, "<misc xmlns=\"" NS "\"><mode>plain</mode></misc>", CFG_ERROPT_STOP,
                          &A1, &errs),
                     0);
    assert_non_null(strstr(cpaths, "2:/raven-test:misc/extra"));
    cfg_errs_clear(&errs);
}

static void test_locks(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};

    assert_int_equal(cfg_lock(f->cfg, CFG_DS_CANDIDATE, &A1, &errs), 0);
    assert_int_equal(cfg_lock(f->cfg, CFG_DS_CANDIDATE, &A2, &errs), -EBUSY);
    assert_int_equal(errs.head->tag, CFG_ERR_LOCK_DENIED);
    assert_int_equal(errs.head->lock_sid, 1);
    cfg_errs_clear(&errs);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("l", "1")), CFG_ERROPT_STOP, &A2, &errs), -EBUSY);
    assert_int_equal(errs.head->tag, CFG_ERR_IN_USE);
    cfg_errs_clear(&errs);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("l", "1")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(cfg_unlock(f->cfg, CFG_DS_CANDIDATE, &A2, &errs), -EPERM);
    cfg_errs_clear(&errs);
    /* the holder going away releases the lock and discards its candidate edits */
    cfg_session_end(f->cfg, A1.sid);
    assert_int_equal(cfg_lock_holder(f->cfg, CFG_DS_CANDIDATE), 0);
    assert_false(cfg_candidate_dirty(f->cfg));
    /* a dirty candidate cannot be locked */
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("l", "1")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(cfg_lock(f->cfg, CFG_DS_CANDIDATE, &A2, &errs), -EBUSY);
    cfg_errs_clear(&errs);
}

/* Partial locks (RFC 5717): the nodes found are held against other sessions'
 * changes (edits of running, commits), their global lock and overlapping partial
 * locks, until unlocked or the session ends. */
static void test_partial_locks(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    const struct cfg_plock *p = NULL;
    const char *sel_a[] = {"/raven-test:pools/pool[name='a']"}, *sel_all[] = {"/raven-test:pools"};
    const char *none[] = {"/raven-test:pools/pool[name='z']"};

    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("a", "1") POOL("b", "2")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(cfg_partial_lock(f->cfg, none, 1, &A1, &p, &errs), -EINVAL);
    cfg_errs_clear(&errs);
    assert_int_equal(cfg_partial_lock(f->cfg, sel_a, 1, &A1, &p, &errs), 0);
    assert_int_equal(p->nnodes, 1);
    assert_non_null(strstr(p->nodes[0], "[name='a']"));
    /* another session: not a, nor pools above it; b is free */
    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("a", "5")), CFG_ERROPT_STOP, &A2, &errs), -EBUSY);
    assert_int_equal(errs.head->tag, CFG_ERR_IN_USE);
    assert_int_equal(errs.head->lock_sid, A1.sid);
    cfg_errs_clear(&errs);
    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("b", "6")), CFG_ERROPT_STOP, &A2, &errs), 0);
    assert_int_equal(cfg_lock(f->cfg, CFG_DS_RUNNING, &A2, &errs), -EBUSY);
    cfg_errs_clear(&errs);
    assert_int_equal(cfg_partial_lock(f->cfg, sel_all, 1, &A2, &p, &errs), -EBUSY);
    assert_int_equal(errs.head->tag, CFG_ERR_LOCK_DENIED);
    cfg_errs_clear(&errs);
    assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("a", "7")), CFG_ERROPT_STOP, &A2, &errs), 0);
    assert_int_equal(cfg_commit(f->cfg, &(struct cfg_commit_opts){0}, &A2, &errs), -EBUSY);
    cfg_errs_clear(&errs);
    assert_int_equal(cfg_discard(f->cfg, &A2, &errs), 0);
    /* the holder may; the lock goes with its session */
    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("a", "8")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(cfg_partial_unlock(f->cfg, cfg_partial_locks(f->cfg)->id, &A2, &errs), -ENOENT);
    cfg_errs_clear(&errs);
    cfg_session_end(f->cfg, A1.sid);
    assert_null(cfg_partial_locks(f->cfg));
    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("a", "9")), CFG_ERROPT_STOP, &A2, &errs), 0);
}

/* A rollback of a confirmed commit undoes it whatever partial lock another
 * session took since: by cancel-commit and by the committing session's end. */
static void test_rollback_ignores_partial_locks(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    struct cfg_commit_opts conf = {.confirmed = true};
    const struct cfg_plock *p = NULL;
    const char *sel_k[] = {"/raven-test:pools/pool[name='k']"};
    char *base = dump(f, CFG_DS_RUNNING, true), *s;

    for (int by_end = 0; by_end < 2; by_end++) {
        assert_int_equal(edit(f, CFG_DS_CANDIDATE, POOLS(POOL("k", "1")), CFG_ERROPT_STOP, &A1, &errs), 0);
        assert_int_equal(cfg_commit(f->cfg, &conf, &A1, &errs), 0);
        assert_int_equal(cfg_partial_lock(f->cfg, sel_k, 1, &A2, &p, &errs), 0);
        if (by_end)
            cfg_session_end(f->cfg, A1.sid);
        else
            assert_int_equal(cfg_cancel_commit(f->cfg, NULL, &A1, &errs), 0);
        assert_null(errs.head);
        assert_false(cfg_confirm_pending(f->cfg));
        s = dump(f, CFG_DS_RUNNING, true);
        assert_string_equal(s, base);
        free(s);
        cfg_session_end(f->cfg, A2.sid);
    }
    free(base);
}

static void test_xpath_get(void **state)
{
    struct fx *f = *state;
    struct cfg_errs errs = {0};
    struct lyd_node *t = NULL;
    const char *xp[] = {"/raven-test:pools/pool[name='b']", NULL};
    const char *bad[] = {"/raven-test:pools/pool[", NULL};
    char *s = NULL;

    assert_int_equal(edit(f, CFG_DS_RUNNING, POOLS(POOL("a", "1") POOL("b", "2")), CFG_ERROPT_STOP, &A1, &errs), 0);
    assert_int_equal(cfg_get(f->cfg, CFG_DS_RUNNING, xp, false, &t, &errs), 0);
    lyd_print_mem(&s, t, LYD_XML, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK);
    assert_non_null(strstr(s, "<name>b</name>"));
    assert_null(strstr(s, "<name>a</name>"));
    assert_null(strstr(s, "misc"));
    free(s);
    lyd_free_siblings(t);
    assert_int_equal(cfg_get(f->cfg, CFG_DS_RUNNING, bad, false, &t, &errs), -EINVAL);
    assert_int_equal(errs.tail->tag, CFG_ERR_INVALID_VALUE);
    cfg_errs_clear(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_merge_create_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_existing_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_value_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leafref_commit_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_refusal_aborts_in_reverse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_tagged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handlers_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persist_and_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confirmed_timeout_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_failure_restores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_edit_keeps_default_containers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_of_stale_candidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_delete_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_cannot_probe_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emptied_candidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_when_removal_is_a_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_ignores_partial_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xpath_get, setup, teardown),
    };

    ly_log_options(LY_LOSTORE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
