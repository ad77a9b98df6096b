/* The compiled configuration of the IKE engine (daemon/ike/ike_conf.h,
 * ike_prof_conf.c): a configuration with three profiles, a keyring whose
 * peers match by identity, host name and address (asymmetric keys too), a
 * certificate map with eq/co/ne rules, an "ATTR=VALUE" rule and a date rule,
 * three name manglers, IPsec profiles with and without lifetimes and an
 * outside dataplane interface with its replay window, access lists and pools
 * is compiled; the source tree is freed right after (the generation keeps its
 * own copy). Then the compiled fields are compared with what the
 * configuration says, and profile selection (identity, local address and
 * interface, VRF, certificates made here with OpenSSL), keyring keys, name
 * mangling, authorization sources and the generation's reference counting
 * are exercised, and the CA chain a trustpoint sends after its certificate
 * is built from CAs listed in any order. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <libyang/libyang.h>
#include <net/if.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/pool/pool.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"
#define RT "urn:raven:params:xml:ns:yang:raven-types"

static const char config[] =
    "<dataplane xmlns=\"" NS "\"><interface><name>lo</name><role>outside</role><replay-window>256</replay-window>"
    "</interface></dataplane>"
    "<pools xmlns=\"" NS "\"><ipv4-pool><name>p4</name><range><start>10.8.0.1</start><end>10.8.0.9</end></range>"
    "</ipv4-pool><ipv6-pool><name>p6</name><prefix>fd00:1::/64</prefix></ipv6-pool></pools>"
    "<access-lists xmlns=\"" NS "\"><access-list><name>acl4</name>"
    "<entry><sequence>10</sequence><action>permit</action><prefix>10.60.0.0/16</prefix></entry>"
    "<entry><sequence>20</sequence><action>deny</action><prefix>10.61.0.0/16</prefix></entry>"
    "<entry><sequence>30</sequence><action>permit</action><prefix>10.50.0.0/16</prefix></entry>"
    "<entry><sequence>40</sequence><action>permit</action><prefix>10.60.0.0/16</prefix></entry></access-list>"
    "<access-list><name>acl6</name><entry><sequence>10</sequence><action>permit</action>"
    "<prefix>2001:db8:60::/48</prefix></entry></access-list></access-lists>"
    "<pki xmlns=\"" NS "\"><certificate-map><name>cm</name>"
    "<entry><sequence>10</sequence>"
    "<rule><field>subject-name</field><operator>eq</operator><value>OU = Sales</value></rule>"
    "<rule><field>issuer-name</field><operator>co</operator><value>Example CA</value></rule>"
    "<rule><field>serial-number</field><operator>ne</operator><value>FF</value></rule></entry>"
    "<entry><sequence>20</sequence>"
    "<rule><field>alt-subject-name</field><operator>co</operator><value>Carol.Example.NET</value></rule></entry>"
    "<entry><sequence>30</sequence>"
    "<rule><field>valid-start</field><operator>lt</operator><value>2026-01-01T00:00:00Z</value></rule>"
    "<rule><field>expires-on</field><operator>ge</operator><value>2030-01-01</value></rule></entry>"
    "</certificate-map></pki>"
    "<aaa xmlns=\"" NS "\"><radius-server><name>s</name><address>127.0.0.1</address><key>secret</key>"
    "</radius-server><server-group><name>grp</name><server>s</server></server-group>"
    "<authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method>"
    "</authorization-list>"
    "<authorization-list><name>rad-list</name><method><sequence>5</sequence><local/></method>"
    "<method><sequence>2</sequence><group>grp</group></method></authorization-list>"
    "<accounting-list><name>acct</name><method><sequence>1</sequence><group>grp</group></method>"
    "</accounting-list></aaa>"
    "<ipsec xmlns=\"" NS "\" xmlns:rt=\"" RT "\">"
    "<transform-set><name>ts1</name><esp-encryption>rt:aes-gcm-16-256</esp-encryption></transform-set>"
    "<transform-set><name>ts2</name><esp-encryption>rt:aes-cbc-128</esp-encryption>"
    "<esp-integrity>rt:hmac-sha2-256-128</esp-integrity></transform-set>"
    "<profile><name>ip1</name><transform-set>ts1</transform-set><transform-set>ts2</transform-set>"
    "<ikev2-profile>rw</ikev2-profile><pfs-group>rt:ecp-256</pfs-group>"
    "<lifetime><hard><time>7200</time><kilobytes>100000</kilobytes><packets>1000</packets></hard>"
    "<soft><time>6000</time></soft><idle-time>600</idle-time></lifetime>"
    "<flow-limit>10</flow-limit><replay-window>1024</replay-window><esn>false</esn></profile>"
    "<profile><name>ip2</name><transform-set>ts2</transform-set>"
    "<lifetime><hard><packets>5</packets></hard></lifetime></profile></ipsec>"
    "<ikev2 xmlns=\"" NS "\">"
    "<keyring><name>kr</name>"
    "<peer><name>a-net</name><address>198.51.100.0/24</address><pre-shared-key>k-addr</pre-shared-key></peer>"
    "<peer><name>b-host</name><hostname>host2.example.org</hostname>"
    "<local-pre-shared-key>k-host-l</local-pre-shared-key><remote-pre-shared-key>k-host-r</remote-pre-shared-key>"
    "</peer>"
    "<peer><name>c-id</name><identity><fqdn>vpn1.example.org</fqdn></identity>"
    "<pre-shared-key>k-id</pre-shared-key></peer>"
    "<peer><name>d-email</name><identity><email>bob@example.org</email></identity>"
    "<local-pre-shared-key>k-em-l</local-pre-shared-key><remote-pre-shared-key>k-em-r</remote-pre-shared-key></peer>"
    "<peer><name>e-ip</name><identity><address>203.0.113.7</address></identity>"
    "<pre-shared-key>k-ip</pre-shared-key></peer>"
    "<peer><name>f-kid</name><identity><key-id>kid1</key-id></identity>"
    "<remote-pre-shared-key>k-kid-r</remote-pre-shared-key></peer></keyring>"
    "<name-mangler><name>m1</name><dn>common-name</dn><eap><prefix>@</prefix></eap><email>username</email>"
    "<fqdn>hostname</fqdn></name-mangler>"
    "<name-mangler><name>m2</name><eap><suffix>@</suffix></eap><email>domain</email><fqdn>domain</fqdn>"
    "</name-mangler>"
    "<name-mangler><name>m3</name><eap><dn>organization-unit</dn></eap></name-mangler>"
    "<authorization-policy><name>staff</name><banner>Staff</banner></authorization-policy>"
    /* rw: identity, local address, keyring; ip1 names it */
    "<profile><name>rw</name><match><local-address>192.0.2.1</local-address><identity><remote>"
    "<fqdn><domain>example.org</domain></fqdn><email><domain>example.com</domain></email>"
    "<key-id>kid1</key-id></remote></identity></match>"
    "<identity><local><fqdn>vpn.example.org</fqdn></local></identity>"
    "<authentication><local><pre-share/></local><remote><pre-share/></remote></authentication>"
    "<keyring><local>kr</local></keyring>"
    "<aaa><authorization><user><psk><method-list>local-list</method-list><name-mangler>m1</name-mangler></psk>"
    "</user><group><psk><override/><method-list>rad-list</method-list><username>staff</username></psk></group>"
    "</authorization><accounting><psk>acct</psk></accounting></aaa>"
    "<config-exchange><request>false</request></config-exchange>"
    "<dpd><interval>30</interval><mode>periodic</mode></dpd><lifetime>3600</lifetime></profile>"
    /* certp: certificate map on interface lo; no IPsec profile (the defaults) */
    "<profile><name>certp</name><match><local-interface>lo</local-interface><certificate-map>cm</certificate-map>"
    "</match><authentication><local><pre-share><key>own-l</key></pre-share></local>"
    "<remote><pre-share><key>own-r</key></pre-share></remote></authentication>"
    "<keyring><aaa><method-list>rad-list</method-list><name-mangler>m2</name-mangler></aaa></keyring>"
    "<aaa><authorization><user><cert><method-list>local-list</method-list><name-mangler>m1</name-mangler></cert>"
    "</user></authorization></aaa></profile>"
    /* vt: addresses and FQDNs anywhere; the virtual template's IPsec profile */
    "<profile><name>vt</name><match><identity><remote><address>203.0.113.0/24</address>"
    "<fqdn><exact>a.example.org</exact></fqdn></remote></identity></match>"
    "<identity><local><address>192.0.2.1</address></local></identity>"
    "<authentication><local><pre-share><key>v</key></pre-share></local>"
    "<remote><pre-share><key>v</key></pre-share></remote></authentication>"
    "<aaa><authorization><user><eap><method-list>local-list</method-list><name-mangler>m3</name-mangler></eap>"
    "</user></authorization></aaa>"
    "<virtual-template><ipsec-profile>ip2</ipsec-profile></virtual-template></profile></ikev2>";

