/* Unit tests of a session's authorization merge (daemon/session/sess_authz.c,
 * SPEC S5): two authorization policies and two RADIUS answers that set every
 * attribute, each with its own values, are merged in every S5 arrangement and
 * the result is checked attribute by attribute: the user beats the group, the
 * group first with override, the cached answer only for what the explicit
 * user gave nothing of and still before the group, a source that sets nothing
 * letting the next one fill everything, the policy named "default" only
 * without any other source, the split subnets of the first source that gives
 * any (a RADIUS access list resolved through the callback), and the sources
 * string. Also the prefix lists: each prefix once however it is written, the
 * cap, what does not parse. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "daemon/session/sess_authz.h"

/* ---- sources with their own values ---- */

enum { POL, RAD };
enum { S_NAME, S_POOL, S_POOL6, S_BANNER, S_DOMAIN, S_URL, S_VERSION, S_DHCP, S_GIADDR, S_SPLIT, S_BACKUP, S_IFACE,
       S_N };
static const char *const sname[S_N] = {"name",    "pool",  "pool6",  "banner", "domain", "url",
                                       "version", "dhcp",  "giaddr", "split",  "backup", "iface"};
static char strs[2][3][S_N][32];

/* The string @i of source kind @src (policy or RADIUS) number @k. */
static char *str(int src, int k, int i)
{
    snprintf(strs[src][k][i], sizeof(strs[src][k][i]), "%s-%s-%d", src == POL ? "pol" : "rad", sname[i], k);
    return strs[src][k][i];
}

/* A number of source @src number @k, apart from every other source's. */
static uint32_t num(int src, int k, uint32_t base)
{
    return base + (uint32_t)src * 50 + (uint32_t)k;
}

static void addr6(uint8_t out[16], int src, int k)
{
    memset(out, 0, 16);
    out[0] = 0xfd;
    out[14] = (uint8_t)src;
    out[15] = (uint8_t)k;
}

/* Policy @k: every attribute set, split subnet 10.k.0.0/16. */
static void fill_pol(struct sess_authz_pol *p, int k)
{
    char pfx[32];

    memset(p, 0, sizeof(*p));
    p->name = str(POL, k, S_NAME);
    p->pool = str(POL, k, S_POOL);
    p->pool6 = str(POL, k, S_POOL6);
    p->banner = str(POL, k, S_BANNER);
    p->def_domain = str(POL, k, S_DOMAIN);
    p->cfg_url = str(POL, k, S_URL);
    p->cfg_version = str(POL, k, S_VERSION);
    p->dhcp_server = str(POL, k, S_DHCP);
    p->dhcp_giaddr = str(POL, k, S_GIADDR);
    addr6(p->dns6[0], POL, k);
    p->ndns6 = 1;
    p->has_netmask = true;
    p->netmask = num(POL, k, 0xffff0000);
    for (int i = 0; i < k; i++) {
        p->dns[i] = num(POL, k, 0x0a000000 + (uint32_t)i * 0x100);
        p->wins[i] = num(POL, k, 0x0b000000 + (uint32_t)i * 0x100);
    }
    p->ndns = p->nwins = k;
    snprintf(pfx, sizeof(pfx), "10.%d.0.0/16", k);
    sess_prefixes_add(&p->subnets, pfx);
    p->split_dns[p->nsplit_dns++] = str(POL, k, S_SPLIT);
    p->backup[p->nbackup++] = str(POL, k, S_BACKUP);
    p->pfs = k == 1;
    p->include_local_lan = k != 1;
    p->smartcard = k == 1;
    p->session_lifetime = num(POL, k, 1000);
    p->flow_limit = num(POL, k, 0);
    p->dhcp_timeout = num(POL, k, 0);
    p->mtu = (uint16_t)num(POL, k, 1300);
    p->tcp_mss = (uint16_t)num(POL, k, 1200);
    p->route_accept = p->route_connected = true;
    p->route_tag = num(POL, k, 0);
    p->route_distance = (uint8_t)num(POL, k, 0);
    p->route_ifaces[p->nroute_ifaces++] = str(POL, k, S_IFACE);
}

