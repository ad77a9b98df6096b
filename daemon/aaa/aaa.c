/* The AAA service: the aaa subtree compiled for the RADIUS client, access and
 * accounting requests through method lists, and the dynamic authorization server. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/aaa/aaa.h"
#include "daemon/aaa/radius_client.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

#define AAA_MAX_METHODS 16
#define ACCT_PREFIX "acct:" /* the client's group of a server group's accounting ports */

struct aaa_server {
    char *name, *secret;
    struct sockaddr_storage auth, acct, source;
    unsigned int timeout_ms, retransmits;
    bool require_ma;
};

struct aaa_group {
    char *name;
    char **servers;
    size_t n;
    unsigned int deadtime_s;
};

struct aaa_list {
    char *name;
    enum aaa_list_kind kind;
    struct {
        bool local;
        char *group;
    } m[AAA_MAX_METHODS];
    size_t n;
};

struct aaa_dae_client {
    char *name, *secret;
    struct sockaddr_storage addr;
};

struct aaa_conf {
    struct aaa_server *servers;
    size_t nservers;
    struct aaa_group *groups;
    size_t ngroups;
    struct aaa_list *lists;
    size_t nlists;
    struct aaa_dae_client *dae;
    size_t ndae;
    uint16_t dae_port;
    uint32_t interim;
};

struct aaa {
    struct event_base *base;
    struct rad_client *rc;
    struct aaa_conf *conf, *pending;
    int dae_fd, new_dae_fd;
    struct event *dae_ev, *new_dae_ev;
    uint16_t dae_port_bound, new_dae_port;
    aaa_dae_fn dae_fn;
    void *dae_arg;
    struct aaa_op *ops; /* under way */
    uint64_t dae_requests, dae_acks, dae_naks, dae_dropped;
};

struct aaa_op {
    struct aaa *a;
    struct aaa_op *next, **pprev;
    enum aaa_list_kind kind;
    char *list;
    size_t method; /* the method of the list being asked */
    struct rad_req *req;
    bool acct;
    /* the request */
    uint8_t code;
    char *user, *password, *calling, *port_id;
    uint8_t *eap, *state;
    size_t eap_len, state_len;
    uint32_t service_type;
    struct aaa_acct ac;
    char *ac_session, *ac_user, *ac_calling, *ac_class, *ac_port;
    aaa_access_fn done;
    void *arg;
};

/* ---- configuration ---- */

static void conf_free(struct aaa_conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nservers; i++) {
        free(c->servers[i].name);
        if (c->servers[i].secret)
            OPENSSL_cleanse(c->servers[i].secret, strlen(c->servers[i].secret));
        free(c->servers[i].secret);
    }
    free(c->servers);
    for (size_t i = 0; i < c->ngroups; i++) {
        free(c->groups[i].name);
        for (size_t j = 0; j < c->groups[i].n; j++)
            free(c->groups[i].servers[j]);
        free(c->groups[i].servers);
    }
    free(c->groups);
    for (size_t i = 0; i < c->nlists; i++) {
        free(c->lists[i].name);
        for (size_t j = 0; j < c->lists[i].n; j++)
            free(c->lists[i].m[j].group);
    }
    free(c->lists);
    for (size_t i = 0; i < c->ndae; i++) {
        free(c->dae[i].name);
        if (c->dae[i].secret)
            OPENSSL_cleanse(c->dae[i].secret, strlen(c->dae[i].secret));
        free(c->dae[i].secret);
    }
    free(c->dae);
    free(c);
}

static const char *leaf(const struct lyd_node *n, const char *path)
{
    struct lyd_node *m = NULL;

    if (lyd_find_path(n, path, 0, &m) || !m)
        return NULL;
    return lyd_get_value(m);
}

static bool resolve(const char *host, uint16_t port, struct sockaddr_storage *out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST}, *res = NULL;

    if (getaddrinfo(host, NULL, &hints, &res)) {
        hints.ai_flags = 0; /* a host name: resolved once, at commit */
        if (getaddrinfo(host, NULL, &hints, &res))
            return false;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (out->ss_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)out)->sin6_port = htons(port);
    return true;
}

static const struct aaa_server *server_find(const struct aaa_conf *c, const char *name)
{
    for (size_t i = 0; i < c->nservers; i++)
        if (!strcmp(c->servers[i].name, name))
            return &c->servers[i];
    return NULL;
}

static const struct aaa_list *list_find(const struct aaa_conf *c, enum aaa_list_kind kind, const char *name)
{
    for (size_t i = 0; c && name && i < c->nlists; i++)
        if (c->lists[i].kind == kind && !strcmp(c->lists[i].name, name))
            return &c->lists[i];
    return NULL;
}

