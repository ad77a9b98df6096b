/* Unit tests of the cluster member's state machine (daemon/cluster/cluster.c)
 * against a real etcd (the bench of tests/unit/etcd_harness.c): joining (the
 * lease, the member key with its record, the member listed from the watch),
 * the session count put at most once a second however often it moves, a
 * lease revoked behind the member's back (granted again, the member key and
 * every session key put again), records of others read from the watch (a bad
 * one ignored and counted once per revision, a partition conflict raised and
 * cleared; where a moved session goes), etcd stopped (unreachable with the
 * alarm, no member listed), and leaving (the keys gone at once). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "daemon/base/alarm.h"
#include "daemon/cluster/cluster.h"
#include "daemon/cluster/etcd.h"
#include "tests/unit/etcd_harness.h"

/* A range with whole values. */
struct full {
    int calls;
    bool ok;
    size_t n;
    char keys[16][96], vals[16][256];
    int64_t leases[16];
};

static void full_cb(void *arg, bool ok, const struct etcd_kv *kvs, size_t n, int64_t revision, const char *err)
{
    struct full *f = arg;

    (void)revision;
    (void)err;
    f->calls++;
    f->ok = ok;
    f->n = n;
    for (size_t i = 0; i < n && i < 16; i++) {
        snprintf(f->keys[i], sizeof(f->keys[i]), "%s", kvs[i].key);
        snprintf(f->vals[i], sizeof(f->vals[i]), "%.*s", (int)kvs[i].vlen, kvs[i].val);
        f->leases[i] = kvs[i].lease;
    }
}

static struct etcd *ctl; /* the test's own client */

static struct full range(const char *prefix)
{
    struct full f = {0};

    assert_int_equal(etcd_range_prefix(ctl, prefix, full_cb, &f), 0);
    assert_true(loop_until(&f.calls, 1, 5000));
    assert_true(f.ok);
    return f;
}

/* The value of @key, or NULL. */
static const char *value(const struct full *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++) {
        if (!strcmp(f->keys[i], key))
            return f->vals[i];
    }
    return NULL;
}

static int resyncs;

static void resync(struct cluster *c, void *arg)
{
    struct cluster_session s = {.user = "alice", .naddr = 1, .addr = {"10.9.0.5"}};

    (void)arg;
    resyncs++;
    cluster_session_put(c, 7, &s);
    cluster_set_sessions(c, 1);
}

static struct cluster *join(struct etcd_proc *p, const char *name, const char *prefix, unsigned ttl, int partition)
{
    const char *eps[] = {p->url};
    struct etcd_conf ec = {.endpoints = eps, .nendpoints = 1, .timeout_ms = 1000};
    struct cluster_conf cc = {.name = name, .address = "10.0.0.1", .prefix = prefix, .capacity = 10,
                              .lease_ttl = ttl, .partition = partition};
    char err[256] = "";
    struct etcd *e = etcd_new(base, &ec, err, sizeof(err));
    struct cluster *c;

    assert_non_null(e);
    c = cluster_new(base, e, &cc, resync, NULL);
    assert_non_null(c);
    return c;
}

static bool connected(const struct cluster *c)
{
    struct cluster_info i;

    cluster_info(c, &i);
    return i.state == CLUSTER_CONNECTED;
}

/* Runs the loop until @pred holds (checked every 50 ms), at most @ms. */
static bool loop_while_not(bool (*pred)(const void *arg), const void *arg, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        if (pred(arg))
            return true;
        loop_for(50);
    }
    return pred(arg);
}

static bool is_connected(const void *c)
{
    return connected(c);
}

static bool is_unreachable(const void *c)
{
    struct cluster_info i;

    cluster_info(c, &i);
    return i.state == CLUSTER_UNREACHABLE;
}

static int setup(void **state)
{
    struct etcd_conf c = {0};
    const char *eps[1];

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (access(ETCD_BIN, X_OK) || access(ETCDCTL_BIN, X_OK)) {
        fprintf(stderr, "etcd or etcdctl missing (packages etcd-server, etcd-client)\n");
        return -1;
    }
    if (!mkdtemp(tmpdir) || !(base = event_base_new()))
        return -1;
    etcd_start(&plain, "plain", false);
    eps[0] = plain.url;
    c.endpoints = eps;
    c.nendpoints = 1;
    c.timeout_ms = 1000;
    wait_ready(&c);
    ctl = plain_client();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    etcd_free(ctl);
    proc_stop(&plain);
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (base)
        event_base_free(base);
    alarm_reset();
    return 0;
}

static void test_join_and_count(void **st)
{
    struct cluster *c = join(&plain, "n1", "/t1/", 60, 3);
    struct full f;
    const struct cluster_member *m;
    struct cluster_info i;
    uint64_t w0;
    size_t n;

    (void)st;
    resyncs = 0;
    assert_true(loop_while_not(is_connected, c, 5000));
    assert_int_equal(resyncs, 1);
    f = range("/t1/");
    assert_non_null(value(&f, "/t1/members/n1"));
    assert_non_null(strstr(value(&f, "/t1/members/n1"), "\"sessions\":1"));
    assert_non_null(strstr(value(&f, "/t1/members/n1"), "\"partition\":3"));
    assert_non_null(strstr(value(&f, "/t1/sessions/n1/7"), "\"alice\""));
    m = cluster_members(c, &n);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].name, "n1");
    assert_int_equal(m[0].capacity, 10);

    /* the count moves five times in a moment: one put, a second after the last */
    loop_for(1100);
    cluster_info(c, &i);
    w0 = i.writes;
    for (uint32_t k = 2; k <= 6; k++) {
        cluster_set_sessions(c, k);
        loop_for(20);
    }
    cluster_info(c, &i);
    assert_int_equal(i.writes - w0, 1); /* the first at once: the last put was over a second ago */
    loop_for(1300);
    cluster_info(c, &i);
    assert_int_equal(i.writes - w0, 2); /* the rest in one */
    f = range("/t1/members/");
    assert_non_null(strstr(value(&f, "/t1/members/n1"), "\"sessions\":6"));
    cluster_free(c);
}