struct env {
    struct ly_ctx *ctx;
    struct ike_conf *conf;
    EVP_PKEY *key;
};

static void on_err(void *arg, const char *path, const char *msg)
{
    snprintf(arg, 512, "%s: %s", path ? path : "", msg);
}

/* A generation of @xml; the parsed tree is freed before returning. */
static struct ike_conf *build(struct ly_ctx *ctx, const char *xml, char *why)
{
    struct lyd_node *tree = NULL;
    struct ike_conf *c;

    assert_int_equal(lyd_parse_data_mem(ctx, xml, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree), 0);
    c = ike_conf_build(ctx, tree, on_err, why);
    lyd_free_all(tree);
    return c;
}

static int setup(void **state)
{
    static struct env e;
    char why[512] = "";

    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &e.ctx), 0);
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-types", NULL, NULL));
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-vpn", NULL, NULL));
    e.conf = build(e.ctx, config, why);
    if (!e.conf)
        fail_msg("%s", why);
    e.key = EVP_EC_gen("P-256");
    assert_non_null(e.key);
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    if (!e)
        return 0;
    ike_conf_unref(e->conf);
    EVP_PKEY_free(e->key);
    ly_ctx_destroy(e->ctx);
    return 0;
}

/* A certificate of CN=@cn, O=@o, OU=@ou issued by "CN=Example CA,O=Example
 * Inc", with serial @serial and DNS subjectAltName @san (NULL: none). */
static X509 *cert(const struct env *e, const char *cn, const char *o, const char *ou, long serial, const char *san)
{
    X509 *x = X509_new();
    X509_NAME *sub = X509_NAME_new(), *iss = X509_NAME_new();

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_NAME_add_entry_by_txt(sub, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(sub, "O", MBSTRING_ASC, (const unsigned char *)o, -1, -1, 0), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(sub, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0), 1);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC, (const unsigned char *)"Example CA", -1, -1, 0), 1);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(iss, "O", MBSTRING_ASC, (const unsigned char *)"Example Inc", -1, -1, 0), 1);
    assert_int_equal(X509_set_subject_name(x, sub), 1);
    assert_int_equal(X509_set_issuer_name(x, iss), 1);
    assert_int_equal(X509_set_pubkey(x, e->key), 1);
    if (san) {
        char v[128];
        X509_EXTENSION *ext;

        snprintf(v, sizeof(v), "DNS:%s", san);
        ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, v);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, e->key, EVP_sha256()) > 0);
    X509_NAME_free(sub);
    X509_NAME_free(iss);
    return x;
}

static struct ike_id_pld id_text(uint8_t type, const char *v)
{
    return (struct ike_id_pld){.type = type, .data = (const uint8_t *)v, .len = strlen(v)};
}

static void set_addr(struct sockaddr_storage *ss, const char *a)
{
    memset(ss, 0, sizeof(*ss));
    ss->ss_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, a, &((struct sockaddr_in *)ss)->sin_addr), 1);
}

static const struct ike_prof *prof(const struct env *e, const char *name)
{
    const struct ike_prof *p = ike_conf_prof(e->conf, name);

    assert_non_null(p);
    assert_string_equal(p->name, name);
    return p;
}

static const struct ike_ipsec_prof *ipsec(const struct env *e, const char *name)
{
    for (size_t i = 0; i < e->conf->nipsecs; i++) {
        if (!strcmp(e->conf->ipsecs[i].name, name))
            return &e->conf->ipsecs[i];
    }
    fail_msg("no IPsec profile %s", name);
    return NULL;
}

/* Profiles in configuration order, every field the configuration sets, and
 * the defaults of those it does not. */
