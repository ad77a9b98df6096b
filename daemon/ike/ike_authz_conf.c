/* Authorization policies compiled at prepare (struct sess_authz_pol,
 * daemon/session/sess_authz.h): every leaf that the session's authorization
 * merge (sess_authorize) takes from a policy, its access lists' permits and its
 * attribute list's settings are read here once, so that an IKE_AUTH never walks
 * the configuration tree for them. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

#define V "/raven-vpn:"

static uint32_t ip4(const char *s)
{
    struct in_addr a = {0};

    if (s)
        inet_pton(AF_INET, s, &a);
    return ntohl(a.s_addr);
}

/* The split subnets: route set remote, then the access lists (ipv6-subnet-acl,
 * the seed's "ipv6 subnet-acl", merges with route set access-list ipv6: both
 * are IPv6 split subnets). Each becomes a traffic selector of the sessions'
 * child SAs: more than fit would be dropped without a word, so they are
 * refused. */
static bool compile_subnets(const struct ike_conf *c, const struct lyd_node *pol, struct sess_authz_pol *p,
                            ike_err_fn err, void *arg)
{
    const struct lyd_node *rem = ike_find(pol, "route/set/remote"), *ch;
    const char *acls[3] = {ike_leaf(pol, "route/set/access-list/ipv4"), ike_leaf(pol, "route/set/access-list/ipv6"),
                           ike_leaf(pol, "ipv6-subnet-acl")};
    unsigned n = 0;

    LY_LIST_FOR(rem ? lyd_child(rem) : NULL, ch) {
        n++;
        if (!strcmp(ch->schema->name, "ipv4") || !strcmp(ch->schema->name, "ipv6"))
            sess_prefixes_add(&p->subnets, lyd_get_value(ch));
    }
    for (int i = 0; i < 3; i++) {
        const struct ike_acl *acl = ike_conf_acl(c, acls[i]);

        n += acl ? acl->npermits : 0;
        sess_prefixes_merge(&p->subnets, acl ? &acl->permits : NULL);
    }
    if (n <= SESS_MAX_PREFIXES)
        return true;
    if (err) {
        char msg[400], *path = lyd_path(pol, LYD_PATH_STD, NULL, 0);

        snprintf(msg, sizeof(msg),
                 "authorization policy %s pushes %u split subnets (route set remote, route set access-list, ipv6 "
                 "subnet-acl) but a child SA carries at most %d traffic selectors: merge prefixes or push fewer",
                 p->name, n, SESS_MAX_PREFIXES);
        err(arg, path, msg);
        free(path);
    }
    return false;
}

static int tristate(const char *v)
{
    return v ? !strcmp(v, "true") : -1;
}

static uint32_t num(const char *v, uint32_t unset)
{
    return v ? (uint32_t)strtoul(v, NULL, 10) : unset;
}

