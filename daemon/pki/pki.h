/* Trustpoints (SPEC S2, S10): CA certificates, the headend's own certificate and
 * key, CRLs; verification of a client's certificate chain; signing and verifying
 * IKEv2 AUTH data (RFC 7296 classic methods and RFC 7427 digital signatures). All
 * over OpenSSL 3.0. */
#ifndef RAVEN_PKI_PKI_H
#define RAVEN_PKI_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pki_tp {
    char *name;
    STACK_OF(X509) *cas;
    STACK_OF(X509_CRL) *crls;
    bool crl_check;
    X509 *cert;     /* own certificate, NULL if none */
    uint8_t *cert_der; /* and its DER encoding (the CERT payload) */
    size_t cert_der_len;
    EVP_PKEY *key;  /* its private key */
    uint8_t (*ca_hashes)[20]; /* SHA-1 of each CA's SubjectPublicKeyInfo (CERTREQ) */
    size_t nca;
};

/* Parses one trustpoint from PEM texts. On error returns NULL with a message in
 * @why (naming which PEM is wrong). */
struct pki_tp *pki_tp_new(const char *name, const char *const *ca_pems, size_t nca, const char *cert_pem,
                          const char *key_pem, const char *const *crl_pems, size_t ncrl, bool crl_check, char *why,
                          size_t why_len);
void pki_tp_free(struct pki_tp *tp);

/* Verifies @leaf (with @untrusted intermediates, may be NULL) against the CAs of
 * @tps; false with the reason in @why. The certificate must be valid now, chain to
 * a CA and not be revoked by a configured CRL. */
bool pki_verify(struct pki_tp *const *tps, size_t ntp, X509 *leaf, STACK_OF(X509) *untrusted, char *why,
                size_t why_len);

/* Whether @cert carries the identity (IKE ID type and data): a subjectAltName
 * DNS/e-mail/IP entry, or the subject DN for a DER_ASN1_DN ID. */
bool pki_cert_matches_id(X509 *cert, uint8_t id_type, const uint8_t *id, size_t id_len);

/* AUTH methods (RFC 7296 3.8, RFC 4754, RFC 7427) */
enum pki_auth_method {
    PKI_AUTH_RSA = 1,         /* RSASSA-PKCS1-v1_5 with SHA-1 */
    PKI_AUTH_ECDSA_256 = 9,   /* ECDSA P-256 / SHA-256, r|s */
    PKI_AUTH_ECDSA_384 = 10,
    PKI_AUTH_ECDSA_521 = 11,
    PKI_AUTH_DIGITAL_SIGNATURE = 14, /* RFC 7427: AlgorithmIdentifier + signature */
};

/* Signs @data with @key: with @rfc7427 the Digital Signature method (SHA-256 or
 * the curve's hash, PKCS#1 v1.5 for RSA), else the classic method for the key
 * type. Writes the AUTH method and data (caller frees). */
bool pki_auth_sign(EVP_PKEY *key, bool rfc7427, const uint8_t *data, size_t len, uint8_t *method, uint8_t **sig,
                   size_t *sig_len);
/* Verifies AUTH data of @method over @data with the public key of @cert. */
bool pki_auth_verify(X509 *cert, uint8_t method, const uint8_t *auth, size_t auth_len, const uint8_t *data,
                     size_t len, char *why, size_t why_len);

#endif
