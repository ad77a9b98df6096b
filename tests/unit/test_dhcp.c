/* The DHCP relay codec (daemon/pool/dhcp.c): what a relayed DISCOVER, REQUEST and
 * RELEASE carry (RFC 2131, RFC 2132 options), and a server's reply read back,
 * including the replies it must refuse. dnsmasq as the real server is in
 * tests/integration/test_eap_radius.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/pool/dhcp.h"

static const uint8_t mac[6] = {2, 0x11, 0x22, 0x33, 0x44, 0x55};

/* The option @code of a built message, NULL if absent. */
static const uint8_t *option(const uint8_t *b, size_t n, uint8_t code)
{
    for (size_t i = 240; i < n && b[i] != 255;) {
        if (b[i] == 0) {
            i++;
            continue;
        }
        if (b[i] == code)
            return b + i;
        i += 2u + b[i + 1];
    }
    return NULL;
}

static void test_requests(void **state)
{
    uint8_t b[DHCP_MAX_LEN];
    size_t n;
    const uint8_t *o;

    (void)state;
    n = dhcp_build(b, sizeof(b), DHCP_DISCOVER, 0x01020304, 0x0ad20001, 0, mac, "alice", 0, 0);
    assert_true(n >= 300);
    assert_int_equal(b[0], 1);                                            /* BOOTREQUEST */
    assert_memory_equal(b + 4, "\x01\x02\x03\x04", 4);                    /* xid */
    assert_memory_equal(b + 24, "\x0a\xd2\x00\x01", 4);                   /* giaddr */
    assert_memory_equal(b + 28, mac, 6);                                  /* chaddr */
    assert_memory_equal(b + 236, "\x63\x82\x53\x63", 4);                  /* magic cookie */
    assert_non_null(o = option(b, n, 53));
    assert_int_equal(o[2], DHCP_DISCOVER);
    assert_non_null(o = option(b, n, 61));
    assert_int_equal(o[1], 6);
    assert_memory_equal(o + 3, "alice", 5);
    assert_null(option(b, n, 50));
    n = dhcp_build(b, sizeof(b), DHCP_REQUEST, 7, 0x0ad20001, 0, mac, "alice", 0x0ad2000a, 0x0a000001);
    assert_non_null(o = option(b, n, 50));
    assert_memory_equal(o + 2, "\x0a\xd2\x00\x0a", 4);
    assert_non_null(o = option(b, n, 54));
    assert_memory_equal(o + 2, "\x0a\x00\x00\x01", 4);
    n = dhcp_build(b, sizeof(b), DHCP_RELEASE, 8, 0x0ad20001, 0x0ad2000a, mac, "alice", 0, 0x0a000001);
    assert_memory_equal(b + 12, "\x0a\xd2\x00\x0a", 4); /* ciaddr */
    assert_null(option(b, n, 55));
    assert_int_equal(dhcp_build(b, 100, DHCP_DISCOVER, 1, 1, 0, mac, "x", 0, 0), 0); /* too small a buffer */
}

static void test_replies(void **state)
{
    uint8_t b[DHCP_MAX_LEN];
    size_t n = dhcp_build(b, sizeof(b), DHCP_DISCOVER, 0x55, 0x0ad20001, 0, mac, NULL, 0, 0);
    static const uint8_t opts[] = {53, 1, DHCP_ACK, 1, 4, 255, 255, 255, 0, 6, 8, 10, 0, 0, 53, 10, 0, 0, 54,
                                   51, 4, 0, 0, 0x0e, 0x10, 54, 4, 10, 0, 0, 1, 255};
    struct dhcp_msg m;

    (void)state;
    b[0] = 2;
    memcpy(b + 16, "\x0a\xd2\x00\x0a", 4);
    memcpy(b + 240, opts, sizeof(opts));
    assert_true(dhcp_parse(b, n, &m));
    assert_int_equal(m.type, DHCP_ACK);
    assert_int_equal(m.xid, 0x55);
    assert_int_equal(m.yiaddr, 0x0ad2000a);
    assert_int_equal(m.netmask, 0xffffff00);
    assert_int_equal(m.ndns, 2);
    assert_int_equal(m.dns[1], 0x0a000036);
    assert_int_equal(m.lease_s, 3600);
    assert_true(m.has_server_id);
    assert_int_equal(m.server_id, 0x0a000001);
    /* refused: a request, no cookie, an option running past the end, no type */
    b[0] = 1;
    assert_false(dhcp_parse(b, n, &m));
    b[0] = 2;
    assert_false(dhcp_parse(b, 239, &m));
    b[240 + sizeof(opts) - 1] = 6;
    b[240 + sizeof(opts)] = 200;
    assert_false(dhcp_parse(b, 240 + sizeof(opts) + 2, &m));
    b[242] = 0; /* message type option now empty of meaning: type 0 */
    b[240 + sizeof(opts) - 1] = 255;
    assert_false(dhcp_parse(b, n, &m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_requests), cmocka_unit_test(test_replies)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
