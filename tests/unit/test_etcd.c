/* daemon/cluster's etcd client against a real etcd (Debian's etcd-server 3.4,
 * /usr/bin/etcd) started here on 127.0.0.1 with free ports in a temporary
 * directory, on a libevent loop: put, range and delete (one key, a prefix);
 * create twice (created, then not); leases granted, kept alive, expiring with
 * their keys, revoked; a watch seeing puts and deletes, cancelled, and lost
 * when etcd stops; failover from a dead endpoint; a second etcd with TLS and
 * client certificates (made by openssl here); etcd's authentication (user
 * root, `etcdctl auth enable`): a wrong password refused, tokens asked for
 * again when they expire (--auth-token-ttl 1), for requests and watches;
 * malformed answers from a small HTTP server thread (errors, not crashes);
 * callbacks never run after etcd_free(), also when a callback frees. Every
 * etcd started is stopped by its PID, and killed with this process
 * (PR_SET_PDEATHSIG) if a test crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "daemon/cluster/etcd.h"
#include "daemon/cluster/etcd_int.h"
#include "tests/unit/etcd_harness.h"

static int setup(void **state)
{
    struct etcd_conf c = {0};
    const char *eps[1];

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (access(ETCD_BIN, X_OK) || access(ETCDCTL_BIN, X_OK) || access(OPENSSL_BIN, X_OK)) {
        fprintf(stderr, "etcd, etcdctl or openssl missing (packages etcd-server, etcd-client, openssl)\n");
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
    srv_start();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&plain);
    proc_stop(&tls);
    srv_stop();
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (base)
        event_base_free(base);
    return 0;
}

/* ---- the tests, in order: the last stops etcd ---- */

static void test_kv(void **state)
{
    struct etcd *e = plain_client();
    struct res r;

    (void)state;
    assert_true(do_put(e, "kv/a/1", "one", 0).ok);
    assert_true(do_put(e, "kv/a/2", "two", 0).ok);
    assert_true(do_put(e, "kv/b", "bee", 0).ok);
    assert_true(do_put(e, "kv/a\xff", "not under kv/a/", 0).ok);
    r = do_range(e, "kv/a/");
    assert_true(r.ok);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.keys[0], "kv/a/1");
    assert_string_equal(r.vals[0], "one");
    assert_string_equal(r.keys[1], "kv/a/2");
    assert_string_equal(r.vals[1], "two");
    assert_true(r.rev > 0);
    assert_true(do_delete(e, "kv/a/1", false).ok);
    r = do_range(e, "kv/a/");
    assert_int_equal(r.n, 1);
    assert_string_equal(r.keys[0], "kv/a/2");
    assert_true(do_put(e, "kv/a/3", "three", 0).ok);
    assert_true(do_delete(e, "kv/a/", true).ok);
    assert_int_equal(do_range(e, "kv/a/").n, 0);
    r = do_range(e, "kv/");
    assert_int_equal(r.n, 2); /* kv/a\xff and kv/b stay */
    assert_int_equal(etcd_writes(e), 7);
    assert_string_equal(etcd_endpoint(e), plain.url);
    etcd_free(e);
}

static void bin_cb(void *arg, bool ok, const struct etcd_kv *kvs, size_t n, int64_t revision, const char *err)
{
    struct res *r = arg;
    char want[256];

    for (int i = 0; i < 256; i++)
        want[i] = (char)i;
    range_cb(arg, ok, kvs, n, revision, err);
    assert_int_equal(n, 2);
    assert_int_equal(kvs[0].vlen, 0); /* bin/empty */
    assert_int_equal(kvs[0].val[0], 0);
    assert_int_equal(kvs[1].vlen, 256);
    assert_memory_equal(kvs[1].val, want, 256);
    assert_int_equal(kvs[1].val[256], 0);
    r->created = true; /* checked */
}

/* values are bytes: every one, NUL included; an empty value */
static void test_binary_value(void **state)
{
    struct etcd *e = plain_client();
    struct res p = {0}, r = {0};
    char bin[256];

    (void)state;
    for (int i = 0; i < 256; i++)
        bin[i] = (char)i;
    assert_true(do_put(e, "bin/empty", "", 0).ok);
    assert_int_equal(etcd_put(e, "bin/x", bin, sizeof(bin), 0, done_cb, &p), 0);
    WAIT(p);
    assert_true(p.ok);
    assert_int_equal(etcd_range_prefix(e, "bin/", bin_cb, &r), 0);
    WAIT(r);
    assert_true(r.ok && r.created);
    etcd_free(e);
}

