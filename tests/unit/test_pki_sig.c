/* Unit tests of signature AUTH (daemon/pki/pki.c) beyond what a strongSwan
 * client shows: RSASSA-PSS with the hash the peer announced and its
 * AlgorithmIdentifier, PSS parameters in another encoding (hash identifiers
 * without NULL, an explicit trailer field) accepted, MGF1 of SHA-1 and a
 * wrong trailer refused, Ed25519 only to a peer that announced Identity, keys
 * that cannot make a classic AUTH refused with a reason, a signature for
 * another key type refused. Keys and certificates are made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "daemon/pki/pki.h"

static const uint8_t so[] = "RealMessage2 | Ni | prf(SK_pr, IDr')";

/* EVP_PKEY_Q_keygen does not take RSA-PSS */
static EVP_PKEY *rsa_pss_key(void)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
    EVP_PKEY *k = NULL;

    assert_non_null(c);
    assert_int_equal(EVP_PKEY_keygen_init(c), 1);
    assert_int_equal(EVP_PKEY_generate(c, &k), 1);
    EVP_PKEY_CTX_free(c);
    return k;
}

static X509 *cert_of(EVP_PKEY *k)
{
    X509 *x = X509_new();

    assert_non_null(x);
    assert_int_equal(X509_set_pubkey(x, k), 1);
    return x;
}

static bool verify(X509 *x, uint8_t method, const uint8_t *auth, size_t len, char *why, size_t wl)
{
    return pki_auth_verify(x, method, auth, len, so, sizeof(so) - 1, why, wl);
}

/* An AUTH of @alg (DER) and a PSS signature made with OpenSSL directly. */
static uint8_t *pss_auth(EVP_PKEY *k, const uint8_t *alg, size_t alg_len, const EVP_MD *md, const EVP_MD *mgf1,
                         int salt, size_t *len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    size_t sl = 0;
    uint8_t *a;

    assert_int_equal(EVP_DigestSignInit(c, &pc, md, NULL, k), 1);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, mgf1) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt) > 0);
    assert_int_equal(EVP_DigestSign(c, NULL, &sl, so, sizeof(so) - 1), 1);
    a = malloc(1 + alg_len + sl);
    a[0] = (uint8_t)alg_len;
    memcpy(a + 1, alg, alg_len);
    assert_int_equal(EVP_DigestSign(c, a + 1 + alg_len, &sl, so, sizeof(so) - 1), 1);
    *len = 1 + alg_len + sl;
    EVP_MD_CTX_free(c);
    return a;
}

