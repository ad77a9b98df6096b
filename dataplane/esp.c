/* ESP sealing and opening (RFC 4303) and the anti-replay window with ESN.
 *
 * Wire format, from the SPI on:
 *   SPI (4) | sequence, low 32 bits (4) | IV | encrypted( inner | padding 1,2,3,..
 *   | pad length | next header ) | ICV
 * AES-GCM-16 (RFC 4106) and ChaCha20-Poly1305 (RFC 7634): the IV is 8 bytes, the
 * nonce salt || IV, the AAD SPI || seq low or, with ESN, SPI || seq high || seq
 * low; the ICV is the 16-byte tag; padding aligns the encrypted part to 4 bytes.
 * AES-CBC (RFC 3602) with HMAC (RFC 2404, RFC 4868): the IV is 16 random bytes,
 * padding aligns to the 16-byte block, and the ICV is the truncated HMAC of
 * SPI | seq low | IV | ciphertext, followed by seq high with ESN (RFC 4303 2.2.1:
 * the high bits are authenticated but not sent). */
#include "dataplane/esp.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "dataplane/esp_crypto.h"
#include "dataplane/esp_int.h"

#define ESP_HDR_LEN 8
#define ESP_AEAD_IV_LEN 8
#define ESP_SALT_LEN 4
/* Random CBC IVs are drawn this many bytes at a time (256 packets a refill), so
 * that the DRBG's locking and reseed checks are not paid per packet. */
#define ESP_IV_POOL 4096
/* an ESP payload travels in one IP packet */
#define ESP_PAYLOAD_MAX 65535

_Static_assert(ESP_HDR_LEN + ESP_CRYPTO_CBC_IV_LEN <= ESP_HEAD_MAX, "ESP_HEAD_MAX too small");
_Static_assert(ESP_CRYPTO_CBC_IV_LEN - 1 + 2 + ESP_CRYPTO_MAX_ICV <= ESP_TAIL_MAX, "ESP_TAIL_MAX too small");

struct esp_xform {
    const struct esp_crypto_ops *ops;
    enum esp_backend backend;
    struct esp_crypto_ctx *cc;
    bool aead, esn, encrypt;
    bool null; /* ESP_NULL without integrity: benchmark baselines only */
    uint8_t iv_len, icv_len, align;
    uint8_t salt[ESP_SALT_LEN];
    size_t iv_used;     /* bytes of iv_pool handed out */
    uint8_t iv_pool[];  /* AES-CBC sealing only */
};

static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* ESP_BACKEND_AUTO until the first esp_set_backend() or esp_backend_default() */
static _Atomic int backend_default = ESP_BACKEND_AUTO;

/* transforms alive per backend (esp_xform_count) */
static atomic_long xform_count[ESP_BACKEND_IPSEC_MB + 1];

long esp_xform_count(enum esp_backend b)
{
    return b == ESP_BACKEND_OPENSSL || b == ESP_BACKEND_IPSEC_MB
               ? atomic_load_explicit(&xform_count[b], memory_order_relaxed)
               : 0;
}

int esp_set_backend(enum esp_backend b)
{
    switch (b) {
    case ESP_BACKEND_AUTO:
        b = esp_crypto_mb_probe(NULL) ? ESP_BACKEND_IPSEC_MB : ESP_BACKEND_OPENSSL;
        break;
    case ESP_BACKEND_IPSEC_MB:
        if (!esp_crypto_mb_probe(NULL))
            return -ENOTSUP;
        break;
    case ESP_BACKEND_OPENSSL:
        break;
    default:
        return -EINVAL;
    }
    atomic_store(&backend_default, b);
    return 0;
}

enum esp_backend esp_backend_default(void)
{
    int b = atomic_load(&backend_default);

    if (b == ESP_BACKEND_AUTO) {
        esp_set_backend(ESP_BACKEND_AUTO);
        b = atomic_load(&backend_default);
    }
    return (enum esp_backend)b;
}

const char *esp_backend_name(enum esp_backend b)
{
    return b == ESP_BACKEND_OPENSSL ? "openssl" : b == ESP_BACKEND_IPSEC_MB ? "ipsec-mb" : "auto";
}

