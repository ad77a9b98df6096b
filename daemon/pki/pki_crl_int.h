/* Internals shared by pki_crl.c (sources, fetching, cache) and pki_crl_check.c
 * (accepting a CRL, the verdict on a certificate); not a public interface. */
#ifndef RAVEN_PKI_PKI_CRL_INT_H
#define RAVEN_PKI_PKI_CRL_INT_H

#include <curl/curl.h>

#include "daemon/pki/pki.h"
#include "daemon/pki/pki_crl.h"

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
    char err[300];    /* the last failure, "" after a success */
    /* the transfer under way */
    CURL *easy;
    uint8_t *body;
    size_t len;
    bool too_big;
    char curl_err[CURL_ERROR_SIZE];
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
