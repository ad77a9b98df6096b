/* Fuzzes ESP opening and the anti-replay window (dataplane/esp.c) with fixed keys
 * for every cipher and integrity combination, through both crypto backends
 * (OpenSSL EVP and, where the CPU runs it, intel-ipsec-mb), which must give
 * identical results: the same esp_result, the same bytes in the buffer, and for
 * the AEADs the same sealed packet. The first byte picks the transform and ESN,
 * the second what is done with the rest:
 *   0  the rest is an ESP packet as received: window check, then esp_open(),
 *      which must not accept it (the fuzzer cannot forge an ICV);
 *   1  the rest is a window size and start, then low sequence halves: each
 *      accepted one is recorded and must then be refused, top only grows;
 *   2  the rest is an inner packet: sealed and opened it must come back intact,
 *      and with one bit flipped it must not authenticate;
 *   3  the rest is a decrypted payload, trailer included, that the backend
 *      encrypts and authenticates directly: esp_open() must take it exactly when
 *      the padding is 1, 2, 3.. and the pad length fits, and give back the rest. */
#include <stdlib.h>
#include <string.h>

#include "dataplane/esp.h"
#include "dataplane/esp_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    enum dp_cipher cipher;
    size_t key_len; /* AEAD: with the salt */
    enum dp_integ integ;
    size_t ikey_len;
} cfgs[] = {
    {DP_CIPHER_AES_GCM_16, 20, DP_INTEG_NONE, 0},
    {DP_CIPHER_AES_GCM_16, 36, DP_INTEG_NONE, 0},
    {DP_CIPHER_CHACHA20_POLY1305, 36, DP_INTEG_NONE, 0},
    {DP_CIPHER_AES_CBC, 16, DP_INTEG_HMAC_SHA1_96, 20},
    {DP_CIPHER_AES_CBC, 24, DP_INTEG_HMAC_SHA2_256_128, 32},
    {DP_CIPHER_AES_CBC, 32, DP_INTEG_HMAC_SHA2_384_192, 48},
    {DP_CIPHER_AES_CBC, 32, DP_INTEG_HMAC_SHA2_512_256, 64},
};
#define NCFG (sizeof(cfgs) / sizeof(cfgs[0]))

static uint8_t key[36], ikey[64];
/* [cfg][esn][backend]: 0 OpenSSL EVP, 1 intel-ipsec-mb (EVP again where it is
 * not usable) */
static struct esp_xform *enc[NCFG][2][2], *dec[NCFG][2][2];
static struct esp_crypto_ctx *raw[NCFG]; /* the backend alone, sealing */

