/* The notification replay log (RFC 5277 section 3.2, RFC 8040 section 6.3):
 * every notification ravend sends, kept with its event time, class and id in a
 * bounded ring (MREPLAY_MAX_EVENTS events and MREPLAY_MAX_BYTES bytes of XML, the
 * oldest dropped first), and the `replay` request that sends a front end what it
 * holds from a time or after an id. Ids grow by one per notification from the
 * microseconds of the log's creation, so that an id from before a restart of
 * ravend is older than every id after it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/base/poison.h"

struct mreplay {
    struct mreplay_ent *ring;
    size_t cap, max_bytes;
    size_t head, n, bytes; /* head: the oldest entry */
    uint64_t next_id;
    int64_t created_ns, aged_ns; /* aged: the event time of the newest dropped (0: none) */
    int64_t last_ns;             /* the latest event time given (mreplay_stamp) */
    uint64_t dropped;
};

struct mreplay *mreplay_new(size_t max_events, size_t max_bytes, int64_t now_ns)
{
    struct mreplay *r = calloc(1, sizeof(*r));

    if (!r || !max_events || !(r->ring = calloc(max_events, sizeof(*r->ring)))) {
        free(r);
        return NULL;
    }
    r->cap = max_events;
    r->max_bytes = max_bytes;
    r->created_ns = now_ns;
    r->next_id = (uint64_t)(now_ns / 1000) + 1;
    return r;
}

/* An entry's xml, time, module and name are one allocation (at xml). */
static void ent_clear(struct mreplay_ent *e)
{
    free(e->xml);
    for (size_t i = 0; i < e->npaths; i++)
        free(e->paths[i]);
    free(e->paths);
    memset(e, 0, sizeof(*e));
}

static void drop_oldest(struct mreplay *r)
{
    struct mreplay_ent *e = &r->ring[r->head];

    r->aged_ns = e->ns;
    r->bytes -= e->len;
    ent_clear(e);
    r->head = (r->head + 1) % r->cap;
    r->n--;
    r->dropped++;
}

int64_t mreplay_stamp(struct mreplay *r, int64_t now_ns)
{
    if (now_ns > r->last_ns)
        r->last_ns = now_ns;
    return r->last_ns;
}

void mreplay_free(struct mreplay *r)
{
    if (!r)
        return;
    while (r->n)
        drop_oldest(r);
    free(r->ring);
    free(r);
}

uint64_t mreplay_add(struct mreplay *r, unsigned int cls, int64_t ns, const char *time, const char *xml, size_t len,
                     const char *mod, const char *name, char **paths, size_t npaths)
{
    struct mreplay_ent e = {.id = r->next_id++, .ns = ns, .cls = cls, .len = len, .paths = paths, .npaths = npaths};
    size_t tlen, mlen, nlen;

    /* one bigger than the whole log is sent but not kept */
    if (len > r->max_bytes) {
        ent_clear(&e);
        return r->next_id - 1;
    }
    mod = mod ? mod : "";
    name = name ? name : "";
    tlen = strlen(time) + 1;
    mlen = strlen(mod) + 1;
    nlen = strlen(name) + 1;
    e.xml = malloc(len + 1 + tlen + mlen + nlen);
    if (!e.xml) {
        uint64_t id = e.id;

        ent_clear(&e);
        return id;
    }
    memcpy(e.xml, xml, len);
    e.xml[len] = '\0';
    e.time = memcpy(e.xml + len + 1, time, tlen);
    e.mod = memcpy(e.time + tlen, mod, mlen);
    e.name = memcpy(e.mod + mlen, name, nlen);
    while (r->n && (r->n == r->cap || r->bytes + len > r->max_bytes))
        drop_oldest(r);
    r->ring[(r->head + r->n) % r->cap] = e;
    r->n++;
    r->bytes += len;
    return e.id;
}

size_t mreplay_count(const struct mreplay *r)
{
    return r->n;
}

const struct mreplay_ent *mreplay_at(const struct mreplay *r, size_t i)
{
    return i < r->n ? &r->ring[(r->head + i) % r->cap] : NULL;
}

/* Entries are in id order and, as ravend stamps them, in time order: both found by
 * bisection. */
