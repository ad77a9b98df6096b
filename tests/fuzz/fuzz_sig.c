/* Fuzzes the verification of a client's signature AUTH (pki_auth_verify,
 * daemon/pki/pki.c): the first byte picks the certificate's key (RSA, RSA-PSS,
 * ECDSA P-256, Ed25519), the second the AUTH method, the rest is the AUTH data:
 * for RFC 7427 the AlgorithmIdentifier (PKCS#1 v1.5, ECDSA, RSASSA-PSS with any
 * parameters, Ed25519) and the signature. The keys and self-signed
 * certificates are made at start; the seeds carry each AlgorithmIdentifier the
 * parser knows and PSS parameters in other encodings. */
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pki/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *certs[4];

/* A certificate carrying @k (adopted); its own signature does not matter here. */
static X509 *cert_of(EVP_PKEY *k)
{
    X509 *x = X509_new();

    if (!k || !x || X509_set_pubkey(x, k) != 1)
        abort();
    EVP_PKEY_free(k);
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t methods[] = {1, 9, 10, 11, 14};
    static const uint8_t signed_octets[] = "RealMessage2 | Ni | prf(SK_pr, IDr')";
    char why[256];

    if (!certs[0]) {
        certs[0] = cert_of(EVP_RSA_gen(1024));
        {
            EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
            EVP_PKEY *k = NULL;

            if (!c || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(c, 1024) != 1 ||
                EVP_PKEY_generate(c, &k) != 1)
                abort();
            EVP_PKEY_CTX_free(c);
            certs[1] = cert_of(k);
        }
        certs[2] = cert_of(EVP_EC_gen("P-256"));
        certs[3] = cert_of(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
    }
    if (size < 2)
        return 0;
    pki_auth_verify(certs[data[0] & 3], methods[data[1] % sizeof(methods)], data + 2, size - 2, signed_octets,
                    sizeof(signed_octets) - 1, why, sizeof(why));
    return 0;
}
