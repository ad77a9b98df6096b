/* The test bench of tests/unit/test_etcd.c: etcd processes (started with
 * their output in the temporary directory, killed with the test), the libevent
 * loop run until callbacks came, the callbacks' results, a stand-in HTTP server
 * thread answering what a test sets, and a small PKI made with openssl. */
#ifndef RAVEN_TESTS_ETCD_HARNESS_H
#define RAVEN_TESTS_ETCD_HARNESS_H

#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "daemon/cluster/etcd.h"

#define ETCD_BIN "/usr/bin/etcd"
#define ETCDCTL_BIN "/usr/bin/etcdctl"
#define OPENSSL_BIN "/usr/bin/openssl"

struct etcd_proc {
    pid_t pid;
    char url[64];
};

#define MAXKV 8
struct res {
    int calls;
    bool ok, created;
    int64_t lease, ttl, rev;
    size_t n;
    char keys[MAXKV][64], vals[MAXKV][64];
    int64_t leases[MAXKV];
    char err[600];
};

/* waits for the one callback of a request */
#define WAIT(r) assert_true(loop_until(&(r).calls, 1, 8000))

struct wres {
    int events, lost;
    enum etcd_event ev[MAXKV];
    char keys[MAXKV][64], vals[MAXKV][64];
    char err[600];
};

extern struct event_base *base;
extern char tmpdir[];
extern struct etcd_proc plain, tls;
extern int srv_port;

int free_port(void);
pid_t spawn(char *const argv[], const char *log);
int run(char *const argv[]);
void proc_stop(struct etcd_proc *p);
bool loop_until(const int *count, int want, int ms);
void loop_for(int ms);
void done_cb(void *arg, bool ok, const char *err);
void lease_cb(void *arg, bool ok, int64_t lease, int64_t ttl, const char *err);
void create_cb(void *arg, bool ok, bool created, const char *err);
void range_cb(void *arg, bool ok, const struct etcd_kv *kvs, size_t n, int64_t revision, const char *err);
struct res do_put(struct etcd *e, const char *k, const char *v, int64_t lease);
struct res do_range(struct etcd *e, const char *prefix);
struct res do_delete(struct etcd *e, const char *k, bool prefix);
struct res do_keepalive(struct etcd *e, int64_t lease);
struct etcd *client(const char *const *eps, size_t n, const char *user, const char *pw);
struct etcd *plain_client(void);
void watch_cb(void *arg, enum etcd_event ev, const struct etcd_kv *kv);
void lost_cb(void *arg, const char *err);
void wait_ready(const struct etcd_conf *c);
void etcd_start(struct etcd_proc *p, const char *name, bool with_tls);
void srv_set(int status, const char *body, size_t blen, bool stream);
void srv_start(void);
void srv_stop(void);
int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);
char *slurp(const char *name);
void make_pki(void);
/* A listening socket on 127.0.0.1 never accepted from: connections are made
 * (the kernel's backlog) and never answered. Its port in @port. */
int hung_listen(int *port);

#endif
