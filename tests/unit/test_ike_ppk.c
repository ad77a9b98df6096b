/* Post-quantum preshared keys (RFC 8784, daemon/ike/ike_ppk.c and
 * ike_ppk_conf.c): the key mixing against the RFC's formula, computed here
 * with OpenSSL's HMAC directly (prf+ of RFC 7296 2.13: T1 = prf(K, S | 0x01),
 * T2 = prf(K, T1 | S | 0x02), ...), and the compiled configuration: PPKs by
 * PPK_ID with hex and text keys, a profile's policy, USE_PPK answered only
 * when a profile uses PPKs, a bad hex key refused with its path; the PPK_ID
 * types of RFC 8784 5.1 (opaque and fixed looked up alike, others none); the
 * decision in IKE_AUTH with a configured PPK and with one RADIUS gave (the
 * state its answer leaves in the exchange: key, or none and why), the policy
 * and NO_PPK_AUTH; a profile's allowed PPK_IDs (ppk id) and the warning
 * for a profile without any PPK it could use; the ipsec:ppk-key attribute of an Access-Accept. The
 * Access-Request itself goes to a real FreeRADIUS in
 * tests/integration/test_ike_ppk.py. */
#include <libyang/libyang.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/aaa/aaa_attrs.h"
#include "daemon/ike/ike_conf.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_ppk.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

/* prf+(K, S) for @n octets with HMAC-@md, written out as RFC 7296 2.13 says. */
static void prf_plus(const EVP_MD *md, const uint8_t *k, size_t kl, const uint8_t *s, size_t sl, uint8_t *out,
                     size_t n)
{
    uint8_t t[64], in[64 + 64 + 1];
    unsigned tl = 0, ml;
    size_t done = 0;

    for (uint8_t i = 1; done < n; i++) {
        size_t il = 0;

        memcpy(in, t, tl);
        il += tl;
        memcpy(in + il, s, sl);
        il += sl;
        in[il++] = i;
        assert_non_null(HMAC(md, k, (int)kl, in, il, t, &ml));
        tl = ml;
        memcpy(out + done, t, n - done < tl ? n - done : tl);
        done += tl;
    }
}

static void check_mix(enum ike_prf prf, const EVP_MD *md, size_t len)
{
    static const uint8_t ppk[] = "a post-quantum preshared key of 32+ octets";
    struct ike_keys k = {.prf_len = len}, orig;
    uint8_t want[64];

    for (size_t i = 0; i < len; i++) {
        k.sk_d[i] = (uint8_t)i;
        k.sk_pi[i] = (uint8_t)(0x40 + i);
        k.sk_pr[i] = (uint8_t)(0x80 + i);
        k.sk_ei[i % 36] = 0xee;
    }
    orig = k;
    assert_true(ike_ppk_mix(prf, ppk, sizeof(ppk) - 1, &k));
    /* SK_d' = prf+(PPK, SK_d), SK_pi' = prf+(PPK, SK_pi), SK_pr' = prf+(PPK, SK_pr) */
    prf_plus(md, ppk, sizeof(ppk) - 1, orig.sk_d, len, want, len);
    assert_memory_equal(k.sk_d, want, len);
    prf_plus(md, ppk, sizeof(ppk) - 1, orig.sk_pi, len, want, len);
    assert_memory_equal(k.sk_pi, want, len);
    prf_plus(md, ppk, sizeof(ppk) - 1, orig.sk_pr, len, want, len);
    assert_memory_equal(k.sk_pr, want, len);
    /* the others, which protect the exchange itself, stay */
    assert_memory_equal(k.sk_ei, orig.sk_ei, sizeof(k.sk_ei));
    assert_memory_equal(k.sk_ai, orig.sk_ai, sizeof(k.sk_ai));
    assert_int_equal(k.prf_len, len);
}

static void test_mix_follows_rfc8784(void **state)
{
    (void)state;
    check_mix(IKE_PRF_HMAC_SHA2_256, EVP_sha256(), 32);
    check_mix(IKE_PRF_HMAC_SHA2_384, EVP_sha384(), 48);
    check_mix(IKE_PRF_HMAC_SHA2_512, EVP_sha512(), 64);
    check_mix(IKE_PRF_HMAC_SHA1, EVP_sha1(), 20);
}

