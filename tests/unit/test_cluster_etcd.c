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
#include <curl/curl.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>

#include "daemon/base/alarm.h"
#include "daemon/cluster/cluster.h"
#include "daemon/cluster/etcd.h"
#include "daemon/cluster/etcd_int.h"
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
/* The keys under @prefix once there are at least @n of them (a member's
 * session keys are written after it connects, paced), or after @ms. */
static struct full range_n(const char *prefix, size_t n, int ms)
{
    struct full f = range(prefix);

    for (int t = 0; f.n < n && t < ms; t += 50) {
        loop_for(50);
        f = range(prefix);
    }
    return f;
}

static const char *value(const struct full *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++) {
        if (!strcmp(f->keys[i], key))
            return f->vals[i];
    }
    return NULL;
}

static int resyncs;
static uint32_t own_sessions = 1; /* the sessions the resync puts */

static void resync(struct cluster *c, void *arg)
{
    struct cluster_session s = {.user = "alice", .naddr = 1, .addr = {"10.9.0.5"}};

    (void)arg;
    resyncs++;
    for (uint32_t i = 0; i < own_sessions; i++)
        cluster_session_put(c, 7 + i, &s);
    cluster_set_sessions(c, own_sessions);
}

static size_t curl_sink(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* @n session keys of member @name under @prefix, under @lease, written by
 * transactions of 128 puts straight to the gateway (the fastest way in). */
static void sessions_write(const char *url, const char *prefix, const char *name, int n, int64_t lease)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    char u[128], key[128], val[160];

    assert_non_null(h);
    snprintf(u, sizeof(u), "%s/v3/kv/txn", url);
    for (int i = 0; i < n; i += 128) {
        json_t *ops = json_array(), *j;
        char *body;
        long status = 0;

        for (int k = i; k < i + 128 && k < n; k++) {
            snprintf(key, sizeof(key), "%ssessions/%s/%d", prefix, name, k + 1);
            snprintf(val, sizeof(val), "{\"user\":\"someone-%05d@users.example.com\",\"addresses\":[\"10.%d.%d.%d\"]}",
                     k, 100 + k / 65536, (k / 256) % 256, k % 256);
            json_array_append_new(ops, json_pack("{s:{s:o,s:o,s:o}}", "request_put", "key",
                                                 etcd_json_b64(key, strlen(key)), "value",
                                                 etcd_json_b64(val, strlen(val)), "lease", etcd_json_i64str(lease)));
        }
        j = json_pack("{s:o}", "success", ops);
        body = json_dumps(j, JSON_COMPACT);
        curl_easy_setopt(h, CURLOPT_URL, u);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_sink);
        assert_int_equal(curl_easy_perform(h), CURLE_OK);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        assert_int_equal(status, 200);
        free(body);
        json_decref(j);
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
}

static void count_one(const char *member, uint64_t id, const struct cluster_session *s, void *arg)
{
    (void)member;
    (void)id;
    (void)s;
    (*(size_t *)arg)++;
}

static size_t sessions_known(const struct cluster *c)
{
    size_t n = 0;

    cluster_foreach_session(c, count_one, &n);
    return n;
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
    f = range_n("/t1/", 2, 5000);
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
    f = range_n("/t2/", 2, 5000);
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
    assert_int_equal(range_n("/t5/", 2, 5000).n, 2);
    gone_calls = 0;
    cluster_leave(c, on_gone, NULL);
    assert_true(loop_until(&gone_calls, 1, 4000));
    assert_int_equal(range("/t5/").n, 0); /* revoked: no waiting for the 60 s TTL */
}

static bool sessions_are(const struct cluster *c, size_t want, int ms)
{
    for (int t = 0; t < ms && sessions_known(c) != want; t += 50)
        loop_for(50);
    return sessions_known(c) == want;
}

/* 20000 session keys of another member (over 4 MiB as one range answer) are
 * read in pages; that member's lease revoked deletes them all in one revision
 * (a watch message over 1 MiB), and the watch goes on. The member's own 3000
 * sessions are put paced, none lost to a time-out. */