static void test_create(void **state)
{
    struct etcd *e = plain_client();
    struct res r = {0}, r2 = {0}, g;

    (void)state;
    assert_int_equal(etcd_create(e, "cr/k", "first", 5, 0, create_cb, &r), 0);
    WAIT(r);
    assert_true(r.ok);
    assert_true(r.created);
    assert_int_equal(etcd_create(e, "cr/k", "second", 6, 0, create_cb, &r2), 0);
    WAIT(r2);
    assert_true(r2.ok);
    assert_false(r2.created);
    g = do_range(e, "cr/k");
    assert_int_equal(g.n, 1);
    assert_string_equal(g.vals[0], "first");
    etcd_free(e);
}

static void test_lease(void **state)
{
    struct etcd *e = plain_client();
    struct res g = {0}, g2 = {0}, rv = {0}, rv2 = {0}, r;
    bool gone = false;

    (void)state;
    assert_int_equal(etcd_lease_grant(e, 1, lease_cb, &g), 0);
    WAIT(g);
    assert_true(g.ok);
    assert_true(g.lease != 0);
    assert_int_equal(g.ttl, 1);
    assert_true(do_put(e, "ls/k", "v", g.lease).ok);
    r = do_range(e, "ls/");
    assert_int_equal(r.n, 1);
    assert_int_equal(r.leases[0], g.lease);
    r = do_keepalive(e, g.lease);
    assert_true(r.ok);
    assert_true(r.ttl > 0);
    assert_int_equal(r.lease, g.lease);
    /* not kept alive any more: etcd deletes the key with its lease */
    for (int i = 0; i < 40 && !gone; i++) {
        loop_for(200);
        gone = do_range(e, "ls/").n == 0;
    }
    assert_true(gone);
    r = do_keepalive(e, g.lease);
    assert_true(r.ok);
    assert_true(r.ttl <= 0);

    assert_int_equal(etcd_lease_grant(e, 60, lease_cb, &g2), 0);
    WAIT(g2);
    assert_true(g2.ok);
    assert_true(do_put(e, "ls/r", "v", g2.lease).ok);
    assert_int_equal(etcd_lease_revoke(e, g2.lease, done_cb, &rv), 0);
    WAIT(rv);
    assert_true(rv.ok);
    assert_int_equal(do_range(e, "ls/").n, 0);
    r = do_keepalive(e, g2.lease);
    assert_true(r.ok);
    assert_true(r.ttl <= 0);
    assert_int_equal(etcd_lease_revoke(e, g2.lease, done_cb, &rv2), 0);
    WAIT(rv2);
    assert_false(rv2.ok);
    assert_non_null(strstr(rv2.err, "lease not found"));
    etcd_free(e);
}

static void test_watch(void **state)
{
    struct etcd *e = plain_client();
    struct wres w = {0}, w2 = {0};
    struct etcd_watch *h, *h2;
    struct res r = do_range(e, "wa/");

    (void)state;
    assert_non_null(h = etcd_watch_prefix(e, "wa/", r.rev + 1, watch_cb, lost_cb, &w));
    assert_true(do_put(e, "wa/x", "1", 0).ok);
    assert_true(do_put(e, "wb/y", "not watched", 0).ok);
    assert_true(do_delete(e, "wa/x", false).ok);
    assert_true(loop_until(&w.events, 2, 5000));
    assert_int_equal(w.ev[0], ETCD_EV_PUT);
    assert_string_equal(w.keys[0], "wa/x");
    assert_string_equal(w.vals[0], "1");
    assert_int_equal(w.ev[1], ETCD_EV_DELETE);
    assert_string_equal(w.keys[1], "wa/x");
    /* from the same revision again: the history replayed */
    assert_non_null(h2 = etcd_watch_prefix(e, "wa/", r.rev + 1, watch_cb, lost_cb, &w2));
    assert_true(loop_until(&w2.events, 2, 5000));
    assert_int_equal(w2.ev[1], ETCD_EV_DELETE);
    etcd_watch_cancel(h2);
    etcd_watch_cancel(h);
    assert_true(do_put(e, "wa/z", "after", 0).ok);
    loop_for(200);
    assert_int_equal(w.events, 2);
    assert_int_equal(w2.events, 2);
    assert_int_equal(w.lost + w2.lost, 0);
    etcd_free(e);
}

