/* RFC 8040 §6 event streams as Server-Sent Events. Each subscriber has a bounded
 * queue of encoded events; its connection is suspended while the queue is empty and
 * resumed when an event or a keep-alive arrives. Events are encoded once per format
 * on the thread that brings them (the management client's reader). The traffic
 * sampler and the check of credentials run on the main thread's event loop, every
 * second. ravend is told which classes of events the subscribers want (it sends
 * nothing else) when a subscriber comes, before its stream is answered, and when
 * one goes. */
#include <errno.h>
#include <openssl/crypto.h>
#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

/* A subscriber's queue holds at most QUEUE_MAX events and QUEUE_MAX_BYTES bytes:
 * room for ravend's whole log (MREPLAY_MAX_EVENTS, MREPLAY_MAX_BYTES of XML,
 * daemon/mgmt), which a replay queues before the stream is answered, and some
 * live events on top. A stream whose client falls further behind is closed
 * after what it has queued: nothing is dropped from its middle, and the client
 * reconnects with Last-Event-ID to have the rest replayed from the log. */
#define QUEUE_MAX (256 + 1024)
#define QUEUE_MAX_BYTES (2u << 20)
#define KEEPALIVE_S 15

enum ev_class {
    EV_SESSIONS = 1,
    EV_AUTH = 2,
    EV_CONFIG = 4,
    EV_TRAFFIC = 8,
    EV_OTHER = 16, /* raven events without a stream of their own (alarms) */
};

static const struct {
    const char *name, *desc;
    unsigned int mask;
} streams[] = {
    {"NETCONF", "Every event: sessions, authentication failures, configuration changes and alarms.",
     EV_SESSIONS | EV_AUTH | EV_CONFIG | EV_OTHER},
    {"sessions", "raven-vpn:session-up and raven-vpn:session-down.", EV_SESSIONS},
    {"auth", "raven-vpn:authentication-failure.", EV_AUTH},
    {"config", "ietf-netconf-notifications:netconf-config-change and raven-vpn:certificate-warning.", EV_CONFIG},
    {"traffic", "raven-vpn:traffic-sample every 'interval' seconds (query parameter, 1-60, default 2).", EV_TRAFFIC},
};

struct msg {
    struct msg *next;
    size_t len;
    char text[];
};

struct sub {
    struct rest_events *ev;
    struct MHD_Connection *conn;
    unsigned int mask;
    enum rest_fmt fmt;
    unsigned int interval;
    struct msg *head, *tail;
    size_t qlen, qbytes;
    struct msg *cur;
    size_t off;
    bool suspended, closed;
    struct rest_who who; /* the subscriber's user, role and token (if any) */
    uint32_t tag;   /* its replays' tag (mc_replay), unique in this process */
    bool replaying; /* live events held back until ravend's log is replayed */
    int64_t stop_ns; /* stop-time: the stream ends then (0: never) */
    struct sub *next;
};

struct rest_events {
    struct rest_api *api;
    pthread_mutex_t lock;
    struct sub *subs;
    size_t nsubs;
    struct event *timer;
    uint64_t ticks;
    atomic_bool users_changed; /* token streams are checked again at the next tick */
    atomic_bool stopping;      /* streams end with the front end: ravend is not told */
    uint32_t next_tag;
};

static void recheck(struct rest_events *ev);

static struct msg *msg_new(const char *s, size_t n)
{
    struct msg *m = malloc(sizeof(*m) + n + 1);

    if (!m)
        return NULL;
    m->next = NULL;
    m->len = n;
    memcpy(m->text, s, n);
    m->text[n] = '\0';
    return m;
}