/* A policy that sets nothing (as one with only a name compiles). */
static void empty_pol(struct sess_authz_pol *p)
{
    memset(p, 0, sizeof(*p));
    p->name = "empty";
    p->pfs = p->include_local_lan = p->smartcard = -1;
    p->flow_limit = UINT32_MAX;
}

/* RADIUS answer @k: every attribute set, route 10.(100+k).0.0/16, addresses. */
static void fill_rad(struct aaa_attrs *r, int k, char *route, size_t cap)
{
    aaa_attrs_init(r);
    r->n = 1;
    r->has_addr = r->has_addr6 = r->has_netmask = true;
    r->addr = num(RAD, k, 0x64000000);
    addr6(r->addr6, RAD, k + 10);
    r->prefix_len6 = num(RAD, k, 0);
    r->pool = str(RAD, k, S_POOL);
    r->pool6 = str(RAD, k, S_POOL6);
    r->banner = str(RAD, k, S_BANNER);
    r->def_domain = str(RAD, k, S_DOMAIN);
    r->cfg_url = str(RAD, k, S_URL);
    r->cfg_version = str(RAD, k, S_VERSION);
    r->dhcp_server = str(RAD, k, S_DHCP);
    r->dhcp_giaddr = str(RAD, k, S_GIADDR);
    addr6(r->dns6[0], RAD, k);
    r->ndns6 = 1;
    r->netmask = num(RAD, k, 0xffff0000);
    for (int i = 0; i < k; i++) {
        r->dns[i] = num(RAD, k, 0x0a000000 + (uint32_t)i * 0x100);
        r->wins[i] = num(RAD, k, 0x0b000000 + (uint32_t)i * 0x100);
    }
    r->ndns = r->nwins = k;
    snprintf(route, cap, "10.%d.0.0/16", 100 + k);
    r->routes[r->nroutes++] = route;
    r->split_dns[r->nsplit_dns++] = str(RAD, k, S_SPLIT);
    r->backup[r->nbackup++] = str(RAD, k, S_BACKUP);
    r->pfs = k == 1;
    r->include_local_lan = k != 1;
    r->smartcard = k == 1;
    r->session_timeout = num(RAD, k, 1000);
    r->flow_limit = num(RAD, k, 0);
    r->dhcp_timeout = num(RAD, k, 0);
    r->mtu = (uint16_t)num(RAD, k, 1300);
    r->tcp_mss = (uint16_t)num(RAD, k, 1200);
    r->route_accept = r->route_interface = true;
    r->route_tag = num(RAD, k, 0);
    r->route_distance = (uint8_t)num(RAD, k, 0);
}

/* The prefix @a.@b.0.0/16. */
static void is_prefix16(const struct sess_prefix *p, int a, int b)
{
    const uint8_t want[4] = {(uint8_t)a, (uint8_t)b, 0, 0};

    assert_int_equal(p->family, AF_INET);
    assert_int_equal(p->plen, 16);
    assert_memory_equal(p->addr, want, 4);
}

