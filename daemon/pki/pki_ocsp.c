/* The OCSP cache and its queries (see pki_ocsp.h). One entry per trustpoint
 * and certificate: its last answer, the query under way (at most one, with the
 * request whose nonce the response must echo) and a refresh timer set before
 * the answer expires. Counters per trustpoint. */
#include "daemon/pki/pki_ocsp.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/pki/pki.h"
#include "daemon/pki/pki_crl_int.h"
#include "daemon/base/poison.h"

#define REFRESH_MARGIN 300 /* an answer is queried again at most this long before it expires */
#define REFRESH_MIN 2      /* and never sooner than this after its query */
#define RETRY_FAILED 30    /* a query that failed is repeated after this, while asked for */

/* Counters of one trustpoint. */
struct ocsp_stat {
    char *tp;
    uint64_t requests, good, revoked, unknown, errors, timeouts, cache_hits;
    char err[300]; /* the last failure */
    bool mark;     /* sync: trustpoint not (yet) seen in the new configuration */
    struct ocsp_stat *next;
};

struct ocsp_ent {
    struct pki_ocsp *owner;
    struct ocsp_stat *st;
    char *tp, *url;
    bool configured; /* url is the trustpoint's ocsp-url, not the certificate's AIA */
    bool nonce;
    bool mark;
    OCSP_CERTID *id;
    X509_NAME *issuer; /* for the recheck of sessions, which keep issuer and serial */
    ASN1_INTEGER *serial;
    STACK_OF(X509) *cas; /* the trustpoint's, that must have signed the answer */
    struct pki_ocsp_answer ans; /* status PKI_OCSP_NONE until one is accepted */
    time_t expires;             /* of ans */
    time_t last_attempt, last_end, last_used; /* a query's start and end, a client's or session's ask */
    bool failed; /* the last query gave no answer */
    char err[300];
    OCSP_REQUEST *req; /* of the query under way */
    struct pki_xfer x;
    struct event *ev_timer; /* the refresh */
    struct ocsp_ent *next;
};

struct pki_ocsp {
    struct pki_crl *c;
    struct ocsp_ent *ents;
    size_t nent;
    struct ocsp_stat *stats;
};

static struct ocsp_stat *stat_of(struct pki_ocsp *o, const char *tp)
{
    struct ocsp_stat *st;

    for (st = o->stats; st; st = st->next) {
        if (!strcmp(st->tp, tp))
            return st;
    }
    if (!(st = calloc(1, sizeof(*st))) || !(st->tp = strdup(tp))) {
        free(st);
        return NULL;
    }
    st->next = o->stats;
    o->stats = st;
    return st;
}

static void ent_free(struct ocsp_ent *e)
{
    pki_xfer_cancel(e->owner->c, &e->x);
    if (e->ev_timer)
        event_free(e->ev_timer);
    OCSP_REQUEST_free(e->req);
    OCSP_CERTID_free(e->id);
    X509_NAME_free(e->issuer);
    ASN1_INTEGER_free(e->serial);
    sk_X509_pop_free(e->cas, X509_free);
    e->owner->nent--;
    free(e->tp);
    free(e->url);
    free(e);
}

struct pki_ocsp *pki_ocsp_new(struct pki_crl *c)
{
    struct pki_ocsp *o = calloc(1, sizeof(*o));

    if (o)
        o->c = c;
    return o;
}

void pki_ocsp_free(struct pki_ocsp *o)
{
    if (!o)
        return;
    while (o->ents) {
        struct ocsp_ent *e = o->ents;

        o->ents = e->next;
        ent_free(e);
    }
    while (o->stats) {
        struct ocsp_stat *st = o->stats;

        o->stats = st->next;
        free(st->tp);
        free(st);
    }
    free(o);
}

static void ent_done(struct pki_xfer *x, CURLcode rc, long status);

/* One query with a new request (and nonce); false if it cannot start. */
static bool ent_query(struct ocsp_ent *e)
{
    uint8_t *der = NULL;
    size_t der_len = 0;

    if (e->x.easy)
        return true;
    evtimer_del(e->ev_timer);
    e->last_attempt = time(NULL);
    e->st->requests++;
    OCSP_REQUEST_free(e->req);
    e->x.done = ent_done;
    if (!(e->req = pki_ocsp_request(e->id, e->nonce, &der, &der_len)) ||
        !pki_xfer_start(e->owner->c, &e->x, e->url, der, der_len, "application/ocsp-request", PKI_OCSP_TIMEOUT,
                        PKI_OCSP_MAX_BODY)) {
        snprintf(e->err, sizeof(e->err), "cannot start the query");
        e->failed = true;
        e->st->errors++;
        e->last_end = e->last_attempt;
        OPENSSL_free(der);
        return false;
    }
    OPENSSL_free(der);
    return true;
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
    struct ocsp_ent *e = arg;

    (void)fd;
    (void)what;
    /* only an answer asked for since its last query: a certificate no client
     * or session uses any more is not queried for ever */
    if (e->last_used >= e->last_attempt && !ent_query(e))
        pki_crl_notify_soon(e->owner->c);
}

