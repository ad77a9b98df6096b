/* daemon/pki CRL handling without a network: accepting fetched CRLs (DER, PEM,
 * signer, validity, size), the verdict on client certificates with configured
 * CRLs and with revocation-check crl / crl-none / none, distribution points, and
 * the fetcher on the libevent loop: a first fetch is pending, its failure (a
 * refused connection on loopback) is counted and notified, then the verdict
 * fails closed or open; the crl-unobtainable alarm of a URL two trustpoints
 * fetch stays until neither fails. Certificates and CRLs are made here with
 * OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "daemon/base/alarm.h"
#include "daemon/pki/pki.h"
#include "daemon/pki/pki_crl.h"
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

/* A P-256 certificate: a CA (self-signed when @issuer is NULL) or a client with
 * serial @serial and, if given, a CRL distribution point. */
static struct party make(const char *cn, const struct party *issuer, long serial, bool ca, const char *cdp,
                         const char *ku)
{
    struct party p = {.key = EVP_EC_gen("P-256"), .cert = X509_new()};
    X509_NAME *n = X509_NAME_new();

    assert_non_null(p.key);
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
        add_ext(p.cert, issuer ? issuer->cert : p.cert, NID_basic_constraints, "critical,CA:TRUE");
    if (ku)
        add_ext(p.cert, issuer ? issuer->cert : p.cert, NID_key_usage, ku);
    if (cdp)
        add_ext(p.cert, issuer ? issuer->cert : p.cert, NID_crl_distribution_points, cdp);
    assert_true(X509_sign(p.cert, issuer ? issuer->key : p.key, EVP_sha256()) > 0);
    X509_NAME_free(n);
    return p;
}

static void party_free(struct party *p)
{
    EVP_PKEY_free(p->key);
    X509_free(p->cert);
}

/* A CRL of @ca revoking @serials, valid from now + @from to now + @to (no
 * nextUpdate when @to is 0). */
static X509_CRL *crl_make(const struct party *ca, const long *serials, size_t n, long from, long to)
{
    X509_CRL *c = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();

    X509_CRL_set_version(c, 1);
    X509_CRL_set_issuer_name(c, X509_get_subject_name(ca->cert));
    X509_gmtime_adj(t, from);
    X509_CRL_set1_lastUpdate(c, t);
    if (to) {
        X509_gmtime_adj(t, to);
        X509_CRL_set1_nextUpdate(c, t);
    }
    for (size_t i = 0; i < n; i++) {
        X509_REVOKED *r = X509_REVOKED_new();
        ASN1_INTEGER *s = ASN1_INTEGER_new();

        ASN1_INTEGER_set(s, serials[i]);
        X509_REVOKED_set_serialNumber(r, s);
        X509_gmtime_adj(t, -60);
        X509_REVOKED_set_revocationDate(r, t);
        X509_CRL_add0_revoked(c, r);
        ASN1_INTEGER_free(s);
    }
    X509_CRL_sort(c);
    assert_true(X509_CRL_sign(c, ca->key, EVP_sha256()) > 0);
    ASN1_TIME_free(t);
    return c;
}

static char *pem_of(int (*w)(BIO *, void *), void *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *d, *out;
    long n;

    assert_true(w(b, x));
    n = BIO_get_mem_data(b, &d);
    out = strndup(d, (size_t)n);
    BIO_free(b);
    return out;
}

static int w_cert(BIO *b, void *x)
{
    return PEM_write_bio_X509(b, x);
}

static int w_crl(BIO *b, void *x)
{
    return PEM_write_bio_X509_CRL(b, x);
}

static struct pki_tp *tp_named(const char *name, const struct party *ca, X509_CRL *crl, const char *url,
                               enum pki_rev rev)
{
    char *ca_pem = pem_of(w_cert, ca->cert), *crl_pem = crl ? pem_of(w_crl, crl) : NULL, why[200];
    const char *cas[] = {ca_pem}, *crls[] = {crl_pem}, *urls[] = {url};
    struct pki_tp *tp = pki_tp_new(name, cas, 1, NULL, NULL, crls, crl ? 1 : 0, urls, url ? 1 : 0, rev, why,
                                   sizeof(why));

    assert_non_null(tp);
    free(ca_pem);
    free(crl_pem);
    return tp;
}

static struct pki_tp *tp_make(const struct party *ca, X509_CRL *crl, const char *url, enum pki_rev rev)
{
    return tp_named("tp", ca, crl, url, rev);
}

static struct party ca, other, nosign, alice, carol, dave;