/* @pol: the entry in the transaction's tree (its strings are copied after). */
static bool compile_one(const struct ike_conf *c, const struct lyd_node *pol, struct sess_authz_pol *p,
                        ike_err_fn err, void *arg)
{
    const char *v, *list = ike_leaf(pol, "aaa-attribute-list");
    const struct lyd_node *ch, *l = list ? ike_find(c->tree, V "aaa/attribute-list[name='%s']", list) : NULL;

    p->name = ike_leaf(pol, "name");
    p->pool = ike_leaf(pol, "pool");
    p->pool6 = ike_leaf(pol, "ipv6-pool");
    if ((v = ike_leaf(pol, "ipv6-dns/primary")) && inet_pton(AF_INET6, v, p->dns6[p->ndns6]) == 1)
        p->ndns6++;
    if ((v = ike_leaf(pol, "ipv6-dns/secondary")) && inet_pton(AF_INET6, v, p->dns6[p->ndns6]) == 1)
        p->ndns6++;
    if ((v = ike_leaf(pol, "netmask"))) {
        p->has_netmask = true;
        p->netmask = ip4(v);
    }
    if ((v = ike_leaf(pol, "dns/primary")))
        p->dns[p->ndns++] = ip4(v);
    if ((v = ike_leaf(pol, "dns/secondary")))
        p->dns[p->ndns++] = ip4(v);
    if ((v = ike_leaf(pol, "wins/primary")))
        p->wins[p->nwins++] = ip4(v);
    if ((v = ike_leaf(pol, "wins/secondary")))
        p->wins[p->nwins++] = ip4(v);
    ike_route_compile_policy(pol, p);
    p->banner = ike_leaf(pol, "banner");
    p->def_domain = ike_leaf(pol, "def-domain");
    p->cfg_url = ike_leaf(pol, "configuration/url");
    p->cfg_version = ike_leaf(pol, "configuration/version");
    LY_LIST_FOR(lyd_child(pol), ch) {
        if (!strcmp(ch->schema->name, "split-dns") && p->nsplit_dns < SESS_MAX_ATTR_LIST)
            p->split_dns[p->nsplit_dns++] = lyd_get_value(ch);
        if (!strcmp(ch->schema->name, "backup-gateway") && p->nbackup < SESS_MAX_ATTR_LIST)
            p->backup[p->nbackup++] = lyd_get_value(ch);
    }
    p->pfs = tristate(ike_leaf(pol, "pfs"));
    p->include_local_lan = tristate(ike_leaf(pol, "include-local-lan"));
    p->smartcard = tristate(ike_leaf(pol, "smartcard-removal-disconnect"));
    p->session_lifetime = num(ike_leaf(pol, "session-lifetime"), 0);
    p->flow_limit = num(ike_leaf(pol, "ipsec-flow-limit"), UINT32_MAX);
    /* rate-limit: a direction's container present means its rate is set */
    p->rate.kbps[0] = num(ike_leaf(pol, "rate-limit/inbound/rate"), 0);
    p->rate.burst[0] = num(ike_leaf(pol, "rate-limit/inbound/burst"), 0);
    p->rate.kbps[1] = num(ike_leaf(pol, "rate-limit/outbound/rate"), 0);
    p->rate.burst[1] = num(ike_leaf(pol, "rate-limit/outbound/burst"), 0);
    p->dhcp_server = ike_leaf(pol, "dhcp/server");
    p->dhcp_giaddr = ike_leaf(pol, "dhcp/giaddr");
    p->dhcp_timeout = num(ike_leaf(pol, "dhcp/timeout"), 0);
    /* the local ip:interface-config */
    p->mtu = (uint16_t)num(l ? ike_leaf(l, "mtu") : NULL, 0);
    p->tcp_mss = (uint16_t)num(l ? ike_leaf(l, "tcp-mss") : NULL, 0);
    return ike_route_check_policy(pol, p, err, arg) && compile_subnets(c, pol, p, err, arg);
}

static void ent_unref(struct ike_authz_ent *ent)
{
    if (ent && !--ent->refs) {
        free(ent->strings);
        free(ent);
    }
}

/* Every string of @p (pointing into the transaction's tree) copied into one
 * block of the entry's own, and pointed at there: cheaper than a copy of the
 * entry's subtree, which a policy of a pool and a name is mostly not. */
static bool own_strings(struct ike_authz_ent *ent)
{
    struct sess_authz_pol *p = &ent->pol;
    const char **slot[9 + 3 * SESS_MAX_ATTR_LIST];
    size_t n = 0, len = 0;
    char *at;

    const char **one[] = {&p->name,   &p->pool,       &p->pool6,       &p->banner,     &p->def_domain,
                          &p->cfg_url, &p->cfg_version, &p->dhcp_server, &p->dhcp_giaddr};
    for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
        slot[n++] = one[i];
    for (int i = 0; i < p->nsplit_dns; i++)
        slot[n++] = &p->split_dns[i];
    for (int i = 0; i < p->nbackup; i++)
        slot[n++] = &p->backup[i];
    for (int i = 0; i < p->nroute_ifaces; i++)
        slot[n++] = &p->route_ifaces[i];
    for (size_t i = 0; i < n; i++)
        len += *slot[i] ? strlen(*slot[i]) + 1 : 0;
    if (!(ent->strings = at = malloc(len ? len : 1)))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (*slot[i]) {
            size_t l = strlen(*slot[i]) + 1;

            memcpy(at, *slot[i], l);
            *slot[i] = at;
            at += l;
        }
    }
    return true;
}

/* A new entry for the policy @at of the transaction's tree, compiled, its
 * strings its own; NULL when out of memory (*ok false then). A policy that
 * cannot be used is kept (the generation is dropped) with *ok false. */
