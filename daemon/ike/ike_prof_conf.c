/* Profiles and what they refer to, compiled at prepare (ike_conf.h): access
 * lists, certificate maps, name manglers, keyrings, IPsec profiles, IKEv2
 * profiles and the pools' address ranges. Everything an exchange asks of them
 * (profile selection, keys, name mangling, authorization sources, child SA
 * settings) is read here once from the generation's tree copy, into the
 * immutable structures of struct ike_conf; the strings point into that copy. */
#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/objects.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

#define V "/raven-vpn:"

/* ---- helpers ---- */

static bool nomem(ike_err_fn err, void *arg, const struct lyd_node *at)
{
    char *path = at ? lyd_path(at, LYD_PATH_STD, NULL, 0) : NULL;

    if (err)
        err(arg, path, "out of memory");
    free(path);
    return false;
}

/* The children of @parent named @name. */
static size_t count(const struct lyd_node *parent, const char *name)
{
    const struct lyd_node *ch;
    size_t n = 0;

    LY_LIST_FOR(parent ? lyd_child(parent) : NULL, ch)
        n += !strcmp(ch->schema->name, name);
    return n;
}

/* Zeroed room for @n elements of @size (at least one, so that an empty list
 * is not mistaken for a failure). */
static void *alloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

/* Every named array below starts with its const char *name: sorted and
 * searched by it. */
static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const void *find_named(const void *base, size_t n, size_t size, const char *name)
{
    return name && n ? bsearch(&name, base, n, size, by_name) : NULL;
}

