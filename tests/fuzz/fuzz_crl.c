/* Fuzzes the acceptance of a fetched CRL (daemon/pki/pki_crl_check.c): the body
 * an HTTP server returned, as DER or PEM, checked against a trustpoint's CA
 * (signature, cRLSign usage, validity); and the revocation verdict on a client
 * certificate with that body as the trustpoint's CRL (issuer, signature, time,
 * serial lookup). The CA and the client certificate are fixed test material (ten
 * years valid); the seeds are CRLs that CA signed, one revoking the client. */
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "daemon/pki/pki.h"
#include "daemon/pki/pki_crl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBvzCCAWWgAwIBAgIUNCfGHKXN0zdnx0RvkdsR9mffUlgwCgYIKoZIzj0EAwIw\n"
    "LTETMBEGA1UECgwKUmF2ZW4gRnV6ejEWMBQGA1UEAwwNUmF2ZW4gRnV6eiBDQTAe\n"
    "Fw0yNjEyMDYwMTQ5MzFaFw0zNjEyMDMwMTQ5MzFaMC0xEzARBgNVBAoMClJhdmVu\n"
    "IEZ1enoxFjAUBgNVBAMMDVJhdmVuIEZ1enogQ0EwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAAT8LMHAbIry3Z6eHnk2MsPzfZymMKgwGVzGNWQvD2xo4qKsQ7MOzuKy\n"
    "LrNrsry4P3gLwgVwjlbkGHyhwsfyPzdxo2MwYTAdBgNVHQ4EFgQU3YQEfwwB1bVe\n"
    "2w96FKA3zszObVcwHwYDVR0jBBgwFoAU3YQEfwwB1bVe2w96FKA3zszObVcwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDSAAwRQIg\n"
    "O40ybtz7fVGFsH7z7QiFDXgEFzOwWCEsTS53BGLUS2QCIQDDWRDoLi7jgs366/s4\n"
    "/d5zQiSHb0l4zb3Q/Og/WemRaQ==\n"
    "-----END CERTIFICATE-----\n";

static const char leaf_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIB2DCCAX6gAwIBAgICEjQwCgYIKoZIzj0EAwIwLTETMBEGA1UECgwKUmF2ZW4g\n"
    "RnV6ejEWMBQGA1UEAwwNUmF2ZW4gRnV6eiBDQTAeFw0yNjEyMDYwMTQ5MzFaFw0z\n"
    "NjEyMDMwMTQ5MzFaMDAxEzARBgNVBAoMClJhdmVuIEZ1enoxGTAXBgNVBAMMEGxl\n"
    "YWYuZXhhbXBsZS5vcmcwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQQO9JIIa+m\n"
    "wlSPxIUGXtKeNx/2OBNUF82mSYzJZv9B9LhSOnrTXkqY4I/DsG0UDvNdq2Z6hrww\n"
    "cVjCoKZsEDbKo4GKMIGHMBsGA1UdEQQUMBKCEGxlYWYuZXhhbXBsZS5vcmcwKAYD\n"
    "VR0fBCEwHzAdoBugGYYXaHR0cDovLzEyNy4wLjAuMS9jYS5jcmwwHQYDVR0OBBYE\n"
    "FIQAfPThyuU1HTm5dd0Pp9Ocv6F8MB8GA1UdIwQYMBaAFN2EBH8MAdW1XtsPehSg\n"
    "N87Mzm1XMAoGCCqGSM49BAMCA0gAMEUCIQDZ4UQ8DBNTdeKrQM2G3qg/T2+dGdjx\n"
    "L5ib0R9SGnA+tgIgEdlw8SHILd6XqPAWGpbH8dC/yuRRIulOdzJ5EjGQhDc=\n"
    "-----END CERTIFICATE-----\n";

static struct pki_tp *tp;
static X509 *leaf;

static void setup(void)
{
    const char *cas[] = {ca_pem};
    char why[200];
    BIO *b = BIO_new_mem_buf(leaf_pem, -1);

    tp = pki_tp_new("fuzz", cas, 1, NULL, NULL, NULL, 0, NULL, 0, PKI_REV_CRL, why, sizeof(why));
    leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    X509_CRL *crl;
    char why[300];
    const struct pki_tp *checked;

    if (!tp)
        setup();
    if (!tp || !leaf)
        return 0;
    X509_CRL_free(pki_crl_accept(data, size, tp->cas, time(NULL), why, sizeof(why)));
    /* the same bytes as the trustpoint's CRL, without acceptance: the verdict
     * must cope with any issuer, signature and entries */
    crl = d2i_X509_CRL(NULL, &p, (long)size);
    if (crl) {
        sk_X509_CRL_push(tp->crls, crl);
        pki_crl_verify(NULL, &tp, 1, leaf, NULL, &checked, why, sizeof(why));
        X509_CRL_free(sk_X509_CRL_pop(tp->crls));
    }
    return 0;
}
