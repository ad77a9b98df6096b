/* Unit tests of the alarm list (daemon/base/alarm.h) and of the pools' usage
 * alarms (daemon/pool): raised once, changed on a new severity or text, cleared
 * once; the listener hears each change and nothing else; cleared alarms kept up
 * to their bound, the most recently cleared; clearing by prefix and keep;
 * counts per type. Pools: the threshold with its hysteresis (also across
 * commits), exhaustion, a set not in force raising nothing, a pool removed
 * cleared. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/base/alarm.h"
#include "daemon/pool/pool.h"

static struct {
    int n;
    struct alarm last;
} heard;

static void listener(const struct alarm *a, void *arg)
{
    (void)arg;
    heard.n++;
    heard.last = *a;
}

static int setup(void **st)
{
    (void)st;
    alarm_reset();
    memset(&heard, 0, sizeof(heard));
    alarm_set_listener(listener, NULL);
    return 0;
}

static void test_raise_change_clear(void **st)
{
    (void)st;
    alarm_raise(ALARM_RADIUS_SERVER_DEAD, "r1", ALARM_SEV_MAJOR, "no answer from %s", "r1");
    assert_int_equal(heard.n, 1);
    assert_false(heard.last.cleared);
    assert_string_equal(heard.last.text, "no answer from r1");
    assert_int_equal(heard.last.raised, 1);
    assert_true(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, "r1"));
    assert_false(alarm_is_active(ALARM_POOL_EXHAUSTED, "r1")); /* the type is part of the key */
    /* the same again: no change */
    alarm_raise(ALARM_RADIUS_SERVER_DEAD, "r1", ALARM_SEV_MAJOR, "no answer from %s", "r1");
    assert_int_equal(heard.n, 1);
    /* a new severity is a change, not a new raise */
    alarm_raise(ALARM_RADIUS_SERVER_DEAD, "r1", ALARM_SEV_CRITICAL, "no answer from %s", "r1");
    assert_int_equal(heard.n, 2);
    assert_int_equal(heard.last.sev, ALARM_SEV_CRITICAL);
    assert_int_equal(heard.last.raised, 1);
    assert_int_equal(alarm_raised_total(ALARM_RADIUS_SERVER_DEAD), 1);
    alarm_clear(ALARM_RADIUS_SERVER_DEAD, "r1");
    assert_int_equal(heard.n, 3);
    assert_true(heard.last.cleared);
    alarm_clear(ALARM_RADIUS_SERVER_DEAD, "r1"); /* already cleared */
    alarm_clear(ALARM_RADIUS_SERVER_DEAD, "nobody");
    assert_int_equal(heard.n, 3);
    assert_int_equal(alarm_active_count(ALARM_RADIUS_SERVER_DEAD), 0);
    /* raised again: the same entry, counted twice */
    alarm_raise(ALARM_RADIUS_SERVER_DEAD, "r1", ALARM_SEV_MAJOR, "again");
    assert_int_equal(heard.last.raised, 2);
    assert_int_equal(alarm_raised_total(ALARM_RADIUS_SERVER_DEAD), 2);
    assert_int_equal(alarm_active_count(ALARM_RADIUS_SERVER_DEAD), 1);
    assert_string_equal(alarm_type_name(ALARM_RADIUS_SERVER_DEAD), "radius-server-dead");
    assert_string_equal(alarm_sev_name(ALARM_SEV_WARNING), "warning");
}

static void count(const struct alarm *a, void *arg)
{
    int *n = arg;

    n[a->cleared]++;
}

struct find {
    enum alarm_type type;
    const char *resource;
    bool found;
};

static void find_one(const struct alarm *a, void *arg)
{
    struct find *f = arg;

    f->found |= a->type == f->type && !strcmp(a->resource, f->resource);
}

/* Whether the alarm of @type and @resource is listed, active or cleared. */
static bool listed(enum alarm_type type, const char *resource)
{
    struct find f = {type, resource, false};

    alarm_foreach(find_one, &f);
    return f.found;
}

static void test_cleared_bounded_and_full(void **st)
{
    char res[32];
    int n[2] = {0, 0};

    (void)st;
    for (int i = 0; i < ALARM_KEEP_CLEARED + 10; i++) {
        snprintf(res, sizeof(res), "u%d", i);
        alarm_raise(ALARM_CRL_UNOBTAINABLE, res, ALARM_SEV_MAJOR, "x");
        alarm_clear(ALARM_CRL_UNOBTAINABLE, res);
    }
    alarm_foreach(count, n);
    assert_int_equal(n[0], 0);
    assert_int_equal(n[1], ALARM_KEEP_CLEARED);
    /* the ones cleared first went: the last ALARM_KEEP_CLEARED stay */
    for (int i = 0; i < ALARM_KEEP_CLEARED + 10; i++) {
        snprintf(res, sizeof(res), "u%d", i);
        assert_int_equal(listed(ALARM_CRL_UNOBTAINABLE, res), i >= 10);
    }
    /* raised in one order and cleared in the other: the most recently
     * cleared are kept, not the most recently raised */
    alarm_reset();
    for (int i = 0; i < ALARM_KEEP_CLEARED + 10; i++) {
        snprintf(res, sizeof(res), "v%d", i);
        alarm_raise(ALARM_CRL_UNOBTAINABLE, res, ALARM_SEV_MAJOR, "x");
    }
    for (int i = ALARM_KEEP_CLEARED + 9; i >= 0; i--) {
        snprintf(res, sizeof(res), "v%d", i);
        alarm_clear(ALARM_CRL_UNOBTAINABLE, res);
    }
    for (int i = 0; i < ALARM_KEEP_CLEARED + 10; i++) {
        snprintf(res, sizeof(res), "v%d", i);
        assert_int_equal(listed(ALARM_CRL_UNOBTAINABLE, res), i < ALARM_KEEP_CLEARED);
    }
    /* a full list of active alarms takes no more (and says so once) */
    alarm_reset();
    for (int i = 0; i < ALARM_MAX + 5; i++) {
        snprintf(res, sizeof(res), "a%d", i);
        alarm_raise(ALARM_OCSP_UNOBTAINABLE, res, ALARM_SEV_MAJOR, "x");
    }
    assert_int_equal(alarm_active_count(ALARM_OCSP_UNOBTAINABLE), ALARM_MAX);
    assert_false(alarm_is_active(ALARM_OCSP_UNOBTAINABLE, "a260"));
}