/* Under ev->lock: wakes a suspended subscriber. */
static void wake(struct sub *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

/* Under ev->lock: queues a copy of @text; a subscriber whose queue is full (or
 * memory short) has its stream closed once what is queued is sent. */
static void push(struct sub *s, const char *text, size_t len)
{
    struct msg *m;

    if (s->closed)
        return;
    m = s->qlen < QUEUE_MAX && s->qbytes + len <= QUEUE_MAX_BYTES ? msg_new(text, len) : NULL;
    if (!m) {
        log_warn("rest", "event stream of %s: %zu events queued, the client is too slow; closing the stream",
                 s->who.user[0] ? s->who.user : "?", s->qlen);
        s->closed = true;
        wake(s);
        return;
    }
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
    s->qlen++;
    s->qbytes += len;
    wake(s);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sub *s = cls;
    struct rest_events *ev = s->ev;
    size_t n = 0;

    (void)pos;
    pthread_mutex_lock(&ev->lock);
    while (n < max) {
        if (!s->cur) {
            s->cur = s->head;
            if (!s->cur)
                break;
            s->head = s->cur->next;
            if (!s->head)
                s->tail = NULL;
            s->qlen--;
            s->qbytes -= s->cur->len;
            s->off = 0;
        }
        {
            size_t k = s->cur->len - s->off;

            if (k > max - n)
                k = max - n;
            memcpy(buf + n, s->cur->text + s->off, k);
            n += k;
            s->off += k;
            if (s->off == s->cur->len) {
                free(s->cur);
                s->cur = NULL;
            }
        }
    }
    if (!n) {
        if (s->closed) {
            pthread_mutex_unlock(&ev->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        s->suspended = true;
        MHD_suspend_connection(s->conn);
    }
    pthread_mutex_unlock(&ev->lock);
    return (ssize_t)n;
}

/* The classes of ravend's events a stream of @mask wants (traffic samples are
 * made here). */
static unsigned int mc_classes(unsigned int mask)
{
    return (mask & EV_SESSIONS ? MC_EV_SESSIONS : 0) | (mask & EV_AUTH ? MC_EV_AUTH : 0) |
           (mask & EV_CONFIG ? MC_EV_CONFIG : 0) | (mask & EV_OTHER ? MC_EV_OTHER : 0);
}

static unsigned int interest_now(void *arg)
{
    struct rest_events *ev = arg;
    unsigned int want = 0;

    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next)
        want |= mc_classes(s->mask);
    pthread_mutex_unlock(&ev->lock);
    return want;
}

static int interest_update(struct rest_events *ev)
{
    if (atomic_load(&ev->stopping))
        return 0;
    return mc_interest_update(ev->api->mc, interest_now, ev);
}

static void sub_free(void *cls)
{
    struct sub *s = cls;
    struct rest_events *ev = s->ev;

    pthread_mutex_lock(&ev->lock);
    for (struct sub **pp = &ev->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            ev->nsubs--;
            break;
        }
    pthread_mutex_unlock(&ev->lock);
    if (s->mask != EV_TRAFFIC)
        interest_update(ev);
    while (s->head) {
        struct msg *m = s->head;

        s->head = m->next;
        free(m);
    }
    free(s->cur);
    free(s);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The replay a stream request asks for (start-time, stop-time, Last-Event-ID):
 * NULL when it can be done, else what is wrong with it (a 400). */
static const char *replay_refusal(struct MHD_Connection *conn, struct rest_query *q, unsigned int mask)
{
    const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");

    if (last && rest_event_id_parse(last, &q->replay.after_id))
        return "Last-Event-ID must be the id of an event of this server's streams";
    if (!q->replay.after_id && !q->replay.start_ns && !q->replay.stop_ns)
        return NULL;
    if (mask == EV_TRAFFIC)
        return "the traffic stream has no replay (start-time, stop-time, Last-Event-ID)";
    if (q->replay.stop_ns && !q->replay.start_ns && !q->replay.after_id)
        return "stop-time needs start-time (or Last-Event-ID)";
    if (q->replay.start_ns > now_ns())
        return "start-time is later than the current time";
    if (q->replay.stop_ns && q->replay.stop_ns < q->replay.start_ns)
        return "stop-time is earlier than start-time";
    return NULL;
}

/* Has ravend replay its log for @s: the events after Last-Event-ID, else those
 * from start-time, up to stop-time; they come (tagged for @s) and are queued
 * before this returns. 0 or -errno. */
static int replay_start(struct rest_events *ev, struct sub *s, const struct rest_replay *rp)
{
    int rc = mc_replay(ev->api->mc, s->tag, mc_classes(s->mask), rp->after_id,
                       rp->after_id ? -1 : rp->start_ns, rp->stop_ns ? rp->stop_ns : -1, NULL);

    pthread_mutex_lock(&ev->lock);
    s->replaying = false; /* replay_end did so already when it came */
    if (s->stop_ns && s->stop_ns <= now_ns()) {
        s->closed = true; /* all it asked for was in the log */
        wake(s);
    }
    pthread_mutex_unlock(&ev->lock);
    return rc;
}

enum MHD_Result rest_events_serve(struct rest_api *api, struct MHD_Connection *conn, const char *name,
                                  enum rest_fmt fmt, struct rest_req *r)
{
    struct rest_events *ev = api->ev;
    struct MHD_Response *resp;
    struct sub *s;
    enum MHD_Result ret;
    size_t i;

    for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
        if (!strcmp(name, streams[i].name))
            break;
    if (i == sizeof(streams) / sizeof(streams[0])) {
        rest_reply_err(&r->rep, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, NULL,
                       "no event stream \"%s\"; see ietf-restconf-monitoring:restconf-state/streams", name);
        goto reply;
    }
    if (r->query.interval && streams[i].mask != EV_TRAFFIC) {
        rest_reply_err(&r->rep, r->out_fmt, 400, CFG_ERR_INVALID_VALUE, NULL,
                       "only the traffic stream takes an interval");
        goto reply;
    }
    if (replay_refusal(conn, &r->query, streams[i].mask)) {
        rest_reply_err(&r->rep, r->out_fmt, 400, CFG_ERR_INVALID_VALUE, NULL, "%s",
                       replay_refusal(conn, &r->query, streams[i].mask));
        goto reply;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        rest_reply_err(&r->rep, r->out_fmt, 503, CFG_ERR_RESOURCE_DENIED, NULL, "out of memory");
        goto reply;
    }
    s->ev = ev;
    s->conn = conn;
    s->mask = streams[i].mask;
    s->fmt = fmt;
    s->interval = r->query.interval ? r->query.interval : 2;
    s->who = r->who;
    s->replaying = r->query.replay.after_id || r->query.replay.start_ns;
    s->stop_ns = r->query.replay.stop_ns;
    pthread_mutex_lock(&ev->lock);
    s->tag = ++ev->next_tag ? ev->next_tag : ++ev->next_tag;
    if (ev->nsubs >= REST_STREAM_MAX) {
        pthread_mutex_unlock(&ev->lock);
        free(s);
        rest_reply_err(&r->rep, r->out_fmt, 503, CFG_ERR_RESOURCE_DENIED, NULL,
                       "too many event stream subscribers (%d)", REST_STREAM_MAX);
        goto reply;
    }
    /* a first comment line: the stream is open */
    push(s, ": raven event stream\n\n", strlen(": raven event stream\n\n"));
    s->next = ev->subs;
    ev->subs = s;
    ev->nsubs++;
    pthread_mutex_unlock(&ev->lock);
    free(r->query.fields);
    /* ravend sends these events from now on: none is missed once the stream is
     * answered */
    if (s->mask != EV_TRAFFIC && (interest_update(ev) || (s->replaying && replay_start(ev, s, &r->query.replay)))) {
        sub_free(s);
        r->query.fields = NULL;
        rest_reply_err(&r->rep, r->out_fmt, 503, CFG_ERR_OPERATION_FAILED, NULL,
                       "the daemon is not reachable; try again");
        goto reply;
    }
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, sub_free);
    if (!resp) {
        sub_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
reply:
    free(r->query.fields);
    {
        struct MHD_Response *e = MHD_create_response_from_buffer(r->rep.len, r->rep.body, MHD_RESPMEM_MUST_FREE);

        if (!e) {
            free(r->rep.body);
            return MHD_NO;
        }
        MHD_add_response_header(e, MHD_HTTP_HEADER_CONTENT_TYPE, r->rep.ctype);
        ret = MHD_queue_response(conn, r->rep.status, e);
        MHD_destroy_response(e);
        return ret;
    }
}

/* "id: N" (when @id) and "data: ..." lines of one SSE event from an encoded
 * notification. */
static char *sse_event(const char *doc, uint64_t id)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *p = doc;

    if (!f)
        return NULL;
    if (id)
        fprintf(f, "id: %llu\n", (unsigned long long)id);
    while (*p) {
        size_t n = strcspn(p, "\n");

        if (n)
            fprintf(f, "data: %.*s\n", (int)n, p);
        p += n;
        if (*p)
            p++;
    }
    fputs("\n", f);
    fclose(f);
    return buf;
}

/* The RFC 8040 §6.4 encoding of @notif as SSE event @id (0: none), stamped @etime
 * (ravend's eventTime; NULL: now) in UTC with milliseconds. */
static char *encode(struct rest_api *api, const struct lyd_node *notif, enum rest_fmt fmt, const char *etime,
                    uint64_t id)
{
    char *body = NULL, *doc = NULL, t[64], *ev;
    struct timespec ts;
    struct tm tm;
    size_t n;

    (void)api;
    if (!etime || ly_time_str2ts(etime, &ts))
        clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(t + n, sizeof(t) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    if (lyd_print_mem(&body, notif, fmt == REST_XML ? LYD_XML : LYD_JSON, LYD_PRINT_SHRINK) || !body)
        return NULL;
    if (fmt == REST_XML) {
        if (asprintf(&doc,
                     "<notification xmlns=\"urn:ietf:params:xml:ns:netconf:notification:1.0\"><eventTime>%s</eventTime>%s"
                     "</notification>",
                     t, body) < 0)
            doc = NULL;
    } else {
        /* {"mod:name":{...}} -> {"ietf-restconf:notification":{"eventTime":"...","mod:name":{...}}} */
        size_t bl = strlen(body);

        while (bl && (body[bl - 1] == '\n' || body[bl - 1] == ' '))
            bl--;
        if (bl >= 2 && body[0] == '{' && body[bl - 1] == '}' &&
            asprintf(&doc, "{\"ietf-restconf:notification\":{\"eventTime\":\"%s\",%.*s}}", t, (int)(bl - 2),
                     body + 1) < 0)
            doc = NULL;
    }
    free(body);
    ev = doc ? sse_event(doc, id) : NULL;
    free(doc);
    return ev;
}

static unsigned int class_of(const struct lyd_node *notif)
{
    const char *m = notif->schema->module->name, *n = notif->schema->name;

    if (!strcmp(m, "ietf-netconf-notifications"))
        return !strcmp(n, "netconf-config-change") ? EV_CONFIG : 0;
    if (strcmp(m, "raven-vpn"))
        return 0;
    if (!strcmp(n, "session-up") || !strcmp(n, "session-down"))
        return EV_SESSIONS;
    if (!strcmp(n, "authentication-failure"))
        return EV_AUTH;
    if (!strcmp(n, "traffic-sample"))
        return EV_TRAFFIC;
    if (!strcmp(n, "certificate-warning")) /* what a commit brought */
        return EV_CONFIG;
    return EV_OTHER; /* alarms, other raven events: the NETCONF stream only */
}

/* Whether stream @s gets an event of @cls at @ns: a replayed one (@replay) only
 * the stream it is replayed for, while its replay lasts; a live one every stream
 * not replaying, up to its stop-time. Under ev->lock. */
static bool wants(const struct sub *s, unsigned int cls, int64_t ns, uint32_t replay)
{
    if (!(s->mask & cls))
        return false;
    if (replay)
        return s->tag == replay && s->replaying;
    return !s->replaying && (!s->stop_ns || ns <= s->stop_ns);
}

/* The one path of every event of ravend, live or replayed, to the streams: queued
 * for those that want it and whose user @deny (NACM, mc_deny_has) does not name,
 * encoded once per format in use. */
static void deliver(struct rest_events *ev, const struct lyd_node *notif, unsigned int cls, const char *etime,
                    uint64_t id, uint32_t replay, char *const *deny)
{
    char *enc[2] = {NULL, NULL};
    bool need[2] = {false, false};
    struct timespec ts = {0};
    int64_t ns;

    if (!etime || ly_time_str2ts(etime, &ts))
        ts.tv_sec = time(NULL);
    ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next)
        if (wants(s, cls, ns, replay) && !mc_deny_has(deny, s->who.user))
            need[s->fmt] = true;
    pthread_mutex_unlock(&ev->lock);
    for (int f = 0; f < 2; f++)
        if (need[f])
            enc[f] = encode(ev->api, notif, (enum rest_fmt)f, etime, id);
    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next)
        if (wants(s, cls, ns, replay) && enc[s->fmt] && !mc_deny_has(deny, s->who.user))
            push(s, enc[s->fmt], strlen(enc[s->fmt]));
    pthread_mutex_unlock(&ev->lock);
    free(enc[0]);
    free(enc[1]);
}

void rest_api_notify(struct rest_api *api, const struct lyd_node *notif, const char *time, uint64_t id,
                     uint32_t replay, char *const *deny)
{
    unsigned int cls;

    if (!api || !notif || !notif->schema)
        return;
    cls = class_of(notif);
    /* sessions came or went: cached state is out of date */
    if (!replay)
        rest_api_state_changed(api);
    if (cls)
        deliver(api->ev, notif, cls, time, id, replay, deny);
}

void rest_api_replay_end(struct rest_api *api, uint32_t replay)
{
    struct rest_events *ev = api ? api->ev : NULL;

    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next)
        if (s->tag == replay)
            s->replaying = false;
    pthread_mutex_unlock(&ev->lock);
}

