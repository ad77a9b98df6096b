/* The intel-ipsec-mb backend of esp_crypto.h: AES-GCM (128, 192, 256),
 * ChaCha20-Poly1305 and AES-CBC with HMAC-SHA1-96 / SHA2-256-128 / 384-192 /
 * 512-256, all through ipsec-mb's job API, so that a burst of packets fills the
 * multi-buffer lanes (CBC encryption and HMAC run several packets at once).
 *
 * A context holds the expanded keys (AES round keys, the GCM hash key table, the
 * HMAC inner and outer pad states), computed once when the SA is made. The
 * multi-buffer manager (IMB_MGR) is per thread: each worker gets its own on its
 * first packet and frees it when the thread ends. All managers of the process
 * are initialised for the one architecture chosen at the probe (the layout of
 * the GCM key table depends on it).
 *
 * Sealing is one job per packet (CBC: encrypt then HMAC, chained). Opening is two
 * phases for CBC: the HMAC jobs of the whole burst, the constant-time compare,
 * then CBC decryption only for the packets that verified, so that nothing of a
 * forged packet is decrypted, as with the EVP backend. AEAD tags are computed by
 * ipsec-mb and compared here in constant time. */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>

#include "dataplane/esp.h"
#include "dataplane/esp_crypto.h"

enum mb_kind { MB_GCM, MB_CHACHA, MB_CBC };

/* One SA's keys. A context is allocated only as long as its kind's keys need
 * (mb_ctx_size): an AES-GCM context has no CBC keys nor HMAC pads. */
struct esp_crypto_ctx {
    enum mb_kind kind;
    IMB_HASH_ALG hash;
    uint32_t key_len, icv_len;
    uint32_t size; /* bytes allocated */
    bool encrypt;
    union {
        struct gcm_key_data gcm; /* AES-GCM (64-byte aligned in the library's own type) */
        uint8_t chacha[32] __attribute__((aligned(16)));
        struct {
            uint32_t enc_keys[60] __attribute__((aligned(16)));
            uint32_t dec_keys[60] __attribute__((aligned(16)));
            uint8_t ipad[64] __attribute__((aligned(16)));
            uint8_t opad[64] __attribute__((aligned(16)));
        };
    } __attribute__((aligned(64)));
};

static size_t mb_ctx_size(enum mb_kind kind)
{
    size_t n = kind == MB_GCM     ? offsetof(struct esp_crypto_ctx, gcm) + sizeof(struct gcm_key_data)
               : kind == MB_CHACHA ? offsetof(struct esp_crypto_ctx, chacha) + 32
                                   : offsetof(struct esp_crypto_ctx, opad) + 64;

    return (n + 63) & ~(size_t)63;
}

/* the architecture chosen at the probe: its manager initialiser */
static void (*mb_init)(IMB_MGR *);
static const char *mb_arch_name = "none";
static bool mb_ok;
static const char *mb_why = "not probed";
static pthread_once_t mb_once = PTHREAD_ONCE_INIT;
static pthread_key_t mb_key;
static __thread IMB_MGR *mb_tls;

static void mgr_free(void *m)
{
    free_mb_mgr(m);
    mb_tls = NULL; /* run on the exiting thread: a later mgr() makes a new one */
}

/* This thread's manager, made on its first use (not per packet). */
static IMB_MGR *mgr(void)
{
    IMB_MGR *m = mb_tls;

    if (m || !mb_init)
        return m;
    m = alloc_mb_mgr(0);
    if (!m)
        return NULL;
    mb_init(m);
    if (pthread_setspecific(mb_key, m)) {
        free_mb_mgr(m);
        return NULL;
    }
    mb_tls = m;
    return m;
}

static void mb_ctx_free(struct esp_crypto_ctx *c)
{
    if (!c)
        return;
    OPENSSL_cleanse(c, c->size);
    free(c);
}

/* HMAC's inner and outer states after one block of key ^ ipad / opad, the form
 * ipsec-mb's HMAC jobs take. Keys longer than the block are hashed first (RFC
 * 2104 2). */
