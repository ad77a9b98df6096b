/* Unit tests of the configuration reply's DNS attributes (ike_cp.c) through the
 * engine: INTERNAL_DNS_DOMAIN of RFC 8598 for each split-DNS domain, the
 * default domain first and not twice (a default domain alone is no split DNS),
 * to every client without the vendor's own attributes (Unity, FlexVPN) and to
 * one that asks for it; the client's suggested
 * domains and INTERNAL_DNSSEC_TA ignored; no domain without a DNS server to
 * resolve it; IPv4 and IPv6 DNS servers in the same reply. */
#include <arpa/inet.h>
#include <libyang/libyang.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_engine.h"
#include "tests/support/ike_client.h"
#include "tests/unit/ike_harness.h"

static const uint8_t unity[] = {0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9,
                                0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00};
static const char flexvpn[] = "FLEXVPN-SUPPORTED";

enum vendor { PLAIN, UNITY, FLEXVPN };

#define POLICY "/raven-vpn:ikev2/authorization-policy[name='g']/"

/* How often @type appears in @cp. */
static size_t count(const struct ike_cp_pld *cp, uint16_t type)
{
    size_t n = 0;

    for (size_t i = 0; i < cp->nattr; i++)
        n += cp->attr[i].type == type;
    return n;
}

static bool nth_is(const struct ike_cp_pld *cp, uint16_t type, size_t nth, const void *v, size_t len)
{
    for (size_t i = 0; i < cp->nattr; i++) {
        if (cp->attr[i].type == type && !nth--)
            return cp->attr[i].len == len && !memcmp(cp->attr[i].value, v, len);
    }
    return false;
}

static bool nth_str(const struct ike_cp_pld *cp, uint16_t type, size_t nth, const char *s)
{
    return nth_is(cp, type, nth, s, strlen(s));
}

/* The harness configuration (def-domain corp.example.org) with split DNS, and
 * DNS servers when @dns. */
static struct lyd_node *config(struct env *e, bool dns)
{
    static const char *const leaves[][2] = {
        {POLICY "split-dns", "a.example.org"},
        {POLICY "split-dns", "corp.example.org"}, /* the default domain again: sent once */
        {POLICY "split-dns", "b.example.org."},   /* the root's dot is not sent */
        {POLICY "dns/primary", "10.1.1.53"},
        {POLICY "ipv6-dns/primary", "2001:db8::53"},
        {POLICY "ipv6-dns/secondary", "2001:db8::54"},
    };
    struct lyd_node *tree = NULL, *n = NULL;

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    for (size_t i = 0; i < (dns ? 6 : 3); i++)
        assert_int_equal(lyd_new_path(tree, NULL, leaves[i][0], leaves[i][1], 0, &n), 0);
    return tree;
}

/* One session of a client announcing @v whose configuration request adds
 * @extra; its reply in *@cp (valid until the next session). */
static void session(struct env *e, struct lyd_node *tree, enum vendor v, const struct ike_cp_attr *extra,
                    size_t nextra, struct ike_cp_pld *cp)
{
    struct ike_engine *eng = engine(e, tree);
    struct ike_client c;
    struct ike_buf b = {0};

    ike_client_init(&c, IKE_DH_ECP256);
    if (v != PLAIN) {
        c.vid[0] = v == UNITY ? unity : (const uint8_t *)flexvpn;
        c.vid_len[0] = v == UNITY ? sizeof(unity) : sizeof(flexvpn) - 1;
        c.nvid = 1;
    }
    c.cp_extra = extra;
    c.ncp_extra = nextra;
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    *cp = c.cp_reply;
    assert_int_equal(cp->cfg_type, 2); /* CFG_REPLY */
    ike_client_fini(&c);
    ike_engine_free(eng);
}

static void assert_domains(const struct ike_cp_pld *cp)
{
    assert_int_equal(count(cp, CFG_INTERNAL_DNS_DOMAIN), 3);
    assert_true(nth_str(cp, CFG_INTERNAL_DNS_DOMAIN, 0, "corp.example.org"));
    assert_true(nth_str(cp, CFG_INTERNAL_DNS_DOMAIN, 1, "a.example.org"));
    assert_true(nth_str(cp, CFG_INTERNAL_DNS_DOMAIN, 2, "b.example.org"));
}

/* A client without Unity gets the domains unasked, beside both families of
 * DNS servers; no DNSSEC trust anchor. */
