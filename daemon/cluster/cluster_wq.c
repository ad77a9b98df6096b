/* The member's writes of its own keys, paced and retried (cluster_wq.h). */
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>
#include <uthash.h>

#include "daemon/base/log.h"
#include "daemon/base/monotime.h"
#include "daemon/cluster/cluster_wq.h"
#include "daemon/cluster/etcd.h"
#include "daemon/base/poison.h"

#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 5000

enum wstate { W_READY, W_FLIGHT, W_RETRY };

/* The write wanted at one key. */
struct wkey {
    char *key;
    char *json; /* NULL: a delete */
    size_t len;
    enum wstate st;
    bool newer;   /* in flight, and a newer write waits behind it */
    bool dropped; /* in flight when the lease changed: freed by its answer */
    unsigned backoff_ms;
    uint64_t due_ms;
    struct cluster_wq *q;
    UT_hash_handle hh;
    struct wkey *prev, *next; /* in ready or retry */
};

struct cluster_wq {
    struct etcd *etcd;
    struct event *timer;
    int64_t lease;
    struct wkey *keys;          /* every key with a write wanted */
    struct wkey *ready, *retry; /* waiting to be sent; waiting for their back-off */
    struct wkey *dropped;       /* in flight, of a lease gone (by next only) */
    size_t inflight;
    uint64_t failures;
};

static void pump(struct cluster_wq *q);

static void wkey_free(struct wkey *w)
{
    free(w->key);
    free(w->json);
    free(w);
}

static void on_done(void *arg, bool ok, const char *err)
{
    struct wkey *w = arg;
    struct cluster_wq *q = w->q;

    if (w->dropped) { /* of a lease gone */
        DL_DELETE(q->dropped, w);
        wkey_free(w);
        return;
    }
    q->inflight--;
    if (w->newer) {
        w->newer = false;
        w->st = W_READY;
        DL_APPEND(q->ready, w);
    } else if (ok) {
        HASH_DEL(q->keys, w);
        wkey_free(w);
    } else {
        q->failures++;
        w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : RETRY_MIN_MS;
        if (w->backoff_ms > RETRY_MAX_MS)
            w->backoff_ms = RETRY_MAX_MS;
        log_warn("cluster", "etcd %s of %s failed (%s): again in %u ms", w->json ? "put" : "delete", w->key,
                 err ? err : "", w->backoff_ms);
        w->due_ms = monotime_ms() + w->backoff_ms;
        w->st = W_RETRY;
        DL_APPEND(q->retry, w);
        if (!evtimer_pending(q->timer, NULL)) {
            struct timeval tv = {.tv_sec = 0, .tv_usec = 100 * 1000};

            evtimer_add(q->timer, &tv);
        }
    }
    pump(q);
}

static void pump(struct cluster_wq *q)
{
    struct wkey *w;
    int rc;

    while (q->inflight < CLUSTER_WQ_INFLIGHT && (w = q->ready)) {
        DL_DELETE(q->ready, w);
        if (w->json)
            rc = etcd_put(q->etcd, w->key, w->json, w->len, q->lease, on_done, w);
        else
            rc = etcd_delete(q->etcd, w->key, false, on_done, w);
        if (rc) { /* out of memory: tried again later */
            w->st = W_RETRY;
            w->due_ms = monotime_ms() + RETRY_MAX_MS;
            DL_APPEND(q->retry, w);
            break;
        }
        w->st = W_FLIGHT;
        q->inflight++;
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct cluster_wq *q = arg;
    struct wkey *w, *t;
    uint64_t now = monotime_ms();

    (void)fd;
    (void)what;
    DL_FOREACH_SAFE(q->retry, w, t) {
        if (w->due_ms <= now) {
            DL_DELETE(q->retry, w);
            w->st = W_READY;
            DL_APPEND(q->ready, w);
        }
    }
    pump(q);
    if (q->retry) {
        struct timeval tv = {.tv_sec = 0, .tv_usec = 100 * 1000};

        evtimer_add(q->timer, &tv);
    }
}

struct cluster_wq *cluster_wq_new(struct event_base *base, struct etcd *etcd)
{
    struct cluster_wq *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    q->etcd = etcd;
    if (!(q->timer = evtimer_new(base, on_timer, q))) {
        free(q);
        return NULL;
    }
    return q;
}

void cluster_wq_reset(struct cluster_wq *q, int64_t lease)
{
    struct wkey *w, *t;

    HASH_ITER(hh, q->keys, w, t) {
        HASH_DEL(q->keys, w);
        if (w->st == W_FLIGHT) {
            w->dropped = true;
            DL_APPEND(q->dropped, w);
        } else {
            wkey_free(w);
        }
    }
    q->ready = q->retry = NULL;
    q->inflight = 0;
    q->lease = lease;
    evtimer_del(q->timer);
}

void cluster_wq_free(struct cluster_wq *q)
{
    struct wkey *w, *t;

    if (!q)
        return;
    cluster_wq_reset(q, 0);
    DL_FOREACH_SAFE(q->dropped, w, t)
        wkey_free(w);
    event_free(q->timer);
    free(q);
}

static int want(struct cluster_wq *q, const char *key, const char *json, size_t len)
{
    struct wkey *w;
    char *copy = NULL;

    if (json && !(copy = malloc(len + 1)))
        return -1;
    if (copy) {
        memcpy(copy, json, len);
        copy[len] = 0;
    }
    HASH_FIND_STR(q->keys, key, w);
    if (!w) {
        if (!(w = calloc(1, sizeof(*w))) || !(w->key = strdup(key))) {
            free(w);
            free(copy);
            return -1;
        }
        w->q = q;
        w->st = W_READY;
        HASH_ADD_KEYPTR(hh, q->keys, w->key, strlen(w->key), w);
        DL_APPEND(q->ready, w);
    } else if (w->st == W_FLIGHT) {
        w->newer = true;
    }
    /* in flight, the request has its own copy of the JSON sent */
    free(w->json);
    w->json = copy;
    w->len = len;
    pump(q);
    return 0;
}

int cluster_wq_put(struct cluster_wq *q, const char *key, const char *json, size_t len)
{
    return json ? want(q, key, json, len) : -1;
}

int cluster_wq_delete(struct cluster_wq *q, const char *key)
{
    return want(q, key, NULL, 0);
}

size_t cluster_wq_pending(const struct cluster_wq *q)
{
    return HASH_COUNT(q->keys);
}

uint64_t cluster_wq_failures(const struct cluster_wq *q)
{
    return q->failures;
}
