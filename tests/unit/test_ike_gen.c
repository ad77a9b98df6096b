/* Unit tests of configuration generations in the IKEv2 engine (daemon/ike/
 * ike_conf.h): each applied commit is a new generation, numbered from 1; a
 * session keeps the generation it was negotiated under (its profile's DPD and
 * lifetime, vpn-state config-generation) while new sessions get the new one; an
 * old generation lives as long as a session holds it (config-generations-alive,
 * ike_conf_alive). A client whose IKE_AUTH comes after a commit that removed
 * its profile still authenticates under the generation its IKE_SA_INIT found.
 * The generation a commit replaces is freed after the commit (the next turn of
 * the loop). Commits told what changed share the authorization policies that
 * did not change with the generation before, and leave the sessions' own as
 * they were. */
#include <errno.h>
#include <event2/event.h>
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
#include "daemon/ike/ike_engine.h"
#include "daemon/pool/pool.h"
#include "tests/support/ike_client.h"
#include "tests/unit/ike_harness.h"

/* @in with every @from replaced by @to (malloc'd). */
static char *replace(const char *in, const char *from, const char *to)
{
    size_t cap = strlen(in) * 2 + 1024, n = 0;
    char *out = malloc(cap);
    const char *m;

    assert_non_null(out);
    while ((m = strstr(in, from))) {
        assert_true(n + (size_t)(m - in) + strlen(to) < cap);
        memcpy(out + n, in, (size_t)(m - in));
        n += (size_t)(m - in);
        memcpy(out + n, to, strlen(to));
        n += strlen(to);
        in = m + strlen(from);
    }
    assert_true(n + strlen(in) < cap);
    memcpy(out + n, in, strlen(in) + 1);
    return out;
}

/* ike_harness_config with every @from replaced by @to, and @from2 by @to2
 * (NULL: none), parsed. */
static struct lyd_node *config(struct env *e, const char *from, const char *to, const char *from2, const char *to2)
{
    char *x1 = replace(ike_harness_config, from, to), *x2 = from2 ? replace(x1, from2, to2) : NULL;
    struct lyd_node *tree = NULL;

    assert_int_equal(
        lyd_parse_data_mem(e->ctx, x2 ? x2 : x1, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree), 0);
    free(x1);
    free(x2);
    return tree;
}

/* Applies @tree to @eng as a commit does. */
static void commit(struct ike_engine *eng, const struct lyd_node *tree)
{
    assert_int_equal(ike_engine_prepare(eng, tree, false, NULL, NULL), 0);
    ike_engine_apply(eng);
}

/* The vpn-state value at @path (a number), -1 when there is none. */
static long long state_num(struct env *e, struct ike_engine *eng, const char *path)
{
    struct lyd_node *st = NULL;
    struct ly_set *set = NULL;
    long long v = -1;

    assert_int_equal(lyd_new_inner(NULL, ly_ctx_get_module_implemented(e->ctx, "raven-vpn"), "vpn-state", 0, &st),
                     0);
    ike_engine_state(eng, st, NULL);
    if (!lyd_find_xpath(st, path, &set) && set->count == 1)
        v = strtoll(lyd_get_value(set->dnodes[0]), NULL, 10);
    ly_set_free(set, NULL);
    lyd_free_tree(st);
    return v;
}

/* The session of the engine with remote identity @id. */
static struct ike_sess *sess_of(struct ike_engine *eng, const char *id)
{
    struct ike_sess *s, *tmp;

    HASH_ITER(hh_id, eng->by_id, s, tmp) {
        if (s->ss.remote_id && !strcmp(s->ss.remote_id, id))
            return s;
    }
    return NULL;
}

static long long sess_gen(struct env *e, struct ike_engine *eng, const struct ike_sess *s)
{
    char path[100];

    snprintf(path, sizeof(path), "session[id='%llu']/config-generation", (unsigned long long)s->ss.id);
    return state_num(e, eng, path);
}

#define DPD30 "<dpd><interval>30</interval></dpd><lifetime>3600</lifetime></profile>"
#define DPD60 "<dpd><interval>60</interval><retry>5</retry></dpd><lifetime>7200</lifetime></profile>"

/* A session established under generation 1 keeps its DPD and lifetime after a
 * commit changes them (generation 2, which a new session gets); the old
 * generation goes with the last session that holds it. */