static bool any_sub(struct rest_events *ev, unsigned int mask)
{
    bool any = false;

    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s && !any; s = s->next)
        any = (s->mask & mask) && (mask != EV_TRAFFIC || ev->ticks % s->interval == 0);
    pthread_mutex_unlock(&ev->lock);
    return any;
}

static void add_counters(struct lyd_node *parent, const struct lyd_node *stats, uint64_t sum[4])
{
    static const char *const names[4] = {"bytes-in", "bytes-out", "packets-in", "packets-out"};

    for (int i = 0; i < 4; i++) {
        struct lyd_node *c = NULL;
        const char *v = "0";

        if (stats && !lyd_find_path(stats, names[i], 0, &c))
            v = lyd_get_value(c);
        lyd_new_term(parent, NULL, names[i], v, 0, NULL);
        sum[i] += strtoull(v, NULL, 10);
    }
}

/* The traffic-sample notification from the daemon's state, read for @user (one of
 * the stream's subscribers): only the sessions' ids and counters. */
static struct lyd_node *traffic_sample(struct rest_api *api, unsigned int interval, const char *user)
{
    static const char *const xps[] = {"/raven-vpn:vpn-state/session/id", "/raven-vpn:vpn-state/session/statistics",
                                      NULL};
    const struct lys_module *mod = ly_ctx_get_module_implemented(api->ctx, "raven-vpn");
    struct cfg_actor who = {.sid = REST_SID, .user = user};
    struct lyd_node *state = NULL, *n = NULL, *tot = NULL;
    struct cfg_errs errs = {0};
    struct ly_set *set = NULL;
    uint64_t sum[4] = {0};
    char iv[16];
    int rc = mod ? mc_get_state(api->mc, &who, xps, &state, &errs) : -ENOENT;

