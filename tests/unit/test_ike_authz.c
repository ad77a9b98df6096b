/* Authorization policies as the engine compiles them (daemon/ike/ike_authz_conf.c):
 * a configuration with every attribute a policy can set is compiled, and what
 * ike_authorize (through sess_authorize) merges from it is compared field by
 * field with the expected struct sess_attrs, so that a field the compilation
 * dropped (or read wrongly) fails here. Also the merge across policies (user first, the group filling
 * what is unset; the group first with override), the lookup by name among
 * several policies, and the refusal of a policy with more split subnets than
 * a child SA carries. */
#include <arpa/inet.h>
#include <libyang/libyang.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ike/ike_eng.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

/* "default": every leaf; "alice" (a user): a few; "staff" (a group): others */
static const char config[] =
    "<pools xmlns=\"" NS "\"><ipv4-pool><name>p4</name><range><start>10.8.0.1</start><end>10.8.0.9</end></range>"
    "</ipv4-pool><ipv4-pool><name>p4b</name><range><start>10.9.0.1</start><end>10.9.0.9</end></range></ipv4-pool>"
    "<ipv6-pool><name>p6</name><prefix>fd00:1::/64</prefix></ipv6-pool></pools>"
    "<access-lists xmlns=\"" NS "\">"
    "<access-list><name>acl4</name><entry><sequence>10</sequence><action>permit</action><prefix>10.60.0.0/16</prefix>"
    "</entry><entry><sequence>20</sequence><action>deny</action><prefix>10.61.0.0/16</prefix></entry>"
    "<entry><sequence>30</sequence><action>permit</action><prefix>10.50.0.0/16</prefix></entry></access-list>"
    "<access-list><name>acl6</name><entry><sequence>10</sequence><action>permit</action>"
    "<prefix>2001:db8:60::/48</prefix></entry></access-list>"
    "<access-list><name>sub6</name><entry><sequence>10</sequence><action>permit</action>"
    "<prefix>2001:db8:60::/48</prefix></entry><entry><sequence>20</sequence><action>permit</action>"
    "<prefix>2001:db8:61::/48</prefix></entry></access-list></access-lists>"
    "<aaa xmlns=\"" NS "\"><authorization-list><name>local-list</name><method><sequence>1</sequence><local/>"
    "</method></authorization-list><attribute-list><name>ifc</name><mtu>1300</mtu><tcp-mss>1260</tcp-mss>"
    "</attribute-list></aaa>"
    "<ikev2 xmlns=\"" NS "\">"
    "<authorization-policy><name>default</name><aaa-attribute-list>ifc</aaa-attribute-list>"
    "<backup-gateway>vpn2.example.org</backup-gateway><backup-gateway>vpn3.example.org</backup-gateway>"
    "<banner>Welcome</banner><configuration><url>http://cfg.example.org/c</url><version>7</version></configuration>"
    "<def-domain>corp.example.org</def-domain>"
    "<dhcp><giaddr>192.0.2.1</giaddr><server>192.0.2.67</server><timeout>5</timeout></dhcp>"
    "<dns><primary>10.1.1.1</primary><secondary>10.1.1.2</secondary></dns>"
    "<ipv6-dns><primary>2001:db8::53</primary><secondary>2001:db8::54</secondary></ipv6-dns>"
    "<include-local-lan>true</include-local-lan><ipsec-flow-limit>7</ipsec-flow-limit>"
    "<netmask>255.255.255.0</netmask><pfs>true</pfs><pool>p4</pool><ipv6-pool>p6</ipv6-pool>"
    "<route><set><interface>lo</interface><access-list><ipv4>acl4</ipv4><ipv6>acl6</ipv6></access-list>"
    "<remote><ipv4>10.50.0.0/16</ipv4><ipv6>2001:db8:50::/48</ipv6></remote></set>"
    "<accept><tag>5</tag><distance>20</distance></accept><redistribute><protocol>connected</protocol></redistribute>"
    "</route><smartcard-removal-disconnect>true</smartcard-removal-disconnect>"
    "<split-dns>a.example.org</split-dns><split-dns>b.example.org</split-dns>"
    "<session-lifetime>3600</session-lifetime><wins><primary>10.2.2.5</primary><secondary>10.2.2.6</secondary></wins>"
    "<ipv6-subnet-acl>sub6</ipv6-subnet-acl></authorization-policy>"
    "<authorization-policy><name>alice</name><banner>Hello alice</banner><dns><primary>10.3.3.3</primary></dns>"
    "<pfs>false</pfs><route><set><remote><ipv4>10.70.0.0/16</ipv4></remote></set></route></authorization-policy>"
    "<authorization-policy><name>staff</name><banner>Staff</banner><pool>p4b</pool><pfs>true</pfs>"
    "<dns><primary>10.4.4.4</primary></dns><wins><primary>10.4.4.5</primary></wins>"
    "<include-local-lan>false</include-local-lan><session-lifetime>7200</session-lifetime>"
    "<route><set><remote><ipv4>10.80.0.0/16</ipv4></remote></set></route></authorization-policy>"
    "<authorization-policy><name>zz</name><banner>zz</banner></authorization-policy>"
    "<profile><name>rw</name><match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote>"
    "</identity></match><authentication><local><pre-share><key>k</key></pre-share></local>"
    "<remote><pre-share><key>k</key></pre-share></remote></authentication>"
    "<aaa><authorization><user><psk><method-list>local-list</method-list></psk></user>"
    "<group><psk><method-list>local-list</method-list><username>staff</username></psk></group>"
    "</authorization></aaa></profile>"
    "<profile><name>ovr</name><match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote>"
    "</identity></match><authentication><local><pre-share><key>k</key></pre-share></local>"
    "<remote><pre-share><key>k</key></pre-share></remote></authentication>"
    "<aaa><authorization><user><psk><method-list>local-list</method-list></psk></user>"
    "<group><psk><override/><method-list>local-list</method-list><username>staff</username></psk></group>"
    "</authorization></aaa></profile></ikev2>";

