/* Unit tests of a session's leases (daemon/session/sess_lease.c) against a
 * real address book (daemon/pool: an IPv4 pool of one address, an IPv6 pool
 * of /64s): a pool address given back is leased again, an address from AAA
 * or DHCP another session holds is refused naming its holder, IPv6 pools and
 * claims, the netmask of a pool or DHCP lease, adoption of pool and claimed
 * addresses (and why not when the pool is gone), INITIAL_CONTACT ending
 * only the client's other established sessions of the same profile, and the
 * per-user limit (also with make-before-break re-authentication). The
 * session manager's ops table is a mock standing in for the IKE engine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/pool/pool.h"
#include "daemon/session/sess.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* ---- the mock IKE engine ---- */

#define NSESS 6

struct fix {
    struct event_base *base;
    struct sess_mgr m;
    struct sess s[NSESS];
    bool up[NSESS];
    const char *peer[NSESS]; /* the client's address (NULL: one of its own) */
    /* what ops->end was asked */
    struct sess *ended[NSESS];
    const char *reason[NSESS];
    bool notify[NSESS];
    size_t nended;
};

static struct fix *F;

static void m_end(struct sess *ss, const char *reason, bool notify)
{
    F->ended[F->nended] = ss;
    F->reason[F->nended] = reason;
    F->notify[F->nended++] = notify;
    sess_del(ss); /* as the engine: off the list */
}

static bool m_up(const struct sess *ss)
{
    return F->up[ss - F->s];
}

static void m_changed(struct sess *ss)
{
    (void)ss;
}

static void m_peer(const struct sess *ss, char *buf, size_t cap)
{
    size_t i = (size_t)(ss - F->s);

    if (F->peer[i])
        snprintf(buf, cap, "%s", F->peer[i]);
    else
        snprintf(buf, cap, "192.0.2.%zu", 100 + i);
}

static const struct sess_ops ops = {.end = m_end, .up = m_up, .changed = m_changed, .peer = m_peer};

static int setup(void **st)
{
    struct fix *f = calloc(1, sizeof(*f));
    struct pool_set *ps = pool_set_new(), *ps6 = pool_set_new();
    struct pool *p;
    uint8_t pfx[16] = {0x20, 0x01, 0x0d, 0xb8};

    assert_non_null(f);
    assert_non_null(f->base = event_base_new());
    assert_non_null(ps);
    assert_non_null(ps6);
    assert_non_null(p = pool_set_add(ps, "p", A(255, 255, 255, 0)));
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 0, 1), A(10, 0, 0, 1)), 0); /* one address */
    assert_non_null(pool_set_add(ps, "nomask", 0));
    assert_non_null(pool_set_add6(ps6, "p6", pfx, 48, 64));
    sess_mgr_init(&f->m, f->base, &ops);
    sess_mgr_set_pools(&f->m, ps, ps6);
    for (int i = 0; i < NSESS; i++) {
        assert_true(sess_init(&f->s[i], &f->m));
        f->s[i].id = 100 + (uint64_t)i;
    }
    F = f;
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fix *f = *st;

    for (int i = 0; i < NSESS; i++) {
        sess_lease_release(&f->s[i]);
        sess_release(&f->s[i]);
    }
    pool_set_free(f->m.pools);
    pool_set_free(f->m.pools6);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* ---- pools ---- */

static void test_pool_lease_and_release(void **st)
{
    struct fix *f = *st;
    struct sess *a = &f->s[0], *b = &f->s[1];

    assert_int_equal(sess_lease4_pool(a, "p"), 0);
    assert_true(a->have_addr4);
    assert_false(a->addr4_aaa);
    assert_int_equal(a->addr4, A(10, 0, 0, 1));
    assert_string_equal(a->pool, "p");
    assert_int_equal(sess_lease4_pool(b, "p"), -ENOSPC); /* its one address is a's */
    assert_false(b->have_addr4);
    assert_int_equal(sess_lease4_pool(b, "nope"), -ENOENT);
    sess_lease_release(a);
    assert_false(a->have_addr4);
    assert_int_equal(sess_lease4_pool(b, "p"), 0); /* given back: leased again */
    assert_int_equal(b->addr4, A(10, 0, 0, 1));
}

/* ---- addresses from AAA and DHCP, claimed ---- */

