/* The keys ravend hands the front ends, kept in the state directory that they
 * cannot open: the SSH host key of raven-netconfd (RSA-3072) and the self-signed
 * certificate of raven-restd (ECDSA P-256 for this host), each generated at first
 * use; and the check of a configured certificate against its key. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"
#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/base/poison.h"

#define HOSTKEY_FILE "ssh_host_rsa_key"
#define CERT_FILE "rest_cert.pem"
#define KEY_FILE "rest_key.pem"

static char *bio_string(BIO *b)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);

    return n > 0 ? strndup(p, (size_t)n) : NULL;
}

static char *key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 ? bio_string(b) : NULL;

    BIO_free(b);
    return s;
}

int mpem_hostkey(const char *state_dir, char **pem)
{
    char *path = NULL;
    EVP_PKEY *k;
    int rc;

    *pem = NULL;
    if (asprintf(&path, "%s/" HOSTKEY_FILE, state_dir) < 0)
        return -ENOMEM;
    rc = fs_read_all(path, pem, NULL);
    if (rc == -ENOENT) {
        k = EVP_RSA_gen(3072);
        *pem = k ? key_pem(k) : NULL;
        EVP_PKEY_free(k);
        rc = *pem ? fs_write_atomic(path, *pem, strlen(*pem), 0600) : -EIO;
        if (!rc)
            log_info("mgmt", "generated SSH host key %s", path);
    }
    if (rc) {
        log_err("mgmt", "cannot load or create the SSH host key %s: %s", path, strerror(-rc));
        free(*pem);
        *pem = NULL;
    }
    free(path);
    return rc;
}

static int add_exts(X509 *x, const char *host)
{
    char san[400];
    const char *exts[][2] = {{"basicConstraints", "critical,CA:FALSE"},
                             {"keyUsage", "critical,digitalSignature"},
                             {"extendedKeyUsage", "serverAuth"},
                             {"subjectAltName", san}};
    X509V3_CTX v3;

    snprintf(san, sizeof(san), "DNS:localhost,DNS:%s,IP:127.0.0.1,IP:::1", host);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        X509_EXTENSION *ext = X509V3_EXT_nconf(NULL, &v3, exts[i][0], exts[i][1]);

        if (!ext || !X509_add_ext(x, ext, -1)) {
            X509_EXTENSION_free(ext);
            return -EIO;
        }
        X509_EXTENSION_free(ext);
    }
    return 0;
}

/* An ECDSA P-256 self-signed certificate for localhost and this host, valid for
 * three years. */
static int gen_self_signed(char **cert, char **key)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *nm;
    BIO *bc = BIO_new(BIO_s_mem());
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    char host[256] = "raven";
    int rc = -EIO;

    if (!k || !x || !bc || RAND_bytes(serial, sizeof(serial)) != 1)
        goto out;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    gethostname(host, sizeof(host) - 1);
    if (!bn || !X509_set_version(x, 2) || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 3L * 365 * 24 * 3600) || !X509_set_pubkey(x, k))
        goto out;
    nm = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"Raven", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0) ||
        !X509_set_issuer_name(x, nm) || add_exts(x, host))
        goto out;
    if (!X509_sign(x, k, EVP_sha256()) || !PEM_write_bio_X509(bc, x))
        goto out;
    *cert = bio_string(bc);
    *key = key_pem(k);
    rc = *cert && *key ? 0 : -ENOMEM;
out:
    BN_free(bn);
    BIO_free(bc);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

/* SHA-256 fingerprint "AB:CD:..." of a PEM certificate; empty if unreadable. */
static void fingerprint(const char *pem, char *out, size_t outlen)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    unsigned char md[32];
    unsigned int n = 0;

    out[0] = '\0';
    if (x && X509_digest(x, EVP_sha256(), md, &n))
        for (unsigned int i = 0; i < n && 3 * i + 3 <= outlen; i++)
            snprintf(out + 3 * i, outlen - 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
    X509_free(x);
    BIO_free(b);
}

int mpem_self_signed(const char *state_dir, char **cert, char **key)
{
    char *cp = NULL, *kp = NULL, fp[100];
    int rc;

    *cert = *key = NULL;
    if (asprintf(&cp, "%s/" CERT_FILE, state_dir) < 0 || asprintf(&kp, "%s/" KEY_FILE, state_dir) < 0) {
        free(cp);
        return -ENOMEM;
    }
    rc = fs_read_all(cp, cert, NULL);
    if (!rc)
        rc = fs_read_all(kp, key, NULL);
    if (rc == -ENOENT) {
        free(*cert);
        free(*key);
        *cert = *key = NULL;
        rc = gen_self_signed(cert, key);
        if (!rc)
            rc = fs_write_atomic(kp, *key, strlen(*key), 0600);
        if (!rc)
            rc = fs_write_atomic(cp, *cert, strlen(*cert), 0644);
        if (!rc) {
            fingerprint(*cert, fp, sizeof(fp));
            log_info("mgmt", "generated a self-signed certificate %s, SHA-256 fingerprint %s", cp, fp);
        }
    }
    if (rc) {
        free(*cert);
        free(*key);
        *cert = *key = NULL;
        log_err("mgmt", "cannot load or create %s: %s", cp, strerror(-rc));
    }
    free(cp);
    free(kp);
    return rc;
}

int mpem_check(const char *cert_pem, const char *key_pem)
{
    BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    int rc = !x || !k ? -EINVAL : X509_check_private_key(x, k) == 1 ? 0 : -EKEYREJECTED;

    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(kb);
    BIO_free(cb);
    return rc;
}