/* Every attribute policies and RADIUS answers share is source @src number @k's. */
static void from(const struct sess_attrs *a, int src, int k)
{
    uint8_t d6[16];

    assert_string_equal(a->pool, str(src, k, S_POOL));
    assert_string_equal(a->pool6, str(src, k, S_POOL6));
    assert_string_equal(a->banner, str(src, k, S_BANNER));
    assert_string_equal(a->def_domain, str(src, k, S_DOMAIN));
    assert_string_equal(a->cfg_url, str(src, k, S_URL));
    assert_string_equal(a->cfg_version, str(src, k, S_VERSION));
    assert_string_equal(a->dhcp_server, str(src, k, S_DHCP));
    assert_string_equal(a->dhcp_giaddr, str(src, k, S_GIADDR));
    addr6(d6, src, k);
    assert_int_equal(a->ndns6, 1);
    assert_memory_equal(a->dns6[0], d6, 16);
    assert_true(a->has_netmask);
    assert_int_equal(a->netmask, num(src, k, 0xffff0000));
    assert_int_equal(a->ndns, k);
    assert_int_equal(a->nwins, k);
    for (int i = 0; i < k; i++) {
        assert_int_equal(a->dns[i], num(src, k, 0x0a000000 + (uint32_t)i * 0x100));
        assert_int_equal(a->wins[i], num(src, k, 0x0b000000 + (uint32_t)i * 0x100));
    }
    assert_true(a->subnets_set);
    assert_int_equal(a->subnets.n, 1);
    is_prefix16(&a->subnets.p[0], 10, src == POL ? k : 100 + k);
    assert_int_equal(a->nsplit_dns, 1);
    assert_string_equal(a->split_dns[0], str(src, k, S_SPLIT));
    assert_int_equal(a->nbackup, 1);
    assert_string_equal(a->backup[0], str(src, k, S_BACKUP));
    assert_int_equal(a->pfs, k == 1);
    assert_int_equal(a->include_local_lan, k != 1);
    assert_int_equal(a->smartcard, k == 1);
    assert_int_equal(a->session_lifetime, num(src, k, 1000));
    assert_int_equal(a->flow_limit, num(src, k, 0));
    assert_int_equal(a->dhcp_timeout, num(src, k, 0));
    assert_int_equal(a->mtu, num(src, k, 1300));
    assert_int_equal(a->tcp_mss, num(src, k, 1200));
    assert_int_equal(a->route_accept, 1);
    assert_int_equal(a->route_tag, num(src, k, 0));
    assert_int_equal(a->route_distance, num(src, k, 0));
}

/* The route interfaces are policy @k's (RADIUS's route-set=interface then
 * asks nothing). */
static void ifaces_from_pol(const struct sess_attrs *a, int k)
{
    assert_int_equal(a->route_connected, 1);
    assert_int_equal(a->nroute_ifaces, 1);
    assert_string_equal(a->route_ifaces[0], str(POL, k, S_IFACE));
    assert_false(a->route_iface_inside);
}

/* The addresses are RADIUS answer @k's (0: none given). */
static void addrs_from(const struct sess_attrs *a, int k)
{
    uint8_t want[16];

    assert_int_equal(a->has_addr4, k > 0);
    assert_int_equal(a->has_addr6, k > 0);
    if (!k)
        return;
    addr6(want, RAD, k + 10);
    assert_int_equal(a->addr4, num(RAD, k, 0x64000000));
    assert_memory_equal(a->addr6, want, 16);
    assert_int_equal(a->plen6, num(RAD, k, 0));
}

/* ---- the merge ---- */

/* The user's policy beats the group's on every attribute; with override the
 * group's beats the user's; a source that sets nothing lets the next fill
 * everything. */
static void test_policies(void **state)
{
    struct sess_authz_pol u, g, none;
    struct sess_authz_in in = {.user_pol = &u, .group_pol = &g};
    struct sess_attrs a;

    (void)state;
    fill_pol(&u, 1);
    fill_pol(&g, 2);
    empty_pol(&none);
    sess_authorize(&in, &a);
    from(&a, POL, 1);
    ifaces_from_pol(&a, 1);
    addrs_from(&a, 0);
    assert_string_equal(a.sources, "policy-user policy-group");

    in.group_first = true;
    sess_authorize(&in, &a);
    from(&a, POL, 2);
    ifaces_from_pol(&a, 2);
    assert_string_equal(a.sources, "policy-group policy-user");

    in.group_first = false;
    in.user_pol = &none;
    sess_authorize(&in, &a);
    from(&a, POL, 2);
    ifaces_from_pol(&a, 2);
    assert_string_equal(a.sources, "policy-user policy-group");

    /* nothing at all: every attribute unset */
    in.group_pol = NULL;
    sess_authorize(&in, &a);
    assert_null(a.pool);
    assert_false(a.subnets_set);
    assert_int_equal(a.subnets.n, 0);
    assert_int_equal(a.pfs, -1);
    assert_int_equal(a.include_local_lan, -1);
    assert_int_equal(a.smartcard, -1);
    assert_int_equal(a.flow_limit, UINT32_MAX);
    assert_int_equal(a.route_accept, -1);
    assert_int_equal(a.route_connected, -1);
    assert_string_equal(a.sources, "policy-user");
}

