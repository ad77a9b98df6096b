/* Unit tests of the ESP transforms (dataplane/esp.c) and of both crypto
 * backends, OpenSSL EVP (dataplane/esp_crypto_evp.c) and intel-ipsec-mb
 * (dataplane/esp_crypto_mb.c): every test below runs once per backend (the
 * ipsec-mb group is skipped, and says so, only where the CPU cannot run it).
 *
 * Published vectors, each opened with esp_open() and reproduced byte for byte by
 * esp_seal_iv() given the published IV:
 *   - RFC 7634 Appendix A: the ChaCha20-Poly1305 ESP packet;
 *   - draft-mcgrew-gcm-test-01 section 4: AES-GCM ESP packets with 128, 192 and
 *     256-bit keys, with and without ESN (64-bit sequence numbers up to 2^64 - 1);
 *   - RFC 3602 section 4, cases 5 to 8: AES-CBC ESP packets, which have no ICV;
 *     ours is appended, computed with OpenSSL's one-shot HMAC() apart from esp.c;
 *   - RFC 2202 and RFC 4231 HMAC outputs through the backend, truncated as ESP
 *     truncates them.
 * Then every cipher and integrity combination against packets built here with
 * OpenSSL directly (an independent layout of nonce, AAD and ESN), round trips,
 * single-bit tampering, bad padding, every truncation. The replay window is
 * tested in test_esp_replay.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dataplane/esp.h"
#include "dataplane/esp_crypto.h"
#include "dataplane/esp_int.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;

    while (*s) {
        unsigned v;
        if (*s == ' ' || *s == '\n') {
            s++;
            continue;
        }
        assert_true(sscanf(s, "%2x", &v) == 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* the backend of the group running */
static enum esp_backend backend;

static const struct esp_crypto_ops *be(void)
{
    return backend == ESP_BACKEND_IPSEC_MB ? &esp_crypto_mb : &esp_crypto_evp;
}

#define HEX(name, str)                                                                                             \
    uint8_t name[512];                                                                                             \
    size_t name##_len __attribute__((unused)) = unhex(str, name, sizeof(name))

/* Packet buffers keep the inner packet at OFF, so that the header fits before it. */
#define OFF ESP_HEAD_MAX
#define BUF 2048

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* Opens @pkt (with the trailer in @pt: inner | padding | pad length | next header)
 * and seals the inner packet again with the packet's IV, which must give @pkt. */
static void check_packet(const struct esp_params *p, uint32_t spi, uint64_t seq, const uint8_t *pt, size_t pt_len,
                         const uint8_t *pkt, size_t pkt_len)
{
    struct esp_xform *enc = esp_xform_new(p, true), *dec = esp_xform_new(p, false);
    size_t inner_len = pt_len - 2 - pt[pt_len - 2], head, got_len;
    uint8_t buf[BUF], iv[16], *got, nh;

    assert_non_null(enc);
    assert_non_null(dec);
    assert_int_equal(esp_xform_backend(enc), backend);
    assert_int_equal(esp_xform_backend(dec), backend);
    head = esp_head_len(dec);
    memcpy(iv, pkt + 8, head - 8);

    memcpy(buf, pkt, pkt_len);
    assert_int_equal(esp_open(dec, seq, buf, pkt_len, &got, &got_len, &nh), ESP_OK);
    assert_ptr_equal(got, buf + head);
    assert_int_equal(got_len, inner_len);
    assert_memory_equal(got, pt, inner_len);
    assert_int_equal(nh, pt[pt_len - 1]);

    memset(buf, 0xee, sizeof(buf));
    memcpy(buf + OFF, pt, inner_len);
    assert_int_equal(esp_seal_iv(enc, spi, seq, pt[pt_len - 1], buf + OFF, inner_len, iv), (int)pkt_len);
    assert_memory_equal(buf + OFF - head, pkt, pkt_len);
    assert_int_equal(head + inner_len + esp_tail_len(enc, inner_len), pkt_len);
    esp_xform_free(enc);
    esp_xform_free(dec);
}