static const char base[] =
    "<ikev2 xmlns=\"" NS "\">"
    "<ppk><ppk-id>pq-hex</ppk-id><key>0x00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF</key></ppk>"
    "<ppk><ppk-id>pq-text</ppk-id><key>short text key</key></ppk>"
    "<profile><name>a</name><match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote>"
    "</identity></match><authentication><local><pre-share><key>k</key></pre-share></local>"
    "<remote><pre-share><key>k</key></pre-share></remote></authentication>%s</profile>"
    "<profile><name>b</name><match><identity><remote><fqdn><domain>example.net</domain></fqdn></remote>"
    "</identity></match><authentication><local><pre-share><key>k</key></pre-share></local>"
    "<remote><pre-share><key>k</key></pre-share></remote></authentication></profile>"
    "</ikev2>"
    "<aaa xmlns=\"" NS "\"><authorization-list><name>ppk-list</name><method><sequence>1</sequence><local/></method>"
    "</authorization-list></aaa>";

struct env {
    struct ly_ctx *ctx;
};

static void on_err(void *arg, const char *path, const char *msg)
{
    snprintf(arg, 512, "%s: %s", path ? path : "", msg);
}

static struct ike_conf *build(struct env *e, const char *profile_extra, const char *key2, char *why)
{
    char xml[6144], *p;
    struct lyd_node *tree = NULL;
    struct ike_conf *c;

    snprintf(xml, sizeof(xml), base, profile_extra);
    if (key2 && (p = strstr(xml, "short text key"))) {
        char tail[6144];

        snprintf(tail, sizeof(tail), "%s", p + strlen("short text key"));
        snprintf(p, sizeof(xml) - (size_t)(p - xml), "%s%s", key2, tail);
    }
    assert_int_equal(lyd_parse_data_mem(e->ctx, xml, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree), 0);
    c = ike_conf_build(e->ctx, tree, on_err, why);
    lyd_free_all(tree);
    return c;
}

static void test_conf(void **state)
{
    static const uint8_t hex[] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
                                  0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                  0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    struct env *e = *state;
    char why[512] = "";
    const struct ike_ppk *p;
    struct ike_conf *c = build(e, "<ppk><policy>required</policy></ppk>", NULL, why);

    assert_non_null(c);
    assert_int_equal(c->nppks, 2);
    assert_true(c->ppk_any);
    assert_int_equal(c->profs[0].ppk, IKE_PPK_REQUIRED);
    assert_int_equal(c->profs[1].ppk, IKE_PPK_NONE);
    p = ike_conf_ppk(c, (const uint8_t *)"pq-hex", 6);
    assert_non_null(p);
    assert_int_equal(p->key_len, sizeof(hex));
    assert_memory_equal(p->key, hex, sizeof(hex));
    p = ike_conf_ppk(c, (const uint8_t *)"pq-text", 7);
    assert_non_null(p);
    assert_int_equal(p->key_len, 14);
    assert_memory_equal(p->key, "short text key", 14);
    /* a PPK_ID is compared whole: no prefix, no longer id, no NUL inside */
    assert_null(ike_conf_ppk(c, (const uint8_t *)"pq-he", 5));
    assert_null(ike_conf_ppk(c, (const uint8_t *)"pq-hexx", 7));
    assert_null(ike_conf_ppk(c, (const uint8_t *)"pq-hex\0", 7));
    assert_null(ike_conf_ppk(c, (const uint8_t *)"", 0));
    ike_conf_unref(c);

    c = build(e, "<ppk><policy>optional</policy></ppk>", NULL, why);
    assert_non_null(c);
    assert_int_equal(c->profs[0].ppk, IKE_PPK_OPTIONAL);
    assert_true(c->ppk_any);
    ike_conf_unref(c);
    /* no profile uses PPKs: USE_PPK is not answered, whatever the list holds */
    c = build(e, "", NULL, why);
    assert_non_null(c);
    assert_false(c->ppk_any);
    assert_int_equal(c->profs[0].ppk, IKE_PPK_NONE);
    ike_conf_unref(c);
    /* bad hex: refused with the entry's path */
    for (size_t i = 0; i < 2; i++) {
        why[0] = 0;
        c = build(e, "", i ? "0x0g" : "0xabc", why);
        assert_null(c);
        assert_non_null(strstr(why, "ppk[ppk-id='pq-text']"));
        assert_non_null(strstr(why, "hex"));
    }
}

