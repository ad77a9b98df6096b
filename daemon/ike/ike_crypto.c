/* IKEv2 crypto glue over OpenSSL 3.0 (see ike_crypto.h). */
#include "daemon/ike/ike_crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/poison.h"

enum dh_kind {
    DH_MODP,
    DH_ECP,
    DH_X25519,
};

struct ike_dh {
    enum ike_dh_group group;
    enum dh_kind kind;
    size_t len;   /* public value and shared secret length */
    BIGNUM *p;    /* MODP prime */
    EVP_PKEY *key;
};

static const char *ecp_name(enum ike_dh_group g)
{
    switch (g) {
    case IKE_DH_ECP256:
        return "P-256";
    case IKE_DH_ECP384:
        return "P-384";
    case IKE_DH_ECP521:
        return "P-521";
    default:
        return NULL;
    }
}

static BIGNUM *modp_prime(enum ike_dh_group g)
{
    switch (g) {
    case IKE_DH_MODP1024:
        return BN_get_rfc2409_prime_1024(NULL);
    case IKE_DH_MODP2048:
        return BN_get_rfc3526_prime_2048(NULL);
    case IKE_DH_MODP3072:
        return BN_get_rfc3526_prime_3072(NULL);
    case IKE_DH_MODP4096:
        return BN_get_rfc3526_prime_4096(NULL);
    default:
        return NULL;
    }
}

size_t ike_dh_pub_len(enum ike_dh_group g)
{
    switch (g) {
    case IKE_DH_MODP1024:
        return 128;
    case IKE_DH_MODP2048:
        return 256;
    case IKE_DH_MODP3072:
        return 384;
    case IKE_DH_MODP4096:
        return 512;
    case IKE_DH_ECP256:
        return 64;
    case IKE_DH_ECP384:
        return 96;
    case IKE_DH_ECP521:
        return 132;
    case IKE_DH_CURVE25519:
        return 32;
    }
    return 0;
}

void ike_dh_free(struct ike_dh *dh)
{
    if (!dh)
        return;
    BN_free(dh->p);
    EVP_PKEY_free(dh->key);
    free(dh);
}

/* A MODP key (public/private as given, NULL = none) over the group's prime, g = 2. */
static EVP_PKEY *modp_key(const BIGNUM *p, const BIGNUM *pub, const BIGNUM *priv)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    BIGNUM *g = BN_new();

    if (!b || !g || !BN_set_word(g, 2) || !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_FFC_P, p) ||
        !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_FFC_G, g) ||
        (pub && !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PUB_KEY, pub)) ||
        (priv && !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, priv)) ||
        !(params = OSSL_PARAM_BLD_to_param(b)))
        goto out;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &key, pub || priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_KEY_PARAMETERS, params) <= 0)
        key = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_free(g);
    return key;
}

static EVP_PKEY *ec_key(const char *curve, const uint8_t *pub, size_t pub_len, const BIGNUM *priv)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;

    if (!b || !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
        (pub && !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len)) ||
        (priv && !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, priv)) ||
        !(params = OSSL_PARAM_BLD_to_param(b)))
        goto out;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    /* importing the public point decodes it, which refuses points off the curve */
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &key, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
        key = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    return key;
}

static struct ike_dh *dh_alloc(enum ike_dh_group g)
{
    struct ike_dh *dh;

    if (!ike_dh_pub_len(g))
        return NULL;
    dh = calloc(1, sizeof(*dh));
    if (!dh)
        return NULL;
    dh->group = g;
    dh->len = ike_dh_pub_len(g);
    dh->kind = g == IKE_DH_CURVE25519 ? DH_X25519 : ecp_name(g) ? DH_ECP : DH_MODP;
    if (dh->kind == DH_MODP && !(dh->p = modp_prime(g))) {
        free(dh);
        return NULL;
    }
    return dh;
}

struct ike_dh *ike_dh_new(enum ike_dh_group g)
{
    struct ike_dh *dh = dh_alloc(g);
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *params = NULL;

