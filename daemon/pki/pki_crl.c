/* CRL sources, their fetching over HTTP and the cache (see pki_crl.h). The
 * verdict on a certificate is in pki_crl_check.c.
 *
 * A source is one URL of one trustpoint: a crl-url (made at sync, fetched at
 * once) or a distribution point of a client certificate (made by the first
 * client that needs it). Each has at most one transfer under way and one timer:
 * the refresh before the cached CRL's nextUpdate, or the next try after a
 * failure. */
#include "daemon/pki/pki_crl_int.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/alarm.h"
#include "daemon/base/log.h"
#include "daemon/pki/pki_ocsp.h"
#include "daemon/base/poison.h"

#define FETCH_TIMEOUT 15   /* seconds a transfer may take */
#define CONNECT_TIMEOUT 5
#define REFRESH_DEFAULT 3600 /* a CRL without nextUpdate is fetched again after this */
#define REFRESH_MARGIN 300   /* at most this long before nextUpdate */
#define REFRESH_MIN 2        /* never sooner than this after a fetch */
#define MAX_WAITS 8          /* transfers one verdict may wait for (MAX_CDP distribution points, OCSP) */

struct crl_sock;

struct pki_crl {
    struct event_base *base;
    CURLM *multi;
    struct event *ev_timeout; /* libcurl's timer */
    struct event *ev_notify;  /* a notify owed outside a fetch (sync cancelled one) */
    struct crl_sock *socks;   /* the sockets libcurl asked to watch */
    struct crl_src *srcs;
    size_t ncdp;
    struct pki_ocsp *ocsp; /* OCSP responses (pki_ocsp.c), on the same transfers */
    pki_crl_fn notify;
    void *notify_arg;
    uint64_t next_ticket;      /* of the next transfer */
    uint64_t waits[MAX_WAITS]; /* the tickets the last PENDING verdict waits for */
    size_t nwaits;
    uint64_t *ended; /* tickets of the transfers ended in this batch (check_done) */
    size_t nended, ended_cap;
    bool news_revoked; /* the next notify says revoked */
};

/* libcurl's socket: its event and the multi handle it belongs to */
struct crl_sock {
    struct event *ev;
    struct pki_crl *c;
    struct crl_sock *next, **pprev;
};

static void sock_free(struct crl_sock *cs)
{
    if (cs->ev)
        event_free(cs->ev);
    *cs->pprev = cs->next;
    if (cs->next)
        cs->next->pprev = cs->pprev;
    free(cs);
}

static void src_schedule(struct crl_src *s, time_t delay);

struct crl_src *pki_crl_srcs(struct pki_crl *c)
{
    return c ? c->srcs : NULL;
}

static STACK_OF(X509) *cas_copy(STACK_OF(X509) *cas)
{
    return X509_chain_up_ref(cas);
}