static void test_aaa_list_compiled(void **state)
{
    struct env *e = *state;
    char why[512] = "";
    struct ike_conf *c =
        build(e, "<ppk><policy>optional</policy><aaa-authorization-list>ppk-list</aaa-authorization-list></ppk>", NULL,
              why);

    assert_non_null(c);
    assert_string_equal(c->profs[0].ppk_aaa_list, "ppk-list");
    assert_null(c->profs[1].ppk_aaa_list);
    ike_conf_unref(c);
    /* without a policy the list asks nothing */
    c = build(e, "<ppk><aaa-authorization-list>ppk-list</aaa-authorization-list></ppk>", NULL, why);
    assert_non_null(c);
    assert_null(c->profs[0].ppk_aaa_list);
    assert_false(c->ppk_any);
    ike_conf_unref(c);
}

static void test_ppk_id_types(void **state)
{
    static const uint8_t opaque[] = {1, 'p', 'q'}, fixed[] = {2, 'p', 'q'}, reserved[] = {0, 'p', 'q'},
                         three[] = {3, 'p', 'q'}, priv[] = {128, 'p', 'q'}, bare[] = {2};
    const uint8_t *id;
    size_t len;

    (void)state;
    /* RFC 8784 5.1: both defined types carry the PPK_ID after the type octet */
    assert_true(ike_ppk_id_of(opaque, sizeof(opaque), &id, &len));
    assert_int_equal(len, 2);
    assert_memory_equal(id, "pq", 2);
    assert_true(ike_ppk_id_of(fixed, sizeof(fixed), &id, &len));
    assert_memory_equal(id, "pq", 2);
    assert_false(ike_ppk_id_of(reserved, sizeof(reserved), &id, &len));
    assert_false(ike_ppk_id_of(three, sizeof(three), &id, &len));
    assert_false(ike_ppk_id_of(priv, sizeof(priv), &id, &len));
    assert_false(ike_ppk_id_of(bare, sizeof(bare), &id, &len));
    /* what may be a RADIUS User-Name */
    assert_true(ike_ppk_id_askable((const uint8_t *)"pq-radius 1", 11));
    assert_false(ike_ppk_id_askable((const uint8_t *)"pq\n1", 4));
    assert_false(ike_ppk_id_askable((const uint8_t *)"pq\0001", 4));
    assert_false(ike_ppk_id_askable((const uint8_t *)"\xc3\xa9", 2));
    assert_false(ike_ppk_id_askable((const uint8_t *)"", 0));
    {
        char l[66];

        memset(l, 'a', sizeof(l));
        assert_true(ike_ppk_id_askable((const uint8_t *)l, 64));
        assert_false(ike_ppk_id_askable((const uint8_t *)l, 65));
    }
}

/* An IKE_AUTH request with PPK_IDENTITY (@type, @id) and, when @nop, a
 * NO_PPK_AUTH whose data is "no-ppk-auth". */
struct req {
    uint8_t idn[80], nop[20];
    struct ike_msg m;
};

static void make_req(struct req *r, uint8_t type, const char *id, bool nop)
{
    size_t n = strlen(id);

    memset(r, 0, sizeof(*r));
    /* protocol 0, no SPI, the notify type, then the data */
    r->idn[2] = (uint8_t)(N_PPK_IDENTITY >> 8);
    r->idn[3] = (uint8_t)N_PPK_IDENTITY;
    r->idn[4] = type;
    memcpy(r->idn + 5, id, n);
    r->m.pld[r->m.npld++] = (struct ike_pld){.type = IKE_PLD_NOTIFY, .body = r->idn, .len = (uint16_t)(5 + n)};
    if (nop) {
        r->nop[2] = (uint8_t)(N_NO_PPK_AUTH >> 8);
        r->nop[3] = (uint8_t)N_NO_PPK_AUTH;
        memcpy(r->nop + 4, "no-ppk-auth", 11);
        r->m.pld[r->m.npld++] = (struct ike_pld){.type = IKE_PLD_NOTIFY, .body = r->nop, .len = 15};
    }
}

