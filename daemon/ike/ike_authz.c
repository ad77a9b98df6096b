/* Who the client is and what it may have (SPEC S2, S5-S7, S10): profile selection
 * by identity, local address and certificate map, the pre-shared keys of the
 * profile or its keyring, and local authorization with its merge rules and name
 * manglers. Authorization policies come compiled (ike_authz_conf.c); profiles,
 * keyrings, certificate maps, manglers and method lists are read from the
 * configuration copy of the engine; see ike_eng.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <net/if.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/pki/pki.h"
#include "daemon/base/poison.h"

#define V "/raven-vpn:"

/* ---- profile selection ---- */

static bool prefix_match(const char *prefix, const struct ike_id_pld *id)
{
    char a[64];
    const char *slash = strchr(prefix, '/');
    unsigned len, bytes;
    uint8_t net[16];
    int fam;

    if (!slash || (size_t)(slash - prefix) >= sizeof(a))
        return false;
    memcpy(a, prefix, (size_t)(slash - prefix));
    a[slash - prefix] = 0;
    len = (unsigned)atoi(slash + 1);
    fam = strchr(a, ':') ? AF_INET6 : AF_INET;
    if ((fam == AF_INET && (id->type != ID_IPV4 || id->len != 4)) ||
        (fam == AF_INET6 && (id->type != ID_IPV6 || id->len != 16)) || inet_pton(fam, a, net) != 1)
        return false;
    bytes = len / 8;
    if (memcmp(net, id->data, bytes))
        return false;
    if (len % 8) {
        uint8_t m = (uint8_t)(0xff << (8 - len % 8));
        if ((net[bytes] & m) != (id->data[bytes] & m))
            return false;
    }
    return true;
}

static bool domain_match(const char *name, size_t nlen, const char *domain)
{
    size_t dl = strlen(domain);

    if (nlen == dl)
        return !strncasecmp(name, domain, dl);
    return nlen > dl && name[nlen - dl - 1] == '.' && !strncasecmp(name + nlen - dl, domain, dl);
}

static bool id_equals(const struct ike_id_pld *id, const char *v, bool nocase)
{
    size_t l = strlen(v);

    return id->len == l && (nocase ? !strncasecmp((const char *)id->data, v, l) : !memcmp(id->data, v, l));
}

/* Whether @prof's "match identity remote" accepts the client's identity. */
static bool remote_matches(const struct lyd_node *prof, const struct ike_id_pld *id)
{
    const struct lyd_node *rem = ike_find(prof, "match/identity/remote"), *c, *g;

    if (!rem)
        return false;
    LY_LIST_FOR(lyd_child(rem), c) {
        const char *n = c->schema->name;

        if (!strcmp(n, "address") && prefix_match(lyd_get_value(c), id))
            return true;
        if (!strcmp(n, "key-id") && id->type == ID_KEY_ID && id_equals(id, lyd_get_value(c), false))
            return true;
        if (!strcmp(n, "fqdn") && id->type == ID_FQDN) {
            LY_LIST_FOR(lyd_child(c), g) {
                if (!strcmp(g->schema->name, "exact") && id_equals(id, lyd_get_value(g), true))
                    return true;
                if (!strcmp(g->schema->name, "domain") &&
                    domain_match((const char *)id->data, id->len, lyd_get_value(g)))
                    return true;
            }
        }
        if (!strcmp(n, "email") && id->type == ID_RFC822) {
            const char *at = memchr(id->data, '@', id->len);

            LY_LIST_FOR(lyd_child(c), g) {
                if (!strcmp(g->schema->name, "exact") && id_equals(id, lyd_get_value(g), true))
                    return true;
                if (!strcmp(g->schema->name, "domain") && at &&
                    strlen(lyd_get_value(g)) == id->len - (size_t)(at + 1 - (const char *)id->data) &&
                    !strncasecmp(at + 1, lyd_get_value(g), strlen(lyd_get_value(g))))
                    return true;
            }
        }
    }
    return false;
}

/* match local-address, local-interface (the interface the IKE_SA_INIT request
 * arrived on, from IP_PKTINFO) and fvrf (the VRF of the socket it arrived on). */
