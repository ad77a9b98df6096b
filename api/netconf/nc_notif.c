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

static void send_one(struct nc_api *api, struct nc_notif_item *it)
{
    struct nc_server_notif *n = nc_server_notif_new(it->event, it->time, NC_PARAMTYPE_CONST);

    if (!n)
        return;
    pthread_mutex_lock(&api->sess_lock);
    for (struct nc_sess *s = api->sessions; s; s = s->next) {
        if (!s->subscribed || nc_session_get_status(s->s) != NC_STATUS_RUNNING ||
            mc_deny_has(it->deny, nc_session_get_username(s->s)))
            continue;
        if (nc_server_notif_send(s->s, n, NC_NOTIF_SEND_TIMEOUT_MS) != NC_MSG_NOTIF)
            log_warn("netconf", "session %u: notification not sent", s->sid);
    }
    pthread_mutex_unlock(&api->sess_lock);
    nc_server_notif_free(n);
}

static void *notif_main(void *arg)
{
    struct nc_api *api = arg;

    pthread_mutex_lock(&api->notif_lock);
    while (!atomic_load(&api->stop)) {
        struct nc_notif_item *it = api->notif_head;

        if (!it) {
            pthread_cond_wait(&api->notif_cond, &api->notif_lock);
            continue;
        }
        api->notif_head = it->next;
        if (!api->notif_head)
            api->notif_tail = NULL;
        pthread_mutex_unlock(&api->notif_lock);
        send_one(api, it);
        lyd_free_tree(it->event);
        mc_deny_free(it->deny);
        free(it->time);
        free(it);
        pthread_mutex_lock(&api->notif_lock);
    }
    pthread_mutex_unlock(&api->notif_lock);
    return NULL;
}

int nc_notif_start(struct nc_api *api)
{
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
        lyd_free_tree(it->event);
        mc_deny_free(it->deny);
        free(it->time);
        free(it);
    }
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

void nc_api_notify(struct nc_api *api, struct lyd_node *ev, const char *time_str, char **deny)
{
    struct nc_notif_item *it;

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
    if (!it || !it->time) {
        free(it);
        lyd_free_tree(ev);
        mc_deny_free(deny);
        return;
    }
    it->event = ev;
    it->deny = deny;
    pthread_mutex_lock(&api->notif_lock);
    if (api->notif_tail)
        api->notif_tail->next = it;
    else
        api->notif_head = it;
    api->notif_tail = it;
    pthread_cond_signal(&api->notif_cond);
    pthread_mutex_unlock(&api->notif_lock);
}
