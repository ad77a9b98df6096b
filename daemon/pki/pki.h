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
#include <time.h>

struct pki_tp {
    char *name;
    STACK_OF(X509) *cas;
    STACK_OF(X509_CRL) *crls; /* configured (inline) CRLs */
    bool crl_check;           /* revocation-check names crl */
    bool crl_fail_open;       /* ends in none: accepted when no revocation status can be had */
    /* OCSP (RFC 6960, pki_ocsp.h): asked first when ocsp_first, else after the CRL */
    bool ocsp_check, ocsp_first;
    bool ocsp_nonce;          /* ocsp-nonce: requests carry a nonce the response must echo */
    char *ocsp_url;           /* ocsp-url: the responder, instead of the certificate's AIA; NULL if none */
    char **crl_urls;          /* crl-url, in configuration order */
    size_t ncrl_url;
    X509 *cert;     /* own certificate, NULL if none */
    uint8_t *cert_der; /* and its DER encoding (the CERT payload) */
    size_t cert_der_len;
    /* The CA certificates above ours (DER), its issuer first, up to but not
     * including a self-signed root: the CERT payloads after ours (RFC 7296
     * 3.6) that let a client trusting only the root build the path. Filled
     * when the configuration is compiled (ike_conf.c). */
    uint8_t **chain_der;
    size_t *chain_der_len;
    size_t nchain;
    EVP_PKEY *key;  /* its private key */
    uint8_t (*ca_hashes)[20]; /* SHA-1 of each CA's SubjectPublicKeyInfo (CERTREQ) */
    size_t nca;
};

/* How a trustpoint checks revocation (revocation-check): the methods in the
 * order they are asked (the next one only when the previous one has no answer),
 * and with _NONE a certificate whose status none of them has is accepted. */
enum pki_rev {
    PKI_REV_NONE,
    PKI_REV_CRL,
    PKI_REV_CRL_NONE,
    PKI_REV_OCSP,
    PKI_REV_OCSP_NONE,
    PKI_REV_OCSP_CRL,
    PKI_REV_OCSP_CRL_NONE,
    PKI_REV_CRL_OCSP,
    PKI_REV_CRL_OCSP_NONE,
};

/* The enum value of a revocation-check name ("ocsp-crl-none"); false if unknown. */
bool pki_rev_parse(const char *name, enum pki_rev *rev);

/* Parses one trustpoint from PEM texts; @crl_urls are copied. On error returns
 * NULL with a message in @why (naming which PEM is wrong). */
struct pki_tp *pki_tp_new(const char *name, const char *const *ca_pems, size_t nca, const char *cert_pem,
                          const char *key_pem, const char *const *crl_pems, size_t ncrl,
                          const char *const *crl_urls, size_t nurl, enum pki_rev rev, char *why, size_t why_len);
void pki_tp_free(struct pki_tp *tp);
/* The OCSP settings of @tp: its responder @url (copied, NULL for the
 * certificates' AIA) and whether requests carry a nonce. False when out of memory. */
bool pki_tp_set_ocsp(struct pki_tp *tp, const char *url, bool nonce);

/* Revocation checks: pki_crl.h. */

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

/* RFC 7427 hash algorithm identifiers (SIGNATURE_HASH_ALGORITHMS), as bits
 * (PKI_HASH_BIT) of what a peer announced; Identity is RFC 8420's, for
 * Ed25519, which signs the message itself. */
enum pki_hash { PKI_HASH_SHA256 = 2, PKI_HASH_SHA384 = 3, PKI_HASH_SHA512 = 4, PKI_HASH_IDENTITY = 5 };
#define PKI_HASH_BIT(h) (1u << (h))

/* How to sign an AUTH for one peer. */
struct pki_sign_how {
    bool rfc7427;    /* the peer announced SIGNATURE_HASH_ALGORITHMS */
    unsigned hashes; /* the identifiers it announced, PKI_HASH_BIT()s */
    bool pss;        /* an RSA key signs with RSASSA-PSS (an RSA-PSS key always does) */
};

/* Signs @data with @key. With @how->rfc7427 the Digital Signature method: RSA
 * with PKCS#1 v1.5 or RSASSA-PSS (MGF1 of the same hash, salt of the hash's
 * length) over the first of SHA2-256/384/512 the peer announced, ECDSA with
 * the curve's hash, Ed25519 (only when the peer announced Identity). Without,
 * the classic method for the key type (RSA PKCS#1 v1.5 with SHA-1, ECDSA),
 * which an RSA-PSS or Ed25519 key cannot make. Writes the AUTH method and data
 * (caller frees); false with @why on failure. */
bool pki_auth_sign(EVP_PKEY *key, const struct pki_sign_how *how, const uint8_t *data, size_t len, uint8_t *method,
                   uint8_t **sig, size_t *sig_len, char *why, size_t why_len);
/* Verifies AUTH data of @method over @data with the public key of @cert. */
bool pki_auth_verify(X509 *cert, uint8_t method, const uint8_t *auth, size_t auth_len, const uint8_t *data,
                     size_t len, char *why, size_t why_len);

/* What clients require of the headend's own certificate (pki_check.c). */
enum pki_issue_kind {
    PKI_ISSUE_NO_SERVER_AUTH,   /* no serverAuth extended key usage */
    PKI_ISSUE_ID_NOT_IN_SAN,    /* the IKE identity is not in subjectAltName */
    PKI_ISSUE_IP_NOT_IN_DNS_SAN, /* an IP identity not also a DNS entry (Windows) */
    PKI_ISSUE_RSA_KEY_SMALL,    /* RSA under 2048 bits */
    PKI_ISSUE_EXPIRES_SOON,     /* within 30 days */
    PKI_ISSUE_EXPIRED,
};
struct pki_issue {
    enum pki_issue_kind kind;
    char msg[256]; /* what is wrong and who refuses it */
};
/* The YANG enum name of @k ("no-server-auth-eku", ...). */
const char *pki_issue_name(enum pki_issue_kind k);
/* The problems clients would have with @cert as the headend's certificate for
 * the IKE identity (@id_type, RFC 7296 3.5, with @id; type 0 when the identity
 * is not known until a client comes) at @now, ending within @warn_days being
 * one; at most @cap into @out. */
size_t pki_server_cert_check(X509 *cert, uint8_t id_type, const uint8_t *id, size_t id_len, time_t now,
                             unsigned int warn_days, struct pki_issue *out, size_t cap);

/* Days from @now until @cert ends (negative: ended); false if it cannot be read. */
bool pki_cert_days_left(X509 *cert, time_t now, int *days);

#endif