    if (rc)
        log_debug("rest", "traffic sample: cannot read the sessions (%s)",
                  errs.head && errs.head->msg ? errs.head->msg : strerror(-rc));
    cfg_errs_clear(&errs);
    if (rc || lyd_new_inner(NULL, mod, "traffic-sample", 0, &n)) {
        lyd_free_siblings(state);
        return NULL;
    }
    snprintf(iv, sizeof(iv), "%u", interval);
    lyd_new_term(n, NULL, "interval", iv, 0, NULL);
    if (state && !lyd_find_xpath(state, "/raven-vpn:vpn-state/session", &set)) {
        for (uint32_t i = 0; i < set->count; i++) {
            struct lyd_node *id = NULL, *st = NULL, *e = NULL;

            if (lyd_find_path(set->dnodes[i], "id", 0, &id) ||
                lyd_new_list(n, NULL, "session", 0, &e, lyd_get_value(id)))
                continue;
            lyd_find_path(set->dnodes[i], "statistics", 0, &st);
            add_counters(e, st, sum);
        }
    }
    ly_set_free(set, NULL);
    lyd_free_siblings(state);
    if (!lyd_new_inner(n, NULL, "total", 0, &tot)) {
        static const char *const names[4] = {"bytes-in", "bytes-out", "packets-in", "packets-out"};

        for (int i = 0; i < 4; i++) {
            char v[24];

            snprintf(v, sizeof(v), "%llu", (unsigned long long)sum[i]);
            lyd_new_term(tot, NULL, names[i], v, 0, NULL);
        }
    }
    return n;
}

