/* Notifications (RFC 5277) to the sessions that subscribed with create-subscription:
 * ravend is told whether any session subscribes (it sends nothing otherwise), and
 * its `notification` events (raven-vpn events, netconf-config-change) are queued
 * by the management client's reader thread and sent by this thread, so that a slow
 * client never holds up the connection to ravend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/netconf/nc_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

/* The session registry is locked while sending, so a subscriber that stops reading
 * delays logins and session ends by at most this much per notification. */
#define NC_NOTIF_SEND_TIMEOUT_MS 250
/* Past NC_NOTIF_QUEUE_MAX queued notifications (a replay queues up to the whole
 * log, 1024), a subscriber that does not take one within NC_NOTIF_SLOW_MS is too
 * slow: its session is ended (logged, counted in dropped-sessions), so that the
 * queue cannot grow without bound and the others do not wait for it. */
#define NC_NOTIF_QUEUE_MAX 2048
#define NC_NOTIF_SLOW_MS 20

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void item_free(struct nc_notif_item *it)
{
    lyd_free_tree(it->event);
    mc_deny_free(it->deny);
    free(it->time);
    free(it);
}

/* Whether session @s gets @it: never one NACM keeps from its user; a replayed
 * notification only the session it is replayed for, while its replay lasts; a
 * live one every subscriber not replaying, up to its stopTime. sess_lock held. */
static bool wants(const struct nc_sess *s, const struct nc_notif_item *it)
{
    if (!s->subscribed || nc_session_get_status(s->s) != NC_STATUS_RUNNING ||
        mc_deny_has(it->deny, nc_session_get_username(s->s)))
        return false;
    if (it->replay)
        return s->sid == it->replay && s->replaying;
    return !s->replaying && !s->replay_pending && (!s->stop_ns || it->ns <= s->stop_ns);
}

/* The one path of every notification, live or replayed, to the sessions. */
static void deliver(struct nc_api *api, struct nc_notif_item *it)
{
    struct nc_server_notif *n = nc_server_notif_new(it->event, it->time, NC_PARAMTYPE_CONST);
    bool over;

    if (!n)
        return;
    pthread_mutex_lock(&api->notif_lock);
    over = api->notif_len > NC_NOTIF_QUEUE_MAX;
    pthread_mutex_unlock(&api->notif_lock);
    pthread_mutex_lock(&api->sess_lock);
    for (struct nc_sess *s = api->sessions; s; s = s->next) {
        if (!wants(s, it))
            continue;
        if (nc_server_notif_send(s->s, n, over ? NC_NOTIF_SLOW_MS : NC_NOTIF_SEND_TIMEOUT_MS) == NC_MSG_NOTIF) {
            s->c.out_notifs++;
        } else if (over) {
            /* ended by its poll thread, which releases what it holds */
            log_warn("netconf", "session %u: more than %d notifications queued and it takes none; ending it",
                     s->sid, NC_NOTIF_QUEUE_MAX);
            nc_session_set_term_reason(s->s, NC_SESSION_TERM_OTHER);
            nc_session_set_status(s->s, NC_STATUS_INVALID);
        } else {
            log_warn("netconf", "session %u: notification not sent", s->sid);
        }
    }
    pthread_mutex_unlock(&api->sess_lock);
    nc_server_notif_free(n);
}

/* nc-notifications' replayComplete or notificationComplete to @s, stamped now.
 * sess_lock held. */
static void send_mark(struct nc_api *api, struct nc_sess *s, const char *name)
{
    const struct lys_module *mod = ly_ctx_get_module_implemented(api->ctx, "nc-notifications");
    struct lyd_node *ev = NULL;
    struct nc_server_notif *n = NULL;
    char *t = NULL;

    if (!mod || lyd_new_inner(NULL, mod, name, 0, &ev) || ly_time_time2str(time(NULL), NULL, &t) ||
        !(n = nc_server_notif_new(ev, t, NC_PARAMTYPE_CONST)) ||
        nc_server_notif_send(s->s, n, NC_NOTIF_SEND_TIMEOUT_MS) != NC_MSG_NOTIF)
        log_warn("netconf", "session %u: %s not sent", s->sid, name);
    else
        s->c.out_notifs++;
    nc_server_notif_free(n);
    lyd_free_tree(ev);
    free(t);
}

/* The subscription of @s is over (notificationComplete sent). sess_lock held. */
static void sub_end(struct nc_sess *s)
{
    s->subscribed = false;
    s->stop_ns = 0;
    nc_session_dec_notif_status(s->s);
}

/* The end of the replay for session @it->replay: replayComplete, then live
 * notifications, or notificationComplete when its stopTime has passed. */
