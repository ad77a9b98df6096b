/* The effect of every SPEC S9 attribute that reaches a client, shown on what the
 * client receives: the IKEv2 engine and the AAA service run in-process (the
 * engine's test seam), a shared-key client (tests/support/ike_client) with the
 * Unity and FlexVPN vendor IDs authenticates with a key pair from RADIUS
 * (ipsec:ikev2-password-remote/-local, which strongSwan cannot use), and the
 * user (cached) and group authorization answers become its configuration reply.
 * The RADIUS server is a stand-in inside this test: a UDP socket that answers
 * with fixed attributes, built with Raven's own codec; FreeRADIUS itself is in
 * tests/integration/test_eap_radius.py. Also: the parser on every attribute,
 * and what it refuses. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <libyang/libyang.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/aaa/aaa.h"
#include "daemon/aaa/aaa_attrs.h"
#include "daemon/aaa/radius.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_engine.h"
#include "dataplane/dp.h"
#include "tests/support/ike_client.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"
#define SECRET "unit-secret"

static const uint8_t unity[] = {0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9,
                                0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00};
static const char flexvpn[] = "FLEXVPN-SUPPORTED";
static const struct ike_cp_attr dns_domain = {.type = 25}; /* INTERNAL_DNS_DOMAIN, empty */

/* what the stand-in answers, by User-Name */
static const char *const user_pairs[] = {
    "ipsec:ikev2-password-remote=client-key", "ipsec:ikev2-password-local=server-key",
    "ipsec:dns-servers=10.1.1.1 10.1.1.2", "ipsec:banner=User banner", NULL};
static const char *const group_pairs[] = {
    "ipsec:dns-servers=10.2.2.2",            /* loses to the user's */
    "ipsec:banner=Group banner",             /* loses to the user's */
    "ipsec:wins-servers=10.2.2.5",
    "ipsec:ipv6-dns-servers-addr=2001:db8::53",
    "ipsec:route-set=prefix 10.50.0.0/16",
    "ipsec:route-set=prefix 10.51.0.0/255.255.255.0",
    "ipsec:route-set=access-list split",
    "ipsec:default-domain=corp.example.org",
    "ipsec:split-dns=a.example.org",
    "ipsec:split-dns=b.example.org",
    "ipsec:ipsec-backup-gateway=vpn2.example.org",
    "ipsec:pfs=1",
    "ipsec:include-local-lan=1",
    "ipsec:smartcard-removal-disconnect=1",
    "ipsec:configuration-url=http://cfg.example.org/c",
    "ipsec:configuration-version=9",
    "ipsec:ipsec-flow-limit=4",
    NULL};

static const char config_fmt[] =
    "<ikev2 xmlns=\"" NS "\">"
    "<profile><name>rw</name><match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote>"
    "</identity></match><identity><local><fqdn>vpn.example.org</fqdn></local></identity>"
    "<authentication><local><pre-share/></local><remote><pre-share/></remote></authentication>"
    "<keyring><aaa><method-list>r</method-list></aaa></keyring>"
    "<aaa><authorization><user><psk><cached/></psk></user><group><psk><method-list>r</method-list>"
    "<username>g</username></psk></group></authorization></aaa></profile></ikev2>"
    "<access-lists xmlns=\"" NS "\"><access-list><name>split</name><entry><sequence>10</sequence>"
    "<action>permit</action><prefix>10.52.0.0/16</prefix></entry></access-list></access-lists>"
    "<aaa xmlns=\"" NS "\"><radius-server><name>s</name><address>127.0.0.1</address><auth-port>%u</auth-port>"
    "<key>" SECRET "</key><timeout>1</timeout><retransmit>0</retransmit></radius-server>"
    "<server-group><name>grp</name><server>s</server></server-group>"
    "<authorization-list><name>r</name><method><sequence>1</sequence><group>grp</group></method>"
    "</authorization-list></aaa>";

struct env {
    struct ly_ctx *ctx;
    struct event_base *base;
    struct dp *dp;
    int rfd;
    uint16_t rport;
    struct event *rev;
    unsigned requests;
    char last_user[64];
    uint32_t framed; /* Framed-IP-Address for the group answer */
    uint8_t out[65536];
    size_t out_len;
};