static void fake_sess(struct ike_sess *s, struct ike_conf *c, struct ike_pend *pd)
{
    memset(s, 0, sizeof(*s));
    memset(pd, 0, sizeof(*pd));
    s->gen = c;
    s->pend = pd;
    s->in.ppk = true;
    s->in.prf = IKE_PRF_HMAC_SHA2_256;
    s->in.keys.prf_len = 32;
    for (size_t i = 0; i < 32; i++)
        s->in.keys.sk_d[i] = (uint8_t)i;
}

static void test_decision(void **state)
{
    static const uint8_t aaa_key[] = "a PPK that RADIUS gave, 32 octets long";
    struct env *e = *state;
    char why[512] = "";
    struct ike_conf *c = build(
        e, "<ppk><policy>required</policy><aaa-authorization-list>ppk-list</aaa-authorization-list></ppk>", NULL, why);
    struct ike_auth_pld auth = {.method = 2, .data = (const uint8_t *)"auth", .len = 4};
    struct ike_keys want;
    struct ike_sess s;
    struct ike_pend pd;
    struct req r;
    const char *msg;
    bool wait;

    assert_non_null(c);
    /* an opaque PPK_ID names a configured PPK as a fixed one does */
    for (uint8_t type = 1; type <= 2; type++) {
        fake_sess(&s, c, &pd);
        want = s.in.keys;
        assert_true(ike_ppk_mix(s.in.prf, c->ppks[0].key, c->ppks[0].key_len, &want));
        make_req(&r, type, "pq-hex", false);
        assert_null(ike_ppk_authenticate(&s, &c->profs[0], &r.m, &auth, &wait));
        assert_false(wait);
        assert_true(s.ppk_used);
        assert_string_equal(s.ppk_id, "pq-hex");
        assert_memory_equal(s.in.keys.sk_d, want.sk_d, 32);
    }
    /* a type that names nothing: required refuses */
    fake_sess(&s, c, &pd);
    make_req(&r, 3, "pq-hex", false);
    msg = ike_ppk_authenticate(&s, &c->profs[0], &r.m, &auth, &wait);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "type"));
    assert_false(s.ppk_used);

    /* RADIUS's answer came with a key: mixed, then wiped and forgotten */
    fake_sess(&s, c, &pd);
    pd.ppk_asked = true;
    pd.ppk_len = sizeof(aaa_key) - 1;
    pd.ppk = malloc(pd.ppk_len);
    memcpy(pd.ppk, aaa_key, pd.ppk_len);
    want = s.in.keys;
    assert_true(ike_ppk_mix(s.in.prf, aaa_key, sizeof(aaa_key) - 1, &want));
    make_req(&r, 2, "pq-radius", false);
    assert_null(ike_ppk_authenticate(&s, &c->profs[0], &r.m, &auth, &wait));
    assert_false(wait);
    assert_true(s.ppk_used);
    assert_string_equal(s.ppk_id, "pq-radius");
    assert_memory_equal(s.in.keys.sk_d, want.sk_d, 32);
    assert_memory_equal(s.in.keys.sk_pi, want.sk_pi, 32);
    assert_null(pd.ppk);
    assert_int_equal(pd.ppk_len, 0);

    /* RADIUS gave none: required refuses, saying so */
    fake_sess(&s, c, &pd);
    pd.ppk_asked = true;
    pd.ppk_why = "the RADIUS server rejected the PPK_ID";
    make_req(&r, 2, "pq-radius", true);
    msg = ike_ppk_authenticate(&s, &c->profs[0], &r.m, &auth, &wait);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "RADIUS gave no PPK"));
    assert_false(s.ppk_used);
    ike_conf_unref(c);

    /* optional: the NO_PPK_AUTH is the AUTH checked */
    c = build(e, "<ppk><policy>optional</policy><aaa-authorization-list>ppk-list</aaa-authorization-list></ppk>",
              NULL, why);
    assert_non_null(c);
    fake_sess(&s, c, &pd);
    pd.ppk_asked = true;
    pd.ppk_why = "no RADIUS server of the list answered";
    make_req(&r, 2, "pq-radius", true);
    assert_null(ike_ppk_authenticate(&s, &c->profs[0], &r.m, &auth, &wait));
    assert_false(s.ppk_used);
    assert_true(s.ppk_fallback);
    assert_int_equal(auth.len, 11);
    assert_memory_equal(auth.data, "no-ppk-auth", 11);
    ike_conf_unref(c);
}

