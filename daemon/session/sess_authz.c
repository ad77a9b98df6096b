/* A session's authorization (see sess_authz.h): the S5 merge of local
 * policies and RADIUS answers into the session's attributes, and the prefix
 * lists its split subnets are made of. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/session/sess_authz.h"
#include "daemon/base/poison.h"

/* ---- prefixes ---- */

/* @one joins @ps unless it is there already or @ps is full. */
static void add_one(struct sess_prefixes *ps, const struct sess_prefix *one)
{
    if (ps->n >= SESS_MAX_PREFIXES)
        return;
    for (uint8_t i = 0; i < ps->n; i++) {
        if (!memcmp(&ps->p[i], one, sizeof(*one)))
            return;
    }
    ps->p[ps->n++] = *one;
}

void sess_prefixes_add(struct sess_prefixes *ps, const char *prefix)
{
    char a[INET6_ADDRSTRLEN];
    const char *slash = strchr(prefix, '/');
    struct sess_prefix one;
    unsigned len, full;

    if (!slash || (size_t)(slash - prefix) >= sizeof(a) || ps->n >= SESS_MAX_PREFIXES)
        return;
    memcpy(a, prefix, (size_t)(slash - prefix));
    a[slash - prefix] = 0;
    memset(&one, 0, sizeof(one));
    if (!strchr(a, ':')) {
        one.family = AF_INET;
        if (inet_pton(AF_INET, a, one.addr) != 1)
            memset(one.addr, 0, 4);
    } else if (inet_pton(AF_INET6, a, one.addr) == 1) {
        one.family = AF_INET6;
    } else {
        return;
    }
    full = one.family == AF_INET ? 32 : 128;
    len = (unsigned)atoi(slash + 1);
    one.plen = (uint8_t)(len > full ? full : len);
    for (unsigned i = 0; i < full / 8; i++) {
        unsigned bits = one.plen > 8 * i ? (one.plen - 8 * i >= 8 ? 8 : one.plen - 8 * i) : 0;

        one.addr[i] &= (uint8_t)(bits ? 0xff << (8 - bits) : 0);
    }
    add_one(ps, &one);
}

void sess_prefixes_merge(struct sess_prefixes *to, const struct sess_prefixes *from)
{
    for (uint8_t i = 0; from && i < from->n; i++)
        add_one(to, &from->p[i]);
}

/* ---- the merge (S5) ---- */

_Static_assert(AAA_MAX_LIST <= SESS_MAX_ATTR_LIST, "a RADIUS answer's lists fit the attributes'");

/* @n strings of @from fill @to when it has none yet. */
static void fill_list(const char **to, int *nto, const char *const *from, int n)
{
    if (*nto)
        return;
    for (int i = 0; i < n; i++)
        to[(*nto)++] = from[i];
}

/* The route attributes policy @p sets and @a does not have yet. */
/* A direction's rate limit fills only an unset one, rate and burst together. */
static void rate_fill(struct sess_rate *to, const uint32_t kbps[2], const uint32_t burst[2])
{
    for (int d = 0; d < 2; d++) {
        if (!to->kbps[d] && kbps[d]) {
            to->kbps[d] = kbps[d];
            to->burst[d] = burst[d];
        }
    }
}

static void routes_from_policy(const struct sess_authz_pol *p, struct sess_attrs *a)
{
    if (a->route_accept < 0 && p->route_accept) {
        a->route_accept = 1;
        a->route_tag = p->route_tag;
        a->route_distance = p->route_distance;
    }
    if (a->route_connected < 0 && p->route_connected)
        a->route_connected = 1;
    fill_list(a->route_ifaces, &a->nroute_ifaces, p->route_ifaces, p->nroute_ifaces);
}

/* The route attributes RADIUS @r gave and @a does not have yet. */
static void routes_from_aaa(const struct aaa_attrs *r, struct sess_attrs *a)
{
    if (a->route_accept < 0 && r->route_accept) {
        a->route_accept = 1;
        a->route_tag = r->route_tag;
        a->route_distance = r->route_distance;
    }
    if (!a->nroute_ifaces && r->route_interface)
        a->route_iface_inside = true;
}