/* A sample for @user's streams of interval @iv. */
static void traffic_send(struct rest_events *ev, unsigned int iv, const char *user)
{
    struct lyd_node *n = traffic_sample(ev->api, iv, user);
    char *enc[2];

    if (!n)
        return;
    enc[0] = encode(ev->api, n, REST_JSON, NULL, 0);
    enc[1] = encode(ev->api, n, REST_XML, NULL, 0);
    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next)
        if ((s->mask & EV_TRAFFIC) && s->interval == iv && !strcmp(s->who.user, user) && enc[s->fmt])
            push(s, enc[s->fmt], strlen(enc[s->fmt]));
    pthread_mutex_unlock(&ev->lock);
    free(enc[0]);
    free(enc[1]);
    lyd_free_tree(n);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct rest_events *ev = arg;

    (void)fd;
    (void)what;
    ev->ticks++;
    if (any_sub(ev, EV_TRAFFIC)) {
        /* one sample per interval and user in use: subscribers with the same
         * interval share it if they are the same user (NACM may show each user
         * other sessions) */
        struct {
            unsigned int iv;
            char user[40];
        } want[REST_STREAM_MAX];
        size_t nwant = 0;

        pthread_mutex_lock(&ev->lock);
        for (struct sub *s = ev->subs; s; s = s->next) {
            size_t i = 0;

            if (!(s->mask & EV_TRAFFIC) || s->closed || ev->ticks % s->interval)
                continue;
            while (i < nwant && (want[i].iv != s->interval || strcmp(want[i].user, s->who.user)))
                i++;
            if (i == nwant && nwant < REST_STREAM_MAX) {
                want[nwant].iv = s->interval;
                memcpy(want[nwant++].user, s->who.user, sizeof(want[0].user));
            }
        }
        pthread_mutex_unlock(&ev->lock);
        for (size_t i = 0; i < nwant; i++)
            traffic_send(ev, want[i].iv, want[i].user);
    }
    if (ev->ticks % KEEPALIVE_S == 0) {
        pthread_mutex_lock(&ev->lock);
        for (struct sub *s = ev->subs; s; s = s->next)
            if (!s->head && !s->cur)
                push(s, ": keep-alive\n\n", strlen(": keep-alive\n\n"));
        pthread_mutex_unlock(&ev->lock);
    }
    recheck(ev);
}