    if (!dh)
        return NULL;
    switch (dh->kind) {
    case DH_X25519:
        dh->key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        break;
    case DH_ECP:
        dh->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", ecp_name(g));
        break;
    case DH_MODP:
        params = modp_key(dh->p, NULL, NULL);
        ctx = params ? EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL) : NULL;
        if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &dh->key) <= 0)
            dh->key = NULL;
        break;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(params);
    if (!dh->key) {
        ike_dh_free(dh);
        return NULL;
    }
    return dh;
}

struct ike_dh *ike_dh_new_from_priv(enum ike_dh_group g, const uint8_t *priv, size_t len)
{
    struct ike_dh *dh = dh_alloc(g);
    BIGNUM *x = NULL, *y = NULL;
    BN_CTX *bctx = NULL;

    if (!dh)
        return NULL;
    if (dh->kind == DH_X25519) {
        dh->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, len);
    } else if ((x = BN_bin2bn(priv, (int)len, NULL))) {
        if (dh->kind == DH_ECP) {
            dh->key = ec_key(ecp_name(g), NULL, 0, x);
        } else if ((y = BN_new()) && (bctx = BN_CTX_new())) {
            BIGNUM *two = BN_new();

            if (two && BN_set_word(two, 2) && BN_mod_exp(y, two, x, dh->p, bctx))
                dh->key = modp_key(dh->p, y, x);
            BN_free(two);
        }
    }
    BN_clear_free(x);
    BN_free(y);
    BN_CTX_free(bctx);
    if (!dh->key) {
        ike_dh_free(dh);
        return NULL;
    }
    return dh;
}

size_t ike_dh_public(const struct ike_dh *dh, uint8_t *out, size_t cap)
{
    size_t n = 0;

    if (cap < dh->len)
        return 0;
    switch (dh->kind) {
    case DH_X25519:
        n = cap;
        return EVP_PKEY_get_raw_public_key(dh->key, out, &n) == 1 && n == dh->len ? n : 0;
    case DH_ECP: {
        uint8_t enc[1 + 2 * 66];
        size_t el = 0;

        if (EVP_PKEY_get_octet_string_param(dh->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, enc, sizeof(enc), &el) != 1 ||
            el != dh->len + 1 || enc[0] != 0x04)
            return 0;
        memcpy(out, enc + 1, dh->len); /* x || y without the point format byte */
        return dh->len;
    }
    case DH_MODP: {
        BIGNUM *pub = NULL;

        if (EVP_PKEY_get_bn_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, &pub) == 1 &&
            BN_bn2binpad(pub, out, (int)dh->len) == (int)dh->len)
            n = dh->len;
        BN_free(pub);
        return n;
    }
    }
    return 0;
}

/* RFC 6989 2.2 for MODP groups: 1 < y < p - 1. */
static bool modp_peer_ok(const struct ike_dh *dh, const BIGNUM *y)
{
    BIGNUM *pm1 = BN_dup(dh->p);
    bool ok = pm1 && BN_sub_word(pm1, 1) && BN_cmp(y, BN_value_one()) > 0 && BN_cmp(y, pm1) < 0;

    BN_free(pm1);
    return ok;
}

size_t ike_dh_derive(const struct ike_dh *dh, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *y = NULL;
    size_t n = 0, want = dh->kind == DH_ECP ? dh->len / 2 : dh->len;

    if (peer_len != dh->len || cap < want)
        return 0;
    switch (dh->kind) {
    case DH_X25519:
        pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, peer_len);
        break;
    case DH_ECP: {
        uint8_t enc[1 + 2 * 66];

        enc[0] = 0x04;
        memcpy(enc + 1, peer, peer_len);
        pk = ec_key(ecp_name(dh->group), enc, peer_len + 1, NULL);
        break;
    }
    case DH_MODP:
        y = BN_bin2bn(peer, (int)peer_len, NULL);
        if (y && modp_peer_ok(dh, y))
            pk = modp_key(dh->p, y, NULL);
        break;
    }
    if (!pk)
        goto out;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL);
    /* validate_peer = 0: the cheap RFC 6989 checks above replace OpenSSL's full
     * public key validation, which costs about 2 ms per MODP-2048 exchange */
    if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 || EVP_PKEY_derive_set_peer_ex(ctx, pk, 0) <= 0)
        goto out;
    if (dh->kind == DH_MODP && EVP_PKEY_CTX_set_dh_pad(ctx, 1) <= 0)
        goto out;
    n = cap;
    if (EVP_PKEY_derive(ctx, out, &n) <= 0 || n != want) {
        n = 0;
        goto out;
    }
    if (dh->kind == DH_X25519) { /* RFC 7748 6.1: refuse the all-zero result */
        uint8_t acc = 0;
        for (size_t i = 0; i < n; i++)
            acc |= out[i];
        if (!acc)
            n = 0;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    BN_free(y);
    return n;
}

