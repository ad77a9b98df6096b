/* This headend's membership of a cluster on etcd: the state machine described
 * in cluster.h, the tables of members and sessions the watch keeps, the
 * partition conflict check and the choice of where to redirect. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "daemon/base/alarm.h"
#include "daemon/base/log.h"
#include "daemon/base/monotime.h"
#include "daemon/cluster/cluster.h"
#include "daemon/cluster/cluster_wq.h"
#include "daemon/cluster/etcd.h"
#include "daemon/base/poison.h"

#define ALARM_RES "/raven-vpn:cluster"
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 5000
#define LEAVE_WAIT_S 3
#define SESS_PAGE 1000   /* session keys read per range request */
#define BUMP_MS 2000     /* how long a client sent to a member counts there */
#define KA_RETRY_MS 1000 /* a keep-alive that failed is tried again after */

/* A session another member (or this one) published. */
struct csess {
    char key[CLUSTER_NAME_MAX + 24]; /* NAME/ID */
    char member[CLUSTER_NAME_MAX];
    uint64_t id;
    struct cluster_session s;
    UT_hash_handle hh;
};

/* A key whose record was ignored, at the revision it was logged at. */
struct ignored {
    char *key;
    int64_t rev;
    UT_hash_handle hh;
};

/* One request under way: its callback knows whether it still belongs to the
 * attempt that sent it (@gen). */
struct req {
    struct cluster *c;
    uint64_t gen;
    struct req *prev, *next;
};

struct cluster {
    struct event_base *base;
    struct etcd *etcd;
    struct cluster_member self; /* as advertised */
    char *prefix;
    size_t prefix_len;
    struct sockaddr_storage caddr[CLUSTER_ADDRS_MAX];
    size_t ncaddr;
    unsigned ttl;
    cluster_resync_fn resync;
    void *arg;

    enum cluster_state state;
    char err[256];
    uint64_t gen;
    int64_t lease, old_lease;
    int64_t sync_rev;  /* the revision the tables are read at */
    uint64_t watches;
    uint64_t ka_ok_ms; /* the lease's grant or last keep-alive answered */
    struct cluster_wq *wq;
    struct etcd_watch *watch;
    struct event *tick;    /* keep-alive, or the next attempt */
    struct event *count_t; /* the coalesced member put */
    uint64_t last_put_ms;
    unsigned backoff_ms;
    bool leaving, left;
    void (*gone)(struct cluster *c, void *arg);
    void *gone_arg;

    struct cluster_member *m;
    size_t nm, capm;
    struct csess *sessions;
    struct ignored *ignored;
    uint64_t nignored;
    struct req *reqs;
};

static void start(struct cluster *c);
static void fail(struct cluster *c, const char *what, const char *err);

static struct req *req_new(struct cluster *c)
{
    struct req *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->c = c;
    r->gen = c->gen;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    return r;
}

/* The request's cluster when the answer still matters (the request freed). */
static struct cluster *req_end(struct req *r)
{
    struct cluster *c = r->c;
    bool cur = r->gen == c->gen && !c->leaving;

    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    free(r);
    return cur ? c : NULL;
}

static void req_drop(struct req *r)
{
    (void)req_end(r);
}

const char *cluster_state_name(enum cluster_state s)
{
    return s == CLUSTER_CONNECTED ? "connected" : s == CLUSTER_UNREACHABLE ? "unreachable" : "connecting";
}

static void tables_clear(struct cluster *c)
{
    struct csess *s, *t;

    HASH_ITER(hh, c->sessions, s, t) {
        HASH_DEL(c->sessions, s);
        free(s);
    }
    c->nm = 0;
}

/* cluster-partition-conflict for each other member advertising our index. */
static bool still_conflicts(const char *resource, void *arg)
{
    struct cluster *c = arg;

    for (size_t i = 0; c->self.partition >= 0 && i < c->nm; i++) {
        if (!strcmp(c->m[i].name, resource) && strcmp(c->m[i].name, c->self.name) &&
            c->m[i].partition == c->self.partition)
            return true;
    }
    return false;
}