static bool local_matches(const struct lyd_node *prof, const struct ike_sess *s)
{
    const struct lyd_node *m = ike_find(prof, "match"), *c;
    bool any_addr = false, addr = false, any_if = false, ifc = false;
    char a[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE] = "";

    ike_addr_str(&s->local, a, sizeof(a));
    if (s->rx_ifindex > 0 && !if_indextoname((unsigned)s->rx_ifindex, ifname))
        ifname[0] = 0;
    if (!ike_conf_fvrf_matches(m ? ike_leaf(m, "fvrf") : NULL, s->fvrf))
        return false;
    LY_LIST_FOR(m ? lyd_child(m) : NULL, c) {
        if (!strcmp(c->schema->name, "local-address")) {
            any_addr = true;
            addr = addr || !strcmp(lyd_get_value(c), a);
        } else if (!strcmp(c->schema->name, "local-interface")) {
            any_if = true;
            ifc = ifc || (ifname[0] && !strcmp(lyd_get_value(c), ifname));
        }
    }
    return (!any_addr || addr) && (!any_if || ifc);
}

static void lower(char *p)
{
    for (; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* A certificate field as lower-case text for certificate map rules: names in
 * RFC 2253 form (escaped, UTF-8 kept), the serial number in hex, the DNS and
 * e-mail subjectAltNames separated by spaces. */
static void cert_field(X509 *cert, const char *field, char *out, size_t cap)
{
    out[0] = 0;
    if (!strcmp(field, "subject-name") || !strcmp(field, "unstructured-subject-name") ||
        !strcmp(field, "issuer-name")) {
        BIO *b = BIO_new(BIO_s_mem());
        int n;

        if (b && X509_NAME_print_ex(b, strcmp(field, "issuer-name") ? X509_get_subject_name(cert) :
                                                                      X509_get_issuer_name(cert),
                                    0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
            (n = BIO_read(b, out, (int)cap - 1)) > 0)
            out[n] = 0;
        BIO_free(b);
    } else if (!strcmp(field, "name")) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)cap);
    } else if (!strcmp(field, "serial-number")) {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;

        snprintf(out, cap, "%s", hex ? hex : "");
        OPENSSL_free(hex);
        BN_free(bn);
    } else if (!strcmp(field, "alt-subject-name")) {
        GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
        size_t off = 0;

        for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && off + 1 < cap; i++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

            if (g->type == GEN_DNS || g->type == GEN_EMAIL) {
                int n = snprintf(out + off, cap - off, "%s%s", off ? " " : "",
                                 (const char *)ASN1_STRING_get0_data(g->d.ia5));
                off += n > 0 ? (size_t)n : 0;
            }
        }
        GENERAL_NAMES_free(gens);
    }
    lower(out);
}

/* A rule "ATTR=VALUE" on a subject or issuer name compares with the value of that
 * attribute in each name entry (eq: equal, co: contains), so that no value can
 * pose as another attribute; other rules compare with the whole field's text. */
static bool name_rule(X509 *cert, const char *field, bool eq, const char *want)
{
    X509_NAME *nm = strcmp(field, "issuer-name") ? X509_get_subject_name(cert) : X509_get_issuer_name(cert);
    const char *sep = strchr(want, '=');
    char attr[32];
    size_t al;

    if (!sep || (al = (size_t)(sep - want)) >= sizeof(attr))
        return false;
    memcpy(attr, want, al);
    attr[al] = 0;
    while (al && attr[al - 1] == ' ')
        attr[--al] = 0;
    for (sep++; *sep == ' '; sep++)
        ;
    for (int i = 0; i < X509_NAME_entry_count(nm); i++) {
        const X509_NAME_ENTRY *en = X509_NAME_get_entry(nm, i);
        char sn[32], val[256];
        unsigned char *utf8 = NULL;
        int n;

        snprintf(sn, sizeof(sn), "%s", OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(en))));
        lower(sn);
        n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(en));
        if (n < 0)
            continue;
        snprintf(val, sizeof(val), "%.*s", n, utf8);
        OPENSSL_free(utf8);
        lower(val);
        if (!strcmp(sn, attr) && (eq ? !strcmp(val, sep) : strstr(val, sep) != NULL))
            return true;
    }
    return false;
}

/* A certificate map (S10) matches when all rules of one of its entries do:
 * eq/ne compare, co/nc look for the value in the field, case-insensitive. */
