/* esp_gen: traffic and crypto bounds for bench_dataplane.py.
 *
 *   esp_gen esp   SIZE SECONDS DST SPI CIPHER KEYHEX [IKEYHEX]   ESP-in-UDP (port 4500) to DST:
 *                 one inner IPv4/UDP packet of SIZE bytes from 10.9.9.9 to $INNER_DST,
 *                 sent in sendmmsg bursts of 64, every packet with the next sequence
 *                 number (1, 2, 3..: the receiver's anti-replay window stays on) and
 *                 a valid ICV for it. So that the generator does not pay a packet's
 *                 crypto per packet, AES-GCM packets are sealed once and each new
 *                 number is patched in: the AAD block changes by D (the old and new
 *                 sequence numbers xored), so the tag changes by D * H^(c+2) in
 *                 GF(2^128), c the ciphertext blocks (GHASH is linear; the IV on the
 *                 wire, hence the counter blocks, stay the same). A benchmark's
 *                 shortcut that reuses an IV: never a way to send real traffic.
 *                 NULL needs no ICV; other ciphers are sealed anew per packet.
 *   esp_gen plain SIZE SECONDS DST                              UDP datagrams whose IP packet is
 *                 SIZE bytes, to DST port 9
 *   esp_gen bound SIZE SECONDS CIPHER [BACKEND]                 the crypto-only bound: one
 *                 pre-keyed EVP context sealing SIZE-byte packets (new IV and AAD each);
 *                 with BACKEND openssl or ipsec-mb, one context of that crypto backend
 *                 (dataplane/esp_crypto.h) sealing bursts of 64 such packets (its
 *                 seal_burst, else seal per packet), CIPHER gcm128, gcm256, chacha,
 *                 cbc128 (HMAC-SHA1-96) or cbc256 (HMAC-SHA2-256-128)
 *
 * Prints one JSON line: packets sent (or sealed) and the elapsed seconds. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "dataplane/esp.h"
#include "dataplane/esp_crypto.h"

#define BURST 64

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* this thread's CPU time: rates under a shared machine's load */
static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t hex(const char *s, uint8_t *out, size_t max)
{
    size_t n = strlen(s) / 2;

    for (size_t i = 0; i < n && i < max; i++)
        sscanf(s + 2 * i, "%2hhx", &out[i]);
    return n < max ? n : max;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static enum dp_cipher cipher_of(const char *c)
{
    return !strcmp(c, "chacha") ? DP_CIPHER_CHACHA20_POLY1305
           : !strncmp(c, "cbc", 3) ? DP_CIPHER_AES_CBC
           : !strcmp(c, "null") ? DP_CIPHER_NULL : DP_CIPHER_AES_GCM_16;
}

/* GF(2^128) product of GCM (NIST SP 800-38D 6.3), blocks as two big-endian words. */
struct gf128 {
    uint64_t hi, lo;
};

static struct gf128 gf_mul(struct gf128 x, struct gf128 y)
{
    struct gf128 z = {0, 0}, v = y;

    for (int i = 0; i < 128; i++) {
        uint64_t bit = i < 64 ? x.hi >> (63 - i) & 1 : x.lo >> (127 - i) & 1;
        uint64_t lsb = v.lo & 1;

        if (bit) {
            z.hi ^= v.hi;
            z.lo ^= v.lo;
        }
        v.lo = v.lo >> 1 | v.hi << 63;
        v.hi >>= 1;
        if (lsb)
            v.hi ^= 0xe100000000000000ull;
    }
    return z;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* How the generator gives each packet its sequence number. */
struct renum {
    enum { RENUM_NONE, RENUM_NULL, RENUM_GCM, RENUM_SEAL } how;
    struct gf128 pw[32];  /* GCM: (bit j of the AAD's sequence word) * H^(c+2) */
    const uint8_t *base;  /* GCM: the packet sealed with sequence number 1; SEAL: the inner packet */
    size_t len, inner_len; /* the ESP payload; SEAL: the inner packet */
    struct esp_xform *x;  /* SEAL */
    uint32_t spi;
};

/* Writes into esp[0..r->len) the packet with sequence number @seq. */
static void renumber(const struct renum *r, uint8_t *esp, uint32_t seq)
{
    switch (r->how) {
    case RENUM_NONE:
        return;
    case RENUM_NULL:
        put32(esp + 4, seq);
        return;
    case RENUM_GCM: {
        uint8_t *tag = esp + r->len - 16;
        struct gf128 t = {0, 0};

        for (uint32_t d = seq ^ 1u; d; d &= d - 1) {
            t.hi ^= r->pw[__builtin_ctz(d)].hi;
            t.lo ^= r->pw[__builtin_ctz(d)].lo;
        }
        put32(esp + 4, seq);
        put64(tag, be64(r->base + r->len - 16) ^ t.hi);
        put64(tag + 8, be64(r->base + r->len - 8) ^ t.lo);
        return;
    }
    case RENUM_SEAL: {
        size_t head = esp_head_len(r->x);

        memcpy(esp + head, r->base, r->inner_len);
        esp_seal(r->x, r->spi, seq, 4, esp + head, r->inner_len);
        return;
    }
    }
}

/* Prepares @r for the packet esp[0..len) sealed by @x (parameters @p) with
 * sequence number 1 from the inner packet @inner (@inner_len bytes, kept), and
 * checks that a renumbered packet opens: -1 (said on stderr) when it does not. */
static int renum_setup(struct renum *r, const struct esp_params *p, struct esp_xform *x, uint32_t spi,
                       const uint8_t *inner, size_t inner_len, const uint8_t *esp, size_t len)
{
    static uint8_t copy[2048];
    struct esp_xform *d = esp_xform_new(p, false);
    uint8_t *in, nh;
    size_t ilen;
    int rc;

    *r = (struct renum){.base = esp, .len = len, .inner_len = inner_len, .x = x, .spi = spi};
    if (p->cipher == DP_CIPHER_NULL) {
        r->how = RENUM_NULL;
    } else if (p->cipher == DP_CIPHER_AES_GCM_16) {
        /* H = E_K(0^128); the AAD block is the first of c + 2 that GHASH takes */
        const EVP_CIPHER *ev = p->key_len == 20 ? EVP_aes_128_ecb()
                               : p->key_len == 28 ? EVP_aes_192_ecb() : EVP_aes_256_ecb();
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        uint8_t zero[16] = {0}, h[32];
        int outl;
        struct gf128 hh, pw;

        EVP_EncryptInit_ex(c, ev, NULL, p->key, NULL);
        EVP_CIPHER_CTX_set_padding(c, 0);
        EVP_EncryptUpdate(c, h, &outl, zero, 16);
        EVP_CIPHER_CTX_free(c);
        hh = (struct gf128){be64(h), be64(h + 8)};
        pw = hh;
        for (size_t k = 1; k < (len - 32 + 15) / 16 + 2; k++)
            pw = gf_mul(pw, hh);
        for (int j = 0; j < 32; j++)
            r->pw[j] = gf_mul((struct gf128){1ull << j, 0}, pw);
        r->how = RENUM_GCM;
    } else {
        uint8_t *b = malloc(inner_len);

        memcpy(b, inner, inner_len);
        r->base = b;
        r->how = RENUM_SEAL;
    }
    memcpy(copy, esp, len);
    renumber(r, copy, 77777);
    rc = d ? esp_open(d, 77777, copy, len, &in, &ilen, &nh) : -1;
    esp_xform_free(d);
    if (rc != ESP_OK || ilen != inner_len || memcmp(in, inner, inner_len)) {
        fprintf(stderr, "esp_gen: a renumbered packet does not open (%d)\n", rc);
        return -1;
    }
    return 0;
}

static int blast(int fd, const struct sockaddr_in *dst, const uint8_t *payload, size_t len, double seconds,
                 const struct renum *r)
{
    static uint8_t bufs[BURST][2048];
    struct mmsghdr msgs[BURST];
    struct iovec iov[BURST];
    unsigned long sent = 0;
    uint32_t seq = 0;
    double t0 = now(), t;

    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < BURST; i++) {
        memcpy(bufs[i], payload, len);
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = len;
        msgs[i].msg_hdr.msg_name = (void *)dst;
        msgs[i].msg_hdr.msg_namelen = sizeof(*dst);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while ((t = now()) - t0 < seconds) {
        int n;

        /* the packets the socket did not take go again with their numbers */
        for (int i = 0; i < BURST; i++)
            renumber(r, bufs[i], seq + 1 + (uint32_t)i);
        n = sendmmsg(fd, msgs, BURST, 0);
        if (n > 0) {
            sent += n;
            seq += (uint32_t)n;
        }
    }
    printf("{\"packets\":%lu,\"seconds\":%.3f,\"last_seq\":%u}\n", sent, t - t0, seq);
    return 0;
}

/* The crypto-only bound: what one core seals with one pre-keyed context. */
static int bound(size_t size, double seconds, const char *cipher)
{
    enum dp_cipher c = cipher_of(cipher);
    const EVP_CIPHER *ev = c == DP_CIPHER_CHACHA20_POLY1305 ? EVP_chacha20_poly1305()
                           : c == DP_CIPHER_AES_CBC ? EVP_aes_128_cbc() : EVP_aes_128_gcm();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0), OSSL_PARAM_END};
    uint8_t key[32] = {1}, iv[16] = {2}, aad[8] = {3}, tag[64], buf[2048] = {4};
    unsigned long n = 0;
    size_t maclen;
    double t0 = now(), t, c0 = cpu_now();
    int outl;

    if (c == DP_CIPHER_CHACHA20_POLY1305)
        ev = EVP_chacha20_poly1305();
    EVP_EncryptInit_ex(ctx, ev, NULL, key, NULL);
    EVP_MAC_init(mctx, key, 32, params);
    size = (size + 15) / 16 * 16;
    while ((t = now()) - t0 < seconds) {
        for (int i = 0; i < 256; i++, n++) {
            iv[0] = (uint8_t)n;
            EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv);
            if (c != DP_CIPHER_AES_CBC)
                EVP_EncryptUpdate(ctx, NULL, &outl, aad, sizeof(aad));
            EVP_EncryptUpdate(ctx, buf, &outl, buf, (int)size);
            EVP_EncryptFinal_ex(ctx, buf + outl, &outl);
            if (c == DP_CIPHER_AES_CBC) {
                EVP_MAC_init(mctx, NULL, 0, NULL);
                EVP_MAC_update(mctx, buf, size);
                EVP_MAC_final(mctx, tag, &maclen, sizeof(tag));
            } else {
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag);
            }
        }
    }
    printf("{\"packets\":%lu,\"seconds\":%.3f,\"cpu_seconds\":%.3f}\n", n, t - t0, cpu_now() - c0);
    EVP_MAC_CTX_free(mctx);
    EVP_MAC_free(mac);
    EVP_CIPHER_CTX_free(ctx);
    return 0;
}