static void test_profiles(void **state)
{
    struct env *e = *state;
    const struct ike_prof *rw = prof(e, "rw"), *cp = prof(e, "certp"), *vt = prof(e, "vt");
    const struct ike_authz_src *u, *g;
    uint8_t a[16];

    assert_int_equal(e->conf->nprofs, 3);
    assert_ptr_equal(&e->conf->profs[0], rw);
    assert_ptr_equal(&e->conf->profs[1], cp);
    assert_ptr_equal(&e->conf->profs[2], vt);
    assert_null(ike_conf_prof(e->conf, "nope"));
    /* rw */
    assert_null(rw->fvrf);
    assert_int_equal(rw->nlocal_addrs, 1);
    assert_int_equal(rw->local_addrs[0].family, AF_INET);
    assert_int_equal(rw->local_addrs[0].plen, 32);
    assert_int_equal(inet_pton(AF_INET, "192.0.2.1", a), 1);
    assert_memory_equal(rw->local_addrs[0].lo, a, 4);
    assert_int_equal(rw->nlocal_ifs, 0);
    assert_int_equal(rw->nremote, 3);
    assert_int_equal(rw->nmaps, 0);
    assert_int_equal(rw->local_id_type, ID_FQDN);
    assert_string_equal(rw->local_id, "vpn.example.org");
    assert_true(rw->local_psk && rw->remote_psk);
    assert_false(rw->local_rsa || rw->local_ecdsa || rw->remote_rsa || rw->remote_ecdsa || rw->remote_eap);
    assert_null(rw->local_key);
    assert_null(rw->remote_key);
    assert_int_equal(rw->eap_timeout, 90);
    assert_false(rw->eap_query_identity);
    assert_non_null(rw->keyring);
    assert_string_equal(rw->keyring->name, "kr");
    assert_false(rw->keyring_aaa.set);
    assert_int_equal(rw->ntps, 0);
    assert_null(rw->eap_list);
    u = &rw->authz_user[IKE_M_PSK];
    assert_true(u->set);
    assert_string_equal(u->method_list, "local-list");
    assert_null(u->username);
    assert_non_null(u->mangler);
    assert_string_equal(u->mangler->name, "m1");
    assert_false(u->cached || u->override || u->list_radius);
    assert_true(u->list_local);
    g = &rw->authz_group[IKE_M_PSK];
    assert_true(g->set && g->override && g->list_radius && g->list_local);
    assert_string_equal(g->username, "staff");
    assert_string_equal(g->method_list, "rad-list");
    assert_null(g->mangler);
    /* presence containers: absent; user eap (not a presence container: libyang
     * adds it empty) is no source either */
    assert_false(rw->authz_user[IKE_M_CERT].set || rw->authz_group[IKE_M_CERT].set ||
                 rw->authz_group[IKE_M_EAP].set || rw->authz_user[IKE_M_EAP].set);
    assert_null(rw->authz_user[IKE_M_EAP].method_list);
    assert_null(rw->authz_user[IKE_M_EAP].mangler);
    assert_string_equal(rw->acct_list[IKE_M_PSK], "acct");
    assert_null(rw->acct_list[IKE_M_EAP]);
    assert_false(rw->cfg_request);
    assert_true(rw->cfg_set_accept && rw->cfg_set_send);
    assert_int_equal(rw->dpd_interval, 30);
    assert_int_equal(rw->dpd_retry, 2);
    assert_true(rw->dpd_periodic);
    assert_int_equal(rw->lifetime, 3600);
    assert_ptr_equal(rw->ipsec, ipsec(e, "ip1")); /* ip1 names rw */
    assert_null(rw->ivrf);
    /* certp: the defaults */
    assert_int_equal(cp->nlocal_ifs, 1);
    assert_string_equal(cp->local_ifs[0], "lo");
    assert_int_equal(cp->nmaps, 1);
    assert_string_equal(cp->maps[0]->name, "cm");
    assert_int_equal(cp->nremote, 0);
    assert_int_equal(cp->local_id_type, 0);
    assert_null(cp->local_id);
    assert_string_equal(cp->local_key, "own-l");
    assert_string_equal(cp->remote_key, "own-r");
    assert_null(cp->keyring);
    assert_true(cp->keyring_aaa.set && cp->keyring_aaa.list_radius);
    assert_string_equal(cp->keyring_aaa.method_list, "rad-list");
    assert_string_equal(cp->keyring_aaa.mangler->name, "m2");
    assert_true(cp->authz_user[IKE_M_CERT].set);
    assert_false(cp->authz_user[IKE_M_PSK].set); /* libyang's empty container */
    assert_false(cp->authz_group[IKE_M_PSK].set);
    assert_true(cp->cfg_request && cp->cfg_set_accept && cp->cfg_set_send);
    assert_int_equal(cp->dpd_interval, 0);
    assert_false(cp->dpd_periodic);
    assert_int_equal(cp->lifetime, 86400);
    assert_ptr_equal(cp->ipsec, &e->conf->ipsec_default);
    /* vt */
    assert_int_equal(vt->nremote, 2);
    assert_int_equal(vt->local_id_type, ID_IPV4);
    assert_string_equal(vt->local_id, "192.0.2.1");
    assert_memory_equal(vt->local_id_raw, a, 4);
    assert_ptr_equal(vt->ipsec, ipsec(e, "ip2"));
    assert_string_equal(vt->authz_user[IKE_M_EAP].mangler->name, "m3");
}

/* IPsec profiles: configured lifetimes and their 90 % rules, the outside
 * interface's replay window, and the defaults of a profile without one. */
static void test_ipsec_profiles(void **state)
{
    struct env *e = *state;
    const struct ike_ipsec_prof *p1 = ipsec(e, "ip1"), *p2 = ipsec(e, "ip2"), *d = &e->conf->ipsec_default;

    assert_int_equal(e->conf->nipsecs, 2);
    assert_int_equal(p1->esp.encr, IKE_EB_AES_GCM_256 | IKE_EB_AES_CBC_128);
    assert_int_equal(p1->esp.integ, 1u << IKE_INTEG_HMAC_SHA2_256_128);
    assert_false(p1->esp.esn);
    assert_int_equal(p1->replay_window, 1024);
    assert_int_equal(p1->lifetime, 7200);
    assert_int_equal(p1->soft_time, 6000);
    assert_true(p1->hard_bytes == 100000ULL * 1024);
    assert_true(p1->soft_bytes == 100000ULL * 1024 / 10 * 9);
    assert_true(p1->hard_packets == 1000);
    assert_true(p1->soft_packets == 900);
    assert_int_equal(p1->idle_time, 600);
    assert_int_equal(p1->pfs_group, 19);
    assert_int_equal(p1->flow_limit, 10);

    assert_int_equal(p2->esp.encr, IKE_EB_AES_CBC_128);
    assert_true(p2->esp.esn); /* the model's default */
    assert_int_equal(p2->replay_window, 256); /* the outside interface's */
    assert_int_equal(p2->lifetime, 3600);
    assert_int_equal(p2->soft_time, 0);
    assert_true(p2->hard_packets == 5);
    assert_true(p2->soft_packets == 4); /* under 10: one packet before the hard limit */
    assert_int_equal(p2->pfs_group, 0);
    assert_int_equal(p2->flow_limit, UINT32_MAX);
    assert_int_equal(p2->idle_time, 0);

    assert_null(d->name);
    assert_int_equal(d->esp.encr, IKE_EB_AES_GCM_128 | IKE_EB_AES_GCM_256 | IKE_EB_AES_CBC_128 |
                                      IKE_EB_AES_CBC_256 | IKE_EB_CHACHA20_POLY1305);
    assert_false(d->esp.esn);
    assert_int_equal(d->replay_window, 256);
    assert_int_equal(d->lifetime, 3600);
    assert_true(d->hard_bytes == 4608000ULL * 1024);
    assert_true(d->soft_bytes == 4608000ULL * 1024 / 10 * 9);
    assert_true(d->hard_packets == 0 && d->soft_packets == 0);
    assert_int_equal(d->flow_limit, UINT32_MAX);
}

