/* Client profiles (daemon/cprof) from configuration trees parsed here, with a CA,
 * an unrelated CA and a headend certificate made with OpenSSL: the headend's
 * identity when the profile names none (its certificate's subject DN), the
 * issuing CA picked among several, the built-in default proposals without a
 * policy, the policy that names the dial address, the listen port, escaping of
 * the user in XML, PowerShell and JSON, and every refusal with its message. */
#include <errno.h>
#include <jansson.h>
#include <libyang/libyang.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/cprof/cprof.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"
#define RT "urn:raven:params:xml:ns:yang:raven-types"

struct env {
    struct ly_ctx *ctx;
    char *ca_pem, *other_pem, *cert_pem, *key_pem;
    unsigned char *ca_der;
    int ca_der_len;
};

static char *pem_of(X509 *x, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL, *s;
    long n;

    assert_non_null(b);
    if (x)
        assert_int_equal(PEM_write_bio_X509(b, x), 1);
    else
        assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(b, &p);
    s = strndup(p, (size_t)n);
    BIO_free(b);
    return s;
}

/* A certificate for @cn with key @k, signed by @issuer (NULL: self-signed CA). */
static X509 *make_cert(const char *cn, EVP_PKEY *k, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    X509_NAME *nm = X509_NAME_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff) + 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"Raven", -1, -1, 0);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, nm);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : nm);
    X509_set_pubkey(x, k);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, issuer ? NID_ext_key_usage : NID_basic_constraints,
                              issuer ? "serverAuth" : "critical,CA:true");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, issuer_key ? issuer_key : k, EVP_sha256()) > 0);
    X509_NAME_free(nm);
    return x;
}

static int setup(void **state)
{
    static struct env e;
    EVP_PKEY *cak = EVP_EC_gen("P-256"), *ok = EVP_EC_gen("P-256"), *hk = EVP_RSA_gen(2048);
    X509 *ca, *other, *cert;

    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &e.ctx), 0);
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-types", NULL, NULL));
    assert_non_null(ly_ctx_load_module(e.ctx, "raven-vpn", NULL, NULL));
    ca = make_cert("Test CA", cak, NULL, NULL);
    other = make_cert("Other CA", ok, NULL, NULL);
    cert = make_cert("vpn.example.org", hk, ca, cak);
    e.ca_pem = pem_of(ca, NULL);
    e.other_pem = pem_of(other, NULL);
    e.cert_pem = pem_of(cert, NULL);
    e.key_pem = pem_of(NULL, hk);
    e.ca_der_len = i2d_X509(ca, &e.ca_der);
    assert_true(e.ca_der_len > 0);
    X509_free(ca);
    X509_free(other);
    X509_free(cert);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(ok);
    EVP_PKEY_free(hk);
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    free(e->ca_pem);
    free(e->other_pem);
    free(e->cert_pem);
    free(e->key_pem);
    OPENSSL_free(e->ca_der);
    ly_ctx_destroy(e->ctx);
    return 0;
}

/* A configuration: trustpoint "tp" (the other CA first, then the issuer, when
 * @both_cas), profile "ra" (EAP and certificates) with @profile_extra inside it,
 * @ikev2_extra in ikev2 and the listen element @listen. */
static struct lyd_node *tree_top(const struct env *e, bool both_cas, const char *listen, const char *ikev2_extra,
                                 const char *profile_extra, const char *top_extra, const char *authz);

static struct lyd_node *tree_of(const struct env *e, bool both_cas, const char *listen, const char *ikev2_extra,
                                const char *profile_extra)
{
    return tree_top(e, both_cas, listen, ikev2_extra, profile_extra, "", "");
}

/* The same with @top_extra (top-level elements), @authz in the profile's aaa
 * container, and in aaa the attribute list "al" (mtu 1300), the local
 * authorization list "loc" and "rad" (RADIUS first, then local). */
