/* Unit tests of accounting and dynamic authorization in the session module
 * (daemon/session/sess_aaa.c), with a mock ops table standing in for the IKE
 * engine: a Disconnect-Request by Acct-Session-Id, User-Name (EAP identity,
 * authorized user, remote identity) or Framed-IP-Address ends exactly the
 * matching established sessions, also when ending one ends another; a session
 * not up is not found; a CoA re-arms the session lifetime or sets the flow
 * limit, and one with an attribute it cannot apply changes nothing; the
 * Acct-Session-Id of a Start. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "daemon/aaa/aaa_attrs.h"
#include "daemon/session/sess.h"

/* A session as the mock engine holds it. */
struct tsess {
    struct sess ss; /* first: a struct sess * is a struct tsess * */
    bool up;
    struct tsess *with; /* ended together with this one (a stub) */
    uint32_t flow_limit;
};

/* What the mock engine was asked. */
static struct {
    uint64_t ended[16];
    char reason[16][32];
    bool notify[16];
    size_t nended, nchanged, nflow, npeer, ntraffic;
} calls;

static void t_free(struct tsess *t)
{
    sess_release(&t->ss);
    free(t);
}

static void m_end(struct sess *ss, const char *reason, bool notify)
{
    struct tsess *t = (struct tsess *)ss, *with = t->with;

    assert_true(calls.nended < 16);
    calls.ended[calls.nended] = ss->id;
    snprintf(calls.reason[calls.nended], sizeof(calls.reason[0]), "%s", reason);
    calls.notify[calls.nended++] = notify;
    t_free(t);
    if (with) {
        with->with = NULL;
        m_end(&with->ss, "stub", false);
    }
}

static bool m_up(const struct sess *ss)
{
    return ((const struct tsess *)ss)->up;
}

static void m_traffic(const struct sess *ss, struct sess_traffic *tr)
{
    (void)ss;
    calls.ntraffic++;
    memset(tr, 0, sizeof(*tr));
}

static void m_changed(struct sess *ss)
{
    (void)ss;
    calls.nchanged++;
}

static void m_flow_limit(struct sess *ss, uint32_t limit)
{
    ((struct tsess *)ss)->flow_limit = limit;
    calls.nflow++;
}

static void m_peer(const struct sess *ss, char *buf, size_t cap)
{
    (void)ss;
    calls.npeer++;
    snprintf(buf, cap, "192.0.2.1");
}

static const struct sess_ops mock_ops = {.end = m_end,
                                         .up = m_up,
                                         .traffic = m_traffic,
                                         .changed = m_changed,
                                         .flow_limit = m_flow_limit,
                                         .peer = m_peer};

struct fx {
    struct event_base *base;
    struct sess_mgr m;
};

static int setup(void **st)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (!f || !(f->base = event_base_new()))
        return -1;
    sess_mgr_init(&f->m, f->base, &mock_ops);
    f->m.boot = 0x5F00AB12;
    memset(&calls, 0, sizeof(calls));
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    struct sess *ss, *tmp;

    HASH_ITER(hh, f->m.by_id, ss, tmp)
        t_free((struct tsess *)ss);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* An established (@up) session @id of @f named @eap, @user and @remote (NULL:
 * none), with IPv4 address @addr (0: none) and its Acct-Session-Id. */
static struct tsess *mk(struct fx *f, uint64_t id, bool up, const char *eap, const char *user, const char *remote,
                        uint32_t addr)
{
    struct tsess *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    assert_true(sess_init(&t->ss, &f->m));
    t->ss.id = id;
    t->up = up;
    t->flow_limit = UINT32_MAX;
    t->ss.eap_identity = eap ? strdup(eap) : NULL;
    t->ss.user = user ? strdup(user) : NULL;
    t->ss.remote_id = remote ? strdup(remote) : NULL;
    t->ss.addr4 = addr;
    t->ss.have_addr4 = addr != 0;
    t->ss.established = time(NULL) - 100;
    sess_add(&t->ss);
    sess_acct_start(&t->ss);
    return t;
}

static struct aaa_dae disconnect(void)
{
    struct aaa_dae q = {0};

    aaa_attrs_init(&q.attrs);
    return q;
}

static void assert_ended(uint64_t id, const char *reason, bool notify)
{
    for (size_t i = 0; i < calls.nended; i++)
        if (calls.ended[i] == id) {
            assert_string_equal(calls.reason[i], reason);
            assert_int_equal(calls.notify[i], notify);
            return;
        }
    fail_msg("session %llu not ended", (unsigned long long)id);
}