/* The bound through a crypto backend: one context, bursts of BURST packets. */
static int bound_backend(size_t size, double seconds, const char *cipher, const char *backend)
{
    static uint8_t bufs[BURST][2048 + 64];
    const struct esp_crypto_ops *ops = !strcmp(backend, "ipsec-mb") ? &esp_crypto_mb : &esp_crypto_evp;
    enum dp_cipher c = cipher_of(cipher);
    bool big = strstr(cipher, "256") != NULL;
    enum dp_integ integ = c != DP_CIPHER_AES_CBC ? DP_INTEG_NONE
                          : big                  ? DP_INTEG_HMAC_SHA2_256_128
                                                 : DP_INTEG_HMAC_SHA1_96;
    uint8_t key[32] = {1}, ikey[32] = {5}, nonce[BURST][16], aad[8] = {3};
    struct esp_crypto_op op[BURST];
    struct esp_crypto_ctx *ctx;
    unsigned long n = 0;
    double t0, t, c0;
    const char *why;

    if (ops == &esp_crypto_mb && !esp_crypto_mb_probe(&why)) {
        fprintf(stderr, "esp_gen: ipsec-mb not usable: %s\n", why);
        return 1;
    }
    ctx = ops->ctx_new(c, key, c == DP_CIPHER_CHACHA20_POLY1305 || big ? 32 : 16, integ, ikey,
                       integ == DP_INTEG_HMAC_SHA1_96 ? 20 : 32, true);
    if (!ctx)
        return 1;
    size = (size + 15) / 16 * 16;
    for (int i = 0; i < BURST; i++) {
        /* CBC: the SPI, sequence and IV precede the data (esp_crypto.h's layout) */
        op[i] = (struct esp_crypto_op){.ctx = ctx, .iv = c == DP_CIPHER_AES_CBC ? bufs[i] + 8 : nonce[i],
                                       .aad = c == DP_CIPHER_AES_CBC ? bufs[i] : aad,
                                       .aad_len = c == DP_CIPHER_AES_CBC ? 24 : 8, .buf = bufs[i] + 24,
                                       .len = size, .icv = bufs[i] + 24 + size};
        memset(nonce[i], i, sizeof(nonce[i]));
    }
    t0 = now();
    c0 = cpu_now();
    while ((t = now()) - t0 < seconds) {
        for (int r = 0; r < 4; r++, n += BURST) {
            for (int i = 0; i < BURST; i++)
                nonce[i][11] = bufs[i][23] = (uint8_t)(n + i);
            if (ops->seal_burst)
                ops->seal_burst(op, BURST);
            else
                for (int i = 0; i < BURST; i++)
                    op[i].rc = ops->seal(ctx, op[i].iv, op[i].aad, op[i].aad_len, op[i].buf, op[i].len, NULL, 0,
                                         op[i].icv);
            if (op[0].rc)
                return 1;
        }
    }
    printf("{\"packets\":%lu,\"seconds\":%.3f,\"cpu_seconds\":%.3f,\"backend\":\"%s\"}\n", n, t - t0,
           cpu_now() - c0, ops->name);
    ops->ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    static uint8_t pkt[4096];
    struct sockaddr_in dst = {.sin_family = AF_INET};
    size_t size;
    double seconds;
    int fd;

    if (argc < 5) {
        fprintf(stderr, "usage: see the comment at the top of esp_gen.c\n");
        return 2;
    }
    size = (size_t)atoi(argv[2]);
    seconds = atof(argv[3]);
    if (size < 28 || size > 1500)
        return 2;
    if (!strcmp(argv[1], "bound"))
        return argc > 5 ? bound_backend(size, seconds, argv[4], argv[5]) : bound(size, seconds, argv[4]);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    inet_pton(AF_INET, argv[4], &dst.sin_addr);
    if (!strcmp(argv[1], "plain")) {
        dst.sin_port = htons(9);
        return blast(fd, &dst, pkt, size - 28, seconds, &(struct renum){.how = RENUM_NONE});
    }
    if (argc < 8)
        return 2;
    {
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(4500)};
        uint8_t key[64], ikey[64];
        struct esp_params p = {.cipher = cipher_of(argv[6]), .key = key, .key_len = hex(argv[7], key, sizeof(key))};
        struct esp_xform *x;
        uint8_t *inner = pkt + 256;
        const char *idst = getenv("INNER_DST");
        uint8_t clear[2048];
        uint32_t spi = (uint32_t)strtoul(argv[5], NULL, 0);
        struct renum r;
        int len;

        if (argc > 8) {
            p.integ = DP_INTEG_HMAC_SHA2_256_128;
            p.integ_key = ikey;
            p.integ_key_len = hex(argv[8], ikey, sizeof(ikey));
        }
        if (!(x = esp_xform_new(&p, true))) {
            fprintf(stderr, "esp_gen: cannot key %s\n", argv[6]);
            return 2;
        }
        bind(fd, (void *)&src, sizeof(src));
        dst.sin_port = htons(4500);
        inner[0] = 0x45;
        inner[2] = size >> 8;
        inner[3] = size & 0xff;
        inner[8] = 64;
        inner[9] = IPPROTO_UDP;
        inet_pton(AF_INET, "10.9.9.9", inner + 12);
        inet_pton(AF_INET, idst ? idst : "10.0.0.2", inner + 16);
        inner[10] = csum(inner, 20) >> 8;
        inner[11] = csum(inner, 20) & 0xff;
        inner[20] = inner[22] = 0;
        inner[21] = inner[23] = 9;
        inner[24] = (size - 20) >> 8;
        inner[25] = (size - 20) & 0xff;
        memcpy(clear, inner, size);
        len = esp_seal(x, spi, 1, 4, inner, size);
        if (len < 0 || renum_setup(&r, &p, x, spi, clear, size, inner - esp_head_len(x), (size_t)len))
            return 2;
        return blast(fd, &dst, inner - esp_head_len(x), (size_t)len, seconds, &r);
    }
}
