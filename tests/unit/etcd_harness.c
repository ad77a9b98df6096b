/* The test bench of tests/unit/test_etcd.c (etcd_harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#include "tests/unit/etcd_harness.h"

struct event_base *base;
char tmpdir[] = "/tmp/raven-test-etcd-XXXXXX";

/* ---- processes ---- */

struct etcd_proc plain, tls;

int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* @argv started with its output into @log (in tmpdir), killed when we die. */
pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        char path[256];
        int fd;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        snprintf(path, sizeof(path), "%s/%s", tmpdir, log);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (chdir(tmpdir))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int run(char *const argv[])
{
    int st;
    pid_t pid = spawn(argv, "tools.log");

    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void proc_stop(struct etcd_proc *p)
{
    int st;

    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        usleep(100000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
}

/* ---- the loop ---- */

static bool timed_out;

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    timed_out = true;
}

/* Runs the loop until *@count reaches @want or @ms passed. */
bool loop_until(const int *count, int want, int ms)
{
    struct event *t = evtimer_new(base, on_deadline, NULL);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    timed_out = false;
    evtimer_add(t, &tv);
    while (*count < want && !timed_out)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    return *count >= want;
}

void loop_for(int ms)
{
    int zero = 0;

    loop_until(&zero, 1, ms);
}

/* ---- results ---- */


static void set_err(struct res *r, bool ok, const char *err)
{
    r->calls++;
    r->ok = ok;
    assert_true(ok || (err && *err)); /* a failure says why */
    snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

void done_cb(void *arg, bool ok, const char *err)
{
    set_err(arg, ok, err);
}

void lease_cb(void *arg, bool ok, int64_t lease, int64_t ttl, const char *err)
{
    struct res *r = arg;

    set_err(r, ok, err);
    r->lease = lease;
    r->ttl = ttl;
}

void create_cb(void *arg, bool ok, bool created, const char *err)
{
    struct res *r = arg;

    set_err(r, ok, err);
    r->created = created;
}

void range_cb(void *arg, bool ok, const struct etcd_kv *kvs, size_t n, int64_t revision, const char *err)
{
    struct res *r = arg;

    set_err(r, ok, err);
    r->n = n;
    r->rev = revision;
    for (size_t i = 0; i < n && i < MAXKV; i++) {
        snprintf(r->keys[i], sizeof(r->keys[i]), "%s", kvs[i].key);
        snprintf(r->vals[i], sizeof(r->vals[i]), "%.*s", (int)kvs[i].vlen, kvs[i].val);
        r->leases[i] = kvs[i].lease;
    }
}


struct res do_put(struct etcd *e, const char *k, const char *v, int64_t lease)
{
    struct res r = {0};

    assert_int_equal(etcd_put(e, k, v, strlen(v), lease, done_cb, &r), 0);
    WAIT(r);
    assert_int_equal(r.calls, 1);
    return r;
}

struct res do_range(struct etcd *e, const char *prefix)
{
    struct res r = {0};

    assert_int_equal(etcd_range_prefix(e, prefix, range_cb, &r), 0);
    WAIT(r);
    assert_int_equal(r.calls, 1);
    return r;
}

struct res do_delete(struct etcd *e, const char *k, bool prefix)
{
    struct res r = {0};

    assert_int_equal(etcd_delete(e, k, prefix, done_cb, &r), 0);
    WAIT(r);
    assert_int_equal(r.calls, 1);
    return r;
}

struct res do_keepalive(struct etcd *e, int64_t lease)
{
    struct res r = {0};

    assert_int_equal(etcd_lease_keepalive(e, lease, lease_cb, &r), 0);
    WAIT(r);
    assert_int_equal(r.calls, 1);
    return r;
}

struct etcd *client(const char *const *eps, size_t n, const char *user, const char *pw)
{
    struct etcd_conf c = {.endpoints = eps, .nendpoints = n, .username = user, .password = pw, .timeout_ms = 2000};
    char err[256] = "";
    struct etcd *e = etcd_new(base, &c, err, sizeof(err));

    if (!e)
        fail_msg("etcd_new: %s", err);
    return e;
}

struct etcd *plain_client(void)
{
    const char *eps[] = {plain.url};

    return client(eps, 1, NULL, NULL);
}

/* ---- watches ---- */


void watch_cb(void *arg, enum etcd_event ev, const struct etcd_kv *kv)
{
    struct wres *w = arg;

    if (w->events < MAXKV) {
        w->ev[w->events] = ev;
        snprintf(w->keys[w->events], sizeof(w->keys[0]), "%s", kv->key);
        snprintf(w->vals[w->events], sizeof(w->vals[0]), "%.*s", (int)kv->vlen, kv->val);
    }
    w->events++;
}

void lost_cb(void *arg, const char *err)
{
    struct wres *w = arg;

    w->lost++;
    assert_true(err && *err);
    snprintf(w->err, sizeof(w->err), "%s", err);
}

/* ---- etcd ---- */

void wait_ready(const struct etcd_conf *c)
{
    char err[256];
    struct etcd *e = etcd_new(base, c, err, sizeof(err));
    struct res r = {0};

    assert_non_null(e);
    for (int i = 0; i < 100 && !r.ok; i++) {
        memset(&r, 0, sizeof(r));
        assert_int_equal(etcd_range_prefix(e, "ready", range_cb, &r), 0);
        WAIT(r);
        if (!r.ok)
            loop_for(100);
    }
    etcd_free(e);
    if (!r.ok)
        fail_msg("etcd at %s not ready: %s", c->endpoints[0], r.err);
}

void etcd_start(struct etcd_proc *p, const char *name, bool with_tls)
{
    char data[128], peer[64], init[128];
    int port = free_port(), pport = free_port();
    char *argv[40];
    int n = 0;

    snprintf(p->url, sizeof(p->url), "%s://127.0.0.1:%d", with_tls ? "https" : "http", port);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", pport);
    snprintf(data, sizeof(data), "%s/%s.data", tmpdir, name);
    snprintf(init, sizeof(init), "%s=%s", name, peer);
    argv[n++] = ETCD_BIN;
    argv[n++] = "--name";
    argv[n++] = (char *)name;
    argv[n++] = "--data-dir";
    argv[n++] = data;
    argv[n++] = "--listen-client-urls";
    argv[n++] = p->url;
    argv[n++] = "--advertise-client-urls";
    argv[n++] = p->url;
    argv[n++] = "--listen-peer-urls";
    argv[n++] = peer;
    argv[n++] = "--initial-advertise-peer-urls";
    argv[n++] = peer;
    argv[n++] = "--initial-cluster";
    argv[n++] = init;
    argv[n++] = "--heartbeat-interval=10";
    argv[n++] = "--election-timeout=100";
    argv[n++] = "--auth-token-ttl=1";
    if (with_tls) {
        argv[n++] = "--cert-file=srv.pem";
        argv[n++] = "--key-file=srv.key";
        argv[n++] = "--client-cert-auth";
        argv[n++] = "--trusted-ca-file=ca.pem";
    }
    argv[n] = NULL;
    p->pid = spawn(argv, with_tls ? "etcd-tls.log" : "etcd.log");
}

/* ---- a stand-in server for malformed answers ---- */

static int srv_fd = -1;
static pthread_t srv_thr;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER; /* held while an answer is sent */
static char *srv_reply;
static size_t srv_reply_len;
int srv_port;

static void *srv_main(void *arg)
{
    (void)arg;
    for (;;) {
        char buf[8192];
        size_t len = 0;
        int c = accept(srv_fd, NULL, NULL);
        const char *reply;
        size_t rlen;

        if (c < 0)
            break;
        /* the request: headers, then Content-Length bytes */
        for (;;) {
            ssize_t k = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
            char *hend, *cl;

            if (k <= 0)
                break;
            len += (size_t)k;
            buf[len] = 0;
            if ((hend = strstr(buf, "\r\n\r\n")) &&
                (!(cl = strcasestr(buf, "Content-Length:")) || len >= (size_t)(hend + 4 - buf) + strtoul(cl + 15, NULL, 10)))
                break;
        }
        pthread_mutex_lock(&srv_lock);
        reply = srv_reply;
        rlen = srv_reply_len;
        for (size_t off = 0; reply && off < rlen;) {
            ssize_t k = send(c, reply + off, rlen - off, MSG_NOSIGNAL);

            if (k <= 0)
                break;
            off += (size_t)k;
        }
        pthread_mutex_unlock(&srv_lock);
        close(c);
    }
    return NULL;
}

/* The server's next answers: @body after HTTP headers with @status, a length
 * unless @stream (then the connection's end ends it). */
void srv_set(int status, const char *body, size_t blen, bool stream)
{
    char hdr[256];
    int h = stream ? snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                                "Connection: close\r\n\r\n", status)
                   : snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                                "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, blen);
    char *r = malloc((size_t)h + blen), *old;

    assert_non_null(r);
    memcpy(r, hdr, (size_t)h);
    memcpy(r + h, body, blen);
    pthread_mutex_lock(&srv_lock); /* not while an earlier answer is still being sent */
    old = srv_reply;
    srv_reply = r;
    srv_reply_len = (size_t)h + blen;
    pthread_mutex_unlock(&srv_lock);
    free(old);
}

void srv_start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);

    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(srv_fd >= 0);
    assert_int_equal(bind(srv_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(srv_fd, 8), 0);
    assert_int_equal(getsockname(srv_fd, (struct sockaddr *)&a, &len), 0);
    srv_port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&srv_thr, NULL, srv_main, NULL), 0);
}