static void conflicts_check(struct cluster *c)
{
    alarm_clear_unless(ALARM_CLUSTER_PARTITION_CONFLICT, "", still_conflicts, c);
    for (size_t i = 0; c->self.partition >= 0 && i < c->nm; i++) {
        if (strcmp(c->m[i].name, c->self.name) && c->m[i].partition == c->self.partition)
            alarm_raise(ALARM_CLUSTER_PARTITION_CONFLICT, c->m[i].name, ALARM_SEV_MAJOR,
                        "cluster member %s advertises this member's pools/partition/index %d: both may give the "
                        "same address; give each member its own index",
                        c->m[i].name, c->self.partition);
    }
}

static void member_remove(struct cluster *c, const char *name)
{
    for (size_t i = 0; i < c->nm; i++) {
        if (!strcmp(c->m[i].name, name)) {
            c->m[i] = c->m[--c->nm];
            return;
        }
    }
}

static void member_set(struct cluster *c, const struct cluster_member *m)
{
    struct cluster_member *nm;

    for (size_t i = 0; i < c->nm; i++) {
        if (!strcmp(c->m[i].name, m->name)) {
            c->m[i] = *m;
            return;
        }
    }
    if (c->nm == c->capm) {
        nm = realloc(c->m, (c->capm ? c->capm * 2 : 8) * sizeof(*nm));
        if (!nm)
            return; /* out of memory: this member is not known (pick ignores it) */
        c->m = nm;
        c->capm = c->capm ? c->capm * 2 : 8;
    }
    c->m[c->nm++] = *m;
}

/* A record that does not pass: logged and counted once per key and revision. */
static void ignore(struct cluster *c, const struct etcd_kv *kv, const char *why, bool count)
{
    struct ignored *ig;
    size_t klen = strlen(kv->key);

    HASH_FIND(hh, c->ignored, kv->key, klen, ig);
    if (ig && ig->rev == kv->mod_revision)
        return;
    if (!ig) {
        ig = calloc(1, sizeof(*ig));
        if (ig && !(ig->key = strdup(kv->key))) {
            free(ig);
            ig = NULL;
        }
        if (ig)
            HASH_ADD_KEYPTR(hh, c->ignored, ig->key, klen, ig);
    }
    if (ig)
        ig->rev = kv->mod_revision;
    if (count)
        c->nignored++;
    log_warn("cluster", "etcd key %s (revision %" PRId64 ") ignored: %s", kv->key, kv->mod_revision, why);
}

/* A key deleted: a record written there later is logged again. */
static void ignored_forget(struct cluster *c, const char *key)
{
    struct ignored *ig;

    HASH_FIND(hh, c->ignored, key, strlen(key), ig);
    if (ig) {
        HASH_DEL(c->ignored, ig);
        free(ig->key);
        free(ig);
    }
}

static void sess_remove(struct cluster *c, const char *key)
{
    struct csess *s;

    HASH_FIND_STR(c->sessions, key, s);
    if (s) {
        HASH_DEL(c->sessions, s);
        free(s);
    }
}

/* A put or delete of a key under the prefix (from the range or the watch). */
static void kv_event(struct cluster *c, enum etcd_event ev, const struct etcd_kv *kv)
{
    char name[CLUSTER_NAME_MAX], why[200], skey[sizeof(((struct csess *)0)->key)];
    uint64_t id = 0;
    int kind;

    if (strncmp(kv->key, c->prefix, c->prefix_len))
        return;
    if (ev == ETCD_EV_DELETE)
        ignored_forget(c, kv->key);
    kind = cluster_key_split(kv->key + c->prefix_len, name, sizeof(name), &id);
    if (kind == 'm') {
        struct cluster_member m;

        member_remove(c, name);
        if (ev == ETCD_EV_PUT) {
            if (cluster_member_parse(name, kv->val, kv->vlen, c->self.family, &m, why, sizeof(why)))
                ignore(c, kv, why, true);
            else
                member_set(c, &m);
        }
    } else if (kind == 's') {
        struct csess *s;

        snprintf(skey, sizeof(skey), "%s/%" PRIu64, name, id);
        sess_remove(c, skey);
        if (ev != ETCD_EV_PUT || !(s = calloc(1, sizeof(*s))))
            return;
        if (cluster_session_parse(kv->val, kv->vlen, &s->s, why, sizeof(why))) {
            ignore(c, kv, why, false);
            free(s);
            return;
        }
        snprintf(s->key, sizeof(s->key), "%s", skey);
        snprintf(s->member, sizeof(s->member), "%s", name);
        s->id = id;
        HASH_ADD_STR(c->sessions, key, s);
    }
}

