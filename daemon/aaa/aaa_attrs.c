/* Authorization attributes of an Access-Accept (SPEC S9). */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/aaa/aaa_attrs.h"
#include "daemon/base/keytext.h"
#include "daemon/base/poison.h"

#define CISCO_AVPAIR 1

void aaa_attrs_init(struct aaa_attrs *a)
{
    memset(a, 0, sizeof(*a));
    a->pfs = a->include_local_lan = a->smartcard = -1;
    a->flow_limit = UINT32_MAX;
    a->prefix_len6 = 128;
}

static void free_list(char **l, int n)
{
    for (int i = 0; i < n; i++)
        free(l[i]);
}

void aaa_attrs_free(struct aaa_attrs *a)
{
    free(a->user_name);
    free(a->class_);
    free(a->pool);
    free(a->pool6);
    free_list(a->routes, a->nroutes);
    free(a->acl4);
    free(a->acl6);
    free(a->banner);
    free(a->def_domain);
    free(a->cfg_url);
    free(a->cfg_version);
    free_list(a->split_dns, a->nsplit_dns);
    free_list(a->backup, a->nbackup);
    free(a->dhcp_server);
    free(a->dhcp_giaddr);
    if (a->tunnel_password)
        OPENSSL_cleanse(a->tunnel_password, strlen(a->tunnel_password));
    free(a->tunnel_password);
    if (a->psk_local)
        OPENSSL_cleanse(a->psk_local, strlen(a->psk_local));
    free(a->psk_local);
    if (a->psk_remote)
        OPENSSL_cleanse(a->psk_remote, strlen(a->psk_remote));
    free(a->psk_remote);
    if (a->ppk)
        OPENSSL_cleanse(a->ppk, a->ppk_len);
    free(a->ppk);
    free(a->unknown);
    aaa_attrs_init(a);
}

/* Replaces *@slot with a copy of @v (the last attribute of a kind wins). */
static int set_str(char **slot, const char *v, size_t len)
{
    char *s = strndup(v, len);

    if (!s)
        return -ENOMEM;
    free(*slot);
    *slot = s;
    return 1;
}

static int add_str(char **list, int *n, const char *v, size_t len)
{
    if (*n >= AAA_MAX_LIST)
        return 1; /* S7: at most ten; the rest are ignored */
    if (!(list[*n] = strndup(v, len)))
        return -ENOMEM;
    (*n)++;
    return 1;
}

/* A domain name as the client gets it (INTERNAL_DNS_DOMAIN, Unity's
 * attributes): letters, digits, '-', '_' in labels of 1..63, at most 253 in
 * all, one trailing dot allowed. Anything else would reach the client's
 * resolver configuration, so it is not understood. */
static bool domain_name(const char *v)
{
    size_t n = strlen(v), label = 0;

    if (!n || n > 254 || (n == 254 && v[253] != '.') || *v == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];

        if (c == '.') {
            if (!label)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static int boolean(const char *v)
{
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "enable"))
        return 1;
    if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "disable"))
        return 0;
    return -1;
}

/* Up to two addresses of @family separated by spaces or commas. */
static int addr_list(const char *v, int family, void *out, int *n)
{
    char buf[256], *save = NULL, *t;
    int got = 0;

    snprintf(buf, sizeof(buf), "%s", v);
    for (t = strtok_r(buf, " ,", &save); t && got < 2; t = strtok_r(NULL, " ,", &save)) {
        uint8_t raw[16];

        if (inet_pton(family, t, raw) != 1)
            return 0;
        if (family == AF_INET) {
            uint32_t a;

            memcpy(&a, raw, 4);
            ((uint32_t *)out)[got++] = ntohl(a);
        } else {
            memcpy(((uint8_t(*)[16])out)[got++], raw, 16);
        }
    }
    if (!got)
        return 0;
    *n = got;
    return 1;
}

/* "A/N" or "A/MASK" (IPv4), "A/N" (IPv6): normalised to "A/N". */
static int route_prefix(struct aaa_attrs *a, const char *v)
{
    char addr[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN + 5];
    const char *slash = strchr(v, '/');
    uint8_t raw[16];
    long len;
    char *end;

    if (!slash || (size_t)(slash - v) >= sizeof(addr))
        return 0;
    memcpy(addr, v, (size_t)(slash - v));
    addr[slash - v] = 0;
    if (inet_pton(AF_INET, addr, raw) == 1) {
        struct in_addr m;

        if (inet_pton(AF_INET, slash + 1, &m) == 1) {
            uint32_t mask = ntohl(m.s_addr);

            len = 0;
            while (len < 32 && (mask & (0x80000000u >> len)))
                len++;
            if (len < 32 && (mask << len))
                return 0; /* not contiguous */
        } else {
            len = strtol(slash + 1, &end, 10);
            if (*end || end == slash + 1 || len < 0 || len > 32)
                return 0;
        }
    } else if (inet_pton(AF_INET6, addr, raw) == 1) {
        len = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || len < 0 || len > 128)
            return 0;
    } else {
        return 0;
    }
    snprintf(out, sizeof(out), "%s/%ld", addr, len);
    return add_str(a->routes, &a->nroutes, out, strlen(out));
}

