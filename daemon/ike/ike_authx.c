/* The IKE_AUTH exchange (RFC 7296 1.2, 2.15-2.19): authentication both ways
 * with shared keys or signatures (S2) for the profile ike_authz.c selects: the
 * authenticate step (the client's identity, profile and AUTH), the ours step
 * (our shared key or certificate) and the respond step (our IDr and AUTH with
 * what the steps before found) of ike_auth_steps.h; the refusal of a client. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/cpool.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_auth.h"
#include "daemon/ike/ike_auth_steps.h"
#include "daemon/ike/ike_cp.h"
#include "daemon/ike/ike_ppk.h"
#include "daemon/pki/pki.h"
#include "daemon/pki/pki_crl.h"
#include "daemon/base/poison.h"

char *ike_id_text(uint8_t type, const uint8_t *data, size_t len)
{
    char buf[512];

    if (type == ID_IPV4 && len == 4)
        return strdup(inet_ntop(AF_INET, data, buf, sizeof(buf)));
    if (type == ID_IPV6 && len == 16)
        return strdup(inet_ntop(AF_INET6, data, buf, sizeof(buf)));
    if (type == ID_DER_DN) {
        const unsigned char *p = data;
        X509_NAME *n = d2i_X509_NAME(NULL, &p, (long)len);
        char *s = n ? X509_NAME_oneline(n, buf, sizeof(buf)) : NULL;

        X509_NAME_free(n);
        return strdup(s ? s : "?");
    }
    {
        /* FQDN, RFC 822, KEY_ID: text when printable, else hex */
        bool printable = len > 0 && len < 256;
        char *out;

        for (size_t i = 0; printable && i < len; i++)
            printable = isprint(data[i]);
        if (printable)
            return strndup((const char *)data, len);
        out = malloc(2 * len + 1);
        for (size_t i = 0; out && i < len; i++)
            snprintf(out + 2 * i, 3, "%02x", data[i]);
        if (out)
            out[2 * len] = 0;
        return out;
    }
}

static const char *const id_type_name[] = {[ID_IPV4] = "id-ipv4-addr", [ID_FQDN] = "id-fqdn",
                                           [ID_RFC822] = "id-rfc822-addr", [ID_IPV6] = "id-ipv6-addr",
                                           [ID_DER_DN] = "id-der-asn1-dn", [ID_KEY_ID] = "id-key-id"};

const char *ike_id_type_name(uint8_t type)
{
    return type < sizeof(id_type_name) / sizeof(id_type_name[0]) && id_type_name[type] ? id_type_name[type] : NULL;
}

void ike_auth_refused(struct ike_sess *s, const char *reason, const char *why)
{
    char a[INET6_ADDRSTRLEN];

    log_warn("ike", "IKE_AUTH from %s (%s) refused: %s", ike_addr_str(&s->peer, a, sizeof(a)),
             s->ss.remote_id ? s->ss.remote_id : "?", why);
    s->e->c.auth_failed++;
    s->e->c.rejected++;
    ike_sess_notify_event(s, "authentication-failure", reason ? reason : "", why);
    ike_sess_abandon(s);
}

void ike_auth_fail(struct ike_sess *s, uint32_t msg_id, const char *reason, const char *why)
{
    struct ike_builder bd;
    struct ike_hdr h = {0};

    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_AUTHENTICATION_FAILED});
    if (ike_build_finish(&bd))
        ike_sess_respond(s, IKE_EXCH_AUTH, msg_id, IKE_PLD_NOTIFY, bd.buf.data + IKE_HDR_LEN,
                         bd.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&bd.buf);
    ike_auth_refused(s, reason, why);
}

/* The local identity: the profile's, else our address. */
static void local_identity(const struct ike_prof *prof, const struct sockaddr_storage *local, X509 *cert,
                           struct ike_id_pld *id, uint8_t raw[16], unsigned char **dn)
{
    const char *v = prof->local_id;
    int n;

    *dn = NULL;
    if (cert && prof->local_id_type == ID_DER_DN && (n = i2d_X509_NAME(X509_get_subject_name(cert), dn)) > 0) {
        *id = (struct ike_id_pld){.type = ID_DER_DN, .data = *dn, .len = (size_t)n};
    } else if (v && (prof->local_id_type == ID_FQDN || prof->local_id_type == ID_RFC822 ||
                     prof->local_id_type == ID_KEY_ID)) {
        *id = (struct ike_id_pld){.type = prof->local_id_type, .data = (const uint8_t *)v, .len = strlen(v)};
    } else if (prof->local_id_type == ID_IPV4 || prof->local_id_type == ID_IPV6) {
        bool v6 = prof->local_id_type == ID_IPV6;

        memcpy(raw, prof->local_id_raw, v6 ? 16 : 4);
        *id = (struct ike_id_pld){.type = prof->local_id_type, .data = raw, .len = v6 ? 16 : 4};
    } else if (local->ss_family == AF_INET) {
        memcpy(raw, &((const struct sockaddr_in *)local)->sin_addr, 4);
        *id = (struct ike_id_pld){.type = ID_IPV4, .data = raw, .len = 4};
    } else {
        memcpy(raw, &((const struct sockaddr_in6 *)local)->sin6_addr, 16);
        *id = (struct ike_id_pld){.type = ID_IPV6, .data = raw, .len = 16};
    }
}

