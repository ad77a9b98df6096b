/* Configuration payloads as the engine fills them (see ike_cp.h): the
 * attributes of a CFG_REPLY or CFG_SET from a session's merged authorization
 * (S4), and the CFG_SET pushed after IKE_AUTH. The addresses in a CFG_REPLY
 * come from ike_lease.c. */
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "daemon/ike/ike_cp.h"
#include "daemon/base/poison.h"

void ike_cp_add(struct ike_cp_out *o, uint16_t type, const void *v, size_t len)
{
    if (o->cp.nattr >= IKE_MAX_CP_ATTRS || len > 0xffff)
        return;
    o->cp.attr[o->cp.nattr++] = (struct ike_cp_attr){.type = type, .value = v, .len = (uint16_t)len};
}

void ike_cp_add4(struct ike_cp_out *o, uint16_t type, uint32_t a)
{
    uint8_t *p = o->store[o->cp.nattr];

    p[0] = (uint8_t)(a >> 24);
    p[1] = (uint8_t)(a >> 16);
    p[2] = (uint8_t)(a >> 8);
    p[3] = (uint8_t)a;
    ike_cp_add(o, type, p, 4);
}

void ike_cp_add6(struct ike_cp_out *o, uint16_t type, const uint8_t a[16], int plen)
{
    uint8_t *p = o->store[o->cp.nattr];

    memcpy(p, a, 16);
    if (plen >= 0)
        p[16] = (uint8_t)plen;
    ike_cp_add(o, type, p, plen >= 0 ? 17 : 16);
}

/* A split subnet: an IPv6 prefix, or an IPv4 network with its netmask. */
static void add_subnet(struct ike_cp_out *o, const struct sess_prefix *sp)
{
    uint8_t *p = o->store[o->cp.nattr];
    uint32_t mask;

    if (sp->family == AF_INET6) {
        ike_cp_add6(o, CFG_INTERNAL_IP6_SUBNET, sp->addr, sp->plen);
        return;
    }
    mask = sp->plen ? ~0u << (32 - sp->plen) : 0;
    memcpy(p, sp->addr, 4);
    p[4] = (uint8_t)(mask >> 24);
    p[5] = (uint8_t)(mask >> 16);
    p[6] = (uint8_t)(mask >> 8);
    p[7] = (uint8_t)mask;
    ike_cp_add(o, CFG_INTERNAL_IP4_SUBNET, p, 8);
}

/* A domain name without the root's dot, which inet:domain-name allows and
 * clients do not expect. */
static void add_domain(struct ike_cp_out *o, uint16_t type, const char *d)
{
    size_t n = strlen(d);

    if (n > 1 && d[n - 1] == '.')
        n--;
    ike_cp_add(o, type, d, n);
}

/* Split DNS (RFC 8598): one INTERNAL_DNS_DOMAIN per domain the tunnel's DNS
 * servers resolve, in presentation format without a trailing dot or NUL; only
 * when the policy has split-dns domains, since a client that receives any
 * sends only those domains' queries through the tunnel, and a policy with a
 * default domain alone means all of them. The default domain then goes first:
 * names in it are internal too, and a client without a default-domain
 * attribute may take the first domain as its search domain. A Unity or
 * FlexVPN client has MODECFG_DEF_DOMAIN /
 * SPLITDNS_NAME and gets these only when its request names attribute 25.
 * The RFC lets the request carry domains as suggestions; the policy
 * decides, so their values are not read, nor any INTERNAL_DNSSEC_TA (26) the
 * client sends: we have no trust anchors to give and send none. Domains without a DNS server to
 * resolve them would break the RFC's rule that a reply naming domains names
 * servers too, so they are left out then. */
static void add_dns_domains(const struct ike_sess *s, const struct sess_attrs *at, const struct ike_cp_pld *req,
                            struct ike_cp_out *o)
{
    if (!at->nsplit_dns || (!at->ndns && !at->ndns6))
        return;
    if ((s->vid_unity || s->vid_flexvpn) && !ike_cp_requests(req, CFG_INTERNAL_DNS_DOMAIN))
        return;
    if (at->def_domain)
        add_domain(o, CFG_INTERNAL_DNS_DOMAIN, at->def_domain);
    for (int i = 0; i < at->nsplit_dns; i++) {
        if (!at->def_domain || strcmp(at->def_domain, at->split_dns[i]))
            add_domain(o, CFG_INTERNAL_DNS_DOMAIN, at->split_dns[i]);
    }
}

