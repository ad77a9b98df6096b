/* Unit tests of esp_seal_burst()/esp_open_burst() (dataplane/esp.c) over both
 * crypto backends: bursts of mixed SAs (every cipher and integrity, with and
 * without ESN, both backends in one burst), mixed lengths and bad packets give
 * what esp_seal()/esp_open() give packet by packet; and the backend choice
 * (esp_set_backend, dp_set_crypto_backend and its log line). The self-test
 * failure path is tested in test_esp_selftest.c (a process of its own: the
 * self-test runs once per process). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/dp.h"
#include "dataplane/esp.h"
#include "dataplane/esp_crypto.h"
#include "dataplane/esp_int.h"

#define OFF ESP_HEAD_MAX
#define PKT 1600

static const struct cfg {
    enum dp_cipher cipher;
    size_t key_len;
    enum dp_integ integ;
    size_t ikey_len;
} cfgs[] = {
    {DP_CIPHER_AES_GCM_16, 20, DP_INTEG_NONE, 0},
    {DP_CIPHER_AES_GCM_16, 36, DP_INTEG_NONE, 0},
    {DP_CIPHER_CHACHA20_POLY1305, 36, DP_INTEG_NONE, 0},
    {DP_CIPHER_AES_CBC, 16, DP_INTEG_HMAC_SHA1_96, 20},
    {DP_CIPHER_AES_CBC, 32, DP_INTEG_HMAC_SHA2_256_128, 32},
    {DP_CIPHER_AES_CBC, 24, DP_INTEG_HMAC_SHA2_384_192, 48},
    {DP_CIPHER_AES_CBC, 16, DP_INTEG_HMAC_SHA2_512_256, 64},
    {DP_CIPHER_NULL, 0, DP_INTEG_NONE, 0},
};
#define NCFG (sizeof(cfgs) / sizeof(cfgs[0]))
/* a transform per cfg, ESN or not, backend: [cfg][esn][backend 0 EVP, 1 ipsec-mb] */
#define NX (NCFG * 2 * 2)

static uint8_t key[36], ikey[64];
static struct esp_xform *enc[NX], *dec[NX];
static bool have_mb;

static struct esp_xform *mk(size_t i, bool encrypt)
{
    const struct cfg *c = &cfgs[i / 4];
    struct esp_params p = {.cipher = c->cipher, .key = key, .key_len = c->key_len, .integ = c->integ,
                           .integ_key = ikey, .integ_key_len = c->ikey_len, .esn = i / 2 % 2,
                           .backend = i % 2 && have_mb ? ESP_BACKEND_IPSEC_MB : ESP_BACKEND_OPENSSL};
    struct esp_xform *x = esp_xform_new(&p, encrypt);

    assert_non_null(x);
    assert_int_equal(esp_xform_backend(x), p.backend);
    return x;
}

static int setup(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 5 + 1);
    for (size_t i = 0; i < sizeof(ikey); i++)
        ikey[i] = (uint8_t)(i * 11 + 7);
    have_mb = esp_crypto_mb_probe(NULL);
    for (size_t i = 0; i < NX; i++) {
        enc[i] = mk(i, true);
        dec[i] = mk(i, false);
    }
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    for (size_t i = 0; i < NX; i++) {
        esp_xform_free(enc[i]);
        esp_xform_free(dec[i]);
    }
    return 0;
}

static uint64_t seq_of(size_t k, size_t xi)
{
    return xi / 2 % 2 ? (uint64_t)(k + 3) << 32 | (uint32_t)(k * 977 + 1) : k + 1;
}

static void fill(uint8_t *p, size_t len, size_t k)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 7 + k);
}

/* A burst of @n packets over the transforms in turn (both backends, every cfg),
 * lengths varying: sealed as a burst and one by one (AEADs: identical bytes,
 * the IV being the sequence number; CBC: random IVs, so each is opened by the
 * other way), then opened as a burst with some packets spoiled, against
 * esp_open() of copies. */