void pki_xfer_cancel(struct pki_crl *c, struct pki_xfer *x)
{
    if (x->easy) {
        curl_multi_remove_handle(c->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    free(x->body);
    x->body = NULL;
    x->len = 0;
}

static void src_cancel(struct crl_src *s)
{
    pki_xfer_cancel(s->owner, &s->x);
}

/* crl-unobtainable is a URL's, and several trustpoints may fetch one URL:
 * @s no longer fails (a CRL accepted, or it goes), and the alarm is cleared
 * unless another source of its URL still fails. */
static void src_unfailed(struct crl_src *s)
{
    if (!s->failing)
        return;
    s->failing = false;
    for (const struct crl_src *o = s->owner->srcs; o; o = o->next) {
        if (o != s && o->failing && !strcmp(o->url, s->url))
            return;
    }
    alarm_clear(ALARM_CRL_UNOBTAINABLE, s->url);
}

static void src_free(struct crl_src *s)
{
    src_cancel(s);
    src_unfailed(s); /* no longer fetched */
    if (s->ev_timer)
        event_free(s->ev_timer);
    X509_CRL_free(s->crl);
    sk_X509_pop_free(s->cas, X509_free);
    if (s->cdp)
        s->owner->ncdp--;
    free(s->tp);
    free(s->url);
    free(s);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct pki_xfer *x = arg;
    size_t len = size * n;
    uint8_t *b;

    /* a body is bounded: a larger one ends the transfer (CURLE_WRITE_ERROR) */
    if (len > x->max - x->len) {
        x->too_big = true;
        return 0;
    }
    if (!(b = realloc(x->body, x->len + len)))
        return 0;
    memcpy(b + x->len, data, len);
    x->body = b;
    x->len += len;
    return len;
}

bool pki_xfer_start(struct pki_crl *c, struct pki_xfer *x, const char *url, const uint8_t *post, size_t post_len,
                    const char *ctype, long timeout, size_t max)
{
    CURL *h;

    if (x->easy || !(h = curl_easy_init()))
        return false;
    x->too_big = false;
    x->ticket = ++c->next_ticket;
    x->max = max;
    x->len = 0;
    x->curl_err[0] = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT < timeout ? (long)CONNECT_TIMEOUT : timeout);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, post ? "Raven OCSP client" : "Raven CRL fetcher");
    /* no proxy from the environment: the URL is fetched as configured */
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    if (post) {
        char hdr[128];

        snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
        if (!(x->hdrs = curl_slist_append(NULL, hdr)))
            goto fail;
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post_len);
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, (const char *)post);
    }
    if (curl_multi_add_handle(c->multi, h) != CURLM_OK)
        goto fail;
    x->easy = h;
    return true;
fail:
    curl_easy_cleanup(h);
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    return false;
}

static void src_done(struct pki_xfer *x, CURLcode rc, long status);

static void src_fetch(struct crl_src *s)
{
    if (s->x.easy)
        return;
    evtimer_del(s->ev_timer);
    s->fetches++;
    s->last_attempt = time(NULL);
    s->x.done = src_done;
    if (!pki_xfer_start(s->owner, &s->x, s->url, NULL, 0, NULL, FETCH_TIMEOUT, PKI_CRL_MAX_BODY)) {
        snprintf(s->err, sizeof(s->err), "cannot start the transfer");
        s->failures++;
        s->retries++;
        src_schedule(s, PKI_CRL_RETRY_MIN);
    }
}

static void on_src_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    src_fetch(arg);
}

static void src_schedule(struct crl_src *s, time_t delay)
{
    s->next_fetch = time(NULL) + delay;
    evtimer_add(s->ev_timer, &(struct timeval){.tv_sec = delay});
}

/* After a fetch: refresh before nextUpdate, or retry with a doubling delay. */
static void src_plan(struct crl_src *s, bool ok)
{
    time_t now = time(NULL), delay;

    if (ok) {
        if (s->next_update) {
            time_t left = s->next_update - now, margin = left / 10;

            delay = left - (margin > REFRESH_MARGIN ? REFRESH_MARGIN : margin < 1 ? 1 : margin);
        } else {
            delay = REFRESH_DEFAULT;
        }
    } else {
        unsigned sh = s->retries > 7 ? 6 : s->retries ? s->retries - 1 : 0;

        delay = (time_t)PKI_CRL_RETRY_MIN << sh;
        if (delay > PKI_CRL_RETRY_MAX)
            delay = PKI_CRL_RETRY_MAX;
        /* a valid CRL still cached: its refresh must not wait past its nextUpdate */
        if (s->crl && s->next_update > now && s->next_update - now < delay)
            delay = s->next_update - now;
    }
    src_schedule(s, delay < REFRESH_MIN ? REFRESH_MIN : delay);
}

time_t pki_asn1_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    return timegm(&tm);
}

/* Whether @a and @b are the same CRL (byte for byte). */
static bool crl_same(X509_CRL *a, X509_CRL *b)
{
    unsigned char *da = NULL, *db = NULL;
    int la = a ? i2d_X509_CRL(a, &da) : -1, lb = i2d_X509_CRL(b, &db);
    bool same = la > 0 && la == lb && !memcmp(da, db, (size_t)la);

    OPENSSL_free(da);
    OPENSSL_free(db);
    return same;
}