static bool hmac_pads(IMB_MGR *m, struct esp_crypto_ctx *c, enum dp_integ integ, const uint8_t *ikey, size_t len)
{
    uint8_t blk[IMB_SHA_512_BLOCK_SIZE], hk[IMB_SHA512_DIGEST_SIZE_IN_BYTES];
    size_t bs = integ == DP_INTEG_HMAC_SHA2_384_192 || integ == DP_INTEG_HMAC_SHA2_512_256 ? 128 : 64;

    if (len > bs) {
        switch (integ) {
        case DP_INTEG_HMAC_SHA1_96:
            IMB_SHA1(m, ikey, len, hk);
            len = IMB_SHA1_DIGEST_SIZE_IN_BYTES;
            break;
        case DP_INTEG_HMAC_SHA2_256_128:
            IMB_SHA256(m, ikey, len, hk);
            len = IMB_SHA256_DIGEST_SIZE_IN_BYTES;
            break;
        case DP_INTEG_HMAC_SHA2_384_192:
            IMB_SHA384(m, ikey, len, hk);
            len = IMB_SHA384_DIGEST_SIZE_IN_BYTES;
            break;
        default:
            IMB_SHA512(m, ikey, len, hk);
            len = IMB_SHA512_DIGEST_SIZE_IN_BYTES;
        }
        ikey = hk;
    }
    for (int pass = 0; pass < 2; pass++) {
        uint8_t *out = pass ? c->opad : c->ipad;

        memset(blk, pass ? 0x5c : 0x36, bs);
        for (size_t i = 0; i < len; i++)
            blk[i] ^= ikey[i];
        switch (integ) {
        case DP_INTEG_HMAC_SHA1_96:
            IMB_SHA1_ONE_BLOCK(m, blk, out);
            break;
        case DP_INTEG_HMAC_SHA2_256_128:
            IMB_SHA256_ONE_BLOCK(m, blk, out);
            break;
        case DP_INTEG_HMAC_SHA2_384_192:
            IMB_SHA384_ONE_BLOCK(m, blk, out);
            break;
        default:
            IMB_SHA512_ONE_BLOCK(m, blk, out);
        }
    }
    OPENSSL_cleanse(blk, sizeof(blk));
    OPENSSL_cleanse(hk, sizeof(hk));
    return true;
}

static IMB_HASH_ALG hash_alg(enum dp_integ integ)
{
    switch (integ) {
    case DP_INTEG_HMAC_SHA1_96:
        return IMB_AUTH_HMAC_SHA_1;
    case DP_INTEG_HMAC_SHA2_256_128:
        return IMB_AUTH_HMAC_SHA_256;
    case DP_INTEG_HMAC_SHA2_384_192:
        return IMB_AUTH_HMAC_SHA_384;
    case DP_INTEG_HMAC_SHA2_512_256:
        return IMB_AUTH_HMAC_SHA_512;
    default:
        return IMB_AUTH_NULL;
    }
}

static void aes_keys(IMB_MGR *m, struct esp_crypto_ctx *c, const uint8_t *key, size_t key_len)
{
    if (key_len == 16)
        IMB_AES_KEYEXP_128(m, key, c->enc_keys, c->dec_keys);
    else if (key_len == 24)
        IMB_AES_KEYEXP_192(m, key, c->enc_keys, c->dec_keys);
    else
        IMB_AES_KEYEXP_256(m, key, c->enc_keys, c->dec_keys);
}

static struct esp_crypto_ctx *mb_ctx_new(enum dp_cipher cipher, const uint8_t *key, size_t key_len,
                                         enum dp_integ integ, const uint8_t *ikey, size_t ikey_len, bool encrypt)
{
    size_t icv_len = esp_crypto_icv_len(cipher, integ);
    IMB_MGR *m = mgr();
    struct esp_crypto_ctx *c;
    enum mb_kind kind;

