/* Unit test of validation scoped to a change set (daemon/config/cfg_scope.c): many
 * random and targeted single edits of a module with a constraint of every kind
 * (must on a container, must on a leaf or reading elsewhere; when; leafref from
 * and to; unique; mandatory), each committed to running (where the scoped path may take
 * it) after the same edit was judged by whole-tree validation on a copy (a
 * test-only edit of the candidate): both verdicts must agree, and the scoped path
 * must have been taken for part of them. Runs without root. */
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

#include "daemon/config/cfg.h"

#define NS "urn:raven:params:xml:ns:yang:raven-scope"
#define NC "urn:ietf:params:xml:ns:netconf:base:1.0"

static const struct cfg_actor A1 = {.sid = 1, .user = "alice"};

struct fx {
    char dir[64];
    struct ly_ctx *ctx;
    struct cfg *cfg;
};

static const char *base_xml =
    "<top xmlns=\"" NS "\">"
    "<item><name>i0</name><tag>t0</tag><req>r</req><box><a>1</a><b>2</b></box><word><w>a</w></word></item>"
    "<item><name>i1</name><tag>t1</tag><peer>i0</peer><req>r</req><box><a>1</a><b>2</b></box></item>"
    "<item><name>i2</name><req>r</req><box><a>2</a><b>1</b></box></item>"
    "<rule><name>i0</name><lo>1</lo><hi>3</hi></rule>"
    "<rule><name>i1</name><lo>1</lo><hi>3</hi><mode>x</mode><extra>e</extra><limit>50</limit></rule>"
    "<watch>3</watch></top>";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct cfg_opts o = {.default_xml = base_xml};
    struct cfg_errs errs = {0};

    snprintf(f->dir, sizeof(f->dir), "/tmp/raven-cfgs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    o.state_dir = f->dir;
    assert_int_equal(ly_ctx_new(TEST_YANG_DIR ":" RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &f->ctx), 0);
    assert_non_null(ly_ctx_load_module(f->ctx, "ietf-netconf", NULL, NULL));
    assert_non_null(ly_ctx_load_module(f->ctx, "raven-scope", NULL, NULL));
    f->cfg = cfg_new(f->ctx, &o);
    assert_non_null(f->cfg);
    if (cfg_start(f->cfg, &errs))
        fail_msg("cfg_start: %s", errs.head ? errs.head->msg : "?");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    cfg_free(f->cfg);
    ly_ctx_destroy(f->ctx);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* One edit: judged whole-tree on a copy first, then committed to running. */
static void judge(struct fx *f, const char *xml, int *agree, int *accepted)
{
    struct lyd_node *t = NULL;
    struct cfg_errs e1 = {0}, e2 = {0};
    int full, scoped;

    if (lyd_parse_data_mem(f->ctx, xml, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &t))
        return; /* a value the schema refuses at once: no validation involved */
    full = cfg_edit(f->cfg, CFG_DS_CANDIDATE, t, CFG_OP_MERGE, CFG_TEST_ONLY, CFG_ERROPT_ROLLBACK, &A1, &e1);
    scoped = cfg_edit(f->cfg, CFG_DS_RUNNING, t, CFG_OP_MERGE, CFG_TEST_THEN_SET, CFG_ERROPT_ROLLBACK, &A1, &e2);
    if (!full != !scoped)
        fail_msg("edit %s: whole-tree %s (%s), scoped %s (%s)", xml, full ? "refused" : "accepted",
                 e1.head ? e1.head->msg : "", scoped ? "refused" : "accepted", e2.head ? e2.head->msg : "");
    (*agree)++;
    *accepted += !scoped;
    lyd_free_siblings(t);
    cfg_errs_clear(&e1);
    cfg_errs_clear(&e2);
}

static void test_targeted(void **state)
{
    struct fx *f = *state;
    int agree = 0, acc = 0;
    uint64_t s0, f0, s1, f1;
    static const char *const edits[] = {
        /* scoped and accepted: a container's must true, a free leaf */
        "<top xmlns='" NS "'><item><name>i0</name><box><a>5</a></box></item></top>",
        "<top xmlns='" NS "'><item><name>i0</name><word><w>ab</w></word></item></top>",
        /* scoped check fails: the whole tree refuses */
        "<top xmlns='" NS "'><item><name>i0</name><box><a>2</a></box></item></top>",
        "<top xmlns='" NS "'><item><name>i0</name><word><w>abc</w></word></item></top>",
        /* a leafref to a missing item */
        "<top xmlns='" NS "'><item><name>i1</name><peer>nope</peer></item></top>",
        /* duplicate unique tag */
        "<top xmlns='" NS "'><item><name>i0</name><tag>t1</tag></item></top>",
        /* must reading elsewhere: lo above hi, limit above cap, cap below a limit */
        "<top xmlns='" NS "'><rule><name>i0</name><lo>9</lo></rule></top>",
        "<top xmlns='" NS "'><rule><name>i1</name><limit>200</limit></rule></top>",
        "<limits xmlns='" NS "'><cap>10</cap></limits>",
        /* the target of a leafref changes (watch 3) */
        "<top xmlns='" NS "'><rule><name>i0</name><hi>7</hi></rule></top>",
        /* a deleted leafref target, a mandatory leaf removed */
        "<top xmlns='" NS "' xmlns:nc='" NC "'><item nc:operation='delete'><name>i0</name></item></top>",
        "<top xmlns='" NS "' xmlns:nc='" NC "'><item><name>i2</name><req nc:operation='delete'/></item></top>",
        /* a when turning false (extra goes) */
        "<top xmlns='" NS "'><rule><name>i1</name><mode>y</mode></rule></top>",
    };

    cfg_scope_stats(f->cfg, &s0, &f0);
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++)
        judge(f, edits[i], &agree, &acc);
    cfg_scope_stats(f->cfg, &s1, &f1);
    assert_int_equal(agree, (int)(sizeof(edits) / sizeof(edits[0])));
    /* the two first edits were accepted without the whole tree */
    assert_true(s1 - s0 >= 2);
    assert_true(f1 > f0);
}