static void test_chacha20_poly1305_rfc7634(void **st)
{
    HEX(key, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f a0a1a2a3");
    HEX(pt, "45000054a6f200004001e778c6336405c00002050800 5b7a3a080000553bec10"
            "00073627 08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b"
            "2c2d2e2f3031323334353637 01020204");
    HEX(pkt, "01020304 00000005 1011121314151617"
             "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c6"
             "14ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3"
             "cbec163fac469b502773f6fb94e664da9165b82829f641e0 76aaa8266b7fb0f7b11b369907e1ad43");
    struct esp_params p = {.cipher = DP_CIPHER_CHACHA20_POLY1305, .key = key, .key_len = key_len};

    assert_int_equal(key_len, 36);
    check_packet(&p, 0x01020304, 5, pt, pt_len, pkt, pkt_len);
}

static void test_aes_gcm_mcgrew(void **st)
{
    /* draft-mcgrew-gcm-test-01 section 4; nonce = salt || IV, and a seq of 8
     * octets is an ESN */
    static const struct {
        const char *key, *nonce, *pt, *pkt;
        uint32_t spi;
        uint64_t seq;
        bool esn;
    } v[] = {
        {"4c80cdefbb5d10da906ac73c3613a634", "2e443b684956ed7e3b244cfe",
         "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
         "00000000045f736970045f756470037369700963796265726369747902646b00"
         "0021000101020201",
         "00004321000000004956ed7e3b244cfe fecf537e729d5b07dc30df528dd22b76"
         "8d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d"
         "15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe72"
         "2fd04796562dfdb4",
         0x00004321, 0x8765432100000000ull, true},
        {"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
         "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
         "0001000000000000037369700963796265726369747902646b00000100010001",
         "0000a5f80000000afacedbaddecaf888 deb22cd9b07c72c16e3a65beeb8df304"
         "a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642"
         "cfbb85a5b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a",
         0x0000a5f8, 0xa, false},
        {"abbccddef00112233445566778899aababbccddef00112233445566778899aab", "112233440102030405060708",
         "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
         "7002400020bf0000020405b40101040201020201",
         "4a2cbfe3000000020102030405060708 ff425c9b724599df7a3bcd510194e00d"
         "6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99d"
         "ef842d8eb335f4eecfdbf831824b4c4915956c96",
         0x4a2cbfe3, 2, false},
        {"feffe9928665731c6d6a8f9467308308feffe9928665731c", "cafebabefacedbaddecaf888",
         "45000028a4ad4000400678800a01038f0a010612802306b8cb712602dd6bb03e501016d075680001",
         "0000a5f80000000afacedbaddecaf888 a5b1f8066029aea40e598b8122de0242"
         "0938b3ab33f828e687b8858b5bfbdbd0315b27452144cc7795457b9652037f53"
         "18027b5b4cd7a636",
         0x0000a5f8, 0xa, false},
        {"abbccddef00112233445566778899aababbccddef00112233445566778899aab", "73616c74616e640169766563",
         "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb71260250101f646d540001",
         "17405e67dd0db99b616e640169766563 f2d69ecdbd5a0d5b8d5ef38bad4da58d"
         "1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e451626c2415771e3"
         "b7eebca614c89b35",
         0x17405e67, 0x156f3126dd0db99bull, true},
        {"7d773d00c144c525ac619d18c84a3f47", "d966426743457e9182443bc6", "01020201",
         "335467aeffffffff43457e9182443bc6 437f866bcb3f699fe9b0822bac961c4504bef270", 0x335467ae, 0xffffffff,
         false},
        {"6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961", "7475726e333021696765746d",
         "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364"
         "65666768696a6b6c6d6e6f707172737401020201",
         "796b6963ffffffff333021696765746d f97ab2aa356d8edce17644ac8c78e25d"
         "d24dedbb29ebf1b64a274b39b49c3a864cd3d78ca4ae68a32b42458fb57dbe82"
         "1dcc63b9d0937ba2945f669368661a329fb4c053",
         0x796b6963, UINT64_MAX, true},
        {"abbccddef00112233445566778899aab", "decaf888cafedebaceface74",
         "746f016265016f72016e6f7401746f0162650001",
         "0000010000000001cafedebaceface74 29c9fc69a197d038ccdd14e2ddfcaa05"
         "43332164412503524303ed3c6c5f283843af8c3e",
         0x00000100, 1, true},
        {"3de09874b388e6491988d0c3607eae1f", "57690e434e280000a2fca1a3",
         "4500003c99c300008001cb7c40679318010101010800085c0200430061626364"
         "65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
         "42f67e3f101010104e280000a2fca1a3 fba2caa4853cf9f0f22cb10d86dd83b0"
         "fec75691cf1a04b00d1138ec9c35791765acbd8701ad79845bf9fe3fba487bc9"
         "1755e6662b4c8d0d1f5e22739530320ae0d731cc978ecafaeae88f00e80d6e48",
         0x42f67e3f, 0x1010101010101010ull, true},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        HEX(key, v[i].key);
        HEX(nonce, v[i].nonce);
        HEX(pt, v[i].pt);
        HEX(pkt, v[i].pkt);
        struct esp_params p = {.cipher = DP_CIPHER_AES_GCM_16, .key = key, .key_len = key_len + 4, .esn = v[i].esn};

        memcpy(key + key_len, nonce, 4); /* the salt follows the key */
        assert_memory_equal(pkt + 8, nonce + 4, 8);
        check_packet(&p, v[i].spi, v[i].seq, pt, pt_len, pkt, pkt_len);
    }
}

/* HMAC-@md of data || tail, the independent reference for CBC ICVs. */
static void ref_hmac(enum dp_integ integ, const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                     const uint8_t *tail, size_t tail_len, uint8_t *out)
{
    const EVP_MD *md = integ == DP_INTEG_HMAC_SHA1_96        ? EVP_sha1()
                       : integ == DP_INTEG_HMAC_SHA2_256_128 ? EVP_sha256()
                       : integ == DP_INTEG_HMAC_SHA2_384_192 ? EVP_sha384()
                                                             : EVP_sha512();
    uint8_t *tmp = malloc(len + tail_len + 1);
    unsigned n = 0;

    assert_non_null(tmp);
    memcpy(tmp, data, len);
    if (tail_len)
        memcpy(tmp + len, tail, tail_len);
    assert_non_null(HMAC(md, key, (int)key_len, tmp, len + tail_len, out, &n));
    free(tmp);
}

static void test_aes_cbc_rfc3602(void **st)
{
    static const struct {
        const char *key, *pt, *pkt;
        uint32_t spi;
        uint64_t seq;
        enum dp_integ integ;
        size_t ikey_len;
    } v[] = {
        /* case 5 */
        {"90d382b410eeba7ad938c46cec1a82bf",
         "08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
         "202122232425262728292a2b2c2d2e2f3031323334353637 0102030405060708090a0b0c0d0e 0e 01",
         "00004321 00000001 e96e8c08ab465763fd098d45dd3ff893"
         "f663c25d325c18c6a9453e194e120849a4870b66cc6b9965330013b4898dc856"
         "a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874a"
         "a269add047ad2d5913ac19b7cfbad4a6",
         0x4321, 1, DP_INTEG_HMAC_SHA1_96, 20},
        /* case 6 */
        {"90d382b410eeba7ad938c46cec1a82bf", "0800b5e8a80a0500a69c083d0b660e00777777777777777777777777 0102 02 01",
         "00004321 00000008 69d08df7d203329db093fc4924e5bd80"
         "f51995881ec4e0c4488987ce742e8109689bb379d2d750c0d915dca346a89f75",
         0x4321, 8, DP_INTEG_HMAC_SHA2_256_128, 32},
        /* case 7 */
        {"0123456789abcdef0123456789abcdef",
         "45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d02a2040008090a0b"
         "0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
         "0102030405060708090a 0a 04",
         "00008765 00000002 f4e765244f6407adf13dc1380f673f37"
         "773b5241a4c449225e4f3ce5ed611b0c237ca96cf74a93013c1b0ea1a0cf70f8"
         "e4ecaec78ac53aad7a0f022b859243c647752e94a859352b8a4d4d2decd136e5"
         "c177f132ad3fbfb2201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d",
         0x8765, 2, DP_INTEG_HMAC_SHA2_384_192, 48},
        /* case 8 */
        {"0123456789abcdef0123456789abcdef",
         "45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083da3de0300"
         "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff 0102030405060708090a 0a 04",
         "00008765 00000005 85d47224b5f3dd5d2101d4ea8dffab22"
         "15b92683819596a8047232cc00f7048fe45318e11f8a0f62ede3c3fc61203bb5"
         "0f980a08c9843fd3a1b06d5c07ff9639b7eb7dfb3512e5de435e7207ed971ef3"
         "d2726d9b5ef6affc6d17a0decbb13892",
         0x8765, 5, DP_INTEG_HMAC_SHA2_512_256, 64},
    };
    uint8_t ikey[64];

    for (size_t i = 0; i < sizeof(ikey); i++)
        ikey[i] = (uint8_t)(0xa0 + i);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        HEX(key, v[i].key);
        HEX(pt, v[i].pt);
        HEX(pkt, v[i].pkt);
        size_t icv_len = esp_crypto_icv_len(DP_CIPHER_AES_CBC, v[i].integ);
        struct esp_params p = {.cipher = DP_CIPHER_AES_CBC, .key = key, .key_len = key_len, .integ = v[i].integ,
                               .integ_key = ikey, .integ_key_len = v[i].ikey_len};
        uint8_t full[64], hi[4];

        /* the RFC's packets carry no ICV: append ours, then with ESN (the same
         * low 32 bits on the wire, the high ones only in the ICV input) */
        ref_hmac(v[i].integ, ikey, v[i].ikey_len, pkt, pkt_len, NULL, 0, full);
        memcpy(pkt + pkt_len, full, icv_len);
        check_packet(&p, v[i].spi, v[i].seq, pt, pt_len, pkt, pkt_len + icv_len);

        p.esn = true;
        put32(hi, 7);
        ref_hmac(v[i].integ, ikey, v[i].ikey_len, pkt, pkt_len, hi, 4, full);
        memcpy(pkt + pkt_len, full, icv_len);
        check_packet(&p, v[i].spi, 7ull << 32 | v[i].seq, pt, pt_len, pkt, pkt_len + icv_len);
    }
}

