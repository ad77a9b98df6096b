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

static bool compile_one(const struct ike_conf *c, const struct lyd_node *pol, struct sess_authz_pol *p, ike_err_fn err,
                        void *arg)
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
    return compile_subnets(c, pol, p, err, arg);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct sess_authz_pol *)a)->name, ((const struct sess_authz_pol *)b)->name);
}

bool ike_authz_compile(struct ike_conf *c, ike_err_fn err, void *arg)
{
    struct ly_set *set = NULL;
    bool ok = true;

    if (!c->tree || lyd_find_xpath(c->tree, V "ikev2/authorization-policy", &set))
        return true;
    c->authz = calloc(set->count ? set->count : 1, sizeof(*c->authz));
    if (!c->authz) {
        ly_set_free(set, NULL);
        if (err)
            err(arg, V "ikev2", "out of memory");
        return false;
    }
    for (uint32_t i = 0; i < set->count; i++) {
        struct sess_authz_pol *p = &c->authz[c->nauthz];

        if (!ike_leaf(set->dnodes[i], "name"))
            continue;
        ok = compile_one(c, set->dnodes[i], p, err, arg) && ok;
        c->nauthz++;
    }
    qsort(c->authz, c->nauthz, sizeof(*c->authz), by_name);
    ly_set_free(set, NULL);
    return ok;
}

const struct sess_authz_pol *ike_conf_authz(const struct ike_conf *c, const char *name)
{
    struct sess_authz_pol key = {.name = name};

    if (!c || !name || !c->nauthz)
        return NULL;
    return bsearch(&key, c->authz, c->nauthz, sizeof(*c->authz), by_name);
}