static void test_failover(void **state)
{
    char dead[64], dead2[64];
    const char *eps[2] = {dead, plain.url}, *eps2[2] = {dead, dead2};
    struct etcd *e;
    struct wres w = {0};
    struct res r;

    (void)state;
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", free_port());
    snprintf(dead2, sizeof(dead2), "http://127.0.0.1:%d/", free_port());
    e = client(eps, 2, NULL, NULL);
    assert_string_equal(etcd_endpoint(e), dead);
    assert_true(do_put(e, "fo/k", "v", 0).ok);
    assert_string_equal(etcd_endpoint(e), plain.url);
    assert_int_equal(do_range(e, "fo/").n, 1);
    etcd_free(e);
    /* a watch fails over too (from a revision: it sees the put whenever it
     * reached etcd) */
    e = client(eps, 2, NULL, NULL);
    r = do_range(e, "fo/");
    etcd_free(e);
    e = client(eps, 2, NULL, NULL);
    assert_non_null(etcd_watch_prefix(e, "fo/", r.rev + 1, watch_cb, lost_cb, &w));
    assert_true(do_put(e, "fo/k", "again", 0).ok);
    assert_true(loop_until(&w.events, 1, 5000));
    assert_string_equal(w.vals[0], "again");
    assert_int_equal(w.lost, 0);
    etcd_free(e); /* with the watch under way */

    e = client(eps2, 2, NULL, NULL);
    r = do_put(e, "fo/k", "v", 0);
    assert_false(r.ok);
    assert_non_null(strstr(r.err, "unreachable"));
    assert_non_null(strstr(r.err, "127.0.0.1"));
    etcd_free(e);
}

/* an endpoint that takes connections and never answers: the request times
 * out there and goes to the next; so does a watch not acknowledged in time */
static void test_failover_hung(void **state)
{
    char hung[64], err[256];
    const char *eps[2] = {hung, plain.url};
    struct etcd_conf c = {.endpoints = eps, .nendpoints = 2, .timeout_ms = 1000};
    int port, fd = hung_listen(&port);
    struct etcd *e, *direct = plain_client();
    struct wres w = {0};
    struct res r;

    (void)state;
    snprintf(hung, sizeof(hung), "http://127.0.0.1:%d", port);
    assert_non_null(e = etcd_new(base, &c, err, sizeof(err)));
    assert_true(do_put(e, "fh/k", "v", 0).ok);
    assert_string_equal(etcd_endpoint(e), plain.url);
    etcd_free(e);
    r = do_range(direct, "fh/");
    assert_non_null(e = etcd_new(base, &c, err, sizeof(err)));
    assert_non_null(etcd_watch_prefix(e, "fh/", r.rev + 1, watch_cb, lost_cb, &w));
    assert_true(do_put(direct, "fh/k", "again", 0).ok);
    assert_true(loop_until(&w.events, 1, 5000));
    assert_string_equal(w.vals[0], "again");
    assert_int_equal(w.lost, 0);
    assert_string_equal(etcd_endpoint(e), plain.url);
    etcd_free(e);
    etcd_free(direct);
    /* the hung endpoint alone: the watch is lost */
    c.nendpoints = 1;
    memset(&w, 0, sizeof(w));
    assert_non_null(e = etcd_new(base, &c, err, sizeof(err)));
    assert_non_null(etcd_watch_prefix(e, "fh/", 0, watch_cb, lost_cb, &w));
    assert_true(loop_until(&w.lost, 1, 5000));
    assert_non_null(strstr(w.err, "no acknowledgement"));
    etcd_free(e);
    close(fd);
}

static void free_in_cb(void *arg, bool ok, const char *err)
{
    struct etcd **e = arg;

    (void)ok;
    (void)err;
    etcd_free(*e);
    *e = NULL;
}

static void counting_cb(void *arg, bool ok, const char *err)
{
    (void)ok;
    (void)err;
    (*(int *)arg)++;
}

