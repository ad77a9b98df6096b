/* Accepting a fetched CRL and the verdict on a client certificate: chain,
 * then revocation as its trustpoint says (see pki_crl.h). */
#include "daemon/pki/pki_crl_int.h"

#include <openssl/bio.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/pki/pki_ocsp.h"
#include "daemon/base/poison.h"

#define MAX_CDP 4 /* distribution point URLs of one certificate that are tried */

/* A CA of @cas whose subject is @crl's issuer and whose key signed it. */
static X509 *crl_signer(X509_CRL *crl, STACK_OF(X509) *cas)
{
    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509 *ca = sk_X509_value(cas, i);
        EVP_PKEY *k = X509_get0_pubkey(ca);

        if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)))
            continue;
        /* a CA whose key usage is restricted must allow CRL signing */
        if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) && !(X509_get_key_usage(ca) & KU_CRL_SIGN))
            continue;
        if (k && X509_CRL_verify(crl, k) == 1)
            return ca;
    }
    ERR_clear_error();
    return NULL;
}

bool pki_crl_signed(X509_CRL *crl, STACK_OF(X509) *cas)
{
    return crl_signer(crl, cas) != NULL;
}

/* Whether @crl is in force at @now: thisUpdate passed, nextUpdate (if any) not. */
static bool crl_current(X509_CRL *crl, time_t now, char *why, size_t why_len)
{
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl), *last = X509_CRL_get0_lastUpdate(crl);

    if (!last || X509_cmp_time(last, &now) > 0) {
        snprintf(why, why_len, "the CRL is not yet valid (thisUpdate in the future)");
        return false;
    }
    if (next && X509_cmp_time(next, &now) <= 0) {
        snprintf(why, why_len, "the CRL has expired (nextUpdate passed)");
        return false;
    }
    return true;
}

X509_CRL *pki_crl_accept(const uint8_t *body, size_t len, STACK_OF(X509) *cas, time_t now, char *why,
                         size_t why_len)
{
    static const char pem[] = "-----BEGIN X509 CRL-----";
    X509_CRL *crl = NULL;

    if (!len || len > PKI_CRL_MAX_BODY) {
        snprintf(why, why_len, len ? "the CRL is larger than the limit of 4 MiB" : "the body is empty");
        return NULL;
    }
    if (len >= sizeof(pem) - 1 && memmem(body, len < 512 ? len : 512, pem, sizeof(pem) - 1)) {
        BIO *b = BIO_new_mem_buf(body, (int)len);

        crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    } else {
        const unsigned char *p = body;

        crl = d2i_X509_CRL(NULL, &p, (long)len);
    }
    ERR_clear_error();
    if (!crl) {
        snprintf(why, why_len, "the body is not an X.509 CRL (DER or PEM)");
        return NULL;
    }
    if (!crl_signer(crl, cas)) {
        snprintf(why, why_len, "the CRL is not signed by a CA of the trustpoint");
        goto fail;
    }
    if (!crl_current(crl, now, why, why_len))
        goto fail;
    return crl;
fail:
    X509_CRL_free(crl);
    return NULL;
}

/* The http(s) URLs among the full names of @cert's CRL distribution points. */
static size_t cdp_urls(X509 *cert, char urls[][1024], size_t cap)
{
    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    size_t n = 0;

    for (int i = 0; i < sk_DIST_POINT_num(dps) && n < cap; i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

        if (!dp->distpoint || dp->distpoint->type != 0)
            continue;
        for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname) && n < cap; j++) {
            GENERAL_NAME *g = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
            const ASN1_IA5STRING *u;
            int l;

            if (g->type != GEN_URI)
                continue;
            u = g->d.uniformResourceIdentifier;
            l = ASN1_STRING_length(u);
            if (l <= 0 || l >= 1024 || memchr(ASN1_STRING_get0_data(u), 0, (size_t)l))
                continue;
            memcpy(urls[n], ASN1_STRING_get0_data(u), (size_t)l);
            urls[n][l] = 0;
            if (!strncasecmp(urls[n], "http://", 7) || !strncasecmp(urls[n], "https://", 8))
                n++;
        }
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    ERR_clear_error();
    return n;
}

/* The trustpoint one of whose CAs is @ca. */
static const struct pki_tp *tp_of(struct pki_tp *const *tps, size_t ntp, X509 *ca)
{
    for (size_t i = 0; i < ntp; i++) {
        for (int j = 0; j < sk_X509_num(tps[i]->cas); j++) {
            if (!X509_cmp(sk_X509_value(tps[i]->cas, j), ca))
                return tps[i];
        }
    }
    return NULL;
}