const char *pki_xfer_why(const struct pki_xfer *x, CURLcode rc, const char *too_big)
{
    if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return too_big;
    return x->curl_err[0] ? x->curl_err : curl_easy_strerror(rc);
}

/* A transfer ended: the CRL replaces the cached one, or the failure is counted. */
static void src_done(struct pki_xfer *x, CURLcode rc, long status)
{
    struct crl_src *s = (struct crl_src *)((char *)x - offsetof(struct crl_src, x));
    X509_CRL *crl = NULL;

    if (rc != CURLE_OK)
        snprintf(s->err, sizeof(s->err), "%.260s", pki_xfer_why(x, rc, "the CRL is larger than the limit of 4 MiB"));
    else if (status != 200)
        snprintf(s->err, sizeof(s->err), "HTTP status %ld", status);
    else
        crl = pki_crl_accept(x->body, x->len, s->cas, time(NULL), s->err, sizeof(s->err));
    src_cancel(s);
    if (!crl) {
        s->failures++;
        s->retries++;
        log_warn("pki", "trustpoint %s: CRL from %s not obtained (%" PRIu64 " failures): %s", s->tp, s->url,
                 s->failures, s->err);
        s->failing = true;
        alarm_raise(ALARM_CRL_UNOBTAINABLE, s->url, ALARM_SEV_MAJOR,
                    "trustpoint %s: the CRL cannot be obtained: %s; retried", s->tp, s->err);
        src_plan(s, false);
        return;
    }
    /* sessions are checked again only against a CRL that changed and can
     * revoke: a refresh that brings the same list back costs them nothing */
    if (sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) > 0 && !crl_same(s->crl, crl))
        pki_crl_news_revoked(s->owner);
    X509_CRL_free(s->crl);
    s->crl = crl;
    src_unfailed(s);
    s->retries = 0;
    s->err[0] = 0;
    s->last_update = time(NULL);
    s->this_update = pki_asn1_time(X509_CRL_get0_lastUpdate(crl));
    s->next_update = pki_asn1_time(X509_CRL_get0_nextUpdate(crl));
    log_info("pki", "trustpoint %s: CRL from %s accepted (%d revoked certificates)", s->tp, s->url,
             sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)));
    src_plan(s, true);
}

static void check_done(struct pki_crl *c)
{
    CURLMsg *m;
    int left;
    bool any = false, all = false;

    while ((m = curl_multi_info_read(c->multi, &left))) {
        struct pki_xfer *x = NULL;
        long status = 0;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x) {
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            if (c->nended == c->ended_cap) {
                size_t cap = c->ended_cap ? 2 * c->ended_cap : 16;
                uint64_t *n = realloc(c->ended, cap * sizeof(*n));

                if (n) {
                    c->ended = n;
                    c->ended_cap = cap;
                }
            }
            if (c->nended < c->ended_cap)
                c->ended[c->nended++] = x->ticket;
            else /* out of memory: its waiters cannot be told apart */
                all = true;
            x->done(x, m->data.result, status);
            any = true;
        }
    }
    /* once the transfers are settled: the listener may ask for more */
    if (any) {
        struct pki_crl_news n = {.ended = c->ended, .nended = c->nended, .all = all, .revoked = c->news_revoked};

        c->nended = 0;
        c->news_revoked = false;
        if (c->notify)
            c->notify(c->notify_arg, &n);
    }
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
    struct pki_crl *c = arg;
    int running;

    curl_multi_socket_action(c->multi, fd, ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                                               ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0), &running);
    check_done(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pki_crl *c = arg;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

/* libcurl says which sockets to watch (CURLMOPT_SOCKETFUNCTION) */
static int sock_cb(CURL *h, curl_socket_t fd, int what, void *arg, void *sockp)
{
    struct pki_crl *c = arg;
    struct crl_sock *cs = sockp;
    short ev = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0));

    (void)h;
    if (what == CURL_POLL_REMOVE) {
        if (cs)
            sock_free(cs);
        curl_multi_assign(c->multi, fd, NULL);
        return 0;
    }
    if (!cs) {
        if (!(cs = calloc(1, sizeof(*cs))))
            return -1;
        cs->c = c;
        cs->next = c->socks;
        if (c->socks)
            c->socks->pprev = &cs->next;
        cs->pprev = &c->socks;
        c->socks = cs;
        curl_multi_assign(c->multi, fd, cs);
    } else if (cs->ev) {
        event_free(cs->ev);
    }
    cs->ev = event_new(c->base, fd, ev | EV_PERSIST, on_sock, c);
    if (!cs->ev || event_add(cs->ev, NULL))
        return -1;
    return 0;
}

