/* Watches: a POST /v3/watch whose answer is a stream of JSON messages, split
 * as it comes (etcd_split_*, in libcurl's write callback: only buffered), then
 * handed out from the loop (etcd_watch_dispatch). The first message must be
 * the created acknowledgement; a cancellation, an error, a malformed message,
 * one over 1 MiB or the stream's end ends the watch (its lost callback). A
 * watch that etcd refuses for an invalid token is sent again with a new one;
 * one whose connection fails before it was created tries the next endpoint. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/cluster/etcd_int.h"

size_t etcd_watch_body(char *data, size_t size, size_t n, void *arg)
{
    struct etcd_watch *w = arg;

    if (w->failed || !etcd_split_feed(&w->split, data, size * n, w->err, sizeof(w->err))) {
        w->failed = true;
        return 0; /* ends the transfer; what came complete before is still handed out */
    }
    return size * n;
}

void etcd_watch_lost(struct etcd_watch *w, const char *err)
{
    struct etcd_req *r = &w->r;

    log_warn("etcd", "watch ended: %s", err);
    etcd_req_detach(r);
    r->state = RS_DEAD; /* before the callback: it may start a new watch */
    w->lost(r->arg, err);
    etcd_req_kill(r);
}

/* One message of @w's stream; false when the watch ended. */
static bool watch_msg(struct etcd_watch *w, const char *p, size_t len)
{
    struct etcd_req *r = &w->r;
    struct etcd *e = r->e;
    struct etcd_watch_msg m;
    char err[ETCD_ERRLEN], msg[ETCD_ERRLEN * 2 + ETCD_MAX_ENDPOINT];
    const char *ep = e->endpoints[r->ep];
    bool ok = false;

    if (!etcd_parse_watch_msg(p, len, &m, err, sizeof(err))) {
        snprintf(msg, sizeof(msg), "etcd at %s: bad watch message: %s", ep, err);
        etcd_watch_lost(w, msg);
        return false;
    }
    if (m.error || (!w->acked && m.canceled)) {
        if (!w->acked && etcd_auth_invalid(m.error ? m.error_code : -1, m.reason) && etcd_req_auth_again(r))
            goto out;
        /* gRPC Unavailable (no leader): another member may take it */
        if (!w->acked && m.error && m.error_code == 14 && etcd_req_failover(r, m.reason))
            goto out;
        snprintf(msg, sizeof(msg), "etcd at %s %s the watch: %s", ep, w->acked ? "ended" : "refused",
                 m.reason[0] ? m.reason : "no reason");
        etcd_watch_lost(w, msg);
        goto out;
    }
    if (!w->acked && !m.created) {
        snprintf(msg, sizeof(msg), "etcd at %s: the watch's first message is not its creation", ep);
        etcd_watch_lost(w, msg);
        goto out;
    }
    w->acked = true;
    evtimer_del(w->ev_ack);
    for (size_t i = 0; i < m.kvs.n && r->state == RS_SENT && !e->freed; i++)
        w->cb(r->arg, m.types[i], &m.kvs.v[i]);
    if (m.canceled && r->state == RS_SENT && !e->freed) {
        if (m.compact_revision)
            snprintf(msg, sizeof(msg), "etcd at %s: revision %" PRId64 " was compacted", ep, m.compact_revision);
        else
            snprintf(msg, sizeof(msg), "etcd at %s cancelled the watch: %s", ep, m.reason[0] ? m.reason : "no reason");
        etcd_watch_lost(w, msg);
        goto out;
    }
    ok = r->state == RS_SENT && !e->freed;
out:
    etcd_watch_msg_fini(&m);
    return ok;
}

/* Hands out the complete messages of every watch's stream. */
void etcd_watch_dispatch(struct etcd *e)
{
    for (struct etcd_req *r = e->reqs; r && !e->freed; r = r->next) {
        struct etcd_watch *w = (struct etcd_watch *)r;
        const char *m;
        size_t len;

        if (r->kind != RQ_WATCH)
            continue;
        while (r->state == RS_SENT && etcd_split_next(&w->split, &m, &len) && watch_msg(w, m, len))
            ;
    }
}

void etcd_watch_ended(struct etcd_watch *w, CURLcode rc)
{
    struct etcd_req *r = &w->r;
    char err[ETCD_ERRLEN], msg[ETCD_ERRLEN + ETCD_MAX_ENDPOINT];

    if (r->state != RS_SENT)
        return;
    if (w->failed) {
        snprintf(msg, sizeof(msg), "etcd at %s: %s", r->e->endpoints[r->ep], w->err);
        etcd_watch_lost(w, msg);
        return;
    }
    snprintf(err, sizeof(err), "%s",
             rc == CURLE_OK ? "the stream ended" : (r->curl_err[0] ? r->curl_err : curl_easy_strerror(rc)));
    /* not yet created: another endpoint may take it */
    if (!w->acked && rc != CURLE_OK && etcd_req_failover(r, err))
        return;
    snprintf(msg, sizeof(msg), "etcd at %s: %s", r->e->endpoints[r->ep], err);
    etcd_watch_lost(w, msg);
}

void etcd_watch_on_ack(evutil_socket_t fd, short what, void *arg)
{
    struct etcd_watch *w = arg;
    struct etcd *e = w->r.e;
    char why[96], msg[ETCD_MAX_ENDPOINT + 128];

    (void)fd;
    (void)what;
    if (w->r.state != RS_SENT || w->acked)
        return;
    etcd_enter(e);
    snprintf(why, sizeof(why), "no acknowledgement of the watch within %u ms", e->timeout_ms);
    if (!etcd_req_failover(&w->r, why)) {
        snprintf(msg, sizeof(msg), "etcd at %s: %s", e->endpoints[w->r.ep], why);
        etcd_watch_lost(w, msg);
    }
    etcd_leave(e);
}

struct etcd_watch *etcd_watch_prefix(struct etcd *e, const char *prefix, int64_t start_revision, etcd_watch_cb cb,
                                     etcd_watch_lost_cb lost, void *arg)
{
    json_t *cr = etcd_json_range(prefix, true);
    json_t *j = cr ? json_pack("{s:o}", "create_request", cr) : NULL;
    struct etcd_watch *w;

    if (j && start_revision && json_object_set_new(cr, "start_revision", etcd_json_i64str(start_revision))) {
        json_decref(j);
        j = NULL;
    }
    if (!(w = (struct etcd_watch *)etcd_req_new(e, RQ_WATCH, "/v3/watch", j, sizeof(*w))))
        return NULL;
    w->cb = cb;
    w->lost = lost;
    w->r.arg = arg;
    return w;
}

void etcd_watch_cancel(struct etcd_watch *w)
{
    if (w && w->r.state != RS_DEAD)
        etcd_req_kill(&w->r);
}
