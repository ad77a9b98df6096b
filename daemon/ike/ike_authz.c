/* Who the client is and what it may have (SPEC S2, S5-S7, S10): profile selection
 * by identity, local address and certificate map, the pre-shared keys of the
 * profile or its keyring, and the sources of authorization with the name
 * manglers (their merge is the session module's: sess_authorize). Everything
 * comes compiled in the session's generation (ike_conf.h: profiles, keyrings,
 * certificate maps and manglers in ike_prof_conf.c, authorization policies in
 * ike_authz_conf.c); nothing here reads the tree. */
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

/* ---- profile selection ---- */

/* Whether address @a of @len bytes (4: IPv4, 16: IPv6) is inside range @r. */
static bool range_has(const struct ike_range *r, const uint8_t *a, size_t len)
{
    if (!r->family || (r->family == AF_INET ? 4u : 16u) != len)
        return false;
    return memcmp(r->lo, a, len) <= 0 && memcmp(a, r->hi, len) <= 0;
}

/* Whether an address identity (ID_IPV4 or ID_IPV6 of the right length) is
 * inside @r. */
static bool id_in_range(const struct ike_range *r, const struct ike_id_pld *id)
{
    if (!(id->type == ID_IPV4 && id->len == 4) && !(id->type == ID_IPV6 && id->len == 16))
        return false;
    return range_has(r, id->data, id->len);
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

static bool idm_matches(const struct ike_idm *m, const struct ike_id_pld *id)
{
    const char *at;
    size_t dl;

    switch (m->kind) {
    case IKE_IDM_ADDRESS:
        return id_in_range(&m->r, id);
    case IKE_IDM_KEY_ID:
        return id->type == ID_KEY_ID && id_equals(id, m->value, false);
    case IKE_IDM_FQDN:
        return id->type == ID_FQDN && id_equals(id, m->value, true);
    case IKE_IDM_FQDN_DOMAIN:
        return id->type == ID_FQDN && domain_match((const char *)id->data, id->len, m->value);
    case IKE_IDM_EMAIL:
        return id->type == ID_RFC822 && id_equals(id, m->value, true);
    case IKE_IDM_EMAIL_DOMAIN:
        at = id->type == ID_RFC822 ? memchr(id->data, '@', id->len) : NULL;
        dl = strlen(m->value);
        return at && dl == id->len - (size_t)(at + 1 - (const char *)id->data) && !strncasecmp(at + 1, m->value, dl);
    }
    return false;
}

/* Whether @prof's "match identity remote" accepts the client's identity. */
static bool remote_matches(const struct ike_prof *prof, const struct ike_id_pld *id)
{
    for (size_t i = 0; i < prof->nremote; i++) {
        if (idm_matches(&prof->remote[i], id))
            return true;
    }
    return false;
}

/* match local-address, local-interface (the interface the IKE_SA_INIT request
 * arrived on, from IP_PKTINFO) and fvrf (the VRF of the socket it arrived on). */
static bool local_matches(const struct ike_prof *prof, const struct ike_sess *s)
{
    bool addr = !prof->nlocal_addrs, ifc = !prof->nlocal_ifs;
    char ifname[IF_NAMESIZE] = "";
    const uint8_t *a = NULL;
    size_t alen = 0;

    if (!ike_conf_fvrf_matches(prof->fvrf, s->fvrf))
        return false;
    if (s->local.ss_family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)&s->local)->sin_addr;
        alen = 4;
    } else if (s->local.ss_family == AF_INET6) {
        a = (const uint8_t *)&((const struct sockaddr_in6 *)&s->local)->sin6_addr;
        alen = 16;
    }
    for (size_t i = 0; a && !addr && i < prof->nlocal_addrs; i++)
        addr = range_has(&prof->local_addrs[i], a, alen);
    if (!ifc && s->rx_ifindex > 0 && !if_indextoname((unsigned)s->rx_ifindex, ifname))
        ifname[0] = 0;
    for (size_t i = 0; ifname[0] && !ifc && i < prof->nlocal_ifs; i++)
        ifc = !strcmp(prof->local_ifs[i], ifname);
    return addr && ifc;
}