/* What the CRLs say about @leaf of @issuer. */
struct rev_look {
    X509 *leaf, *issuer;
    time_t now;
    bool any, revoked, pending;
    const char *from; /* the source that gave the answer */
    char last_err[400];
};

static void rev_consider(struct rev_look *r, X509_CRL *crl, const char *from)
{
    X509_REVOKED *rev = NULL;
    char why[120];

    if (!crl || r->revoked)
        return;
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(r->issuer))) {
        if (!r->any)
            snprintf(r->last_err, sizeof(r->last_err), "%s: the CRL is not the certificate issuer's", from);
        return;
    }
    if (X509_CRL_verify(crl, X509_get0_pubkey(r->issuer)) != 1) {
        ERR_clear_error();
        snprintf(r->last_err, sizeof(r->last_err), "%s: the CRL's signature does not verify", from);
        return;
    }
    if (!crl_current(crl, r->now, why, sizeof(why))) {
        snprintf(r->last_err, sizeof(r->last_err), "%.120s: %.110s", from, why);
        return;
    }
    r->any = true;
    r->from = from;
    if (X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)X509_get0_serialNumber(r->leaf)) == 1)
        r->revoked = true;
}

static void rev_from_url(struct rev_look *r, struct pki_crl *c, const struct pki_tp *tp, const char *url, bool cdp)
{
    struct crl_src *s = pki_crl_src_find(c, tp->name, url);

    if (!c) {
        snprintf(r->last_err, sizeof(r->last_err), "%s: CRLs are not fetched here", url);
        return;
    }
    if (!s && !(s = pki_crl_src_add(c, tp, url, cdp))) {
        snprintf(r->last_err, sizeof(r->last_err), "%s: too many CRL distribution points being fetched", url);
        return;
    }
    s->last_used = r->now;
    rev_consider(r, s->crl, s->url);
    /* the first fetch of this source is under way: worth waiting for */
    if (!s->crl && s->x.easy && !s->failures) {
        r->pending = true;
        pki_crl_wait_on(c, &s->x);
    }
    if (s->err[0] && !r->any)
        snprintf(r->last_err, sizeof(r->last_err), "%.120s: %.200s", s->url, s->err);
}

/* What the trustpoint's CRLs say: GOOD, REVOKED, PENDING or NO_CRL. */
static enum pki_verdict crl_revocation(struct pki_crl *c, const struct pki_tp *tp, X509 *leaf, X509 *issuer,
                                       const char *serial, char *why, size_t why_len)
{
    struct rev_look r = {.leaf = leaf, .issuer = issuer, .now = time(NULL)};
    char urls[MAX_CDP][1024];

    if (sk_X509_CRL_num(tp->crls)) {
        for (int i = 0; i < sk_X509_CRL_num(tp->crls); i++)
            rev_consider(&r, sk_X509_CRL_value(tp->crls, i), "the configured CRL");
    } else if (tp->ncrl_url) {
        for (size_t i = 0; i < tp->ncrl_url; i++)
            rev_from_url(&r, c, tp, tp->crl_urls[i], false);
    } else {
        size_t n = cdp_urls(leaf, urls, MAX_CDP);

        if (!n)
            snprintf(r.last_err, sizeof(r.last_err),
                     "the certificate has no http CRL distribution point and trustpoint %s no crl or crl-url",
                     tp->name);
        for (size_t i = 0; i < n; i++)
            rev_from_url(&r, c, tp, urls[i], true);
    }
    if (r.revoked) {
        snprintf(why, why_len, "certificate verification failed: certificate revoked (serial %s, %s)", serial,
                 r.from);
        return PKI_REVOKED;
    }
    if (r.any)
        return PKI_GOOD;
    if (r.pending)
        return PKI_PENDING;
    snprintf(why, why_len, "no valid CRL for the certificate (serial %s) of trustpoint %s: %s", serial, tp->name,
             r.last_err[0] ? r.last_err : "none configured");
    return PKI_NO_CRL;
}

/* The trustpoint's methods in its order (revocation-check): the next one is
 * asked only when the previous one has no answer; with none, the certificate
 * is refused, or accepted when the list ends in none (the reasons in @why). */