static struct ike_authz_ent *compile_ent(const struct ike_conf *c, const struct lyd_node *at, ike_err_fn err,
                                         void *arg, bool *ok)
{
    struct ike_authz_ent *ent = calloc(1, sizeof(*ent));
    bool used = ent && compile_one(c, at, &ent->pol, err, arg);

    if (!ent || !own_strings(ent)) {
        free(ent);
        if (err)
            err(arg, V "ikev2", "out of memory");
        *ok = false;
        return NULL;
    }
    ent->refs = 1;
    *ok = used && *ok;
    return ent;
}

static int by_name(const void *a, const void *b)
{
    const struct ike_authz_ent *const *x = a, *const *y = b;

    return strcmp((*x)->pol.name, (*y)->pol.name);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of the policies c->changed touches inside their entries, sorted
 * (*names, owned strings); false when all of them are to be compiled: no
 * previous generation or none of its policies to share, a change of the list
 * itself or above it, of the access lists or of aaa attribute lists (which a
 * policy's compilation reads), a path not understood, or out of memory. */
static bool changed_names(const struct ike_conf *c, char ***names, size_t *n)
{
    static const char list[] = V "ikev2/authorization-policy";

    *names = NULL;
    *n = 0;
    if (!c->prev || !c->prev->nauthz || ike_conf_touched(c, V "access-lists") ||
        ike_conf_touched(c, V "aaa/attribute-list"))
        return false;
    return ike_changed_keys(c, list, list, names, n);
}

static int name_cmp(const void *key, const void *elem)
{
    return strcmp(key, (*(struct ike_authz_ent *const *)elem)->pol.name);
}

/* @c's entry named @name, NULL if none. */
static struct ike_authz_ent *find_ent(const struct ike_conf *c, const char *name)
{
    struct ike_authz_ent **found = bsearch(name, c->authz, c->nauthz, sizeof(*c->authz), name_cmp);

    return found ? *found : NULL;
}

/* Every entry of the previous generation, shared: nothing of them changed. */
static bool share_all(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct ike_conf *prev = c->prev;

    c->authz = malloc((prev->nauthz ? prev->nauthz : 1) * sizeof(*c->authz));
    if (!c->authz) {
        if (err)
            err(arg, V "ikev2", "out of memory");
        return false;
    }
    memcpy(c->authz, prev->authz, prev->nauthz * sizeof(*c->authz));
    c->nauthz = prev->nauthz;
    for (size_t i = 0; i < c->nauthz; i++)
        c->authz[i]->refs++;
    return true;
}

bool ike_authz_compile(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct lyd_node *top = c->src ? ike_find(c->src, V "ikev2") : NULL, *pol;
    char **names = NULL;
    size_t nnames = 0, count = 0;
    bool ok = true, some = changed_names(c, &names, &nnames), sorted = true;

    if (some && !nnames)
        return share_all(c, err, arg);
    LY_LIST_FOR(top ? lyd_child(top) : NULL, pol)
        count += !strcmp(pol->schema->name, "authorization-policy");
    c->authz = calloc(count ? count : 1, sizeof(*c->authz));
    if (!c->authz) {
        if (err)
            err(arg, V "ikev2", "out of memory");
        ok = false;
    }
    LY_LIST_FOR(c->authz && top ? lyd_child(top) : NULL, pol) {
        const char *name = strcmp(pol->schema->name, "authorization-policy") ? NULL : ike_leaf(pol, "name");
        struct ike_authz_ent *ent = NULL;

        if (!name)
            continue;
        if (some && (!nnames || !bsearch(&name, names, nnames, sizeof(*names), str_cmp)) &&
            (ent = find_ent(c->prev, name)))
            ent->refs++;
        else if ((ent = compile_ent(c, pol, err, arg, &ok)))
            c->nauthz_built++;
        if (!ent)
            break;
        c->authz[c->nauthz++] = ent;
        sorted = sorted && (c->nauthz < 2 || by_name(&c->authz[c->nauthz - 2], &ent) < 0);
    }
    if (!sorted)
        qsort(c->authz, c->nauthz, sizeof(*c->authz), by_name);
    ike_keys_free(names, nnames);
    return ok;
}

void ike_authz_conf_free(struct ike_conf *c)
{
    for (size_t i = 0; i < c->nauthz; i++)
        ent_unref(c->authz[i]);
    free(c->authz);
}

const struct sess_authz_pol *ike_conf_authz(const struct ike_conf *c, const char *name)
{
    struct ike_authz_ent *ent;

    if (!c || !name || !c->nauthz)
        return NULL;
    ent = find_ent(c, name);
    return ent ? &ent->pol : NULL;
}
