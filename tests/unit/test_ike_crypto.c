/* Known-answer tests of the IKEv2 crypto glue (daemon/ike/ike_crypto.c) against
 * published vectors: RFC 5903 8.1 (ECP-256), RFC 7748 6.1 (X25519), RFC 4231 and
 * RFC 2202 (HMAC PRFs), the GCM specification's test case 4 (AES-GCM, as RFC 4106
 * lays out salt and IV), RFC 7539 2.8.2 (ChaCha20-Poly1305, as RFC 7634 does).
 * prf+ is checked against Python's hmac module (an independent implementation).
 * Plus the RFC 6989 refusals of bad public values and agreement in every group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ike/ike_crypto.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;

    while (*s) {
        unsigned v;
        if (*s == ' ' || *s == '\n') {
            s++;
            continue;
        }
        assert_true(sscanf(s, "%2x", &v) == 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

#define HEX(name, str)                                                                                             \
    uint8_t name[512];                                                                                             \
    size_t name##_len __attribute__((unused)) = unhex(str, name, sizeof(name))

static void test_ecp256_rfc5903(void **state)
{
    HEX(i, "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433");
    HEX(r, "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53");
    HEX(gi, "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180"
            "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3");
    HEX(gr, "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63"
            "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB");
    HEX(girx, "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE");
    struct ike_dh *di = ike_dh_new_from_priv(IKE_DH_ECP256, i, i_len);
    struct ike_dh *dr = ike_dh_new_from_priv(IKE_DH_ECP256, r, r_len);
    uint8_t s[64];

    assert_non_null(di);
    assert_non_null(dr);
    /* the KE value is x | y (64 bytes); the shared secret is x alone */
    assert_int_equal(ike_dh_derive(di, gr, gr_len, s, sizeof(s)), 32);
    assert_memory_equal(s, girx, 32);
    assert_int_equal(ike_dh_derive(dr, gi, gi_len, s, sizeof(s)), 32);
    assert_memory_equal(s, girx, 32);
    /* a point off the curve is refused (RFC 6989 2.3) */
    gr[63] ^= 1;
    assert_int_equal(ike_dh_derive(di, gr, gr_len, s, sizeof(s)), 0);
    /* so is a value of the wrong length (e.g. with the 0x04 format byte) */
    assert_int_equal(ike_dh_derive(di, gi, 63, s, sizeof(s)), 0);
    ike_dh_free(di);
    ike_dh_free(dr);
}