static void test_session_keeps_its_generation(void **state)
{
    struct env *e = *state;
    struct lyd_node *t1 = config(e, "</profile>", DPD30, NULL, NULL), *t2 = config(e, "</profile>", DPD60, NULL, NULL);
    struct ike_engine *eng;
    struct ike_client a, b;
    struct ike_buf buf = {0};
    struct ike_sess *sa, *sb;

    assert_int_equal(ike_conf_alive(), 0);
    eng = engine(e, t1);
    assert_int_equal(state_num(e, eng, "ike-counters/config-generation"), 1);
    assert_int_equal(state_num(e, eng, "ike-counters/config-generations-alive"), 1);
    ike_client_init(&a, IKE_DH_ECP256);
    establish(e, eng, &a, "alice.example.org", "k1", &buf);
    assert_non_null(sa = sess_of(eng, "alice.example.org"));
    assert_int_equal(sess_gen(e, eng, sa), 1);
    assert_int_equal(sa->dpd_interval, 30);
    assert_int_equal(sa->dpd_retry, 2);
    assert_int_equal(sa->ike_lifetime, 3600);

    commit(eng, t2);
    assert_int_equal(state_num(e, eng, "ike-counters/config-generation"), 2);
    assert_int_equal(ike_conf_alive(), 2); /* alice holds generation 1 */
    assert_int_equal(state_num(e, eng, "ike-counters/config-generations-alive"), 2);
    assert_int_equal(sess_gen(e, eng, sa), 1);
    assert_int_equal(sa->gen->generation, 1);
    assert_int_equal(sa->prof->dpd_interval, 30);
    assert_int_equal(sa->dpd_interval, 30);
    assert_int_equal(sa->ike_lifetime, 3600);

    ike_client_init(&b, IKE_DH_ECP256);
    establish(e, eng, &b, "bob.example.org", "k1", &buf);
    assert_non_null(sb = sess_of(eng, "bob.example.org"));
    assert_int_equal(sess_gen(e, eng, sb), 2);
    assert_ptr_equal(sb->gen, eng->conf);
    assert_int_equal(sb->dpd_interval, 60);
    assert_int_equal(sb->dpd_retry, 5);
    assert_int_equal(sb->ike_lifetime, 7200);
    /* the address book is one: bob's address is not alice's */
    assert_true(sa->ss.have_addr4 && sb->ss.have_addr4 && sa->ss.addr4 != sb->ss.addr4);

    assert_int_equal(ike_engine_clear(eng, sa->ss.id, NULL, NULL, false), 1);
    assert_int_equal(ike_conf_alive(), 1);
    assert_int_equal(state_num(e, eng, "ike-counters/config-generations-alive"), 1);
    /* a commit while only sessions of the one in force live frees the old one */
    commit(eng, t1);
    assert_int_equal(state_num(e, eng, "ike-counters/config-generation"), 3);
    assert_int_equal(ike_conf_alive(), 2); /* bob holds generation 2 */
    assert_int_equal(sess_gen(e, eng, sb), 2);
    ike_client_fini(&a);
    ike_client_fini(&b);
    ike_engine_free(eng);
    assert_int_equal(ike_conf_alive(), 0);
    lyd_free_all(t1);
    lyd_free_all(t2);
}

/* A commit between a client's IKE_SA_INIT and its IKE_AUTH that removes its
 * profile (renamed, with another key) does not fail it: the half-open session
 * holds generation 1, where its profile and key are; a new client meets
 * generation 2. */
static void test_auth_after_commit(void **state)
{
    struct env *e = *state;
    /* generation 2: profile rw is gone; rw2 takes the same clients, with key k2 */
    struct lyd_node *t2 = config(e, "<name>rw</name>", "<name>rw2</name>", "<key>k1</key>", "<key>k2</key>");
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client a, c, d;
    struct ike_buf buf = {0};
    struct ike_sess *sa;

    ike_client_init(&a, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&a, &buf));
    assert_true(ask(e, eng, &buf));
    assert_true(ike_client_sa_init_done(&a, e->out, e->out_len));
    commit(eng, t2);
    assert_int_equal(ike_conf_alive(), 2); /* the half-open SA holds generation 1 */
    assert_true(ike_client_auth(&a, "alice.example.org", "k1", &buf));
    assert_true(ask(e, eng, &buf));
    assert_true(ike_client_auth_done(&a, e->out, e->out_len));
    assert_non_null(sa = sess_of(eng, "alice.example.org"));
    assert_string_equal(sa->ss.profile, "rw");
    assert_int_equal(sess_gen(e, eng, sa), 1);
    assert_int_equal(state_num(e, eng, "ike-counters/sa/active"), 1);

    /* generation 2 for a new client: k1 is refused, k2 accepted under rw2 */
    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &buf));
    assert_true(ask(e, eng, &buf));
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    assert_true(ike_client_auth(&c, "carol.example.org", "k1", &buf));
    assert_true(ask(e, eng, &buf));
    assert_false(ike_client_auth_done(&c, e->out, e->out_len));
    ike_client_init(&d, IKE_DH_ECP256);
    establish(e, eng, &d, "dave.example.org", "k2", &buf);
    assert_string_equal(sess_of(eng, "dave.example.org")->ss.profile, "rw2");
    assert_int_equal(sess_gen(e, eng, sess_of(eng, "dave.example.org")), 2);

    assert_int_equal(ike_engine_clear(eng, sa->ss.id, NULL, NULL, false), 1);
    assert_int_equal(ike_conf_alive(), 1);
    ike_client_fini(&a);
    ike_client_fini(&c);
    ike_client_fini(&d);
    ike_engine_free(eng);
    assert_int_equal(ike_conf_alive(), 0);
    lyd_free_all(t2);
}

