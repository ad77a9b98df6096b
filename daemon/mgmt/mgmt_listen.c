/* The /raven-vpn:management handler: users, and the NETCONF and REST endpoints,
 * which ravend binds itself (a port below 1024 needs its capability, and a commit
 * naming an endpoint that cannot listen is refused in prepare) and hands to the
 * front ends as listening sockets with the `listen` event. Prepare binds the new
 * sockets beside the old ones (an endpoint already served keeps its socket),
 * apply switches and tells the front ends; a dry run binds and closes. */
#include <arpa/inet.h>
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/base/poison.h"

#define MGMT "/raven-vpn:management"
#define LISTEN_BACKLOG 64

struct lep {
    char *name, *address;
    uint16_t port;
    int fd;
};

struct lset {
    bool enabled;
    struct lep eps[MGMT_MAX_EPS];
    size_t n;
};

struct mlisten {
    char *state_dir;
    char *hostkey;
    struct lset cur[MGMT_KIND_COUNT], next[MGMT_KIND_COUNT];
    char *cert, *key, *next_cert, *next_key; /* REST */
    struct mauth_user *next_users;
};

static const char *const kind_names[MGMT_KIND_COUNT] = {"", "netconf", "rest"};
static const char *const kind_labels[MGMT_KIND_COUNT] = {"", "NETCONF", "REST"};
static const uint16_t default_port[MGMT_KIND_COUNT] = {0, 830, 443};

static void lset_clear(struct lset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->eps[i].name);
        free(s->eps[i].address);
        if (s->eps[i].fd >= 0)
            close(s->eps[i].fd);
    }
    memset(s, 0, sizeof(*s));
}

static void next_clear(struct mlisten *l)
{
    for (int k = 1; k < MGMT_KIND_COUNT; k++)
        lset_clear(&l->next[k]);
    free(l->next_cert);
    free(l->next_key);
    l->next_cert = l->next_key = NULL;
    mauth_users_free(l->next_users);
    l->next_users = NULL;
}

struct mlisten *mlisten_new(const char *state_dir)
{
    struct mlisten *l = calloc(1, sizeof(*l));

    if (!l || !(l->state_dir = strdup(state_dir ? state_dir : "."))) {
        free(l);
        return NULL;
    }
    return l;
}

void mlisten_free(struct mlisten *l)
{
    if (!l)
        return;
    next_clear(l);
    for (int k = 1; k < MGMT_KIND_COUNT; k++)
        lset_clear(&l->cur[k]);
    free(l->hostkey);
    free(l->cert);
    free(l->key);
    free(l->state_dir);
    free(l);
}

/* The socket address of an IPv4 or IPv6 literal; false for anything else. */
static bool ep_sockaddr(const char *address, uint16_t port, struct sockaddr_storage *ss, socklen_t *sl)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *sl = sizeof(*a4);
        return true;
    }
    if (inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *sl = sizeof(*a6);
        return true;
    }
    return false;
}

/* A TCP socket bound to @e's address, listening unless @probe (then closed at
 * once). The descriptor, 0 for a probe, or -errno. */
static int ep_bind(const struct lep *e, bool probe)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, one = 1;

    if (!ep_sockaddr(e->address, e->port, &ss, &sl))
        return -EINVAL;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) || (!probe && listen(fd, LISTEN_BACKLOG))) {
        int rc = -errno;

        close(fd);
        return rc;
    }
    if (probe) {
        close(fd);
        return 0;
    }
    return fd;
}

/* At start, an address in use may still be held by the front ends of a ravend
 * that just died (they exit on losing it, but a process's descriptors close
 * only after its memory is torn down): try again for up to 3 s. */
static int ep_bind_at_start(const struct lep *e, bool probe)
{
    int rc = ep_bind(e, probe);

    for (int i = 0; rc == -EADDRINUSE && i < 60; i++) {
        struct timespec ts = {.tv_nsec = 50 * 1000 * 1000};

        nanosleep(&ts, NULL);
        rc = ep_bind(e, probe);
    }
    return rc;
}

/* The served socket of the same address and port, if any. */
static const struct lep *held(const struct lset *cur, const struct lep *e)
{
    for (size_t i = 0; i < cur->n; i++) {
        if (cur->eps[i].port == e->port && !strcmp(cur->eps[i].address, e->address))
            return &cur->eps[i];
    }
    return NULL;
}

static bool is_false(const struct lyd_node *tree, const char *path)
{
    struct lyd_node *n = NULL;

    return !lyd_find_path(tree, path, 0, &n) && n && !strcmp(lyd_get_value(n), "false");
}

