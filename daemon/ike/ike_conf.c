/* Compiling the configuration for the IKEv2 engine (ike_conf.h): one
 * generation, reference counted. What every packet needs (listen addresses,
 * limits, proposals) and what must be checked before a commit (algorithms,
 * trustpoints) is built here; the address book in ike_pool_conf.c, access
 * lists, profiles and what they refer to in ike_prof_conf.c, the authorization
 * policies in ike_authz_conf.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/x509v3.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/pki/pki.h"
#include "daemon/pool/pool.h"
#include "daemon/base/poison.h"

#define V "/raven-vpn:"

/* A relative path without predicates ("a/b/c") walked child by child: far cheaper
 * than compiling the path, and the exchanges look up many leaves per client. */
static const struct lyd_node *walk(const struct lyd_node *n, const char *path)
{
    while (n && *path) {
        const char *end = strchr(path, '/');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        const struct lyd_node *c;

        LY_LIST_FOR(lyd_child(n), c) {
            if (!strncmp(c->schema->name, path, len) && !c->schema->name[len])
                break;
        }
        n = c;
        path += len + (end ? 1 : 0);
    }
    return n;
}

static bool simple(const char *path)
{
    return path[0] != '/' && !strchr(path, '[') && !strchr(path, ':');
}

const char *ike_leaf(const struct lyd_node *n, const char *path)
{
    struct lyd_node *m = NULL;

    if (n && simple(path)) {
        const struct lyd_node *c = walk(n, path);

        return c && (c->schema->nodetype & (LYS_LEAF | LYS_LEAFLIST)) ? lyd_get_value(c) : NULL;
    }
    if (!n || lyd_find_path(n, path, 0, &m) || !m)
        return NULL;
    return lyd_get_value(m);
}

const struct lyd_node *ike_find(const struct lyd_node *tree, const char *fmt, ...)
{
    struct lyd_node *m = NULL;
    char path[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    if (!tree || n < 0 || (size_t)n >= sizeof(path))
        return NULL;
    if (simple(path))
        return walk(tree, path);
    if (lyd_find_path(tree, path, 0, &m))
        return NULL;
    return m;
}

static const char *ident(const struct lyd_node *n)
{
    const char *v = lyd_get_value(n), *c = strchr(v, ':');

    return c ? c + 1 : v;
}

uint32_t ike_conf_encr_bit(const char *name)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } map[] = {
        {"aes-cbc-128", IKE_EB_AES_CBC_128},     {"aes-cbc-192", IKE_EB_AES_CBC_192},
        {"aes-cbc-256", IKE_EB_AES_CBC_256},     {"aes-gcm-16-128", IKE_EB_AES_GCM_128},
        {"aes-gcm-16-256", IKE_EB_AES_GCM_256},  {"chacha20-poly1305", IKE_EB_CHACHA20_POLY1305},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (!strcmp(map[i].name, name))
            return map[i].bit;
    }
    return 0;
}

uint32_t ike_conf_integ_bit(const char *name)
{
    if (!strcmp(name, "hmac-sha1-96"))
        return 1u << IKE_INTEG_HMAC_SHA1_96;
    if (!strcmp(name, "hmac-sha2-256-128"))
        return 1u << IKE_INTEG_HMAC_SHA2_256_128;
    if (!strcmp(name, "hmac-sha2-384-192"))
        return 1u << IKE_INTEG_HMAC_SHA2_384_192;
    if (!strcmp(name, "hmac-sha2-512-256"))
        return 1u << IKE_INTEG_HMAC_SHA2_512_256;
    return 0;
}

static uint32_t prf_bit(const char *name)
{
    if (!strcmp(name, "prf-hmac-sha1"))
        return 1u << IKE_PRF_HMAC_SHA1;
    if (!strcmp(name, "prf-hmac-sha2-256"))
        return 1u << IKE_PRF_HMAC_SHA2_256;
    if (!strcmp(name, "prf-hmac-sha2-384"))
        return 1u << IKE_PRF_HMAC_SHA2_384;
    if (!strcmp(name, "prf-hmac-sha2-512"))
        return 1u << IKE_PRF_HMAC_SHA2_512;
    return 0;
}