static bool cert_map_matches(const struct ike_conf *c, const char *map, X509 *cert)
{
    const struct lyd_node *m = ike_find(c->tree, V "pki/certificate-map[name='%s']", map), *en, *r;

    LY_LIST_FOR(m ? lyd_child(m) : NULL, en) {
        bool all = true, any = false;

        if (strcmp(en->schema->name, "entry"))
            continue;
        LY_LIST_FOR(lyd_child(en), r) {
            char text[512], want[256];
            const char *op = ike_leaf(r, "operator"), *val = ike_leaf(r, "value"), *field = ike_leaf(r, "field");
            bool eq, has;

            if (strcmp(r->schema->name, "rule") || !op || !val || !field)
                continue;
            any = true;
            eq = !strcmp(op, "eq") || !strcmp(op, "ne");
            snprintf(want, sizeof(want), "%s", val);
            lower(want);
            if (strchr(want, '=') && (!strcmp(field, "subject-name") || !strcmp(field, "issuer-name") ||
                                      !strcmp(field, "unstructured-subject-name"))) {
                has = name_rule(cert, field, eq, want);
            } else {
                cert_field(cert, field, text, sizeof(text));
                has = eq ? !strcmp(text, want) : strstr(text, want) != NULL;
            }
            if (!strcmp(op, "ne") || !strcmp(op, "nc"))
                has = !has;
            all = all && has;
        }
        if (any && all)
            return true;
    }
    return false;
}

static bool cert_maps_match(const struct ike_conf *c, const struct lyd_node *prof, X509 *cert)
{
    const struct lyd_node *m = ike_find(prof, "match"), *ch;

    LY_LIST_FOR(m && cert ? lyd_child(m) : NULL, ch) {
        if (!strcmp(ch->schema->name, "certificate-map") && cert_map_matches(c, lyd_get_value(ch), cert))
            return true;
    }
    return false;
}

/* The first profile, in configuration order, whose match rules accept the client:
 * its identity, or its certificate through a certificate map. */
const struct lyd_node *ike_select_profile(const struct ike_conf *c, const struct ike_id_pld *id,
                                          const struct ike_sess *s, X509 *cert)
{
    const struct lyd_node *top = ike_find(c->tree, V "ikev2"), *p;

    /* the list in configuration order, walked directly: an XPath search per
     * IKE_AUTH would cost more than the rest of the lookups together */
    LY_LIST_FOR(top ? lyd_child(top) : NULL, p) {
        if (!strcmp(p->schema->name, "profile") && local_matches(p, s) &&
            (remote_matches(p, id) || cert_maps_match(c, p, cert)))
            return p;
    }
    return NULL;
}

/* The profile's trustpoints of a usage (verify or sign; "both" is either). */
size_t ike_profile_tps(const struct ike_conf *c, const struct lyd_node *prof, const char *usage, struct pki_tp **out,
                       size_t cap)
{
    const struct lyd_node *pk = ike_find(prof, "pki"), *t;
    size_t n = 0;

    LY_LIST_FOR(pk ? lyd_child(pk) : NULL, t) {
        const char *u = ike_leaf(t, "usage");
        struct pki_tp *tp;

        if (strcmp(t->schema->name, "trustpoint") || (u && strcmp(u, "both") && strcmp(u, usage)))
            continue;
        tp = ike_conf_tp(c, ike_leaf(t, "name"));
        if (tp && n < cap)
            out[n++] = tp;
    }
    return n;
}

/* ---- keys ---- */

/* The keyring peer for the client: by identity, then host name, then address. */
static const struct lyd_node *keyring_peer(const struct ike_conf *c, const struct lyd_node *prof,
                                           const struct ike_id_pld *id, const struct sockaddr_storage *peer)
{
    const char *kr = ike_leaf(prof, "keyring/local");
    const struct lyd_node *ring = kr ? ike_find(c->tree, V "ikev2/keyring[name='%s']", kr) : NULL, *p;
    const struct lyd_node *by_host = NULL, *by_addr = NULL;
    struct ike_id_pld pid = {0};
    uint8_t praw[16];

    if (!ring)
        return NULL;
    pid.type = peer->ss_family == AF_INET ? ID_IPV4 : ID_IPV6;
    pid.len = peer->ss_family == AF_INET ? 4 : 16;
    memcpy(praw, peer->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)peer)->sin_addr :
                                              (const void *)&((const struct sockaddr_in6 *)peer)->sin6_addr,
           pid.len);
    pid.data = praw;
    LY_LIST_FOR(lyd_child(ring), p) {
        const char *v;

        if (strcmp(p->schema->name, "peer"))
            continue;
        if ((v = ike_leaf(p, "identity/fqdn")) && id->type == ID_FQDN && id_equals(id, v, true))
            return p;
        if ((v = ike_leaf(p, "identity/email")) && id->type == ID_RFC822 && id_equals(id, v, true))
            return p;
        if ((v = ike_leaf(p, "identity/key-id")) && id->type == ID_KEY_ID && id_equals(id, v, false))
            return p;
        if ((v = ike_leaf(p, "identity/address")) && (id->type == ID_IPV4 || id->type == ID_IPV6)) {
            char a[INET6_ADDRSTRLEN];

            if (inet_ntop(id->type == ID_IPV4 ? AF_INET : AF_INET6, id->data, a, sizeof(a)) && !strcmp(a, v))
                return p;
        }
        if (!by_host && (v = ike_leaf(p, "hostname")) && id->type == ID_FQDN && id_equals(id, v, true))
            by_host = p;
        if (!by_addr && (v = ike_leaf(p, "address")) && prefix_match(v, &pid))
            by_addr = p;
    }
    return by_host ? by_host : by_addr;
}