static int ep_err(struct cfg_errs *errs, enum mgmt_kind k, const struct lyd_node *node, const struct lep *e, int rc)
{
    char *p = lyd_path(node, LYD_PATH_STD, NULL, 0);

    if (k == MGMT_KIND_NETCONF)
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, p,
                    "NETCONF endpoint %s cannot listen on %s port %u: %s; choose a free address and port", e->name,
                    e->address, e->port, strerror(-rc));
    else
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, p,
                    "REST endpoint %s: cannot serve HTTPS on %s port %u: %s; choose a free address and port",
                    e->name, e->address, e->port, strerror(-rc));
    free(p);
    return rc == -ENOMEM ? rc : -EADDRNOTAVAIL;
}

static void ep_read(const struct lyd_node *entry, struct lep *e, uint16_t dflt)
{
    const struct lyd_node *c;

    e->port = dflt;
    e->fd = -1;
    LY_LIST_FOR(lyd_child(entry), c) {
        if (!strcmp(c->schema->name, "name"))
            e->name = strdup(lyd_get_value(c));
        else if (!strcmp(c->schema->name, "address"))
            e->address = strdup(lyd_get_value(c));
        else if (!strcmp(c->schema->name, "port"))
            e->port = (uint16_t)strtoul(lyd_get_value(c), NULL, 10);
    }
}

/* Reads the endpoints of @k and binds them (keeping the
 * socket of an endpoint already served); a dry run only probes; at start
 * (@initial) an address in use is tried again for a while. */
static int build_set(struct mlisten *l, enum mgmt_kind k, const struct lyd_node *tree, bool dry_run,
                     bool initial, struct cfg_errs *errs)
{
    struct lset *s = &l->next[k];
    struct ly_set *set = NULL;
    char path[64];
    int rc = 0;

    snprintf(path, sizeof(path), MGMT "/%s/enabled", kind_names[k]);
    s->enabled = !tree || !is_false(tree, path);
    snprintf(path, sizeof(path), MGMT "/%s/endpoint", kind_names[k]);
    if (!tree || !s->enabled || lyd_find_xpath(tree, path, &set))
        return 0;
    if (set->count > MGMT_MAX_EPS) {
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, path, "at most %d %s endpoints",
                    MGMT_MAX_EPS, kind_labels[k]);
        rc = -E2BIG;
    }
    for (uint32_t i = 0; !rc && i < set->count; i++) {
        struct lep *e = &s->eps[s->n++];
        const struct lep *h;
        int r;

        ep_read(set->dnodes[i], e, default_port[k]);
        if (!e->name || !e->address) {
            rc = -ENOMEM;
            break;
        }
        h = held(&l->cur[k], e);
        if (!h)
            r = initial ? ep_bind_at_start(e, dry_run) : ep_bind(e, dry_run);
        else if (dry_run)
            r = 0;
        else if ((r = fcntl(h->fd, F_DUPFD_CLOEXEC, 3)) < 0)
            r = -errno;
        if (r < 0)
            rc = ep_err(errs, k, set->dnodes[i], e, r);
        else if (!dry_run)
            e->fd = r;
    }
    ly_set_free(set, NULL);
    return rc;
}

/* The certificate of the REST endpoints: the configured one (checked against its
 * key), else the generated one (not made by a dry run). */
static int build_cert(struct mlisten *l, const struct lyd_node *tree, bool dry_run, struct cfg_errs *errs)
{
    struct lyd_node *c = NULL, *k = NULL;
    int rc;

    if (!l->next[MGMT_KIND_REST].n)
        return 0;
    if (lyd_find_path(tree, MGMT "/rest/certificate", 0, &c))
        c = NULL;
    if (lyd_find_path(tree, MGMT "/rest/private-key", 0, &k))
        k = NULL;
    if (c) {
        if (!k || (rc = mpem_check(lyd_get_value(c), lyd_get_value(k)))) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, MGMT "/rest/private-key",
                        k ? "the REST certificate or private key does not parse, or the key is not the "
                            "certificate's"
                          : "the REST certificate needs its private key");
            return -EINVAL;
        }
        l->next_cert = strdup(lyd_get_value(c));
        l->next_key = strdup(lyd_get_value(k));
        return l->next_cert && l->next_key ? 0 : -ENOMEM;
    }
    if (dry_run)
        return 0;
    if (mpem_self_signed(l->state_dir, &l->next_cert, &l->next_key)) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                    "cannot create the REST server's certificate in %s", l->state_dir);
        return -EIO;
    }
    return 0;
}

