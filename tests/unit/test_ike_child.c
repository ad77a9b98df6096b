/* Unit tests of child SA negotiation (daemon/ike/ike_child.c): the ESP proposal
 * choice (AEAD without integrity, CBC with it, ESN, PFS group), traffic selector
 * narrowing, and the order of the keying material (RFC 7296 2.17). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ike/ike_child.h"

static const uint8_t spi[4] = {0xc1, 0x00, 0x00, 0x2a};

static void add(struct ike_proposal *p, uint8_t type, uint16_t id, uint16_t kl)
{
    p->trans[p->ntrans++] = (struct ike_transform){.type = type, .id = id, .key_len = kl};
}

static void test_choose(void **st)
{
    struct ike_sa_pld sa = {.nprop = 3};
    struct ike_esp_algs algs = {.encr = IKE_EB_AES_CBC_128, .integ = 1u << IKE_INTEG_HMAC_SHA2_256_128};
    struct ike_child_alg c;

    /* 1: GCM (not allowed); 2: CBC without integrity (invalid); 3: CBC + SHA-256 */
    sa.prop[0] = (struct ike_proposal){.num = 1, .protocol = 3, .spi_len = 4, .spi = spi};
    add(&sa.prop[0], IKE_TRANS_ENCR, IKE_AEAD_AES_GCM_16, 128);
    add(&sa.prop[0], IKE_TRANS_ESN, 0, 0);
    sa.prop[1] = (struct ike_proposal){.num = 2, .protocol = 3, .spi_len = 4, .spi = spi};
    add(&sa.prop[1], IKE_TRANS_ENCR, IKE_ENCR_AES_CBC, 128);
    add(&sa.prop[1], IKE_TRANS_ESN, 0, 0);
    sa.prop[2] = (struct ike_proposal){.num = 3, .protocol = 3, .spi_len = 4, .spi = spi};
    add(&sa.prop[2], IKE_TRANS_ENCR, IKE_ENCR_AES_CBC, 128);
    add(&sa.prop[2], IKE_TRANS_INTEG, IKE_INTEG_HMAC_SHA2_256_128, 0);
    add(&sa.prop[2], IKE_TRANS_ESN, 1, 0);
    add(&sa.prop[2], IKE_TRANS_ESN, 0, 0);
    assert_true(ike_child_choose(&sa, &algs, 0, &c));
    assert_int_equal(c.prop_num, 3);
    assert_int_equal(c.spi_peer, 0xc100002a);
    assert_int_equal(c.encr_key_len, 16);
    assert_int_equal(c.integ_key_len, 32);
    assert_false(c.esn); /* not allowed by the profile, and "no ESN" was offered */
    algs.esn = true;
    assert_true(ike_child_choose(&sa, &algs, 0, &c));
    assert_true(c.esn);

    /* ESN only, not allowed: refused */
    algs.esn = false;
    sa.prop[2].ntrans = 3;
    assert_false(ike_child_choose(&sa, &algs, 0, &c));

    /* AEAD with an integrity algorithm is refused; PFS needs the group offered */
    algs = (struct ike_esp_algs){.encr = IKE_EB_AES_GCM_256};
    sa.nprop = 1;
    sa.prop[0] = (struct ike_proposal){.num = 1, .protocol = 3, .spi_len = 4, .spi = spi};
    add(&sa.prop[0], IKE_TRANS_ENCR, IKE_AEAD_AES_GCM_16, 256);
    add(&sa.prop[0], IKE_TRANS_DH, 19, 0);
    assert_true(ike_child_choose(&sa, &algs, 19, &c));
    assert_int_equal(c.encr_key_len, 36);
    assert_int_equal(c.dh_group, 19);
    assert_false(ike_child_choose(&sa, &algs, 31, &c));
    add(&sa.prop[0], IKE_TRANS_INTEG, IKE_INTEG_HMAC_SHA2_256_128, 0);
    assert_false(ike_child_choose(&sa, &algs, 19, &c));
    /* an IKE proposal is not an ESP one */
    sa.prop[0].protocol = 1;
    assert_false(ike_child_choose(&sa, &algs, 0, &c));
}

static void test_narrow(void **st)
{
    struct ike_ts_pld any = {.nts = 1}, host = {.nts = 1}, out, split = {.nts = 2}, offer = {.nts = 1};

    ike_ts_prefix4(0, 0, &any.ts[0]);
    ike_ts_host4(0x0ac9000a, &host.ts[0]); /* 10.201.0.10 */
    /* the client offers everything: narrowed to its address */
    assert_true(ike_ts_narrow(&any, &host, &out));
    assert_int_equal(out.nts, 1);
    assert_memory_equal(out.ts[0].start, "\x0a\xc9\x00\x0a", 4);
    assert_memory_equal(out.ts[0].end, "\x0a\xc9\x00\x0a", 4);
    /* a /16 offer against two /24 split subnets, one inside: one result */
    ike_ts_prefix4(0x0ac80000, 16, &offer.ts[0]);  /* 10.200.0.0/16 */
    ike_ts_prefix4(0x0ac80100, 24, &split.ts[0]);  /* 10.200.1.0/24 */
    ike_ts_prefix4(0x0a630000, 24, &split.ts[1]);  /* 10.99.0.0/24: outside */
    assert_true(ike_ts_narrow(&offer, &split, &out));
    assert_int_equal(out.nts, 1);
    assert_memory_equal(out.ts[0].start, "\x0a\xc8\x01\x00", 4);
    assert_memory_equal(out.ts[0].end, "\x0a\xc8\x01\xff", 4);
    /* protocol and ports intersect too; disjoint ports leave nothing */
    offer.ts[0].ip_proto = 6;
    offer.ts[0].start_port = 443;
    offer.ts[0].end_port = 443;
    assert_true(ike_ts_narrow(&offer, &split, &out));
    assert_int_equal(out.ts[0].ip_proto, 6);
    assert_int_equal(out.ts[0].start_port, 443);
    split.ts[0].ip_proto = 17;
    assert_false(ike_ts_narrow(&offer, &split, &out));
    /* IPv6 offers do not match IPv4 bounds */
    offer.ts[0].type = 8;
    assert_false(ike_ts_narrow(&offer, &host, &out));
}