static void test_domains_to_plain_client(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = config(e, true);
    static const uint8_t dns6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x53};
    static const uint8_t dns6b[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x54};
    static const uint8_t dns4[4] = {10, 1, 1, 53};
    struct ike_cp_pld cp;

    session(e, tree, PLAIN, NULL, 0, &cp);
    assert_domains(&cp);
    assert_true(nth_is(&cp, CFG_INTERNAL_IP4_DNS, 0, dns4, 4));
    assert_true(nth_is(&cp, CFG_INTERNAL_IP6_DNS, 0, dns6, 16));
    assert_true(nth_is(&cp, CFG_INTERNAL_IP6_DNS, 1, dns6b, 16));
    assert_int_equal(count(&cp, 26), 0);
    assert_int_equal(count(&cp, CFG_UNITY_DEF_DOMAIN), 0);
    assert_int_equal(count(&cp, CFG_UNITY_SPLITDNS_NAME), 0);
    lyd_free_all(tree);
}

/* A Unity or FlexVPN client has the vendor's attributes; INTERNAL_DNS_DOMAIN
 * only when its request names it. A suggested domain is the client's wish, not the policy,
 * and INTERNAL_DNSSEC_TA in a request is ignored. */
static void test_vendor_clients_ask(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = config(e, true);
    static const uint8_t ta[] = {0x12, 0x34, 8, 2, 0xde, 0xad}; /* key tag, algorithm, digest type, digest */
    const struct ike_cp_attr ask[] = {
        {.type = CFG_INTERNAL_DNS_DOMAIN, .value = (const uint8_t *)"evil.example", .len = 12},
        {.type = 26, .value = ta, .len = sizeof(ta)},
        {.type = 26}, /* empty: as malformed as a client can make it */
    };
    struct ike_cp_pld cp;

    session(e, tree, UNITY, NULL, 0, &cp);
    assert_int_equal(count(&cp, CFG_INTERNAL_DNS_DOMAIN), 0);
    assert_true(nth_str(&cp, CFG_UNITY_DEF_DOMAIN, 0, "corp.example.org"));
    assert_int_equal(count(&cp, CFG_UNITY_SPLITDNS_NAME), 3);
    assert_true(nth_str(&cp, CFG_UNITY_SPLITDNS_NAME, 0, "a.example.org"));

    session(e, tree, FLEXVPN, NULL, 0, &cp);
    assert_int_equal(count(&cp, CFG_INTERNAL_DNS_DOMAIN), 0);
    assert_true(nth_str(&cp, CFG_UNITY_DEF_DOMAIN, 0, "corp.example.org"));
    assert_true(nth_str(&cp, CFG_UNITY_SPLITDNS_NAME, 2, "b.example.org"));
    assert_int_equal(count(&cp, CFG_UNITY_BANNER), 0); /* Unity's own */

    session(e, tree, UNITY, ask, 3, &cp);
    assert_domains(&cp);
    assert_int_equal(count(&cp, 26), 0);
    assert_int_equal(count(&cp, CFG_UNITY_SPLITDNS_NAME), 3);

    session(e, tree, PLAIN, ask, 1, &cp); /* a plain client asking: the same domains */
    assert_domains(&cp);
    lyd_free_all(tree);
}

/* A default domain without split-dns domains is no split DNS: the client
 * keeps sending every query through the tunnel, so no INTERNAL_DNS_DOMAIN. */
static void test_default_domain_alone_is_not_split(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = NULL, *n = NULL;
    struct ike_cp_pld cp;

    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(lyd_new_path(tree, NULL, POLICY "dns/primary", "10.1.1.53", 0, &n), 0);
    session(e, tree, PLAIN, NULL, 0, &cp);
    assert_int_equal(count(&cp, CFG_INTERNAL_IP4_DNS), 1);
    assert_int_equal(count(&cp, CFG_INTERNAL_DNS_DOMAIN), 0);
    session(e, tree, UNITY, NULL, 0, &cp); /* Unity's default domain is a search suffix: sent */
    assert_true(nth_str(&cp, CFG_UNITY_DEF_DOMAIN, 0, "corp.example.org"));
    lyd_free_all(tree);
}

/* Domains with no DNS server to resolve them are not sent (RFC 8598 3.3: a
 * reply with INTERNAL_DNS_DOMAIN carries INTERNAL_IP4_DNS or INTERNAL_IP6_DNS). */
static void test_no_domain_without_server(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = config(e, false);
    const struct ike_cp_attr ask = {.type = CFG_INTERNAL_DNS_DOMAIN};
    struct ike_cp_pld cp;

    session(e, tree, PLAIN, &ask, 1, &cp);
    assert_int_equal(count(&cp, CFG_INTERNAL_DNS_DOMAIN), 0);
    assert_int_equal(count(&cp, CFG_INTERNAL_IP4_DNS), 0);
    lyd_free_all(tree);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domains_to_plain_client),
        cmocka_unit_test(test_vendor_clients_ask),
        cmocka_unit_test(test_default_domain_alone_is_not_split),
        cmocka_unit_test(test_no_domain_without_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
