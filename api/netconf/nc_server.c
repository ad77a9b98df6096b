/* NETCONF server threads and session registry. One thread accepts SSH connections,
 * NC_POLL_THREADS threads poll the sessions and run their RPCs (each RPC is then
 * executed on the control thread), and one thread sends notifications. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/netconf/nc_impl.h"
#include "daemon/base/ctlq.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

static const char *const ietf_modules[][2] = {
    /* name, features ("*" = all) */
    {"ietf-netconf", NULL},
    {"ietf-netconf-with-defaults", NULL},
    {"ietf-netconf-monitoring", NULL},
    {"ietf-netconf-notifications", NULL},
    {"notifications", NULL},
    {"nc-notifications", NULL},
};

static int load_modules(struct ly_ctx *ctx)
{
    const char *nc_features[] = {"writable-running", "candidate", "confirmed-commit", "rollback-on-error",
                                 "validate", "startup", "xpath", NULL};

    for (size_t i = 0; i < sizeof(ietf_modules) / sizeof(ietf_modules[0]); i++) {
        const char **feat = i == 0 ? nc_features : NULL;

        if (!ly_ctx_load_module(ctx, ietf_modules[i][0], NULL, feat)) {
            log_err("netconf", "cannot load YANG module %s (is libyuma-base installed?)", ietf_modules[i][0]);
            return -ENOENT;
        }
    }
    return 0;
}

struct nc_api *nc_api_new(struct ly_ctx *ctx, struct cfg *cfg, struct ctlq *q, const char *state_dir)
{
    struct nc_api *api = calloc(1, sizeof(*api));

    if (!api)
        return NULL;
    api->ctx = ctx;
    api->cfg = cfg;
    api->q = q;
    pthread_mutex_init(&api->users_lock, NULL);
    pthread_mutex_init(&api->sess_lock, NULL);
    pthread_mutex_init(&api->notif_lock, NULL);
    pthread_cond_init(&api->notif_cond, NULL);
    api->state_dir = strdup(state_dir);
    if (!api->state_dir || load_modules(ctx))
        goto fail;
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
    nc_server_set_idle_timeout(3600);
    if (nc_auth_init(api))
        goto fail;
    api->ps = nc_ps_new();
    if (!api->ps)
        goto fail;
    return api;
fail:
    nc_api_free(api);
    return NULL;
}

struct nc_sess *nc_sess_find(struct nc_api *api, uint32_t sid)
{
    for (struct nc_sess *s = api->sessions; s; s = s->next) {
        if (s->sid == sid)
            return s;
    }
    return NULL;
}

static void sess_add(struct nc_api *api, struct nc_session *s)
{
    struct nc_sess *e = calloc(1, sizeof(*e));

    if (!e)
        return;
    e->s = s;
    e->sid = nc_session_get_id(s);
    pthread_mutex_lock(&api->sess_lock);
    e->next = api->sessions;
    api->sessions = e;
    pthread_mutex_unlock(&api->sess_lock);
}

static void sess_remove(struct nc_api *api, struct nc_session *s)
{
    pthread_mutex_lock(&api->sess_lock);
    for (struct nc_sess **pp = &api->sessions; *pp; pp = &(*pp)->next) {
        if ((*pp)->s == s) {
            struct nc_sess *e = *pp;
            *pp = e->next;
            free(e);
            break;
        }
    }
    pthread_mutex_unlock(&api->sess_lock);
}

struct sess_end_req {
    struct cfg *cfg;
    uint32_t sid;
};

static void sess_end_ctl(void *arg)
{
    struct sess_end_req *r = arg;

    cfg_session_end(r->cfg, r->sid);
    free(r);
}

void nc_sess_end(struct nc_api *api, uint32_t sid)
{
    struct sess_end_req *r = malloc(sizeof(*r));

    if (!r)
        return;
    r->cfg = api->cfg;
    r->sid = sid;
    if (ctlq_post(api->q, sess_end_ctl, r))
        free(r);
}