static struct lyd_node *tree_top(const struct env *e, bool both_cas, const char *listen, const char *ikev2_extra,
                                 const char *profile_extra, const char *top_extra, const char *authz)
{
    struct lyd_node *tree = NULL;
    char *xml = NULL, *cas = NULL;

    assert_true(asprintf(&cas, "%s%s%s<ca-certificate>%s</ca-certificate>", both_cas ? "<ca-certificate>" : "",
                         both_cas ? e->other_pem : "", both_cas ? "</ca-certificate>" : "", e->ca_pem) > 0);
    assert_true(asprintf(&xml,
                         "<pki xmlns=\"" NS "\"><trustpoint><name>tp</name>%s<certificate>%s</certificate>"
                         "<private-key>%s</private-key></trustpoint></pki>"
                         "<aaa xmlns=\"" NS "\"><radius-server><name>r</name><address>127.0.0.1</address>"
                         "<key>k</key></radius-server><server-group><name>g</name><server>r</server></server-group>"
                         "<authentication-list><name>eap</name><method><sequence>1</sequence><group>g</group>"
                         "</method></authentication-list>"
                         "<authorization-list><name>loc</name><method><sequence>1</sequence><local/></method>"
                         "</authorization-list>"
                         "<authorization-list><name>rad</name><method><sequence>1</sequence><group>g</group>"
                         "</method><method><sequence>2</sequence><local/></method></authorization-list>"
                         "<attribute-list><name>al</name><mtu>1300</mtu></attribute-list></aaa>%s"
                         "<ikev2 xmlns=\"" NS "\" xmlns:rt=\"" RT "\"><global><listen>%s</listen></global>%s"
                         "<profile><name>ra</name>%s<match><identity><remote><address>0.0.0.0/0</address>"
                         "</remote></identity></match><authentication><local><rsa-sig/></local><remote><eap/>"
                         "<ecdsa-sig/></remote></authentication><pki><trustpoint><name>tp</name></trustpoint></pki>"
                         "<aaa><authentication><eap>eap</eap></authentication>%s</aaa></profile>"
                         "<profile><name>psk</name><match><identity><remote><key-id>k</key-id></remote></identity>"
                         "</match><authentication><local><pre-share><key>a</key></pre-share></local><remote>"
                         "<pre-share><key>a</key></pre-share></remote></authentication></profile></ikev2>",
                         cas, e->cert_pem, e->key_pem, top_extra, listen, ikev2_extra, profile_extra, authz) > 0);
    free(cas);
    if (lyd_parse_data_mem(e->ctx, xml, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree))
        fail_msg("config does not parse: %s", ly_errmsg(e->ctx));
    free(xml);
    return tree;
}

static int make(const struct lyd_node *tree, const char *profile, const char *user, const char *platform,
                const char *auth, struct cprof_out *out, char *err)
{
    struct cprof_req req = {profile, user, platform, auth};

    *err = '\0';
    return cprof_make(tree, &req, out, err, 512);
}

static void test_dn_identity_default_proposals_issuer(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = tree_of(e, true, "<address>192.0.2.1</address><port>5000</port>", "", "");
    struct cprof_out out = {0};
    char err[512], *b64 = malloc((size_t)(4 * ((e->ca_der_len + 2) / 3) + 1));
    json_t *j;

    assert_int_equal(make(tree, "ra", "ana", "android", NULL, &out, err), 0);
    assert_string_equal(out.file_name, "ra-ana.sswan");
    assert_string_equal(out.content_type, "application/vnd.strongswan.profile");
    j = json_loads(out.content, 0, NULL);
    assert_non_null(j);
    /* the listen address, and its port (not 500) */
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "remote"), "addr")), "192.0.2.1");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "remote"), "port")), 5000);
    /* no identity local: the certificate's subject DN */
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "remote"), "id")),
                        "O=Raven, CN=vpn.example.org");
    /* the issuer, not the other CA listed first */
    EVP_EncodeBlock((unsigned char *)b64, e->ca_der, e->ca_der_len);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "remote"), "cert")), b64);
    /* no policy, no IPsec profile: the built-in defaults */
    assert_string_equal(json_string_value(json_object_get(j, "ike-proposal")),
                        "aes256gcm16-aes128gcm16-chacha20poly1305-prfsha512-prfsha384-prfsha256-"
                        "curve25519-ecp256-ecp384-ecp521-modp3072-modp2048");
    assert_string_equal(json_string_value(json_object_get(j, "esp-proposal")),
                        "aes256gcm16-aes128gcm16-chacha20poly1305");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "ikev2-eap");
    json_decref(j);
    cprof_out_fini(&out);
    /* Windows has none of the default's groups but ECP-256/384 */
    assert_int_equal(make(tree, "ra", "wes", "windows", "certificate", &out, err), 0);
    assert_non_null(strstr(out.content, "-EncryptionMethod GCMAES256 -IntegrityCheckMethod SHA384 -DHGroup ECP256"));
    assert_non_null(strstr(out.content, "-AuthenticationMethod MachineCertificate"));
    cprof_out_fini(&out);
    free(b64);
    lyd_free_all(tree);
}