struct rest_events *rest_events_new(struct rest_api *api)
{
    struct rest_events *ev = calloc(1, sizeof(*ev));
    struct timeval one = {1, 0};

    if (!ev)
        return NULL;
    ev->api = api;
    pthread_mutex_init(&ev->lock, NULL);
    ev->timer = api->base ? event_new(api->base, -1, EV_PERSIST, on_tick, ev) : NULL;
    if (ev->timer)
        event_add(ev->timer, &one);
    return ev;
}

/* Ends every stream: their connections are resumed and finish. */
static void rest_events_close_all(struct rest_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next) {
        s->closed = true;
        wake(s);
    }
    pthread_mutex_unlock(&ev->lock);
}

void rest_events_users_changed(struct rest_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next) {
        /* a password login cannot be checked again: its client logs in anew */
        if (!s->closed && !s->who.token[0]) {
            s->closed = true;
            wake(s);
        }
    }
    pthread_mutex_unlock(&ev->lock);
    atomic_store(&ev->users_changed, true);
}

void rest_events_token_revoked(struct rest_events *ev, const char *token)
{
    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next)
        if (!s->closed && !strcmp(s->who.token, token)) {
            s->closed = true;
            wake(s);
        }
    pthread_mutex_unlock(&ev->lock);
}

/* Ends the streams whose token expired and, after a change of users, those whose
 * token ravend no longer honours for the same user and role (user removed, role
 * changed): a stream lasts no longer than its credentials. Main thread: the checks
 * wait for ravend, so they run on copies, outside the lock. */
