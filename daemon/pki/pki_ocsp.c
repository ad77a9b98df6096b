/* The OCSP cache and its queries (see pki_ocsp.h). One entry per trustpoint
 * and certificate: its last answer, the query under way (at most one, with the
 * request whose nonce the response must echo) and a refresh timer set before
 * the answer expires. Entries are found by a hash of their key (trustpoint,
 * SHA-1 of the issuer name as in the CertID, serial), so that the recheck of
 * every session costs one lookup each. The sessions' holds are kept apart,
 * under the same key, so that they survive the entry (evicted or dropped at a
 * commit) and find it again when it comes back. Counters per trustpoint.
 *
 * The ocsp-unobtainable alarm is a responder URL's, but the entries are per
 * trustpoint and certificate: the URL keeps a count of its entries whose last
 * query failed, raised when the first fails, cleared when none is left (an
 * entry answered, dropped or evicted), so that one certificate answered does
 * not clear what another still cannot get. */
#include "daemon/pki/pki_ocsp.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "daemon/base/alarm.h"
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
    uint64_t requests, good, revoked, unknown, errors, timeouts, cache_hits, evictions;
    char err[300]; /* the last failure */
    bool mark;     /* sync: trustpoint not (yet) seen in the new configuration */
    struct ocsp_stat *next;
};

struct ocsp_ent {
    UT_hash_handle hh; /* by key */
    uint8_t *key;
    size_t klen;
    struct pki_ocsp *owner;
    struct ocsp_stat *st;
    char *tp, *url;
    bool configured; /* url is the trustpoint's ocsp-url, not the certificate's AIA */
    bool nonce;
    bool mark;
    OCSP_CERTID *id;
    STACK_OF(X509) *cas; /* the trustpoint's, that must have signed the answer */
    struct pki_ocsp_answer ans; /* status PKI_OCSP_NONE until one is accepted */
    time_t expires;             /* of ans */
    time_t last_attempt, last_end, last_used; /* a query's start and end, a client's or session's ask */
    bool failed; /* the last query gave no answer */
    bool alarmed; /* counted in its URL's failed entries (ocsp-unobtainable) */
    char err[300];
    OCSP_REQUEST *req; /* of the query under way */
    struct pki_xfer x;
    struct event *ev_timer; /* the refresh */
};

/* The established sessions that stand on the answer of one key. */
struct ocsp_hold {
    UT_hash_handle hh;
    unsigned n;
    size_t klen;
    uint8_t key[];
};

/* A trustpoint of the configuration last applied that checks OCSP. */
struct ocsp_tpc {
    char *name, *url; /* url NULL: the certificates' AIA */
    bool nonce;
    struct ocsp_tpc *next;
};

/* A responder URL with entries whose last query failed (ocsp-unobtainable). */
struct ocsp_url {
    char *url;
    unsigned nfailed;
    struct ocsp_url *next;
};

struct pki_ocsp {
    struct pki_crl *c;
    struct ocsp_url *urls; /* those with a failed entry */
    struct ocsp_ent *ents; /* hash by key */
    size_t nent;
    struct ocsp_hold *holds; /* hash by key */
    struct ocsp_stat *stats;
    struct ocsp_tpc *tpcs;
};

/* The key of the certificate of @issuer and @serial under @tp: the name, a
 * NUL, the SHA-1 of the DER issuer name (the CertID's issuerNameHash), the DER
 * serial. NULL when out of memory. */
static uint8_t *key_of(const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial, size_t *len)
{
    unsigned char md[EVP_MAX_MD_SIZE], *p;
    unsigned mdl = 0;
    size_t tl = strlen(tp) + 1;
    int sl = i2d_ASN1_INTEGER(serial, NULL);
    uint8_t *k;

    if (sl <= 0 || !X509_NAME_digest(issuer, EVP_sha1(), md, &mdl) || !(k = malloc(tl + mdl + (size_t)sl)))
        return NULL;
    memcpy(k, tp, tl);
    memcpy(k + tl, md, mdl);
    p = k + tl + mdl;
    i2d_ASN1_INTEGER(serial, &p);
    *len = tl + mdl + (size_t)sl;
    return k;
}

static struct ocsp_ent *ent_find(struct pki_ocsp *o, const uint8_t *key, size_t klen)
{
    struct ocsp_ent *e = NULL;