static void test_policy_of_the_dial_address(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = tree_of(
        e, false, "<address>0.0.0.0</address>",
        "<proposal><name>x</name><encryption>rt:aes-gcm-16-128</encryption><prf>rt:prf-hmac-sha2-256</prf>"
        "<group>rt:curve25519</group></proposal>"
        "<proposal><name>y</name><encryption>rt:aes-cbc-128</encryption><integrity>rt:hmac-sha2-256-128</integrity>"
        "<group>rt:modp-2048</group></proposal>"
        "<policy><name>any</name><proposal>x</proposal></policy>"
        "<policy><name>mine</name><match><local-address>198.51.100.7</local-address></match>"
        "<proposal>x</proposal><proposal>y</proposal></policy>",
        "<server-address>198.51.100.7</server-address><identity><local><fqdn>vpn.example.org</fqdn></local>"
        "</identity>");
    struct cprof_out out = {0};
    char err[512];

    /* Apple has curve25519 (group 31): the first proposal of the policy wins */
    assert_int_equal(make(tree, "ra", "amy", "apple", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "<string>AES-128-GCM</string>"));
    assert_non_null(strstr(out.content, "<integer>31</integer>"));
    cprof_out_fini(&out);
    /* Windows cannot: the second proposal of the policy that names the address */
    assert_int_equal(make(tree, "ra", "wes", "windows", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "-EncryptionMethod AES128 -IntegrityCheckMethod SHA256 -DHGroup Group14"));
    assert_non_null(strstr(out.content, "$Server = '198.51.100.7'"));
    cprof_out_fini(&out);
    lyd_free_all(tree);
}

static void test_escaping(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = tree_of(e, false, "<address>0.0.0.0</address>", "",
                                    "<server-address>vpn.example.org</server-address>");
    struct cprof_out out = {0};
    char err[512];
    const char *user = "o'n&<b>\"\xe2\x80\x99/..";
    json_t *j;

    assert_int_equal(make(tree, "ra", user, "apple", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "<string>o&apos;n&amp;&lt;b&gt;&quot;\xe2\x80\x99/..</string>"));
    assert_null(strstr(out.content, "<b>"));
    assert_string_equal(out.file_name, "ra-o_n__b______...mobileconfig");
    cprof_out_fini(&out);
    assert_int_equal(make(tree, "ra", user, "windows", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "'o''n&<b>\"\xe2\x80\x99\xe2\x80\x99/..'"));
    cprof_out_fini(&out);
    assert_int_equal(make(tree, "ra", user, "android", NULL, &out, err), 0);
    j = json_loads(out.content, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "local"), "eap_id")), user);
    json_decref(j);
    cprof_out_fini(&out);
    lyd_free_all(tree);
}