static int number(const char *v, unsigned long max, uint32_t *out)
{
    char *end;
    unsigned long n;

    if (!*v || *v == '-')
        return 0;
    n = strtoul(v, &end, 10);
    if (*end || n > max)
        return 0;
    *out = (uint32_t)n;
    return 1;
}

/* @rc (1: understood) of an attribute a CoA applies to a live session, that
 * was already set (@was_set) when it came: counted in n_again, so that a
 * CoA that names it twice takes the last rather than count it as another
 * attribute (sess_dae). */
static int again(struct aaa_attrs *a, bool was_set, int rc)
{
    if (rc == 1 && was_set)
        a->n_again++;
    return rc;
}

#define RATE_MAX 100000000u   /* kbit/s: 100 Gbit/s (YANG rate-limit rate) */
#define BURST_MIN 3000u       /* bytes (YANG rate-limit burst): the dataplane's least */
#define BURST_MAX 1000000000u /* bytes (YANG rate-limit burst) */

/* raven:rate-limit-in/-out "KBPS [burst BYTES]": 1 with both set, 0 (nothing
 * changed) for anything else, so that a malformed value is logged as not
 * understood and ignored. A burst is within the model's range: one below
 * it would be raised by the dataplane, and the state would show a burst
 * that is not the one enforced. */
static int rate_limit(char *v, uint32_t *kbps, uint32_t *burst)
{
    uint32_t k, b = 0;
    char *tok, *save = NULL;

    tok = strtok_r(v, " ", &save);
    if (!tok || !number(tok, RATE_MAX, &k))
        return 0;
    tok = strtok_r(NULL, " ", &save);
    if (tok) {
        if (strcmp(tok, "burst") || !(tok = strtok_r(NULL, " ", &save)) || !number(tok, BURST_MAX, &b) ||
            b < BURST_MIN || strtok_r(NULL, " ", &save))
            return 0;
    }
    *kbps = k ? k : AAA_RATE_NONE;
    *burst = b;
    return 1;
}

/* "any [tag T] [distance D]", in this order as the vendor writes it; the
 * ranges are the model's (route accept's tag and distance). */
static int route_accept(struct aaa_attrs *a, char *v)
{
    uint32_t tag = 0, dist = 0;
    char *tok, *save = NULL;

    tok = strtok_r(v, " ", &save);
    if (!tok || strcmp(tok, "any"))
        return 0;
    tok = strtok_r(NULL, " ", &save);
    if (tok && !strcmp(tok, "tag")) {
        tok = strtok_r(NULL, " ", &save);
        if (!tok || !number(tok, 65535, &tag) || !tag)
            return 0;
        tok = strtok_r(NULL, " ", &save);
    }
    if (tok && !strcmp(tok, "distance")) {
        tok = strtok_r(NULL, " ", &save);
        if (!tok || !number(tok, 255, &dist) || !dist)
            return 0;
        tok = strtok_r(NULL, " ", &save);
    }
    if (tok)
        return 0;
    a->route_accept = true;
    a->route_tag = tag;
    a->route_distance = (uint8_t)dist;
    return 1;
}

/* ip:interface-config: "ip mtu N" (576..9000) and "ip tcp adjust-mss N"
 * (500..8960), the ranges of the attribute list's mtu and tcp-mss; the other
 * interface commands of the vendor have nothing to act on here. */
static int interface_config(struct aaa_attrs *a, const char *v)
{
    uint32_t n;

    if (!strncmp(v, "ip mtu ", 7) && number(v + 7, 9000, &n) && n >= 576) {
        a->mtu = (uint16_t)n;
        return 1;
    }
    if (!strncmp(v, "ip tcp adjust-mss ", 18) && number(v + 18, 8960, &n) && n >= 500) {
        a->tcp_mss = (uint16_t)n;
        return 1;
    }
    return 0;
}

/* ipsec:ppk-key (Raven's, RFC 8784): "0x" and an even number of hex digits
 * gives the PPK's octets, any other text its own octets, as the ikev2 ppk
 * list's key. A bad value is understood all the same (ppk_bad, no key): the
 * "not understood" path would copy it into the log. */