/* The shared-key MIC of one side (RFC 7296 2.15) with a binary key: an EAP MSK,
 * or SK_pi / SK_pr for EAP methods that make no key (2.16). */
static size_t mic_key(const struct ike_sess *s, bool initiator, const uint8_t *key, size_t key_len,
                      const uint8_t *id_body, size_t id_len, uint8_t out[64])
{
    size_t so_len, n;
    uint8_t *so = initiator ? ike_auth_signed_octets(s->in.prf, s->msg1, s->msg1_len, s->in.n->nr, s->in.n->nr_len,
                                                     s->in.keys.sk_pi, s->in.keys.prf_len, id_body, id_len, &so_len)
                            : ike_auth_signed_octets(s->in.prf, s->msg2, s->msg2_len, s->in.n->ni, s->in.n->ni_len,
                                                     s->in.keys.sk_pr, s->in.keys.prf_len, id_body, id_len, &so_len);

    if (!so)
        return 0;
    n = ike_auth_psk(s->in.prf, key, key_len, so, so_len, out);
    OPENSSL_cleanse(so, so_len);
    free(so);
    return n;
}

bool ike_auth_psk_ok(const struct ike_sess *s, const struct ike_msg *req, const uint8_t *key, size_t key_len)
{
    const struct ike_pld *idi_p = ike_msg_find(req, IKE_PLD_IDI, 0), *auth_p = ike_msg_find(req, IKE_PLD_AUTH, 0);
    struct ike_auth_pld auth;
    uint8_t mic[64];
    size_t ml;
    bool ok;

    if (!idi_p || !auth_p || !ike_auth_parse(auth_p, &auth) || auth.method != 2)
        return false;
    ike_ppk_auth_data(s, req, &auth);
    ml = mic_key(s, true, key, key_len, idi_p->body, idi_p->len, mic);
    ok = ml && ike_auth_equal(auth.data, auth.len, mic, ml);
    OPENSSL_cleanse(mic, sizeof(mic));
    return ok;
}

struct pki_tp *ike_auth_signing_tp(const struct ike_prof *prof)
{
    struct pki_tp *tps[16];
    size_t ntp = ike_profile_tps(prof, IKE_TP_SIGN, tps, 16);

    /* authentication local rsa-sig / ecdsa-sig: the first trustpoint whose key
     * is of that kind (a profile may name one of each) */
    for (size_t i = 0; i < ntp; i++) {
        int kind = tps[i]->cert && tps[i]->key ? EVP_PKEY_get_base_id(tps[i]->key) : EVP_PKEY_NONE;

        if ((prof->local_rsa && (kind == EVP_PKEY_RSA || kind == EVP_PKEY_RSA_PSS)) ||
            (prof->local_ecdsa && (kind == EVP_PKEY_EC || kind == EVP_PKEY_ED25519)))
            return tps[i];
    }
    return NULL;
}

/* IDr, then our AUTH: a signature with CERT (@sign_tp), or the shared key @key
 * (@key_len bytes). The IDr body goes to *idr when asked. */