    if (!m || !key || !icv_len)
        return NULL;
    if (cipher == DP_CIPHER_CHACHA20_POLY1305 ? key_len != 32 : key_len != 16 && key_len != 24 && key_len != 32)
        return NULL;
    if (cipher == DP_CIPHER_AES_CBC && (!ikey || !ikey_len))
        return NULL;
    kind = cipher == DP_CIPHER_AES_GCM_16 ? MB_GCM : cipher == DP_CIPHER_CHACHA20_POLY1305 ? MB_CHACHA : MB_CBC;
    c = aligned_alloc(64, mb_ctx_size(kind));
    if (!c)
        return NULL;
    memset(c, 0, mb_ctx_size(kind));
    c->size = (uint32_t)mb_ctx_size(kind);
    c->kind = kind;
    c->key_len = (uint32_t)key_len;
    c->icv_len = (uint32_t)icv_len;
    c->encrypt = encrypt;
    c->hash = hash_alg(integ);
    switch (cipher) {
    case DP_CIPHER_AES_GCM_16:
        if (key_len == 16)
            IMB_AES128_GCM_PRE(m, key, &c->gcm);
        else if (key_len == 24)
            IMB_AES192_GCM_PRE(m, key, &c->gcm);
        else
            IMB_AES256_GCM_PRE(m, key, &c->gcm);
        break;
    case DP_CIPHER_CHACHA20_POLY1305:
        memcpy(c->chacha, key, 32);
        break;
    default:
        aes_keys(m, c, key, key_len);
        hmac_pads(m, c, integ, ikey, ikey_len);
    }
    return c;
}

/* What a job does with a packet. */
enum mb_phase {
    PH_SEAL,       /* AEAD seal, or CBC encrypt then HMAC */
    PH_OPEN_AEAD,  /* AEAD decrypt and tag */
    PH_OPEN_HMAC,  /* CBC open, first: HMAC only */
    PH_OPEN_CBC,   /* CBC open, then: decrypt only */
};

static void fill_aead(IMB_JOB *j, struct esp_crypto_op *o, struct esp_crypto_ctx *c, bool seal)
{
    j->cipher_direction = seal ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    j->chain_order = seal ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    j->src = o->buf;
    j->dst = o->buf;
    j->cipher_start_src_offset_in_bytes = 0;
    j->msg_len_to_cipher_in_bytes = o->len;
    j->hash_start_src_offset_in_bytes = 0;
    j->msg_len_to_hash_in_bytes = o->len;
    j->iv = o->iv;
    j->iv_len_in_bytes = ESP_CRYPTO_NONCE_LEN;
    j->auth_tag_output = seal ? o->icv : o->tag;
    j->auth_tag_output_len_in_bytes = ESP_CRYPTO_AEAD_ICV_LEN;
    if (c->kind == MB_GCM) {
        j->cipher_mode = IMB_CIPHER_GCM;
        j->hash_alg = IMB_AUTH_AES_GMAC;
        j->enc_keys = &c->gcm;
        j->dec_keys = &c->gcm;
        j->key_len_in_bytes = c->key_len;
        j->u.GCM.aad = o->aad;
        j->u.GCM.aad_len_in_bytes = o->aad_len;
    } else {
        j->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
        j->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
        j->enc_keys = c->chacha;
        j->dec_keys = c->chacha;
        j->key_len_in_bytes = 32;
        j->u.CHACHA20_POLY1305.aad = o->aad;
        j->u.CHACHA20_POLY1305.aad_len_in_bytes = o->aad_len;
        j->u.CHACHA20_POLY1305.ctx = NULL;
    }
}

/* CBC and HMAC over the contiguous aad || buf || tail (the tail put in the
 * ICV's place, see esp_crypto.h). */
static void fill_cbc(IMB_JOB *j, struct esp_crypto_op *o, struct esp_crypto_ctx *c, enum mb_phase ph)
{
    bool cipher = ph != PH_OPEN_HMAC, hash = ph != PH_OPEN_CBC;

    j->cipher_direction = ph == PH_SEAL ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    j->chain_order = ph == PH_SEAL ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    j->cipher_mode = cipher && o->len ? IMB_CIPHER_CBC : IMB_CIPHER_NULL;
    j->enc_keys = c->enc_keys;
    j->dec_keys = c->dec_keys;
    j->key_len_in_bytes = c->key_len;
    j->src = o->aad;
    j->dst = o->buf;
    j->cipher_start_src_offset_in_bytes = o->aad_len;
    j->msg_len_to_cipher_in_bytes = o->len;
    j->iv = o->iv;
    j->iv_len_in_bytes = ESP_CRYPTO_CBC_IV_LEN;
    j->hash_alg = hash ? c->hash : IMB_AUTH_NULL;
    j->hash_start_src_offset_in_bytes = 0;
    j->msg_len_to_hash_in_bytes = o->aad_len + o->len + o->tail_len;
    j->auth_tag_output = ph == PH_SEAL ? o->icv : o->tag;
    j->auth_tag_output_len_in_bytes = hash ? c->icv_len : 0;
    j->u.HMAC._hashed_auth_key_xor_ipad = c->ipad;
    j->u.HMAC._hashed_auth_key_xor_opad = c->opad;
}