static int compile(const struct lyd_node *tree, struct aaa_conf *c, aaa_err_fn err, void *arg)
{
    struct lyd_node *top = NULL, *n;
    const char *v;

    c->dae_port = 3799;
    if (!tree || lyd_find_path(tree, "/raven-vpn:aaa", 0, &top) || !top)
        return 0;
    if ((v = leaf(top, "dynamic-author-port")))
        c->dae_port = (uint16_t)atoi(v);
    if ((v = leaf(top, "accounting-interim-interval")))
        c->interim = (uint32_t)strtoul(v, NULL, 10);
    LY_LIST_FOR(lyd_child(top), n) {
        const char *nm = n->schema->name;

        if (!strcmp(nm, "radius-server")) {
            struct aaa_server *s, *ns = realloc(c->servers, (c->nservers + 1) * sizeof(*ns));
            const char *addr = leaf(n, "address");
            uint16_t ap = (v = leaf(n, "auth-port")) ? (uint16_t)atoi(v) : 1812;
            uint16_t cp = (v = leaf(n, "acct-port")) ? (uint16_t)atoi(v) : 1813;
            char path[300];

            if (!ns)
                return -ENOMEM;
            c->servers = ns;
            s = &c->servers[c->nservers++];
            memset(s, 0, sizeof(*s));
            s->name = strdup(leaf(n, "name"));
            s->secret = strdup((v = leaf(n, "key")) ? v : "");
            s->timeout_ms = ((v = leaf(n, "timeout")) ? (unsigned)atoi(v) : 5) * 1000;
            s->retransmits = (v = leaf(n, "retransmit")) ? (unsigned)atoi(v) : 3;
            s->require_ma = (v = leaf(n, "require-message-authenticator")) && !strcmp(v, "true");
            if (!s->name || !s->secret)
                return -ENOMEM;
            snprintf(path, sizeof(path), "/raven-vpn:aaa/radius-server[name='%s']/address", s->name);
            if (!addr || !resolve(addr, ap, &s->auth) || !resolve(addr, cp, &s->acct)) {
                err(arg, path, "the RADIUS server's address cannot be resolved");
                return -EINVAL;
            }
            if ((v = leaf(n, "source-address")) && (!resolve(v, 0, &s->source) ||
                                                    s->source.ss_family != s->auth.ss_family)) {
                snprintf(path, sizeof(path), "/raven-vpn:aaa/radius-server[name='%s']/source-address", s->name);
                err(arg, path, "the source address must be of the server address's family");
                return -EINVAL;
            }
            if (!leaf(n, "key")) {
                snprintf(path, sizeof(path), "/raven-vpn:aaa/radius-server[name='%s']", s->name);
                err(arg, path, "a RADIUS server needs a shared secret: set key");
                return -EINVAL;
            }
        } else if (!strcmp(nm, "server-group")) {
            struct aaa_group *g, *ng = realloc(c->groups, (c->ngroups + 1) * sizeof(*ng));
            struct lyd_node *m;

            if (!ng)
                return -ENOMEM;
            c->groups = ng;
            g = &c->groups[c->ngroups++];
            memset(g, 0, sizeof(*g));
            g->name = strdup(leaf(n, "name"));
            g->deadtime_s = ((v = leaf(n, "deadtime")) ? (unsigned)atoi(v) : 0) * 60;
            if (!g->name)
                return -ENOMEM;
            LY_LIST_FOR(lyd_child(n), m) {
                char **nsv;

                if (strcmp(m->schema->name, "server"))
                    continue;
                nsv = realloc(g->servers, (g->n + 1) * sizeof(*nsv));
                if (!nsv)
                    return -ENOMEM;
                g->servers = nsv;
                if (!(g->servers[g->n++] = strdup(lyd_get_value(m))))
                    return -ENOMEM;
            }
        } else if (!strcmp(nm, "authentication-list") || !strcmp(nm, "authorization-list") ||
                   !strcmp(nm, "accounting-list")) {
            struct aaa_list *l, *nl = realloc(c->lists, (c->nlists + 1) * sizeof(*nl));
            struct lyd_node *m;

            if (!nl)
                return -ENOMEM;
            c->lists = nl;
            l = &c->lists[c->nlists++];
            memset(l, 0, sizeof(*l));
            l->kind = !strcmp(nm, "authentication-list")  ? AAA_AUTHENTICATION
                      : !strcmp(nm, "authorization-list") ? AAA_AUTHORIZATION
                                                          : AAA_ACCOUNTING;
            if (!(l->name = strdup(leaf(n, "name"))))
                return -ENOMEM;
            /* methods in ascending sequence order */
            unsigned seqs[AAA_MAX_METHODS];
            LY_LIST_FOR(lyd_child(n), m) {
                unsigned seq;
                size_t at;

                if (strcmp(m->schema->name, "method") || l->n >= AAA_MAX_METHODS)
                    continue;
                seq = (unsigned)atoi(leaf(m, "sequence"));
                for (at = l->n; at > 0 && seqs[at - 1] > seq; at--) {
                    seqs[at] = seqs[at - 1];
                    l->m[at] = l->m[at - 1];
                }
                l->n++;
                seqs[at] = seq;
                l->m[at].local = lyd_find_path(m, "local", 0, NULL) == LY_SUCCESS;
                l->m[at].group = (v = leaf(m, "group")) ? strdup(v) : NULL;
            }
        } else if (!strcmp(nm, "dynamic-author-client")) {
            struct aaa_dae_client *d, *nd = realloc(c->dae, (c->ndae + 1) * sizeof(*nd));
            char path[300];

            if (!nd)
                return -ENOMEM;
            c->dae = nd;
            d = &c->dae[c->ndae++];
            memset(d, 0, sizeof(*d));
            d->name = strdup(leaf(n, "name"));
            d->secret = strdup((v = leaf(n, "key")) ? v : "");
            if (!d->name || !d->secret)
                return -ENOMEM;
            snprintf(path, sizeof(path), "/raven-vpn:aaa/dynamic-author-client[name='%s']", d->name);
            if (!leaf(n, "key")) {
                err(arg, path, "a dynamic authorization client needs a shared secret: set key");
                return -EINVAL;
            }
            if (!(v = leaf(n, "address")) || !resolve(v, 0, &d->addr)) {
                err(arg, path, "the dynamic authorization client needs an address");
                return -EINVAL;
            }
        }
    }
    /* groups name servers that exist (YANG leafrefs); check anyway */
    for (size_t i = 0; i < c->ngroups; i++)
        for (size_t j = 0; j < c->groups[i].n; j++)
            if (!server_find(c, c->groups[i].servers[j])) {
                err(arg, NULL, "a server group names an unknown RADIUS server");
                return -EINVAL;
            }
    return 0;
}