static void on_watch(void *arg, enum etcd_event ev, const struct etcd_kv *kv)
{
    kv_event(arg, ev, kv);
    conflicts_check(arg);
}

static void watch_again(struct cluster *c);

static void on_watch_lost(void *arg, const char *err)
{
    struct cluster *c = arg;

    c->watch = NULL;
    log_info("cluster", "the watch of %s ended (%s): ranged and watched again", c->prefix, err ? err : "");
    watch_again(c);
}

/* The tables read (members, then sessions page by page, all at sync_rev):
 * the watch from the next revision. */
static void watch_start(struct cluster *c)
{
    conflicts_check(c);
    if (c->watch)
        etcd_watch_cancel(c->watch);
    c->watch = etcd_watch_prefix(c->etcd, c->prefix, c->sync_rev + 1, on_watch, on_watch_lost, c);
    c->watches++;
    if (!c->watch) {
        fail(c, "watch", "cannot start a watch");
        return;
    }
    if (c->state != CLUSTER_CONNECTED)
        log_info("cluster", "member %s connected to etcd at %s (lease %" PRId64 ", %zu member(s))", c->self.name,
                 etcd_endpoint(c->etcd), c->lease, c->nm);
    c->state = CLUSTER_CONNECTED;
    c->err[0] = 0;
    c->backoff_ms = 0;
    alarm_clear(ALARM_CLUSTER_ETCD_UNREACHABLE, ALARM_RES);
}

static void sessions_page(struct cluster *c, const char *after);