static void test_backend_hmac_rfc2202_rfc4231(void **st)
{
    /* published full outputs; the backend gives the ESP-truncated prefix */
    static const struct {
        enum dp_integ integ;
        int tc;
        const char *out;
    } v[] = {
        {DP_INTEG_HMAC_SHA1_96, 1, "b617318655057264e28bc0b6fb378c8ef146be00"},
        {DP_INTEG_HMAC_SHA1_96, 2, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
        {DP_INTEG_HMAC_SHA1_96, 5, "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
        {DP_INTEG_HMAC_SHA1_96, 6, "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
        {DP_INTEG_HMAC_SHA2_256_128, 1, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {DP_INTEG_HMAC_SHA2_256_128, 2, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {DP_INTEG_HMAC_SHA2_256_128, 5, "a3b6167473100ee06e0c796c2955552b"},
        {DP_INTEG_HMAC_SHA2_256_128, 6, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {DP_INTEG_HMAC_SHA2_384_192, 1,
         "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
        {DP_INTEG_HMAC_SHA2_384_192, 2,
         "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
        {DP_INTEG_HMAC_SHA2_384_192, 6,
         "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"},
        {DP_INTEG_HMAC_SHA2_512_256, 1,
         "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
         "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
        {DP_INTEG_HMAC_SHA2_512_256, 2,
         "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
         "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
        {DP_INTEG_HMAC_SHA2_512_256, 6,
         "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
         "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
    };
    static const uint8_t aes[16];
    const struct esp_crypto_ops *ops = be();
    uint8_t iv[16] = {0}, key[131], icv[32];

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        HEX(want, v[i].out);
        size_t icv_len = esp_crypto_icv_len(DP_CIPHER_AES_CBC, v[i].integ), key_len;
        const char *data;
        struct esp_crypto_ctx *c;

        switch (v[i].tc) {
        case 1:
            key_len = 20;
            memset(key, 0x0b, key_len);
            data = "Hi There";
            break;
        case 2:
            key_len = 4;
            memcpy(key, "Jefe", 4);
            data = "what do ya want for nothing?";
            break;
        case 5:
            key_len = 20;
            memset(key, 0x0c, key_len);
            data = "Test With Truncation";
            break;
        default: /* test case 6: RFC 2202 takes 80 bytes of key, RFC 4231 131 */
            key_len = v[i].integ == DP_INTEG_HMAC_SHA1_96 ? 80 : 131;
            memset(key, 0xaa, key_len);
            data = "Test Using Larger Than Block-Size Key - Hash Key First";
        }
        assert_true(want_len >= icv_len);
        for (int e = 0; e < 2; e++) {
            /* the data as the AAD before an empty ciphertext (esp_crypto.h's layout) */
            const uint8_t *d = (const uint8_t *)data, *end = d + strlen(data);

            c = ops->ctx_new(DP_CIPHER_AES_CBC, aes, 16, v[i].integ, key, key_len, e);
            assert_non_null(c);
            if (e) {
                /* twice: the per-packet re-init must start from the key again */
                for (int k = 0; k < 2; k++) {
                    assert_int_equal(ops->seal(c, iv, d, strlen(data), (uint8_t *)end, 0, NULL, 0, icv), 0);
                    assert_memory_equal(icv, want, icv_len);
                }
            } else {
                assert_int_equal(ops->open(c, iv, d, strlen(data), (uint8_t *)end, 0, NULL, 0, want), 0);
                want[icv_len - 1] ^= 0x80;
                assert_int_equal(ops->open(c, iv, d, strlen(data), (uint8_t *)end, 0, NULL, 0, want), ESP_E_AUTH);
                want[icv_len - 1] ^= 0x80;
            }
            ops->ctx_free(c);
        }
    }
}

/* Every combination the dataplane takes. */
static const struct cfg {
    enum dp_cipher cipher;
    size_t key_len; /* AEAD: with the salt */
    enum dp_integ integ;
    size_t ikey_len;
} cfgs[] = {
    {DP_CIPHER_AES_GCM_16, 20, DP_INTEG_NONE, 0},
    {DP_CIPHER_AES_GCM_16, 28, DP_INTEG_NONE, 0},
    {DP_CIPHER_AES_GCM_16, 36, DP_INTEG_NONE, 0},
    {DP_CIPHER_CHACHA20_POLY1305, 36, DP_INTEG_NONE, 0},
    {DP_CIPHER_AES_CBC, 16, DP_INTEG_HMAC_SHA1_96, 20},
    {DP_CIPHER_AES_CBC, 24, DP_INTEG_HMAC_SHA2_256_128, 32},
    {DP_CIPHER_AES_CBC, 32, DP_INTEG_HMAC_SHA2_384_192, 48},
    {DP_CIPHER_AES_CBC, 16, DP_INTEG_HMAC_SHA2_512_256, 64},
    {DP_CIPHER_AES_CBC, 32, DP_INTEG_HMAC_SHA2_256_128, 32},
};
#define NCFG (sizeof(cfgs) / sizeof(cfgs[0]))

static uint8_t tkey[36], tikey[64];

static int setup(void **st)
{
    for (size_t i = 0; i < sizeof(tkey); i++)
        tkey[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(tikey); i++)
        tikey[i] = (uint8_t)(i * 13 + 5);
    /* transforms made from now on get the group's backend */
    return esp_set_backend(backend) || esp_backend_default() != backend ? -1 : 0;
}

static struct esp_xform *mk(const struct cfg *c, bool esn, bool encrypt)
{
    struct esp_params p = {.cipher = c->cipher, .key = tkey, .key_len = c->key_len, .integ = c->integ,
                           .integ_key = tikey, .integ_key_len = c->ikey_len, .esn = esn};
    struct esp_xform *x = esp_xform_new(&p, encrypt);

    assert_non_null(x);
    assert_int_equal(esp_xform_backend(x), backend);
    return x;
}

static bool is_aead(const struct cfg *c)
{
    return c->cipher != DP_CIPHER_AES_CBC;
}

/* An ESP packet built with OpenSSL directly from @pt (inner, padding and trailer
 * already in it; for CBC a whole number of blocks): its length. */
static size_t craft(const struct cfg *c, bool esn, uint32_t spi, uint64_t seq, const uint8_t *iv, const uint8_t *pt,
                    size_t n, uint8_t *out)
{
    size_t iv_len = is_aead(c) ? 8 : 16, head = 8 + iv_len, key_len = c->key_len - (is_aead(c) ? 4 : 0);
    const EVP_CIPHER *ciph;
    EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new();
    uint8_t nonce[12], aad[12], hi[4], full[64];
    int l;

    assert_non_null(e);
    put32(out, spi);
    put32(out + 4, (uint32_t)seq);
    put32(hi, seq >> 32);
    memcpy(out + 8, iv, iv_len);
    if (is_aead(c)) {
        size_t aad_len = esn ? 12 : 8;

        ciph = c->cipher == DP_CIPHER_CHACHA20_POLY1305 ? EVP_chacha20_poly1305()
               : key_len == 16                          ? EVP_aes_128_gcm()
               : key_len == 24                          ? EVP_aes_192_gcm()
                                                        : EVP_aes_256_gcm();
        memcpy(nonce, tkey + key_len, 4);
        memcpy(nonce + 4, iv, 8);
        memcpy(aad, out, 4);
        memcpy(aad + 4, esn ? hi : out + 4, 4);
        memcpy(aad + 8, out + 4, 4);
        assert_true(EVP_EncryptInit_ex(e, ciph, NULL, tkey, nonce));
        assert_true(EVP_EncryptUpdate(e, NULL, &l, aad, (int)aad_len));
        assert_true(EVP_EncryptUpdate(e, out + head, &l, pt, (int)n));
        assert_true(EVP_EncryptFinal_ex(e, full, &l));
        assert_true(EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_GET_TAG, 16, out + head + n));
        EVP_CIPHER_CTX_free(e);
        return head + n + 16;
    }
    ciph = key_len == 16 ? EVP_aes_128_cbc() : key_len == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
    assert_true(EVP_EncryptInit_ex(e, ciph, NULL, tkey, iv));
    assert_true(EVP_CIPHER_CTX_set_padding(e, 0));
    assert_true(EVP_EncryptUpdate(e, out + head, &l, pt, (int)n));
    assert_int_equal(l, n);
    EVP_CIPHER_CTX_free(e);
    ref_hmac(c->integ, tikey, c->ikey_len, out, head + n, hi, esn ? 4 : 0, full);
    memcpy(out + head + n, full, esp_crypto_icv_len(c->cipher, c->integ));
    return head + n + esp_crypto_icv_len(c->cipher, c->integ);
}

/* inner (@len bytes of a pattern) | 1, 2, .. | pad length | next header */
static size_t trailer(uint8_t *pt, size_t len, size_t align, uint8_t nh)
{
    size_t pad = (align - (len + 2) % align) % align;

    for (size_t i = 0; i < len; i++)
        pt[i] = (uint8_t)(i * 31 + 1);
    for (size_t i = 0; i < pad; i++)
        pt[len + i] = (uint8_t)(i + 1);
    pt[len + pad] = (uint8_t)pad;
    pt[len + pad + 1] = nh;
    return len + pad + 2;
}

static void test_independent_layout(void **st)
{
    static const uint64_t seqs[] = {1, 0x12345678, 0x1ffffffffull, 0xfedcba9876543210ull};
    uint8_t iv[16], pt[600], want[BUF], buf[BUF];

    for (size_t i = 0; i < sizeof(iv); i++)
        iv[i] = (uint8_t)(0x40 + i);
    for (size_t ci = 0; ci < NCFG; ci++) {
        const struct cfg *c = &cfgs[ci];
        for (int esn = 0; esn < 2; esn++) {
            struct esp_xform *enc = mk(c, esn, true), *dec = mk(c, esn, false);
            for (size_t s = 0; s < sizeof(seqs) / sizeof(seqs[0]); s++) {
                for (size_t len = 0; len < 520; len += 37) {
                    size_t n = trailer(pt, len, is_aead(c) ? 4 : 16, 41);
                    size_t wl = craft(c, esn, 0xc0ffee01, seqs[s], iv, pt, n, want), got_len;
                    uint8_t *got, nh;

                    memcpy(buf + OFF, pt, len);
                    assert_int_equal(esp_seal_iv(enc, 0xc0ffee01, seqs[s], 41, buf + OFF, len, iv), (int)wl);
                    assert_memory_equal(buf + OFF - esp_head_len(enc), want, wl);
                    assert_int_equal(esp_open(dec, seqs[s], want, wl, &got, &got_len, &nh), ESP_OK);
                    assert_int_equal(got_len, len);
                    assert_memory_equal(got, pt, len);
                    assert_int_equal(nh, 41);
                }
            }
            esp_xform_free(enc);
            esp_xform_free(dec);
        }
    }
}

/* Seals a test packet of @len inner bytes at buf + OFF; returns the ESP payload. */
static uint8_t *seal_one(struct esp_xform *x, uint8_t *buf, size_t len, uint64_t seq, int *plen)
{
    for (size_t i = 0; i < len; i++)
        buf[OFF + i] = (uint8_t)(i ^ 0x5a);
    *plen = esp_seal(x, 0x1000 + (uint32_t)len, seq, 4, buf + OFF, len);
    assert_true(*plen > 0);
    return buf + OFF - esp_head_len(x);
}

static void test_roundtrip(void **st)
{
    static const size_t lens[] = {1400, 1500, 9000, 65535 - ESP_HEAD_MAX - ESP_TAIL_MAX};
    static uint8_t buf[65536 + 2 * OFF];

    for (size_t ci = 0; ci < NCFG; ci++) {
        const struct cfg *c = &cfgs[ci];
        for (int esn = 0; esn < 2; esn++) {
            struct esp_xform *enc = mk(c, esn, true), *dec = mk(c, esn, false);
            for (size_t k = 0; k < 200 + sizeof(lens) / sizeof(lens[0]); k++) {
                size_t len = k < 200 ? k : lens[k - 200], got_len;
                uint64_t seq = esn ? (uint64_t)k << 32 | (k * 0x9e3779b9u + 1) : k + 1;
                int plen;
                uint8_t *esp = seal_one(enc, buf, len, seq, &plen), *got, nh;

                assert_int_equal(plen, esp_head_len(enc) + len + esp_tail_len(enc, len));
                assert_true(esp_tail_len(enc, len) <= ESP_TAIL_MAX);
                assert_int_equal(esp_open(dec, seq, esp, (size_t)plen, &got, &got_len, &nh), ESP_OK);
                assert_int_equal(got_len, len);
                for (size_t i = 0; i < len; i++)
                    assert_int_equal(got[i], (uint8_t)(i ^ 0x5a));
                assert_int_equal(nh, 4);
                if (is_aead(c)) {
                    /* the IV is the 64-bit sequence number */
                    uint8_t want[8];
                    put32(want, seq >> 32);
                    put32(want + 4, (uint32_t)seq);
                    assert_memory_equal(esp + 8, want, 8);
                }
            }
            /* too long to fit an IP packet */
            assert_int_equal(esp_seal(enc, 1, 1, 4, buf + OFF, 65535 - ESP_HEAD_MAX - ESP_TAIL_MAX + 1),
                             ESP_E_MALFORMED);
            esp_xform_free(enc);
            esp_xform_free(dec);
        }
    }
}

static void test_cbc_iv_unique(void **st)
{
    /* more than one pool of random IVs */
    enum { N = 600 };
    static uint8_t ivs[N][16];
    struct esp_xform *x = mk(&cfgs[5], false, true);
    uint8_t buf[256];

    for (int i = 0; i < N; i++) {
        int plen;
        uint8_t *esp = seal_one(x, buf, 20, (uint64_t)i + 1, &plen);
        memcpy(ivs[i], esp + 8, 16);
        for (int j = 0; j < i; j++)
            assert_memory_not_equal(ivs[i], ivs[j], 16);
    }
    esp_xform_free(x);
}

static void test_tamper(void **st)
{
    uint8_t buf[256], *got, nh;
    size_t got_len;

    for (size_t ci = 0; ci < NCFG; ci++) {
        for (int esn = 0; esn < 2; esn++) {
            struct esp_xform *enc = mk(&cfgs[ci], esn, true), *dec = mk(&cfgs[ci], esn, false);
            uint64_t seq = esn ? 0x300000010ull : 0x10;
            int plen;
            uint8_t *esp = seal_one(enc, buf, 45, seq, &plen);

            /* every bit: SPI, sequence, IV, ciphertext, ICV */
            for (int bit = 0; bit < plen * 8; bit++) {
                uint8_t copy[256];
                memcpy(copy, esp, (size_t)plen);
                copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                assert_int_equal(esp_open(dec, seq, copy, (size_t)plen, &got, &got_len, &nh), ESP_E_AUTH);
            }
            /* another sequence number: with ESN the high half is not on the wire */
            {
                uint8_t copy[256];
                memcpy(copy, esp, (size_t)plen);
                assert_int_equal(esp_open(dec, seq + (1ull << 32), copy, (size_t)plen, &got, &got_len, &nh),
                                 esn ? ESP_E_AUTH : ESP_OK);
                memcpy(copy, esp, (size_t)plen);
                assert_int_equal(esp_open(dec, seq, copy, (size_t)plen, &got, &got_len, &nh), ESP_OK);
            }
            esp_xform_free(enc);
            esp_xform_free(dec);
        }
    }
}

/* Packets that authenticate but whose trailer is wrong. */
static void test_bad_padding(void **st)
{
    uint8_t pt[64], pkt[256], iv[16] = {1, 2, 3}, *got, nh;
    size_t got_len;

    for (size_t ci = 0; ci < NCFG; ci++) {
        const struct cfg *c = &cfgs[ci];
        size_t n = is_aead(c) ? 16 : 32, len;
        struct esp_xform *dec = mk(c, false, false);

        /* 1, 3 instead of 1, 2 */
        memset(pt, 0x45, n - 4);
        pt[n - 4] = 1;
        pt[n - 3] = 3;
        pt[n - 2] = 2;
        pt[n - 1] = 4;
        len = craft(c, false, 0x2000, 9, iv, pt, n, pkt);
        assert_int_equal(esp_open(dec, 9, pkt, len, &got, &got_len, &nh), ESP_E_MALFORMED);
        /* a zero in the padding */
        pt[n - 3] = 0;
        len = craft(c, false, 0x2000, 9, iv, pt, n, pkt);
        assert_int_equal(esp_open(dec, 9, pkt, len, &got, &got_len, &nh), ESP_E_MALFORMED);
        /* a pad length beyond the payload, by one and by far */
        for (size_t i = 0; i < n - 2; i++)
            pt[i] = (uint8_t)(i + 1);
        pt[n - 2] = (uint8_t)(n - 1);
        len = craft(c, false, 0x2000, 9, iv, pt, n, pkt);
        assert_int_equal(esp_open(dec, 9, pkt, len, &got, &got_len, &nh), ESP_E_MALFORMED);
        pt[n - 2] = 255;
        len = craft(c, false, 0x2000, 9, iv, pt, n, pkt);
        assert_int_equal(esp_open(dec, 9, pkt, len, &got, &got_len, &nh), ESP_E_MALFORMED);
        /* all padding: an empty inner packet is well formed */
        pt[n - 2] = (uint8_t)(n - 2);
        len = craft(c, false, 0x2000, 9, iv, pt, n, pkt);
        assert_int_equal(esp_open(dec, 9, pkt, len, &got, &got_len, &nh), ESP_OK);
        assert_int_equal(got_len, 0);
        assert_int_equal(nh, 4);
        esp_xform_free(dec);
    }
}

static void test_truncated(void **st)
{
    uint8_t buf[256], *got, nh;
    size_t got_len;

    for (size_t ci = 0; ci < NCFG; ci++) {
        const struct cfg *c = &cfgs[ci];
        struct esp_xform *enc = mk(c, true, true), *dec = mk(c, true, false);
        size_t min = esp_head_len(dec) + 2 + esp_crypto_icv_len(c->cipher, c->integ);
        int plen;
        uint8_t *esp = seal_one(enc, buf, 70, 77, &plen);

        for (size_t n = 0; n <= (size_t)plen + 17; n++) {
            /* exactly n bytes on the heap, so that ASan sees any read past them */
            uint8_t *copy = malloc(n ? n : 1);
            int rc;

            assert_non_null(copy);
            memcpy(copy, esp, n < (size_t)plen ? n : (size_t)plen);
            if (n > (size_t)plen)
                memset(copy + plen, 0, n - (size_t)plen);
            rc = esp_open(dec, 77, copy, n, &got, &got_len, &nh);
            if (n == (size_t)plen)
                assert_int_equal(rc, ESP_OK);
            else if (n < min || (!is_aead(c) && (n - min + 2) % 16))
                assert_int_equal(rc, ESP_E_MALFORMED);
            else
                assert_int_equal(rc, ESP_E_AUTH);
            free(copy);
        }
        esp_xform_free(enc);
        esp_xform_free(dec);
    }
}

static void test_params_and_lengths(void **st)
{
    static const struct esp_params bad[] = {
        {.cipher = DP_CIPHER_AES_GCM_16, .key_len = 16},                 /* no salt */
        {.cipher = DP_CIPHER_AES_GCM_16, .key_len = 21},
        {.cipher = DP_CIPHER_AES_GCM_16, .key_len = 20, .integ = DP_INTEG_HMAC_SHA1_96, .integ_key_len = 20},
        {.cipher = DP_CIPHER_CHACHA20_POLY1305, .key_len = 32},
        {.cipher = DP_CIPHER_AES_CBC, .key_len = 16},                    /* no integrity */
        {.cipher = DP_CIPHER_AES_CBC, .key_len = 20, .integ = DP_INTEG_HMAC_SHA1_96, .integ_key_len = 20},
        {.cipher = DP_CIPHER_AES_CBC, .key_len = 16, .integ = DP_INTEG_HMAC_SHA2_256_128, .integ_key_len = 20},
        {.cipher = DP_CIPHER_AES_CBC, .key_len = 16, .integ = (enum dp_integ)99, .integ_key_len = 20},
        {.cipher = (enum dp_cipher)3, .key_len = 16},
    };
    uint8_t buf[64], *got, nh;
    size_t got_len;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct esp_params p = bad[i];
        p.key = tkey;
        p.integ_key = tikey;
        errno = 0;
        assert_null(esp_xform_new(&p, true));
        assert_int_equal(errno, EINVAL);
    }
    esp_xform_free(NULL);

    for (size_t ci = 0; ci < NCFG; ci++) {
        const struct cfg *c = &cfgs[ci];
        struct esp_xform *enc = mk(c, false, true), *dec = mk(c, false, false);
        size_t head = esp_head_len(enc), icv = esp_crypto_icv_len(c->cipher, c->integ);

        assert_int_equal(head, is_aead(c) ? 16 : 24);
        assert_true(head <= ESP_HEAD_MAX);
        assert_int_equal(esp_tail_len(enc, 0), (is_aead(c) ? 2 : 14) + 2 + icv);
        assert_int_equal(esp_tail_len(enc, 2), (is_aead(c) ? 0 : 12) + 2 + icv);
        /* the largest inner packet that fits, and one more byte does not */
        for (size_t max = 0; max < 400; max++) {
            size_t l = esp_inner_max(enc, max);
            if (head + esp_tail_len(enc, 0) > max) {
                assert_int_equal(l, 0);
                continue;
            }
            assert_true(head + l + esp_tail_len(enc, l) <= max);
            assert_true(head + l + 1 + esp_tail_len(enc, l + 1) > max);
        }
        assert_int_equal(esp_inner_max(enc, 1400), is_aead(c) ? 1366 : 1400 - 24 - icv - (1376 - icv) % 16 - 2);
        /* one direction each */
        assert_int_equal(esp_seal(dec, 1, 1, 4, buf + OFF, 4), ESP_E_CRYPTO);
        assert_int_equal(esp_open(enc, 1, buf, sizeof(buf), &got, &got_len, &nh), ESP_E_CRYPTO);
        esp_xform_free(enc);
        esp_xform_free(dec);
    }
}

/* ESP_NULL (benchmark baselines): no IV, no ICV, the default padding still checked. */
static void test_null(void **state)
{
    struct esp_params p = {.cipher = DP_CIPHER_NULL, .key = (const uint8_t *)"", .key_len = 0};
    struct esp_xform *e = esp_xform_new(&p, true), *d = esp_xform_new(&p, false);
    uint8_t buf[256] = {0}, *inner = buf + ESP_HEAD_MAX, *out, nh;
    size_t olen;
    int len;

    (void)state;
    assert_non_null(e);
    assert_non_null(d);
    assert_int_equal(esp_head_len(e), 8);
    memcpy(inner, "Eabcdefghijklmn", 15);
    len = esp_seal(e, 0x1234, 7, 4, inner, 15);
    assert_int_equal(len, 8 + 15 + 3 + 2); /* padded to 4 bytes (not a cipher block) with the trailer */
    assert_int_equal(esp_open(d, 7, inner - 8, (size_t)len, &out, &olen, &nh), ESP_OK);
    assert_int_equal(olen, 15);
    assert_int_equal(nh, 4);
    inner[15] = 9; /* a wrong padding byte */
    assert_int_equal(esp_open(d, 7, inner - 8, (size_t)len, &out, &olen, &nh), ESP_E_MALFORMED);
    p.key_len = 16;
    assert_null(esp_xform_new(&p, true)); /* ESP_NULL takes no key */
    esp_xform_free(e);
    esp_xform_free(d);
}

#ifndef RAVEN_HAVE_IPSEC_MB
/* A build without intel-ipsec-mb: its probe says so, and the group is skipped. */
static void test_mb_not_built(void **st)
{
    const char *why = NULL;

    (void)st;
    assert_false(esp_crypto_mb_probe(&why));
    assert_string_equal(why, "not built with intel-ipsec-mb");
    skip();
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chacha20_poly1305_rfc7634),
        cmocka_unit_test(test_aes_gcm_mcgrew),
        cmocka_unit_test(test_aes_cbc_rfc3602),
        cmocka_unit_test(test_backend_hmac_rfc2202_rfc4231),
        cmocka_unit_test(test_independent_layout),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_cbc_iv_unique),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_bad_padding),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_params_and_lengths),
        cmocka_unit_test(test_null),
    };
    const char *why;
    int rc;

    backend = ESP_BACKEND_OPENSSL;
    rc = cmocka_run_group_tests_name("openssl", tests, setup, NULL);
#ifndef RAVEN_HAVE_IPSEC_MB
    {
        const struct CMUnitTest skipped[] = {cmocka_unit_test(test_mb_not_built)};

        (void)why;
        return rc | cmocka_run_group_tests_name("ipsec-mb", skipped, NULL, NULL);
    }
#endif
    if (!esp_crypto_mb_probe(&why)) {
        /* a CPU without AES-NI and AVX2 is no failure; a failed self-test is */
        printf("ipsec-mb not usable here: %s\n", why);
        return rc || !strncmp(why, "self-test", 9);
    }
    backend = ESP_BACKEND_IPSEC_MB;
    return rc | cmocka_run_group_tests_name("ipsec-mb", tests, setup, NULL);
}