/* ---- the dynamic authorization socket ---- */

static int dae_open(uint16_t port)
{
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT};
    struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), off = 0, on = 1;

    if (fd >= 0) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (!bind(fd, (struct sockaddr *)&sa6, sizeof(sa6)))
            return fd;
        close(fd);
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&sa4, sizeof(sa4))) {
        int e = -errno;

        close(fd);
        return e;
    }
    return fd;
}

/* The same address, IPv4-mapped IPv6 taken as IPv4. */
static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    uint8_t x[16], y[16];
    const struct sockaddr_storage *s[2] = {a, b};
    uint8_t *o[2] = {x, y};

    for (int i = 0; i < 2; i++) {
        memset(o[i], 0, 16);
        if (s[i]->ss_family == AF_INET) {
            o[i][10] = o[i][11] = 0xff;
            memcpy(o[i] + 12, &((const struct sockaddr_in *)s[i])->sin_addr, 4);
        } else {
            memcpy(o[i], &((const struct sockaddr_in6 *)s[i])->sin6_addr, 16);
        }
    }
    return !memcmp(x, y, 16);
}

static void dae_reply(struct aaa *a, int fd, const struct sockaddr_storage *to, socklen_t tolen,
                      const struct rad_view *v, const char *secret, uint8_t code, int cause)
{
    struct rad_pkt *p = calloc(1, sizeof(*p));
    size_t len;

    if (!p)
        return;
    rad_init(p, code, v->id, NULL);
    if (cause)
        rad_add_u32(p, RAD_ERROR_CAUSE, (uint32_t)cause);
    if (rad_find(v, RAD_MESSAGE_AUTHENTICATOR, &(struct rad_attr){0}))
        rad_add_msg_auth(p);
    len = rad_finish_reply(p, v->buf + 4, secret, strlen(secret));
    if (len && sendto(fd, p->buf, len, 0, (const struct sockaddr *)to, tolen) < 0)
        log_debug("radius", "dynamic authorization reply: %s", strerror(errno));
    if (cause)
        a->dae_naks++;
    else
        a->dae_acks++;
    free(p);
}

