/* Child SAs of sessions in the dataplane (daemon/session/sess_child.c): a
 * session manager with a mock ops table standing in for the IKE engine, a real
 * in-process dataplane (no interfaces) and a real session arena on /dev/shm. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/dp.h"
#include "daemon/base/log.h"
#include "daemon/session/sess.h"
#include "daemon/session/sess_arena.h"

/* ---- the mock IKE engine ---- */

struct mock {
    uint64_t packets;       /* what ops->traffic says every session carried */
    char ended[4][32];      /* reasons of ops->end, in order */
    uint64_t ended_id[4];
    size_t nended;
    struct vol {
        uint32_t spi;
        bool inbound, hard;
        uint64_t id;
    } vol[8];
    size_t nvol;
};
static struct mock mk;

static void m_end(struct sess *ss, const char *reason, bool notify)
{
    assert_true(notify);
    if (mk.nended < 4) {
        snprintf(mk.ended[mk.nended], sizeof(mk.ended[0]), "%s", reason);
        mk.ended_id[mk.nended] = ss->id;
    }
    mk.nended++;
    sess_del(ss);
}

static bool m_up(const struct sess *ss)
{
    (void)ss;
    return true;
}

static void m_traffic(const struct sess *ss, struct sess_traffic *t)
{
    (void)ss;
    *t = (struct sess_traffic){.in_packets = mk.packets, .out_packets = 1};
}

static void m_child_volume(struct sess *ss, bool inbound, uint32_t spi, bool hard)
{
    if (mk.nvol < 8)
        mk.vol[mk.nvol] = (struct vol){.spi = spi, .inbound = inbound, .hard = hard, .id = ss->id};
    mk.nvol++;
}

static const struct sess_ops ops = {.end = m_end, .up = m_up, .traffic = m_traffic, .child_volume = m_child_volume};

/* ---- fixture: manager, dataplane, arena ---- */