static void burst_round(unsigned n, size_t first_len)
{
    static uint8_t a[ESP_BURST_MAX * 2][PKT], b[ESP_BURST_MAX * 2][PKT], c[ESP_BURST_MAX * 2][PKT];
    struct esp_seal_job sj[ESP_BURST_MAX * 2];
    struct esp_open_job oj[ESP_BURST_MAX * 2];

    for (unsigned k = 0; k < n; k++) {
        size_t xi = (k * 5) % NX, len = (first_len + k * 37) % 1400;

        fill(a[k] + OFF, len, k);
        memcpy(b[k], a[k], PKT);
        sj[k] = (struct esp_seal_job){.x = enc[xi], .spi = 0x100 + k, .seq = seq_of(k, xi), .next_header = 4,
                                      .inner = a[k] + OFF, .len = len};
    }
    esp_seal_burst(sj, n);
    for (unsigned k = 0; k < n; k++) {
        size_t xi = (k * 5) % NX, head = esp_head_len(enc[xi]), len = sj[k].len, got_len;
        int one = esp_seal(enc[xi], 0x100 + k, seq_of(k, xi), 4, b[k] + OFF, len);
        uint8_t *got, nh, pt[PKT];

        fill(pt, len, k);
        assert_int_equal(sj[k].rc, one);
        assert_true(one > 0);
        if (cfgs[xi / 4].cipher != DP_CIPHER_AES_CBC)
            assert_memory_equal(a[k] + OFF - head, b[k] + OFF - head, (size_t)one);
        /* each opened by the other way's transform of the other backend */
        memcpy(c[k], a[k], PKT);
        assert_int_equal(esp_open(dec[xi ^ 1], seq_of(k, xi), c[k] + OFF - head, (size_t)one, &got, &got_len, &nh),
                         ESP_OK);
        assert_int_equal(got_len, len);
        assert_memory_equal(got, pt, len);
        /* spoil some: an ICV bit, a truncation, a wrong-direction transform */
        if (k % 7 == 3)
            b[k][OFF - head + one - 1] ^= 1;
        oj[k] = (struct esp_open_job){.x = dec[xi ^ (k % 3 == 0)], .seq = seq_of(k, xi), .esp = b[k] + OFF - head,
                                      .len = k % 11 == 5 ? 9 : (size_t)one};
        if (k % 13 == 7)
            oj[k].x = enc[xi];
        memcpy(c[k], b[k], PKT);
    }
    esp_open_burst(oj, n);
    for (unsigned k = 0; k < n; k++) {
        size_t xi = (k * 5) % NX, head = esp_head_len(enc[xi]), got_len = 0;
        uint8_t *got = NULL, nh = 0;
        int rc = esp_open(oj[k].x, oj[k].seq, c[k] + OFF - head, oj[k].len, &got, &got_len, &nh);

        assert_int_equal(oj[k].rc, rc);
        if (rc == ESP_OK) {
            assert_ptr_equal(oj[k].inner, b[k] + OFF);
            assert_int_equal(oj[k].inner_len, got_len);
            assert_int_equal(oj[k].next_header, nh);
            assert_memory_equal(oj[k].inner, got, got_len);
        }
    }
}

static void test_burst_matches_single(void **st)
{
    (void)st;
#ifdef RAVEN_HAVE_IPSEC_MB
    assert_true(have_mb); /* this CPU runs ipsec-mb: both backends are in the bursts */
#else
    assert_false(have_mb); /* not built with it: the bursts are OpenSSL's alone */
#endif
    for (size_t first = 0; first < 200; first += 41) {
        burst_round(1, first);
        burst_round(17, first);
        burst_round(ESP_BURST_MAX, first);
        burst_round(ESP_BURST_MAX * 2, first); /* more than one backend burst */
    }
}

/* The ESN high bits in a CBC ICV go where the ICV is and the ICV is put back:
 * a packet that fails to open keeps its bytes. */
