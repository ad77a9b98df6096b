/* What remote-access clients require of the headend's own certificate (SPEC
 * S13), checked at commit so that an operator learns of it before clients
 * fail: Windows (error 13801) and Apple refuse a server certificate without
 * the serverAuth extended key usage or without the identity they dial in its
 * subjectAltName, and Windows wants an IP identity as a DNS entry as well;
 * keys under 2048 bits and certificates about to expire are refused by most.
 * Warnings only: the configuration is taken as it is. */
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "daemon/pki/pki.h"
#include "daemon/base/poison.h"


static const char *const issue_names[] = {
    [PKI_ISSUE_NO_SERVER_AUTH] = "no-server-auth-eku",   [PKI_ISSUE_ID_NOT_IN_SAN] = "identity-not-in-san",
    [PKI_ISSUE_IP_NOT_IN_DNS_SAN] = "ip-not-in-dns-san", [PKI_ISSUE_RSA_KEY_SMALL] = "rsa-key-too-small",
    [PKI_ISSUE_EXPIRES_SOON] = "expires-soon",           [PKI_ISSUE_EXPIRED] = "expired",
};

const char *pki_issue_name(enum pki_issue_kind k)
{
    return issue_names[k];
}

static void add(struct pki_issue *out, size_t cap, size_t *n, enum pki_issue_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(struct pki_issue *out, size_t cap, size_t *n, enum pki_issue_kind kind, const char *fmt, ...)
{
    va_list ap;

    if (*n >= cap)
        return;
    out[*n].kind = kind;
    va_start(ap, fmt);
    vsnprintf(out[*n].msg, sizeof(out[*n].msg), fmt, ap);
    va_end(ap);
    (*n)++;
}

/* Whether the subjectAltName of @cert has a DNS entry equal to @name (case
 * does not matter); the subject's common name does not count. */
static bool dns_san(X509 *cert, const char *name)
{
    return X509_check_host(cert, name, strlen(name), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                           X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
}

static void check_identity(X509 *cert, uint8_t id_type, const uint8_t *id, size_t id_len, struct pki_issue *out,
                           size_t cap, size_t *n)
{
    char text[256];

    if (id_type == 2 || id_type == 3) { /* FQDN, RFC 822 */
        if (id_len >= sizeof(text))
            return;
        memcpy(text, id, id_len);
        text[id_len] = 0;
        if (id_type == 2 ? !dns_san(cert, text) : X509_check_email(cert, text, id_len, 0) != 1)
            add(out, cap, n, PKI_ISSUE_ID_NOT_IN_SAN,
                "the IKE identity %s is not a subjectAltName %s entry of the certificate: Windows and Apple "
                "clients refuse it",
                text, id_type == 2 ? "DNS" : "e-mail");
    } else if ((id_type == 1 && id_len == 4) || (id_type == 5 && id_len == 16)) { /* IPv4, IPv6 */
        inet_ntop(id_type == 1 ? AF_INET : AF_INET6, id, text, sizeof(text));
        if (X509_check_ip(cert, id, id_len, 0) != 1)
            add(out, cap, n, PKI_ISSUE_ID_NOT_IN_SAN,
                "the IKE identity %s is not a subjectAltName IP entry of the certificate: Windows and Apple "
                "clients refuse it",
                text);
        if (!dns_san(cert, text))
            add(out, cap, n, PKI_ISSUE_IP_NOT_IN_DNS_SAN,
                "the IKE identity %s is not a subjectAltName DNS entry of the certificate: Windows clients "
                "dialing the address want it as DNS:%s as well (error 13801)",
                text, text);
    }
}

size_t pki_server_cert_check(X509 *cert, uint8_t id_type, const uint8_t *id, size_t id_len, time_t now,
                             unsigned int warn_days, struct pki_issue *out, size_t cap)
{
    EVP_PKEY *key = X509_get0_pubkey(cert);
    uint32_t flags = X509_get_extension_flags(cert);
    time_t soon = now + (time_t)warn_days * 86400;
    size_t n = 0;

    if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER))
        add(out, cap, &n, PKI_ISSUE_NO_SERVER_AUTH,
            "the certificate has %s: Windows and Apple clients refuse a server certificate without it",
            flags & EXFLAG_XKUSAGE ? "an extended key usage without serverAuth" : "no serverAuth extended key usage");
    check_identity(cert, id_type, id, id_len, out, cap, &n);
    if (key && (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA || EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS) &&
        EVP_PKEY_get_bits(key) < 2048)
        add(out, cap, &n, PKI_ISSUE_RSA_KEY_SMALL,
            "the certificate's RSA key has %d bits: clients want at least 2048", EVP_PKEY_get_bits(key));
    if (X509_cmp_time(X509_get0_notAfter(cert), &now) < 0) {
        add(out, cap, &n, PKI_ISSUE_EXPIRED, "the certificate has expired: every client refuses it");
    } else if (X509_cmp_time(X509_get0_notAfter(cert), &soon) < 0) {
        int days = 0, secs = 0;
        ASN1_TIME *t = ASN1_TIME_set(NULL, now);

        if (t)
            ASN1_TIME_diff(&days, &secs, t, X509_get0_notAfter(cert));
        ASN1_TIME_free(t);
        add(out, cap, &n, PKI_ISSUE_EXPIRES_SOON,
            "the certificate expires in %d days (less than %d): renew it before clients refuse it", days,
            warn_days);
    }
    return n;
}

bool pki_cert_days_left(X509 *cert, time_t now, int *days)
{
    ASN1_TIME *t = cert ? ASN1_TIME_set(NULL, now) : NULL;
    int secs = 0;
    bool ok = t && ASN1_TIME_diff(days, &secs, t, X509_get0_notAfter(cert));

    ASN1_TIME_free(t);
    if (ok && *days == 0 && secs < 0)
        *days = -1; /* ended less than a day ago */
    return ok;
}
