/* The crypto backend behind esp.c: a pre-keyed context per SA, direction and
 * worker, and sealing/opening of one packet with it. The interface is a table of
 * function pointers so that a faster backend (intel-ipsec-mb, say) can stand next
 * to the OpenSSL EVP one (esp_crypto_evp.c) without esp.c changing.
 *
 * A context knows nothing of ESP: esp.c builds the nonce, AAD and ICV input out
 * of the packet, and checks lengths and padding. Backends must not allocate, log
 * or take locks per packet; a context is used by one thread at a time. */
#ifndef RAVEN_DATAPLANE_ESP_CRYPTO_H
#define RAVEN_DATAPLANE_ESP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/dp.h"

#define ESP_CRYPTO_NONCE_LEN 12 /* AEAD nonce: salt || 8-byte IV (RFC 4106 4, RFC 7634 2) */
#define ESP_CRYPTO_CBC_IV_LEN 16
#define ESP_CRYPTO_AEAD_ICV_LEN 16
#define ESP_CRYPTO_MAX_ICV 32

struct esp_crypto_ctx; /* the backend's */

/* One packet of a burst: the arguments of seal()/open() below, and the result. */
struct esp_crypto_op {
    struct esp_crypto_ctx *ctx;
    const uint8_t *iv, *aad;
    size_t aad_len;
    uint8_t *buf;
    size_t len;
    const uint8_t *tail;
    size_t tail_len;
    uint8_t *icv; /* seal: written; open: read */
    int rc;       /* out */
    /* the backend's scratch: a computed tag, the received ICV set aside */
    uint8_t tag[ESP_CRYPTO_MAX_ICV], rx[ESP_CRYPTO_MAX_ICV];
};

struct esp_crypto_ops {
    const char *name;
    /* A context for @cipher with @key (AEAD: without the salt) and, for AES-CBC,
     * HMAC with @integ keyed by @ikey (any length; esp.c enforces the RFC ones).
     * Keys are copied into the backend's state; NULL if it cannot take them. */
    struct esp_crypto_ctx *(*ctx_new)(enum dp_cipher cipher, const uint8_t *key, size_t key_len, enum dp_integ integ,
                                      const uint8_t *ikey, size_t ikey_len, bool encrypt);
    /* Encrypts buf[0..len) in place and writes the ICV (esp_crypto_icv_len()
     * bytes) to @icv.
     *   AEAD: @iv is the 12-byte nonce, @aad the AAD, @tail unused (0 bytes).
     *   CBC:  @iv is the 16-byte IV and @len a multiple of 16; the ICV is the
     *         truncated HMAC of aad || ciphertext || tail, so @aad is what precedes
     *         the ciphertext on the wire (SPI, sequence, IV) and @tail the ESN
     *         high bits (RFC 4303 2.2.1) or nothing.
     * Returns 0 or ESP_E_CRYPTO.
     * Layout a backend may rely on (esp.c always passes it so; the tests too): for
     * CBC the AAD ends where buf begins (the packet's header and IV precede the
     * ciphertext), and buf[len, len + tail_len) may be written (it is where the
     * ICV goes; open() puts back what was there). */
    int (*seal)(struct esp_crypto_ctx *c, const uint8_t *iv, const uint8_t *aad, size_t aad_len, uint8_t *buf,
                size_t len, const uint8_t *tail, size_t tail_len, uint8_t *icv);
    /* The inverse: 0 and buf[0..len) decrypted in place, ESP_E_AUTH if @icv does
     * not verify (CBC: checked in constant time before anything is decrypted;
     * AEAD: buf is then garbage), or ESP_E_CRYPTO. */
    int (*open)(struct esp_crypto_ctx *c, const uint8_t *iv, const uint8_t *aad, size_t aad_len, uint8_t *buf,
                size_t len, const uint8_t *tail, size_t tail_len, const uint8_t *icv);
    /* Wipes the keys; accepts NULL. */
    void (*ctx_free)(struct esp_crypto_ctx *c);
    /* Optional: seal()/open() of n packets at once (contexts of this backend,
     * possibly of different SAs), each op's rc set as seal()/open() would return
     * it. NULL: esp.c calls seal()/open() per packet. A multi-buffer backend
     * keeps its lanes full with them. */
    void (*seal_burst)(struct esp_crypto_op *ops, unsigned n);
    void (*open_burst)(struct esp_crypto_op *ops, unsigned n);
};

extern const struct esp_crypto_ops esp_crypto_evp;
/* intel-ipsec-mb (esp_crypto_mb.c): usable only once esp_crypto_mb_probe() said so. */
extern const struct esp_crypto_ops esp_crypto_mb;

/* Whether intel-ipsec-mb is usable here: the CPU has what makes it faster than
 * OpenSSL (AES-NI with AVX2 or AVX-512; VAES is used where present) and its
 * known-answer self-test (esp_crypto_selftest) passed. Probed once, on the first
 * call; @why (may be NULL) gets a sentence for the log and operational state:
 * the architecture in use, or why not. Thread-safe. */
bool esp_crypto_mb_probe(const char **why);
/* ipsec-mb's manager architecture name ("avx512", "avx2", ...) or "none". */
const char *esp_crypto_mb_arch(void);

/* The backend's known-answer test: published vectors (draft-mcgrew-gcm-test-01
 * AES-GCM-128/256, RFC 7634 ChaCha20-Poly1305, RFC 3602 AES-CBC, RFC 2202 and
 * RFC 4231 HMACs) through seal, open and the bursts: whether it passed; if not,
 * @why (may be NULL) names the algorithm that failed (a static string). */
bool esp_crypto_selftest(const struct esp_crypto_ops *ops, const char **why);
/* TESTS ONLY: corrupts one expected byte of the self-test's vector @i (0: none)
 * so that the failure path can be exercised; to be called before the probe. */
void esp_crypto_selftest_corrupt(unsigned i);

static inline bool esp_crypto_is_aead(enum dp_cipher cipher)
{
    return cipher == DP_CIPHER_AES_GCM_16 || cipher == DP_CIPHER_CHACHA20_POLY1305;
}

/* ICV bytes on the wire: 16 for the AEADs, the truncated HMAC lengths of RFC 2404
 * and RFC 4868 for CBC; 0 for a combination no backend takes. */
static inline size_t esp_crypto_icv_len(enum dp_cipher cipher, enum dp_integ integ)
{
    if (esp_crypto_is_aead(cipher))
        return integ == DP_INTEG_NONE ? ESP_CRYPTO_AEAD_ICV_LEN : 0;
    if (cipher != DP_CIPHER_AES_CBC)
        return 0;
    switch (integ) {
    case DP_INTEG_HMAC_SHA1_96:
        return 12;
    case DP_INTEG_HMAC_SHA2_256_128:
        return 16;
    case DP_INTEG_HMAC_SHA2_384_192:
        return 24;
    case DP_INTEG_HMAC_SHA2_512_256:
        return 32;
    default:
        return 0;
    }
}

#endif