static void test_refusals(void **state)
{
    struct env *e = *state;
    struct lyd_node *wild = tree_of(e, false, "<address>0.0.0.0</address>", "", "");
    struct lyd_node *tree = tree_of(e, false, "<address>0.0.0.0</address>",
                                    "<proposal><name>x</name><encryption>rt:aes-gcm-16-128</encryption>"
                                    "<prf>rt:prf-hmac-sha2-512</prf><group>rt:curve25519</group></proposal>"
                                    "<policy><name>p</name><proposal>x</proposal></policy>",
                                    "<server-address>vpn.example.org</server-address>");
    struct cprof_out out = {0};
    char err[512];

    assert_int_equal(make(tree, "nope", "u", "apple", NULL, &out, err), -ENOENT);
    assert_non_null(strstr(err, "no IKEv2 profile named 'nope'"));
    assert_int_equal(make(tree, "ra", "u", "palm", NULL, &out, err), -EINVAL);
    assert_non_null(strstr(err, "unknown platform 'palm'"));
    assert_int_equal(make(tree, "ra", "u\nx", "apple", NULL, &out, err), -EINVAL);
    assert_non_null(strstr(err, "control characters"));
    assert_int_equal(make(tree, "ra", "", "apple", NULL, &out, err), -EINVAL);
    assert_int_equal(make(tree, "psk", "u", "apple", NULL, &out, err), -EINVAL);
    assert_non_null(strstr(err, "pre-shared keys"));
    assert_int_equal(make(tree, "ra", "u", "apple", "certificate", &out, err), 0);
    cprof_out_fini(&out);
    assert_int_equal(make(wild, "ra", "u", "android", NULL, &out, err), -EINVAL);
    assert_non_null(strstr(err, "set ikev2 profile ra server-address"));
    /* Windows has neither curve25519 nor PRF-HMAC-SHA2-512 */
    assert_int_equal(make(tree, "ra", "u", "windows", NULL, &out, err), -EINVAL);
    assert_non_null(strstr(err, "no IKE proposal of its policy uses algorithms Windows has"));
    assert_null(out.content);
    assert_null(out.file_name);
    lyd_free_all(tree);
    lyd_free_all(wild);
}

/* Authorization policies with DNS and split subnets (route set remote and an
 * IPv6 access list), one the profile's group source names. */
#define ACLS                                                                                                      \
    "<access-lists xmlns=\"" NS "\"><access-list><name>v6</name><entry><sequence>1</sequence>"                   \
    "<action>permit</action><prefix>fd00:250::/64</prefix></entry><entry><sequence>2</sequence>"                 \
    "<action>deny</action><prefix>fd00:251::/64</prefix></entry></access-list></access-lists>"
#define POLICIES                                                                                                  \
    "<authorization-policy><name>corp</name><dns><primary>10.0.0.53</primary><secondary>10.0.0.54</secondary>"  \
    "</dns><ipv6-dns><primary>fd00::53</primary></ipv6-dns><def-domain>corp.example.org</def-domain>"           \
    "<split-dns>eng.example.org</split-dns><split-dns>corp.example.org</split-dns>"                              \
    "<route><set><remote><ipv4>10.10.0.0/16</ipv4><ipv4>10.20.0.0/16</ipv4></remote>"                          \
    "<access-list><ipv6>v6</ipv6></access-list></set></route><aaa-attribute-list>al</aaa-attribute-list>"       \
    "</authorization-policy>"                                                                                     \
    "<authorization-policy><name>default</name><dns><primary>192.0.2.53</primary></dns></authorization-policy>" \
    "<authorization-policy><name>grp</name><dns><primary>192.0.2.99</primary></dns>"                          \
    "<def-domain>grp.example.org</def-domain></authorization-policy>"