struct fx {
    struct event_base *base;
    struct dp *dp;
    struct sess_arena *a;
    struct sess_mgr m;
    struct sess ss;
    char dir[32], path[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct sess_arena_opts o = {.owner = "unit", .max_records = 4, .max_sas = 4};
    enum sess_arena_found found;
    char why[256];

    assert_non_null(f);
    memset(&mk, 0, sizeof(mk));
    log_set_level(LOG_LVL_ERR);
    strcpy(f->dir, "/dev/shm/raven-unit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/arena", f->dir);
    o.path = f->path;
    assert_int_equal(sess_arena_open(&o, &f->a, &found, why, sizeof(why)), 0);
    assert_non_null(f->base = event_base_new());
    assert_non_null(f->dp = dp_new());
    sess_mgr_init(&f->m, f->base, &ops);
    sess_mgr_set_dp(&f->m, f->dp, f->a);
    assert_true(sess_init(&f->ss, &f->m));
    f->ss.id = 7;
    sess_add(&f->ss);
    *state = f;
    return 0;
}

/* Also when an assertion failed half way: nothing left on /dev/shm. */
static int teardown(void **state)
{
    struct fx *f = *state;

    sess_release(&f->ss);
    dp_free(f->dp);
    if (f->a)
        sess_arena_destroy(f->a);
    unlink(f->path);
    rmdir(f->dir);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* The two SAs of a child as the IKE engine would build them. */
static void sas(const struct sess *ss, struct sess_child *c, struct dp_sa *in, struct dp_sa *out)
{
    *in = (struct dp_sa){.spi = c->spi_in, .inbound = true, .session_id = ss->id, .cipher = DP_CIPHER_AES_GCM_16,
                         .key_len = 20, .soft_packets = 100};
    *out = (struct dp_sa){.spi = c->spi_out, .session_id = ss->id, .cipher = DP_CIPHER_AES_GCM_16, .key_len = 20,
                          .soft_packets = 100};
}

/* Installing puts both SAs in the dataplane, their state in two arena slots;
 * removing takes them out and gives the slots back. */
static void test_install_remove(void **state)
{
    struct fx *f = *state;
    struct sess_child c = {.spi_in = 0x1000, .spi_out = 0x2000};
    struct dp_sa in, out;
    struct dp_sa_stats st;

    sas(&f->ss, &c, &in, &out);
    assert_true(sess_child_install(&f->ss, &c, &in, &out));
    assert_true(c.in_dp);
    assert_int_equal(dp_sa_stats(f->dp, 7, 0x1000, true, &st), 0);
    assert_int_equal(dp_sa_stats(f->dp, 7, 0x2000, false, &st), 0);
    assert_int_not_equal(c.live_in, 0);
    assert_int_not_equal(c.live_out, 0);
    assert_int_not_equal(c.live_in, c.live_out);
    assert_int_equal(sess_arena_sa_used(f->a), 2);
    /* the dataplane keeps the SAs' state in the slots */
    sess_arena_sa(f->a, c.live_out - 1)->ctr[0].packets = 5;
    assert_int_equal(dp_sa_stats(f->dp, 7, 0x2000, false, &st), 0);
    assert_int_equal(st.packets, 5);

    sess_child_remove(&f->ss, &c);
    assert_false(c.in_dp);
    assert_int_equal(dp_sa_count(f->dp), 0);
    assert_int_equal(c.live_in, 0);
    assert_int_equal(c.live_out, 0);
    assert_int_equal(sess_arena_sa_used(f->a), 0);
    assert_int_equal(c.base_out.packets, 5); /* its final traffic stays the child's */
}

/* An install that fails (its inbound SPI taken, or its outbound SA's name)
 * leaves neither SA in the dataplane and takes no slot. */
static void test_install_fails(void **state)
{
    struct fx *f = *state;
    struct sess_child c = {.spi_in = 0x1000, .spi_out = 0x2000}, d = {.spi_in = 0x1000, .spi_out = 0x2001},
                      e = {.spi_in = 0x1001, .spi_out = 0x2000};
    struct dp_sa in, out;
    struct dp_sa_stats st;

    sas(&f->ss, &c, &in, &out);
    assert_true(sess_child_install(&f->ss, &c, &in, &out));
    sas(&f->ss, &d, &in, &out);
    assert_false(sess_child_install(&f->ss, &d, &in, &out)); /* its inbound SA fails */
    assert_false(d.in_dp);
    assert_int_equal(d.live_in + d.live_out, 0);
    assert_int_equal(dp_sa_stats(f->dp, 7, 0x2001, false, &st), -ENOENT);
    sas(&f->ss, &e, &in, &out);
    assert_false(sess_child_install(&f->ss, &e, &in, &out)); /* its outbound SA fails */
    assert_false(e.in_dp);
    assert_int_equal(e.live_in + e.live_out, 0);
    assert_int_equal(dp_sa_stats(f->dp, 7, 0x1001, true, &st), -ENOENT);
    assert_int_equal(dp_sa_count(f->dp), 2); /* the first child's only */
    assert_int_equal(sess_arena_sa_used(f->a), 2);
    sess_child_remove(&f->ss, &c);
    assert_int_equal(sess_arena_sa_used(f->a), 0);
}

/* With the arena's SA slots used up the child is still installed, without
 * slots (it does not survive a restart); the warning is logged once. */
static void test_arena_full(void **state)
{
    struct fx *f = *state;
    struct sess_child c = {.spi_in = 0x1000, .spi_out = 0x2000}, d = {.spi_in = 0x1001, .spi_out = 0x2001},
                      e = {.spi_in = 0x1002, .spi_out = 0x2002};
    struct dp_sa in, out;

    sas(&f->ss, &c, &in, &out);
    assert_true(sess_child_install(&f->ss, &c, &in, &out));
    sas(&f->ss, &d, &in, &out);
    assert_true(sess_child_install(&f->ss, &d, &in, &out));
    assert_int_equal(sess_arena_sa_used(f->a), 4);
    assert_false(f->m.arena_full_logged);
    sas(&f->ss, &e, &in, &out);
    assert_true(sess_child_install(&f->ss, &e, &in, &out));
    assert_true(e.in_dp);
    assert_int_equal(e.live_in + e.live_out, 0);
    assert_true(f->m.arena_full_logged);
    assert_int_equal(dp_sa_count(f->dp), 6);
    sess_child_remove(&f->ss, &e);
    sess_child_remove(&f->ss, &d);
    sess_child_remove(&f->ss, &c);
    assert_int_equal(dp_sa_count(f->dp), 0);
    assert_int_equal(sess_arena_sa_used(f->a), 0);
}

/* A child's traffic: the dataplane's counters plus those of the SAs it
 * replaced. */
static void test_stats(void **state)
{
    struct fx *f = *state;
    struct sess_child c = {.spi_in = 0x1000, .spi_out = 0x2000};
    struct dp_sa in, out;
    struct dp_sa_stats si, so;
    struct dp_sa_live *l;

    sas(&f->ss, &c, &in, &out);
    assert_true(sess_child_install(&f->ss, &c, &in, &out));
    c.base_in = (struct dp_sa_stats){.packets = 10, .bytes = 1000, .replay_drops = 1, .auth_failures = 2,
                                     .selector_drops = 3};
    c.base_out = (struct dp_sa_stats){.packets = 20, .bytes = 2000};
    l = sess_arena_sa(f->a, c.live_in - 1);
    l->ctr[0].packets = 1;
    l->ctr[3].packets = 2;
    l->ctr[0].bytes = 300;
    l->ctr[1].replay = 4;
    sess_arena_sa(f->a, c.live_out - 1)->ctr[2].bytes = 50;
    sess_child_stats(&f->ss, &c, &si, &so);
    assert_int_equal(si.packets, 13);
    assert_int_equal(si.bytes, 1300);
    assert_int_equal(si.replay_drops, 5);
    assert_int_equal(si.auth_failures, 2);
    assert_int_equal(si.selector_drops, 3);
    assert_int_equal(so.packets, 20);
    assert_int_equal(so.bytes, 2050);
    sess_child_remove(&f->ss, &c);
}

/* A session idle for its idle-time ends ("idle-timeout"); one whose traffic
 * changed does not, and its idle time starts again. */
static void test_idle(void **state)
{
    struct fx *f = *state;
    struct sess busy = {0};
    time_t now = time(NULL);

    assert_true(sess_init(&busy, &f->m));
    busy.id = 8;
    sess_add(&busy);
    f->ss.idle_time = busy.idle_time = 60;
    mk.packets = 3;
    sess_dp_poll(&f->m); /* the first look: traffic noted, nothing ended */
    assert_int_equal(f->ss.idle_traffic, 4);
    assert_true(f->ss.idle_since >= now);
    assert_int_equal(mk.nended, 0);
    f->ss.idle_since = busy.idle_since = now - 30;
    sess_dp_poll(&f->m); /* idle for half its time */
    assert_int_equal(mk.nended, 0);
    f->ss.idle_since = now - 61;
    busy.idle_since = now - 61;
    busy.idle_traffic = 2; /* it carried packets since */
    sess_dp_poll(&f->m);
    assert_int_equal(mk.nended, 1);
    assert_string_equal(mk.ended[0], "idle-timeout");
    assert_int_equal(mk.ended_id[0], 7);
    assert_true(busy.idle_since >= now); /* its idle time starts again */
    assert_int_equal(busy.idle_traffic, 4);
    assert_non_null(sess_find(&f->m, 8));
    sess_release(&busy);
}

/* SAs past their soft or hard volume limit are handed to the engine
 * (ops->child_volume) once, with their session. */
static void test_volume(void **state)
{
    struct fx *f = *state;
    struct sess_child c = {.spi_in = 0x1000, .spi_out = 0x2000};
    struct dp_sa in, out;

    sas(&f->ss, &c, &in, &out);
    assert_true(sess_child_install(&f->ss, &c, &in, &out));
    sess_arena_sa(f->a, c.live_in - 1)->ctr[0].packets = 100; /* its soft limit */
    sess_arena_sa(f->a, c.live_out - 1)->expired = 1;         /* its hard one, as a worker marks it */
    sess_dp_poll(&f->m);
    assert_int_equal(mk.nvol, 2);
    assert_int_equal(mk.vol[0].spi, 0x1000);
    assert_true(mk.vol[0].inbound);
    assert_false(mk.vol[0].hard);
    assert_int_equal(mk.vol[0].id, 7);
    assert_int_equal(mk.vol[1].spi, 0x2000);
    assert_false(mk.vol[1].inbound);
    assert_true(mk.vol[1].hard);
    sess_dp_poll(&f->m); /* reported once */
    assert_int_equal(mk.nvol, 2);
    sess_child_remove(&f->ss, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_install_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_install_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volume, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
