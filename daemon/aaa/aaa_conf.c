/* The aaa subtree compiled for the service (aaa_int.h): RADIUS servers with
 * their addresses resolved once, at commit, server groups, method lists in
 * sequence order, dynamic-authorization clients, the interim interval; every
 * reference checked, so that prepare fails with the path of what is wrong. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/aaa/aaa_int.h"
#include "daemon/base/poison.h"

void aaa_conf_free(struct aaa_conf *c)
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

const struct aaa_server *aaa_conf_server(const struct aaa_conf *c, const char *name)
{
    for (size_t i = 0; i < c->nservers; i++)
        if (!strcmp(c->servers[i].name, name))
            return &c->servers[i];
    return NULL;
}

const struct aaa_list *aaa_conf_list(const struct aaa_conf *c, enum aaa_list_kind kind, const char *name)
{
    for (size_t i = 0; c && name && i < c->nlists; i++)
        if (c->lists[i].kind == kind && !strcmp(c->lists[i].name, name))
            return &c->lists[i];
    return NULL;
}

int aaa_conf_compile(const struct lyd_node *tree, struct aaa_conf *c, aaa_err_fn err, void *arg)
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
            if (!aaa_conf_server(c, c->groups[i].servers[j])) {
                err(arg, NULL, "a server group names an unknown RADIUS server");
                return -EINVAL;
            }
    return 0;
}
