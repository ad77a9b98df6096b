/* The Encrypted and Authenticated payload (SK, RFC 7296 3.14).
 *  AEAD (RFC 5282): body = IV(8) | ciphertext of (inner payloads | padding | pad
 *    length) | ICV(16); the associated data is the message up to the IV.
 *  AES-CBC with HMAC: body = IV(16) | ciphertext (a multiple of 16 bytes) | ICV, the
 *    ICV a truncated HMAC over the whole message up to it, checked before decryption. */
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
    bool cbc;            /* AES-CBC with an integrity algorithm, else AEAD */
    enum ike_aead alg;   /* AEAD */
    const uint8_t *key;  /* AEAD: cipher key | 4-byte salt; CBC: the AES key */
    size_t key_len;
    enum ike_integ integ; /* CBC */
    const uint8_t *integ_key;
};

/* What opening an SK payload found: a message that does not authenticate is
 * dropped silently (RFC 7296 2.21.2); an authentic one with bad contents is
 * answered (INVALID_SYNTAX, or UNSUPPORTED_CRITICAL_PAYLOAD naming inner->bad_type). */
enum ike_sk_rc {
    IKE_SK_OK = 0,
    IKE_SK_NOT_AUTHENTIC,
    IKE_SK_INVALID_SYNTAX,
    IKE_SK_UNKNOWN_CRITICAL,
};

/* Decrypts and checks the SK payload of @msg (parsed from @buf, @len bytes) and
 * parses the payloads inside into @inner (whose header is copied from @msg).
 * @plain receives the decrypted bytes, which @inner points into; it must hold the
 * SK body length. */
enum ike_sk_rc ike_sk_open(const struct ike_sk_keys *k, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                           uint8_t *plain, struct ike_msg *inner);

/* Ends a message under construction with an SK payload holding @inner (a payload
 * chain whose first payload is of type @first): pads, encrypts with a fresh IV and
 * sets the lengths. The builder's buffer is then the complete message. */
bool ike_sk_seal(const struct ike_sk_keys *k, struct ike_builder *bd, uint8_t first, const uint8_t *inner,
                 size_t inner_len);

#endif
