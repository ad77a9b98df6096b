/* Trustpoints and signature AUTH (see pki.h). */
#include "daemon/pki/pki.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/poison.h"

static void ossl_why(char *why, size_t len, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "";

    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    snprintf(why, len, "%s%s%s", what, e ? ": " : "", buf);
}

static BIO *mem(const char *pem)
{
    return BIO_new_mem_buf(pem, -1);
}

void pki_tp_free(struct pki_tp *tp)
{
    if (!tp)
        return;
    sk_X509_pop_free(tp->cas, X509_free);
    sk_X509_CRL_pop_free(tp->crls, X509_CRL_free);
    X509_free(tp->cert);
    free(tp->cert_der);
    for (size_t i = 0; i < tp->nchain; i++)
        free(tp->chain_der[i]);
    free(tp->chain_der);
    free(tp->chain_der_len);
    EVP_PKEY_free(tp->key);
    free(tp->ca_hashes);
    for (size_t i = 0; i < tp->ncrl_url; i++)
        free(tp->crl_urls[i]);
    free(tp->crl_urls);
    free(tp->ocsp_url);
    free(tp->name);
    free(tp);
}

struct pki_tp *pki_tp_new(const char *name, const char *const *ca_pems, size_t nca, const char *cert_pem,
                          const char *key_pem, const char *const *crl_pems, size_t ncrl,
                          const char *const *crl_urls, size_t nurl, enum pki_rev rev, char *why, size_t why_len)
{
    struct pki_tp *tp = calloc(1, sizeof(*tp));
    char what[96];

    if (!tp || !(tp->name = strdup(name)) || !(tp->cas = sk_X509_new_null()) || !(tp->crls = sk_X509_CRL_new_null()) ||
        !(tp->ca_hashes = calloc(nca ? nca : 1, sizeof(*tp->ca_hashes))) ||
        !(tp->crl_urls = calloc(nurl ? nurl : 1, sizeof(*tp->crl_urls)))) {
        snprintf(why, why_len, "out of memory");
        goto fail;
    }
    tp->crl_check = rev == PKI_REV_CRL || rev == PKI_REV_CRL_NONE || rev >= PKI_REV_OCSP_CRL;
    tp->ocsp_check = rev >= PKI_REV_OCSP;
    tp->ocsp_first = rev >= PKI_REV_OCSP && rev <= PKI_REV_OCSP_CRL_NONE;
    tp->crl_fail_open = rev == PKI_REV_CRL_NONE || rev == PKI_REV_OCSP_NONE || rev == PKI_REV_OCSP_CRL_NONE ||
                        rev == PKI_REV_CRL_OCSP_NONE;
    tp->ocsp_nonce = true;
    for (size_t i = 0; i < nurl; i++) {
        if (!(tp->crl_urls[tp->ncrl_url] = strdup(crl_urls[i]))) {
            snprintf(why, why_len, "out of memory");
            goto fail;
        }
        tp->ncrl_url++;
    }
    for (size_t i = 0; i < nca; i++) {
        BIO *b = mem(ca_pems[i]);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        unsigned char *spki = NULL;
        int n;

        BIO_free(b);
        snprintf(what, sizeof(what), "CA certificate %zu is not a PEM X.509 certificate", i + 1);
        if (!x || !sk_X509_push(tp->cas, x)) {
            X509_free(x);
            ossl_why(why, why_len, what);
            goto fail;
        }
        /* CERTREQ names a CA by the SHA-1 of its public key (RFC 7296 3.7) */
        n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
        if (n <= 0 || !EVP_Digest(spki, (size_t)n, tp->ca_hashes[tp->nca++], NULL, EVP_sha1(), NULL)) {
            OPENSSL_free(spki);
            ossl_why(why, why_len, what);
            goto fail;
        }
        OPENSSL_free(spki);
    }
    if (cert_pem) {
        BIO *b = mem(cert_pem);

        tp->cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!tp->cert) {
            ossl_why(why, why_len, "the certificate is not a PEM X.509 certificate");
            goto fail;
        }
        {
            unsigned char *der = NULL;
            int n = i2d_X509(tp->cert, &der);

            if (n <= 0 || !(tp->cert_der = malloc((size_t)n))) {
                OPENSSL_free(der);
                ossl_why(why, why_len, "the certificate cannot be encoded");
                goto fail;
            }
            memcpy(tp->cert_der, der, (size_t)n);
            tp->cert_der_len = (size_t)n;
            OPENSSL_free(der);
        }
    }
    if (key_pem) {
        BIO *b = mem(key_pem);

        tp->key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!tp->key) {
            ossl_why(why, why_len, "the private key is not an unencrypted PEM private key");
            goto fail;
        }
        if (tp->cert && X509_check_private_key(tp->cert, tp->key) != 1) {
            ossl_why(why, why_len, "the private key does not belong to the certificate");
            goto fail;
        }
    }
    for (size_t i = 0; i < ncrl; i++) {
        BIO *b = mem(crl_pems[i]);
        X509_CRL *c = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;

        BIO_free(b);
        if (!c || !sk_X509_CRL_push(tp->crls, c)) {
            X509_CRL_free(c);
            snprintf(what, sizeof(what), "CRL %zu is not a PEM X.509 CRL", i + 1);
            ossl_why(why, why_len, what);
            goto fail;
        }
    }
    return tp;
