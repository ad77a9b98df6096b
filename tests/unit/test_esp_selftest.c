/* The self-test failure path of the intel-ipsec-mb backend (dataplane/
 * esp_crypto_mb.c, esp_selftest.c): with one expected vector spoiled before the
 * probe (the test hook esp_crypto_selftest_corrupt), ipsec-mb is not used, the
 * log says so, AUTO falls back to OpenSSL EVP, forcing ipsec-mb is refused with
 * a clear error, and new transforms are EVP ones. Its own process: the probe
 * runs once per process. The self-test itself passing on every backend is
 * test_esp_burst's (test_backend_choice) and test_esp's (its ipsec-mb group). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/dp.h"
#include "dataplane/esp.h"
#include "dataplane/esp_crypto.h"

/* Runs @fn with stderr (the log) going to a file; its text in @out. */
static void capture(void (*fn)(void), char *out, size_t cap)
{
    FILE *f = tmpfile();
    int saved = dup(2);
    size_t n;

    assert_non_null(f);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_true(dup2(fileno(f), 2) == 2);
    fn();
    fflush(stderr);
    assert_true(dup2(saved, 2) == 2);
    close(saved);
    rewind(f);
    n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    fclose(f);
}

static int rc_forced;
static char err_forced[256];

static void force_mb(void)
{
    rc_forced = dp_set_crypto_backend(NULL, DP_CRYPTO_IPSEC_MB, err_forced, sizeof(err_forced));
}

static void test_selftest_failure_falls_back(void **st)
{
    static const char *const names[] = {"AES-GCM-128",
                                        "AES-GCM-256",
                                        "ChaCha20-Poly1305",
                                        "AES-128-CBC with HMAC-SHA1-96",
                                        "AES-256-CBC with HMAC-SHA2-256-128",
                                        "HMAC-SHA1-96",
                                        "HMAC-SHA2-256-128",
                                        "HMAC-SHA2-384-192",
                                        "HMAC-SHA2-512-256"};
    char log[4096], err[256];
    struct dp_crypto_info info;
    const char *why;
    uint8_t key[20] = {1};
    struct esp_params p = {.cipher = DP_CIPHER_AES_GCM_16, .key = key, .key_len = 20};
    struct esp_xform *x;

    (void)st;
#ifndef RAVEN_HAVE_IPSEC_MB
    (void)names, (void)log, (void)err, (void)info, (void)why, (void)p, (void)x;
    skip(); /* not built with intel-ipsec-mb: there is no ipsec-mb self-test */
#endif
    /* the backend's own vectors pass on an unspoiled run (not the probe's: that
     * one runs once) */
    assert_true(esp_crypto_selftest(&esp_crypto_evp, &why));
    esp_crypto_selftest_corrupt(1); /* AES-GCM-128's expected tag */
    capture(force_mb, log, sizeof(log));
    assert_int_equal(rc_forced, -ENOTSUP);
    assert_non_null(strstr(err_forced, "crypto-backend ipsec-mb is not usable here: self-test failed (AES-GCM-128)"));
    assert_non_null(strstr(log, "intel-ipsec-mb not used: self-test failed (AES-GCM-128); OpenSSL EVP instead"));
    assert_false(esp_crypto_mb_probe(&why));
    assert_string_equal(why, "self-test failed (AES-GCM-128)");
    /* auto chooses OpenSSL, forcing stays refused, and nothing changed meanwhile */
    assert_int_equal(dp_set_crypto_backend(NULL, DP_CRYPTO_AUTO, err, sizeof(err)), 0);
    assert_int_equal(esp_set_backend(ESP_BACKEND_IPSEC_MB), -ENOTSUP);
    assert_int_equal(esp_backend_default(), ESP_BACKEND_OPENSSL);
    dp_crypto_info(NULL, &info);
    assert_string_equal(info.in_use, "openssl");
    assert_false(info.ipsec_mb_usable);
    assert_string_equal(info.ipsec_mb_arch, "none");
    x = esp_xform_new(&p, true);
    assert_non_null(x);
    assert_int_equal(esp_xform_backend(x), ESP_BACKEND_OPENSSL);
    esp_xform_free(x);
    /* every vector spoiled in turn fails the test of its own algorithm */
    for (unsigned i = 1; i <= sizeof(names) / sizeof(names[0]); i++) {
        esp_crypto_selftest_corrupt(i);
        why = NULL;
        assert_false(esp_crypto_selftest(&esp_crypto_evp, &why));
        assert_non_null(why);
        assert_string_equal(why, names[i - 1]);
    }
    esp_crypto_selftest_corrupt(0);
    assert_true(esp_crypto_selftest(&esp_crypto_evp, &why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selftest_failure_falls_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