static void lower(char *p)
{
    for (; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* A certificate field as lower-case text for certificate map rules: names in
 * RFC 2253 form (escaped, UTF-8 kept), the serial number in hex, the DNS and
 * e-mail subjectAltNames separated by spaces. */
static void cert_field(X509 *cert, enum ike_cm_field field, char *out, size_t cap)
{
    out[0] = 0;
    if (field == IKE_CMF_SUBJECT || field == IKE_CMF_USUBJECT || field == IKE_CMF_ISSUER) {
        BIO *b = BIO_new(BIO_s_mem());
        int n;

        if (b && X509_NAME_print_ex(b, field != IKE_CMF_ISSUER ? X509_get_subject_name(cert) :
                                                                 X509_get_issuer_name(cert),
                                    0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
            (n = BIO_read(b, out, (int)cap - 1)) > 0)
            out[n] = 0;
        BIO_free(b);
    } else if (field == IKE_CMF_NAME) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)cap);
    } else if (field == IKE_CMF_SERIAL) {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;

        snprintf(out, cap, "%s", hex ? hex : "");
        OPENSSL_free(hex);
        BN_free(bn);
    } else if (field == IKE_CMF_ALT) {
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
 * pose as another attribute. */
static bool name_rule(X509 *cert, const struct ike_cm_rule *r, bool eq)
{
    X509_NAME *nm = r->field != IKE_CMF_ISSUER ? X509_get_subject_name(cert) : X509_get_issuer_name(cert);

    if (!r->attr[0])
        return false; /* none (too long): no entry has it */
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
        if (!strcmp(sn, r->attr) && (eq ? !strcmp(val, r->value) : strstr(val, r->value) != NULL))
            return true;
    }
    return false;
}

/* eq/ne compare, co/nc look for the value in the field, case-insensitive
 * (the values are lower-cased when compiled); lt/ge compare a date. */
static bool rule_holds(X509 *cert, const struct ike_cm_rule *r)
{
    bool eq = r->op == IKE_CMO_EQ || r->op == IKE_CMO_NE, has;

    if (r->field == IKE_CMF_EXPIRES || r->field == IKE_CMF_VALID_START) {
        /* lt: the certificate's date is before the rule's; ge: at or after */
        int cmp = ASN1_TIME_cmp_time_t(r->field == IKE_CMF_EXPIRES ? X509_get0_notAfter(cert)
                                                                    : X509_get0_notBefore(cert),
                                       r->when);

        return cmp != -2 && (r->op == IKE_CMO_LT ? cmp < 0 : cmp >= 0);
    }
    if (r->by_attr) {
        has = name_rule(cert, r, eq);
    } else {
        char text[512];

        cert_field(cert, r->field, text, sizeof(text));
        has = eq ? !strcmp(text, r->value) : strstr(text, r->value) != NULL;
    }
    return r->op == IKE_CMO_NE || r->op == IKE_CMO_NC ? !has : has;
}

/* A certificate map (S10) matches when all rules of one of its entries do. */
static bool cert_map_matches(const struct ike_certmap *m, X509 *cert)
{
    for (size_t i = 0; i < m->nentries; i++) {
        const struct ike_cm_entry *en = &m->entries[i];
        bool all = en->nrules > 0;

        for (size_t j = 0; all && j < en->nrules; j++)
            all = rule_holds(cert, &en->rules[j]);
        if (all)
            return true;
    }
    return false;
}

static bool cert_maps_match(const struct ike_prof *prof, X509 *cert)
{
    for (size_t i = 0; cert && i < prof->nmaps; i++) {
        if (cert_map_matches(prof->maps[i], cert))
            return true;
    }
    return false;
}

/* The first profile, in configuration order, whose match rules accept the client:
 * its identity, or its certificate through a certificate map. */
const struct ike_prof *ike_select_profile(const struct ike_conf *c, const struct ike_id_pld *id,
                                          const struct ike_sess *s, X509 *cert)
{
    for (size_t i = 0; c && i < c->nprofs; i++) {
        const struct ike_prof *p = &c->profs[i];

        if (local_matches(p, s) && (remote_matches(p, id) || cert_maps_match(p, cert)))
            return p;
    }
    return NULL;
}

/* The profile's trustpoints of a usage (verify or sign; "both" is either). */
size_t ike_profile_tps(const struct ike_prof *prof, enum ike_tp_usage usage, struct pki_tp **out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; prof && i < prof->ntps && n < cap; i++) {
        if (prof->tps[i].usage == IKE_TP_BOTH || prof->tps[i].usage == usage)
            out[n++] = prof->tps[i].tp;
    }
    return n;
}

