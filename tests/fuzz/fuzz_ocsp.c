/* Fuzzes the handling of an OCSP responder's answer (daemon/pki/pki_ocsp_check.c):
 * the HTTP body, as pki_ocsp_accept gets it, checked against a trustpoint's CA
 * for a fixed client certificate: DER decoding, response status, the nonce of a
 * request made here (which no input echoes: the nonce path), then without a
 * nonce the signature (the CA or a delegated responder), the certificate's
 * entry and thisUpdate/nextUpdate. The same bytes as a client certificate go
 * through the AIA lookup. The CA and client certificate are fixed test material
 * (ten years valid); the seeds are answers from `openssl ocsp` for that
 * certificate: good signed by the CA, good and revoked by a delegated responder. */
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <string.h>

#include "daemon/pki/pki_ocsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIByTCCAW+gAwIBAgIUUkBirpi9TeUm0jOryjd9dNUb6QUwCgYIKoZIzj0EAwIw\n"
    "MjETMBEGA1UECgwKUmF2ZW4gRnV6ejEbMBkGA1UEAwwSUmF2ZW4gRnV6eiBPQ1NQ\n"
    "IENBMB4XDTI2MTIwNjEzMjYzMloXDTM2MTIwMzEzMjYzMlowMjETMBEGA1UECgwK\n"
    "UmF2ZW4gRnV6ejEbMBkGA1UEAwwSUmF2ZW4gRnV6eiBPQ1NQIENBMFkwEwYHKoZI\n"
    "zj0CAQYIKoZIzj0DAQcDQgAEgTn2uav79OETWdZG+UMyn3qcPhibe+bahPNSqx5k\n"
    "SgzFBNlx+xrXbMwUrnyHKLf8UUyta6Ze87gKMPljA9NXKaNjMGEwHQYDVR0OBBYE\n"
    "FIdo2hMFBTMlWiIcomwd7zKKuT/BMB8GA1UdIwQYMBaAFIdo2hMFBTMlWiIcomwd\n"
    "7zKKuT/BMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49\n"
    "BAMCA0gAMEUCIDD+wgHn3VMadhsl9Y8PVqJ1kDN45FjR47TpaVeM46xTAiEAp/s+\n"
    "84sC6da8SHWNL+7yvmmUPFtJuKJrjO1moEK52uQ=\n"
    "-----END CERTIFICATE-----\n";

static const char leaf_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIB2TCCAYCgAwIBAgICEjQwCgYIKoZIzj0EAwIwMjETMBEGA1UECgwKUmF2ZW4g\n"
    "RnV6ejEbMBkGA1UEAwwSUmF2ZW4gRnV6eiBPQ1NQIENBMB4XDTI2MTIwNjEzMjYz\n"
    "MloXDTM2MTIwMzEzMjYzMlowMDETMBEGA1UECgwKUmF2ZW4gRnV6ejEZMBcGA1UE\n"
    "AwwQbGVhZi5leGFtcGxlLm9yZzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCDI\n"
    "4V/waZ1G6xge3ss/x2fKCqRBF6lf9HZPRt5AajqzJCDRGDe2D2IBTc6j1rGA1066\n"
    "oykU5Ah3ktM9VuTSJbKjgYcwgYQwEwYDVR0lBAwwCgYIKwYBBQUHAwIwLQYIKwYB\n"
    "BQUHAQEEITAfMB0GCCsGAQUFBzABhhFodHRwOi8vMTI3LjAuMC4xLzAdBgNVHQ4E\n"
    "FgQUSqgMQDTrbkl3s45wbGlTE3bXgo0wHwYDVR0jBBgwFoAUh2jaEwUFMyVaIhyi\n"
    "bB3vMoq5P8EwCgYIKoZIzj0EAwIDRwAwRAIgVL1WZbGeN8pudqeOBt3V5dSGxiIj\n"
    "CMN8eiRFGmNuCkQCID8lwn3vXRKBi3SNVI6GBfFcOqft5PM6CKxkARTpB1Bk\n"
    "-----END CERTIFICATE-----\n";

static STACK_OF(X509) *cas;
static OCSP_CERTID *id;
static OCSP_REQUEST *req;

static X509 *pem_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    return x;
}

static void setup(void)
{
    X509 *ca = pem_cert(ca_pem), *leaf = pem_cert(leaf_pem);
    uint8_t *der = NULL;
    size_t len;

    if (ca && leaf && (cas = sk_X509_new_null()) && sk_X509_push(cas, ca)) {
        ca = NULL;
        id = OCSP_cert_to_id(NULL, leaf, sk_X509_value(cas, 0));
        req = id ? pki_ocsp_request(id, true, &der, &len) : NULL;
        OPENSSL_free(der);
    }
    X509_free(ca);
    X509_free(leaf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pki_ocsp_answer ans;
    const unsigned char *p = data;
    char why[300], url[256];
    X509 *x;

    if (!cas)
        setup();
    if (!id || !req)
        return 0;
    pki_ocsp_accept(data, size, req, true, id, cas, &ans, why, sizeof(why));
    pki_ocsp_accept(data, size, NULL, false, id, cas, &ans, why, sizeof(why));
    if ((x = d2i_X509(NULL, &p, (long)size))) {
        pki_ocsp_aia_url(x, url, sizeof(url));
        X509_free(x);
    }
    return 0;
}