    HASH_FIND(hh, o->ents, key, klen, e);
    return e;
}

static bool ent_held(struct pki_ocsp *o, const struct ocsp_ent *e)
{
    struct ocsp_hold *h = NULL;

    HASH_FIND(hh, o->holds, e->key, e->klen, h);
    return h && h->n;
}

/* The configured trustpoint @tp is, with its responder and nonce setting. */
/* Whether @tp asks as (@name, @nonce, the responder @url it names, NULL for
 * the certificates' AIA) did. */
static bool asks_alike(const struct pki_tp *tp, const char *name, bool nonce, const char *url)
{
    return !strcmp(name, tp->name) && nonce == tp->ocsp_nonce && !url == !tp->ocsp_url &&
           (!url || !strcmp(url, tp->ocsp_url));
}

static bool tp_current(const struct pki_ocsp *o, const struct pki_tp *tp)
{
    for (const struct ocsp_tpc *t = o->tpcs; t; t = t->next) {
        if (!strcmp(t->name, tp->name))
            return asks_alike(tp, t->name, t->nonce, t->url);
    }
    return false;
}

static void tpcs_free(struct pki_ocsp *o)
{
    while (o->tpcs) {
        struct ocsp_tpc *t = o->tpcs;

        o->tpcs = t->next;
        free(t->name);
        free(t->url);
        free(t);
    }
}

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

/* @e's last query failed (@failed) or not: its URL's count and alarm follow. */
static void ent_alarm(struct ocsp_ent *e, bool failed)
{
    struct ocsp_url **pp = &e->owner->urls, *u;

    if (failed == e->alarmed)
        return;
    while (*pp && strcmp((*pp)->url, e->url))
        pp = &(*pp)->next;
    if (failed) {
        if (!(u = *pp)) {
            if (!(u = calloc(1, sizeof(*u))) || !(u->url = strdup(e->url))) {
                free(u);
                return; /* out of memory: the alarm is raised at its next failure */
            }
            u->next = e->owner->urls;
            e->owner->urls = u;
        }
        e->alarmed = true;
        if (!u->nfailed++)
            alarm_raise(ALARM_OCSP_UNOBTAINABLE, e->url, ALARM_SEV_MAJOR,
                        "trustpoint %s: the OCSP responder gives no valid answer: %s; asked again", e->tp, e->err);
        return;
    }
    e->alarmed = false;
    if (!(u = *pp) || --u->nfailed)
        return;
    alarm_clear(ALARM_OCSP_UNOBTAINABLE, e->url);
    *pp = u->next;
    free(u->url);
    free(u);
}

/* Whether the alarm of @resource is that of a URL with a failed entry (the
 * alarm list cuts long resources). */
static bool url_failing(const char *resource, void *arg)
{
    for (const struct ocsp_url *u = ((const struct pki_ocsp *)arg)->urls; u; u = u->next) {
        if (!strncmp(u->url, resource, ALARM_RESOURCE_MAX - 1))
            return true;
    }
    return false;
}

static void ent_free(struct ocsp_ent *e)
{
    if (e->url)
        ent_alarm(e, false); /* no longer asked for */
    if (e->key)
        HASH_DEL(e->owner->ents, e);
    free(e->key);
    pki_xfer_cancel(e->owner->c, &e->x);
    if (e->ev_timer)
        event_free(e->ev_timer);
    OCSP_REQUEST_free(e->req);
    OCSP_CERTID_free(e->id);
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
    struct ocsp_ent *e, *etmp;
    struct ocsp_hold *h, *htmp;

    if (!o)
        return;
    HASH_ITER(hh, o->ents, e, etmp)
        ent_free(e);
    HASH_ITER(hh, o->holds, h, htmp) {
        HASH_DEL(o->holds, h);
        free(h);
    }
    tpcs_free(o);
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
    /* only an answer a session stands on or a client asked for since its
     * last query: a certificate nobody uses any more is not queried for ever */
    if ((e->last_used >= e->last_attempt || ent_held(e->owner, e)) && !ent_query(e))
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
        snprintf(e->err, sizeof(e->err), "%.260s",
                 pki_xfer_why(x, rc, "the response is larger than the limit of 64 KiB"));
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
        ent_alarm(e, true);
        ent_plan(e, now);
        return;
    }
    e->failed = false;
    ent_alarm(e, false);
    e->ans = ans;
    e->expires = ans.next_update ? ans.next_update : now + PKI_OCSP_TTL;
    if (ans.status == PKI_OCSP_GOOD) {
        e->st->good++;
    } else if (ans.status == PKI_OCSP_REVOKED) {
        e->st->revoked++;
        pki_crl_news_revoked(e->owner->c); /* sessions on it end */
    }
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

