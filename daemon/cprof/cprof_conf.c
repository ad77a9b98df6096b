/* What the running configuration says about one IKEv2 profile for its client
 * profiles (rpc client-profile): the address clients dial, the IKE proposals of
 * the policy that serves that address, the ESP transforms of the profile's IPsec
 * profile, the headend's identity, the accepted client authentication and the
 * chain of CAs from the one that signed the headend's certificate to its root. The choices mirror those the engine
 * compiles (daemon/ike/ike_conf.c, ike_prof_conf.c), so that a client configured
 * from the file offers what the headend accepts. */
#include <errno.h>
#include <libyang/libyang.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cprof/cprof_int.h"
#include "daemon/base/poison.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- tree walking: by schema name, never an XPath built from the request ---- */

const struct lyd_node *cprof_child(const struct lyd_node *n, const char *name)
{
    const struct lyd_node *ch;

    LY_LIST_FOR(n ? lyd_child(n) : NULL, ch) {
        if (!strcmp(ch->schema->name, name))
            return ch;
    }
    return NULL;
}

/* A descendant by a path of schema names ("a/b/c"). */
const struct lyd_node *cprof_path(const struct lyd_node *n, const char *p)
{
    char seg[64];

    while (n && *p) {
        size_t len = strcspn(p, "/");

        if (len >= sizeof(seg))
            return NULL;
        memcpy(seg, p, len);
        seg[len] = '\0';
        n = cprof_child(n, seg);
        p += len + (p[len] == '/');
    }
    return n;
}

const char *cprof_leaf(const struct lyd_node *n, const char *p)
{
    const struct lyd_node *l = cprof_path(n, p);

    return l && (l->schema->nodetype & (LYS_LEAF | LYS_LEAFLIST)) ? lyd_get_value(l) : NULL;
}

const struct lyd_node *cprof_top(const struct lyd_node *tree, const char *name)
{
    const struct lyd_node *n;

    LY_LIST_FOR(tree ? lyd_first_sibling(tree) : NULL, n) {
        if (!strcmp(n->schema->name, name) && !strcmp(n->schema->module->name, "raven-vpn"))
            return n;
    }
    return NULL;
}

/* The entry of list @list under @parent whose key leaf "name" is @name. */
const struct lyd_node *cprof_entry(const struct lyd_node *parent, const char *list, const char *name)
{
    const struct lyd_node *ch;
    const char *v;

    LY_LIST_FOR(parent ? lyd_child(parent) : NULL, ch) {
        if (!strcmp(ch->schema->name, list) && (v = cprof_leaf(ch, "name")) && !strcmp(v, name))
            return ch;
    }
    return NULL;
}

/* An identity's name without its module prefix. */
const char *cprof_ident(const char *v)
{
    const char *c = v ? strchr(v, ':') : NULL;

    return c ? c + 1 : v;
}

static void algs_add(struct cprof_algs *a, const char *v)
{
    if (v && a->n < CPROF_MAX_ALGS)
        a->v[a->n++] = cprof_ident(v);
}

/* ---- IKE proposals ---- */

/* The built-in default of a configuration without IKE policies (raven-vpn.yang,
 * list policy). */
static void ike_default(struct cprof *c)
{
    static const char *const prf[] = {"prf-hmac-sha2-512", "prf-hmac-sha2-384", "prf-hmac-sha2-256"};
    static const char *const grp[] = {"curve25519", "ecp-256", "ecp-384", "ecp-521", "modp-3072", "modp-2048"};
    static const char *const integ[] = {"hmac-sha2-512-256", "hmac-sha2-384-192", "hmac-sha2-256-128"};
    struct cprof_ike *aead = &c->ike[0], *cbc = &c->ike[1];

    memset(c->ike, 0, 2 * sizeof(c->ike[0]));
    algs_add(&aead->enc, "aes-gcm-16-256");
    algs_add(&aead->enc, "aes-gcm-16-128");
    algs_add(&aead->enc, "chacha20-poly1305");
    algs_add(&cbc->enc, "aes-cbc-256");
    algs_add(&cbc->enc, "aes-cbc-128");
    for (size_t i = 0; i < 3; i++) {
        algs_add(&aead->prf, prf[i]);
        algs_add(&cbc->prf, prf[i]);
        algs_add(&cbc->integ, integ[i]);
    }
    for (size_t i = 0; i < 6; i++) {
        algs_add(&aead->group, grp[i]);
        algs_add(&cbc->group, grp[i]);
    }
    c->nike = 2;
}