static void test_claim_held_elsewhere(void **st)
{
    struct fix *f = *st;
    struct sess *a = &f->s[0], *b = &f->s[1], *c = &f->s[2];
    char why[300] = "";
    uint64_t holder = 0;

    assert_int_equal(sess_lease4_claim(a, A(10, 9, 0, 5), NULL, &holder, why, sizeof(why)), 0);
    assert_true(a->have_addr4 && a->addr4_aaa);
    assert_int_equal(a->addr4, A(10, 9, 0, 5));
    assert_string_equal(why, "");
    assert_int_equal(sess_lease4_claim(b, A(10, 9, 0, 5), NULL, &holder, why, sizeof(why)), -EADDRINUSE);
    assert_int_equal(holder, a->id);
    assert_string_equal(why, "Framed-IP-Address 10.9.0.5 is held by session 100; give each client its own address");
    assert_false(b->have_addr4);
    /* a pool's address is held as well */
    assert_int_equal(sess_lease4_pool(c, "p"), 0);
    assert_int_equal(sess_lease4_claim(b, A(10, 0, 0, 1), NULL, &holder, NULL, 0), -EADDRINUSE);
    assert_int_equal(holder, c->id);
    /* given back: b gets it */
    sess_lease_release(a);
    assert_int_equal(sess_lease4_claim(b, A(10, 9, 0, 5), NULL, &holder, why, sizeof(why)), 0);
}

static void test_claim_dhcp(void **st)
{
    struct fix *f = *st;
    struct sess *a = &f->s[0], *b = &f->s[1];
    struct dhcp_lease l = {.addr = A(10, 7, 0, 9), .netmask = A(255, 255, 0, 0), .lease_s = 3600};
    char why[300] = "";
    uint64_t holder = 0;

    assert_int_equal(sess_lease4_claim(a, l.addr, &l, &holder, NULL, 0), 0);
    assert_non_null(a->dhcp);
    assert_ptr_not_equal(a->dhcp, &l); /* a copy */
    assert_int_equal(a->dhcp->addr, l.addr);
    assert_int_equal(a->dhcp->lease_s, 3600);
    assert_false(a->addr4_aaa);
    assert_int_equal(sess_lease4_netmask(a), A(255, 255, 0, 0));
    assert_int_equal(sess_lease4_claim(b, l.addr, &l, &holder, why, sizeof(why)), -EADDRINUSE);
    assert_null(b->dhcp);
    assert_int_equal(holder, a->id);
    assert_string_equal(why, "the DHCP lease 10.7.0.9 is held by session 100; give each client its own address");
    sess_lease_release(a); /* the claim too */
    assert_null(a->dhcp);
    assert_int_equal(sess_lease4_claim(b, l.addr, NULL, &holder, NULL, 0), 0);
}

static void test_netmask(void **st)
{
    struct fix *f = *st;

    assert_int_equal(sess_lease4_pool(&f->s[0], "p"), 0);
    assert_int_equal(sess_lease4_netmask(&f->s[0]), A(255, 255, 255, 0));
    assert_int_equal(sess_lease4_claim(&f->s[1], A(10, 9, 0, 5), NULL, NULL, NULL, 0), 0);
    assert_int_equal(sess_lease4_netmask(&f->s[1]), 0); /* AAA's: no pool */
    assert_int_equal(sess_lease4_netmask(&f->s[2]), 0); /* none at all */
}

/* ---- IPv6 ---- */

static void test_ipv6(void **st)
{
    struct fix *f = *st;
    struct sess *a = &f->s[0], *b = &f->s[1], *c = &f->s[2];
    uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8}, in_a[16], out[16] = {0x20, 0x01, 0x0d, 0xb9, [15] = 1};
    char why[300] = "";
    uint64_t holder = 0;

    assert_int_equal(sess_lease6_pool(a, "p6"), 0);
    assert_true(a->have_addr6);
    assert_false(a->addr6_aaa);
    assert_string_equal(a->pool6, "p6");
    assert_int_equal(a->alen6, 64);
    memcpy(want, a->addr6, 16);
    assert_int_equal(want[0] << 8 | want[1], 0x2001);
    assert_int_equal(want[2] << 8 | want[3], 0x0db8);
    assert_int_equal(sess_lease6_pool(b, "nope"), -ENOENT);
    /* an address inside a's /64 is a's */
    memcpy(in_a, a->addr6, 16);
    in_a[15] = 7;
    assert_int_equal(sess_lease6_claim(b, in_a, 128, &holder, why, sizeof(why)), -EADDRINUSE);
    assert_int_equal(holder, a->id);
    assert_non_null(strstr(why, "the IPv6 address from AAA "));
    assert_non_null(strstr(why, "/128 is held by session 100"));
    assert_false(b->have_addr6);
    /* outside the pools */
    assert_int_equal(sess_lease6_claim(c, out, 128, &holder, NULL, 0), 0);
    assert_true(c->have_addr6 && c->addr6_aaa);
    assert_memory_equal(c->addr6, out, 16);
    assert_int_equal(c->alen6, 128);
    assert_int_equal(sess_lease6_claim(b, out, 128, &holder, NULL, 0), -EADDRINUSE);
    assert_int_equal(holder, c->id);
    /* given back */
    sess_lease_release(a);
    assert_false(a->have_addr6);
    assert_int_equal(sess_lease6_claim(b, in_a, 128, &holder, NULL, 0), 0);
    sess_lease_release(c);
    assert_int_equal(sess_lease6_claim(a, out, 128, &holder, NULL, 0), 0);
}