/* The pre-shared key that authenticates the client (@remote) or us: the profile's
 * own, else its keyring's entry for the client (the asymmetric key of that side,
 * else the common one). */
const char *ike_psk(const struct ike_conf *c, const struct lyd_node *prof, bool remote, const struct ike_id_pld *id,
                       const struct sockaddr_storage *peer)
{
    const char *k = ike_leaf(prof, remote ? "authentication/remote/pre-share/key" : "authentication/local/pre-share/key");
    const struct lyd_node *p;

    if (k)
        return k;
    p = keyring_peer(c, prof, id, peer);
    if (!p)
        return NULL;
    k = ike_leaf(p, remote ? "remote-pre-shared-key" : "local-pre-shared-key");
    return k ? k : ike_leaf(p, "pre-shared-key");
}

/* ---- authorization (S5-S7) ---- */


/* Fills what policy @p sets and @a does not have yet (the first source wins). */
static void attrs_from_policy(const struct ike_authz_pol *p, struct ike_attrs *a)
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
        a->subnets_set = a->subnets.nts > 0;
    }
    ike_route_attrs_policy(p, a);
    if (!a->banner)
        a->banner = p->banner;
    if (!a->def_domain)
        a->def_domain = p->def_domain;
    if (!a->cfg_url)
        a->cfg_url = p->cfg_url;
    if (!a->cfg_version)
        a->cfg_version = p->cfg_version;
    if (!a->nsplit_dns) {
        for (int i = 0; i < p->nsplit_dns; i++)
            a->split_dns[a->nsplit_dns++] = p->split_dns[i];
    }
    if (!a->nbackup) {
        for (int i = 0; i < p->nbackup; i++)
            a->backup[a->nbackup++] = p->backup[i];
    }
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

/* Name mangler (S6) for FQDN and e-mail identities; other types keep the whole
 * identity. Writes the name to @out. */
static int dn_nid(const char *field)
{
    static const struct {
        const char *name;
        int nid;
    } map[] = {{"common-name", NID_commonName},          {"country", NID_countryName},
               {"domain", NID_domainComponent},         {"locality", NID_localityName},
               {"organization", NID_organizationName}, {"organization-unit", NID_organizationalUnitName},
               {"state", NID_stateOrProvinceName}};

    for (size_t i = 0; field && i < sizeof(map) / sizeof(map[0]); i++) {
        if (!strcmp(map[i].name, field))
            return map[i].nid;
    }
    return NID_undef;
}

/* The short name of a DN field in a text DN ("CN", "OU"...). */
static const char *dn_short(const char *field)
{
    static const char *const map[][2] = {{"common-name", "CN"},  {"country", "C"},        {"domain", "DC"},
                                         {"locality", "L"},      {"organization", "O"},   {"organization-unit", "OU"},
                                         {"state", "ST"}};

    for (size_t i = 0; field && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i][0], field))
            return map[i][1];
    return NULL;
}

/* S6 for an EAP identity: all, the part before (prefix) or after (suffix) the
 * first delimiter, or a field of an identity written as a DN ("CN=a,OU=b" or
 * "/CN=a/OU=b"). Without the delimiter or field, the whole identity. */