static void test_pss(void **state)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    X509 *x = cert_of(k);
    struct pki_sign_how how = {.rfc7427 = true, .hashes = PKI_HASH_BIT(PKI_HASH_SHA384) |
                                                        PKI_HASH_BIT(PKI_HASH_SHA512), .pss = true};
    /* RSASSA-PSS, SHA-384 with its NULL parameters absent, MGF1 SHA-384, salt 48, trailer 1 explicit */
    static const uint8_t absent[] = {0x30, 0x42, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
                                     0x30, 0x35, 0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
                                     0x03, 0x04, 0x02, 0x02, 0xa1, 0x1a, 0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48,
                                     0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
                                     0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0xa2, 0x03, 0x02, 0x01, 0x30, 0xa3, 0x03,
                                     0x02, 0x01, 0x01};
    /* the same with MGF1 absent (SHA-1), then with trailer field 2 */
    static const uint8_t mgf_sha1[] = {0x30, 0x21, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
                                     0x30, 0x14, 0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
                                     0x03, 0x04, 0x02, 0x02, 0xa2, 0x03, 0x02, 0x01, 0x30};
    uint8_t bad_trailer[sizeof(absent)];
    uint8_t *sig, method;
    size_t len;
    char why[256];

    (void)state;
    /* ours: the first SHA-2 the peer announced, the PSS AlgorithmIdentifier */
    assert_true(pki_auth_sign(k, &how, so, sizeof(so) - 1, &method, &sig, &len, why, sizeof(why)));
    assert_int_equal(method, PKI_AUTH_DIGITAL_SIGNATURE);
    assert_int_equal(sig[0], 67);
    assert_int_equal(sig[1 + 29], 0x02); /* id-sha384 */
    assert_int_equal(sig[67], 48);       /* salt length */
    assert_true(verify(x, method, sig, len, why, sizeof(why)));
    sig[len - 1] ^= 1;
    assert_false(verify(x, method, sig, len, why, sizeof(why)));
    assert_string_equal(why, "the signature does not verify with the certificate's key");
    free(sig);
    /* PKCS#1 v1.5 when pss is not asked for */
    how.pss = false;
    assert_true(pki_auth_sign(k, &how, so, sizeof(so) - 1, &method, &sig, &len, why, sizeof(why)));
    assert_int_equal(sig[0], 15);
    assert_true(verify(x, method, sig, len, why, sizeof(why)));
    free(sig);
    /* a client's encoding of the parameters */
    sig = pss_auth(k, absent, sizeof(absent), EVP_sha384(), EVP_sha384(), 48, &len);
    assert_true(verify(x, PKI_AUTH_DIGITAL_SIGNATURE, sig, len, why, sizeof(why)));
    free(sig);
    /* MGF1 of SHA-1 and a trailer field other than 1 are refused */
    sig = pss_auth(k, mgf_sha1, sizeof(mgf_sha1), EVP_sha384(), EVP_sha1(), 48, &len);
    assert_false(verify(x, PKI_AUTH_DIGITAL_SIGNATURE, sig, len, why, sizeof(why)));
    assert_non_null(strstr(why, "unsupported RFC 7427 signature algorithm"));
    free(sig);
    memcpy(bad_trailer, absent, sizeof(absent));
    bad_trailer[sizeof(absent) - 1] = 2;
    sig = pss_auth(k, bad_trailer, sizeof(bad_trailer), EVP_sha384(), EVP_sha384(), 48, &len);
    assert_false(verify(x, PKI_AUTH_DIGITAL_SIGNATURE, sig, len, why, sizeof(why)));
    free(sig);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void test_ed25519(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), *r = EVP_RSA_gen(2048);
    X509 *x = cert_of(k), *rx = cert_of(r);
    struct pki_sign_how how = {.rfc7427 = true, .hashes = PKI_HASH_BIT(PKI_HASH_SHA256)};
    uint8_t *sig, method;
    size_t len;
    char why[256];

    (void)state;
    assert_false(pki_auth_sign(k, &how, so, sizeof(so) - 1, &method, &sig, &len, why, sizeof(why)));
    assert_non_null(strstr(why, "Identity hash (RFC 8420)"));
    how.rfc7427 = false;
    assert_false(pki_auth_sign(k, &how, so, sizeof(so) - 1, &method, &sig, &len, why, sizeof(why)));
    assert_non_null(strstr(why, "only with RFC 7427 signatures"));
    how = (struct pki_sign_how){.rfc7427 = true, .hashes = PKI_HASH_BIT(PKI_HASH_IDENTITY)};
    assert_true(pki_auth_sign(k, &how, so, sizeof(so) - 1, &method, &sig, &len, why, sizeof(why)));
    assert_int_equal(sig[0], 7);
    assert_int_equal(len, 1 + 7 + 64);
    assert_true(verify(x, method, sig, len, why, sizeof(why)));
    /* an Ed25519 AUTH with an RSA certificate */
    assert_false(verify(rx, method, sig, len, why, sizeof(why)));
    assert_string_equal(why, "the signature algorithm does not fit the certificate's key");
    free(sig);
    X509_free(x);
    X509_free(rx);
    EVP_PKEY_free(k);
    EVP_PKEY_free(r);
}

/* An RSA-PSS key signs PSS whatever the setting; it has no classic method. */
static void test_rsa_pss_key(void **state)
{
    EVP_PKEY *k = rsa_pss_key();
    X509 *x = cert_of(k);
    struct pki_sign_how how = {.rfc7427 = true};
    uint8_t *sig, method;
    size_t len;
    char why[256];

    (void)state;
    assert_true(pki_auth_sign(k, &how, so, sizeof(so) - 1, &method, &sig, &len, why, sizeof(why)));
    assert_int_equal(sig[0], 67);
    assert_true(verify(x, method, sig, len, why, sizeof(why)));
    free(sig);
    how.rfc7427 = false;
    assert_false(pki_auth_sign(k, &how, so, sizeof(so) - 1, &method, &sig, &len, why, sizeof(why)));
    assert_non_null(strstr(why, "an RSA-PSS key signs only with RFC 7427 signatures"));
    X509_free(x);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pss),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_rsa_pss_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