enum esp_backend esp_xform_backend(const struct esp_xform *x)
{
    return x->backend;
}

static bool params_ok(const struct esp_params *p)
{
    switch (p->cipher) {
    case DP_CIPHER_NULL:
        return p->key_len == 0 && p->integ == DP_INTEG_NONE;
    case DP_CIPHER_AES_GCM_16:
        if (p->key_len != 16 + ESP_SALT_LEN && p->key_len != 24 + ESP_SALT_LEN && p->key_len != 32 + ESP_SALT_LEN)
            return false;
        return p->integ == DP_INTEG_NONE;
    case DP_CIPHER_CHACHA20_POLY1305:
        return p->key_len == 32 + ESP_SALT_LEN && p->integ == DP_INTEG_NONE;
    case DP_CIPHER_AES_CBC:
        if (p->key_len != 16 && p->key_len != 24 && p->key_len != 32)
            return false;
        /* RFC 2404 2, RFC 4868 2.1.1: the key is as long as the hash output */
        switch (p->integ) {
        case DP_INTEG_HMAC_SHA1_96:
            return p->integ_key_len == 20;
        case DP_INTEG_HMAC_SHA2_256_128:
            return p->integ_key_len == 32;
        case DP_INTEG_HMAC_SHA2_384_192:
            return p->integ_key_len == 48;
        case DP_INTEG_HMAC_SHA2_512_256:
            return p->integ_key_len == 64;
        default:
            return false;
        }
    default:
        return false;
    }
}

struct esp_xform *esp_xform_new(const struct esp_params *p, bool encrypt)
{
    struct esp_xform *x;
    bool aead, pool;
    size_t key_len;

    if (!p || !p->key || !params_ok(p) || (p->integ != DP_INTEG_NONE && !p->integ_key)) {
        errno = EINVAL;
        return NULL;
    }
    aead = esp_crypto_is_aead(p->cipher);
    pool = !aead && encrypt;
    x = calloc(1, sizeof(*x) + (pool ? ESP_IV_POOL : 0));
    if (!x) {
        errno = ENOMEM;
        return NULL;
    }
    x->backend = p->backend == ESP_BACKEND_AUTO ? esp_backend_default() : p->backend;
    if (x->backend == ESP_BACKEND_IPSEC_MB && !esp_crypto_mb_probe(NULL))
        x->backend = ESP_BACKEND_OPENSSL; /* only reachable with a forged params */
    x->ops = x->backend == ESP_BACKEND_IPSEC_MB ? &esp_crypto_mb : &esp_crypto_evp;
    atomic_fetch_add_explicit(&xform_count[x->backend], 1, memory_order_relaxed);
    if (p->cipher == DP_CIPHER_NULL) {
        x->null = true;
        x->encrypt = encrypt;
        x->align = 4;
        return x;
    }
    x->aead = aead;
    x->esn = p->esn;
    x->encrypt = encrypt;
    x->iv_len = aead ? ESP_AEAD_IV_LEN : ESP_CRYPTO_CBC_IV_LEN;
    x->icv_len = esp_crypto_icv_len(p->cipher, p->integ);
    x->align = aead ? 4 : ESP_CRYPTO_CBC_IV_LEN;
    key_len = p->key_len;
    if (aead) {
        key_len -= ESP_SALT_LEN;
        memcpy(x->salt, p->key + key_len, ESP_SALT_LEN);
    }
    x->iv_used = ESP_IV_POOL; /* empty: filled on first use */
    x->cc = x->ops->ctx_new(p->cipher, p->key, key_len, p->integ, p->integ_key, p->integ_key_len, encrypt);
    if (!x->cc) {
        esp_xform_free(x);
        errno = EINVAL;
        return NULL;
    }
    return x;
}

void esp_xform_free(struct esp_xform *x)
{
    if (!x)
        return;
    atomic_fetch_sub_explicit(&xform_count[x->backend], 1, memory_order_relaxed);
    if (x->cc)
        x->ops->ctx_free(x->cc);
    OPENSSL_cleanse(x->salt, sizeof(x->salt));
    free(x);
}

size_t esp_head_len(const struct esp_xform *x)
{
    return ESP_HDR_LEN + x->iv_len;
}