static void test_x25519_rfc7748(void **state)
{
    HEX(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    HEX(apub, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    HEX(bpub, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    HEX(k, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    struct ike_dh *d = ike_dh_new_from_priv(IKE_DH_CURVE25519, a, a_len);
    uint8_t pub[32], s[32], zero[32] = {0};

    assert_non_null(d);
    assert_int_equal(ike_dh_public(d, pub, sizeof(pub)), 32);
    assert_memory_equal(pub, apub, 32);
    assert_int_equal(ike_dh_derive(d, bpub, bpub_len, s, sizeof(s)), 32);
    assert_memory_equal(s, k, 32);
    /* a low-order point gives the all-zero secret: refused */
    assert_int_equal(ike_dh_derive(d, zero, sizeof(zero), s, sizeof(s)), 0);
    ike_dh_free(d);
}

static void test_groups_agree_and_refuse(void **state)
{
    static const enum ike_dh_group groups[] = {IKE_DH_MODP1024, IKE_DH_MODP2048, IKE_DH_MODP3072,
                                               IKE_DH_ECP256,   IKE_DH_ECP384,   IKE_DH_ECP521,
                                               IKE_DH_CURVE25519};

    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        struct ike_dh *a = ike_dh_new(groups[g]), *b = ike_dh_new(groups[g]);
        size_t n = ike_dh_pub_len(groups[g]);
        uint8_t pa[512], pb[512], sa[512], sb[512];
        size_t la, lb;

        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(ike_dh_public(a, pa, sizeof(pa)), n);
        assert_int_equal(ike_dh_public(b, pb, sizeof(pb)), n);
        la = ike_dh_derive(a, pb, n, sa, sizeof(sa));
        lb = ike_dh_derive(b, pa, n, sb, sizeof(sb));
        assert_true(la > 0);
        assert_int_equal(la, lb);
        assert_memory_equal(sa, sb, la);
        if (groups[g] <= IKE_DH_MODP4096) {
            /* RFC 6989 2.2: y = 0, 1, p - 1 and p itself are refused */
            uint8_t y[512] = {0};
            assert_int_equal(ike_dh_derive(a, y, n, sa, sizeof(sa)), 0);
            y[n - 1] = 1;
            assert_int_equal(ike_dh_derive(a, y, n, sa, sizeof(sa)), 0);
            memset(y, 0xff, n); /* p of these groups starts and ends with 64 one bits: y = 2^k-1 > p */
            assert_int_equal(ike_dh_derive(a, y, n, sa, sizeof(sa)), 0);
        }
        ike_dh_free(a);
        ike_dh_free(b);
    }
}

static void test_prf_vectors(void **state)
{
    static const struct {
        enum ike_prf prf;
        const char *out;
    } v[] = {
        {IKE_PRF_HMAC_SHA1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
        {IKE_PRF_HMAC_SHA2_256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {IKE_PRF_HMAC_SHA2_384, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
                                "8e2240ca5e69e2c78b3239ecfab21649"},
        {IKE_PRF_HMAC_SHA2_512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                                "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    };
    const char *data = "what do ya want for nothing?";

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        HEX(want, v[i].out);
        uint8_t out[64];

        assert_int_equal(ike_prf(v[i].prf, (const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data), out),
                         want_len);
        assert_memory_equal(out, want, want_len);
    }
}

static void test_prf_plus(void **state)
{
    HEX(want, "a2392e429a99b173341b368bb5ce320bfd483d89567c14ec187c2d77e3c0a208"
              "ba45d21d42611712996c0cd4b329ac8681e093a8a5bbbbf0fb8c9d1cf674f742"
              "3fe3d2fbd6641ff544749daa37804f04");
    uint8_t out[80];

    assert_true(ike_prf_plus(IKE_PRF_HMAC_SHA2_256, (const uint8_t *)"key", 3, (const uint8_t *)"seed", 4, out, 80));
    assert_memory_equal(out, want, 80);
    /* more than 255 blocks cannot be produced */
    {
        uint8_t *big = malloc(256 * 32);
        assert_false(ike_prf_plus(IKE_PRF_HMAC_SHA2_256, (const uint8_t *)"k", 1, (const uint8_t *)"s", 1, big,
                                  256 * 32));
        free(big);
    }
}

/* The keys are the prf+ stream cut in RFC 7296 order. */
static void test_derive_keys_layout(void **state)
{
    uint8_t ni[32] = {1}, nr[32] = {2}, gir[32] = {3}, spi_i[8] = {4}, spi_r[8] = {5};
    uint8_t seed[80], skeyseed[32], stream[3 * 32 + 2 * 36];
    struct ike_keys k;

    assert_true(ike_derive_keys(IKE_PRF_HMAC_SHA2_256, ni, 32, nr, 32, gir, 32, spi_i, spi_r, 0, 36, &k));
    memcpy(seed, ni, 32);
    memcpy(seed + 32, nr, 32);
    assert_int_equal(ike_prf(IKE_PRF_HMAC_SHA2_256, seed, 64, gir, 32, skeyseed), 32);
    memcpy(seed + 64, spi_i, 8);
    memcpy(seed + 72, spi_r, 8);
    assert_true(ike_prf_plus(IKE_PRF_HMAC_SHA2_256, skeyseed, 32, seed, 80, stream, sizeof(stream)));
    assert_memory_equal(k.sk_d, stream, 32);
    assert_memory_equal(k.sk_ei, stream + 32, 36);
    assert_memory_equal(k.sk_er, stream + 68, 36);
    assert_memory_equal(k.sk_pi, stream + 104, 32);
    assert_memory_equal(k.sk_pr, stream + 136, 32);
    ike_keys_wipe(&k);
}

static void test_aes_gcm(void **state)
{
    /* key || salt, with the salt the first 4 bytes of the GCM IV, as RFC 4106/5282 lay it out */
    HEX(key, "feffe9928665731c6d6a8f9467308308 cafebabe");
    HEX(iv, "facedbaddecaf888");
    HEX(pt, "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    HEX(aad, "feedfacedeadbeeffeedfacedeadbeefabaddad2");
    HEX(ct, "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091");
    HEX(tag, "5bc94fbc3221a5db94fae95ae7121a47");
    uint8_t out[64], t[16], back[64];

    assert_true(ike_aead_seal(IKE_AEAD_AES_GCM_16, key, key_len, iv, aad, aad_len, pt, pt_len, out, t));
    assert_memory_equal(out, ct, ct_len);
    assert_memory_equal(t, tag, 16);
    assert_true(ike_aead_open(IKE_AEAD_AES_GCM_16, key, key_len, iv, aad, aad_len, ct, ct_len, tag, back));
    assert_memory_equal(back, pt, pt_len);
    tag[0] ^= 1;
    assert_false(ike_aead_open(IKE_AEAD_AES_GCM_16, key, key_len, iv, aad, aad_len, ct, ct_len, tag, back));
}

static void test_chacha20_poly1305(void **state)
{
    HEX(key, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f 07000000");
    HEX(iv, "4041424344454647");
    HEX(aad, "50515253c0c1c2c3c4c5c6c7");
    HEX(ct, "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
            "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
            "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
            "3ff4def08e4b7a9de576d26586cec64b6116");
    HEX(tag, "1ae10b594f09e26a7e902ecbd0600691");
    const char *pt = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
                     "sunscreen would be it.";
    uint8_t out[128], t[16];

    assert_int_equal(strlen(pt), ct_len);
    assert_true(ike_aead_seal(IKE_AEAD_CHACHA20_POLY1305, key, key_len, iv, aad, aad_len, (const uint8_t *)pt,
                              ct_len, out, t));
    assert_memory_equal(out, ct, ct_len);
    assert_memory_equal(t, tag, 16);
    ct[0] ^= 1;
    assert_false(ike_aead_open(IKE_AEAD_CHACHA20_POLY1305, key, key_len, iv, aad, aad_len, ct, ct_len, tag, out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecp256_rfc5903),  cmocka_unit_test(test_x25519_rfc7748),
        cmocka_unit_test(test_groups_agree_and_refuse), cmocka_unit_test(test_prf_vectors),
        cmocka_unit_test(test_prf_plus),        cmocka_unit_test(test_derive_keys_layout),
        cmocka_unit_test(test_aes_gcm),         cmocka_unit_test(test_chacha20_poly1305),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