fail:
    pki_tp_free(tp);
    return NULL;
}

bool pki_rev_parse(const char *name, enum pki_rev *rev)
{
    static const char *const names[] = {
        [PKI_REV_NONE] = "none",           [PKI_REV_CRL] = "crl",
        [PKI_REV_CRL_NONE] = "crl-none",   [PKI_REV_OCSP] = "ocsp",
        [PKI_REV_OCSP_NONE] = "ocsp-none", [PKI_REV_OCSP_CRL] = "ocsp-crl",
        [PKI_REV_OCSP_CRL_NONE] = "ocsp-crl-none", [PKI_REV_CRL_OCSP] = "crl-ocsp",
        [PKI_REV_CRL_OCSP_NONE] = "crl-ocsp-none",
    };

    for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcmp(name, names[i])) {
            *rev = (enum pki_rev)i;
            return true;
        }
    }
    return false;
}

bool pki_tp_set_ocsp(struct pki_tp *tp, const char *url, bool nonce)
{
    free(tp->ocsp_url);
    tp->ocsp_url = url ? strdup(url) : NULL;
    tp->ocsp_nonce = nonce;
    return !url || tp->ocsp_url;
}

bool pki_cert_matches_id(X509 *cert, uint8_t id_type, const uint8_t *id, size_t id_len)
{
    char buf[256];

    switch (id_type) {
    case 1: /* IPv4 */
    case 5: /* IPv6 */
        return X509_check_ip(cert, id, id_len, 0) == 1;
    case 2: /* FQDN */
        if (id_len >= sizeof(buf))
            return false;
        memcpy(buf, id, id_len);
        buf[id_len] = 0;
        return X509_check_host(cert, buf, id_len, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
    case 3: /* RFC 822 */
        if (id_len >= sizeof(buf))
            return false;
        memcpy(buf, id, id_len);
        buf[id_len] = 0;
        return X509_check_email(cert, buf, id_len, 0) == 1;
    case 9: { /* DER ASN.1 DN */
        const unsigned char *p = id;
        X509_NAME *n = d2i_X509_NAME(NULL, &p, (long)id_len);
        bool eq = n && X509_NAME_cmp(n, X509_get_subject_name(cert)) == 0;

        X509_NAME_free(n);
        return eq;
    }
    }
    return false;
}

/* RFC 7427 AlgorithmIdentifiers (DER) we sign with; those we verify are
 * these, or any RSASSA-PSS parameters (read by pss_params). */
static const uint8_t alg_rsa_sha256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
static const uint8_t alg_rsa_sha384[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
static const uint8_t alg_rsa_sha512[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00};
static const uint8_t alg_ecdsa_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t alg_ecdsa_sha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const uint8_t alg_ecdsa_sha512[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};
/* RSASSA-PSS (RFC 4055 3.1): SEQUENCE { id-RSASSA-PSS, SEQUENCE { [0] hash,
 * [1] { id-mgf1, hash }, [2] salt length } }, the hash identifiers with NULL
 * parameters as RFC 4055's sha256Identifier etc.; trailer field default (1) */
#define PSS_ALG(h, salt)                                                                                              \
    {0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0, 0x0f,         \
     0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, h,    0x05, 0x00, 0xa1, 0x1c,         \
     0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09,         \
     0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, h,    0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, salt}
static const uint8_t alg_pss_sha256[] = PSS_ALG(0x01, 32);
static const uint8_t alg_pss_sha384[] = PSS_ALG(0x02, 48);
static const uint8_t alg_pss_sha512[] = PSS_ALG(0x03, 64);
/* Ed25519 (RFC 8410): SEQUENCE { id-Ed25519 }, no parameters */
static const uint8_t alg_ed25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};

enum sig_kind { SIG_RSA, SIG_EC, SIG_PSS, SIG_ED25519 };

struct sigalg {
    const uint8_t *der;
    size_t len;
    enum sig_kind kind;
    const EVP_MD *(*md)(void); /* NULL: the message itself (Ed25519) */
};

static const struct sigalg sigalgs[] = {
    {alg_rsa_sha256, sizeof(alg_rsa_sha256), SIG_RSA, EVP_sha256},
    {alg_rsa_sha384, sizeof(alg_rsa_sha384), SIG_RSA, EVP_sha384},
    {alg_rsa_sha512, sizeof(alg_rsa_sha512), SIG_RSA, EVP_sha512},
    {alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256), SIG_EC, EVP_sha256},
    {alg_ecdsa_sha384, sizeof(alg_ecdsa_sha384), SIG_EC, EVP_sha384},
    {alg_ecdsa_sha512, sizeof(alg_ecdsa_sha512), SIG_EC, EVP_sha512},
    {alg_pss_sha256, sizeof(alg_pss_sha256), SIG_PSS, EVP_sha256},
    {alg_pss_sha384, sizeof(alg_pss_sha384), SIG_PSS, EVP_sha384},
    {alg_pss_sha512, sizeof(alg_pss_sha512), SIG_PSS, EVP_sha512},
    {alg_ed25519, sizeof(alg_ed25519), SIG_ED25519, NULL},
};