enum pki_verdict pki_crl_revocation(struct pki_crl *c, const struct pki_tp *tp, X509 *leaf, X509 *issuer,
                                    char *why, size_t why_len)
{
    char serial[80] = "?", reason[2][480] = {"", ""};
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    bool ocsp[2] = {tp->ocsp_check && tp->ocsp_first, tp->ocsp_check && !tp->ocsp_first};
    bool crl[2] = {tp->crl_check && !ocsp[0], tp->crl_check && ocsp[0]};
    enum pki_verdict v = PKI_NO_CRL;
    size_t n = 0;

    pki_crl_waits_reset(c);
    if (why_len)
        why[0] = 0;
    if (hex)
        snprintf(serial, sizeof(serial), "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    for (size_t i = 0; i < 2; i++) {
        if (ocsp[i]) {
            char w[300] = "";

            v = pki_ocsp_check(pki_crl_ocsp(c), tp, leaf, issuer, time(NULL), w, sizeof(w));
            if (v == PKI_REVOKED)
                snprintf(reason[n], sizeof(reason[n]),
                         "certificate verification failed: certificate revoked (serial %.80s, %.250s)", serial, w);
            else
                snprintf(reason[n], sizeof(reason[n]),
                         "no OCSP answer for the certificate (serial %.80s) of trustpoint %.40s: %.250s", serial,
                         tp->name, w);
        } else if (crl[i]) {
            v = crl_revocation(c, tp, leaf, issuer, serial, reason[n], sizeof(reason[n]));
        } else {
            continue;
        }
        n++;
        if (v != PKI_NO_CRL && v != PKI_NO_OCSP)
            break;
    }
    if (v == PKI_REVOKED) /* the method that answered says why */
        snprintf(why, why_len, "%s", reason[n - 1]);
    else if (v == PKI_NO_CRL || v == PKI_NO_OCSP)
        snprintf(why, why_len, "%s%s%s", n > 1 ? reason[0] : "", n > 1 ? "; " : "", reason[n - 1]);
    if ((v == PKI_NO_CRL || v == PKI_NO_OCSP) && tp->crl_fail_open)
        return PKI_GOOD;
    return v;
}

enum pki_verdict pki_crl_chain(struct pki_tp *const *tps, size_t ntp, X509 *leaf, STACK_OF(X509) *untrusted,
                               const struct pki_tp **checked_by, X509 **issuer, char *why, size_t why_len)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    enum pki_verdict v = PKI_INVALID;
    const struct pki_tp *tp;
    STACK_OF(X509) *chain;
    X509 *ca;

    *checked_by = NULL;
    *issuer = NULL;
    if (why_len)
        why[0] = 0;
    if (!store || !ctx) {
        snprintf(why, why_len, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ntp; i++) {
        for (int j = 0; j < sk_X509_num(tps[i]->cas); j++)
            X509_STORE_add_cert(store, sk_X509_value(tps[i]->cas, j));
    }
    ERR_clear_error();
    if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
        snprintf(why, why_len, "out of memory");
        goto out;
    }
    if (X509_verify_cert(ctx) != 1) {
        snprintf(why, why_len, "certificate verification failed: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    /* revocation of the client's own certificate, as the trustpoint of the CA
     * that issued it says */
    chain = X509_STORE_CTX_get0_chain(ctx);
    ca = sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1) : leaf;
    tp = tp_of(tps, ntp, ca);
    v = PKI_GOOD;
    if (tp && (tp->crl_check || tp->ocsp_check) && X509_up_ref(ca)) {
        *checked_by = tp;
        *issuer = ca;
    }
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return v;
}

enum pki_verdict pki_crl_verify(struct pki_crl *c, struct pki_tp *const *tps, size_t ntp, X509 *leaf,
                                STACK_OF(X509) *untrusted, const struct pki_tp **checked_by, char *why,
                                size_t why_len)
{
    X509 *issuer = NULL;
    enum pki_verdict v = pki_crl_chain(tps, ntp, leaf, untrusted, checked_by, &issuer, why, why_len);

    pki_crl_waits_reset(c);
    if (v == PKI_GOOD && *checked_by)
        v = pki_crl_revocation(c, *checked_by, leaf, issuer, why, why_len);
    X509_free(issuer);
    return v;
}

bool pki_crl_revoked(struct pki_crl *c, const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial,
                     char *why, size_t why_len)
{
    /* OCSP first: it marks the session's answer as still needed */
    if (pki_ocsp_revoked(pki_crl_ocsp(c), tp, issuer, serial, time(NULL), why, why_len))
        return true;
    for (struct crl_src *s = pki_crl_srcs(c); s; s = s->next) {
        X509_REVOKED *rev = NULL;

        /* only the trustpoint's own CAs signed what it fetched */
        if (!s->crl || strcmp(s->tp, tp) || X509_NAME_cmp(X509_CRL_get_issuer(s->crl), issuer))
            continue;
        if (X509_CRL_get0_by_serial(s->crl, &rev, (ASN1_INTEGER *)serial) == 1) {
            snprintf(why, why_len, "the CRL from %s (trustpoint %s) revokes the certificate", s->url, s->tp);
            return true;
        }
    }
    return false;
}
