/* The REST front end's endpoints: checking, preparing and switching the set of
 * HTTPS listeners a commit asks for (an endpoint started by prepare answers 503
 * until apply), and retiring old ones without blocking the control thread. The
 * request handling itself is rest_server.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

/* The socket address of endpoint @ep (an IPv4 or IPv6 literal and a port); false
 * when its address is neither. */
static bool ep_sockaddr(const struct rest_endpoint *ep, struct sockaddr_storage *ss, socklen_t *sl)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, ep->address, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(ep->port);
        *sl = sizeof(*a4);
        return true;
    }
    if (inet_pton(AF_INET6, ep->address, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(ep->port);
        *sl = sizeof(*a6);
        return true;
    }
    return false;
}

static struct rest_srv *srv_start(struct rest_api *api, const struct rest_endpoint *ep, const char *cert,
                                  const char *key, struct cfg_errs *errs)
{
    struct sockaddr_storage ss = {0};
    struct rest_srv *s;
    socklen_t sl;

    if (!ep_sockaddr(ep, &ss, &sl)) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, NULL, "REST endpoint %s: bad address %s",
                    ep->name, ep->address);
        return NULL;
    }
    (void)sl;
    s = calloc(1, sizeof(*s));
    if (!s || !(s->name = strdup(ep->name)) || !(s->address = strdup(ep->address))) {
        if (s) {
            free(s->name);
            free(s);
        }
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, NULL, "out of memory");
        return NULL;
    }
    s->port = ep->port;
    s->api = api;
    atomic_init(&s->live, false);
    s->mhd = rest_server_listen(s, (struct sockaddr *)&ss, cert, key);
    if (!s->mhd) {
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, NULL,
                    "REST endpoint %s: cannot serve HTTPS on %s port %u (address in use, not local, or a bad "
                    "certificate or key)",
                    ep->name, ep->address, ep->port);
        free(s->name);
        free(s->address);
        free(s);
        return NULL;
    }
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
        free(s->name);
        free(s->address);
        free(s);
        s = n;
    }
    atomic_fetch_sub(rt->pending, 1);
    free(rt);
    return NULL;
}

/* Retired daemons stop on a thread of their own: a request of theirs may be the
 * one whose commit retires them, and it is waiting for the control thread. */
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
            free(s->name);
            free(s->address);
            free(s);
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

static bool srv_serving(const struct rest_api *api, const struct rest_endpoint *ep)
{
    for (const struct rest_srv *s = api->srvs; s; s = s->next)
        if (!strcmp(s->address, ep->address) && s->port == ep->port)
            return true;
    return false;
}

/* Binds a TCP socket to @ep's address and closes it: whether the endpoint could
 * be served, without serving it. */
static int ep_probe(const struct rest_endpoint *ep)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    int fd, one = 1, rc = 0;

    if (!ep_sockaddr(ep, &ss, &sl)) {
        return -EINVAL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* rest_api_prepare() of a dry run: what a commit would meet, keeping nothing. A
 * missing self-signed certificate is not made here: a commit makes it. */
static int rest_api_check(struct rest_api *api, const struct rest_conf *conf, struct cfg_errs *errs)
{
    int rc;

    if (!conf->enabled || !conf->neps)
        return 0;
    if (conf->cert_pem && (!conf->key_pem || (rc = rest_cert_check(conf->cert_pem, conf->key_pem)))) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, "/raven-vpn:management/rest/private-key",
                    conf->key_pem ? "the REST certificate or private key does not parse, or the key is not the "
                                    "certificate's"
                                  : "the REST certificate needs its private key");
        return -EINVAL;
    }
    for (size_t i = 0; i < conf->neps; i++) {
        const struct rest_endpoint *ep = &conf->eps[i];

        if (srv_serving(api, ep) || !(rc = ep_probe(ep)))
            continue;
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, NULL,
                    "REST endpoint %s: cannot serve HTTPS on %s port %u: %s", ep->name, ep->address, ep->port,
                    strerror(-rc));
        return -EADDRNOTAVAIL;
    }
    return 0;
}