static void on_sessions(void *arg, bool ok, const struct etcd_kv *kvs, size_t n, int64_t revision, const char *err)
{
    struct cluster *c = req_end(arg);

    (void)revision;
    if (!c)
        return;
    if (!ok) {
        fail(c, "range of the sessions", err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        kv_event(c, ETCD_EV_PUT, &kvs[i]);
    if (n == SESS_PAGE)
        sessions_page(c, kvs[n - 1].key);
    else
        watch_start(c);
}

/* The next page of session keys, those after @after (NULL: from the first). */
static void sessions_page(struct cluster *c, const char *after)
{
    char pfx[512];
    struct req *r = req_new(c);

    snprintf(pfx, sizeof(pfx), "%ssessions/", c->prefix);
    if (!r || etcd_range_page(c->etcd, pfx, after, SESS_PAGE, c->sync_rev, on_sessions, r)) {
        if (r)
            req_drop(r);
        fail(c, "range of the sessions", "out of memory");
    }
}

static void on_members(void *arg, bool ok, const struct etcd_kv *kvs, size_t n, int64_t revision, const char *err)
{
    struct cluster *c = req_end(arg);

    if (!c)
        return;
    if (!ok) {
        fail(c, "range of the members", err);
        return;
    }
    tables_clear(c);
    for (size_t i = 0; i < n; i++)
        kv_event(c, ETCD_EV_PUT, &kvs[i]);
    c->sync_rev = revision;
    sessions_page(c, NULL);
}

/* The tables filled from ranges at one revision (the members, then the
 * sessions in pages: thousands of them would not fit one answer), then
 * watched on. */
static void watch_again(struct cluster *c)
{
    char pfx[512];
    struct req *r = req_new(c);

    if (c->watch) {
        etcd_watch_cancel(c->watch);
        c->watch = NULL;
    }
    snprintf(pfx, sizeof(pfx), "%smembers/", c->prefix);
    if (!r || etcd_range_prefix(c->etcd, pfx, on_members, r)) {
        if (r)
            req_drop(r);
        fail(c, "range of the members", "out of memory");
    }
}

/* Through the write queue: a put that fails is sent again, not a reason to
 * give the lease up. */
static void put_json(struct cluster *c, const char *key, char *json, size_t len)
{
    if (!json || cluster_wq_put(c->wq, key, json, len))
        log_warn("cluster", "cannot put %s: out of memory", key);
    free(json);
}

static void member_put(struct cluster *c)
{
    char key[512], *json;
    size_t len = 0;

    if (!c->lease)
        return;
    snprintf(key, sizeof(key), "%smembers/%s", c->prefix, c->self.name);
    c->last_put_ms = monotime_ms();
    if (c->count_t)
        evtimer_del(c->count_t);
    json = cluster_member_json(&c->self, &len);
    put_json(c, key, json, len);
}

static void on_count_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    member_put(arg);
}

static void arm_tick(struct cluster *c, unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    evtimer_add(c->tick, &tv);
}

/* The lease is held until its TTL passed since it was last kept alive: a
 * keep-alive that failed is tried again sooner, the lease given up only then. */
static void keepalive_failed(struct cluster *c, const char *err)
{
    uint64_t since = monotime_ms() - c->ka_ok_ms;

    if (since >= (uint64_t)c->ttl * 1000) {
        fail(c, "lease keep-alive", err);
        return;
    }
    log_warn("cluster", "lease %" PRId64 " keep-alive failed (%s), %" PRIu64 " ms after the last answered: again in "
             "%u ms", c->lease, err && *err ? err : "failed", since, KA_RETRY_MS);
    evtimer_del(c->tick);
    arm_tick(c, KA_RETRY_MS < c->ttl * 1000 / 3 ? KA_RETRY_MS : c->ttl * 1000 / 3);
}

static void on_keepalive(void *arg, bool ok, int64_t lease, int64_t ttl, const char *err)
{
    struct cluster *c = req_end(arg);

    (void)lease;
    if (!c)
        return;
    if (!ok) {
        keepalive_failed(c, err);
        return;
    }
    if (ttl <= 0) {
        log_warn("cluster", "etcd says lease %" PRId64 " is gone: asking a new one", c->lease);
        c->lease = 0;
        cluster_wq_reset(c->wq, 0);
        c->state = CLUSTER_CONNECTING;
        start(c);
        return;
    }
    c->ka_ok_ms = monotime_ms();
}

static void on_revoked(void *arg, bool ok, const char *err)
{
    (void)ok;
    (void)err;
    req_drop(arg);
}

static void on_grant(void *arg, bool ok, int64_t lease, int64_t ttl, const char *err)
{
    struct cluster *c = req_end(arg);
    struct req *r;

    if (!c)
        return;
    if (!ok || ttl <= 0) {
        fail(c, "lease grant", ok ? "etcd granted no lease" : err);
        return;
    }
    c->lease = lease;
    c->ka_ok_ms = monotime_ms();
    cluster_wq_reset(c->wq, lease);
    if (c->old_lease && (r = req_new(c)) && etcd_lease_revoke(c->etcd, c->old_lease, on_revoked, r))
        req_drop(r);
    c->old_lease = 0;
    c->last_put_ms = 0;
    if (c->resync) /* the session keys and count first, so that the member key has the count */
        c->resync(c, c->arg);
    if (!c->last_put_ms) /* the count did not change: not put yet */
        member_put(c);
    watch_again(c);
    arm_tick(c, c->ttl * 1000 / 3);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct cluster *c = arg;
    struct req *r;

    (void)fd;
    (void)what;
    if (!c->lease) { /* the next attempt */
        start(c);
        return;
    }
    r = req_new(c);
    if (!r || etcd_lease_keepalive(c->etcd, c->lease, on_keepalive, r)) {
        if (r)
            req_drop(r);
        keepalive_failed(c, "out of memory");
        return;
    }
    arm_tick(c, c->ttl * 1000 / 3);
}

/* A new attempt: what the previous one sent is no longer listened to. */
static void start(struct cluster *c)
{
    struct req *r;

    c->gen++;
    evtimer_del(c->tick);
    if (c->watch) {
        etcd_watch_cancel(c->watch);
        c->watch = NULL;
    }
    r = req_new(c);
    if (!r || etcd_lease_grant(c->etcd, c->ttl, on_grant, r)) {
        if (r)
            req_drop(r);
        fail(c, "lease grant", "out of memory");
    }
}

static void fail(struct cluster *c, const char *what, const char *err)
{
    bool was = c->state == CLUSTER_UNREACHABLE;

    snprintf(c->err, sizeof(c->err), "%s: %s", what, err && *err ? err : "failed");
    if (!was)
        log_warn("cluster", "etcd unreachable (%s, %s): serving every client here", etcd_endpoint(c->etcd), c->err);
    c->state = CLUSTER_UNREACHABLE;
    c->gen++; /* the answers still due are of no use */
    alarm_raise(ALARM_CLUSTER_ETCD_UNREACHABLE, ALARM_RES, ALARM_SEV_MAJOR,
                "etcd (%s) cannot be reached or refuses this member: %s; every client is served here and nobody is "
                "redirected",
                etcd_endpoint(c->etcd), c->err);
    if (c->watch) {
        etcd_watch_cancel(c->watch);
        c->watch = NULL;
    }
    tables_clear(c);
    conflicts_check(c);
    if (c->lease)
        c->old_lease = c->lease;
    c->lease = 0;
    cluster_wq_reset(c->wq, 0);
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    evtimer_del(c->tick);
    arm_tick(c, c->backoff_ms);
}

static int caddr_parse(const char *s, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1)
        ss->ss_family = AF_INET;
    else if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
        ss->ss_family = AF_INET6;
    else
        return -1;
    return 0;
}