/* After a query: the next one shortly before the answer expires; after a
 * failure, again in RETRY_FAILED (sooner if an earlier answer expires first),
 * so that a session admitted or kept without an answer hears one once the
 * responder is back. Either only while the answer is still asked for. */
static void ent_plan(struct ocsp_ent *e, time_t now)
{
    time_t left = e->expires - now, margin = left / 10, delay;

    if (e->failed)
        delay = e->ans.status != PKI_OCSP_NONE && left > 0 && left < RETRY_FAILED ? left : RETRY_FAILED;
    else if (left <= 0)
        return;
    else
        delay = left - (margin > REFRESH_MARGIN ? REFRESH_MARGIN : margin < 1 ? 1 : margin);
    evtimer_add(e->ev_timer, &(struct timeval){.tv_sec = delay < REFRESH_MIN ? REFRESH_MIN : delay});
}

static void ent_done(struct pki_xfer *x, CURLcode rc, long status)
{
    struct ocsp_ent *e = (struct ocsp_ent *)((char *)x - offsetof(struct ocsp_ent, x));
    struct pki_ocsp_answer ans;
    time_t now = time(NULL);
    bool ok = false;

    if (rc != CURLE_OK) {
        snprintf(e->err, sizeof(e->err), "%.260s", x->too_big || rc == CURLE_FILESIZE_EXCEEDED ?
                                                   "the response is larger than the limit of 64 KiB" :
                                               x->curl_err[0] ? x->curl_err : curl_easy_strerror(rc));
        if (rc == CURLE_OPERATION_TIMEDOUT)
            e->st->timeouts++;
    } else if (status != 200) {
        snprintf(e->err, sizeof(e->err), "HTTP status %ld", status);
    } else {
        ok = pki_ocsp_accept(x->body, x->len, e->req, e->nonce, e->id, e->cas, &ans, e->err, sizeof(e->err));
    }
    pki_xfer_cancel(e->owner->c, x);
    OCSP_REQUEST_free(e->req);
    e->req = NULL;
    e->last_end = now;
    if (!ok) {
        e->failed = true;
        e->st->errors++;
        snprintf(e->st->err, sizeof(e->st->err), "%.80s: %.200s", e->url, e->err);
        log_warn("pki", "trustpoint %s: no OCSP answer from %s: %s", e->tp, e->url, e->err);
        ent_plan(e, now);
        return;
    }
    e->failed = false;
    e->ans = ans;
    e->expires = ans.next_update ? ans.next_update : now + PKI_OCSP_TTL;
    if (ans.status == PKI_OCSP_GOOD)
        e->st->good++;
    else if (ans.status == PKI_OCSP_REVOKED)
        e->st->revoked++;
    else
        e->st->unknown++;
    if (e->expires <= now) /* accepted within the clock skew, yet already past */
        snprintf(e->err, sizeof(e->err), "the responder's answer is past its nextUpdate");
    else
        e->err[0] = 0;
    log_info("pki", "trustpoint %s: OCSP from %s: %s", e->tp, e->url,
             ans.status == PKI_OCSP_GOOD ? "good" : ans.status == PKI_OCSP_REVOKED ? "revoked" : "unknown");
    ent_plan(e, now);
}

/* Makes room: the entry least recently asked for whose query is over goes. */
static bool ent_evict(struct pki_ocsp *o)
{
    struct ocsp_ent **victim = NULL;

    for (struct ocsp_ent **pp = &o->ents; *pp; pp = &(*pp)->next) {
        if (!(*pp)->x.easy && (!victim || (*pp)->last_used < (*victim)->last_used))
            victim = pp;
    }
    if (!victim)
        return false;
    struct ocsp_ent *e = *victim;

    *victim = e->next;
    ent_free(e);
    return true;
}