static void test_free_client(void **state)
{
    struct etcd *e = plain_client();
    int calls = 0;
    struct wres w = {0};

    (void)state;
    /* requests under way when the client goes: no callback */
    assert_int_equal(etcd_put(e, "fr/a", "1", 1, 0, counting_cb, &calls), 0);
    assert_non_null(etcd_watch_prefix(e, "fr/", 0, watch_cb, lost_cb, &w));
    etcd_free(e);
    loop_for(300);
    assert_int_equal(calls, 0);
    assert_int_equal(w.lost, 0);
    /* a callback that frees the client: the others do not run */
    e = plain_client();
    assert_int_equal(etcd_put(e, "fr/b", "1", 1, 0, free_in_cb, &e), 0);
    assert_int_equal(etcd_put(e, "fr/c", "1", 1, 0, counting_cb, &calls), 0);
    assert_non_null(etcd_watch_prefix(e, "fr/", 0, watch_cb, lost_cb, &w));
    {
        struct etcd *const *pe = &e;

        for (int i = 0; i < 50 && *pe; i++)
            loop_for(50);
    }
    assert_null(e);
    loop_for(300);
    assert_true(calls <= 1); /* fr/c may have ended first */
    assert_int_equal(w.lost, 0);
}

static struct res srv_range(const char *body, int status)
{
    char url[64];
    const char *eps[] = {url};
    struct etcd *e;
    struct res r;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv_port);
    srv_set(status, body, strlen(body), false);
    e = client(eps, 1, NULL, NULL);
    r = do_range(e, "x/");
    etcd_free(e);
    assert_false(r.ok);
    return r;
}

static struct wres srv_watch(const char *body, size_t len)
{
    if (!len)
        len = strlen(body);
    char url[64];
    const char *eps[] = {url};
    struct etcd *e;
    struct wres w = {0};

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv_port);
    srv_set(200, body, len, true);
    e = client(eps, 1, NULL, NULL);
    assert_non_null(etcd_watch_prefix(e, "x/", 0, watch_cb, lost_cb, &w));
    assert_true(loop_until(&w.lost, 1, 5000));
    etcd_free(e);
    return w;
}

static void test_malformed(void **state)
{
    static const char *const cases[][2] = {
        {"hello", "not JSON"},
        {"[1,2]", "not a JSON object"},
        {"{}", "no header"},
        {"{\"header\":{\"revision\":\"x1\"}}", "not an int64"},
        {"{\"header\":{\"revision\":\"99999999999999999999\"}}", "not an int64"},
        {"{\"header\":{},\"kvs\":{}}", "kvs is not an array"},
        {"{\"header\":{},\"kvs\":[{\"key\":\"@@@@\"}]}", "not base64"},
        {"{\"header\":{},\"kvs\":[{\"key\":\"YQ\"}]}", "not base64"},
        {"{\"header\":{},\"kvs\":[{\"key\":\"YQ==\",\"value\":7}]}", "not base64"},
        {"{\"header\":{},\"kvs\":[{\"value\":\"YQ==\"}]}", "empty key"},
        {"{\"header\":{},\"kvs\":[17]}", "not an object"},
        {"{\"error\":\"etcdserver: boom\",\"message\":\"etcdserver: boom\",\"code\":2}", "etcdserver: boom"},
    };
    struct res r;
    char *big;
    struct wres w;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r = srv_range(cases[i][0], 200);
        if (!strstr(r.err, cases[i][1]))
            fail_msg("answer %s: error '%s' does not say '%s'", cases[i][0], r.err, cases[i][1]);
    }
    r = srv_range("<html>oops</html>", 500);
    assert_non_null(strstr(r.err, "HTTP status 500"));
    r = srv_range("{\"header\":{}}", 404);
    assert_non_null(strstr(r.err, "HTTP status 404"));
    /* over 4 MiB */
    big = malloc(5u << 20);
    assert_non_null(big);
    memset(big, ' ', 5u << 20);
    big[0] = '{';
    big[(5u << 20) - 1] = '}';
    big[(5u << 20) - 1] = 0;
    srv_set(200, big, (5u << 20) - 1, false);
    {
        char url[64];
        const char *eps[] = {url};
        struct etcd *e;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv_port);
        e = client(eps, 1, NULL, NULL);
        r = do_range(e, "x/");
        etcd_free(e);
        assert_false(r.ok);
        assert_non_null(strstr(r.err, "larger than 4 MiB"));
    }
    /* watch streams */
    w = srv_watch("{\"result\":{\"created\":true}}\n{\"result\":{\"events\":[{\"kv\":{\"key\":\"***\"}}]}}\n", 0);
    assert_non_null(strstr(w.err, "not base64"));
    w = srv_watch("{\"result\":{\"events\":[]}}\n", 0);
    assert_non_null(strstr(w.err, "first message"));
    w = srv_watch("{\"result\":{\"created\":true}} xyz", 0);
    assert_non_null(strstr(w.err, "not a sequence of JSON objects"));
    w = srv_watch("{\"result\":{\"created\":true}}{\"result\":{\"events\":[{\"type\":\"BOOM\",\"kv\":{}}]}}", 0);
    assert_non_null(strstr(w.err, "unknown type"));
    w = srv_watch("{\"result\":{\"created\":true}}\n{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\",\"value\":\"Yg==\"}}],"
                  "\"canceled\":true,\"compact_revision\":\"7\"}}", 0);
    assert_int_equal(w.events, 1);
    assert_non_null(strstr(w.err, "revision 7 was compacted"));
    w = srv_watch("{\"result\":{\"created\":true}}\n", 0);
    assert_int_equal(w.events, 0);
    assert_non_null(strstr(w.err, "the stream ended"));
    /* a message over 1 MiB */
    memcpy(big, "{\"result\":{\"created\":true}}{\"a\":\"", 34);
    memset(big + 34, 'x', (2u << 20));
    w = srv_watch(big, 34 + (2u << 20));
    assert_non_null(strstr(w.err, "larger than 1 MiB"));
    free(big);
}