/* The curve's size in bytes (32, 48, 66) of an EC key, 0 otherwise. */
static size_t ec_size(EVP_PKEY *k)
{
    int bits;

    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
        return 0;
    bits = EVP_PKEY_get_bits(k);
    return bits == 256 ? 32 : bits == 384 ? 48 : bits == 521 ? 66 : 0;
}

static const EVP_MD *ec_md(size_t sz)
{
    return sz == 32 ? EVP_sha256() : sz == 48 ? EVP_sha384() : EVP_sha512();
}

static bool is_rsa(EVP_PKEY *k)
{
    int id = EVP_PKEY_get_base_id(k);

    return id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS;
}

/* RSASSA-PSS settings of a signing or verifying context: @mgf1 for the mask,
 * @salt bytes of salt. */
static bool pss_ctx(EVP_PKEY_CTX *pc, const EVP_MD *mgf1, int salt)
{
    return EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pc, mgf1) > 0 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt) > 0;
}

/* @pss: RSASSA-PSS with MGF1 of @md and a salt of @md's length. */
static bool digest_sign(EVP_PKEY *key, const EVP_MD *md, bool pss, const uint8_t *data, size_t len, uint8_t **sig,
                        size_t *sig_len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    bool ok = false;

    *sig = NULL;
    if (c && EVP_DigestSignInit(c, &pc, md, NULL, key) == 1 &&
        (!pss || pss_ctx(pc, md, EVP_MD_get_size(md))) && EVP_DigestSign(c, NULL, sig_len, data, len) == 1 &&
        (*sig = malloc(*sig_len)) && EVP_DigestSign(c, *sig, sig_len, data, len) == 1)
        ok = true;
    EVP_MD_CTX_free(c);
    if (!ok) {
        free(*sig);
        *sig = NULL;
    }
    return ok;
}