static bool build_idr_auth(struct ike_sess *s, const struct ike_prof *prof, struct pki_tp *sign_tp, const uint8_t *key,
                           size_t key_len, struct ike_builder *ib, uint8_t **idr, size_t *idr_len)
{
    struct ike_id_pld idr_p;
    uint8_t raw[16], mic[64];
    unsigned char *dn = NULL;
    const uint8_t *body;
    size_t body_len, ml;
    bool ok;

    local_identity(prof, &s->local, sign_tp ? sign_tp->cert : NULL, &idr_p, raw, &dn);
    free(s->ss.local_id);
    s->ss.local_id = ike_id_text(idr_p.type, idr_p.data, idr_p.len);
    ike_id_build(ib, IKE_PLD_IDR, &idr_p);
    OPENSSL_free(dn);
    body = ib->buf.data + IKE_HDR_LEN + IKE_PLD_HDR_LEN;
    body_len = ib->buf.len - IKE_HDR_LEN - IKE_PLD_HDR_LEN;
    if (idr) {
        *idr = malloc(body_len);
        if (!*idr)
            return false;
        memcpy(*idr, body, body_len);
        *idr_len = body_len;
    }
    if (sign_tp) {
        uint8_t *sig = NULL, method = 0;
        size_t sl = 0;

        if (s->pend && s->pend->sig) { /* made by a crypto thread (the sign step) */
            sig = s->pend->sig;
            sl = s->pend->sig_len;
            method = s->pend->sig_method;
            s->pend->sig = NULL;
            ok = true;
        } else {
            size_t so_len;
            uint8_t *so = ike_auth_signed_octets(s->in.prf, s->msg2, s->msg2_len, s->in.n->ni, s->in.n->ni_len,
                                                 s->in.keys.sk_pr, s->in.keys.prf_len, body, body_len, &so_len);
            const struct pki_sign_how how = {
                .rfc7427 = s->in.sig_hash, .hashes = s->in.sig_hashes, .pss = prof->local_rsa_pss};
            char why[200] = "out of memory";

            ok = so && pki_auth_sign(sign_tp->key, &how, so, so_len, &method, &sig, &sl, why, sizeof(why));
            free(so);
            if (!ok)
                log_warn("ike", "session %" PRIu64 " (%s): cannot sign our AUTH with trustpoint %s: %s", s->ss.id,
                         s->ss.remote_id ? s->ss.remote_id : "?", sign_tp->name, why);
        }
        /* CERT: ours first, then the CAs above it (RFC 7296 3.6), X.509
         * signature encoding */
        for (size_t i = 0; ok && i <= sign_tp->nchain; i++) {
            size_t off = ike_build_pld(ib, IKE_PLD_CERT, false);

            ike_buf_u8(&ib->buf, 4);
            if (i == 0)
                ike_buf_put(&ib->buf, sign_tp->cert_der, sign_tp->cert_der_len);
            else
                ike_buf_put(&ib->buf, sign_tp->chain_der[i - 1], sign_tp->chain_der_len[i - 1]);
            ok = ike_build_end_pld(ib, off);
        }
        if (ok)
            ike_auth_build(ib, &(struct ike_auth_pld){.method = method, .data = sig, .len = sl});
        free(sig);
        return ok;
    }
    ml = mic_key(s, false, key, key_len, body, body_len, mic);
    if (!ml)
        return false;
    ike_auth_build(ib, &(struct ike_auth_pld){.method = 2, .data = mic, .len = ml});
    OPENSSL_cleanse(mic, sizeof(mic));
    return true;
}

bool ike_auth_build_ours(struct ike_sess *s, const struct ike_prof *prof, struct ike_builder *ib)
{
    struct pki_tp *tp = ike_auth_signing_tp(prof);

    free(s->pend->idr);
    s->pend->idr = NULL;
    return tp && build_idr_auth(s, prof, tp, NULL, 0, ib, &s->pend->idr, &s->pend->idr_len);
}

/* ---- the authenticate step ---- */

/* What the authenticate step reads in the request. */
struct authn {
    const struct ike_pld *idi_p, *auth_p;
    struct ike_id_pld idi;
    struct ike_auth_pld auth;
    bool initial;           /* INITIAL_CONTACT */
    X509 *cert;             /* the client's certificate, and */
    STACK_OF(X509) *chain;  /* its intermediates (CERT payloads, X.509 signature) */
    const struct ike_prof *prof;
};

/* IDi, AUTH, INITIAL_CONTACT and certificates of the request; the refusal's
 * text when IDi or AUTH is unusable. */
static const char *authn_read(struct ike_sess *s, const struct ike_msg *in, struct authn *a)
{
    a->idi_p = ike_msg_find(in, IKE_PLD_IDI, 0);
    a->auth_p = ike_msg_find(in, IKE_PLD_AUTH, 0);
    if (!a->idi_p || !ike_id_parse(a->idi_p, &a->idi))
        return "no identification payload";
    s->ss.id_type = a->idi.type;
    free(s->ss.remote_id); /* the step runs again after RADIUS gave a PPK */
    s->ss.remote_id = ike_id_text(a->idi.type, a->idi.data, a->idi.len);
    if (a->auth_p && !ike_auth_parse(a->auth_p, &a->auth))
        return "malformed AUTH payload";
    for (size_t i = 0; i < in->npld; i++) {
        struct ike_notify_pld n;

        if (in->pld[i].type == IKE_PLD_NOTIFY && ike_notify_parse(&in->pld[i], &n) && n.type == N_INITIAL_CONTACT)
            a->initial = true;
    }
    for (size_t i = 0; i < in->npld; i++) {
        struct ike_cert_pld cp;
        const unsigned char *p;
        X509 *x;

        if (in->pld[i].type != IKE_PLD_CERT || !ike_cert_parse(&in->pld[i], &cp) || cp.encoding != 4)
            continue;
        p = cp.data;
        x = d2i_X509(NULL, &p, (long)cp.len);
        if (!x)
            continue;
        if (!a->cert)
            a->cert = x;
        else if (!(a->chain || (a->chain = sk_X509_new_null())) || !sk_X509_push(a->chain, x))
            X509_free(x);
    }
    return NULL;
}

/* The client authenticated itself (a shared key or a signature): the name to
 * mangle authorization names from is its DN identity, else its certificate's
 * subject. */