static void test_lease_revoked_behind_its_back(void **st)
{
    struct cluster *c = join(&plain, "n2", "/t2/", 3, -1);
    struct full f;
    struct res r = {0};
    int64_t lease;

    (void)st;
    resyncs = 0;
    assert_true(loop_while_not(is_connected, c, 5000));
    f = range("/t2/");
    assert_int_equal(f.n, 2);
    lease = f.leases[0];
    assert_true(lease != 0);
    assert_int_equal(etcd_lease_revoke(ctl, lease, done_cb, &r), 0);
    assert_true(loop_until(&r.calls, 1, 5000));
    assert_true(r.ok);
    assert_int_equal(range("/t2/").n, 0);
    /* its next keep-alive (a third of the TTL) finds out: a new lease, both keys again */
    for (int t = 0; t < 4000 && range("/t2/").n < 2; t += 100)
        loop_for(100);
    f = range("/t2/");
    assert_int_equal(f.n, 2);
    assert_true(f.leases[0] != lease && f.leases[0] == f.leases[1]);
    assert_int_equal(resyncs, 2);
    assert_true(connected(c));
    cluster_free(c);
}

static bool has_member(const void *arg)
{
    const struct cluster *c = arg;
    size_t n;
    const struct cluster_member *m = cluster_members(c, &n);

    for (size_t i = 0; i < n; i++) {
        if (!strcmp(m[i].name, "x"))
            return true;
    }
    return false;
}

static bool ignored_is(const struct cluster *c, uint64_t want)
{
    struct cluster_info i;

    for (int t = 0; t < 3000; t += 50) {
        cluster_info(c, &i);
        if (i.ignored == want)
            return true;
        loop_for(50);
    }
    return false;
}

static void test_records_of_others(void **st)
{
    struct cluster *c = join(&plain, "n3", "/t3/", 60, 2);
    char redirect[64];

    (void)st;
    assert_true(loop_while_not(is_connected, c, 5000));
    assert_true(do_put(ctl, "/t3/members/x", "{\"name\":\"x\",\"capacity\":5}", 0).ok);
    assert_true(ignored_is(c, 1));
    assert_true(do_put(ctl, "/t3/members/x", "{\"name\":\"x\",\"capacity\":5}", 0).ok); /* a new revision */
    assert_true(ignored_is(c, 2));
    assert_false(has_member(c));
    /* a valid one, claiming this member's partition */
    assert_true(do_put(ctl, "/t3/members/x", "{\"name\":\"x\",\"address\":\"10.0.0.9\",\"sessions\":0,"
                                             "\"capacity\":5,\"health\":\"up\",\"partition\":2}", 0).ok);
    assert_true(loop_while_not(has_member, c, 3000));
    assert_true(alarm_is_active(ALARM_CLUSTER_PARTITION_CONFLICT, "x"));
    /* no cluster-address and not draining: nobody redirected; another member for a moved session */
    assert_false(cluster_redirect_init(c, NULL, redirect, sizeof(redirect)));
    assert_true(cluster_redirect_other(c, redirect, sizeof(redirect)));
    assert_string_equal(redirect, "10.0.0.9");
    assert_true(do_delete(ctl, "/t3/members/x", false).ok);
    for (int t = 0; t < 3000 && has_member(c); t += 50)
        loop_for(50);
    assert_false(has_member(c));
    assert_false(alarm_is_active(ALARM_CLUSTER_PARTITION_CONFLICT, "x"));
    assert_false(cluster_redirect_other(c, redirect, sizeof(redirect)));
    cluster_free(c);
}

static void test_etcd_stopped(void **st)
{
    struct etcd_proc p = {0};
    struct cluster *c;

    (void)st;
    etcd_start(&p, "own", false);
    {
        const char *eps[] = {p.url};
        struct etcd_conf ec = {.endpoints = eps, .nendpoints = 1, .timeout_ms = 1000};

        wait_ready(&ec);
    }
    c = join(&p, "n4", "/t4/", 3, -1);
    assert_true(loop_while_not(is_connected, c, 5000));
    proc_stop(&p);
    assert_true(loop_while_not(is_unreachable, c, 5000));
    assert_true(alarm_is_active(ALARM_CLUSTER_ETCD_UNREACHABLE, "/raven-vpn:cluster"));
    {
        size_t n;

        cluster_members(c, &n);
        assert_int_equal(n, 0);
    }
    cluster_free(c);
    alarm_reset();
}

static int gone_calls;

static void on_gone(struct cluster *c, void *arg)
{
    (void)c;
    (void)arg;
    gone_calls++;
}

static void test_leave(void **st)
{
    struct cluster *c = join(&plain, "n5", "/t5/", 60, -1);

    (void)st;
    assert_true(loop_while_not(is_connected, c, 5000));
    assert_int_equal(range("/t5/").n, 2);
    gone_calls = 0;
    cluster_leave(c, on_gone, NULL);
    assert_true(loop_until(&gone_calls, 1, 4000));
    assert_int_equal(range("/t5/").n, 0); /* revoked: no waiting for the 60 s TTL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_and_count),       cmocka_unit_test(test_lease_revoked_behind_its_back),
        cmocka_unit_test(test_records_of_others),    cmocka_unit_test(test_etcd_stopped),
        cmocka_unit_test(test_leave),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