/* A new entry for @id (adopted) of the certificate of @issuer and @serial. */
static struct ocsp_ent *ent_add(struct pki_ocsp *o, const struct pki_tp *tp, const char *url, OCSP_CERTID *id,
                                const X509_NAME *issuer, const ASN1_INTEGER *serial)
{
    struct ocsp_ent *e;

    if (o->nent >= PKI_OCSP_MAX_CACHE && !ent_evict(o)) {
        OCSP_CERTID_free(id);
        return NULL;
    }
    if (!(e = calloc(1, sizeof(*e)))) {
        OCSP_CERTID_free(id);
        return NULL;
    }
    e->owner = o;
    o->nent++;
    e->nonce = tp->ocsp_nonce;
    e->configured = tp->ocsp_url != NULL;
    e->id = id;
    if (!(e->tp = strdup(tp->name)) || !(e->url = strdup(url)) || !(e->st = stat_of(o, tp->name)) ||
        !(e->issuer = X509_NAME_dup(issuer)) || !(e->serial = ASN1_INTEGER_dup(serial)) || !(e->cas = X509_chain_up_ref(tp->cas)) ||
        !(e->ev_timer = evtimer_new(pki_crl_base(o->c), on_refresh, e))) {
        ent_free(e);
        return NULL;
    }
    e->next = o->ents;
    o->ents = e;
    return e;
}

static struct ocsp_ent *ent_find(struct pki_ocsp *o, const char *tp, const OCSP_CERTID *id)
{
    for (struct ocsp_ent *e = o->ents; e; e = e->next) {
        if (!strcmp(e->tp, tp) && !OCSP_id_cmp(e->id, id))
            return e;
    }
    return NULL;
}

enum pki_verdict pki_ocsp_check(struct pki_ocsp *o, const struct pki_tp *tp, X509 *leaf, X509 *issuer, time_t now,
                                char *why, size_t why_len)
{
    char url[1024];
    OCSP_CERTID *id = NULL;
    struct ocsp_ent *e;
    enum pki_verdict v = PKI_NO_OCSP;

    if (!o) {
        snprintf(why, why_len, "OCSP is not queried here");
        return v;
    }
    if (tp->ocsp_url)
        snprintf(url, sizeof(url), "%s", tp->ocsp_url);
    else if (!pki_ocsp_aia_url(leaf, url, sizeof(url))) {
        snprintf(why, why_len, "the certificate has no http OCSP responder (AIA) and trustpoint %s no ocsp-url",
                 tp->name);
        return v;
    }
    if (!(id = OCSP_cert_to_id(NULL, leaf, issuer))) {
        snprintf(why, why_len, "out of memory");
        return v;
    }
    if ((e = ent_find(o, tp->name, id))) {
        OCSP_CERTID_free(id);
    } else {
        if (!(e = ent_add(o, tp, url, id, X509_get_subject_name(issuer), X509_get0_serialNumber(leaf)))) {
            snprintf(why, why_len, "%d OCSP answers cached and queried: no room for another", PKI_OCSP_MAX_CACHE);
            return v;
        }
        /* a new entry: its first query now, the client waits for it */
        e->last_used = now;
        return ent_query(e) ? PKI_PENDING : (snprintf(why, why_len, "%s: %s", url, e->err), PKI_NO_OCSP);
    }
    e->last_used = now;
    if (e->ans.status != PKI_OCSP_NONE && now < e->expires) {
        e->st->cache_hits++;
        if (e->ans.status == PKI_OCSP_GOOD)
            return PKI_GOOD;
        if (e->ans.status == PKI_OCSP_REVOKED) {
            snprintf(why, why_len, "the OCSP responder %s says revoked", e->url);
            return PKI_REVOKED;
        }
        snprintf(why, why_len, "the OCSP responder %s does not know the certificate (status unknown)", e->url);
        return PKI_NO_OCSP;
    }
    if (e->x.easy)
        return PKI_PENDING;
    /* expired, or the last query failed: queried again, but not at once after
     * the last one ended, so that a failing responder is not hammered, nor a
     * client that waited for it made to wait again */
    if (now - e->last_end >= PKI_OCSP_RETRY && ent_query(e))
        return PKI_PENDING;
    snprintf(why, why_len, "%s: %s", e->url, e->err[0] ? e->err : "the cached answer has expired");
    return PKI_NO_OCSP;
}

void pki_ocsp_watch(struct pki_ocsp *o, const struct pki_tp *tp, const X509_NAME *issuer,
                    const ASN1_INTEGER *serial, const char *aia_url, time_t now)
{
    const char *url = tp->ocsp_url ? tp->ocsp_url : aia_url;
    X509 *ca = NULL;
    OCSP_CERTID *id;
    struct ocsp_ent *e;

    if (!o || !url)
        return;
    /* the CertID from the issuing CA of the trustpoint, as for a client's */
    for (int i = 0; i < sk_X509_num(tp->cas) && !ca; i++) {
        if (!X509_NAME_cmp(X509_get_subject_name(sk_X509_value(tp->cas, i)), issuer))
            ca = sk_X509_value(tp->cas, i);
    }
    if (!ca || !(id = OCSP_cert_id_new(EVP_sha1(), issuer, X509_get0_pubkey_bitstr(ca), serial)))
        return;
    if ((e = ent_find(o, tp->name, id))) {
        OCSP_CERTID_free(id);
        e->last_used = now;
        return;
    }
    if ((e = ent_add(o, tp, url, id, issuer, serial))) {
        e->last_used = now;
        if (!ent_query(e))
            pki_crl_notify_soon(o->c);
    }
}

