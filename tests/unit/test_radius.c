/* Unit tests of the RADIUS codec (daemon/aaa/radius.c): the Access-Request and
 * Access-Accept of RFC 2865 section 7.1 byte for byte, Message-Authenticator over
 * requests and replies, EAP-Message fragmentation and reassembly, accounting and
 * CoA authenticators, MS-MPPE keys encrypted as RFC 2548 says and decrypted back,
 * and every malformed packet refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "daemon/aaa/radius.h"

/* RFC 2865 7.1: nemo / arctangent, secret xyzzy5461 */
static const uint8_t rfc_req[] = {0x01, 0x00, 0x00, 0x38, 0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83,
                                  0xd5, 0xcb, 0x98, 0xf4, 0x22, 0x7a, 0x01, 0x06, 0x6e, 0x65, 0x6d, 0x6f, 0x02, 0x12,
                                  0x0d, 0xbe, 0x70, 0x8d, 0x93, 0xd4, 0x13, 0xce, 0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a,
                                  0x0a, 0xee, 0x04, 0x06, 0xc0, 0xa8, 0x01, 0x10, 0x05, 0x06, 0x00, 0x00, 0x00, 0x03};
static const uint8_t rfc_accept[] = {0x02, 0x00, 0x00, 0x26, 0x86, 0xfe, 0x22, 0x0e, 0x76, 0x24, 0xba, 0x2a, 0x10,
                                     0x05, 0xf6, 0xbf, 0x9b, 0x55, 0xe0, 0xb2, 0x06, 0x06, 0x00, 0x00, 0x00, 0x01,
                                     0x0f, 0x06, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x06, 0xc0, 0xa8, 0x01, 0x03};
static const char secret[] = "xyzzy5461";

static void test_rfc2865_access_request(void **st)
{
    struct rad_pkt p;
    uint8_t nas[4] = {192, 168, 1, 16};

    (void)st;
    rad_init(&p, RAD_ACCESS_REQUEST, 0, rfc_req + 4);
    rad_add_str(&p, RAD_USER_NAME, "nemo");
    rad_add_password(&p, secret, strlen(secret), "arctangent");
    rad_add(&p, RAD_NAS_IP_ADDRESS, nas, 4);
    rad_add_u32(&p, RAD_NAS_PORT, 3);
    assert_int_equal(rad_finish(&p, secret, strlen(secret)), sizeof(rfc_req));
    assert_memory_equal(p.buf, rfc_req, sizeof(rfc_req));
}

static void test_rfc2865_access_accept(void **st)
{
    struct rad_view v;
    struct rad_attr a;
    uint8_t bad[sizeof(rfc_accept)];

    (void)st;
    assert_int_equal(rad_parse(rfc_accept, sizeof(rfc_accept), &v), 0);
    assert_int_equal(v.code, RAD_ACCESS_ACCEPT);
    assert_int_equal(rad_verify_reply(&v, rfc_req + 4, secret, strlen(secret)), 0);
    assert_true(rad_find(&v, 14, &a)); /* Login-IP-Host */
    assert_int_equal(a.len, 4);
    assert_int_equal(a.val[3], 3);
    /* a wrong secret, a changed octet, another request's authenticator */
    assert_int_equal(rad_verify_reply(&v, rfc_req + 4, "xyzzy5462", 9), -EBADMSG);
    memcpy(bad, rfc_accept, sizeof(bad));
    bad[sizeof(bad) - 1] ^= 1;
    assert_int_equal(rad_parse(bad, sizeof(bad), &v), 0);
    assert_int_equal(rad_verify_reply(&v, rfc_req + 4, secret, strlen(secret)), -EBADMSG);
    assert_int_equal(rad_parse(rfc_accept, sizeof(rfc_accept), &v), 0);
    assert_int_equal(rad_verify_reply(&v, rfc_accept + 4, secret, strlen(secret)), -EBADMSG);
}

/* A server's reply with a Message-Authenticator, built as a server would. */
static size_t server_reply(uint8_t code, uint8_t id, const uint8_t req_auth[16], const uint8_t *eap, size_t elen,
                           uint8_t out[RAD_MAX_LEN])
{
    struct rad_pkt p;
    uint8_t mac[16];
    size_t n = 0, at;
    EVP_MD_CTX *x;
    unsigned int ml = 16;

    rad_init(&p, code, id, NULL);
    if (eap)
        rad_add_eap(&p, eap, elen);
    else
        rad_add_msg_auth(&p);
    rad_add_str(&p, RAD_STATE, "state-1");
    at = p.msg_auth_at;
    p.buf[2] = (uint8_t)(p.len >> 8);
    p.buf[3] = (uint8_t)p.len;
    memcpy(p.buf + 4, req_auth, 16);
    EVP_Q_mac(NULL, "HMAC", NULL, "MD5", NULL, secret, strlen(secret), p.buf, p.len, mac, 16, &n);
    memcpy(p.buf + at, mac, 16);
    x = EVP_MD_CTX_new();
    EVP_DigestInit_ex(x, EVP_md5(), NULL);
    EVP_DigestUpdate(x, p.buf, p.len);
    EVP_DigestUpdate(x, secret, strlen(secret));
    EVP_DigestFinal_ex(x, mac, &ml);
    EVP_MD_CTX_free(x);
    memcpy(p.buf + 4, mac, 16);
    memcpy(out, p.buf, p.len);
    return p.len;
}

