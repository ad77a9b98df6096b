/* Certificate revocation by OCSP (RFC 6960) for client certificates: the
 * responder of a trustpoint's ocsp-url, else the OCSP access method of the
 * certificate's Authority Information Access; a request (with a nonce unless
 * ocsp-nonce is false) POSTed over HTTP or HTTPS on the CRL object's libcurl
 * multi handle (pki_crl.c), so nothing here blocks; the response accepted only
 * when signed by the issuing CA of the trustpoint or by a responder that CA
 * delegated to (id-kp-OCSPSigning), echoing the nonce and within
 * thisUpdate/nextUpdate (without a nonce and without nextUpdate, thisUpdate at
 * most PKI_OCSP_MAX_AGE old: an old signed answer is not replayed for ever).
 *
 * Answers are cached per trustpoint and certificate (issuer name and serial,
 * hashed) until their nextUpdate (PKI_OCSP_TTL without one); a revoked answer
 * (other than certificateHold) stays revoked after that, even when the
 * responder cannot be asked again. An answer an established session stands on
 * (pki_ocsp_hold) is queried again shortly before it expires, and so is one a
 * client asked for since its last query, so that a session whose certificate
 * becomes revoked ends. At most PKI_OCSP_MAX_CACHE answers are cached: beyond,
 * the least recently asked for that no session holds and whose query is over
 * goes (counted: evictions); when every one is held or queried, the cache
 * grows up to PKI_OCSP_HARD_CACHE rather than drop the check of a session.
 * Every query that ends calls the CRL object's notify callback, with the
 * transfer's ticket (and news revoked for a revoked answer).
 *
 * Only the trustpoints of the configuration last applied (pki_ocsp_sync, by
 * name, responder and nonce setting) are asked for: a client whose check began
 * under an earlier configuration whose trustpoint has since gone or changed is
 * answered NO_OCSP, so its own (earlier) revocation-check decides, as for a
 * responder that cannot be asked, and nothing of the old trustpoint is made
 * again (no entry, no counters).
 *
 * Bounded: PKI_OCSP_TIMEOUT seconds per query, PKI_OCSP_MAX_BODY bytes per
 * response, one query under way per certificate, and a failed query is not
 * repeated for PKI_OCSP_RETRY seconds. Counted per trustpoint in
 * vpn-state/pki/trustpoint/ocsp. */
#ifndef RAVEN_PKI_PKI_OCSP_H
#define RAVEN_PKI_PKI_OCSP_H

#include <libyang/libyang.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "daemon/pki/pki_crl.h"

struct pki_tp;
struct pki_ocsp;

#define PKI_OCSP_MAX_BODY (64u << 10) /* bytes of one response */
#define PKI_OCSP_MAX_CACHE 1024       /* certificates whose answer is cached, unless held by sessions */
#define PKI_OCSP_HARD_CACHE 65536     /* the most, answers held by sessions included */
#define PKI_OCSP_TIMEOUT 8            /* seconds a query may take */
#define PKI_OCSP_RETRY 5              /* seconds before a query that failed is repeated */
#define PKI_OCSP_TTL 300              /* seconds an answer without nextUpdate is used */
#define PKI_OCSP_SKEW 60              /* seconds of clock skew allowed on thisUpdate/nextUpdate */
#define PKI_OCSP_MAX_AGE 300          /* seconds since thisUpdate of an answer without nonce nor nextUpdate */

enum pki_ocsp_status { PKI_OCSP_NONE, PKI_OCSP_GOOD, PKI_OCSP_REVOKED, PKI_OCSP_UNKNOWN };

/* What an accepted response says of one certificate. */
struct pki_ocsp_answer {
    enum pki_ocsp_status status;
    time_t this_update, next_update; /* next_update 0 if the response has none */
    time_t revoked_at;
    int reason; /* of a revocation: OCSP_REVOKED_STATUS_*, -1 if none given */
};