size_t mreplay_after_id(const struct mreplay *r, uint64_t id)
{
    size_t lo = 0, hi = r->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (mreplay_at(r, mid)->id <= id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t mreplay_from_time(const struct mreplay *r, int64_t ns)
{
    size_t lo = 0, hi = r->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (mreplay_at(r, mid)->ns < ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t mreplay_last_id(const struct mreplay *r)
{
    return r->next_id - 1;
}

int64_t mreplay_created(const struct mreplay *r)
{
    return r->created_ns;
}

int64_t mreplay_aged(const struct mreplay *r)
{
    return r->aged_ns;
}

/* ---- the `replay` request ---- */

static const char *const cls_names[] = {"sessions", "auth", "config", "other"};

static bool int_member(json_t *req, const char *k, int64_t *out, const char **why)
{
    json_t *v = json_object_get(req, k);

    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        *why = "replay: \"for\", \"after-id\", \"start\" and \"stop\" are unsigned integers";
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static json_t *ts_json(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    char *s = NULL;
    json_t *j;

    if (!ns || ly_time_ts2str(&ts, &s))
        return json_null();
    j = json_string(s);
    free(s);
    return j;
}

/* The reply: what the log holds and since when (RFC 5277 replayLogCreationTime,
 * RFC 8639 replay-log-aged-time). */
static void reply(struct mconn *c, json_t *id, uint64_t sent)
{
    struct mreplay *r = c->m->replay;
    const struct mreplay_ent *old = mreplay_at(r, 0);
    json_t *rep = json_pack("{s:O, s:i, s:[], s:I, s:I, s:I, s:I, s:o, s:o, s:I}", "id", id, "rc", 0, "errors",
                            "sent", (json_int_t)sent, "count", (json_int_t)r->n, "last-id",
                            (json_int_t)mreplay_last_id(r), "oldest-id", (json_int_t)(old ? old->id : 0), "created",
                            ts_json(r->created_ns), "aged", ts_json(r->aged_ns), "dropped", (json_int_t)r->dropped);

    if (rep)
        mconn_send(c, rep, NULL, 0, NULL, 0);
    json_decref(rep);
}

static bool classes(json_t *req, unsigned int *mask, const char **why)
{
    json_t *evs = json_object_get(req, "events"), *e;
    size_t i;

    *mask = MGMT_EV_ALL;
    if (!evs)
        return true;
    if (!json_is_array(evs)) {
        *why = "replay: \"events\" is an array of sessions, auth, config, other";
        return false;
    }
    *mask = 0;
    json_array_foreach(evs, i, e) {
        const char *n = json_string_value(e);
        size_t k = 0;

        while (n && k < sizeof(cls_names) / sizeof(cls_names[0]) && strcmp(n, cls_names[k]))
            k++;
        if (!n || k == sizeof(cls_names) / sizeof(cls_names[0])) {
            *why = "replay: an event class is one of sessions, auth, config, other";
            return false;
        }
        *mask |= 1u << k;
    }
    return true;
}

/* {"op": "replay", "id": N, "for": K, "after-id"?, "start"?, "stop"?, "events"?}:
 * the logged notifications of the classes @events (all without) with an id after
 * "after-id", an event time at or after "start" and at or before "stop" (ns since
 * the epoch), each sent to @c as a `notification` event with "replay": K (the
 * front end's tag for its subscriber, 1..2^32-1), then `replay-end` with the last
 * id logged so far, then the reply. "for" 0 sends nothing: the reply only. */
int mgmt_replay(struct mconn *c, json_t *req, const char **why)
{
    json_t *id = json_object_get(req, "id"), *end;
    int64_t tag = 0, after = -1, start = -1, stop = INT64_MAX;
    struct mreplay *r = c->m->replay;
    unsigned int mask;
    uint64_t sent = 0;

    if (!json_is_integer(id) || json_integer_value(id) < 0) {
        *why = "a request needs \"id\", an unsigned integer";
        return -1;
    }
    if (c->kind == MGMT_KIND_NONE) {
        *why = "the first request must be hello";
        return -1;
    }
    if (!int_member(req, "for", &tag, why) || !int_member(req, "after-id", &after, why) ||
        !int_member(req, "start", &start, why) || !int_member(req, "stop", &stop, why) || !classes(req, &mask, why))
        return -1;
    if (tag > UINT32_MAX) {
        *why = "replay: \"for\" is at most 4294967295";
        return -1;
    }
    for (size_t i = after >= 0 ? mreplay_after_id(r, (uint64_t)after) : mreplay_from_time(r, start < 0 ? 0 : start);
         tag && i < r->n && !c->dead; i++) {
        const struct mreplay_ent *e = mreplay_at(r, i);

        if (e->ns < start)
            continue;
        if (e->ns > stop)
            break;
        if (!(e->cls & mask))
            continue;
        if (mgmt_notif_send(c, e, (uint32_t)tag))
            sent++;
    }
    if (tag) {
        end = json_pack("{s:s, s:I, s:I}", "ev", "replay-end", "replay", (json_int_t)tag, "last-id",
                        (json_int_t)mreplay_last_id(r));
        if (end)
            mconn_send(c, end, NULL, 0, NULL, 0);
        json_decref(end);
    }
    reply(c, id, sent);
    return 0;
}