/* DER ECDSA-Sig-Value <-> r|s of @sz bytes each (RFC 4754) */
static bool der_to_rs(const uint8_t *der, size_t len, size_t sz, uint8_t *out)
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
    const BIGNUM *r, *ss;
    bool ok;

    if (!s)
        return false;
    ECDSA_SIG_get0(s, &r, &ss);
    ok = BN_bn2binpad(r, out, (int)sz) == (int)sz && BN_bn2binpad(ss, out + sz, (int)sz) == (int)sz;
    ECDSA_SIG_free(s);
    return ok;
}

static uint8_t *rs_to_der(const uint8_t *rs, size_t sz, size_t *len)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, (int)sz, NULL), *ss = BN_bin2bn(rs + sz, (int)sz, NULL);
    unsigned char *der = NULL;
    int n;

    if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss)) {
        BN_free(r);
        BN_free(ss);
        ECDSA_SIG_free(s);
        return NULL;
    }
    n = i2d_ECDSA_SIG(s, &der);
    ECDSA_SIG_free(s);
    if (n <= 0)
        return NULL;
    *len = (size_t)n;
    return der;
}

/* The RFC 7427 algorithm for @key and the peer's announced @hashes: the
 * curve's hash for ECDSA; for RSA the first SHA-2 the peer announced (SHA-256
 * when it named none we have); NULL for Ed25519 without Identity. */
static const struct sigalg *sign_alg(EVP_PKEY *key, const struct pki_sign_how *how)
{
    size_t ec = ec_size(key);
    int h = PKI_HASH_SHA256;

    if (ec)
        return &sigalgs[ec == 32 ? 3 : ec == 48 ? 4 : 5];
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519)
        return how->hashes & PKI_HASH_BIT(PKI_HASH_IDENTITY) ? &sigalgs[9] : NULL;
    if (!(how->hashes & PKI_HASH_BIT(PKI_HASH_SHA256)))
        h = how->hashes & PKI_HASH_BIT(PKI_HASH_SHA384)   ? PKI_HASH_SHA384
            : how->hashes & PKI_HASH_BIT(PKI_HASH_SHA512) ? PKI_HASH_SHA512
                                                          : PKI_HASH_SHA256;
    return &sigalgs[(how->pss || EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS ? 6 : 0) + h - PKI_HASH_SHA256];
}

static bool sign_7427(EVP_PKEY *key, const struct sigalg *a, const uint8_t *data, size_t len, uint8_t **sig,
                      size_t *sig_len)
{
    uint8_t *raw;
    size_t raw_len;

    if (!digest_sign(key, a->md ? a->md() : NULL, a->kind == SIG_PSS, data, len, &raw, &raw_len))
        return false;
    *sig = malloc(1 + a->len + raw_len);
    if (*sig) {
        (*sig)[0] = (uint8_t)a->len;
        memcpy(*sig + 1, a->der, a->len);
        memcpy(*sig + 1 + a->len, raw, raw_len);
        *sig_len = 1 + a->len + raw_len;
    }
    free(raw);
    return *sig != NULL;
}

