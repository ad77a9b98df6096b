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
#include "daemon/cluster/etcd.h"
#include "daemon/base/poison.h"

#define ALARM_RES "/raven-vpn:cluster"
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 5000
#define LEAVE_WAIT_S 3

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

static void on_range(void *arg, bool ok, const struct etcd_kv *kvs, size_t n, int64_t revision, const char *err)
{
    struct cluster *c = req_end(arg);

    if (!c)
        return;
    if (!ok) {
        fail(c, "range", err);
        return;
    }
    tables_clear(c);
    for (size_t i = 0; i < n; i++)
        kv_event(c, ETCD_EV_PUT, &kvs[i]);
    conflicts_check(c);
    if (c->watch)
        etcd_watch_cancel(c->watch);
    c->watch = etcd_watch_prefix(c->etcd, c->prefix, revision + 1, on_watch, on_watch_lost, c);
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

/* The tables filled from a range at the revision it answers, then watched on. */
static void watch_again(struct cluster *c)
{
    struct req *r = req_new(c);

    if (c->watch) {
        etcd_watch_cancel(c->watch);
        c->watch = NULL;
    }
    if (!r || etcd_range_prefix(c->etcd, c->prefix, on_range, r)) {
        if (r)
            req_drop(r);
        fail(c, "range", "out of memory");
    }
}

static void on_write(void *arg, bool ok, const char *err)
{
    struct cluster *c = req_end(arg);

    if (c && !ok)
        fail(c, "put", err);
}

static void put_json(struct cluster *c, const char *key, char *json, size_t len)
{
    struct req *r = json ? req_new(c) : NULL;

    if (!r || etcd_put(c->etcd, key, json, len, c->lease, on_write, r)) {
        if (r)
            req_drop(r);
        log_warn("cluster", "cannot put %s: out of memory", key);
    }
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

static void on_keepalive(void *arg, bool ok, int64_t lease, int64_t ttl, const char *err)
{
    struct cluster *c = req_end(arg);

    (void)lease;
    if (!c)
        return;
    if (!ok) {
        fail(c, "lease keep-alive", err);
        return;
    }
    if (ttl <= 0) {
        log_warn("cluster", "etcd says lease %" PRId64 " is gone: asking a new one", c->lease);
        c->lease = 0;
        c->state = CLUSTER_CONNECTING;
        start(c);
    }
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
        fail(c, "lease keep-alive", "out of memory");
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
    if (!c->prefix || !c->tick || !c->count_t) {
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
        log_warn("cluster", "member %s: no answer to the lease revocation: it expires in %u s", c->self.name, c->ttl);
    if (c->gone)
        c->gone(c, c->gone_arg);
    cluster_free(c);
}

void cluster_leave(struct cluster *c, void (*gone)(struct cluster *c, void *arg), void *arg)
{
    struct req *r = NULL;

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
    tables_clear(c);
    alarm_clear(ALARM_CLUSTER_ETCD_UNREACHABLE, ALARM_RES);
    alarm_clear_unless(ALARM_CLUSTER_PARTITION_CONFLICT, "", NULL, NULL);
    /* the tick now bounds the wait */
    event_free(c->tick);
    c->tick = evtimer_new(c->base, on_leave_tick, c);
    if (c->lease && c->tick && (r = req_new(c)) && !etcd_lease_revoke(c->etcd, c->lease, on_left, r)) {
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
    struct req *r;

    if (!c || !c->lease || c->leaving)
        return;
    snprintf(key, sizeof(key), "%ssessions/%s/%" PRIu64, c->prefix, c->self.name, id);
    r = req_new(c);
    if (!r || etcd_delete(c->etcd, key, false, on_write, r)) {
        if (r)
            req_drop(r);
        log_warn("cluster", "cannot delete %s: out of memory", key);
    }
}

void cluster_info(const struct cluster *c, struct cluster_info *i)
{
    i->state = c->state;
    i->endpoint = etcd_endpoint(c->etcd);
    i->error = c->err;
    i->distributing = c->state == CLUSTER_CONNECTED && c->ncaddr > 0;
    i->ignored = c->nignored;
    i->writes = etcd_writes(c->etcd);
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
 * second), and a burst of new clients must spread meanwhile. */
static bool pick_gw(struct cluster *c, bool exclude_self, char *gw, size_t gwlen)
{
    long i = cluster_pick(c->m, c->nm, exclude_self ? c->self.name : NULL);

    if (i < 0)
        return false;
    if (c->m[i].sessions < UINT32_MAX)
        c->m[i].sessions++;
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