/* ---- adoption ---- */

static void test_take(void **st)
{
    struct fix *f = *st;
    struct sess *a = &f->s[0], *b = &f->s[1], *c = &f->s[2], *d = &f->s[3], *e = &f->s[4];
    uint8_t claimed[16] = {0x20, 0x01, 0x0d, 0xb9, [15] = 1};

    /* a record of a pool address and an IPv6 pool prefix */
    a->pool = strdup("p");
    a->addr4 = A(10, 0, 0, 1);
    a->pool6 = strdup("p6");
    a->index6 = 3;
    assert_true(pool6_addr(f->m.pools6, "p6", 3, a->addr6, &a->alen6));
    assert_null(sess_lease_take(a, true, true));
    assert_true(a->have_addr4 && a->have_addr6);
    assert_int_equal(sess_lease4_pool(b, "p"), -ENOSPC); /* held again */
    /* a record of claimed addresses */
    c->addr4 = A(10, 9, 0, 5);
    c->addr4_aaa = true;
    memcpy(c->addr6, claimed, 16);
    c->alen6 = 128;
    c->addr6_aaa = true;
    assert_null(sess_lease_take(c, true, true));
    assert_int_equal(sess_lease4_claim(b, A(10, 9, 0, 5), NULL, NULL, NULL, 0), -EADDRINUSE);
    assert_int_equal(sess_lease6_claim(b, claimed, 128, NULL, NULL, 0), -EADDRINUSE);
    /* another record names the same claimed address */
    d->addr4 = A(10, 9, 0, 5);
    d->addr4_aaa = true;
    assert_string_equal(sess_lease_take(d, true, false), "its IPv4 address is held by another session");
    assert_false(d->have_addr4);
    /* its pool gone while ravend was stopped */
    e->pool = strdup("gone");
    e->addr4 = A(10, 0, 0, 2);
    assert_string_equal(sess_lease_take(e, true, false), "its IPv4 pool or address is no longer configured");
    assert_false(e->have_addr4);
    free(e->pool);
    e->pool = strdup("p");
    assert_string_equal(sess_lease_take(e, true, false), "its IPv4 pool or address is no longer configured");
    e->pool6 = strdup("gone6");
    assert_string_equal(sess_lease_take(e, false, true), "its IPv6 pool or prefix is no longer configured");
    assert_false(e->have_addr6);
    /* what was taken is given back at the end */
    sess_lease_release(a);
    assert_int_equal(sess_lease4_pool(b, "p"), 0);
}

/* ---- INITIAL_CONTACT ---- */

static void who(struct sess *ss, const char *remote, const char *profile)
{
    ss->remote_id = strdup(remote);
    ss->profile = strdup(profile);
    sess_add(ss);
}

static void test_initial_contact(void **st)
{
    struct fix *f = *st;

    who(&f->s[0], "alice", "ra"); /* the new session itself */
    who(&f->s[1], "alice", "ra"); /* older, up: ends */
    who(&f->s[2], "alice", "ra"); /* still authenticating: stays */
    who(&f->s[3], "bob", "ra");   /* another client: stays */
    who(&f->s[4], "alice", "ra2"); /* another profile: stays */
    who(&f->s[5], "alice", "ra"); /* older, up: ends */
    f->up[0] = f->up[1] = f->up[3] = f->up[4] = f->up[5] = true;
    sess_initial_contact(&f->s[0]);
    assert_int_equal(f->nended, 2);
    for (size_t i = 0; i < f->nended; i++) {
        assert_true(f->ended[i] == &f->s[1] || f->ended[i] == &f->s[5]);
        assert_string_equal(f->reason[i], "replaced");
        assert_false(f->notify[i]);
    }
    assert_ptr_not_equal(f->ended[0], f->ended[1]);
    assert_ptr_equal(sess_find(&f->m, f->s[0].id), &f->s[0]);
    assert_ptr_equal(sess_find(&f->m, f->s[2].id), &f->s[2]);
}