static void test_many_sessions(void **st)
{
    struct res g = {0}, r = {0};
    struct cluster *c;
    struct cluster_info i0, i1;
    struct full f;

    (void)st;
    assert_int_equal(etcd_lease_grant(ctl, 120, lease_cb, &g), 0);
    assert_true(loop_until(&g.calls, 1, 5000));
    assert_true(g.ok);
    sessions_write(plain.url, "/t6/", "big", 20000, g.lease);
    assert_true(do_put(ctl, "/t6/members/big", "{\"name\":\"big\",\"address\":\"10.0.0.8\",\"sessions\":20000,"
                                               "\"capacity\":30000,\"health\":\"up\"}", g.lease).ok);
    own_sessions = 3000;
    resyncs = 0;
    c = join(&plain, "n6", "/t6/", 60, -1);
    assert_true(loop_while_not(is_connected, c, 15000));
    assert_true(sessions_are(c, 23000, 20000));
    assert_int_equal(resyncs, 1);
    f = range("/t6/members/");
    assert_int_equal(f.n, 2);
    cluster_info(c, &i0);
    /* the big member leaves: 20000 deletes in one revision */
    assert_int_equal(etcd_lease_revoke(ctl, g.lease, done_cb, &r), 0);
    assert_true(loop_until(&r.calls, 1, 10000));
    assert_true(r.ok);
    assert_true(sessions_are(c, 3000, 10000));
    assert_false(has_member(c)); /* no "x" */
    cluster_info(c, &i1);
    assert_int_equal(i1.watches, i0.watches); /* the same watch: not lost, ranged again */
    assert_int_equal(resyncs, 1);
    own_sessions = 1;
    cluster_free(c);
}

static bool seven_lease(int64_t *lease)
{
    struct full f = range("/t7/members/n7");

    *lease = f.n ? f.leases[0] : 0;
    return f.n == 1;
}

/* etcd frozen for longer than a request's time-out but less than the lease's
 * TTL: a session put and keep-alives fail meanwhile; the put is sent again
 * and the lease kept (no new lease, no resync, not unreachable). */
static void test_writes_retried(void **st)
{
    struct cluster_session s = {.user = "bob", .naddr = 1, .addr = {"10.9.0.6"}};
    struct cluster *c;
    struct cluster_info i;
    int64_t l0, l1;
    struct full f;

    (void)st;
    resyncs = 0;
    c = join(&plain, "n7", "/t7/", 8, -1);
    assert_true(loop_while_not(is_connected, c, 5000));
    assert_true(seven_lease(&l0));
    kill(plain.pid, SIGSTOP);
    cluster_session_put(c, 8, &s);
    loop_for(4000); /* the put timed out (1 s), a keep-alive too (sent at 2.7 s) */
    kill(plain.pid, SIGCONT);
    for (int t = 0; t < 8000; t += 100) {
        f = range("/t7/sessions/");
        if (value(&f, "/t7/sessions/n7/8"))
            break;
        loop_for(100);
    }
    assert_non_null(value(&f, "/t7/sessions/n7/8"));
    assert_non_null(value(&f, "/t7/sessions/n7/7"));
    assert_true(seven_lease(&l1));
    assert_true(l1 == l0);
    assert_int_equal(resyncs, 1);
    assert_true(connected(c));
    assert_false(alarm_is_active(ALARM_CLUSTER_ETCD_UNREACHABLE, "/raven-vpn:cluster"));
    cluster_info(c, &i);
    assert_string_equal(i.error, "");
    cluster_free(c);
}

/* A client sent to a member counts there until its record says otherwise, or
 * for 2 s when its count does not move. */