/* RADIUS answers: the user's beats the group's, the group's first with
 * override; a policy beats the RADIUS answer of its side, which still gives
 * what the policy does not (the addresses); RADIUS's route-set=interface asks
 * for the inside interface when no policy named interfaces. */
static void test_radius(void **state)
{
    struct sess_authz_pol u;
    struct aaa_attrs ru, rg;
    char r1[32], r2[32];
    struct sess_authz_in in = {.user = &ru, .group = &rg};
    struct sess_attrs a;

    (void)state;
    fill_rad(&ru, 1, r1, sizeof(r1));
    fill_rad(&rg, 2, r2, sizeof(r2));
    sess_authorize(&in, &a);
    from(&a, RAD, 1);
    addrs_from(&a, 1);
    assert_int_equal(a.nroute_ifaces, 0);
    assert_true(a.route_iface_inside);
    assert_int_equal(a.route_connected, -1);
    assert_string_equal(a.sources, "radius-user radius-group");

    in.group_first = true;
    sess_authorize(&in, &a);
    from(&a, RAD, 2);
    addrs_from(&a, 2);
    assert_string_equal(a.sources, "radius-group radius-user");

    /* the user's policy, then its RADIUS answer, then the group's */
    fill_pol(&u, 1);
    in.group_first = false;
    in.user_pol = &u;
    fill_rad(&ru, 2, r1, sizeof(r1));
    fill_rad(&rg, 1, r2, sizeof(r2));
    sess_authorize(&in, &a);
    from(&a, POL, 1);
    ifaces_from_pol(&a, 1);
    addrs_from(&a, 2);
    assert_string_equal(a.sources, "policy-user radius-user radius-group");

    /* the group's RADIUS answer first: the user's policy only adds what it
     * left unset (route interfaces) */
    in.group_first = true;
    sess_authorize(&in, &a);
    from(&a, RAD, 1);
    addrs_from(&a, 1);
    assert_true(a.route_iface_inside);
    assert_int_equal(a.nroute_ifaces, 1);
    assert_string_equal(a.sources, "radius-group policy-user radius-user");
}

/* The cached answer (from authentication) fills only what the explicit user
 * answer left unset, and still comes before the group. */
static void test_cached(void **state)
{
    struct sess_authz_pol g;
    struct aaa_attrs ru, rc, empty;
    char r1[32], r2[32];
    struct sess_authz_in in = {.user = &ru, .cached = &rc, .group_pol = &g};
    struct sess_attrs a;

    (void)state;
    fill_rad(&ru, 1, r1, sizeof(r1));
    fill_rad(&rc, 2, r2, sizeof(r2));
    fill_pol(&g, 1);
    sess_authorize(&in, &a);
    from(&a, RAD, 1);
    addrs_from(&a, 1);
    assert_string_equal(a.sources, "radius-user radius-cached policy-group");

    /* the explicit user gave nothing: the cached answer, before the group */
    aaa_attrs_init(&empty);
    in.user = &empty;
    sess_authorize(&in, &a);
    from(&a, RAD, 2);
    addrs_from(&a, 2);
    assert_string_equal(a.sources, "radius-user radius-cached policy-group");

    /* with override the group's policy beats the cached answer */
    in.group_first = true;
    sess_authorize(&in, &a);
    from(&a, POL, 1);
    addrs_from(&a, 2);
    assert_string_equal(a.sources, "policy-group radius-user radius-cached");
}