/* The per-user limit after INITIAL_CONTACT: the user is the authorized user,
 * else the EAP identity, else the IKE identity; only established sessions of
 * the same user count; refuse-newest says why, replace-oldest ends the oldest
 * (DELETE to their clients) until the new one fits. */
static void test_user_limit(void **st)
{
    struct fix *f = *st;
    char why[200] = "";

    who(&f->s[0], "alice", "ra");  /* the new session itself */
    who(&f->s[1], "alice", "ra");  /* alice's, the oldest */
    who(&f->s[2], "alice", "ra2"); /* alice's in another profile: counts too */
    who(&f->s[3], "alice", "ra");  /* authorized as carol: not alice's */
    f->s[3].user = strdup("carol");
    who(&f->s[4], "x.example.org", "ra"); /* EAP identity alice: alice's, not up */
    f->s[4].eap_identity = strdup("alice");
    who(&f->s[5], "bob", "ra");
    f->s[1].established = 1000;
    f->s[2].established = 2000;
    f->up[0] = f->up[1] = f->up[2] = f->up[3] = f->up[5] = true;
    assert_true(sess_user_limit(&f->s[0], 0, false, why, sizeof(why))); /* no limit */
    assert_true(sess_user_limit(&f->s[0], 3, false, why, sizeof(why)));
    assert_false(sess_user_limit(&f->s[0], 2, false, why, sizeof(why)));
    assert_string_equal(why, "user alice has 2 sessions, the most max-sessions-per-user allows");
    f->up[4] = true; /* now up: three of alice's */
    assert_false(sess_user_limit(&f->s[0], 3, false, why, sizeof(why)));
    assert_int_equal(f->nended, 0);
    /* replace-oldest with a limit of 2: the two oldest of three go */
    f->s[4].established = 3000;
    assert_true(sess_user_limit(&f->s[0], 2, true, why, sizeof(why)));
    assert_int_equal(f->nended, 2);
    assert_ptr_equal(f->ended[0], &f->s[1]);
    assert_ptr_equal(f->ended[1], &f->s[2]);
    for (size_t i = 0; i < f->nended; i++) {
        assert_string_equal(f->reason[i], "replaced");
        assert_true(f->notify[i]);
    }
    assert_ptr_equal(sess_find(&f->m, f->s[4].id), &f->s[4]);
    assert_ptr_equal(sess_find(&f->m, f->s[3].id), &f->s[3]);
}

/* Make-before-break re-authentication (RFC 7296 2.8.3): the client's new IKE
 * SA comes while its old one is up, without INITIAL_CONTACT. The session of
 * the same identity and profile from the same address is the one replaced:
 * refuse-newest does not count it, replace-oldest ends it first. */
static void test_user_limit_reauth(void **st)
{
    struct fix *f = *st;
    char why[200] = "";

    who(&f->s[0], "alice", "ra"); /* the new IKE SA */
    who(&f->s[1], "alice", "ra"); /* the client's old one */
    who(&f->s[2], "alice", "ra"); /* alice's other device, the oldest */
    f->s[2].user = strdup("ALICE"); /* authorized as ALICE: alice's all the same */
    who(&f->s[3], "alice", "ra2"); /* from the same address in another profile: not replaced */
    f->peer[0] = f->peer[1] = f->peer[3] = "198.51.100.1";
    f->peer[2] = "203.0.113.9";
    f->s[1].established = 2000;
    f->s[2].established = 1000;
    f->s[3].established = 3000;
    f->up[0] = f->up[1] = f->up[2] = true;
    /* refuse-newest: the old SA is not counted, the other device is */
    assert_true(sess_user_limit(&f->s[0], 2, false, why, sizeof(why)));
    assert_false(sess_user_limit(&f->s[0], 1, false, why, sizeof(why)));
    assert_string_equal(why, "user alice has 1 sessions, the most max-sessions-per-user allows");
    f->up[3] = true;
    assert_false(sess_user_limit(&f->s[0], 2, false, why, sizeof(why)));
    assert_int_equal(f->nended, 0);
    /* replace-oldest: the client's old SA goes first, then the oldest */
    assert_true(sess_user_limit(&f->s[0], 3, true, why, sizeof(why)));
    assert_int_equal(f->nended, 1);
    assert_ptr_equal(f->ended[0], &f->s[1]);
    assert_true(sess_user_limit(&f->s[0], 2, true, why, sizeof(why)));
    assert_int_equal(f->nended, 2);
    assert_ptr_equal(f->ended[1], &f->s[2]);
    assert_ptr_equal(sess_find(&f->m, f->s[3].id), &f->s[3]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_lease_and_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_held_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_dhcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netmask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initial_contact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_limit_reauth, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