/* A child SA keeps its selectors sized to what was negotiated: one, two, three
 * and the most a payload carries come back the same, in their order; setting
 * again replaces (the heap part freed: the sanitizer checks), free empties. */
static void test_tss(void **st)
{
    static const uint8_t counts[] = {0, 1, 2, 3, IKE_MAX_TS, 1};
    struct ike_tss tss = {0};
    struct ike_ts_pld ts, got;

    for (size_t c = 0; c < sizeof(counts); c++) {
        memset(&ts, 0, sizeof(ts));
        ts.nts = counts[c];
        for (uint8_t i = 0; i < ts.nts; i++)
            ike_ts_prefix4(0x0a000000u | (uint32_t)(c << 16) | (uint32_t)i << 8, 24, &ts.ts[i]);
        assert_true(ike_tss_set(&tss, &ts));
        assert_int_equal(tss.nts, ts.nts);
        assert_true(ts.nts > IKE_TSS_INLINE ? tss.more != NULL : tss.more == NULL);
        memset(&got, 0xa5, sizeof(got));
        ike_tss_get(&tss, &got);
        assert_int_equal(got.nts, ts.nts);
        if (ts.nts)
            assert_memory_equal(got.ts, ts.ts, ts.nts * sizeof(ts.ts[0]));
    }
    assert_true(sizeof(tss) < sizeof(ts) / 8);
    /* grown one at a time (a session's bounds as route accept adds subnets), cut
     * back, grown again: each entry where it was added */
    ike_tss_free(&tss);
    for (unsigned i = 0; i < IKE_MAX_TS; i++) {
        ike_ts_prefix4(0x0b000000u | i << 8, 24, &ts.ts[i]);
        assert_true(ike_tss_add(&tss, &ts.ts[i]));
        assert_int_equal(tss.nts, i + 1);
    }
    assert_false(ike_tss_add(&tss, &ts.ts[0])); /* full */
    for (unsigned i = 0; i < IKE_MAX_TS; i++)
        assert_memory_equal(ike_tss_at(&tss, i), &ts.ts[i], sizeof(ts.ts[i]));
    ike_tss_trunc(&tss, 5);
    assert_int_equal(tss.nts, 5);
    assert_true(ike_tss_add(&tss, &ts.ts[9]));
    assert_memory_equal(ike_tss_at(&tss, 5), &ts.ts[9], sizeof(ts.ts[9]));
    assert_memory_equal(ike_tss_at(&tss, 4), &ts.ts[4], sizeof(ts.ts[4]));
    ike_tss_trunc(&tss, 1);
    assert_null(tss.more);
    assert_memory_equal(ike_tss_at(&tss, 0), &ts.ts[0], sizeof(ts.ts[0]));
    ike_tss_free(&tss);
    assert_int_equal(tss.nts, 0);
    assert_null(tss.more);
    ike_tss_get(&tss, &got);
    assert_int_equal(got.nts, 0);
}

static void test_keymat_order(void **st)
{
    static const uint8_t sk_d[32] = {1, 2, 3}, ni[32] = {4}, nr[32] = {5}, gir[32] = {6};
    struct ike_child_alg c = {.encr_key_len = 16, .integ_key_len = 32};
    struct ike_child_keys k;
    uint8_t seed[96], want[2 * (16 + 32)];

    /* KEYMAT = prf+(SK_d, g^ir | Ni | Nr); the initiator's encryption key, its
     * integrity key, then the responder's */
    memcpy(seed, gir, 32);
    memcpy(seed + 32, ni, 32);
    memcpy(seed + 64, nr, 32);
    assert_true(ike_prf_plus(IKE_PRF_HMAC_SHA2_256, sk_d, 32, seed, 96, want, sizeof(want)));
    assert_true(ike_child_keymat(IKE_PRF_HMAC_SHA2_256, sk_d, 32, gir, 32, ni, 32, nr, 32, &c, &k));
    assert_memory_equal(k.ei, want, 16);
    assert_memory_equal(k.ai, want + 16, 32);
    assert_memory_equal(k.er, want + 48, 16);
    assert_memory_equal(k.ar, want + 64, 32);
    /* without PFS the seed is Ni | Nr */
    assert_true(ike_prf_plus(IKE_PRF_HMAC_SHA2_256, sk_d, 32, seed + 32, 64, want, sizeof(want)));
    assert_true(ike_child_keymat(IKE_PRF_HMAC_SHA2_256, sk_d, 32, NULL, 0, ni, 32, nr, 32, &c, &k));
    assert_memory_equal(k.ei, want, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choose),
        cmocka_unit_test(test_narrow),
        cmocka_unit_test(test_tss),
        cmocka_unit_test(test_keymat_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
