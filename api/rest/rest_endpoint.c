/* The REST front end's endpoints: serving exactly the listening sockets, the
 * certificate and the key of ravend's last `listen` event. New daemons start
 * before old ones stop, an endpoint whose address, port and certificate did not
 * change keeps its daemon (and its connections), and old daemons are retired on
 * threads of their own. The request handling itself is rest_server.c's. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

static void srv_free(struct rest_srv *s)
{
    free(s->name);
    free(s->address);
    free(s);
}

/* A daemon for @ep on its socket (closed on success: ep->fd becomes -1). */
static struct rest_srv *srv_start(struct rest_api *api, struct mc_listener *ep, const char *cert, const char *key)
{
    struct rest_srv *s = calloc(1, sizeof(*s));
    int fd;

    if (!s || !(s->name = strdup(ep->name ? ep->name : "?")) || !(s->address = strdup(ep->address ? ep->address : "?"))) {
        if (s)
            free(s->name);
        free(s);
        log_err("rest", "out of memory: endpoint %s is not served", ep->name ? ep->name : "?");
        return NULL;
    }
    s->port = ep->port;
    s->api = api;
    /* libmicrohttpd gets a copy: whether it closes the socket when it fails to
     * start is not documented, and the event's descriptor must be closed once */
    fd = ep->fd >= 0 ? fcntl(ep->fd, F_DUPFD_CLOEXEC, 3) : -1;
    s->mhd = fd >= 0 ? rest_server_listen(s, fd, cert, key) : NULL;
    if (!s->mhd) {
        log_err("rest", "endpoint %s: cannot serve HTTPS on %s port %u (%s)", s->name, s->address, s->port,
                ep->fd < 0 ? "ravend passed no socket" : "a bad certificate or key, or out of resources");
        srv_free(s);
        return NULL;
    }
    close(ep->fd);
    ep->fd = -1;
    return s;
}

struct retire {
    struct rest_events *ev;
    struct rest_srv *list;
    bool grace;
    atomic_int *pending; /* retirements under way, awaited by rest_api_free */
};

/* Up to 5 s for the retired daemons' connections to finish what they are sending
 * (the reply to the very request that retired them, among others). */
static void drain(struct rest_srv *list)
{
    for (int i = 0; i < 50; i++) {
        unsigned int open = 0;

        for (struct rest_srv *s = list; s; s = s->next) {
            const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

            open += di ? di->num_connections : 0;
        }
        if (!open)
            return;
        usleep(100 * 1000);
    }
}

static void *stop_thread(void *arg)
{
    struct retire *rt = arg;
    struct rest_srv *s = rt->list;

    for (struct rest_srv *x = s; x; x = x->next)
        rest_events_close_daemon(rt->ev, x->mhd);
    if (rt->grace)
        drain(s);
    while (s) {
        struct rest_srv *n = s->next;

        rest_events_close_daemon(rt->ev, s->mhd);
        MHD_stop_daemon(s->mhd);
        srv_free(s);
        s = n;
    }
    atomic_fetch_sub(rt->pending, 1);
    free(rt);
    return NULL;
}

/* Retired daemons stop on a thread of their own: a request of theirs may be the
 * one whose commit retires them, waiting for ravend's answer, which the `listen`
 * event that retires them came before. */
void rest_endpoints_retire(struct rest_api *api, struct rest_srv *list, bool wait)
{
    struct retire *rt;
    pthread_t t;

    if (!list)
        return;
    for (struct rest_srv *s = list; s; s = s->next) {
        /* the listening socket is ours to close once quiesced */
        MHD_socket fd = MHD_quiesce_daemon(s->mhd);

        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    rt = malloc(sizeof(*rt));
    if (!rt) {
        for (struct rest_srv *s = list, *n; s; s = n) {
            n = s->next;
            rest_events_close_daemon(api->ev, s->mhd);
            MHD_stop_daemon(s->mhd);
            srv_free(s);
        }
        return;
    }
    rt->ev = api->ev;
    rt->list = list;
    rt->grace = !wait;
    rt->pending = &api->retiring;
    atomic_fetch_add(&api->retiring, 1);
    if (wait || pthread_create(&t, NULL, stop_thread, rt)) {
        stop_thread(rt);
        return;
    }
    pthread_detach(t);
}

static bool same_pem(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* The served daemon of @ep's address and port, unlinked from api->srvs; NULL if none. */
static struct rest_srv *take_serving(struct rest_api *api, const struct mc_listener *ep)
{
    for (struct rest_srv **pp = &api->srvs; *pp; pp = &(*pp)->next) {
        struct rest_srv *s = *pp;

        if (ep->address && !strcmp(s->address, ep->address) && s->port == ep->port) {
            *pp = s->next;
            s->next = NULL;
            return s;
        }
    }
    return NULL;
}

void rest_endpoints_apply(struct rest_api *api, struct mc_listen *l)
{
    struct rest_srv *fresh = NULL, **tail = &fresh;
    bool keep_tls;

    if (l->enabled && l->neps && (!l->cert_pem || !l->key_pem)) {
        /* ravend always sends the configured or its self-signed certificate */
        log_err("rest", "ravend sent no TLS certificate and key: no endpoint is served");
        l->enabled = false;
    }
    keep_tls = same_pem(api->cert_pem, l->cert_pem) && same_pem(api->key_pem, l->key_pem);
    for (size_t i = 0; i < (l->enabled ? l->neps : 0); i++) {
        struct mc_listener *ep = &l->eps[i];
        /* an unchanged endpoint with the same certificate keeps its daemon */
        struct rest_srv *s = keep_tls ? take_serving(api, ep) : NULL;

        if (s) {
            free(s->name);
            s->name = strdup(ep->name ? ep->name : "?");
            if (!s->name)
                s->name = strdup("?");
            if (ep->fd >= 0)
                close(ep->fd); /* the daemon listens on the socket it was given */
            ep->fd = -1;
        } else {
            s = srv_start(api, ep, l->cert_pem, l->key_pem);
            if (!s)
                continue;
            log_info("rest", "serving HTTPS on %s port %u (endpoint %s)", s->address, s->port, s->name);
        }
        *tail = s;
        tail = &s->next;
    }
    /* what the event no longer names stops, now that its successors serve */
    for (struct rest_srv *s = api->srvs; s; s = s->next)
        log_info("rest", "no longer serving %s port %u (endpoint %s)", s->address, s->port, s->name);
    rest_endpoints_retire(api, api->srvs, false);
    api->srvs = fresh;
    if (!keep_tls) {
        free(api->cert_pem);
        if (api->key_pem)
            OPENSSL_cleanse(api->key_pem, strlen(api->key_pem));
        free(api->key_pem);
        api->cert_pem = l->cert_pem;
        api->key_pem = l->key_pem;
        l->cert_pem = l->key_pem = NULL;
    }
    if (!api->srvs)
        log_info("rest", "no REST endpoint is served");
}