static uint32_t group_bit(const char *name)
{
    static const struct {
        const char *name;
        int id;
    } map[] = {{"modp-1024", IKE_DH_MODP1024}, {"modp-2048", IKE_DH_MODP2048}, {"modp-3072", IKE_DH_MODP3072},
               {"modp-4096", IKE_DH_MODP4096}, {"ecp-256", IKE_DH_ECP256},     {"ecp-384", IKE_DH_ECP384},
               {"ecp-521", IKE_DH_ECP521},     {"curve25519", IKE_DH_CURVE25519}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (!strcmp(map[i].name, name))
            return 1u << map[i].id;
    }
    return 0;
}

uint16_t ike_conf_group_id(const char *name)
{
    uint32_t bit = group_bit(name);

    return bit ? (uint16_t)__builtin_ctz(bit) : 0;
}

void ike_errf(ike_err_fn err, void *arg, const struct lyd_node *at, const char *fmt, ...)
{
    char msg[512], *path = at ? lyd_path(at, LYD_PATH_STD, NULL, 0) : NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err)
        err(arg, path, msg);
    free(path);
}

static bool parse_addr(const char *s, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
        return true;
    }
    if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
        return true;
    }
    return false;
}

/* The algorithms of one proposal, added to @a; false (with an error) for an
 * algorithm this build does not implement. */
static bool proposal_algs(const struct lyd_node *prop, struct ike_algs *a, ike_err_fn err, void *arg)
{
    const struct lyd_node *c;
    uint32_t integ = 0;
    bool ok = true, prf = false;

    LY_LIST_FOR(lyd_child(prop), c) {
        const char *n = c->schema->name;
        uint32_t bit = 0;

        if (!strcmp(n, "encryption"))
            a->encr |= bit = ike_conf_encr_bit(ident(c));
        else if (!strcmp(n, "integrity"))
            integ |= bit = ike_conf_integ_bit(ident(c));
        else if (!strcmp(n, "prf") && (prf = true))
            a->prf |= bit = prf_bit(ident(c));
        else if (!strcmp(n, "group"))
            a->groups |= bit = group_bit(ident(c));
        else
            continue;
        if (!bit) {
            ike_errf(err, arg, c, "%s %s is not implemented by Raven; remove it from the proposal", n, ident(c));
            ok = false;
        }
    }
    a->integ |= integ;
    /* without prf, the PRF of each integrity algorithm (as the model says):
     * what a client offering e.g. AES-CBC/SHA1/MODP-1024 pairs with it */
    if (!prf) {
        static const struct {
            enum ike_integ integ;
            enum ike_prf prf;
        } pairs[] = {{IKE_INTEG_HMAC_SHA1_96, IKE_PRF_HMAC_SHA1},
                     {IKE_INTEG_HMAC_SHA2_256_128, IKE_PRF_HMAC_SHA2_256},
                     {IKE_INTEG_HMAC_SHA2_384_192, IKE_PRF_HMAC_SHA2_384},
                     {IKE_INTEG_HMAC_SHA2_512_256, IKE_PRF_HMAC_SHA2_512}};

        for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
            if (integ & 1u << pairs[i].integ)
                a->prf |= 1u << pairs[i].prf;
        }
    }
    return ok;
}