static void test_tls(void **state)
{
    char *ca, *cert, *key, *srvkey, err[256];
    const char *eps[1];
    struct etcd_conf c = {.nendpoints = 1, .timeout_ms = 2000};
    struct etcd *e;
    struct res r;

    (void)state;
    make_pki();
    ca = slurp("ca.pem");
    cert = slurp("cli.pem");
    key = slurp("cli.key");
    srvkey = slurp("srv.key");
    etcd_start(&tls, "tls", true);
    eps[0] = tls.url;
    c.endpoints = eps;
    c.ca_pem = ca;
    c.cert_pem = cert;
    c.key_pem = key;
    wait_ready(&c);

    assert_non_null(e = etcd_new(base, &c, err, sizeof(err)));
    assert_true(do_put(e, "tls/k", "v", 0).ok);
    r = do_range(e, "tls/");
    assert_int_equal(r.n, 1);
    assert_string_equal(r.vals[0], "v");
    etcd_free(e);

    /* without the client certificate: refused by etcd */
    c.cert_pem = c.key_pem = NULL;
    assert_non_null(e = etcd_new(base, &c, err, sizeof(err)));
    r = do_put(e, "tls/k", "v", 0);
    assert_false(r.ok);
    etcd_free(e);
    /* without the CA: the server is not trusted */
    c.ca_pem = NULL;
    c.cert_pem = cert;
    c.key_pem = key;
    assert_non_null(e = etcd_new(base, &c, err, sizeof(err)));
    r = do_put(e, "tls/k", "v", 0);
    assert_false(r.ok);
    assert_non_null(strstr(r.err, tls.url));
    etcd_free(e);

    /* configurations refused at etcd_new */
    c.ca_pem = "not a pem";
    assert_null(etcd_new(base, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "CA certificate"));
    c.ca_pem = ca;
    c.key_pem = srvkey;
    assert_null(etcd_new(base, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "does not belong"));
    c.key_pem = NULL;
    assert_null(etcd_new(base, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "needs its private key"));
    c.key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_null(etcd_new(base, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "private key is not"));
    proc_stop(&tls);
    free(ca);
    free(cert);
    free(key);
    free(srvkey);
}