static void replay_done(struct nc_api *api, const struct nc_notif_item *it)
{
    struct nc_sess *s;
    bool ended = false;

    pthread_mutex_lock(&api->sess_lock);
    s = nc_sess_find(api, it->replay);
    if (s && s->subscribed && s->replaying) {
        s->replaying = false;
        send_mark(api, s, "replayComplete");
        if (s->stop_ns && s->stop_ns <= now_ns()) {
            send_mark(api, s, "notificationComplete");
            sub_end(s);
            ended = true;
        }
    }
    pthread_mutex_unlock(&api->sess_lock);
    if (ended)
        nc_notif_interest(api);
}

/* Ends the subscriptions whose stopTime has passed; the nearest stopTime still
 * ahead (0: none). */
static int64_t expire(struct nc_api *api)
{
    int64_t now = now_ns(), due = 0;
    bool ended = false;

    pthread_mutex_lock(&api->sess_lock);
    for (struct nc_sess *s = api->sessions; s; s = s->next) {
        if (!s->subscribed || !s->stop_ns || s->replaying || s->replay_pending)
            continue;
        if (s->stop_ns <= now) {
            send_mark(api, s, "notificationComplete");
            sub_end(s);
            ended = true;
        } else if (!due || s->stop_ns < due) {
            due = s->stop_ns;
        }
    }
    pthread_mutex_unlock(&api->sess_lock);
    if (ended)
        nc_notif_interest(api);
    return due;
}

/* ravend did not replay its log for session @sid: rather than replayComplete
 * (RFC 5277 has no error notification), notificationComplete alone ends the
 * subscription, and the session may subscribe again. */
static void replay_failed(struct nc_api *api, uint32_t sid, int rc)
{
    struct nc_sess *s;
    bool ended = false;

    log_warn("netconf", "session %u: the replay log is not available (%s): its subscription ends", sid,
             strerror(-rc));
    pthread_mutex_lock(&api->sess_lock);
    s = nc_sess_find(api, sid);
    if (s && s->subscribed && s->replaying) {
        s->replaying = false;
        send_mark(api, s, "notificationComplete");
        sub_end(s);
        ended = true;
    }
    pthread_mutex_unlock(&api->sess_lock);
    if (ended)
        nc_notif_interest(api);
}

/* Asks ravend for the log of each session whose replay is pending: its
 * notifications and the end of the replay come as events, queued in order. */
static void ask_replays(struct nc_api *api)
{
    for (;;) {
        struct nc_sess *s;
        uint32_t sid = 0;
        int64_t start = 0, stop = 0;
        int rc;

        pthread_mutex_lock(&api->sess_lock);
        for (s = api->sessions; s && !(s->replay_pending && s->replay_ready); s = s->next)
            ;
        if (s) {
            s->replay_pending = false;
            s->replaying = true;
            sid = s->sid;
            start = s->start_ns;
            stop = s->stop_ns;
        }
        pthread_mutex_unlock(&api->sess_lock);
        if (!sid)
            return;
        rc = mc_replay(api->mc, sid, MC_EV_ALL, 0, start, stop ? stop : -1, NULL);
        if (rc)
            replay_failed(api, sid, rc);
    }
}

static void *notif_main(void *arg)
{
    struct nc_api *api = arg;
    int64_t due = 0;

    pthread_mutex_lock(&api->notif_lock);
    while (!atomic_load(&api->stop)) {
        struct nc_notif_item *it = api->notif_head;

        if (api->replay_asked) {
            api->replay_asked = false;
            pthread_mutex_unlock(&api->notif_lock);
            ask_replays(api);
            pthread_mutex_lock(&api->notif_lock);
            continue;
        }
        if (it && (!due || due <= now_ns())) {
            /* stopTimes pass while notifications keep coming too (due is 0
             * when none is known: a subscription may have come since); only
             * this thread takes items, so @it is still the head */
            pthread_mutex_unlock(&api->notif_lock);
            due = expire(api);
            pthread_mutex_lock(&api->notif_lock);
        }
        if (!it) {
            /* idle: the stopTimes that passed, then sleep until the next one */
            pthread_mutex_unlock(&api->notif_lock);
            due = expire(api);
            pthread_mutex_lock(&api->notif_lock);
            if (api->notif_head || api->replay_asked || atomic_load(&api->stop))
                continue;
            if (due) {
                struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};

                pthread_cond_timedwait(&api->notif_cond, &api->notif_lock, &ts);
            } else {
                pthread_cond_wait(&api->notif_cond, &api->notif_lock);
            }
            continue;
        }
        api->notif_head = it->next;
        if (!api->notif_head)
            api->notif_tail = NULL;
        api->notif_len--;
        pthread_mutex_unlock(&api->notif_lock);
        if (it->event)
            deliver(api, it);
        else
            replay_done(api, it);
        item_free(it);
        pthread_mutex_lock(&api->notif_lock);
    }
    pthread_mutex_unlock(&api->notif_lock);
    return NULL;
}

int nc_notif_start(struct nc_api *api)
{
    /* notif_cond has the default clock, CLOCK_REALTIME, as stopTimes have */
    return pthread_create(&api->notif_thr, NULL, notif_main, api) ? -1 : 0;
}