/* The policy that serves IKE_SA_INIT requests sent to @server: one whose match
 * local-address names it, else one without match statements, else the first
 * (the engine prefers the most specific; a client dialling a name reaches one of
 * the listen addresses, which the operator states with server-address). */
static const struct lyd_node *ike_policy(const struct lyd_node *ikev2, const char *server)
{
    const struct lyd_node *p, *m, *a, *plain = NULL, *first = NULL;

    LY_LIST_FOR(ikev2 ? lyd_child(ikev2) : NULL, p) {
        if (strcmp(p->schema->name, "policy"))
            continue;
        first = first ? first : p;
        m = cprof_child(p, "match");
        if (!m || !lyd_child(m))
            plain = plain ? plain : p;
        LY_LIST_FOR(m ? lyd_child(m) : NULL, a) {
            if (!strcmp(a->schema->name, "local-address") && !strcmp(lyd_get_value(a), server))
                return p;
        }
    }
    return plain ? plain : first;
}

static void ike_proposals(struct cprof *c, const struct lyd_node *ikev2)
{
    const struct lyd_node *pol = ike_policy(ikev2, c->server), *ref, *prop, *a;

    if (!pol) {
        ike_default(c);
        return;
    }
    LY_LIST_FOR(lyd_child(pol), ref) {
        if (strcmp(ref->schema->name, "proposal") || c->nike == CPROF_MAX_PROPS)
            continue;
        if (!(prop = cprof_entry(ikev2, "proposal", lyd_get_value(ref))))
            continue;
        struct cprof_ike *k = &c->ike[c->nike++];

        memset(k, 0, sizeof(*k));
        LY_LIST_FOR(lyd_child(prop), a) {
            const char *n = a->schema->name;

            if (!strcmp(n, "encryption"))
                algs_add(&k->enc, lyd_get_value(a));
            else if (!strcmp(n, "integrity"))
                algs_add(&k->integ, lyd_get_value(a));
            else if (!strcmp(n, "prf"))
                algs_add(&k->prf, lyd_get_value(a));
            else if (!strcmp(n, "group"))
                algs_add(&k->group, lyd_get_value(a));
        }
    }
}

/* ---- ESP transforms: the IPsec profile the engine gives the profile's sessions ---- */

static void esp_default(struct cprof *c)
{
    static const struct cprof_esp def[] = {
        {"aes-gcm-16-256", NULL},
        {"aes-gcm-16-128", NULL},
        {"chacha20-poly1305", NULL},
        {"aes-cbc-256", "hmac-sha2-256-128"},
        {"aes-cbc-128", "hmac-sha2-256-128"},
        {"aes-cbc-256", "hmac-sha2-384-192"},
        {"aes-cbc-256", "hmac-sha2-512-256"},
        {"aes-cbc-256", "hmac-sha1-96"},
        {"aes-cbc-128", "hmac-sha1-96"},
    };

    memcpy(c->esp, def, sizeof(def));
    c->nesp = sizeof(def) / sizeof(def[0]);
}

static void esp_transforms(struct cprof *c, const struct lyd_node *prof, const struct lyd_node *ipsec)
{
    const char *name = cprof_leaf(prof, "virtual-template/ipsec-profile"), *pn = cprof_leaf(prof, "name"), *ref;
    const struct lyd_node *ip = NULL, *n, *ts;

    if (name) {
        ip = cprof_entry(ipsec, "profile", name);
    } else {
        LY_LIST_FOR(ipsec ? lyd_child(ipsec) : NULL, n) {
            if (!strcmp(n->schema->name, "profile") && (ref = cprof_leaf(n, "ikev2-profile")) && !strcmp(ref, pn)) {
                ip = n;
                break;
            }
        }
    }
    c->pfs = cprof_ident(cprof_leaf(ip, "pfs-group"));
    LY_LIST_FOR(ip ? lyd_child(ip) : NULL, n) {
        if (strcmp(n->schema->name, "transform-set") || c->nesp == CPROF_MAX_ESP)
            continue;
        if ((ts = cprof_entry(ipsec, "transform-set", lyd_get_value(n))) && cprof_leaf(ts, "esp-encryption"))
            c->esp[c->nesp++] = (struct cprof_esp){cprof_ident(cprof_leaf(ts, "esp-encryption")),
                                                   cprof_ident(cprof_leaf(ts, "esp-integrity"))};
    }
    if (!c->nesp)
        esp_default(c);
}

