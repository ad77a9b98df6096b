/* NETCONF server threads and session registry. One thread accepts SSH connections
 * (logins are checked by ravend), NC_POLL_THREADS threads poll the sessions and run
 * their RPCs (each a request to ravend), and one thread sends notifications. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/netconf/nc_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

struct nc_api *nc_api_new(struct ly_ctx *ctx)
{
    struct nc_api *api = calloc(1, sizeof(*api));

    if (!api)
        return NULL;
    api->ctx = ctx;
    api->start = time(NULL);
    pthread_mutex_init(&api->hostkey_lock, NULL);
    pthread_mutex_init(&api->ep_lock, NULL);
    pthread_mutex_init(&api->sess_lock, NULL);
    pthread_mutex_init(&api->notif_lock, NULL);
    pthread_cond_init(&api->notif_cond, NULL);
    if (nc_server_init(ctx)) {
        log_err("netconf", "libnetconf2 server initialisation failed");
        goto fail;
    }
    nc_rpc_api = api;
    nc_set_global_rpc_clb(nc_rpc_dispatch);
    {
        /* get-schema goes to Raven's handler, not libnetconf2's built-in one */
        const struct lysc_node *gs = lys_find_path(ctx, NULL, "/ietf-netconf-monitoring:get-schema", 0);
        if (gs)
            ((struct lysc_node *)gs)->priv = NULL;
    }
    /* libnetconf2 tests also_supported with "&" against the enum values (1, 2, 3, 4):
     * ALL | ALL_TAG | EXPLICIT (7) announces report-all, report-all-tagged, trim and
     * explicit (nc_rpc.c prints tagged replies itself, in RFC 6243's namespace) */
    nc_server_set_capab_withdefaults(NC_WD_EXPLICIT, NC_WD_ALL | NC_WD_ALL_TAG | NC_WD_EXPLICIT);
    nc_server_set_capability("urn:ietf:params:netconf:capability:notification:1.0");
    nc_server_set_capability("urn:ietf:params:netconf:capability:interleave:1.0");
    nc_server_set_capability("urn:ietf:params:netconf:capability:partial-lock:1.0");
    nc_server_set_idle_timeout(3600);
    nc_auth_init(api);
    api->ps = nc_ps_new();
    if (!api->ps)
        goto fail;
    return api;
fail:
    nc_api_free(api);
    return NULL;
}

void nc_api_set_mc(struct nc_api *api, struct mc *mc)
{
    api->mc = mc;
}

struct nc_sess *nc_sess_find(struct nc_api *api, uint32_t sid)
{
    for (struct nc_sess *s = api->sessions; s; s = s->next) {
        if (s->sid == sid)
            return s;
    }
    return NULL;
}

int nc_sess_role(struct nc_api *api, uint32_t sid)
{
    struct nc_sess *s;
    int role;

    pthread_mutex_lock(&api->sess_lock);
    s = nc_sess_find(api, sid);
    role = s ? (int)s->role : -1;
    pthread_mutex_unlock(&api->sess_lock);
    return role;
}

static int sess_add(struct nc_api *api, struct nc_session *s, enum mc_role role)
{
    struct nc_sess *e = calloc(1, sizeof(*e));

    if (!e)
        return -ENOMEM;
    e->s = s;
    e->sid = nc_session_get_id(s);
    e->role = role;
    pthread_mutex_lock(&api->sess_lock);
    e->next = api->sessions;
    api->sessions = e;
    api->in_sessions++;
    pthread_mutex_unlock(&api->sess_lock);
    return 0;
}

static void sess_remove(struct nc_api *api, struct nc_session *s)
{
    bool subscribed = false;

    pthread_mutex_lock(&api->sess_lock);
    for (struct nc_sess **pp = &api->sessions; *pp; pp = &(*pp)->next) {
        if ((*pp)->s == s) {
            struct nc_sess *e = *pp;
            *pp = e->next;
            subscribed = e->subscribed;
            api->ended.in_rpcs += e->c.in_rpcs;
            api->ended.in_bad_rpcs += e->c.in_bad_rpcs;
            api->ended.out_rpc_errors += e->c.out_rpc_errors;
            api->ended.out_notifs += e->c.out_notifs;
            free(e);
            break;
        }
    }
    pthread_mutex_unlock(&api->sess_lock);
    if (subscribed)
        nc_notif_interest(api); /* perhaps nobody subscribes any more */
}

void nc_sess_end(struct nc_api *api, uint32_t sid)
{
    if (api->mc)
        mc_session_end(api->mc, sid);
}