static void authn_dn(struct ike_sess *s, const struct authn *a)
{
    const unsigned char *p = a->idi.data;
    X509_NAME *id_dn = a->idi.type == ID_DER_DN ? d2i_X509_NAME(NULL, &p, (long)a->idi.len) : NULL;

    s->pend->dn = id_dn ? id_dn : a->cert ? X509_NAME_dup(X509_get_subject_name(a->cert)) : NULL;
}

/* EAP (S3): the client left AUTH out; the eap step takes it on. */
static enum ike_auth_rc authn_eap(struct ike_sess *s, const struct authn *a)
{
    s->e->c.eap_started++;
    if (!a->prof->remote_eap)
        return ike_auth_refuse(s, "method-not-allowed", "the client asks for EAP, which the profile does not allow");
    s->pend->method = "eap";
    s->pend->eap = true;
    return IKE_AUTH_NEXT;
}

/* A shared key AUTH: the key of the profile or its keyring, or RADIUS's
 * (keyring aaa: asked for, then checked when the answer comes). */
static enum ike_auth_rc authn_psk(struct ike_sess *s, const struct authn *a)
{
    const char *key;
    uint8_t mic[64];
    size_t ml;
    bool ok;

    if (!a->prof->remote_psk)
        return ike_auth_refuse(s, "method-not-allowed",
                               "the profile does not allow pre-shared key authentication of clients");
    key = ike_psk(a->prof, true, &a->idi, &s->peer);
    if (!key && a->prof->keyring_aaa.set) {
        s->pend->method = "psk";
        s->ss.auth_method = strdup("pre-share");
        return ike_psk_fetch(s, a->prof);
    }
    if (!key)
        return ike_auth_refuse(s, "psk-mismatch", "no pre-shared key for this client in the profile or its keyring");
    ml = mic_key(s, true, (const uint8_t *)key, strlen(key), a->idi_p->body, a->idi_p->len, mic);
    ok = ml && ike_auth_equal(a->auth.data, a->auth.len, mic, ml);
    OPENSSL_cleanse(mic, sizeof(mic));
    if (!ok)
        return ike_auth_refuse(s, "psk-mismatch", "the client's AUTH does not match the pre-shared key");
    s->ss.auth_method = strdup("pre-share");
    s->pend->method = "psk";
    authn_dn(s, a);
    return IKE_AUTH_NEXT;
}

/* What checking a client's certificate and signature found: its chain to the
 * trustpoints (the trustpoint that checks its revocation and the issuer, when
 * one does), then, only if the chain holds, its signature. */
struct cert_check {
    enum pki_verdict chain;
    const struct pki_tp *crl_tp;
    X509 *issuer;
    bool sig_ok, oom;
    char why[300];
};

static void cert_check_run(struct pki_tp *const *tps, size_t ntp, X509 *cert, STACK_OF(X509) *chain, uint8_t method,
                           const uint8_t *auth, size_t auth_len, const uint8_t *so, size_t so_len,
                           struct cert_check *c)
{
    c->chain = pki_crl_chain(tps, ntp, cert, chain, &c->crl_tp, &c->issuer, c->why, sizeof(c->why));
    if (c->chain != PKI_GOOD)
        return;
    c->oom = !so;
    c->sig_ok = so && pki_auth_verify(cert, method, auth, auth_len, so, so_len, c->why, sizeof(c->why));
}

/* The rest of a signature AUTH once its chain and signature are checked (@c,
 * whose issuer it takes): the identity in the certificate, and only then its
 * revocation (a CRL not fetched yet or an OCSP answer not had yet is waited
 * for, in CRL_WAIT): a certificate is public, and one that anybody can send
 * must not make the headend query a responder or fill its caches before its
 * key is proven. */
static enum ike_auth_rc authn_cert_end(struct ike_sess *s, struct authn *a, struct cert_check *c)
{
    int kind = EVP_PKEY_get_base_id(X509_get0_pubkey(a->cert));
    bool rsa = kind == EVP_PKEY_RSA || kind == EVP_PKEY_RSA_PSS;
    const struct pki_tp *crl_tp = c->crl_tp;
    X509 *issuer = c->issuer;
    enum pki_verdict verdict;
    char why[300];

