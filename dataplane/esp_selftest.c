/* The known-answer self-test of a crypto backend (esp_crypto.h), run before a
 * backend other than OpenSSL is used: published vectors through seal(), open(),
 * a tampered ICV and the burst entry points.
 *   - AES-GCM-128 and AES-GCM-256: draft-mcgrew-gcm-test-01 section 4 packets;
 *   - ChaCha20-Poly1305: RFC 7634 Appendix A;
 *   - AES-128-CBC: RFC 3602 case 5, AES-256-CBC: NIST SP 800-38A F.2.5 (two
 *     blocks), each with the HMAC of the packet computed by OpenSSL's one-shot
 *     HMAC() as the expected ICV;
 *   - HMAC-SHA1 (RFC 2202 case 2) and HMAC-SHA2-256/384/512 (RFC 4231 case 2),
 *     truncated as ESP truncates them. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dataplane/esp.h"
#include "dataplane/esp_crypto.h"

struct kat {
    const char *name;
    enum dp_cipher cipher;
    enum dp_integ integ;
    const char *key, *ikey; /* ikey: ASCII (the RFC HMAC cases) */
    const char *iv;         /* AEAD: the 12-byte nonce; CBC: the 16-byte IV */
    const char *aad;        /* AEAD: the AAD; CBC: SPI || seq (the IV follows) */
    const char *pt, *ct, *icv;
};

static const struct kat kats[] = {
    {"AES-GCM-128", DP_CIPHER_AES_GCM_16, DP_INTEG_NONE, "feffe9928665731c6d6a8f9467308308", NULL,
     "cafebabefacedbaddecaf888", "0000a5f80000000a",
     "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
     "0001000000000000037369700963796265726369747902646b00000100010001",
     "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c"
     "3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1",
     "83b70d3aa8bc6ee4c309e9d85a41ad4a"},
    {"AES-GCM-256", DP_CIPHER_AES_GCM_16, DP_INTEG_NONE,
     "abbccddef00112233445566778899aababbccddef00112233445566778899aab", NULL, "112233440102030405060708",
     "4a2cbfe300000002",
     "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
     "7002400020bf0000020405b40101040201020201",
     "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763"
     "748a637985771d347f0545659f14e99def842d8e",
     "b335f4eecfdbf831824b4c4915956c96"},
    {"ChaCha20-Poly1305", DP_CIPHER_CHACHA20_POLY1305, DP_INTEG_NONE,
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", NULL, "a0a1a2a31011121314151617",
     "0102030400000005",
     "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec10"
     "00073627 08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b"
     "2c2d2e2f303132333435363701020204",
     "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c6"
     "14ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3"
     "cbec163fac469b502773f6fb94e664da9165b82829f641e0",
     "76aaa8266b7fb0f7b11b369907e1ad43"},
    {"AES-128-CBC with HMAC-SHA1-96", DP_CIPHER_AES_CBC, DP_INTEG_HMAC_SHA1_96, "90d382b410eeba7ad938c46cec1a82bf",
     "0123456789abcdefghij", "e96e8c08ab465763fd098d45dd3ff893", "0000432100000001",
     "08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "2021222324252627 28292a2b2c2d2e2f3031323334353637 0102030405060708090a0b0c0d0e0e01",
     "f663c25d325c18c6a9453e194e120849a4870b66cc6b9965330013b4898dc856"
     "a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874a"
     "a269add047ad2d5913ac19b7cfbad4a6",
     NULL},
    {"AES-256-CBC with HMAC-SHA2-256-128", DP_CIPHER_AES_CBC, DP_INTEG_HMAC_SHA2_256_128,
     "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", "0123456789abcdefghijklmnopqrstuv",
     "000102030405060708090a0b0c0d0e0f", "0000876500000002",
     "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51",
     "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d", NULL},
    {"HMAC-SHA1-96", DP_CIPHER_AES_CBC, DP_INTEG_HMAC_SHA1_96, "00000000000000000000000000000000", "Jefe",
     "00000000000000000000000000000000", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "", "",
     "effcdf6ae5eb2fa2d27416d5"},
    {"HMAC-SHA2-256-128", DP_CIPHER_AES_CBC, DP_INTEG_HMAC_SHA2_256_128, "00000000000000000000000000000000", "Jefe",
     "00000000000000000000000000000000", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "", "",
     "5bdcc146bf60754e6a042426089575c7"},
    {"HMAC-SHA2-384-192", DP_CIPHER_AES_CBC, DP_INTEG_HMAC_SHA2_384_192, "00000000000000000000000000000000", "Jefe",
     "00000000000000000000000000000000", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "", "",
     "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47"},
    {"HMAC-SHA2-512-256", DP_CIPHER_AES_CBC, DP_INTEG_HMAC_SHA2_512_256, "00000000000000000000000000000000", "Jefe",
     "00000000000000000000000000000000", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "", "",
     "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"},
};

static unsigned corrupt; /* 1-based vector whose expected output is spoiled */

void esp_crypto_selftest_corrupt(unsigned i)
{
    corrupt = i;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    unsigned v;

    for (; *s; s++) {
        if (*s == ' ')
            continue;
        if (n == cap || sscanf(s, "%2x", &v) != 1 || !s[1])
            return n;
        out[n++] = (uint8_t)v;
        s++;
    }
    return n;
}

#define KAT_MAX 256

/* One vector's buffers: for CBC the AAD (SPI, seq, IV) precedes the data, as
 * esp_crypto.h's layout has it. */
struct kat_buf {
    uint8_t key[32], iv[16], pt[KAT_MAX], ct[KAT_MAX], icv[ESP_CRYPTO_MAX_ICV];
    uint8_t pkt[2][KAT_MAX + 64]; /* aad || data || ICV, twice for the burst */
    uint8_t aad[KAT_MAX];
    size_t key_len, pt_len, aad_len, icv_len;
};