static int setup(void **state)
{
    (void)state;
    ca = make("Raven Unit CA", NULL, 1, true, NULL, "critical,keyCertSign,cRLSign");
    other = make("Raven Unit CA", NULL, 1, true, NULL, NULL); /* the same name, another key */
    nosign = make("Raven Unit CA 2", NULL, 1, true, NULL, "critical,keyCertSign");
    alice = make("alice", &ca, 100, false, NULL, NULL);
    carol = make("carol", &ca, 101, false, NULL, NULL);
    dave = make("dave", &ca, 102, false, "URI:http://127.0.0.1:1/ca.crl", NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    party_free(&ca);
    party_free(&other);
    party_free(&nosign);
    party_free(&alice);
    party_free(&carol);
    party_free(&dave);
    return 0;
}

static X509_CRL *accept_der(X509_CRL *crl, STACK_OF(X509) *cas, char *why)
{
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    X509_CRL *out = pki_crl_accept(der, (size_t)n, cas, time(NULL), why, 200);

    OPENSSL_free(der);
    return out;
}

static void test_accept(void **state)
{
    static const long rev[] = {101};
    STACK_OF(X509) *cas = sk_X509_new_null();
    X509_CRL *good = crl_make(&ca, rev, 1, -60, 3600), *x;
    char why[200], *pem;
    uint8_t *big;

    (void)state;
    sk_X509_push(cas, ca.cert);
    x = accept_der(good, cas, why);
    assert_non_null(x);
    X509_CRL_free(x);
    pem = pem_of(w_crl, good);
    x = pki_crl_accept((const uint8_t *)pem, strlen(pem), cas, time(NULL), why, sizeof(why));
    assert_non_null(x);
    X509_CRL_free(x);
    free(pem);
    /* refused: empty, oversized, garbage, another key, expired, not yet valid */
    assert_null(pki_crl_accept((const uint8_t *)"", 0, cas, time(NULL), why, sizeof(why)));
    big = calloc(1, PKI_CRL_MAX_BODY + 1);
    assert_null(pki_crl_accept(big, PKI_CRL_MAX_BODY + 1, cas, time(NULL), why, sizeof(why)));
    assert_string_equal(why, "the CRL is larger than the limit of 4 MiB");
    assert_null(pki_crl_accept(big, 4000, cas, time(NULL), why, sizeof(why)));
    assert_string_equal(why, "the body is not an X.509 CRL (DER or PEM)");
    free(big);
    x = crl_make(&other, rev, 1, -60, 3600);
    assert_null(accept_der(x, cas, why));
    assert_string_equal(why, "the CRL is not signed by a CA of the trustpoint");
    X509_CRL_free(x);
    x = crl_make(&ca, rev, 1, -7200, -60);
    assert_null(accept_der(x, cas, why));
    assert_string_equal(why, "the CRL has expired (nextUpdate passed)");
    X509_CRL_free(x);
    x = crl_make(&ca, rev, 1, 3600, 7200);
    assert_null(accept_der(x, cas, why));
    assert_string_equal(why, "the CRL is not yet valid (thisUpdate in the future)");
    X509_CRL_free(x);
    /* a CA whose key usage leaves out cRLSign signs no CRL */
    sk_X509_zero(cas);
    sk_X509_push(cas, nosign.cert);
    x = crl_make(&nosign, rev, 1, -60, 3600);
    assert_null(accept_der(x, cas, why));
    assert_string_equal(why, "the CRL is not signed by a CA of the trustpoint");
    X509_CRL_free(x);
    X509_CRL_free(good);
    sk_X509_free(cas);
}

static void test_verdict_configured_crl(void **state)
{
    static const long rev[] = {101};
    X509_CRL *crl = crl_make(&ca, rev, 1, -60, 3600), *foreign = crl_make(&other, rev, 1, -60, 3600);
    struct pki_tp *tp = tp_make(&ca, crl, NULL, PKI_REV_CRL), *tpn;
    char why[300];
    const struct pki_tp *checked;

    (void)state;
    assert_int_equal(pki_crl_verify(NULL, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_ptr_equal(checked, tp);
    assert_int_equal(pki_crl_verify(NULL, &tp, 1, carol.cert, NULL, &checked, why, sizeof(why)), PKI_REVOKED);
    assert_non_null(strstr(why, "certificate verification failed: certificate revoked (serial 65"));
    /* an untrusted certificate: the chain fails first */
    assert_int_equal(pki_crl_verify(NULL, &tp, 1, other.cert, NULL, &checked, why, sizeof(why)), PKI_INVALID);
    assert_null(checked);
    pki_tp_free(tp);
    /* a CRL that another key signed does not count: no valid CRL */
    tp = tp_make(&ca, foreign, NULL, PKI_REV_CRL);
    assert_int_equal(pki_crl_verify(NULL, &tp, 1, carol.cert, NULL, &checked, why, sizeof(why)), PKI_NO_CRL);
    assert_non_null(strstr(why, "signature does not verify"));
    pki_tp_free(tp);
    tpn = tp_make(&ca, foreign, NULL, PKI_REV_CRL_NONE);
    assert_int_equal(pki_crl_verify(NULL, &tpn, 1, carol.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_non_null(strstr(why, "no valid CRL"));
    pki_tp_free(tpn);
    /* revocation-check none: no check at all */
    tpn = tp_make(&ca, NULL, NULL, PKI_REV_NONE);
    assert_int_equal(pki_crl_verify(NULL, &tpn, 1, carol.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    assert_null(checked);
    pki_tp_free(tpn);
    X509_CRL_free(crl);
    X509_CRL_free(foreign);
}

static void test_verdict_without_source(void **state)
{
    struct pki_tp *tp = tp_make(&ca, NULL, NULL, PKI_REV_CRL);
    char why[300];
    const struct pki_tp *checked;

    (void)state;
    assert_int_equal(pki_crl_verify(NULL, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_NO_CRL);
    assert_non_null(strstr(why, "no http CRL distribution point"));
    /* a distribution point but nothing fetches */
    assert_int_equal(pki_crl_verify(NULL, &tp, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_NO_CRL);
    assert_non_null(strstr(why, "http://127.0.0.1:1/ca.crl: CRLs are not fetched here"));
    pki_tp_free(tp);
}

static int notified;
static struct pki_crl_news last; /* of the last notify (ended not kept) */
static uint64_t last_ended0;

static void on_notify(void *arg, const struct pki_crl_news *news)
{
    last = *news;
    last_ended0 = news->nended ? news->ended[0] : 0;
    last.ended = NULL;
    notified++;
    event_base_loopbreak(arg);
}

/* Port 1 on loopback refuses: the first fetch is pending, then fails (counted,
 * notified); crl refuses, crl-none accepts. */
static void test_fetch_failure(void **state)
{
    struct event_base *base = event_base_new();
    struct pki_crl *c = pki_crl_new(base);
    struct pki_tp *tp = tp_make(&ca, NULL, NULL, PKI_REV_CRL), *tpn = tp_make(&ca, NULL, NULL, PKI_REV_CRL_NONE);
    struct timeval limit = {.tv_sec = 20};
    char why[300];
    const struct pki_tp *checked;
    uint64_t ticket = 0;

    (void)state;
    assert_non_null(c);
    pki_crl_set_notify(c, on_notify, base);
    assert_int_equal(pki_crl_verify(c, &tp, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    assert_ptr_equal(checked, tp);
    assert_int_equal(pki_crl_waits(c, &ticket, 1), 1);
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    assert_int_equal(notified, 1);
    /* the news name the fetch the client waits for; a failure revokes nothing */
    assert_true(last.nended == 1 && last_ended0 == ticket && !last.all && !last.revoked);
    assert_int_equal(pki_crl_verify(c, &tp, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_NO_CRL);
    assert_non_null(strstr(why, "http://127.0.0.1:1/ca.crl: "));
    assert_int_equal(pki_crl_verify(c, &tpn, 1, dave.cert, NULL, &checked, why, sizeof(why)), PKI_GOOD);
    /* the trustpoints go: so does the source */
    pki_crl_sync(c, NULL, 0);
    pki_tp_free(tp);
    pki_tp_free(tpn);
    pki_crl_free(c);
    event_base_free(base);
}

static size_t failed_sources(struct pki_crl *c, const char *url)
{
    size_t n = 0;

    for (struct crl_src *s = pki_crl_srcs(c); s; s = s->next)
        n += !strcmp(s->url, url) && s->failures;
    return n;
}

/* Two trustpoints fetch one URL (port 1: refused): its crl-unobtainable
 * alarm stays while either source fails, and goes with the last. */
static void test_alarm_shared_url(void **state)
{
    static const char url[] = "http://127.0.0.1:1/shared.crl";
    struct event_base *base = event_base_new();
    struct pki_crl *c = pki_crl_new(base);
    struct pki_tp *tps[2] = {tp_named("tp", &ca, NULL, url, PKI_REV_CRL), tp_named("tp2", &ca, NULL, url, PKI_REV_CRL)};

    (void)state;
    alarm_reset();
    pki_crl_set_notify(c, on_notify, base);
    pki_crl_sync(c, tps, 2);
    for (int i = 0; i < 10 && failed_sources(c, url) < 2; i++) {
        event_base_loopexit(base, &(struct timeval){.tv_sec = 20});
        event_base_dispatch(base);
    }
    assert_int_equal(failed_sources(c, url), 2);
    assert_true(alarm_is_active(ALARM_CRL_UNOBTAINABLE, url));
    /* tp2 goes: tp still cannot fetch the URL */
    pki_crl_sync(c, tps, 1);
    assert_int_equal(failed_sources(c, url), 1);
    assert_true(alarm_is_active(ALARM_CRL_UNOBTAINABLE, url));
    pki_crl_sync(c, NULL, 0);
    assert_false(alarm_is_active(ALARM_CRL_UNOBTAINABLE, url));
    pki_tp_free(tps[0]);
    pki_tp_free(tps[1]);
    pki_crl_free(c);
    event_base_free(base);
    alarm_reset();
}

static void count_notify(void *arg, const struct pki_crl_news *news)
{
    (void)news;
    if (++notified >= PKI_CRL_MAX_CDP)
        event_base_loopbreak(arg);
}

static size_t cdp_sources(struct pki_crl *c, const char *url, bool *found)
{
    size_t n = 0;

    *found = false;
    for (struct crl_src *s = pki_crl_srcs(c); s; s = s->next) {
        n += s->cdp;
        *found = *found || !strcmp(s->url, url);
    }
    return n;
}

/* More distribution points than are cached: the least recently asked for whose
 * transfer is over gives its place, so a new certificate is still checked (it
 * used to be refused for good once PKI_CRL_MAX_CDP had been seen). */
static void test_cdp_eviction(void **state)
{
    struct event_base *base = event_base_new();
    struct pki_crl *c = pki_crl_new(base);
    struct pki_tp *tp = tp_make(&ca, NULL, NULL, PKI_REV_CRL);
    struct timeval limit = {.tv_sec = 20};
    char url[64];
    bool found;

    (void)state;
    assert_non_null(c);
    notified = 0;
    pki_crl_set_notify(c, count_notify, base);
    for (int i = 0; i < PKI_CRL_MAX_CDP; i++) {
        snprintf(url, sizeof(url), "http://127.0.0.1:1/p%d.crl", i);
        assert_non_null(pki_crl_src_add(c, tp, url, true));
    }
    /* while every one is fetching, none gives its place */
    assert_null(pki_crl_src_add(c, tp, "http://127.0.0.1:1/busy.crl", true));
    /* port 1 refuses: every first fetch fails; then p5 is the least recently used */
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    assert_true(notified >= PKI_CRL_MAX_CDP);
    for (struct crl_src *s = pki_crl_srcs(c); s; s = s->next)
        s->last_used = strcmp(s->url, "http://127.0.0.1:1/p5.crl") ? 100 : 1;
    assert_non_null(pki_crl_src_add(c, tp, "http://127.0.0.1:1/new.crl", true));
    assert_int_equal(cdp_sources(c, "http://127.0.0.1:1/p5.crl", &found), PKI_CRL_MAX_CDP);
    assert_false(found);
    assert_int_equal(cdp_sources(c, "http://127.0.0.1:1/new.crl", &found), PKI_CRL_MAX_CDP);
    assert_true(found);
    pki_crl_sync(c, NULL, 0);
    pki_tp_free(tp);
    pki_crl_free(c);
    event_base_free(base);
}

/* A fetch that hangs (a loopback listener that never answers), then a commit
 * drops its trustpoint: the client waiting for it hears so at once (notified
 * from the loop) instead of waiting until its IKE SA times out. */
static void test_sync_drops_fetch_under_way(void **state)
{
    struct event_base *base = event_base_new();
    struct pki_crl *c = pki_crl_new(base);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval settle = {.tv_usec = 300000}, limit = {.tv_sec = 3};
    char url[64], why[300];
    const struct pki_tp *checked;
    struct pki_tp *tp;

    (void)state;
    assert_non_null(c);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/ca.crl", ntohs(sa.sin_port));
    tp = tp_make(&ca, NULL, url, PKI_REV_CRL);
    notified = 0;
    pki_crl_set_notify(c, on_notify, base);
    pki_crl_sync(c, &tp, 1);
    assert_int_equal(pki_crl_verify(c, &tp, 1, alice.cert, NULL, &checked, why, sizeof(why)), PKI_PENDING);
    event_base_loopexit(base, &settle);
    event_base_dispatch(base);
    assert_int_equal(notified, 0); /* connected, and no answer */
    pki_crl_sync(c, NULL, 0);
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    assert_int_equal(notified, 1);
    assert_true(last.all && !last.nended); /* dropped, not ended: every waiter asks again */
    close(fd);
    pki_tp_free(tp);
    pki_crl_free(c);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_verdict_configured_crl),
        cmocka_unit_test(test_verdict_without_source),
        cmocka_unit_test(test_fetch_failure),
        cmocka_unit_test(test_alarm_shared_url),
        cmocka_unit_test(test_sync_drops_fetch_under_way),
        cmocka_unit_test(test_cdp_eviction),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
