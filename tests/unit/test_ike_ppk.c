/* Post-quantum preshared keys (RFC 8784, daemon/ike/ike_ppk.c and
 * ike_ppk_conf.c): the key mixing against the RFC's formula, computed here
 * with OpenSSL's HMAC directly (prf+ of RFC 7296 2.13: T1 = prf(K, S | 0x01),
 * T2 = prf(K, T1 | S | 0x02), ...), and the compiled configuration: PPKs by
 * PPK_ID with hex and text keys, a profile's policy, USE_PPK answered only
 * when a profile uses PPKs, a bad hex key refused with its path. */
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

#include <cmocka.h>

#include "daemon/ike/ike_conf.h"
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
    "</ikev2>";

struct env {
    struct ly_ctx *ctx;
};

static void on_err(void *arg, const char *path, const char *msg)
{
    snprintf(arg, 512, "%s: %s", path ? path : "", msg);
}

static struct ike_conf *build(struct env *e, const char *profile_extra, const char *key2, char *why)
{
    char xml[4096], *p;
    struct lyd_node *tree = NULL;
    struct ike_conf *c;

    snprintf(xml, sizeof(xml), base, profile_extra);
    if (key2 && (p = strstr(xml, "short text key"))) {
        char tail[4096];

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
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
