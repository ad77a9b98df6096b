/* The front end's object (rest_api.h): its life (made, stopped, freed) and the
 * management socket's events from ravend: endpoints, changes of running, of the
 * users and the daemon's notifications. */
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

/* ---- the management socket's events (on the client's reader thread: they must not
 * wait for ravend) ---- */

/* Applies the last `listen` event on the main thread: stopping a daemon waits for
 * its requests, which may be waiting for the reader thread. */
static void on_listen_ev(evutil_socket_t fd, short what, void *arg)
{
    struct rest_api *api = arg;
    struct mc_listen *l;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&api->listen_lock);
    l = api->listen_next;
    api->listen_next = NULL;
    pthread_mutex_unlock(&api->listen_lock);
    if (!l)
        return;
    rest_endpoints_apply(api, l);
    mc_listen_clear(l);
    free(l);
}

static void hook_listen(struct mc_listen *l, void *arg)
{
    struct rest_api *api = arg;
    struct mc_listen *copy = malloc(sizeof(*copy)), *old;

    if (!copy) {
        log_err("rest", "out of memory: the endpoints ravend sent are not served");
        mc_listen_clear(l);
        return;
    }
    *copy = *l;
    memset(l, 0, sizeof(*l));
    /* only the last event counts: an older one not yet applied is dropped */
    pthread_mutex_lock(&api->listen_lock);
    old = api->listen_next;
    api->listen_next = copy;
    pthread_mutex_unlock(&api->listen_lock);
    if (old) {
        mc_listen_clear(old);
        free(old);
    }
    event_active(api->listen_ev, EV_READ, 0);
}

static void hook_changed(uint64_t gen, time_t mtime, bool config, void *arg)
{
    (void)gen;
    (void)mtime;
    (void)config;
    rest_api_state_changed(arg);
}

static void hook_users(void *arg)
{
    struct rest_api *api = arg;

    rest_auth_flush(api->auth);
    rest_events_users_changed(api->ev);
}

static void hook_notification(struct lyd_node *notif, const char *time, uint64_t id, uint32_t replay, char **deny,
                              void *arg)
{
    rest_api_notify(arg, notif, time, id, replay, deny);
    lyd_free_all(notif);
    mc_deny_free(deny);
}

static void hook_replay_end(uint32_t replay, uint64_t last_id, void *arg)
{
    (void)last_id; /* every later event is live */
    rest_api_replay_end(arg, replay);
}

struct mc_hooks rest_api_hooks(struct rest_api *api)
{
    return (struct mc_hooks){.listen = hook_listen,
                             .changed = hook_changed,
                             .users = hook_users,
                             .notification = hook_notification,
                             .replay_end = hook_replay_end,
                             .arg = api};
}

struct rest_api *rest_api_new(struct ly_ctx *ctx, struct event_base *base, const struct rest_opts *opts)
{
    struct rest_api *api = calloc(1, sizeof(*api));

    if (!api)
        return NULL;
    api->ctx = ctx;
    api->base = base;
    api->web_dir = opts->web_dir ? strdup(opts->web_dir) : NULL;
    pthread_mutex_init(&api->cache_lock, NULL);
    pthread_mutex_init(&api->listen_lock, NULL);
    if (RAND_bytes((unsigned char *)&api->boot, sizeof(api->boot)) != 1)
        api->boot = (uint64_t)time(NULL);
    api->auth = rest_auth_new(api);
    api->listen_ev = event_new(base, -1, 0, on_listen_ev, api);
    api->ev = api->auth && api->listen_ev && (!opts->web_dir || api->web_dir) ? rest_events_new(api) : NULL;
    if (!api->ev) {
        rest_api_free(api);
        return NULL;
    }
    return api;
}

void rest_api_set_mc(struct rest_api *api, struct mc *mc)
{
    api->mc = mc;
}

void rest_api_stop(struct rest_api *api)
{
    if (!api || api->stopped)
        return;
    api->stopped = true;
    /* streams end first so that no daemon waits for a suspended connection */
    rest_events_free(api->ev);
    rest_endpoints_retire(api, api->srvs, true);
    api->srvs = NULL;
    /* endpoints retired by a recent listen event may still be finishing */
    while (atomic_load(&api->retiring) > 0)
        usleep(10 * 1000);
}

void rest_api_free(struct rest_api *api)
{
    if (!api)
        return;
    rest_api_stop(api);
    rest_events_release(api->ev);
    if (api->listen_ev)
        event_free(api->listen_ev);
    if (api->listen_next) {
        mc_listen_clear(api->listen_next);
        free(api->listen_next);
    }
    rest_auth_free(api->auth);
    rest_cache_clear(api);
    pthread_mutex_destroy(&api->cache_lock);
    pthread_mutex_destroy(&api->listen_lock);
    free(api->cert_pem);
    if (api->key_pem)
        OPENSSL_cleanse(api->key_pem, strlen(api->key_pem));
    free(api->key_pem);
    free(api->web_dir);
    free(api);
}