static void test_dns_and_split_tunnel(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = tree_top(
        e, false, "<address>0.0.0.0</address>", POLICIES,
        "<server-address>vpn.example.org</server-address>", ACLS,
        "<authorization><user><eap><method-list>loc</method-list><username>corp</username></eap></user>"
        "<group><eap><method-list>loc</method-list><username>grp</username></eap></group></authorization>");
    struct cprof_out out = {0};
    char err[512];
    json_t *j, *st;

    /* Android: the user policy's subnets (route set remote, then the ACL's
     * permits, not its deny) and its MTU */
    assert_int_equal(make(tree, "ra", "ana", "android", NULL, &out, err), 0);
    j = json_loads(out.content, 0, NULL);
    st = json_object_get(j, "split-tunneling");
    assert_string_equal(json_string_value(json_object_get(st, "subnets")), "10.10.0.0/16 10.20.0.0/16 fd00:250::/64");
    assert_null(json_object_get(st, "block-ipv4"));
    assert_int_equal(json_integer_value(json_object_get(j, "mtu")), 1300);
    json_decref(j);
    cprof_out_fini(&out);
    /* Apple: servers of both families, the default domain, split DNS; the user
     * policy's values win over the group's; split tunnel: no OverridePrimary */
    assert_int_equal(make(tree, "ra", "amy", "apple", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "<key>DNS</key>\n\t\t\t<dict>\n\t\t\t\t<key>ServerAddresses</key>\n"
                                        "\t\t\t\t<array>\n\t\t\t\t\t<string>10.0.0.53</string>\n"
                                        "\t\t\t\t\t<string>10.0.0.54</string>\n\t\t\t\t\t<string>fd00::53</string>\n"));
    assert_non_null(strstr(out.content, "<key>DomainName</key>\n\t\t\t\t<string>corp.example.org</string>"));
    assert_non_null(strstr(out.content, "<key>SupplementalMatchDomains</key>\n\t\t\t\t<array>\n"
                                        "\t\t\t\t\t<string>eng.example.org</string>\n"
                                        "\t\t\t\t\t<string>corp.example.org</string>\n"));
    assert_non_null(strstr(out.content, "<key>OverridePrimary</key>\n\t\t\t\t<integer>0</integer>"));
    assert_null(strstr(out.content, "192.0.2.99"));
    cprof_out_fini(&out);
    /* Windows: split tunnelling with a route per subnet, the DNS suffix, the
     * split-DNS domains with the servers */
    assert_int_equal(make(tree, "ra", "wes", "windows", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, " -SplitTunneling -DnsSuffix 'corp.example.org'\n"));
    assert_non_null(strstr(out.content, "Add-VpnConnectionRoute -ConnectionName $Name -DestinationPrefix "
                                        "'10.20.0.0/16'\n"));
    assert_non_null(strstr(out.content, "Add-VpnConnectionRoute -ConnectionName $Name -DestinationPrefix "
                                        "'fd00:250::/64'\n"));
    assert_null(strstr(out.content, "fd00:251::"));
    assert_non_null(strstr(out.content, "$DnsServers = @('10.0.0.53', '10.0.0.54', 'fd00::53')\n"));
    assert_non_null(strstr(out.content, "Add-VpnConnectionTriggerDnsConfiguration -ConnectionName $Name -DnsSuffix "
                                        "'eng.example.org' -DnsIPAddress $DnsServers -Force\n"));
    cprof_out_fini(&out);
    /* certificates: no source for them, so the policy "default" (the engine
     * looks per method): no subnets, no MTU, a full tunnel */
    assert_int_equal(make(tree, "ra", "ana", "android", "certificate", &out, err), 0);
    assert_non_null(strstr(out.content, "\"block-ipv4\": true"));
    assert_null(strstr(out.content, "subnets"));
    assert_null(strstr(out.content, "mtu"));
    cprof_out_fini(&out);
    lyd_free_all(tree);

    /* group override: the group's DNS and domain first, the user's fill in */
    tree = tree_top(e, false, "<address>0.0.0.0</address>", POLICIES,
                    "<server-address>vpn.example.org</server-address>", ACLS,
                    "<authorization><user><eap><method-list>loc</method-list><username>corp</username></eap>"
                    "</user><group><eap><override/><method-list>loc</method-list><username>grp</username></eap>"
                    "</group></authorization>");
    assert_int_equal(make(tree, "ra", "wes", "windows", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "-DnsSuffix 'grp.example.org'\n"));
    assert_non_null(strstr(out.content, "$DnsServers = @('192.0.2.99', 'fd00::53')\n"));
    cprof_out_fini(&out);
    lyd_free_all(tree);

    /* no authorization configured: the policy "default", a full tunnel the
     * configuration decides (blocked around the tunnel on Android) */
    tree = tree_top(e, false, "<address>0.0.0.0</address>", POLICIES,
                    "<server-address>vpn.example.org</server-address>", ACLS, "");
    assert_int_equal(make(tree, "ra", "ana", "android", NULL, &out, err), 0);
    j = json_loads(out.content, 0, NULL);
    st = json_object_get(j, "split-tunneling");
    assert_true(json_is_true(json_object_get(st, "block-ipv4")) && json_is_true(json_object_get(st, "block-ipv6")));
    assert_null(json_object_get(st, "subnets"));
    assert_null(json_object_get(j, "mtu"));
    json_decref(j);
    cprof_out_fini(&out);
    assert_int_equal(make(tree, "ra", "amy", "apple", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "<string>192.0.2.53</string>"));
    assert_non_null(strstr(out.content, "<key>OverridePrimary</key>\n\t\t\t\t<integer>1</integer>"));
    assert_null(strstr(out.content, "SupplementalMatchDomains"));
    cprof_out_fini(&out);
    lyd_free_all(tree);

    /* a RADIUS list first (the user's name asks the server), a user policy by
     * the identity for EAP without a fixed name: RADIUS may push subnets, so
     * no blocking; nothing from a name mangler's policy */
    tree = tree_top(e, false, "<address>0.0.0.0</address>", POLICIES,
                    "<server-address>vpn.example.org</server-address>", ACLS,
                    "<authorization><user><eap><method-list>loc</method-list></eap></user>"
                    "<group><eap><method-list>rad</method-list><username>grp</username></eap></group>"
                    "</authorization>");
    assert_int_equal(make(tree, "ra", "corp", "android", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "10.10.0.0/16 10.20.0.0/16"));
    cprof_out_fini(&out);
    assert_int_equal(make(tree, "ra", "someone", "android", NULL, &out, err), 0);
    assert_null(strstr(out.content, "split-tunneling"));
    cprof_out_fini(&out);
    assert_int_equal(make(tree, "ra", "someone", "windows", NULL, &out, err), 0);
    assert_null(strstr(out.content, "DnsSuffix"));
    assert_null(strstr(out.content, "Add-VpnConnectionRoute"));
    cprof_out_fini(&out);
    lyd_free_all(tree);
}