/* Makes room: the entry least recently asked for that no session holds and
 * whose query is over goes. False when every entry is held or queried. */
static bool ent_evict(struct pki_ocsp *o)
{
    struct ocsp_ent *victim = NULL, *e, *tmp;

    HASH_ITER(hh, o->ents, e, tmp) {
        if (!e->x.easy && (!victim || e->last_used < victim->last_used) && !ent_held(o, e))
            victim = e;
    }
    if (!victim)
        return false;
    victim->st->evictions++;
    ent_free(victim);
    return true;
}

/* A new entry for @id and @key (both adopted). Beyond PKI_OCSP_MAX_CACHE an
 * entry nobody holds goes; without one the cache grows, up to
 * PKI_OCSP_HARD_CACHE, rather than drop a session's check. */
static struct ocsp_ent *ent_add(struct pki_ocsp *o, const struct pki_tp *tp, const char *url, OCSP_CERTID *id,
                                uint8_t *key, size_t klen)
{
    struct ocsp_ent *e;

    if ((o->nent >= PKI_OCSP_MAX_CACHE && !ent_evict(o) && o->nent >= PKI_OCSP_HARD_CACHE) ||
        !(e = calloc(1, sizeof(*e)))) {
        OCSP_CERTID_free(id);
        free(key);
        return NULL;
    }
    e->owner = o;
    o->nent++;
    e->nonce = tp->ocsp_nonce;
    e->configured = tp->ocsp_url != NULL;
    e->id = id;
    e->ans.reason = -1;
    if (!(e->tp = strdup(tp->name)) || !(e->url = strdup(url)) || !(e->st = stat_of(o, tp->name)) ||
        !(e->cas = X509_chain_up_ref(tp->cas)) || !(e->ev_timer = evtimer_new(pki_crl_base(o->c), on_refresh, e))) {
        free(key);
        ent_free(e);
        return NULL;
    }
    e->key = key;
    e->klen = klen;
    HASH_ADD_KEYPTR(hh, o->ents, e->key, e->klen, e);
    return e;
}

/* The entry of @tp and @key, whose CertID is @id: NULL if none; one under the
 * same key for another CertID (a CA of the same name with another key) goes
 * unless its query is under way (then *@busy). */
static struct ocsp_ent *ent_match(struct pki_ocsp *o, const uint8_t *key, size_t klen, const OCSP_CERTID *id,
                                  bool *busy)
{
    struct ocsp_ent *e = ent_find(o, key, klen);

    *busy = false;
    if (!e || !OCSP_id_cmp(e->id, id))
        return e;
    if (e->x.easy)
        *busy = true;
    else
        ent_free(e);
    return *busy ? e : NULL;
}

