/* daemon/pki OCSP (RFC 6960): accepting responses (signer: the CA or a
 * delegated responder with id-kp-OCSPSigning, the nonce, thisUpdate/nextUpdate,
 * status, malformed bodies) and the cache on the libevent loop against a
 * responder made here with OpenSSL's responder API behind libevent's HTTP
 * server on loopback: a first query is pending, its answer is cached until
 * nextUpdate (cache hits, no second request), revoked is refused, an
 * unreachable responder fails closed or open, and the recheck of sessions;
 * the news a notify carries (which transfers ended, whether something
 * revoked), the eviction that spares answers sessions hold, a revoked answer
 * kept past its expiry, and a trustpoint gone since a client began to wait;
 * the ocsp-unobtainable alarm of a responder kept while one of its
 * certificates still gets no answer, cleared when none is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "daemon/base/alarm.h"
#include "daemon/pki/pki.h"
#include "daemon/pki/pki_crl.h"
#include "daemon/pki/pki_ocsp.h"
#include "daemon/pki/pki_crl_int.h"

struct party {
    EVP_PKEY *key;
    X509 *cert;
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(e);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

static struct party make(const char *cn, const struct party *issuer, long serial, bool ca, const char *eku,
                         const char *aia)
{
    struct party p = {.key = EVP_EC_gen("P-256"), .cert = X509_new()};
    X509_NAME *n = X509_NAME_new();

    X509_set_version(p.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(p.cert), serial);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Raven Unit", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(p.cert, n);
    X509_set_issuer_name(p.cert, issuer ? X509_get_subject_name(issuer->cert) : n);
    X509_gmtime_adj(X509_getm_notBefore(p.cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(p.cert), 86400);
    X509_set_pubkey(p.cert, p.key);
    if (ca)
        add_ext(p.cert, p.cert, NID_basic_constraints, "critical,CA:TRUE");
    if (eku)
        add_ext(p.cert, issuer ? issuer->cert : p.cert, NID_ext_key_usage, eku);
    if (aia)
        add_ext(p.cert, issuer ? issuer->cert : p.cert, NID_info_access, aia);
    assert_true(X509_sign(p.cert, issuer ? issuer->key : p.key, EVP_sha256()) > 0);
    X509_NAME_free(n);
    return p;
}

static void party_free(struct party *p)
{
    EVP_PKEY_free(p->key);
    X509_free(p->cert);
}

static struct party ca, other, responder, rogue, alice, carol, dave;

static int setup(void **state)
{
    (void)state;
    ca = make("Raven Unit CA", NULL, 1, true, NULL, NULL);
    other = make("Raven Unit CA", NULL, 1, true, NULL, NULL); /* the same name, another key */
    responder = make("responder", &ca, 50, false, "OCSPSigning", NULL);
    rogue = make("rogue", &ca, 51, false, "clientAuth", NULL); /* issued by the CA, not for OCSP */
    alice = make("alice", &ca, 100, false, "clientAuth", NULL);
    carol = make("carol", &ca, 101, false, "clientAuth", NULL);
    dave = make("dave", &ca, 102, false, "clientAuth", "OCSP;URI:http://127.0.0.1:1/");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    party_free(&ca);
    party_free(&other);
    party_free(&responder);
    party_free(&rogue);
    party_free(&alice);
    party_free(&carol);
    party_free(&dave);
    return 0;
}

/* How the responder answers. */
struct answer {
    const struct party *signer;
    int status;        /* V_OCSP_CERTSTATUS_* */
    long from, to;     /* thisUpdate, nextUpdate (0: none) relative to now */
    bool echo_nonce;
    bool wrong_nonce;
    int resp_status;   /* OCSP_RESPONSE_STATUS_* */
    bool hold;         /* revoked with reason certificateHold (else keyCompromise) */
};