/* Fills what policy @p sets and @a does not have yet (the first source wins). */
static void attrs_from_policy(const struct sess_authz_pol *p, struct sess_attrs *a)
{
    if (!a->pool)
        a->pool = p->pool;
    if (!a->pool6)
        a->pool6 = p->pool6;
    if (!a->ndns6 && p->ndns6) {
        memcpy(a->dns6, p->dns6, (size_t)p->ndns6 * sizeof(p->dns6[0]));
        a->ndns6 = p->ndns6;
    }
    if (!a->has_netmask && p->has_netmask) {
        a->has_netmask = true;
        a->netmask = p->netmask;
    }
    if (!a->ndns && p->ndns) {
        memcpy(a->dns, p->dns, (size_t)p->ndns * sizeof(p->dns[0]));
        a->ndns = p->ndns;
    }
    if (!a->nwins && p->nwins) {
        memcpy(a->wins, p->wins, (size_t)p->nwins * sizeof(p->wins[0]));
        a->nwins = p->nwins;
    }
    if (!a->subnets_set) {
        /* unset means no source gave any yet: @a holds none */
        a->subnets = p->subnets;
        a->subnets_set = a->subnets.n > 0;
    }
    routes_from_policy(p, a);
    if (!a->banner)
        a->banner = p->banner;
    if (!a->def_domain)
        a->def_domain = p->def_domain;
    if (!a->cfg_url)
        a->cfg_url = p->cfg_url;
    if (!a->cfg_version)
        a->cfg_version = p->cfg_version;
    fill_list(a->split_dns, &a->nsplit_dns, p->split_dns, p->nsplit_dns);
    fill_list(a->backup, &a->nbackup, p->backup, p->nbackup);
    if (a->pfs < 0)
        a->pfs = p->pfs;
    if (a->include_local_lan < 0)
        a->include_local_lan = p->include_local_lan;
    if (a->smartcard < 0)
        a->smartcard = p->smartcard;
    if (!a->session_lifetime)
        a->session_lifetime = p->session_lifetime;
    if (a->flow_limit == UINT32_MAX)
        a->flow_limit = p->flow_limit;
    rate_fill(&a->rate, p->rate.kbps, p->rate.burst);
    if (!a->dhcp_server)
        a->dhcp_server = p->dhcp_server;
    if (!a->dhcp_giaddr)
        a->dhcp_giaddr = p->dhcp_giaddr;
    if (!a->dhcp_timeout)
        a->dhcp_timeout = p->dhcp_timeout;
    if (!a->mtu)
        a->mtu = p->mtu;
    if (!a->tcp_mss)
        a->tcp_mss = p->tcp_mss;
}

/* The split subnets of RADIUS @r when no source gave any yet: its route-set
 * prefixes, then the permits of the access lists it names (IPv4, IPv6). */
static void subnets_from_aaa(const struct sess_authz_in *in, const struct aaa_attrs *r, struct sess_attrs *a)
{
    const char *acls[2] = {r->acl4, r->acl6};

    if (a->subnets_set)
        return;
    for (int i = 0; i < r->nroutes; i++)
        sess_prefixes_add(&a->subnets, r->routes[i]);
    for (int i = 0; i < 2; i++) {
        if (acls[i] && in->acl)
            sess_prefixes_merge(&a->subnets, in->acl(in->acl_arg, acls[i]));
    }
    a->subnets_set = a->subnets.n > 0;
}