static size_t pad_len(const struct esp_xform *x, size_t inner_len)
{
    return (x->align - (inner_len + 2) % x->align) % x->align;
}

size_t esp_tail_len(const struct esp_xform *x, size_t inner_len)
{
    return pad_len(x, inner_len) + 2 + x->icv_len;
}

size_t esp_inner_max(const struct esp_xform *x, size_t esp_max)
{
    size_t room, enc;

    if (esp_max > ESP_PAYLOAD_MAX)
        esp_max = ESP_PAYLOAD_MAX;
    if (esp_max < esp_head_len(x) + x->icv_len)
        return 0;
    room = esp_max - esp_head_len(x) - x->icv_len;
    enc = room - room % x->align; /* the encrypted part is whole aligned units */
    return enc >= 2 ? enc - 2 : 0;
}

/* The AEAD's AAD (RFC 4106 5, RFC 7634 2.1) into @op: SPI || seq low is the ESP
 * header's first 8 bytes, used where they are (nothing copied per packet); with
 * ESN SPI || seq high || seq low, built in @aad. */
static void aead_aad(const struct esp_xform *x, const uint8_t *esp, uint64_t seq, uint8_t aad[12],
                     struct esp_crypto_op *op)
{
    if (!x->esn) {
        op->aad = esp;
        op->aad_len = 8;
        return;
    }
    memcpy(aad, esp, 4);
    put_be32(aad + 4, seq >> 32);
    memcpy(aad + 8, esp + 4, 4);
    op->aad = aad;
    op->aad_len = 12;
}

/* One packet on its way through the backend: the op and what it points to. */
struct esp_pkt {
    struct esp_xform *x;
    size_t enc; /* bytes encrypted (with padding and trailer) */
    uint8_t aad[12], nonce[ESP_CRYPTO_NONCE_LEN], hi[4];
};

/* Everything of sealing but the crypto: padding, header, IV, and the backend's
 * op (its ctx NULL for ESP_NULL). 0 or a negative esp_result. */
static int seal_prep(struct esp_xform *x, uint32_t spi, uint64_t seq, uint8_t next_header, uint8_t *inner,
                     size_t len, const uint8_t *iv, struct esp_pkt *pk, struct esp_crypto_op *op)
{
    uint8_t *esp = inner - esp_head_len(x);
    size_t pad, enc, i;

    if (!x->encrypt)
        return ESP_E_CRYPTO;
    if (len > ESP_PAYLOAD_MAX - ESP_HEAD_MAX - ESP_TAIL_MAX)
        return ESP_E_MALFORMED;
    pad = pad_len(x, len);
    enc = len + pad + 2;
    for (i = 0; i < pad; i++)
        inner[len + i] = (uint8_t)(i + 1);
    inner[len + pad] = (uint8_t)pad;
    inner[len + pad + 1] = next_header;
    put_be32(esp, spi);
    put_be32(esp + 4, (uint32_t)seq);
    pk->x = x;
    pk->enc = enc;
    *op = (struct esp_crypto_op){.buf = inner, .len = enc, .icv = inner + enc};
    if (x->null)
        return 0;
    op->ctx = x->cc;
    if (x->aead) {
        /* RFC 4106 3.1 suggests the sequence number as the IV: unique per SA
         * without any state of ours */
        if (iv)
            memcpy(esp + ESP_HDR_LEN, iv, ESP_AEAD_IV_LEN);
        else {
            put_be32(esp + ESP_HDR_LEN, seq >> 32);
            put_be32(esp + ESP_HDR_LEN + 4, (uint32_t)seq);
        }
        memcpy(pk->nonce, x->salt, ESP_SALT_LEN);
        memcpy(pk->nonce + ESP_SALT_LEN, esp + ESP_HDR_LEN, ESP_AEAD_IV_LEN);
        op->iv = pk->nonce;
        aead_aad(x, esp, seq, pk->aad, op);
        return 0;
    }
    if (iv)
        memcpy(esp + ESP_HDR_LEN, iv, ESP_CRYPTO_CBC_IV_LEN);
    else {
        if (x->iv_used + ESP_CRYPTO_CBC_IV_LEN > ESP_IV_POOL) {
            if (RAND_bytes(x->iv_pool, ESP_IV_POOL) != 1)
                return ESP_E_CRYPTO;
            x->iv_used = 0;
        }
        memcpy(esp + ESP_HDR_LEN, x->iv_pool + x->iv_used, ESP_CRYPTO_CBC_IV_LEN);
        x->iv_used += ESP_CRYPTO_CBC_IV_LEN;
    }
    put_be32(pk->hi, seq >> 32);
    op->iv = esp + ESP_HDR_LEN;
    op->aad = esp;
    op->aad_len = ESP_HDR_LEN + ESP_CRYPTO_CBC_IV_LEN;
    op->tail = x->esn ? pk->hi : NULL;
    op->tail_len = x->esn ? sizeof(pk->hi) : 0;
    return 0;
}