static const char *prf_digest(enum ike_prf prf)
{
    switch (prf) {
    case IKE_PRF_HMAC_SHA1:
        return "SHA1";
    case IKE_PRF_HMAC_SHA2_256:
        return "SHA2-256";
    case IKE_PRF_HMAC_SHA2_384:
        return "SHA2-384";
    case IKE_PRF_HMAC_SHA2_512:
        return "SHA2-512";
    }
    return NULL;
}

size_t ike_prf_len(enum ike_prf prf)
{
    switch (prf) {
    case IKE_PRF_HMAC_SHA1:
        return 20;
    case IKE_PRF_HMAC_SHA2_256:
        return 32;
    case IKE_PRF_HMAC_SHA2_384:
        return 48;
    case IKE_PRF_HMAC_SHA2_512:
        return 64;
    }
    return 0;
}

/* The algorithms fetched once for the process: a fetch, explicit or implied by
 * EVP_sha256()/EVP_aes_*() at init, takes the provider store's lock and a
 * lookup; fetched objects are immutable and shared by every thread, the
 * crypto pool's too. hmac_tpl[prf] is an HMAC context already bound to its
 * digest (keyed with one dummy byte, as a context can only be copied once
 * keyed): a copy rekeyed with EVP_MAC_init(key, NULL params) fetches nothing. */
enum { CIPH_GCM128, CIPH_GCM192, CIPH_GCM256, CIPH_CHACHA, CIPH_CBC128, CIPH_CBC192, CIPH_CBC256, CIPH_N };

static const char *const ciph_name[CIPH_N] = {
    [CIPH_GCM128] = "AES-128-GCM", [CIPH_GCM192] = "AES-192-GCM", [CIPH_GCM256] = "AES-256-GCM",
    [CIPH_CHACHA] = "ChaCha20-Poly1305", [CIPH_CBC128] = "AES-128-CBC", [CIPH_CBC192] = "AES-192-CBC",
    [CIPH_CBC256] = "AES-256-CBC",
};
static EVP_CIPHER *ciph[CIPH_N];
static EVP_MD *sha1_md;
static EVP_MAC_CTX *hmac_tpl[IKE_PRF_HMAC_SHA2_512 + 1];
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void algs_fetch(void)
{
    static const enum ike_prf prfs[] = {IKE_PRF_HMAC_SHA1, IKE_PRF_HMAC_SHA2_256, IKE_PRF_HMAC_SHA2_384,
                                        IKE_PRF_HMAC_SHA2_512};
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    static const uint8_t dummy = 0;

    for (size_t i = 0; i < CIPH_N; i++)
        ciph[i] = EVP_CIPHER_fetch(NULL, ciph_name[i], NULL);
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
    for (size_t i = 0; hmac && i < sizeof(prfs) / sizeof(prfs[0]); i++) {
        OSSL_PARAM params[2];
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac);

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)prf_digest(prfs[i]), 0);
        params[1] = OSSL_PARAM_construct_end();
        if (ctx && !EVP_MAC_init(ctx, &dummy, 1, params)) {
            EVP_MAC_CTX_free(ctx);
            ctx = NULL;
        }
        hmac_tpl[prfs[i]] = ctx;
    }
    EVP_MAC_free(hmac); /* the contexts hold their own reference */
}

static const EVP_CIPHER *cipher(int i)
{
    pthread_once(&algs_once, algs_fetch);
    return ciph[i];
}

