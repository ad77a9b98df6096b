/* Incremental builds of the IKE engine's compiled configuration
 * (ike_conf_build_delta, daemon/ike/ike_conf.h): a generation built from the
 * generation before and the data paths a transaction changed shares every
 * authorization policy that no change touched and compiles the others; a
 * deleted policy is gone, an added or renamed one is there, and the result is
 * what a full build of the same tree gives. The previous generation (what
 * sessions negotiated under it hold) keeps its own policies, also after the
 * trees both were built from are freed; a change of what a policy's
 * compilation reads besides its entry (access lists, aaa attribute lists) or
 * of the list itself recompiles every policy; how change paths stand to a
 * subtree; a compiled policy's strings are its own; pools/partition compiled
 * into the pools, a pool's patch cut as the set in force, a change of the
 * partition a new address book into which a lease outside the new slice is
 * not carried. */
#include <libyang/libyang.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/pool/pool.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"
#define AP "/raven-vpn:ikev2/authorization-policy"

/* Policies a, b, c, d; b pushes acl4's permits, d names attribute list al. */
static const char base_xml[] =
    "<pools xmlns=\"" NS "\"><ipv4-pool><name>p1</name><range><start>10.8.0.1</start><end>10.8.0.9</end></range>"
    "</ipv4-pool><ipv4-pool><name>p2</name><range><start>10.9.0.1</start><end>10.9.0.9</end></range>"
    "</ipv4-pool></pools>"
    "<access-lists xmlns=\"" NS "\"><access-list><name>acl4</name>"
    "<entry><sequence>10</sequence><action>permit</action><prefix>10.60.0.0/16</prefix></entry>"
    "</access-list></access-lists>"
    "<aaa xmlns=\"" NS "\"><attribute-list><name>al</name><mtu>1300</mtu></attribute-list></aaa>"
    "<ikev2 xmlns=\"" NS "\">"
    "<authorization-policy><name>a</name><pool>p1</pool><dns><primary>192.0.2.53</primary></dns>"
    "</authorization-policy>"
    "<authorization-policy><name>b</name><pool>p2</pool><route><set><access-list><ipv4>acl4</ipv4></access-list>"
    "</set></route></authorization-policy>"
    "<authorization-policy><name>c</name><banner>hello c</banner></authorization-policy>"
    "<authorization-policy><name>d</name><aaa-attribute-list>al</aaa-attribute-list></authorization-policy>"
    "</ikev2>";

struct env {
    struct ly_ctx *ctx;
};

static void on_err(void *arg, const char *path, const char *msg)
{
    snprintf(arg, 512, "%s: %s", path ? path : "", msg);
}

static struct lyd_node *parse(struct env *e, const char *xml)
{
    struct lyd_node *tree = NULL;

    assert_int_equal(lyd_parse_data_mem(e->ctx, xml, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree), 0);
    return tree;
}

/* base_xml with @from replaced by @to, parsed. */
static struct lyd_node *edited(struct env *e, const char *from, const char *to)
{
    const char *m = strstr(base_xml, from);
    char *x;
    struct lyd_node *tree;

    assert_non_null(m);
    x = malloc(sizeof(base_xml) + strlen(to));
    assert_non_null(x);
    snprintf(x, sizeof(base_xml) + strlen(to), "%.*s%s%s", (int)(m - base_xml), base_xml, to, m + strlen(from));
    tree = parse(e, x);
    free(x);
    return tree;
}