int esp_seal_iv(struct esp_xform *x, uint32_t spi, uint64_t seq, uint8_t next_header, uint8_t *inner, size_t len,
                const uint8_t *iv)
{
    struct esp_crypto_op op;
    struct esp_pkt pk;
    int rc = seal_prep(x, spi, seq, next_header, inner, len, iv, &pk, &op);

    if (!rc && op.ctx)
        rc = x->ops->seal(op.ctx, op.iv, op.aad, op.aad_len, op.buf, op.len, op.tail, op.tail_len, op.icv);
    if (rc)
        return rc;
    return (int)(esp_head_len(x) + pk.enc + x->icv_len);
}

int esp_seal(struct esp_xform *x, uint32_t spi, uint64_t seq, uint8_t next_header, uint8_t *inner, size_t len)
{
    return esp_seal_iv(x, spi, seq, next_header, inner, len, NULL);
}

/* Everything of opening before the crypto: lengths, nonce, AAD, the op (ctx
 * NULL for ESP_NULL). 0 or a negative esp_result. */
static int open_prep(struct esp_xform *x, uint64_t seq, uint8_t *esp, size_t len, struct esp_pkt *pk,
                     struct esp_crypto_op *op)
{
    size_t head = esp_head_len(x), enc;
    uint8_t *ct;

    if (x->encrypt)
        return ESP_E_CRYPTO;
    /* at least the pad length and next header are encrypted */
    if (len > ESP_PAYLOAD_MAX || len < head + 2 + x->icv_len)
        return ESP_E_MALFORMED;
    enc = len - head - x->icv_len;
    if (enc % (x->aead || x->null ? 1 : ESP_CRYPTO_CBC_IV_LEN))
        return ESP_E_MALFORMED;
    ct = esp + head;
    pk->x = x;
    pk->enc = enc;
    *op = (struct esp_crypto_op){.buf = ct, .len = enc, .icv = ct + enc};
    if (x->null)
        return 0;
    op->ctx = x->cc;
    if (x->aead) {
        memcpy(pk->nonce, x->salt, ESP_SALT_LEN);
        memcpy(pk->nonce + ESP_SALT_LEN, esp + ESP_HDR_LEN, ESP_AEAD_IV_LEN);
        op->iv = pk->nonce;
        aead_aad(x, esp, seq, pk->aad, op);
        return 0;
    }
    put_be32(pk->hi, seq >> 32);
    op->iv = esp + ESP_HDR_LEN;
    op->aad = esp;
    op->aad_len = head;
    op->tail = x->esn ? pk->hi : NULL;
    op->tail_len = x->esn ? sizeof(pk->hi) : 0;
    return 0;
}

/* After the crypto verified: the padding and trailer (RFC 4303 2.4). */
static int open_finish(uint8_t *ct, size_t enc, uint8_t **inner, size_t *inner_len, uint8_t *next_header)
{
    size_t pad = ct[enc - 2], n, i;

    /* authenticated from here on: no oracle in telling bad padding apart */
    if (pad + 2 > enc)
        return ESP_E_MALFORMED;
    n = enc - 2 - pad;
    for (i = 0; i < pad; i++)
        if (ct[n + i] != (uint8_t)(i + 1))
            return ESP_E_MALFORMED; /* RFC 4303 2.4: the default padding is checked */
    *inner = ct;
    *inner_len = n;
    *next_header = ct[enc - 1];
    return ESP_OK;
}