static void test_bump_expires(void **st)
{
    struct cluster *c = join(&plain, "n8", "/t8/", 60, -1);
    char gw[64];

    (void)st;
    assert_true(loop_while_not(is_connected, c, 5000));
    assert_true(do_put(ctl, "/t8/members/p", "{\"name\":\"p\",\"address\":\"10.0.0.21\",\"sessions\":0,"
                                             "\"capacity\":5,\"health\":\"up\"}", 0).ok);
    assert_true(do_put(ctl, "/t8/members/q", "{\"name\":\"q\",\"address\":\"10.0.0.22\",\"sessions\":0,"
                                             "\"capacity\":5,\"health\":\"up\"}", 0).ok);
    for (int t = 0; t < 3000; t += 50) {
        size_t n;

        cluster_members(c, &n);
        if (n == 3)
            break;
        loop_for(50);
    }
    assert_true(cluster_redirect_other(c, gw, sizeof(gw)));
    assert_string_equal(gw, "10.0.0.21");
    assert_true(cluster_redirect_other(c, gw, sizeof(gw)));
    assert_string_equal(gw, "10.0.0.22"); /* p counted one more */
    assert_true(cluster_redirect_other(c, gw, sizeof(gw)));
    assert_string_equal(gw, "10.0.0.21");
    loop_for(2100); /* nobody's count moved: what was counted (p 2, q 1) is forgotten */
    assert_true(cluster_redirect_other(c, gw, sizeof(gw)));
    assert_string_equal(gw, "10.0.0.21");
    /* p's own record: its count replaces what was counted there */
    assert_true(do_put(ctl, "/t8/members/p", "{\"name\":\"p\",\"address\":\"10.0.0.21\",\"sessions\":1,"
                                             "\"capacity\":5,\"health\":\"up\"}", 0).ok);
    loop_for(300);
    assert_true(cluster_redirect_other(c, gw, sizeof(gw)));
    assert_string_equal(gw, "10.0.0.22"); /* p 1, q 0 */
    assert_true(cluster_redirect_other(c, gw, sizeof(gw)));
    assert_string_equal(gw, "10.0.0.21"); /* p 1, q 1 counted: ties by name */
    assert_true(do_delete(ctl, "/t8/", true).ok);
    cluster_free(c);
}

static bool nine_lease(int64_t *lease, char *val, size_t vlen)
{
    struct full f = range("/t9/members/n9");

    *lease = f.n ? f.leases[0] : 0;
    snprintf(val, vlen, "%s", f.n ? f.vals[0] : "");
    return f.n == 1;
}

/* draining and capacity changed in place: the same lease, the record put at
 * once, a drained member redirects the next client at once */
static void test_update_in_place(void **st)
{
    struct cluster_conf cc = {.name = "n9", .address = "10.0.0.1", .capacity = 7, .draining = true};
    struct cluster *c = join(&plain, "n9", "/t9/", 60, -1);
    struct sockaddr_in local = {.sin_family = AF_INET};
    char gw[64], val[256];
    int64_t l0, l1;

    (void)st;
    assert_true(loop_while_not(is_connected, c, 5000));
    assert_true(do_put(ctl, "/t9/members/o", "{\"name\":\"o\",\"address\":\"10.0.0.31\",\"sessions\":3,"
                                             "\"capacity\":5,\"health\":\"up\"}", 0).ok);
    for (int t = 0; t < 3000; t += 50) {
        size_t n;

        cluster_members(c, &n);
        if (n == 2)
            break;
        loop_for(50);
    }
    assert_true(nine_lease(&l0, val, sizeof(val)));
    assert_false(cluster_redirect_init(c, (struct sockaddr *)&local, gw, sizeof(gw)));
    cluster_update(c, &cc);
    assert_true(cluster_redirect_init(c, (struct sockaddr *)&local, gw, sizeof(gw))); /* at once */
    assert_string_equal(gw, "10.0.0.31");
    loop_for(300);
    assert_true(nine_lease(&l1, val, sizeof(val)));
    assert_true(l1 == l0);
    assert_non_null(strstr(val, "\"health\":\"draining\""));
    assert_non_null(strstr(val, "\"capacity\":7"));
    assert_true(connected(c));
    assert_true(do_delete(ctl, "/t9/", true).ok);
    cluster_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_and_count),       cmocka_unit_test(test_lease_revoked_behind_its_back),
        cmocka_unit_test(test_records_of_others),    cmocka_unit_test(test_etcd_stopped),
        cmocka_unit_test(test_leave),               cmocka_unit_test(test_many_sessions),
        cmocka_unit_test(test_writes_retried),      cmocka_unit_test(test_bump_expires),
        cmocka_unit_test(test_update_in_place),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