/* The DER response to @req as @a says. */
static uint8_t *respond(OCSP_REQUEST *req, const struct answer *a, size_t *len)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_RESPONSE *resp;
    ASN1_TIME *thisupd = X509_gmtime_adj(NULL, a->from), *nextupd = a->to ? X509_gmtime_adj(NULL, a->to) : NULL;
    ASN1_TIME *revt = X509_gmtime_adj(NULL, -600);
    unsigned char *der = NULL;
    int n;

    for (int i = 0; i < OCSP_request_onereq_count(req); i++) {
        OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));

        OCSP_basic_add1_status(bs, id, a->status,
                               a->status != V_OCSP_CERTSTATUS_REVOKED ? -1 :
                               a->hold ? OCSP_REVOKED_STATUS_CERTIFICATEHOLD : OCSP_REVOKED_STATUS_KEYCOMPROMISE,
                               a->status == V_OCSP_CERTSTATUS_REVOKED ? revt : NULL, thisupd, nextupd);
    }
    if (a->echo_nonce)
        OCSP_copy_nonce(bs, req);
    if (a->wrong_nonce)
        OCSP_basic_add1_nonce(bs, (unsigned char *)"0123456789abcdef", 16);
    OCSP_basic_sign(bs, a->signer->cert, a->signer->key, EVP_sha256(), NULL, 0);
    resp = OCSP_response_create(a->resp_status, a->resp_status == OCSP_RESPONSE_STATUS_SUCCESSFUL ? bs : NULL);
    n = i2d_OCSP_RESPONSE(resp, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(bs);
    ASN1_TIME_free(thisupd);
    ASN1_TIME_free(nextupd);
    ASN1_TIME_free(revt);
    return der;
}

static STACK_OF(X509) *cas_of(const struct party *p)
{
    STACK_OF(X509) *s = sk_X509_new_null();

    sk_X509_push(s, p->cert);
    return s;
}

/* Asks for @leaf with the nonce on or off, answered as @a says. */
static bool ask(const struct party *leaf, bool nonce, const struct answer *a, struct pki_ocsp_answer *ans, char *why)
{
    OCSP_CERTID *id = OCSP_cert_to_id(NULL, leaf->cert, ca.cert);
    uint8_t *qder, *rder;
    size_t qlen, rlen;
    OCSP_REQUEST *req = pki_ocsp_request(id, nonce, &qder, &qlen);
    STACK_OF(X509) *cas = cas_of(&ca);
    bool ok;

    assert_non_null(req);
    rder = respond(req, a, &rlen);
    ok = pki_ocsp_accept(rder, rlen, req, nonce, id, cas, ans, why, 300);
    OPENSSL_free(qder);
    OPENSSL_free(rder);
    OCSP_REQUEST_free(req);
    OCSP_CERTID_free(id);
    sk_X509_free(cas);
    return ok;
}

#define GOOD(who) \
    {.signer = (who), .status = V_OCSP_CERTSTATUS_GOOD, .from = -60, .to = 3600, .echo_nonce = true}

static void test_accept(void **state)
{
    struct pki_ocsp_answer ans;
    char why[300];
    struct answer a = GOOD(&ca);

    (void)state;
    assert_true(ask(&alice, true, &a, &ans, why));
    assert_int_equal(ans.status, PKI_OCSP_GOOD);
    assert_true(ans.next_update > time(NULL) + 3000);
    a.status = V_OCSP_CERTSTATUS_REVOKED;
    assert_true(ask(&carol, true, &a, &ans, why));
    assert_int_equal(ans.status, PKI_OCSP_REVOKED);
    a.status = V_OCSP_CERTSTATUS_UNKNOWN;
    assert_true(ask(&carol, true, &a, &ans, why));
    assert_int_equal(ans.status, PKI_OCSP_UNKNOWN);
    /* a responder the CA delegated to (id-kp-OCSPSigning) signs; one without
     * that usage, or another CA's key under the same name, does not */
    a = (struct answer)GOOD(&responder);
    assert_true(ask(&alice, true, &a, &ans, why));
    a.signer = &rogue;
    assert_false(ask(&alice, true, &a, &ans, why));
    assert_non_null(strstr(why, "not signed by the issuing CA or a responder it delegated to"));
    a.signer = &other;
    assert_false(ask(&alice, true, &a, &ans, why));
    /* the nonce: missing or another one is refused; without a nonce asked, none needed */
    a = (struct answer)GOOD(&ca);
    a.echo_nonce = false;
    assert_false(ask(&alice, true, &a, &ans, why));
    assert_non_null(strstr(why, "does not echo the request's nonce"));
    assert_true(ask(&alice, false, &a, &ans, why));
    a.wrong_nonce = true;
    assert_false(ask(&alice, true, &a, &ans, why));
    assert_string_equal(why, "the response's nonce is not the request's");
    /* validity: stale (nextUpdate past the skew), from the future, none given */
    a = (struct answer)GOOD(&ca);
    a.from = -7200;
    a.to = -PKI_OCSP_SKEW - 60;
    assert_false(ask(&alice, true, &a, &ans, why));
    assert_non_null(strstr(why, "outside its validity"));
    a.from = PKI_OCSP_SKEW + 600;
    a.to = PKI_OCSP_SKEW + 3600;
    assert_false(ask(&alice, true, &a, &ans, why));
    a.from = -60;
    a.to = 0;
    assert_true(ask(&alice, true, &a, &ans, why));
    assert_int_equal(ans.next_update, 0);
    /* without nextUpdate nor nonce, an old answer could be replayed for ever:
     * its thisUpdate must be recent; with the nonce it is fresh anyway */
    a.echo_nonce = false;
    assert_true(ask(&alice, false, &a, &ans, why));
    a.from = -PKI_OCSP_MAX_AGE - 120;
    assert_false(ask(&alice, false, &a, &ans, why));
    assert_non_null(strstr(why, "no nonce and no nextUpdate"));
    a.echo_nonce = true;
    assert_true(ask(&alice, true, &a, &ans, why));
    a.to = 3600; /* a pre-signed answer with nextUpdate: its validity bounds it */
    a.echo_nonce = false;
    assert_true(ask(&alice, false, &a, &ans, why));
    /* an unsuccessful response status */
    a = (struct answer)GOOD(&ca);
    a.resp_status = OCSP_RESPONSE_STATUS_TRYLATER;
    assert_false(ask(&alice, true, &a, &ans, why));
    assert_non_null(strstr(why, "the responder answered trylater"));
}