int esp_open(struct esp_xform *x, uint64_t seq, uint8_t *esp, size_t len, uint8_t **inner, size_t *inner_len,
             uint8_t *next_header)
{
    struct esp_crypto_op op;
    struct esp_pkt pk;
    int rc = open_prep(x, seq, esp, len, &pk, &op);

    if (!rc && op.ctx)
        rc = x->ops->open(op.ctx, op.iv, op.aad, op.aad_len, op.buf, op.len, op.tail, op.tail_len, op.icv);
    if (rc)
        return rc;
    return open_finish(op.buf, pk.enc, inner, inner_len, next_header);
}

/* The backend's burst over the ops of @be (the others' ctx hidden meanwhile),
 * or its seal()/open() per op when it has none. Ops with a NULL ctx are left. */
static void burst_one(const struct esp_crypto_ops *be, struct esp_crypto_op *ops, const struct esp_pkt *pk,
                      unsigned n, bool seal)
{
    void (*burst)(struct esp_crypto_op *, unsigned) = seal ? be->seal_burst : be->open_burst;
    struct esp_crypto_ctx *hidden[ESP_BURST_MAX];
    unsigned i, mine = 0, others = 0;

    for (i = 0; i < n; i++) {
        if (!ops[i].ctx)
            continue;
        if (pk[i].x->ops == be)
            mine++;
        else
            others++;
    }
    if (!mine)
        return;
    if (!burst) {
        for (i = 0; i < n; i++) {
            struct esp_crypto_op *o = &ops[i];

            if (!o->ctx || pk[i].x->ops != be)
                continue;
            o->rc = seal ? be->seal(o->ctx, o->iv, o->aad, o->aad_len, o->buf, o->len, o->tail, o->tail_len, o->icv)
                         : be->open(o->ctx, o->iv, o->aad, o->aad_len, o->buf, o->len, o->tail, o->tail_len, o->icv);
        }
        return;
    }
    if (others)
        for (i = 0; i < n; i++) {
            hidden[i] = ops[i].ctx;
            if (ops[i].ctx && pk[i].x->ops != be)
                ops[i].ctx = NULL;
        }
    burst(ops, n);
    if (others)
        for (i = 0; i < n; i++)
            ops[i].ctx = hidden[i];
}

/* Every backend in a burst gets its packets at once: the transforms of a worker
 * may have been made with different backends (one chosen before a change of the
 * configuration, one after). */
static void burst_all(struct esp_crypto_op *ops, const struct esp_pkt *pk, unsigned n, bool seal)
{
    burst_one(&esp_crypto_evp, ops, pk, n, seal);
    burst_one(&esp_crypto_mb, ops, pk, n, seal);
}

void esp_seal_burst(struct esp_seal_job *jobs, unsigned n)
{
    struct esp_crypto_op ops[ESP_BURST_MAX];
    struct esp_pkt pk[ESP_BURST_MAX];

    for (unsigned base = 0; base < n; base += ESP_BURST_MAX) {
        unsigned m = n - base < ESP_BURST_MAX ? n - base : ESP_BURST_MAX;
        struct esp_seal_job *j = jobs + base;

        for (unsigned i = 0; i < m; i++) {
            j[i].rc = seal_prep(j[i].x, j[i].spi, j[i].seq, j[i].next_header, j[i].inner, j[i].len, NULL, &pk[i],
                                &ops[i]);
            if (j[i].rc)
                ops[i] = (struct esp_crypto_op){0};
        }
        burst_all(ops, pk, m, true);
        for (unsigned i = 0; i < m; i++) {
            if (j[i].rc)
                continue;
            j[i].rc = ops[i].ctx && ops[i].rc ? ops[i].rc
                                              : (int)(esp_head_len(j[i].x) + pk[i].enc + j[i].x->icv_len);
        }
    }
}