/* ---- keys ---- */

/* The keyring peer for the client: by identity, then host name, then address. */
static const struct ike_kpeer *keyring_peer(const struct ike_keyring *ring, const struct ike_id_pld *id,
                                            const struct sockaddr_storage *peer)
{
    const struct ike_kpeer *by_host = NULL, *by_addr = NULL;
    const uint8_t *pa = peer->ss_family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr
                                                    : (const uint8_t *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
    size_t plen = peer->ss_family == AF_INET ? 4 : 16;

    for (size_t i = 0; ring && i < ring->npeers; i++) {
        const struct ike_kpeer *p = &ring->peers[i];

        if (p->id_type && p->id_type == id->type) {
            if ((id->type == ID_FQDN || id->type == ID_RFC822) && id_equals(id, p->id, true))
                return p;
            if (id->type == ID_KEY_ID && id_equals(id, p->id, false))
                return p;
            if ((id->type == ID_IPV4 || id->type == ID_IPV6) && id->len == (id->type == ID_IPV4 ? 4u : 16u) &&
                !memcmp(id->data, p->id_raw, id->len))
                return p;
        }
        if (!by_host && p->hostname && id->type == ID_FQDN && id_equals(id, p->hostname, true))
            by_host = p;
        if (!by_addr && p->has_addr && range_has(&p->addr, pa, plen))
            by_addr = p;
    }
    return by_host ? by_host : by_addr;
}

/* The pre-shared key that authenticates the client (@remote) or us: the profile's
 * own, else its keyring's entry for the client (the asymmetric key of that side,
 * else the common one). */
const char *ike_psk(const struct ike_prof *prof, bool remote, const struct ike_id_pld *id,
                    const struct sockaddr_storage *peer)
{
    const char *k = prof ? (remote ? prof->remote_key : prof->local_key) : NULL;
    const struct ike_kpeer *p;

    if (k || !prof)
        return k;
    p = keyring_peer(prof->keyring, id, peer);
    if (!p)
        return NULL;
    k = remote ? p->psk_remote : p->psk_local;
    return k ? k : p->psk;
}

/* ---- the sources of authorization (S5, S6) ---- */

/* S6 for an EAP identity: all, the part before (prefix) or after (suffix) the
 * first delimiter, or a field of an identity written as a DN ("CN=a,OU=b" or
 * "/CN=a/OU=b"). Without the delimiter or field, the whole identity. */
static void mangle_eap(const struct ike_mangler *m, const char *id, char *out, size_t cap)
{
    const char *cut, *f;

    if (m->eap_prefix && (cut = strchr(id, m->eap_prefix))) {
        snprintf(out, cap, "%.*s", (int)(cut - id), id);
    } else if (m->eap_suffix && (cut = strchr(id, m->eap_suffix))) {
        snprintf(out, cap, "%s", cut + 1);
    } else if ((f = m->eap_dn)) {
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
static void mangle(const struct ike_mangler *m, int id_type, const char *id, X509_NAME *dn, char *out, size_t cap)
{
    const char *cut;

    snprintf(out, cap, "%s", id);
    if (!m)
        return;
    if (id_type == ID_EAP && m->eap) {
        mangle_eap(m, id, out, cap);
        return;
    }
    if (id_type == ID_FQDN && m->fqdn != IKE_MGL_NONE) {
        cut = strchr(id, '.');
        if (m->fqdn == IKE_MGL_HOST && cut)
            snprintf(out, cap, "%.*s", (int)(cut - id), id);
        else if (m->fqdn == IKE_MGL_DOMAIN && cut)
            snprintf(out, cap, "%s", cut + 1);
    } else if (id_type == ID_RFC822 && m->email != IKE_MGL_NONE) {
        cut = strchr(id, '@');
        if (m->email == IKE_MGL_HOST && cut)
            snprintf(out, cap, "%.*s", (int)(cut - id), id);
        else if (m->email == IKE_MGL_DOMAIN && cut)
            snprintf(out, cap, "%s", cut + 1);
    } else if (dn && m->dn_nid != NID_undef) {
        char v[256];

        if (X509_NAME_get_text_by_NID(dn, m->dn_nid, v, sizeof(v)) > 0)
            snprintf(out, cap, "%s", v);
    }
}

void ike_authz_name(const struct ike_authz_src *src, int id_type, const char *id, X509_NAME *dn, char *out,
                    size_t cap)
{
    if (src && src->username)
        snprintf(out, cap, "%s", src->username);
    else
        mangle(src ? src->mangler : NULL, id_type, id, dn, out, cap);
}

/* One authorization source (user or group): the authorization policy of the
 * first local method of its list, named by the configured name, the mangled
 * identity or the identity itself. RADIUS methods belong to the AAA subsystem. */
static const struct sess_authz_pol *authz_policy(const struct ike_conf *c, const struct ike_authz_src *src,
                                                int id_type, const char *id, X509_NAME *dn, char *name, size_t cap)
{
    if (!src->method_list || src->list_radius || !src->list_local)
        return NULL;
    ike_authz_name(src, id_type, id, dn, name, cap);
    return ike_conf_authz(c, name);
}

/* The permitted prefixes of an access list a RADIUS answer names, in the
 * session's generation @arg. */
static const struct sess_prefixes *acl_prefixes(const void *arg, const char *name)
{
    const struct ike_acl *acl = ike_conf_acl(arg, name);

    return acl ? &acl->permits : NULL;
}

void ike_authorize(const struct ike_conf *c, const struct ike_prof *prof, const char *method, int id_type,
                   const char *id, X509_NAME *dn, const struct ike_authz_in *rad, struct sess_attrs *a, char *user,
                   char *group, size_t cap)
{
    enum ike_method mi = ike_method_index(method);
    const struct ike_authz_src *usrc = prof && mi < IKE_M_N && prof->authz_user[mi].set ? &prof->authz_user[mi] : NULL;
    const struct ike_authz_src *gsrc =
        prof && mi < IKE_M_N && prof->authz_group[mi].set ? &prof->authz_group[mi] : NULL;
    struct sess_authz_in in = {.user = rad ? rad->user : NULL,
                               .group = rad ? rad->group : NULL,
                               .cached = rad && usrc && usrc->cached ? rad->cached : NULL,
                               .group_first = gsrc && gsrc->override,
                               .acl = acl_prefixes,
                               .acl_arg = c};

    user[0] = group[0] = 0;
    if (usrc)
        in.user_pol = authz_policy(c, usrc, id_type, id, dn, user, cap);
    if (gsrc)
        in.group_pol = authz_policy(c, gsrc, id_type, id, dn, group, cap);
    if (!in.user_pol)
        user[0] = 0;
    if (!in.group_pol)
        group[0] = 0;
    if (in.user)
        ike_authz_name(usrc, id_type, id, dn, user, cap);
    if (in.group)
        ike_authz_name(gsrc, id_type, id, dn, group, cap);
    if (!user[0] && in.cached)
        snprintf(user, cap, "%s", id);
    if (!usrc && !gsrc && !in.user && !in.group) {
        /* no authorization configured: the policy named "default", if any */
        in.default_pol = ike_conf_authz(c, "default");
        if (in.default_pol)
            snprintf(group, cap, "default");
    }
    sess_authorize(&in, a);
}