/* The cache of @c (which carries its transfers and its notify callback). */
struct pki_ocsp *pki_ocsp_new(struct pki_crl *c);
/* Cancels every query under way. */
void pki_ocsp_free(struct pki_ocsp *o);
/* The trustpoints of a newly applied configuration (borrowed): remembered (by
 * name, ocsp-url and ocsp-nonce: pki_ocsp_check and pki_ocsp_watch answer no
 * other); answers of trustpoints gone, no longer checking OCSP, or whose
 * responder or nonce setting changed are dropped (a query under way for them:
 * the notify follows from the loop, with news saying all). */
void pki_ocsp_sync(struct pki_ocsp *o, struct pki_tp *const *tps, size_t ntp);

/* The OCSP status of @leaf, issued by @issuer (a CA of @tp), at @now: GOOD or
 * REVOKED from a cached answer or one just obtained (REVOKED also from an
 * expired one, unless certificateHold), PENDING while the query of its first
 * (or expired) answer is under way (its ticket for pki_crl_waits; ask again
 * when it ends), NO_OCSP with the reason in @why when none can be had (no
 * responder, the query failed, the responder does not know it, @tp is not a
 * trustpoint of the configuration last synced). @o may be NULL (no OCSP). */
enum pki_verdict pki_ocsp_check(struct pki_ocsp *o, const struct pki_tp *tp, X509 *leaf, X509 *issuer, time_t now,
                                char *why, size_t why_len);
/* The certificate of @issuer and @serial under @tp, known by them only (a
 * session taken over by a new process): its answer is asked of @tp's
 * ocsp-url, else of @aia_url (nothing without either), unless cached. */
void pki_ocsp_watch(struct pki_ocsp *o, const struct pki_tp *tp, const X509_NAME *issuer,
                    const ASN1_INTEGER *serial, const char *aia_url, time_t now);
/* Whether the cached answer for the certificate of @issuer and @serial under
 * trustpoint @tp says revoked (one hash lookup); marks it asked for. */
bool pki_ocsp_revoked(struct pki_ocsp *o, const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial,
                      time_t now, char *why, size_t why_len);

/* A session stands on the answer of the certificate of @issuer and @serial
 * under @tp (@on), or no longer (see pki_crl_hold). */
void pki_ocsp_hold(struct pki_ocsp *o, const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial, bool on);

/* A request for @id (copied), with a fresh nonce when @nonce; its DER in @der
 * (caller frees with OPENSSL_free). NULL when out of memory. */
OCSP_REQUEST *pki_ocsp_request(const OCSP_CERTID *id, bool nonce, uint8_t **der, size_t *der_len);
/* Parses the HTTP body @body of a response to @req (at most PKI_OCSP_MAX_BODY
 * bytes) and accepts it if it is a successful basic response signed by one of
 * @cas or by a responder one of them delegated to, echoes the nonce of @req
 * when @nonce, covers @id and is current at the time of the call (OCSP_check_validity
 * with PKI_OCSP_SKEW; without @nonce and without nextUpdate, thisUpdate at most
 * PKI_OCSP_MAX_AGE old). False with the reason in @why otherwise. */
bool pki_ocsp_accept(const uint8_t *body, size_t len, OCSP_REQUEST *req, bool nonce, const OCSP_CERTID *id,
                     STACK_OF(X509) *cas, struct pki_ocsp_answer *ans, char *why, size_t why_len);
/* The first http(s) OCSP URL of @cert's Authority Information Access into
 * @url; false if it has none. */
bool pki_ocsp_aia_url(X509 *cert, char *url, size_t url_len);

/* Whether vpn-state/pki has OCSP counters to show. */
bool pki_ocsp_any(const struct pki_ocsp *o);
/* Adds trustpoint/ocsp (counters) under the vpn-state/pki container @pki. */
void pki_ocsp_state(struct pki_ocsp *o, struct lyd_node *pki);

#endif