/* A CA certificate for @cn (UTF8String @raw_cn when set, its octets as they
 * are) with key @k, signed by @issuer (NULL: self-signed). */
static X509 *make_ca(const char *cn, const char *raw_cn, EVP_PKEY *k, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    X509_NAME *nm = X509_NAME_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff) + 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"Raven", -1, -1, 0);
    if (raw_cn)
        assert_int_equal(X509_NAME_add_entry_by_NID(nm, NID_commonName, V_ASN1_UTF8STRING,
                                                    (const unsigned char *)raw_cn, -1, -1, 0), 1);
    else
        X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, nm);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : nm);
    X509_set_pubkey(x, k);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:true");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, issuer_key ? issuer_key : k, EVP_sha256()) > 0);
    X509_NAME_free(nm);
    return x;
}

static char *b64_of(X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    char *b = malloc((size_t)(4 * ((n + 2) / 3) + 1));

    EVP_EncodeBlock((unsigned char *)b, der, n);
    OPENSSL_free(der);
    return b;
}

/* The plist's data element after "<key>PayloadType</key>...@type" is looked
 * up backwards: the payload dict holding @type, its data without whitespace. */
static char *payload_data(const char *plist, const char *type)
{
    char want[128], *out, *o;
    const char *t, *d, *e;

    snprintf(want, sizeof(want), "<string>%s</string>", type);
    t = strstr(plist, want);
    if (!t)
        return NULL;
    for (d = t; d > plist && strncmp(d, "<data>", 6); d--)
        ;
    e = strstr(d, "</data>");
    out = o = calloc(1, (size_t)(e - d) + 1);
    for (d += 6; d < e; d++) {
        if (*d != '\n' && *d != '\t')
            *o++ = *d;
    }
    return out;
}