struct env {
    struct ly_ctx *ctx;
    struct lyd_node *tree;
    struct ike_conf *conf;
};

static void on_err(void *arg, const char *path, const char *msg)
{
    snprintf(arg, 512, "%s: %s", path ? path : "", msg);
}

static int setup(void **state)
{
    static struct env e;
    char why[512] = "";

    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &e.ctx), 0);
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-types", NULL, NULL));
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-vpn", NULL, NULL));
    assert_int_equal(lyd_parse_data_mem(e.ctx, config, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &e.tree), 0);
    e.conf = ike_conf_build(e.ctx, e.tree, on_err, why);
    if (!e.conf)
        fail_msg("%s", why);
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    if (!e)
        return 0;
    ike_conf_unref(e->conf);
    lyd_free_all(e->tree);
    ly_ctx_destroy(e->ctx);
    return 0;
}

static uint32_t ip(const char *s)
{
    struct in_addr a;

    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return ntohl(a.s_addr);
}

static void pfx4(struct sess_prefixes *ps, const char *a, unsigned len)
{
    struct sess_prefix *p = &ps->p[ps->n++];

    *p = (struct sess_prefix){.family = AF_INET, .plen = (uint8_t)len};
    assert_int_equal(inet_pton(AF_INET, a, p->addr), 1);
}

static void pfx6(struct sess_prefixes *ps, const char *a, unsigned len)
{
    struct sess_prefix *p = &ps->p[ps->n++];

    *p = (struct sess_prefix){.family = AF_INET6, .plen = (uint8_t)len};
    assert_int_equal(inet_pton(AF_INET6, a, p->addr), 1);
}

/* What ike_authorize starts from: nothing set. */
static void unset(struct sess_attrs *a)
{
    memset(a, 0, sizeof(*a));
    a->pfs = a->include_local_lan = a->smartcard = -1;
    a->flow_limit = UINT32_MAX;
    a->route_accept = a->route_connected = -1;
}

static void same_str(const char *field, const char *want, const char *got)
{
    if (!want && !got)
        return;
    if (!want || !got || strcmp(want, got))
        fail_msg("%s: want %s, got %s", field, want ? want : "(unset)", got ? got : "(unset)");
}

#define SAME(f) assert_true(want->f == got->f)
#define SAME_STR(f) same_str(#f, want->f, got->f)

