/* Authorization attributes of a RADIUS Access-Accept (SPEC S9): the IETF ones and
 * Cisco's vendor attribute "cisco-avpair" (vendor 9, type 1) whose value is
 * "protocol:attribute=value" (or "*" for optional), and Raven's own
 * "raven:attribute=value" pairs in the same attribute where the vendor has no
 * name for a setting (raven:rate-limit-in/-out). What is understood is copied
 * out of the packet, so the result outlives it. */
#ifndef RAVEN_AAA_ATTRS_H
#define RAVEN_AAA_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/aaa/radius.h"

#define AAA_RATE_NONE UINT32_MAX
#define AAA_MAX_LIST 10 /* split-dns, backup gateways, routes (S7: at most 10) */

struct aaa_attrs {
    size_t n; /* attributes understood; 0: the server returned nothing usable */
    size_t n_again; /* of those, Session-Timeout, Framed-IP-Address, ipsec:ipsec-flow-limit and
                     * raven:rate-limit-in/-out that came again (the last one is taken) */
    char *user_name;
    char *class_;    /* Class, echoed in accounting (RFC 2865 5.25) */
    bool has_addr, has_netmask, has_addr6;
    uint32_t addr, netmask;       /* Framed-IP-Address, Framed-IP-Netmask (host order) */
    uint8_t addr6[16];            /* ipsec:addrv6 */
    unsigned prefix_len6;         /* ipsec:prefix-len (default 128) */
    char *pool, *pool6;           /* ipsec:addr-pool, ipsec:ipv6-addr-pool */
    uint32_t dns[2], wins[2];     /* ipsec:dns-servers, ipsec:wins-servers */
    int ndns, nwins;
    uint8_t dns6[2][16];          /* ipsec:ipv6-dns-servers-addr */
    int ndns6;
    char *routes[AAA_MAX_LIST];   /* ipsec:route-set=prefix A/N (either family) */
    int nroutes;
    char *acl4, *acl6;            /* ipsec:route-set=access-list [ipv6] NAME */
    bool route_interface;         /* ipsec:route-set=interface */
    bool route_accept;            /* ipsec:route-accept=any [tag T] [distance D] */
    uint32_t route_tag;           /* its tag (0 unset) */
    uint8_t route_distance;       /* its distance (0 unset) */
    uint16_t mtu, tcp_mss;        /* ip:interface-config="ip mtu N", "ip tcp adjust-mss N"; 0 unset */
    char *banner, *def_domain, *cfg_url, *cfg_version;
    char *split_dns[AAA_MAX_LIST], *backup[AAA_MAX_LIST];
    int nsplit_dns, nbackup;
    int pfs, include_local_lan, smartcard; /* -1 unset */
    uint32_t flow_limit;                   /* ipsec:ipsec-flow-limit; UINT32_MAX unset */
    /* raven:rate-limit-in / -out = "KBPS [burst BYTES]": the session's bandwidth
     * from the client / to it in kbit/s (0 unset; AAA_RATE_NONE: the value 0,
     * no limit) and its burst in bytes (0: the default) */
    uint32_t rate_in, rate_out, burst_in, burst_out;
    uint32_t session_timeout;              /* Session-Timeout; 0 unset */
    char *dhcp_server, *dhcp_giaddr;       /* ipsec:group-dhcp-server, ipsec:dhcp-giaddr */
    uint32_t dhcp_timeout;                 /* ipsec:dhcp-timeout; 0 unset */
    uint32_t tunnel_type, tunnel_medium;   /* Tunnel-Type, Tunnel-Medium-Type (0 unset) */
    char *tunnel_password;                 /* Tunnel-Password, decrypted */
    char *psk_local, *psk_remote;          /* ipsec:ikev2-password-local/-remote */
    uint8_t *ppk;                          /* ipsec:ppk-key (RFC 8784 PPK), octets; wiped at free */
    size_t ppk_len;
    bool ppk_bad;                          /* an ipsec:ppk-key came that is neither hex nor text */
    char *unknown;                         /* the first attribute not understood, for the log */
};

void aaa_attrs_init(struct aaa_attrs *a);
void aaa_attrs_free(struct aaa_attrs *a);
/* Reads the attributes of @v (an Access-Accept). @secret and @req_auth decrypt
 * Tunnel-Password. Returns 0, or -ENOMEM. */
int aaa_attrs_parse(const struct rad_view *v, const char *secret, const uint8_t req_auth[16], struct aaa_attrs *a);
/* One "protocol:attribute=value" pair (exposed for tests and CoA). 1 understood,
 * 0 not understood, -ENOMEM. */
int aaa_attrs_avpair(struct aaa_attrs *a, const char *pair, size_t len);

#endif