static void test_accept_malformed(void **state)
{
    struct pki_ocsp_answer ans;
    OCSP_CERTID *id = OCSP_cert_to_id(NULL, alice.cert, ca.cert);
    STACK_OF(X509) *cas = cas_of(&ca);
    uint8_t *big = calloc(1, PKI_OCSP_MAX_BODY + 1), *qder, *rder;
    size_t qlen, rlen;
    OCSP_REQUEST *req = pki_ocsp_request(id, true, &qder, &qlen);
    struct answer a = GOOD(&ca);
    char why[300];

    (void)state;
    assert_false(pki_ocsp_accept(big, 0, req, true, id, cas, &ans, why, sizeof(why)));
    assert_string_equal(why, "the body is empty");
    assert_false(pki_ocsp_accept(big, PKI_OCSP_MAX_BODY + 1, req, true, id, cas, &ans, why, sizeof(why)));
    assert_string_equal(why, "the response is larger than the limit of 64 KiB");
    assert_false(pki_ocsp_accept((const uint8_t *)"<html>hello</html>", 18, req, true, id, cas, &ans, why, 300));
    assert_string_equal(why, "the body is not a DER OCSP response");
    /* a good response, truncated, or with trailing bytes */
    rder = respond(req, &a, &rlen);
    memcpy(big, rder, rlen);
    assert_true(pki_ocsp_accept(big, rlen, req, true, id, cas, &ans, why, sizeof(why)));
    assert_false(pki_ocsp_accept(big, rlen - 1, req, true, id, cas, &ans, why, sizeof(why)));
    assert_false(pki_ocsp_accept(big, rlen + 1, req, true, id, cas, &ans, why, sizeof(why)));
    /* one that answers for another certificate */
    OCSP_CERTID_free(id);
    id = OCSP_cert_to_id(NULL, carol.cert, ca.cert);
    assert_false(pki_ocsp_accept(big, rlen, req, true, id, cas, &ans, why, sizeof(why)));
    assert_string_equal(why, "the response does not cover the certificate");
    OPENSSL_free(rder);
    OPENSSL_free(qder);
    OCSP_REQUEST_free(req);
    OCSP_CERTID_free(id);
    sk_X509_free(cas);
    free(big);
}

/* The responder on loopback: libevent's HTTP server, OpenSSL's responder API. */
static struct answer served;
static int served_requests;
static int notified;

static void on_http(struct evhttp_request *r, void *arg)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r), *out = evbuffer_new();
    size_t n = evbuffer_get_length(in), rlen;
    const unsigned char *p = evbuffer_pullup(in, (ssize_t)n);
    OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)n);
    uint8_t *der;

    (void)arg;
    served_requests++;
    assert_non_null(req);
    der = respond(req, &served, &rlen);
    evbuffer_add(out, der, rlen);
    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type", "application/ocsp-response");
    evhttp_send_reply(r, 200, "OK", out);
    evbuffer_free(out);
    OPENSSL_free(der);
    OCSP_REQUEST_free(req);
}