static int timer_cb(CURLM *m, long ms, void *arg)
{
    struct pki_crl *c = arg;

    (void)m;
    if (ms < 0)
        evtimer_del(c->ev_timeout);
    else {
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

        evtimer_add(c->ev_timeout, &tv);
    }
    return 0;
}

/* A fetch that sync cancelled ends no transfer: its waiters hear of it here,
 * from the loop, not from inside the commit that cancelled it. */
static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    struct pki_crl *c = arg;

    struct pki_crl_news n = {.all = true, .revoked = c->news_revoked};

    (void)fd;
    (void)what;
    c->news_revoked = false;
    if (c->notify)
        c->notify(c->notify_arg, &n);
}

struct pki_crl *pki_crl_new(struct event_base *base)
{
    struct pki_crl *c = calloc(1, sizeof(*c));

    if (!c || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(c);
        return NULL;
    }
    c->base = base;
    c->multi = curl_multi_init();
    c->ev_timeout = evtimer_new(base, on_timeout, c);
    c->ev_notify = evtimer_new(base, on_notify, c);
    if (!c->multi || !c->ev_timeout || !c->ev_notify) {
        pki_crl_free(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if (!(c->ocsp = pki_ocsp_new(c))) {
        pki_crl_free(c);
        return NULL;
    }
    return c;
}

void pki_crl_free(struct pki_crl *c)
{
    if (!c)
        return;
    while (c->srcs) {
        struct crl_src *s = c->srcs;

        c->srcs = s->next;
        src_free(s);
    }
    pki_ocsp_free(c->ocsp);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    while (c->socks) /* connections libcurl kept open, closed by the cleanup */
        sock_free(c->socks);
    if (c->ev_timeout)
        event_free(c->ev_timeout);
    if (c->ev_notify)
        event_free(c->ev_notify);
    free(c->ended);
    free(c);
    curl_global_cleanup();
}

struct event_base *pki_crl_base(struct pki_crl *c)
{
    return c->base;
}

struct pki_ocsp *pki_crl_ocsp(struct pki_crl *c)
{
    return c ? c->ocsp : NULL;
}

void pki_crl_notify_soon(struct pki_crl *c)
{
    evtimer_add(c->ev_notify, &(struct timeval){0});
}

void pki_crl_news_revoked(struct pki_crl *c)
{
    c->news_revoked = true;
}

void pki_crl_wait_on(struct pki_crl *c, const struct pki_xfer *x)
{
    for (size_t i = 0; i < c->nwaits; i++) {
        if (c->waits[i] == x->ticket)
            return;
    }
    if (c->nwaits < MAX_WAITS)
        c->waits[c->nwaits++] = x->ticket;
}

void pki_crl_waits_reset(struct pki_crl *c)
{
    if (c)
        c->nwaits = 0;
}

size_t pki_crl_waits(const struct pki_crl *c, uint64_t *t, size_t cap)
{
    size_t n = c && c->nwaits < cap ? c->nwaits : c ? cap : 0;

    if (n)
        memcpy(t, c->waits, n * sizeof(*t));
    return n;
}

void pki_crl_hold(struct pki_crl *c, const char *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial, bool on)
{
    if (c)
        pki_ocsp_hold(c->ocsp, tp, issuer, serial, on);
}

void pki_crl_watch(struct pki_crl *c, const struct pki_tp *tp, const X509_NAME *issuer, const ASN1_INTEGER *serial,
                   const char *aia_url)
{
    if (c)
        pki_ocsp_watch(c->ocsp, tp, issuer, serial, aia_url, time(NULL));
}

void pki_crl_set_notify(struct pki_crl *c, pki_crl_fn fn, void *arg)
{
    c->notify = fn;
    c->notify_arg = arg;
}

struct crl_src *pki_crl_src_find(struct pki_crl *c, const char *tp, const char *url)
{
    for (struct crl_src *s = c ? c->srcs : NULL; s; s = s->next) {
        if (!strcmp(s->tp, tp) && !strcmp(s->url, url))
            return s;
    }
    return NULL;
}

/* Makes room for a distribution point: the one least recently asked for goes,
 * unless its transfer is under way (a client may be waiting for it). A session
 * checked against it is checked again once a certificate asks for it anew. */
static bool cdp_evict(struct pki_crl *c)
{
    struct crl_src **victim = NULL;

    for (struct crl_src **pp = &c->srcs; *pp; pp = &(*pp)->next) {
        if ((*pp)->cdp && !(*pp)->x.easy && (!victim || (*pp)->last_used < (*victim)->last_used))
            victim = pp;
    }
    if (!victim)
        return false;
    struct crl_src *s = *victim;

    log_warn("pki", "trustpoint %s: %d CRL distribution points cached: %s, the least recently used, is dropped",
             s->tp, PKI_CRL_MAX_CDP, s->url);
    *victim = s->next;
    src_free(s);
    return true;
}

struct crl_src *pki_crl_src_add(struct pki_crl *c, const struct pki_tp *tp, const char *url, bool cdp)
{
    struct crl_src *s;

    if (cdp && c->ncdp >= PKI_CRL_MAX_CDP && !cdp_evict(c))
        return NULL;
    if (!(s = calloc(1, sizeof(*s))) || !(s->tp = strdup(tp->name)) || !(s->url = strdup(url)) ||
        !(s->cas = cas_copy(tp->cas)) || !(s->ev_timer = evtimer_new(c->base, on_src_timer, s))) {
        if (s) {
            sk_X509_pop_free(s->cas, X509_free);
            free(s->tp);
            free(s->url);
        }
        free(s);
        return NULL;
    }
    s->owner = c;
    s->cdp = cdp;
    s->last_used = time(NULL);
    if (cdp)
        c->ncdp++;
    s->next = c->srcs;
    c->srcs = s;
    src_fetch(s);
    return s;
}

/* A source is still wanted by @tp: its CAs may have changed with the
 * configuration, and a cached CRL they no longer sign goes. */
static void src_keep(struct crl_src *s, const struct pki_tp *tp)
{
    STACK_OF(X509) *cas = cas_copy(tp->cas);

    s->mark = false;
    if (!cas)
        return;
    sk_X509_pop_free(s->cas, X509_free);
    s->cas = cas;
    if (s->crl && !pki_crl_signed(s->crl, s->cas)) {
        X509_CRL_free(s->crl);
        s->crl = NULL;
        s->next_update = s->this_update = 0;
        src_fetch(s);
    }
}

void pki_crl_sync(struct pki_crl *c, struct pki_tp *const *tps, size_t ntp)
{
    struct crl_src **pp;

    if (!c)
        return;
    for (struct crl_src *s = c->srcs; s; s = s->next)
        s->mark = true;
    for (size_t i = 0; i < ntp; i++) {
        const struct pki_tp *tp = tps[i];

        if (!tp->crl_check || sk_X509_CRL_num(tp->crls))
            continue; /* no check, or configured CRLs only */
        for (size_t j = 0; j < tp->ncrl_url; j++) {
            struct crl_src *s = pki_crl_src_find(c, tp->name, tp->crl_urls[j]);

            if (s && !s->cdp)
                src_keep(s, tp);
            else if (!s && !pki_crl_src_add(c, tp, tp->crl_urls[j], false))
                log_err("pki", "trustpoint %s: out of memory for CRL source %s", tp->name, tp->crl_urls[j]);
        }
        for (struct crl_src *s = c->srcs; !tp->ncrl_url && s; s = s->next) {
            if (s->cdp && !strcmp(s->tp, tp->name))
                src_keep(s, tp);
        }
    }
    for (pp = &c->srcs; *pp;) {
        struct crl_src *s = *pp;

        if (s->mark) {
            /* a client may wait for this fetch: it is told, and asks again
             * with the new trustpoints */
            if (s->x.easy)
                evtimer_add(c->ev_notify, &(struct timeval){0});
            *pp = s->next;
            src_free(s);
        } else {
            pp = &s->next;
        }
    }
    pki_ocsp_sync(c->ocsp, tps, ntp);
}

/* UTC, as ike_state.c writes times */
void pki_crl_time_leaf(struct lyd_node *p, const char *name, time_t t)
{
    struct tm tm;
    char b[32];

    if (t && gmtime_r(&t, &tm) && strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm))
        lyd_new_term(p, NULL, name, b, 0, NULL);
}

void pki_crl_u64_leaf(struct lyd_node *p, const char *name, uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%" PRIu64, v);
    lyd_new_term(p, NULL, name, b, 0, NULL);
}

static const char *src_status(const struct crl_src *s, time_t now)
{
    if (s->crl && (!s->next_update || s->next_update > now))
        return "valid";
    if (s->crl)
        return "expired";
    return s->x.easy && !s->failures ? "fetching" : "unavailable";
}

struct lyd_node *pki_crl_state_tp(struct lyd_node *pki, const char *tp)
{
    struct lyd_node *n = NULL;
    char pred[300];