    c->issuer = NULL;
    if (c->chain != PKI_GOOD)
        return ike_auth_refuse(s, "certificate-invalid", c->why);
    if (!pki_cert_matches_id(a->cert, a->idi.type, a->idi.data, a->idi.len)) {
        X509_free(issuer);
        return ike_auth_refuse(s, "certificate-invalid", "the client's identity is not in its certificate");
    }
    if (!c->sig_ok) {
        X509_free(issuer);
        return ike_auth_refuse(s, "signature-invalid", c->oom ? "out of memory" : c->why);
    }
    /* the client holds the key: now its revocation (which may query) */
    why[0] = 0;
    verdict = crl_tp ? pki_crl_revocation(s->e->crl, crl_tp, a->cert, issuer, why, sizeof(why)) : PKI_GOOD;
    X509_free(issuer);
    if (verdict == PKI_INVALID || verdict == PKI_REVOKED || verdict == PKI_NO_CRL || verdict == PKI_NO_OCSP)
        return ike_auth_refuse(s, verdict == PKI_REVOKED  ? "certificate-revoked" :
                                  verdict == PKI_NO_CRL   ? "crl-unavailable" :
                                  verdict == PKI_NO_OCSP  ? "ocsp-unavailable" :
                                                            "certificate-invalid",
                               why);
    if (verdict == PKI_GOOD && why[0]) /* revocation-check ... none */
        log_info("ike", "session %" PRIu64 " (%s): accepted without a revocation check: %s", s->ss.id, s->ss.remote_id,
                 why);
    s->ss.auth_method = strdup(rsa ? "rsa-sig" : "ecdsa-sig");
    s->pend->method = "cert";
    if (crl_tp)
        ike_crl_remember(s, a->cert, crl_tp);
    authn_dn(s, a);
    if (verdict == PKI_PENDING) { /* answered once its CRL is fetched or OCSP answers */
        ike_crl_park(s, a->cert, a->chain);
        a->cert = NULL;
        a->chain = NULL;
        return IKE_AUTH_WAIT;
    }
    return IKE_AUTH_NEXT;
}

/* The chain and signature of a client's certificate checked by a thread of
 * the crypto pool: the job owns the certificates (references), the AUTH, the
 * signed octets and a reference to the generation whose trustpoints it reads
 * (immutable; the stores it builds are its own); @s is NULL once the session
 * went. Its revocation is checked back on the control thread. */
struct ike_verify_job {
    struct cpool_job j;
    struct ike_sess *s;
    struct ike_conf *gen;
    struct pki_tp *tps[16];
    size_t ntp;
    X509 *cert;
    STACK_OF(X509) *chain;
    uint8_t method;
    uint8_t *auth, *so;
    size_t auth_len, so_len;
    struct cert_check c;
};

static void verify_work(struct cpool_job *j)
{
    struct ike_verify_job *vj = (struct ike_verify_job *)j;

    cert_check_run(vj->tps, vj->ntp, vj->cert, vj->chain, vj->method, vj->auth, vj->auth_len, vj->so, vj->so_len,
                   &vj->c);
}

static void verify_job_free(struct ike_verify_job *vj)
{
    X509_free(vj->cert);
    sk_X509_pop_free(vj->chain, X509_free);
    X509_free(vj->c.issuer);
    free(vj->auth);
    free(vj->so);
    ike_conf_unref(vj->gen);
    free(vj);
}

void ike_auth_verify_forget(struct ike_pend *pd)
{
    if (pd->verify_job) {
        pd->verify_job->s = NULL;
        pd->verify_job = NULL;
    }
}

static void verify_done(struct cpool_job *j, bool ran)
{
    struct ike_verify_job *vj = (struct ike_verify_job *)j;
    struct ike_sess *s = vj->s;
    struct authn a = {.prof = s ? s->prof : NULL};
    enum ike_auth_rc rc;

    if (!s) { /* the session went */
        verify_job_free(vj);
        return;
    }
    s->pend->verify_job = NULL;
    a.idi_p = ike_msg_find(&s->pend->req, IKE_PLD_IDI, 0);
    if (!ran || !a.idi_p || !ike_id_parse(a.idi_p, &a.idi)) { /* the pool stopped first: the session goes */
        verify_job_free(vj);
        ike_sess_abandon(s);
        return;
    }
    a.cert = vj->cert;
    a.chain = vj->chain;
    vj->cert = NULL;
    vj->chain = NULL;
    rc = authn_cert_end(s, &a, &vj->c);
    verify_job_free(vj);
    X509_free(a.cert);
    sk_X509_pop_free(a.chain, X509_free);
    if (rc == IKE_AUTH_NEXT)
        ike_auth_next(s); /* the authenticate step is done */
}

/* With crypto threads, the chain and signature checked by a job (the
 * certificates move to it): IKE_AUTH_WAIT; else IKE_AUTH_NEXT (checked inline). */