/* ---- the headend's certificate, its CA and its identity ---- */

static X509 *pem_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    return x;
}

static char *name_str(const X509_NAME *nm)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL, *s = NULL;
    long len;

    /* "C=CH, O=Org, CN=host": the form strongSwan and Apple read as a DN */
    if (b && X509_NAME_print_ex(b, nm, 0, XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
        (len = BIO_get_mem_data(b, &p)) > 0)
        s = strndup(p, (size_t)len);
    BIO_free(b);
    return s;
}

static char *common_name(const X509_NAME *nm)
{
    int i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
    const ASN1_STRING *d = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i)) : NULL;
    unsigned char *u = NULL;
    char *s = NULL;

    if (d && ASN1_STRING_to_UTF8(&u, d) >= 0) {
        s = strdup((char *)u);
        OPENSSL_free(u);
    }
    return s;
}

static char *pem_str(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL, *s = NULL;
    long len;

    if (b && PEM_write_bio_X509(b, x) == 1 && (len = BIO_get_mem_data(b, &p)) > 0)
        s = strndup(p, (size_t)len);
    BIO_free(b);
    return s;
}

/* The CA among @cas that issued @x (name, key identifier, key usage), or -1. */
static int issuer_of(X509 *x, X509 *const *cas, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (cas[i] != x && X509_check_issued(cas[i], x) == X509_V_OK)
            return (int)i;
    }
    return -1;
}

/* The chain from the headend's certificate @cert up through @cas into c->ca:
 * its issuer (else the first CA, the issuing one by the model's order), then
 * each one's issuer up to a self-signed root. A device must trust the root,
 * not an intermediate: an intermediate installed as a root would make the
 * device trust whatever it issues without its own issuer's constraints. */
static int ca_chain(struct cprof *c, X509 *cert, X509 *const *cas, size_t n)
{
    int at = issuer_of(cert, cas, n), len;
    size_t used[CPROF_MAX_CHAIN];

    at = at < 0 ? 0 : at;
    while (c->nca < CPROF_MAX_CHAIN) {
        X509 *x = cas[at];
        struct cprof_ca *ca = &c->ca[c->nca];

        used[c->nca++] = (size_t)at;
        if ((len = i2d_X509(x, &ca->der)) <= 0 || !(ca->pem = pem_str(x)))
            return -ENOMEM;
        ca->len = (size_t)len;
        ca->cn = common_name(X509_get_subject_name(x));
        if (X509_self_signed(x, 0) == 1) {
            c->ca_rooted = true;
            break;
        }
        /* its issuer, unless the trustpoint lacks it (or a loop) */
        if ((at = issuer_of(x, cas, n)) < 0)
            break;
        for (size_t i = 0; i < c->nca && at >= 0; i++)
            at = used[i] == (size_t)at ? -1 : at;
        if (at < 0)
            break;
    }
    return 0;
}

/* The signing trustpoint of the profile, its CA chain and the headend's
 * identity. */