enum pki_verdict pki_ocsp_check(struct pki_ocsp *o, const struct pki_tp *tp, X509 *leaf, X509 *issuer, time_t now,
                                char *why, size_t why_len)
{
    char url[1024];
    OCSP_CERTID *id = NULL;
    struct ocsp_ent *e;
    enum pki_verdict v = PKI_NO_OCSP;
    uint8_t *key;
    size_t klen = 0;
    bool busy;

    if (!o) {
        snprintf(why, why_len, "OCSP is not queried here");
        return v;
    }
    if (!tp_current(o, tp)) {
        snprintf(why, why_len, "trustpoint %s changed or went while the client waited", tp->name);
        return v;
    }
    if (tp->ocsp_url)
        snprintf(url, sizeof(url), "%s", tp->ocsp_url);
    else if (!pki_ocsp_aia_url(leaf, url, sizeof(url))) {
        snprintf(why, why_len, "the certificate has no http OCSP responder (AIA) and trustpoint %s no ocsp-url",
                 tp->name);
        return v;
    }
    if (!(id = OCSP_cert_to_id(NULL, leaf, issuer)) ||
        !(key = key_of(tp->name, X509_get_issuer_name(leaf), X509_get0_serialNumber(leaf), &klen))) {
        OCSP_CERTID_free(id);
        snprintf(why, why_len, "out of memory");
        return v;
    }
    if ((e = ent_match(o, key, klen, id, &busy))) {
        OCSP_CERTID_free(id);
        free(key);
        if (busy) { /* another CA's certificate of that name and serial is asked about */
            pki_crl_wait_on(o->c, &e->x);
            return PKI_PENDING;
        }
    } else {
        if (!(e = ent_add(o, tp, url, id, key, klen))) {
            snprintf(why, why_len, "%d OCSP answers cached and held by sessions or queried: no room for another",
                     PKI_OCSP_HARD_CACHE);
            return v;
        }
        /* a new entry: its first query now, the client waits for it */
        e->last_used = now;
        if (!ent_query(e)) {
            snprintf(why, why_len, "%s: %s", url, e->err);
            return PKI_NO_OCSP;
        }
        pki_crl_wait_on(o->c, &e->x);
        return PKI_PENDING;
    }
    e->last_used = now;
    /* a revocation is final (RFC 5280 5.3.1), unless on hold: still refused
     * once the answer expired and the responder cannot be asked again */
    if (e->ans.status == PKI_OCSP_REVOKED && now >= e->expires &&
        e->ans.reason != OCSP_REVOKED_STATUS_CERTIFICATEHOLD) {
        if (!e->x.easy && now - e->last_end >= PKI_OCSP_RETRY)
            ent_query(e); /* refreshed all the same, for the counters and the next client */
        snprintf(why, why_len, "the OCSP responder %s said revoked (answer past its nextUpdate, kept: revocation "
                               "is final)", e->url);
        return PKI_REVOKED;
    }
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
    if (!e->x.easy && now - e->last_end < PKI_OCSP_RETRY) {
        /* expired, or the last query failed: queried again, but not at once
         * after the last one ended, so that a failing responder is not
         * hammered, nor a client that waited for it made to wait again */
    } else if (e->x.easy || ent_query(e)) {
        pki_crl_wait_on(o->c, &e->x);
        return PKI_PENDING;
    }
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
    uint8_t *key;
    size_t klen = 0;
    bool busy;

    if (!o || !url || !tp_current(o, tp))
        return;
    /* the CertID from the issuing CA of the trustpoint, as for a client's */
    for (int i = 0; i < sk_X509_num(tp->cas) && !ca; i++) {
        if (!X509_NAME_cmp(X509_get_subject_name(sk_X509_value(tp->cas, i)), issuer))
            ca = sk_X509_value(tp->cas, i);
    }
    if (!ca || !(id = OCSP_cert_id_new(EVP_sha1(), issuer, X509_get0_pubkey_bitstr(ca), serial)))
        return;
    if (!(key = key_of(tp->name, issuer, serial, &klen))) {
        OCSP_CERTID_free(id);
        return;
    }
    if ((e = ent_match(o, key, klen, id, &busy))) {
        OCSP_CERTID_free(id);
        free(key);
        e->last_used = now;
        return;
    }
    if ((e = ent_add(o, tp, url, id, key, klen))) {
        e->last_used = now;
        if (!ent_query(e))
            pki_crl_notify_soon(o->c);
    }
}

bool pki_ocsp_revoked(struct pki_ocsp *o, const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial,
                      time_t now, char *why, size_t why_len)
{
    struct ocsp_ent *e;
    size_t klen = 0;
    uint8_t *key = o ? key_of(tp, issuer, serial, &klen) : NULL;

    if (!key)
        return false;
    e = ent_find(o, key, klen);
    free(key);
    if (!e)
        return false;
    e->last_used = now;
    /* on hold is not final: a hold past its answer's expiry no longer ends sessions */
    if (e->ans.status != PKI_OCSP_REVOKED ||
        (e->ans.reason == OCSP_REVOKED_STATUS_CERTIFICATEHOLD && now >= e->expires))
        return false;
    snprintf(why, why_len, "the OCSP responder %s (trustpoint %s) says the certificate is revoked", e->url, e->tp);
    return true;
}