void esp_open_burst(struct esp_open_job *jobs, unsigned n)
{
    struct esp_crypto_op ops[ESP_BURST_MAX];
    struct esp_pkt pk[ESP_BURST_MAX];

    for (unsigned base = 0; base < n; base += ESP_BURST_MAX) {
        unsigned m = n - base < ESP_BURST_MAX ? n - base : ESP_BURST_MAX;
        struct esp_open_job *j = jobs + base;

        for (unsigned i = 0; i < m; i++) {
            j[i].rc = open_prep(j[i].x, j[i].seq, j[i].esp, j[i].len, &pk[i], &ops[i]);
            if (j[i].rc)
                ops[i] = (struct esp_crypto_op){0};
        }
        burst_all(ops, pk, m, false);
        for (unsigned i = 0; i < m; i++) {
            if (j[i].rc)
                continue;
            if (ops[i].ctx && ops[i].rc)
                j[i].rc = ops[i].rc;
            else
                j[i].rc = open_finish(ops[i].buf, pk[i].enc, &j[i].inner, &j[i].inner_len, &j[i].next_header);
        }
    }
}

/* The window is a ring of size bits, number s at bit s % size: the numbers in
 * [top - size + 1, top] occupy distinct bits, like the ESN bitmap of Linux xfrm.
 * Without anti-replay (size 0) the high bits are still inferred, with the window
 * taken as half the 32-bit space: the nearest candidate to top wins. */
#define ESP_INFER_NO_WINDOW (1u << 31)

void esp_replay_init(struct esp_replay *r, uint32_t size, bool esn)
{
    if (size > ESP_REPLAY_MAX)
        size = ESP_REPLAY_MAX;
    r->size = (size + 63) & ~63u;
    r->esn = esn;
}

static bool replay_bit(const struct esp_replay *r, const uint64_t *bits, uint64_t seq)
{
    uint32_t pos = (uint32_t)(seq % r->size);

    return bits[pos / 64] >> (pos % 64) & 1;
}

int esp_replay_check(const struct esp_replay *r, uint64_t top, const uint64_t *bits, uint32_t seq_lo, uint64_t *seq)
{
    uint64_t s = seq_lo;

    if (r->esn) {
        /* RFC 4303 Appendix A2.2, T = top, W = window, all mod 2^32 */
        uint32_t tl = (uint32_t)top, th = (uint32_t)(top >> 32);
        uint32_t w = r->size ? r->size : ESP_INFER_NO_WINDOW;
        uint32_t bottom = tl - w + 1;

        if (tl >= w - 1) {
            /* case A: the window lies within one subspace; below it is the next one */
            if (seq_lo < bottom) {
                if (th == UINT32_MAX)
                    return -1; /* the 64-bit space is spent */
                th++;
            }
        } else if (seq_lo >= bottom) {
            /* case B: the window spans two subspaces and seq_lo is in its lower part */
            if (th == 0)
                return -1;
            th--;
        }
        s = (uint64_t)th << 32 | seq_lo;
    }
    if (s == 0)
        return -1;
    if (r->size && s <= top && (top - s >= r->size || replay_bit(r, bits, s)))
        return -1;
    *seq = s;
    return 0;
}

/* Clears the bits of the numbers in (from, to], fewer than size of them. */
static void replay_clear(const struct esp_replay *r, uint64_t *bits, uint64_t from, uint64_t to)
{
    uint64_t n = to - from;
    uint32_t pos = (uint32_t)((from + 1) % r->size);

    while (n) {
        uint32_t b = pos % 64, k = n < 64 - b ? (uint32_t)n : 64 - b;

        bits[pos / 64] &= ~(k == 64 ? ~0ull : ((1ull << k) - 1) << b);
        n -= k;
        pos = (pos + k) % r->size;
    }
}

int esp_replay_update(const struct esp_replay *r, uint64_t *top, uint64_t *bits, uint64_t seq)
{
    uint64_t old = *top;
    uint32_t pos;

    if (seq == 0)
        return -1;
    if (!r->size) {
        if (seq > old)
            *top = seq;
        return 0;
    }
    if (seq > old) {
        /* the new top first (see esp.h): the compiler may not sink it below the
         * clearing of the bits it frees */
        *top = seq;
        atomic_signal_fence(memory_order_seq_cst);
        if (seq - old >= r->size)
            memset(bits, 0, r->size / 8);
        else
            replay_clear(r, bits, old, seq);
    } else if (old - seq >= r->size || replay_bit(r, bits, seq)) {
        return -1;
    }
    pos = (uint32_t)(seq % r->size);
    bits[pos / 64] |= 1ull << (pos % 64);
    return 0;
}