/* Fills what RADIUS @r gave and @a does not have yet (the first source wins). */
static void attrs_from_aaa(const struct sess_authz_in *in, const struct aaa_attrs *r, struct sess_attrs *a)
{
    if (!a->has_addr4 && r->has_addr) {
        a->has_addr4 = true;
        a->addr4 = r->addr;
    }
    if (!a->has_addr6 && r->has_addr6) {
        a->has_addr6 = true;
        memcpy(a->addr6, r->addr6, 16);
        a->plen6 = r->prefix_len6;
    }
    if (!a->pool)
        a->pool = r->pool;
    if (!a->pool6)
        a->pool6 = r->pool6;
    if (!a->has_netmask && r->has_netmask) {
        a->has_netmask = true;
        a->netmask = r->netmask;
    }
    if (!a->ndns && r->ndns) {
        memcpy(a->dns, r->dns, sizeof(a->dns));
        a->ndns = r->ndns;
    }
    if (!a->nwins && r->nwins) {
        memcpy(a->wins, r->wins, sizeof(a->wins));
        a->nwins = r->nwins;
    }
    if (!a->ndns6 && r->ndns6) {
        memcpy(a->dns6, r->dns6, sizeof(a->dns6));
        a->ndns6 = r->ndns6;
    }
    subnets_from_aaa(in, r, a);
    routes_from_aaa(r, a);
    if (!a->banner)
        a->banner = r->banner;
    if (!a->def_domain)
        a->def_domain = r->def_domain;
    if (!a->cfg_url)
        a->cfg_url = r->cfg_url;
    if (!a->cfg_version)
        a->cfg_version = r->cfg_version;
    fill_list(a->split_dns, &a->nsplit_dns, (const char *const *)r->split_dns, r->nsplit_dns);
    fill_list(a->backup, &a->nbackup, (const char *const *)r->backup, r->nbackup);
    if (a->pfs < 0)
        a->pfs = r->pfs;
    if (a->include_local_lan < 0)
        a->include_local_lan = r->include_local_lan;
    if (a->smartcard < 0)
        a->smartcard = r->smartcard;
    if (!a->session_lifetime)
        a->session_lifetime = r->session_timeout;
    if (a->flow_limit == UINT32_MAX)
        a->flow_limit = r->flow_limit;
    rate_fill(&a->rate, (const uint32_t[2]){r->rate_in, r->rate_out}, (const uint32_t[2]){r->burst_in, r->burst_out});
    if (!a->dhcp_server)
        a->dhcp_server = r->dhcp_server;
    if (!a->dhcp_giaddr)
        a->dhcp_giaddr = r->dhcp_giaddr;
    if (!a->dhcp_timeout)
        a->dhcp_timeout = r->dhcp_timeout;
    if (!a->mtu)
        a->mtu = r->mtu;
    if (!a->tcp_mss)
        a->tcp_mss = r->tcp_mss;
}

static void add_source(struct sess_attrs *a, const char *name)
{
    size_t n = strlen(a->sources);

    snprintf(a->sources + n, sizeof(a->sources) - n, "%s%s", n ? " " : "", name);
}

void sess_authorize(const struct sess_authz_in *in, struct sess_attrs *a)
{
    const struct sess_authz_pol *up = in->user_pol, *gp = in->group_pol;

    memset(a, 0, sizeof(*a));
    a->pfs = a->include_local_lan = a->smartcard = -1;
    a->flow_limit = UINT32_MAX;
    a->route_accept = a->route_connected = -1;
    if (!up && !gp && !in->user && !in->group && !in->cached)
        gp = in->default_pol;
    /* S5: explicit user beats cached; the merged user beats the group, unless the
     * group authorization says override */
    for (int pass = 0; pass < 2; pass++) {
        bool group_pass = (pass == 0) == in->group_first;

        if (group_pass) {
            if (gp) {
                attrs_from_policy(gp, a);
                add_source(a, "policy-group");
            }
            if (in->group) {
                attrs_from_aaa(in, in->group, a);
                add_source(a, "radius-group");
            }
        } else {
            if (up) {
                attrs_from_policy(up, a);
                add_source(a, "policy-user");
            }
            if (in->user) {
                attrs_from_aaa(in, in->user, a);
                add_source(a, "radius-user");
            }
            if (in->cached) {
                attrs_from_aaa(in, in->cached, a);
                add_source(a, "radius-cached");
            }
        }
    }
}