int aaa_dae_read(const struct rad_view *v, struct aaa_dae *req, char sid[254], char user[254])
{
    struct rad_attr at;
    size_t pos = 0;
    int cause = 0;

    memset(req, 0, sizeof(*req));
    req->coa = v->code == RAD_COA_REQUEST;
    aaa_attrs_init(&req->attrs);
    while (rad_next(v, &pos, &at)) {
        switch (at.type) {
        case RAD_ACCT_SESSION_ID:
            snprintf(sid, 254, "%.*s", (int)at.len, (const char *)at.val);
            req->session_id = sid;
            break;
        case RAD_USER_NAME:
            snprintf(user, 254, "%.*s", (int)at.len, (const char *)at.val);
            req->user = user;
            break;
        case RAD_FRAMED_IP_ADDRESS:
            if (at.len == 4) {
                req->has_addr = true;
                req->addr = (uint32_t)at.val[0] << 24 | (uint32_t)at.val[1] << 16 | (uint32_t)at.val[2] << 8 |
                           at.val[3];
            }
            break;
        case RAD_MESSAGE_AUTHENTICATOR:
            break;
        case RAD_SERVICE_TYPE:
            /* Authorize-Only (17) would need a re-authorization round trip */
            if (at.len == 4 && at.val[3] == 17)
                cause = AAA_EC_UNSUPPORTED_SERVICE;
            break;
        case RAD_NAS_IP_ADDRESS:
        case RAD_NAS_IDENTIFIER:
        case RAD_CALLING_STATION_ID:
        case RAD_EVENT_TIMESTAMP:
        case RAD_STATE:
        case RAD_CLASS:
            break;
        case RAD_VENDOR_SPECIFIC:
            if (!req->coa)
                break; /* a Disconnect ignores authorization attributes */
            /* fall through */
        case RAD_SESSION_TIMEOUT:
        case RAD_FRAMED_IP_NETMASK:
            break;
        default:
            if (!cause)
                cause = AAA_EC_UNSUPPORTED_ATTRIBUTE;
            break;
        }
    }
    if (req->coa && !cause && aaa_attrs_parse(v, NULL, NULL, &req->attrs)) {
        cause = AAA_EC_RESOURCES_UNAVAILABLE;
    } else if (req->coa && !cause && req->attrs.unknown) {
        cause = AAA_EC_UNSUPPORTED_ATTRIBUTE;
    }
    if (!cause && !req->session_id && !req->user && !req->has_addr)
        cause = AAA_EC_MISSING_ATTRIBUTE;
    return cause;
}

static void on_dae(evutil_socket_t fd, short what, void *arg)
{
    struct aaa *a = arg;
    uint8_t buf[RAD_MAX_LEN];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
    const struct aaa_dae_client *cl = NULL;
    struct rad_view v;
    struct aaa_dae req;
    char sid[254] = "", user[254] = "", host[INET6_ADDRSTRLEN] = "?";
    int cause;

    if (n <= 0)
        return;
    a->dae_requests++;
    for (size_t i = 0; a->conf && i < a->conf->ndae && !cl; i++)
        if (same_host(&a->conf->dae[i].addr, &from))
            cl = &a->conf->dae[i];
    if (from.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, host, sizeof(host));
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, host, sizeof(host));
    if (!cl) {
        a->dae_dropped++;
        log_warn("radius", "dynamic authorization request from %s, which is not a configured client: dropped", host);
        return;
    }
    if (rad_parse(buf, (size_t)n, &v) ||
        (v.code != RAD_DISCONNECT_REQUEST && v.code != RAD_COA_REQUEST) ||
        rad_verify_request(&v, cl->secret, strlen(cl->secret))) {
        a->dae_dropped++;
        log_warn("radius", "dynamic authorization request from %s (%s): malformed or wrong authenticator, dropped",
                 cl->name, host);
        return;
    }
    /* RFC 5176 3.5: a request whose Event-Timestamp is more than 300 s off is a
     * replay, dropped */
    {
        struct rad_attr ts;

        if (rad_find(&v, RAD_EVENT_TIMESTAMP, &ts) && ts.len == 4) {
            int64_t t = (int64_t)((uint32_t)ts.val[0] << 24 | (uint32_t)ts.val[1] << 16 | (uint32_t)ts.val[2] << 8 |
                                  ts.val[3]);

            if (llabs(t - (int64_t)time(NULL)) > 300) {
                a->dae_dropped++;
                log_warn("radius", "dynamic authorization request from %s (%s) with an Event-Timestamp %" PRId64
                         " s off: dropped as a replay", cl->name, host, t - (int64_t)time(NULL));
                return;
            }
        }
    }
    cause = aaa_dae_read(&v, &req, sid, user);
    if (!cause)
        cause = a->dae_fn ? a->dae_fn(&req, a->dae_arg) : AAA_EC_SESSION_NOT_FOUND;
    log_info("radius", "%s-Request from %s (%s)%s%s%s%s: %s %d", req.coa ? "CoA" : "Disconnect", cl->name, host,
             req.session_id ? " session " : "", req.session_id ? req.session_id : "", req.user ? " user " : "",
             req.user ? req.user : "", cause ? "NAK, Error-Cause" : "ACK", cause);
    dae_reply(a, fd, &from, flen, &v, cl->secret,
              cause ? (req.coa ? RAD_COA_NAK : RAD_DISCONNECT_NAK) : (req.coa ? RAD_COA_ACK : RAD_DISCONNECT_ACK),
              cause);
    aaa_attrs_free(&req.attrs);
}

/* ---- the service ---- */