void srv_stop(void)
{
    if (srv_fd < 0)
        return;
    shutdown(srv_fd, SHUT_RDWR); /* wakes accept() */
    pthread_join(srv_thr, NULL);
    close(srv_fd);
    srv_fd = -1;
    free(srv_reply);
    srv_reply = NULL;
}

int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* PEM files made by openssl in tmpdir, read into a new string */
char *slurp(const char *name)
{
    char path[256];
    FILE *f;
    char *s = calloc(1, 65536);
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    assert_non_null(f = fopen(path, "r"));
    n = fread(s, 1, 65535, f);
    fclose(f);
    assert_true(n > 0);
    return s;
}

void make_pki(void)
{
    static char *const ca[] = {OPENSSL_BIN, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj",
                               "/CN=Raven test etcd CA", "-days", "2", NULL};
    static char *const srv_req[] = {OPENSSL_BIN, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                    "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1", NULL};
    static char *const srv_sign[] = {OPENSSL_BIN, "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
                                     "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile",
                                     "srv.ext", NULL};
    static char *const cli_req[] = {OPENSSL_BIN, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                    "-nodes", "-keyout", "cli.key", "-out", "cli.csr", "-subj", "/CN=raven", NULL};
    static char *const cli_sign[] = {OPENSSL_BIN, "x509", "-req", "-in", "cli.csr", "-CA", "ca.pem", "-CAkey",
                                     "ca.key", "-CAcreateserial", "-out", "cli.pem", "-days", "2", "-extfile",
                                     "cli.ext", NULL};
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/srv.ext", tmpdir);
    assert_non_null(f = fopen(path, "w"));
    fputs("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/cli.ext", tmpdir);
    assert_non_null(f = fopen(path, "w"));
    fputs("extendedKeyUsage=clientAuth\n", f);
    fclose(f);
    assert_int_equal(run(ca), 0);
    assert_int_equal(run(srv_req), 0);
    assert_int_equal(run(srv_sign), 0);
    assert_int_equal(run(cli_req), 0);
    assert_int_equal(run(cli_sign), 0);
}

int hung_listen(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}