static enum ike_auth_rc verify_submit(struct ike_sess *s, struct authn *a, struct pki_tp *const *tps, size_t ntp,
                                      uint8_t **so, size_t so_len)
{
    struct ike_verify_job *vj;

    if (!cpool_capacity(s->e->pool) || !*so || !(vj = calloc(1, sizeof(*vj))))
        return IKE_AUTH_NEXT;
    vj->auth = malloc(a->auth.len ? a->auth.len : 1);
    if (!vj->auth) {
        free(vj);
        return IKE_AUTH_NEXT;
    }
    memcpy(vj->auth, a->auth.data, a->auth.len);
    vj->auth_len = a->auth.len;
    vj->method = a->auth.method;
    memcpy(vj->tps, tps, ntp * sizeof(tps[0]));
    vj->ntp = ntp;
    vj->gen = ike_conf_ref(s->gen); /* the trustpoints' */
    vj->cert = a->cert;
    vj->chain = a->chain;
    vj->so = *so;
    vj->so_len = so_len;
    vj->s = s;
    vj->j = (struct cpool_job){.work = verify_work, .done = verify_done};
    s->pend->verify_job = vj;
    if (cpool_submit(s->e->pool, &vj->j)) { /* the queue is full: checked inline */
        s->pend->verify_job = NULL;
        vj->cert = NULL;
        vj->chain = NULL;
        vj->so = NULL;
        verify_job_free(vj);
        return IKE_AUTH_NEXT;
    }
    *so = NULL;
    a->cert = NULL;
    a->chain = NULL;
    s->e->c.pool_jobs++;
    return IKE_AUTH_WAIT;
}

/* A signature AUTH: the certificate's chain to the profile's trustpoints and
 * the signature (on a crypto thread when there are some), then the rest
 * (authn_cert_end). */
static enum ike_auth_rc authn_cert(struct ike_sess *s, struct authn *a)
{
    struct pki_tp *tps[16];
    size_t ntp = ike_profile_tps(a->prof, IKE_TP_VERIFY, tps, 16), so_len;
    int kind = a->cert ? EVP_PKEY_get_base_id(X509_get0_pubkey(a->cert)) : EVP_PKEY_NONE;
    /* ecdsa-sig covers the elliptic-curve signatures, Ed25519 (RFC 8420) too */
    bool rsa = kind == EVP_PKEY_RSA || kind == EVP_PKEY_RSA_PSS;
    struct cert_check c = {0};
    uint8_t *so;

    if (!a->cert)
        return ike_auth_refuse(s, NULL, "signature authentication without a certificate");
    if (!(rsa ? a->prof->remote_rsa : a->prof->remote_ecdsa))
        return ike_auth_refuse(s, "method-not-allowed",
                               rsa ? "the profile does not allow RSA signature authentication of clients"
                                   : "the profile does not allow ECDSA or Ed25519 signature authentication of "
                                     "clients");
    if (!ntp)
        return ike_auth_refuse(s, NULL, "the profile has no trustpoint to verify client certificates with");
    so = ike_auth_signed_octets(s->in.prf, s->msg1, s->msg1_len, s->in.n->nr, s->in.n->nr_len, s->in.keys.sk_pi,
                                s->in.keys.prf_len, a->idi_p->body, a->idi_p->len, &so_len);
    if (verify_submit(s, a, tps, ntp, &so, so_len) == IKE_AUTH_WAIT)
        return IKE_AUTH_WAIT;
    cert_check_run(tps, ntp, a->cert, a->chain, a->auth.method, a->auth.data, a->auth.len, so, so_len, &c);
    free(so);
    return authn_cert_end(s, a, &c);
}

enum ike_auth_rc ike_auth_step_authenticate(struct ike_sess *s, struct ike_auth_run *w)
{
    struct authn a = {0};
    const char *why;
    enum ike_auth_rc rc;
    bool wait = false;

    (void)w;
    ike_sa_set_state(s, IKE_SA_AUTHENTICATING, "IKE_AUTH request");
    if ((why = authn_read(s, &s->pend->req, &a))) {
        rc = ike_auth_refuse(s, NULL, why);
    } else if (!(a.prof = ike_select_profile(s->gen, &a.idi, s, a.cert))) {
        rc = ike_auth_refuse(s, NULL, "no IKEv2 profile matches the identity");
    } else {
        s->prof = a.prof;
        free(s->ss.profile);
        s->ss.profile = strdup(a.prof->name);
        s->pend->initial = a.initial;
        /* RFC 8784: the PPK decides which keys and which AUTH are checked; a
         * PPK asked of RADIUS runs this step again once its answer is in */
        if ((why = a.auth_p ? ike_ppk_authenticate(s, a.prof, &s->pend->req, &a.auth, &wait)
                            : ike_ppk_precheck(s, a.prof)))
            rc = ike_auth_refuse(s, "ppk-unavailable", why);
        else if (wait)
            rc = IKE_AUTH_WAIT;
        else
            rc = !a.auth_p ? authn_eap(s, &a) : a.auth.method == 2 ? authn_psk(s, &a) : authn_cert(s, &a);
    }
    X509_free(a.cert);
    sk_X509_pop_free(a.chain, X509_free);
    return rc;
}

void ike_handle_auth(struct ike_sess *s, const struct ike_msg *in)
{
    uint32_t msg_id = s->peer_next - 1;

    if (s->state != IKE_SA_HALF_OPEN) { /* a later request: the EAP exchange goes on */
        ike_eap_continue(s, in, msg_id);
        return;
    }
    if (!(s->pend = ike_pend_new(in, msg_id))) {
        ike_auth_fail(s, msg_id, NULL, "out of memory");
        return;
    }
    ike_auth_run(s);
}

