/* The intel-ipsec-mb backend of esp_crypto.h where the build has no
 * intel-ipsec-mb (dataplane/esp.cmake): never usable, the probe says so, and
 * its operations refuse everything. `auto` then chooses OpenSSL EVP and
 * `crypto-backend ipsec-mb` is refused like on a CPU that cannot run it. */
#include <stddef.h>

#include "dataplane/esp.h"
#include "dataplane/esp_crypto.h"

static struct esp_crypto_ctx *none_ctx_new(enum dp_cipher cipher, const uint8_t *key, size_t key_len,
                                           enum dp_integ integ, const uint8_t *ikey, size_t ikey_len, bool encrypt)
{
    (void)cipher, (void)key, (void)key_len, (void)integ, (void)ikey, (void)ikey_len, (void)encrypt;
    return NULL;
}

static int none_seal(struct esp_crypto_ctx *c, const uint8_t *iv, const uint8_t *aad, size_t aad_len, uint8_t *buf,
                     size_t len, const uint8_t *tail, size_t tail_len, uint8_t *icv)
{
    (void)c, (void)iv, (void)aad, (void)aad_len, (void)buf, (void)len, (void)tail, (void)tail_len, (void)icv;
    return ESP_E_CRYPTO;
}

static int none_open(struct esp_crypto_ctx *c, const uint8_t *iv, const uint8_t *aad, size_t aad_len, uint8_t *buf,
                     size_t len, const uint8_t *tail, size_t tail_len, const uint8_t *icv)
{
    (void)c, (void)iv, (void)aad, (void)aad_len, (void)buf, (void)len, (void)tail, (void)tail_len, (void)icv;
    return ESP_E_CRYPTO;
}

static void none_ctx_free(struct esp_crypto_ctx *c)
{
    (void)c;
}

const struct esp_crypto_ops esp_crypto_mb = {
    .name = "ipsec-mb",
    .ctx_new = none_ctx_new,
    .seal = none_seal,
    .open = none_open,
    .ctx_free = none_ctx_free,
};

bool esp_crypto_mb_probe(const char **why)
{
    if (why)
        *why = "not built with intel-ipsec-mb";
    return false;
}

const char *esp_crypto_mb_arch(void)
{
    return "none";
}