static int ppk_key(struct aaa_attrs *a, const char *v)
{
    bool bad;

    if (a->ppk) { /* the last one wins */
        OPENSSL_cleanse(a->ppk, a->ppk_len);
        free(a->ppk);
        a->ppk = NULL;
        a->ppk_len = 0;
    }
    a->ppk = keytext_octets(v, &a->ppk_len, &bad);
    a->ppk_bad = bad;
    return a->ppk || bad ? 1 : -ENOMEM;
}

int aaa_attrs_avpair(struct aaa_attrs *a, const char *pair, size_t len)
{
    char buf[256], *name, *val, *sep;
    int b, rc = 0;

    if (len >= sizeof(buf) || !len)
        return 0;
    memcpy(buf, pair, len);
    buf[len] = 0;
    sep = strpbrk(buf, "=*");
    if (!sep)
        return 0;
    *sep = 0;
    name = buf;
    val = sep + 1;
    while (*val == ' ')
        val++;
    if (!strncmp(name, "ip:", 3)) {
        if (!strcmp(name + 3, "interface-config"))
            rc = interface_config(a, val);
        goto out;
    }
    if (!strncmp(name, "raven:", 6)) {
        bool in = !strcmp(name + 6, "rate-limit-in"), was = in ? a->rate_in : a->rate_out;

        if (in || !strcmp(name + 6, "rate-limit-out"))
            rc = again(a, was, in ? rate_limit(val, &a->rate_in, &a->burst_in)
                                  : rate_limit(val, &a->rate_out, &a->burst_out));
        goto out;
    }
    if (strncmp(name, "ipsec:", 6))
        return 0;
    name += 6;
    if (!strcmp(name, "addr-pool"))
        rc = *val ? set_str(&a->pool, val, strlen(val)) : 0;
    else if (!strcmp(name, "ipv6-addr-pool"))
        rc = *val ? set_str(&a->pool6, val, strlen(val)) : 0;
    else if (!strcmp(name, "dns-servers"))
        rc = addr_list(val, AF_INET, a->dns, &a->ndns);
    else if (!strcmp(name, "wins-servers"))
        rc = addr_list(val, AF_INET, a->wins, &a->nwins);
    else if (!strcmp(name, "ipv6-dns-servers-addr"))
        rc = addr_list(val, AF_INET6, a->dns6, &a->ndns6);
    else if (!strcmp(name, "addrv6"))
        rc = inet_pton(AF_INET6, val, a->addr6) == 1 ? (a->has_addr6 = true, 1) : 0;
    else if (!strcmp(name, "prefix-len")) {
        uint32_t n;

        rc = number(val, 128, &n);
        if (rc)
            a->prefix_len6 = n;
    } else if (!strcmp(name, "route-set")) {
        if (!strcmp(val, "interface")) {
            a->route_interface = true;
            rc = 1;
        } else if (!strncmp(val, "prefix ", 7)) {
            rc = route_prefix(a, val + 7);
        } else if (!strncmp(val, "access-list ipv6 ", 17)) {
            rc = val[17] ? set_str(&a->acl6, val + 17, strlen(val + 17)) : 0;
        } else if (!strncmp(val, "access-list ", 12)) {
            rc = val[12] ? set_str(&a->acl4, val + 12, strlen(val + 12)) : 0;
        }
    } else if (!strcmp(name, "route-accept"))
        rc = route_accept(a, val);
    else if (!strcmp(name, "banner"))
        rc = set_str(&a->banner, val, strlen(val));
    else if (!strcmp(name, "default-domain"))
        rc = domain_name(val) ? set_str(&a->def_domain, val, strlen(val)) : 0;
    else if (!strcmp(name, "split-dns"))
        rc = domain_name(val) ? add_str(a->split_dns, &a->nsplit_dns, val, strlen(val)) : 0;
    else if (!strcmp(name, "ipsec-backup-gateway"))
        rc = *val ? add_str(a->backup, &a->nbackup, val, strlen(val)) : 0;
    else if (!strcmp(name, "pfs"))
        rc = (b = boolean(val)) >= 0 ? (a->pfs = b, 1) : 0;
    else if (!strcmp(name, "include-local-lan"))
        rc = (b = boolean(val)) >= 0 ? (a->include_local_lan = b, 1) : 0;
    else if (!strcmp(name, "smartcard-removal-disconnect"))
        rc = (b = boolean(val)) >= 0 ? (a->smartcard = b, 1) : 0;
    else if (!strcmp(name, "configuration-url"))
        rc = set_str(&a->cfg_url, val, strlen(val));
    else if (!strcmp(name, "configuration-version"))
        rc = set_str(&a->cfg_version, val, strlen(val));
    else if (!strcmp(name, "ipsec-flow-limit")) {
        bool was = a->flow_limit != UINT32_MAX;

        rc = again(a, was, number(val, 50000, &a->flow_limit));
    } else if (!strcmp(name, "group-dhcp-server"))
        rc = set_str(&a->dhcp_server, val, strlen(val));
    else if (!strcmp(name, "dhcp-giaddr"))
        rc = set_str(&a->dhcp_giaddr, val, strlen(val));
    else if (!strcmp(name, "dhcp-timeout"))
        rc = number(val, 600, &a->dhcp_timeout);
    else if (!strcmp(name, "ikev2-password-local"))
        rc = *val ? set_str(&a->psk_local, val, strlen(val)) : 0;
    else if (!strcmp(name, "ikev2-password-remote"))
        rc = *val ? set_str(&a->psk_remote, val, strlen(val)) : 0;
    else if (!strcmp(name, "ppk-key"))
        rc = ppk_key(a, val);
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void note_unknown(struct aaa_attrs *a, const char *what, size_t len)
{
    /* a PPK's value never goes to the log, even one too long to read */
    if (len >= 14 && !strncmp(what, "ipsec:ppk-key", 13))
        len = 13;
    if (!a->unknown)
        a->unknown = strndup(what, len > 80 ? 80 : len);
}

int aaa_attrs_parse(const struct rad_view *v, const char *secret, const uint8_t req_auth[16], struct aaa_attrs *a)
{
    struct rad_attr at;
    size_t pos = 0;
    int rc;

    while (rad_next(v, &pos, &at)) {
        rc = 0;
        switch (at.type) {
        case RAD_USER_NAME:
            rc = at.len ? set_str(&a->user_name, (const char *)at.val, at.len) : 0;
            if (rc > 0)
                rc = 0; /* an identity, not an authorization attribute */
            break;
        case RAD_CLASS:
            if (at.len && set_str(&a->class_, (const char *)at.val, at.len) < 0)
                rc = -ENOMEM;
            break;
        case RAD_FRAMED_IP_ADDRESS:
            if (at.len == 4 && u32(at.val) != 0xffffffffu && u32(at.val) != 0xfffffffeu) {
                /* 255.255.255.255 / .254: "let the NAS choose" (RFC 2865 5.8) */
                again(a, a->has_addr, 1);
                a->addr = u32(at.val);
                a->has_addr = true;
                rc = 1;
            }
            break;
        case RAD_FRAMED_IP_NETMASK:
            if (at.len == 4) {
                a->netmask = u32(at.val);
                a->has_netmask = true;
                rc = 1;
            }
            break;
        case RAD_SESSION_TIMEOUT:
            if (at.len == 4 && u32(at.val)) {
                again(a, a->session_timeout != 0, 1);
                a->session_timeout = u32(at.val);
                rc = 1;
            }
            break;
        case RAD_TUNNEL_TYPE:
        case RAD_TUNNEL_MEDIUM_TYPE:
            if (at.len == 4) {
                uint32_t val = u32(at.val) & 0xffffff; /* after the tag */

                if (at.type == RAD_TUNNEL_TYPE)
                    a->tunnel_type = val;
                else
                    a->tunnel_medium = val;
                rc = 1;
            }
            break;
        case RAD_TUNNEL_PASSWORD: {
            uint8_t pw[256];
            size_t n = at.len > 1 && secret ? rad_mppe_key(at.val + 1, at.len - 1, secret, strlen(secret), req_auth,
                                                          pw, sizeof(pw) - 1) : 0;

            if (n) {
                rc = set_str(&a->tunnel_password, (const char *)pw, n);
                OPENSSL_cleanse(pw, sizeof(pw));
            }
            break;
        }
        case RAD_VENDOR_SPECIFIC: {
            uint32_t vendor;
            uint8_t vtype;
            const uint8_t *val;
            size_t len;

            if (rad_vsa(&at, &vendor, &vtype, &val, &len) && vendor == RAD_VENDOR_CISCO && vtype == CISCO_AVPAIR) {
                rc = aaa_attrs_avpair(a, (const char *)val, len);
                if (rc == 0)
                    note_unknown(a, (const char *)val, len);
            }
            break;
        }
        default:
            break;
        }
        if (rc < 0)
            return rc;
        if (rc > 0)
            a->n++;
    }
    return 0;
}