struct aaa *aaa_new(struct event_base *base)
{
    struct aaa *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->base = base;
    a->dae_fd = a->new_dae_fd = -1;
    a->rc = rad_client_new(base);
    if (!a->rc) {
        free(a);
        return NULL;
    }
    return a;
}

static void op_free(struct aaa_op *op)
{
    if (op->pprev) {
        *op->pprev = op->next;
        if (op->next)
            op->next->pprev = op->pprev;
    }
    free(op->list);
    free(op->user);
    if (op->password)
        OPENSSL_cleanse(op->password, strlen(op->password));
    free(op->password);
    free(op->calling);
    free(op->port_id);
    free(op->eap);
    free(op->state);
    free(op->ac_session);
    free(op->ac_user);
    free(op->ac_calling);
    free(op->ac_class);
    free(op->ac_port);
    free(op);
}

void aaa_free(struct aaa *a)
{
    if (!a)
        return;
    while (a->ops) {
        if (a->ops->req)
            rad_client_cancel(a->ops->req);
        op_free(a->ops);
    }
    rad_client_free(a->rc);
    if (a->dae_ev)
        event_free(a->dae_ev);
    if (a->dae_fd >= 0)
        close(a->dae_fd);
    aaa_abort(a);
    conf_free(a->conf);
    free(a);
}

int aaa_prepare(struct aaa *a, const struct lyd_node *tree, bool dry_run, aaa_err_fn err, void *arg)
{
    struct aaa_conf *c = calloc(1, sizeof(*c));
    int rc;

    aaa_abort(a);
    if (!c)
        return -ENOMEM;
    rc = compile(tree, c, err, arg);
    if (rc) {
        conf_free(c);
        return rc;
    }
    /* the dynamic authorization socket: only with clients, bound here so that a
     * port that cannot be bound fails the commit; it is read from apply on */
    a->new_dae_port = c->ndae ? c->dae_port : 0;
    if (a->new_dae_port && a->new_dae_port != a->dae_port_bound) {
        a->new_dae_fd = dae_open(a->new_dae_port);
        if (a->new_dae_fd < 0) {
            char msg[160];

            snprintf(msg, sizeof(msg), "cannot listen for dynamic authorization on UDP port %u: %s",
                     a->new_dae_port, strerror(-a->new_dae_fd));
            err(arg, "/raven-vpn:aaa/dynamic-author-port", msg);
            a->new_dae_fd = -1;
            conf_free(c);
            return -EADDRINUSE;
        }
        if (dry_run) { /* the port can be bound; a dry run keeps nothing */
            close(a->new_dae_fd);
            a->new_dae_fd = -1;
            a->pending = c;
            return 0;
        }
        a->new_dae_ev = event_new(a->base, a->new_dae_fd, EV_READ | EV_PERSIST, on_dae, a);
        if (!a->new_dae_ev) {
            close(a->new_dae_fd);
            a->new_dae_fd = -1;
            conf_free(c);
            return -ENOMEM;
        }
    }
    a->pending = c;
    return 0;
}

void aaa_abort(struct aaa *a)
{
    conf_free(a->pending);
    a->pending = NULL;
    if (a->new_dae_ev)
        event_free(a->new_dae_ev);
    a->new_dae_ev = NULL;
    if (a->new_dae_fd >= 0)
        close(a->new_dae_fd);
    a->new_dae_fd = -1;
}

/* The client's groups: every server group twice, with the authentication and
 * with the accounting ports. Groups that went away are emptied. */
static void push_groups(struct aaa *a, const struct aaa_conf *old, const struct aaa_conf *c)
{
    for (size_t i = 0; old && i < old->ngroups; i++) {
        bool kept = false;
        char acct[300];

        for (size_t j = 0; j < c->ngroups && !kept; j++)
            kept = !strcmp(c->groups[j].name, old->groups[i].name);
        if (kept)
            continue;
        snprintf(acct, sizeof(acct), ACCT_PREFIX "%s", old->groups[i].name);
        rad_client_set_group(a->rc, old->groups[i].name, NULL, 0);
        rad_client_set_group(a->rc, acct, NULL, 0);
    }
    for (size_t i = 0; i < c->ngroups; i++) {
        const struct aaa_group *g = &c->groups[i];
        struct rad_server_conf sc[32], ac[32];
        size_t n = 0;
        char acct[300];

        for (size_t j = 0; j < g->n && n < 32; j++) {
            const struct aaa_server *s = server_find(c, g->servers[j]);

            if (!s)
                continue;
            sc[n] = (struct rad_server_conf){.name = s->name, .addr = s->auth, .source = s->source, .secret = s->secret,
                                             .timeout_ms = s->timeout_ms, .retransmits = s->retransmits,
                                             .deadtime_s = g->deadtime_s, .require_ma = s->require_ma};
            ac[n] = sc[n];
            ac[n].addr = s->acct;
            n++;
        }
        snprintf(acct, sizeof(acct), ACCT_PREFIX "%s", g->name);
        if (rad_client_set_group(a->rc, g->name, sc, n) || rad_client_set_group(a->rc, acct, ac, n))
            log_err("radius", "server group %s: cannot open its sockets", g->name);
    }
}