/* Keyrings, certificate maps, manglers, access lists and the pools' ranges. */
static void test_referenced(void **state)
{
    struct env *e = *state;
    const struct ike_keyring *kr = e->conf->keyrings;
    const struct ike_certmap *cm = e->conf->certmaps;
    const struct ike_acl *acl = ike_conf_acl(e->conf, "acl4");
    const struct ike_range *r = e->conf->pool_ranges;
    uint8_t a[16];

    assert_int_equal(e->conf->nkeyrings, 1);
    assert_int_equal(kr->npeers, 6);
    assert_string_equal(kr->peers[0].name, "a-net");
    assert_true(kr->peers[0].has_addr);
    assert_int_equal(kr->peers[0].addr.plen, 24);
    assert_int_equal(kr->peers[0].id_type, 0);
    assert_string_equal(kr->peers[1].hostname, "host2.example.org");
    assert_string_equal(kr->peers[1].psk_local, "k-host-l");
    assert_string_equal(kr->peers[1].psk_remote, "k-host-r");
    assert_null(kr->peers[1].psk);
    assert_int_equal(kr->peers[2].id_type, ID_FQDN);
    assert_string_equal(kr->peers[2].id, "vpn1.example.org");
    assert_int_equal(kr->peers[3].id_type, ID_RFC822);
    assert_int_equal(kr->peers[4].id_type, ID_IPV4);
    assert_int_equal(inet_pton(AF_INET, "203.0.113.7", a), 1);
    assert_memory_equal(kr->peers[4].id_raw, a, 4);
    assert_int_equal(kr->peers[5].id_type, ID_KEY_ID);

    assert_int_equal(e->conf->ncertmaps, 1);
    assert_string_equal(cm->name, "cm");
    assert_int_equal(cm->nentries, 3);
    /* the date rules: instants in UTC */
    assert_int_equal(cm->entries[2].nrules, 2);
    assert_int_equal(cm->entries[2].rules[0].field, IKE_CMF_VALID_START);
    assert_int_equal(cm->entries[2].rules[0].op, IKE_CMO_LT);
    assert_int_equal(cm->entries[2].rules[0].when, 1767225600); /* 2026-01-01T00:00:00Z */
    assert_int_equal(cm->entries[2].rules[1].field, IKE_CMF_EXPIRES);
    assert_int_equal(cm->entries[2].rules[1].op, IKE_CMO_GE);
    assert_int_equal(cm->entries[2].rules[1].when, 1893456000); /* 2030-01-01 */
    assert_int_equal(cm->entries[0].nrules, 3);
    for (size_t i = 0; i < 3; i++) {
        const struct ike_cm_rule *rl = &cm->entries[0].rules[i];

        if (rl->field == IKE_CMF_SUBJECT) {
            assert_int_equal(rl->op, IKE_CMO_EQ);
            assert_true(rl->by_attr);
            assert_string_equal(rl->attr, "ou");
            assert_string_equal(rl->value, "sales");
        } else if (rl->field == IKE_CMF_ISSUER) {
            assert_int_equal(rl->op, IKE_CMO_CO);
            assert_false(rl->by_attr);
            assert_string_equal(rl->value, "example ca");
        } else {
            assert_int_equal(rl->field, IKE_CMF_SERIAL);
            assert_int_equal(rl->op, IKE_CMO_NE);
            assert_string_equal(rl->value, "ff");
        }
    }
    assert_int_equal(cm->entries[1].rules[0].field, IKE_CMF_ALT);
    assert_string_equal(cm->entries[1].rules[0].value, "carol.example.net");

    assert_int_equal(e->conf->nmanglers, 3);
    assert_string_equal(e->conf->manglers[0].name, "m1");
    assert_int_equal(e->conf->manglers[0].fqdn, IKE_MGL_HOST);
    assert_int_equal(e->conf->manglers[0].email, IKE_MGL_HOST);
    assert_int_equal(e->conf->manglers[0].dn_nid, NID_commonName);
    assert_int_equal(e->conf->manglers[0].eap_prefix, '@');
    assert_int_equal(e->conf->manglers[1].fqdn, IKE_MGL_DOMAIN);
    assert_int_equal(e->conf->manglers[1].eap_suffix, '@');
    assert_non_null(e->conf->manglers[2].eap_dn);
    assert_string_equal(e->conf->manglers[2].eap_dn, "OU");

    /* permits each once, counted each */
    assert_non_null(acl);
    assert_int_equal(acl->npermits, 3);
    assert_int_equal(acl->permits.n, 2);
    assert_int_equal(ike_conf_acl(e->conf, "acl6")->permits.n, 1);
    assert_null(ike_conf_acl(e->conf, "none"));

    assert_int_equal(e->conf->npool_ranges, 2);
    for (size_t i = 0; i < 2; i++) {
        if (r[i].family == AF_INET) {
            assert_int_equal(inet_pton(AF_INET, "10.8.0.1", a), 1);
            assert_memory_equal(r[i].lo, a, 4);
            assert_int_equal(inet_pton(AF_INET, "10.8.0.9", a), 1);
            assert_memory_equal(r[i].hi, a, 4);
        } else {
            assert_int_equal(r[i].family, AF_INET6);
            assert_int_equal(r[i].plen, 64);
            assert_int_equal(inet_pton(AF_INET6, "fd00:1::", a), 1);
            assert_memory_equal(r[i].lo, a, 16);
            assert_int_equal(inet_pton(AF_INET6, "fd00:1::ffff:ffff:ffff:ffff", a), 1);
            assert_memory_equal(r[i].hi, a, 16);
        }
    }
}