static void init(void)
{
    static bool done;

    if (done)
        return;
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 11 + 1);
    for (size_t i = 0; i < sizeof(ikey); i++)
        ikey[i] = (uint8_t)(i * 5 + 2);
    for (size_t i = 0; i < NCFG; i++) {
        bool aead = esp_crypto_is_aead(cfgs[i].cipher);
        for (int e = 0; e < 4; e++) {
            struct esp_params p = {.cipher = cfgs[i].cipher, .key = key, .key_len = cfgs[i].key_len,
                                   .integ = cfgs[i].integ, .integ_key = ikey, .integ_key_len = cfgs[i].ikey_len,
                                   .esn = e % 2};
            p.backend = e / 2 && esp_crypto_mb_probe(NULL) ? ESP_BACKEND_IPSEC_MB : ESP_BACKEND_OPENSSL;
            enc[i][e % 2][e / 2] = esp_xform_new(&p, true);
            dec[i][e % 2][e / 2] = esp_xform_new(&p, false);
            if (!enc[i][e % 2][e / 2] || !dec[i][e % 2][e / 2])
                abort();
        }
        raw[i] = esp_crypto_evp.ctx_new(cfgs[i].cipher, key, cfgs[i].key_len - (aead ? 4 : 0), cfgs[i].integ, ikey,
                                        cfgs[i].ikey_len, true);
        if (!raw[i])
            abort();
    }
    done = true;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static void open_raw(size_t c, int esn, const uint8_t *data, size_t size)
{
    struct esp_replay r;
    uint64_t top = 0x1000000f0ull >> (esn ? 0 : 8), bits[ESP_REPLAY_WORDS] = {0};
    uint8_t *copy, *other, *inner, nh;
    size_t inner_len;
    uint64_t seq = 1;
    struct esp_open_job j[2];
    int rc;

    esp_replay_init(&r, 64, esn);
    if (size >= 8 && esp_replay_check(&r, top, bits, get32(data + 4), &seq))
        return;
    /* exactly size bytes, so that ASan sees any read past them */
    copy = malloc(size ? size : 1);
    other = malloc(size ? size : 1);
    if (!copy || !other)
        abort();
    memcpy(copy, data, size);
    memcpy(other, data, size);
    rc = esp_open(dec[c][esn][0], seq, copy, size, &inner, &inner_len, &nh);
    if (rc == ESP_OK || esp_open(dec[c][esn][1], seq, other, size, &inner, &inner_len, &nh) != rc ||
        memcmp(copy, other, size))
        abort();
    /* and as a burst of both */
    memcpy(copy, data, size);
    memcpy(other, data, size);
    j[0] = (struct esp_open_job){.x = dec[c][esn][1], .seq = seq, .esp = copy, .len = size};
    j[1] = (struct esp_open_job){.x = dec[c][esn][0], .seq = seq, .esp = other, .len = size};
    esp_open_burst(j, 2);
    if (j[0].rc != rc || j[1].rc != rc || memcmp(copy, other, size))
        abort();
    free(copy);
    free(other);
}

static void replay(int esn, const uint8_t *data, size_t size)
{
    static const uint32_t sizes[] = {0, 64, 1024, 4096, 100};
    struct esp_replay r;
    uint64_t top, bits[ESP_REPLAY_WORDS] = {0};

    if (size < 9)
        return;
    esp_replay_init(&r, sizes[data[0] % 5], esn);
    top = (uint64_t)get32(data + 1) << 32 | get32(data + 5);
    if (!esn)
        top &= UINT32_MAX;
    for (size_t i = 9; i + 4 <= size; i += 4) {
        uint32_t lo = get32(data + i);
        uint64_t s, again, before = top;

        if (esp_replay_check(&r, top, bits, lo, &s))
            continue;
        if (s == 0 || (uint32_t)s != lo || (!esn && s != lo))
            abort();
        if (esp_replay_update(&r, &top, bits, s) || top != (s > before ? s : before))
            abort();
        if (r.size && !esp_replay_check(&r, top, bits, lo, &again))
            abort(); /* accepted twice */
    }
}

static void roundtrip(size_t c, int esn, const uint8_t *data, size_t size)
{
    static uint8_t buf[2][ESP_HEAD_MAX + 4096 + ESP_TAIL_MAX], copy[sizeof(buf[0])];
    uint8_t *esp[2], *got, nh;
    uint64_t seq = size * 0x9e3779b97f4a7c15ull + 1;
    size_t got_len, bit;
    int len[2];

    if (!esn)
        seq = (uint32_t)seq | 1;
    if (size > 4096)
        size = 4096;
    for (int b = 0; b < 2; b++) {
        uint8_t *inner = buf[b] + ESP_HEAD_MAX;

        memcpy(inner, data, size);
        len[b] = esp_seal(enc[c][esn][b], 0x12345678, seq, 41, inner, size);
        if (len[b] <= 0)
            abort();
        esp[b] = inner - esp_head_len(enc[c][esn][b]);
    }
    /* the AEADs' IV is the sequence number: both backends seal the same bytes */
    if (len[0] != len[1] || (esp_crypto_is_aead(cfgs[c].cipher) && memcmp(esp[0], esp[1], (size_t)len[0])))
        abort();
    bit = (size ? data[0] * 131u + data[size - 1] : 0) % ((size_t)len[0] * 8);
    for (int b = 0; b < 2; b++) {
        /* each opened by the other backend */
        memcpy(copy, esp[b], (size_t)len[b]);
        if (esp_open(dec[c][esn][!b], seq, esp[b], (size_t)len[b], &got, &got_len, &nh) != ESP_OK ||
            got_len != size || memcmp(got, data, size) || nh != 41)
            abort();
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (esp_open(dec[c][esn][b], seq, copy, (size_t)len[b], &got, &got_len, &nh) != ESP_E_AUTH)
            abort();
    }
}

