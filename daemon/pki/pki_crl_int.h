/* Internals shared by pki_crl.c (sources, fetching, cache) and pki_crl_check.c
 * (accepting a CRL, the verdict on a certificate); not a public interface. */
#ifndef RAVEN_PKI_PKI_CRL_INT_H
#define RAVEN_PKI_PKI_CRL_INT_H

#include <curl/curl.h>

#include "daemon/pki/pki.h"
#include "daemon/pki/pki_crl.h"

struct pki_ocsp;

/* One HTTP transfer on the libcurl multi handle of struct pki_crl: CRL fetches
 * and OCSP requests share it and its wiring into the event loop. */
struct pki_xfer {
    /* the transfer ended (@rc, the HTTP @status): called once, from the loop,
     * with the body in body/len; the owner then cancels it */
    void (*done)(struct pki_xfer *x, CURLcode rc, long status);
    CURL *easy; /* NULL when no transfer is under way */
    struct curl_slist *hdrs;
    uint8_t *body;
    size_t len, max;
    bool too_big; /* the body went past max */
    uint64_t ticket; /* of the transfer under way: what a waiting client waits for */
    char curl_err[CURL_ERROR_SIZE];
};

/* Starts a GET of @url, or with @post a POST of it (copied, @ctype its
 * Content-Type); the body is bounded by @max bytes and the whole transfer by
 * @timeout seconds. False when it cannot start. */
bool pki_xfer_start(struct pki_crl *c, struct pki_xfer *x, const char *url, const uint8_t *post, size_t post_len,
                    const char *ctype, long timeout, size_t max);
/* Ends the transfer without a done call, and frees its body. */
void pki_xfer_cancel(struct pki_crl *c, struct pki_xfer *x);
/* Why a transfer that ended with @rc failed: @too_big when its body went past
 * its limit, else curl's own words. */
const char *pki_xfer_why(const struct pki_xfer *x, CURLcode rc, const char *too_big);
struct event_base *pki_crl_base(struct pki_crl *c);
/* The OCSP cache of @c (pki_ocsp.c); NULL for a NULL @c. */
struct pki_ocsp *pki_crl_ocsp(struct pki_crl *c);
/* Calls the notify callback soon, from the loop, with news saying all. */
void pki_crl_notify_soon(struct pki_crl *c);
/* The notify that follows says revoked (sessions are to be checked again). */
void pki_crl_news_revoked(struct pki_crl *c);
/* The verdict being made waits for @x's transfer (pki_crl_waits). */
void pki_crl_wait_on(struct pki_crl *c, const struct pki_xfer *x);
/* A new verdict begins: it waits for nothing yet (@c may be NULL). */
void pki_crl_waits_reset(struct pki_crl *c);
/* The trustpoint node of vpn-state/pki @pki for @tp, made if missing. */
struct lyd_node *pki_crl_state_tp(struct lyd_node *pki, const char *tp);
void pki_crl_time_leaf(struct lyd_node *p, const char *name, time_t t);
void pki_crl_u64_leaf(struct lyd_node *p, const char *name, uint64_t v);
time_t pki_asn1_time(const ASN1_TIME *t);

/* One URL of one trustpoint, with its cached CRL. */
struct crl_src {
    struct pki_crl *owner;
    char *tp, *url;
    bool cdp;  /* from a certificate's distribution point, not crl-url */
    bool mark; /* sync: not (yet) wanted by the new configuration */
    STACK_OF(X509) *cas; /* the trustpoint's CAs, that must have signed the CRL */
    X509_CRL *crl;       /* the last CRL accepted, NULL if none */
    time_t this_update, next_update; /* of that CRL; next_update 0 if it has none */
    time_t last_attempt, last_update, next_fetch;
    time_t last_used; /* a distribution point's: last asked for by a certificate */
    uint64_t fetches, failures;
    unsigned retries; /* failures in a row */
    bool failing;     /* its last fetch failed: it keeps its URL's crl-unobtainable */
    char err[300];    /* the last failure, "" after a success */
    struct pki_xfer x; /* the transfer under way */
    struct event *ev_timer; /* refresh, or retry after a failure */
    struct crl_src *next;
};

struct crl_src *pki_crl_srcs(struct pki_crl *c);
/* The source of @url for trustpoint @tp, NULL if none. */
struct crl_src *pki_crl_src_find(struct pki_crl *c, const char *tp, const char *url);
/* A new source, its first fetch started; NULL when out of memory. A distribution
 * point (@cdp) beyond PKI_CRL_MAX_CDP takes the place of the one least recently
 * asked for whose transfer is not under way (NULL when every one is fetching). */
struct crl_src *pki_crl_src_add(struct pki_crl *c, const struct pki_tp *tp, const char *url, bool cdp);
/* Whether one of @cas signed @crl. */
bool pki_crl_signed(X509_CRL *crl, STACK_OF(X509) *cas);

#endif