/* A completed job: its op's result. */
static void job_done(IMB_JOB *j, enum mb_phase ph)
{
    struct esp_crypto_op *o = j->user_data;

    if (j->status != IMB_STATUS_COMPLETED) {
        o->rc = ESP_E_CRYPTO;
        return;
    }
    if (ph == PH_OPEN_AEAD)
        o->rc = CRYPTO_memcmp(o->tag, o->icv, ESP_CRYPTO_AEAD_ICV_LEN) ? ESP_E_AUTH : 0;
    else if (ph == PH_OPEN_HMAC)
        o->rc = CRYPTO_memcmp(o->tag, o->rx, o->ctx->icv_len) ? ESP_E_AUTH : 0;
    else
        o->rc = 0;
}

static bool in_phase(const struct esp_crypto_ctx *c, enum mb_phase ph)
{
    switch (ph) {
    case PH_SEAL:
        return c->encrypt;
    case PH_OPEN_AEAD:
        return !c->encrypt && c->kind != MB_CBC;
    default:
        return !c->encrypt && c->kind == MB_CBC;
    }
}

/* The phase's jobs for every op it concerns, submitted one after the other
 * (ipsec-mb runs them in lanes as they come), then flushed. Submitted without
 * ipsec-mb's own checks (a quarter of the cost of a 64-byte packet): what they
 * check is checked here once, the keys and lengths at ctx_new, the layout and
 * block alignment by op_check(). */
static void run(IMB_MGR *m, struct esp_crypto_op *ops, unsigned n, enum mb_phase ph)
{
    IMB_JOB *j;

    for (unsigned i = 0; i < n; i++) {
        struct esp_crypto_op *o = &ops[i];
        struct esp_crypto_ctx *c = o->ctx;

        if (!c || o->rc)
            continue;
        if (!in_phase(c, ph) || (ph == PH_OPEN_CBC && !o->len))
            continue;
        j = IMB_GET_NEXT_JOB(m);
        if (c->kind == MB_CBC)
            fill_cbc(j, o, c, ph);
        else
            fill_aead(j, o, c, ph == PH_SEAL);
        j->user_data = o;
        o->rc = ESP_E_CRYPTO; /* until job_done() says otherwise: a job that never
                               * comes back never passes as authentic */
        for (j = IMB_SUBMIT_JOB_NOCHECK(m); j; j = IMB_GET_COMPLETED_JOB(m))
            job_done(j, ph);
    }
    while ((j = IMB_FLUSH_JOB(m)))
        job_done(j, ph);
}

/* The checks the job API cannot make: the layout of esp_crypto.h, lengths. */
static int op_check(struct esp_crypto_op *o)
{
    struct esp_crypto_ctx *c = o->ctx;

    if (c->kind != MB_CBC)
        return o->tail_len ? ESP_E_CRYPTO : 0;
    if (o->len % ESP_CRYPTO_CBC_IV_LEN || o->aad + o->aad_len != o->buf || o->tail_len > c->icv_len)
        return ESP_E_CRYPTO;
    return 0;
}

static void mb_seal_burst(struct esp_crypto_op *ops, unsigned n)
{
    IMB_MGR *m = mgr();

    for (unsigned i = 0; i < n; i++) {
        struct esp_crypto_op *o = &ops[i];

        if (!o->ctx)
            continue;
        o->rc = !m || !o->ctx->encrypt ? ESP_E_CRYPTO : op_check(o);
        if (!o->rc && o->tail_len)
            memcpy(o->buf + o->len, o->tail, o->tail_len); /* overwritten by the ICV */
    }
    if (m)
        run(m, ops, n, PH_SEAL);
}