/* ---- the sign step: our signature on a crypto thread ---- */

/* The signature of our AUTH, made by a thread of the crypto pool from copies
 * (the signed octets, a reference to the key); @s is NULL once the session
 * went (the result is dropped). */
struct ike_sign_job {
    struct cpool_job j;
    struct ike_sess *s;
    EVP_PKEY *key;
    struct pki_sign_how how;
    uint8_t *so, *sig;
    size_t so_len, sig_len;
    uint8_t method;
    bool ok;
    char why[200];
};

static void sign_work(struct cpool_job *j)
{
    struct ike_sign_job *sj = (struct ike_sign_job *)j;

    sj->ok = pki_auth_sign(sj->key, &sj->how, sj->so, sj->so_len, &sj->method, &sj->sig, &sj->sig_len, sj->why,
                           sizeof(sj->why));
}

static void sign_job_free(struct ike_sign_job *sj)
{
    EVP_PKEY_free(sj->key);
    free(sj->so);
    free(sj->sig);
    free(sj);
}

void ike_auth_sign_forget(struct ike_pend *pd)
{
    if (pd->sign_job) {
        pd->sign_job->s = NULL;
        pd->sign_job = NULL;
    }
    free(pd->sig);
    pd->sig = NULL;
}

static void sign_done(struct cpool_job *j, bool ran)
{
    struct ike_sign_job *sj = (struct ike_sign_job *)j;
    struct ike_sess *s = sj->s;

    if (!s) { /* the session went */
        sign_job_free(sj);
        return;
    }
    if (!ran) { /* the pool stopped first: the session cannot go on, it goes */
        s->pend->sign_job = NULL;
        sign_job_free(sj);
        ike_sess_abandon(s);
        return;
    }
    s->pend->sign_job = NULL;
    if (sj->ok) {
        s->pend->sig = sj->sig;
        s->pend->sig_len = sj->sig_len;
        s->pend->sig_method = sj->method;
        sj->sig = NULL;
    } else { /* the respond step signs again, and refuses */
        log_warn("ike", "session %" PRIu64 " (%s): cannot sign our AUTH: %s", s->ss.id,
                 s->ss.remote_id ? s->ss.remote_id : "?", sj->why);
    }
    sign_job_free(sj);
    ike_auth_next(s);
}

enum ike_auth_rc ike_auth_step_sign(struct ike_sess *s, struct ike_auth_run *w)
{
    struct ike_pend *pd = s->pend;
    const struct ike_prof *prof = s->prof;
    struct ike_sign_job *sj;
    struct pki_tp *tp;
    struct ike_builder ib;
    struct ike_id_pld idr_p;
    struct ike_hdr h = {0};
    uint8_t raw[16];
    unsigned char *dn = NULL;

    (void)w;
    if (!cpool_capacity(s->e->pool) || pd->eap || pd->sig || !prof || prof->local_psk ||
        !(tp = ike_auth_signing_tp(prof)) || !(sj = calloc(1, sizeof(*sj))))
        return IKE_AUTH_NEXT; /* none to make here, or made in the respond step */
    /* the IDr body the respond step will send (the same, made the same way) */
    ike_build_begin(&ib, &h);
    local_identity(prof, &s->local, tp->cert, &idr_p, raw, &dn);
    ike_id_build(&ib, IKE_PLD_IDR, &idr_p);
    OPENSSL_free(dn);
    sj->so = ike_auth_signed_octets(s->in.prf, s->msg2, s->msg2_len, s->in.n->ni, s->in.n->ni_len, s->in.keys.sk_pr,
                                    s->in.keys.prf_len, ib.buf.data + IKE_HDR_LEN + IKE_PLD_HDR_LEN,
                                    ib.buf.len - IKE_HDR_LEN - IKE_PLD_HDR_LEN, &sj->so_len);
    ike_buf_fini(&ib.buf);
    sj->j = (struct cpool_job){.work = sign_work, .done = sign_done};
    sj->s = s;
    sj->how = (struct pki_sign_how){.rfc7427 = s->in.sig_hash, .hashes = s->in.sig_hashes,
                                    .pss = prof->local_rsa_pss};
    if (!sj->so || !EVP_PKEY_up_ref(tp->key)) {
        free(sj->so);
        free(sj);
        return IKE_AUTH_NEXT;
    }
    sj->key = tp->key;
    pd->sign_job = sj;
    if (cpool_submit(s->e->pool, &sj->j)) { /* the queue is full: signed in the respond step */
        pd->sign_job = NULL;
        sign_job_free(sj);
        return IKE_AUTH_NEXT;
    }
    s->e->c.pool_jobs++;
    return IKE_AUTH_WAIT;
}

/* ---- the ours step: what we authenticate with ---- */