static void test_ca_chain_root_is_the_anchor(void **state)
{
    struct env *e = *state, e2 = *e;
    EVP_PKEY *rk = EVP_EC_gen("P-256"), *ik = EVP_EC_gen("P-256"), *hk = EVP_EC_gen("P-256");
    X509 *root = make_ca("Root CA", NULL, rk, NULL, NULL), *inter = make_ca("Issuing CA", NULL, ik, root, rk);
    X509 *cert = make_cert("vpn.example.org", hk, inter, ik);
    char *root_pem = pem_of(root, NULL), *inter_pem = pem_of(inter, NULL), *root_b64 = b64_of(root),
         *inter_b64 = b64_of(inter), *cert_b64 = b64_of(cert), *d, err[512], *rp, *ip;
    struct cprof_out out = {0};
    struct lyd_node *tree;
    json_t *j;

    e2.cert_pem = pem_of(cert, NULL);
    e2.key_pem = pem_of(NULL, hk);
    /* the root listed before the intermediate: found by issuer, not order */
    e2.other_pem = root_pem;
    e2.ca_pem = inter_pem;
    tree = tree_of(&e2, true, "<address>0.0.0.0</address>", "", "<server-address>vpn.example.org</server-address>");

    /* Apple: the root is the trust anchor, the intermediate a pkcs1 payload,
     * the issuer's CN what the server's certificate must be issued by */
    assert_int_equal(make(tree, "ra", "amy", "apple", NULL, &out, err), 0);
    d = payload_data(out.content, "com.apple.security.root");
    assert_non_null(d);
    assert_string_equal(d, root_b64);
    free(d);
    d = payload_data(out.content, "com.apple.security.pkcs1");
    assert_non_null(d);
    assert_string_equal(d, inter_b64);
    free(d);
    assert_non_null(strstr(out.content, "<key>ServerCertificateIssuerCommonName</key>\n\t\t\t\t<string>Issuing CA"));
    cprof_out_fini(&out);

    /* Windows: the root into Root, the intermediate into CA */
    assert_int_equal(make(tree, "ra", "wes", "windows", NULL, &out, err), 0);
    rp = strstr(out.content, root_pem);
    ip = strstr(out.content, inter_pem);
    assert_non_null(rp);
    assert_non_null(ip);
    assert_non_null(strstr(rp, "-CertStoreLocation Cert:\\LocalMachine\\Root"));
    assert_true(strstr(rp, "-CertStoreLocation Cert:\\LocalMachine\\Root") < ip);
    assert_non_null(strstr(ip, "-CertStoreLocation Cert:\\LocalMachine\\CA |"));
    assert_int_equal(strstr(ip, "Cert:\\LocalMachine\\"), strstr(ip, "Cert:\\LocalMachine\\CA |"));
    assert_null(strstr(out.content, "no self-signed root"));
    cprof_out_fini(&out);

    /* Android: one certificate to authenticate the server with, the root
     * (the headend sends the intermediate), never the headend's own */
    assert_int_equal(make(tree, "ra", "ana", "android", NULL, &out, err), 0);
    j = json_loads(out.content, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "remote"), "cert")), root_b64);
    assert_null(strstr(out.content, cert_b64));
    json_decref(j);
    cprof_out_fini(&out);
    lyd_free_all(tree);

    /* no root in the trustpoint: the top-most CA there stands in, said so */
    e2.other_pem = e->other_pem;
    tree = tree_of(&e2, true, "<address>0.0.0.0</address>", "", "<server-address>vpn.example.org</server-address>");
    assert_int_equal(make(tree, "ra", "amy", "apple", NULL, &out, err), 0);
    d = payload_data(out.content, "com.apple.security.root");
    assert_string_equal(d, inter_b64);
    free(d);
    assert_null(strstr(out.content, "com.apple.security.pkcs1"));
    cprof_out_fini(&out);
    assert_int_equal(make(tree, "ra", "wes", "windows", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "no self-signed root above this CA"));
    assert_null(strstr(out.content, "LocalMachine\\CA"));
    cprof_out_fini(&out);
    assert_int_equal(make(tree, "ra", "ana", "android", NULL, &out, err), 0);
    j = json_loads(out.content, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "remote"), "cert")), inter_b64);
    json_decref(j);
    cprof_out_fini(&out);
    lyd_free_all(tree);

    free(e2.cert_pem);
    free(e2.key_pem);
    free(root_pem);
    free(inter_pem);
    free(root_b64);
    free(inter_b64);
    free(cert_b64);
    X509_free(root);
    X509_free(inter);
    X509_free(cert);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(hk);
}