static const char *selected(const struct env *e, struct ike_id_pld id, const struct ike_sess *s, X509 *x)
{
    const struct ike_prof *p = ike_select_profile(e->conf, &id, s, x);

    return p ? p->name : "(none)";
}

/* The first profile in configuration order whose match rules all hold. */
/* @x with notBefore @nb and notAfter @na. */
static X509 *dated(X509 *x, time_t nb, time_t na)
{
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), nb));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), na));
    return x;
}

static void test_select(void **state)
{
    struct env *e = *state;
    static struct ike_sess s;
    X509 *alice = cert(e, "alice", "Example Corp", "Sales", 0x1234, NULL);
    X509 *alice_ff = cert(e, "alice", "Example Corp", "Sales", 0xff, NULL);
    X509 *mallory = cert(e, "mallory", "OU=Sales", "Marketing", 0x1234, NULL);
    X509 *carol = cert(e, "carol", "Example Corp", "Eng", 7, "carol.example.net");
    /* the date entry: valid from before 2026 and until 2030 or later */
    X509 *dave = dated(cert(e, "dave", "Other", "Ops", 9, NULL), 1750000000, 1900000000);
    X509 *erin = dated(cert(e, "erin", "Other", "Ops", 9, NULL), 1750000000, 1800000000);
    uint8_t ip[4] = {203, 0, 113, 7}, other[4] = {10, 0, 0, 1};
    struct ike_id_pld ipid = {.type = ID_IPV4, .data = ip, .len = 4};

    set_addr(&s.local, "192.0.2.1");
    assert_string_equal(selected(e, id_text(ID_FQDN, "a.example.org"), &s, NULL), "rw");
    assert_string_equal(selected(e, id_text(ID_FQDN, "A.Example.ORG"), &s, NULL), "rw");
    assert_string_equal(selected(e, id_text(ID_FQDN, "example.org"), &s, NULL), "rw");
    assert_string_equal(selected(e, id_text(ID_FQDN, "aexample.org"), &s, NULL), "(none)");
    assert_string_equal(selected(e, id_text(ID_RFC822, "bob@example.com"), &s, NULL), "rw");
    assert_string_equal(selected(e, id_text(ID_RFC822, "bob@sub.example.com"), &s, NULL), "(none)");
    assert_string_equal(selected(e, id_text(ID_KEY_ID, "kid1"), &s, NULL), "rw");
    assert_string_equal(selected(e, id_text(ID_KEY_ID, "KID1"), &s, NULL), "(none)");
    /* another local address: rw does not match, vt (later) does */
    set_addr(&s.local, "192.0.2.2");
    assert_string_equal(selected(e, id_text(ID_FQDN, "a.example.org"), &s, NULL), "vt");
    assert_string_equal(selected(e, id_text(ID_FQDN, "b.example.org"), &s, NULL), "(none)");
    assert_string_equal(selected(e, ipid, &s, NULL), "vt");
    ipid.data = other;
    assert_string_equal(selected(e, ipid, &s, NULL), "(none)");
    /* certp: a certificate of the map, received on lo */
    s.rx_ifindex = (int)if_nametoindex("lo");
    assert_true(s.rx_ifindex > 0);
    assert_string_equal(selected(e, id_text(ID_FQDN, "x.other.net"), &s, alice), "certp");
    assert_string_equal(selected(e, id_text(ID_FQDN, "x.other.net"), &s, carol), "certp");
    assert_string_equal(selected(e, id_text(ID_FQDN, "x.other.net"), &s, alice_ff), "(none)"); /* ne */
    assert_string_equal(selected(e, id_text(ID_FQDN, "x.other.net"), &s, mallory), "(none)");  /* ATTR=VALUE */
    assert_string_equal(selected(e, id_text(ID_FQDN, "x.other.net"), &s, dave), "certp");      /* lt, ge */
    assert_string_equal(selected(e, id_text(ID_FQDN, "x.other.net"), &s, erin), "(none)");     /* expires < 2030 */
    assert_string_equal(selected(e, id_text(ID_FQDN, "x.other.net"), &s, NULL), "(none)");
    snprintf(s.fvrf, sizeof(s.fvrf), "blue"); /* no profile matches fvrf */
    assert_string_equal(selected(e, id_text(ID_FQDN, "x.other.net"), &s, alice), "(none)");
    s.fvrf[0] = 0;
    s.rx_ifindex = 0; /* another interface */
    assert_string_equal(selected(e, id_text(ID_FQDN, "x.other.net"), &s, alice), "(none)");
    X509_free(alice);
    X509_free(alice_ff);
    X509_free(mallory);
    X509_free(carol);
    X509_free(dave);
    X509_free(erin);
}

/* A date rule whose value is no date refuses the configuration, saying where. */
static void test_certmap_bad_date(void **state)
{
    struct env *e = *state;
    char why[512] = "";
    struct ike_conf *c = build(e->ctx,
                               "<pki xmlns=\"" NS "\"><certificate-map><name>cm</name><entry><sequence>1</sequence>"
                               "<rule><field>expires-on</field><operator>lt</operator><value>next year</value></rule>"
                               "</entry></certificate-map></pki>",
                               why);

    assert_null(c);
    assert_non_null(strstr(why, "certificate-map[name='cm']/entry[sequence='1']/rule"));
    assert_non_null(strstr(why, "its value 'next year' must be YYYY-MM-DDThh:mm:ssZ"));
}

/* A certificate of CN=@cn for @key, issued by @issuer with @issuer_key (NULL:
 * self-signed), a CA when @ca. */
static X509 *chain_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    X509 *x = X509_new();
    X509_NAME *sub = X509_NAME_new();
    X509_EXTENSION *ext;
    X509V3_CTX v3;

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_NAME_add_entry_by_txt(sub, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
    assert_int_equal(X509_set_subject_name(x, sub), 1);
    assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : sub), 1);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    X509_NAME_free(sub);
    return x;
}