static void test_conf(void **state)
{
    const char *bad[] = {"ftp://127.0.0.1:1"}, *bad2[] = {"http://"}, *ok[] = {"http://127.0.0.1:1"};
    struct etcd_conf c = {.endpoints = ok, .nendpoints = 0};
    char err[256];

    (void)state;
    assert_null(etcd_new(base, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "no etcd endpoint"));
    c.nendpoints = 1;
    c.endpoints = bad;
    assert_null(etcd_new(base, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "ftp://"));
    c.endpoints = bad2;
    assert_null(etcd_new(base, &c, err, sizeof(err)));
    c.endpoints = ok;
    c.username = "root";
    assert_null(etcd_new(base, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "password"));
}

static void etcdctl(const char *a1, const char *a2, const char *a3)
{
    char *const argv[] = {ETCDCTL_BIN, "--endpoints", plain.url, "--user", "root:raven-pw",
                          (char *)a1, (char *)a2, (char *)a3, NULL};
    char *const noauth[] = {ETCDCTL_BIN, "--endpoints", plain.url, (char *)a1, (char *)a2, (char *)a3, NULL};

    assert_int_equal(run(strcmp(a1, "user") ? argv : noauth), 0);
}

static void test_auth(void **state)
{
    const char *eps[] = {plain.url};
    struct etcd *e;
    struct res r;
    struct wres w = {0};

    (void)state;
    etcdctl("user", "add", "root:raven-pw");
    etcdctl("auth", "enable", NULL);
    /* without a token: refused */
    e = plain_client();
    r = do_put(e, "au/k", "v", 0);
    assert_false(r.ok);
    etcd_free(e);
    /* a wrong password */
    e = client(eps, 1, "root", "wrong");
    r = do_put(e, "au/k", "v", 0);
    assert_false(r.ok);
    assert_non_null(strstr(r.err, "authentication as root failed"));
    assert_int_equal(etcd_auth_count(e), 0);
    etcd_free(e);
    /* the right one; requests waiting for the token together */
    e = client(eps, 1, "root", "raven-pw");
    {
        struct res a = {0}, b = {0};

        assert_int_equal(etcd_put(e, "au/a", "1", 1, 0, done_cb, &a), 0);
        assert_int_equal(etcd_put(e, "au/b", "2", 1, 0, done_cb, &b), 0);
        WAIT(a);
        WAIT(b);
        assert_true(a.ok && b.ok);
    }
    assert_int_equal(do_range(e, "au/").n, 2);
    assert_int_equal(etcd_auth_count(e), 1);
    /* the token expires (--auth-token-ttl 1): asked for again */
    loop_for(2500);
    assert_true(do_put(e, "au/c", "3", 0).ok);
    assert_int_equal(etcd_auth_count(e), 2);
    /* so does a watch's */
    loop_for(2500);
    r = do_range(e, "au/");
    assert_int_equal(etcd_auth_count(e), 3);
    loop_for(2500);
    assert_non_null(etcd_watch_prefix(e, "au/", r.rev + 1, watch_cb, lost_cb, &w));
    loop_for(300);
    assert_int_equal(etcd_auth_count(e), 4);
    assert_int_equal(w.lost, 0);
    assert_true(do_put(e, "au/d", "4", 0).ok);
    assert_true(loop_until(&w.events, 1, 5000));
    assert_string_equal(w.keys[0], "au/d");
    etcd_free(e);
}

static void test_watch_lost(void **state)
{
    const char *eps[] = {plain.url};
    struct etcd *e = client(eps, 1, "root", "raven-pw");
    struct wres w = {0};
    struct res r = do_range(e, "wl/");

    (void)state;
    assert_true(r.ok);
    assert_non_null(etcd_watch_prefix(e, "wl/", r.rev + 1, watch_cb, lost_cb, &w));
    assert_true(do_put(e, "wl/k", "v", 0).ok);
    assert_true(loop_until(&w.events, 1, 5000));
    proc_stop(&plain);
    assert_true(loop_until(&w.lost, 1, 5000));
    assert_int_equal(w.lost, 1);
    assert_non_null(strstr(w.err, plain.url));
    r = do_put(e, "wl/k", "v", 0);
    assert_false(r.ok);
    assert_non_null(strstr(r.err, "unreachable"));
    etcd_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf),
        cmocka_unit_test(test_kv),
        cmocka_unit_test(test_binary_value),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_lease),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_failover_hung),
        cmocka_unit_test(test_free_client),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_watch_lost),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