void aaa_apply(struct aaa *a)
{
    struct aaa_conf *old = a->conf;

    if (!a->pending)
        return;
    a->conf = a->pending;
    a->pending = NULL;
    push_groups(a, old, a->conf);
    conf_free(old);
    if (a->new_dae_fd >= 0 || !a->new_dae_port) {
        /* a new port, or none any more */
        if (a->dae_ev)
            event_free(a->dae_ev);
        if (a->dae_fd >= 0)
            close(a->dae_fd);
        a->dae_ev = a->new_dae_ev;
        a->dae_fd = a->new_dae_fd;
        a->dae_port_bound = a->new_dae_fd >= 0 ? a->new_dae_port : 0;
        a->new_dae_ev = NULL;
        a->new_dae_fd = -1;
        if (a->dae_ev)
            event_add(a->dae_ev, NULL);
    }
}

void aaa_set_dae_handler(struct aaa *a, aaa_dae_fn fn, void *arg)
{
    a->dae_fn = fn;
    a->dae_arg = arg;
}

uint32_t aaa_interim_interval(const struct aaa *a)
{
    return a->conf ? a->conf->interim : 0;
}

enum aaa_source aaa_list_source(const struct aaa *a, enum aaa_list_kind kind, const char *list)
{
    const struct aaa_list *l = list_find(a->conf, kind, list);

    if (!l || !l->n)
        return AAA_NONE;
    return l->m[0].local ? AAA_LOCAL : AAA_RADIUS;
}

/* ---- requests ---- */

static void build_access(struct rad_pkt *p, uint8_t id, const uint8_t auth[16], const char *secret, void *arg)
{
    struct aaa_op *op = arg;

    rad_init(p, RAD_ACCESS_REQUEST, id, auth);
    if (op->user)
        rad_add_str(p, RAD_USER_NAME, op->user);
    if (op->password)
        rad_add_password(p, secret, strlen(secret), op->password);
    rad_add_u32(p, RAD_SERVICE_TYPE, op->service_type);
    rad_add_u32(p, RAD_NAS_PORT_TYPE, 5); /* Virtual */
    rad_add_str(p, RAD_NAS_IDENTIFIER, "raven");
    if (op->calling)
        rad_add_str(p, RAD_CALLING_STATION_ID, op->calling);
    if (op->port_id)
        rad_add_str(p, RAD_NAS_PORT_ID, op->port_id);
    if (op->state_len)
        rad_add(p, RAD_STATE, op->state, op->state_len);
    if (op->eap_len)
        rad_add_eap(p, op->eap, op->eap_len);
    else
        rad_add_msg_auth(p); /* on every Access-Request (RFC 5080 2.2.2 advice) */
}

static void build_acct(struct rad_pkt *p, uint8_t id, const uint8_t auth[16], const char *secret, void *arg)
{
    struct aaa_op *op = arg;
    const struct aaa_acct *r = &op->ac;

    rad_init(p, RAD_ACCOUNTING_REQUEST, id, auth);
    rad_add_u32(p, RAD_ACCT_STATUS_TYPE, (uint32_t)r->status);
    if (op->ac_session)
        rad_add_str(p, RAD_ACCT_SESSION_ID, op->ac_session);
    if (op->ac_user)
        rad_add_str(p, RAD_USER_NAME, op->ac_user);
    if (op->ac_class)
        rad_add_str(p, RAD_CLASS, op->ac_class);
    rad_add_str(p, RAD_NAS_IDENTIFIER, "raven");
    rad_add_u32(p, RAD_NAS_PORT_TYPE, 5);
    rad_add_u32(p, RAD_SERVICE_TYPE, 2);
    if (op->ac_calling)
        rad_add_str(p, RAD_CALLING_STATION_ID, op->ac_calling);
    if (op->ac_port)
        rad_add_str(p, RAD_NAS_PORT_ID, op->ac_port);
    if (r->has_addr)
        rad_add_u32(p, RAD_FRAMED_IP_ADDRESS, r->addr);
    rad_add_u32(p, RAD_EVENT_TIMESTAMP, (uint32_t)time(NULL));
    if (r->status != AAA_ACCT_START) {
        rad_add_u32(p, RAD_ACCT_SESSION_TIME, r->session_time);
        rad_add_u32(p, RAD_ACCT_INPUT_OCTETS, (uint32_t)r->in_octets);
        rad_add_u32(p, RAD_ACCT_OUTPUT_OCTETS, (uint32_t)r->out_octets);
        rad_add_u32(p, RAD_ACCT_INPUT_GIGAWORDS, (uint32_t)(r->in_octets >> 32));
        rad_add_u32(p, RAD_ACCT_OUTPUT_GIGAWORDS, (uint32_t)(r->out_octets >> 32));
        rad_add_u32(p, RAD_ACCT_INPUT_PACKETS, (uint32_t)r->in_packets);
        rad_add_u32(p, RAD_ACCT_OUTPUT_PACKETS, (uint32_t)r->out_packets);
    }
    if (r->status == AAA_ACCT_STOP && r->terminate_cause)
        rad_add_u32(p, RAD_ACCT_TERMINATE_CAUSE, r->terminate_cause);
}

