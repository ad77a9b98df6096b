/* AUTH data (see ike_auth.h). */
#include "daemon/ike/ike_auth.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/poison.h"

#define KEY_PAD "Key Pad for IKEv2"

uint8_t *ike_auth_signed_octets(enum ike_prf prf, const uint8_t *real_msg, size_t msg_len, const uint8_t *nonce,
                                size_t nonce_len, const uint8_t *sk_p, size_t sk_p_len, const uint8_t *id_body,
                                size_t id_len, size_t *out_len)
{
    size_t plen = ike_prf_len(prf);
    uint8_t *so;

    if (!plen || msg_len > SIZE_MAX - nonce_len - plen)
        return NULL;
    so = malloc(msg_len + nonce_len + plen);
    if (!so)
        return NULL;
    memcpy(so, real_msg, msg_len);
    memcpy(so + msg_len, nonce, nonce_len);
    if (ike_prf(prf, sk_p, sk_p_len, id_body, id_len, so + msg_len + nonce_len) != plen) {
        free(so);
        return NULL;
    }
    *out_len = msg_len + nonce_len + plen;
    return so;
}

size_t ike_auth_psk(enum ike_prf prf, const uint8_t *key, size_t key_len, const uint8_t *signed_octets,
                    size_t so_len, uint8_t *out)
{
    uint8_t inner[64];
    size_t n = ike_prf(prf, key, key_len, (const uint8_t *)KEY_PAD, strlen(KEY_PAD), inner);

    if (n)
        n = ike_prf(prf, inner, n, signed_octets, so_len, out);
    OPENSSL_cleanse(inner, sizeof(inner));
    return n;
}

bool ike_auth_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && CRYPTO_memcmp(a, b, a_len) == 0;
}