void nc_notif_stop(struct nc_api *api)
{
    pthread_mutex_lock(&api->notif_lock);
    pthread_cond_broadcast(&api->notif_cond);
    pthread_mutex_unlock(&api->notif_lock);
    pthread_join(api->notif_thr, NULL);
    while (api->notif_head) {
        struct nc_notif_item *it = api->notif_head;
        api->notif_head = it->next;
        item_free(it);
    }
}

void nc_notif_replied(struct nc_api *api, const struct nc_session *s)
{
    bool wake = false;

    pthread_mutex_lock(&api->sess_lock);
    for (struct nc_sess *e = api->sessions; e; e = e->next) {
        if (e->s == s && e->replay_pending && !e->replay_ready) {
            e->replay_ready = true;
            wake = true;
        }
    }
    pthread_mutex_unlock(&api->sess_lock);
    if (!wake)
        return;
    pthread_mutex_lock(&api->notif_lock);
    api->replay_asked = true;
    pthread_cond_signal(&api->notif_cond);
    pthread_mutex_unlock(&api->notif_lock);
}

static bool any_subscriber(struct nc_api *api)
{
    bool any = false;

    pthread_mutex_lock(&api->sess_lock);
    for (struct nc_sess *s = api->sessions; s && !any; s = s->next)
        any = s->subscribed;
    pthread_mutex_unlock(&api->sess_lock);
    return any;
}

/* The NETCONF stream carries every event: all classes while anyone subscribes. */
static unsigned int interest_now(void *arg)
{
    return any_subscriber(arg) ? MC_EV_ALL : 0;
}

int nc_notif_interest(struct nc_api *api)
{
    if (atomic_load(&api->stop))
        return 0; /* the front end is stopping: ravend need not be told */
    return api->mc ? mc_interest_update(api->mc, interest_now, api) : 0;
}

static void enqueue(struct nc_api *api, struct nc_notif_item *it)
{
    pthread_mutex_lock(&api->notif_lock);
    if (api->notif_tail)
        api->notif_tail->next = it;
    else
        api->notif_head = it;
    api->notif_tail = it;
    api->notif_len++;
    pthread_cond_signal(&api->notif_cond);
    pthread_mutex_unlock(&api->notif_lock);
}

void nc_api_notify(struct nc_api *api, struct lyd_node *ev, const char *time_str, uint64_t id, uint32_t replay,
                   char **deny)
{
    struct nc_notif_item *it;
    struct timespec ts;

    if (!api || !any_subscriber(api)) {
        lyd_free_tree(ev);
        mc_deny_free(deny);
        return;
    }
    it = calloc(1, sizeof(*it));
    if (it && time_str)
        it->time = strdup(time_str);
    else if (it && ly_time_time2str(time(NULL), NULL, &it->time))
        it->time = NULL;
    if (!it || !it->time || ly_time_str2ts(it->time, &ts)) {
        if (it)
            free(it->time);
        free(it);
        lyd_free_tree(ev);
        mc_deny_free(deny);
        return;
    }
    it->ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    it->event = ev;
    it->deny = deny;
    it->id = id;
    it->replay = replay;
    enqueue(api, it);
}

void nc_api_replay_end(struct nc_api *api, uint32_t replay)
{
    struct nc_notif_item *it = api ? calloc(1, sizeof(*it)) : NULL;

    if (!it)
        return;
    it->replay = replay;
    enqueue(api, it);
}

#define STREAM_PATH "/nc-notifications:netconf/streams/stream[name='NETCONF']"

void nc_notif_streams(struct nc_api *api, struct lyd_node **data)
{
    static char created[48]; /* the log's creation: ravend's start, fixed for this process's life */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    const struct lys_module *mod = ly_ctx_get_module_implemented(api->ctx, "nc-notifications");
    struct lyd_node *top = NULL, *st = NULL;
    struct mc_replay_info info = {0};

    pthread_mutex_lock(&lock);
    if (!created[0] && api->mc && !mc_replay(api->mc, 0, 0, 0, -1, -1, &info))
        snprintf(created, sizeof(created), "%s", info.created);
    if (mod && !lyd_new_path(NULL, api->ctx, STREAM_PATH, NULL, 0, &top) && !lyd_find_path(top, STREAM_PATH, 0, &st)) {
        lyd_new_term(st, NULL, "description",
                     "Every event: raven-vpn sessions, authentication failures, certificate warnings and alarms, "
                     "netconf-config-change.",
                     0, NULL);
        lyd_new_term(st, NULL, "replaySupport", created[0] ? "true" : "false", 0, NULL);
        if (created[0])
            lyd_new_term(st, NULL, "replayLogCreationTime", created, 0, NULL);
        lyd_merge_siblings(data, top, LYD_MERGE_DESTRUCT);
    } else {
        lyd_free_all(top);
    }
    pthread_mutex_unlock(&lock);
}