/* stderr (the log) of build() into a string (heap). */
static struct ike_conf *build_logged(struct env *e, const char *profile_extra, char **log)
{
    char why[512] = "", buf[8192];
    FILE *tmp = tmpfile();
    int saved = dup(2);
    struct ike_conf *c;
    size_t n;

    assert_non_null(tmp);
    fflush(stderr);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    c = build(e, profile_extra, NULL, why);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    n = fread(buf, 1, sizeof(buf) - 1, tmp);
    buf[n] = 0;
    fclose(tmp);
    *log = strdup(buf);
    return c;
}

static void test_allowed_ids(void **state)
{
    struct env *e = *state;
    char why[512] = "", *log;
    struct ike_conf *c = build(e,
                               "<ppk><policy>required</policy><aaa-authorization-list>ppk-list</aaa-authorization-list>"
                               "<id>pq-hex</id><id>pq-radius</id></ppk>",
                               NULL, why);
    struct ike_auth_pld auth = {.method = 2, .data = (const uint8_t *)"auth", .len = 4};
    struct ike_sess s;
    struct ike_pend pd;
    struct req r;
    const char *msg;
    bool wait;

    assert_non_null(c);
    assert_int_equal(c->profs[0].nppk_ids, 2);
    assert_int_equal(c->profs[1].nppk_ids, 0);
    assert_true(ike_ppk_id_allowed(&c->profs[0], (const uint8_t *)"pq-hex", 6));
    assert_false(ike_ppk_id_allowed(&c->profs[0], (const uint8_t *)"pq-he", 5));
    assert_false(ike_ppk_id_allowed(&c->profs[0], (const uint8_t *)"pq-text", 7));
    /* no list: any */
    assert_true(ike_ppk_id_allowed(&c->profs[1], (const uint8_t *)"pq-text", 7));
    /* an allowed, configured PPK is used */
    fake_sess(&s, c, &pd);
    make_req(&r, 2, "pq-hex", false);
    assert_null(ike_ppk_authenticate(&s, &c->profs[0], &r.m, &auth, &wait));
    assert_true(s.ppk_used);
    /* a configured PPK the profile does not allow is unknown: required
     * refuses, and RADIUS is not asked for it either */
    fake_sess(&s, c, &pd);
    make_req(&r, 2, "pq-text", true);
    msg = ike_ppk_authenticate(&s, &c->profs[0], &r.m, &auth, &wait);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "not one the profile allows (ppk id)"));
    assert_false(wait);
    assert_false(s.ppk_used);
    assert_false(pd.ppk_asked);
    fake_sess(&s, c, &pd);
    make_req(&r, 2, "pq-other", true);
    assert_non_null(ike_ppk_authenticate(&s, &c->profs[0], &r.m, &auth, &wait));
    assert_false(pd.ppk_asked);
    ike_conf_unref(c);

    /* optional: a PPK not allowed leaves the client to its NO_PPK_AUTH */
    c = build(e, "<ppk><policy>optional</policy><id>pq-hex</id></ppk>", NULL, why);
    assert_non_null(c);
    fake_sess(&s, c, &pd);
    make_req(&r, 2, "pq-text", true);
    assert_null(ike_ppk_authenticate(&s, &c->profs[0], &r.m, &auth, &wait));
    assert_false(s.ppk_used);
    assert_true(s.ppk_fallback);
    assert_memory_equal(auth.data, "no-ppk-auth", 11);
    ike_conf_unref(c);

    /* no PPK the profile could use: accepted, with a warning at prepare */
    c = build_logged(e, "<ppk><policy>required</policy><id>pq-nowhere</id></ppk>", &log);
    assert_non_null(c);
    assert_non_null(strstr(log, "ikev2 profile a: ppk policy required but none of its ppk ids is in ikev2 ppk"));
    assert_non_null(strstr(log, "every client of the profile is refused"));
    free(log);
    ike_conf_unref(c);
    c = build_logged(e, "<ppk><policy>required</policy><id>pq-nowhere</id><aaa-authorization-list>ppk-list"
                        "</aaa-authorization-list></ppk>", &log);
    assert_non_null(c);
    assert_null(strstr(log, "ikev2 profile a"));
    free(log);
    ike_conf_unref(c);
    c = build_logged(e, "<ppk><policy>optional</policy><id>pq-text</id></ppk>", &log);
    assert_non_null(c);
    assert_null(strstr(log, "ikev2 profile a"));
    free(log);
    ike_conf_unref(c);
}

