/* The etcd client (etcd.h): its configuration, requests as HTTP POSTs to
 * etcd's JSON gateway on one libcurl multi handle driven by the control
 * thread's libevent base, endpoints in order, TLS, authentication tokens, the
 * end of each request and its one callback. The JSON sent is etcd_kv.c's,
 * watches are etcd_watch.c's, what comes back is read by etcd_parse.c.
 *
 * Callbacks run only from the loop (drive(): libcurl said a socket or its
 * timer is ready; a watch's acknowledgement timer), never from inside a
 * libcurl callback nor from a request's start: libcurl's write callbacks only
 * buffer, and what they buffered is handed out once curl_multi_socket_action()
 * returned. While callbacks run (etcd_enter/etcd_leave) a request that ends or
 * is cancelled is only marked dead, and etcd_free() only marks the client:
 * they are freed when the outermost returns, so that no pointer the loop
 * holds goes stale under it. */
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/cluster/etcd_int.h"

#define DEFAULT_TIMEOUT_MS 3000

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* ---- transfers ---- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct etcd_req *r = arg;
    size_t len = size * n;

    if (len > ETCD_MAX_BODY - r->rlen) {
        r->too_big = true;
        return 0;
    }
    if (len > r->rcap - r->rlen) {
        size_t cap = r->rcap ? r->rcap : 1024;
        char *b;

        while (cap - r->rlen < len)
            cap *= 2;
        if (!(b = realloc(r->resp, cap)))
            return 0;
        r->resp = b;
        r->rcap = cap;
    }
    memcpy(r->resp + r->rlen, data, len);
    r->rlen += len;
    return len;
}