static void test_random(void **state)
{
    struct fx *f = *state;
    int agree = 0, acc = 0;
    uint64_t s0, f0, s1, f1;
    static const char *const leaves[] = {"rule/lo", "rule/hi", "tag", "peer", "rule/mode", "rule/extra",
                                         "rule/limit", "req", "box/a", "box/b", "word/w"};
    unsigned seed = 1234;

    cfg_scope_stats(f->cfg, &s0, &f0);
    for (int k = 0; k < 600; k++) {
        char xml[512], val[16], inner[128];
        const char *leaf = leaves[rand_r(&seed) % (sizeof(leaves) / sizeof(leaves[0]))];
        int item = rand_r(&seed) % 4, r = rand_r(&seed) % 6;
        bool rule = !strncmp(leaf, "rule/", 5);
        const char *list = rule ? "rule" : "item", *slash;

        if (rule)
            leaf += 5;
        slash = strchr(leaf, '/');
        if (!strcmp(leaf, "peer"))
            snprintf(val, sizeof(val), "i%d", r);
        else if (!strcmp(leaf, "tag") || !strcmp(leaf, "mode") || !strcmp(leaf, "extra") || !strcmp(leaf, "req"))
            snprintf(val, sizeof(val), "%c%d", "txyrer"[r], r % 3);
        else if (!strcmp(leaf, "word/w"))
            snprintf(val, sizeof(val), "%.*s", r, "abcdef");
        else if (!strcmp(leaf, "limit"))
            snprintf(val, sizeof(val), "%d", 40 + 20 * r);
        else
            snprintf(val, sizeof(val), "%d", r);
        if (slash)
            snprintf(inner, sizeof(inner), "<%.*s><%s>%s</%s></%.*s>", (int)(slash - leaf), leaf, slash + 1, val,
                     slash + 1, (int)(slash - leaf), leaf);
        else
            snprintf(inner, sizeof(inner), "<%s>%s</%s>", leaf, val, leaf);
        if (k % 50 == 49)
            snprintf(xml, sizeof(xml), "<limits xmlns='%s'><cap>%d</cap></limits>", NS, 20 + 40 * (r % 4));
        else if (k % 37 == 36)
            snprintf(xml, sizeof(xml), "<top xmlns='%s' xmlns:nc='%s'><%s nc:operation='remove'><name>i%d</name>"
                     "</%s></top>", NS, NC, list, item, list);
        else if (k % 41 == 40)
            snprintf(xml, sizeof(xml), "<top xmlns='%s'><item><name>i%d</name><req>r</req></item>"
                     "<rule><name>i%d</name><hi>5</hi></rule></top>", NS, item, item);
        else
            snprintf(xml, sizeof(xml), "<top xmlns='%s'><%s><name>i%d</name>%s</%s></top>", NS, list, item, inner,
                     list);
        judge(f, xml, &agree, &acc);
    }
    cfg_scope_stats(f->cfg, &s1, &f1);
    fprintf(stderr, "random edits: %d judged, %d accepted; %llu scoped, %llu whole-tree\n", agree, acc,
            (unsigned long long)(s1 - s0), (unsigned long long)(f1 - f0));
    assert_true(agree > 500);
    assert_true(s1 - s0 > 20);
    assert_true(acc > 50 && acc < agree - 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_targeted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
