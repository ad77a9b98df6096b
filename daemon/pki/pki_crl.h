/* Certificate revocation by CRL (SPEC S2, S10): CRLs fetched over HTTP from a
 * trustpoint's crl-url, or from the CRL distribution points of client
 * certificates when the trustpoint names no CRL source, checked (signed by a CA of
 * the trustpoint, within their validity), cached and refreshed before their
 * nextUpdate; and the revocation verdict on a client certificate.
 *
 * Fetching uses libcurl's multi interface on the control thread's libevent loop:
 * nothing here blocks. A fetch that ends (with a CRL or with an error) calls the
 * notify callback, through which the wiring lets the IKE engine resume clients
 * waiting for a first CRL and end sessions whose certificate a new CRL revokes.
 *
 * Failures (unreachable URL, HTTP error, a body over PKI_CRL_MAX_BODY, a CRL that
 * does not parse, is not signed by the trustpoint's CA or has expired) are logged,
 * counted per source (operational state vpn-state/pki) and retried on a bounded
 * schedule; a valid CRL already cached stays in use until its nextUpdate. */
#ifndef RAVEN_PKI_PKI_CRL_H
#define RAVEN_PKI_PKI_CRL_H

#include <event2/event.h>
#include <libyang/libyang.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct pki_tp;
struct pki_crl;

#define PKI_CRL_MAX_BODY (4u << 20)  /* bytes of one CRL fetched over HTTP */
#define PKI_CRL_MAX_CDP 64           /* distribution points cached at once */
#define PKI_CRL_RETRY_MIN 5          /* seconds after a first failed fetch, doubled up to */
#define PKI_CRL_RETRY_MAX 300        /* this */

/* What a notify is about, so that the listener does only the work it calls
 * for: clients waiting for a transfer that ended ask again (those waiting for
 * another one do not), and established sessions are checked again only when
 * something may revoke them. */
struct pki_crl_news {
    const uint64_t *ended; /* the tickets (pki_crl_waits) of the transfers that ended */
    size_t nended;
    bool all;     /* transfers were dropped without ending (configuration): every waiter asks again */
    bool revoked; /* a CRL that lists certificates changed, or an OCSP answer says revoked */
};

/* A CRL changed or a fetch ended (successfully or not). */
typedef void (*pki_crl_fn)(void *arg, const struct pki_crl_news *news);

/* NULL if libcurl cannot be initialised. */
struct pki_crl *pki_crl_new(struct event_base *base);
/* Cancels every fetch under way. */
void pki_crl_free(struct pki_crl *c);
void pki_crl_set_notify(struct pki_crl *c, pki_crl_fn fn, void *arg);
/* The trustpoints of a newly applied configuration (borrowed): their crl-url
 * sources are fetched now (new ones) or kept with their cache; sources of
 * trustpoints gone, or whose sources changed, are dropped. Dropping a fetch
 * under way calls the notify callback soon after (from the loop), so that
 * clients waiting for it ask again. */
void pki_crl_sync(struct pki_crl *c, struct pki_tp *const *tps, size_t ntp);

enum pki_verdict {
    PKI_GOOD,    /* chains to a CA, not revoked (or no revocation check applies) */
    PKI_INVALID, /* does not chain, expired, ... */
    PKI_REVOKED, /* a valid CRL lists it */
    PKI_NO_CRL,  /* revocation-check crl and no valid CRL could be obtained */
    PKI_NO_OCSP, /* revocation-check ocsp and no OCSP answer (good or revoked) could be obtained */
    PKI_PENDING, /* the first fetch of its CRL is under way: ask again at notify */
};

/* Verifies @leaf (with @untrusted intermediates, may be NULL) against the CAs of
 * @tps, then its revocation as the trustpoint of its issuing CA says: its
 * configured CRLs, else the CRLs of its crl-url, else those of the certificate's
 * distribution points (fetched through @c, which may be NULL: then only
 * configured CRLs count). @checked_by is the trustpoint whose CRL check applies
 * to it, NULL if none (with one, the session is to be checked again at each
 * refresh). The reason in @why for anything but PKI_GOOD (and for a fail-open
 * acceptance, revocation-check crl none). */
enum pki_verdict pki_crl_verify(struct pki_crl *c, struct pki_tp *const *tps, size_t ntp, X509 *leaf,
                                STACK_OF(X509) *untrusted, const struct pki_tp **checked_by, char *why,
                                size_t why_len);
/* The two halves of pki_crl_verify, for a caller that checks something in
 * between (the client's proof of possession of the certificate's key comes
 * before any revocation query, so that a certificate alone, which is public,
 * makes no query and no cache entry). The chain only: GOOD or INVALID; with
 * GOOD and a trustpoint whose revocation check applies, that trustpoint in
 * @checked_by and the issuing CA in @issuer (the caller frees it). */
enum pki_verdict pki_crl_chain(struct pki_tp *const *tps, size_t ntp, X509 *leaf, STACK_OF(X509) *untrusted,
                               const struct pki_tp **checked_by, X509 **issuer, char *why, size_t why_len);
/* The revocation of @leaf, issued by @issuer, as @tp says (a checked_by of
 * pki_crl_chain): GOOD (also a fail-open acceptance, the reason in @why),
 * REVOKED, NO_CRL, NO_OCSP or PENDING. */
enum pki_verdict pki_crl_revocation(struct pki_crl *c, const struct pki_tp *tp, X509 *leaf, X509 *issuer,
                                    char *why, size_t why_len);
/* After a PENDING verdict: the tickets of the transfers it waits for (at most
 * @cap) into @t, their number returned; a notify whose news ends one of them
 * (or says all) is the one to ask again at. */
size_t pki_crl_waits(const struct pki_crl *c, uint64_t *t, size_t cap);

/* Whether a CRL fetched for trustpoint @tp, or a cached OCSP response, says
 * the certificate of @issuer and @serial is revoked; the source in @why. The
 * OCSP response of a certificate asked about here is refreshed before its
 * nextUpdate (pki_ocsp.h). */
bool pki_crl_revoked(struct pki_crl *c, const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial,
                     char *why, size_t why_len);

/* An established session stands (@on) or no longer stands on the OCSP answer
 * of the certificate of @issuer and @serial under trustpoint @tp: while one
 * does, the answer is refreshed before it expires and is not evicted from the
 * cache (pki_ocsp.h). Calls balance: each on is followed by one off. */
void pki_crl_hold(struct pki_crl *c, const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial, bool on);

/* A certificate of @issuer and @serial that trustpoint @tp checks by OCSP,
 * known by them only (a session taken over from an earlier process): its
 * answer is asked of @tp's ocsp-url, else of @aia_url (NULL: none), and kept
 * fresh as for a client's; the notify callback follows its end. */
void pki_crl_watch(struct pki_crl *c, const struct pki_tp *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial,
                   const char *aia_url);

/* Parses a CRL fetched from a distribution point or URL (DER, or PEM) of at most
 * PKI_CRL_MAX_BODY bytes and accepts it if one of @cas (with cRLSign usage, if its
 * key usage is restricted) signed it and it is valid at @now. NULL with the
 * reason in @why otherwise. */
X509_CRL *pki_crl_accept(const uint8_t *body, size_t len, STACK_OF(X509) *cas, time_t now, char *why,
                         size_t why_len);

/* Adds vpn-state/pki (per trustpoint, per CRL source: counters, times, last
 * error) under the vpn-state container @state. */
void pki_crl_state(struct pki_crl *c, struct lyd_node *state);

#endif