void etcd_req_detach(struct etcd_req *r)
{
    if (r->easy) {
        curl_multi_remove_handle(r->e->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    if (r->kind == RQ_WATCH && ((struct etcd_watch *)r)->ev_ack)
        evtimer_del(((struct etcd_watch *)r)->ev_ack);
}

static void req_free(struct etcd_req *r)
{
    etcd_req_detach(r);
    if (r->kind == RQ_AUTH && r->body)
        OPENSSL_cleanse(r->body, r->blen);
    free(r->body);
    free(r->resp);
    if (r->kind == RQ_WATCH) {
        etcd_split_fini(&((struct etcd_watch *)r)->split);
        if (((struct etcd_watch *)r)->ev_ack)
            event_free(((struct etcd_watch *)r)->ev_ack);
    }
    free(r);
}

/* The request ends (its callback ran, or it is cancelled): freed now, or
 * when the callbacks running return. */
void etcd_req_kill(struct etcd_req *r)
{
    struct etcd *e = r->e;

    etcd_req_detach(r);
    r->state = RS_DEAD;
    if (e->auth == r)
        e->auth = NULL;
    if (!e->depth) {
        for (struct etcd_req **p = &e->reqs; *p; p = &(*p)->next) {
            if (*p == r) {
                *p = r->next;
                break;
            }
        }
        req_free(r);
    }
}

static bool set_blob(CURL *h, CURLoption opt, const char *pem)
{
    struct curl_blob b = {.data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY};

    return curl_easy_setopt(h, opt, &b) == CURLE_OK;
}

static bool easy_tls(struct etcd *e, CURL *h)
{
    if (e->ca_pem && !set_blob(h, CURLOPT_CAINFO_BLOB, e->ca_pem))
        return false;
    if (e->cert_pem && (!set_blob(h, CURLOPT_SSLCERT_BLOB, e->cert_pem) ||
                        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK ||
                        !set_blob(h, CURLOPT_SSLKEY_BLOB, e->key_pem) ||
                        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK))
        return false;
    return true;
}

/* Sends @r to its endpoint. -ENOMEM when it cannot. */
static int http_start(struct etcd_req *r)
{
    struct etcd *e = r->e;
    char url[ETCD_MAX_ENDPOINT + 32];
    CURL *h;

    if (!(h = curl_easy_init()))
        return -ENOMEM;
    snprintf(url, sizeof(url), "%s%s", e->endpoints[r->ep], r->path);
    r->rlen = 0;
    r->too_big = false;
    r->curl_err[0] = 0;
    if (!(r->hdrs = curl_slist_append(NULL, "Content-Type: application/json")) ||
        !curl_slist_append(r->hdrs, "Expect:"))
        goto fail;
    r->token_gen = e->token_gen;
    if (r->kind != RQ_AUTH && e->token) {
        size_t n = strlen(e->token) + sizeof("Authorization: ");
        char *hdr = malloc(n);
        bool ok = hdr && (snprintf(hdr, n, "Authorization: %s", e->token), curl_slist_append(r->hdrs, hdr));

        wipe_free(hdr);
        if (!ok)
            goto fail;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* no proxy from the environment */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->blen);
    curl_easy_setopt(h, CURLOPT_PRIVATE, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Raven etcd client");
    if (r->kind == RQ_WATCH) {
        struct etcd_watch *w = (struct etcd_watch *)r;

        etcd_split_fini(&w->split);
        w->acked = w->failed = false;
        /* no end: a peer that vanished is found by TCP keepalives */
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, etcd_watch_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    }
    if (!easy_tls(e, h) || curl_multi_add_handle(e->multi, h) != CURLM_OK)
        goto fail;
    if (r->kind == RQ_WATCH) { /* etcd is to acknowledge it in time */
        struct timeval tv = {.tv_sec = e->timeout_ms / 1000, .tv_usec = e->timeout_ms % 1000 * 1000};

        evtimer_add(((struct etcd_watch *)r)->ev_ack, &tv);
    }
    r->easy = h;
    r->state = RS_SENT;
    return 0;
fail:
    curl_easy_cleanup(h);
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    return -ENOMEM;
}

static int auth_start(struct etcd *e);

/* Sends @r, after a token is had when etcd wants one. */
int etcd_req_send(struct etcd_req *r)
{
    struct etcd *e = r->e;

    if (r->kind != RQ_AUTH && e->user && !e->token) {
        r->state = RS_WAIT_AUTH;
        return e->auth ? 0 : auth_start(e);
    }
    return http_start(r);
}

/* ---- ends of requests ---- */

static void req_report(struct etcd_req *r, bool ok, const char *err)
{
    switch (r->kind) {
    case RQ_RANGE:
        r->cb.range(r->arg, ok, NULL, 0, 0, err);
        break;
    case RQ_PUT:
    case RQ_DELETE:
    case RQ_REVOKE:
        r->cb.done(r->arg, ok, err);
        break;
    case RQ_CREATE:
        r->cb.create(r->arg, ok, false, err);
        break;
    case RQ_GRANT:
    case RQ_KEEPALIVE:
        r->cb.lease(r->arg, ok, 0, 0, err);
        break;
    case RQ_AUTH:
    case RQ_WATCH:
        break;
    }
}

static void auth_ended(struct etcd_req *r, const char *token, const char *err);

/* @r failed with @err (an operator's sentence). */
static void req_fail(struct etcd_req *r, const char *err)
{
    if (r->kind == RQ_AUTH) {
        auth_ended(r, NULL, err);
        return;
    }
    if (r->kind == RQ_WATCH) {
        etcd_watch_lost((struct etcd_watch *)r, err);
        return;
    }
    log_debug("etcd", "%s failed: %s", r->path, err);
    r->state = RS_DEAD;
    req_report(r, false, err);
    etcd_req_kill(r);
}

/* After a transport failure: the next endpoint, unless all were tried. */
bool etcd_req_failover(struct etcd_req *r, const char *why)
{
    struct etcd *e = r->e;

    etcd_req_detach(r);
    if (++r->tries >= e->nendpoints)
        return false;
    r->ep = (r->ep + 1) % e->nendpoints;
    log_warn("etcd", "%s: %s; trying %s", e->endpoints[(r->ep + e->nendpoints - 1) % e->nendpoints], why,
             e->endpoints[r->ep]);
    e->cur = r->ep;
    return http_start(r) == 0;
}

/* etcd said the token sent is not (or no longer) valid: a new one, once. */
bool etcd_req_auth_again(struct etcd_req *r)
{
    struct etcd *e = r->e;

    if (r->kind == RQ_AUTH || !e->user || r->auth_retried)
        return false;
    r->auth_retried = true;
    etcd_req_detach(r);
    if (e->token && r->token_gen == e->token_gen) {
        wipe_free(e->token);
        e->token = NULL;
    }
    log_info("etcd", "%s: the authentication token is no longer valid; asking for a new one",
             e->endpoints[r->ep]);
    return etcd_req_send(r) == 0;
}

static void req_parsed(struct etcd_req *r, const json_t *root)
{
    char err[ETCD_ERRLEN];
    struct etcd_kvs kvs = {0};
    int64_t rev, id, ttl;
    bool created;
    char *token;

    switch (r->kind) {
    case RQ_RANGE:
        if (!etcd_parse_range(root, &kvs, &rev, err, sizeof(err)))
            break;
        r->state = RS_DEAD;
        r->cb.range(r->arg, true, kvs.v, kvs.n, rev, NULL);
        etcd_kvs_fini(&kvs);
        etcd_req_kill(r);
        return;
    case RQ_PUT:
    case RQ_DELETE:
    case RQ_REVOKE:
        if (!etcd_parse_header(root, &rev, err, sizeof(err)))
            break;
        r->state = RS_DEAD;
        r->cb.done(r->arg, true, NULL);
        etcd_req_kill(r);
        return;
    case RQ_CREATE:
        if (!etcd_parse_txn(root, &created, err, sizeof(err)))
            break;
        r->state = RS_DEAD;
        r->cb.create(r->arg, true, created, NULL);
        etcd_req_kill(r);
        return;
    case RQ_GRANT:
    case RQ_KEEPALIVE:
        if (!etcd_parse_lease(root, &id, &ttl, err, sizeof(err)))
            break;
        r->state = RS_DEAD;
        r->cb.lease(r->arg, true, id, ttl, NULL);
        etcd_req_kill(r);
        return;
    case RQ_AUTH:
        if (!etcd_parse_auth(root, &token, err, sizeof(err)))
            break;
        auth_ended(r, token, NULL);
        wipe_free(token);
        return;
    case RQ_WATCH:
        return;
    }
    {
        char msg[ETCD_ERRLEN + ETCD_MAX_ENDPOINT];

        snprintf(msg, sizeof(msg), "etcd at %s: bad answer to %s: %s", r->e->endpoints[r->ep], r->path, err);
        req_fail(r, msg);
    }
}

/* @r's transfer ended with @rc and the HTTP @status. */
static void req_ended(struct etcd_req *r, CURLcode rc, long status)
{
    struct etcd *e = r->e;
    char err[ETCD_ERRLEN], msg[ETCD_ERRLEN + ETCD_MAX_ENDPOINT + 64];
    const char *ep = e->endpoints[r->ep];
    json_t *root;
    int code;

    if (r->kind == RQ_WATCH) {
        etcd_watch_ended((struct etcd_watch *)r, rc);
        return;
    }
    if (rc != CURLE_OK && !r->too_big) {
        snprintf(err, sizeof(err), "%s", r->curl_err[0] ? r->curl_err : curl_easy_strerror(rc));
        if (etcd_req_failover(r, err))
            return;
        snprintf(msg, sizeof(msg), "etcd at %s unreachable: %s", ep, err);
        req_fail(r, msg);
        return;
    }
    etcd_req_detach(r);
    if (r->too_big) {
        snprintf(msg, sizeof(msg), "etcd at %s: the answer to %s is larger than 4 MiB", ep, r->path);
        req_fail(r, msg);
        return;
    }
    /* no leader (gRPC Unavailable): another member may have one */
    if (status == 503 && etcd_req_failover(r, "HTTP status 503"))
        return;
    if (!(root = etcd_json_load(r->resp, r->rlen, err, sizeof(err)))) {
        snprintf(msg, sizeof(msg), "etcd at %s: bad answer to %s (HTTP status %ld): %s", ep, r->path, status, err);
        req_fail(r, msg);
        return;
    }
    if (etcd_json_error(root, &code, err, sizeof(err))) {
        if (!(etcd_auth_invalid(code, err) && etcd_req_auth_again(r))) {
            snprintf(msg, sizeof(msg), "%s (at %s, %s)", err, ep, r->path);
            req_fail(r, msg);
        }
    } else if (status != 200) {
        snprintf(msg, sizeof(msg), "etcd at %s: HTTP status %ld to %s", ep, status, r->path);
        req_fail(r, msg);
    } else {
        req_parsed(r, root);
    }
    json_decref(root);
}

/* ---- authentication ---- */

static int auth_start(struct etcd *e)
{
    struct etcd_req *r = calloc(1, sizeof(*r));
    json_t *j = NULL;

    if (!r)
        return -ENOMEM;
    r->e = e;
    r->kind = RQ_AUTH;
    r->path = "/v3/auth/authenticate";
    r->ep = e->cur;
    if (!(j = json_pack("{s:s, s:s}", "name", e->user, "password", e->password)) ||
        !(r->body = json_dumps(j, JSON_COMPACT)))
        goto fail;
    json_decref(j);
    j = NULL;
    r->blen = strlen(r->body);
    if (http_start(r))
        goto fail;
    r->next = e->reqs;
    e->reqs = r;
    e->auth = r;
    return 0;
fail:
    json_decref(j);
    req_free(r);
    return -ENOMEM;
}

/* The authentication @r ended: with @token every waiting request is sent;
 * without, each fails with @err. */
static void auth_ended(struct etcd_req *r, const char *token, const char *err)
{
    struct etcd *e = r->e;
    char msg[ETCD_ERRLEN + 128];

    etcd_req_kill(r); /* e->auth is NULL from here */
    if (token) {
        wipe_free(e->token);
        if (!(e->token = strdup(token))) {
            err = "out of memory";
        } else {
            e->token_gen++;
            e->auth_count++;
            log_info("etcd", "authenticated as %s at %s", e->user, e->endpoints[r->ep]);
        }
    }
    if (err) {
        snprintf(msg, sizeof(msg), "etcd authentication as %s failed: %s", e->user, err);
        log_warn("etcd", "%s", msg);
    }
    for (struct etcd_req *q = e->reqs; q && !e->freed; q = q->next) {
        if (q->state != RS_WAIT_AUTH)
            continue;
        if (err)
            req_fail(q, msg);
        else if (http_start(q))
            req_fail(q, "out of memory");
    }
}

/* ---- the loop ---- */

static void check_done(struct etcd *e)
{
    CURLMsg *m;
    int left;

    while (!e->freed && (m = curl_multi_info_read(e->multi, &left))) {
        struct etcd_req *r = NULL;
        long status = 0;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (r && r->state == RS_SENT)
            req_ended(r, m->data.result, status);
    }
}

static void really_free(struct etcd *e);

void etcd_enter(struct etcd *e)
{
    e->depth++;
}

void etcd_leave(struct etcd *e)
{
    if (--e->depth)
        return;
    for (struct etcd_req **p = &e->reqs; *p;) {
        struct etcd_req *r = *p;

        if (r->state == RS_DEAD) {
            *p = r->next;
            req_free(r);
        } else {
            p = &r->next;
        }
    }
    if (e->freed)
        really_free(e);
}

static void drive(struct etcd *e, curl_socket_t fd, int mask)
{
    int running;

    etcd_enter(e);
    curl_multi_socket_action(e->multi, fd, mask, &running);
    etcd_watch_dispatch(e);
    check_done(e);
    etcd_leave(e); /* @e may be gone */
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
    drive(arg, fd, ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0));
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void sock_free(struct etcd_sock *s)
{
    if (s->ev)
        event_free(s->ev);
    *s->pprev = s->next;
    if (s->next)
        s->next->pprev = s->pprev;
    free(s);
}

/* libcurl says which sockets to watch (CURLMOPT_SOCKETFUNCTION) */
static int sock_cb(CURL *h, curl_socket_t fd, int what, void *arg, void *sockp)
{
    struct etcd *e = arg;
    struct etcd_sock *s = sockp;
    short ev = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0));

    (void)h;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_free(s);
        curl_multi_assign(e->multi, fd, NULL);
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof(*s))))
            return -1;
        s->next = e->socks;
        if (e->socks)
            e->socks->pprev = &s->next;
        s->pprev = &e->socks;
        e->socks = s;
        curl_multi_assign(e->multi, fd, s);
    } else if (s->ev) {
        event_free(s->ev);
    }
    s->ev = event_new(e->base, fd, ev | EV_PERSIST, on_sock, e);
    if (!s->ev || event_add(s->ev, NULL))
        return -1;
    return 0;
}