/* The generation a commit replaces, when no session holds it, waits for the
 * next turn of the loop (after the commit's reply) to be freed, and the
 * engine's end frees it if the loop does not turn again. */
static void test_replaced_freed_later(void **state)
{
    struct env *e = *state;
    struct lyd_node *t = NULL;
    struct ike_engine *eng;

    assert_int_equal(
        lyd_parse_data_mem(e->ctx, ike_harness_config, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &t), 0);
    eng = engine(e, t);
    assert_int_equal(ike_conf_alive(), 1);
    commit(eng, t);
    assert_int_equal(ike_conf_alive(), 2);
    commit(eng, t); /* two waiting */
    assert_int_equal(ike_conf_alive(), 3);
    assert_int_equal(state_num(e, eng, "ike-counters/config-generations-alive"), 3);
    event_base_loop(e->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    assert_int_equal(ike_conf_alive(), 1);
    assert_int_equal(eng->conf->generation, 3);
    commit(eng, t);
    assert_int_equal(ike_conf_alive(), 2);
    ike_engine_free(eng);
    assert_int_equal(ike_conf_alive(), 0);
    lyd_free_all(t);
}

/* Commits told what changed (ike_engine_prepare_changed, as ravend's are):
 * alice, established under generation 1, keeps its authorization policy as it
 * was when a commit changes that policy; a commit that changes only a pool
 * shares the policy with the generation before; a dry run and a refused
 * commit leave the generation in force and its policies as they were. */
static void test_changed_policies_shared(void **state)
{
    static const char *const banner[] = {"/raven-vpn:ikev2/authorization-policy[name='g']/banner"};
    static const char *const end[] = {"/raven-vpn:pools/ipv4-pool[name='p']/range[start='10.8.0.1']/end"};
    static const char *const iface[] = {"/raven-vpn:ikev2/authorization-policy[name='g']/route"};
    struct env *e = *state;
    struct lyd_node *t1 = config(e, "</def-domain>", "</def-domain>", NULL, NULL);
    struct lyd_node *t2 = config(e, "Authorized use only", "Changed", NULL, NULL);
    struct lyd_node *t3 = config(e, "Authorized use only", "Changed", "<end>10.8.0.3</end>", "<end>10.8.0.6</end>");
    struct lyd_node *t4 = config(e, "Authorized use only", "Changed", "</def-domain>",
                                 "</def-domain><route><set><interface>raven-no-such0</interface></set></route>");
    const struct sess_authz_pol *g2;
    const struct pool_set *book;
    struct ike_engine *eng;
    struct ike_client a;
    struct ike_buf buf = {0};
    struct ike_sess *sa;

    eng = engine(e, t1);
    ike_client_init(&a, IKE_DH_ECP256);
    establish(e, eng, &a, "alice.example.org", "k1", &buf);
    assert_non_null(sa = sess_of(eng, "alice.example.org"));
    assert_true(sa->ss.have_addr4);
    book = eng->conf->pools;
    assert_int_equal(ike_engine_prepare_changed(eng, t2, banner, 1, false, NULL, NULL), 0);
    ike_engine_apply(eng);
    assert_int_equal(eng->conf->nauthz_built, 1);
    /* no pool changed: the same address book, alice's lease in it */
    assert_ptr_equal(eng->conf->pools, book);
    assert_null(sa->gen->pools);
    assert_int_equal(pool_take(eng->conf->pools, "p", false, sa->ss.addr4, sa->ss.id), 0);
    assert_int_equal(pool_take(eng->conf->pools, "p", false, sa->ss.addr4, sa->ss.id + 1), -EADDRINUSE);
    assert_int_equal(sa->gen->generation, 1);
    assert_string_equal(ike_conf_authz(sa->gen, "g")->banner, "Authorized use only");
    assert_string_equal((g2 = ike_conf_authz(eng->conf, "g"))->banner, "Changed");

    assert_int_equal(ike_engine_prepare_changed(eng, t3, end, 1, false, NULL, NULL), 0);
    ike_engine_apply(eng);
    assert_int_equal(eng->conf->generation, 3);
    assert_int_equal(eng->conf->nauthz_built, 0);
    assert_false(eng->conf->pools == book); /* a pool changed: rebuilt, alice's lease carried */
    assert_int_equal(pool_take(eng->conf->pools, "p", false, sa->ss.addr4, sa->ss.id + 1), -EADDRINUSE);
    assert_ptr_equal(ike_conf_authz(eng->conf, "g"), g2);
    event_base_loop(e->base, EVLOOP_ONCE | EVLOOP_NONBLOCK); /* generation 2 freed */
    assert_int_equal(ike_conf_alive(), 2);
    assert_string_equal(g2->banner, "Changed");

    /* a pool no session leases from, added then changed: the address book in
     * force is patched, not rebuilt; a dry run of a change leaves it as it is */
    {
        static const char *const q[] = {"/raven-vpn:pools/ipv4-pool[name='q']"};
        static const char *const qend[] = {"/raven-vpn:pools/ipv4-pool[name='q']/range[start='10.9.0.1']/end"};
        struct lyd_node *t5 = config(e, "Authorized use only", "Changed", "<end>10.8.0.3</end>",
                                     "<end>10.8.0.6</end></range></ipv4-pool><ipv4-pool><name>q</name>"
                                     "<range><start>10.9.0.1</start><end>10.9.0.2</end>");
        struct lyd_node *t6 = config(e, "Authorized use only", "Changed", "<end>10.8.0.3</end>",
                                     "<end>10.8.0.6</end></range></ipv4-pool><ipv4-pool><name>q</name>"
                                     "<range><start>10.9.0.1</start><end>10.9.0.4</end>");

        book = eng->conf->pools;
        assert_int_equal(ike_engine_prepare_changed(eng, t5, q, 1, false, NULL, NULL), 0);
        ike_engine_apply(eng);
        assert_ptr_equal(eng->conf->pools, book);
        assert_int_equal(pool_take(eng->conf->pools, "q", false, 0x0a090002, 77), 0);
        assert_int_equal(pool_take(eng->conf->pools, "q", false, 0x0a090003, 78), -ERANGE);
        assert_true(pool_release(eng->conf->pools, "q", 0x0a090002));
        assert_int_equal(ike_engine_prepare_changed(eng, t6, qend, 1, true, NULL, NULL), 0);
        ike_engine_abort(eng);
        assert_int_equal(pool_take(eng->conf->pools, "q", false, 0x0a090003, 78), -ERANGE);
        assert_int_equal(ike_engine_prepare_changed(eng, t6, qend, 1, false, NULL, NULL), 0);
        ike_engine_apply(eng);
        assert_ptr_equal(eng->conf->pools, book);
        assert_int_equal(pool_take(eng->conf->pools, "q", false, 0x0a090004, 78), 0);
        assert_int_equal(eng->conf->npool_ranges, 2);
        /* alice's lease is still hers */
        assert_int_equal(pool_take(eng->conf->pools, "p", false, sa->ss.addr4, sa->ss.id + 1), -EADDRINUSE);
        /* and back to t3: q leased (by 78) cannot go, the commit is refused */
        assert_int_not_equal(ike_engine_prepare_changed(eng, t3, q, 1, false, NULL, NULL), 0);
        assert_true(pool_release(eng->conf->pools, "q", 0x0a090004));
        assert_int_equal(ike_engine_prepare_changed(eng, t3, q, 1, false, NULL, NULL), 0);
        ike_engine_apply(eng);
        assert_ptr_equal(eng->conf->pools, book);
        assert_int_equal(pool_take(eng->conf->pools, "q", false, 0x0a090004, 78), -ENOENT);
        event_base_loop(e->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        lyd_free_all(t5);
        lyd_free_all(t6);
    }
    assert_int_equal(ike_engine_prepare_changed(eng, t1, banner, 1, true, NULL, NULL), 0);
    ike_engine_abort(eng);
    assert_int_not_equal(ike_engine_prepare_changed(eng, t4, iface, 1, false, NULL, NULL), 0);
    assert_int_equal(eng->conf->generation, 6);
    assert_ptr_equal(ike_conf_authz(eng->conf, "g"), g2);
    assert_string_equal(g2->banner, "Changed");
    assert_string_equal(ike_conf_authz(sa->gen, "g")->banner, "Authorized use only");

    assert_int_equal(ike_engine_clear(eng, sa->ss.id, NULL, NULL, false), 1);
    assert_int_equal(ike_conf_alive(), 1);
    assert_string_equal(ike_conf_authz(eng->conf, "g")->def_domain, "corp.example.org");
    ike_client_fini(&a);
    ike_engine_free(eng);
    assert_int_equal(ike_conf_alive(), 0);
    lyd_free_all(t1);
    lyd_free_all(t2);
    lyd_free_all(t3);
    lyd_free_all(t4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_keeps_its_generation),
        cmocka_unit_test(test_auth_after_commit),
        cmocka_unit_test(test_replaced_freed_later),
        cmocka_unit_test(test_changed_policies_shared),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