static void mangle_eap(const struct lyd_node *m, const char *id, char *out, size_t cap)
{
    const char *d, *cut, *f;

    if ((d = ike_leaf(m, "eap/prefix")) && (cut = strchr(id, d[0]))) {
        snprintf(out, cap, "%.*s", (int)(cut - id), id);
    } else if ((d = ike_leaf(m, "eap/suffix")) && (cut = strchr(id, d[0]))) {
        snprintf(out, cap, "%s", cut + 1);
    } else if ((f = dn_short(ike_leaf(m, "eap/dn")))) {
        size_t fl = strlen(f);

        for (const char *p = id; *p; p++) {
            bool start = p == id || p[-1] == ',' || p[-1] == '/' || (p[-1] == ' ' && p > id + 1 && p[-2] == ',');

            if (start && !strncasecmp(p, f, fl) && p[fl] == '=') {
                const char *v = p + fl + 1, *e = v + strcspn(v, ",/");

                snprintf(out, cap, "%.*s", (int)(e - v), v);
                return;
            }
        }
    }
}

/* Name mangler (S6): the AAA name from the identity, by its type: FQDN (all,
 * domain, hostname), e-mail (all, domain, username), or a field of the
 * distinguished name @dn (a DN identity's, else the client certificate's subject).
 * Without a mangler, or when the part is absent, the whole identity. */
static void mangle(const struct ike_conf *c, const char *mangler, int id_type, const char *id, X509_NAME *dn,
                   char *out, size_t cap)
{
    const struct lyd_node *m = mangler ? ike_find(c->tree, V "ikev2/name-mangler[name='%s']", mangler) : NULL;
    const char *how, *cut;
    int nid;

    snprintf(out, cap, "%s", id);
    if (!m)
        return;
    if (id_type == ID_EAP && ike_find(m, "eap")) {
        mangle_eap(m, id, out, cap);
        return;
    }
    if (id_type == ID_FQDN && (how = ike_leaf(m, "fqdn"))) {
        cut = strchr(id, '.');
        if (!strcmp(how, "hostname") && cut)
            snprintf(out, cap, "%.*s", (int)(cut - id), id);
        else if (!strcmp(how, "domain") && cut)
            snprintf(out, cap, "%s", cut + 1);
    } else if (id_type == ID_RFC822 && (how = ike_leaf(m, "email"))) {
        cut = strchr(id, '@');
        if (!strcmp(how, "username") && cut)
            snprintf(out, cap, "%.*s", (int)(cut - id), id);
        else if (!strcmp(how, "domain") && cut)
            snprintf(out, cap, "%s", cut + 1);
    } else if (dn && (nid = dn_nid(ike_leaf(m, "dn"))) != NID_undef) {
        char v[256];

        if (X509_NAME_get_text_by_NID(dn, nid, v, sizeof(v)) > 0)
            snprintf(out, cap, "%s", v);
    }
}

/* Fills what RADIUS @r gave and @a does not have yet (the first source wins). */
static void attrs_from_aaa(const struct ike_conf *c, const struct aaa_attrs *r, struct ike_attrs *a)
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
    if (!a->subnets_set) {
        const char *acls[2] = {r->acl4, r->acl6};

        for (int i = 0; i < r->nroutes; i++)
            ike_authz_add_prefix(&a->subnets, r->routes[i]);
        for (int i = 0; i < 2; i++)
            ike_authz_add_acl(c->tree, acls[i], &a->subnets);
        a->subnets_set = a->subnets.nts > 0;
    }
    ike_route_attrs_aaa(r, a);
    if (!a->banner)
        a->banner = r->banner;
    if (!a->def_domain)
        a->def_domain = r->def_domain;
    if (!a->cfg_url)
        a->cfg_url = r->cfg_url;
    if (!a->cfg_version)
        a->cfg_version = r->cfg_version;
    if (!a->nsplit_dns)
        for (int i = 0; i < r->nsplit_dns; i++)
            a->split_dns[a->nsplit_dns++] = r->split_dns[i];
    if (!a->nbackup)
        for (int i = 0; i < r->nbackup; i++)
            a->backup[a->nbackup++] = r->backup[i];
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

void ike_authz_name(const struct ike_conf *c, const struct lyd_node *src, int id_type, const char *id,
                    X509_NAME *dn, char *out, size_t cap)
{
    const char *v = ike_leaf(src, "username");

    if (v)
        snprintf(out, cap, "%s", v);
    else
        mangle(c, ike_leaf(src, "name-mangler"), id_type, id, dn, out, cap);
}