/* Every field of struct sess_attrs. */
static void same_attrs(const struct sess_attrs *want, const struct sess_attrs *got)
{
    SAME_STR(pool);
    SAME_STR(pool6);
    SAME_STR(banner);
    SAME_STR(def_domain);
    SAME_STR(cfg_url);
    SAME_STR(cfg_version);
    SAME(ndns6);
    assert_memory_equal(want->dns6, got->dns6, sizeof(want->dns6));
    SAME(has_netmask);
    SAME(netmask);
    SAME(ndns);
    SAME(nwins);
    assert_memory_equal(want->dns, got->dns, sizeof(want->dns));
    assert_memory_equal(want->wins, got->wins, sizeof(want->wins));
    SAME(subnets.n);
    assert_memory_equal(want->subnets.p, got->subnets.p, want->subnets.n * sizeof(want->subnets.p[0]));
    SAME(subnets_set);
    SAME(nsplit_dns);
    for (int i = 0; i < want->nsplit_dns; i++)
        SAME_STR(split_dns[i]);
    SAME(nbackup);
    for (int i = 0; i < want->nbackup; i++)
        SAME_STR(backup[i]);
    SAME(pfs);
    SAME(include_local_lan);
    SAME(smartcard);
    SAME(session_lifetime);
    SAME(flow_limit);
    SAME(tcp_mss);
    SAME(mtu);
    SAME_STR(policy_user);
    SAME_STR(policy_group);
    SAME(has_addr4);
    SAME(has_addr6);
    SAME_STR(dhcp_server);
    SAME_STR(dhcp_giaddr);
    SAME(dhcp_timeout);
    SAME(addr4);
    assert_memory_equal(want->addr6, got->addr6, 16);
    SAME(plen6);
    assert_string_equal(want->sources, got->sources);
    SAME(route_accept);
    SAME(route_connected);
    SAME(route_tag);
    SAME(route_distance);
    SAME(nroute_ifaces);
    for (int i = 0; i < want->nroute_ifaces; i++)
        SAME_STR(route_ifaces[i]);
    SAME(route_iface_inside);
}

/* Without authorization in the profile, the policy "default": every leaf. */
static void test_default_policy_every_field(void **state)
{
    struct env *e = *state;
    struct sess_attrs want, got;
    char user[64], group[64];

    unset(&want);
    want.pool = "p4";
    want.pool6 = "p6";
    want.banner = "Welcome";
    want.def_domain = "corp.example.org";
    want.cfg_url = "http://cfg.example.org/c";
    want.cfg_version = "7";
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::53", want.dns6[0]), 1);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::54", want.dns6[1]), 1);
    want.ndns6 = 2;
    want.has_netmask = true;
    want.netmask = ip("255.255.255.0");
    want.dns[0] = ip("10.1.1.1");
    want.dns[1] = ip("10.1.1.2");
    want.ndns = 2;
    want.wins[0] = ip("10.2.2.5");
    want.wins[1] = ip("10.2.2.6");
    want.nwins = 2;
    /* route set remote, then the permits of acl4 (10.50/16 once), acl6 and
     * sub6 (2001:db8:60::/48 once) */
    pfx4(&want.subnets, "10.50.0.0", 16);
    pfx6(&want.subnets, "2001:db8:50::", 48);
    pfx4(&want.subnets, "10.60.0.0", 16);
    pfx6(&want.subnets, "2001:db8:60::", 48);
    pfx6(&want.subnets, "2001:db8:61::", 48);
    want.subnets_set = true;
    want.split_dns[0] = "a.example.org";
    want.split_dns[1] = "b.example.org";
    want.nsplit_dns = 2;
    want.backup[0] = "vpn2.example.org";
    want.backup[1] = "vpn3.example.org";
    want.nbackup = 2;
    want.pfs = want.include_local_lan = want.smartcard = 1;
    want.session_lifetime = 3600;
    want.flow_limit = 7;
    want.mtu = 1300;
    want.tcp_mss = 1260;
    want.dhcp_server = "192.0.2.67";
    want.dhcp_giaddr = "192.0.2.1";
    want.dhcp_timeout = 5;
    want.route_accept = want.route_connected = 1;
    want.route_tag = 5;
    want.route_distance = 20;
    want.route_ifaces[0] = "lo";
    want.nroute_ifaces = 1;
    snprintf(want.sources, sizeof(want.sources), "policy-group");

    ike_authorize(e->conf, NULL, "psk", ID_FQDN, "alice", NULL, NULL, &got, user, group, sizeof(user));
    same_attrs(&want, &got);
    assert_string_equal(user, "");
    assert_string_equal(group, "default");
}