static void test_no_ppk_source_warned(void **state)
{
    struct env *e = *state;
    char why[512] = "", xml[2048], buf[4096];
    struct lyd_node *tree = NULL;
    struct ike_conf *c;
    FILE *tmp = tmpfile();
    int saved = dup(2);
    size_t n;

    /* no ikev2 ppk at all and no list */
    snprintf(xml, sizeof(xml),
             "<ikev2 xmlns=\"" NS "\"><profile><name>a</name><match><identity><remote><fqdn><domain>example.org"
             "</domain></fqdn></remote></identity></match><authentication><local><pre-share><key>k</key></pre-share>"
             "</local><remote><pre-share><key>k</key></pre-share></remote></authentication>"
             "<ppk><policy>optional</policy></ppk></profile></ikev2>");
    assert_int_equal(lyd_parse_data_mem(e->ctx, xml, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree), 0);
    fflush(stderr);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    c = ike_conf_build(e->ctx, tree, on_err, why);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lyd_free_all(tree);
    assert_non_null(c);
    rewind(tmp);
    n = fread(buf, 1, sizeof(buf) - 1, tmp);
    buf[n] = 0;
    fclose(tmp);
    assert_non_null(strstr(buf, "ikev2 profile a: ppk policy optional but no ikev2 ppk is configured and no ppk "
                                "aaa-authorization-list: its clients authenticate without a PPK"));
    ike_conf_unref(c);
}

static void test_radius_attribute(void **state)
{
    static const uint8_t hex[] = {0x8d, 0x3c, 0x6f, 0x1a, 0xff};
    struct aaa_attrs a;
    char longer[300];

    (void)state;
    aaa_attrs_init(&a);
    assert_int_equal(aaa_attrs_avpair(&a, "ipsec:ppk-key=0x8d3c6f1aFF", 26), 1);
    assert_int_equal(a.ppk_len, sizeof(hex));
    assert_memory_equal(a.ppk, hex, sizeof(hex));
    assert_false(a.ppk_bad);
    /* text: its own octets; the last one wins */
    assert_int_equal(aaa_attrs_avpair(&a, "ipsec:ppk-key=a text key", 24), 1);
    assert_int_equal(a.ppk_len, 10);
    assert_memory_equal(a.ppk, "a text key", 10);
    /* bad hex: understood (never copied as an unknown attribute), no key */
    assert_int_equal(aaa_attrs_avpair(&a, "ipsec:ppk-key=0x8d3", 19), 1);
    assert_null(a.ppk);
    assert_true(a.ppk_bad);
    assert_int_equal(aaa_attrs_avpair(&a, "ipsec:ppk-key=0x8z", 18), 1);
    assert_null(a.ppk);
    assert_true(a.ppk_bad);
    aaa_attrs_free(&a);
    /* one too long to read is not understood: nothing kept */
    memset(longer, 'a', sizeof(longer));
    memcpy(longer, "ipsec:ppk-key=0x", 16);
    aaa_attrs_init(&a);
    assert_int_equal(aaa_attrs_avpair(&a, longer, sizeof(longer)), 0);
    assert_null(a.ppk);
    aaa_attrs_free(&a);
}

static int setup(void **state)
{
    static struct env e;

    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &e.ctx), 0);
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-types", NULL, NULL));
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-vpn", NULL, NULL));
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    ly_ctx_destroy(e->ctx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mix_follows_rfc8784),
        cmocka_unit_test(test_conf),
        cmocka_unit_test(test_aaa_list_compiled),
        cmocka_unit_test(test_ppk_id_types),
        cmocka_unit_test(test_decision),
        cmocka_unit_test(test_radius_attribute),
        cmocka_unit_test(test_allowed_ids),
        cmocka_unit_test(test_no_ppk_source_warned),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