static bool keep_b(const char *res, void *arg)
{
    (void)arg;
    return !strcmp(res, "/x/b");
}

static void test_clear_unless(void **st)
{
    (void)st;
    alarm_raise(ALARM_INTERFACE_DOWN, "/x/a", ALARM_SEV_MAJOR, "down");
    alarm_raise(ALARM_INTERFACE_DOWN, "/x/b", ALARM_SEV_MAJOR, "down");
    alarm_raise(ALARM_INTERFACE_DOWN, "/y/c", ALARM_SEV_MAJOR, "down");
    alarm_raise(ALARM_XDP_DETACHED, "/x/a", ALARM_SEV_MAJOR, "gone");
    alarm_clear_unless(ALARM_INTERFACE_DOWN, "/x/", keep_b, NULL);
    assert_false(alarm_is_active(ALARM_INTERFACE_DOWN, "/x/a"));
    assert_true(alarm_is_active(ALARM_INTERFACE_DOWN, "/x/b"));
    assert_true(alarm_is_active(ALARM_INTERFACE_DOWN, "/y/c"));
    assert_true(alarm_is_active(ALARM_XDP_DETACHED, "/x/a"));
    alarm_clear_unless(ALARM_INTERFACE_DOWN, NULL, NULL, NULL);
    assert_int_equal(alarm_active_count(ALARM_INTERFACE_DOWN), 0);
}

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define RES "/raven-vpn:pools/ipv4-pool[name='p']"

static void test_pool_usage(void **st)
{
    struct pool_set *ps = pool_set_new(), *nw = pool_set_new();
    struct pool *p = pool_set_add(ps, "p", 0);
    uint32_t a[20];
    int n;

    (void)st;
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 0, 1), A(10, 0, 0, 20)), 0);
    /* not in force: nothing raised */
    for (int i = 0; i < 20; i++)
        assert_int_equal(pool_alloc(ps, "p", 1 + (uint64_t)i, &a[i]), 0);
    assert_int_equal(heard.n, 0);
    for (int i = 19; i >= 0; i--)
        assert_true(pool_release(ps, "p", a[i]));
    pool_set_alarms(ps, NULL, 0, 50);
    for (int i = 0; i < 9; i++)
        assert_int_equal(pool_alloc(ps, "p", 1 + (uint64_t)i, &a[i]), 0);
    assert_false(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    assert_int_equal(pool_alloc(ps, "p", 10, &a[9]), 0); /* 10 of 20: 50 % */
    assert_true(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    assert_int_equal(heard.n, 1);
    assert_true(pool_release(ps, "p", a[9])); /* 45 %: within the hysteresis */
    assert_true(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    assert_int_equal(pool_alloc(ps, "p", 10, &a[9]), 0);
    assert_int_equal(heard.n, 1); /* its text does not change with the count */
    for (int i = 10; i < 20; i++)
        assert_int_equal(pool_alloc(ps, "p", 1 + (uint64_t)i, &a[i]), 0);
    assert_true(alarm_is_active(ALARM_POOL_EXHAUSTED, RES));
    assert_int_equal(pool_alloc(ps, "p", 99, &a[0]) == -ENOSPC, 1);
    assert_true(pool_release(ps, "p", a[19]));
    assert_false(alarm_is_active(ALARM_POOL_EXHAUSTED, RES));
    for (int i = 18; i >= 9; i--)
        assert_true(pool_release(ps, "p", a[i])); /* 9 of 20: 45 % */
    assert_true(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    assert_true(pool_release(ps, "p", a[8])); /* 40 %: below 45 */
    assert_false(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    /* a higher threshold clears at once; a configuration without the pool clears it */
    assert_int_equal(pool_alloc(ps, "p", 9, &a[8]), 0);
    assert_int_equal(pool_alloc(ps, "p", 10, &a[9]), 0);
    assert_true(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    pool_set_alarms(ps, NULL, 50, 60);
    assert_false(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    pool_set_alarms(ps, NULL, 60, 10);
    assert_true(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    /* within the hysteresis (9 of 20: 45 %, threshold 50, cleared below
     * 45): a commit that keeps or lowers the threshold keeps the alarm, one
     * that raises it above the usage clears it */
    pool_set_alarms(ps, NULL, 10, 50);
    assert_true(pool_release(ps, "p", a[9]));
    assert_true(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    n = heard.n;
    pool_set_alarms(ps, NULL, 50, 50);
    assert_true(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    pool_set_alarms(ps, NULL, 50, 48);
    assert_true(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    assert_int_equal(heard.n, n);
    pool_set_alarms(ps, NULL, 48, 49);
    assert_false(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    pool_set_alarms(nw, NULL, 49, 10);
    assert_false(alarm_is_active(ALARM_POOL_USAGE_HIGH, RES));
    pool_set_free(ps);
    pool_set_free(nw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_raise_change_clear, setup),
        cmocka_unit_test_setup(test_cleared_bounded_and_full, setup),
        cmocka_unit_test_setup(test_clear_unless, setup),
        cmocka_unit_test_setup(test_pool_usage, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