/* The user's policy (named by the identity) first, the group's ("staff")
 * filling only what is unset yet; with override the group's first. */
static void test_user_then_group(void **state)
{
    struct env *e = *state;
    const struct ike_prof *rw = ike_conf_prof(e->conf, "rw");
    const struct ike_prof *ovr = ike_conf_prof(e->conf, "ovr");
    struct sess_attrs want, got;
    char user[64], group[64];

    assert_non_null(rw);
    assert_non_null(ovr);
    unset(&want);
    want.banner = "Hello alice";
    want.dns[0] = ip("10.3.3.3");
    want.ndns = 1;
    want.pfs = 0;
    pfx4(&want.subnets, "10.70.0.0", 16);
    want.subnets_set = true;
    want.pool = "p4b";
    want.wins[0] = ip("10.4.4.5");
    want.nwins = 1;
    want.include_local_lan = 0;
    want.session_lifetime = 7200;
    snprintf(want.sources, sizeof(want.sources), "policy-user policy-group");
    ike_authorize(e->conf, rw, "psk", ID_FQDN, "alice", NULL, NULL, &got, user, group, sizeof(user));
    same_attrs(&want, &got);
    assert_string_equal(user, "alice");
    assert_string_equal(group, "staff");

    want.banner = "Staff";
    want.dns[0] = ip("10.4.4.4");
    want.pfs = 1;
    memset(&want.subnets, 0, sizeof(want.subnets));
    pfx4(&want.subnets, "10.80.0.0", 16);
    snprintf(want.sources, sizeof(want.sources), "policy-group policy-user");
    ike_authorize(e->conf, ovr, "psk", ID_FQDN, "alice", NULL, NULL, &got, user, group, sizeof(user));
    same_attrs(&want, &got);

    /* a name without a policy: nothing from it */
    unset(&want);
    want.banner = "Staff";
    want.pool = "p4b";
    want.pfs = 1;
    want.dns[0] = ip("10.4.4.4");
    want.ndns = 1;
    want.wins[0] = ip("10.4.4.5");
    want.nwins = 1;
    want.include_local_lan = 0;
    want.session_lifetime = 7200;
    pfx4(&want.subnets, "10.80.0.0", 16);
    want.subnets_set = true;
    snprintf(want.sources, sizeof(want.sources), "policy-group");
    ike_authorize(e->conf, rw, "psk", ID_FQDN, "bob", NULL, NULL, &got, user, group, sizeof(user));
    same_attrs(&want, &got);
    assert_string_equal(user, "");
    assert_null(ike_conf_authz(e->conf, "bob"));
    assert_string_equal(ike_conf_authz(e->conf, "zz")->banner, "zz");
    assert_string_equal(ike_conf_authz(e->conf, "default")->name, "default");
}

/* More split subnets than a child SA's selectors: prepare fails, naming the
 * policy. */
static void test_too_many_split_subnets(void **state)
{
    struct env *e = *state;
    char xml[8192], why[512] = "";
    size_t off;
    struct lyd_node *tree = NULL;

    off = (size_t)snprintf(xml, sizeof(xml), "<ikev2 xmlns=\"" NS "\"><authorization-policy><name>wide</name>"
                                             "<route><set><remote>");
    for (int i = 0; i < 33; i++)
        off += (size_t)snprintf(xml + off, sizeof(xml) - off, "<ipv4>10.%d.0.0/16</ipv4>", i);
    snprintf(xml + off, sizeof(xml) - off, "</remote></set></route></authorization-policy></ikev2>");
    assert_int_equal(lyd_parse_data_mem(e->ctx, xml, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree), 0);
    assert_null(ike_conf_build(e->ctx, tree, on_err, why));
    assert_non_null(strstr(why, "authorization-policy[name='wide']: authorization policy wide pushes 33 split "
                                "subnets"));
    lyd_free_all(tree);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy_every_field),
        cmocka_unit_test(test_user_then_group),
        cmocka_unit_test(test_too_many_split_subnets),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