/* The policy named "default" is the group's when no other source is given. */
static void test_default(void **state)
{
    struct sess_authz_pol d, g;
    struct aaa_attrs r;
    char r1[32];
    struct sess_authz_in in;
    struct sess_attrs a;

    (void)state;
    fill_pol(&d, 1);
    fill_pol(&g, 2);
    in = (struct sess_authz_in){.default_pol = &d};
    sess_authorize(&in, &a);
    from(&a, POL, 1);
    assert_string_equal(a.sources, "policy-group");

    in.group_pol = &g;
    sess_authorize(&in, &a);
    from(&a, POL, 2);
    assert_string_equal(a.sources, "policy-group");

    fill_rad(&r, 2, r1, sizeof(r1));
    const struct aaa_attrs **answers[3] = {&in.user, &in.group, &in.cached};
    for (int i = 0; i < 3; i++) {
        in = (struct sess_authz_in){.default_pol = &d};
        *answers[i] = &r;
        sess_authorize(&in, &a);
        from(&a, RAD, 2);
        assert_null(strstr(a.sources, "policy-group"));
    }
}

/* ---- split subnets ---- */

static const char *asked[4];
static int nasked;

/* Access lists "acl4" (10.60/16, 10.50/16) and "acl6" (2001:db8:60::/48). */
static const struct sess_prefixes *acl(const void *arg, const char *name)
{
    static struct sess_prefixes a4, a6;

    assert_string_equal(arg, "gen");
    asked[nasked++ % 4] = name;
    if (!a4.n) {
        sess_prefixes_add(&a4, "10.60.0.0/16");
        sess_prefixes_add(&a4, "10.50.0.0/16");
        sess_prefixes_add(&a6, "2001:db8:60::/48");
    }
    return !strcmp(name, "acl4") ? &a4 : !strcmp(name, "acl6") ? &a6 : NULL;
}

/* RADIUS's split subnets: its route-set prefixes, then the permits of the
 * access lists it names, resolved by the callback; each once; only when no
 * source before gave any (the first that does gives them all). */
static void test_radius_acl(void **state)
{
    struct aaa_attrs r, g;
    char route[] = "10.50.0.0/16", a4[] = "acl4", a6[] = "acl6", nope[] = "nope", r2[32];
    struct sess_authz_pol u;
    struct sess_authz_in in = {.user = &r, .group = &g, .acl = acl, .acl_arg = "gen"};
    struct sess_attrs a;
    uint8_t v6[16];

    (void)state;
    aaa_attrs_init(&r);
    r.routes[r.nroutes++] = route;
    r.acl4 = a4;
    r.acl6 = a6;
    fill_rad(&g, 1, r2, sizeof(r2));
    nasked = 0;
    sess_authorize(&in, &a);
    assert_int_equal(nasked, 2);
    assert_string_equal(asked[0], "acl4");
    assert_string_equal(asked[1], "acl6");
    assert_true(a.subnets_set);
    assert_int_equal(a.subnets.n, 3);
    is_prefix16(&a.subnets.p[0], 10, 50);
    is_prefix16(&a.subnets.p[1], 10, 60);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:60::", v6), 1);
    assert_int_equal(a.subnets.p[2].family, AF_INET6);
    assert_int_equal(a.subnets.p[2].plen, 48);
    assert_memory_equal(a.subnets.p[2].addr, v6, 16);

    /* a list that does not exist gives nothing: the group's subnets then */
    r.nroutes = 0;
    r.acl4 = nope;
    r.acl6 = NULL;
    nasked = 0;
    sess_authorize(&in, &a);
    assert_int_equal(nasked, 1);
    assert_int_equal(a.subnets.n, 1);
    is_prefix16(&a.subnets.p[0], 10, 101);

    /* a policy's subnets came first: the lists are not even resolved */
    fill_pol(&u, 1);
    in.user_pol = &u;
    r.acl4 = a4;
    nasked = 0;
    sess_authorize(&in, &a);
    assert_int_equal(nasked, 0);
    assert_int_equal(a.subnets.n, 1);
    is_prefix16(&a.subnets.p[0], 10, 1);
}