static void test_cbc_esn_icv_restored(void **st)
{
    static uint8_t p[PKT], q[PKT];
    size_t xi = 4 * 4 + 2 + 1; /* AES-256-CBC / SHA2-256, ESN, ipsec-mb */
    size_t head = esp_head_len(enc[xi]);
    int n = esp_seal(enc[xi], 7, 5ull << 32 | 9, 4, p + OFF, 100);
    struct esp_open_job j;

    (void)st;
    assert_true(n > 0);
    p[OFF - head + n - 20] ^= 0x10; /* in the ciphertext */
    memcpy(q, p, PKT);
    j = (struct esp_open_job){.x = dec[xi], .seq = 5ull << 32 | 9, .esp = p + OFF - head, .len = (size_t)n};
    esp_open_burst(&j, 1);
    assert_int_equal(j.rc, ESP_E_AUTH);
    assert_memory_equal(p, q, PKT); /* nothing decrypted, the ICV as it came */
}

static void test_backend_choice(void **st)
{
    char err[200] = "";
    struct dp_crypto_info info;
    struct esp_params p = {.cipher = DP_CIPHER_AES_GCM_16, .key = key, .key_len = 20};
    struct esp_xform *x1, *x2;

    (void)st;
    assert_int_equal(dp_set_crypto_backend(NULL, DP_CRYPTO_OPENSSL, err, sizeof(err)), 0);
    dp_crypto_info(NULL, &info);
    assert_string_equal(info.in_use, "openssl");
    assert_int_equal(info.configured, DP_CRYPTO_OPENSSL);
    x1 = esp_xform_new(&p, true);
#ifndef RAVEN_HAVE_IPSEC_MB
    /* not built with intel-ipsec-mb: forcing it is refused, auto is OpenSSL */
    assert_int_equal(dp_set_crypto_backend(NULL, DP_CRYPTO_IPSEC_MB, err, sizeof(err)), -ENOTSUP);
    assert_non_null(strstr(err, "not built with intel-ipsec-mb"));
    assert_int_equal(dp_set_crypto_backend(NULL, DP_CRYPTO_AUTO, err, sizeof(err)), 0);
    dp_crypto_info(NULL, &info);
    assert_string_equal(info.in_use, "openssl");
    assert_false(info.ipsec_mb_usable);
    assert_string_equal(info.ipsec_mb_arch, "none");
    assert_string_equal(info.ipsec_mb_status, "not built with intel-ipsec-mb");
    assert_int_equal(esp_xform_backend(x1), ESP_BACKEND_OPENSSL);
    esp_xform_free(x1);
    (void)x2;
    skip(); /* the ipsec-mb half of the choice */
#endif
    assert_int_equal(dp_set_crypto_backend(NULL, DP_CRYPTO_IPSEC_MB, err, sizeof(err)), 0);
    dp_crypto_info(NULL, &info);
    assert_string_equal(info.in_use, "ipsec-mb");
    assert_true(info.ipsec_mb_usable);
    assert_string_equal(info.ipsec_mb_status, "self-test passed");
    x2 = esp_xform_new(&p, true);
    /* the transform made before keeps its backend */
    assert_int_equal(esp_xform_backend(x1), ESP_BACKEND_OPENSSL);
    assert_int_equal(esp_xform_backend(x2), ESP_BACKEND_IPSEC_MB);
    assert_int_equal(dp_set_crypto_backend(NULL, DP_CRYPTO_AUTO, err, sizeof(err)), 0);
    dp_crypto_info(NULL, &info);
    assert_string_equal(info.in_use, "ipsec-mb"); /* this CPU: AVX-512 or AVX2 with AES-NI */
    assert_int_equal(dp_check_crypto_backend((enum dp_crypto_backend)7, err, sizeof(err)), -EINVAL);
    esp_xform_free(x1);
    esp_xform_free(x2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_matches_single),
        cmocka_unit_test(test_cbc_esn_icv_restored),
        cmocka_unit_test(test_backend_choice),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