static void recheck(struct rest_events *ev)
{
    bool users = atomic_exchange(&ev->users_changed, false);
    struct rest_who *check = NULL;
    size_t n = 0, cap = 0;
    time_t now = time(NULL);

    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next) {
        if (!s->closed && s->stop_ns && !s->replaying && s->stop_ns <= now_ns()) {
            s->closed = true; /* stop-time reached */
            wake(s);
        }
        if (s->closed || !s->who.token[0])
            continue;
        if (s->who.expires <= now) {
            s->closed = true;
            wake(s);
        } else if (users) {
            if (n == cap) {
                struct rest_who *t = realloc(check, (cap ? 2 * cap : 8) * sizeof(*t));

                if (!t)
                    continue;
                check = t;
                cap = cap ? 2 * cap : 8;
            }
            check[n++] = s->who;
        }
    }
    pthread_mutex_unlock(&ev->lock);
    for (size_t i = 0; i < n; i++)
        if (!rest_auth_token_valid(ev->api->auth, &check[i]))
            rest_events_token_revoked(ev, check[i].token);
    if (check)
        OPENSSL_cleanse(check, cap * sizeof(*check));
    free(check);
}

/* Ends the streams served by @mhd (before that daemon stops). */
void rest_events_close_daemon(struct rest_events *ev, struct MHD_Daemon *mhd)
{
    pthread_mutex_lock(&ev->lock);
    for (struct sub *s = ev->subs; s; s = s->next) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_DAEMON);

        if (ci && ci->daemon == mhd) {
            s->closed = true;
            wake(s);
        }
    }
    pthread_mutex_unlock(&ev->lock);
}

void rest_events_free(struct rest_events *ev)
{
    if (!ev)
        return;
    if (ev->timer)
        event_free(ev->timer);
    atomic_store(&ev->stopping, true);
    rest_events_close_all(ev);
    /* the subscribers are freed by libmicrohttpd as their connections end; the
     * structure stays until the daemons have stopped (rest_events_release) */
}

void rest_events_release(struct rest_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}

char *rest_events_streams_doc(struct rest_api *api, enum rest_fmt fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    struct mc_replay_info info = {0};

    /* the log's creation time (ravend's start) */
    if (mc_replay(api->mc, 0, 0, 0, -1, -1, &info))
        info.created[0] = '\0';
    f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    if (fmt == REST_XML)
        fputs("<restconf-state xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf-monitoring\"><streams>", f);
    else
        fputs("{\"ietf-restconf-monitoring:restconf-state\":{\"streams\":{\"stream\":[", f);
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        bool replay = streams[i].mask != EV_TRAFFIC && info.created[0];

        if (fmt == REST_XML)
            fprintf(f,
                    "<stream><name>%s</name><description>%s</description><replay-support>%s</replay-support>%s%s%s"
                    "<access><encoding>json</encoding><location>/restconf/streams/%s/json</location></access>"
                    "<access><encoding>xml</encoding><location>/restconf/streams/%s/xml</location></access></stream>",
                    streams[i].name, streams[i].desc, replay ? "true" : "false",
                    replay ? "<replay-log-creation-time>" : "", replay ? info.created : "",
                    replay ? "</replay-log-creation-time>" : "", streams[i].name, streams[i].name);
        else
            fprintf(f,
                    "%s{\"name\":\"%s\",\"description\":\"%s\",\"replay-support\":%s%s%s%s,\"access\":["
                    "{\"encoding\":\"json\",\"location\":\"/restconf/streams/%s/json\"},"
                    "{\"encoding\":\"xml\",\"location\":\"/restconf/streams/%s/xml\"}]}",
                    i ? "," : "", streams[i].name, streams[i].desc, replay ? "true" : "false",
                    replay ? ",\"replay-log-creation-time\":\"" : "", replay ? info.created : "", replay ? "\"" : "",
                    streams[i].name, streams[i].name);
    }
    fputs(fmt == REST_XML ? "</streams></restconf-state>\n" : "]}}}\n", f);
    fclose(f);
    return buf;
}