static void lower(char *p)
{
    for (; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* An address (plen = its full length) or a prefix "ADDR/LEN" as a range; the
 * family is IPv6 when the text has a ':'. False (family 0) if unparseable. */
static bool parse_range(const char *text, bool prefix, struct ike_range *r)
{
    char a[INET6_ADDRSTRLEN];
    const char *slash = prefix ? strchr(text, '/') : text + strlen(text);
    size_t al = slash ? (size_t)(slash - text) : 0;
    unsigned len, max;

    memset(r, 0, sizeof(*r));
    if (!slash || al >= sizeof(a))
        return false;
    memcpy(a, text, al);
    a[al] = 0;
    r->family = strchr(a, ':') ? AF_INET6 : AF_INET;
    max = r->family == AF_INET ? 32 : 128;
    len = prefix ? (unsigned)atoi(slash + 1) : max;
    if (inet_pton(r->family, a, r->lo) != 1 || len > max) {
        r->family = 0;
        return false;
    }
    r->plen = (uint8_t)len;
    for (unsigned i = 0; i < max / 8; i++) {
        unsigned bits = len > 8 * i ? (len - 8 * i >= 8 ? 8 : len - 8 * i) : 0;
        uint8_t mask = (uint8_t)(bits ? 0xff << (8 - bits) : 0);

        r->lo[i] &= mask;
        r->hi[i] = (uint8_t)(r->lo[i] | (uint8_t)~mask);
    }
    return true;
}

static uint32_t num(const char *v, uint32_t unset)
{
    return v ? (uint32_t)strtoul(v, NULL, 10) : unset;
}

/* A boolean leaf with default true: only "false" turns it off. */
static bool not_false(const char *v)
{
    return !(v && !strcmp(v, "false"));
}

/* The value of an identityref without its module prefix. */
static const char *ident(const char *v)
{
    return v && strchr(v, ':') ? strchr(v, ':') + 1 : v;
}

/* ---- access lists ---- */

bool ike_acl_compile(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct lyd_node *top = ike_find(c->tree, V "access-lists"), *al, *en;
    size_t n = count(top, "access-list");

    if (!n)
        return true;
    c->acls = alloc(n, sizeof(*c->acls));
    if (!c->acls)
        return nomem(err, arg, top);
    LY_LIST_FOR(lyd_child(top), al) {
        struct ike_acl *a;

        if (strcmp(al->schema->name, "access-list") || !ike_leaf(al, "name"))
            continue;
        a = &c->acls[c->nacls++];
        a->name = ike_leaf(al, "name");
        LY_LIST_FOR(lyd_child(al), en) {
            const char *act = strcmp(en->schema->name, "entry") ? NULL : ike_leaf(en, "action");
            const char *pfx = ike_leaf(en, "prefix");

            if (!act || strcmp(act, "permit"))
                continue;
            a->npermits++;
            if (pfx)
                sess_prefixes_add(&a->permits, pfx);
        }
    }
    qsort(c->acls, c->nacls, sizeof(*c->acls), by_name);
    return true;
}

const struct ike_acl *ike_conf_acl(const struct ike_conf *c, const char *name)
{
    return c ? find_named(c->acls, c->nacls, sizeof(*c->acls), name) : NULL;
}

/* ---- certificate maps (S10) ---- */

enum cm_rc { CM_OK, CM_SKIP, CM_BADDATE, CM_NOMEM };

/* A date rule's value: YYYY-MM-DDThh:mm:ssZ, or YYYY-MM-DD (midnight UTC). */
static bool parse_date(const char *v, time_t *out)
{
    struct tm tm = {0};
    const char *end = strptime(v, "%Y-%m-%d", &tm);

    if (end && (*end == 'T' || *end == 't')) {
        end = strptime(end + 1, "%H:%M:%S", &tm);
        end = end && (*end == 'Z' || *end == 'z') ? end + 1 : NULL;
    }
    if (!end || *end)
        return false;
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

/* One rule. Its value is taken as before, at most 255 bytes, lower-cased. An
 * "ATTR=VALUE" rule on a name compares with that attribute (an ATTR of 32
 * bytes or more names none: the rule never finds it). The dates (expires-on,
 * valid-start: the model allows them only with lt and ge) are read into
 * instants; one that is not a date refuses the configuration (CM_BADDATE). A
 * rule missing a leaf is no rule (CM_SKIP). */
static enum cm_rc cm_rule(const struct lyd_node *r, struct ike_cm_rule *out)
{
    static const struct {
        const char *name;
        enum ike_cm_field field;
    } fields[] = {{"subject-name", IKE_CMF_SUBJECT}, {"unstructured-subject-name", IKE_CMF_USUBJECT},
                  {"issuer-name", IKE_CMF_ISSUER},   {"name", IKE_CMF_NAME},
                  {"serial-number", IKE_CMF_SERIAL}, {"alt-subject-name", IKE_CMF_ALT},
                  {"expires-on", IKE_CMF_EXPIRES},   {"valid-start", IKE_CMF_VALID_START}};
    static const char *const ops[] = {[IKE_CMO_EQ] = "eq", [IKE_CMO_NE] = "ne", [IKE_CMO_CO] = "co",
                                      [IKE_CMO_NC] = "nc", [IKE_CMO_LT] = "lt", [IKE_CMO_GE] = "ge"};
    const char *field = ike_leaf(r, "field"), *op = ike_leaf(r, "operator"), *val = ike_leaf(r, "value");
    char want[256], *sep;
    size_t i, o;

    for (i = 0; field && i < sizeof(fields) / sizeof(fields[0]) && strcmp(fields[i].name, field); i++)
        ;
    for (o = 0; op && o < sizeof(ops) / sizeof(ops[0]) && strcmp(ops[o], op); o++)
        ;
    if (!field || !op || !val || i == sizeof(fields) / sizeof(fields[0]) || o == sizeof(ops) / sizeof(ops[0]))
        return CM_SKIP;
    out->field = fields[i].field;
    out->op = (enum ike_cm_op)o;
    if (out->field == IKE_CMF_EXPIRES || out->field == IKE_CMF_VALID_START)
        return parse_date(val, &out->when) ? CM_OK : CM_BADDATE;
    snprintf(want, sizeof(want), "%s", val);
    lower(want);
    sep = strchr(want, '=');
    out->by_attr = sep && (out->field == IKE_CMF_SUBJECT || out->field == IKE_CMF_ISSUER ||
                           out->field == IKE_CMF_USUBJECT);
    if (out->by_attr) {
        size_t al = (size_t)(sep - want);

        if (al < sizeof(out->attr)) {
            memcpy(out->attr, want, al);
            out->attr[al] = 0;
            while (al && out->attr[al - 1] == ' ')
                out->attr[--al] = 0;
        }
        for (sep++; *sep == ' '; sep++)
            ;
        out->value = strdup(sep);
    } else {
        out->value = strdup(want);
    }
    return out->value ? CM_OK : CM_NOMEM;
}

static void cm_entry_free(struct ike_cm_entry *en)
{
    for (size_t i = 0; i < en->nrules; i++)
        free(en->rules[i].value);
    free(en->rules);
    en->rules = NULL;
    en->nrules = 0;
}

/* One entry into @en; false when it has no rule (@en left empty), or on a
 * failed allocation or a date rule that is no date (*@rc, *@bad the rule). */
static bool cm_entry(const struct lyd_node *e, struct ike_cm_entry *en, enum cm_rc *rc,
                     const struct lyd_node **bad)
{
    const struct lyd_node *r;

    *rc = CM_OK;
    en->rules = alloc(count(e, "rule"), sizeof(*en->rules));
    if (!en->rules) {
        *rc = CM_NOMEM;
        return false;
    }
    LY_LIST_FOR(lyd_child(e), r) {
        enum cm_rc one;

        if (strcmp(r->schema->name, "rule"))
            continue;
        one = cm_rule(r, &en->rules[en->nrules]);
        if (one == CM_SKIP)
            continue;
        if (one != CM_OK) {
            *rc = one;
            *bad = r;
            cm_entry_free(en);
            return false;
        }
        en->nrules++;
    }
    if (!en->nrules)
        cm_entry_free(en);
    return en->nrules > 0;
}

static bool bad_date(ike_err_fn err, void *arg, const struct lyd_node *rule)
{
    char *path = lyd_path(rule, LYD_PATH_STD, NULL, 0), msg[300];

    snprintf(msg, sizeof(msg),
             "certificate map rule %s compares a date: its value '%s' must be YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DD "
             "(UTC)", ike_leaf(rule, "field"), ike_leaf(rule, "value"));
    if (err)
        err(arg, path, msg);
    free(path);
    return false;
}

static bool compile_certmaps(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct lyd_node *top = ike_find(c->tree, V "pki"), *m, *e;
    size_t n = count(top, "certificate-map");
    bool ok = true;

    if (!n)
        return true;
    c->certmaps = alloc(n, sizeof(*c->certmaps));
    if (!c->certmaps)
        return nomem(err, arg, top);
    LY_LIST_FOR(lyd_child(top), m) {
        struct ike_certmap *cm;

        if (strcmp(m->schema->name, "certificate-map") || !ike_leaf(m, "name"))
            continue;
        cm = &c->certmaps[c->ncertmaps++];
        cm->name = ike_leaf(m, "name");
        cm->entries = alloc(count(m, "entry"), sizeof(*cm->entries));
        if (!cm->entries)
            return nomem(err, arg, m);
        LY_LIST_FOR(lyd_child(m), e) {
            const struct lyd_node *bad = NULL;
            enum cm_rc rc;

            if (strcmp(e->schema->name, "entry"))
                continue;
            if (cm_entry(e, &cm->entries[cm->nentries], &rc, &bad))
                cm->nentries++;
            else if (rc == CM_NOMEM)
                return nomem(err, arg, e);
            else if (rc == CM_BADDATE)
                ok = bad_date(err, arg, bad);
        }
    }
    qsort(c->certmaps, c->ncertmaps, sizeof(*c->certmaps), by_name);
    return ok;
}

/* ---- name manglers (S6) ---- */

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

static enum ike_mgl_part part(const char *v)
{
    if (!v)
        return IKE_MGL_NONE;
    if (!strcmp(v, "domain"))
        return IKE_MGL_DOMAIN;
    if (!strcmp(v, "hostname") || !strcmp(v, "username"))
        return IKE_MGL_HOST;
    return IKE_MGL_ALL;
}

static bool compile_manglers(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct lyd_node *top = ike_find(c->tree, V "ikev2"), *m;
    size_t n = count(top, "name-mangler");

    if (!n)
        return true;
    c->manglers = alloc(n, sizeof(*c->manglers));
    if (!c->manglers)
        return nomem(err, arg, top);
    LY_LIST_FOR(lyd_child(top), m) {
        struct ike_mangler *g;
        const char *d;

        if (strcmp(m->schema->name, "name-mangler") || !ike_leaf(m, "name"))
            continue;
        g = &c->manglers[c->nmanglers++];
        g->name = ike_leaf(m, "name");
        g->fqdn = part(ike_leaf(m, "fqdn"));
        g->email = part(ike_leaf(m, "email"));
        g->dn_nid = dn_nid(ike_leaf(m, "dn"));
        g->eap = ike_find(m, "eap") != NULL;
        g->eap_prefix = (d = ike_leaf(m, "eap/prefix")) ? d[0] : 0;
        g->eap_suffix = (d = ike_leaf(m, "eap/suffix")) ? d[0] : 0;
        g->eap_dn = dn_short(ike_leaf(m, "eap/dn"));
    }
    qsort(c->manglers, c->nmanglers, sizeof(*c->manglers), by_name);
    return true;
}

static const struct ike_mangler *mangler(const struct ike_conf *c, const char *name)
{
    return find_named(c->manglers, c->nmanglers, sizeof(*c->manglers), name);
}

/* ---- keyrings ---- */

static void kpeer(const struct lyd_node *p, struct ike_kpeer *k)
{
    const char *v;

    k->name = ike_leaf(p, "name");
    if ((v = ike_leaf(p, "identity/fqdn"))) {
        k->id_type = ID_FQDN;
    } else if ((v = ike_leaf(p, "identity/email"))) {
        k->id_type = ID_RFC822;
    } else if ((v = ike_leaf(p, "identity/key-id"))) {
        k->id_type = ID_KEY_ID;
    } else if ((v = ike_leaf(p, "identity/address"))) {
        bool v6 = strchr(v, ':') != NULL;

        if (inet_pton(v6 ? AF_INET6 : AF_INET, v, k->id_raw) == 1)
            k->id_type = v6 ? ID_IPV6 : ID_IPV4;
    }
    k->id = v;
    k->hostname = ike_leaf(p, "hostname");
    k->has_addr = (v = ike_leaf(p, "address")) && parse_range(v, true, &k->addr);
    k->psk = ike_leaf(p, "pre-shared-key");
    k->psk_local = ike_leaf(p, "local-pre-shared-key");
    k->psk_remote = ike_leaf(p, "remote-pre-shared-key");
}

static bool compile_keyrings(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct lyd_node *top = ike_find(c->tree, V "ikev2"), *r, *p;
    size_t n = count(top, "keyring");

    if (!n)
        return true;
    c->keyrings = alloc(n, sizeof(*c->keyrings));
    if (!c->keyrings)
        return nomem(err, arg, top);
    LY_LIST_FOR(lyd_child(top), r) {
        struct ike_keyring *k;

        if (strcmp(r->schema->name, "keyring") || !ike_leaf(r, "name"))
            continue;
        k = &c->keyrings[c->nkeyrings++];
        k->name = ike_leaf(r, "name");
        k->peers = alloc(count(r, "peer"), sizeof(*k->peers));
        if (!k->peers)
            return nomem(err, arg, r);
        LY_LIST_FOR(lyd_child(r), p) {
            if (!strcmp(p->schema->name, "peer"))
                kpeer(p, &k->peers[k->npeers++]);
        }
    }
    qsort(c->keyrings, c->nkeyrings, sizeof(*c->keyrings), by_name);
    return true;
}

/* ---- IPsec profiles (S8) ---- */

/* The ESP settings of IPsec profile @ip (NULL: the defaults of a profile
 * without one). Volume rekeys at the soft limit, else at 90 % of the hard one;
 * the soft packet limit is by default 90 % of the hard one and always below it
 * (a hard limit under 10 packets still leaves the rekey one packet to start; a
 * hard limit of 1 none). */
static void ipsec_prof(const struct ike_conf *c, const struct lyd_node *ip, struct ike_ipsec_prof *out)
{
    const struct lyd_node *ch, *dpl, *itf;
    const char *v;

    out->name = ip ? ike_leaf(ip, "name") : NULL;
    LY_LIST_FOR(ip ? lyd_child(ip) : NULL, ch) {
        const struct lyd_node *ts;

        if (strcmp(ch->schema->name, "transform-set"))
            continue;
        ts = ike_find(c->tree, V "ipsec/transform-set[name='%s']", lyd_get_value(ch));
        if ((v = ts ? ike_leaf(ts, "esp-encryption") : NULL))
            out->esp.encr |= ike_conf_encr_bit(ident(v));
        if ((v = ts ? ike_leaf(ts, "esp-integrity") : NULL))
            out->esp.integ |= ike_conf_integ_bit(ident(v));
    }
    if (!out->esp.encr) {
        out->esp.encr = IKE_EB_AES_GCM_128 | IKE_EB_AES_GCM_256 | IKE_EB_AES_CBC_128 | IKE_EB_AES_CBC_256 |
                        IKE_EB_CHACHA20_POLY1305;
        out->esp.integ = 1u << IKE_INTEG_HMAC_SHA2_256_128 | 1u << IKE_INTEG_HMAC_SHA1_96 |
                         1u << IKE_INTEG_HMAC_SHA2_384_192 | 1u << IKE_INTEG_HMAC_SHA2_512_256;
    }
    out->esp.esn = (v = ike_leaf(ip, "esn")) && !strcmp(v, "true");
    /* the profile's replay window, else the outside dataplane interface's */
    out->replay_window = 64;
    dpl = ike_find(c->tree, V "dataplane");
    if ((v = ike_leaf(ip, "replay-window"))) {
        out->replay_window = num(v, 64);
    } else {
        LY_LIST_FOR(dpl ? lyd_child(dpl) : NULL, itf) {
            const char *role = strcmp(itf->schema->name, "interface") ? NULL : ike_leaf(itf, "role");

            if (role && !strcmp(role, "outside") && (v = ike_leaf(itf, "replay-window"))) {
                out->replay_window = num(v, 64);
                break;
            }
        }
    }
    out->soft_bytes = 4608000ULL * 1024 / 10 * 9;
    if ((v = ike_leaf(ip, "lifetime/soft/kilobytes")))
        out->soft_bytes = strtoull(v, NULL, 10) * 1024;
    else if ((v = ike_leaf(ip, "lifetime/hard/kilobytes")))
        out->soft_bytes = strtoull(v, NULL, 10) * 1024 / 10 * 9;
    /* the hard volume limit: the dataplane carries nothing past it (RFC 4301 4.4.2.1) */
    out->hard_bytes = 4608000ULL * 1024;
    if ((v = ike_leaf(ip, "lifetime/hard/kilobytes")))
        out->hard_bytes = strtoull(v, NULL, 10) * 1024;
    out->idle_time = num(ike_leaf(ip, "lifetime/idle-time"), 0);
    out->hard_packets = (v = ike_leaf(ip, "lifetime/hard/packets")) ? strtoull(v, NULL, 10) : 0;
    out->soft_packets = (v = ike_leaf(ip, "lifetime/soft/packets")) ? strtoull(v, NULL, 10)
                        : out->hard_packets > 1
                            ? out->hard_packets - (out->hard_packets >= 10 ? out->hard_packets / 10 : 1)
                            : 0;
    out->pfs_group = (v = ike_leaf(ip, "pfs-group")) ? ike_conf_group_id(ident(v)) : 0;
    out->lifetime = num(ike_leaf(ip, "lifetime/hard/time"), 3600);
    out->soft_time = num(ike_leaf(ip, "lifetime/soft/time"), 0);
    out->flow_limit = num(ike_leaf(ip, "flow-limit"), UINT32_MAX);
}

static bool compile_ipsecs(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct lyd_node *top = ike_find(c->tree, V "ipsec"), *ip;
    size_t n = count(top, "profile");

    ipsec_prof(c, NULL, &c->ipsec_default);
    if (!n)
        return true;
    c->ipsecs = alloc(n, sizeof(*c->ipsecs));
    if (!c->ipsecs)
        return nomem(err, arg, top);
    LY_LIST_FOR(lyd_child(top), ip) {
        if (!strcmp(ip->schema->name, "profile") && ike_leaf(ip, "name"))
            ipsec_prof(c, ip, &c->ipsecs[c->nipsecs++]);
    }
    qsort(c->ipsecs, c->nipsecs, sizeof(*c->ipsecs), by_name);
    return true;
}

/* The IPsec profile of IKEv2 profile @prof: the virtual template's, else the
 * first (in configuration order) that names this profile, else the defaults. */
static const struct ike_ipsec_prof *prof_ipsec(const struct ike_conf *c, const struct lyd_node *prof)
{
    const char *n = ike_leaf(prof, "virtual-template/ipsec-profile"), *pn = ike_leaf(prof, "name");
    const struct lyd_node *top = ike_find(c->tree, V "ipsec"), *ip;
    const struct ike_ipsec_prof *found = NULL;

    if (n) {
        found = find_named(c->ipsecs, c->nipsecs, sizeof(*c->ipsecs), n);
        return found ? found : &c->ipsec_default;
    }
    LY_LIST_FOR(top ? lyd_child(top) : NULL, ip) {
        const char *ref = strcmp(ip->schema->name, "profile") ? NULL : ike_leaf(ip, "ikev2-profile");

        if (ref && pn && !strcmp(ref, pn)) {
            found = find_named(c->ipsecs, c->nipsecs, sizeof(*c->ipsecs), ike_leaf(ip, "name"));
            break;
        }
    }
    return found ? found : &c->ipsec_default;
}

/* ---- profiles ---- */

static const char *const method_names[IKE_M_N] = {[IKE_M_PSK] = "psk", [IKE_M_CERT] = "cert", [IKE_M_EAP] = "eap"};

enum ike_method ike_method_index(const char *name)
{
    for (int i = 0; name && i < IKE_M_N; i++) {
        if (!strcmp(method_names[i], name))
            return (enum ike_method)i;
    }
    return IKE_M_N;
}

/* An authorization source (a user or group container of a profile, or its
 * keyring aaa): its settings and what its method list is made of. A
 * non-presence container libyang made because its parent exists (empty, a
 * default node) is no source: without any, the policy named "default"
 * applies. */
static void authz_src(const struct ike_conf *c, const struct lyd_node *src, struct ike_authz_src *out)
{
    const struct lyd_node *l, *m;
    const struct lyd_node *first = NULL;
    unsigned best = ~0u;

    if (!src || (src->flags & LYD_DEFAULT))
        return;
    out->set = true;
    out->method_list = ike_leaf(src, "method-list");
    out->username = ike_leaf(src, "username");
    out->mangler = mangler(c, ike_leaf(src, "name-mangler"));
    out->cached = ike_find(src, "cached") != NULL;
    out->override = ike_find(src, "override") != NULL;
    l = out->method_list ? ike_find(c->tree, V "aaa/authorization-list[name='%s']", out->method_list) : NULL;
    LY_LIST_FOR(l ? lyd_child(l) : NULL, m) {
        const char *seq = strcmp(m->schema->name, "method") ? NULL : ike_leaf(m, "sequence");

        if (seq && (unsigned)atoi(seq) < best) {
            best = (unsigned)atoi(seq);
            first = m;
        }
        if (!strcmp(m->schema->name, "method") && ike_find(m, "local"))
            out->list_local = true;
    }
    out->list_radius = first && ike_find(first, "group");
}

/* match: fvrf, local-address, local-interface, identity remote and
 * certificate-map. */
static bool prof_match(const struct ike_conf *c, const struct lyd_node *p, struct ike_prof *pr)
{
    const struct lyd_node *m = ike_find(p, "match"), *rem = ike_find(p, "match/identity/remote"), *ch, *g;

    pr->fvrf = ike_leaf(p, "match/fvrf");
    pr->local_addrs = alloc(count(m, "local-address"), sizeof(*pr->local_addrs));
    pr->local_ifs = alloc(count(m, "local-interface"), sizeof(*pr->local_ifs));
    pr->maps = alloc(count(m, "certificate-map"), sizeof(*pr->maps));
    pr->remote = alloc(count(rem, "address") + count(rem, "key-id") + count(ike_find(rem, "fqdn"), "exact") +
                           count(ike_find(rem, "fqdn"), "domain") + count(ike_find(rem, "email"), "exact") +
                           count(ike_find(rem, "email"), "domain"),
                       sizeof(*pr->remote));
    if (!pr->local_addrs || !pr->local_ifs || !pr->maps || !pr->remote)
        return false;
    LY_LIST_FOR(m ? lyd_child(m) : NULL, ch) {
        const char *n = ch->schema->name, *v = lyd_get_value(ch);
        const struct ike_certmap *cm;

        if (!strcmp(n, "local-address")) /* an unparseable one (family 0) matches no address */
            parse_range(v, false, &pr->local_addrs[pr->nlocal_addrs++]);
        else if (!strcmp(n, "local-interface"))
            snprintf(pr->local_ifs[pr->nlocal_ifs++], IF_NAMESIZE, "%s", v);
        else if (!strcmp(n, "certificate-map") &&
                 (cm = find_named(c->certmaps, c->ncertmaps, sizeof(*c->certmaps), v)))
            pr->maps[pr->nmaps++] = cm;
    }
    LY_LIST_FOR(rem ? lyd_child(rem) : NULL, ch) {
        const char *n = ch->schema->name;
        bool email = !strcmp(n, "email");

        if (!strcmp(n, "address")) {
            struct ike_idm *r = &pr->remote[pr->nremote++];

            r->kind = IKE_IDM_ADDRESS;
            r->value = lyd_get_value(ch);
            parse_range(r->value, true, &r->r);
        } else if (!strcmp(n, "key-id")) {
            pr->remote[pr->nremote++] = (struct ike_idm){.kind = IKE_IDM_KEY_ID, .value = lyd_get_value(ch)};
        } else if (email || !strcmp(n, "fqdn")) {
            LY_LIST_FOR(lyd_child(ch), g) {
                bool exact = !strcmp(g->schema->name, "exact");

                if (!exact && strcmp(g->schema->name, "domain"))
                    continue;
                pr->remote[pr->nremote++] = (struct ike_idm){
                    .kind = email ? (exact ? IKE_IDM_EMAIL : IKE_IDM_EMAIL_DOMAIN)
                                  : (exact ? IKE_IDM_FQDN : IKE_IDM_FQDN_DOMAIN),
                    .value = lyd_get_value(g)};
            }
        }
    }
    return true;
}

/* identity local, authentication, keyring and pki trustpoints. */
static bool prof_auth(const struct ike_conf *c, const struct lyd_node *p, struct ike_prof *pr)
{
    const struct lyd_node *pk = ike_find(p, "pki"), *t;
    const char *v = NULL;

    if (ike_find(p, "identity/local/dn")) {
        pr->local_id_type = ID_DER_DN;
    } else if ((v = ike_leaf(p, "identity/local/fqdn"))) {
        pr->local_id_type = ID_FQDN;
    } else if ((v = ike_leaf(p, "identity/local/email"))) {
        pr->local_id_type = ID_RFC822;
    } else if ((v = ike_leaf(p, "identity/local/key-id"))) {
        pr->local_id_type = ID_KEY_ID;
    } else if ((v = ike_leaf(p, "identity/local/address"))) {
        bool v6 = strchr(v, ':') != NULL;

        if (inet_pton(v6 ? AF_INET6 : AF_INET, v, pr->local_id_raw) == 1)
            pr->local_id_type = v6 ? ID_IPV6 : ID_IPV4;
    }
    pr->local_id = pr->local_id_type && pr->local_id_type != ID_DER_DN ? v : NULL;
    pr->local_psk = ike_find(p, "authentication/local/pre-share") != NULL;
    pr->local_rsa = ike_find(p, "authentication/local/rsa-sig") != NULL;
    pr->local_ecdsa = ike_find(p, "authentication/local/ecdsa-sig") != NULL;
    pr->local_rsa_pss = (v = ike_leaf(p, "authentication/local/rsa-signature-scheme")) && !strcmp(v, "pss");
    pr->local_key = ike_leaf(p, "authentication/local/pre-share/key");
    pr->remote_psk = ike_find(p, "authentication/remote/pre-share") != NULL;
    pr->remote_rsa = ike_find(p, "authentication/remote/rsa-sig") != NULL;
    pr->remote_ecdsa = ike_find(p, "authentication/remote/ecdsa-sig") != NULL;
    pr->remote_eap = ike_find(p, "authentication/remote/eap") != NULL;
    pr->remote_key = ike_leaf(p, "authentication/remote/pre-share/key");
    pr->eap_query_identity = (v = ike_leaf(p, "authentication/remote/eap/query-identity")) && !strcmp(v, "true");
    pr->eap_timeout = (v = ike_leaf(p, "authentication/remote/eap/timeout")) ? (uint16_t)atoi(v) : 90;
    pr->keyring = find_named(c->keyrings, c->nkeyrings, sizeof(*c->keyrings), ike_leaf(p, "keyring/local"));
    authz_src(c, ike_find(p, "keyring/aaa"), &pr->keyring_aaa);
    pr->tps = alloc(count(pk, "trustpoint"), sizeof(*pr->tps));
    if (!pr->tps)
        return false;
    LY_LIST_FOR(pk ? lyd_child(pk) : NULL, t) {
        const char *u = ike_leaf(t, "usage");
        struct pki_tp *tp = strcmp(t->schema->name, "trustpoint") ? NULL : ike_conf_tp(c, ike_leaf(t, "name"));

        if (tp)
            pr->tps[pr->ntps++] = (struct ike_prof_tp){
                .tp = tp,
                .usage = !u || !strcmp(u, "both") ? IKE_TP_BOTH : !strcmp(u, "sign") ? IKE_TP_SIGN : IKE_TP_VERIFY};
    }
    return true;
}

/* aaa, config-exchange, dpd, lifetime, the IPsec profile and ivrf. */
static void prof_session(const struct ike_conf *c, const struct lyd_node *p, struct ike_prof *pr)
{
    const char *v;

    static const char *const acct[IKE_M_N] = {[IKE_M_PSK] = "aaa/accounting/psk", [IKE_M_CERT] = "aaa/accounting/cert",
                                              [IKE_M_EAP] = "aaa/accounting/eap"};

    pr->eap_list = ike_leaf(p, "aaa/authentication/eap");
    for (int i = 0; i < IKE_M_N; i++) {
        authz_src(c, ike_find(p, "aaa/authorization/user/%s", method_names[i]), &pr->authz_user[i]);
        authz_src(c, ike_find(p, "aaa/authorization/group/%s", method_names[i]), &pr->authz_group[i]);
        pr->acct_list[i] = ike_leaf(p, acct[i]);
    }
    pr->cfg_request = not_false(ike_leaf(p, "config-exchange/request"));
    pr->cfg_set_accept = not_false(ike_leaf(p, "config-exchange/set/accept"));
    pr->cfg_set_send = not_false(ike_leaf(p, "config-exchange/set/send"));
    pr->dpd_retry = 2;
    if ((v = ike_leaf(p, "dpd/interval"))) {
        pr->dpd_interval = (uint16_t)atoi(v);
        pr->dpd_retry = (v = ike_leaf(p, "dpd/retry")) ? (uint16_t)atoi(v) : 2;
        pr->dpd_periodic = (v = ike_leaf(p, "dpd/mode")) && !strcmp(v, "periodic");
    }
    pr->lifetime = num(ike_leaf(p, "lifetime"), 86400);
    pr->mobike = not_false(ike_leaf(p, "mobike/enabled"));
    pr->mobike_rr = (v = ike_leaf(p, "mobike/return-routability-check")) && !strcmp(v, "true");
    pr->ipsec = prof_ipsec(c, p);
    pr->ivrf = ike_leaf(p, "ivrf");
}

/* ppk: the policy, the RADIUS list for PPKs the configuration lacks
 * (ike_ppk.c; only with a policy) and the PPK_IDs the profile's clients may
 * name (ppk/id; none listed: any). */
static bool prof_ppk(const struct lyd_node *p, struct ike_prof *pr)
{
    const struct lyd_node *pk = ike_find(p, "ppk"), *n;

    pr->ppk = ike_ppk_policy_of(ike_leaf(p, "ppk/policy"));
    pr->ppk_aaa_list = pr->ppk != IKE_PPK_NONE ? ike_leaf(p, "ppk/aaa-authorization-list") : NULL;
    if (!(pr->ppk_ids = alloc(count(pk, "id"), sizeof(*pr->ppk_ids))))
        return false;
    LY_LIST_FOR(pk ? lyd_child(pk) : NULL, n) {
        if (!strcmp(n->schema->name, "id"))
            pr->ppk_ids[pr->nppk_ids++] = lyd_get_value(n);
    }
    return true;
}

static bool compile_profs(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct lyd_node *top = ike_find(c->tree, V "ikev2"), *p;
    size_t n = count(top, "profile");

    if (!n)
        return true;
    c->profs = alloc(n, sizeof(*c->profs));
    if (!c->profs)
        return nomem(err, arg, top);
    LY_LIST_FOR(lyd_child(top), p) {
        struct ike_prof *pr;

        if (strcmp(p->schema->name, "profile") || !ike_leaf(p, "name"))
            continue;
        pr = &c->profs[c->nprofs++];
        pr->name = ike_leaf(p, "name");
        if (!prof_match(c, p, pr) || !prof_auth(c, p, pr) || !prof_ppk(p, pr))
            return nomem(err, arg, p);
        prof_session(c, p, pr);
    }
    return true;
}

const struct ike_prof *ike_conf_prof(const struct ike_conf *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->nprofs; i++) {
        if (!strcmp(c->profs[i].name, name))
            return &c->profs[i];
    }
    return NULL;
}

/* ---- pools' addresses ---- */

/* Every IPv4 pool range and IPv6 pool prefix (a client's subnet must overlap
 * none of them: ike_route.c). Unparseable ones are left out. */
static bool compile_pool_ranges(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct lyd_node *top = ike_find(c->src, V "pools"), *p, *r;
    size_t n;

    if (c->pool_patch) /* some IPv4 pools changed: built with the patch */
        return true;
    if (c->pools_moved) { /* no pool changed: the previous generation's, copied */
        if (!c->prev->npool_ranges)
            return true;
        if (!(c->pool_ranges = alloc(c->prev->npool_ranges, sizeof(*c->pool_ranges))))
            return nomem(err, arg, top);
        memcpy(c->pool_ranges, c->prev->pool_ranges, c->prev->npool_ranges * sizeof(*c->pool_ranges));
        c->npool_ranges = c->prev->npool_ranges;
        return true;
    }
    n = count(top, "ipv6-pool");

    LY_LIST_FOR(top ? lyd_child(top) : NULL, p) {
        if (!strcmp(p->schema->name, "ipv4-pool"))
            n += count(p, "range");
    }
    if (!n)
        return true;
    c->pool_ranges = alloc(n, sizeof(*c->pool_ranges));
    if (!c->pool_ranges)
        return nomem(err, arg, top);
    LY_LIST_FOR(lyd_child(top), p) {
        const char *a;

        if (!strcmp(p->schema->name, "ipv6-pool")) {
            struct ike_range *x = &c->pool_ranges[c->npool_ranges];

            if ((a = ike_leaf(p, "prefix")) && parse_range(a, true, x) && x->family == AF_INET6)
                c->npool_ranges++;
            continue;
        }
        LY_LIST_FOR(strcmp(p->schema->name, "ipv4-pool") ? NULL : lyd_child(p), r) {
            struct ike_range *x = &c->pool_ranges[c->npool_ranges];
            const char *b = ike_leaf(r, "end");

            a = ike_leaf(r, "start");
            if (strcmp(r->schema->name, "range") || !a || !b || inet_pton(AF_INET, a, x->lo) != 1 ||
                inet_pton(AF_INET, b, x->hi) != 1)
                continue;
            x->family = AF_INET;
            x->plen = 0;
            c->npool_ranges++;
        }
    }
    memset(&c->pool_ranges[c->npool_ranges], 0, (n - c->npool_ranges) * sizeof(*c->pool_ranges));
    return true;
}

bool ike_prof_compile(struct ike_conf *c, ike_err_fn err, void *arg)
{
    return compile_certmaps(c, err, arg) && compile_manglers(c, err, arg) && compile_keyrings(c, err, arg) &&
           compile_ipsecs(c, err, arg) && compile_profs(c, err, arg) && compile_pool_ranges(c, err, arg);
}

void ike_prof_conf_free(struct ike_conf *c)
{
    for (size_t i = 0; i < c->nprofs; i++) {
        free(c->profs[i].local_addrs);
        free(c->profs[i].local_ifs);
        free(c->profs[i].remote);
        free(c->profs[i].maps);
        free(c->profs[i].tps);
        free(c->profs[i].ppk_ids);
    }
    free(c->profs);
    for (size_t i = 0; i < c->ncertmaps; i++) {
        for (size_t j = 0; j < c->certmaps[i].nentries; j++)
            cm_entry_free(&c->certmaps[i].entries[j]);
        free(c->certmaps[i].entries);
    }
    free(c->certmaps);
    for (size_t i = 0; i < c->nkeyrings; i++)
        free(c->keyrings[i].peers);
    free(c->keyrings);
    free(c->manglers);
    free(c->ipsecs);
    free(c->acls);
    free(c->pool_ranges);
}