static void test_start_session_id(void **st)
{
    struct fx *f = *st;
    struct tsess *t = mk(f, 0x100000007ULL, true, NULL, NULL, "client", 0);

    /* the boot time and the id's low 32 bits */
    assert_string_equal(t->ss.acct_id, "5F00AB1200000007");
    /* without RADIUS nothing is sent, also with an accounting list */
    t->ss.acct_list = strdup("acct");
    sess_acct_start(&t->ss);
    sess_acct_stop(&t->ss, "peer-delete");
    assert_int_equal(calls.npeer, 0);
    assert_int_equal(calls.ntraffic, 0);
    assert_null(t->ss.ev_acct);
}

static void test_disconnect_by_session_id(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();

    mk(f, 1, true, NULL, NULL, "a", 0);
    mk(f, 2, true, NULL, NULL, "b", 0);
    q.session_id = "5F00AB1200000002";
    assert_int_equal(sess_dae(&q, &f->m), 0);
    assert_int_equal(calls.nended, 1);
    assert_ended(2, "radius-disconnect", true);
    assert_non_null(sess_find(&f->m, 1));
    assert_null(sess_find(&f->m, 2));
}

static void test_disconnect_by_user(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();

    mk(f, 1, true, "alice", "x", "y", 0);  /* EAP identity */
    mk(f, 2, true, NULL, "alice", "y", 0); /* authorized user */
    mk(f, 3, true, NULL, NULL, "alice", 0); /* remote identity */
    mk(f, 4, true, "bob", "bob", "bob", 0);
    mk(f, 5, false, "alice", "alice", "alice", 0); /* not up */
    q.user = "alice";
    assert_int_equal(sess_dae(&q, &f->m), 0);
    assert_int_equal(calls.nended, 3);
    assert_ended(1, "radius-disconnect", true);
    assert_ended(2, "radius-disconnect", true);
    assert_ended(3, "radius-disconnect", true);
    assert_non_null(sess_find(&f->m, 4));
    assert_non_null(sess_find(&f->m, 5));
}

static void test_disconnect_by_address(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();

    mk(f, 1, true, NULL, NULL, "a", 0x0A000001);
    mk(f, 2, true, NULL, NULL, "a", 0x0A000002);
    mk(f, 3, true, NULL, NULL, "a", 0);
    q.has_addr = true;
    q.addr = 0x0A000002;
    assert_int_equal(sess_dae(&q, &f->m), 0);
    assert_int_equal(calls.nended, 1);
    assert_ended(2, "radius-disconnect", true);
}

/* Ending one session ends another that matched too: it is not ended twice nor
 * touched after it is gone. */
static void test_disconnect_cascade(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();
    struct tsess *a = mk(f, 1, true, NULL, NULL, "carol", 0);

    a->with = mk(f, 2, true, NULL, NULL, "carol", 0);
    q.user = "carol";
    assert_int_equal(sess_dae(&q, &f->m), 0);
    assert_int_equal(calls.nended, 2);
    assert_ended(1, "radius-disconnect", true);
    assert_ended(2, "stub", false);
    assert_null(f->m.by_id);
}

static void test_not_up_not_found(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();

    mk(f, 1, false, NULL, NULL, "a", 0);
    q.session_id = "5F00AB1200000001";
    assert_int_equal(sess_dae(&q, &f->m), AAA_EC_SESSION_NOT_FOUND);
    q.session_id = "5F00AB1200000009";
    assert_int_equal(sess_dae(&q, &f->m), AAA_EC_SESSION_NOT_FOUND);
    assert_int_equal(calls.nended, 0);
}

static void test_coa_session_timeout(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();
    struct tsess *t = mk(f, 1, true, NULL, NULL, "a", 0);
    struct timeval tv, now;

    q.coa = true;
    q.session_id = t->ss.acct_id;
    q.attrs.session_timeout = 60;
    q.attrs.n = 1;
    assert_false(evtimer_pending(t->ss.ev_life, NULL));
    assert_int_equal(sess_dae(&q, &f->m), 0);
    /* 100 s up, 60 s more: the lifetime counts from establishment */
    assert_int_equal(t->ss.session_lifetime, 160);
    assert_true(evtimer_pending(t->ss.ev_life, &tv));
    event_base_gettimeofday_cached(f->base, &now);
    assert_in_range(tv.tv_sec - now.tv_sec, 58, 61);
    assert_int_equal(calls.nchanged, 1);
    assert_int_equal(calls.nflow, 0);
    assert_int_equal(calls.nended, 0);
}

/* A Session-Timeout near the maximum (a server's "no limit") does not wrap
 * the lifetime into an end at once. */
static void test_coa_session_timeout_max(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();
    struct tsess *t = mk(f, 1, true, NULL, NULL, "a", 0);
    struct timeval tv, now;

    q.coa = true;
    q.session_id = t->ss.acct_id;
    q.attrs.session_timeout = 0xFFFFFFF0u;
    q.attrs.n = 1;
    assert_int_equal(sess_dae(&q, &f->m), 0);
    assert_int_equal(t->ss.session_lifetime, UINT32_MAX);
    assert_true(evtimer_pending(t->ss.ev_life, &tv));
    event_base_gettimeofday_cached(f->base, &now);
    assert_true(tv.tv_sec - now.tv_sec > 0xFFFFFF00 - 200);
    assert_int_equal(calls.nended, 0);
}