int rest_api_prepare(struct rest_api *api, const struct rest_conf *conf, bool dry_run, struct cfg_errs *errs)
{
    char *cert = NULL, *key = NULL;
    struct rest_srv **tail;

    rest_api_abort(api);
    if (dry_run)
        return rest_api_check(api, conf, errs);
    if (!conf->enabled || !conf->neps) {
        api->pending_valid = true;
        return 0;
    }
    if (conf->cert_pem) {
        cert = strdup(conf->cert_pem);
        key = conf->key_pem ? strdup(conf->key_pem) : NULL;
        if (!cert || !key) {
            free(cert);
            free(key);
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, "/raven-vpn:management/rest/private-key",
                        "the REST certificate needs its private key");
            return -EINVAL;
        }
    } else if (rest_cert_self_signed(api->state_dir, &cert, &key)) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                    "cannot create the REST server's certificate in %s", api->state_dir);
        return -EIO;
    }
    tail = &api->pending;
    for (size_t i = 0; i < conf->neps; i++) {
        const struct rest_endpoint *ep = &conf->eps[i];
        struct rest_srv **pp, *s = NULL;

        /* an unchanged endpoint with the same certificate keeps its daemon */
        if (api->cert_pem && !strcmp(api->cert_pem, cert) && api->key_pem && !strcmp(api->key_pem, key))
            for (pp = &api->srvs; *pp; pp = &(*pp)->next)
                if (!strcmp((*pp)->address, ep->address) && (*pp)->port == ep->port) {
                    s = *pp;
                    *pp = s->next;
                    s->next = NULL;
                    s->kept = true;
                    free(s->name);
                    s->name = strdup(ep->name);
                    break;
                }
        if (!s)
            s = srv_start(api, ep, cert, key, errs);
        if (!s) {
            free(cert);
            free(key);
            rest_api_abort(api);
            return -EADDRNOTAVAIL;
        }
        *tail = s;
        tail = &s->next;
    }
    api->pending_cert = cert;
    api->pending_key = key;
    api->pending_valid = true;
    return 0;
}

void rest_api_commit(struct rest_api *api)
{
    if (!api->pending_valid)
        return;
    rest_endpoints_retire(api, api->srvs, false);
    api->srvs = api->pending;
    api->pending = NULL;
    for (struct rest_srv *s = api->srvs; s; s = s->next) {
        s->kept = false;
        atomic_store(&s->live, true);
    }
    free(api->cert_pem);
    free(api->key_pem);
    api->cert_pem = api->pending_cert;
    api->key_pem = api->pending_key;
    api->pending_cert = api->pending_key = NULL;
    api->pending_valid = false;
    for (struct rest_srv *s = api->srvs; s; s = s->next)
        log_info("rest", "serving HTTPS on %s port %u (endpoint %s)", s->address, s->port, s->name);
}

void rest_api_abort(struct rest_api *api)
{
    struct rest_srv *s = api->pending, *drop = NULL;

    while (s) {
        struct rest_srv *n = s->next;

        if (s->kept) {
            s->kept = false;
            s->next = api->srvs;
            api->srvs = s;
        } else {
            s->next = drop;
            drop = s;
        }
        s = n;
    }
    api->pending = NULL;
    rest_endpoints_retire(api, drop, false);
    free(api->pending_cert);
    free(api->pending_key);
    api->pending_cert = api->pending_key = NULL;
    api->pending_valid = false;
}

void rest_conf_clear(struct rest_conf *c)
{
    for (size_t i = 0; i < c->neps; i++) {
        free(c->eps[i].name);
        free(c->eps[i].address);
    }
    free(c->eps);
    free(c->cert_pem);
    free(c->key_pem);
    memset(c, 0, sizeof(*c));
}