static bool kat_load(const struct kat *k, unsigned idx, struct kat_buf *b)
{
    bool cbc = k->cipher == DP_CIPHER_AES_CBC;
    unsigned n = 0;

    b->key_len = unhex(k->key, b->key, sizeof(b->key));
    unhex(k->iv, b->iv, sizeof(b->iv));
    b->aad_len = unhex(k->aad, b->aad, sizeof(b->aad) - 16);
    if (cbc && *k->pt) { /* the HMAC-only vectors have neither IV nor data */
        memcpy(b->aad + b->aad_len, b->iv, 16);
        b->aad_len += 16;
    }
    b->pt_len = unhex(k->pt, b->pt, sizeof(b->pt));
    if (unhex(k->ct, b->ct, sizeof(b->ct)) != b->pt_len)
        return false;
    b->icv_len = esp_crypto_icv_len(k->cipher, k->integ);
    if (k->icv)
        n = (unsigned)unhex(k->icv, b->icv, sizeof(b->icv));
    else {
        /* the ICV of aad || ciphertext by OpenSSL's HMAC() */
        uint8_t tmp[2 * KAT_MAX], full[EVP_MAX_MD_SIZE];
        const EVP_MD *md = k->integ == DP_INTEG_HMAC_SHA1_96 ? EVP_sha1() : EVP_sha256();

        memcpy(tmp, b->aad, b->aad_len);
        memcpy(tmp + b->aad_len, b->ct, b->pt_len);
        if (!HMAC(md, k->ikey, (int)strlen(k->ikey), tmp, b->aad_len + b->pt_len, full, &n))
            return false;
        memcpy(b->icv, full, b->icv_len);
    }
    if (n < b->icv_len)
        return false;
    if (corrupt == idx + 1)
        b->icv[0] ^= 1;
    return true;
}

/* seal() and open() of one vector, a tampered ICV, and both bursts of two. */
static bool kat_run(const struct esp_crypto_ops *ops, const struct kat *k, struct kat_buf *b)
{
    bool cbc = k->cipher == DP_CIPHER_AES_CBC, ok = false;
    const uint8_t *ik = (const uint8_t *)k->ikey;
    size_t ikl = k->ikey ? strlen(k->ikey) : 0, al = cbc ? b->aad_len : 0;
    struct esp_crypto_ctx *e = ops->ctx_new(k->cipher, b->key, b->key_len, k->integ, ik, ikl, true);
    struct esp_crypto_ctx *d = ops->ctx_new(k->cipher, b->key, b->key_len, k->integ, ik, ikl, false);
    struct esp_crypto_op op[2];

    if (!e || !d)
        goto out;
    for (int i = 0; i < 2; i++) {
        uint8_t *p = b->pkt[i];

        memcpy(p, b->aad, al);
        memcpy(p + al, b->pt, b->pt_len);
        op[i] = (struct esp_crypto_op){.ctx = e, .iv = b->iv, .aad = cbc ? p : b->aad, .aad_len = b->aad_len,
                                       .buf = p + al, .len = b->pt_len, .icv = p + al + b->pt_len};
    }
    if (ops->seal(e, op[0].iv, op[0].aad, op[0].aad_len, op[0].buf, op[0].len, NULL, 0, op[0].icv) ||
        memcmp(op[0].buf, b->ct, b->pt_len) || memcmp(op[0].icv, b->icv, b->icv_len))
        goto out;
    memcpy(b->pkt[0] + al, b->pt, b->pt_len);
    if (ops->seal_burst) {
        ops->seal_burst(op, 2);
        for (int i = 0; i < 2; i++)
            if (op[i].rc || memcmp(op[i].buf, b->ct, b->pt_len) || memcmp(op[i].icv, b->icv, b->icv_len))
                goto out;
    } else {
        memcpy(b->pkt[0] + al, b->ct, b->pt_len);
        memcpy(b->pkt[1], b->pkt[0], al + b->pt_len + b->icv_len);
    }
    /* the packets now hold the ciphertext and ICV: open one, then the other with
     * its ICV tampered, then both as a burst (the tampered one refused) */
    if (ops->open(d, b->iv, op[0].aad, op[0].aad_len, op[0].buf, op[0].len, NULL, 0, op[0].icv) ||
        memcmp(op[0].buf, b->pt, b->pt_len))
        goto out;
    op[1].icv[b->icv_len - 1] ^= 0x80;
    if (ops->open(d, b->iv, op[1].aad, op[1].aad_len, op[1].buf, op[1].len, NULL, 0, op[1].icv) != ESP_E_AUTH)
        goto out;
    if (ops->open_burst) {
        memcpy(b->pkt[0] + al, b->ct, b->pt_len);
        memcpy(b->pkt[1] + al, b->ct, b->pt_len);
        op[0].ctx = op[1].ctx = d;
        ops->open_burst(op, 2);
        if (op[0].rc || memcmp(op[0].buf, b->pt, b->pt_len) || op[1].rc != ESP_E_AUTH)
            goto out;
    }
    ok = true;
out:
    ops->ctx_free(e);
    ops->ctx_free(d);
    return ok;
}

bool esp_crypto_selftest(const struct esp_crypto_ops *ops, const char **why)
{
    struct kat_buf b;

    for (unsigned i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
        if (!kat_load(&kats[i], i, &b) || !kat_run(ops, &kats[i], &b)) {
            OPENSSL_cleanse(&b, sizeof(b));
            if (why)
                *why = kats[i].name;
            return false;
        }
    }
    OPENSSL_cleanse(&b, sizeof(b));
    return true;
}