bool pki_auth_sign(EVP_PKEY *key, const struct pki_sign_how *how, const uint8_t *data, size_t len, uint8_t *method,
                   uint8_t **sig, size_t *sig_len, char *why, size_t why_len)
{
    size_t ec = ec_size(key), raw_len;
    int id = EVP_PKEY_get_base_id(key);
    const struct sigalg *a;
    uint8_t *raw;

    *sig = NULL;
    if (!is_rsa(key) && !ec && id != EVP_PKEY_ED25519) {
        snprintf(why, why_len, "the key is neither RSA, ECDSA (P-256, P-384, P-521) nor Ed25519");
        return false;
    }
    if (how->rfc7427) {
        if (!(a = sign_alg(key, how))) {
            snprintf(why, why_len, "an Ed25519 key needs a client that announces the Identity hash (RFC 8420)");
            return false;
        }
        *method = PKI_AUTH_DIGITAL_SIGNATURE;
        if (!sign_7427(key, a, data, len, sig, sig_len)) {
            ossl_why(why, why_len, "cannot sign");
            return false;
        }
        return true;
    }
    if (id == EVP_PKEY_RSA_PSS || id == EVP_PKEY_ED25519) {
        snprintf(why, why_len, "%s key signs only with RFC 7427 signatures, which the client did not announce",
                 id == EVP_PKEY_ED25519 ? "an Ed25519" : "an RSA-PSS");
        return false;
    }
    if (!ec) {
        /* the classic method is PKCS#1 v1.5 whatever @how->pss says: the client
         * could verify nothing else */
        *method = PKI_AUTH_RSA;
        if (!digest_sign(key, EVP_sha1(), false, data, len, sig, sig_len)) {
            ossl_why(why, why_len, "cannot sign");
            return false;
        }
        return true;
    }
    if (!digest_sign(key, ec_md(ec), false, data, len, &raw, &raw_len)) {
        ossl_why(why, why_len, "cannot sign");
        return false;
    }
    *sig = malloc(2 * ec);
    if (!*sig || !der_to_rs(raw, raw_len, ec, *sig)) {
        free(*sig);
        *sig = NULL;
        free(raw);
        snprintf(why, why_len, "cannot encode the ECDSA signature");
        return false;
    }
    free(raw);
    *sig_len = 2 * ec;
    *method = ec == 32 ? PKI_AUTH_ECDSA_256 : ec == 48 ? PKI_AUTH_ECDSA_384 : PKI_AUTH_ECDSA_521;
    return true;
}

/* @pss: RSASSA-PSS with MGF1 of @mgf1 and @salt bytes of salt. */
static bool digest_verify(EVP_PKEY *key, const EVP_MD *md, bool pss, const EVP_MD *mgf1, int salt, const uint8_t *sig,
                          size_t sig_len, const uint8_t *data, size_t len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    bool ok = c && EVP_DigestVerifyInit(c, &pc, md, NULL, key) == 1 && (!pss || pss_ctx(pc, mgf1, salt)) &&
              EVP_DigestVerify(c, sig, sig_len, data, len) == 1;

    EVP_MD_CTX_free(c);
    ERR_clear_error();
    return ok;
}

/* SHA2-256, -384 or -512 named by @alg (absent: SHA-1, which we refuse). */
static const EVP_MD *sha2_of(const X509_ALGOR *alg)
{
    int nid = alg ? OBJ_obj2nid(alg->algorithm) : NID_sha1;

    return nid == NID_sha256 ? EVP_sha256() : nid == NID_sha384 ? EVP_sha384() : nid == NID_sha512 ? EVP_sha512() : NULL;
}

/* The RSASSA-PSS parameters of the AlgorithmIdentifier @der (RFC 4055 3.1),
 * whatever their encoding: the hash and MGF1's hash (SHA-2), the salt length,
 * trailer field 1. */
static bool pss_params(const uint8_t *der, size_t len, const EVP_MD **md, const EVP_MD **mgf1, int *salt)
{
    const unsigned char *p = der;
    X509_ALGOR *alg = d2i_X509_ALGOR(NULL, &p, (long)len);
    RSA_PSS_PARAMS *pss = NULL;
    X509_ALGOR *mh = NULL;
    long sl = 20, tf = 1;
    bool ok = false;

    if (!alg || p != der + len || OBJ_obj2nid(alg->algorithm) != NID_rsassaPss || !alg->parameter ||
        alg->parameter->type != V_ASN1_SEQUENCE)
        goto out;
    pss = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS), alg->parameter);
    if (!pss)
        goto out;
    if (pss->maskGenAlgorithm) {
        if (OBJ_obj2nid(pss->maskGenAlgorithm->algorithm) != NID_mgf1 || !pss->maskGenAlgorithm->parameter ||
            pss->maskGenAlgorithm->parameter->type != V_ASN1_SEQUENCE)
            goto out;
        mh = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR), pss->maskGenAlgorithm->parameter);
        if (!mh)
            goto out;
    }
    if (pss->saltLength && ((sl = ASN1_INTEGER_get(pss->saltLength)) < 0 || sl > 512))
        goto out;
    if (pss->trailerField && (tf = ASN1_INTEGER_get(pss->trailerField)) != 1)
        goto out;
    *md = sha2_of(pss->hashAlgorithm);
    *mgf1 = sha2_of(mh); /* MGF1 without parameters would be SHA-1 */
    *salt = (int)sl;
    ok = *md && *mgf1;