static int ca_and_identity(struct cprof *c, const struct lyd_node *prof, const struct lyd_node *pki, char *err,
                           size_t errlen)
{
    const struct lyd_node *t, *tp = NULL, *n;
    const char *usage, *tname = NULL, *cert_pem;
    X509 *cert = NULL, *cas[32], *x;
    size_t ncas = 0;
    int rc = -EINVAL;

    LY_LIST_FOR(lyd_child(cprof_child(prof, "pki")), t) {
        usage = cprof_leaf(t, "usage");
        if (strcmp(t->schema->name, "trustpoint") || (usage && !strcmp(usage, "verify")))
            continue;
        tname = cprof_leaf(t, "name");
        tp = cprof_entry(pki, "trustpoint", tname);
        break;
    }
    if (!tp || !(cert_pem = cprof_leaf(tp, "certificate")))
        return fail(err, errlen, -EINVAL,
                    "profile %s has no signing trustpoint with a certificate: client profiles need the CA "
                    "that signed the headend's certificate (set pki trustpoint with usage sign or both)",
                    c->req->profile);
    if (!(cert = pem_cert(cert_pem)))
        return fail(err, errlen, -EINVAL, "trustpoint %s: its certificate does not parse", tname);
    LY_LIST_FOR(lyd_child(tp), n) {
        if (!strcmp(n->schema->name, "ca-certificate") && ncas < sizeof(cas) / sizeof(cas[0]) &&
            (x = pem_cert(lyd_get_value(n))))
            cas[ncas++] = x;
    }
    if (!ncas) {
        fail(err, errlen, -EINVAL, "trustpoint %s has no ca-certificate: clients could not verify the headend",
             tname);
        goto out;
    }
    if ((rc = ca_chain(c, cert, cas, ncas)))
        goto out;
    rc = -EINVAL;
    /* the headend's IKE identity as the engine sends it (identity local) */
    static const char *const types[] = {"address", "fqdn", "email", "key-id"};
    for (size_t i = 0; i < 4 && !c->id; i++) {
        char p[40];
        const char *v;

        snprintf(p, sizeof(p), "identity/local/%s", types[i]);
        if ((v = cprof_leaf(prof, p))) {
            c->id_type = types[i];
            c->id = strdup(v);
        }
    }
    if (!c->id) {
        c->id_type = "dn";
        /* fails, or is not UTF-8, with a string of the subject that is not
         * what its type says (a bad UTF8String, a lone surrogate in a
         * BMPString): no client file format can carry it */
        if (!(c->id = name_str(X509_get_subject_name(cert))) || !cprof_utf8(c->id)) {
            fail(err, errlen, -EINVAL,
                 "trustpoint %s: the subject DN of its certificate, the headend's identity, cannot be written "
                 "as UTF-8 text; set ikev2 profile %s identity local", tname, c->req->profile);
            goto out;
        }
    }
    rc = 0;
out:
    for (size_t i = 0; i < ncas; i++)
        X509_free(cas[i]);
    X509_free(cert);
    return rc;
}

/* ---- the request ---- */

static int profile_facts(struct cprof *c, const struct lyd_node *tree, char *err, size_t errlen)
{
    const struct lyd_node *ikev2 = cprof_top(tree, "ikev2"), *remote;
    const struct lyd_node *prof = cprof_entry(ikev2, "profile", c->req->profile);
    bool eap, cert;

    if (!prof)
        return fail(err, errlen, -ENOENT, "no IKEv2 profile named '%s' (ikev2 profile)", c->req->profile);
    remote = cprof_path(prof, "authentication/remote");
    eap = cprof_child(remote, "eap");
    cert = cprof_child(remote, "rsa-sig") || cprof_child(remote, "ecdsa-sig");
    if (!eap && !cert)
        return fail(err, errlen, -EINVAL,
                    "profile %s accepts only pre-shared keys, which client profiles do not carry: allow "
                    "authentication remote eap or a certificate method", c->req->profile);
    if (!cprof_path(prof, "authentication/local/rsa-sig") && !cprof_path(prof, "authentication/local/ecdsa-sig"))
        return fail(err, errlen, -EINVAL,
                    "profile %s: the headend authenticates with a pre-shared key; client profiles need "
                    "authentication local rsa-sig or ecdsa-sig", c->req->profile);
    if (c->req->auth && !strcmp(c->req->auth, "eap") && !eap)
        return fail(err, errlen, -EINVAL, "profile %s does not accept EAP (authentication remote eap)",
                    c->req->profile);
    if (c->req->auth && !strcmp(c->req->auth, "certificate") && !cert)
        return fail(err, errlen, -EINVAL,
                    "profile %s does not accept client certificates (authentication remote rsa-sig or "
                    "ecdsa-sig)", c->req->profile);
    c->eap = c->req->auth ? !strcmp(c->req->auth, "eap") : eap;
    c->query_identity = (c->eap && cprof_leaf(remote, "eap/query-identity") &&
                         !strcmp(cprof_leaf(remote, "eap/query-identity"), "true"));
    /* the address clients dial: server-address, the match local address, listen */
    c->server = cprof_leaf(prof, "server-address");
    if (!c->server)
        c->server = cprof_leaf(prof, "match/local-address");
    if (!c->server) {
        const char *l = cprof_leaf(ikev2, "global/listen/address");

        c->server = l && strcmp(l, "0.0.0.0") && strcmp(l, "::") ? l : NULL;
    }
    if (!c->server)
        return fail(err, errlen, -EINVAL,
                    "profile %s: no address for clients to dial; set ikev2 profile %s server-address",
                    c->req->profile, c->req->profile);
    c->port = cprof_leaf(ikev2, "global/listen/port");
    if (c->port && !strcmp(c->port, "500"))
        c->port = NULL;
    ike_proposals(c, ikev2);
    esp_transforms(c, prof, cprof_top(tree, "ipsec"));
    cprof_authz_read(tree, prof, c->eap, c->req->user, &c->authz);
    return ca_and_identity(c, prof, cprof_top(tree, "pki"), err, errlen);
}