    snprintf(pred, sizeof(pred), "trustpoint[name='%s']", tp);
    if (lyd_find_path(pki, pred, 0, &n) && lyd_new_list(pki, NULL, "trustpoint", 0, &n, tp))
        return NULL;
    return n;
}

void pki_crl_state(struct pki_crl *c, struct lyd_node *state)
{
    struct lyd_node *pki = NULL;
    time_t now = time(NULL);

    if (!c || (!c->srcs && !pki_ocsp_any(c->ocsp)) || lyd_new_inner(state, NULL, "pki", 0, &pki))
        return;
    for (struct crl_src *s = c->srcs; s; s = s->next) {
        struct lyd_node *tp = pki_crl_state_tp(pki, s->tp), *src = NULL;

        if (!tp || lyd_new_list(tp, NULL, "crl-source", 0, &src, s->url))
            continue;
        lyd_new_term(src, NULL, "origin", s->cdp ? "distribution-point" : "crl-url", 0, NULL);
        lyd_new_term(src, NULL, "status", src_status(s, now), 0, NULL);
        pki_crl_u64_leaf(src, "fetches", s->fetches);
        pki_crl_u64_leaf(src, "failures", s->failures);
        pki_crl_time_leaf(src, "last-attempt", s->last_attempt);
        pki_crl_time_leaf(src, "last-update", s->last_update);
        pki_crl_time_leaf(src, "this-update", s->crl ? s->this_update : 0);
        pki_crl_time_leaf(src, "next-update", s->crl ? s->next_update : 0);
        pki_crl_time_leaf(src, "next-fetch", s->x.easy ? 0 : s->next_fetch);
        if (s->crl)
            pki_crl_u64_leaf(src, "revoked-certificates", (uint64_t)sk_X509_REVOKED_num(X509_CRL_get_REVOKED(s->crl)));
        if (s->err[0])
            lyd_new_term(src, NULL, "last-error", s->err, 0, NULL);
    }
    pki_ocsp_state(c->ocsp, pki);
}