enum ike_auth_rc ike_auth_step_ours(struct ike_sess *s, struct ike_auth_run *w)
{
    struct ike_pend *pd = s->pend;
    const struct ike_pld *idi_p = ike_msg_find(&pd->req, IKE_PLD_IDI, 0);

    /* the profile of the session's generation: a commit since does not change it */
    w->prof = s->prof;
    if (!idi_p || !ike_id_parse(idi_p, &w->idi))
        return ike_auth_refuse(s, NULL, "no identification payload");
    /* with EAP the MSK (the signature went in the first response); else a
     * shared key, or our certificate and a signature */
    if (pd->eap)
        return IKE_AUTH_NEXT;
    if (w->prof->local_psk) {
        w->key = ike_psk(w->prof, false, &w->idi, &s->peer);
        if (!w->key)
            w->key = pd->psk_local; /* from RADIUS */
        if (!w->key)
            return ike_auth_refuse(s, NULL, "no local pre-shared key in the profile or its keyring");
    } else if (!(w->sign_tp = ike_auth_signing_tp(w->prof))) {
        return ike_auth_refuse(s, NULL,
                               "the profile signs with a certificate (authentication local rsa-sig or ecdsa-sig) "
                               "but none of its trustpoints has a certificate and a key of that kind");
    }
    return IKE_AUTH_NEXT;
}

/* ---- the respond step ---- */

/* Our AUTH after EAP: from the MSK, else from SK_pr (RFC 7296 2.16). */
static bool eap_auth(struct ike_sess *s, struct ike_builder *ib)
{
    struct ike_pend *pd = s->pend;
    uint8_t mic[64];
    size_t ml = pd->msk_len ? mic_key(s, false, pd->msk, pd->msk_len, pd->idr, pd->idr_len, mic)
                            : mic_key(s, false, s->in.keys.sk_pr, s->in.keys.prf_len, pd->idr, pd->idr_len, mic);

    if (!ml)
        return false;
    ike_auth_build(ib, &(struct ike_auth_pld){.method = 2, .data = mic, .len = ml});
    OPENSSL_cleanse(mic, sizeof(mic));
    return true;
}

enum ike_auth_rc ike_auth_step_respond(struct ike_sess *s, struct ike_auth_run *w)
{
    struct ike_pend *pd = s->pend;
    struct ike_builder ib;
    struct ike_hdr h = {0};
    const char *why = NULL;
    uint8_t first = pd->eap ? IKE_PLD_AUTH : IKE_PLD_IDR;

    /* IDr and AUTH (with EAP only AUTH, from the MSK), CP, SA, TSi, TSr */
    ike_build_begin(&ib, &h);
    if (pd->eap ? !eap_auth(s, &ib)
                : !build_idr_auth(s, w->prof, w->sign_tp, (const uint8_t *)w->key, w->key ? strlen(w->key) : 0, &ib,
                                  NULL, NULL))
        why = w->sign_tp ? "cannot sign our AUTH" : "cannot compute our AUTH";
    if (!why) {
        ike_ppk_build(s, &ib);
        if (w->cpo->cp.cfg_type)
            ike_cp_build(&ib, &w->cpo->cp);
        if (w->addr_failed)
            ike_notify_build(&ib, &(struct ike_notify_pld){.type = N_INTERNAL_ADDRESS_FAILURE});
        else if (w->child_err)
            ike_notify_build(&ib, &(struct ike_notify_pld){.type = w->child_err});
        ike_mobike_auth(s, w->prof, &pd->req, &ib); /* MOBIKE_SUPPORTED (RFC 4555 3.1) */
        if (w->have_child) {
            ike_child_sa_reply(&w->child.alg, w->child.sc.spi_in, w->sa);
            ike_sa_build(&ib, w->sa);
            ike_ts_build(&ib, IKE_PLD_TSI, &w->tsi);
            ike_ts_build(&ib, IKE_PLD_TSR, &w->tsr);
        }
        /* held: the up step sends it once the session's first record is
         * written, so that no client holds a session a crash could lose */
        s->hold_resp = true;
        if (!ike_build_finish(&ib)) {
            why = "cannot build the response";
        } else if (ike_authq_seal(s, w, first, ib.buf.data + IKE_HDR_LEN, ib.buf.len - IKE_HDR_LEN) ==
                   IKE_AUTH_WAIT) {
            ike_buf_fini(&ib.buf); /* sealed on a crypto thread */
            return IKE_AUTH_WAIT;
        } else if (!ike_sess_respond(s, IKE_EXCH_AUTH, pd->msg_id, first, ib.buf.data + IKE_HDR_LEN,
                                     ib.buf.len - IKE_HDR_LEN)) {
            why = "cannot build the response";
        }
        if (why)
            s->hold_resp = false;
    }
    ike_buf_fini(&ib.buf);
    return why ? ike_auth_refuse(s, NULL, why) : IKE_AUTH_NEXT;
}