bool pki_ocsp_revoked(struct pki_ocsp *o, const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial,
                      time_t now, char *why, size_t why_len)
{
    bool revoked = false;

    for (struct ocsp_ent *e = o ? o->ents : NULL; e; e = e->next) {
        if (strcmp(e->tp, tp) || X509_NAME_cmp(e->issuer, issuer) || ASN1_INTEGER_cmp(e->serial, serial))
            continue;
        e->last_used = now; /* a session stands on it: keep it fresh */
        if (e->ans.status == PKI_OCSP_REVOKED) {
            snprintf(why, why_len, "the OCSP responder %s (trustpoint %s) says the certificate is revoked", e->url,
                     e->tp);
            revoked = true;
        }
    }
    return revoked;
}

void pki_ocsp_sync(struct pki_ocsp *o, struct pki_tp *const *tps, size_t ntp)
{
    bool notify = false;

    if (!o)
        return;
    for (struct ocsp_ent *e = o->ents; e; e = e->next)
        e->mark = true;
    for (struct ocsp_stat *st = o->stats; st; st = st->next)
        st->mark = true;
    for (size_t i = 0; i < ntp; i++) {
        const struct pki_tp *tp = tps[i];

        for (struct ocsp_ent *e = o->ents; tp->ocsp_check && e; e = e->next) {
            STACK_OF(X509) *cas;

            /* an answer from another responder, or without the nonce now
             * asked for, is not what the new configuration would accept */
            if (strcmp(e->tp, tp->name) || e->nonce != tp->ocsp_nonce || e->configured != !!tp->ocsp_url ||
                (tp->ocsp_url && strcmp(tp->ocsp_url, e->url)) || !(cas = X509_chain_up_ref(tp->cas)))
                continue;
            sk_X509_pop_free(e->cas, X509_free);
            e->cas = cas;
            e->mark = false;
        }
        for (struct ocsp_stat *st = o->stats; st; st = st->next) {
            if (!strcmp(st->tp, tp->name) && tp->ocsp_check)
                st->mark = false;
        }
    }
    for (struct ocsp_ent **pp = &o->ents; *pp;) {
        struct ocsp_ent *e = *pp;

        if (e->mark) {
            notify |= e->x.easy != NULL; /* a client may wait for it: it asks again */
            *pp = e->next;
            ent_free(e);
        } else {
            pp = &e->next;
        }
    }
    for (struct ocsp_stat **pp = &o->stats; *pp;) {
        struct ocsp_stat *st = *pp;

        if (st->mark) {
            *pp = st->next;
            free(st->tp);
            free(st);
        } else {
            pp = &st->next;
        }
    }
    if (notify)
        pki_crl_notify_soon(o->c);
}

bool pki_ocsp_any(const struct pki_ocsp *o)
{
    return o && o->stats;
}

void pki_ocsp_state(struct pki_ocsp *o, struct lyd_node *pki)
{
    for (struct ocsp_stat *st = o ? o->stats : NULL; st; st = st->next) {
        struct lyd_node *tp = pki_crl_state_tp(pki, st->tp), *n = NULL;
        uint64_t cached = 0;

        if (!tp || lyd_new_inner(tp, NULL, "ocsp", 0, &n))
            continue;
        for (struct ocsp_ent *e = o->ents; e; e = e->next)
            cached += e->st == st && e->ans.status != PKI_OCSP_NONE;
        pki_crl_u64_leaf(n, "requests", st->requests);
        pki_crl_u64_leaf(n, "good", st->good);
        pki_crl_u64_leaf(n, "revoked", st->revoked);
        pki_crl_u64_leaf(n, "unknown", st->unknown);
        pki_crl_u64_leaf(n, "errors", st->errors);
        pki_crl_u64_leaf(n, "timeouts", st->timeouts);
        pki_crl_u64_leaf(n, "cache-hits", st->cache_hits);
        pki_crl_u64_leaf(n, "cached-responses", cached);
        if (st->err[0])
            lyd_new_term(n, NULL, "last-error", st->err, 0, NULL);
    }
}