/* A prefix goes in once however it is written; no more than the cap; what
 * does not parse is left out. */
static void test_prefixes(void **state)
{
    struct sess_prefixes ps = {0}, more = {0};
    char text[32];
    const uint8_t net[4] = {10, 1, 2, 0};
    uint8_t v6[16];

    (void)state;
    sess_prefixes_add(&ps, "10.1.2.3/24");
    sess_prefixes_add(&ps, "10.1.2.0/24");
    sess_prefixes_add(&ps, "10.1.2.0/25");
    assert_int_equal(ps.n, 2);
    assert_int_equal(ps.p[0].family, AF_INET);
    assert_int_equal(ps.p[0].plen, 24);
    assert_memory_equal(ps.p[0].addr, net, 4);
    assert_int_equal(ps.p[1].plen, 25);
    sess_prefixes_add(&ps, "2001:db8::1/32");
    sess_prefixes_add(&ps, "2001:db8::/32");
    sess_prefixes_add(&ps, "2001:db8::/200");
    assert_int_equal(ps.n, 4);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::", v6), 1);
    assert_int_equal(ps.p[2].family, AF_INET6);
    assert_memory_equal(ps.p[2].addr, v6, 16);
    assert_int_equal(ps.p[3].plen, 128);
    sess_prefixes_add(&ps, "2001:zz::/32");
    sess_prefixes_add(&ps, "10.9.9.9");
    assert_int_equal(ps.n, 4);

    /* merging: those not there yet, in their order */
    sess_prefixes_add(&more, "10.1.2.0/24");
    sess_prefixes_add(&more, "192.168.0.0/16");
    sess_prefixes_merge(&ps, &more);
    sess_prefixes_merge(&ps, NULL);
    assert_int_equal(ps.n, 5);
    assert_int_equal(ps.p[4].addr[0], 192);

    for (int i = 0; i < 2 * SESS_MAX_PREFIXES; i++) {
        snprintf(text, sizeof(text), "172.16.%d.0/24", i);
        sess_prefixes_add(&ps, text);
    }
    assert_int_equal(ps.n, SESS_MAX_PREFIXES);
    assert_int_equal(ps.p[SESS_MAX_PREFIXES - 1].addr[2], SESS_MAX_PREFIXES - 6);
}

/* Bandwidth limits merge per direction, rate and burst together: the user's
 * policy beats the group's RADIUS answer where it sets a direction, the
 * group's fills the other; with override the group's wins. */
static void test_rate_limits(void **state)
{
    struct sess_authz_pol u;
    struct aaa_attrs g;
    struct sess_authz_in in = {.user_pol = &u, .group = &g};
    struct sess_attrs a;

    (void)state;
    empty_pol(&u);
    u.rate.kbps[0] = 1000;
    aaa_attrs_init(&g);
    g.rate_in = 7000;
    g.burst_in = 70000;
    g.rate_out = 3000;
    g.burst_out = 30000;
    sess_authorize(&in, &a);
    assert_int_equal(a.rate.kbps[0], 1000);
    assert_int_equal(a.rate.burst[0], 0);
    assert_int_equal(a.rate.kbps[1], 3000);
    assert_int_equal(a.rate.burst[1], 30000);
    in.group_first = true;
    sess_authorize(&in, &a);
    assert_int_equal(a.rate.kbps[0], 7000);
    assert_int_equal(a.rate.burst[0], 70000);
    in.group = NULL;
    in.user_pol = NULL;
    sess_authorize(&in, &a);
    assert_int_equal(a.rate.kbps[0], 0);
    assert_int_equal(a.rate.kbps[1], 0);
    aaa_attrs_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policies),   cmocka_unit_test(test_radius),     cmocka_unit_test(test_cached),
        cmocka_unit_test(test_default),    cmocka_unit_test(test_radius_acl), cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_rate_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