void pki_ocsp_hold(struct pki_ocsp *o, const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial, bool on)
{
    struct ocsp_hold *h = NULL;
    size_t klen = 0;
    uint8_t *key = o ? key_of(tp, issuer, serial, &klen) : NULL;

    if (!key)
        return;
    HASH_FIND(hh, o->holds, key, klen, h);
    if (on && !h && (h = calloc(1, sizeof(*h) + klen))) {
        memcpy(h->key, key, klen);
        h->klen = klen;
        HASH_ADD_KEYPTR(hh, o->holds, h->key, h->klen, h);
    }
    free(key);
    if (!h)
        return;
    if (on) {
        h->n++;
    } else if (h->n && !--h->n) {
        HASH_DEL(o->holds, h);
        free(h);
    }
}

void pki_ocsp_sync(struct pki_ocsp *o, struct pki_tp *const *tps, size_t ntp)
{
    bool notify = false;
    struct ocsp_ent *e, *tmp;

    if (!o)
        return;
    /* the trustpoints now asked for (pki_ocsp_check answers no other) */
    tpcs_free(o);
    for (size_t i = 0; i < ntp; i++) {
        struct ocsp_tpc *t;

        if (!tps[i]->ocsp_check)
            continue;
        if (!(t = calloc(1, sizeof(*t))) || !(t->name = strdup(tps[i]->name)) ||
            (tps[i]->ocsp_url && !(t->url = strdup(tps[i]->ocsp_url)))) {
            log_err("pki", "trustpoint %s: out of memory: OCSP is not asked for it", tps[i]->name);
            if (t)
                free(t->name);
            free(t);
            continue;
        }
        t->nonce = tps[i]->ocsp_nonce;
        t->next = o->tpcs;
        o->tpcs = t;
    }
    HASH_ITER(hh, o->ents, e, tmp)
        e->mark = true;
    for (struct ocsp_stat *st = o->stats; st; st = st->next)
        st->mark = true;
    for (size_t i = 0; i < ntp; i++) {
        const struct pki_tp *tp = tps[i];

        if (!tp->ocsp_check)
            continue;
        HASH_ITER(hh, o->ents, e, tmp) {
            STACK_OF(X509) *cas;

            /* an answer from another responder, or without the nonce now
             * asked for, is not what the new configuration would accept */
            if (!asks_alike(tp, e->tp, e->nonce, e->configured ? e->url : NULL) ||
                !(cas = X509_chain_up_ref(tp->cas)))
                continue;
            sk_X509_pop_free(e->cas, X509_free);
            e->cas = cas;
            e->mark = false;
        }
        for (struct ocsp_stat *st = o->stats; st; st = st->next) {
            if (!strcmp(st->tp, tp->name))
                st->mark = false;
        }
    }
    HASH_ITER(hh, o->ents, e, tmp) {
        if (e->mark) {
            notify |= e->x.easy != NULL; /* a client may wait for it: it asks again */
            ent_free(e);
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
    /* a responder no entry fails on any more (its trustpoints gone or
     * changed) has nothing to raise its alarm */
    alarm_clear_unless(ALARM_OCSP_UNOBTAINABLE, NULL, url_failing, o);
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
        struct ocsp_ent *e, *tmp;
        uint64_t cached = 0;

        if (!tp || lyd_new_inner(tp, NULL, "ocsp", 0, &n))
            continue;
        HASH_ITER(hh, o->ents, e, tmp)
            cached += e->st == st && e->ans.status != PKI_OCSP_NONE;
        pki_crl_u64_leaf(n, "requests", st->requests);
        pki_crl_u64_leaf(n, "good", st->good);
        pki_crl_u64_leaf(n, "revoked", st->revoked);
        pki_crl_u64_leaf(n, "unknown", st->unknown);
        pki_crl_u64_leaf(n, "errors", st->errors);
        pki_crl_u64_leaf(n, "timeouts", st->timeouts);
        pki_crl_u64_leaf(n, "cache-hits", st->cache_hits);
        pki_crl_u64_leaf(n, "cached-responses", cached);
        pki_crl_u64_leaf(n, "evictions", st->evictions);
        if (st->err[0])
            lyd_new_term(n, NULL, "last-error", st->err, 0, NULL);
    }
}
