/* Unit tests of the dataplane's SA table (dataplane/dp_table.c): inbound SPIs are
 * unique, outbound SPIs (the peers' choice) may repeat across sessions, keys are
 * checked against the transform, and a session's SAs move together; the workers'
 * view: SPI lookup, longest-prefix match of client prefixes (selector ranges split
 * into prefixes), a rekeyed prefix moving to the new SA and back when it goes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include "dataplane/dp_int.h"

static struct dp_sa gcm(uint64_t session, uint32_t spi, bool inbound)
{
    struct dp_sa sa = {.spi = spi, .inbound = inbound, .session_id = session, .cipher = DP_CIPHER_AES_GCM_16,
                       .key_len = 20};

    return sa;
}

static struct dp_sa routed(uint64_t session, uint32_t spi, const char *start, const char *end)
{
    struct dp_sa sa = gcm(session, spi, false);

    sa.nsel = 1;
    sa.sel[0].family = AF_INET;
    inet_pton(AF_INET, start, sa.sel[0].start);
    inet_pton(AF_INET, end, sa.sel[0].end);
    return sa;
}

static uint32_t route_spi(struct dp *dp, const char *addr)
{
    uint8_t a[4];
    struct dp_rsa *r;

    inet_pton(AF_INET, addr, a);
    rcu_thread_online();
    r = dp_lookup_route(dp, AF_INET, a);
    rcu_thread_offline();
    return r ? r->conf.spi : 0;
}

static void test_worker_view(void **st)
{
    struct dp *dp = dp_new();
    struct dp_sa host = routed(1, 0x100, "10.1.0.5", "10.1.0.5");
    struct dp_sa range = routed(2, 0x200, "10.1.0.1", "10.1.0.14"); /* .1/32 .2/31 .4/30 .8/30 .12/31 .14/32 */
    struct dp_sa wide = routed(3, 0x300, "10.0.0.0", "10.255.255.255");
    struct dp_sa rekeyed = routed(2, 0x201, "10.1.0.1", "10.1.0.14");
    struct dp_sa in = gcm(1, 0x4000, true);
    struct dp_sa bad = routed(4, 0x400, "10.1.0.9", "10.1.0.8");

    (void)st;
    assert_int_equal(dp_sa_add(dp, &wide), 0);
    assert_int_equal(dp_sa_add(dp, &range), 0);
    assert_int_equal(dp_sa_add(dp, &host), 0);
    assert_int_equal(dp_sa_add(dp, &in), 0);
    assert_int_equal(dp_sa_add(dp, &bad), -EINVAL); /* start after end */
    assert_int_equal(route_spi(dp, "10.1.0.5"), 0x100); /* /32 beats the range's /30 */
    assert_int_equal(route_spi(dp, "10.1.0.4"), 0x200);
    assert_int_equal(route_spi(dp, "10.1.0.1"), 0x200);
    assert_int_equal(route_spi(dp, "10.1.0.14"), 0x200);
    assert_int_equal(route_spi(dp, "10.1.0.0"), 0x300); /* just outside the range */
    assert_int_equal(route_spi(dp, "10.1.0.15"), 0x300);
    assert_int_equal(route_spi(dp, "11.0.0.1"), 0);
    rcu_thread_online();
    assert_non_null(dp_lookup_in(dp, 0x4000));
    assert_null(dp_lookup_in(dp, 0x4001));
    assert_null(dp_lookup_in(dp, 0x100)); /* outbound SPIs are not looked up inbound */
    rcu_thread_offline();
    /* a rekey: the new SA takes the prefixes at once, the old one leaves them */
    assert_int_equal(dp_sa_add(dp, &rekeyed), 0);
    assert_int_equal(route_spi(dp, "10.1.0.9"), 0x201);
    assert_int_equal(dp_sa_del(dp, 2, 0x201, false, NULL), 0); /* the newer goes first (e.g. a failed rekey) */
    assert_int_equal(route_spi(dp, "10.1.0.9"), 0x200);
    assert_int_equal(dp_sa_del(dp, 2, 0x200, false, NULL), 0);
    assert_int_equal(route_spi(dp, "10.1.0.9"), 0x300);
    assert_int_equal(dp_sa_del(dp, 3, 0x300, false, NULL), 0);
    assert_int_equal(route_spi(dp, "10.1.0.9"), 0);
    assert_int_equal(route_spi(dp, "10.1.0.5"), 0x100);
    dp_free(dp);
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
        cmocka_unit_test(test_worker_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