static bool op_next(struct aaa_op *op);

static void access_done(const struct rad_view *v, int err, const char *server, const uint8_t req_auth[16],
                        const char *secret, void *arg)
{
    struct aaa_op *op = arg;
    struct aaa_reply *r;

    op->req = NULL;
    if (!v && err == -ETIMEDOUT) {
        op->method++;
        if (op_next(op))
            return; /* the next group of the list */
    }
    if (op->acct) {
        if (!v)
            log_warn("radius", "accounting for %s: no server of list %s answered", op->ac_session ? op->ac_session : "?",
                     op->list);
        op_free(op);
        return;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        op_free(op);
        return;
    }
    aaa_attrs_init(&r->attrs);
    r->server = server;
    if (!v) {
        r->result = err == -ETIMEDOUT ? AAA_UNREACHABLE : AAA_FAILED;
    } else {
        struct rad_attr at;
        size_t pos = 0;

        r->result = v->code == RAD_ACCESS_ACCEPT ? AAA_ACCEPT : v->code == RAD_ACCESS_CHALLENGE ? AAA_CHALLENGE
                                                                                                : AAA_REJECT;
        r->eap_len = rad_eap(v, r->eap, sizeof(r->eap));
        if (rad_find(v, RAD_STATE, &at) && at.len <= sizeof(r->state)) {
            memcpy(r->state, at.val, at.len);
            r->state_len = at.len;
        }
        if (rad_find(v, RAD_REPLY_MESSAGE, &at))
            snprintf(r->reply_message, sizeof(r->reply_message), "%.*s", (int)at.len, (const char *)at.val);
        if (r->result == AAA_ACCEPT) {
            uint8_t recv[64], send[64];
            size_t nr = 0, ns = 0;

            while (rad_next(v, &pos, &at)) {
                uint32_t vendor;
                uint8_t vt;
                const uint8_t *val;
                size_t len;

                if (at.type != RAD_VENDOR_SPECIFIC || !rad_vsa(&at, &vendor, &vt, &val, &len) ||
                    vendor != RAD_VENDOR_MICROSOFT)
                    continue;
                if (vt == RAD_MS_MPPE_RECV_KEY)
                    nr = rad_mppe_key(val, len, secret, strlen(secret), req_auth, recv, sizeof(recv));
                else if (vt == RAD_MS_MPPE_SEND_KEY)
                    ns = rad_mppe_key(val, len, secret, strlen(secret), req_auth, send, sizeof(send));
            }
            /* MSK = Recv-Key | Send-Key, zero-padded to 64 octets (RFC 3748,
             * MS-CHAPv2 keys are 16 octets each: RFC 3079 3.3) */
            if (nr && ns && nr + ns <= sizeof(r->msk)) {
                memcpy(r->msk, recv, nr);
                memcpy(r->msk + nr, send, ns);
                r->msk_len = sizeof(r->msk);
            }
            OPENSSL_cleanse(recv, sizeof(recv));
            OPENSSL_cleanse(send, sizeof(send));
            if (aaa_attrs_parse(v, secret, req_auth, &r->attrs))
                r->result = AAA_FAILED;
            else if (r->attrs.unknown)
                log_info("radius", "%s: attribute not understood, ignored: %s", server, r->attrs.unknown);
        }
    }
    op->done(r, op->arg);
    OPENSSL_cleanse(r->msk, sizeof(r->msk));
    aaa_attrs_free(&r->attrs);
    free(r);
    op_free(op);
}

/* Sends the operation to the group of its current method, or the next one that
 * is a group. False when the list has no more groups. */