static int timer_cb(CURLM *m, long ms, void *arg)
{
    struct etcd *e = arg;

    (void)m;
    if (ms < 0) {
        evtimer_del(e->ev_timeout);
    } else {
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

        evtimer_add(e->ev_timeout, &tv);
    }
    return 0;
}

/* ---- the client ---- */

static bool pem_check(const struct etcd_conf *c, char *err, size_t errlen)
{
    BIO *b = NULL;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    bool ok = false;

    if (c->ca_pem) {
        if (!(b = BIO_new_mem_buf(c->ca_pem, -1)) || !(x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
            snprintf(err, errlen, "the etcd CA certificate is not a PEM certificate");
            goto out;
        }
        BIO_free(b);
        X509_free(x);
        b = NULL;
        x = NULL;
    }
    if (!c->cert_pem != !c->key_pem) {
        snprintf(err, errlen, "an etcd client certificate needs its private key, and a key its certificate");
        goto out;
    }
    if (c->cert_pem) {
        if (!(b = BIO_new_mem_buf(c->cert_pem, -1)) || !(x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
            snprintf(err, errlen, "the etcd client certificate is not a PEM certificate");
            goto out;
        }
        BIO_free(b);
        if (!(b = BIO_new_mem_buf(c->key_pem, -1)) || !(k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL))) {
            snprintf(err, errlen, "the etcd client private key is not an unencrypted PEM key");
            goto out;
        }
        if (X509_check_private_key(x, k) != 1) {
            snprintf(err, errlen, "the etcd client private key does not belong to its certificate");
            goto out;
        }
    }
    ok = true;
out:
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
    return ok;
}

static bool conf_copy(struct etcd *e, const struct etcd_conf *c, char *err, size_t errlen)
{
    if (!c->nendpoints) {
        snprintf(err, errlen, "no etcd endpoint");
        return false;
    }
    if (!c->username != !c->password) {
        snprintf(err, errlen, "etcd authentication needs a user name and a password");
        return false;
    }
    if (!(e->endpoints = calloc(c->nendpoints, sizeof(*e->endpoints))))
        goto oom;
    e->nendpoints = c->nendpoints;
    for (size_t i = 0; i < c->nendpoints; i++) {
        const char *p = c->endpoints[i];
        size_t n = p ? strlen(p) : 0;

        if (!p || (strncmp(p, "http://", 7) && strncmp(p, "https://", 8)) || n >= ETCD_MAX_ENDPOINT ||
            n <= (size_t)(p[4] == 's' ? 8 : 7) || strpbrk(p, " \t\r\n")) {
            snprintf(err, errlen, "etcd endpoint '%.100s' is not an http:// or https:// URL", p ? p : "");
            return false;
        }
        while (n && p[n - 1] == '/')
            n--;
        if (!(e->endpoints[i] = strndup(p, n)))
            goto oom;
    }
    if (!pem_check(c, err, errlen))
        return false;
    if ((c->username && (!(e->user = strdup(c->username)) || !(e->password = strdup(c->password)))) ||
        (c->ca_pem && !(e->ca_pem = strdup(c->ca_pem))) || (c->cert_pem && !(e->cert_pem = strdup(c->cert_pem))) ||
        (c->key_pem && !(e->key_pem = strdup(c->key_pem))))
        goto oom;
    e->timeout_ms = c->timeout_ms ? c->timeout_ms : DEFAULT_TIMEOUT_MS;
    return true;
oom:
    snprintf(err, errlen, "out of memory");
    return false;
}

struct etcd *etcd_new(struct event_base *base, const struct etcd_conf *c, char *err, size_t errlen)
{
    struct etcd *e = calloc(1, sizeof(*e));

    if (!e || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->base = base;
    if (!conf_copy(e, c, err, errlen))
        goto fail;
    e->multi = curl_multi_init();
    e->ev_timeout = evtimer_new(base, on_timeout, e);
    if (!e->multi || !e->ev_timeout) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* a burst of requests queues in libcurl rather than open a connection each */
    curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    return e;
fail:
    really_free(e);
    return NULL;
}

static void really_free(struct etcd *e)
{
    while (e->reqs) {
        struct etcd_req *r = e->reqs;

        e->reqs = r->next;
        req_free(r);
    }
    if (e->multi)
        curl_multi_cleanup(e->multi);
    while (e->socks) /* connections libcurl kept open, closed by the cleanup */
        sock_free(e->socks);
    if (e->ev_timeout)
        event_free(e->ev_timeout);
    for (size_t i = 0; i < e->nendpoints; i++)
        free(e->endpoints ? e->endpoints[i] : NULL);
    free(e->endpoints);
    free(e->user);
    wipe_free(e->password);
    wipe_free(e->token);
    free(e->ca_pem);
    free(e->cert_pem);
    wipe_free(e->key_pem);
    free(e);
    curl_global_cleanup();
}

void etcd_free(struct etcd *e)
{
    if (!e)
        return;
    for (struct etcd_req *r = e->reqs; r; r = r->next) {
        etcd_req_detach(r);
        r->state = RS_DEAD;
    }
    if (e->depth)
        e->freed = true; /* drive() frees it once the callbacks returned */
    else
        really_free(e);
}

const char *etcd_endpoint(const struct etcd *e)
{
    return e->endpoints[e->cur];
}

uint64_t etcd_writes(const struct etcd *e)
{
    return e->writes;
}

unsigned etcd_auth_count(const struct etcd *e)
{
    return e->auth_count;
}

/* ---- requests ---- */

/* A new request of @kind to @path with the JSON @j (adopted), sent; NULL when
 * out of memory (nothing sent). */
struct etcd_req *etcd_req_new(struct etcd *e, enum req_kind kind, const char *path, json_t *j, size_t size)
{
    struct etcd_req *r = j ? calloc(1, size) : NULL;

    if (!r || e->freed)
        goto fail;
    r->e = e;
    r->kind = kind;
    r->path = path;
    r->ep = e->cur;
    if (!(r->body = json_dumps(j, JSON_COMPACT)))
        goto fail;
    r->blen = strlen(r->body);
    json_decref(j);
    j = NULL;
    if (kind == RQ_WATCH && !(((struct etcd_watch *)r)->ev_ack = evtimer_new(e->base, etcd_watch_on_ack, r)))
        goto fail;
    if (etcd_req_send(r))
        goto fail;
    r->next = e->reqs;
    e->reqs = r;
    if (kind != RQ_RANGE && kind != RQ_WATCH)
        e->writes++;
    return r;
fail:
    json_decref(j);
    if (r)
        req_free(r);
    return NULL;
}
