/* The Encrypted and Authenticated payload (SK, RFC 7296 3.14) with AEAD ciphers
 * (RFC 5282): body = IV(8) | ciphertext of (inner payloads | padding | pad length) |
 * ICV(16); the associated data is the message from its first byte up to the IV. */
#ifndef RAVEN_IKE_SK_H
#define RAVEN_IKE_SK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ike/ike_crypto.h"
#include "daemon/ike/ike_msg.h"

#define IKE_SK_IV_LEN 8
#define IKE_SK_ICV_LEN 16

struct ike_sk_keys {
    enum ike_aead alg;
    const uint8_t *key; /* cipher key | 4-byte salt */
    size_t key_len;
};

/* Decrypts and checks the SK payload of @msg (parsed from @buf, @len bytes) and
 * parses the payloads inside into @inner (whose header is copied from @msg).
 * @plain receives the decrypted bytes, which @inner points into; it must hold the
 * SK body length. False when the ICV does not verify or the content is malformed. */
bool ike_sk_open(const struct ike_sk_keys *k, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                 uint8_t *plain, struct ike_msg *inner);

/* Ends a message under construction with an SK payload holding @inner (a payload
 * chain whose first payload is of type @first): pads, encrypts with a fresh IV and
 * sets the lengths. The builder's buffer is then the complete message. */
bool ike_sk_seal(const struct ike_sk_keys *k, struct ike_builder *bd, uint8_t first, const uint8_t *inner,
                 size_t inner_len);

#endif