static char *pem_of(X509 *x, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL, *s;
    long len;

    assert_non_null(b);
    assert_int_equal(x ? PEM_write_bio_X509(b, x) : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    len = BIO_get_mem_data(b, &p);
    s = strndup(p, (size_t)len);
    BIO_free(b);
    return s;
}

static void assert_chain(const struct ike_conf *c, const char *tp_name, X509 *const *want, size_t nwant)
{
    const struct pki_tp *tp = ike_conf_tp(c, tp_name);

    assert_non_null(tp);
    assert_int_equal(tp->nchain, nwant);
    for (size_t i = 0; i < nwant; i++) {
        unsigned char *der = NULL;
        int len = i2d_X509(want[i], &der);

        assert_true(len > 0);
        assert_int_equal(tp->chain_der_len[i], (size_t)len);
        assert_memory_equal(tp->chain_der[i], der, (size_t)len);
        OPENSSL_free(der);
    }
}

/* The CAs sent after the trustpoint's certificate: its issuer first, each
 * next one's issuer after it, the self-signed root left out, whatever the
 * order of ca-certificate; where the trustpoint lacks an issuer, the chain
 * found so far; CAs not above our certificate never. */
static void test_trustpoint_chain(void **state)
{
    struct env *e = *state;
    EVP_PKEY *rk = EVP_EC_gen("P-256"), *k1 = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256"),
             *hk = EVP_EC_gen("P-256"), *ok = EVP_EC_gen("P-256");
    X509 *root = chain_cert("Root CA", rk, NULL, NULL, true), *i1 = chain_cert("Policy CA", k1, root, rk, true),
         *i2 = chain_cert("Issuing CA", k2, i1, k1, true), *head = chain_cert("vpn.example.org", hk, i2, k2, false),
         *direct = chain_cert("vpn2.example.org", hk, root, rk, false), *other = chain_cert("Other CA", ok, NULL, NULL, true);
    char *root_p = pem_of(root, NULL), *i1_p = pem_of(i1, NULL), *i2_p = pem_of(i2, NULL), *head_p = pem_of(head, NULL),
         *direct_p = pem_of(direct, NULL), *other_p = pem_of(other, NULL), *key_p = pem_of(NULL, hk), why[512] = "";
    char *xml = NULL;
    size_t xml_len = 0;
    FILE *f = open_memstream(&xml, &xml_len);
    struct ike_conf *c;

    assert_non_null(f);
    fprintf(f, "<pki xmlns=\"" NS "\">");
    /* out of order, an unrelated CA among them */
    fprintf(f, "<trustpoint><name>mixed</name><ca-certificate>%s</ca-certificate><ca-certificate>%s</ca-certificate>"
               "<ca-certificate>%s</ca-certificate><ca-certificate>%s</ca-certificate>"
               "<certificate>%s</certificate><private-key>%s</private-key></trustpoint>",
            i1_p, other_p, root_p, i2_p, head_p, key_p);
    /* the policy CA missing: the issuing CA alone */
    fprintf(f, "<trustpoint><name>gap</name><ca-certificate>%s</ca-certificate><ca-certificate>%s</ca-certificate>"
               "<certificate>%s</certificate><private-key>%s</private-key></trustpoint>",
            root_p, i2_p, head_p, key_p);
    /* no root: the intermediates found */
    fprintf(f, "<trustpoint><name>rootless</name><ca-certificate>%s</ca-certificate>"
               "<ca-certificate>%s</ca-certificate><certificate>%s</certificate><private-key>%s</private-key>"
               "</trustpoint>",
            i2_p, i1_p, head_p, key_p);
    /* issued by the root: nothing to add */
    fprintf(f, "<trustpoint><name>direct</name><ca-certificate>%s</ca-certificate>"
               "<ca-certificate>%s</ca-certificate><certificate>%s</certificate><private-key>%s</private-key>"
               "</trustpoint>",
            i1_p, root_p, direct_p, key_p);
    /* no issuer of ours at all, and no certificate */
    fprintf(f, "<trustpoint><name>stranger</name><ca-certificate>%s</ca-certificate><certificate>%s</certificate>"
               "<private-key>%s</private-key></trustpoint>",
            other_p, head_p, key_p);
    fprintf(f, "<trustpoint><name>verify-only</name><ca-certificate>%s</ca-certificate></trustpoint></pki>", i2_p);
    assert_int_equal(fclose(f), 0);
    c = build(e->ctx, xml, why);
    if (!c)
        fail_msg("%s", why);
    assert_chain(c, "mixed", (X509 *[]){i2, i1}, 2);
    assert_chain(c, "gap", (X509 *[]){i2}, 1);
    assert_chain(c, "rootless", (X509 *[]){i2, i1}, 2);
    assert_chain(c, "direct", NULL, 0);
    assert_chain(c, "stranger", NULL, 0);
    assert_chain(c, "verify-only", NULL, 0);
    ike_conf_unref(c);

    free(xml);
    free(root_p);
    free(i1_p);
    free(i2_p);
    free(head_p);
    free(direct_p);
    free(other_p);
    free(key_p);
    X509_free(root);
    X509_free(i1);
    X509_free(i2);
    X509_free(head);
    X509_free(direct);
    X509_free(other);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(hk);
    EVP_PKEY_free(ok);
}

static const char *psk(const struct ike_prof *p, bool remote, struct ike_id_pld id, const char *peer)
{
    struct sockaddr_storage ss;
    const char *k;

    set_addr(&ss, peer);
    k = ike_psk(p, remote, &id, &ss);
    return k ? k : "(none)";
}

/* The profile's key, else the keyring peer by identity, then host name, then
 * address (whatever their order in the keyring); the side's asymmetric key,
 * else the common one. */
static void test_psk(void **state)
{
    struct env *e = *state;
    const struct ike_prof *rw = prof(e, "rw"), *cp = prof(e, "certp");
    uint8_t ip[4] = {203, 0, 113, 7};
    struct ike_id_pld ipid = {.type = ID_IPV4, .data = ip, .len = 4};

    assert_string_equal(psk(cp, true, id_text(ID_FQDN, "vpn1.example.org"), "198.51.100.9"), "own-r");
    assert_string_equal(psk(cp, false, id_text(ID_FQDN, "vpn1.example.org"), "198.51.100.9"), "own-l");
    /* identity, before host name and address */
    assert_string_equal(psk(rw, true, id_text(ID_FQDN, "VPN1.example.org"), "198.51.100.9"), "k-id");
    assert_string_equal(psk(rw, false, id_text(ID_FQDN, "vpn1.example.org"), "198.51.100.9"), "k-id");
    assert_string_equal(psk(rw, true, id_text(ID_RFC822, "bob@example.org"), "198.51.100.9"), "k-em-r");
    assert_string_equal(psk(rw, false, id_text(ID_RFC822, "bob@example.org"), "198.51.100.9"), "k-em-l");
    assert_string_equal(psk(rw, true, ipid, "198.51.100.9"), "k-ip");
    assert_string_equal(psk(rw, true, id_text(ID_KEY_ID, "kid1"), "10.0.0.1"), "k-kid-r");
    assert_string_equal(psk(rw, false, id_text(ID_KEY_ID, "kid1"), "10.0.0.1"), "(none)");
    assert_string_equal(psk(rw, true, id_text(ID_KEY_ID, "KID1"), "10.0.0.1"), "(none)");
    /* host name, before address */
    assert_string_equal(psk(rw, true, id_text(ID_FQDN, "host2.example.org"), "198.51.100.9"), "k-host-r");
    assert_string_equal(psk(rw, false, id_text(ID_FQDN, "host2.example.org"), "198.51.100.9"), "k-host-l");
    /* address */
    assert_string_equal(psk(rw, true, id_text(ID_FQDN, "x.example.org"), "198.51.100.9"), "k-addr");
    assert_string_equal(psk(rw, true, id_text(ID_FQDN, "x.example.org"), "198.51.101.9"), "(none)");
    assert_null(ike_psk(NULL, true, &ipid, NULL));
}

static const char *name(const struct ike_authz_src *src, int type, const char *id, X509_NAME *dn)
{
    static char out[64];

    ike_authz_name(src, type, id, dn, out, sizeof(out));
    return out;
}

/* Each mangler kind, a fixed user name, and no source at all. */
static void test_authz_name(void **state)
{
    struct env *e = *state;
    const struct ike_authz_src *m1 = &prof(e, "rw")->authz_user[IKE_M_PSK];
    const struct ike_authz_src *m2 = &prof(e, "certp")->keyring_aaa;
    const struct ike_authz_src *m3 = &prof(e, "vt")->authz_user[IKE_M_EAP];
    X509 *x = cert(e, "alice", "Example Corp", "Sales", 1, NULL);
    X509_NAME *dn = X509_get_subject_name(x);

    assert_string_equal(name(m1, ID_FQDN, "host.example.org", NULL), "host");
    assert_string_equal(name(m1, ID_RFC822, "bob@example.com", NULL), "bob");
    assert_string_equal(name(m1, ID_EAP, "carol@corp", NULL), "carol");
    assert_string_equal(name(m1, ID_DER_DN, "whatever", dn), "alice");
    assert_string_equal(name(m1, ID_KEY_ID, "kid1", NULL), "kid1");
    assert_string_equal(name(m1, ID_FQDN, "nodot", NULL), "nodot");
    assert_string_equal(name(m2, ID_FQDN, "host.example.org", NULL), "example.org");
    assert_string_equal(name(m2, ID_RFC822, "bob@example.com", NULL), "example.com");
    assert_string_equal(name(m2, ID_EAP, "carol@corp", NULL), "corp");
    assert_string_equal(name(m2, ID_DER_DN, "whatever", dn), "whatever"); /* no dn rule */
    assert_string_equal(name(m3, ID_EAP, "CN=alice,OU=Sales", NULL), "Sales");
    assert_string_equal(name(m3, ID_EAP, "/CN=x/OU=Eng", NULL), "Eng");
    assert_string_equal(name(m3, ID_EAP, "bob", NULL), "bob");
    assert_string_equal(name(m3, ID_FQDN, "host.example.org", NULL), "host.example.org");
    assert_string_equal(name(&prof(e, "rw")->authz_group[IKE_M_PSK], ID_FQDN, "host.example.org", NULL), "staff");
    assert_string_equal(name(NULL, ID_FQDN, "host.example.org", NULL), "host.example.org");
    X509_free(x);
}

/* The user source (local list, mangler m1) names the policy; the group's list
 * starts with RADIUS (no local policy from it); a RADIUS access list is
 * resolved among the compiled ones. */
static void test_authorize(void **state)
{
    struct env *e = *state;
    const struct ike_prof *rw = prof(e, "rw");
    struct aaa_attrs r;
    struct ike_authz_in in = {.user = &r};
    struct sess_attrs a;
    char user[64], group[64], acl[] = "acl4";

    ike_authorize(e->conf, rw, "psk", ID_FQDN, "staff.example.org", NULL, NULL, &a, user, group, sizeof(user));
    assert_string_equal(user, "staff");
    assert_string_equal(group, "");
    assert_string_equal(a.banner, "Staff");
    assert_string_equal(a.sources, "policy-user");
    ike_authorize(e->conf, rw, "cert", ID_FQDN, "staff.example.org", NULL, NULL, &a, user, group, sizeof(user));
    assert_null(a.banner);

    aaa_attrs_init(&r);
    r.acl4 = acl;
    ike_authorize(e->conf, rw, "psk", ID_FQDN, "x.example.org", NULL, &in, &a, user, group, sizeof(user));
    assert_string_equal(user, "x");
    assert_int_equal(a.subnets.n, 2); /* 10.60/16, 10.50/16 */
    assert_true(a.subnets_set);
    assert_string_equal(a.sources, "radius-user");
}

/* A profile without aaa authorization: the policy named "default" applies, for
 * every authentication method (libyang's empty user containers ask nothing). */
static void test_default_policy(void **state)
{
    struct env *e = *state;
    char why[512] = "", user[64], group[64];
    struct sess_attrs a;
    struct ike_conf *c = build(e->ctx,
                               "<ikev2 xmlns=\"" NS "\"><authorization-policy><name>default</name>"
                               "<banner>Hello</banner></authorization-policy>"
                               "<profile><name>p</name><match><identity><remote><key-id>k</key-id></remote>"
                               "</identity></match><authentication><local><pre-share><key>a</key></pre-share>"
                               "</local><remote><pre-share><key>a</key></pre-share></remote></authentication>"
                               "<aaa><accounting><psk>acct</psk></accounting></aaa></profile></ikev2>"
                               "<aaa xmlns=\"" NS "\"><radius-server><name>s</name><address>127.0.0.1</address>"
                               "<key>secret</key></radius-server><server-group><name>grp</name><server>s</server>"
                               "</server-group><accounting-list><name>acct</name><method><sequence>1</sequence>"
                               "<group>grp</group></method></accounting-list></aaa>",
                               why);
    static const char *const methods[] = {"psk", "eap", "cert"};

    if (!c)
        fail_msg("%s", why);
    for (size_t i = 0; i < 3; i++) {
        ike_authorize(c, ike_conf_prof(c, "p"), methods[i], ID_KEY_ID, "k", NULL, NULL, &a, user, group,
                      sizeof(user));
        assert_string_equal(group, "default");
        assert_non_null(a.banner);
        assert_string_equal(a.banner, "Hello");
    }
    ike_conf_unref(c);
}

/* ike_conf_build gives one reference; the generation lives until the last is
 * dropped; a failed build leaves nothing alive. */
static void test_refcount(void **state)
{
    struct env *e = *state;
    size_t base = ike_conf_alive();
    char why[512] = "", xml[8192];
    struct ike_conf *c;
    size_t off;

    assert_true(base >= 1); /* the setup's */
    c = build(e->ctx, config, why);
    assert_non_null(c);
    assert_int_equal(c->refs, 1);
    assert_int_equal(c->generation, 0);
    assert_int_equal(ike_conf_alive(), base + 1);
    assert_ptr_equal(ike_conf_ref(c), c);
    assert_int_equal(c->refs, 2);
    ike_conf_unref(c);
    assert_int_equal(ike_conf_alive(), base + 1);
    assert_int_equal(c->refs, 1);
    assert_string_equal(ike_conf_prof(c, "certp")->keyring_aaa.mangler->name, "m2");
    ike_conf_unref(c);
    assert_int_equal(ike_conf_alive(), base);
    assert_null(ike_conf_ref(NULL));
    ike_conf_unref(NULL);

    off = (size_t)snprintf(xml, sizeof(xml), "<ikev2 xmlns=\"" NS "\"><authorization-policy><name>wide</name>"
                                             "<route><set><remote>");
    for (int i = 0; i < 33; i++)
        off += (size_t)snprintf(xml + off, sizeof(xml) - off, "<ipv4>10.%d.0.0/16</ipv4>", i);
    snprintf(xml + off, sizeof(xml) - off, "</remote></set></route></authorization-policy></ikev2>");
    assert_null(build(e->ctx, xml, why));
    assert_int_equal(ike_conf_alive(), base);
}

/* The generation's strings are its own: the tree it was built from is gone
 * (freed in build()), and another tree with other values has come and gone
 * since. Under the sanitizer a string pointing into a freed tree fails here. */
static void pool_names(const struct pool_info *pi, void *arg)
{
    if (pi->ipv6)
        strcat(arg, pi->name);
    else
        sprintf((char *)arg + strlen(arg), "%s %" PRIu64, pi->name, pi->size);
    strcat(arg, " ");
}

static void test_strings_outlive_source(void **state)
{
    struct env *e = *state;
    char names[64] = "";
    static const char other[] = "<ikev2 xmlns=\"" NS "\"><keyring><name>zz</name><peer><name>p</name>"
                                "<hostname>h.example.net</hostname><pre-shared-key>zzzzzz</pre-shared-key></peer>"
                                "</keyring></ikev2>";
    struct lyd_node *tree = NULL;
    const struct ike_prof *rw = prof(e, "rw");

    assert_int_equal(lyd_parse_data_mem(e->ctx, other, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree), 0);
    lyd_free_all(tree);
    assert_string_equal(rw->local_id, "vpn.example.org");
    assert_string_equal(rw->keyring->peers[1].psk_remote, "k-host-r");
    assert_string_equal(rw->keyring->peers[1].hostname, "host2.example.org");
    assert_string_equal(rw->authz_group[IKE_M_PSK].username, "staff");
    assert_string_equal(rw->remote[0].value, "example.org");
    assert_string_equal(prof(e, "certp")->keyring_aaa.method_list, "rad-list");
    assert_string_equal(prof(e, "certp")->maps[0]->name, "cm");
    assert_string_equal(ike_conf_acl(e->conf, "acl4")->name, "acl4");
    assert_string_equal(e->conf->ipsecs[0].name, "ip1");
    /* the pools are compiled from the source tree and not copied: what they
     * became (address books, the ranges routes are checked against) stands alone */
    assert_null(e->conf->src);
    assert_null(ike_find(e->conf->tree, "/raven-vpn:pools"));
    assert_non_null(ike_find(e->conf->tree, "/raven-vpn:ikev2"));
    pool_set_foreach(e->conf->pools, pool_names, names);
    pool_set_foreach(e->conf->pools6, pool_names, names);
    assert_string_equal(names, "p4 9 p6 ");
    assert_int_equal(e->conf->npool_ranges, 2);
    assert_int_equal(e->conf->pool_ranges[0].family, AF_INET);
    assert_int_equal(e->conf->pool_ranges[0].lo[3], 1);
    assert_int_equal(e->conf->pool_ranges[0].hi[3], 9);
}

/* A proposal without prf accepts the PRF of each integrity algorithm (the
 * model's description): Windows' default AES-CBC-256/SHA1/MODP-1024 offer pairs
 * SHA1 with PRF-HMAC-SHA1. One with prf accepts only the PRFs listed. */
static void test_prf_from_integrity(void **state)
{
    struct env *e = *state;
    char why[512] = "";
    struct ike_conf *c = build(e->ctx,
                               "<ikev2 xmlns=\"" NS "\" xmlns:rt=\"" RT "\">"
                               "<proposal><name>win</name><encryption>rt:aes-cbc-256</encryption>"
                               "<integrity>rt:hmac-sha1-96</integrity><integrity>rt:hmac-sha2-256-128</integrity>"
                               "<group>rt:modp-1024</group><allow-legacy>true</allow-legacy></proposal>"
                               "<proposal><name>gcm</name><encryption>rt:aes-gcm-16-256</encryption>"
                               "<prf>rt:prf-hmac-sha2-384</prf><group>rt:ecp-384</group></proposal>"
                               "<policy><name>a</name><proposal>win</proposal></policy>"
                               "<policy><name>b</name><match><local-address>192.0.2.1</local-address></match>"
                               "<proposal>gcm</proposal></policy></ikev2>",
                               why);

    if (!c)
        fail_msg("%s", why);
    assert_int_equal(c->npolicies, 2);
    assert_int_equal(c->policies[0].algs.prf, 1u << IKE_PRF_HMAC_SHA1 | 1u << IKE_PRF_HMAC_SHA2_256);
    assert_int_equal(c->policies[1].algs.prf, 1u << IKE_PRF_HMAC_SHA2_384);
    ike_conf_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),       cmocka_unit_test(test_ipsec_profiles),
        cmocka_unit_test(test_referenced),     cmocka_unit_test(test_select),
        cmocka_unit_test(test_psk),            cmocka_unit_test(test_authz_name),
        cmocka_unit_test(test_authorize),      cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_strings_outlive_source), cmocka_unit_test(test_certmap_bad_date),
        cmocka_unit_test(test_default_policy), cmocka_unit_test(test_prf_from_integrity),
        cmocka_unit_test(test_trustpoint_chain),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