static uint64_t last_ended[64];
static size_t last_nended;
static bool last_all, last_revoked;

static void on_notify(void *arg, const struct pki_crl_news *news)
{
    last_nended = news->nended < 64 ? news->nended : 64;
    if (last_nended)
        memcpy(last_ended, news->ended, last_nended * sizeof(*last_ended));
    last_all = news->all;
    last_revoked = news->revoked;
    notified++;
    event_base_loopbreak(arg);
}

static struct pki_tp *tp_make(const char *url, enum pki_rev rev)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *d, *pem, why[200];
    long n;
    struct pki_tp *tp;

    PEM_write_bio_X509(b, ca.cert);
    n = BIO_get_mem_data(b, &d);
    pem = strndup(d, (size_t)n);
    BIO_free(b);
    tp = pki_tp_new("tp", (const char *const[]){pem}, 1, NULL, NULL, NULL, 0, NULL, 0, rev, why, sizeof(why));
    assert_non_null(tp);
    assert_true(pki_tp_set_ocsp(tp, url, true));
    free(pem);
    return tp;
}

static void run(struct event_base *base)
{
    struct timeval limit = {.tv_sec = 20};

    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
}

static void test_cache(void **state)
{
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    struct pki_crl *c = pki_crl_new(base);
    struct pki_tp *tp, *tpn, *tpdown;
    const struct pki_tp *checked;
    char url[64], why[300];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    (void)state;
    assert_non_null(bs);
    assert_non_null(c);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    evhttp_set_gencb(http, on_http, NULL);
    pki_crl_set_notify(c, on_notify, base);
    tp = tp_make(url, PKI_REV_OCSP);
    pki_crl_sync(c, &tp, 1);
    served = (struct answer)GOOD(&responder);
    /* the first query is pending; its answer comes at notify */
    assert_int_equal(pki_crl_verify(c, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    assert_ptr_equal(checked, tp);
    run(base);
    assert_int_equal(notified, 1);
    assert_int_equal(served_requests, 1);
    assert_int_equal(pki_crl_verify(c, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    /* cached until nextUpdate: no second request */
    assert_int_equal(pki_crl_verify(c, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_int_equal(served_requests, 1);
    /* carol is revoked: refused, and a session of hers is found by the recheck */
    served.status = V_OCSP_CERTSTATUS_REVOKED;
    assert_int_equal(pki_crl_verify(c, &tp, 1, carol.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    run(base);
    assert_int_equal(pki_crl_verify(c, &tp, 1, carol.cert, NULL, &checked, why, sizeof(why)), PKI_REVOKED);
    assert_non_null(strstr(why, "certificate revoked"));
    assert_true(pki_crl_revoked(c, "tp", X509_get_issuer_name(carol.cert), X509_get0_serialNumber(carol.cert), why,
                                sizeof(why)));
    assert_false(pki_crl_revoked(c, "tp", X509_get_issuer_name(alice.cert), X509_get0_serialNumber(alice.cert), why,
                                 sizeof(why)));
    /* a responder without the nonce: no answer, closed */
    served = (struct answer)GOOD(&ca);
    served.echo_nonce = false;
    tpn = tp_make(url, PKI_REV_OCSP);
    pki_crl_sync(c, &tpn, 1); /* same responder and nonce: cache kept */
    assert_int_equal(pki_crl_verify(c, &tpn, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_int_equal(pki_crl_verify(c, &tpn, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    run(base);
    assert_int_equal(pki_crl_verify(c, &tpn, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_NO_OCSP);
    assert_non_null(strstr(why, "does not echo the request's nonce"));
    /* a failed query is not repeated at once */
    assert_int_equal(pki_crl_verify(c, &tpn, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_NO_OCSP);
    /* an unreachable responder (the AIA of dave: port 1): closed, or open with ocsp-none */
    tpdown = tp_make(NULL, PKI_REV_OCSP_NONE);
    pki_crl_sync(c, &tpdown, 1); /* another responder (AIA): the cache goes */
    assert_int_equal(pki_crl_verify(c, &tpdown, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    run(base);
    assert_int_equal(pki_crl_verify(c, &tpdown, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_non_null(strstr(why, "no OCSP answer"));
    assert_non_null(strstr(why, "http://127.0.0.1:1/"));
    /* alice has no AIA and the trustpoint no ocsp-url */
    assert_int_equal(pki_crl_verify(c, &tpdown, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_non_null(strstr(why, "no http OCSP responder"));
    pki_crl_sync(c, NULL, 0);
    pki_tp_free(tp);
    pki_tp_free(tpn);
    pki_tp_free(tpdown);
    pki_crl_free(c);
    evhttp_free(http);
    event_base_free(base);
}

/* A session taken over by a new process is known by issuer and serial only:
 * watching it asks the responder, and the recheck then finds it revoked. */
static void test_watch_adopted(void **state)
{
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    struct pki_crl *c = pki_crl_new(base);
    struct pki_tp *tp;
    char url[64], why[300];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int before = served_requests;

    (void)state;
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    evhttp_set_gencb(http, on_http, NULL);
    pki_crl_set_notify(c, on_notify, base);
    tp = tp_make(url, PKI_REV_OCSP);
    pki_crl_sync(c, &tp, 1);
    served = (struct answer)GOOD(&ca);
    served.status = V_OCSP_CERTSTATUS_REVOKED;
    assert_false(pki_crl_revoked(c, "tp", X509_get_issuer_name(carol.cert), X509_get0_serialNumber(carol.cert), why,
                                 sizeof(why)));
    pki_crl_watch(c, tp, X509_get_issuer_name(carol.cert), X509_get0_serialNumber(carol.cert), NULL);
    run(base);
    assert_int_equal(served_requests, before + 1);
    assert_true(pki_crl_revoked(c, "tp", X509_get_issuer_name(carol.cert), X509_get0_serialNumber(carol.cert), why,
                                sizeof(why)));
    /* a client with that certificate is answered from the same entry */
    {
        const struct pki_tp *checked;

        assert_int_equal(pki_crl_verify(c, &tp, 1, carol.cert, NULL, &checked, why, sizeof(why)), PKI_REVOKED);
        assert_int_equal(served_requests, before + 1);
    }
    /* no responder known (no ocsp-url, no AIA kept): nothing is asked */
    pki_tp_free(tp);
    tp = tp_make(NULL, PKI_REV_OCSP);
    pki_crl_sync(c, &tp, 1);
    pki_crl_watch(c, tp, X509_get_issuer_name(alice.cert), X509_get0_serialNumber(alice.cert), NULL);
    assert_int_equal(served_requests, before + 1);
    pki_crl_sync(c, NULL, 0);
    pki_tp_free(tp);
    pki_crl_free(c);
    evhttp_free(http);
    event_base_free(base);
}

/* A responder, a cache and trustpoint "tp" asking it, synced. */
struct lab {
    struct event_base *base;
    struct evhttp *http;
    struct pki_crl *c;
    struct pki_tp *tp;
    char url[64];
};

static void lab_up(struct lab *l, enum pki_rev rev)
{
    struct evhttp_bound_socket *bs;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    l->base = event_base_new();
    l->http = evhttp_new(l->base);
    bs = evhttp_bind_socket_with_handle(l->http, "127.0.0.1", 0);
    assert_non_null(bs);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
    snprintf(l->url, sizeof(l->url), "http://127.0.0.1:%u/", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    evhttp_set_gencb(l->http, on_http, NULL);
    assert_non_null(l->c = pki_crl_new(l->base));
    pki_crl_set_notify(l->c, on_notify, l->base);
    l->tp = tp_make(l->url, rev);
    pki_crl_sync(l->c, &l->tp, 1);
}

static void lab_down(struct lab *l)
{
    pki_crl_sync(l->c, NULL, 0);
    pki_tp_free(l->tp);
    pki_crl_free(l->c);
    evhttp_free(l->http);
    event_base_free(l->base);
}

static bool ended(uint64_t ticket)
{
    for (size_t i = 0; i < last_nended; i++) {
        if (last_ended[i] == ticket)
            return true;
    }
    return false;
}

/* A notify says which transfers ended, so that only their waiters ask again,
 * and whether an answer revokes, so that sessions are checked only then. */
static void test_news(void **state)
{
    struct lab l;
    const struct pki_tp *checked;
    uint64_t wa[8], wc[8];
    char why[300];

    (void)state;
    lab_up(&l, PKI_REV_OCSP);
    served = (struct answer)GOOD(&ca);
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    assert_int_equal(pki_crl_waits(l.c, wa, 8), 1);
    run(l.base);
    assert_true(ended(wa[0]) && !last_all && !last_revoked);
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_int_equal(pki_crl_waits(l.c, wa + 1, 7), 0);
    served.status = V_OCSP_CERTSTATUS_REVOKED;
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, carol.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    assert_int_equal(pki_crl_waits(l.c, wc, 8), 1);
    assert_true(wc[0] != wa[0]);
    run(l.base);
    assert_true(ended(wc[0]) && !ended(wa[0]) && !last_all && last_revoked);
    /* a commit that drops a query under way: every waiter asks again */
    served.status = V_OCSP_CERTSTATUS_GOOD;
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    pki_crl_sync(l.c, NULL, 0);
    run(l.base);
    assert_true(last_all && !last_revoked);
    lab_down(&l);
}

/* The value of vpn-state/pki/trustpoint[tp]/ocsp/@leaf, "" if none. */
static void ocsp_leaf(struct pki_crl *c, const char *leaf, char *v, size_t vlen)
{
    struct ly_ctx *ctx = NULL;
    struct lyd_node *st = NULL, *n = NULL;
    char path[128];

    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &ctx), 0);
    assert_non_null(ly_ctx_load_module(ctx, "raven-vpn", NULL, NULL));
    assert_int_equal(lyd_new_inner(NULL, ly_ctx_get_module_implemented(ctx, "raven-vpn"), "vpn-state", 0, &st), 0);
    pki_crl_state(c, st);
    snprintf(path, sizeof(path), "pki/trustpoint[name='tp']/ocsp/%s", leaf);
    v[0] = 0;
    if (!lyd_find_path(st, path, 0, &n))
        snprintf(v, vlen, "%s", lyd_get_value(n));
    lyd_free_all(st);
    ly_ctx_destroy(ctx);
}

/* Asks for the certificates of serials [from, to) by the CA, as sessions
 * taken over would, and waits for their answers. */
static void watch_range(struct lab *l, long from, long to)
{
    ASN1_INTEGER *sn = ASN1_INTEGER_new();

    for (long i = from; i < to;) {
        size_t want = 0, got = 0;

        for (; i < to && want < 64; i++, want++) {
            ASN1_INTEGER_set(sn, i);
            pki_crl_watch(l->c, l->tp, X509_get_subject_name(ca.cert), sn, NULL);
        }
        for (time_t end = time(NULL) + 30; got < want;) {
            int before = notified;

            assert_true(time(NULL) < end);
            run(l->base);
            if (notified > before)
                got += last_nended;
        }
    }
    ASN1_INTEGER_free(sn);
}

/* Asks for the certificate of @serial when it is cached: no transfer starts,
 * the loop runs a little for one that would. */
static void watch_cached(struct lab *l, long serial)
{
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    struct timeval t = {.tv_usec = 300000};

    ASN1_INTEGER_set(sn, serial);
    pki_crl_watch(l->c, l->tp, X509_get_subject_name(ca.cert), sn, NULL);
    ASN1_INTEGER_free(sn);
    event_base_loopexit(l->base, &t);
    event_base_dispatch(l->base);
}

static void hold(struct lab *l, long serial, bool on)
{
    ASN1_INTEGER *sn = ASN1_INTEGER_new();

    ASN1_INTEGER_set(sn, serial);
    pki_crl_hold(l->c, "tp", X509_get_subject_name(ca.cert), sn, on);
    ASN1_INTEGER_free(sn);
}

/* A full cache evicts the least recently used answer that no session holds;
 * held answers stay, and when every one is held the cache grows. */
static void test_evict_held(void **state)
{
    struct lab l;
    char v[32];
    int base;

    (void)state;
    lab_up(&l, PKI_REV_OCSP);
    served = (struct answer)GOOD(&ca);
    hold(&l, 5000, true); /* a session's, asked for first: the least recently used */
    watch_range(&l, 5000, 5001);
    watch_range(&l, 1, PKI_OCSP_MAX_CACHE);
    base = served_requests;
    ocsp_leaf(l.c, "evictions", v, sizeof(v));
    assert_string_equal(v, "0");
    watch_range(&l, 6000, 6001); /* full: one goes, the oldest not held (serial 1) */
    assert_int_equal(served_requests, base + 1);
    watch_cached(&l, 5000); /* still cached: not asked again */
    assert_int_equal(served_requests, base + 1);
    watch_range(&l, 1, 2); /* evicted: asked again */
    assert_int_equal(served_requests, base + 2);
    ocsp_leaf(l.c, "evictions", v, sizeof(v));
    assert_string_equal(v, "2");
    /* every answer held: the cache grows instead of dropping a check */
    for (long i = 1; i < PKI_OCSP_MAX_CACHE; i++)
        hold(&l, i, true);
    hold(&l, 6000, true);
    watch_range(&l, 7000, 7001);
    assert_int_equal(served_requests, base + 3);
    ocsp_leaf(l.c, "evictions", v, sizeof(v));
    assert_string_equal(v, "2");
    ocsp_leaf(l.c, "cached-responses", v, sizeof(v));
    assert_string_equal(v, "1025");
    watch_cached(&l, 5000);
    watch_cached(&l, 3); /* (2 went for 1) */
    assert_int_equal(served_requests, base + 3);
    /* released: evictable again (the least recently used unheld goes) */
    hold(&l, 5000, false);
    watch_range(&l, 7001, 7002);
    ocsp_leaf(l.c, "evictions", v, sizeof(v));
    assert_string_equal(v, "3");
    ocsp_leaf(l.c, "cached-responses", v, sizeof(v));
    assert_string_equal(v, "1025");
    lab_down(&l);
}

/* Revoked is final: kept past its nextUpdate while the responder cannot be
 * asked; certificateHold is not. */
static void test_revoked_kept(void **state)
{
    struct lab l;
    const struct pki_tp *checked;
    char why[300];
    time_t later = time(NULL) + 7200;

    (void)state;
    lab_up(&l, PKI_REV_OCSP_NONE);
    served = (struct answer)GOOD(&ca);
    served.status = V_OCSP_CERTSTATUS_REVOKED;
    served.to = 600;
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, carol.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    run(l.base);
    served.hold = true;
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    run(l.base);
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_REVOKED);
    /* the responder down, both answers expired */
    served.resp_status = OCSP_RESPONSE_STATUS_TRYLATER;
    assert_int_equal(pki_ocsp_check(pki_crl_ocsp(l.c), l.tp, carol.cert, ca.cert, later, why, sizeof(why)),
                     PKI_REVOKED);
    assert_non_null(strstr(why, "said revoked"));
    run(l.base); /* its refresh fails */
    assert_int_equal(pki_ocsp_check(pki_crl_ocsp(l.c), l.tp, carol.cert, ca.cert, later, why, sizeof(why)),
                     PKI_REVOKED);
    assert_int_not_equal(pki_ocsp_check(pki_crl_ocsp(l.c), l.tp, dave.cert, ca.cert, later, why, sizeof(why)),
                         PKI_REVOKED);
    lab_down(&l);
}

/* A client that waits across a commit that removed or changed its
 * trustpoint: no answer (its own revocation-check decides), nothing of the old
 * trustpoint made again. */
static void test_tp_changed(void **state)
{
    struct lab l;
    const struct pki_tp *checked;
    struct pki_tp *other_tp;
    char why[300], v[32];
    int base;

    (void)state;
    lab_up(&l, PKI_REV_OCSP);
    served = (struct answer)GOOD(&ca);
    base = served_requests;
    /* the nonce setting changed */
    other_tp = tp_make(l.url, PKI_REV_OCSP);
    assert_true(pki_tp_set_ocsp(other_tp, l.url, false));
    pki_crl_sync(l.c, &other_tp, 1);
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_NO_OCSP);
    assert_non_null(strstr(why, "trustpoint tp changed or went while the client waited"));
    assert_int_equal(served_requests, base);
    /* gone */
    pki_crl_sync(l.c, NULL, 0);
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_NO_OCSP);
    pki_crl_watch(l.c, l.tp, X509_get_issuer_name(alice.cert), X509_get0_serialNumber(alice.cert), NULL);
    assert_int_equal(served_requests, base);
    ocsp_leaf(l.c, "requests", v, sizeof(v));
    assert_string_equal(v, ""); /* no counters made again */
    /* back as it was: asked */
    pki_crl_sync(l.c, &l.tp, 1);
    assert_int_equal(pki_crl_verify(l.c, &l.tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    run(l.base);
    assert_int_equal(served_requests, base + 1);
    pki_tp_free(other_tp);
    lab_down(&l);
}

/* ocsp-crl: without an OCSP answer the (configured) CRL decides; crl-ocsp
 * without a CRL source asks OCSP. */
static void test_method_order(void **state)
{
    struct pki_tp *tp = tp_make(NULL, PKI_REV_OCSP_CRL);
    const struct pki_tp *checked;
    char why[300];

    (void)state;
    assert_true(tp->ocsp_check && tp->ocsp_first && tp->crl_check && !tp->crl_fail_open);
    /* no OCSP here (NULL cache), no CRL source: both reasons given */
    assert_int_equal(pki_crl_verify(NULL, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_NO_CRL);
    assert_non_null(strstr(why, "no OCSP answer"));
    assert_non_null(strstr(why, "; no valid CRL"));
    pki_tp_free(tp);
    tp = tp_make(NULL, PKI_REV_CRL_OCSP_NONE);
    assert_true(tp->ocsp_check && !tp->ocsp_first && tp->crl_check && tp->crl_fail_open);
    assert_int_equal(pki_crl_verify(NULL, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_non_null(strstr(why, "; no OCSP answer"));
    pki_tp_free(tp);
}

static void test_rev_parse(void **state)
{
    enum pki_rev r;

    (void)state;
    assert_true(pki_rev_parse("ocsp-crl-none", &r) && r == PKI_REV_OCSP_CRL_NONE);
    assert_true(pki_rev_parse("crl", &r) && r == PKI_REV_CRL);
    assert_false(pki_rev_parse("ocsp-ocsp", &r));
    assert_false(pki_rev_parse(NULL, &r));
}

/* Two certificates asked of one responder: dave's query fails (no nonce
 * echoed), alice's is answered; the responder's alarm stays while dave's
 * entry fails, and goes with the last failing entry (the trustpoint gone). */
static void test_alarm_per_url(void **state)
{
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    struct pki_crl *c = pki_crl_new(base);
    struct pki_tp *tp, *elsewhere;
    const struct pki_tp *checked;
    char url[64], why[300];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    (void)state;
    alarm_reset();
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    evhttp_set_gencb(http, on_http, NULL);
    pki_crl_set_notify(c, on_notify, base);
    tp = tp_make(url, PKI_REV_OCSP);
    pki_crl_sync(c, &tp, 1);
    served = (struct answer)GOOD(&ca);
    served.echo_nonce = false;
    assert_int_equal(pki_crl_verify(c, &tp, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    run(base);
    assert_int_equal(pki_crl_verify(c, &tp, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_NO_OCSP);
    assert_true(alarm_is_active(ALARM_OCSP_UNOBTAINABLE, url));
    /* alice's answer is good: the responder still fails dave's */
    served.echo_nonce = true;
    assert_int_equal(pki_crl_verify(c, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    run(base);
    assert_int_equal(pki_crl_verify(c, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_true(alarm_is_active(ALARM_OCSP_UNOBTAINABLE, url));
    assert_int_equal(alarm_raised_total(ALARM_OCSP_UNOBTAINABLE), 1);
    /* the trustpoint now asks another responder: nothing fails on this one */
    elsewhere = tp_make("http://127.0.0.1:1/", PKI_REV_OCSP);
    pki_crl_sync(c, &elsewhere, 1);
    assert_false(alarm_is_active(ALARM_OCSP_UNOBTAINABLE, url));
    assert_int_equal(alarm_active_count(ALARM_OCSP_UNOBTAINABLE), 0);
    /* and one failing there goes with its entry when the trustpoint goes */
    assert_int_equal(pki_crl_verify(c, &elsewhere, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    run(base);
    assert_true(alarm_is_active(ALARM_OCSP_UNOBTAINABLE, "http://127.0.0.1:1/"));
    pki_crl_sync(c, NULL, 0);
    assert_int_equal(alarm_active_count(ALARM_OCSP_UNOBTAINABLE), 0);
    pki_tp_free(tp);
    pki_tp_free(elsewhere);
    pki_crl_free(c);
    evhttp_free(http);
    event_base_free(base);
    alarm_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept),      cmocka_unit_test(test_accept_malformed),
        cmocka_unit_test(test_cache),       cmocka_unit_test(test_watch_adopted),
        cmocka_unit_test(test_method_order),
        cmocka_unit_test(test_rev_parse),   cmocka_unit_test(test_news),
        cmocka_unit_test(test_evict_held),  cmocka_unit_test(test_revoked_kept),
        cmocka_unit_test(test_tp_changed),  cmocka_unit_test(test_alarm_per_url),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
