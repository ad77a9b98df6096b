/* A session's authorization (SPEC S5, S7): the merge of its sources into the
 * attributes it is given. The IKE engine chooses the sources (the profile's
 * user and group authorization for the authentication method: method lists,
 * names and name manglers, the policy named "default") and asks RADIUS; this
 * module merges what they give in S5 order: the explicit user beats the cached
 * user (RADIUS authorization with the EAP answer), the merged user beats the
 * group unless the group's authorization says override. Within one side a
 * source fills only what the sources before it left unset.
 *
 * Authorization policies are compiled from the configuration by the IKE
 * engine (struct sess_authz_pol); their strings belong to its configuration,
 * as those of the merged attributes, which point into the policies and RADIUS
 * answers (they must outlive the attributes' use). */
#ifndef RAVEN_SESS_AUTHZ_H
#define RAVEN_SESS_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/aaa/aaa.h"

#define SESS_MAX_PREFIXES 32  /* split subnets: as many as a child SA's traffic selectors */
#define SESS_MAX_ATTR_LIST 10 /* split DNS names, backup gateways, route interfaces (S7) */

/* IP prefixes (split subnets, an access list's permits): the address in
 * network order with the bits past the prefix length cleared, so that a prefix
 * is one value however it was written. */
struct sess_prefix {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t plen;
    uint8_t addr[16]; /* 4 bytes used for IPv4 */
};
struct sess_prefixes {
    uint8_t n;
    struct sess_prefix p[SESS_MAX_PREFIXES];
};

/* A prefix "ADDR/LEN" (IPv6 when ADDR has a ':') joins @ps once, while there
 * is room; an IPv4 address that does not parse is 0.0.0.0, an IPv6 one is
 * nothing; a length past the family's is its full length. */
void sess_prefixes_add(struct sess_prefixes *ps, const char *prefix);
/* The prefixes of @from (NULL: none) not in @to yet join it in their order,
 * while there is room. */
void sess_prefixes_merge(struct sess_prefixes *to, const struct sess_prefixes *from);

/* A session's bandwidth limits (authorization policy rate-limit, RADIUS
 * raven:rate-limit-in/-out): [0] from the client (inbound), [1] to it. Each
 * direction is set or unset as a whole, rate and burst together: kbps 0 unset,
 * AAA_RATE_NONE no limit; burst bytes, 0 the dataplane's default. */
struct sess_rate {
    uint32_t kbps[2], burst[2];
};

/* An authorization policy (ikev2/authorization-policy) as compiled at prepare:
 * everything the merge takes from it. Unset: NULL or 0, -1 for the booleans,
 * UINT32_MAX for flow_limit. Its strings are copied when it is compiled
 * (daemon/ike/ike_authz_conf.c own_strings): a new string field goes there too. */
struct sess_authz_pol {
    const char *name;
    const char *pool, *pool6, *banner, *def_domain, *cfg_url, *cfg_version, *dhcp_server, *dhcp_giaddr;
    uint8_t dns6[2][16];
    int ndns6;
    bool has_netmask;
    uint32_t netmask;
    uint32_t dns[2], wins[2];
    int ndns, nwins;
    /* route set remote, then the permits of route set access-list ipv4, ipv6
     * and ipv6-subnet-acl: each prefix once */
    struct sess_prefixes subnets;
    const char *split_dns[SESS_MAX_ATTR_LIST], *backup[SESS_MAX_ATTR_LIST];
    int nsplit_dns, nbackup;
    int pfs, include_local_lan, smartcard;
    uint32_t session_lifetime, flow_limit, dhcp_timeout;
    uint16_t mtu, tcp_mss; /* from its aaa-attribute-list */
    struct sess_rate rate; /* rate-limit */
    bool route_accept, route_connected;
    uint32_t route_tag;
    uint8_t route_distance;
    const char *route_ifaces[SESS_MAX_ATTR_LIST];
    int nroute_ifaces;
};

/* The merged attributes of a session. */
struct sess_attrs {
    const char *pool, *pool6, *banner, *def_domain, *cfg_url, *cfg_version;
    uint8_t dns6[2][16];
    int ndns6;
    bool has_netmask;
    uint32_t netmask;
    uint32_t dns[2], wins[2];
    int ndns, nwins;
    struct sess_prefixes subnets; /* split subnets, each once */
    bool subnets_set;
    const char *split_dns[SESS_MAX_ATTR_LIST], *backup[SESS_MAX_ATTR_LIST];
    int nsplit_dns, nbackup;
    int pfs, include_local_lan, smartcard; /* -1 unset */
    uint32_t session_lifetime;
    uint32_t flow_limit; /* UINT32_MAX unset */
    uint16_t tcp_mss, mtu; /* aaa-attribute-list, ip:interface-config (0 unset) */
    struct sess_rate rate; /* rate-limit, raven:rate-limit-in/-out */
    const char *policy_user, *policy_group;
    bool has_addr4, has_addr6; /* from RADIUS: Framed-IP-Address, ipsec:addrv6 */
    const char *dhcp_server, *dhcp_giaddr; /* DHCP as the address source (S4) */
    uint32_t dhcp_timeout;
    uint32_t addr4;
    uint8_t addr6[16];
    unsigned plen6;
    char sources[96]; /* the sources that gave attributes, in merge order */
    /* routes: route accept (-1 unset) with its tag and distance, route
     * redistribute connected (-1 unset), route set interface */
    int route_accept, route_connected;
    uint32_t route_tag;
    uint8_t route_distance;
    const char *route_ifaces[SESS_MAX_ATTR_LIST];
    int nroute_ifaces;
    bool route_iface_inside; /* RADIUS route-set=interface: the inside interface */
};

/* The permitted prefixes of the access list named @name by a RADIUS answer
 * (route-set=access-list), NULL when there is none. */
typedef const struct sess_prefixes *(*sess_acl_fn)(const void *arg, const char *name);

/* What a session's authorization merges (NULL: none given). */
struct sess_authz_in {
    const struct sess_authz_pol *user_pol, *group_pol; /* the local policies of the user and group sources */
    const struct aaa_attrs *user, *group; /* RADIUS authorization answers of the user and group sources */
    const struct aaa_attrs *cached;       /* the user's cached answer (from authentication) */
    bool group_first;                     /* the group's authorization says override */
    /* the policy named "default" when the profile asks no authorization for
     * the method: the group's policy when no other source is given */
    const struct sess_authz_pol *default_pol;
    sess_acl_fn acl; /* resolves RADIUS-named access lists (NULL: none known) */
    const void *acl_arg;
};

/* @out made of what @in's sources give, in S5 order: the group's (its policy,
 * then its RADIUS answer) first when in->group_first, else the user's (its
 * policy, its RADIUS answer, then the cached answer) first. out->sources names
 * those that were given ("policy-user", "radius-user", "radius-cached",
 * "policy-group", "radius-group") in merge order. */
void sess_authorize(const struct sess_authz_in *in, struct sess_attrs *out);

#endif