int cprof_make(const struct lyd_node *tree, const struct cprof_req *req, struct cprof_out *out, char *err,
               size_t errlen)
{
    static const struct {
        const char *platform, *ext, *type;
        int (*write)(const struct cprof *, FILE *, char *, size_t);
    } kinds[] = {
        {"apple", "mobileconfig", "application/x-apple-aspen-config", cprof_apple},
        {"windows", "ps1", "text/plain; charset=utf-8", cprof_windows},
        {"android", "sswan", "application/vnd.strongswan.profile", cprof_android},
    };
    struct cprof c = {.req = req};
    char *buf = NULL, *pu = NULL, *pp = NULL;
    size_t len = 0, k;
    FILE *f = NULL;
    int rc;

    for (k = 0; k < 3 && strcmp(kinds[k].platform, req->platform ? req->platform : ""); k++)
        ;
    if (k == 3)
        return fail(err, errlen, -EINVAL, "unknown platform '%s': use apple, windows or android",
                    req->platform ? req->platform : "");
    for (const unsigned char *u = (const unsigned char *)req->user; u && *u; u++) {
        if (*u < 0x20 || *u == 0x7f)
            return fail(err, errlen, -EINVAL, "user: control characters are not allowed");
    }
    if (!req->user || !*req->user)
        return fail(err, errlen, -EINVAL, "user: must not be empty");
    rc = profile_facts(&c, tree, err, errlen);
    if (rc)
        goto out;
    f = open_memstream(&buf, &len);
    rc = f ? kinds[k].write(&c, f, err, errlen) : -ENOMEM;
    if (f && fclose(f) && !rc)
        rc = -ENOMEM;
    f = NULL;
    if (rc)
        goto out;
    pp = cprof_file_part(req->profile);
    pu = cprof_file_part(req->user);
    out->content_type = kinds[k].type;
    if (!pp || !pu || asprintf(&out->file_name, "%s-%s.%s", pp, pu, kinds[k].ext) < 0) {
        out->file_name = NULL;
        rc = -ENOMEM;
        goto out;
    }
    out->content = buf;
    buf = NULL;
out:
    if (rc == -ENOMEM && !*err)
        fail(err, errlen, rc, "out of memory");
    free(buf);
    free(pp);
    free(pu);
    free(c.id);
    for (size_t i = 0; i < c.nca; i++) {
        OPENSSL_free(c.ca[i].der);
        free(c.ca[i].pem);
        free(c.ca[i].cn);
    }
    return rc;
}

void cprof_out_fini(struct cprof_out *out)
{
    if (!out)
        return;
    free(out->content);
    free(out->file_name);
    out->content = out->file_name = NULL;
}

/* ---- helpers of the writers ---- */

const char *cprof_map(const char *const (*table)[2], const char *name)
{
    for (size_t i = 0; name && table[i][0]; i++) {
        if (!strcmp(table[i][0], name))
            return table[i][1];
    }
    return NULL;
}

