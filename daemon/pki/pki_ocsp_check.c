/* OCSP on the wire (RFC 6960): building a request and accepting a response
 * body (see pki_ocsp.h). The cache and the queries are in pki_ocsp.c. */
#include "daemon/pki/pki_ocsp.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/pki/pki_crl_int.h"
#include "daemon/base/poison.h"

OCSP_REQUEST *pki_ocsp_request(const OCSP_CERTID *id, bool nonce, uint8_t **der, size_t *der_len)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *dup = OCSP_CERTID_dup(id);
    unsigned char *p = NULL;
    int n;

    *der = NULL;
    if (!req || !dup || !OCSP_request_add0_id(req, dup))
        goto fail;
    dup = NULL; /* the request's now */
    /* a fresh random nonce per request: a response replayed from an earlier
     * query does not echo it (RFC 6960 4.4.1) */
    if (nonce && OCSP_request_add1_nonce(req, NULL, -1) != 1)
        goto fail;
    if ((n = i2d_OCSP_REQUEST(req, &p)) <= 0)
        goto fail;
    *der = p;
    *der_len = (size_t)n;
    return req;
fail:
    OCSP_CERTID_free(dup);
    OCSP_REQUEST_free(req);
    ERR_clear_error();
    return NULL;
}

static const char *cert_status_name(int st)
{
    return st == V_OCSP_CERTSTATUS_GOOD ? "good" : st == V_OCSP_CERTSTATUS_REVOKED ? "revoked" : "unknown";
}

bool pki_ocsp_accept(const uint8_t *body, size_t len, OCSP_REQUEST *req, bool nonce, const OCSP_CERTID *id,
                     STACK_OF(X509) *cas, struct pki_ocsp_answer *ans, char *why, size_t why_len)
{
    const unsigned char *p = body;
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    X509_STORE *store = NULL;
    ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL, *revtime = NULL;
    int st, reason = -1, rs, nc;
    bool ok = false;

    memset(ans, 0, sizeof(*ans));
    /* validate before parse: size, then the DER decoder sees the whole body */
    if (!len || len > PKI_OCSP_MAX_BODY) {
        snprintf(why, why_len, len ? "the response is larger than the limit of 64 KiB" : "the body is empty");
        goto out;
    }
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    if (!resp || p != body + len) {
        snprintf(why, why_len, "the body is not a DER OCSP response");
        goto out;
    }
    if ((rs = OCSP_response_status(resp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        snprintf(why, why_len, "the responder answered %s", OCSP_response_status_str(rs));
        goto out;
    }
    if (!(bs = OCSP_response_get1_basic(resp))) {
        snprintf(why, why_len, "the response is not a basic OCSP response");
        goto out;
    }
    /* the nonce first: cheaper than the signature, and a mismatch is a replay */
    nc = req ? OCSP_check_nonce(req, bs) : 2;
    if (nc == 0 || (nonce && nc != 1)) {
        snprintf(why, why_len, nc == 0 ? "the response's nonce is not the request's" :
                                         "the response does not echo the request's nonce (set ocsp-nonce false for "
                                         "a responder that cannot)");
        goto out;
    }
    if (!(store = X509_STORE_new())) {
        snprintf(why, why_len, "out of memory");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(cas); i++)
        X509_STORE_add_cert(store, sk_X509_value(cas, i));
    /* the signer is the certificate's issuer, or a responder certificate that
     * issuer signed with id-kp-OCSPSigning (RFC 6960 4.2.2.2): OpenSSL's issuer
     * check does both, with the signer's chain verified against the CAs only */
    if (OCSP_basic_verify(bs, cas, store, 0) != 1) {
        unsigned long e = ERR_peek_last_error();
        char buf[160] = "";

        if (e)
            ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(why, why_len, "the response is not signed by the issuing CA or a responder it delegated to%s%s",
                 e ? ": " : "", buf);
        goto out;
    }
    if (!OCSP_resp_find_status(bs, (OCSP_CERTID *)id, &st, &reason, &revtime, &thisupd, &nextupd)) {
        snprintf(why, why_len, "the response does not cover the certificate");
        goto out;
    }
    if (!OCSP_check_validity(thisupd, nextupd, PKI_OCSP_SKEW, -1)) {
        snprintf(why, why_len, "the response is outside its validity (thisUpdate in the future or nextUpdate "
                               "passed)");
        goto out;
    }
    /* with a nonce the response is fresh; with nextUpdate its replay ends
     * then; with neither, only the age of thisUpdate bounds it */
    if (!nonce && !nextupd && !OCSP_check_validity(thisupd, nextupd, PKI_OCSP_SKEW, PKI_OCSP_MAX_AGE)) {
        snprintf(why, why_len, "the response has no nonce and no nextUpdate, and its thisUpdate is older than %d s",
                 PKI_OCSP_MAX_AGE);
        goto out;
    }
    ans->status = st == V_OCSP_CERTSTATUS_GOOD ? PKI_OCSP_GOOD :
                  st == V_OCSP_CERTSTATUS_REVOKED ? PKI_OCSP_REVOKED : PKI_OCSP_UNKNOWN;
    ans->this_update = pki_asn1_time(thisupd);
    ans->next_update = nextupd ? pki_asn1_time(nextupd) : 0;
    ans->revoked_at = revtime ? pki_asn1_time(revtime) : 0;
    ans->reason = st == V_OCSP_CERTSTATUS_REVOKED ? reason : -1;
    snprintf(why, why_len, "the responder says %s", cert_status_name(st));
    ok = true;
out:
    ERR_clear_error();
    X509_STORE_free(store);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    return ok;
}

bool pki_ocsp_aia_url(X509 *cert, char *url, size_t url_len)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    bool found = false;

    for (int i = 0; !found && i < sk_OPENSSL_STRING_num(urls); i++) {
        const char *u = sk_OPENSSL_STRING_value(urls, i);
        size_t l = strlen(u);

        if (l < url_len && (!strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8))) {
            memcpy(url, u, l + 1);
            found = true;
        }
    }
    X509_email_free(urls); /* frees a stack of strings */
    ERR_clear_error();
    return found;
}