static void test_coa_flow_limit(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();
    struct tsess *t = mk(f, 1, true, "dave", NULL, "a", 0), *o = mk(f, 2, true, NULL, NULL, "b", 0);

    q.coa = true;
    q.user = "dave";
    q.attrs.flow_limit = 5;
    q.attrs.n = 1;
    assert_int_equal(sess_dae(&q, &f->m), 0);
    assert_int_equal(t->flow_limit, 5);
    assert_int_equal(o->flow_limit, UINT32_MAX);
    assert_int_equal(calls.nflow, 1);
    assert_int_equal(calls.nchanged, 1);
    assert_int_equal(t->ss.session_lifetime, 0);
    assert_false(evtimer_pending(t->ss.ev_life, NULL));
}

/* CoA raven:rate-limit-in/-out: the named direction changes, the other keeps
 * its own; in the dataplane at once (its limits made for the session), and
 * gone with the session. */
static void test_coa_rate_limit(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();
    struct tsess *t = mk(f, 1, true, "erin", NULL, "a", 0);
    struct dp_police_stats ps;

    f->m.dp = dp_new();
    assert_non_null(f->m.dp);
    t->ss.rate.kbps[1] = 2000;
    t->ss.rate.burst[1] = 9000;
    q.coa = true;
    q.user = "erin";
    q.attrs.rate_in = 5000;
    q.attrs.burst_in = 4000;
    q.attrs.n = 1;
    assert_int_equal(sess_dae(&q, &f->m), 0);
    assert_int_equal(t->ss.rate.kbps[0], 5000);
    assert_int_equal(t->ss.rate.burst[0], 4000);
    assert_int_equal(t->ss.rate.kbps[1], 2000);
    assert_int_equal(t->ss.rate.burst[1], 9000);
    assert_int_equal(calls.nchanged, 1);
    assert_true(t->ss.rate_in_dp);
    assert_int_equal(dp_session_police_stats(f->m.dp, 1, &ps), 0);
    /* 0 from RADIUS: no limit outbound, set as such */
    q.attrs.rate_in = 0;
    q.attrs.rate_out = AAA_RATE_NONE;
    q.attrs.burst_out = 0;
    assert_int_equal(sess_dae(&q, &f->m), 0);
    assert_int_equal(t->ss.rate.kbps[0], 5000);
    assert_int_equal(t->ss.rate.kbps[1], AAA_RATE_NONE);
    sess_rate_stats(&t->ss, &ps);
    assert_int_equal(ps.packets[0] + ps.packets[1], 0);
    /* one direction named twice: the last value, not an attribute the CoA
     * cannot apply */
    aaa_attrs_free(&q.attrs);
    q.attrs = disconnect().attrs;
    q.attrs.n += (size_t)aaa_attrs_avpair(&q.attrs, "raven:rate-limit-in=1000", 24);
    q.attrs.n += (size_t)aaa_attrs_avpair(&q.attrs, "raven:rate-limit-in=3000 burst 6000", 35);
    assert_int_equal(q.attrs.n, 2);
    assert_int_equal(sess_dae(&q, &f->m), 0);
    assert_int_equal(t->ss.rate.kbps[0], 3000);
    assert_int_equal(t->ss.rate.burst[0], 6000);
    sess_rate_release(&t->ss);
    assert_false(t->ss.rate_in_dp);
    assert_int_equal(dp_session_police_stats(f->m.dp, 1, &ps), -ENOENT);
    dp_free(f->m.dp);
    f->m.dp = NULL;
}

static void test_coa_unsupported(void **st)
{
    struct fx *f = *st;
    struct aaa_dae q = disconnect();
    struct tsess *t = mk(f, 1, true, NULL, NULL, "a", 0);

    q.coa = true;
    q.session_id = t->ss.acct_id;
    q.attrs.session_timeout = 60;
    q.attrs.flow_limit = 5;
    q.attrs.n = 3; /* and one it cannot change on a live session */
    assert_int_equal(sess_dae(&q, &f->m), AAA_EC_UNSUPPORTED_ATTRIBUTE);
    assert_int_equal(t->ss.session_lifetime, 0);
    assert_false(evtimer_pending(t->ss.ev_life, NULL));
    assert_int_equal(t->flow_limit, UINT32_MAX);
    assert_int_equal(calls.nchanged + calls.nflow + calls.nended, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_session_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_by_session_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_by_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_by_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_up_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coa_session_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coa_session_timeout_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coa_flow_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coa_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coa_unsupported, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