static void test_eap_fragments_and_message_authenticator(void **st)
{
    uint8_t eap[600], got[1000], auth[16] = {1, 2, 3}, reply[RAD_MAX_LEN];
    struct rad_pkt p;
    struct rad_view v;
    struct rad_attr a;
    size_t pos = 0, n, frags = 0;

    (void)st;
    for (size_t i = 0; i < sizeof(eap); i++)
        eap[i] = (uint8_t)i;
    eap[0] = 2; /* Response */
    eap[2] = sizeof(eap) >> 8;
    eap[3] = sizeof(eap) & 0xff;
    rad_init(&p, RAD_ACCESS_REQUEST, 7, auth);
    rad_add_str(&p, RAD_USER_NAME, "alice");
    rad_add_eap(&p, eap, sizeof(eap));
    n = rad_finish(&p, secret, strlen(secret));
    assert_true(n > sizeof(eap));
    assert_int_equal(rad_parse(p.buf, n, &v), 0);
    while (rad_next(&v, &pos, &a))
        if (a.type == RAD_EAP_MESSAGE) {
            assert_true(a.len <= 253);
            frags++;
        }
    assert_int_equal(frags, 3);
    assert_int_equal(rad_eap(&v, got, sizeof(got)), sizeof(eap));
    assert_memory_equal(got, eap, sizeof(eap));
    assert_int_equal(rad_eap(&v, got, 100), 0); /* does not fit */

    /* a Challenge carrying EAP: verified with its Message-Authenticator */
    n = server_reply(RAD_ACCESS_CHALLENGE, 7, auth, eap, sizeof(eap), reply);
    assert_int_equal(rad_parse(reply, n, &v), 0);
    assert_int_equal(rad_verify_reply(&v, auth, secret, strlen(secret)), 0);
    /* its Message-Authenticator changed: refused although the authenticator is right */
    {
        uint8_t copy[RAD_MAX_LEN], mac[16];
        unsigned int ml = 16;
        EVP_MD_CTX *x = EVP_MD_CTX_new();
        size_t at = 0;

        memcpy(copy, reply, n);
        pos = 0;
        while (rad_next(&v, &pos, &a))
            if (a.type == RAD_MESSAGE_AUTHENTICATOR)
                at = (size_t)(a.val - reply);
        copy[at] ^= 0xff;
        memcpy(copy + 4, auth, 16);
        EVP_DigestInit_ex(x, EVP_md5(), NULL);
        EVP_DigestUpdate(x, copy, n);
        EVP_DigestUpdate(x, secret, strlen(secret));
        EVP_DigestFinal_ex(x, mac, &ml);
        EVP_MD_CTX_free(x);
        memcpy(copy + 4, mac, 16);
        assert_int_equal(rad_parse(copy, n, &v), 0);
        assert_int_equal(rad_verify_reply(&v, auth, secret, strlen(secret)), -EBADMSG);
    }
    /* an EAP packet whose length field disagrees */
    eap[3] ^= 1;
    rad_init(&p, RAD_ACCESS_REQUEST, 8, auth);
    rad_add_eap(&p, eap, sizeof(eap));
    n = rad_finish(&p, secret, strlen(secret));
    assert_int_equal(rad_parse(p.buf, n, &v), 0);
    assert_int_equal(rad_eap(&v, got, sizeof(got)), 0);
}

static void test_accounting_and_coa_authenticators(void **st)
{
    struct rad_pkt p;
    struct rad_view v;
    size_t n;

    (void)st;
    rad_init(&p, RAD_ACCOUNTING_REQUEST, 9, NULL);
    rad_add_u32(&p, RAD_ACCT_STATUS_TYPE, 1);
    rad_add_str(&p, RAD_ACCT_SESSION_ID, "raven-1");
    n = rad_finish(&p, secret, strlen(secret));
    assert_int_equal(rad_parse(p.buf, n, &v), 0);
    assert_int_equal(rad_verify_request(&v, secret, strlen(secret)), 0);
    assert_int_equal(rad_verify_request(&v, "other", 5), -EBADMSG);
    rad_init(&p, RAD_COA_REQUEST, 10, NULL);
    rad_add_str(&p, RAD_USER_NAME, "alice");
    rad_add_msg_auth(&p);
    n = rad_finish(&p, secret, strlen(secret));
    assert_int_equal(rad_parse(p.buf, n, &v), 0);
    assert_int_equal(rad_verify_request(&v, secret, strlen(secret)), 0);
    p.buf[n - 1] ^= 1; /* the Message-Authenticator is last */
    assert_int_equal(rad_parse(p.buf, n, &v), 0);
    assert_int_equal(rad_verify_request(&v, secret, strlen(secret)), -EBADMSG);
}