/* A session that libnetconf2 accepted: into the registry with the role of its login. */
static void accepted(struct nc_api *api, struct nc_session *s)
{
    int role = nc_auth_take_role(api, s);
    const char *host = nc_session_get_host(s) ? nc_session_get_host(s) : "?";

    if (role < 0) {
        /* cannot happen with password and public-key logins only */
        log_err("netconf", "session %u from %s: no role for user %s; closing it", nc_session_get_id(s), host,
                nc_session_get_username(s));
        nc_session_free(s, NULL);
        return;
    }
    log_info("netconf", "session %u: user %s (%s) from %s", nc_session_get_id(s), nc_session_get_username(s),
             role == MC_ROLE_ADMIN ? "admin" : "read-only", host);
    if (sess_add(api, s, (enum mc_role)role) || nc_ps_add_session(api->ps, s)) {
        sess_remove(api, s);
        nc_sess_end(api, nc_session_get_id(s));
        nc_session_free(s, NULL);
    }
}

static void *accept_main(void *arg)
{
    struct nc_api *api = arg;

    while (!atomic_load(&api->stop)) {
        struct nc_session *s = NULL;
        NC_MSG_TYPE m;

        /* before the first `listen` event, or while NETCONF is disabled: libnetconf2
         * would log an error at every call */
        if (nc_server_endpt_count() == 0) {
            usleep(200 * 1000);
            continue;
        }
        m = nc_accept(200, &s);
        if (m == NC_MSG_HELLO) {
            accepted(api, s);
        } else if (m == NC_MSG_BAD_HELLO) {
            pthread_mutex_lock(&api->sess_lock);
            api->bad_hellos++;
            pthread_mutex_unlock(&api->sess_lock);
        }
        /* a connection that did not get as far leaves no login behind */
        nc_auth_take_role(api, NULL);
    }
    return NULL;
}

static void *poll_main(void *arg)
{
    struct nc_api *api = arg;

    while (!atomic_load(&api->stop)) {
        struct nc_session *s = NULL;
        int r = nc_ps_poll(api->ps, 200, &s);

        if (r & NC_PSPOLL_NOSESSIONS) {
            usleep(20 * 1000);
            continue;
        }
        if (s && (r & (NC_PSPOLL_RPC | NC_PSPOLL_BAD_RPC | NC_PSPOLL_REPLY_ERROR)))
            nc_mon_count(api, s, r);
        if (s && (r & NC_PSPOLL_RPC))
            nc_notif_replied(api, s);
        if (s && (r & (NC_PSPOLL_SESSION_TERM | NC_PSPOLL_SESSION_ERROR))) {
            uint32_t sid = nc_session_get_id(s);

            if ((r & NC_PSPOLL_SESSION_ERROR) || nc_session_get_term_reason(s) != NC_SESSION_TERM_CLOSED) {
                pthread_mutex_lock(&api->sess_lock);
                api->dropped_sessions++; /* not ended by close-session */
                pthread_mutex_unlock(&api->sess_lock);
            }
            log_info("netconf", "session %u ended", sid);
            nc_ps_del_session(api->ps, s);
            sess_remove(api, s);
            nc_sess_end(api, sid);
            nc_session_free(s, NULL);
        }
    }
    return NULL;
}

int nc_api_start(struct nc_api *api)
{
    if (pthread_create(&api->accept_thr, NULL, accept_main, api))
        return -EAGAIN;
    for (int i = 0; i < NC_POLL_THREADS; i++) {
        if (pthread_create(&api->poll_thr[i], NULL, poll_main, api)) {
            atomic_store(&api->stop, true);
            return -EAGAIN;
        }
    }
    if (nc_notif_start(api))
        return -EAGAIN;
    api->started = true;
    return 0;
}

static int join_by(pthread_t t, const struct timespec *deadline)
{
    return pthread_timedjoin_np(t, NULL, deadline) ? -ETIMEDOUT : 0;
}

int nc_api_stop(struct nc_api *api, int timeout_ms)
{
    struct timespec dl;
    int rc = 0;

    if (!api || !api->started)
        return 0;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    atomic_store(&api->stop, true);
    if (join_by(api->accept_thr, &dl))
        rc = -ETIMEDOUT;
    for (int i = 0; i < NC_POLL_THREADS && !rc; i++)
        rc = join_by(api->poll_thr[i], &dl);
    if (rc)
        return rc;
    nc_notif_stop(api);
    api->started = false;
    return 0;
}

void nc_api_free(struct nc_api *api)
{
    if (!api || nc_api_stop(api, 10000))
        return;
    if (api->ps) {
        nc_ps_clear(api->ps, 1, NULL);
        nc_ps_free(api->ps);
    }
    while (api->sessions) {
        struct nc_sess *e = api->sessions;
        api->sessions = e->next;
        free(e);
    }
    if (nc_rpc_api == api) {
        nc_endpt_clear(api);
        nc_server_destroy();
        nc_rpc_api = NULL;
    }
    nc_auth_fini(api);
    pthread_mutex_destroy(&api->hostkey_lock);
    pthread_mutex_destroy(&api->ep_lock);
    pthread_mutex_destroy(&api->sess_lock);
    pthread_mutex_destroy(&api->notif_lock);
    pthread_cond_destroy(&api->notif_cond);
    free(api);
}