bool ike_sha1(const uint8_t *data, size_t len, uint8_t out[20])
{
    unsigned int ol = 0;

    pthread_once(&algs_once, algs_fetch);
    return sha1_md && EVP_Digest(data, len, out, &ol, sha1_md, NULL) == 1 && ol == 20;
}

/* A context of @prf keyed with @key, NULL on error. */
static EVP_MAC_CTX *prf_ctx(enum ike_prf prf, const uint8_t *key, size_t klen)
{
    EVP_MAC_CTX *ctx;

    pthread_once(&algs_once, algs_fetch);
    if ((unsigned)prf > IKE_PRF_HMAC_SHA2_512 || !hmac_tpl[prf] || !(ctx = EVP_MAC_CTX_dup(hmac_tpl[prf])))
        return NULL;
    if (!EVP_MAC_init(ctx, key, klen, NULL)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* One output block of @ctx over @a and @b (either may be empty). */
static size_t prf_run(EVP_MAC_CTX *ctx, size_t plen, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                      uint8_t *out)
{
    size_t n = 0;

    if ((alen && !EVP_MAC_update(ctx, a, alen)) || (blen && !EVP_MAC_update(ctx, b, blen)) ||
        !EVP_MAC_final(ctx, out, &n, plen))
        return 0;
    return n;
}

size_t ike_prf(enum ike_prf prf, const uint8_t *key, size_t klen, const uint8_t *data, size_t dlen, uint8_t *out)
{
    EVP_MAC_CTX *ctx = prf_ctx(prf, key, klen);
    size_t n;

    if (!ctx)
        return 0;
    n = prf_run(ctx, ike_prf_len(prf), data, dlen, NULL, 0, out);
    EVP_MAC_CTX_free(ctx);
    return n;
}

bool ike_prf_plus(enum ike_prf prf, const uint8_t *key, size_t klen, const uint8_t *seed, size_t slen, uint8_t *out,
                  size_t out_len)
{
    size_t plen = ike_prf_len(prf), done = 0;
    uint8_t t[64];
    EVP_MAC_CTX *ctx;
    bool ok = true;

    if (!plen || (out_len + plen - 1) / plen > 255)
        return false;
    ctx = prf_ctx(prf, key, klen); /* keyed once, set back to that key for each block */
    if (!ctx)
        return false;
    /* T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n) */
    for (unsigned i = 1; done < out_len; i++) {
        uint8_t n = (uint8_t)i;
        size_t c;

        if ((i > 1 && !EVP_MAC_init(ctx, NULL, 0, NULL)) ||
            (i > 1 && !EVP_MAC_update(ctx, t, plen)) || prf_run(ctx, plen, seed, slen, &n, 1, t) != plen) {
            ok = false;
            break;
        }
        c = out_len - done < plen ? out_len - done : plen;
        memcpy(out + done, t, c);
        done += c;
    }
    OPENSSL_cleanse(t, sizeof(t));
    EVP_MAC_CTX_free(ctx);
    return ok;
}

void ike_keys_wipe(struct ike_keys *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

/* SKEYSEED = prf(Ni | Nr, g^ir), or for a rekeyed IKE SA (RFC 7296 2.18)
 * prf_old(SK_d (old), g^ir (new) | Ni | Nr); then the seven keys. */
static bool derive(enum ike_prf prf, enum ike_prf rekey_prf, const uint8_t *sk_d_old, size_t sk_d_len,
                   const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len, const uint8_t *gir,
                   size_t gir_len, const uint8_t spi_i[8], const uint8_t spi_r[8], size_t integ_len, size_t encr_len,
                   struct ike_keys *k)
{
    size_t plen = ike_prf_len(prf), total, off = 0, seed_len;
    uint8_t skeyseed[64], *seed = NULL, *km = NULL;
    bool ok = false;

    memset(k, 0, sizeof(*k));
    if (!plen || integ_len > sizeof(k->sk_ai) || encr_len > sizeof(k->sk_ei))
        return false;
    seed = malloc(gir_len + ni_len + nr_len + 16);
    total = 3 * plen + 2 * integ_len + 2 * encr_len;
    km = malloc(total);
    if (!seed || !km)
        goto out;
    if (sk_d_old) {
        memcpy(seed, gir, gir_len);
        memcpy(seed + gir_len, ni, ni_len);
        memcpy(seed + gir_len + ni_len, nr, nr_len);
        seed_len = ike_prf(rekey_prf, sk_d_old, sk_d_len, seed, gir_len + ni_len + nr_len, skeyseed);
        OPENSSL_cleanse(seed, gir_len);
    } else {
        memcpy(seed, ni, ni_len);
        memcpy(seed + ni_len, nr, nr_len);
        seed_len = ike_prf(prf, seed, ni_len + nr_len, gir, gir_len, skeyseed);
    }
    if (!seed_len)
        goto out;
    memcpy(seed, ni, ni_len);
    memcpy(seed + ni_len, nr, nr_len);
    memcpy(seed + ni_len + nr_len, spi_i, 8);
    memcpy(seed + ni_len + nr_len + 8, spi_r, 8);
    if (!ike_prf_plus(prf, skeyseed, seed_len, seed, ni_len + nr_len + 16, km, total))
        goto out;
    memcpy(k->sk_d, km + off, plen), off += plen;
    memcpy(k->sk_ai, km + off, integ_len), off += integ_len;
    memcpy(k->sk_ar, km + off, integ_len), off += integ_len;
    memcpy(k->sk_ei, km + off, encr_len), off += encr_len;
    memcpy(k->sk_er, km + off, encr_len), off += encr_len;
    memcpy(k->sk_pi, km + off, plen), off += plen;
    memcpy(k->sk_pr, km + off, plen);
    k->prf_len = plen;
    k->integ_len = integ_len;
    k->encr_len = encr_len;
    ok = true;
out:
    OPENSSL_cleanse(skeyseed, sizeof(skeyseed));
    if (km) {
        OPENSSL_cleanse(km, total);
        free(km);
    }
    free(seed);
    if (!ok)
        ike_keys_wipe(k);
    return ok;
}

bool ike_derive_keys(enum ike_prf prf, const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
                     const uint8_t *gir, size_t gir_len, const uint8_t spi_i[8], const uint8_t spi_r[8],
                     size_t integ_len, size_t encr_len, struct ike_keys *k)
{
    return derive(prf, prf, NULL, 0, ni, ni_len, nr, nr_len, gir, gir_len, spi_i, spi_r, integ_len, encr_len, k);
}

bool ike_derive_rekey_keys(enum ike_prf old_prf, const uint8_t *sk_d_old, size_t sk_d_len, enum ike_prf prf,
                           const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len, const uint8_t *gir,
                           size_t gir_len, const uint8_t spi_i[8], const uint8_t spi_r[8], size_t integ_len,
                           size_t encr_len, struct ike_keys *k)
{
    return derive(prf, old_prf, sk_d_old, sk_d_len, ni, ni_len, nr, nr_len, gir, gir_len, spi_i, spi_r, integ_len,
                  encr_len, k);
}

static const EVP_CIPHER *aead_cipher(enum ike_aead alg, size_t key_len)
{
    if (alg == IKE_AEAD_AES_GCM_16 && key_len == 16 + 4)
        return cipher(CIPH_GCM128);
    if (alg == IKE_AEAD_AES_GCM_16 && key_len == 24 + 4)
        return cipher(CIPH_GCM192);
    if (alg == IKE_AEAD_AES_GCM_16 && key_len == 32 + 4)
        return cipher(CIPH_GCM256);
    if (alg == IKE_AEAD_CHACHA20_POLY1305 && key_len == 32 + 4)
        return cipher(CIPH_CHACHA);
    return NULL;
}

static bool aead(bool enc, enum ike_aead alg, const uint8_t *key, size_t key_len, const uint8_t iv[8],
                 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
    const EVP_CIPHER *c = aead_cipher(alg, key_len);
    EVP_CIPHER_CTX *ctx = c ? EVP_CIPHER_CTX_new() : NULL;
    uint8_t nonce[12];
    int n = 0, f = 0;
    bool ok = false;

    if (!ctx || len > INT32_MAX || aad_len > INT32_MAX)
        goto out;
    memcpy(nonce, key + key_len - 4, 4); /* salt: the last 4 bytes of the key material */
    memcpy(nonce + 4, iv, 8);
    if (EVP_CipherInit_ex2(ctx, c, key, nonce, enc, NULL) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1)
        goto out;
    if ((aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 || EVP_CipherFinal_ex(ctx, out + n, &f) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
        goto out;
    ok = true;
out:
    OPENSSL_cleanse(nonce, sizeof(nonce));
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

bool ike_aead_seal(enum ike_aead alg, const uint8_t *key, size_t key_len, const uint8_t iv[8], const uint8_t *aad,
                   size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[16])
{
    return aead(true, alg, key, key_len, iv, aad, aad_len, pt, len, ct, tag);
}

bool ike_aead_open(enum ike_aead alg, const uint8_t *key, size_t key_len, const uint8_t iv[8], const uint8_t *aad,
                   size_t aad_len, const uint8_t *ct, size_t len, const uint8_t tag[16], uint8_t *pt)
{
    return aead(false, alg, key, key_len, iv, aad, aad_len, ct, len, pt, (uint8_t *)tag);
}

size_t ike_integ_key_len(enum ike_integ alg)
{
    switch (alg) {
    case IKE_INTEG_HMAC_SHA1_96:
        return 20;
    case IKE_INTEG_HMAC_SHA2_256_128:
        return 32;
    case IKE_INTEG_HMAC_SHA2_384_192:
        return 48;
    case IKE_INTEG_HMAC_SHA2_512_256:
        return 64;
    }
    return 0;
}

size_t ike_integ_icv_len(enum ike_integ alg)
{
    switch (alg) {
    case IKE_INTEG_HMAC_SHA1_96:
        return 12;
    case IKE_INTEG_HMAC_SHA2_256_128:
        return 16;
    case IKE_INTEG_HMAC_SHA2_384_192:
        return 24;
    case IKE_INTEG_HMAC_SHA2_512_256:
        return 32;
    }
    return 0;
}

bool ike_integ(enum ike_integ alg, const uint8_t *key, const uint8_t *data, size_t len, uint8_t *out)
{
    /* the HMAC of the PRF with the same hash, truncated */
    static const enum ike_prf prf_of[] = {[IKE_INTEG_HMAC_SHA1_96] = IKE_PRF_HMAC_SHA1,
                                          [IKE_INTEG_HMAC_SHA2_256_128] = IKE_PRF_HMAC_SHA2_256,
                                          [IKE_INTEG_HMAC_SHA2_384_192] = IKE_PRF_HMAC_SHA2_384,
                                          [IKE_INTEG_HMAC_SHA2_512_256] = IKE_PRF_HMAC_SHA2_512};
    uint8_t full[64];
    size_t icv = ike_integ_icv_len(alg);

    if (!icv || !ike_prf(prf_of[alg], key, ike_integ_key_len(alg), data, len, full))
        return false;
    memcpy(out, full, icv);
    OPENSSL_cleanse(full, sizeof(full));
    return true;
}

bool ike_aes_cbc(bool enc, const uint8_t *key, size_t key_len, const uint8_t iv[16], const uint8_t *in, size_t len,
                 uint8_t *out)
{
    const EVP_CIPHER *c = key_len == 16 ? cipher(CIPH_CBC128) : key_len == 24 ? cipher(CIPH_CBC192) :
                          key_len == 32 ? cipher(CIPH_CBC256) : NULL;
    EVP_CIPHER_CTX *ctx = c ? EVP_CIPHER_CTX_new() : NULL;
    int n = 0, f = 0;
    bool ok = false;

    if (!ctx || len % 16 || len > INT32_MAX)
        goto out;
    if (EVP_CipherInit_ex2(ctx, c, key, iv, enc, NULL) != 1 || EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
        EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 || EVP_CipherFinal_ex(ctx, out + n, &f) != 1)
        goto out;
    ok = (size_t)(n + f) == len;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}