static void mb_open_burst(struct esp_crypto_op *ops, unsigned n)
{
    IMB_MGR *m = mgr();

    for (unsigned i = 0; i < n; i++) {
        struct esp_crypto_op *o = &ops[i];

        if (!o->ctx)
            continue;
        o->rc = !m || o->ctx->encrypt ? ESP_E_CRYPTO : op_check(o);
        if (!o->rc && o->ctx->kind == MB_CBC) {
            memcpy(o->rx, o->icv, o->ctx->icv_len);
            if (o->tail_len)
                memcpy(o->buf + o->len, o->tail, o->tail_len);
        }
    }
    if (!m)
        return;
    run(m, ops, n, PH_OPEN_AEAD);
    run(m, ops, n, PH_OPEN_HMAC);
    for (unsigned i = 0; i < n; i++) {
        struct esp_crypto_op *o = &ops[i];

        /* what the tail covered is the ICV again, whatever the outcome */
        if (o->ctx && o->ctx->kind == MB_CBC && o->tail_len && !o->ctx->encrypt && !op_check(o))
            memcpy(o->buf + o->len, o->rx, o->tail_len);
    }
    run(m, ops, n, PH_OPEN_CBC);
}

static int mb_seal(struct esp_crypto_ctx *c, const uint8_t *iv, const uint8_t *aad, size_t aad_len, uint8_t *buf,
                   size_t len, const uint8_t *tail, size_t tail_len, uint8_t *icv)
{
    struct esp_crypto_op o = {.ctx = c, .iv = iv, .aad = aad, .aad_len = aad_len, .buf = buf, .len = len,
                              .tail = tail, .tail_len = tail_len, .icv = icv};

    mb_seal_burst(&o, 1);
    return o.rc;
}

static int mb_open(struct esp_crypto_ctx *c, const uint8_t *iv, const uint8_t *aad, size_t aad_len, uint8_t *buf,
                   size_t len, const uint8_t *tail, size_t tail_len, const uint8_t *icv)
{
    struct esp_crypto_op o = {.ctx = c, .iv = iv, .aad = aad, .aad_len = aad_len, .buf = buf, .len = len,
                              .tail = tail, .tail_len = tail_len, .icv = (uint8_t *)icv};

    mb_open_burst(&o, 1);
    return o.rc;
}

const struct esp_crypto_ops esp_crypto_mb = {
    .name = "ipsec-mb",
    .ctx_new = mb_ctx_new,
    .seal = mb_seal,
    .open = mb_open,
    .ctx_free = mb_ctx_free,
    .seal_burst = mb_seal_burst,
    .open_burst = mb_open_burst,
};

/* ipsec-mb is used where it beats OpenSSL's AES-NI code: AVX2 or AVX-512 with
 * AES-NI (and VAES/VPCLMULQDQ, which ipsec-mb's AVX-512 code takes when the CPU
 * has them). On SSE-only or no-AES-NI CPUs OpenSSL stays. */
static void probe(void)
{
    uint64_t f = imb_get_feature_flags();
    const char *why;

    const char *env = getenv("RAVEN_IPSEC_MB");

    /* an operator's (and the tests') way to run as on a CPU without it */
    if (env && !strcmp(env, "off")) {
        mb_why = "disabled by RAVEN_IPSEC_MB=off";
        return;
    }
    if (pthread_key_create(&mb_key, mgr_free)) {
        mb_why = "no thread key";
        return;
    }
    if ((f & IMB_CPUFLAGS_AVX512) == IMB_CPUFLAGS_AVX512) {
        mb_init = init_mb_mgr_avx512;
        mb_arch_name = (f & IMB_FEATURE_VAES) ? "avx512-vaes" : "avx512";
    } else if ((f & IMB_CPUFLAGS_AVX2) == IMB_CPUFLAGS_AVX2) {
        mb_init = init_mb_mgr_avx2;
        mb_arch_name = "avx2";
    } else {
        mb_why = "the CPU lacks AES-NI with AVX2 or AVX-512: OpenSSL is as fast";
        return;
    }
    if (!mgr()) {
        mb_init = NULL;
        mb_why = "cannot allocate a multi-buffer manager";
        return;
    }
    if (!esp_crypto_selftest(&esp_crypto_mb, &why)) {
        static char buf[96];

        mb_init = NULL;
        snprintf(buf, sizeof(buf), "self-test failed (%s)", why);
        mb_why = buf;
        return;
    }
    mb_ok = true;
    mb_why = "self-test passed";
}

bool esp_crypto_mb_probe(const char **why)
{
    pthread_once(&mb_once, probe);
    if (why)
        *why = mb_why;
    return mb_ok;
}

const char *esp_crypto_mb_arch(void)
{
    esp_crypto_mb_probe(NULL);
    return mb_arch_name;
}