/* Whether @tree enables REST with at least one endpoint. */
static bool rest_would_serve(const struct lyd_node *tree)
{
    struct ly_set *set = NULL;
    bool any;

    if (!tree || is_false(tree, MGMT "/rest/enabled") || lyd_find_xpath(tree, MGMT "/rest/endpoint", &set))
        return false;
    any = set->count > 0;
    ly_set_free(set, NULL);
    return any;
}

static int listen_prepare(struct cfg_txn *txn, void *arg, struct cfg_errs *errs)
{
    struct mgmt *m = arg;
    struct mlisten *l = m->listen;
    const struct lyd_node *tree = cfg_txn_new(txn);
    bool dry = cfg_txn_is_dry_run(txn), initial = cfg_txn_is_initial(txn);
    int rc;

    next_clear(l);
    l->next_users = mauth_users_build(tree, &rc);
    if (!rc)
        rc = build_set(l, MGMT_KIND_NETCONF, tree, dry, initial, errs);
    if (!rc && !initial && !l->next[MGMT_KIND_NETCONF].n && !rest_would_serve(tree)) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, MGMT,
                    "the change would leave no NETCONF or REST endpoint, locking every operator out; keep at "
                    "least one enabled endpoint");
        rc = -EPERM;
    }
    if (!rc)
        rc = build_set(l, MGMT_KIND_REST, tree, dry, initial, errs);
    if (!rc)
        rc = build_cert(l, tree, dry, errs);
    if (!rc && !initial && !mauth_users_have_admin(l->next_users)) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, MGMT "/user",
                    "the change would leave no admin user with a password or key, locking every operator out; "
                    "keep at least one");
        rc = -EPERM;
    }
    if (rc == -ENOMEM && !errs->count)
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, MGMT, "out of memory");
    if (rc)
        next_clear(l);
    return rc;
}

static void listen_abort(struct cfg_txn *txn, void *arg)
{
    next_clear(((struct mgmt *)arg)->listen);
}

static void listen_apply(struct cfg_txn *txn, void *arg)
{
    struct mgmt *m = arg;
    struct mlisten *l = m->listen;
    bool users_changed;

    log_info("mgmt", "management: %zu user(s), %zu NETCONF endpoint(s), %zu REST endpoint(s)",
             mauth_users_count(l->next_users), l->next[MGMT_KIND_NETCONF].n, l->next[MGMT_KIND_REST].n);
    users_changed = mauth_set_users(m->auth, l->next_users);
    l->next_users = NULL;
    for (int k = 1; k < MGMT_KIND_COUNT; k++) {
        lset_clear(&l->cur[k]);
        l->cur[k] = l->next[k];
        memset(&l->next[k], 0, sizeof(l->next[k]));
    }
    free(l->cert);
    free(l->key);
    l->cert = l->next_cert;
    l->key = l->next_key;
    l->next_cert = l->next_key = NULL;
    for (int k = 1; k < MGMT_KIND_COUNT; k++) {
        for (struct mconn *c = m->conns; c; c = c->next) {
            if (c->kind == (enum mgmt_kind)k)
                mgmt_send_listen(m, c);
        }
    }
    if (users_changed)
        mgmt_users_changed(m);
}

json_t *mlisten_event(struct mlisten *l, enum mgmt_kind kind, int fds[MGMT_MAX_EPS], int *nfds)
{
    const struct lset *s = &l->cur[kind];
    json_t *j = json_pack("{s:s, s:b, s:[]}", "ev", "listen", "enabled", s->enabled, "endpoints");
    json_t *eps = json_object_get(j, "endpoints");

    *nfds = 0;
    if (!j)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        json_array_append_new(eps, json_pack("{s:s, s:s, s:i}", "name", s->eps[i].name, "address",
                                             s->eps[i].address, "port", s->eps[i].port));
        fds[(*nfds)++] = s->eps[i].fd;
    }
    if (kind == MGMT_KIND_NETCONF) {
        if (!l->hostkey && mpem_hostkey(l->state_dir, &l->hostkey))
            goto fail;
        json_object_set_new(j, "hostkey", json_string(l->hostkey));
    } else if (l->cert && l->key) {
        json_object_set_new(j, "certificate", json_string(l->cert));
        json_object_set_new(j, "private-key", json_string(l->key));
    }
    if (json_array_size(eps) == s->n)
        return j;
fail:
    json_decref(j);
    return NULL;
}

int mlisten_keys(struct mlisten *l)
{
    return l->hostkey ? 0 : mpem_hostkey(l->state_dir, &l->hostkey);
}

int mlisten_register(struct mgmt *m)
{
    struct cfg_handler h = {.name = "management", .path = MGMT, .prepare = listen_prepare,
                            .abort = listen_abort, .apply = listen_apply, .arg = m};

    return cfg_handler_register(m->cfg, &h);
}