struct cluster *cluster_new(struct event_base *base, struct etcd *etcd, const struct cluster_conf *cf,
                            cluster_resync_fn resync, void *arg)
{
    struct cluster *c = calloc(1, sizeof(*c));

    if (!c) {
        etcd_free(etcd);
        return NULL;
    }
    c->base = base;
    c->etcd = etcd;
    snprintf(c->self.name, sizeof(c->self.name), "%s", cf->name);
    snprintf(c->self.address, sizeof(c->self.address), "%s", cf->address);
    c->self.family = cluster_addr_family(cf->address);
    c->self.capacity = cf->capacity ? cf->capacity : 1;
    c->self.draining = cf->draining;
    c->self.partition = cf->partition;
    c->prefix = strdup(cf->prefix ? cf->prefix : "/raven/cluster/");
    c->prefix_len = c->prefix ? strlen(c->prefix) : 0;
    for (size_t i = 0; i < cf->ncluster_addrs && c->ncaddr < CLUSTER_ADDRS_MAX; i++) {
        if (!caddr_parse(cf->cluster_addrs[i], &c->caddr[c->ncaddr]))
            c->ncaddr++;
    }
    c->ttl = cf->lease_ttl >= 2 ? cf->lease_ttl : 2;
    c->resync = resync;
    c->arg = arg;
    c->tick = evtimer_new(base, on_tick, c);
    c->count_t = evtimer_new(base, on_count_timer, c);
    c->wq = cluster_wq_new(base, etcd);
    if (!c->prefix || !c->tick || !c->count_t || !c->wq) {
        cluster_free(c);
        return NULL;
    }
    c->state = CLUSTER_CONNECTING;
    log_info("cluster", "member %s (%s, capacity %u%s) joining through etcd at %s, prefix %s, lease TTL %u s",
             c->self.name, c->self.address, c->self.capacity, c->self.draining ? ", draining" : "",
             etcd_endpoint(etcd), c->prefix, c->ttl);
    start(c);
    return c;
}

void cluster_free(struct cluster *c)
{
    struct ignored *ig, *t;

    if (!c)
        return;
    if (c->watch)
        etcd_watch_cancel(c->watch);
    etcd_free(c->etcd); /* no callback runs after it */
    cluster_wq_free(c->wq);
    while (c->reqs)
        req_drop(c->reqs);
    if (c->tick)
        event_free(c->tick);
    if (c->count_t)
        event_free(c->count_t);
    tables_clear(c);
    HASH_ITER(hh, c->ignored, ig, t) {
        HASH_DEL(c->ignored, ig);
        free(ig->key);
        free(ig);
    }
    free(c->m);
    free(c->prefix);
    free(c);
}

static void on_left(void *arg, bool ok, const char *err)
{
    struct req *r = arg;
    struct cluster *c = r->c;

    req_drop(r);
    if (ok)
        log_info("cluster", "member %s left the cluster (lease revoked)", c->self.name);
    else
        log_warn("cluster", "member %s: the lease could not be revoked (%s): it expires in %u s", c->self.name,
                 err ? err : "", c->ttl);
    c->left = true;
    arm_tick(c, 0); /* freed on the next turn, out of the etcd client's callback */
}