static bool build_policies(struct ike_conf *c, ike_err_fn err, void *arg)
{
    struct ly_set *set = NULL;
    bool ok = true;

    if (lyd_find_xpath(c->tree, V "ikev2/policy", &set))
        return true;
    c->policies = calloc(set->count ? set->count : 1, sizeof(*c->policies));
    if (!c->policies) {
        ly_set_free(set, NULL);
        ike_errf(err, arg, NULL, "out of memory");
        return false;
    }
    for (uint32_t i = 0; i < set->count; i++) {
        struct ike_policy *p = &c->policies[c->npolicies++];
        const struct lyd_node *ch;

        LY_LIST_FOR(lyd_child(set->dnodes[i]), ch) {
            if (!strcmp(ch->schema->name, "proposal")) {
                const struct lyd_node *prop = ike_find(c->tree, V "ikev2/proposal[name='%s']", lyd_get_value(ch));

                if (prop)
                    ok = proposal_algs(prop, &p->algs, err, arg) && ok;
            } else if (!strcmp(ch->schema->name, "match")) {
                const struct lyd_node *m;

                LY_LIST_FOR(lyd_child(ch), m) {
                    if (!strcmp(m->schema->name, "local-address") && p->naddr < 8)
                        parse_addr(lyd_get_value(m), 0, &p->addr[p->naddr++]);
                    else if (!strcmp(m->schema->name, "fvrf"))
                        p->fvrf = lyd_get_value(m);
                }
            }
        }
        if (!p->algs.encr)
            p->algs = ike_algs_default;
    }
    ly_set_free(set, NULL);
    return ok;
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

/* A match fvrf condition: absent is the default table, "any" every VRF. */
bool ike_conf_fvrf_matches(const char *want, const char *fvrf)
{
    if (!want)
        return !fvrf || !fvrf[0];
    return !strcmp(want, "any") || (fvrf && !strcmp(want, fvrf));
}

const struct ike_algs *ike_conf_algs(const struct ike_conf *c, const struct sockaddr_storage *local,
                                     const char *fvrf)
{
    const struct ike_algs *any = NULL, *vrf = NULL;

    for (size_t i = 0; c && i < c->npolicies; i++) {
        const struct ike_policy *p = &c->policies[i];

        if (!p->naddr && !p->fvrf && !any)
            any = &p->algs; /* no match statement: every request */
        if ((p->naddr || p->fvrf) && !ike_conf_fvrf_matches(p->fvrf, fvrf))
            continue;
        if (!p->naddr && p->fvrf && !vrf)
            vrf = &p->algs;
        for (size_t j = 0; j < p->naddr; j++) {
            if (same_ip(&p->addr[j], local))
                return &p->algs;
        }
    }
    return vrf ? vrf : any ? any : &ike_algs_default;
}

static bool check_transform_sets(const struct ike_conf *c, ike_err_fn err, void *arg)
{
    struct ly_set *set = NULL;
    bool ok = true;

    if (lyd_find_xpath(c->tree, V "ipsec/transform-set", &set))
        return true;
    for (uint32_t i = 0; i < set->count; i++) {
        const struct lyd_node *ch;

        LY_LIST_FOR(lyd_child(set->dnodes[i]), ch) {
            if (!strcmp(ch->schema->name, "esp-encryption") && !ike_conf_encr_bit(ident(ch))) {
                ike_errf(err, arg, ch, "ESP encryption %s is not implemented by Raven", ident(ch));
                ok = false;
            } else if (!strcmp(ch->schema->name, "esp-integrity") && !ike_conf_integ_bit(ident(ch))) {
                ike_errf(err, arg, ch, "ESP integrity %s is not implemented by Raven", ident(ch));
                ok = false;
            } else if (!strcmp(ch->schema->name, "mode") && strcmp(lyd_get_value(ch), "tunnel")) {
                ike_errf(err, arg, ch, "transport mode is not offered to remote-access clients; use tunnel");
                ok = false;
            }
        }
    }
    ly_set_free(set, NULL);
    return ok;
}

/* The CA among @tp's that issued @x (name, key identifier, key usage, and its
 * signature, so that of two CAs of one name in a rollover the right one is
 * taken) and that is not in @used yet; NULL if none. */
static X509 *chain_issuer(const struct pki_tp *tp, X509 *x, const bool *used, int *at)
{
    for (int i = 0; i < sk_X509_num(tp->cas); i++) {
        X509 *ca = sk_X509_value(tp->cas, i);

        if (!used[i] && ca != x && X509_check_issued(ca, x) == X509_V_OK &&
            X509_verify(x, X509_get0_pubkey(ca)) == 1) {
            *at = i;
            return ca;
        }
    }
    return NULL;
}

/* The chain we send after our certificate (pki.h chain_der): from its issuer
 * up through the trustpoint's CAs, whatever their order in the
 * configuration, stopping before a self-signed root (the client must have it
 * already; sending it would only make the message longer) or where the
 * trustpoint lacks the next issuer (what was found still helps). Built once
 * here so that no exchange builds chains. False when out of memory. */
static bool tp_chain(struct pki_tp *tp)
{
    int n = sk_X509_num(tp->cas), at;
    bool *used;
    X509 *x;

    if (!tp->cert || n <= 0)
        return true;
    used = calloc((size_t)n, sizeof(*used));
    tp->chain_der = calloc((size_t)n, sizeof(*tp->chain_der));
    tp->chain_der_len = calloc((size_t)n, sizeof(*tp->chain_der_len));
    if (!used || !tp->chain_der || !tp->chain_der_len) {
        free(used);
        return false;
    }
    for (x = tp->cert; (x = chain_issuer(tp, x, used, &at)) && X509_self_signed(x, 0) != 1;) {
        unsigned char *der = NULL;
        int len = i2d_X509(x, &der);

        used[at] = true;
        if (len <= 0 || !(tp->chain_der[tp->nchain] = malloc((size_t)len))) {
            OPENSSL_free(der);
            free(used);
            return false;
        }
        memcpy(tp->chain_der[tp->nchain], der, (size_t)len);
        tp->chain_der_len[tp->nchain++] = (size_t)len;
        OPENSSL_free(der);
    }
    free(used);
    return true;
}

static bool build_trustpoints(struct ike_conf *c, ike_err_fn err, void *arg)
{
    struct ly_set *set = NULL;
    bool ok = true;

    if (!c->tree || lyd_find_xpath(c->tree, V "pki/trustpoint", &set))
        return true;
    c->tps = calloc(set->count ? set->count : 1, sizeof(*c->tps));
    if (!c->tps) {
        ly_set_free(set, NULL);
        ike_errf(err, arg, NULL, "out of memory");
        return false;
    }
    for (uint32_t i = 0; i < set->count; i++) {
        const struct lyd_node *tn = set->dnodes[i], *ch;
        const char *cas[64], *crls[64], *urls[64], *rc = ike_leaf(tn, "revocation-check");
        size_t nca = 0, ncrl = 0, nurl = 0;
        char why[300];
        struct pki_tp *tp;

        LY_LIST_FOR(lyd_child(tn), ch) {
            if (!strcmp(ch->schema->name, "ca-certificate") && nca < 64)
                cas[nca++] = lyd_get_value(ch);
            else if (!strcmp(ch->schema->name, "crl") && ncrl < 64)
                crls[ncrl++] = lyd_get_value(ch);
            else if (!strcmp(ch->schema->name, "crl-url") && nurl < 64)
                urls[nurl++] = lyd_get_value(ch);
        }
        enum pki_rev rev = PKI_REV_CRL;
        const char *nonce = ike_leaf(tn, "ocsp-nonce");

        if (rc && !pki_rev_parse(rc, &rev)) {
            ike_errf(err, arg, tn, "trustpoint %s: revocation-check %s is not known", ike_leaf(tn, "name"), rc);
            ok = false;
            continue;
        }
        tp = pki_tp_new(ike_leaf(tn, "name"), cas, nca, ike_leaf(tn, "certificate"), ike_leaf(tn, "private-key"), crls,
                        ncrl, urls, nurl, rev, why, sizeof(why));
        /* OCSP: the configured responder (else each certificate's AIA), nonce
         * on unless set false; the chain we send */
        if (tp && (!pki_tp_set_ocsp(tp, ike_leaf(tn, "ocsp-url"), !nonce || strcmp(nonce, "false")) ||
                   !tp_chain(tp))) {
            pki_tp_free(tp);
            tp = NULL;
            snprintf(why, sizeof(why), "out of memory");
        }
        if (!tp) {
            ike_errf(err, arg, tn, "trustpoint %s: %s", ike_leaf(tn, "name"), why);
            ok = false;
            continue;
        }
        c->tps[c->ntps++] = tp;
        if (tp->nca) {
            uint8_t(*n)[20] = realloc(c->certreq, (c->ncertreq + tp->nca) * sizeof(*n));

            if (!n) {
                ike_errf(err, arg, tn, "out of memory");
                ok = false;
                continue;
            }
            c->certreq = n;
            memcpy(c->certreq + c->ncertreq, tp->ca_hashes, tp->nca * sizeof(*n));
            c->ncertreq += tp->nca;
        }
    }
    ly_set_free(set, NULL);
    return ok;
}

struct pki_tp *ike_conf_tp(const struct ike_conf *c, const char *name)
{
    for (size_t i = 0; name && i < c->ntps; i++) {
        if (!strcmp(c->tps[i]->name, name))
            return c->tps[i];
    }
    return NULL;
}

/* The front-door VRFs IKE listens in; more than it has sockets for would leave
 * the last ones deaf, so they are refused. */
static bool fvrfs(struct ike_conf *c, ike_err_fn err, void *arg)
{
    char names[IKE_MAX_FVRF + 1][16], msg[200];
    size_t n = ike_route_fvrfs(c->tree, names, IKE_MAX_FVRF + 1);

    c->nfvrf = n > IKE_MAX_FVRF ? IKE_MAX_FVRF : n;
    memcpy(c->fvrf, names, c->nfvrf * sizeof(names[0]));
    if (n <= IKE_MAX_FVRF)
        return true;
    snprintf(msg, sizeof(msg),
             "IKE listens in at most %d front-door VRFs, and the policies' and profiles' match fvrf name more (or "
             "'any' finds more VRF devices): name fewer VRFs",
             IKE_MAX_FVRF);
    if (err)
        err(arg, "/raven-vpn:ikev2", msg);
    return false;
}

enum ike_chg_rel ike_chg_relation(const char *p, const char *at, const char **rest)
{
    size_t la = strlen(at), lp = strlen(p);

    if (!strcmp(p, "/"))
        return IKE_CHG_ABOVE;
    if (!strncmp(p, at, la)) {
        if (!p[la])
            return IKE_CHG_ABOVE;
        if (p[la] == '/' || p[la] == '[') {
            if (rest)
                *rest = p + la;
            return IKE_CHG_BELOW;
        }
        return IKE_CHG_NONE;
    }
    return !strncmp(at, p, lp) && at[lp] == '/' ? IKE_CHG_ABOVE : IKE_CHG_NONE;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void ike_keys_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

bool ike_changed_keys(const struct ike_conf *c, const char *within, const char *list, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    for (size_t i = 0; c->prev && c->changed && i < c->nchanged; i++) {
        const char *rest, *v, *e;
        char **nn;

        if (ike_chg_relation(c->changed[i], within, NULL) == IKE_CHG_NONE)
            continue;
        if (ike_chg_relation(c->changed[i], list, &rest) != IKE_CHG_BELOW || strncmp(rest, "[name=", 6) ||
            (rest[6] != '\'' && rest[6] != '"'))
            goto all;
        v = rest + 7;
        if (!(e = strchr(v, rest[6])) || e[1] != ']' || !(nn = realloc(*names, (*n + 1) * sizeof(*nn))))
            goto all;
        *names = nn;
        if (!(nn[*n] = strndup(v, (size_t)(e - v))))
            goto all;
        ++*n;
    }
    if (!c->prev || !c->changed)
        return false;
    if (*n > 1)
        qsort(*names, *n, sizeof(**names), str_cmp);
    return true;
all:
    ike_keys_free(*names, *n);
    *names = NULL;
    *n = 0;
    return false;
}

bool ike_conf_touched(const struct ike_conf *c, const char *at)
{
    if (!c->prev || !c->changed)
        return true;
    for (size_t i = 0; i < c->nchanged; i++) {
        if (ike_chg_relation(c->changed[i], at, NULL) != IKE_CHG_NONE)
            return true;
    }
    return false;
}

/* A copy of the ikev2 container @n without its authorization policies' entries
 * (each has its own, ike_authz_conf.c): 10 000 of them are not copied again
 * when one pool changes. */
static int dup_ikev2(const struct lyd_node *n, struct lyd_node **dup)
{
    const struct lyd_node *ch;

    if (lyd_dup_single(n, NULL, LYD_DUP_WITH_FLAGS, dup))
        return -ENOMEM;
    LY_LIST_FOR(lyd_child(n), ch) {
        if (!strcmp(ch->schema->name, "authorization-policy"))
            continue;
        if (lyd_dup_single(ch, (struct lyd_node_inner *)*dup, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, NULL)) {
            lyd_free_tree(*dup);
            *dup = NULL;
            return -ENOMEM;
        }
    }
    return 0;
}

/* Generations built and not yet freed (ike_conf_alive). The engine runs in one
 * thread. */
static size_t alive;

static void conf_free(struct ike_conf *c);

struct ike_conf *ike_conf_build(const struct ly_ctx *ctx, const struct lyd_node *tree, ike_err_fn err, void *arg)
{
    return ike_conf_build_delta(ctx, tree, NULL, NULL, 0, err, arg);
}

struct ike_conf *ike_conf_build_delta(const struct ly_ctx *ctx, const struct lyd_node *tree,
                                      const struct ike_conf *prev, const char *const *changed, size_t nchanged,
                                      ike_err_fn err, void *arg)
{
    /* dataplane: the outside interface's replay window (IPsec profiles) */
    /* not pools: what is compiled from them owns its strings, and they are read
     * from @tree (c->src) while building: half of a large configuration, which a
     * copy would cost twice (built here, freed with the generation) */
    static const char *const parts[] = {"ikev2", "ipsec", "access-lists", "pki", "aaa", "dataplane"};
    struct ike_conf *c = calloc(1, sizeof(*c));
    const char *v;
    bool ok = true;

    if (!c) {
        ike_errf(err, arg, NULL, "out of memory");
        return NULL;
    }
    c->refs = 1;
    c->src = tree;
    c->prev = changed ? prev : NULL;
    c->changed = changed;
    c->nchanged = nchanged;
    alive++;
    for (size_t i = 0; tree && i < sizeof(parts) / sizeof(parts[0]); i++) {
        const struct lyd_node *n = ike_find(tree, V "%s", parts[i]);
        struct lyd_node *dup = NULL;

        if (!n)
            continue;
        if (!strcmp(parts[i], "ikev2") ? dup_ikev2(n, &dup) != 0
                                        : lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &dup) != 0) {
            ike_errf(err, arg, n, "out of memory");
            ok = false;
        } else if (!c->tree) {
            c->tree = dup;
        } else {
            lyd_insert_sibling(c->tree, dup, &c->tree);
        }
    }
    (void)ctx;
    v = ike_leaf(c->tree, V "ikev2/global/listen/port");
    c->port = v ? (uint16_t)atoi(v) : 500;
    v = ike_leaf(c->tree, V "ikev2/global/listen/nat-t-port");
    c->natt_port = v ? (uint16_t)atoi(v) : 4500;
    {
        struct ly_set *set = NULL;

        if (c->tree && !lyd_find_xpath(c->tree, V "ikev2/global/listen/address", &set)) {
            for (uint32_t i = 0; i < set->count && c->nlisten < IKE_MAX_LISTEN; i++)
                parse_addr(lyd_get_value(set->dnodes[i]), 0, &c->listen[c->nlisten++]);
            ly_set_free(set, NULL);
        }
    }
    v = ike_leaf(c->tree, V "ikev2/global/cookie-threshold");
    c->cookie_on = v != NULL;
    c->cookie_threshold = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    v = ike_leaf(c->tree, V "ikev2/global/limit/max-sa");
    c->max_sa = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    v = ike_leaf(c->tree, V "ikev2/global/limit/max-in-negotiation-sa");
    c->max_half_open = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    v = ike_leaf(c->tree, V "ikev2/global/limit/max-sessions-per-user");
    c->max_per_user = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    v = ike_leaf(c->tree, V "ikev2/global/limit/per-user-action");
    c->per_user_replace = v && !strcmp(v, "replace-oldest");
    c->redirect_gw = ike_leaf(c->tree, V "ikev2/global/redirect/gateway");
    v = ike_leaf(c->tree, V "ikev2/global/redirect/above-sessions");
    c->redirect_above = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    if (c->redirect_gw) {
        uint8_t gw[2 + IKE_GW_MAX];

        if (!ike_redirect_gw(c->redirect_gw, gw)) {
            ike_errf(err, arg, ike_find(c->tree, V "ikev2/global/redirect/gateway"),
                     "redirect gateway \"%s\" is neither an IP address nor a host name a REDIRECT can carry",
                     c->redirect_gw);
            ok = false;
        }
    }
    v = ike_leaf(c->tree, V "ikev2/global/fragmentation/enabled");
    c->frag = !v || !strcmp(v, "true");
    v = ike_leaf(c->tree, V "ikev2/global/nat-keepalive");
    c->nat_keepalive = v ? (uint16_t)atoi(v) : 0;
    v = ike_leaf(c->tree, V "ikev2/global/fragmentation/mtu");
    c->frag_mtu = v ? (uint16_t)atoi(v) : 1280;
    v = ike_leaf(c->tree, V "pki/expiry-warning-days");
    c->cert_warn_days = v ? (unsigned)atoi(v) : 30;
    v = tree ? ike_leaf(tree, V "pools/usage-alarm-threshold") : NULL;
    c->pool_alarm_pct = v ? (unsigned)atoi(v) : 90;
    ok = build_policies(c, err, arg) && ok;
    ok = ike_pools_compile(c, err, arg) && ok;
    ok = check_transform_sets(c, err, arg) && ok;
    ok = ike_acl_compile(c, err, arg) && ok;
    ok = ike_authz_compile(c, err, arg) && ok;
    ok = build_trustpoints(c, err, arg) && ok;
    ok = ike_prof_compile(c, err, arg) && ok;
    ok = ike_ppk_compile(c, err, arg) && ok;
    ok = ike_route_check(c->tree, err, arg) && ok;
    ok = fvrfs(c, err, arg) && ok;
    c->src = NULL;
    c->prev = NULL;
    c->changed = NULL;
    c->nchanged = 0;
    if (!ok) {
        conf_free(c);
        return NULL;
    }
    ike_certcheck_build(c);
    return c;
}

struct ike_conf *ike_conf_ref(struct ike_conf *c)
{
    if (c)
        c->refs++;
    return c;
}

void ike_conf_unref(struct ike_conf *c)
{
    if (c && !--c->refs)
        conf_free(c);
}

/* Generations whose last reference went with ike_conf_unref_later, freed by
 * the next turn of the control thread's loop (linked through trash_next). */
static struct ike_conf *trash;

static void empty_trash(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    ike_conf_flush();
}

void ike_conf_unref_later(struct ike_conf *c, struct event_base *base)
{
    bool armed = trash != NULL;

    if (!c || --c->refs)
        return;
    c->trash_next = trash;
    trash = c;
    if (!armed && (!base || event_base_once(base, -1, EV_TIMEOUT, empty_trash, NULL, &(struct timeval){0})))
        ike_conf_flush();
}

void ike_conf_flush(void)
{
    while (trash) {
        struct ike_conf *c = trash;

        trash = c->trash_next;
        conf_free(c);
    }
}

size_t ike_conf_alive(void)
{
    return alive;
}

/* The pool sets may be NULL: moved on at apply (ike_conf.h). */
static void conf_free(struct ike_conf *c)
{
    ike_prof_conf_free(c);
    ike_ppk_conf_free(c);
    lyd_free_siblings(c->tree);
    free(c->policies);
    pool_set_free(c->pools);
    pool_set_free(c->pools6);
    pool_patch_free(c->pool_patch);
    for (size_t i = 0; i < c->ntps; i++)
        pki_tp_free(c->tps[i]);
    free(c->tps);
    free(c->certreq);
    ike_authz_conf_free(c);
    free(c->cert_warns);
    free(c);
    alive--;
}