/* RFC 2548 2.4.2 encryption, written out here to check the decryption. */
static size_t mppe_encrypt(const uint8_t *key, size_t klen, const uint8_t req_auth[16], uint8_t *out)
{
    uint8_t plain[64] = {0}, b[16];
    size_t n = (klen + 1 + 15) / 16 * 16;
    unsigned int ml = 16;

    plain[0] = (uint8_t)klen;
    memcpy(plain + 1, key, klen);
    out[0] = 0x81;
    out[1] = 0x23;
    for (size_t i = 0; i < n; i += 16) {
        EVP_MD_CTX *x = EVP_MD_CTX_new();

        EVP_DigestInit_ex(x, EVP_md5(), NULL);
        EVP_DigestUpdate(x, secret, strlen(secret));
        if (i == 0) {
            EVP_DigestUpdate(x, req_auth, 16);
            EVP_DigestUpdate(x, out, 2);
        } else {
            EVP_DigestUpdate(x, out + 2 + i - 16, 16);
        }
        EVP_DigestFinal_ex(x, b, &ml);
        EVP_MD_CTX_free(x);
        for (int j = 0; j < 16; j++)
            out[2 + i + j] = plain[i + j] ^ b[j];
    }
    return n + 2;
}

static void test_mppe_keys(void **st)
{
    uint8_t key[32], enc[64], out[64], auth[16] = {9, 8, 7};
    size_t n;

    (void)st;
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0xa0 + i);
    n = mppe_encrypt(key, 32, auth, enc);
    assert_int_equal(n, 50);
    assert_int_equal(rad_mppe_key(enc, n, secret, strlen(secret), auth, out, sizeof(out)), 32);
    assert_memory_equal(out, key, 32);
    assert_int_equal(rad_mppe_key(enc, n, secret, strlen(secret), auth, out, 16), 0); /* too small */
    assert_int_equal(rad_mppe_key(enc, n - 1, secret, strlen(secret), auth, out, sizeof(out)), 0);
    enc[0] &= 0x7f; /* salt without its high bit */
    assert_int_equal(rad_mppe_key(enc, n, secret, strlen(secret), auth, out, sizeof(out)), 0);
}

static void test_vsa_and_malformed(void **st)
{
    struct rad_pkt p;
    struct rad_view v;
    struct rad_attr a;
    uint32_t vendor;
    uint8_t vtype, buf[64] = {0};
    const uint8_t *val;
    size_t vl, n;

    (void)st;
    rad_init(&p, RAD_ACCESS_REQUEST, 1, buf);
    rad_add_vsa(&p, RAD_VENDOR_CISCO, 1, "ipsec:dns-servers=10.0.0.53", 27);
    n = rad_finish(&p, secret, strlen(secret));
    assert_int_equal(rad_parse(p.buf, n, &v), 0);
    assert_true(rad_find(&v, RAD_VENDOR_SPECIFIC, &a));
    assert_true(rad_vsa(&a, &vendor, &vtype, &val, &vl));
    assert_int_equal(vendor, 9);
    assert_int_equal(vtype, 1);
    assert_int_equal(vl, 27);
    assert_memory_equal(val, "ipsec:dns-servers=10.0.0.53", 27);
    /* truncated, length past the data, attribute length 0 and 1, attribute past the end */
    assert_int_equal(rad_parse(p.buf, 19, &v), -EINVAL);
    assert_int_equal(rad_parse(p.buf, n - 1, &v), -EINVAL);
    memcpy(buf, rfc_accept, sizeof(rfc_accept));
    buf[21] = 0;
    assert_int_equal(rad_parse(buf, sizeof(rfc_accept), &v), -EINVAL);
    buf[21] = 1;
    assert_int_equal(rad_parse(buf, sizeof(rfc_accept), &v), -EINVAL);
    buf[21] = 200;
    assert_int_equal(rad_parse(buf, sizeof(rfc_accept), &v), -EINVAL);
    /* padding after the length is ignored */
    memcpy(buf, rfc_accept, sizeof(rfc_accept));
    assert_int_equal(rad_parse(buf, sizeof(rfc_accept) + 5, &v), 0);
    assert_int_equal(v.len, sizeof(rfc_accept));
    /* a password longer than 128 octets or attributes past 4096 octets overflow */
    {
        char pw[200];

        memset(pw, 'x', sizeof(pw) - 1);
        pw[sizeof(pw) - 1] = '\0';
        rad_init(&p, RAD_ACCESS_REQUEST, 1, buf);
        rad_add_password(&p, secret, strlen(secret), pw);
        assert_int_equal(rad_finish(&p, secret, strlen(secret)), 0);
    }
    {
        uint8_t cls[250] = {0};

        rad_init(&p, RAD_ACCESS_REQUEST, 1, buf);
        for (int i = 0; i < 20; i++)
            rad_add(&p, RAD_CLASS, cls, sizeof(cls));
        assert_int_equal(rad_finish(&p, secret, strlen(secret)), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2865_access_request),
        cmocka_unit_test(test_rfc2865_access_accept),
        cmocka_unit_test(test_eap_fragments_and_message_authenticator),
        cmocka_unit_test(test_accounting_and_coa_authenticators),
        cmocka_unit_test(test_mppe_keys),
        cmocka_unit_test(test_vsa_and_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