static void on_leave_tick(evutil_socket_t fd, short what, void *arg)
{
    struct cluster *c = arg;

    (void)fd;
    (void)what;
    if (!c->left)
        log_warn("cluster", "member %s: no answer from etcd: its lease expires in %u s", c->self.name, c->ttl);
    if (c->gone)
        c->gone(c, c->gone_arg);
    cluster_free(c);
}

static void on_handed_over(void *arg, bool ok, const char *err)
{
    struct req *r = arg;
    struct cluster *c = r->c;

    req_drop(r);
    if (ok)
        log_info("cluster", "member %s draining until its successor's record (its lease expires in %u s)",
                 c->self.name, c->ttl);
    else
        log_warn("cluster", "member %s: the draining record could not be put (%s)", c->self.name, err ? err : "");
    c->left = true;
    arm_tick(c, 0);
}

static void leave(struct cluster *c, bool revoke, void (*gone)(struct cluster *c, void *arg), void *arg);

void cluster_leave(struct cluster *c, void (*gone)(struct cluster *c, void *arg), void *arg)
{
    leave(c, true, gone, arg);
}

void cluster_hand_over(struct cluster *c, void (*gone)(struct cluster *c, void *arg), void *arg)
{
    leave(c, false, gone, arg);
}

static void leave(struct cluster *c, bool revoke, void (*gone)(struct cluster *c, void *arg), void *arg)
{
    struct req *r = NULL;
    char key[512], *json = NULL;
    size_t len = 0;
    int rc = -1;

    if (!c)
        return;
    c->leaving = true;
    c->gone = gone;
    c->gone_arg = arg;
    c->gen++;
    if (c->watch) {
        etcd_watch_cancel(c->watch);
        c->watch = NULL;
    }
    evtimer_del(c->count_t);
    cluster_wq_reset(c->wq, 0);
    tables_clear(c);
    alarm_clear(ALARM_CLUSTER_ETCD_UNREACHABLE, ALARM_RES);
    alarm_clear_unless(ALARM_CLUSTER_PARTITION_CONFLICT, "", NULL, NULL);
    /* the tick now bounds the wait */
    event_free(c->tick);
    c->tick = evtimer_new(c->base, on_leave_tick, c);
    c->self.draining = true;
    snprintf(key, sizeof(key), "%smembers/%s", c->prefix, c->self.name);
    if (c->lease && c->tick && (r = req_new(c))) {
        if (revoke)
            rc = etcd_lease_revoke(c->etcd, c->lease, on_left, r);
        else if ((json = cluster_member_json(&c->self, &len)))
            rc = etcd_put(c->etcd, key, json, len, c->lease, on_handed_over, r);
        free(json);
    }
    if (!rc) {
        arm_tick(c, LEAVE_WAIT_S * 1000);
        return;
    }
    if (r)
        req_drop(r);
    c->left = true;
    if (c->tick) {
        arm_tick(c, 0);
        return;
    }
    if (gone)
        gone(c, arg);
    cluster_free(c);
}

void cluster_update(struct cluster *c, const struct cluster_conf *cf)
{
    uint32_t cap = cf->capacity ? cf->capacity : 1;
    bool changed = c->self.draining != cf->draining || c->self.capacity != cap;

    c->self.draining = cf->draining;
    c->self.capacity = cap;
    c->ncaddr = 0;
    for (size_t i = 0; i < cf->ncluster_addrs && c->ncaddr < CLUSTER_ADDRS_MAX; i++) {
        if (!caddr_parse(cf->cluster_addrs[i], &c->caddr[c->ncaddr]))
            c->ncaddr++;
    }
    log_info("cluster", "member %s: capacity %u%s, %zu cluster address(es)", c->self.name, cap,
             cf->draining ? ", draining" : "", c->ncaddr);
    if (changed && !c->leaving)
        member_put(c);
}

void cluster_set_partition(struct cluster *c, int partition)
{
    if (!c || c->self.partition == partition)
        return;
    c->self.partition = partition;
    member_put(c);
    conflicts_check(c);
}

void cluster_set_sessions(struct cluster *c, uint32_t sessions)
{
    uint64_t now, due;
    struct timeval tv = {0};

    if (!c || c->self.sessions == sessions)
        return;
    c->self.sessions = sessions;
    if (!c->lease || c->leaving || evtimer_pending(c->count_t, NULL))
        return;
    now = monotime_ms();
    due = c->last_put_ms + 1000;
    if (now >= due) {
        member_put(c);
        return;
    }
    tv.tv_usec = (suseconds_t)(due - now) * 1000;
    evtimer_add(c->count_t, &tv);
}