static void out(const struct sockaddr_storage *peer, const uint8_t *buf, size_t len, void *arg)
{
    struct env *e = arg;

    assert_true(len <= sizeof(e->out));
    memcpy(e->out, buf, len);
    e->out_len = len;
}

/* The stand-in RADIUS server: an Access-Accept for every Access-Request. */
static void on_radius(evutil_socket_t fd, short what, void *arg)
{
    struct env *e = arg;
    uint8_t buf[4096];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    struct rad_view v;
    struct rad_attr a;
    struct rad_pkt p;
    const char *const *pairs;
    bool group;

    if (n <= 0 || rad_parse(buf, (size_t)n, &v) || v.code != RAD_ACCESS_REQUEST || !rad_find(&v, RAD_USER_NAME, &a))
        return;
    e->requests++;
    snprintf(e->last_user, sizeof(e->last_user), "%.*s", (int)a.len, (const char *)a.val);
    group = !strcmp(e->last_user, "g");
    pairs = group ? group_pairs : user_pairs;
    rad_init(&p, RAD_ACCESS_ACCEPT, v.id, NULL);
    for (size_t i = 0; pairs[i]; i++)
        rad_add_vsa(&p, RAD_VENDOR_CISCO, 1, pairs[i], strlen(pairs[i]));
    if (group) {
        rad_add_u32(&p, RAD_FRAMED_IP_ADDRESS, e->framed);
        rad_add_u32(&p, RAD_FRAMED_IP_NETMASK, 0xffffff00);
        rad_add_u32(&p, RAD_SESSION_TIMEOUT, 7200);
    }
    rad_add_msg_auth(&p);
    assert_int_not_equal(rad_finish_reply(&p, v.buf + 4, SECRET, strlen(SECRET)), 0);
    sendto(fd, p.buf, p.len, 0, (struct sockaddr *)&from, fl);
}

static int setup(void **state)
{
    static struct env e;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);

    log_set_level(LOG_LVL_ERR);
    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &e.ctx), 0);
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-types", NULL, NULL));
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-vpn", NULL, NULL));
    e.base = event_base_new();
    e.dp = dp_new();
    e.rfd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(bind(e.rfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(e.rfd, (struct sockaddr *)&sa, &sl), 0);
    e.rport = ntohs(sa.sin_port);
    e.rev = event_new(e.base, e.rfd, EV_READ | EV_PERSIST, on_radius, &e);
    event_add(e.rev, NULL);
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    event_free(e->rev);
    close(e->rfd);
    ly_ctx_destroy(e->ctx);
    event_base_free(e->base);
    dp_free(e->dp);
    return 0;
}

static const struct ike_cp_attr *attr(const struct ike_cp_pld *cp, uint16_t type, size_t nth)
{
    for (size_t i = 0; i < cp->nattr; i++)
        if (cp->attr[i].type == type && !nth--)
            return &cp->attr[i];
    return NULL;
}

static bool attr_is(const struct ike_cp_pld *cp, uint16_t type, size_t nth, const void *v, size_t len)
{
    const struct ike_cp_attr *a = attr(cp, type, nth);

    return a && a->len == len && !memcmp(a->value, v, len);
}

static bool attr_str(const struct ike_cp_pld *cp, uint16_t type, size_t nth, const char *s)
{
    return attr_is(cp, type, nth, s, strlen(s));
}

static bool attr_ip(const struct ike_cp_pld *cp, uint16_t type, size_t nth, const char *ip)
{
    uint8_t raw[16];
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;

    assert_int_equal(inet_pton(fam, ip, raw), 1);
    return attr_is(cp, type, nth, raw, fam == AF_INET ? 4 : 16);
}

/* An IPv4 subnet attribute: address and mask. */
static bool subnet(const struct ike_cp_pld *cp, const char *net, const char *mask)
{
    uint8_t raw[8];

    inet_pton(AF_INET, net, raw);
    inet_pton(AF_INET, mask, raw + 4);
    for (size_t i = 0; i < 8; i++)
        if (attr_is(cp, 13, i, raw, 8))
            return true;
    return false;
}