static void trailer(size_t c, int esn, const uint8_t *data, size_t size)
{
    static uint8_t pkt[ESP_HEAD_MAX + 2048 + ESP_CRYPTO_MAX_ICV], pkt2[sizeof(pkt)];
    bool aead = esp_crypto_is_aead(cfgs[c].cipher);
    size_t head = esp_head_len(dec[c][esn][0]), n = size > 2048 ? 2048 : size, pad, inner_len, inner_len2, len;
    uint64_t seq = esn ? 0x500000007ull : 7;
    uint8_t nonce[12], aad[12], hi[4], *ct = pkt + head, *got, *got2, nh, nh2;
    bool ok;
    int rc;

    if (!aead)
        n -= n % 16;
    if (n < 2)
        return;
    put32(pkt, 0x1000);
    put32(pkt + 4, (uint32_t)seq);
    put32(hi, seq >> 32);
    memset(pkt + 8, 0xa5, head - 8);
    memcpy(ct, data, n);
    if (aead) {
        memcpy(nonce, key + cfgs[c].key_len - 4, 4);
        memcpy(nonce + 4, pkt + 8, 8);
        memcpy(aad, pkt, 4);
        memcpy(aad + 4, esn ? hi : pkt + 4, 4);
        memcpy(aad + 8, pkt + 4, 4);
        rc = esp_crypto_evp.seal(raw[c], nonce, aad, esn ? 12 : 8, ct, n, NULL, 0, ct + n);
    } else {
        rc = esp_crypto_evp.seal(raw[c], pkt + 8, pkt, head, ct, n, esn ? hi : NULL, esn ? 4 : 0, ct + n);
    }
    if (rc)
        abort();
    pad = data[n - 2];
    ok = pad + 2 <= n;
    for (size_t i = 0; ok && i < pad; i++)
        ok = data[n - 2 - pad + i] == i + 1;
    len = head + n + esp_crypto_icv_len(cfgs[c].cipher, cfgs[c].integ);
    memcpy(pkt2, pkt, len);
    rc = esp_open(dec[c][esn][0], seq, pkt, len, &got, &inner_len, &nh);
    /* the other backend: the same result and bytes */
    if (esp_open(dec[c][esn][1], seq, pkt2, len, &got2, &inner_len2, &nh2) != rc || memcmp(pkt, pkt2, len) ||
        (rc == ESP_OK && (got2 - pkt2 != got - pkt || inner_len2 != inner_len || nh2 != nh)))
        abort();
    if (!ok) {
        if (rc != ESP_E_MALFORMED)
            abort();
        return;
    }
    if (rc != ESP_OK || got != ct || inner_len != n - 2 - pad || memcmp(got, data, inner_len) || nh != data[n - 1])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t c;
    int esn;

    if (size < 2)
        return 0;
    init();
    c = data[0] % NCFG;
    esn = data[0] / NCFG % 2;
    switch (data[1] % 4) {
    case 0:
        open_raw(c, esn, data + 2, size - 2);
        break;
    case 1:
        replay(esn, data + 2, size - 2);
        break;
    case 2:
        roundtrip(c, esn, data + 2, size - 2);
        break;
    default:
        trailer(c, esn, data + 2, size - 2);
    }
    return 0;
}
