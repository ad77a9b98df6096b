/* Unit tests of the dataplane's SA table (dataplane/dp_table.c): inbound SPIs are
 * unique, outbound SPIs (the peers' choice) may repeat across sessions, keys are
 * checked against the transform, and a session's SAs move together. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/dp.h"

static struct dp_sa gcm(uint64_t session, uint32_t spi, bool inbound)
{
    struct dp_sa sa = {.spi = spi, .inbound = inbound, .session_id = session, .cipher = DP_CIPHER_AES_GCM_16,
                       .key_len = 20};

    return sa;
}

static void test_names(void **st)
{
    struct dp *dp = dp_new();
    struct dp_sa a = gcm(1, 0xc0000001, false), b = gcm(2, 0xc0000001, false), in = gcm(1, 0x1000, true);
    struct dp_sa_stats s;

    assert_int_equal(dp_sa_add(dp, &a), 0);
    assert_int_equal(dp_sa_add(dp, &b), 0); /* two clients chose the same SPI */
    assert_int_equal(dp_sa_add(dp, &a), -EEXIST);
    assert_int_equal(dp_sa_add(dp, &in), 0);
    in.session_id = 2;
    assert_int_equal(dp_sa_add(dp, &in), -EEXIST); /* inbound SPIs are ours and unique */
    assert_true(dp_spi_in_use(dp, 0x1000));
    assert_int_equal(dp_sa_count(dp), 3);
    assert_int_equal(dp_sa_stats(dp, 2, 0xc0000001, false, &s), 0);
    assert_int_equal(dp_sa_del(dp, 1, 0xc0000001, false, NULL), 0);
    assert_int_equal(dp_sa_stats(dp, 1, 0xc0000001, false, &s), -ENOENT);
    assert_int_equal(dp_sa_stats(dp, 2, 0xc0000001, false, &s), 0);
    dp_free(dp);
}

static void test_keys_and_move(void **st)
{
    struct dp *dp = dp_new();
    struct dp_sa bad = gcm(1, 0x2000, true), cbc = gcm(1, 0x2001, true);
    struct sockaddr_storage l = {.ss_family = AF_INET}, p = {.ss_family = AF_INET};

    bad.key_len = 17;
    assert_int_equal(dp_sa_add(dp, &bad), -EINVAL);
    bad = gcm(1, 10, true); /* SPIs below 256 are reserved (RFC 4303) */
    assert_int_equal(dp_sa_add(dp, &bad), -EINVAL);
    cbc.cipher = DP_CIPHER_AES_CBC;
    cbc.key_len = 16;
    assert_int_equal(dp_sa_add(dp, &cbc), -EINVAL); /* CBC needs an integrity key */
    cbc.integ = DP_INTEG_HMAC_SHA2_256_128;
    cbc.integ_key_len = 32;
    assert_int_equal(dp_sa_add(dp, &cbc), 0);
    assert_int_equal(dp_sa_add(dp, &(struct dp_sa){.spi = 0x3000, .session_id = 1, .cipher = DP_CIPHER_AES_GCM_16,
                                                   .key_len = 36}),
                     0);
    assert_int_equal(dp_session_move(dp, 1, &l, &p, true), 2);
    assert_int_equal(dp_session_move(dp, 7, &l, &p, true), 0);
    dp_free(dp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_keys_and_move),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