out:
    X509_ALGOR_free(mh);
    RSA_PSS_PARAMS_free(pss);
    X509_ALGOR_free(alg);
    ERR_clear_error();
    return ok;
}

/* RFC 7427 Digital Signature AUTH data: the AlgorithmIdentifier, then the
 * signature. */
static bool verify_7427(EVP_PKEY *key, const uint8_t *auth, size_t auth_len, const uint8_t *data, size_t len,
                        char *why, size_t why_len)
{
    size_t al = auth_len ? auth[0] : 0, ec = ec_size(key);
    const struct sigalg *a = NULL;
    const EVP_MD *md, *mgf1;
    int salt;

    if (!auth_len || 1 + al > auth_len) {
        snprintf(why, why_len, "malformed RFC 7427 AUTH data");
        return false;
    }
    for (size_t i = 0; i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++) {
        if (sigalgs[i].len == al && !memcmp(sigalgs[i].der, auth + 1, al))
            a = &sigalgs[i];
    }
    if ((a && a->kind == SIG_PSS) || (!a && pss_params(auth + 1, al, &md, &mgf1, &salt))) {
        if (a) {
            md = mgf1 = a->md();
            salt = EVP_MD_get_size(md);
        }
        if (!is_rsa(key)) {
            snprintf(why, why_len, "an RSASSA-PSS signature with a certificate whose key is not RSA");
            return false;
        }
        return digest_verify(key, md, true, mgf1, salt, auth + 1 + al, auth_len - 1 - al, data, len);
    }
    if (!a) {
        snprintf(why, why_len, "unsupported RFC 7427 signature algorithm (or RSASSA-PSS parameters other than "
                               "SHA2-256/384/512 with MGF1 of SHA-2)");
        return false;
    }
    if ((a->kind == SIG_EC) != (ec != 0) || (a->kind == SIG_RSA && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) ||
        (a->kind == SIG_ED25519) != (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519)) {
        snprintf(why, why_len, "the signature algorithm does not fit the certificate's key");
        return false;
    }
    return digest_verify(key, a->md ? a->md() : NULL, false, NULL, 0, auth + 1 + al, auth_len - 1 - al, data, len);
}

bool pki_auth_verify(X509 *cert, uint8_t method, const uint8_t *auth, size_t auth_len, const uint8_t *data,
                     size_t len, char *why, size_t why_len)
{
    EVP_PKEY *key = X509_get0_pubkey(cert);
    size_t ec = key ? ec_size(key) : 0;
    bool ok = false;

    if (!key) {
        snprintf(why, why_len, "the certificate has no usable public key");
        return false;
    }
    why[0] = 0;
    switch (method) {
    case PKI_AUTH_RSA:
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
            snprintf(why, why_len, "RSA signature AUTH with a non-RSA certificate");
            return false;
        }
        ok = digest_verify(key, EVP_sha1(), false, NULL, 0, auth, auth_len, data, len);
        break;
    case PKI_AUTH_ECDSA_256:
    case PKI_AUTH_ECDSA_384:
    case PKI_AUTH_ECDSA_521: {
        size_t want = method == PKI_AUTH_ECDSA_256 ? 32 : method == PKI_AUTH_ECDSA_384 ? 48 : 66, dl;
        uint8_t *der;

        if (ec != want || auth_len != 2 * want) {
            snprintf(why, why_len, "ECDSA AUTH method %u does not fit the certificate's key", method);
            return false;
        }
        der = rs_to_der(auth, want, &dl);
        ok = der && digest_verify(key, ec_md(ec), false, NULL, 0, der, dl, data, len);
        OPENSSL_free(der);
        break;
    }
    case PKI_AUTH_DIGITAL_SIGNATURE:
        ok = verify_7427(key, auth, auth_len, data, len, why, why_len);
        if (!ok && why[0])
            return false;
        break;
    default:
        snprintf(why, why_len, "AUTH method %u is not supported", method);
        return false;
    }
    if (!ok)
        snprintf(why, why_len, "the signature does not verify with the certificate's key");
    return ok;
}
