/* An asynchronous client of etcd's v3 API through its JSON gateway (etcd 3.4:
 * POST /v3/kv/range, /v3/kv/put, /v3/kv/deleterange, /v3/kv/txn,
 * /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke, /v3/watch; keys and
 * values base64 in JSON), on libcurl's multi interface driven by the control
 * thread's libevent base: nothing blocks. Endpoints are tried in order (the
 * next one after a transport failure); TLS (CA, client certificate and key as
 * PEM text) and etcd's authentication (a token from /v3/auth/authenticate,
 * asked again when etcd says it is invalid) are optional. Every callback runs
 * on the control thread, once per request; none runs after etcd_free().
 * Malformed answers are errors (ok false, err says what), never a crash. */
#ifndef RAVEN_CLUSTER_ETCD_H
#define RAVEN_CLUSTER_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct etcd;
struct etcd_watch;

struct etcd_conf {
    const char *const *endpoints; /* "http://10.0.0.1:2379", ... */
    size_t nendpoints;
    const char *username, *password; /* NULL: no authentication */
    const char *ca_pem;              /* NULL: the system's trust store */
    const char *cert_pem, *key_pem;  /* NULL: no client certificate */
    unsigned timeout_ms;             /* per request; 0: 3000 */
};

struct etcd_kv {
    const char *key;
    const char *val; /* not NUL-terminated in general: vlen bytes (a NUL follows them) */
    size_t vlen;
    int64_t create_revision, mod_revision, lease;
};

typedef void (*etcd_done_cb)(void *arg, bool ok, const char *err);
typedef void (*etcd_lease_cb)(void *arg, bool ok, int64_t lease, int64_t ttl, const char *err);
/* @kvs (and @err of every callback) are valid during the call only */
typedef void (*etcd_range_cb)(void *arg, bool ok, const struct etcd_kv *kvs, size_t n, int64_t revision,
                              const char *err);
typedef void (*etcd_create_cb)(void *arg, bool ok, bool created, const char *err);

enum etcd_event { ETCD_EV_PUT, ETCD_EV_DELETE };
typedef void (*etcd_watch_cb)(void *arg, enum etcd_event ev, const struct etcd_kv *kv);
/* the watch ended (etcd gone, compacted, cancelled by etcd): start a new one;
 * the ended watch is freed after this returns (do not cancel it) */
typedef void (*etcd_watch_lost_cb)(void *arg, const char *err);

/* NULL with @err set when the configuration cannot be used (no endpoint, a PEM
 * that does not parse). The copy of @c is the client's own. */
struct etcd *etcd_new(struct event_base *base, const struct etcd_conf *c, char *err, size_t errlen);
void etcd_free(struct etcd *e); /* cancels every request and watch */
const char *etcd_endpoint(const struct etcd *e); /* the endpoint in use or last tried */

/* Each returns 0 when the request is under way (its callback will run), -1
 * when it could not be started (out of memory): the callback does not run. */
int etcd_lease_grant(struct etcd *e, int64_t ttl, etcd_lease_cb cb, void *arg);
/* ok with ttl <= 0: the lease is gone (expired or revoked) */
int etcd_lease_keepalive(struct etcd *e, int64_t lease, etcd_lease_cb cb, void *arg);
int etcd_lease_revoke(struct etcd *e, int64_t lease, etcd_done_cb cb, void *arg);
int etcd_put(struct etcd *e, const char *key, const void *val, size_t vlen, int64_t lease, etcd_done_cb cb,
             void *arg);
int etcd_delete(struct etcd *e, const char *key, bool prefix, etcd_done_cb cb, void *arg);
int etcd_range_prefix(struct etcd *e, const char *prefix, etcd_range_cb cb, void *arg);
/* a transaction: put @key only if it does not exist (create_revision 0) */
int etcd_create(struct etcd *e, const char *key, const void *val, size_t vlen, int64_t lease, etcd_create_cb cb,
                void *arg);

/* Events of every key under @prefix from @start_revision (0: from now), as a
 * long-running POST /v3/watch whose stream of JSON messages is parsed as it
 * comes. NULL when it could not be started. */
struct etcd_watch *etcd_watch_prefix(struct etcd *e, const char *prefix, int64_t start_revision, etcd_watch_cb cb,
                                     etcd_watch_lost_cb lost, void *arg);
void etcd_watch_cancel(struct etcd_watch *w);

/* Writes (put, delete, create, lease grant/keepalive/revoke) sent so far. */
uint64_t etcd_writes(const struct etcd *e);

#endif