bool cprof_aead(const char *enc)
{
    return enc && (!strncmp(enc, "aes-gcm", 7) || !strcmp(enc, "chacha20-poly1305"));
}

/* The PRF the engine pairs with integrity @integ when a proposal lists none. */
static const char *integ_prf(const char *integ)
{
    static const char *const pairs[][2] = {{"hmac-sha1-96", "prf-hmac-sha1"},
                                           {"hmac-sha2-256-128", "prf-hmac-sha2-256"},
                                           {"hmac-sha2-384-192", "prf-hmac-sha2-384"},
                                           {"hmac-sha2-512-256", "prf-hmac-sha2-512"},
                                           {NULL, NULL}};

    return cprof_map(pairs, integ);
}

static bool has(const struct cprof_algs *a, const char *v)
{
    for (size_t i = 0; v && i < a->n; i++) {
        if (!strcmp(a->v[i], v))
            return true;
    }
    return false;
}

bool cprof_pick_ike(const struct cprof *c, const char *const (*enc)[2], const char *const (*integ)[2],
                    const char *const (*prf)[2], const char *const (*group)[2], struct cprof_pick *out)
{
    for (size_t p = 0; p < c->nike; p++) {
        const struct cprof_ike *k = &c->ike[p];
        const char *e = NULL, *i = NULL, *g = NULL;
        bool aead = false;

        for (size_t j = 0; j < k->enc.n && !e; j++) {
            if ((e = cprof_map(enc, k->enc.v[j])))
                aead = cprof_aead(k->enc.v[j]);
        }
        /* one-set clients derive the PRF from their integrity (or, with AEAD,
         * name the PRF's hash as integrity) */
        if (aead) {
            for (size_t j = 0; j < k->prf.n && !i; j++)
                i = cprof_map(prf, k->prf.v[j]);
        } else {
            for (size_t j = 0; j < k->integ.n && !i; j++) {
                if (!k->prf.n || has(&k->prf, integ_prf(k->integ.v[j])))
                    i = cprof_map(integ, k->integ.v[j]);
            }
        }
        for (size_t j = 0; j < k->group.n && !g; j++)
            g = cprof_map(group, k->group.v[j]);
        if (e && i && g) {
            *out = (struct cprof_pick){e, i, g, aead};
            return true;
        }
    }
    return false;
}

const struct cprof_esp *cprof_pick_esp(const struct cprof *c, const char *const (*enc)[2],
                                       const char *const (*integ)[2])
{
    for (size_t i = 0; i < c->nesp; i++) {
        if (cprof_map(enc, c->esp[i].enc) && (cprof_aead(c->esp[i].enc) || cprof_map(integ, c->esp[i].integ)))
            return &c->esp[i];
    }
    return NULL;
}

void cprof_uuid(char out[37])
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof(b)) != 1)
        memset(b, 0x5a, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

char *cprof_file_part(const char *s)
{
    char *p = strdup(s);

    for (char *q = p; q && *q; q++) {
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '.' ||
              *q == '-' || *q == '_') ||
            (q == p && *q == '.'))
            *q = '_';
    }
    return p;
}

char *cprof_rdns_label(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(3 * strlen(s) + 1), *o = out;

    for (const unsigned char *u = (const unsigned char *)s; out && *u; u++) {
        if ((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') || (*u >= '0' && *u <= '9') || *u == '-') {
            *o++ = (char)*u;
        } else {
            *o++ = '_';
            *o++ = hex[*u >> 4];
            *o++ = hex[*u & 15];
        }
    }
    if (out)
        *o = '\0';
    return out;
}

bool cprof_utf8(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    while (*u) {
        size_t n = *u < 0x80 ? 0 : (*u & 0xe0) == 0xc0 ? 1 : (*u & 0xf0) == 0xe0 ? 2 : (*u & 0xf8) == 0xf0 ? 3 : 9;
        uint32_t cp = n == 0 ? *u : n == 1 ? *u & 0x1fu : n == 2 ? *u & 0x0fu : *u & 0x07u;

        if (n == 9)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((u[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (u[i] & 0x3fu);
        }
        /* no overlong form, surrogate or value past U+10FFFF */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        u += n + 1;
    }
    return true;
}