static void test_apple_identifiers(void **state)
{
    struct env *e = *state;
    struct lyd_node *tree = tree_of(e, false, "<address>0.0.0.0</address>", "",
                                    "<server-address>vpn.example.org</server-address>");
    struct cprof_out out = {0};
    char err[512];

    /* from the profile and the user: another user's profile sits beside it,
     * a newer download of the same replaces it */
    assert_int_equal(make(tree, "ra", "amy", "apple", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "\t<key>PayloadIdentifier</key>\n\t<string>net.raven.vpn.ra.amy</string>\n"));
    assert_non_null(strstr(out.content, "<string>net.raven.vpn.ra.amy.vpn</string>"));
    assert_non_null(strstr(out.content, "<string>net.raven.vpn.ra.amy.ca</string>"));
    assert_null(strstr(out.content, "<string>net.raven.vpn</string>"));
    assert_null(strstr(out.content, "<string>net.raven.vpn.ca</string>"));
    cprof_out_fini(&out);
    /* other characters as _XX, a dot among them: "a.b" + "c" is not "a" + "b.c" */
    assert_int_equal(make(tree, "ra", "amy.b@x_y", "apple", NULL, &out, err), 0);
    assert_non_null(strstr(out.content, "\t<string>net.raven.vpn.ra.amy_2Eb_40x_5Fy</string>\n"));
    cprof_out_fini(&out);
    lyd_free_all(tree);
}

/* A CA whose CN has a control character, a certificate whose subject is no
 * UTF-8: refused with what is wrong, never a malformed file or "out of
 * memory". */
static void test_bad_text_in_certificates(void **state)
{
    struct env *e = *state, e2 = *e;
    EVP_PKEY *ck = EVP_EC_gen("P-256"), *hk = EVP_EC_gen("P-256");
    X509 *ca = make_ca("Bad\x01" "CA", NULL, ck, NULL, NULL), *cert = make_cert("vpn.example.org", hk, ca, ck);
    X509 *raw_ca = make_ca(NULL, "Raw \xff\xfe CA", ck, NULL, NULL), *raw = make_cert("vpn", hk, raw_ca, ck);
    struct cprof_out out = {0};
    struct lyd_node *tree;
    char err[512];

    e2.ca_pem = pem_of(ca, NULL);
    e2.cert_pem = pem_of(cert, NULL);
    e2.key_pem = pem_of(NULL, hk);
    tree = tree_of(&e2, false, "<address>0.0.0.0</address>", "", "<server-address>vpn.example.org</server-address>");
    assert_int_equal(make(tree, "ra", "amy", "apple", NULL, &out, err), -EINVAL);
    assert_non_null(strstr(err, "the common name of a CA certificate of the trustpoint has a control character"));
    assert_null(out.content);
    lyd_free_all(tree);
    free(e2.ca_pem);
    free(e2.cert_pem);

    /* the issuer's subject (also the headend certificate's issuer) is not
     * UTF-8: the DN identity cannot be written */
    e2.ca_pem = pem_of(raw_ca, NULL);
    e2.cert_pem = pem_of(raw, NULL);
    tree = tree_of(&e2, false, "<address>0.0.0.0</address>", "", "<server-address>vpn.example.org</server-address>");
    assert_int_equal(make(tree, "ra", "ana", "android", NULL, &out, err), 0);
    cprof_out_fini(&out);
    lyd_free_all(tree);
    free(e2.ca_pem);
    free(e2.cert_pem);
    X509_free(raw);
    /* the headend's own subject: a UTF8String whose octets are not UTF-8,
     * which OpenSSL prints as they are */
    raw = make_ca(NULL, "vpn \xff", hk, ca, ck);
    e2.ca_pem = pem_of(ca, NULL);
    e2.cert_pem = pem_of(raw, NULL);
    tree = tree_of(&e2, false, "<address>0.0.0.0</address>", "", "<server-address>vpn.example.org</server-address>");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(make(tree, "ra", "ana", i ? "windows" : "android", NULL, &out, err), -EINVAL);
        assert_null(strstr(err, "out of memory"));
        assert_non_null(strstr(err, "the subject DN of its certificate, the headend's identity, cannot be written as "
                                    "UTF-8 text; set ikev2 profile ra identity local"));
    }
    lyd_free_all(tree);

    free(e2.ca_pem);
    free(e2.cert_pem);
    free(e2.key_pem);
    X509_free(ca);
    X509_free(cert);
    X509_free(raw_ca);
    X509_free(raw);
    EVP_PKEY_free(ck);
    EVP_PKEY_free(hk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dn_identity_default_proposals_issuer),
        cmocka_unit_test(test_policy_of_the_dial_address),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_dns_and_split_tunnel),
        cmocka_unit_test(test_ca_chain_root_is_the_anchor),
        cmocka_unit_test(test_apple_identifiers),
        cmocka_unit_test(test_bad_text_in_certificates),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