static void *accept_main(void *arg)
{
    struct nc_api *api = arg;

    while (!atomic_load(&api->stop)) {
        struct nc_session *s = NULL;
        NC_MSG_TYPE m = nc_accept(200, &s);

        if (m == NC_MSG_HELLO) {
            log_info("netconf", "session %u: user %s from %s", nc_session_get_id(s), nc_session_get_username(s),
                     nc_session_get_host(s) ? nc_session_get_host(s) : "?");
            sess_add(api, s);
            if (nc_ps_add_session(api->ps, s)) {
                sess_remove(api, s);
                nc_session_free(s, NULL);
            }
        } else if (m == NC_MSG_ERROR && nc_server_endpt_count() == 0) {
            usleep(200 * 1000);
        }
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
        if (s && (r & (NC_PSPOLL_SESSION_TERM | NC_PSPOLL_SESSION_ERROR))) {
            uint32_t sid = nc_session_get_id(s);

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

void nc_api_stop(struct nc_api *api)
{
    if (!api || !api->started)
        return;
    atomic_store(&api->stop, true);
    pthread_join(api->accept_thr, NULL);
    for (int i = 0; i < NC_POLL_THREADS; i++)
        pthread_join(api->poll_thr[i], NULL);
    nc_notif_stop(api);
    api->started = false;
}

void nc_api_free(struct nc_api *api)
{
    if (!api)
        return;
    nc_api_stop(api);
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
        nc_server_destroy();
        nc_rpc_api = NULL;
    }
    nc_user_free_array(api->users, api->nusers);
    nc_endpoint_free_array(api->eps, api->neps);
    free(api->hostkey_path);
    free(api->state_dir);
    pthread_mutex_destroy(&api->users_lock);
    pthread_mutex_destroy(&api->sess_lock);
    pthread_mutex_destroy(&api->notif_lock);
    pthread_cond_destroy(&api->notif_cond);
    free(api);
}

void nc_endpoint_free_array(struct nc_endpoint *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(eps[i].name);
        free(eps[i].address);
    }
    free(eps);
}

static const struct nc_endpoint *ep_find(const struct nc_endpoint *eps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(eps[i].name, name))
            return &eps[i];
    }
    return NULL;
}

static bool ep_listening_on(const struct nc_api *api, const char *address, uint16_t port)
{
    for (size_t i = 0; i < api->neps; i++) {
        if (api->eps[i].port == port && !strcmp(api->eps[i].address, address))
            return true;
    }
    return false;
}

int nc_api_can_listen(const struct nc_api *api, const char *address, uint16_t port)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int fd, rc = 0, one = 1;

    if (ep_listening_on(api, address, port))
        return 0;
    if (strchr(address, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, address, &a6->sin6_addr) != 1)
            return -EINVAL;
        len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        if (inet_pton(AF_INET, address, &a4->sin_addr) != 1)
            return -EINVAL;
        len = sizeof(*a4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

static int ep_add(const struct nc_endpoint *e)
{
    if (nc_server_add_endpt(e->name, NC_TI_LIBSSH) || nc_server_endpt_set_address(e->name, e->address) ||
        nc_server_endpt_set_port(e->name, e->port) || nc_server_ssh_endpt_add_hostkey(e->name, "hostkey", -1) ||
        nc_server_ssh_endpt_set_auth_methods(e->name, NC_SSH_AUTH_PUBLICKEY | NC_SSH_AUTH_PASSWORD)) {
        nc_server_del_endpt(e->name, NC_TI_LIBSSH);
        return -EADDRNOTAVAIL;
    }
    log_info("netconf", "listening on %s port %u (endpoint %s)", e->address, e->port, e->name);
    return 0;
}

int nc_api_set_endpoints(struct nc_api *api, const struct nc_endpoint *eps, size_t n)
{
    struct nc_endpoint *now = calloc(n ? n : 1, sizeof(*now));
    size_t nnow = 0;
    int rc = 0;

    if (!now)
        return -ENOMEM;
    /* remove the ones gone or changed */
    for (size_t i = 0; i < api->neps; i++) {
        const struct nc_endpoint *e = &api->eps[i], *ne = ep_find(eps, n, e->name);

        if (!ne || ne->port != e->port || strcmp(ne->address, e->address)) {
            nc_server_del_endpt(e->name, NC_TI_LIBSSH);
            log_info("netconf", "stopped listening on %s port %u (endpoint %s)", e->address, e->port, e->name);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct nc_endpoint *ne = &eps[i], *e = ep_find(api->eps, api->neps, ne->name);

        if (!e || ne->port != e->port || strcmp(ne->address, e->address)) {
            int r = ep_add(ne);
            if (r) {
                log_err("netconf", "cannot listen on %s port %u (endpoint %s)", ne->address, ne->port, ne->name);
                rc = r;
                continue;
            }
        }
        now[nnow].name = strdup(ne->name);
        now[nnow].address = strdup(ne->address);
        now[nnow].port = ne->port;
        nnow++;
    }
    nc_endpoint_free_array(api->eps, api->neps);
    api->eps = now;
    api->neps = nnow;
    return rc;
}

void nc_api_set_hooks(struct nc_api *api, nc_state_fn state, nc_rpc_fn rpc, void *arg)
{
    api->state_fn = state;
    api->rpc_fn = rpc;
    api->hooks_arg = arg;
}