static void assert_same_str(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

/* Every policy of @x compiled as in @y (a full build of the same tree). */
static void assert_same_policies(const struct ike_conf *x, const struct ike_conf *y)
{
    assert_int_equal(x->nauthz, y->nauthz);
    for (size_t i = 0; i < x->nauthz; i++) {
        const struct sess_authz_pol *p = &x->authz[i]->pol, *q = &y->authz[i]->pol;

        assert_string_equal(p->name, q->name);
        assert_same_str(p->pool, q->pool);
        assert_same_str(p->banner, q->banner);
        assert_int_equal(p->ndns, q->ndns);
        assert_memory_equal(p->dns, q->dns, sizeof(p->dns));
        assert_int_equal(p->mtu, q->mtu);
        assert_memory_equal(&p->subnets, &q->subnets, sizeof(p->subnets));
    }
}

static struct ike_conf *full(struct env *e, const struct lyd_node *tree)
{
    char why[512] = "";
    struct ike_conf *c = ike_conf_build(e->ctx, tree, on_err, why);

    if (!c)
        fail_msg("%s", why);
    return c;
}

static struct ike_conf *delta(struct env *e, const struct lyd_node *tree, const struct ike_conf *prev,
                              const char *const *changed, size_t n)
{
    char why[512] = "";
    struct ike_conf *c = ike_conf_build_delta(e->ctx, tree, prev, changed, n, on_err, why);

    if (!c)
        fail_msg("%s", why);
    return c;
}

/* One policy changed, one deleted, one added: only the changed and the added
 * are compiled, the others are the previous generation's; the previous
 * generation still has its own (c, a's old DNS) after both trees are gone and
 * after the new generation is dropped. */
static void test_changed_deleted_added(void **state)
{
    struct env *e = *state;
    size_t alive = ike_conf_alive();
    struct lyd_node *t1 = parse(e, base_xml), *t2;
    struct ike_conf *c1 = full(e, t1), *c2, *ref;
    const char *changed[] = {AP "[name='a']/dns/primary", AP "[name='c']", AP "[name='e']"};
    const struct sess_authz_pol *a1 = ike_conf_authz(c1, "a"), *c1c = ike_conf_authz(c1, "c");

    assert_int_equal(c1->nauthz_built, 4);
    t2 = edited(e,
                "<dns><primary>192.0.2.53</primary></dns></authorization-policy>"
                "<authorization-policy><name>b</name>",
                "<dns><primary>192.0.2.54</primary></dns></authorization-policy>"
                "<authorization-policy><name>e</name><pool>p2</pool></authorization-policy>"
                "<authorization-policy><name>b</name>");
    {
        struct lyd_node *cnode = NULL;

        assert_int_equal(lyd_find_path(t2, AP "[name='c']", 0, &cnode), 0);
        lyd_free_tree(cnode);
    }
    c2 = delta(e, t2, c1, changed, 3);
    assert_int_equal(c2->nauthz, 4); /* a, b, d, e */
    assert_int_equal(c2->nauthz_built, 2);
    assert_ptr_equal(ike_conf_authz(c2, "b"), ike_conf_authz(c1, "b"));
    assert_ptr_equal(ike_conf_authz(c2, "d"), ike_conf_authz(c1, "d"));
    assert_ptr_not_equal(ike_conf_authz(c2, "a"), a1);
    assert_int_equal(ike_conf_authz(c2, "a")->dns[0], 0xc0000236);
    assert_null(ike_conf_authz(c2, "c"));
    assert_non_null(ike_conf_authz(c2, "e"));
    assert_string_equal(ike_conf_authz(c2, "e")->pool, "p2");
    ref = full(e, t2);
    assert_same_policies(c2, ref);
    ike_conf_unref(ref);
    lyd_free_all(t1);
    lyd_free_all(t2);
    /* the old generation (a session's) is untouched: its own a and c */
    assert_int_equal(a1->dns[0], 0xc0000235);
    assert_string_equal(c1c->banner, "hello c");
    assert_ptr_equal(ike_conf_authz(c1, "c"), c1c);
    ike_conf_unref(c2);
    assert_string_equal(c1c->banner, "hello c");
    assert_string_equal(ike_conf_authz(c1, "b")->pool, "p2");
    ike_conf_unref(c1);
    assert_int_equal(ike_conf_alive(), alive);
}

/* A rename is a deletion and a creation; the shared policies outlive the
 * generation they were compiled for. */
static void test_rename_outlives_first(void **state)
{
    struct env *e = *state;
    struct lyd_node *t1 = parse(e, base_xml), *t2 = edited(e, "<name>c</name>", "<name>c2</name>");
    struct ike_conf *c1 = full(e, t1), *c2;
    const char *changed[] = {AP "[name='c']", AP "[name='c2']"};
    const struct sess_authz_pol *b;

    c2 = delta(e, t2, c1, changed, 2);
    assert_int_equal(c2->nauthz_built, 1);
    assert_null(ike_conf_authz(c2, "c"));
    assert_string_equal(ike_conf_authz(c2, "c2")->banner, "hello c");
    b = ike_conf_authz(c2, "b");
    assert_ptr_equal(b, ike_conf_authz(c1, "b"));
    ike_conf_unref(c1);
    lyd_free_all(t1);
    lyd_free_all(t2);
    assert_string_equal(b->name, "b");
    assert_string_equal(b->pool, "p2");
    assert_true(b->subnets.n > 0);
    ike_conf_unref(c2);
}

/* Changes outside the policies share them all; a change of what they read
 * (access lists, aaa attribute lists), of the list or above, "/" or no change
 * set at all compiles them all again, with the new values. */
static void test_what_recompiles(void **state)
{
    struct env *e = *state;
    struct lyd_node *t1 = parse(e, base_xml);
    struct lyd_node *tp = edited(e, "<end>10.8.0.9</end>", "<end>10.8.0.8</end>");
    struct lyd_node *ta = edited(e, "10.60.0.0/16", "10.70.0.0/16");
    struct lyd_node *tm = edited(e, "<mtu>1300</mtu>", "<mtu>1200</mtu>");
    struct ike_conf *c1 = full(e, t1), *c;
    const char *pool[] = {"/raven-vpn:pools/ipv4-pool[name='p1']/range[start='10.8.0.1']/end"};
    const char *acl[] = {"/raven-vpn:access-lists/access-list[name='acl4']/entry[sequence='10']/prefix"};
    const char *mtu[] = {"/raven-vpn:aaa/attribute-list[name='al']/mtu"};
    const char *list[] = {AP}, *ikev2[] = {"/raven-vpn:ikev2"}, *root[] = {"/"};
    const char *other_aaa[] = {"/raven-vpn:aaa/authorization-list[name='x']"};

    c = delta(e, tp, c1, pool, 1);
    assert_int_equal(c->nauthz_built, 0);
    for (size_t i = 0; i < c->nauthz; i++)
        assert_ptr_equal(c->authz[i], c1->authz[i]);
    /* a pool no lease holds changed: a patch of the address book in force */
    assert_true(c->pools_moved);
    assert_non_null(c->pool_patch);
    assert_null(c->pools);
    assert_int_equal(c->npool_ranges, 2);
    assert_int_equal(c->pool_ranges[0].hi[3] + c->pool_ranges[1].hi[3], 8 + 9);
    ike_conf_unref(c);
    c = delta(e, t1, c1, other_aaa, 1);
    assert_int_equal(c->nauthz_built, 0);
    /* no pool changed: the address book is handed over at apply, the ranges copied */
    assert_true(c->pools_moved);
    assert_null(c->pools);
    assert_int_equal(c->npool_ranges, c1->npool_ranges);
    assert_memory_equal(c->pool_ranges, c1->pool_ranges, c1->npool_ranges * sizeof(*c1->pool_ranges));
    ike_conf_unref(c);

    c = delta(e, ta, c1, acl, 1);
    assert_int_equal(c->nauthz_built, 4);
    {
        struct ike_conf *ref = full(e, ta);

        assert_same_policies(c, ref);
        assert_memory_not_equal(&ike_conf_authz(c, "b")->subnets, &ike_conf_authz(c1, "b")->subnets,
                                sizeof(struct sess_prefixes));
        ike_conf_unref(ref);
    }
    ike_conf_unref(c);
    c = delta(e, tm, c1, mtu, 1);
    assert_int_equal(c->nauthz_built, 4);
    assert_int_equal(ike_conf_authz(c, "d")->mtu, 1200);
    assert_int_equal(ike_conf_authz(c1, "d")->mtu, 1300);
    ike_conf_unref(c);
    c = delta(e, t1, c1, list, 1);
    assert_int_equal(c->nauthz_built, 4);
    ike_conf_unref(c);
    c = delta(e, t1, c1, ikev2, 1);
    assert_int_equal(c->nauthz_built, 4);
    ike_conf_unref(c);
    c = delta(e, t1, c1, root, 1);
    assert_int_equal(c->nauthz_built, 4);
    ike_conf_unref(c);
    c = delta(e, t1, c1, NULL, 0);
    assert_int_equal(c->nauthz_built, 4);
    ike_conf_unref(c);
    c = delta(e, t1, NULL, pool, 1); /* nothing to share with */
    assert_int_equal(c->nauthz_built, 4);
    ike_conf_unref(c);
    ike_conf_unref(c1);
    lyd_free_all(t1);
    lyd_free_all(tp);
    lyd_free_all(ta);
    lyd_free_all(tm);
}

static void size_of(const struct pool_info *pi, void *arg)
{
    if (!strcmp(pi->name, "p1"))
        *(uint64_t *)arg = pi->size;
}

static void count_misfit(const char *pool, uint32_t addr, uint64_t owner, void *arg)
{
    (void)pool;
    (void)owner;
    *(uint32_t *)arg = addr;
}

/* base_xml with pools/partition index @index of 2, p1 ending at 10.8.0.@end. */
static struct lyd_node *partitioned(struct env *e, int index, int end)
{
    char x[sizeof(base_xml) + 128], *m;

    snprintf(x, sizeof(x), "%s", base_xml);
    m = strstr(x, "</ipv4-pool></pools>");
    assert_non_null(m);
    snprintf(m, sizeof(x) - (size_t)(m - x),
             "</ipv4-pool><partition><count>2</count><index>%d</index></partition></pools>%s", index,
             strstr(base_xml, "</ipv4-pool></pools>") + strlen("</ipv4-pool></pools>"));
    m = strstr(x, "<end>10.8.0.9</end>");
    assert_non_null(m);
    m[12] = (char)('0' + end);
    return parse(e, x);
}

/* pools/partition: slice 1 of 2 of p1 (10.8.0.1-9: .5-.9) and p2; a changed
 * p1 (no lease) is patched into the set in force, cut the same way; a change
 * of the index builds the address book anew (slice 0), and a lease of slice 1
 * does not go into it. */
static void test_partition(void **state)
{
    struct env *e = *state;
    struct lyd_node *t1 = partitioned(e, 1, 9), *tp = partitioned(e, 1, 8), *t0 = partitioned(e, 0, 8);
    const char *pool[] = {"/raven-vpn:pools/ipv4-pool[name='p1']/range[start='10.8.0.1']/end"};
    const char *index[] = {"/raven-vpn:pools/partition/index"};
    struct ike_conf *c1 = full(e, t1), *c;
    uint64_t size = 0;
    uint32_t a, misfit = 0;

    pool_set_foreach(c1->pools, size_of, &size);
    assert_int_equal(size, 5);
    assert_int_equal(pool_alloc(c1->pools, "p2", 7, &a), 0);
    assert_int_equal(a, 0x0a090005); /* 10.9.0.5 */

    c = delta(e, tp, c1, pool, 1);
    assert_non_null(c->pool_patch);
    ike_conf_take_pools(c, c1); /* apply: the patch goes into the set in force */
    pool_set_foreach(c->pools, size_of, &size);
    assert_int_equal(size, 4); /* .5-.8 */
    assert_int_equal(pool_alloc(c->pools, "p1", 8, &a), 0);
    assert_int_equal(a, 0x0a080005);
    ike_conf_unref(c1);
    c1 = c;

    c = delta(e, t0, c1, index, 1);
    assert_false(c->pools_moved);
    assert_null(c->pool_patch);
    assert_non_null(c->pools);
    assert_int_equal(pool_set_carry(c->pools, c1->pools, count_misfit, &misfit), 2);
    assert_true(misfit == 0x0a090005 || misfit == 0x0a080005);
    assert_int_equal(pool_alloc(c->pools, "p1", 9, &a), 0);
    assert_int_equal(a, 0x0a080001); /* slice 0 */
    ike_conf_unref(c);
    ike_conf_unref(c1);
    lyd_free_all(t1);
    lyd_free_all(tp);
    lyd_free_all(t0);
}

/* A changed policy that cannot be used fails the build, with the error at its
 * path in the transaction's tree; nothing is left alive. */
static void test_changed_policy_refused(void **state)
{
    struct env *e = *state;
    size_t alive = ike_conf_alive();
    struct lyd_node *t1 = parse(e, base_xml);
    struct lyd_node *t2 = edited(e, "<banner>hello c</banner>",
                                 "<route><set><interface>raven-no-such0</interface></set></route>");
    struct ike_conf *c1 = full(e, t1);
    const char *changed[] = {AP "[name='c']/route"};
    char why[512] = "";

    assert_null(ike_conf_build_delta(e->ctx, t2, c1, changed, 1, on_err, why));
    assert_non_null(strstr(why, AP "[name='c']/route/set/interface"));
    assert_non_null(strstr(why, "raven-no-such0"));
    assert_int_equal(ike_conf_alive(), alive + 1);
    ike_conf_unref(c1);
    assert_int_equal(ike_conf_alive(), alive);
    lyd_free_all(t1);
    lyd_free_all(t2);
}

/* A compiled policy's strings are its own: every one is read after the tree
 * it was compiled from is gone (under the sanitizer a string left pointing
 * into that tree fails here). */
static void test_strings_own(void **state)
{
    struct env *e = *state;
    struct lyd_node *t = parse(e,
        "<pools xmlns=\"" NS "\"><ipv4-pool><name>p1</name><range><start>10.8.0.1</start><end>10.8.0.9</end>"
        "</range></ipv4-pool><ipv6-pool><name>v6</name><prefix>fd00:1::/64</prefix></ipv6-pool></pools>"
        "<ikev2 xmlns=\"" NS "\"><authorization-policy><name>all</name><pool>p1</pool><ipv6-pool>v6</ipv6-pool>"
        "<banner>hi</banner><def-domain>corp.example.org</def-domain><configuration><url>http://x/y</url>"
        "<version>3</version></configuration><dhcp><server>192.0.2.67</server><giaddr>192.0.2.1</giaddr></dhcp>"
        "<split-dns>a.example.org</split-dns><split-dns>b.example.org</split-dns>"
        "<backup-gateway>gw2.example.org</backup-gateway><route><set><interface>lo</interface></set></route>"
        "</authorization-policy></ikev2>");
    struct ike_conf *c = full(e, t);
    const struct sess_authz_pol *p = ike_conf_authz(c, "all");

    lyd_free_all(t);
    assert_non_null(p);
    assert_string_equal(p->name, "all");
    assert_string_equal(p->pool, "p1");
    assert_string_equal(p->pool6, "v6");
    assert_string_equal(p->banner, "hi");
    assert_string_equal(p->def_domain, "corp.example.org");
    assert_string_equal(p->cfg_url, "http://x/y");
    assert_string_equal(p->cfg_version, "3");
    assert_string_equal(p->dhcp_server, "192.0.2.67");
    assert_string_equal(p->dhcp_giaddr, "192.0.2.1");
    assert_int_equal(p->nsplit_dns, 2);
    assert_string_equal(p->split_dns[0], "a.example.org");
    assert_string_equal(p->split_dns[1], "b.example.org");
    assert_int_equal(p->nbackup, 1);
    assert_string_equal(p->backup[0], "gw2.example.org");
    assert_int_equal(p->nroute_ifaces, 1);
    assert_string_equal(p->route_ifaces[0], "lo");
    ike_conf_unref(c);
}

static void test_relation(void **state)
{
    const char *rest = NULL;

    (void)state;
    assert_int_equal(ike_chg_relation("/", "/raven-vpn:aaa", NULL), IKE_CHG_ABOVE);
    assert_int_equal(ike_chg_relation("/raven-vpn:aaa", "/raven-vpn:aaa", NULL), IKE_CHG_ABOVE);
    assert_int_equal(ike_chg_relation("/raven-vpn:ikev2", AP, NULL), IKE_CHG_ABOVE);
    assert_int_equal(ike_chg_relation(AP "[name='x']/pool", AP, &rest), IKE_CHG_BELOW);
    assert_string_equal(rest, "[name='x']/pool");
    assert_int_equal(ike_chg_relation("/raven-vpn:aaa/attribute-list[name='a']", "/raven-vpn:aaa", &rest),
                     IKE_CHG_BELOW);
    assert_string_equal(rest, "/attribute-list[name='a']");
    assert_int_equal(ike_chg_relation("/raven-vpn:aaa-x", "/raven-vpn:aaa", NULL), IKE_CHG_NONE);
    assert_int_equal(ike_chg_relation("/raven-vpn:ikev2/profile[name='p']", AP, NULL), IKE_CHG_NONE);
    assert_int_equal(ike_chg_relation("/raven-vpn:pools", AP, NULL), IKE_CHG_NONE);
}

static int setup(void **state)
{
    static struct env e;

    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &e.ctx), 0);
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-types", NULL, NULL));
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-vpn", NULL, NULL));
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    ly_ctx_destroy(e->ctx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changed_deleted_added), cmocka_unit_test(test_rename_outlives_first),
        cmocka_unit_test(test_what_recompiles),       cmocka_unit_test(test_changed_policy_refused),
        cmocka_unit_test(test_strings_own),           cmocka_unit_test(test_relation),
        cmocka_unit_test(test_partition),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