static const char *state_leaf(struct env *e, struct ike_engine *eng, const char *path, char *buf, size_t len)
{
    struct lyd_node *st = NULL;
    struct ly_set *set = NULL;

    assert_int_equal(lyd_new_inner(NULL, ly_ctx_get_module_implemented(e->ctx, "raven-vpn"), "vpn-state", 0, &st),
                     0);
    ike_engine_state(eng, st, NULL);
    snprintf(buf, len, "(none)");
    if (!lyd_find_xpath(st, path, &set) && set->count == 1)
        snprintf(buf, len, "%s", lyd_get_value(set->dnodes[0]));
    ly_set_free(set, NULL);
    lyd_free_tree(st);
    return buf;
}

/* Runs the loop until the engine answers (RADIUS in between). */
static void wait_answer(struct env *e)
{
    for (int i = 0; i < 200 && !e->out_len; i++)
        event_base_loop(e->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(5000);
    assert_true(e->out_len > 0);
}

static void test_radius_attributes_reach_the_client(void **state)
{
    struct env *e = *state;
    char cfg[4096], buf[128];
    struct lyd_node *tree = NULL;
    struct ike_engine *eng = ike_engine_new(e->base, e->ctx, e->dp);
    struct aaa *aaa = aaa_new(e->base);
    struct sockaddr_storage local = {0}, peer = {0};
    struct ike_client c;
    struct ike_buf b = {0};
    struct ike_cp_pld cp;
    const uint8_t one[2] = {0, 1};

    snprintf(cfg, sizeof(cfg), config_fmt, e->rport);
    assert_int_equal(lyd_parse_data_mem(e->ctx, cfg, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree), 0);
    assert_non_null(eng);
    assert_non_null(aaa);
    ike_engine_set_aaa(eng, aaa);
    assert_int_equal(aaa_prepare(aaa, tree, false, NULL, NULL), 0);
    assert_int_equal(ike_engine_prepare(eng, tree, false, NULL, NULL), 0);
    aaa_apply(aaa);
    ike_engine_apply(eng);
    ike_engine_set_output(eng, out, e);
    e->framed = 0x0a090909; /* 10.9.9.9 */
    ((struct sockaddr_in *)&local)->sin_family = AF_INET;
    ((struct sockaddr_in *)&local)->sin_port = htons(500);
    inet_pton(AF_INET, "192.0.2.1", &((struct sockaddr_in *)&local)->sin_addr);
    ((struct sockaddr_in *)&peer)->sin_family = AF_INET;
    ((struct sockaddr_in *)&peer)->sin_port = htons(500);
    inet_pton(AF_INET, "198.51.100.9", &((struct sockaddr_in *)&peer)->sin_addr);

    ike_client_init(&c, IKE_DH_ECP256);
    c.vid[0] = unity;
    c.vid_len[0] = sizeof(unity);
    c.vid[1] = (const uint8_t *)flexvpn;
    c.vid_len[1] = sizeof(flexvpn) - 1;
    c.nvid = 2;
    c.responder_psk = "server-key"; /* ipsec:ikev2-password-local */
    c.cp_extra = &dns_domain;       /* RFC 8598 split DNS, requested */
    c.ncp_extra = 1;
    assert_true(ike_client_sa_init(&c, &b));
    e->out_len = 0;
    ike_engine_input(eng, &local, &peer, false, b.data, b.len);
    ike_buf_fini(&b);
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    assert_true(ike_client_auth(&c, "alice.example.org", "client-key", &b)); /* -remote */
    e->out_len = 0;
    ike_engine_input(eng, &local, &peer, false, b.data, b.len);
    ike_buf_fini(&b);
    wait_answer(e);
    assert_true(ike_client_auth_done(&c, e->out, e->out_len)); /* our AUTH with the local key */
    assert_int_equal(e->requests, 2);                          /* the key (user, cached), the group */
    assert_string_equal(e->last_user, "g");
    cp = c.cp_reply;
    /* Framed-IP-Address and Framed-IP-Netmask */
    assert_true(attr_ip(&cp, 1, 0, "10.9.9.9"));
    assert_true(attr_ip(&cp, 2, 0, "255.255.255.0"));
    /* dns-servers: the user's two beat the group's */
    assert_true(attr_ip(&cp, 3, 0, "10.1.1.1"));
    assert_true(attr_ip(&cp, 3, 1, "10.1.1.2"));
    assert_null(attr(&cp, 3, 2));
    assert_true(attr_ip(&cp, 4, 0, "10.2.2.5"));       /* wins-servers */
    assert_true(attr_ip(&cp, 10, 0, "2001:db8::53"));  /* ipv6-dns-servers-addr */
    /* route-set=prefix (both notations) and route-set=access-list (a local ACL) */
    assert_true(subnet(&cp, "10.50.0.0", "255.255.0.0"));
    assert_true(subnet(&cp, "10.51.0.0", "255.255.255.0"));
    assert_true(subnet(&cp, "10.52.0.0", "255.255.0.0"));
    /* Unity: banner (the user's), default-domain, split-dns, backup gateway, pfs,
     * include-local-lan, smartcard-removal-disconnect */
    assert_true(attr_str(&cp, 28672, 0, "User banner"));
    assert_true(attr_str(&cp, 28674, 0, "corp.example.org"));
    assert_true(attr_str(&cp, 28675, 0, "a.example.org"));
    assert_true(attr_str(&cp, 28675, 1, "b.example.org"));
    /* and INTERNAL_DNS_DOMAIN, which it asked for: the default domain first */
    assert_true(attr_str(&cp, 25, 0, "corp.example.org"));
    assert_true(attr_str(&cp, 25, 1, "a.example.org"));
    assert_true(attr_str(&cp, 25, 2, "b.example.org"));
    assert_null(attr(&cp, 25, 3));
    assert_true(attr_str(&cp, 28681, 0, "vpn2.example.org"));
    assert_true(attr_is(&cp, 28679, 0, one, 2));
    assert_true(attr_is(&cp, 28678, 0, one, 2));
    assert_true(attr_is(&cp, 28683, 0, one, 2));
    /* FlexVPN: configuration url and version */
    assert_true(attr_str(&cp, 28689, 0, "http://cfg.example.org/c"));
    assert_true(attr_str(&cp, 28690, 0, "9"));
    /* on the session: flow limit, Session-Timeout, where the address came from */
    assert_string_equal(state_leaf(e, eng, "session/flow-limit", buf, sizeof(buf)), "4");
    assert_string_equal(state_leaf(e, eng, "session/assigned-ipv4-source", buf, sizeof(buf)), "aaa");
    assert_true(atoi(state_leaf(e, eng, "session/session-lifetime-remaining", buf, sizeof(buf))) > 7000);
    assert_string_equal(state_leaf(e, eng, "session/authorization-sources", buf, sizeof(buf)),
                        "radius-cached radius-group");
    assert_string_equal(state_leaf(e, eng, "session/authorized-group", buf, sizeof(buf)), "g");
    ike_client_fini(&c);
    ike_engine_free(eng);
    aaa_free(aaa);
    lyd_free_all(tree);
}

static void pairs_to(struct aaa_attrs *a, const char *const *pairs)
{
    for (size_t i = 0; pairs[i]; i++)
        assert_int_equal(aaa_attrs_avpair(a, pairs[i], strlen(pairs[i])), 1);
}

static void test_parser_every_attribute(void **state)
{
    static const char *const rest[] = {
        "ipsec:addr-pool=p4", "ipsec:ipv6-addr-pool=p6", "ipsec:addrv6=2001:db8::7", "ipsec:prefix-len=64",
        "ipsec:route-set=interface", "ipsec:route-accept=any tag 10 distance 5",
        "ipsec:route-set=access-list ipv6 split6", "ip:interface-config=ip mtu 1300",
        "ip:interface-config=ip tcp adjust-mss 1200",
        "ipsec:group-dhcp-server=10.3.3.3", "ipsec:dhcp-giaddr=10.3.3.1", "ipsec:dhcp-timeout=5",
        "ipsec:ikev2-password-local=l", "ipsec:ikev2-password-remote=r", NULL};
    static const char *const refused[] = {
        "ipsec:dns-servers=not-an-address", "ipsec:pfs=maybe", "ipsec:ipsec-flow-limit=50001",
        "ipsec:route-set=prefix 10.0.0.0/33", "ipsec:route-set=prefix 10.0.0.0/255.0.255.0",
        "ipsec:prefix-len=129", "ipsec:no-such-thing=1", "noprotocol", "ipsec:addr-pool=",
        "ip:interface-config=ip mtu 500", "ip:interface-config=ip tcp adjust-mss 9000",
        "ip:interface-config=ip mtu 1300x", "ip:interface-config=shutdown", NULL};
    struct aaa_attrs a;

    (void)state;
    aaa_attrs_init(&a);
    pairs_to(&a, group_pairs);
    pairs_to(&a, rest);
    assert_int_equal(a.ndns, 1);
    assert_int_equal(a.nroutes, 2);
    assert_string_equal(a.routes[1], "10.51.0.0/24");
    assert_string_equal(a.acl4, "split");
    assert_string_equal(a.acl6, "split6");
    assert_string_equal(a.pool, "p4");
    assert_string_equal(a.pool6, "p6");
    assert_true(a.has_addr6);
    assert_int_equal(a.prefix_len6, 64);
    assert_true(a.route_interface);
    assert_true(a.route_accept);
    assert_int_equal(a.route_tag, 10);
    assert_int_equal(a.route_distance, 5);
    {
        /* a realm has 16 bits; words out of order or left over are not understood */
        static const char *const bad[] = {"ipsec:route-accept=any tag 70000", "ipsec:route-accept=any distance 0",
                                          "ipsec:route-accept=any distance 5 tag 1", "ipsec:route-accept=some",
                                          "ipsec:route-accept=any tag"};
        struct aaa_attrs b;

        aaa_attrs_init(&b);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            assert_int_equal(aaa_attrs_avpair(&b, bad[i], strlen(bad[i])), 0);
        assert_false(b.route_accept);
        aaa_attrs_free(&b);
    }
    {
        /* domains reach the client's resolver: anything but a domain name is not understood */
        static const char *const bad[] = {"ipsec:default-domain=corp example.org", "ipsec:default-domain=",
                                          "ipsec:split-dns=a..example.org", "ipsec:split-dns=.example.org",
                                          "ipsec:split-dns=a.example.org;rm", "ipsec:split-dns=\x01.org"};
        struct aaa_attrs b;

        aaa_attrs_init(&b);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            assert_int_equal(aaa_attrs_avpair(&b, bad[i], strlen(bad[i])), 0);
        assert_null(b.def_domain);
        assert_int_equal(b.nsplit_dns, 0);
        aaa_attrs_free(&b);
    }
    {
        /* raven:rate-limit-in/-out "KBPS [burst BYTES]"; anything else is not
         * understood and changes nothing */
        static const char *const good[] = {"raven:rate-limit-in=2000", "raven:rate-limit-out=100000000 burst 1000000000",
                                           NULL};
        static const char none[] = "raven:rate-limit-out=0 burst 64000";
        static const char *const bad[] = {"raven:rate-limit-in=", "raven:rate-limit-in=-5",
                                          "raven:rate-limit-in=100000001", "raven:rate-limit-in=1e3",
                                          "raven:rate-limit-in=10 burst", "raven:rate-limit-in=10 burst x",
                                          "raven:rate-limit-in=10 burst 1000000001",
                                          "raven:rate-limit-in=10 burst 5 6", "raven:rate-limit-in=10 bust 5",
                                          "raven:rate-limit-in=10 burst 2999", "raven:rate-limit-in=10 burst 1",
                                          "raven:rate-limit-in=10 burst 0",
                                          "raven:rate-limit=10", "raven:rate-limit-up=10"};
        struct aaa_attrs b;

        aaa_attrs_init(&b);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            assert_int_equal(aaa_attrs_avpair(&b, bad[i], strlen(bad[i])), 0);
        assert_int_equal(b.rate_in, 0); /* unset */
        assert_int_equal(b.rate_out, 0);
        pairs_to(&b, good);
        assert_int_equal(b.rate_in, 2000);
        assert_int_equal(b.burst_in, 0);
        assert_int_equal(b.rate_out, 100000000);
        assert_int_equal(b.burst_out, 1000000000);
        assert_int_equal(aaa_attrs_avpair(&b, bad[5], strlen(bad[5])), 0);
        assert_int_equal(b.rate_in, 2000);
        assert_int_equal(aaa_attrs_avpair(&b, none, strlen(none)), 1); /* 0: no limit, set */
        assert_int_equal(b.rate_out, AAA_RATE_NONE);
        /* the least burst the model allows (and the dataplane enforces) */
        assert_int_equal(aaa_attrs_avpair(&b, "raven:rate-limit-in=10 burst 3000", 33), 1);
        assert_int_equal(b.burst_in, 3000);
        aaa_attrs_free(&b);
    }
    assert_int_equal(a.mtu, 1300);
    assert_int_equal(a.tcp_mss, 1200);
    assert_string_equal(a.dhcp_server, "10.3.3.3");
    assert_int_equal(a.dhcp_timeout, 5);
    assert_int_equal(a.flow_limit, 4);
    assert_int_equal(a.nsplit_dns, 2);
    assert_int_equal(a.pfs, 1);
    assert_string_equal(a.psk_local, "l");
    for (size_t i = 0; refused[i]; i++)
        assert_int_equal(aaa_attrs_avpair(&a, refused[i], strlen(refused[i])), 0);
    assert_int_equal(a.ndns, 1); /* unchanged by the refused ones */
    aaa_attrs_free(&a);
}

static void test_accept_attributes_and_tunnel_password(void **state)
{
    /* an Access-Accept with IETF attributes, a Tunnel-Password (RFC 2868 3.5:
     * tag, salt, then the hidden length-prefixed password) and User-Name */
    uint8_t req_auth[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    struct rad_pkt p;
    struct rad_view v;
    struct aaa_attrs a;
    uint8_t tp[1 + 2 + 16] = {0, 0x80, 0x01}, plain[16] = {7, 'p', 's', 'k', '-', 'o', 'n', 'e'};
    uint8_t b[16];
    unsigned int ml = 16;

    (void)state;
    /* hide it: b = MD5(secret | req_auth | salt), c = p xor b */
    {
        EVP_MD_CTX *m = EVP_MD_CTX_new();

        EVP_DigestInit_ex(m, EVP_md5(), NULL);
        EVP_DigestUpdate(m, SECRET, strlen(SECRET));
        EVP_DigestUpdate(m, req_auth, 16);
        EVP_DigestUpdate(m, tp + 1, 2);
        EVP_DigestFinal_ex(m, b, &ml);
        EVP_MD_CTX_free(m);
    }
    for (int i = 0; i < 16; i++)
        tp[3 + i] = plain[i] ^ b[i];
    rad_init(&p, RAD_ACCESS_ACCEPT, 1, NULL);
    rad_add_str(&p, RAD_USER_NAME, "canonical");
    rad_add_u32(&p, RAD_FRAMED_IP_ADDRESS, 0x0a000001);
    rad_add_u32(&p, RAD_SESSION_TIMEOUT, 60);
    rad_add_u32(&p, RAD_TUNNEL_TYPE, 0x00000009);
    rad_add_u32(&p, RAD_TUNNEL_MEDIUM_TYPE, 0x00000001);
    rad_add(&p, RAD_TUNNEL_PASSWORD, tp, sizeof(tp));
    rad_add_str(&p, RAD_CLASS, "c1");
    assert_int_not_equal(rad_finish_reply(&p, req_auth, SECRET, strlen(SECRET)), 0);
    assert_int_equal(rad_parse(p.buf, p.len, &v), 0);
    aaa_attrs_init(&a);
    assert_int_equal(aaa_attrs_parse(&v, SECRET, req_auth, &a), 0);
    assert_string_equal(a.user_name, "canonical");
    assert_true(a.has_addr);
    assert_int_equal(a.addr, 0x0a000001);
    assert_int_equal(a.session_timeout, 60);
    assert_int_equal(a.tunnel_type, 9);
    assert_int_equal(a.tunnel_medium, 1);
    assert_string_equal(a.tunnel_password, "psk-one");
    assert_string_equal(a.class_, "c1");
    assert_null(a.unknown);
    assert_int_equal(rad_verify_reply(&v, req_auth, SECRET, strlen(SECRET)), 0);
    aaa_attrs_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_radius_attributes_reach_the_client),
        cmocka_unit_test(test_parser_every_attribute),
        cmocka_unit_test(test_accept_attributes_and_tunnel_password),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