bool ike_cp_requests(const struct ike_cp_pld *cp, uint16_t type)
{
    for (size_t i = 0; i < cp->nattr; i++) {
        if (cp->attr[i].type == type)
            return true;
    }
    return false;
}

void ike_cp_attributes(const struct ike_sess *s, const struct sess_attrs *at, const struct ike_cp_pld *req,
                       struct ike_cp_out *cpo)
{
    for (int i = 0; i < at->ndns; i++)
        ike_cp_add4(cpo, CFG_INTERNAL_IP4_DNS, at->dns[i]);
    for (int i = 0; i < at->ndns6; i++)
        ike_cp_add6(cpo, CFG_INTERNAL_IP6_DNS, at->dns6[i], -1);
    for (int i = 0; i < at->nwins; i++)
        ike_cp_add4(cpo, CFG_INTERNAL_IP4_NBNS, at->wins[i]);
    for (uint8_t i = 0; i < at->subnets.n; i++)
        add_subnet(cpo, &at->subnets.p[i]);
    add_dns_domains(s, at, req, cpo);
    if (ike_cp_requests(req, CFG_APPLICATION_VERSION))
        ike_cp_add(cpo, CFG_APPLICATION_VERSION, "Raven " RAVEN_IKE_VERSION, strlen("Raven " RAVEN_IKE_VERSION));
    /* the vendor's domain attributes: FlexVPN clients take them as Unity
     * clients do */
    if (s->vid_unity || s->vid_flexvpn) {
        if (at->def_domain)
            add_domain(cpo, CFG_UNITY_DEF_DOMAIN, at->def_domain);
        for (int i = 0; i < at->nsplit_dns; i++)
            add_domain(cpo, CFG_UNITY_SPLITDNS_NAME, at->split_dns[i]);
    }
    if (s->vid_unity) {
        if (at->banner)
            ike_cp_add(cpo, CFG_UNITY_BANNER, at->banner, strlen(at->banner));
        for (int i = 0; i < at->nbackup; i++)
            ike_cp_add(cpo, CFG_UNITY_BACKUP_SERVERS, at->backup[i], strlen(at->backup[i]));
        if (at->pfs >= 0) {
            static const uint8_t one[2] = {0, 1}, zero[2] = {0, 0};
            ike_cp_add(cpo, CFG_UNITY_PFS, at->pfs ? one : zero, 2);
        }
        if (at->include_local_lan >= 0) {
            static const uint8_t one[2] = {0, 1}, zero[2] = {0, 0};
            ike_cp_add(cpo, CFG_UNITY_LOCAL_LAN, at->include_local_lan ? one : zero, 2);
        }
        if (at->smartcard >= 0) {
            static const uint8_t one[2] = {0, 1}, zero[2] = {0, 0};
            ike_cp_add(cpo, CFG_UNITY_SMARTCARD_REMOVAL_DISCONNECT, at->smartcard ? one : zero, 2);
        }
    }
    if (s->vid_flexvpn) {
        if (at->cfg_url)
            ike_cp_add(cpo, CFG_FLEXVPN_CONFIG_URL, at->cfg_url, strlen(at->cfg_url));
        if (at->cfg_version)
            ike_cp_add(cpo, CFG_FLEXVPN_CONFIG_VERSION, at->cfg_version, strlen(at->cfg_version));
    }
}

void ike_cp_push(struct ike_sess *s, const struct sess_attrs *at)
{
    struct ike_cp_out *push = calloc(1, sizeof(*push));
    struct ike_cp_pld none = {0};
    struct ike_builder pb;
    struct ike_hdr ph = {0};

    if (!push)
        return;
    push->cp.cfg_type = 3;
    ike_cp_attributes(s, at, &none, push);
    ike_build_begin(&pb, &ph);
    ike_cp_build(&pb, &push->cp);
    if (push->cp.nattr && ike_build_finish(&pb))
        ike_sess_request(s, REQ_CFG_SET, IKE_EXCH_INFORMATIONAL, IKE_PLD_CP, pb.buf.data + IKE_HDR_LEN,
                         pb.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&pb.buf);
    free(push);
}