void cluster_session_put(struct cluster *c, uint64_t id, const struct cluster_session *s)
{
    char key[512], *json;
    size_t len = 0;

    if (!c || !c->lease || c->leaving)
        return;
    snprintf(key, sizeof(key), "%ssessions/%s/%" PRIu64, c->prefix, c->self.name, id);
    json = cluster_session_json(s, &len);
    put_json(c, key, json, len);
}

void cluster_session_delete(struct cluster *c, uint64_t id)
{
    char key[512];

    if (!c || !c->lease || c->leaving)
        return;
    snprintf(key, sizeof(key), "%ssessions/%s/%" PRIu64, c->prefix, c->self.name, id);
    if (cluster_wq_delete(c->wq, key))
        log_warn("cluster", "cannot delete %s: out of memory", key);
}

void cluster_info(const struct cluster *c, struct cluster_info *i)
{
    i->state = c->state;
    i->endpoint = etcd_endpoint(c->etcd);
    i->error = c->err;
    i->distributing = c->state == CLUSTER_CONNECTED && c->ncaddr > 0;
    i->ignored = c->nignored;
    i->writes = etcd_writes(c->etcd);
    i->watches = c->watches;
}

const char *cluster_name(const struct cluster *c)
{
    return c->self.name;
}

const struct cluster_member *cluster_members(const struct cluster *c, size_t *n)
{
    *n = c->nm;
    return c->m;
}

void cluster_foreach_session(const struct cluster *c,
                             void (*fn)(const char *member, uint64_t id, const struct cluster_session *s, void *arg),
                             void *arg)
{
    const struct csess *s, *t;

    HASH_ITER(hh, c->sessions, s, t)
        fn(s->member, s->id, &s->s, arg);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    const struct in6_addr *b6 = &((const struct sockaddr_in6 *)b)->sin6_addr;

    /* an IPv4 request seen on an IPv6 socket */
    if (a->ss_family == AF_INET && b->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(b6))
        return !memcmp(&((const struct sockaddr_in *)a)->sin_addr, &b6->s6_addr[12], 4);
    if (a->ss_family != b->sa_family)
        return false;
    if (b->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return b->sa_family == AF_INET6 && !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                                               &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

/* The pick's address into @gw (false when it is this member or there is
 * none). The member chosen is counted one session more at once: its own count
 * comes back through etcd only after the client arrived (and at most once a
 * second), and a burst of new clients must spread meanwhile. Those counts go
 * with the member's next record, or after BUMP_MS without one (the clients
 * did not come, or its count did not move). */
static bool pick_gw(struct cluster *c, bool exclude_self, char *gw, size_t gwlen)
{
    uint64_t now = monotime_ms();
    long i;

    for (size_t k = 0; k < c->nm; k++) { /* its count did not move: those clients went elsewhere */
        if (c->m[k].bump && now - c->m[k].bump_ms >= BUMP_MS)
            c->m[k].bump = 0;
    }
    i = cluster_pick(c->m, c->nm, exclude_self ? c->self.name : NULL);
    if (i < 0)
        return false;
    if (c->m[i].bump < UINT32_MAX)
        c->m[i].bump++;
    c->m[i].bump_ms = now;
    if (!strcmp(c->m[i].name, c->self.name))
        return false;
    snprintf(gw, gwlen, "%s", c->m[i].address);
    return true;
}

bool cluster_redirect_init(struct cluster *c, const struct sockaddr *local, char *gw, size_t gwlen)
{
    bool at_caddr = false;

    if (!c || c->state != CLUSTER_CONNECTED || c->leaving)
        return false;
    if (c->self.draining)
        return pick_gw(c, true, gw, gwlen);
    for (size_t i = 0; local && i < c->ncaddr; i++)
        at_caddr = at_caddr || same_addr(&c->caddr[i], local);
    return at_caddr && pick_gw(c, false, gw, gwlen);
}

bool cluster_redirect_other(struct cluster *c, char *gw, size_t gwlen)
{
    return c && c->state == CLUSTER_CONNECTED && !c->leaving && pick_gw(c, true, gw, gwlen);
}