static bool op_next(struct aaa_op *op)
{
    const struct aaa_list *l = list_find(op->a->conf, op->kind, op->list);

    for (; l && op->method < l->n; op->method++) {
        char acct[300];

        if (!l->m[op->method].group)
            continue;
        snprintf(acct, sizeof(acct), ACCT_PREFIX "%s", l->m[op->method].group);
        op->req = rad_client_send(op->a->rc, op->acct ? acct : l->m[op->method].group,
                                  op->acct ? build_acct : build_access, access_done, op);
        if (op->req)
            return true;
    }
    return false;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static struct aaa_op *op_new(struct aaa *a, enum aaa_list_kind kind, const char *list)
{
    struct aaa_op *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->a = a;
    op->kind = kind;
    if (!(op->list = strdup(list))) {
        free(op);
        return NULL;
    }
    op->next = a->ops;
    if (a->ops)
        a->ops->pprev = &op->next;
    a->ops = op;
    op->pprev = &a->ops;
    return op;
}

struct aaa_op *aaa_access_send(struct aaa *a, enum aaa_list_kind kind, const char *list, const struct aaa_access *q,
                               aaa_access_fn done, void *arg)
{
    struct aaa_op *op = list ? op_new(a, kind, list) : NULL;

    if (!op)
        return NULL;
    op->done = done;
    op->arg = arg;
    op->user = dup_or_null(q->user);
    op->password = dup_or_null(q->password);
    op->calling = dup_or_null(q->calling_station);
    op->port_id = dup_or_null(q->nas_port_id);
    op->service_type = q->service_type ? q->service_type : 2;
    if (q->eap_len && (op->eap = malloc(q->eap_len))) {
        memcpy(op->eap, q->eap, q->eap_len);
        op->eap_len = q->eap_len;
    }
    if (q->state_len && (op->state = malloc(q->state_len))) {
        memcpy(op->state, q->state, q->state_len);
        op->state_len = q->state_len;
    }
    if ((q->user && !op->user) || (q->eap_len && !op->eap) || (q->state_len && !op->state) || !op_next(op)) {
        op_free(op);
        return NULL;
    }
    return op;
}

void aaa_cancel(struct aaa_op *op)
{
    if (!op)
        return;
    if (op->req)
        rad_client_cancel(op->req);
    op_free(op);
}

void aaa_acct_send(struct aaa *a, const char *list, const struct aaa_acct *r)
{
    struct aaa_op *op = list ? op_new(a, AAA_ACCOUNTING, list) : NULL;

    if (!op)
        return;
    op->acct = true;
    op->ac = *r;
    op->ac_session = dup_or_null(r->session_id);
    op->ac_user = dup_or_null(r->user);
    op->ac_calling = dup_or_null(r->calling_station);
    op->ac_class = dup_or_null(r->class_);
    op->ac_port = dup_or_null(r->nas_port_id);
    if (!op_next(op)) {
        log_warn("radius", "accounting list %s has no server group", list);
        op_free(op);
    }
}

/* ---- state ---- */

static void add_u64(struct lyd_node *p, const char *name, uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%" PRIu64, v);
    lyd_new_term(p, NULL, name, b, 0, NULL);
}

void aaa_state(const struct aaa *a, struct lyd_node *state)
{
    const struct aaa_conf *c = a->conf;

    for (size_t i = 0; c && i < c->nservers; i++) {
        struct rad_server_stats t = {0}, acc = {0};
        struct lyd_node *n = NULL;
        bool any = false, dead = false;
        uint64_t rtt = 0;

        /* a server may be in several groups: its counters are the sum */
        for (size_t g = 0; g < c->ngroups; g++) {
            struct rad_server_stats st;
            char acct[300];

            snprintf(acct, sizeof(acct), ACCT_PREFIX "%s", c->groups[g].name);
            if (rad_client_stats(a->rc, c->groups[g].name, c->servers[i].name, &st)) {
                any = true;
                t.requests += st.requests;
                t.retransmits += st.retransmits;
                t.timeouts += st.timeouts;
                t.accepts += st.accepts;
                t.rejects += st.rejects;
                t.challenges += st.challenges;
                t.malformed += st.malformed + st.bad_authenticators;
                dead |= st.dead;
                if (st.rtt_us)
                    rtt = st.rtt_us;
            }
            if (rad_client_stats(a->rc, acct, c->servers[i].name, &st)) {
                acc.requests += st.requests;
                acc.responses += st.responses;
                t.retransmits += st.retransmits;
                t.timeouts += st.timeouts;
                t.malformed += st.malformed + st.bad_authenticators;
            }
        }
        if (lyd_new_list(state, NULL, "radius-server", 0, &n, c->servers[i].name))
            continue;
        lyd_new_term(n, NULL, "state", any && dead ? "dead" : "alive", 0, NULL);
        add_u64(n, "requests", t.requests);
        add_u64(n, "retransmits", t.retransmits);
        add_u64(n, "timeouts", t.timeouts);
        add_u64(n, "accepts", t.accepts);
        add_u64(n, "rejects", t.rejects);
        add_u64(n, "challenges", t.challenges);
        add_u64(n, "malformed-responses", t.malformed);
        add_u64(n, "accounting-requests", acc.requests);
        add_u64(n, "accounting-responses", acc.responses);
        add_u64(n, "rtt", (rtt + 500) / 1000);
    }
}