/* Whether the method list of authorization source @src starts with RADIUS. */
static bool src_is_radius(const struct ike_conf *c, const struct lyd_node *src)
{
    const char *list = src ? ike_leaf(src, "method-list") : NULL;
    const struct lyd_node *l = list ? ike_find(c->tree, V "aaa/authorization-list[name='%s']", list) : NULL, *m;
    const struct lyd_node *first = NULL;
    unsigned best = ~0u;

    LY_LIST_FOR(l ? lyd_child(l) : NULL, m) {
        const char *seq = strcmp(m->schema->name, "method") ? NULL : ike_leaf(m, "sequence");

        if (seq && (unsigned)atoi(seq) < best) {
            best = (unsigned)atoi(seq);
            first = m;
        }
    }
    return first && ike_find(first, "group");
}

/* One authorization source (user or group): the authorization policy of the
 * first local method of its list, named by the configured name, the mangled
 * identity or the identity itself. RADIUS methods belong to the AAA subsystem. */
static const struct ike_authz_pol *authz_policy(const struct ike_conf *c, const struct lyd_node *src, int id_type,
                                               const char *id, X509_NAME *dn, char *name, size_t cap)
{
    const char *list = ike_leaf(src, "method-list");
    const struct lyd_node *l, *m;

    if (!list || !(l = ike_find(c->tree, V "aaa/authorization-list[name='%s']", list)) || src_is_radius(c, src))
        return NULL;
    LY_LIST_FOR(lyd_child(l), m) {
        if (strcmp(m->schema->name, "method") || !ike_find(m, "local"))
            continue;
        ike_authz_name(c, src, id_type, id, dn, name, cap);
        return ike_conf_authz(c, name);
    }
    return NULL;
}

static void add_source(struct ike_attrs *a, const char *name)
{
    size_t n = strlen(a->sources);

    snprintf(a->sources + n, sizeof(a->sources) - n, "%s%s", n ? " " : "", name);
}

void ike_authorize(const struct ike_conf *c, const struct lyd_node *prof, const char *method, int id_type,
                   const char *id, X509_NAME *dn, const struct ike_authz_in *rad, struct ike_attrs *a, char *user,
                   char *group, size_t cap)
{
    const struct lyd_node *us = ike_find(prof, "aaa/authorization/user"), *gs = ike_find(prof, "aaa/authorization/group");
    const struct lyd_node *usrc = us ? ike_find(us, "%s", method) : NULL;
    const struct lyd_node *gsrc = gs ? ike_find(gs, "%s", method) : NULL;
    const struct ike_authz_pol *up = NULL, *gp = NULL;
    const struct aaa_attrs *ur = rad ? rad->user : NULL, *gr = rad ? rad->group : NULL;
    const struct aaa_attrs *cached = rad && usrc && ike_find(usrc, "cached") ? rad->cached : NULL;
    bool group_first = gsrc && ike_find(gsrc, "override");

    memset(a, 0, sizeof(*a));
    a->pfs = a->include_local_lan = a->smartcard = -1;
    a->flow_limit = UINT32_MAX;
    a->route_accept = a->route_connected = -1;
    user[0] = group[0] = 0;
    if (usrc)
        up = authz_policy(c, usrc, id_type, id, dn, user, cap);
    if (gsrc)
        gp = authz_policy(c, gsrc, id_type, id, dn, group, cap);
    if (!up)
        user[0] = 0;
    if (!gp)
        group[0] = 0;
    if (ur)
        ike_authz_name(c, usrc, id_type, id, dn, user, cap);
    if (gr)
        ike_authz_name(c, gsrc, id_type, id, dn, group, cap);
    if (!user[0] && cached)
        snprintf(user, cap, "%s", id);
    if (!up && !gp && !ur && !gr && !cached && !usrc && !gsrc) {
        /* no authorization configured: the policy named "default", if any */
        gp = ike_conf_authz(c, "default");
        if (gp)
            snprintf(group, cap, "default");
    }
    /* S5: explicit user beats cached; the merged user beats the group, unless the
     * group authorization says override */
    for (int pass = 0; pass < 2; pass++) {
        bool group_pass = (pass == 0) == group_first;

        if (group_pass) {
            if (gp) {
                attrs_from_policy(gp, a);
                add_source(a, "policy-group");
            }
            if (gr) {
                attrs_from_aaa(c, gr, a);
                add_source(a, "radius-group");
            }
        } else {
            if (up) {
                attrs_from_policy(up, a);
                add_source(a, "policy-user");
            }
            if (ur) {
                attrs_from_aaa(c, ur, a);
                add_source(a, "radius-user");
            }
            if (cached) {
                attrs_from_aaa(c, cached, a);
                add_source(a, "radius-cached");
            }
        }
    }
}
